--- nn.functional: the stateless forms of the layers and losses.
-- Thin wrappers over the core (`lt.*` nn ops) that check their arguments;
-- where the core has no fused op the function is composed in Lua from
-- differentiable core ops and needs no backward of its own. Class targets
-- and embedding ids are 1-based. It deliberately keeps no state.
-- @module luatrain.nn.functional
local lt = require("luatrain")
local argcheck = require "luatrain.nn._argcheck"

local M = {}

local check_tensor = argcheck.check_tensor

local function check_opt_tensor(v, name, fname)
  if v ~= nil and not lt.is_tensor(v) then
    error(("%s: bad option '%s' (tensor or nil expected, got %s)")
          :format(fname, name, type(v)), 3)
  end
end

local check_opts = argcheck.check_opts

local function reduce(loss, reduction, fname)
  reduction = reduction or "mean"
  if reduction == "mean" then return loss:mean() end
  if reduction == "sum" then return loss:sum() end
  if reduction == "none" then return loss end
  error(("%s: bad option 'reduction' ('%s'; 'mean', 'sum' or 'none' expected)")
        :format(fname, tostring(reduction)), 3)
end
M._reduce = reduce

local function check_reduction(reduction, fname)
  if reduction ~= nil and reduction ~= "mean" and reduction ~= "sum" and reduction ~= "none" then
    error(("%s: bad option 'reduction' ('%s'; 'mean', 'sum' or 'none' expected)")
          :format(fname, tostring(reduction)), 3)
  end
end

local function same_shape(a, b)
  local sa, sb = a.shape, b.shape
  if #sa ~= #sb then return false end
  for i = 1, #sa do if sa[i] ~= sb[i] then return false end end
  return true
end

local shape_str = argcheck.shape_str

local function check_same_shape(input, target, fname)
  if not same_shape(input, target) then
    error(("%s: 'target' shape %s does not match 'input' shape %s")
          :format(fname, shape_str(target), shape_str(input)), 3)
  end
end

-- ------------------------------------------------------------ layers

--- y = x W^T + b.
-- @param x tensor (..., in)
-- @param weight tensor (out, in)
-- @param bias tensor (out) or nil
function M.linear(x, weight, bias)
  check_tensor(x, 1, "input", "linear")
  check_tensor(weight, 2, "weight", "linear")
  check_opt_tensor(bias, "bias", "linear")
  return lt.linear(x, weight, bias)
end

--- max(x, 0).
function M.relu(x)
  check_tensor(x, 1, "input", "relu")
  return x:relu()
end

--- GELU; opts.approximate = "tanh" for the tanh form (default "none").
function M.gelu(x, opts)
  check_tensor(x, 1, "input", "gelu")
  opts = check_opts(opts, 2, "gelu")
  local a = opts.approximate or "none"
  if a ~= "none" and a ~= "tanh" then
    error(("gelu: bad option 'approximate' ('%s'; 'none' or 'tanh' expected)"):format(tostring(a)), 2)
  end
  if a == "tanh" then return x:gelu({approximate = "tanh"}) end
  return x:gelu()
end

--- x * sigmoid(x).
function M.silu(x)
  check_tensor(x, 1, "input", "silu")
  return x:silu()
end

--- Logistic sigmoid.
function M.sigmoid(x)
  check_tensor(x, 1, "input", "sigmoid")
  return x:sigmoid()
end

--- Hyperbolic tangent.
function M.tanh(x)
  check_tensor(x, 1, "input", "tanh")
  return x:tanh()
end

--- Leaky ReLU with negative slope (default 0.01).
function M.leaky_relu(x, slope)
  check_tensor(x, 1, "input", "leaky_relu")
  return x:leaky_relu(slope or 0.01)
end

--- Softmax along `dim` (1-based, negative from the end; default -1).
function M.softmax(x, dim)
  check_tensor(x, 1, "input", "softmax")
  return lt.softmax(x, dim or -1)
end

--- Log-softmax along `dim` (default -1).
function M.log_softmax(x, dim)
  check_tensor(x, 1, "input", "log_softmax")
  return lt.log_softmax(x, dim or -1)
end

local function check_p(p, fname)
  if type(p) ~= "number" or p < 0 or p > 1 then
    error(("%s: bad argument #2 'p' (probability in [0, 1] expected, got %s)")
          :format(fname, tostring(p)), 3)
  end
end

--- Inverted dropout: zeroes elements with probability p, scales by 1/(1-p).
-- @param x tensor
-- @param p number (default 0.5)
-- @param training boolean (default true)
function M.dropout(x, p, training)
  check_tensor(x, 1, "input", "dropout")
  if p == nil then p = 0.5 end
  check_p(p, "dropout")
  if training == nil then training = true end
  if not training or p == 0 then return x end
  return lt.dropout(x, p, training)
end

--- Channel dropout: zeroes whole channels of (N, C, H, W) or (C, H, W).
function M.dropout2d(x, p, training)
  check_tensor(x, 1, "input", "dropout2d")
  if p == nil then p = 0.5 end
  check_p(p, "dropout2d")
  if training == nil then training = true end
  if not training or p == 0 then return x end
  local shape = x.shape
  if #shape ~= 3 and #shape ~= 4 then
    error(("dropout2d: 'input' must be 3-D or 4-D, got shape %s"):format(shape_str(x)), 2)
  end
  if p == 1 then return x * 0 end
  local mshape = {}
  for i = 1, #shape do mshape[i] = (i <= #shape - 2) and shape[i] or 1 end
  local keep = lt.full(mshape, 1 - p, {dtype = x.dtype, device = x.device})
  local mask = lt.bernoulli(keep)
  return x * mask * (1 / (1 - p))
end

--- Layer normalisation over the trailing `normalized_shape` dims.
-- @param normalized_shape number or table of the last dims' sizes
function M.layer_norm(x, normalized_shape, weight, bias, eps)
  check_tensor(x, 1, "input", "layer_norm")
  if type(normalized_shape) == "number" then normalized_shape = {normalized_shape} end
  if type(normalized_shape) ~= "table" then
    error("layer_norm: bad argument #2 'normalized_shape' (number or table expected)", 2)
  end
  check_opt_tensor(weight, "weight", "layer_norm")
  check_opt_tensor(bias, "bias", "layer_norm")
  return lt.layer_norm(x, normalized_shape, weight, bias, eps or 1e-5)
end

--- Batch normalisation (PyTorch's positional signature).
-- @param x tensor (N, C, ...)
-- @param running_mean tensor (C) or nil
-- @param running_var tensor (C) or nil
-- @param weight tensor (C) or nil
-- @param bias tensor (C) or nil
-- @param training boolean (default false)
-- @param momentum number (default 0.1)
-- @param eps number (default 1e-5)
function M.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
  check_tensor(x, 1, "input", "batch_norm")
  check_opt_tensor(running_mean, "running_mean", "batch_norm")
  check_opt_tensor(running_var, "running_var", "batch_norm")
  check_opt_tensor(weight, "weight", "batch_norm")
  check_opt_tensor(bias, "bias", "batch_norm")
  if training == nil then training = false end
  if not training and (running_mean == nil or running_var == nil) then
    error("batch_norm: running_mean and running_var are needed when training is false", 2)
  end
  return lt.batch_norm(x, running_mean, running_var, weight, bias, training,
                       momentum or 0.1, eps or 1e-5)
end

--- 2-D convolution.
-- @param x tensor (N, C, H, W)
-- @param weight tensor (O, C/groups, kh, kw)
-- @param bias tensor (O) or nil
-- @param opts {stride=, padding=, dilation=, groups=} (numbers or {h, w})
function M.conv2d(x, weight, bias, opts)
  check_tensor(x, 1, "input", "conv2d")
  check_tensor(weight, 2, "weight", "conv2d")
  check_opt_tensor(bias, "bias", "conv2d")
  opts = check_opts(opts, 4, "conv2d")
  return lt.conv2d(x, weight, bias, opts)
end

--- 2-D max pooling; opts {stride= (default kernel), padding=, dilation=,
-- ceil_mode=, return_indices=}.
function M.max_pool2d(x, kernel, opts)
  check_tensor(x, 1, "input", "max_pool2d")
  if kernel == nil then error("max_pool2d: bad argument #2 'kernel_size' (number or {h, w} expected)", 2) end
  opts = check_opts(opts, 3, "max_pool2d")
  return lt.max_pool2d(x, kernel, opts)
end

--- 2-D average pooling; opts {stride=, padding=, ceil_mode=,
-- count_include_pad=, divisor_override=}.
function M.avg_pool2d(x, kernel, opts)
  check_tensor(x, 1, "input", "avg_pool2d")
  if kernel == nil then error("avg_pool2d: bad argument #2 'kernel_size' (number or {h, w} expected)", 2) end
  opts = check_opts(opts, 3, "avg_pool2d")
  return lt.avg_pool2d(x, kernel, opts)
end

--- Adaptive average pooling to `size` (number or {h, w}).
function M.adaptive_avg_pool2d(x, size)
  check_tensor(x, 1, "input", "adaptive_avg_pool2d")
  if size == nil then
    error("adaptive_avg_pool2d: bad argument #2 'output_size' (number or {h, w} expected)", 2)
  end
  return lt.adaptive_avg_pool2d(x, size)
end

--- Embedding lookup: rows of `weight` at 1-based `ids`.
-- @param ids int64 tensor
-- @param weight tensor (num, dim)
-- @param padding_idx optional 1-based row whose gradient is zero
function M.embedding(ids, weight, padding_idx)
  check_tensor(ids, 1, "input", "embedding")
  check_tensor(weight, 2, "weight", "embedding")
  if type(padding_idx) == "table" then padding_idx = padding_idx.padding_idx end
  return lt.embedding(ids, weight, padding_idx)
end

--- Scaled dot-product attention.
-- @param opts {attn_mask=, dropout_p=, is_causal=, scale=}
function M.scaled_dot_product_attention(q, k, v, opts)
  check_tensor(q, 1, "query", "scaled_dot_product_attention")
  check_tensor(k, 2, "key", "scaled_dot_product_attention")
  check_tensor(v, 3, "value", "scaled_dot_product_attention")
  opts = check_opts(opts, 4, "scaled_dot_product_attention")
  return lt.scaled_dot_product_attention(q, k, v, opts)
end

--- One-hot encoding of 1-based class indices (int64 result).
-- @param idx int64 tensor
-- @param num_classes number (default: the largest index)
function M.one_hot(idx, num_classes)
  check_tensor(idx, 1, "input", "one_hot")
  if idx.dtype ~= "int64" and idx.dtype ~= "int32" then
    error(("one_hot: bad argument #1 'input' (an integer tensor of class indices expected, "
           .. "got %s of shape %s)"):format(idx.dtype, shape_str(idx)), 2)
  end
  if num_classes == nil or num_classes < 0 then num_classes = idx:max():item() end
  return lt.one_hot(idx, num_classes)
end

--- Pads the last dims: pads = {left, right, top, bottom, ...}.
-- @param opts {mode = "constant"|"reflect"|"replicate", value = 0} (or mode, value)
function M.pad(x, pads, opts, value)
  check_tensor(x, 1, "input", "pad")
  if type(pads) ~= "table" then
    error(("pad: bad argument #2 'pad' (table expected, got %s)"):format(type(pads)), 2)
  end
  if type(opts) == "string" then opts = {mode = opts, value = value} end
  opts = check_opts(opts, 3, "pad")
  return lt.pad(x, pads, opts)
end

-- ------------------------------------------------------------ losses

--- Mean squared error; opts.reduction "mean" (default), "sum", "none".
function M.mse_loss(input, target, opts)
  check_tensor(input, 1, "input", "mse_loss")
  check_tensor(target, 2, "target", "mse_loss")
  opts = check_opts(opts, 3, "mse_loss")
  check_same_shape(input, target, "mse_loss")
  if not input:is_floating_point() then
    error(("mse_loss: bad argument #1 'input' (a floating-point tensor expected, got %s)")
          :format(input.dtype), 2)
  end
  local d = input - target
  return reduce(d * d, opts.reduction, "mse_loss")
end

--- Mean absolute error.
function M.l1_loss(input, target, opts)
  check_tensor(input, 1, "input", "l1_loss")
  check_tensor(target, 2, "target", "l1_loss")
  opts = check_opts(opts, 3, "l1_loss")
  check_same_shape(input, target, "l1_loss")
  return reduce((input - target):abs(), opts.reduction, "l1_loss")
end

--- Smooth L1: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta.
-- @param opts {beta = 1.0, reduction = "mean"}
function M.smooth_l1_loss(input, target, opts)
  check_tensor(input, 1, "input", "smooth_l1_loss")
  check_tensor(target, 2, "target", "smooth_l1_loss")
  opts = check_opts(opts, 3, "smooth_l1_loss")
  check_same_shape(input, target, "smooth_l1_loss")
  local beta = opts.beta or 1.0
  if beta < 0 then error("smooth_l1_loss: bad option 'beta' (must be >= 0)", 2) end
  local d = (input - target):abs()
  local loss
  if beta == 0 then loss = d
  else loss = lt.where(d:lt(beta), d * d * (0.5 / beta), d - 0.5 * beta) end
  return reduce(loss, opts.reduction, "smooth_l1_loss")
end

--- Huber: 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta).
-- @param opts {delta = 1.0, reduction = "mean"}
function M.huber_loss(input, target, opts)
  check_tensor(input, 1, "input", "huber_loss")
  check_tensor(target, 2, "target", "huber_loss")
  opts = check_opts(opts, 3, "huber_loss")
  check_same_shape(input, target, "huber_loss")
  local delta = opts.delta or 1.0
  if delta <= 0 then error("huber_loss: bad option 'delta' (must be > 0)", 2) end
  local d = (input - target):abs()
  local loss = lt.where(d:lt(delta), d * d * 0.5, (d - 0.5 * delta) * delta)
  return reduce(loss, opts.reduction, "huber_loss")
end

--- Cross entropy of logits (N, C) [or (N, C, d...)] against 1-based class
-- targets (N) or class probabilities.
-- @param opts {weight=, ignore_index= (default -100), label_smoothing=, reduction=}
function M.cross_entropy(input, target, opts)
  check_tensor(input, 1, "input", "cross_entropy")
  check_tensor(target, 2, "target", "cross_entropy")
  opts = check_opts(opts, 3, "cross_entropy")
  check_opt_tensor(opts.weight, "weight", "cross_entropy")
  local ls = opts.label_smoothing or 0
  if ls < 0 or ls > 1 then
    error(("cross_entropy: bad option 'label_smoothing' (in [0, 1] expected, got %s)"):format(ls), 2)
  end
  check_reduction(opts.reduction, "cross_entropy")
  return lt.cross_entropy(input, target, opts)
end

--- Negative log likelihood of log-probabilities (N, C) at 1-based targets.
-- @param opts {weight=, ignore_index=, reduction=}
function M.nll_loss(input, target, opts)
  check_tensor(input, 1, "input", "nll_loss")
  check_tensor(target, 2, "target", "nll_loss")
  opts = check_opts(opts, 3, "nll_loss")
  check_opt_tensor(opts.weight, "weight", "nll_loss")
  check_reduction(opts.reduction, "nll_loss")
  return lt.nll_loss(input, target, opts)
end

--- Binary cross entropy of probabilities; log terms clamped at -100 as PyTorch.
-- @param opts {weight=, reduction=}
function M.binary_cross_entropy(input, target, opts)
  check_tensor(input, 1, "input", "binary_cross_entropy")
  check_tensor(target, 2, "target", "binary_cross_entropy")
  opts = check_opts(opts, 3, "binary_cross_entropy")
  check_opt_tensor(opts.weight, "weight", "binary_cross_entropy")
  check_same_shape(input, target, "binary_cross_entropy")
  local logp = input:log():clamp(-100, nil)
  local log1mp = (1 - input):log():clamp(-100, nil)
  local loss = -(target * logp + (1 - target) * log1mp)
  if opts.weight then loss = loss * opts.weight end
  return reduce(loss, opts.reduction, "binary_cross_entropy")
end

--- Binary cross entropy of logits in the stable form
-- (1 - y) x + w_p (log(1 + exp(-|x|)) + max(-x, 0)), w_p = 1 + (pos_weight - 1) y.
-- @param opts {weight=, pos_weight=, reduction=}
function M.binary_cross_entropy_with_logits(input, target, opts)
  local fname = "binary_cross_entropy_with_logits"
  check_tensor(input, 1, "input", fname)
  check_tensor(target, 2, "target", fname)
  opts = check_opts(opts, 3, fname)
  check_opt_tensor(opts.weight, "weight", fname)
  check_opt_tensor(opts.pos_weight, "pos_weight", fname)
  check_same_shape(input, target, fname)
  local softplus_neg = (-input:abs()):exp():log1p() + (-input):relu()  -- log(1 + exp(-x))
  local loss
  if opts.pos_weight then
    local log_weight = (opts.pos_weight - 1) * target + 1
    loss = (1 - target) * input + log_weight * softplus_neg
  else
    loss = (1 - target) * input + softplus_neg
  end
  if opts.weight then loss = loss * opts.weight end
  return reduce(loss, opts.reduction, fname)
end

-- the extra activations, distances and losses (elu ... gaussian_nll_loss)
-- live in nn/functional_extra.lua; existing names here win
for k, v in pairs(require("luatrain.nn.functional_extra")) do
  if M[k] == nil then M[k] = v end
end
-- conv/norm/resampling family (conv1d, conv_transpose*, group_norm, interpolate, ...)
for k, v in pairs(require("luatrain.nn.functional_conv")) do
  if M[k] == nil then M[k] = v end
end

return M
