-- tests/rnn_fused_spec.lua - the fused recurrent cells lt._C.lstm_cell /
-- gru_cell (engine/ops_rnn.c): equal to the composed step forward and
-- backward (float64 and float32, strided inputs, absent output gradients),
-- float64 gradient checks, argument errors, nn.LSTM / GRU taking the fused
-- path and falling back, and CPU vs CUDA parity (#cuda, pending without a GPU).
local lt = require "luatrain"
local H = require "tests.helpers"
local nn = lt.nn
local C = lt._C

local F64 = {dtype = "float64"}

-- the composed steps (what rnn.lua did before the fused cells)
local function lstm_ref(g, c)
  local Hn = c:size(2)
  local s = g:sigmoid()
  local i, f, o = s:narrow(2, 1, Hn), s:narrow(2, Hn + 1, Hn), s:narrow(2, 3 * Hn + 1, Hn)
  local gg = g:narrow(2, 2 * Hn + 1, Hn):tanh()
  local c1 = f * c + i * gg
  return o * c1:tanh(), c1
end

local function gru_ref(gx, gh, h)
  local Hn = h:size(2)
  local rz = (gx:narrow(2, 1, 2 * Hn) + gh:narrow(2, 1, 2 * Hn)):sigmoid()
  local r, z = rz:narrow(2, 1, Hn), rz:narrow(2, Hn + 1, Hn)
  local n = (gx:narrow(2, 2 * Hn + 1, Hn) + r * gh:narrow(2, 2 * Hn + 1, Hn)):tanh()
  return n + z * (h - n)
end

-- a (rows, cols) tensor of dtype dt laid out per `layout`: "contig", "t"
-- (transposed storage) or "sel" (a select of a 3-D tensor: row stride > cols)
local function make(rows, cols, dt, layout, scale)
  local o = {dtype = dt}
  scale = scale or 1
  local t
  if layout == "t" then
    t = (lt.randn(cols, rows, o) * scale):t()
  elseif layout == "sel" then
    t = (lt.randn(rows, 3, cols, o) * scale):select(2, 2)
  else
    t = lt.randn(rows, cols, o) * scale
  end
  assert(layout == "contig" or not t:is_contiguous() or rows == 1 or cols == 1)
  return t
end

local function leaf(t) return t:detach():clone():requires_grad_(true) end

local SHAPES = {{1, 1}, {2, 3}, {5, 7}, {33, 260}}
local LAYOUTS = {"contig", "t", "sel"}

describe("fused lstm_cell", function()
  for _, dt in ipairs({"float64", "float32"}) do
    local tol = dt == "float64" and 1e-12 or 1e-5
    it(("equals the composed step forward and backward (%s)"):format(dt), function()
      lt.manual_seed(1)
      for _, sh in ipairs(SHAPES) do
        local N, Hn = sh[1], sh[2]
        for li, layout in ipairs(LAYOUTS) do
          local g0 = make(N, 4 * Hn, dt, layout, 2)
          local c0 = make(N, Hn, dt, LAYOUTS[(li % 3) + 1])
          local wh, wc = lt.randn(N, Hn, {dtype = dt}), lt.randn(N, Hn, {dtype = dt})
          -- 1: both outputs used, 2: only h1 (dc1 absent), 3: only c1 (dh1 absent)
          for use = 1, 3 do
            local ga, ca, gb, cb = leaf(g0), leaf(c0), leaf(g0), leaf(c0)
            local h1, c1 = C.lstm_cell(ga, ca)
            local h2, c2 = lstm_ref(gb, cb)
            assert.are.equal("LstmCellBackward", h1.grad_fn)
            assert.tensor_near(h1, h2, tol)
            assert.tensor_near(c1, c2, tol)
            local function loss(h, c)
              if use == 1 then return (h * wh):sum() + (c * wc):sum() end
              if use == 2 then return (h * wh):sum() end
              return (c * wc):sum()
            end
            loss(h1, c1):backward()
            loss(h2, c2):backward()
            assert.tensor_near(ga.grad, gb.grad, tol)
            assert.tensor_near(ca.grad, cb.grad, tol)
          end
        end
      end
    end)
  end

  it("gives gradients only to inputs that require them, and none without grad mode", function()
    local g, c = lt.randn(3, 8, F64):requires_grad_(true), lt.randn(3, 2, F64)
    local h1, c1 = C.lstm_cell(g, c)
    ;(h1:sum() + c1:sum()):backward()
    assert.are.same({3, 8}, g.grad.shape)
    assert.is_nil(c.grad)
    local g2, c2 = lt.randn(3, 8, F64), lt.randn(3, 2, F64):requires_grad_(true)
    h1 = C.lstm_cell(g2, c2)
    h1:sum():backward()
    assert.is_nil(g2.grad)
    local c3 = c2:detach():requires_grad_(true)
    lstm_ref(g2, c3):sum():backward()
    assert.tensor_near(c2.grad, c3.grad, 1e-12)
    do
      local _ <close> = lt.no_grad()
      local h, cc = C.lstm_cell(g, c)
      assert.is_nil(h.grad_fn)
      assert.is_nil(cc.grad_fn)
      assert.tensor_near(h, (lstm_ref(g:detach(), c)), 1e-12)
    end
    local e1, e2 = C.lstm_cell(lt.zeros(0, 8), lt.zeros(0, 2))
    assert.are.same({0, 2}, e1.shape)
    assert.are.same({0, 2}, e2.shape)
  end)

  it("passes a float64 gradient check", function()
    lt.manual_seed(2)
    local ok, msg = H.gradcheck(function(g, c)
      local h1, c1 = C.lstm_cell(g, c)
      return lt.cat({h1, c1 * 2}, 2)
    end, {lt.randn(3, 8, F64), lt.randn(3, 2, F64)})
    assert(ok, msg)
    ok, msg = H.gradcheck(function(g, c) return (C.lstm_cell(g, c)) end,
                          {lt.randn(2, 12, F64), lt.randn(2, 3, F64)})
    assert(ok, msg)
    ok, msg = H.gradcheck(function(g, c) return select(2, C.lstm_cell(g, c)) end,
                          {lt.randn(2, 12, F64), lt.randn(2, 3, F64)})
    assert(ok, msg)
  end)

  it("names the function, argument and shapes on bad input", function()
    local function err(...)
      local ok, e = pcall(C.lstm_cell, ...)
      assert.is_false(ok)
      return tostring(e)
    end
    local function has(s, ...)
      for _, p in ipairs({...}) do
        assert(s:find(p, 1, true), ("expected %q in: %s"):format(p, s))
      end
    end
    has(err(lt.zeros(3, 7), lt.zeros(3, 2)), "lstm_cell", "gates", "{3, 7}")
    has(err(lt.zeros(3, 8), lt.zeros(3, 3)), "lstm_cell", "c of shape", "{3, 2}", "{3, 3}", "{3, 8}")
    has(err(lt.zeros(3, 8), lt.zeros(2, 2)), "lstm_cell", "{2, 2}")
    has(err(lt.zeros(2, 3, 8), lt.zeros(3, 2)), "lstm_cell", "gates", "{2, 3, 8}")
    has(err(lt.zeros(3, 8), lt.zeros(3, 2, F64)), "lstm_cell", "float64", "float32")
    has(err(lt.zeros(3, 8, {dtype = "int64"}), lt.zeros(3, 2, {dtype = "int64"})),
        "lstm_cell", "gates", "int64")
    has(err(lt.zeros(3, 8, {dtype = "bfloat16"}), lt.zeros(3, 2, {dtype = "bfloat16"})),
        "lstm_cell", "bfloat16")
    has(err(lt.zeros(3, 8), "c"), "#2", "tensor expected")
  end)
end)

describe("fused gru_cell", function()
  for _, dt in ipairs({"float64", "float32"}) do
    local tol = dt == "float64" and 1e-12 or 1e-5
    it(("equals the composed step forward and backward (%s)"):format(dt), function()
      lt.manual_seed(3)
      for _, sh in ipairs(SHAPES) do
        local N, Hn = sh[1], sh[2]
        for li, layout in ipairs(LAYOUTS) do
          local x0 = make(N, 3 * Hn, dt, layout, 2)
          local g0 = make(N, 3 * Hn, dt, LAYOUTS[(li % 3) + 1], 2)
          local h0 = make(N, Hn, dt, LAYOUTS[((li + 1) % 3) + 1])
          local w = lt.randn(N, Hn, {dtype = dt})
          local xa, ga, ha, xb, gb, hb = leaf(x0), leaf(g0), leaf(h0), leaf(x0), leaf(g0), leaf(h0)
          local h1 = C.gru_cell(xa, ga, ha)
          local h2 = gru_ref(xb, gb, hb)
          assert.are.equal("GruCellBackward", h1.grad_fn)
          assert.tensor_near(h1, h2, tol)
          ;(h1 * w):sum():backward()
          ;(h2 * w):sum():backward()
          assert.tensor_near(xa.grad, xb.grad, tol)
          assert.tensor_near(ga.grad, gb.grad, tol)
          assert.tensor_near(ha.grad, hb.grad, tol)
        end
      end
    end)
  end

  it("gives gradients only to inputs that require them", function()
    local gx, gh = lt.randn(2, 9, F64), lt.randn(2, 9, F64):requires_grad_(true)
    local h = lt.randn(2, 3, F64)
    C.gru_cell(gx, gh, h):sum():backward()
    assert.is_nil(gx.grad)
    assert.is_nil(h.grad)
    local ghb = gh:detach():requires_grad_(true)
    gru_ref(gx, ghb, h):sum():backward()
    assert.tensor_near(gh.grad, ghb.grad, 1e-12)
  end)

  it("passes a float64 gradient check", function()
    lt.manual_seed(4)
    local ok, msg = H.gradcheck(function(gx, gh, h) return C.gru_cell(gx, gh, h) end,
                                {lt.randn(3, 9, F64), lt.randn(3, 9, F64), lt.randn(3, 3, F64)})
    assert(ok, msg)
  end)

  it("names the function, argument and shapes on bad input", function()
    local function err(...)
      local ok, e = pcall(C.gru_cell, ...)
      assert.is_false(ok)
      return tostring(e)
    end
    local function has(s, ...)
      for _, p in ipairs({...}) do
        assert(s:find(p, 1, true), ("expected %q in: %s"):format(p, s))
      end
    end
    has(err(lt.zeros(2, 8), lt.zeros(2, 8), lt.zeros(2, 2)), "gru_cell", "gx", "{2, 8}")
    has(err(lt.zeros(2, 9), lt.zeros(2, 6), lt.zeros(2, 3)), "gru_cell", "gh", "{2, 9}", "{2, 6}")
    has(err(lt.zeros(2, 9), lt.zeros(2, 9), lt.zeros(3, 3)), "gru_cell", "h of shape", "{2, 3}", "{3, 3}")
    has(err(lt.zeros(2, 9), lt.zeros(2, 9, F64), lt.zeros(2, 3)), "gru_cell", "gh", "float64")
    has(err(lt.zeros(2, 9, {dtype = "int32"}), lt.zeros(2, 9), lt.zeros(2, 3)), "gru_cell", "int32")
  end)
end)

describe("nn.LSTM / GRU with the fused cells", function()
  it("take the fused path and equal the composed fallback", function()
    assert.is_true(C.has_fused_rnn("cpu"))
    assert.is_true(C.has_fused_rnn("cpu", "float64"))
    assert.is_false(C.has_fused_rnn("cpu", "bfloat16"))
    assert.is_false(C.has_fused_rnn("cpu", "int64"))
    lt.manual_seed(5)
    local function run(m, x, fused)
      local saved = C.has_fused_rnn
      if not fused then C.has_fused_rnn = function() return false end end
      local ok, o, s = pcall(m, x)
      C.has_fused_rnn = saved
      assert(ok, o)
      return o, s
    end
    for _, mk in ipairs({
      function() return nn.LSTM(4, 5, 2, {bidirectional = true, batch_first = true}) end,
      function() return nn.GRU(4, 5, 2, {bidirectional = true, batch_first = true}) end}) do
      local m = mk():double()
      local x = lt.randn(3, 6, 4, F64)
      local xa, xb = leaf(x), leaf(x)
      local oa, sa = run(m, xa, true)
      local ga = {}
      ;((oa * oa):sum()):backward()
      for i, p in ipairs(m:parameters()) do ga[i] = p.grad:clone() end
      m:zero_grad()
      local ob, sb = run(m, xb, false)
      ;((ob * ob):sum()):backward()
      assert.tensor_near(oa, ob, 1e-12)
      if lt.is_tensor(sa) then assert.tensor_near(sa, sb, 1e-12)
      else assert.tensor_near(sa[2], sb[2], 1e-12) end
      assert.tensor_near(xa.grad, xb.grad, 1e-12)
      for i, p in ipairs(m:parameters()) do assert.tensor_near(ga[i], p.grad, 1e-12) end
    end
    -- the cells record one fused node per step
    local h1, c1 = nn.LSTMCell(3, 4)(lt.randn(2, 3))
    assert.are.equal("LstmCellBackward", h1.grad_fn)
    assert.are.equal("LstmCellBackward", c1.grad_fn)
    assert.are.equal("GruCellBackward", nn.GRUCell(3, 4)(lt.randn(2, 3)).grad_fn)
    -- bfloat16 has no fused cell: the composed step runs
    local hb = nn.GRUCell(3, 4, {dtype = "bfloat16"})(lt.randn(2, 3, {dtype = "bfloat16"}))
    assert.are.equal("bfloat16", hb.dtype)
    assert.are_not.equal("GruCellBackward", hb.grad_fn)
  end)
end)

describe("nn.LSTM / GRU / RNN over long sequences", function()
  -- L > 16 takes the split-and-stack step views and (LSTM, RNN) the one-matmul
  -- W_hh gradient; compare with the cells unrolled by hand
  it("equal their cells unrolled, forward and every gradient (float64)", function()
    lt.manual_seed(8)
    local L, N, I, Hn = 37, 3, 4, 5
    for _, kind in ipairs({"LSTM", "GRU", "RNN"}) do
      local m = nn[kind](I, Hn):double()
      local cell = nn[kind .. "Cell"](I, Hn):double()
      do
        local _ <close> = lt.no_grad()
        for _, k in ipairs({"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) do
          cell[k]:copy_(m[k .. "_l0"])
        end
      end
      local x = lt.randn(L, N, I, F64)
      local xa, xb = leaf(x), leaf(x)
      local h0, c0 = lt.randn(1, N, Hn, F64), lt.randn(1, N, Hn, F64)
      local w = lt.randn(L, N, Hn, F64)
      local out, st = m(xa, kind == "LSTM" and {h0, c0} or h0)
      local h, c = h0[1], c0[1]
      local outs = {}
      for t = 1, L do
        if kind == "LSTM" then h, c = cell(xb[t], {h, c}) else h = cell(xb[t], h) end
        outs[t] = h
      end
      local ref = lt.stack(outs, 1)
      assert.tensor_near(out, ref, 1e-12)
      local hn = kind == "LSTM" and st[1] or st
      assert.tensor_near(hn[1], h, 1e-12)
      ;((out * w):sum() + hn:sum()):backward()
      ;((ref * w):sum() + h:sum()):backward()
      assert.tensor_near(xa.grad, xb.grad, 1e-12)
      for _, k in ipairs({"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) do
        assert.tensor_near(m[k .. "_l0"].grad, cell[k].grad, 1e-11)
      end
    end
  end)
end)

describe("fused cells on CUDA #cuda", function()
  local function skip()
    if not H.has_cuda() then pending("no GPU") return true end
    return false
  end

  it("lstm_cell and gru_cell match the CPU, forward and backward", function()
    if skip() then return end
    assert.is_true(C.has_fused_rnn("cuda"))
    lt.manual_seed(6)
    for _, dt in ipairs({"float32", "float64"}) do
      local tol = dt == "float64" and 1e-12 or 1e-5
      for _, sh in ipairs({{1, 1}, {5, 7}, {64, 300}}) do
        local N, Hn = sh[1], sh[2]
        local g0, c0 = make(N, 4 * Hn, dt, "sel", 2), make(N, Hn, dt, "t")
        local wh, wc = lt.randn(N, Hn, {dtype = dt}), lt.randn(N, Hn, {dtype = dt})
        for use = 1, 3 do
          local function run(dev)
            local g, c = leaf(g0:to(dev)), leaf(c0:to(dev))
            local h1, c1 = C.lstm_cell(g, c)
            local l = use == 1 and (h1 * wh:to(dev)):sum() + (c1 * wc:to(dev)):sum()
                      or use == 2 and (h1 * wh:to(dev)):sum() or (c1 * wc:to(dev)):sum()
            l:backward()
            return h1, c1, g.grad, c.grad
          end
          local rc, rg = table.pack(run("cpu")), table.pack(run("cuda"))
          for i = 1, 4 do
            assert.are.equal("cuda:0", rg[i].device)
            assert.tensor_near(rg[i], rc[i], tol)
          end
        end
        local x0, y0, h0 = make(N, 3 * Hn, dt, "t", 2), make(N, 3 * Hn, dt, "sel", 2),
                           make(N, Hn, dt, "contig")
        local w = lt.randn(N, Hn, {dtype = dt})
        local function run(dev)
          local x, y, h = leaf(x0:to(dev)), leaf(y0:to(dev)), leaf(h0:to(dev))
          local h1 = C.gru_cell(x, y, h)
          ;(h1 * w:to(dev)):sum():backward()
          return h1, x.grad, y.grad, h.grad
        end
        local rc, rg = table.pack(run("cpu")), table.pack(run("cuda"))
        for i = 1, 4 do
          assert.are.equal("cuda:0", rg[i].device)
          assert.tensor_near(rg[i], rc[i], tol)
        end
      end
    end
  end)

  it("nn.LSTM / GRU use them on the GPU and match the CPU", function()
    if skip() then return end
    lt.manual_seed(7)
    local h1 = nn.LSTMCell(3, 4):cuda()(lt.randn(2, 3):cuda())
    assert.are.equal("LstmCellBackward", h1.grad_fn)
    for _, mk in ipairs({function() return nn.LSTM(5, 6, 2) end, function() return nn.GRU(5, 6, 2) end}) do
      local m, g = mk(), mk()
      g:load_state_dict(m:state_dict())
      g:cuda()
      local x = lt.randn(7, 3, 5)
      local xc, xg = leaf(x), leaf(x:cuda())
      local oc, og = m(xc), g(xg)
      assert.tensor_near(og, oc, 1e-5)
      ;(oc * oc):sum():backward()
      ;(og * og):sum():backward()
      assert.tensor_near(xg.grad, xc.grad, 1e-4)
      assert.tensor_near(g.weight_hh_l1.grad, m.weight_hh_l1.grad, 1e-4)
    end
  end)
end)
