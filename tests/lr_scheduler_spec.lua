-- lr_scheduler_spec.lua - learning-rate sequences of optim.lr_scheduler
-- against PyTorch's closed forms (and its recursive CosineAnnealingLR).
local sched = require "luatrain.optim.lr_scheduler"

-- a stand-in optimizer: schedulers only touch param_groups and defaults
local function fake_opt(lrs, defaults)
  local groups = {}
  for i, lr in ipairs(lrs) do groups[i] = {lr = lr, betas = {0.9, 0.999}} end
  return {param_groups = groups, defaults = defaults or {lr = lrs[1], betas = {0.9, 0.999}}}
end

local function trajectory(s, opt, n)
  local out = {opt.param_groups[1].lr}
  for _ = 1, n do
    s:step()
    out[#out + 1] = opt.param_groups[1].lr
  end
  return out
end

local function assert_seq(expected, got, tol)
  assert.are.equal(#expected, #got)
  for i = 1, #expected do
    if math.abs(expected[i] - got[i]) > (tol or 1e-12) then
      error(("epoch %d: expected %.17g, got %.17g"):format(i - 1, expected[i], got[i]), 2)
    end
  end
end

describe("StepLR", function()
  it("multiplies by gamma every step_size epochs", function()
    local opt = fake_opt({0.1})
    local s = sched.StepLR(opt, 3, {gamma = 0.5})
    local exp = {}
    for e = 0, 10 do exp[#exp + 1] = 0.1 * 0.5 ^ (e // 3) end
    assert_seq(exp, trajectory(s, opt, 10))
    assert.are.same({opt.param_groups[1].lr}, s:get_last_lr())
    assert.are.equal(0.1, opt.param_groups[1].initial_lr)
  end)
end)

describe("MultiStepLR", function()
  it("decays at the milestones", function()
    local opt = fake_opt({1.0})
    local s = sched.MultiStepLR(opt, {5, 2}, {gamma = 0.1})
    local exp = {}
    for e = 0, 7 do exp[#exp + 1] = 1.0 * 0.1 ^ ((e >= 2 and 1 or 0) + (e >= 5 and 1 or 0)) end
    assert_seq(exp, trajectory(s, opt, 7))
  end)
end)

describe("ExponentialLR", function()
  it("is base * gamma^epoch", function()
    local opt = fake_opt({0.5})
    local s = sched.ExponentialLR(opt, 0.9)
    local exp = {}
    for e = 0, 8 do exp[#exp + 1] = 0.5 * 0.9 ^ e end
    assert_seq(exp, trajectory(s, opt, 8), 1e-12)
  end)
end)

describe("CosineAnnealingLR", function()
  it("follows PyTorch's closed form, also past T_max", function()
    local opt = fake_opt({0.1})
    local T, eta = 10, 0.001
    local s = sched.CosineAnnealingLR(opt, T, {eta_min = eta})
    local exp = {}
    for e = 0, 25 do exp[#exp + 1] = eta + (0.1 - eta) * (1 + math.cos(math.pi * e / T)) / 2 end
    assert_seq(exp, trajectory(s, opt, 25), 1e-10)
  end)
end)

describe("LinearLR", function()
  it("ramps from start_factor to end_factor over total_iters", function()
    local opt = fake_opt({0.2})
    local s = sched.LinearLR(opt, {start_factor = 0.25, end_factor = 1.0, total_iters = 4})
    local exp = {}
    for e = 0, 7 do exp[#exp + 1] = 0.2 * (0.25 + 0.75 * math.min(4, e) / 4) end
    assert_seq(exp, trajectory(s, opt, 7), 1e-12)
  end)
end)

describe("LambdaLR", function()
  it("is base * lambda(epoch)", function()
    local opt = fake_opt({0.3})
    local s = sched.LambdaLR(opt, function(e) return 1 / (e + 1) end)
    local exp = {}
    for e = 0, 5 do exp[#exp + 1] = 0.3 / (e + 1) end
    assert_seq(exp, trajectory(s, opt, 5))
  end)
end)

describe("SequentialLR", function()
  it("does linear warmup then cosine decay", function()
    local opt = fake_opt({1e-3})
    local W, T, eta = 5, 20, 1e-5
    local s = sched.SequentialLR(opt, {
      sched.LinearLR(opt, {start_factor = 0.1, end_factor = 1.0, total_iters = W}),
      sched.CosineAnnealingLR(opt, T, {eta_min = eta}),
    }, {W})
    local exp = {}
    for e = 0, W + T do
      if e < W then exp[#exp + 1] = 1e-3 * (0.1 + 0.9 * e / W)
      else exp[#exp + 1] = eta + (1e-3 - eta) * (1 + math.cos(math.pi * (e - W) / T)) / 2 end
    end
    assert_seq(exp, trajectory(s, opt, W + T), 1e-12)
  end)
end)

describe("OneCycleLR", function()
  it("warms up to max_lr, anneals to initial/final_div and cycles beta1", function()
    local opt = fake_opt({0.01})
    local total, max_lr = 20, 0.1
    local s = sched.OneCycleLR(opt, max_lr, {total_steps = total, pct_start = 0.25})
    local init, min = max_lr / 25, max_lr / 25 / 1e4
    local function cos_anneal(a, b, pct) return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1) end
    local up_end = 0.25 * total - 1
    local exp, mom = {}, {}
    for e = 0, total - 1 do
      if e <= up_end then
        exp[#exp + 1] = cos_anneal(init, max_lr, e / up_end)
        mom[#mom + 1] = cos_anneal(0.95, 0.85, e / up_end)
      else
        local pct = (e - up_end) / (total - 1 - up_end)
        exp[#exp + 1] = cos_anneal(max_lr, min, pct)
        mom[#mom + 1] = cos_anneal(0.85, 0.95, pct)
      end
    end
    local got, gotm = {opt.param_groups[1].lr}, {opt.param_groups[1].betas[1]}
    for _ = 1, total - 1 do
      s:step()
      got[#got + 1] = opt.param_groups[1].lr
      gotm[#gotm + 1] = opt.param_groups[1].betas[1]
    end
    assert_seq(exp, got, 1e-12)
    assert_seq(mom, gotm, 1e-12)
    assert.are.equal(0.999, opt.param_groups[1].betas[2])
    assert.has_error(function() s:step() s:step() end)
  end)

  it("supports three_phase and linear annealing", function()
    local opt = fake_opt({0.01}, {lr = 0.01, momentum = 0.9})
    local s = sched.OneCycleLR(opt, 1.0, {total_steps = 10, three_phase = true,
                                          anneal_strategy = "linear", cycle_momentum = false})
    local lrs = trajectory(s, opt, 9)
    assert.is_true(math.abs(lrs[1] - 1.0 / 25) < 1e-12)
    assert.is_true(math.abs(lrs[3] - 1.0) < 1e-12)     -- end of phase 1: step 2
    assert.is_true(math.abs(lrs[5] - 1.0 / 25) < 1e-12) -- end of phase 2: step 4
    assert.is_true(math.abs(lrs[10] - 1.0 / 25 / 1e4) < 1e-12)
  end)
end)

describe("ReduceLROnPlateau", function()
  it("reduces after patience epochs without improvement, then cools down", function()
    local opt = fake_opt({1.0})
    local s = sched.ReduceLROnPlateau(opt, {factor = 0.5, patience = 2, cooldown = 1})
    local metrics = {10, 9, 9, 9, 9, 9, 9, 9, 8, 8, 8, 8}
    local lrs = {}
    for i, m in ipairs(metrics) do
      s:step(m)
      lrs[i] = opt.param_groups[1].lr
    end
    -- bad epochs: 3rd,4th,5th -> reduce after the 5th; cooldown 1 epoch; then 3 more bad
    assert.are.same({1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25}, lrs)
  end)

  it("respects min_lr and mode max", function()
    local opt = fake_opt({1.0})
    local s = sched.ReduceLROnPlateau(opt, {mode = "max", factor = 0.1, patience = 0, min_lr = 0.05})
    s:step(1) s:step(0.5) s:step(0.5)
    assert.are.equal(0.05, opt.param_groups[1].lr)
  end)
end)

describe("scheduler state_dict", function()
  it("round-trips and resumes the same trajectory", function()
    local opt = fake_opt({0.1})
    local s = sched.CosineAnnealingLR(opt, 10)
    for _ = 1, 4 do s:step() end
    local sd = s:state_dict()
    assert.is_nil(sd.optimizer)
    local lr_at4 = opt.param_groups[1].lr
    local rest = trajectory(s, opt, 3)
    local opt2 = fake_opt({0.1})
    local s2 = sched.CosineAnnealingLR(opt2, 10)
    s2:load_state_dict(sd)
    opt2.param_groups[1].lr = lr_at4
    assert_seq(rest, trajectory(s2, opt2, 3))
  end)
end)
