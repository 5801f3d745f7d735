--- The public `lt` table: the C core (bindings/, loaded as
-- package.loaded["luatrain.core"]) plus lazily required submodules
-- (lt.nn, lt.optim, lt.data, ...). Nothing heavy is required at start:
-- a submodule loads on first access, which keeps the host's start fast.
-- @module luatrain

local core = assert(package.loaded["luatrain.core"], "luatrain.lt: load through require 'luatrain'")

local lt = {}
for k, v in pairs(core) do
  if k ~= "_methods" and k ~= "_Function" then lt[k] = v end
end

--- Submodules loaded on first access (`lt.nn` requires "luatrain.nn").
local lazy = {
  nn = "luatrain.nn", optim = "luatrain.optim", data = "luatrain.data",
  utils = "luatrain.utils", log = "luatrain.log", callbacks = "luatrain.callbacks",
  trainer = "luatrain.trainer", distributed = "luatrain.distributed",
  checkpoint = "luatrain.checkpoint", init = "luatrain.nn.init_fns",
  args = "luatrain.args", amp = "luatrain.amp", fit = "luatrain.fit",
  class = "luatrain.class",
  progress = "luatrain.utils.progress", run_dir = "luatrain.utils.run_dir",
}

setmetatable(lt, {
  __index = function(t, key)
    local mod = lazy[key]
    if mod == nil then return nil end
    local v = require(mod)
    rawset(t, key, v)
    return v
  end,
})

--- Seeds Lua's math.random and the CPU/CUDA generators.
-- @param seed integer
function lt.seed_everything(seed)
  if math.type(seed) ~= "integer" then
    error("seed_everything: seed must be an integer, got " .. tostring(seed), 2)
  end
  math.randomseed(seed)
  core.manual_seed(seed)
end

--- Autograd entry points: lt.autograd.Function{forward=, backward=} and the
-- grad-mode helpers.
lt.autograd = {
  Function = core._Function,
  backward = core.backward,
  no_grad = core.no_grad,
  enable_grad = core.enable_grad,
  is_grad_enabled = core.is_grad_enabled,
  set_grad_enabled = core.set_grad_enabled,
}

--- The shared tensor method table: stdlib code may add methods written in
-- Lua here (`function lt.Tensor.foo(self) ... end` makes `t:foo()` work).
lt.Tensor = core._methods

--- PyTorch tensor functions composed from the core ops (tril, einsum, roll,
-- lerp, nonzero ...): lua/luatrain/tensor_ext.lua adds them to lt and lt.Tensor.
require("luatrain.tensor_ext").install(lt)

--- Mixed precision (lua/luatrain/amp.lua): `local _ <close> = lt.autocast("bfloat16")`
-- or `lt.autocast("bfloat16", fn, ...)`; lt.amp.GradScaler{...}.
function lt.autocast(...) return require("luatrain.amp").autocast(...) end
function lt.is_autocast_enabled() return core._C.autocast_dtype() ~= nil end
function lt.get_autocast_dtype() return core._C.autocast_dtype() end

--- Checkpoints (lua/luatrain/checkpoint.lua): one safetensors file with the
-- model, optimizer, scheduler, loader and RNG state.
function lt.save_checkpoint(...) return require("luatrain.checkpoint").save_checkpoint(...) end
function lt.load_checkpoint(...) return require("luatrain.checkpoint").load_checkpoint(...) end

return lt
