-- optim_spec.lua - SGD (momentum, Nesterov, weight decay), Adam, AdamW and
-- RMSprop trajectories on f(x) = sum(x^2) against PyTorch's update rules
-- written out here in float64, plus param groups, zero_grad and state_dict.
local lt = require "luatrain"
local optim = lt.optim

local X0 = {1.0, -2.0, 3.0}

-- runs `steps` optimizer steps on f(x) = sum(x^2) (+ a wd-free closure) and
-- returns x as a Lua table
local function run(make, steps, dtype)
  local x = lt.tensor(X0, {dtype = dtype or "float64", requires_grad = true})
  local opt = make({x})
  for _ = 1, steps do
    opt:zero_grad()
    ;(x * x):sum():backward()
    opt:step()
  end
  return x:tolist(), opt, x
end

local function close(expected, got, tol)
  for i = 1, #expected do
    if math.abs(expected[i] - got[i]) > tol then
      error(("element %d: expected %.15g, got %.15g"):format(i, expected[i], got[i]), 2)
    end
  end
end

-- the reference updates, element by element (PyTorch's single-tensor code)
local function ref_sgd(o, steps)
  local out = {}
  for i, x in ipairs(X0) do
    local buf
    for _ = 1, steps do
      local g = 2 * x
      if o.maximize then g = -g end
      g = g + (o.weight_decay or 0) * x
      local m = o.momentum or 0
      if m ~= 0 then
        if buf == nil then buf = g else buf = m * buf + (1 - (o.dampening or 0)) * g end
        if o.nesterov then g = g + m * buf else g = buf end
      end
      x = x - o.lr * g
    end
    out[i] = x
  end
  return out
end

local function ref_adam(o, steps, decoupled)
  local b1, b2 = o.betas and o.betas[1] or 0.9, o.betas and o.betas[2] or 0.999
  local eps, wd = o.eps or 1e-8, o.weight_decay or (decoupled and 1e-2 or 0)
  local out = {}
  for i, x in ipairs(X0) do
    local m, v, vmax = 0, 0, 0
    for t = 1, steps do
      local g = 2 * x
      if decoupled then x = x * (1 - o.lr * wd) else g = g + wd * x end
      m = b1 * m + (1 - b1) * g
      v = b2 * v + (1 - b2) * g * g
      local bc1, bc2 = 1 - b1 ^ t, 1 - b2 ^ t
      local vv = v
      if o.amsgrad then
        vmax = math.max(vmax, v)
        vv = vmax
      end
      local denom = math.sqrt(vv) / math.sqrt(bc2) + eps
      x = x - (o.lr / bc1) * m / denom
    end
    out[i] = x
  end
  return out
end

local function ref_rmsprop(o, steps)
  local alpha, eps = o.alpha or 0.99, o.eps or 1e-8
  local out = {}
  for i, x in ipairs(X0) do
    local sq, buf, gavg = 0, 0, 0
    for _ = 1, steps do
      local g = 2 * x + (o.weight_decay or 0) * x
      sq = alpha * sq + (1 - alpha) * g * g
      local avg
      if o.centered then
        gavg = alpha * gavg + (1 - alpha) * g
        avg = math.sqrt(sq - gavg * gavg) + eps
      else
        avg = math.sqrt(sq) + eps
      end
      if (o.momentum or 0) > 0 then
        buf = o.momentum * buf + g / avg
        x = x - o.lr * buf
      else
        x = x - o.lr * g / avg
      end
    end
    out[i] = x
  end
  return out
end

describe("SGD", function()
  local cases = {
    {lr = 0.1},
    {lr = 0.1, momentum = 0.9},
    {lr = 0.05, momentum = 0.9, dampening = 0.1},
    {lr = 0.1, momentum = 0.9, nesterov = true},
    {lr = 0.1, momentum = 0.5, weight_decay = 0.01},
    {lr = 0.1, maximize = true},
  }
  for _, o in ipairs(cases) do
    local desc = {}
    for k, v in pairs(o) do desc[#desc + 1] = k .. "=" .. tostring(v) end
    table.sort(desc)
    it("matches PyTorch's trajectory with " .. table.concat(desc, ", "), function()
      local got = run(function(p) return optim.SGD(p, o) end, 3)
      close(ref_sgd(o, 3), got, 1e-6)
    end)
  end
  it("plain SGD shrinks by 0.8 per step (closed form)", function()
    local got = run(function(p) return optim.SGD(p, {lr = 0.1}) end, 3)
    close({0.512, -1.024, 1.536}, got, 1e-12)
  end)
  it("rejects Nesterov without momentum", function()
    assert.has_error(function() optim.SGD({lt.zeros(1, {requires_grad = true})}, {nesterov = true}) end)
  end)
end)

describe("Adam and AdamW", function()
  it("Adam matches PyTorch's trajectory", function()
    local o = {lr = 0.1}
    close(ref_adam(o, 3, false), run(function(p) return optim.Adam(p, o) end, 3), 1e-6)
  end)
  it("Adam with weight decay, betas and amsgrad", function()
    local o = {lr = 0.05, betas = {0.8, 0.99}, weight_decay = 0.1, amsgrad = true}
    close(ref_adam(o, 4, false), run(function(p) return optim.Adam(p, o) end, 4), 1e-6)
  end)
  it("AdamW decouples weight decay", function()
    local o = {lr = 0.1, weight_decay = 0.1}
    close(ref_adam(o, 3, true), run(function(p) return optim.AdamW(p, o) end, 3), 1e-6)
  end)
  it("float32 parameters follow the same path", function()
    local o = {lr = 0.1}
    close(ref_adam(o, 3, false), run(function(p) return optim.Adam(p, o) end, 3, "float32"), 1e-5)
  end)
end)

describe("RMSprop", function()
  it("matches PyTorch's trajectory", function()
    local o = {lr = 0.01}
    close(ref_rmsprop(o, 3), run(function(p) return optim.RMSprop(p, o) end, 3), 1e-6)
  end)
  it("with momentum, centered and weight decay", function()
    local o = {lr = 0.01, momentum = 0.9, centered = true, weight_decay = 0.1, alpha = 0.9}
    close(ref_rmsprop(o, 4), run(function(p) return optim.RMSprop(p, o) end, 4), 1e-6)
  end)
end)

describe("Optimizer", function()
  it("fills group options from the defaults and keeps per-group ones", function()
    local a = lt.zeros(2, {requires_grad = true})
    local b = lt.zeros(2, {requires_grad = true})
    local opt = optim.SGD({{params = {a}}, {params = {b}, lr = 0.5}}, {lr = 0.1, momentum = 0.9})
    assert.are.equal(0.1, opt.param_groups[1].lr)
    assert.are.equal(0.5, opt.param_groups[2].lr)
    assert.are.equal(0.9, opt.param_groups[2].momentum)
    assert.has_error(function() opt:add_param_group({params = {a}}) end)
    local c = lt.zeros(1, {requires_grad = true})
    opt:add_param_group({params = {c}, lr = 1})
    assert.are.equal(3, #opt.param_groups)
  end)

  it("rejects non-leaf tensors", function()
    local x = lt.zeros(2, {requires_grad = true})
    assert.has_error(function() optim.SGD({x * 2}, {lr = 0.1}) end)
  end)

  it("zero_grad sets grads to nil by default", function()
    local _, opt, x = run(function(p) return optim.SGD(p, {lr = 0.1}) end, 1)
    assert.is_not_nil(x.grad)
    opt:zero_grad(false)
    assert.are.same({0, 0, 0}, x.grad:tolist())
    opt:zero_grad()
    assert.is_nil(x.grad)
  end)

  it("step(closure) returns the closure's loss", function()
    local x = lt.tensor({1.0, 2.0}, {requires_grad = true, dtype = "float64"})
    local opt = optim.SGD({x}, {lr = 0.1})
    local loss = opt:step(function()
      opt:zero_grad()
      local l = (x * x):sum()
      l:backward()
      return l
    end)
    assert.are.equal(5, loss:item())
    close({0.8, 1.6}, x:tolist(), 1e-12)
  end)

  it("state_dict/load_state_dict resume the same trajectory", function()
    local o = {lr = 0.1}
    local _, opt, x = run(function(p) return optim.Adam(p, o) end, 2)
    local sd = opt:state_dict()
    assert.are.equal(2, sd.state[1].step)
    assert.are.same({1}, sd.param_groups[1].params)
    -- a fresh optimizer on a copy of x, loaded from the state dict
    local y = x:detach():clone():requires_grad_(true)
    local opt2 = optim.Adam({y}, {lr = 0.7})
    opt2:load_state_dict(sd)
    assert.are.equal(0.1, opt2.param_groups[1].lr)
    for _ = 1, 2 do
      opt:zero_grad() opt2:zero_grad()
      ;(x * x):sum():backward()
      ;(y * y):sum():backward()
      opt:step() opt2:step()
    end
    close(x:tolist(), y:tolist(), 0)
    close(ref_adam(o, 4, false), y:tolist(), 1e-6)
  end)

  it("load_state_dict checks group sizes", function()
    local _, opt = run(function(p) return optim.Adam(p, {lr = 0.1}) end, 1)
    local other = optim.Adam({lt.zeros(1, {requires_grad = true}), lt.zeros(1, {requires_grad = true})})
    assert.has_error(function() other:load_state_dict(opt:state_dict()) end)
  end)

  it("works with a scheduler (initial_lr set, lr changes)", function()
    local x = lt.zeros(1, {requires_grad = true})
    local opt = optim.SGD({x}, {lr = 1.0, momentum = 0.9})
    local s = optim.lr_scheduler.StepLR(opt, 1, {gamma = 0.5})
    assert.are.equal(1.0, opt.param_groups[1].initial_lr)
    s:step()
    assert.are.equal(0.5, opt.param_groups[1].lr)
    local oc = optim.lr_scheduler.OneCycleLR(opt, 1.0, {total_steps = 10})
    assert.are.equal(0.95, opt.param_groups[1].momentum)
    oc:step()
    assert.is_true(opt.param_groups[1].momentum < 0.95)
  end)
end)
