--- Rprop: PyTorch's single-tensor resilient backpropagation (etas,
-- step-size bounds, maximize) composed from in-place tensor ops. State:
-- step, prev, step_size. No weight decay (PyTorch has none either), no
-- foreach/capturable.
-- @classmod luatrain.optim.Rprop
local lt = require("luatrain")
local optimizer = require("luatrain.optim.optimizer")
local C = require("luatrain.optim._common")

local M = {}

local Rprop = optimizer.Optimizer:extend("Rprop")
M.Rprop = Rprop

local function pair(cls, d, name)
  local v = d[name]
  if type(v) ~= "table" or type(v[1]) ~= "number" or type(v[2]) ~= "number" then
    error(("%s: bad option '%s' (pair of numbers expected, got %s)")
          :format(cls, name, type(v) == "table" and "a table" or tostring(v)), 4)
  end
  d[name] = {v[1], v[2]}
end

--- Rprop(params, {lr = 1e-2, etas = {0.5, 1.2}, step_sizes = {1e-6, 50},
-- maximize = false}); 0 < etaminus < 1 < etaplus.
function Rprop:init(params, opts)
  local d = C.options("Rprop", opts, {lr = 1e-2, etas = {0.5, 1.2}, step_sizes = {1e-6, 50},
                      maximize = false})
  C.number("Rprop", d, "lr", 0)
  pair("Rprop", d, "etas")
  pair("Rprop", d, "step_sizes")
  if not (0 < d.etas[1] and d.etas[1] < 1 and 1 < d.etas[2]) then
    error(("Rprop: bad option 'etas' (0 < etaminus < 1 < etaplus expected, got {%s, %s})")
          :format(d.etas[1], d.etas[2]), 3)
  end
  C.boolean("Rprop", d, "maximize")
  optimizer.Optimizer.init(self, params, d)
end

function Rprop:_update_group(g)
  local etaminus, etaplus = g.etas[1], g.etas[2]
  local smin, smax = g.step_sizes[1], g.step_sizes[2]
  for _, p in ipairs(g.params) do
    local grad = p.grad
    if grad ~= nil then
      local st = self:state_for(p)
      if st.step == nil then
        st.step = 0
        st.prev = lt.zeros_like(p)
        st.step_size = lt.full_like(grad, g.lr)
      end
      st.step = st.step + 1
      grad = g.maximize and -grad or grad:clone()
      local sign = (grad * st.prev):sign()
      local pos, neg, zero = sign:gt(0), sign:lt(0), sign:eq(0)
      sign:masked_fill_(pos, etaplus)
      sign:masked_fill_(neg, etaminus)
      sign:masked_fill_(zero, 1)
      st.step_size:mul_(sign):clamp_(smin, smax)
      grad:masked_fill_(sign:eq(etaminus), 0)
      C.addcmul_(p, grad:sign(), st.step_size, -1)
      st.prev:copy_(grad)
    end
  end
end

return M
