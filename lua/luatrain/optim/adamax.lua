--- Adamax: PyTorch's single-tensor algorithm (Adam with the infinity norm;
-- L2 weight decay, maximize) composed from in-place tensor ops, so it runs
-- on any device. State: step, exp_avg, exp_inf. No foreach/capturable.
-- @classmod luatrain.optim.Adamax
local lt = require("luatrain")
local optimizer = require("luatrain.optim.optimizer")
local C = require("luatrain.optim._common")

local M = {}

local Adamax = optimizer.Optimizer:extend("Adamax")
M.Adamax = Adamax

--- Adamax(params, {lr = 2e-3, betas = {0.9, 0.999}, eps = 1e-8,
-- weight_decay = 0, maximize = false}).
function Adamax:init(params, opts)
  local d = C.options("Adamax", opts, {lr = 2e-3, betas = {0.9, 0.999}, eps = 1e-8,
                      weight_decay = 0, maximize = false})
  C.number("Adamax", d, "lr", 0)
  C.number("Adamax", d, "eps", 0)
  C.betas("Adamax", d)
  C.number("Adamax", d, "weight_decay", 0)
  C.boolean("Adamax", d, "maximize")
  optimizer.Optimizer.init(self, params, d)
end

function Adamax:_update_group(g)
  local b1, b2 = g.betas[1], g.betas[2]
  for _, p in ipairs(g.params) do
    local grad = p.grad
    if grad ~= nil then
      local st = self:state_for(p)
      if st.step == nil then
        st.step = 0
        st.exp_avg = lt.zeros_like(p)
        st.exp_inf = lt.zeros_like(p)
      end
      st.step = st.step + 1
      grad = C.grad(p, grad, g.maximize, g.weight_decay)
      C.lerp_(st.exp_avg, grad, 1 - b1)
      st.exp_inf:mul_(b2):maximum_(grad:abs():add_(g.eps))
      local clr = g.lr / (1 - b1 ^ st.step)
      C.addcdiv_(p, st.exp_avg, st.exp_inf, -clr)
    end
  end
end

return M
