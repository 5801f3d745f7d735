--- Dropout layers: Dropout(p) (elementwise) and Dropout2d(p) (whole
-- channels). Active in training mode only; identity in eval mode. No
-- AlphaDropout.
-- @module luatrain.nn.dropout
local module = require("luatrain.nn.module")
local F = require("luatrain.nn.functional")

local Module = module.Module
local M = {}

local function make(name, fn)
  local C = Module:extend(name)
  function C:init(p)
    if p == nil then p = 0.5 end
    if type(p) ~= "number" or p < 0 or p > 1 then
      error(("%s: bad argument #1 'p' (probability in [0, 1] expected, got %s)")
            :format(name, tostring(p)), 3)
    end
    self.p = p
  end
  function C:forward(x) return fn(x, self.p, self.training) end
  function C:extra_repr() return ("p=%g"):format(self.p) end
  M[name] = C
end

make("Dropout", F.dropout)
make("Dropout2d", F.dropout2d)

return M
