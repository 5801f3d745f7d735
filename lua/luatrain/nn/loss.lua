--- Loss modules: MSELoss, L1Loss, CrossEntropyLoss, NLLLoss, BCELoss,
-- BCEWithLogitsLoss, SmoothL1Loss, HuberLoss, KLDivLoss, MarginRankingLoss,
-- CosineEmbeddingLoss, GaussianNLLLoss, and the distance modules
-- CosineSimilarity and PairwiseDistance. Each holds its options and calls
-- nn.functional; class weights are registered buffers (so `to` moves them
-- and state_dict has them, as in PyTorch). No hinge/triplet/CTC losses.
-- @module luatrain.nn.loss
local lt = require("luatrain")
local module = require("luatrain.nn.module")
local F = require("luatrain.nn.functional")

local Module = module.Module
local M = {}

local REDUCTIONS = {mean = true, sum = true, none = true}

local function base_init(self, name, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(("%s: bad argument #1 'opts' (table expected, got %s)"):format(name, type(opts)), 4)
  end
  opts = opts or {}
  local r = opts.reduction or "mean"
  if not REDUCTIONS[r] then
    error(("%s: bad option 'reduction' ('%s'; 'mean', 'sum' or 'none' expected)")
          :format(name, tostring(r)), 4)
  end
  self.reduction = r
  for _, key in ipairs({"weight", "pos_weight"}) do
    local w = opts[key]
    if w ~= nil then
      if not lt.is_tensor(w) then
        error(("%s: bad option '%s' (tensor expected, got %s)"):format(name, key, type(w)), 4)
      end
      self:register_buffer(key, w)
    end
  end
  return opts
end

local function loss_class(name, fn, fields)
  local C = Module:extend(name)
  function C:init(opts)
    opts = base_init(self, name, opts)
    for k, default in pairs(fields or {}) do
      if opts[k] == nil then self[k] = default else self[k] = opts[k] end
    end
  end
  function C:forward(input, target)
    local o = {reduction = self.reduction, weight = self.weight, pos_weight = self.pos_weight}
    for k in pairs(fields or {}) do o[k] = self[k] end
    return fn(input, target, o)
  end
  function C:extra_repr()
    return self.reduction ~= "mean" and ("reduction='%s'"):format(self.reduction) or ""
  end
  M[name] = C
  return C
end

--- MSELoss({reduction = "mean"}).
loss_class("MSELoss", F.mse_loss)
--- L1Loss({reduction = "mean"}).
loss_class("L1Loss", F.l1_loss)
--- CrossEntropyLoss({weight =, ignore_index = -100, label_smoothing = 0, reduction = "mean"}).
loss_class("CrossEntropyLoss", F.cross_entropy, {ignore_index = -100, label_smoothing = 0.0})
--- NLLLoss({weight =, ignore_index = -100, reduction = "mean"}).
loss_class("NLLLoss", F.nll_loss, {ignore_index = -100})
--- BCELoss({weight =, reduction = "mean"}).
loss_class("BCELoss", F.binary_cross_entropy)
--- BCEWithLogitsLoss({weight =, pos_weight =, reduction = "mean"}).
loss_class("BCEWithLogitsLoss", F.binary_cross_entropy_with_logits)
--- SmoothL1Loss({beta = 1.0, reduction = "mean"}).
loss_class("SmoothL1Loss", F.smooth_l1_loss, {beta = 1.0})
--- HuberLoss({delta = 1.0, reduction = "mean"}).
loss_class("HuberLoss", F.huber_loss, {delta = 1.0})

--- KLDivLoss({reduction = "mean"|"batchmean"|"sum"|"none", log_target = false}):
-- `loss(input, target)` with input log-probabilities (see F.kl_div).
local KLDivLoss = Module:extend("KLDivLoss")
M.KLDivLoss = KLDivLoss
function KLDivLoss:init(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(("KLDivLoss: bad argument #1 'opts' (table expected, got %s)"):format(type(opts)), 3)
  end
  opts = opts or {}
  local r = opts.reduction or "mean"
  if r ~= "batchmean" and not REDUCTIONS[r] then
    error(("KLDivLoss: bad option 'reduction' ('%s'; 'mean', 'batchmean', 'sum' or 'none' expected)")
          :format(tostring(r)), 3)
  end
  self.reduction, self.log_target = r, opts.log_target or false
end
function KLDivLoss:forward(input, target)
  return F.kl_div(input, target, {reduction = self.reduction, log_target = self.log_target})
end
function KLDivLoss:extra_repr()
  return ("reduction='%s', log_target=%s"):format(self.reduction, tostring(self.log_target))
end

-- a loss of three tensors (input1, input2, target/var) with number options
local function loss3_class(name, fn, fields)
  local C = loss_class(name, fn, fields)
  function C:forward(a, b, c)
    local o = {reduction = self.reduction}
    for k in pairs(fields or {}) do o[k] = self[k] end
    return fn(a, b, c, o)
  end
  return C
end

--- MarginRankingLoss({margin = 0, reduction = "mean"}): `loss(x1, x2, y)`.
loss3_class("MarginRankingLoss", F.margin_ranking_loss, {margin = 0.0})
--- CosineEmbeddingLoss({margin = 0, reduction = "mean"}): `loss(x1, x2, y)`.
loss3_class("CosineEmbeddingLoss", F.cosine_embedding_loss, {margin = 0.0})
--- GaussianNLLLoss({full = false, eps = 1e-6, reduction = "mean"}): `loss(input, target, var)`.
loss3_class("GaussianNLLLoss", F.gaussian_nll_loss, {full = false, eps = 1e-6})

--- CosineSimilarity({dim = 2, eps = 1e-8}) (or CosineSimilarity(dim, eps)):
-- `m(x1, x2)` is F.cosine_similarity; dim 2 is PyTorch's default dim=1.
local CosineSimilarity = Module:extend("CosineSimilarity")
M.CosineSimilarity = CosineSimilarity
function CosineSimilarity:init(dim, eps)
  if type(dim) == "table" then dim, eps = dim.dim, dim.eps end
  if dim ~= nil and math.type(dim) ~= "integer" then
    error(("CosineSimilarity: bad argument #1 'dim' (integer expected, got %s)"):format(tostring(dim)), 3)
  end
  self.dim, self.eps = dim or 2, eps or 1e-8
end
function CosineSimilarity:forward(x1, x2)
  return F.cosine_similarity(x1, x2, {dim = self.dim, eps = self.eps})
end
function CosineSimilarity:extra_repr() return ("dim=%d, eps=%g"):format(self.dim, self.eps) end

--- PairwiseDistance({p = 2, eps = 1e-6, keepdim = false}) (or PairwiseDistance(p, eps, keepdim)):
-- `m(x1, x2)` is F.pairwise_distance over the last dim.
local PairwiseDistance = Module:extend("PairwiseDistance")
M.PairwiseDistance = PairwiseDistance
function PairwiseDistance:init(p, eps, keepdim)
  if type(p) == "table" then p, eps, keepdim = p.p, p.eps, p.keepdim end
  if p ~= nil and type(p) ~= "number" then
    error(("PairwiseDistance: bad argument #1 'p' (number expected, got %s)"):format(type(p)), 3)
  end
  self.norm, self.eps, self.keepdim = p or 2.0, eps or 1e-6, keepdim or false
end
function PairwiseDistance:forward(x1, x2)
  return F.pairwise_distance(x1, x2, {p = self.norm, eps = self.eps, keepdim = self.keepdim})
end
function PairwiseDistance:extra_repr() return ("p=%g, eps=%g"):format(self.norm, self.eps) end

return M
