-- backends_spec.lua - lt.backends settings: fused_attention modes and the
-- benchmark autotuner choosing between fused and composed attention; each
-- choice must give the same numbers.
local lt = require "luatrain"
require "tests.helpers"  -- assert.tensor_near
local F = lt.nn.functional

local FUSED = "ScaledDotProductFlashAttentionBackward"

local function attn(q, k, v)
  return F.scaled_dot_product_attention(q, k, v, {is_causal = true})
end

describe("lt.backends", function()
  after_each(function()
    lt.backends.fused_attention = "auto"
    lt.backends.benchmark = false
  end)

  it("reads and writes fused_attention and rejects other values", function()
    assert.are.equal("auto", lt.backends.fused_attention)
    lt.backends.fused_attention = "always"
    assert.are.equal("always", lt.backends.fused_attention)
    assert.has_error(function() lt.backends.fused_attention = "sometimes" end)
    assert.has_error(function() lt.backends.benchmark = "yes" end)
    assert.has_error(function() lt.backends.no_such_setting = true end)
  end)

  it("picks the composed path for small attention in auto mode", function()
    local q = lt.randn(1, 2, 8, 4, {requires_grad = true})
    assert.are_not.equal(FUSED, attn(q, q, q).grad_fn)
    lt.backends.fused_attention = "always"
    assert.are.equal(FUSED, attn(q, q, q).grad_fn)
    lt.backends.fused_attention = "never"
    assert.are_not.equal(FUSED, attn(q, q, q).grad_fn)
  end)

  it("gives the same outputs and gradients whichever path runs", function()
    lt.manual_seed(1)
    local q = lt.randn(2, 2, 20, 8, {dtype = "float64", requires_grad = true})
    local outs, grads = {}, {}
    for i, mode in ipairs{"never", "always"} do
      lt.backends.fused_attention = mode
      q.grad = nil
      local o = attn(q, q, q)
      o:sum():backward()
      outs[i], grads[i] = o:detach(), q.grad
    end
    assert.tensor_near(outs[1], outs[2], 1e-10)
    assert.tensor_near(grads[1], grads[2], 1e-9)
  end)

  it("benchmark times both paths once per shape and keeps a valid choice", function()
    lt.backends.benchmark = true
    assert.is_true(lt.backends.benchmark)
    local q = lt.randn(1, 2, 64, 16, {requires_grad = true})
    local a = attn(q, q, q)
    local b = attn(q, q, q)
    assert.are.equal(a.grad_fn, b.grad_fn)  -- the cached choice is reused
    lt.backends.fused_attention = "never"
    assert.tensor_near(a:detach(), attn(q, q, q):detach(), 1e-5)
  end)
end)
