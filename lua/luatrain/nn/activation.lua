--- Activation layers: ReLU, LeakyReLU, GELU, SiLU, Tanh, Sigmoid, Softmax,
-- LogSoftmax. Each forwards to nn.functional; none has parameters. They
-- deliberately have no `inplace` option.
-- @module luatrain.nn.activation
local module = require("luatrain.nn.module")
local F = require("luatrain.nn.functional")

local Module = module.Module
local M = {}

local function simple(name, fn)
  local C = Module:extend(name)
  function C:forward(x) return fn(x) end
  M[name] = C
  return C
end

simple("ReLU", F.relu)
simple("SiLU", F.silu)
simple("Tanh", F.tanh)
simple("Sigmoid", F.sigmoid)

--- GELU({approximate = "none"|"tanh"}).
local GELU = Module:extend("GELU")
M.GELU = GELU
function GELU:init(opts)
  if type(opts) == "string" then opts = {approximate = opts} end
  opts = opts or {}
  local a = opts.approximate or "none"
  if a ~= "none" and a ~= "tanh" then
    error(("GELU: bad option 'approximate' ('%s'; 'none' or 'tanh' expected)"):format(tostring(a)), 3)
  end
  self.approximate = a
end
function GELU:forward(x) return F.gelu(x, {approximate = self.approximate}) end
function GELU:extra_repr() return ("approximate='%s'"):format(self.approximate) end

--- LeakyReLU(negative_slope = 0.01).
local LeakyReLU = Module:extend("LeakyReLU")
M.LeakyReLU = LeakyReLU
function LeakyReLU:init(slope)
  if slope ~= nil and type(slope) ~= "number" then
    error("LeakyReLU: bad argument #1 'negative_slope' (number expected)", 3)
  end
  self.negative_slope = slope or 0.01
end
function LeakyReLU:forward(x) return F.leaky_relu(x, self.negative_slope) end
function LeakyReLU:extra_repr() return ("negative_slope=%g"):format(self.negative_slope) end

local function with_dim(name, fn)
  local C = Module:extend(name)
  function C:init(dim)
    if dim ~= nil and math.type(dim) ~= "integer" then
      error(("%s: bad argument #1 'dim' (integer expected, got %s)"):format(name, tostring(dim)), 3)
    end
    self.dim = dim or -1
  end
  function C:forward(x) return fn(x, self.dim) end
  function C:extra_repr() return ("dim=%d"):format(self.dim) end
  M[name] = C
end

--- Softmax(dim = -1).
with_dim("Softmax", F.softmax)
--- LogSoftmax(dim = -1).
with_dim("LogSoftmax", F.log_softmax)

return M
