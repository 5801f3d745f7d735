-- tests/cuda_spec.lua - CPU vs CUDA parity for every backend entry, through
-- the Lua API of docs/core-api.md. Tagged "cuda"; every test is pending
-- when lt.cuda.is_available() is false, so the suite passes without a GPU.
local lt = require "luatrain"

local has_gpu = lt.cuda and lt.cuda.is_available and lt.cuda.is_available()

-- largest |a - b| / (1 + |b|) over all elements, after moving both to cpu float64
local function maxdiff(a, b)
  local x = a:to{device = "cpu", dtype = "float64"}:reshape(-1):tolist()
  local y = b:to{device = "cpu", dtype = "float64"}:reshape(-1):tolist()
  assert(#x == #y, ("sizes differ: %d vs %d"):format(#x, #y))
  local m, where = 0, 0
  for i = 1, #x do
    local d = math.abs(x[i] - y[i]) / (1 + math.abs(y[i]))
    if d ~= d then d = math.huge end
    if d > m then m, where = d, i end
  end
  return m, where, x[where], y[where]
end

local function near(a, b, tol, what)
  local m, i, x, y = maxdiff(a, b)
  assert(m <= (tol or 1e-5), ("%s: max rel diff %g at %d (%s vs %s)")
    :format(what or "tensors", m, i, tostring(x), tostring(y)))
end

-- runs f on cpu and cuda with the same inputs; f(dev, ...) returns tensors
local function parity(tol, what, f, ...)
  local rc = table.pack(f("cpu", ...))
  local rg = table.pack(f("cuda", ...))
  for i = 1, rc.n do
    assert.are.equal("cuda:0", rg[i].device)
    near(rg[i], rc[i], tol, (what or "result") .. " #" .. i)
  end
end

-- leaf copies of x on dev that require grad
local function leaf(x, dev)
  return x:to(dev):detach():requires_grad_(true)
end

local function skip()
  if not has_gpu then pending("no GPU") return true end
  return false
end

describe("CUDA backend #cuda", function()
  it("reports a device", function()
    if skip() then return end
    assert.is_true(lt.cuda.device_count() >= 1)
    local ok1, n1 = pcall(lt.cuda.get_device_name, 1)
    local ok0, n0 = pcall(lt.cuda.get_device_name, 0)
    assert.is_true((ok1 and type(n1) == "string") or (ok0 and type(n0) == "string"))
  end)

  it("copies between devices and dtypes, strided", function()
    if skip() then return end
    lt.manual_seed(1)
    local x = lt.randn(7, 9)
    local g = x:cuda()
    near(g, x, 0, "roundtrip")
    near(g:t():contiguous(), x:t():contiguous(), 0, "transpose")
    for _, dt in ipairs{"float64", "bfloat16", "float16", "int64", "int32", "uint8", "bool"} do
      near(g:to(dt), x:to(dt), 0, "to " .. dt)
    end
    near(g:to("bfloat16"):to("float32"), x:to("bfloat16"):to("float32"), 0, "bf16 back")
  end)

  it("matches the CPU on elementwise ops with broadcasting and views", function()
    if skip() then return end
    lt.manual_seed(2)
    local a, b = lt.randn(5, 1, 6), lt.randn(4, 6)
    parity(1e-5, "binary", function(dev)
      local x, y = a:to(dev), b:to(dev)
      local xt = x:transpose(1, 3)  -- non-contiguous
      return x + y, x - y, x * y, x / (y:abs() + 1), x:maximum(y), x:minimum(y),
        (x + 3):pow(y), x:atan2(y), x:remainder(y + 3), x:fmod(0.7), x:floor_divide(0.3),
        xt * 2, 2 - x, x:eq(y):float(), x:lt(y):float(), x:ge(0):logical_and(y:lt(0)):float()
    end)
    parity(2e-5, "unary", function(dev)
      local x = a:to(dev)
      local p = x:abs() + 0.1
      return x:neg(), x:abs(), x:sign(), x:exp(), p:log(), p:log1p(), x:expm1(), p:sqrt(),
        p:rsqrt(), p:reciprocal(), x:square(), x:sin(), x:cos(), x:tanh(), x:sigmoid(),
        x:relu(), x:gelu(), x:gelu{approximate = "tanh"}, x:silu(), x:erf(), (x * 5):floor(),
        (x * 5):ceil(), (x * 5):round(), (x * 5):trunc(), x:clamp(-0.5, 0.3), x:clamp(nil, 0.1),
        x:leaky_relu(0.1), p ^ 1.7, lt.where(x:gt(0), x, x * 0.5), x:isnan():float()
    end)
  end)

  it("matches the CPU on elementwise gradients", function()
    if skip() then return end
    lt.manual_seed(3)
    local a, b = lt.randn(3, 4), lt.randn(4)
    parity(1e-5, "grads", function(dev)
      local x, y = leaf(a, dev), leaf(b, dev)
      local z = (x * y + x:tanh() * x:sigmoid() + x:gelu() + x:silu() + (x:abs() + 1):log()
        + x:exp() * 0.1 + (x:abs() + 1):sqrt() + x:clamp(-0.5, 0.5) + x / (y:abs() + 1)
        + x:pow(2) + x:leaky_relu(0.2) + x:erf()):sum()
      z:backward()
      return x.grad, y.grad
    end)
  end)

  it("matches the CPU on reductions", function()
    if skip() then return end
    lt.manual_seed(4)
    local a = lt.randn(37, 129, 5)
    parity(1e-4, "reduce", function(dev)
      local x = a:to(dev)
      local mv, mi = x:max(2)
      local nv, ni = x:min(1)
      return x:sum(), x:sum(1), x:sum(2), x:sum({1, 3}), x:mean(3), x:prod(3), mv, mi:float(),
        nv, ni:float(), x:argmax(2):float(), x:argmin():float(), x:var(2), x:std(1),
        x:var(3, {correction = 0}), x:norm(2, 2), x:norm(1), x:logsumexp(2),
        x:gt(0):any(2):float(), x:gt(-5):all(1):float(), x:amax(3), x:amin(1),
        x:transpose(1, 2):sum(3), x:to("int64"):sum(2):float()
    end)
    -- a big sum exercises the chunked two-pass path
    local big = lt.rand(1 << 22)
    near(big:cuda():sum(), big:to("float64"):sum(), 1e-5, "big sum")
  end)

  it("matches the CPU on matmul, linear and bmm", function()
    if skip() then return end
    lt.manual_seed(5)
    local a, b = lt.randn(33, 65), lt.randn(65, 17)
    local w, bias = lt.randn(17, 65), lt.randn(17)
    local p, q = lt.randn(4, 9, 11), lt.randn(4, 11, 6)
    parity(1e-4, "matmul", function(dev)
      local x, y = leaf(a, dev), leaf(b, dev)
      local ww, bb = leaf(w, dev), leaf(bias, dev)
      local pp, qq = leaf(p, dev), leaf(q, dev)
      local out = x:matmul(y):sum() + lt.linear(x, ww, bb):pow(2):sum() + pp:bmm(qq):sum()
        + x:t():matmul(x):sum() + pp:matmul(qq[1]):sum()
      out:backward()
      return x:matmul(y), lt.linear(x, ww, bb), pp:bmm(qq), x.grad, y.grad, ww.grad, bb.grad,
        pp.grad, qq.grad
    end)
    -- bf16 on the GPU within bf16 tolerance of float32 on the CPU
    near(a:cuda():to("bfloat16"):matmul(b:cuda():to("bfloat16")), a:matmul(b), 5e-2, "bf16 mm")
  end)

  it("matches the CPU on softmax, log_softmax, cross_entropy", function()
    if skip() then return end
    lt.manual_seed(6)
    local x0, long = lt.randn(16, 10), lt.randn(3, 3000)
    local t = lt.randint(1, 11, {16})
    local x4 = lt.randn(2, 5, 3, 4)
    parity(1e-5, "softmax", function(dev)
      local x, l, y = leaf(x0, dev), leaf(long, dev), leaf(x4, dev)
      local tt = t:to(dev)
      local loss = lt.cross_entropy(x, tt) + lt.cross_entropy(x, tt, {label_smoothing = 0.1})
        + lt.softmax(l, 2):pow(2):sum() + lt.log_softmax(y, 2):sum() * 0.1
        + lt.softmax(y, 3):pow(2):sum()
      loss:backward()
      return loss, x.grad, l.grad, y.grad, lt.softmax(x, 1), lt.log_softmax(l, 2)
    end)
    -- ignore_index and weights
    local wts = lt.rand(10)
    local t2 = t:clone()
    t2[3] = -100
    parity(1e-5, "weighted ce", function(dev)
      local x = leaf(x0, dev)
      local l = lt.cross_entropy(x, t2:to(dev), {weight = wts:to(dev), reduction = "sum"})
      l:backward()
      return l, x.grad
    end)
  end)

  it("matches the CPU on indexing, cat and stack", function()
    if skip() then return end
    lt.manual_seed(7)
    local a = lt.randn(6, 5)
    local idx = lt.tensor{3, 1, 3, 6}
    local gi = lt.randint(1, 6, {6, 2})
    parity(1e-6, "index", function(dev)
      local x = leaf(a, dev)
      local i, g = idx:to(dev), gi:to(dev)
      local s = x:index_select(1, i)
      local ga = x:gather(2, g)
      local sc = lt.zeros(6, 5, {device = dev}):scatter(2, g, ga:detach(), {reduce = "add"})
      local ia = lt.zeros(6, 5, {device = dev}):index_add(1, i, s:detach())
      local c = lt.cat({x, x * 2}, 1)
      local st = lt.stack({x, x + 1}, 2)
      local loss = s:pow(2):sum() + ga:sum() + c:sum() + st:pow(2):sum()
      loss:backward()
      return s, ga, sc, ia, c, st, x.grad
    end)
  end)

  it("rejects bad indices with a message", function()
    if skip() then return end
    local x = lt.randn(4, 3):cuda()
    local ok, err = pcall(function() return x:index_select(1, lt.tensor{1, 9}:cuda()) end)
    assert.is_false(ok)
    assert.matches("9", tostring(err))
  end)

  it("matches the CPU on conv2d, pooling, norms, embedding and attention", function()
    if skip() then return end
    lt.manual_seed(8)
    local x0, w0, b0 = lt.randn(2, 3, 9, 10), lt.randn(4, 3, 3, 3), lt.randn(4)
    local g0, bb0 = lt.randn(4), lt.randn(4)
    local ln_w, ln_b = lt.randn(10), lt.randn(10)
    local emb, ids = lt.randn(11, 6), lt.randint(1, 12, {3, 4})
    local q0, k0, v0 = lt.randn(2, 5, 8), lt.randn(2, 7, 8), lt.randn(2, 7, 8)
    parity(1e-4, "nn", function(dev)
      local x, w, b = leaf(x0, dev), leaf(w0, dev), leaf(b0, dev)
      local g, bb = leaf(g0, dev), leaf(bb0, dev)
      local lw, lb = leaf(ln_w, dev), leaf(ln_b, dev)
      local E = leaf(emb, dev)
      local q, k, v = leaf(q0, dev), leaf(k0, dev), leaf(v0, dev)
      local y = lt.conv2d(x, w, b, {stride = 1, padding = 1})
      local y2 = lt.conv2d(x, w, nil, {stride = 2, padding = {0, 1}, dilation = 2})
      local mp = lt.max_pool2d(y, 3, {stride = 2, padding = 1})
      local ap = lt.avg_pool2d(y, 2, {stride = 2, count_include_pad = false})
      local aap = lt.adaptive_avg_pool2d(y, {3, 4})
      local bn = lt.batch_norm(y, nil, nil, g, bb, true, 0.1, 1e-5)
      local ln = lt.layer_norm(x, {10}, lw, lb, 1e-5)
      local e = lt.embedding(ids:to(dev), E)
      local at = lt.scaled_dot_product_attention(q, k, v)
      local atc = lt.scaled_dot_product_attention(q, k:narrow(2, 1, 5), v:narrow(2, 1, 5),
        {is_causal = true})
      local loss = y:pow(2):sum() + y2:sum() + mp:sum() + ap:pow(2):sum() + aap:sum()
        + bn:pow(2):sum() + ln:pow(2):sum() + e:pow(2):sum() + at:pow(2):sum() + atc:sum()
      loss:backward()
      return y, y2, mp, ap, aap, bn, ln, e, at, atc, x.grad, w.grad, b.grad, g.grad, bb.grad,
        lw.grad, lb.grad, E.grad, q.grad, k.grad, v.grad
    end)
  end)

  it("matches the CPU on fused batch norm: forward, backward, running stats, eval", function()
    if skip() then return end
    lt.manual_seed(21)
    -- plane path (HW >= 32: HW % 4 == 0 and odd HW), column path ((N, C) with
    -- many channels and N * HW = 2, small planes), float64 and the halves
    local cases = {
      {{4, 6, 8, 8}, "float32", 1e-4}, {{3, 5, 7, 9}, "float32", 1e-4},
      {{2, 1000}, "float32", 1e-4}, {{16, 3, 5}, "float32", 1e-4},
      {{8, 3, 6, 6}, "float64", 1e-10}, {{4, 6, 8, 8}, "bfloat16", 3e-2},
      {{4, 6, 3, 3}, "float16", 1e-2},
    }
    for _, cs in ipairs(cases) do
      local shape, dt, tol = cs[1], cs[2], cs[3]
      local C = shape[2]
      local x0 = (lt.randn(table.unpack(shape)) * 2 + 3):to(dt)
      local dy0 = lt.randn(table.unpack(shape)):to(dt)
      local w0, b0 = (lt.randn(C) + 1.5):to(dt), lt.randn(C):to(dt)
      local rm0, rv0 = lt.randn(C):to(dt), (lt.rand(C) + 0.5):to(dt)
      local what = ("batch_norm %s {%s}"):format(dt, table.concat(shape, ", "))
      parity(tol, what, function(dev)
        local dy = dy0:to(dev)
        -- training with affine and running stats (updated in place)
        local x, w, b = leaf(x0, dev), leaf(w0, dev), leaf(b0, dev)
        local rm, rv = rm0:to(dev):clone(), rv0:to(dev):clone()
        local y = lt.batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5)
        assert.are.equal("NativeBatchNormBackward", y.grad_fn)
        local l1 = (y * dy):sum()
        l1:backward()
        -- eval with the updated running stats
        local xe, we, be = leaf(x0, dev), leaf(w0, dev), leaf(b0, dev)
        local ye = lt.batch_norm(xe, rm, rv, we, be, false, 0.1, 1e-5)
        assert.are.equal("NativeBatchNormBackward", ye.grad_fn)
        local l2 = (ye * dy):sum()
        l2:backward()
        -- no affine, no running stats, non-contiguous input
        local xt = leaf(x0:transpose(1, 2):contiguous(), dev)
        local yn = lt.batch_norm(xt:transpose(1, 2), nil, nil, nil, nil, true, 0.1, 1e-5)
        local l3 = (yn * dy):sum()
        l3:backward()
        return y, x.grad, w.grad, b.grad, rm, rv, ye, xe.grad, we.grad, be.grad, yn, xt.grad
      end)
    end
  end)

  it("matches the CPU on BatchNorm2d in a training loop (train, then eval)", function()
    if skip() then return end
    local nn, optim = lt.nn, lt.optim
    lt.manual_seed(22)
    local x0, t0 = lt.randn(8, 3, 10, 10), lt.randn(8, 4, 10, 10)
    parity(1e-4, "BatchNorm2d", function(dev)
      lt.manual_seed(5)
      local model = nn.Sequential(nn.Conv2d(3, 4, 3, {padding = 1}), nn.BatchNorm2d(4)):to(dev)
      local bn = model[2]
      local opt = optim.SGD(model:parameters(), {lr = 0.1, momentum = 0.9})
      local x, t = x0:to(dev), t0:to(dev)
      local ys = {}
      model:train()
      for step = 1, 3 do
        opt:zero_grad()
        local y = model(x)
        assert.are.equal("NativeBatchNormBackward", y.grad_fn)
        local loss = (y - t):pow(2):mean()
        loss:backward()
        opt:step()
        ys[step] = y
      end
      model:eval()
      local ye = model(x)
      return ys[1], ys[3], ye, bn.running_mean, bn.running_var, bn.weight, bn.bias,
        bn.weight.grad, bn.bias.grad, model[1].weight.grad
    end)
  end)

  it("draws the same random numbers on both devices", function()
    if skip() then return end
    lt.manual_seed(42)
    local u, n = lt.rand(1001), lt.randn(1001)
    lt.manual_seed(42)
    local ug, ng = lt.rand(1001, {device = "cuda"}), lt.randn(1001, {device = "cuda"})
    near(ug, u, 0, "rand")
    near(ng, n, 1e-5, "randn")
    lt.manual_seed(7)
    local ri = lt.randint(0, 100, {50})
    lt.manual_seed(7)
    near(lt.randint(0, 100, {50}, {device = "cuda"}), ri, 0, "randint")
    -- dropout masks agree after the same seed
    local x = lt.ones(64, 64)
    lt.manual_seed(3)
    local dc = lt.dropout(x, 0.5, true)
    lt.manual_seed(3)
    local dg = lt.dropout(x:cuda(), 0.5, true)
    near(dg, dc, 0, "dropout mask")
  end)

  it("takes the same optimizer steps", function()
    if skip() then return end
    lt.manual_seed(9)
    local p0, g0 = lt.randn(100), lt.randn(100)
    parity(1e-5, "optim", function(dev)
      local p, g = p0:to(dev):clone(), g0:to(dev)
      local m, v = lt.zeros_like(p), lt.zeros_like(p)
      local vmax = lt.zeros_like(p)
      local buf, sq = lt.zeros_like(p), lt.zeros_like(p)
      for step = 1, 3 do
        lt._C.adam_step(p, g, m, v, vmax, 1e-2, 0.9, 0.999, 1e-8, 0.01, step % 2 == 0, false, step)
        lt._C.sgd_step(p, g, buf, 1e-2, 0.9, 0, 1e-4, step == 2, false, step == 1)
        lt._C.rmsprop_step(p, g, sq, nil, nil, 1e-3, 0.99, 1e-8, 0, 0, false)
      end
      return p, m, v, vmax, buf, sq
    end)
    -- a small model trained on both devices from the same init stays close
    local nn, optim = lt.nn, lt.optim
    local function train(dev)
      lt.manual_seed(11)
      local model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)):to(dev)
      local opt = optim.Adam(model:parameters(), {lr = 1e-2})
      local X, Y = lt.randn(32, 8):to(dev), lt.randint(1, 4, {32}):to(dev)
      local loss
      for _ = 1, 5 do
        opt:zero_grad()
        loss = lt.cross_entropy(model(X), Y)
        loss:backward()
        opt:step()
      end
      return loss
    end
    near(train("cuda"), train("cpu"), 1e-4, "5 Adam steps")
  end)

  it("keeps memory flat over a loop and reports stats", function()
    if skip() then return end
    local x = lt.randn(256, 256, {device = "cuda"})
    local w = lt.randn(256, 256, {device = "cuda", requires_grad = true})
    local function step()
      local y = x:matmul(w):relu():sum()
      y:backward()
      w.grad = nil
      return y:item()
    end
    step()
    collectgarbage(); collectgarbage()
    lt.cuda.synchronize()
    local before = lt.cuda.memory_allocated()
    for _ = 1, 20 do step() end
    collectgarbage(); collectgarbage()
    lt.cuda.synchronize()
    assert.are.equal(before, lt.cuda.memory_allocated())
    assert.is_true(lt.cuda.max_memory_allocated() >= before)
    assert.is_true(lt.cuda.memory_reserved() >= lt.cuda.memory_allocated())
    lt.cuda.reset_peak_memory_stats()
    lt.cuda.empty_cache()
    assert.is_true(lt.cuda.memory_reserved() >= lt.cuda.memory_allocated())
  end)

  it("raises a clear error on an absurd allocation", function()
    if skip() then return end
    local ok, err = pcall(lt.empty, 1 << 24, 1 << 24, {device = "cuda"})
    assert.is_false(ok)
    assert.matches("CUDA out of memory", tostring(err))
    -- and keeps working
    assert.are.equal(6, lt.ones(2, 3, {device = "cuda"}):sum():item())
  end)

  it("names both devices when they are mixed", function()
    if skip() then return end
    local ok, err = pcall(function() return lt.ones(2) + lt.ones(2, {device = "cuda"}) end)
    assert.is_false(ok)
    assert.matches("cpu", tostring(err))
    assert.matches("cuda", tostring(err))
  end)
end)
