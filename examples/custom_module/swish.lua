-- swish.lua - a user module kept beside its training script: Swish
-- (x * sigmoid(beta x)) as an nn.Module whose forward runs a custom
-- lt.autograd.Function with a hand-written backward.
local lt = require "luatrain"
local nn = lt.nn

-- y = x * s, s = sigmoid(beta * x)
-- dy/dx = s + beta * x * s * (1 - s)
local swish_fn = lt.autograd.Function{
  forward = function(ctx, x, beta)
    local s = (x * beta):sigmoid()
    ctx:save_for_backward(x, s)
    ctx.beta = beta
    return x * s
  end,
  backward = function(ctx, dout)
    local x, s = table.unpack(ctx.saved_tensors)
    local dx = dout * (s + x * s * (1 - s) * ctx.beta)
    return dx
  end,
}

local Swish = nn.Module:extend("Swish")

function Swish:init(beta)
  self.beta = beta or 1.0
end

function Swish:forward(x)
  return swish_fn(x, self.beta)
end

function Swish:extra_repr()
  return ("beta=%g"):format(self.beta)
end

return Swish
