--- Adam (and the base of AdamW) on the core's fused lt._C.adam_step:
-- numerically PyTorch's single-tensor Adam with bias correction, optional
-- amsgrad, L2 weight decay (AdamW: decoupled). State: step (a number),
-- exp_avg, exp_avg_sq, max_exp_avg_sq. No capturable/fused switches.
-- @classmod luatrain.optim.Adam
local lt = require("luatrain")
local optimizer = require("luatrain.optim.optimizer")

local M = {}

local Adam = optimizer.Optimizer:extend("Adam")
M.Adam = Adam

local function check_opts(cls, d)
  if type(d.lr) ~= "number" or d.lr < 0 then
    error(("%s: bad option 'lr' (non-negative number expected, got %s)"):format(cls, tostring(d.lr)), 5)
  end
  if type(d.eps) ~= "number" or d.eps < 0 then
    error(("%s: bad option 'eps' (non-negative number expected, got %s)"):format(cls, tostring(d.eps)), 5)
  end
  local b = d.betas
  if type(b) ~= "table" or type(b[1]) ~= "number" or type(b[2]) ~= "number"
     or b[1] < 0 or b[1] >= 1 or b[2] < 0 or b[2] >= 1 then
    error(("%s: bad option 'betas' ({beta1, beta2} in [0, 1) expected)"):format(cls), 5)
  end
  if type(d.weight_decay) ~= "number" or d.weight_decay < 0 then
    error(("%s: bad option 'weight_decay' (non-negative number expected)"):format(cls), 5)
  end
end

-- shared constructor: decoupled = AdamW
function M._init(self, cls, params, opts, wd_default)
  opts = opts or {}
  if type(opts) ~= "table" then
    error(("%s: bad argument #2 'opts' (table expected, got %s)"):format(cls, type(opts)), 4)
  end
  local d = {lr = opts.lr or 1e-3, betas = opts.betas or {0.9, 0.999}, eps = opts.eps or 1e-8,
             weight_decay = opts.weight_decay or wd_default, amsgrad = opts.amsgrad or false,
             maximize = opts.maximize or false}
  check_opts(cls, d)
  d.betas = {d.betas[1], d.betas[2]}
  optimizer.Optimizer.init(self, params, d)
end

--- Adam(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
-- weight_decay = 0, amsgrad = false, maximize = false}).
function Adam:init(params, opts)
  M._init(self, "Adam", params, opts, 0)
end

Adam._decoupled = false

function Adam:_update_group(g)
  local b1, b2 = g.betas[1], g.betas[2]
  for _, p in ipairs(g.params) do
    -- <close>: this handle's reference goes at the end of the iteration, so
    -- zero_grad's `p.grad = nil` frees the buffer at once and the next
    -- backward reuses it warm (a handle left to the collector kept every
    -- step's gradients alive for tens of MiB of allocations)
    local grad <close> = p.grad
    if grad ~= nil then
      local st = self:state_for(p)
      if st.step == nil then
        st.step = 0
        st.exp_avg = lt.zeros_like(p)
        st.exp_avg_sq = lt.zeros_like(p)
        if g.amsgrad then st.max_exp_avg_sq = lt.zeros_like(p) end
      end
      if g.amsgrad and st.max_exp_avg_sq == nil then st.max_exp_avg_sq = lt.zeros_like(p) end
      st.step = st.step + 1
      lt._C.adam_step(p, grad, st.exp_avg, st.exp_avg_sq, g.amsgrad and st.max_exp_avg_sq or nil,
                      g.lr, b1, b2, g.eps, g.weight_decay, self._decoupled, g.maximize,
                      math.tointeger(st.step) or st.step)
    end
  end
end

return M
