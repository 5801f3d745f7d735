--- Activation layers: ReLU, LeakyReLU, GELU, SiLU, Tanh, Sigmoid, Softmax,
-- LogSoftmax, ELU, SELU, CELU, Softplus, Mish, Hardswish, Hardsigmoid,
-- Hardtanh, ReLU6, LogSigmoid, Softsign, Tanhshrink, Threshold, GLU, Softmin
-- and PReLU. Each forwards to nn.functional; only PReLU has a parameter
-- (`weight`, as PyTorch's). They deliberately have no `inplace` option.
-- @module luatrain.nn.activation
local lt = require("luatrain")
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
--- Softmin(dim = -1): softmax(-x).
with_dim("Softmin", F.softmin)
--- GLU(dim = -1): a * sigmoid(b) over the two halves of dim.
with_dim("GLU", F.glu)

--- SELU(): scaled ELU with PyTorch's constants.
simple("SELU", F.selu)
--- Mish(): x tanh(softplus(x)).
simple("Mish", F.mish)
--- Hardswish(): x relu6(x + 3) / 6.
simple("Hardswish", F.hardswish)
--- Hardsigmoid(): relu6(x + 3) / 6.
simple("Hardsigmoid", F.hardsigmoid)
--- ReLU6(): min(max(x, 0), 6).
simple("ReLU6", F.relu6)
--- LogSigmoid(): log(sigmoid(x)), computed stably.
simple("LogSigmoid", F.logsigmoid)
--- Softsign(): x / (1 + |x|).
simple("Softsign", F.softsign)
--- Tanhshrink(): x - tanh(x).
simple("Tanhshrink", F.tanhshrink)

local function check_num(name, argn, key, v)
  if type(v) ~= "number" then
    error(("%s: bad argument #%d '%s' (number expected, got %s)")
          :format(name, argn, key, type(v) == "string" and ("'" .. v .. "'") or type(v)), 4)
  end
end

-- a layer with number arguments: keys in order, defaults; accepts them
-- positionally or as one table {key = v}
local function numeric(name, keys, defaults, fn)
  local C = Module:extend(name)
  function C:init(...)
    local args = table.pack(...)
    if args.n == 1 and type(args[1]) == "table" then
      local t = args[1]
      for k in pairs(t) do
        local known = false
        for _, key in ipairs(keys) do known = known or key == k end
        if not known then error(("%s: unknown option '%s'"):format(name, tostring(k)), 3) end
      end
      args = {}
      for i, key in ipairs(keys) do args[i] = t[key] end
    end
    for i, key in ipairs(keys) do
      local v = args[i]
      if v == nil then v = defaults[i] end
      check_num(name, i, key, v)
      self[key] = v
    end
  end
  function C:forward(x)
    local a = {}
    for i, key in ipairs(keys) do a[i] = self[key] end
    return fn(x, table.unpack(a, 1, #keys))
  end
  function C:extra_repr()
    local parts = {}
    for _, key in ipairs(keys) do parts[#parts + 1] = ("%s=%g"):format(key, self[key]) end
    return table.concat(parts, ", ")
  end
  M[name] = C
  return C
end

--- ELU(alpha = 1.0).
numeric("ELU", {"alpha"}, {1.0}, F.elu)
--- CELU(alpha = 1.0).
numeric("CELU", {"alpha"}, {1.0}, F.celu)
--- Softplus(beta = 1.0, threshold = 20.0).
numeric("Softplus", {"beta", "threshold"}, {1.0, 20.0}, F.softplus)
--- Hardtanh(min_val = -1.0, max_val = 1.0).
local Hardtanh = numeric("Hardtanh", {"min_val", "max_val"}, {-1.0, 1.0}, F.hardtanh)
local hardtanh_init = Hardtanh.init
function Hardtanh:init(...)
  hardtanh_init(self, ...)
  if self.max_val < self.min_val then
    error(("Hardtanh: max_val %g must be >= min_val %g"):format(self.max_val, self.min_val), 3)
  end
end
--- Threshold(threshold, value): x where x > threshold, else value (both required).
numeric("Threshold", {"threshold", "value"}, {}, F.threshold)

--- PReLU(num_parameters = 1, init = 0.25, {dtype =, device =}): max(0, x) +
-- weight * min(0, x) with a learnable `weight` of num_parameters elements
-- (1, or the channel count: dim 2 of the input).
local PReLU = Module:extend("PReLU")
M.PReLU = PReLU
function PReLU:init(num_parameters, init, opts)
  if type(num_parameters) == "table" then
    opts = num_parameters
    num_parameters, init = opts.num_parameters, opts.init
  end
  num_parameters = num_parameters or 1
  if math.type(num_parameters) ~= "integer" or num_parameters < 1 then
    error(("PReLU: bad argument #1 'num_parameters' (positive integer expected, got %s)")
          :format(tostring(num_parameters)), 3)
  end
  init = init or 0.25
  check_num("PReLU", 2, "init", init)
  opts = opts or {}
  self.num_parameters, self.init_value = num_parameters, init
  self.weight = module.Parameter(lt.full({num_parameters}, init,
                                         {dtype = opts.dtype, device = opts.device}))
end
function PReLU:reset_parameters()
  lt.no_grad(function() self.weight:fill_(self.init_value) end)
end
function PReLU:forward(x) return F.prelu(x, self.weight) end
function PReLU:extra_repr() return ("num_parameters=%d"):format(self.num_parameters) end

return M
