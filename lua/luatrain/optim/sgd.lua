--- SGD with momentum, dampening, Nesterov, weight decay and maximize, on the
-- core's fused lt._C.sgd_step (numerically PyTorch's single-tensor SGD:
-- the momentum buffer starts as the first gradient). No foreach path.
-- @classmod luatrain.optim.SGD
local lt = require("luatrain")
local optimizer = require("luatrain.optim.optimizer")

local M = {}

local SGD = optimizer.Optimizer:extend("SGD")
M.SGD = SGD

local function check_nonneg(v, name, cls)
  if type(v) ~= "number" or v < 0 then
    error(("%s: bad option '%s' (non-negative number expected, got %s)")
          :format(cls, name, tostring(v)), 4)
  end
end
M.check_nonneg = check_nonneg

--- SGD(params, {lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0,
-- nesterov = false, maximize = false}).
function SGD:init(params, opts)
  opts = opts or {}
  local d = {lr = opts.lr or 1e-3, momentum = opts.momentum or 0, dampening = opts.dampening or 0,
             weight_decay = opts.weight_decay or 0, nesterov = opts.nesterov or false,
             maximize = opts.maximize or false}
  check_nonneg(d.lr, "lr", "SGD")
  check_nonneg(d.momentum, "momentum", "SGD")
  check_nonneg(d.weight_decay, "weight_decay", "SGD")
  if d.nesterov and (d.momentum <= 0 or d.dampening ~= 0) then
    error("SGD: Nesterov momentum requires a momentum and zero dampening", 3)
  end
  optimizer.Optimizer.init(self, params, d)
end

function SGD:_update_group(g)
  for _, p in ipairs(g.params) do
    local grad <close> = p.grad  -- released at once: see optim/adam.lua
    if grad ~= nil then
      local st = self:state_for(p)
      local buf, first = nil, false
      if g.momentum ~= 0 then
        buf = st.momentum_buffer
        if buf == nil then
          buf = lt.zeros_like(p)
          st.momentum_buffer = buf
          first = true
        end
      end
      lt._C.sgd_step(p, grad, buf, g.lr, g.momentum, g.dampening, g.weight_decay,
                     g.nesterov, g.maximize, first)
    end
  end
end

return M
