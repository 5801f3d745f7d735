--- ASGD: PyTorch's single-tensor averaged SGD (lambd decay, eta and mu
-- schedules, L2 weight decay, maximize) composed from in-place tensor ops.
-- State: step, eta, mu (numbers), ax (the running average of the
-- parameter). No foreach/capturable.
-- @classmod luatrain.optim.ASGD
local lt = require("luatrain")
local optimizer = require("luatrain.optim.optimizer")
local C = require("luatrain.optim._common")

local M = {}

local ASGD = optimizer.Optimizer:extend("ASGD")
M.ASGD = ASGD

--- ASGD(params, {lr = 1e-2, lambd = 1e-4, alpha = 0.75, t0 = 1e6,
-- weight_decay = 0, maximize = false}).
function ASGD:init(params, opts)
  local d = C.options("ASGD", opts, {lr = 1e-2, lambd = 1e-4, alpha = 0.75, t0 = 1e6,
                      weight_decay = 0, maximize = false})
  C.number("ASGD", d, "lr", 0)
  C.number("ASGD", d, "lambd", 0)
  C.number("ASGD", d, "alpha", 0)
  C.number("ASGD", d, "t0")
  C.number("ASGD", d, "weight_decay", 0)
  C.boolean("ASGD", d, "maximize")
  optimizer.Optimizer.init(self, params, d)
end

function ASGD:_update_group(g)
  local lr, lambd = g.lr, g.lambd
  for _, p in ipairs(g.params) do
    local grad = p.grad
    if grad ~= nil then
      local st = self:state_for(p)
      if st.step == nil then
        st.step = 0
        st.eta = lr
        st.mu = 1.0
        st.ax = lt.zeros_like(p)
      end
      st.step = st.step + 1
      grad = C.grad(p, grad, g.maximize, g.weight_decay)
      local eta = st.eta
      p:mul_(1 - lambd * eta)
      p:add_(grad, {alpha = -eta})
      if st.mu ~= 1 then
        st.ax:add_((p - st.ax):mul_(st.mu))
      else
        st.ax:copy_(p)
      end
      st.eta = lr / ((1 + lambd * lr * st.step) ^ g.alpha)
      st.mu = 1 / math.max(1, st.step - g.t0)
    end
  end
end

return M
