-- tests/sort_spec.lua - the sort family and the scans (sort, argsort, topk,
-- kthvalue, median, cumsum, cumprod): values and 1-based indices against
-- PyTorch 2.x numbers computed offline (stable=True sorts), NaN/tie/empty/
-- 0-d edge cases, dtypes, error messages, float64 gradchecks, and CPU vs
-- CUDA parity (tagged #cuda, pending without a GPU).
local H = require "tests.helpers"
local lt = H.lt

local nan = 0 / 0

-- torch.round(torch.randn(3, 5, dtype=float64, generator seed 0) * 1000) / 1000
local X = {{1.5409999999999999, -0.29299999999999998, -2.1789999999999998, 0.56799999999999995, -1.085},
  {-1.399, 0.40300000000000002, 0.83799999999999997, -0.71899999999999997, -0.40300000000000002},
  {-0.59699999999999998, 0.182, -0.85699999999999998, 1.101, -1.071}}

-- torch.sort(X, dim, descending, stable=True), indices + 1
local SORT = {
  {dim=1, desc=false, v={{-1.399, -0.29299999999999998, -2.1789999999999998, -0.71899999999999997,
      -1.085}, {-0.59699999999999998, 0.182, -0.85699999999999998, 0.56799999999999995, -1.071},
      {1.5409999999999999, 0.40300000000000002, 0.83799999999999997, 1.101, -0.40300000000000002}},
      i={{2, 1, 1, 2, 1}, {3, 3, 3, 1, 3}, {1, 2, 2, 3, 2}}},
  {dim=1, desc=true, v={{1.5409999999999999, 0.40300000000000002, 0.83799999999999997, 1.101,
      -0.40300000000000002}, {-0.59699999999999998, 0.182, -0.85699999999999998, 0.56799999999999995,
      -1.071}, {-1.399, -0.29299999999999998, -2.1789999999999998, -0.71899999999999997, -1.085}},
      i={{1, 2, 2, 3, 2}, {3, 3, 3, 1, 3}, {2, 1, 1, 2, 1}}},
  {dim=2, desc=false, v={{-2.1789999999999998, -1.085, -0.29299999999999998, 0.56799999999999995,
      1.5409999999999999}, {-1.399, -0.71899999999999997, -0.40300000000000002, 0.40300000000000002,
      0.83799999999999997}, {-1.071, -0.85699999999999998, -0.59699999999999998, 0.182, 1.101}},
      i={{3, 5, 2, 4, 1}, {1, 4, 5, 2, 3}, {5, 3, 1, 2, 4}}},
  {dim=2, desc=true, v={{1.5409999999999999, 0.56799999999999995, -0.29299999999999998, -1.085,
      -2.1789999999999998}, {0.83799999999999997, 0.40300000000000002, -0.40300000000000002,
      -0.71899999999999997, -1.399}, {1.101, 0.182, -0.59699999999999998, -0.85699999999999998,
      -1.071}}, i={{1, 4, 2, 5, 3}, {3, 2, 5, 4, 1}, {4, 2, 1, 3, 5}}},
}

-- torch.topk(X, 2, dim, largest), indices + 1
local TOPK = {
  {dim=1, largest=true, v={{1.5409999999999999, 0.40300000000000002, 0.83799999999999997, 1.101,
      -0.40300000000000002}, {-0.59699999999999998, 0.182, -0.85699999999999998, 0.56799999999999995,
      -1.071}}, i={{1, 2, 2, 3, 2}, {3, 3, 3, 1, 3}}},
  {dim=1, largest=false, v={{-1.399, -0.29299999999999998, -2.1789999999999998, -0.71899999999999997,
      -1.085}, {-0.59699999999999998, 0.182, -0.85699999999999998, 0.56799999999999995, -1.071}},
      i={{2, 1, 1, 2, 1}, {3, 3, 3, 1, 3}}},
  {dim=2, largest=true, v={{1.5409999999999999, 0.56799999999999995}, {0.83799999999999997,
      0.40300000000000002}, {1.101, 0.182}}, i={{1, 4}, {3, 2}, {4, 2}}},
  {dim=2, largest=false, v={{-2.1789999999999998, -1.085}, {-1.399, -0.71899999999999997}, {-1.071,
      -0.85699999999999998}}, i={{3, 5}, {1, 4}, {5, 3}}},
}

local W = {{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}, {11, 12, 13, 14, 15}}

local function f64(t) return lt.tensor(t, {dtype = "float64"}) end
local function i64(t) return lt.tensor(t, {dtype = "int64"}) end

local function same(a, b)
  assert.are.same(b.shape, a.shape)
  assert.are.equal(b.dtype, a.dtype)
  assert.is_true(a:equal(b), ("expected\n%s\ngot\n%s"):format(tostring(b), tostring(a)))
end

local function check_grad(fn, inputs, opts)
  local ok, msg = H.gradcheck(fn, inputs, opts)
  assert(ok, msg)
end

-- err(fn, ...) -> the error message of fn(...)
local function err(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return tostring(e)
end

describe("sort", function()
  it("matches torch.sort on every dim, both directions", function()
    local x = f64(X)
    for _, c in ipairs(SORT) do
      local v, i = x:sort(c.dim, c.desc)
      same(v, f64(c.v))
      same(i, i64(c.i))
      local v2, i2 = lt.sort(x, {dim = c.dim - 3, descending = c.desc})  -- negative dim
      same(v2, f64(c.v))
      same(i2, i64(c.i))
      same(x:argsort(c.dim, c.desc), i64(c.i))
    end
  end)

  it("defaults to the last dim, ascending; mixes positional and option arguments", function()
    local v, i = f64(X):sort()
    same(v, f64(SORT[3].v))
    same(i, i64(SORT[3].i))
    local vd = f64(X):sort(1, {descending = true, stable = true})
    same(vd, f64(SORT[2].v))
    same(lt.argsort(f64(X), {dim = 1}), i64(SORT[1].i))
    local vm, im = lt.median(f64(X), 2)
    same(vm, f64(X):kthvalue(3, 2))
    same(im, i64{2, 5, 1})
    local m0 = lt.tensor(5.0):median(1, true)
    assert.are.same({}, m0.shape)
  end)

  it("is stable on ties, ascending and descending (torch stable=True)", function()
    local t = lt.tensor{2, 1, 2, 1, 3, 1, 2}
    local _, ia = t:sort()
    same(ia, i64{2, 4, 6, 1, 3, 7, 5})
    local _, id = t:sort(1, true)
    same(id, i64{5, 1, 3, 7, 2, 4, 6})
    -- -0.0 and 0.0 are equal: order kept
    local _, iz = lt.tensor{0.0, -0.0, 0.0, -0.0}:sort()
    same(iz, i64{1, 2, 3, 4})
  end)

  it("puts NaN last ascending and first descending, like PyTorch", function()
    local x = lt.tensor{3, nan, 1, nan, 2}
    local v, i = x:sort()
    assert.are.same({1, 2, 3}, {v[1], v[2], v[3]})
    assert.is_true(v[4] ~= v[4] and v[5] ~= v[5])
    same(i, i64{3, 5, 1, 2, 4})
    local _, id = x:sort(1, true)
    same(id, i64{2, 4, 1, 5, 3})
  end)

  it("sorts int64 exactly beyond 2^53, and int32/uint8/bool/float32/bfloat16", function()
    local big = lt.tensor({{5, -3, (1 << 60) + 1, 1 << 60, -(1 << 62)}}, {dtype = "int64"})
    local v, i = big:sort(2)
    same(v, lt.tensor({{-(1 << 62), -3, 5, 1 << 60, (1 << 60) + 1}}, {dtype = "int64"}))
    same(i, i64{{5, 2, 1, 4, 3}})
    for _, dt in ipairs{"int32", "uint8", "float32", "bfloat16", "float16"} do
      local t = lt.tensor({7, 3, 250, 3, 0}, {dtype = dt})
      local vs, is = t:sort(1, true)
      assert.are.equal(dt, vs.dtype)
      same(vs, lt.tensor({250, 7, 3, 3, 0}, {dtype = dt}))
      same(is, i64{3, 1, 2, 4, 5})
    end
    local vb, ib = lt.tensor{true, false, true}:sort()
    same(vb, lt.tensor{false, true, true})
    same(ib, i64{2, 1, 3})
  end)

  it("handles non-contiguous inputs", function()
    local x = f64(X):t()  -- (5, 3), strided
    local v, i = x:sort(1)
    same(v, f64(SORT[3].v):t():contiguous())
    same(i, i64(SORT[3].i):t():contiguous())
  end)

  it("handles 0-d and empty tensors", function()
    local v, i = lt.tensor(5.0):sort()
    assert.are.same({}, v.shape)
    assert.are.equal(5, v:item())
    assert.are.equal(1, i:item())
    local ve, ie = lt.zeros(0):sort()
    assert.are.same({0}, ve.shape)
    assert.are.same({0}, ie.shape)
    local v2, i2 = lt.zeros(2, 0):sort(2)
    assert.are.same({2, 0}, v2.shape)
    assert.are.same({2, 0}, i2.shape)
    local v3 = lt.zeros(0, 3):sort(1, true)
    assert.are.same({0, 3}, v3.shape)
  end)

  it("sorts long rows (introsort path) like a reference", function()
    lt.manual_seed(3)
    local x = lt.randint(0, 50, {3, 3000}):double()  -- many ties
    local v, i = x:sort(2, true)
    -- non-increasing, gathered values match, and ties keep index order
    assert.is_true(v:narrow(2, 1, 2999):ge(v:narrow(2, 2, 2999)):all():item())
    same(x:gather(2, i), v)
    local tie = v:narrow(2, 1, 2999):eq(v:narrow(2, 2, 2999))
    local inc = i:narrow(2, 1, 2999):lt(i:narrow(2, 2, 2999))
    assert.is_true(tie:logical_not():logical_or(inc):all():item())
  end)

  it("gradcheck (float64), and gradients match PyTorch", function()
    lt.manual_seed(7)
    check_grad(function(x) return (x:sort(2)) end, {lt.randn(3, 5)})
    check_grad(function(x) return (x:sort(1, true)) end, {lt.randn(4, 3)})
    check_grad(function(x) return (x:sort(-1)) end, {lt.randn(2, 3, 4)})
    local x = f64(X):requires_grad_(true)
    local v = x:sort(2, true)
    ;(v * f64(W)):sum():backward()
    same(x.grad, f64{{1, 3, 5, 2, 4}, {10, 7, 6, 9, 8}, {13, 12, 14, 11, 15}})
    assert.are.equal("SortBackward", v.grad_fn)
  end)

  it("raises errors naming the function and argument", function()
    local x = f64(X)
    assert.matches("sort.*dim 3 out of range for tensor of dimension 2", err(x.sort, x, 3))
    assert.matches("sort.*dim must be an integer", err(x.sort, x, 1.5))
    assert.matches("sort.*descending must be a boolean", err(x.sort, x, 1, "yes"))
    assert.matches("sort: unknown option 'desc'", err(x.sort, x, {desc = true}))
    assert.matches("argsort.*integer dim expected", err(x.argsort, x, "a"))
    assert.matches("sort", err(lt.sort, "x"))
  end)
end)

describe("topk", function()
  it("matches torch.topk on every dim, largest and smallest", function()
    local x = f64(X)
    for _, c in ipairs(TOPK) do
      local v, i = x:topk(2, c.dim, c.largest)
      same(v, f64(c.v))
      same(i, i64(c.i))
      local v2, i2 = lt.topk(x, 2, {dim = c.dim, largest = c.largest, sorted = true})
      same(v2, f64(c.v))
      same(i2, i64(c.i))
    end
  end)

  it("ties keep index order (lowest first); NaN is the largest", function()
    local t = lt.tensor{1, 2, 2, 1, 2, 1}
    local v, i = t:topk(2)
    same(v, i64{2, 2})
    same(i, i64{2, 3})
    local _, is = t:topk(2, 1, false)
    same(is, i64{1, 4})
    local vn, inn = lt.tensor{3, nan, 1, nan, 2}:topk(2)
    assert.is_true(vn[1] ~= vn[1] and vn[2] ~= vn[2])
    same(inn, i64{2, 4})
    local _, isn = lt.tensor{3, nan, 1, nan, 2}:topk(2, {largest = false})
    same(isn, i64{3, 5})
  end)

  it("k = 0, k = size, 0-d and int64 inputs", function()
    local x = f64(X)
    local v0, i0 = x:topk(0)
    assert.are.same({3, 0}, v0.shape)
    assert.are.same({3, 0}, i0.shape)
    local vf = x:topk(5, 2, false)
    same(vf, f64(SORT[3].v))
    local vs, is = lt.tensor(4.0):topk(1)
    assert.are.same({}, vs.shape)
    assert.are.equal(1, is:item())
    local vi, ii = lt.tensor{5, -2, 9, 9}:topk(3)
    same(vi, i64{9, 9, 5})
    same(ii, i64{3, 4, 1})
  end)

  it("selects from a 50k-wide row like a full sort (heap path)", function()
    lt.manual_seed(11)
    local x = lt.randn(4, 50000)
    local v, i = x:topk(5)
    local sv, si = x:sort(2, true)
    same(v, sv:narrow(2, 1, 5))
    same(i, si:narrow(2, 1, 5))
    local vm, im = x:topk(7, 2, false)
    local av, ai = x:sort(2)
    same(vm, av:narrow(2, 1, 7))
    same(im, ai:narrow(2, 1, 7))
    local mx, am = x:max(2)
    same(v:select(2, 1), mx)
    same(i:select(2, 1), am)
  end)

  it("gradcheck (float64), and gradients match PyTorch", function()
    lt.manual_seed(8)
    check_grad(function(x) return (x:topk(2)) end, {lt.randn(3, 6)})
    check_grad(function(x) return (x:topk(3, 1, false)) end, {lt.randn(5, 2)})
    local x = f64(X):requires_grad_(true)
    local v = x:topk(2, 1)
    ;(v * f64(W):narrow(1, 1, 2)):sum():backward()
    same(x.grad, f64{{1, 0, 0, 9, 0}, {0, 2, 3, 0, 5}, {6, 7, 8, 4, 10}})
  end)

  it("raises errors for bad k and dim", function()
    local x = f64(X)
    assert.matches("topk: k %(6%) out of range for dimension 2 of size 5 %(shape {3, 5}%)",
                   err(x.topk, x, 6))
    assert.matches("topk: k %(%-1%) out of range", err(x.topk, x, -1))
    assert.matches("topk.*k must be an integer", err(x.topk, x, 1.5))
    assert.matches("topk.*integer k expected", err(x.topk, x))
    assert.matches("topk.*dim %-3 out of range", err(x.topk, x, 1, -3))
    assert.matches("topk: unknown option 'k'", err(x.topk, x, 1, {k = 2}))
  end)
end)

describe("kthvalue", function()
  it("matches torch.kthvalue, keepdim or not", function()
    local x = f64(X)
    local v, i = x:kthvalue(2, 2)
    same(v, f64{-1.085, -0.71899999999999997, -0.85699999999999998})
    same(i, i64{5, 4, 3})
    local vk, ik = x:kthvalue(2, 1, true)
    same(vk, f64{{-0.59699999999999998, 0.182, -0.85699999999999998, 0.56799999999999995, -1.071}})
    same(ik, i64{{3, 3, 3, 1, 3}})
    local vo = lt.kthvalue(x, 2, {dim = 2, keepdim = true})
    assert.are.same({3, 1}, vo.shape)
  end)

  it("ranks NaN last like PyTorch; ties: the k-th of the stable order", function()
    local x = lt.tensor{3, nan, 1, nan, 2}
    local v2, i2 = x:kthvalue(2)
    assert.are.equal(2, v2:item())
    assert.are.equal(5, i2:item())
    local v4, i4 = x:kthvalue(4)
    assert.is_true(v4:item() ~= v4:item())
    assert.are.equal(2, i4:item())
    local _, i5 = x:kthvalue(5)
    assert.are.equal(4, i5:item())
    local vt, it_ = lt.tensor{1, 2, 2, 1, 2, 1}:kthvalue(4)
    assert.are.equal(2, vt:item())
    assert.are.equal(2, it_:item())
  end)

  it("gradcheck (float64), and gradients match PyTorch", function()
    lt.manual_seed(9)
    check_grad(function(x) return (x:kthvalue(2, 2)) end, {lt.randn(3, 4)})
    check_grad(function(x) return (x:kthvalue(3, 1, true)) end, {lt.randn(4, 2)})
    local x = f64(X):requires_grad_(true)
    local v = x:kthvalue(2, 2)
    ;(v * f64{1, 2, 3}):sum():backward()
    same(x.grad, f64{{0, 0, 0, 0, 1}, {0, 0, 0, 2, 0}, {0, 0, 3, 0, 0}})
  end)

  it("raises errors for bad k", function()
    local x = f64(X)
    assert.matches("kthvalue: k %(0%) out of range for dimension 2 of size 5", err(x.kthvalue, x, 0))
    assert.matches("kthvalue: k %(6%) out of range", err(x.kthvalue, x, 6))
    assert.matches("kthvalue: k %(1%) out of range for dimension 2 of size 0",
                   err(x.kthvalue, lt.zeros(2, 0), 1))
    assert.matches("kthvalue.*k must be an integer", err(x.kthvalue, x, 2.5))
    assert.matches("kthvalue.*keepdim must be a boolean", err(x.kthvalue, x, 2, 1, 1))
  end)
end)

describe("median", function()
  it("matches torch.median along a dim (lower median) and over all", function()
    local x = f64(X)
    local v, i = x:median(2)
    same(v, f64{-0.29299999999999998, -0.40300000000000002, -0.59699999999999998})
    same(i, i64{2, 5, 1})
    local v1, i1 = x:median(1, true)
    same(v1, f64{{-0.59699999999999998, 0.182, -0.85699999999999998, 0.56799999999999995, -1.071}})
    same(i1, i64{{3, 3, 3, 1, 3}})
    local m = x:median()
    assert.are.same({}, m.shape)
    assert.are.equal(-0.40300000000000002, m:item())
    local e = lt.tensor{4, 1, 3, 2}:median()  -- even length: the lower one
    assert.are.equal(2, e:item())
  end)

  it("is NaN for rows holding a NaN, at the first NaN; empty -> NaN", function()
    local x = lt.tensor{{3, nan, 1, nan, 2}, {5, 4, 3, 2, 1}}
    local v, i = x:median(2)
    assert.is_true(v[1] ~= v[1])
    assert.are.equal(3, v[2])
    same(i, i64{2, 3})
    assert.is_true(lt.tensor{1, nan}:median():item() ~= lt.tensor{1, nan}:median():item())
    local e = lt.zeros(0):median()
    assert.is_true(e:item() ~= e:item())
  end)

  it("ties: the k-th of the stable order (here as torch); int64 inputs", function()
    local v, i = lt.tensor{1, 2, 2, 1, 2, 1}:median(1)
    assert.are.equal(1, v:item())
    assert.are.equal(6, i:item())
    local vi, ii = lt.tensor{{7, 1, 5}}:median(2)
    same(vi, i64{5})
    same(ii, i64{3})
  end)

  it("gradcheck (float64), and gradients match PyTorch", function()
    lt.manual_seed(10)
    check_grad(function(x) return (x:median(2)) end, {lt.randn(3, 5)})
    check_grad(function(x) return (x:median(1, true)) end, {lt.randn(4, 3)})
    check_grad(function(x) return x:median() end, {lt.randn(3, 3)})
    local x = f64(X):requires_grad_(true)
    local v = x:median(1)
    ;(v * f64{1, 2, 3, 4, 5}):sum():backward()
    same(x.grad, f64{{0, 0, 0, 4, 0}, {0, 0, 0, 0, 0}, {1, 2, 3, 0, 5}})
    -- median() shares the gradient among ties, as torch
    local t = lt.tensor({1, 2, 2, 5}, {dtype = "float32", requires_grad = true})
    t:median():backward()
    same(t.grad, lt.tensor{0, 0.5, 0.5, 0})
  end)

  it("raises errors", function()
    local x = f64(X)
    assert.matches("median: expected reduction dimension 2 to have non%-zero size",
                   err(x.median, lt.zeros(2, 0), 2))
    assert.matches("median.*keepdim needs a dim", err(x.median, x, nil, true))
    assert.matches("median.*dim 0 out of range", err(x.median, x, 0))
    assert.matches("median: cannot take the median of an empty int64 tensor",
                   err(x.median, lt.zeros(0, {dtype = "int64"})))
  end)
end)

describe("cumsum / cumprod", function()
  it("match torch on every dim", function()
    local x = f64(X)
    assert.tensor_near(x:cumsum(1), f64{{1.5409999999999999, -0.29299999999999998,
        -2.1789999999999998, 0.56799999999999995, -1.085}, {0.1419999999999999, 0.11000000000000004,
        -1.3409999999999997, -0.15100000000000002, -1.488}, {-0.45500000000000007,
        0.29200000000000004, -2.1979999999999995, 0.94999999999999996, -2.5590000000000002}}, 1e-12)
    assert.tensor_near(lt.cumsum(x, -1), f64{{1.5409999999999999, 1.248, -0.93099999999999983,
        -0.36299999999999988, -1.448}, {-1.399, -0.996, -0.15800000000000003, -0.877, -1.28},
        {-0.59699999999999998, -0.41499999999999998, -1.272, -0.17100000000000004, -1.242}}, 1e-12)
    assert.tensor_near(x:cumprod(2), f64{{1.5409999999999999, -0.45151299999999994,
        0.98384682699999981, 0.55882499773599981, -0.60632512254355975}, {-1.399,
        -0.56379699999999999, -0.472461886, 0.33970009603399998, -0.13689913870170201},
        {-0.59699999999999998, -0.10865399999999999, 0.093116477999999989, 0.10252124227799998,
        -0.10980025047973797}}, 1e-12)
    assert.tensor_near(lt.cumprod(x, 1), f64{{1.5409999999999999, -0.29299999999999998,
        -2.1789999999999998, 0.56799999999999995, -1.085}, {-2.155859, -0.118079,
        -1.8260019999999997, -0.40839199999999992, 0.437255}, {1.287047823, -0.021490378000000001,
        1.5648837139999996, -0.44963959199999992, -0.46830010499999997}}, 1e-12)
    assert.are.equal("float32", lt.tensor{1.5, 2}:cumsum(1).dtype)
  end)

  it("promote integers and bools to int64 like PyTorch", function()
    local c = lt.tensor({1, 2, 3}, {dtype = "int32"}):cumsum(1)
    same(c, i64{1, 3, 6})
    same(lt.tensor({2, 3, 4}, {dtype = "uint8"}):cumprod(1), i64{2, 6, 24})
    same(lt.tensor{true, false, true}:cumsum(1), i64{1, 1, 2})
    same(lt.tensor({{1 << 40, 1 << 40}}, {dtype = "int64"}):cumsum(2), i64{{1 << 40, 1 << 41}})
  end)

  it("handle 0-d, empty and wide inner dims", function()
    local s = lt.tensor(2.5):cumsum(1)
    assert.are.same({}, s.shape)
    assert.are.equal(2.5, s:item())
    assert.are.same({0, 3}, lt.zeros(0, 3):cumsum(1).shape)
    lt.manual_seed(5)
    local x = lt.randn(3, 4, 300, {dtype = "float64"})  -- inner 300 spans two column blocks
    local c = x:cumsum(2)
    local ref = x:narrow(2, 1, 1):clone()
    for j = 2, 4 do
      ref = ref + x:narrow(2, j, 1)
      assert.tensor_near(c:narrow(2, j, 1), ref, 1e-12)
    end
  end)

  it("gradcheck (float64), cumprod with zeros, and gradients match PyTorch", function()
    lt.manual_seed(12)
    check_grad(function(x) return x:cumsum(2) end, {lt.randn(3, 4)})
    check_grad(function(x) return x:cumsum(1) end, {lt.randn(3, 2, 2)})
    check_grad(function(x) return x:cumprod(2) end, {lt.randn(3, 4)})
    check_grad(function(x) return x:cumprod(1) end, {lt.randn(4, 3)})
    local z = f64{{2, 0, 3, 0, 4}, {1.5, -2, 0, 5, 0.5}, {0, 1, 2, 3, 4}}
    check_grad(function(x) return x:cumprod(2) end, {z})
    local x = f64(X):requires_grad_(true)
    ;(x:cumsum(2) * f64(W)):sum():backward()
    same(x.grad, f64{{15, 14, 12, 9, 5}, {40, 34, 27, 19, 10}, {65, 54, 42, 29, 15}})
    local y = f64(X):requires_grad_(true)
    ;(y:cumprod(1) * f64(W)):sum():backward()
    assert.tensor_near(y.grad, f64{{1.7932329999999994, 5.7011520000000004, 0.36784200000000045,
        -13.553665999999996, 7.4441949999999997}, {-0.87374699999999927, -2.690912,
        6.8442389999999982, 13.867151999999997, 6.5805249999999971}, {-23.714449000000002,
        -1.4169480000000001, -23.738025999999994, -5.7174879999999986, 6.5588249999999997}}, 1e-12)
    local w = lt.tensor({{2, 0, 3, 0, 4}, {1.5, -2, 0, 5, 0.5}}, {dtype = "float64", requires_grad = true})
    ;(w:cumprod(2) * f64(W):narrow(1, 1, 2)):sum():backward()
    assert.tensor_near(w.grad, f64{{1, 22, 0, 0, 0}, {-8, 10.5, -234, 0, 0}}, 1e-12)
    assert.are.equal("CumprodBackward", w:cumprod(2).grad_fn)
  end)

  it("raise errors for a missing or bad dim", function()
    local x = f64(X)
    assert.matches("cumsum.*integer dim expected", err(x.cumsum, x))
    assert.matches("cumprod.*dim 3 out of range", err(x.cumprod, x, 3))
    assert.matches("cumsum.*dim must be an integer", err(x.cumsum, x, 1.5))
  end)
end)

describe("sort family on CUDA #cuda", function()
  local function skip()
    if not H.has_cuda() then pending("no GPU") return true end
    return false
  end

  local function parity_sort(x, dim, desc)
    local vc, ic = x:sort(dim, desc)
    local vg, ig = x:cuda():sort(dim, desc)
    assert.are.equal("cuda:0", vg.device)
    same(vg:cpu(), vc)
    same(ig:cpu(), ic)
  end

  it("sort matches the CPU (bitonic rows, radix rows, ties, NaN, dtypes)", function()
    if skip() then return end
    lt.manual_seed(21)
    for _, n in ipairs{1, 2, 5, 33, 1000, 4096, 4097, 20000} do
      local x = lt.randn(3, n)
      parity_sort(x, 2, false)
      parity_sort(x, 2, true)
    end
    local ties = lt.randint(0, 5, {4, 3000}):float()
    parity_sort(ties, 2, false)
    parity_sort(ties, 2, true)
    local tl = lt.randint(0, 5, {2, 9000}):double()
    parity_sort(tl, 2, true)
    local nn = lt.tensor{{3, nan, 1, nan, 2, -0.0, 0.0}}
    parity_sort(nn, 2, false)
    parity_sort(nn, 2, true)
    for _, dt in ipairs{"float64", "int64", "int32", "uint8", "bfloat16", "float16"} do
      local x = lt.randint(0, 100, {5, 70}):to(dt)
      parity_sort(x, 2, false)
      parity_sort(x, 1, true)
    end
    parity_sort(lt.randn(6, 7, 8), 2, false)
  end)

  it("topk, kthvalue, median match the CPU", function()
    if skip() then return end
    lt.manual_seed(22)
    local x = lt.randn(8, 50000)
    local vc, ic = x:topk(5)
    local vg, ig = x:cuda():topk(5)
    same(vg:cpu(), vc)
    same(ig:cpu(), ic)
    local y = lt.randn(6, 301)
    local a, b = y:kthvalue(17, 2)
    local c, d = y:cuda():kthvalue(17, 2)
    same(c:cpu(), a)
    same(d:cpu(), b)
    local m, mi = y:median(2, true)
    local mg, mig = y:cuda():median(2, true)
    same(mg:cpu(), m)
    same(mig:cpu(), mi)
    assert.are.equal(y:median():item(), y:cuda():median():item())
    local z = lt.tensor{{3, nan, 1}, {1, 2, 3}}
    local _, zi = z:cuda():median(2)
    same(zi:cpu(), i64{2, 2})
  end)

  it("cumsum / cumprod match the CPU (row scan and line scan)", function()
    if skip() then return end
    lt.manual_seed(23)
    for _, sh in ipairs{{4, 10}, {3, 5000}, {2, 700, 3}, {5, 1}} do
      local x = lt.randn(sh, {dtype = "float64"})
      for d = 1, #sh do
        assert.tensor_near(x:cuda():cumsum(d):cpu(), x:cumsum(d), 1e-9)
        local p = (x * 0.1 + 1)
        assert.tensor_near(p:cuda():cumprod(d):cpu(), p:cumprod(d), 1e-9)
      end
    end
    local f = lt.randn(3, 5000)
    assert.tensor_near(f:cuda():cumsum(2):cpu(), f:cumsum(2), 1e-2)
    local ints = lt.randint(-5, 5, {3, 2000}, {dtype = "int32"})
    same(ints:cuda():cumsum(2):cpu(), ints:cumsum(2))
  end)

  it("gradients match the CPU", function()
    if skip() then return end
    lt.manual_seed(24)
    local x = lt.randn(4, 9, {dtype = "float64"})
    local function grads(dev, fn)
      local l = x:to(dev):detach():requires_grad_(true)
      local out = fn(l)
      ;(out * lt.arange(out:numel(), {dtype = "float64", device = dev}):reshape(out.shape)):sum():backward()
      return l.grad:cpu()
    end
    local fns = {
      function(t) return (t:sort(2, true)) end, function(t) return (t:topk(3)) end,
      function(t) return (t:kthvalue(2, 1)) end, function(t) return (t:median(2)) end,
      function(t) return t:median() end, function(t) return t:cumsum(2) end,
      function(t) return t:cumprod(1) end,
    }
    for _, fn in ipairs(fns) do
      assert.tensor_near(grads("cuda", fn), grads("cpu", fn), 1e-9)
    end
  end)
end)
