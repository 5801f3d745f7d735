--- nn.init: in-place parameter initialisers with PyTorch's fan and gain rules.
-- Each fills its tensor under no_grad and returns it. Dimensions follow
-- PyTorch's layout: dim 1 is fan-out (output features/channels), dim 2
-- fan-in, dims 3.. the receptive field. It deliberately has no orthogonal_
-- or sparse_ initialisers.
-- @module luatrain.nn.init
local lt = require("luatrain")

local M = {}

local function check_tensor(t, fname)
  if not lt.is_tensor(t) then
    error(("%s: bad argument #1 'tensor' (tensor expected, got %s)"):format(fname, type(t)), 3)
  end
end

--- PyTorch's recommended gain for a nonlinearity.
-- @param nonlinearity "linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"
-- @param param negative slope for leaky_relu (default 0.01)
function M.calculate_gain(nonlinearity, param)
  local linear = {linear = true, conv1d = true, conv2d = true, conv3d = true,
                  conv_transpose1d = true, conv_transpose2d = true,
                  conv_transpose3d = true, sigmoid = true}
  if linear[nonlinearity] then return 1.0 end
  if nonlinearity == "tanh" then return 5.0 / 3 end
  if nonlinearity == "relu" then return math.sqrt(2.0) end
  if nonlinearity == "leaky_relu" then
    local slope = 0.01
    if param ~= nil then
      if type(param) ~= "number" then
        error(("calculate_gain: bad argument #2 'param' (number expected, got %s)")
              :format(type(param)), 2)
      end
      slope = param
    end
    return math.sqrt(2.0 / (1 + slope * slope))
  end
  if nonlinearity == "selu" then return 3.0 / 4 end
  error(("calculate_gain: bad argument #1 'nonlinearity' (unsupported nonlinearity '%s')")
        :format(tostring(nonlinearity)), 2)
end

--- fan_in and fan_out of a weight tensor (at least 2-D).
-- @return fan_in, fan_out
function M.calculate_fan_in_and_fan_out(t)
  check_tensor(t, "calculate_fan_in_and_fan_out")
  local shape = t.shape
  if #shape < 2 then
    error("fan in and fan out can not be computed for a tensor with fewer than 2 dimensions", 2)
  end
  local receptive = 1
  for i = 3, #shape do receptive = receptive * shape[i] end
  return shape[2] * receptive, shape[1] * receptive
end

local function fan(t, mode, level)
  local fi, fo = M.calculate_fan_in_and_fan_out(t)
  if mode == nil or mode == "fan_in" then return fi end
  if mode == "fan_out" then return fo end
  error(("bad option 'mode' ('%s'; 'fan_in' or 'fan_out' expected)"):format(tostring(mode)),
        level + 1)
end

--- Fills with U(a, b).
function M.uniform_(t, a, b)
  check_tensor(t, "uniform_")
  a, b = a or 0.0, b or 1.0
  lt.no_grad(function() t:uniform_(a, b) end)
  return t
end

--- Fills with N(mean, std^2).
function M.normal_(t, mean, std)
  check_tensor(t, "normal_")
  mean, std = mean or 0.0, std or 1.0
  lt.no_grad(function() t:normal_(mean, std) end)
  return t
end

--- Fills with a constant.
function M.constant_(t, v)
  check_tensor(t, "constant_")
  if type(v) ~= "number" then
    error(("constant_: bad argument #2 'val' (number expected, got %s)"):format(type(v)), 2)
  end
  lt.no_grad(function() t:fill_(v) end)
  return t
end

--- Fills with zeros.
function M.zeros_(t)
  check_tensor(t, "zeros_")
  lt.no_grad(function() t:zero_() end)
  return t
end

--- Fills with ones.
function M.ones_(t)
  check_tensor(t, "ones_")
  lt.no_grad(function() t:fill_(1) end)
  return t
end

--- He/Kaiming uniform: U(-b, b), b = gain * sqrt(3 / fan).
-- @param t tensor
-- @param opts {a = 0, mode = "fan_in", nonlinearity = "leaky_relu"}
function M.kaiming_uniform_(t, opts)
  check_tensor(t, "kaiming_uniform_")
  opts = opts or {}
  local f = fan(t, opts.mode, 2)
  local gain = M.calculate_gain(opts.nonlinearity or "leaky_relu", opts.a or 0)
  local std = gain / math.sqrt(f)
  local bound = math.sqrt(3.0) * std
  return M.uniform_(t, -bound, bound)
end

--- He/Kaiming normal: N(0, std^2), std = gain / sqrt(fan).
-- @param opts {a = 0, mode = "fan_in", nonlinearity = "leaky_relu"}
function M.kaiming_normal_(t, opts)
  check_tensor(t, "kaiming_normal_")
  opts = opts or {}
  local f = fan(t, opts.mode, 2)
  local gain = M.calculate_gain(opts.nonlinearity or "leaky_relu", opts.a or 0)
  return M.normal_(t, 0, gain / math.sqrt(f))
end

--- Glorot/Xavier uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
function M.xavier_uniform_(t, gain)
  check_tensor(t, "xavier_uniform_")
  local fi, fo = M.calculate_fan_in_and_fan_out(t)
  local std = (gain or 1.0) * math.sqrt(2.0 / (fi + fo))
  local a = math.sqrt(3.0) * std
  return M.uniform_(t, -a, a)
end

--- Glorot/Xavier normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
function M.xavier_normal_(t, gain)
  check_tensor(t, "xavier_normal_")
  local fi, fo = M.calculate_fan_in_and_fan_out(t)
  return M.normal_(t, 0, (gain or 1.0) * math.sqrt(2.0 / (fi + fo)))
end

--- Truncated normal: N(mean, std^2) restricted to [a, b] (values outside are
-- redrawn, then clamped after 100 rounds).
function M.trunc_normal_(t, mean, std, a, b)
  check_tensor(t, "trunc_normal_")
  mean, std, a, b = mean or 0.0, std or 1.0, a or -2.0, b or 2.0
  if a >= b then
    error(("trunc_normal_: bad arguments 'a' (%g) must be below 'b' (%g)"):format(a, b), 2)
  end
  lt.no_grad(function()
    t:normal_(mean, std)
    for _ = 1, 100 do
      local bad = t:lt(a):logical_or(t:gt(b))
      local any = bad:any():item()
      if any == false or any == 0 then break end
      local fresh = lt.empty_like(t):normal_(mean, std)
      t:copy_(lt.where(bad, fresh, t))
    end
    t:clamp_(a, b)
  end)
  return t
end

return M
