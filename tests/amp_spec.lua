-- amp_spec.lua - mixed precision on the CPU: lt.autocast scopes and the
-- dtypes ops return under it, restoration after errors, gradients arriving
-- in float32, GradScaler's skip / grow / back-off against a fixed sequence
-- (PyTorch's rules), and bfloat16/float16 tensors' arithmetic and printing.
local H = require "tests.helpers"
local lt = require "luatrain"
local nn, F, optim = lt.nn, lt.nn.functional, lt.optim

describe("lt.autocast", function()
  after_each(function() lt._C.set_autocast(nil) end)

  it("is off by default", function()
    assert.is_false(lt.is_autocast_enabled())
    assert.is_nil(lt.get_autocast_dtype())
    assert.are.equal("float32", lt.randn(2, 3):matmul(lt.randn(3, 2)).dtype)
  end)

  it("is a to-be-closed guard that restores the previous state", function()
    local a, b = lt.randn(2, 3), lt.randn(3, 4)
    do
      local _ <close> = lt.autocast("bfloat16")
      assert.are.equal("bfloat16", lt.get_autocast_dtype())
      assert.are.equal("bfloat16", a:matmul(b).dtype)
      do
        local _ <close> = lt.autocast("float16")
        assert.are.equal("float16", a:matmul(b).dtype)
        do
          local _ <close> = lt.autocast{enabled = false}
          assert.are.equal("float32", a:matmul(b).dtype)
        end
        assert.are.equal("float16", a:matmul(b).dtype)
      end
      assert.are.equal("bfloat16", a:matmul(b).dtype)
    end
    assert.is_nil(lt.get_autocast_dtype())
    assert.are.equal("float32", a:matmul(b).dtype)
  end)

  it("accepts options tables and device types", function()
    local g = lt.autocast{dtype = "float16"}
    assert.are.equal("float16", lt.get_autocast_dtype())
    g:close()
    g:close()  -- idempotent
    assert.is_nil(lt.get_autocast_dtype())
    lt.autocast("cpu", function() assert.are.equal("bfloat16", lt.get_autocast_dtype()) end)
    lt.autocast("cuda", function() assert.are.equal("float16", lt.get_autocast_dtype()) end)
    lt.autocast({device_type = "cuda", dtype = "bfloat16"},
                function() assert.are.equal("bfloat16", lt.get_autocast_dtype()) end)
  end)

  it("rejects other dtypes and unknown options", function()
    assert.has_error(function() lt.autocast("float64") end,
                     "autocast: dtype must be 'bfloat16' or 'float16', got 'float64'")
    assert.has_error(function() lt.autocast{dtpye = "float16"} end,
                     "autocast: unknown option 'dtpye'")
    assert.is_nil(lt.get_autocast_dtype())
  end)

  it("runs a function under autocast and returns its results", function()
    local x, y = lt.autocast("bfloat16", function(a, b) return a:matmul(b), 42 end,
                             lt.randn(2, 2), lt.randn(2, 2))
    assert.are.equal("bfloat16", x.dtype)
    assert.are.equal(42, y)
    assert.is_nil(lt.get_autocast_dtype())
  end)

  it("restores the previous state when the function raises", function()
    local _ <close> = lt.autocast("float16")
    local ok, err = pcall(lt.autocast, "bfloat16", function()
      assert.are.equal("bfloat16", lt.get_autocast_dtype())
      error("boom")
    end)
    assert.is_false(ok)
    assert.matches("boom", err)
    assert.are.equal("float16", lt.get_autocast_dtype())
    -- an error inside an op (shapes) leaves the state alone too
    assert.has_error(function()
      lt.autocast("bfloat16", function() return lt.randn(2, 3):matmul(lt.randn(2, 3)) end)
    end)
    assert.are.equal("float16", lt.get_autocast_dtype())
  end)

  it("runs matmul, linear, conv2d and attention in the autocast dtype", function()
    local _ <close> = lt.autocast("bfloat16")
    local x = lt.randn(2, 3, 4)
    assert.are.equal("bfloat16", x:matmul(lt.randn(4, 5)).dtype)
    assert.are.equal("bfloat16", lt.randn(3, 4):mm(lt.randn(4, 2)).dtype)
    assert.are.equal("bfloat16", x:bmm(lt.randn(2, 4, 5)).dtype)
    assert.are.equal("bfloat16", F.linear(x, lt.randn(6, 4), lt.randn(6)).dtype)
    assert.are.equal("bfloat16", nn.Linear(4, 6)(x).dtype)
    assert.are.equal("bfloat16", F.conv2d(lt.randn(1, 2, 5, 5), lt.randn(3, 2, 3, 3)).dtype)
    local q = lt.randn(2, 2, 5, 8)
    assert.are.equal("bfloat16", F.scaled_dot_product_attention(q, q, q, {is_causal = true}).dtype)
    -- float64 stays float64, as in PyTorch
    assert.are.equal("float64", lt.randn(2, 2, {dtype = "float64"}):matmul(
      lt.randn(2, 2, {dtype = "float64"})).dtype)
  end)

  it("runs reductions, norms, softmax and losses in float32", function()
    local _ <close> = lt.autocast("float16")
    local h = lt.randn(4, 5):matmul(lt.randn(5, 3))  -- float16
    assert.are.equal("float16", h.dtype)
    assert.are.equal("float32", h:sum().dtype)
    assert.are.equal("float32", h:mean(2).dtype)
    assert.are.equal("float32", h:var().dtype)
    assert.are.equal("float32", h:norm().dtype)
    assert.are.equal("float16", h:max().dtype)          -- exact ops keep the dtype
    assert.are.equal("float32", lt.softmax(h, 2).dtype)
    assert.are.equal("float32", lt.log_softmax(h, 2).dtype)
    assert.are.equal("float32", F.layer_norm(h, {3}).dtype)
    assert.are.equal("float32", nn.LayerNorm(3)(h).dtype)
    local bn = nn.BatchNorm1d(3)
    assert.are.equal("float32", bn(h).dtype)
    assert.are.equal("float32", bn.running_mean.dtype)
    local t = lt.tensor{1, 2, 3, 1}
    assert.are.equal("float32", F.cross_entropy(h, t).dtype)
    assert.are.equal("float32", F.nll_loss(h, t).dtype)
    assert.are.equal("float32", F.mse_loss(h, lt.zeros(4, 3)).dtype)
  end)

  it("matches float32 results within half precision", function()
    local x, w = lt.randn(8, 16), lt.randn(4, 16)
    local ref = F.linear(x, w)
    local got = lt.autocast("bfloat16", F.linear, x, w)
    assert.tensor_near(got:float(), ref, 0.1)
    local q, k, v = lt.randn(1, 6, 8), lt.randn(1, 9, 8), lt.randn(1, 9, 8)
    local aref = F.scaled_dot_product_attention(q, k, v)
    local a = lt.autocast("float16", F.scaled_dot_product_attention, q, k, v)
    assert.tensor_near(a:float(), aref, 5e-3)
  end)

  it("sends gradients back to float32 parameters", function()
    lt.manual_seed(0)
    local model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    local x, y = lt.randn(5, 6), lt.tensor{1, 2, 3, 1, 2}
    local loss32 = F.cross_entropy(model(x), y)
    loss32:backward()
    local ref = {}
    for i, p in ipairs(model:parameters()) do ref[i] = p.grad:clone() end
    for _, p in ipairs(model:parameters()) do p.grad = nil end
    local loss
    do
      local _ <close> = lt.autocast("bfloat16")
      loss = F.cross_entropy(model(x), y)
      assert.are.equal("float32", loss.dtype)
      loss:backward()  -- backward inside the region runs in the forward's dtypes
    end
    assert.is_true(math.abs(loss:item() - loss32:item()) < 0.05)
    for i, p in ipairs(model:parameters()) do
      assert.are.equal("float32", p.dtype)
      assert.are.equal("float32", p.grad.dtype)
      assert.tensor_near(p.grad, ref[i], 0.05)
    end
  end)

  it("gives finite-difference gradients through the casts", function()
    local ok, msg = H.gradcheck(function(a, b)
      local _ <close> = lt.autocast("bfloat16")
      return a:matmul(b):sum()  -- float64 is not cast: autocast leaves the graph alone
    end, {lt.randn(3, 4), lt.randn(4, 2)})
    assert(ok, msg)
  end)
end)

-- one training step of a single weight through the scaler, the gradient
-- given directly (g may be inf or NaN)
local function scaler_step(scaler, opt, p, g)
  opt:zero_grad()
  local loss = scaler:scale((p * g):sum())
  loss:backward()
  local r = scaler:step(opt)
  scaler:update()
  return r
end

describe("GradScaler", function()
  it("scales losses by the scale", function()
    local s = lt.amp.GradScaler()
    assert.are.equal(65536.0, s:get_scale())
    local l = s:scale(lt.tensor(1.5))
    assert.are.equal(98304.0, l:item())
    local t = s:scale{lt.tensor(1.0), {lt.tensor(2.0)}}
    assert.are.equal(131072.0, t[2][1]:item())
  end)

  it("skips, grows and backs off as PyTorch over a fixed sequence", function()
    local p = lt.tensor({1.0}, {requires_grad = true})
    local opt = optim.SGD({p}, {lr = 0.5})
    local s = lt.amp.GradScaler{init_scale = 8, growth_interval = 2, growth_factor = 2,
                                 backoff_factor = 0.25}
    local seq = {
      -- gradient, expected p after the step, expected scale after update
      {1.0, 0.5, 8}, {1.0, 0.0, 16},              -- two clean steps: grow
      {math.huge, 0.0, 4},                         -- inf: skipped, back off, tracker reset
      {2.0, -1.0, 4}, {0 / 0, -1.0, 1},            -- NaN after one clean step: reset again
      {1.0, -1.5, 1}, {-1.0, -1.0, 2}, {4.0, -3.0, 2},
    }
    for i, e in ipairs(seq) do
      scaler_step(s, opt, p, e[1])
      assert.are.equal(e[2], p:item(), "step " .. i .. ": parameter")
      assert.are.equal(e[3], s:get_scale(), "step " .. i .. ": scale")
    end
    assert.are.equal(1, s:state_dict()._growth_tracker)
  end)

  it("unscales the gradients once", function()
    local p = lt.tensor({1.0, 2.0}, {requires_grad = true})
    local opt = optim.SGD({p}, {lr = 1})
    local s = lt.amp.GradScaler{init_scale = 4}
    s:scale((p * 3):sum()):backward()
    assert.are.same({12, 12}, p.grad:tolist())
    s:unscale_(opt)
    assert.are.same({3, 3}, p.grad:tolist())
    assert.has_error(function() s:unscale_(opt) end,
      "GradScaler:unscale_: unscale_() has already been called on this optimizer since the last update()")
    s:step(opt)  -- does not unscale again
    assert.are.same({-2, -1}, p:tolist())
    assert.has_error(function() s:step(opt) end,
      "GradScaler:step: step() has already been called since the last update()")
    s:update()
    assert.are.equal(4, s:get_scale())
  end)

  it("needs scale() before step() and a step before update()", function()
    local p = lt.tensor({1.0}, {requires_grad = true})
    local opt = optim.SGD({p}, {lr = 1})
    local s = lt.amp.GradScaler()
    assert.has_error(function() s:step(opt) end)
    s:scale(p:sum())
    assert.has_error(function() s:update() end,
                     "GradScaler:update: no inf checks were recorded prior to update()")
  end)

  it("passes through when disabled", function()
    local p = lt.tensor({1.0}, {requires_grad = true})
    local opt = optim.SGD({p}, {lr = 1})
    local s = lt.amp.GradScaler{enabled = false}
    local l = (p * 2):sum()
    assert.are.equal(l, s:scale(l))
    l:backward()
    s:step(opt)
    s:update()
    assert.are.equal(-1, p:item())
    assert.are.equal(1.0, s:get_scale())
    assert.are.same({}, s:state_dict())
  end)

  it("round-trips its state", function()
    local p = lt.tensor({1.0}, {requires_grad = true})
    local opt = optim.SGD({p}, {lr = 1})
    local s = lt.amp.GradScaler{init_scale = 32, growth_interval = 3}
    scaler_step(s, opt, p, 1.0)
    scaler_step(s, opt, p, 1.0)
    local sd = s:state_dict()
    assert.are.same({scale = 32, growth_factor = 2, backoff_factor = 0.5, growth_interval = 3,
                     _growth_tracker = 2}, sd)
    local t = lt.amp.GradScaler()
    t:load_state_dict(sd)
    assert.are.same(sd, t:state_dict())
    scaler_step(t, opt, p, 1.0)
    assert.are.equal(64, t:get_scale())
    assert.has_error(function() t:load_state_dict({}) end)
    s:update(1024)
    assert.are.equal(1024, s:get_scale())
  end)

  it("checks its options", function()
    assert.has_error(function() lt.amp.GradScaler{growth_factor = 1} end)
    assert.has_error(function() lt.amp.GradScaler{backoff_factor = 1.5} end)
    assert.has_error(function() lt.amp.GradScaler{growth_interval = 0.5} end)
    assert.has_error(function() lt.amp.GradScaler{init_scal = 2} end,
                     "GradScaler: unknown option 'init_scal'")
  end)

  it("trains a float16 autocast model with loss scaling", function()
    lt.manual_seed(1)
    local model = nn.Linear(4, 1)
    local opt = optim.SGD(model:parameters(), {lr = 0.1})
    local s = lt.amp.GradScaler{init_scale = 1024}
    local x = lt.randn(32, 4)
    local y = x:matmul(lt.tensor{{1.0}, {-2.0}, {0.5}, {3.0}})
    local first, last
    for i = 1, 60 do
      opt:zero_grad()
      local loss = lt.autocast("float16", function() return F.mse_loss(model(x), y) end)
      if i == 1 then first = loss:item() end
      last = loss:item()
      s:scale(loss):backward()
      s:step(opt)
      s:update()
    end
    assert.are.equal("float32", model.weight.dtype)
    assert.is_true(last < first * 0.05, ("loss %g -> %g"):format(first, last))
  end)
end)

describe("bfloat16 and float16 tensors", function()
  it("do arithmetic", function()
    for _, dt in ipairs{"bfloat16", "float16"} do
      local a = lt.tensor({1.5, -2.0, 0.25}, {dtype = dt})
      local b = lt.tensor({0.5, 4.0, 1.0}, {dtype = dt})
      assert.are.equal(dt, (a + b).dtype)
      assert.are.same({2.0, 2.0, 1.25}, (a + b):tolist())
      assert.are.same({0.75, -8.0, 0.25}, (a * b):tolist())
      assert.are.same({3.0, -4.0, 0.5}, (a * 2):tolist())
      assert.are.equal(-0.25, a:sum():item())
      assert.are.equal(dt, a:sum().dtype)
      assert.are.same({{-7.0}}, a:view(1, 3):matmul(b:view(3, 1)):tolist())
      assert.are.equal("float32", (a + lt.ones(3)).dtype)  -- promotion
    end
  end)

  it("round to nearest even", function()
    -- bf16 keeps 8 significant bits: 1 + 2^-8 is a tie and rounds to 1
    assert.are.equal(1.0, lt.tensor{1 + 2 ^ -8}:bfloat16():item())
    assert.are.equal(1 + 2 ^ -7, lt.tensor{1 + 2 ^ -7}:bfloat16():item())
    assert.are.equal(1 + 2 ^ -6, lt.tensor{1 + 3 * 2 ^ -8}:bfloat16():item())
    -- f16 keeps 11: 1 + 2^-11 ties to 1, 2049 ties to 2048
    assert.are.equal(1.0, lt.tensor{1 + 2 ^ -11}:half():item())
    assert.are.equal(2048, lt.tensor{2049}:half():item())
    assert.are.equal(math.huge, lt.tensor{70000}:half():item())
  end)

  it("print their dtype", function()
    local s = tostring(lt.tensor({1.5, 2.0}, {dtype = "bfloat16"}))
    assert.are.equal("tensor([1.5000, 2.0000], dtype=bfloat16)", s)
    assert.matches("dtype=float16", tostring(lt.ones(2, 2):half()))
  end)

  it("run the nn ops", function()
    local x = lt.randn(4, 8)
    for _, dt in ipairs{"bfloat16", "float16"} do
      local h = x:to(dt)
      local tol = dt == "bfloat16" and 0.05 or 0.01
      assert.are.equal(dt, lt.softmax(h, 2).dtype)
      assert.tensor_near(lt.softmax(h, 2):float(), lt.softmax(h:float(), 2), tol)
      assert.tensor_near(F.layer_norm(h, {8}):float(), F.layer_norm(h:float(), {8}), 4 * tol)
      local t = lt.tensor{1, 2, 3, 4}
      assert.tensor_near(F.cross_entropy(h, t):float(), F.cross_entropy(h:float(), t), 4 * tol)
      local q = h:view(1, 4, 8)
      assert.tensor_near(F.scaled_dot_product_attention(q, q, q):float(),
                         F.scaled_dot_product_attention(q:float(), q:float(), q:float()), tol)
    end
  end)

  it("carry gradients", function()
    local x = lt.randn(3, 3):bfloat16():requires_grad_(true)
    local y = (x * x):sum()
    y:backward()
    assert.are.equal("bfloat16", x.grad.dtype)
    assert.tensor_near(x.grad:float(), x:detach():float() * 2, 0.05)
  end)
end)
