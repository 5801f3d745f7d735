--- LayerNorm: normalises over the trailing `normalized_shape` dims with a
-- learnable elementwise weight and bias (PyTorch init: ones and zeros).
-- No GroupNorm or RMSNorm here.
-- @module luatrain.nn.normalization
local lt = require("luatrain")
local module = require("luatrain.nn.module")

local Module, Parameter = module.Module, module.Parameter
local M = {}

--- LayerNorm(normalized_shape, {eps = 1e-5, elementwise_affine = true, bias = true}).
local LayerNorm = Module:extend("LayerNorm")
M.LayerNorm = LayerNorm

function LayerNorm:init(normalized_shape, opts)
  if math.type(normalized_shape) == "integer" then normalized_shape = {normalized_shape} end
  if type(normalized_shape) ~= "table" or #normalized_shape == 0 then
    error(("LayerNorm: bad argument #1 'normalized_shape' (integer or table expected, got %s)")
          :format(tostring(normalized_shape)), 3)
  end
  opts = opts or {}
  self.normalized_shape = {table.unpack(normalized_shape)}
  self.eps = opts.eps or 1e-5
  self.elementwise_affine = opts.elementwise_affine ~= false
  local topts = {dtype = opts.dtype, device = opts.device}
  if self.elementwise_affine then
    self.weight = Parameter(lt.ones(self.normalized_shape, topts))
    if opts.bias ~= false then
      self.bias = Parameter(lt.zeros(self.normalized_shape, topts))
    else
      self:register_parameter("bias", nil)
    end
  else
    self:register_parameter("weight", nil)
    self:register_parameter("bias", nil)
  end
end

function LayerNorm:forward(x)
  return lt.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
end

function LayerNorm:extra_repr()
  return ("(%s,), eps=%g, elementwise_affine=%s")
         :format(table.concat(self.normalized_shape, ", "), self.eps, tostring(self.elementwise_affine))
end

return M
