--- Adadelta: PyTorch's single-tensor algorithm (rho, eps, lr scaling, L2
-- weight decay, maximize) composed from in-place tensor ops, so it runs on
-- any device. State: step, square_avg, acc_delta. No foreach/capturable.
-- @classmod luatrain.optim.Adadelta
local lt = require("luatrain")
local optimizer = require("luatrain.optim.optimizer")
local C = require("luatrain.optim._common")

local M = {}

local Adadelta = optimizer.Optimizer:extend("Adadelta")
M.Adadelta = Adadelta

--- Adadelta(params, {lr = 1.0, rho = 0.9, eps = 1e-6, weight_decay = 0,
-- maximize = false}).
function Adadelta:init(params, opts)
  local d = C.options("Adadelta", opts, {lr = 1.0, rho = 0.9, eps = 1e-6, weight_decay = 0,
                      maximize = false})
  C.number("Adadelta", d, "lr", 0)
  C.number("Adadelta", d, "rho", 0, false, 1)
  C.number("Adadelta", d, "eps", 0)
  C.number("Adadelta", d, "weight_decay", 0)
  C.boolean("Adadelta", d, "maximize")
  optimizer.Optimizer.init(self, params, d)
end

function Adadelta:_update_group(g)
  local rho, eps = g.rho, g.eps
  for _, p in ipairs(g.params) do
    local grad = p.grad
    if grad ~= nil then
      local st = self:state_for(p)
      if st.step == nil then
        st.step = 0
        st.square_avg = lt.zeros_like(p)
        st.acc_delta = lt.zeros_like(p)
      end
      st.step = st.step + 1
      grad = C.grad(p, grad, g.maximize, g.weight_decay)
      C.addcmul_(st.square_avg:mul_(rho), grad, grad, 1 - rho)
      local std = st.square_avg:add(eps):sqrt_()
      local delta = st.acc_delta:add(eps):sqrt_()
      delta:div_(std):mul_(grad)
      C.addcmul_(st.acc_delta:mul_(rho), delta, delta, 1 - rho)
      p:add_(delta, {alpha = -g.lr})
    end
  end
end

return M
