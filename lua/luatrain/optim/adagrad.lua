--- Adagrad: PyTorch's single-tensor algorithm (lr decay, L2 weight decay,
-- initial accumulator value, maximize) composed from in-place tensor ops,
-- so it runs on any device. State: step (a number), sum. No sparse
-- gradients, no foreach/fused switches.
-- @classmod luatrain.optim.Adagrad
local lt = require("luatrain")
local optimizer = require("luatrain.optim.optimizer")
local C = require("luatrain.optim._common")

local M = {}

local Adagrad = optimizer.Optimizer:extend("Adagrad")
M.Adagrad = Adagrad

--- Adagrad(params, {lr = 1e-2, lr_decay = 0, weight_decay = 0,
-- initial_accumulator_value = 0, eps = 1e-10, maximize = false}).
function Adagrad:init(params, opts)
  local d = C.options("Adagrad", opts, {lr = 1e-2, lr_decay = 0, weight_decay = 0,
                      initial_accumulator_value = 0, eps = 1e-10, maximize = false})
  for _, k in ipairs({"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"}) do
    C.number("Adagrad", d, k, 0)
  end
  C.boolean("Adagrad", d, "maximize")
  optimizer.Optimizer.init(self, params, d)
end

function Adagrad:_update_group(g)
  for _, p in ipairs(g.params) do
    local grad = p.grad
    if grad ~= nil then
      local st = self:state_for(p)
      if st.step == nil then
        st.step = 0
        st.sum = lt.full_like(p, g.initial_accumulator_value)
      end
      st.step = st.step + 1
      grad = C.grad(p, grad, g.maximize, g.weight_decay)
      local clr = g.lr / (1 + (st.step - 1) * g.lr_decay)
      C.addcmul_(st.sum, grad, grad, 1)
      local std = st.sum:sqrt():add_(g.eps)
      C.addcdiv_(p, grad, std, -clr)
    end
  end
end

return M
