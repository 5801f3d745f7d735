--- RMSprop on the core's fused lt._C.rmsprop_step: PyTorch's algorithm with
-- smoothing alpha, optional momentum and centered variant, L2 weight
-- decay and maximize. State: step, square_avg, momentum_buffer, grad_avg.
-- @classmod luatrain.optim.RMSprop
local lt = require("luatrain")
local optimizer = require("luatrain.optim.optimizer")

local M = {}

local RMSprop = optimizer.Optimizer:extend("RMSprop")
M.RMSprop = RMSprop

--- RMSprop(params, {lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0,
-- momentum = 0, centered = false, maximize = false}).
function RMSprop:init(params, opts)
  opts = opts or {}
  local d = {lr = opts.lr or 1e-2, alpha = opts.alpha or 0.99, eps = opts.eps or 1e-8,
             weight_decay = opts.weight_decay or 0, momentum = opts.momentum or 0,
             centered = opts.centered or false, maximize = opts.maximize or false}
  for _, k in ipairs({"lr", "alpha", "eps", "weight_decay", "momentum"}) do
    if type(d[k]) ~= "number" or d[k] < 0 then
      error(("RMSprop: bad option '%s' (non-negative number expected, got %s)")
            :format(k, tostring(d[k])), 3)
    end
  end
  optimizer.Optimizer.init(self, params, d)
end

function RMSprop:_update_group(g)
  for _, p in ipairs(g.params) do
    local grad <close> = p.grad  -- released at once: see optim/adam.lua
    if grad ~= nil then
      local st = self:state_for(p)
      if st.step == nil then
        st.step = 0
        st.square_avg = lt.zeros_like(p)
      end
      if g.momentum > 0 and st.momentum_buffer == nil then st.momentum_buffer = lt.zeros_like(p) end
      if g.centered and st.grad_avg == nil then st.grad_avg = lt.zeros_like(p) end
      st.step = st.step + 1
      lt._C.rmsprop_step(p, grad, st.square_avg, g.momentum > 0 and st.momentum_buffer or nil,
                         g.centered and st.grad_avg or nil, g.lr, g.alpha, g.eps,
                         g.weight_decay, g.momentum, g.maximize)
    end
  end
end

return M
