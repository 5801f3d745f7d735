-- Autograd from Lua: backward, accumulation, retain_graph, grad modes,
-- detach/clone, custom Functions and in-place checks.
local H = require "tests.helpers"
local lt = H.lt

describe("backward", function()
  it("computes gradients of a scalar", function()
    local x = lt.tensor({1.0, 2.0, 3.0}, {requires_grad = true})
    local y = (x * x):sum()
    y:backward()
    assert.tensor_near(lt.tensor{2.0, 4.0, 6.0}, x.grad, 1e-6)
    assert.is_true(x.is_leaf)
    assert.is_false(y.is_leaf)
    assert.is_string(y.grad_fn)
  end)

  it("gives every leaf its own gradient tensor (adopted, never shared)", function()
    -- add's backward hands the same tensor to both inputs
    local a = lt.ones(3, {requires_grad = true})
    local b = lt.ones(3, {requires_grad = true})
    local y = a + b
    local g = lt.tensor{1.0, 2.0, 3.0}
    y:backward(g)
    a.grad:mul_(10)
    assert.are.same({1, 2, 3}, b.grad:tolist())
    assert.are.same({1, 2, 3}, g:tolist())       -- the caller's gradient untouched
    -- a leaf that is the root: its grad is not the caller's tensor
    local r = lt.ones(2, {requires_grad = true})
    local gr = lt.tensor{4.0, 5.0}
    r:backward(gr)
    r.grad:add_(1)
    assert.are.same({4, 5}, gr:tolist())
    -- a second backward accumulates into the adopted tensor in place
    local w = lt.ones(2, {requires_grad = true})
    ;(w * 3):sum():backward()
    local first = w.grad
    ;(w * 3):sum():backward()
    assert.are.same({6, 6}, w.grad:tolist())
    assert.are.same({6, 6}, first:tolist())
  end)

  it("accumulates gradients across calls", function()
    local x = lt.tensor({1.0, 2.0}, {requires_grad = true})
    for _ = 1, 3 do (x * 2):sum():backward() end
    assert.same({6, 6}, x.grad:tolist())
    x.grad = nil
    assert.is_nil(x.grad)
    local s = (x * 2):sum()
    s:backward()
    assert.same({2, 2}, x.grad:tolist())
  end)

  it("takes an explicit gradient for non-scalars", function()
    local x = lt.tensor({1.0, 2.0}, {requires_grad = true})
    local y = x * 3
    y:backward(lt.tensor{1.0, 10.0})
    assert.same({3, 30}, x.grad:tolist())
  end)

  it("frees the graph unless retain_graph", function()
    local x = lt.tensor({1.0, 2.0}, {requires_grad = true})
    local y = (x:exp()):sum()
    y:backward(nil, {retain_graph = true})
    y:backward()
    assert.tensor_near(x:detach():exp() * 2, x.grad, 1e-5)
    assert.has_error(function() y:backward() end)
  end)

  it("rejects unknown backward options", function()
    local x = lt.tensor({1.0}, {requires_grad = true})
    local ok, err = pcall(function() (x * 2):sum():backward(nil, {retain = true}) end)
    assert.is_false(ok)
    assert.matches("backward: unknown option 'retain'", err, 1, true)
  end)

  it("keeps non-leaf grads with retain_grad", function()
    local x = lt.tensor({1.0, 2.0}, {requires_grad = true})
    local h = x * 2
    h:retain_grad()
    local s = (h * h):sum()
    s:backward()
    assert.tensor_near(lt.tensor{4.0, 8.0}, h.grad, 1e-6)
  end)
end)

describe("grad modes", function()
  it("no_grad as a to-be-closed guard", function()
    local x = lt.ones(2, {requires_grad = true})
    do
      local _ <close> = lt.no_grad()
      assert.is_false(lt.is_grad_enabled())
      assert.is_false((x * 2).requires_grad)
    end
    assert.is_true(lt.is_grad_enabled())
    assert.is_true((x * 2).requires_grad)
  end)

  it("no_grad restores the mode when the block errors", function()
    local ok = pcall(function()
      local _ <close> = lt.no_grad()
      error("boom")
    end)
    assert.is_false(ok)
    assert.is_true(lt.is_grad_enabled())
  end)

  it("no_grad as a function returns results and restores on error", function()
    local x = lt.ones(2, {requires_grad = true})
    local y, extra = lt.no_grad(function(a, b) return a * 2, b end, x, 42)
    assert.is_false(y.requires_grad)
    assert.equal(42, extra)
    local ok, err = pcall(lt.no_grad, function() error("inner failure") end)
    assert.is_false(ok)
    assert.matches("inner failure", err, 1, true)
    assert.is_true(lt.is_grad_enabled())
  end)

  it("enable_grad and set_grad_enabled", function()
    local x = lt.ones(1, {requires_grad = true})
    lt.no_grad(function()
      local y = lt.enable_grad(function() return x * 2 end)
      assert.is_true(y.requires_grad)
    end)
    local prev = lt.set_grad_enabled(false)
    assert.is_true(prev)
    assert.is_false(lt.is_grad_enabled())
    lt.set_grad_enabled(true)
  end)
end)

describe("detach and clone", function()
  it("detach drops history and shares storage", function()
    local x = lt.tensor({1.0, 2.0}, {requires_grad = true})
    local y = (x * 2):detach()
    assert.is_false(y.requires_grad)
    assert.is_nil(y.grad_fn)
  end)

  it("clone keeps history", function()
    local x = lt.tensor({1.0, 2.0}, {requires_grad = true})
    local c = x:clone()
    assert.is_true(c.requires_grad)
    local s = (c * 3):sum()
    s:backward()
    assert.same({3, 3}, x.grad:tolist())
  end)

  it("detach_ detaches in place", function()
    local x = lt.tensor({1.0}, {requires_grad = true})
    local y = x * 2
    y:detach_()
    assert.is_false(y.requires_grad)
  end)
end)

describe("in-place checks", function()
  it("errors when a saved tensor was modified in place", function()
    local x = lt.tensor({1.0, 2.0}, {requires_grad = true})
    local y = x:exp()
    local z = (y * y):sum()
    y:add_(1)
    local ok, err = pcall(function() z:backward() end)
    assert.is_false(ok)
    assert.matches("modified", tostring(err))
  end)

  it("errors on in-place ops on leaves that require grad", function()
    local x = lt.ones(2, {requires_grad = true})
    assert.has_error(function() x:add_(1) end)
    lt.no_grad(function() x:add_(1) end)  -- allowed without recording
    assert.same({2, 2}, x:tolist())
  end)
end)

describe("autograd.Function", function()
  local Square = lt.autograd.Function{
    name = "SquareBackward",
    forward = function(ctx, x)
      ctx:save_for_backward(x)
      return x * x
    end,
    backward = function(ctx, g)
      local x = ctx.saved_tensors[1]
      return g * 2 * x
    end,
  }

  it("runs forward and a Lua backward", function()
    local x = lt.tensor({1.0, 3.0}, {requires_grad = true})
    local y = Square(x)
    assert.is_true(y.requires_grad)
    assert.equal("SquareBackward", y.grad_fn)
    y:sum():backward()
    assert.same({2, 6}, x.grad:tolist())
  end)

  it("passes needs_input_grad and non-tensor arguments", function()
    local seen
    local Scale = lt.autograd.Function{
      forward = function(ctx, x, k)
        ctx.k = k
        seen = ctx.needs_input_grad
        return x * k
      end,
      backward = function(ctx, g) return g * ctx.k, nil end,
    }
    local x = lt.tensor({1.0, 2.0}, {requires_grad = true})
    Scale(x, 5):sum():backward()
    assert.same({true, false}, seen)
    assert.same({5, 5}, x.grad:tolist())
  end)

  it("does not record without inputs requiring grad", function()
    local y = Square(lt.tensor{2.0})
    assert.is_false(y.requires_grad)
    assert.same({4}, y:tolist())
  end)

  it("surfaces a Lua error inside backward as a clean error", function()
    local Bad = lt.autograd.Function{
      forward = function(_, x) return x * 1 end,
      backward = function() error("backward exploded") end,
    }
    local x = lt.tensor({1.0}, {requires_grad = true})
    local ok, err = pcall(function() Bad(x):sum():backward() end)
    assert.is_false(ok)
    assert.matches("backward exploded", err, 1, true)
    -- the state is still usable
    local y = (x * 2):sum()
    y:backward()
    assert.same({2}, x.grad:tolist())
  end)

  it("checks its definition", function()
    assert.has_error(function() lt.autograd.Function{forward = function() end} end)
  end)
end)

describe("gradient accumulation into a user-assigned grad", function()
  it("does not write through an expanded (stride 0) grad", function()
    local lt = require "luatrain"
    local x = lt.ones(3, {requires_grad = true})
    x.grad = lt.zeros(1):expand(3)
    local y = (x * 2):sum()
    y:backward()
    assert.are.same({2, 2, 2}, x.grad:tolist())
  end)
end)
