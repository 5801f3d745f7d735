--- NAdam: PyTorch's single-tensor algorithm (Nesterov Adam with the
-- momentum_decay schedule, L2 or decoupled weight decay, maximize) composed
-- from in-place tensor ops, so it runs on any device. State: step,
-- mu_product (numbers), exp_avg, exp_avg_sq. No foreach/capturable.
-- @classmod luatrain.optim.NAdam
local lt = require("luatrain")
local optimizer = require("luatrain.optim.optimizer")
local C = require("luatrain.optim._common")

local M = {}

local NAdam = optimizer.Optimizer:extend("NAdam")
M.NAdam = NAdam

--- NAdam(params, {lr = 2e-3, betas = {0.9, 0.999}, eps = 1e-8,
-- weight_decay = 0, momentum_decay = 4e-3, decoupled_weight_decay = false,
-- maximize = false}).
function NAdam:init(params, opts)
  local d = C.options("NAdam", opts, {lr = 2e-3, betas = {0.9, 0.999}, eps = 1e-8,
                      weight_decay = 0, momentum_decay = 4e-3,
                      decoupled_weight_decay = false, maximize = false})
  C.number("NAdam", d, "lr", 0)
  C.number("NAdam", d, "eps", 0)
  C.betas("NAdam", d)
  C.number("NAdam", d, "weight_decay", 0)
  C.number("NAdam", d, "momentum_decay", 0)
  C.boolean("NAdam", d, "decoupled_weight_decay")
  C.boolean("NAdam", d, "maximize")
  optimizer.Optimizer.init(self, params, d)
end

function NAdam:_update_group(g)
  local b1, b2, lr = g.betas[1], g.betas[2], g.lr
  for _, p in ipairs(g.params) do
    local grad = p.grad
    if grad ~= nil then
      local st = self:state_for(p)
      if st.step == nil then
        st.step = 0
        st.mu_product = 1.0
        st.exp_avg = lt.zeros_like(p)
        st.exp_avg_sq = lt.zeros_like(p)
      end
      st.step = st.step + 1
      local step = st.step
      local bc2 = 1 - b2 ^ step
      if g.maximize then grad = -grad end
      if g.weight_decay ~= 0 then
        if g.decoupled_weight_decay then
          p:mul_(1 - lr * g.weight_decay)
        else
          grad = grad:add(p, {alpha = g.weight_decay})
        end
      end
      local mu = b1 * (1.0 - 0.5 * 0.96 ^ (step * g.momentum_decay))
      local mu_next = b1 * (1.0 - 0.5 * 0.96 ^ ((step + 1) * g.momentum_decay))
      st.mu_product = st.mu_product * mu
      C.lerp_(st.exp_avg, grad, 1 - b1)
      C.addcmul_(st.exp_avg_sq:mul_(b2), grad, grad, 1 - b2)
      local denom = st.exp_avg_sq:div(bc2):sqrt_():add_(g.eps)
      local mu_product_next = st.mu_product * mu_next
      C.addcdiv_(p, grad, denom, -lr * (1.0 - mu) / (1.0 - st.mu_product))
      C.addcdiv_(p, st.exp_avg, denom, -lr * mu_next / (1.0 - mu_product_next))
    end
  end
end

return M
