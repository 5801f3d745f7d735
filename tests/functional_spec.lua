-- functional_spec.lua - lt.nn.functional: values against hand computations,
-- gradients of the Lua-composed losses by finite differences (float64),
-- argument checks that name the bad argument.
local lt = require "luatrain"
local F = lt.nn.functional
pcall(require, "tests.helpers")

local function near(a, b, tol)
  if assert.tensor_near then return assert.tensor_near(a, b, tol) end
  local d = (a - b):abs():max():item()
  assert(d <= tol, ("max difference %g > %g"):format(d, tol))
end

-- central differences of scalar f at x (float64), against autograd
local function check_grad(f, x)
  local xr = x:clone():requires_grad_(true)
  f(xr):backward()
  local g = xr.grad
  local flat = x:clone():reshape(-1)
  local h = 1e-6
  for i = 1, flat:numel() do
    local v = flat[i]
    flat[i] = v + h
    local fp = f(flat:view(x.shape)):item()
    flat[i] = v - h
    local fm = f(flat:view(x.shape)):item()
    flat[i] = v
    local num = (fp - fm) / (2 * h)
    local ana = g:reshape(-1)[i]
    assert(math.abs(num - ana) < 1e-5 * math.max(1, math.abs(num)),
           ("gradient %d: numeric %g, autograd %g"):format(i, num, ana))
  end
end

describe("activations", function()
  it("match their formulas", function()
    local x = lt.tensor({-2.0, -0.5, 0.0, 1.5}, {dtype = "float64"})
    near(F.relu(x), lt.tensor({0, 0, 0, 1.5}, {dtype = "float64"}), 0)
    near(F.silu(x), x * x:sigmoid(), 1e-12)
    near(F.sigmoid(x), 1 / (1 + (-x):exp()), 1e-12)
    local c = math.sqrt(2 / math.pi)
    near(F.gelu(x, {approximate = "tanh"}),
         x * 0.5 * (1 + ((x + x ^ 3 * 0.044715) * c):tanh()), 1e-7)
    near(F.softmax(x, 1):sum(), lt.tensor(1.0, {dtype = "float64"}), 1e-12)
    near(F.log_softmax(x, -1):exp(), F.softmax(x, -1), 1e-12)
  end)
end)

describe("losses", function()
  it("binary_cross_entropy_with_logits is stable for large logits", function()
    local x = lt.tensor({100.0, -100.0}, {dtype = "float64"})
    local y = lt.tensor({0.0, 1.0}, {dtype = "float64"})
    near(F.binary_cross_entropy_with_logits(x, y, {reduction = "none"}),
         lt.tensor({100.0, 100.0}, {dtype = "float64"}), 1e-9)
  end)
  it("binary_cross_entropy clamps log at -100", function()
    local p = lt.tensor({0.0, 1.0})
    local y = lt.tensor({1.0, 0.0})
    near(F.binary_cross_entropy(p, y, {reduction = "none"}), lt.tensor({100.0, 100.0}), 1e-4)
  end)
  it("cross_entropy supports label smoothing and ignore_index", function()
    local logits = lt.randn(3, 4, {dtype = "float64"})
    local t = lt.tensor{2, 4, 1}
    local logp = F.log_softmax(logits, 2)
    local eps = 0.1
    local nll = -logp:gather(2, t:view(3, 1)):view(3)
    local smooth = -logp:mean(2)
    near(F.cross_entropy(logits, t, {label_smoothing = eps}),
         ((1 - eps) * nll + eps * smooth):mean(), 1e-10)
    local t2 = lt.tensor{2, -100, 1}
    near(F.cross_entropy(logits, t2),
         (nll[1] + nll[3]) / 2 * lt.ones({}, {dtype = "float64"}), 1e-10)
  end)
  it("composed losses have correct gradients", function()
    local y = lt.tensor({1.0, 0.0, 1.0, 0.3}, {dtype = "float64"})
    local x = lt.tensor({0.3, -1.2, 2.5, 0.1}, {dtype = "float64"})
    local pw = lt.tensor({2.0}, {dtype = "float64"})
    check_grad(function(v) return F.binary_cross_entropy_with_logits(v, y, {pos_weight = pw}) end, x)
    check_grad(function(v) return F.smooth_l1_loss(v, y, {beta = 0.5}) end, x)
    check_grad(function(v) return F.huber_loss(v, y) end, x)
    check_grad(function(v) return F.mse_loss(v, y, {reduction = "sum"}) end, x)
    check_grad(function(v) return F.binary_cross_entropy(v:sigmoid(), y) end, x)
  end)
end)

describe("dropout", function()
  it("is the identity when not training or p = 0", function()
    local x = lt.randn(10)
    assert.are.equal(x, F.dropout(x, 0.5, false))
    assert.are.equal(x, F.dropout(x, 0))
  end)
end)

describe("one_hot and pad", function()
  it("one_hot uses 1-based classes", function()
    local oh = F.one_hot(lt.tensor{1, 3}, 3)
    assert.are.same({{1, 0, 0}, {0, 0, 1}}, oh:tolist())
  end)
  it("pad pads the last dim first", function()
    local y = F.pad(lt.ones(1, 2), {1, 2})
    assert.are.same({{0, 1, 1, 0, 0}}, y:tolist())
  end)
end)

describe("argument checks", function()
  it("name the bad argument", function()
    local ok, err = pcall(F.linear, lt.randn(2, 2), "w")
    assert.is_false(ok)
    assert.is_truthy(err:find("'weight'"))
    ok, err = pcall(F.mse_loss, lt.randn(2), lt.randn(3))
    assert.is_false(ok)
    assert.is_truthy(err:find("target"))
    ok, err = pcall(F.cross_entropy, lt.randn(2, 3), lt.tensor{1, 2}, {reduction = "avg"})
    assert.is_false(ok)
    assert.is_truthy(err:find("reduction"))
    ok, err = pcall(F.dropout, lt.randn(2), 1.5)
    assert.is_false(ok)
    assert.is_truthy(err:find("'p'"))
  end)
end)
