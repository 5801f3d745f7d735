--- nn.functional, second part: the extra activations (elu, selu, celu,
-- softplus, mish, hardswish, hardsigmoid, hardtanh, relu6, logsigmoid,
-- softsign, tanhshrink, threshold, glu, prelu, softmin) and the distance
-- functions and losses (kl_div, cosine_similarity, normalize,
-- pairwise_distance, cosine_embedding_loss, margin_ranking_loss,
-- gaussian_nll_loss). nn.functional merges this table into itself; use them
-- as `nn.functional.<name>`. All are composed from differentiable core ops,
-- so they run on every device and need no backward of their own. Dims are
-- 1-based (PyTorch's dim=1 is dim 2 here). No in-place variants.
-- @module luatrain.nn.functional
local lt = require("luatrain")
local argcheck = require "luatrain.nn._argcheck"

local M = {}

local check_tensor = argcheck.check_tensor

local function check_number(v, argn, name, fname)
  if type(v) ~= "number" then
    error(("%s: bad argument #%d '%s' (number expected, got %s)")
          :format(fname, argn, name, type(v)), 3)
  end
end

local check_opts = argcheck.check_opts

local shape_str = argcheck.shape_str

local function check_dim(x, dim, argn, fname)
  if math.type(dim) ~= "integer" then
    error(("%s: bad argument #%d 'dim' (integer expected, got %s)")
          :format(fname, argn, tostring(dim)), 3)
  end
  local n = x:dim()
  local d = dim < 0 and n + dim + 1 or dim
  if d < 1 or d > n then
    error(("%s: bad argument #%d 'dim' (dim %d out of range for input of shape %s)")
          :format(fname, argn, dim, shape_str(x)), 3)
  end
  return d
end

local REDUCTIONS = {mean = true, sum = true, none = true}

local function reduce(loss, reduction, fname, extra)
  reduction = reduction or "mean"
  if reduction == "mean" then return loss:mean() end
  if reduction == "sum" then return loss:sum() end
  if reduction == "none" then return loss end
  error(("%s: bad option 'reduction' ('%s'; 'mean', 'sum'%s or 'none' expected)")
        :format(fname, tostring(reduction), extra or ""), 3)
end

-- shapes a and b broadcast together (trailing alignment)
local function broadcastable(a, b)
  local sa, sb = a.shape, b.shape
  for i = 1, math.min(#sa, #sb) do
    local x, y = sa[#sa - i + 1], sb[#sb - i + 1]
    if x ~= y and x ~= 1 and y ~= 1 then return false end
  end
  return true
end

local function check_broadcast(a, b, na, nb, fname)
  if not broadcastable(a, b) then
    error(("%s: '%s' shape %s and '%s' shape %s are not broadcastable")
          :format(fname, na, shape_str(a), nb, shape_str(b)), 3)
  end
end

-- ------------------------------------------------------------ activations

-- alpha * (exp(min(x, 0) / s) - 1) * s-scaled: the negative part of ELU/CELU
local function neg_part(x, alpha, s)
  local m = -(-x):relu()                     -- min(x, 0), finite exp below
  if s ~= 1 then m = m / s end
  return m:expm1() * alpha
end

--- ELU: x where x > 0, alpha (exp(x) - 1) elsewhere.
-- @param x tensor
-- @param alpha number (default 1.0)
function M.elu(x, alpha)
  check_tensor(x, 1, "input", "elu")
  if alpha == nil then alpha = 1.0 end
  check_number(alpha, 2, "alpha", "elu")
  return x:relu() + neg_part(x, alpha, 1)
end

local SELU_ALPHA = 1.6732632423543772848170429916717
local SELU_SCALE = 1.0507009873554804934193349852946

--- SELU: scale * elu(x, alpha) with PyTorch's fixed alpha and scale.
function M.selu(x)
  check_tensor(x, 1, "input", "selu")
  return (x:relu() + neg_part(x, SELU_ALPHA, 1)) * SELU_SCALE
end

--- CELU: max(0, x) + min(0, alpha (exp(x / alpha) - 1)).
-- @param alpha number (default 1.0, must not be 0)
function M.celu(x, alpha)
  check_tensor(x, 1, "input", "celu")
  if alpha == nil then alpha = 1.0 end
  check_number(alpha, 2, "alpha", "celu")
  if alpha == 0 then error("celu: bad argument #2 'alpha' (must not be 0)", 2) end
  return x:relu() + neg_part(x, alpha, alpha)
end

local function softplus(x, beta, threshold)
  local z = beta == 1 and x or x * beta
  local sp = z:clamp(nil, threshold):exp():log1p()
  if beta ~= 1 then sp = sp / beta end
  return lt.where(z:gt(threshold), x, sp)
end

--- Softplus: log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.
-- @param beta number (default 1)
-- @param threshold number (default 20)
function M.softplus(x, beta, threshold)
  check_tensor(x, 1, "input", "softplus")
  if type(beta) == "table" then beta, threshold = beta.beta, beta.threshold end
  beta, threshold = beta or 1.0, threshold or 20.0
  check_number(beta, 2, "beta", "softplus")
  check_number(threshold, 3, "threshold", "softplus")
  return softplus(x, beta, threshold)
end

--- Mish: x tanh(softplus(x)).
function M.mish(x)
  check_tensor(x, 1, "input", "mish")
  return x * softplus(x, 1.0, 20.0):tanh()
end

--- Hard sigmoid: relu6(x + 3) / 6.
function M.hardsigmoid(x)
  check_tensor(x, 1, "input", "hardsigmoid")
  return (x + 3):clamp(0, 6) / 6
end

--- Hard swish: x relu6(x + 3) / 6.
function M.hardswish(x)
  check_tensor(x, 1, "input", "hardswish")
  return x * (x + 3):clamp(0, 6) / 6
end

--- Hard tanh: clamp(x, min_val, max_val).
-- @param min_val number (default -1)
-- @param max_val number (default 1)
function M.hardtanh(x, min_val, max_val)
  check_tensor(x, 1, "input", "hardtanh")
  if type(min_val) == "table" then min_val, max_val = min_val.min_val, min_val.max_val end
  min_val, max_val = min_val or -1.0, max_val or 1.0
  check_number(min_val, 2, "min_val", "hardtanh")
  check_number(max_val, 3, "max_val", "hardtanh")
  if max_val < min_val then
    error(("hardtanh: max_val %g must be >= min_val %g"):format(max_val, min_val), 2)
  end
  return x:clamp(min_val, max_val)
end

--- ReLU6: min(max(x, 0), 6).
function M.relu6(x)
  check_tensor(x, 1, "input", "relu6")
  return x:clamp(0, 6)
end

--- log(sigmoid(x)) = -softplus(-x), computed stably.
function M.logsigmoid(x)
  check_tensor(x, 1, "input", "logsigmoid")
  return -softplus(-x, 1.0, 20.0)
end

--- Softsign: x / (1 + |x|).
function M.softsign(x)
  check_tensor(x, 1, "input", "softsign")
  return x / (x:abs() + 1)
end

--- Tanhshrink: x - tanh(x).
function M.tanhshrink(x)
  check_tensor(x, 1, "input", "tanhshrink")
  return x - x:tanh()
end

--- Threshold: x where x > threshold, else value.
-- @param threshold number
-- @param value number
function M.threshold(x, threshold, value)
  check_tensor(x, 1, "input", "threshold")
  check_number(threshold, 2, "threshold", "threshold")
  check_number(value, 3, "value", "threshold")
  return lt.where(x:gt(threshold), x, value)
end

--- Gated linear unit: a * sigmoid(b) where a, b are the halves of x along dim.
-- @param dim integer (default -1); the size there must be even
function M.glu(x, dim)
  check_tensor(x, 1, "input", "glu")
  if dim == nil then dim = -1 end
  local d = check_dim(x, dim, 2, "glu")
  local n = x:size(d)
  if n % 2 ~= 0 then
    error(("glu: halving dimension %d must be even, got size %d (input shape %s)")
          :format(dim, n, shape_str(x)), 2)
  end
  local h = n // 2
  return x:narrow(d, 1, h) * x:narrow(d, h + 1, h):sigmoid()
end

--- PReLU: max(0, x) + weight * min(0, x); weight has 1 element or one per
-- channel (dim 2 of x, or dim 1 when x is 1-D).
-- @param weight tensor (num_parameters)
function M.prelu(x, weight)
  check_tensor(x, 1, "input", "prelu")
  check_tensor(weight, 2, "weight", "prelu")
  local n = weight:numel()
  local w = weight
  if n ~= 1 then
    local cd = x:dim() >= 2 and 2 or 1
    if x:dim() == 0 or x:size(cd) ~= n then
      error(("prelu: weight has %d elements but input shape %s has %s channels (dim %d)")
            :format(n, shape_str(x), x:dim() == 0 and "no" or tostring(x:size(cd)), cd), 2)
    end
    local shape = {}
    for i = 1, x:dim() do shape[i] = (i == cd) and n or 1 end
    w = weight:reshape(shape)
  else
    w = weight:reshape({})
  end
  return x:relu() - (-x):relu() * w
end

--- Softmin: softmax(-x, dim) (dim default -1).
function M.softmin(x, dim)
  check_tensor(x, 1, "input", "softmin")
  return lt.softmax(-x, dim or -1)
end

-- ------------------------------------------------------------ distances

--- Cosine similarity along dim: sum(x1 x2) / (max(|x1|, eps) max(|x2|, eps)).
-- x1 and x2 broadcast against each other.
-- @param opts {dim = 2, eps = 1e-8} (PyTorch's dim=1 default, 1-based here),
--   or positionally (x1, x2, dim, eps)
function M.cosine_similarity(x1, x2, opts, eps)
  check_tensor(x1, 1, "x1", "cosine_similarity")
  check_tensor(x2, 2, "x2", "cosine_similarity")
  if type(opts) == "number" then opts = {dim = opts, eps = eps} end
  opts = check_opts(opts, 3, "cosine_similarity")
  check_broadcast(x1, x2, "x1", "x2", "cosine_similarity")
  local eps = opts.eps or 1e-8
  local nd = math.max(x1:dim(), x2:dim())
  local dim = opts.dim or 2
  if math.type(dim) ~= "integer" or (dim < 0 and nd + dim + 1 or dim) < 1
     or (dim < 0 and nd + dim + 1 or dim) > nd then
    error(("cosine_similarity: bad option 'dim' (%s out of range for shapes %s and %s)")
          :format(tostring(dim), shape_str(x1), shape_str(x2)), 2)
  end
  local d = dim < 0 and nd + dim + 1 or dim
  -- align ranks so `d` means the same dim in both
  while x1:dim() < nd do x1 = x1:unsqueeze(1) end
  while x2:dim() < nd do x2 = x2:unsqueeze(1) end
  local n1 = x1:norm(2, d, {keepdim = true}):clamp(eps, nil)
  local n2 = x2:norm(2, d, {keepdim = true}):clamp(eps, nil)
  return ((x1 / n1) * (x2 / n2)):sum(d)
end

--- Lp normalisation along dim: x / max(||x||_p, eps).
-- @param opts {p = 2, dim = 2, eps = 1e-12} (dim default 1 for 1-D input),
--   or positionally (x, p, dim, eps)
function M.normalize(x, opts, dim, eps)
  check_tensor(x, 1, "input", "normalize")
  if type(opts) == "number" then opts = {p = opts, dim = dim, eps = eps} end
  opts = check_opts(opts, 2, "normalize")
  local p = opts.p or 2
  check_number(p, 2, "p", "normalize")
  local d = check_dim(x, opts.dim or (x:dim() >= 2 and 2 or 1), 2, "normalize")
  local n = x:norm(p, d, {keepdim = true}):clamp(opts.eps or 1e-12, nil)
  return x / n
end

--- Pairwise distance ||x1 - x2 + eps||_p over the last dim.
-- @param opts {p = 2, eps = 1e-6, keepdim = false}, or positionally
--   (x1, x2, p, eps, keepdim)
function M.pairwise_distance(x1, x2, opts, eps, keepdim)
  if type(opts) == "number" then opts = {p = opts, eps = eps, keepdim = keepdim} end
  check_tensor(x1, 1, "x1", "pairwise_distance")
  check_tensor(x2, 2, "x2", "pairwise_distance")
  opts = check_opts(opts, 3, "pairwise_distance")
  check_broadcast(x1, x2, "x1", "x2", "pairwise_distance")
  local p = opts.p or 2
  check_number(p, 3, "p", "pairwise_distance")
  local diff = x1 - x2 + (opts.eps or 1e-6)
  if diff:dim() == 0 then diff = diff:reshape({1}) end
  return diff:norm(p, -1, {keepdim = opts.keepdim or false})
end

-- ------------------------------------------------------------ losses

--- KL divergence with `input` log-probabilities: target (log target - input),
-- 0 where target is 0.
-- @param opts {reduction = "mean"|"batchmean"|"sum"|"none", log_target = false}
--   ("batchmean" divides the sum by the batch size, the mathematically right
--   KL; "mean" averages over every element, as PyTorch)
function M.kl_div(input, target, opts)
  check_tensor(input, 1, "input", "kl_div")
  check_tensor(target, 2, "target", "kl_div")
  opts = check_opts(opts, 3, "kl_div")
  check_broadcast(input, target, "input", "target", "kl_div")
  local r = opts.reduction or "mean"
  if r ~= "batchmean" and not REDUCTIONS[r] then
    error(("kl_div: bad option 'reduction' ('%s'; 'mean', 'batchmean', 'sum' or 'none' expected)")
          :format(tostring(r)), 2)
  end
  local loss
  if opts.log_target then
    loss = target:exp() * (target - input)
  else
    local pos = target:gt(0)
    local safe = lt.where(pos, target, 1.0)
    loss = target * safe:log() - target * input
  end
  if r == "batchmean" then
    if input:dim() == 0 then return loss:sum() end
    return loss:sum() / input:size(1)
  end
  return reduce(loss, r, "kl_div")
end

--- Margin ranking loss: max(0, -y (x1 - x2) + margin), y in {1, -1}.
-- @param opts {margin = 0, reduction = "mean"}
function M.margin_ranking_loss(x1, x2, y, opts)
  check_tensor(x1, 1, "input1", "margin_ranking_loss")
  check_tensor(x2, 2, "input2", "margin_ranking_loss")
  check_tensor(y, 3, "target", "margin_ranking_loss")
  opts = check_opts(opts, 4, "margin_ranking_loss")
  if x1:dim() ~= x2:dim() or x1:dim() ~= y:dim() then
    error(("margin_ranking_loss: input1 %s, input2 %s and target %s must have the same number of dims")
          :format(shape_str(x1), shape_str(x2), shape_str(y)), 2)
  end
  check_broadcast(x1, x2, "input1", "input2", "margin_ranking_loss")
  check_broadcast(x1, y, "input1", "target", "margin_ranking_loss")
  local loss = (-y * (x1 - x2) + (opts.margin or 0)):relu()
  return reduce(loss, opts.reduction, "margin_ranking_loss")
end

--- Cosine embedding loss over the last dim of (N, D) or (D) inputs:
-- 1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1.
-- @param opts {margin = 0, reduction = "mean"}
function M.cosine_embedding_loss(x1, x2, y, opts)
  local fname = "cosine_embedding_loss"
  check_tensor(x1, 1, "input1", fname)
  check_tensor(x2, 2, "input2", fname)
  check_tensor(y, 3, "target", fname)
  opts = check_opts(opts, 4, fname)
  local s1, s2 = shape_str(x1), shape_str(x2)
  if s1 ~= s2 or (x1:dim() ~= 1 and x1:dim() ~= 2) then
    error(("%s: input1 %s and input2 %s must have the same 1-D or 2-D shape"):format(fname, s1, s2), 2)
  end
  if y:dim() ~= x1:dim() - 1 or (y:dim() == 1 and y:size(1) ~= x1:size(1)) then
    error(("%s: target shape %s does not match inputs of shape %s"):format(fname, shape_str(y), s1), 2)
  end
  local EPS = 1e-12
  local d = x1:dim()
  local prod = (x1 * x2):sum(d)
  local m1 = (x1 * x1):sum(d) + EPS
  local m2 = (x2 * x2):sum(d) + EPS
  local cos = prod / (m1 * m2):sqrt()
  local margin = opts.margin or 0
  local pos = lt.where(y:eq(1), 1 - cos, 0.0)
  local neg = lt.where(y:eq(-1), (cos - margin):relu(), 0.0)
  return reduce(pos + neg, opts.reduction, fname)
end

--- Gaussian negative log likelihood:
-- 0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) [+ 0.5 log(2 pi) when full].
-- var has input's shape, or one dim fewer, or a last dim of 1 (one variance
-- shared by the last dim). The clamp does not stop var's gradient, as PyTorch.
-- @param opts {full = false, eps = 1e-6, reduction = "mean"}
function M.gaussian_nll_loss(input, target, var, opts)
  local fname = "gaussian_nll_loss"
  check_tensor(input, 1, "input", fname)
  check_tensor(target, 2, "target", fname)
  check_tensor(var, 3, "var", fname)
  opts = check_opts(opts, 4, fname)
  local si, sv = input.shape, var.shape
  if shape_str(input) ~= shape_str(var) then
    local ok = false
    if #sv == #si - 1 then
      ok = true
      for i = 1, #sv do ok = ok and sv[i] == si[i] end
      if ok then var = var:unsqueeze(-1) end
    elseif #sv == #si and sv[#sv] == 1 then
      ok = true
      for i = 1, #sv - 1 do ok = ok and sv[i] == si[i] end
    end
    if not ok then
      error(("%s: var shape %s does not match input shape %s"):format(fname, shape_str(var), shape_str(input)), 2)
    end
  end
  check_broadcast(input, target, "input", "target", fname)
  if var:lt(0):any():item() then error(fname .. ": var has negative entries", 2) end
  local eps = opts.eps or 1e-6
  local v = var + (var:detach():clamp(eps, nil) - var:detach())
  local d = input - target
  local loss = (v:log() + d * d / v) * 0.5
  if opts.full then loss = loss + 0.5 * math.log(2 * math.pi) end
  return reduce(loss, opts.reduction, fname)
end

return M
