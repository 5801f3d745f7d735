-- cuda_amp_spec.lua - CPU vs CUDA parity for the fused attention kernels
-- (cuda/cuda_attention.cu against engine/cpu_attention.c: forward and
-- backward, causal or not, L != S, several key tiles, head dims up to 128,
-- float32/float64/bfloat16/float16) and for autocast on the GPU (result
-- dtypes, float32 gradients, GradScaler). Tagged cuda: every test is pending
-- when lt.cuda.is_available() is false. Uses only the assert forms that
-- tests/gpu/mini_busted.lua knows, so it runs on the bare GPU box too.
local lt = require "luatrain"
local F = lt.nn.functional

local has_gpu = lt.cuda and lt.cuda.is_available and lt.cuda.is_available()
local FUSED = "ScaledDotProductFlashAttentionBackward"

-- largest |a - b| / (1 + |b|), both moved to cpu float64
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
  assert(m <= tol, ("%s: max rel diff %g at %d (%s vs %s), tolerance %g")
    :format(what, m, i, tostring(x), tostring(y), tol))
end

-- out and the gradients of sum(out * w) for q, k, v on `dev` in dtype dt
local function attention(dev, dt, q, k, v, w, causal)
  local function leaf(t) return t:to{device = dev, dtype = dt}:detach():requires_grad_(true) end
  local qd, kd, vd = leaf(q), leaf(k), leaf(v)
  local o = F.scaled_dot_product_attention(qd, kd, vd, {is_causal = causal})
  ;(o * w:to{device = dev, dtype = dt}):sum():backward()
  return o, qd.grad, kd.grad, vd.grad
end

local function parity(dt, shape, causal, tol)
  local B, H, L, S, E, Ev = table.unpack(shape)
  lt.manual_seed(7)
  local q, k, v = lt.randn(B, H, L, E), lt.randn(B, H, S, E), lt.randn(B, H, S, Ev)
  local w = lt.randn(B, H, L, Ev)
  local rc = table.pack(attention("cpu", dt, q, k, v, w, causal))
  local rg = table.pack(attention("cuda", dt, q, k, v, w, causal))
  local what = ("%s {%s} causal=%s"):format(dt, table.concat(shape, ","), tostring(causal))
  assert.are.equal(FUSED, rg[1].grad_fn)
  assert.are.equal(dt, rg[1].dtype)
  assert.are.equal("cuda:0", rg[1].device)
  local names = {"out", "dq", "dk", "dv"}
  for i = 1, 4 do near(rg[i], rc[i], tol, what .. " " .. names[i]) end
end

local function skip()
  if not has_gpu then pending("no GPU: lt.cuda.is_available() is false") return true end
  return false
end

local TOL = {float64 = 1e-10, float32 = 2e-4, bfloat16 = 3e-2, float16 = 5e-3}

describe("fused attention on cuda #cuda", function()
  -- these specs compare the two paths: force the fused one where it applies
  setup(function() lt.backends.fused_attention = "always" end)
  teardown(function() lt.backends.fused_attention = "auto" end)
  local shapes = {
    {2, 3, 5, 7, 4, 3},        -- L < S, tiny heads
    {1, 2, 9, 4, 8, 5},        -- L > S
    {2, 2, 70, 150, 16, 16},   -- several key tiles, partial row tiles
    {1, 2, 33, 33, 128, 128},  -- the largest head dims
  }
  for _, dt in ipairs{"float32", "float64", "bfloat16", "float16"} do
    for _, causal in ipairs{false, true} do
      it(("matches the cpu kernels in %s (causal=%s)"):format(dt, tostring(causal)), function()
        if skip() then return end
        for _, s in ipairs(shapes) do parity(dt, s, causal, TOL[dt]) end
      end)
    end
  end

  it("matches the composed path on cuda", function()
    if skip() then return end
    lt.manual_seed(3)
    local q = lt.randn(2, 4, 100, 32, {device = "cuda", requires_grad = true})
    local k, v = lt.randn(2, 4, 90, 32, {device = "cuda"}), lt.randn(2, 4, 90, 32, {device = "cuda"})
    local keep = lt.ones(100, 90, {dtype = "bool", device = "cuda"})
    for _, causal in ipairs{false, true} do
      local a = F.scaled_dot_product_attention(q, k, v, {is_causal = causal})
      local b = F.scaled_dot_product_attention(q, k, v, {is_causal = causal, attn_mask = keep})
      assert.are.equal(FUSED, a.grad_fn)
      assert.is_true(b.grad_fn ~= FUSED)
      near(a, b, 1e-4, "fused vs composed causal=" .. tostring(causal))
    end
  end)

  it("is deterministic", function()
    if skip() then return end
    lt.set_deterministic(true)
    local ok, err = pcall(function()
      local q = lt.randn(2, 2, 64, 32)
      local a = table.pack(attention("cuda", "float32", q, q, q, q, true))
      local b = table.pack(attention("cuda", "float32", q, q, q, q, true))
      for i = 1, 4 do assert.is_true(a[i]:cpu():equal(b[i]:cpu()), "run-to-run difference") end
    end)
    lt.set_deterministic(false)
    assert(ok, err)
  end)
end)

describe("autocast on cuda #cuda", function()
  setup(function() lt.backends.fused_attention = "always" end)
  teardown(function() lt.backends.fused_attention = "auto" end)
  it("runs matmul, linear and attention in the autocast dtype", function()
    if skip() then return end
    lt.manual_seed(5)
    local x, w = lt.randn(16, 32), lt.randn(8, 32)
    for _, dt in ipairs{"bfloat16", "float16"} do
      local ref = lt.autocast(dt, F.linear, x, w)
      local got = lt.autocast(dt, F.linear, x:cuda(), w:cuda())
      assert.are.equal(dt, got.dtype)
      near(got, ref, dt == "bfloat16" and 2e-2 or 2e-3, dt .. " linear")
      local q = lt.randn(2, 4, 40, 64, {device = "cuda"})
      local a = lt.autocast(dt, F.scaled_dot_product_attention, q, q, q, {is_causal = true})
      assert.are.equal(dt, a.dtype)
      near(a, F.scaled_dot_product_attention(q, q, q, {is_causal = true}),
           dt == "bfloat16" and 3e-2 or 5e-3, dt .. " attention")
      local s = lt.autocast(dt, function() return (x:cuda():matmul(w:cuda():t())):sum() end)
      assert.are.equal("float32", s.dtype)
    end
  end)

  it("sends float32 gradients to the parameters as on the cpu", function()
    if skip() then return end
    lt.manual_seed(11)
    local model = lt.nn.Sequential(lt.nn.Linear(12, 16), lt.nn.GELU(), lt.nn.Linear(16, 4))
    local x, y = lt.randn(32, 12), lt.randint(1, 5, {32})
    local grads = {}
    for _, dev in ipairs{"cpu", "cuda"} do
      model:to(dev)
      model:zero_grad()
      local loss = lt.autocast("bfloat16", function()
        return F.cross_entropy(model(x:to(dev)), y:to(dev))
      end)
      assert.are.equal("float32", loss.dtype)
      loss:backward()
      grads[dev] = {}
      for i, p in ipairs(model:parameters()) do
        assert.are.equal("float32", p.grad.dtype)
        grads[dev][i] = p.grad:cpu()
      end
    end
    for i = 1, #grads.cpu do near(grads.cuda[i], grads.cpu[i], 3e-2, "grad " .. i) end
  end)

  it("lets GradScaler skip steps with inf gradients", function()
    if skip() then return end
    local p = lt.tensor({1.0, 2.0}, {device = "cuda", requires_grad = true})
    local opt = lt.optim.SGD({p}, {lr = 0.5})
    local s = lt.amp.GradScaler{init_scale = 1024, growth_interval = 1}
    for _, g in ipairs{1.0, math.huge, 1.0} do
      opt:zero_grad()
      s:scale((p * g):sum()):backward()
      s:step(opt)
      s:update()
    end
    assert.are.equal(0.0, p:cpu():tolist()[1])
    assert.are.equal(2048, s:get_scale())  -- 1024 -> 2048 -> 1024 -> 2048
  end)
end)
