-- Finite-difference gradient checks (float64) of the differentiable ops
-- exposed to Lua, through tests/helpers.lua's gradcheck.
local H = require "tests.helpers"
local lt = H.lt

local function pos(...) return lt.rand(...) + 0.5 end       -- away from 0, positive
local function away0(...)                                    -- |x| >= 0.2
  local x = lt.randn(...)
  return x + x:sign() * 0.2
end

local function check(fn, inputs, opts)
  local ok, msg = H.gradcheck(fn, inputs, opts)
  assert(ok, msg)
end

describe("gradcheck", function()
  before_each(function() lt.manual_seed(1234) end)

  describe("unary ops", function()
    local cases = {
      {"neg", away0}, {"exp", away0}, {"log", pos}, {"log1p", pos}, {"expm1", away0},
      {"sqrt", pos}, {"rsqrt", pos}, {"reciprocal", pos}, {"square", away0},
      {"sin", away0}, {"cos", away0}, {"tanh", away0}, {"sigmoid", away0},
      {"relu", away0}, {"gelu", away0}, {"silu", away0}, {"erf", away0}, {"abs", away0},
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        check(function(x) return x[c[1]](x) end, {c[2](3, 4)})
      end)
    end
    it("gelu tanh", function() check(function(x) return x:gelu{approximate = "tanh"} end, {away0(5)}) end)
    it("clamp", function()
      check(function(x) return x:clamp(-0.5, 0.5) end, {lt.tensor{-1.0, -0.2, 0.3, 0.9}})
    end)
    it("leaky_relu", function() check(function(x) return x:leaky_relu(0.1) end, {away0(6)}) end)
    it("pow by a number and of a number", function()
      check(function(x) return x ^ 3 end, {pos(4)})
      check(function(x) return 2 ^ x end, {away0(4)})
    end)
  end)

  describe("binary ops with broadcasting", function()
    for _, op in ipairs{"add", "sub", "mul", "div", "maximum", "minimum", "atan2"} do
      it(op, function()
        local a, b = away0(3, 4), pos(4)
        if op == "maximum" or op == "minimum" then b = lt.randn(4) * 3 end
        check(function(x, y) return x[op](x, y) end, {a, b})
      end)
    end
    it("pow", function() check(function(x, y) return x:pow(y) end, {pos(3), away0(3)}) end)
    it("metamethods with numbers", function()
      check(function(x) return (2 - x) / 3 + x * 4 - 1 / x end, {pos(5)})
    end)
    it("where and masked_fill", function()
      local m = lt.tensor{true, false, true}
      check(function(x, y) return lt.where(m, x, y) end, {lt.randn(3), lt.randn(2, 3)})
      check(function(x) return x:masked_fill(m, 2) end, {lt.randn(3)})
    end)
  end)

  describe("reductions", function()
    it("sum and mean over dims", function()
      check(function(x) return x:sum(2) end, {lt.randn(3, 4)})
      check(function(x) return x:mean{1, 3} end, {lt.randn(2, 3, 2)})
      check(function(x) return x:sum(-1, {keepdim = true}) end, {lt.randn(3, 2)})
    end)
    it("prod, var, std, norm, logsumexp", function()
      check(function(x) return x:prod(2) end, {away0(2, 3)})
      check(function(x) return x:var(2) end, {lt.randn(3, 4)})
      check(function(x) return x:std() end, {lt.randn(5)})
      check(function(x) return x:norm() end, {away0(4)})
      check(function(x) return x:norm(1, 1) end, {away0(3, 2)})
      check(function(x) return x:logsumexp(2) end, {lt.randn(2, 5)})
    end)
    it("max/min with a dim and amax", function()
      check(function(x) return (x:max(2)) end, {lt.randn(3, 4)})
      check(function(x) return (x:min(1)) end, {lt.randn(3, 4)})
      check(function(x) return x:amax(2) end, {lt.randn(2, 5)})
    end)
  end)

  describe("views and indexing", function()
    it("view, transpose, permute, expand, squeeze", function()
      check(function(x) return x:view(3, 2):t() end, {lt.randn(2, 3)})
      check(function(x) return x:permute(3, 1, 2) end, {lt.randn(2, 3, 2)})
      check(function(x) return x:expand(3, 2, 4) end, {lt.randn(2, 1)})
      check(function(x) return x:unsqueeze(1):squeeze(1) * 2 end, {lt.randn(3)})
    end)
    it("narrow, select, t[i], flip", function()
      check(function(x) return x:narrow(2, 2, 2) end, {lt.randn(3, 4)})
      check(function(x) return x:select(1, 2) end, {lt.randn(3, 4)})
      check(function(x) return x[2] * 3 end, {lt.randn(3, 2)})
      check(function(x) return x:flip{1, 2} end, {lt.randn(2, 3)})
    end)
    it("index_select, gather, scatter, index_add", function()
      local idx = lt.tensor{3, 1, 3}
      check(function(x) return x:index_select(1, idx) end, {lt.randn(3, 2)})
      check(function(x) return x:gather(2, lt.tensor{{1, 2}, {2, 2}}) end, {lt.randn(2, 3)})
      check(function(x, s) return x:scatter(2, lt.tensor{{3}, {1}}, s) end, {lt.randn(2, 3), lt.randn(2, 1)})
      check(function(x, s) return x:index_add(1, lt.tensor{2, 2}, s) end, {lt.randn(3, 2), lt.randn(2, 2)})
    end)
    it("cat, stack, pad, chunk", function()
      check(function(a, b) return lt.cat({a, b}, 2) end, {lt.randn(2, 2), lt.randn(2, 3)})
      check(function(a, b) return lt.stack({a, b}, 2) end, {lt.randn(2, 3), lt.randn(2, 3)})
      check(function(a) return lt.pad(a, {1, 2}) end, {lt.randn(2, 3)})
      check(function(a) return a:chunk(2, 2)[2] end, {lt.randn(2, 4)})
    end)
  end)

  describe("linear algebra", function()
    it("matmul, mm, bmm, linear", function()
      check(function(a, b) return a:matmul(b) end, {lt.randn(2, 3), lt.randn(3, 2)})
      check(function(a, b) return a:matmul(b) end, {lt.randn(2, 2, 3), lt.randn(3)})
      check(function(a, b) return lt.mm(a, b) end, {lt.randn(2, 3), lt.randn(3, 4)})
      check(function(a, b) return lt.bmm(a, b) end, {lt.randn(2, 2, 3), lt.randn(2, 3, 2)})
      check(function(x, w, b) return lt.linear(x, w, b) end, {lt.randn(4, 3), lt.randn(2, 3), lt.randn(2)})
    end)
  end)

  describe("nn ops", function()
    it("softmax and log_softmax", function()
      check(function(x) return lt.softmax(x, 2) end, {lt.randn(2, 4)})
      check(function(x) return lt.log_softmax(x, 1) end, {lt.randn(3, 2)})
    end)
    it("cross_entropy and nll_loss", function()
      local y = lt.tensor{2, 1, 3}
      check(function(x) return lt.cross_entropy(x, y) end, {lt.randn(3, 3)})
      check(function(x) return lt.cross_entropy(x, y, {label_smoothing = 0.1}) end, {lt.randn(3, 3)})
      check(function(x, w) return lt.cross_entropy(x, y, {weight = w}) end, {lt.randn(3, 3), pos(3)},
            {check = {1}})
      check(function(x) return lt.nll_loss(lt.log_softmax(x, 2), y, {reduction = "sum"}) end,
            {lt.randn(3, 3)})
    end)
    it("layer_norm and batch_norm", function()
      check(function(x, w, b) return lt.layer_norm(x, {4}, w, b, 1e-5) end,
            {lt.randn(3, 4), lt.randn(4), lt.randn(4)})
      check(function(x, w, b) return lt.batch_norm(x, nil, nil, w, b, true, 0.1, 1e-5) end,
            {lt.randn(4, 3), lt.randn(3), lt.randn(3)})
    end)
    it("conv2d and pooling", function()
      check(function(x, w, b) return lt.conv2d(x, w, b, {padding = 1, stride = 2}) end,
            {lt.randn(1, 2, 4, 4), lt.randn(3, 2, 3, 3), lt.randn(3)})
      check(function(x) return lt.max_pool2d(x, 2) end, {lt.randn(1, 1, 4, 4)})
      check(function(x) return lt.avg_pool2d(x, 2, {stride = 1}) end, {lt.randn(1, 2, 3, 3)})
      check(function(x) return lt.adaptive_avg_pool2d(x, 2) end, {lt.randn(1, 1, 4, 4)})
    end)
    it("embedding", function()
      check(function(w) return lt.embedding(lt.tensor{{1, 3}, {3, 2}}, w) end, {lt.randn(3, 2)})
    end)
    it("scaled_dot_product_attention", function()
      check(function(q, k, v) return lt.scaled_dot_product_attention(q, k, v, {is_causal = true}) end,
            {lt.randn(1, 3, 2), lt.randn(1, 3, 2), lt.randn(1, 3, 2)})
    end)
  end)

  it("custom autograd.Function", function()
    local Cube = lt.autograd.Function{
      forward = function(ctx, x) ctx:save_for_backward(x); return x * x * x end,
      backward = function(ctx, g) local x = ctx.saved_tensors[1]; return g * 3 * x * x end,
    }
    check(function(x) return Cube(x) end, {lt.randn(4)})
  end)

  it("detects a wrong gradient", function()
    local Wrong = lt.autograd.Function{
      forward = function(_, x) return x * 2 end,
      backward = function(_, g) return g * 3 end,
    }
    assert.is_false((H.gradcheck(function(x) return Wrong(x) end, {lt.randn(3)})))
  end)
end)
