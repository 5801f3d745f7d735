--- Normalisation layers: LayerNorm, GroupNorm, RMSNorm, InstanceNorm1d,
-- InstanceNorm2d, with PyTorch's parameters (weight ones, bias zeros),
-- buffers and names. GroupNorm/InstanceNorm compose the fused layer_norm,
-- RMSNorm elementwise ops (nn.functional). No LocalResponseNorm or lazy variants.
-- @module luatrain.nn.normalization
local lt = require("luatrain")
local module = require("luatrain.nn.module")
local F = require("luatrain.nn.functional")

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


local function shape_str(t) return "{" .. table.concat(t.shape, ", ") .. "}" end

local function check_pos_int(v, argn, name, cls)
  if math.type(v) ~= "integer" or v <= 0 then
    error(("%s: bad argument #%d '%s' (positive integer expected, got %s)")
          :format(cls, argn, name, tostring(v)), 4)
  end
end

--- GroupNorm(num_groups, num_channels, {eps = 1e-5, affine = true, dtype =, device =})
-- over (N, C, ...): statistics per sample and group of C/num_groups channels.
local GroupNorm = Module:extend("GroupNorm")
M.GroupNorm = GroupNorm

function GroupNorm:init(num_groups, num_channels, opts)
  check_pos_int(num_groups, 1, "num_groups", "GroupNorm")
  check_pos_int(num_channels, 2, "num_channels", "GroupNorm")
  if num_channels % num_groups ~= 0 then
    error(("GroupNorm: num_channels (%d) must be divisible by num_groups (%d)"):format(num_channels, num_groups), 3)
  end
  opts = opts or {}
  self.num_groups, self.num_channels = num_groups, num_channels
  self.eps = opts.eps or 1e-5
  self.affine = opts.affine ~= false
  local topts = {dtype = opts.dtype, device = opts.device}
  if self.affine then
    self.weight = Parameter(lt.ones({num_channels}, topts))
    self.bias = Parameter(lt.zeros({num_channels}, topts))
  else
    self:register_parameter("weight", nil)
    self:register_parameter("bias", nil)
  end
end

function GroupNorm:forward(x)
  if not lt.is_tensor(x) then
    error(("GroupNorm: bad argument #1 'input' (tensor expected, got %s)"):format(type(x)), 2)
  end
  if x:dim() < 2 or x.shape[2] ~= self.num_channels then
    error(("GroupNorm: expected input of shape (N, %d, ...), got %s"):format(self.num_channels, shape_str(x)), 2)
  end
  return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
end

function GroupNorm:extra_repr()
  return ("%d, %d, eps=%g, affine=%s"):format(self.num_groups, self.num_channels, self.eps,
                                             tostring(self.affine))
end

--- RMSNorm(normalized_shape, {eps = nil (machine epsilon of the input dtype),
-- elementwise_affine = true, dtype =, device =}): x / sqrt(mean(x^2) + eps) * weight
-- over the trailing dims; weight initialised to ones.
local RMSNorm = Module:extend("RMSNorm")
M.RMSNorm = RMSNorm

function RMSNorm:init(normalized_shape, opts)
  if math.type(normalized_shape) == "integer" then normalized_shape = {normalized_shape} end
  if type(normalized_shape) ~= "table" or #normalized_shape == 0 then
    error(("RMSNorm: bad argument #1 'normalized_shape' (integer or table expected, got %s)")
          :format(tostring(normalized_shape)), 3)
  end
  opts = opts or {}
  self.normalized_shape = {table.unpack(normalized_shape)}
  self.eps = opts.eps
  self.elementwise_affine = opts.elementwise_affine ~= false
  if self.elementwise_affine then
    self.weight = Parameter(lt.ones(self.normalized_shape, {dtype = opts.dtype, device = opts.device}))
  else
    self:register_parameter("weight", nil)
  end
end

function RMSNorm:forward(x)
  if not lt.is_tensor(x) then
    error(("RMSNorm: bad argument #1 'input' (tensor expected, got %s)"):format(type(x)), 2)
  end
  local ns, k, s = self.normalized_shape, #self.normalized_shape, x.shape
  local ok = #s >= k
  for i = 1, k do ok = ok and s[#s - k + i] == ns[i] end
  if not ok then
    error(("RMSNorm: expected input with trailing dims {%s}, got %s"):format(table.concat(ns, ", "), shape_str(x)), 2)
  end
  return F.rms_norm(x, ns, self.weight, self.eps)
end

function RMSNorm:extra_repr()
  return ("(%s,), eps=%s, elementwise_affine=%s"):format(table.concat(self.normalized_shape, ", "),
                                                        self.eps and ("%g"):format(self.eps) or "None",
                                                        tostring(self.elementwise_affine))
end

local InstanceNorm = Module:extend("InstanceNorm")
M._InstanceNorm = InstanceNorm

--- InstanceNormXd(num_features, {eps = 1e-5, momentum = 0.1, affine = false,
-- track_running_stats = false, dtype =, device =}): statistics per sample
-- and channel over the spatial dims. With track_running_stats the buffers
-- running_mean, running_var, num_batches_tracked are kept (and used in eval).
function InstanceNorm:init(num_features, opts)
  local cls = getmetatable(self).__name
  check_pos_int(num_features, 1, "num_features", cls)
  opts = opts or {}
  self.num_features = num_features
  self.eps = opts.eps or 1e-5
  self.momentum = opts.momentum or 0.1
  self.affine = opts.affine == true
  self.track_running_stats = opts.track_running_stats == true
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
    self:register_buffer("num_batches_tracked", lt.tensor(0, {dtype = "int64", device = opts.device}))
  else
    self:register_buffer("running_mean", nil)
    self:register_buffer("running_var", nil)
    self:register_buffer("num_batches_tracked", nil)
  end
end

function InstanceNorm:forward(x)
  local cls = getmetatable(self).__name
  if not lt.is_tensor(x) then
    error(("%s: bad argument #1 'input' (tensor expected, got %s)"):format(cls, type(x)), 2)
  end
  local k = self._spatial
  if x:dim() ~= k + 1 and x:dim() ~= k + 2 then
    error(("%s: expected %dD (unbatched) or %dD (batched) input, got input of shape %s")
          :format(cls, k + 1, k + 2, shape_str(x)), 2)
  end
  local unbatched = x:dim() == k + 1
  if unbatched then x = x:unsqueeze(1) end
  if (self.affine or self.track_running_stats) and x.shape[2] ~= self.num_features then
    error(("%s: expected input with %d channels (dim %d), got input of shape %s")
          :format(cls, self.num_features, unbatched and 1 or 2, shape_str(unbatched and x:squeeze(1) or x)), 2)
  end
  local use_input_stats = self.training or not self.track_running_stats
  if self.training and self.track_running_stats then
    local nbt = self.num_batches_tracked
    lt.no_grad(function() nbt:add_(1) end)
  end
  local y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            use_input_stats, self.momentum, self.eps)
  if unbatched then y = y:squeeze(1) end
  return y
end

function InstanceNorm:extra_repr()
  return ("%d, eps=%g, momentum=%g, affine=%s, track_running_stats=%s")
         :format(self.num_features, self.eps, self.momentum, tostring(self.affine),
                 tostring(self.track_running_stats))
end

--- InstanceNorm1d(num_features, opts) over (N, C, L) or (C, L).
local InstanceNorm1d = InstanceNorm:extend("InstanceNorm1d")
InstanceNorm1d._spatial = 1
M.InstanceNorm1d = InstanceNorm1d

--- InstanceNorm2d(num_features, opts) over (N, C, H, W) or (C, H, W).
local InstanceNorm2d = InstanceNorm:extend("InstanceNorm2d")
InstanceNorm2d._spatial = 2
M.InstanceNorm2d = InstanceNorm2d

return M
