--- Linear, Identity and Flatten layers.
-- Linear uses PyTorch's initialisation (kaiming_uniform_ with a = sqrt(5) on
-- the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) on the bias) so a model
-- starts from the same distribution as its PyTorch twin. No lazy layers.
-- @module luatrain.nn.linear
local lt = require("luatrain")
local module = require("luatrain.nn.module")
local init = require("luatrain.nn.init_fns")

local Module, Parameter = module.Module, module.Parameter

local M = {}

local function check_count(v, argn, name, fname)
  if math.type(v) ~= "integer" or v < 0 then
    error(("%s: bad argument #%d '%s' (non-negative integer expected, got %s)")
          :format(fname, argn, name, type(v) == "number" and tostring(v) or type(v)), 4)
  end
end
M.check_count = check_count

--- Linear(in_features, out_features, {bias = true, dtype =, device =}): y = x W^T + b.
local Linear = Module:extend("Linear")
M.Linear = Linear

function Linear:init(in_features, out_features, opts)
  check_count(in_features, 1, "in_features", "Linear")
  check_count(out_features, 2, "out_features", "Linear")
  if type(opts) == "boolean" then opts = {bias = opts} end
  opts = opts or {}
  local topts = {dtype = opts.dtype, device = opts.device}
  self.in_features, self.out_features = in_features, out_features
  self.weight = Parameter(lt.empty({out_features, in_features}, topts))
  if opts.bias ~= false then
    self.bias = Parameter(lt.empty({out_features}, topts))
  else
    self:register_parameter("bias", nil)
  end
  self:reset_parameters()
end

--- Re-draws weight and bias with PyTorch's default initialisation.
function Linear:reset_parameters()
  init.kaiming_uniform_(self.weight, {a = math.sqrt(5)})
  if self.bias ~= nil then
    local fan_in = init.calculate_fan_in_and_fan_out(self.weight)
    local bound = fan_in > 0 and 1 / math.sqrt(fan_in) or 0
    init.uniform_(self.bias, -bound, bound)
  end
end

function Linear:forward(x)
  return lt.linear(x, self.weight, self.bias)
end

function Linear:extra_repr()
  return ("in_features=%d, out_features=%d, bias=%s")
         :format(self.in_features, self.out_features, tostring(self.bias ~= nil))
end

--- Identity(): returns its input.
local Identity = Module:extend("Identity")
M.Identity = Identity
function Identity:forward(x) return x end

--- Flatten(start_dim = 2, end_dim = -1): flattens a range of dims (1-based,
-- so the default keeps the batch dimension as PyTorch's start_dim=1).
local Flatten = Module:extend("Flatten")
M.Flatten = Flatten

function Flatten:init(start_dim, end_dim)
  self.start_dim, self.end_dim = start_dim or 2, end_dim or -1
end

function Flatten:forward(x)
  return x:flatten(self.start_dim, self.end_dim)
end

function Flatten:extra_repr()
  return ("start_dim=%d, end_dim=%d"):format(self.start_dim, self.end_dim)
end

return M
