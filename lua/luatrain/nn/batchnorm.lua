--- BatchNorm1d and BatchNorm2d with PyTorch's running statistics.
-- Buffers running_mean, running_var and num_batches_tracked; training uses
-- batch statistics and updates the running ones (momentum, or a cumulative
-- average when momentum = false, PyTorch's None); eval uses the running
-- statistics. No SyncBatchNorm and no lazy variants.
-- @module luatrain.nn.batchnorm
local lt = require("luatrain")
local module = require("luatrain.nn.module")

local Module, Parameter = module.Module, module.Parameter
local M = {}

local BatchNorm = Module:extend("BatchNorm")
M._BatchNorm = BatchNorm

--- BatchNormXd(num_features, {eps = 1e-5, momentum = 0.1 (false: cumulative
-- average), affine = true, track_running_stats = true, dtype =, device =}).
function BatchNorm:init(num_features, opts)
  local name = getmetatable(self).__name
  if math.type(num_features) ~= "integer" or num_features <= 0 then
    error(("%s: bad argument #1 'num_features' (positive integer expected, got %s)")
          :format(name, tostring(num_features)), 3)
  end
  opts = opts or {}
  if type(opts) ~= "table" then error(("%s: bad argument #2 'opts' (table expected)"):format(name), 3) end
  self.num_features = num_features
  self.eps = opts.eps or 1e-5
  if opts.momentum == false then self.momentum = false else self.momentum = opts.momentum or 0.1 end
  self.affine = opts.affine ~= false
  self.track_running_stats = opts.track_running_stats ~= false
  local topts = {dtype = opts.dtype, device = opts.device}
  if self.affine then
    self.weight = Parameter(lt.ones({num_features}, topts))
    self.bias = Parameter(lt.zeros({num_features}, topts))
  else
    self:register_parameter("weight", nil)
    self:register_parameter("bias", nil)
  end
  if self.track_running_stats then
    self:register_buffer("running_mean", lt.zeros({num_features}, topts))
    self:register_buffer("running_var", lt.ones({num_features}, topts))
    self:register_buffer("num_batches_tracked",
                         lt.tensor(0, {dtype = "int64", device = opts.device}))
  else
    self:register_buffer("running_mean", nil)
    self:register_buffer("running_var", nil)
    self:register_buffer("num_batches_tracked", nil)
  end
end

--- Resets running_mean to 0, running_var to 1 and the batch count to 0.
function BatchNorm:reset_running_stats()
  if self.track_running_stats then
    lt.no_grad(function()
      self.running_mean:zero_()
      self.running_var:fill_(1)
      self.num_batches_tracked:zero_()
    end)
  end
end

function BatchNorm:_check_input_dim() end

function BatchNorm:forward(x)
  if not lt.is_tensor(x) then
    error(("%s: bad argument #1 'input' (tensor expected, got %s)")
          :format(getmetatable(self).__name, type(x)), 2)
  end
  self:_check_input_dim(x)
  if x:size(2) ~= self.num_features then
    error(("%s: expected %d channels (dim 2) but the input has shape {%s}")
          :format(getmetatable(self).__name, self.num_features, table.concat(x.shape, ", ")), 2)
  end
  local eaf = 0.0
  if self.training and self.track_running_stats then
    local nbt = self.num_batches_tracked
    lt.no_grad(function() nbt:add_(1) end)
    if self.momentum == false then eaf = 1.0 / nbt:item() else eaf = self.momentum end
  elseif self.momentum then
    eaf = self.momentum
  end
  local bn_training = self.training or (self.running_mean == nil and self.running_var == nil)
  local rm, rv
  if not self.training or self.track_running_stats then
    rm, rv = self.running_mean, self.running_var
  end
  return lt.batch_norm(x, rm, rv, self.weight, self.bias, bn_training, eaf, self.eps)
end

function BatchNorm:extra_repr()
  return ("%d, eps=%g, momentum=%s, affine=%s, track_running_stats=%s")
         :format(self.num_features, self.eps, self.momentum == false and "None" or tostring(self.momentum),
                 tostring(self.affine), tostring(self.track_running_stats))
end

local function with_dims(name, allowed, desc)
  local C = BatchNorm:extend(name)
  function C:_check_input_dim(x)
    local d = x:dim()
    if not allowed[d] then
      error(("%s: expected %s input (got %dD input of shape {%s})")
            :format(name, desc, d, table.concat(x.shape, ", ")), 4)
    end
  end
  M[name] = C
end

--- BatchNorm1d: input (N, C) or (N, C, L).
with_dims("BatchNorm1d", {[2] = true, [3] = true}, "2D or 3D")
--- BatchNorm2d: input (N, C, H, W).
with_dims("BatchNorm2d", {[4] = true}, "4D")

return M
