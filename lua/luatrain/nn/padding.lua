--- Padding layers: ZeroPad1d/2d, ConstantPad1d/2d, ReflectionPad1d/2d,
-- ReplicationPad1d/2d. Thin modules over F.pad (constant, reflect and
-- replicate modes, all differentiable); padding an integer or PyTorch's
-- {left, right[, top, bottom]} list. No circular or 3-D padding layers.
-- @module luatrain.nn.padding
local lt = require("luatrain")
local module = require("luatrain.nn.module")
local F = require("luatrain.nn.functional")

local Module = module.Module
local M = {}

local Pad = Module:extend("_Pad")

-- cls: class name, k: padded dims (1 or 2), mode, value
local function define(name, k, mode)
  local C = Pad:extend(name)
  C._k, C._mode = k, mode
  M[name] = C
  return C
end

function Pad:init(padding, value)
  local cls, k = getmetatable(self).__name, self._k
  local n = 2 * k
  if math.type(padding) == "integer" then
    local p = {}
    for i = 1, n do p[i] = padding end
    padding = p
  end
  local ok = type(padding) == "table" and #padding == n
  for i = 1, ok and n or 0 do ok = ok and math.type(padding[i]) == "integer" end
  if not ok then
    error(("%s: bad argument #1 'padding' (integer or table of %d integers expected, got %s)")
          :format(cls, n, tostring(padding)), 3)
  end
  self.padding = {table.unpack(padding)}
  if self._mode == "constant" then
    if value == nil and cls:match("^Constant") then
      error(("%s: bad argument #2 'value' (number expected, got nil)"):format(cls), 3)
    end
    if value ~= nil and type(value) ~= "number" then
      error(("%s: bad argument #2 'value' (number expected, got %s)"):format(cls, type(value)), 3)
    end
    self.value = value or 0
  end
end

function Pad:forward(x)
  local cls, k = getmetatable(self).__name, self._k
  if not lt.is_tensor(x) then
    error(("%s: bad argument #1 'input' (tensor expected, got %s)"):format(cls, type(x)), 2)
  end
  local nd = x:dim()
  local lo = self._mode == "constant" and k or k + 1
  if nd < lo or (self._mode ~= "constant" and nd > k + 2) then
    error(("%s: expected %s input, got input of shape {%s}")
          :format(cls, self._mode == "constant" and ("at least %dD"):format(lo)
                       or ("%dD or %dD"):format(k + 1, k + 2), table.concat(x.shape, ", ")), 2)
  end
  return F.pad(x, self.padding, {mode = self._mode, value = self.value})
end

function Pad:extra_repr()
  local s = "(" .. table.concat(self.padding, ", ") .. ")"
  if getmetatable(self).__name:match("^Constant") then s = s .. ", value=" .. tostring(self.value) end
  return s
end

--- ZeroPad1d(padding): pads the last dim with zeros; padding an integer or {left, right}.
define("ZeroPad1d", 1, "constant")
--- ZeroPad2d(padding): pads the last two dims with zeros; {left, right, top, bottom}.
define("ZeroPad2d", 2, "constant")
--- ConstantPad1d(padding, value): pads the last dim with `value`.
define("ConstantPad1d", 1, "constant")
--- ConstantPad2d(padding, value): pads the last two dims with `value`.
define("ConstantPad2d", 2, "constant")
--- ReflectionPad1d(padding): reflects (N, C, L) or (C, L) at the borders (pads < L).
define("ReflectionPad1d", 1, "reflect")
--- ReflectionPad2d(padding): reflects (N, C, H, W) or (C, H, W) at the borders.
define("ReflectionPad2d", 2, "reflect")
--- ReplicationPad1d(padding): repeats the border values of (N, C, L) or (C, L).
define("ReplicationPad1d", 1, "replicate")
--- ReplicationPad2d(padding): repeats the border values of (N, C, H, W) or (C, H, W).
define("ReplicationPad2d", 2, "replicate")

return M
