-- tests/determinism_spec.lua - with lt.set_deterministic(true) and the same
-- seed, two short training runs give bit-identical losses (compared with ==):
-- a small MLP over an Embedding with index-based ops (index_select, gather,
-- index_add with repeated indices, dropout) and a conv net, 20 Adam steps
-- each, on the CPU and (tagged cuda, pending without a GPU) on CUDA. It does
-- not compare CPU with CUDA (cuda_spec.lua does) nor time anything.
local lt = require "luatrain"
local nn, optim = lt.nn, lt.optim

local has_gpu = lt.cuda and lt.cuda.is_available and lt.cuda.is_available()
local STEPS = 20

-- runs fn() with deterministic mode on, restoring the previous mode after,
-- on error too
local function deterministic(fn)
  local prev = lt.is_deterministic()
  lt.set_deterministic(true)
  local ok, res = pcall(fn)
  lt.set_deterministic(prev)
  if not ok then error(res, 0) end
  return res
end

local TokenNet = nn.Module:extend("TokenNet")
function TokenNet:init(V, D, H, K)
  self.emb = nn.Embedding(V, D)
  self.fc1 = nn.Linear(D, H)
  self.drop = nn.Dropout(0.1)
  self.fc2 = nn.Linear(H, K)
end
-- ids (B, L) 1-based, groups (B) 1..G -> logits (B, K), pooled (G, H)
function TokenNet:forward(ids, groups, G)
  local h = self.drop(self.fc1(self.emb(ids):mean(2)):relu())                 -- (B, H)
  local pooled = lt.zeros(G, h:size(2), {device = h.device}):index_add(1, groups, h)  -- (G, H)
  return self.fc2(h), pooled
end

-- 20 Adam steps of TokenNet on few distinct ids (so the embedding gradient
-- and index_add accumulate into the same rows); returns the losses
local function run_tokens(dev)
  lt.manual_seed(1234)
  local V, D, H, K, B, L, G = 40, 16, 32, 10, 64, 12, 4
  local ids = lt.randint(1, 9, {B, L}):to(dev)             -- 8 distinct ids out of 40
  local y = lt.randint(1, K + 1, {B}):to(dev)
  local groups = lt.randint(1, G + 1, {B}):to(dev)
  local model = TokenNet(V, D, H, K):to(dev)
  model:train()
  local opt = optim.Adam(model:parameters(), {lr = 1e-2})
  local losses = {}
  for step = 1, STEPS do
    local perm = lt.randperm(B):to(dev)
    local xb, yb, gb = ids:index_select(1, perm), y:index_select(1, perm), groups:index_select(1, perm)
    opt:zero_grad()
    local logits, pooled = model(xb, gb, G)
    local picked = logits:gather(2, yb:view(B, 1))                         -- (B, 1)
    local loss = lt.cross_entropy(logits, yb) - 0.01 * picked:mean() + 0.01 * pooled:pow(2):mean()
    loss:backward()
    opt:step()
    losses[step] = loss:item()
  end
  return losses
end

-- 20 Adam steps of a small conv net (conv, batch norm, ReLU, max pool, conv,
-- ReLU, average pool, Linear) on random images; returns the losses
local function run_conv(dev)
  lt.manual_seed(99)
  local x = lt.randn(16, 1, 12, 12):to(dev)
  local y = lt.randint(1, 5, {16}):to(dev)
  local model = nn.Sequential(
    nn.Conv2d(1, 6, 3, {padding = 1}), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 8, 3, {padding = 1}), nn.ReLU(), nn.AvgPool2d(2),
    nn.Flatten(), nn.Linear(8 * 3 * 3, 4)):to(dev)
  model:train()
  local opt = optim.Adam(model:parameters(), {lr = 1e-2})
  local losses = {}
  for step = 1, STEPS do
    opt:zero_grad()
    local loss = lt.cross_entropy(model(x), y)
    loss:backward()
    opt:step()
    losses[step] = loss:item()
  end
  return losses
end

-- asserts that a and b are equal number for number (==), printing both
-- runs in full (%.17g) when they are not; and that training moved the loss
local function assert_identical(a, b, what)
  assert(#a == STEPS and #b == STEPS, what .. ": a run did not record every step")
  local first
  for i = 1, STEPS do
    if a[i] ~= b[i] then first = first or i end
  end
  if first then
    local lines = {}
    for i = 1, STEPS do
      lines[i] = ("  step %2d: %.17g  %.17g%s"):format(i, a[i], b[i], a[i] ~= b[i] and "  <--" or "")
    end
    error(("%s: the two runs differ from step %d on:\n%s"):format(what, first, table.concat(lines, "\n")), 2)
  end
  for i = 1, STEPS do
    assert(a[i] == a[i] and math.abs(a[i]) < math.huge, what .. ": loss is not finite at step " .. i)
  end
  assert(a[STEPS] < a[1], ("%s: the loss did not go down (%g -> %g)"):format(what, a[1], a[STEPS]))
end

describe("deterministic mode on the CPU", function()
  it("gives bit-identical losses for an embedding MLP with index ops", function()
    deterministic(function()
      assert_identical(run_tokens("cpu"), run_tokens("cpu"), "token MLP on cpu")
    end)
  end)

  it("gives bit-identical losses for a conv net", function()
    deterministic(function()
      assert_identical(run_conv("cpu"), run_conv("cpu"), "conv net on cpu")
    end)
  end)

  it("restores the previous mode", function()
    local prev = lt.is_deterministic()
    deterministic(function() assert.is_true(lt.is_deterministic()) end)
    assert.are.equal(prev, lt.is_deterministic())
  end)
end)

describe("deterministic mode on CUDA #cuda", function()
  it("gives bit-identical losses for an embedding MLP with index ops", function()
    if not has_gpu then pending("no GPU") return end
    deterministic(function()
      assert_identical(run_tokens("cuda"), run_tokens("cuda"), "token MLP on cuda")
    end)
  end)

  it("gives bit-identical losses for a conv net", function()
    if not has_gpu then pending("no GPU") return end
    deterministic(function()
      assert_identical(run_conv("cuda"), run_conv("cuda"), "conv net on cuda")
    end)
  end)
end)
