--- Loss modules: MSELoss, L1Loss, CrossEntropyLoss, NLLLoss, BCELoss,
-- BCEWithLogitsLoss, SmoothL1Loss, HuberLoss. Each holds its options and
-- calls nn.functional; class weights are registered buffers (so `to` moves
-- them and state_dict has them, as in PyTorch). No KL/margin losses.
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

return M
