--- luatrain.utils - small training utilities, each loaded on first use:
-- progress (lt.progress), run_dir, training_guard, summary, plot.
local M = {}
local lazy = {
  progress = "luatrain.utils.progress",
  run_dir = "luatrain.utils.run_dir",
  training_guard = "luatrain.utils.training_guard",
  summary = "luatrain.utils.summary",
  plot = "luatrain.utils.plot",
}
return setmetatable(M, {__index = function(t, k)
  local m = lazy[k]
  if m == nil then return nil end
  local v = require(m)
  rawset(t, k, v)
  return v
end})
