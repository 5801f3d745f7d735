--- RAdam: PyTorch's single-tensor algorithm (rectified Adam; L2 or
-- decoupled weight decay, maximize) composed from in-place tensor ops, so
-- it runs on any device. State: step, exp_avg, exp_avg_sq. No
-- foreach/capturable.
-- @classmod luatrain.optim.RAdam
local lt = require("luatrain")
local optimizer = require("luatrain.optim.optimizer")
local C = require("luatrain.optim._common")

local M = {}

local RAdam = optimizer.Optimizer:extend("RAdam")
M.RAdam = RAdam

--- RAdam(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
-- weight_decay = 0, decoupled_weight_decay = false, maximize = false}).
function RAdam:init(params, opts)
  local d = C.options("RAdam", opts, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
                      weight_decay = 0, decoupled_weight_decay = false, maximize = false})
  C.number("RAdam", d, "lr", 0)
  C.number("RAdam", d, "eps", 0)
  C.betas("RAdam", d)
  C.number("RAdam", d, "weight_decay", 0)
  C.boolean("RAdam", d, "decoupled_weight_decay")
  C.boolean("RAdam", d, "maximize")
  optimizer.Optimizer.init(self, params, d)
end

function RAdam:_update_group(g)
  local b1, b2, lr = g.betas[1], g.betas[2], g.lr
  for _, p in ipairs(g.params) do
    local grad = p.grad
    if grad ~= nil then
      local st = self:state_for(p)
      if st.step == nil then
        st.step = 0
        st.exp_avg = lt.zeros_like(p)
        st.exp_avg_sq = lt.zeros_like(p)
      end
      st.step = st.step + 1
      local step = st.step
      if g.maximize then grad = -grad end
      if g.weight_decay ~= 0 then
        if g.decoupled_weight_decay then
          p:mul_(1 - lr * g.weight_decay)
        else
          grad = grad:add(p, {alpha = g.weight_decay})
        end
      end
      C.lerp_(st.exp_avg, grad, 1 - b1)
      C.addcmul_(st.exp_avg_sq:mul_(b2), grad, grad, 1 - b2)
      local bc1, bc2 = 1 - b1 ^ step, 1 - b2 ^ step
      local upd = (st.exp_avg / bc1):mul_(lr)
      local rho_inf = 2 / (1 - b2) - 1
      local rho_t = rho_inf - 2 * step * (b2 ^ step) / bc2
      if rho_t > 5.0 then
        local rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ^ 0.5
        local adaptive = (bc2 ^ 0.5) / st.exp_avg_sq:sqrt():add_(g.eps)
        upd:mul_(adaptive):mul_(rect)
      end
      p:add_(upd, {alpha = -1.0})
    end
  end
end

return M
