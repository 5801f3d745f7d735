--- luatrain.callbacks - objects lt.fit calls after each epoch with
-- `cb:step(metrics, state)`; a true result stops training.
-- ModelCheckpoint (top-k + last checkpoints) and EarlyStopping.
local M = {}
local lazy = {
  ModelCheckpoint = "luatrain.callbacks.model_checkpoint",
  EarlyStopping = "luatrain.callbacks.early_stopping",
}
return setmetatable(M, {__index = function(t, k)
  local m = lazy[k]
  if m == nil then return nil end
  local v = require(m)
  rawset(t, k, v)
  return v
end})
