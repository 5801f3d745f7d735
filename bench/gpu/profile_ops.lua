-- bench/gpu/profile_ops.lua - forward+backward time of the pieces of the
-- GPT-char and CNN benchmarks at their real shapes, to find where luatrain
-- loses to PyTorch (profile_ops_torch.py times the same pieces).
-- Usage: luatrain bench/gpu/profile_ops.lua [--device cuda] [--iters 20]
local lt = require "luatrain"
local F = lt.nn.functional
local a = lt.args{device = "cuda", iters = 20, scale = 1}
local dev = a.device
if dev:match("^cuda") and not lt.cuda.is_available() then print("profile_ops: no GPU") return end
local function sync() if dev:match("^cuda") then lt.cuda.synchronize() end end
local s = a.scale  -- shrink shapes for a CPU logic check

local function bench(name, make, step)
  local ok, err = pcall(function()
    local st = make()
    for _ = 1, 3 do step(st) end
    sync()
    local t0 = lt.time()
    for _ = 1, a.iters do step(st) end
    sync()
    print(("RESULT %s %.4f"):format(name, (lt.time() - t0) / a.iters * 1000))
  end)
  if not ok then print(("RESULT %s failed: %s"):format(name, tostring(err))) end
end
local function leaf(...) return lt.randn({...}, {device = dev, requires_grad = true}) end
local function fb(out) out:sum():backward() end

local N, C = 16384 // s, 384 // s
bench("linear_384x1152", function() return {x = leaf(N, C), w = leaf(3 * C, C), b = leaf(3 * C)} end,
  function(t) fb(F.linear(t.x, t.w, t.b)) end)
for _, mode in ipairs{"never", "always"} do
  bench("attention_" .. (mode == "never" and "composed" or "fused"), function()
    lt.backends.fused_attention = mode
    return {q = leaf(64 // s, 6, 256 // s, 64), k = leaf(64 // s, 6, 256 // s, 64),
            v = leaf(64 // s, 6, 256 // s, 64)}
  end, function(t) fb(F.scaled_dot_product_attention(t.q, t.k, t.v, {is_causal = true})) end)
end
lt.backends.fused_attention = "auto"
bench("qkv_split_heads", function() return {x = leaf(64 // s, 256 // s, 3 * C)} end, function(t)
  local q = t.x:narrow(3, 1, C):view(64 // s, 256 // s, 6, C // 6):transpose(2, 3)
  local k = t.x:narrow(3, C + 1, C):view(64 // s, 256 // s, 6, C // 6):transpose(2, 3)
  fb((q:contiguous() + k:contiguous()):transpose(2, 3):contiguous():view(64 // s, 256 // s, C))
end)
bench("layer_norm_384", function() return {x = leaf(N, C), w = leaf(C), b = leaf(C)} end,
  function(t) fb(F.layer_norm(t.x, {C}, t.w, t.b)) end)
bench("gelu_1536", function() return {x = leaf(N, 4 * C)} end, function(t) fb(F.gelu(t.x)) end)
bench("residual_add", function() return {x = leaf(N, C), y = leaf(N, C)} end,
  function(t) fb(t.x + t.y) end)
bench("cross_entropy_65", function()
  return {x = leaf(N, 65), y = lt.randint(1, 66, {N}, {device = dev})}
end, function(t) F.cross_entropy(t.x, t.y):backward() end)
bench("embedding", function()
  return {w = leaf(65, C), i = lt.randint(1, 66, {64 // s, 256 // s}, {device = dev})}
end, function(t) fb(F.embedding(t.i, t.w)) end)
bench("adamw_75_tensors", function()
  local ps = {}
  for i = 1, 75 do ps[i] = leaf(i % 3 == 0 and 4 * C or C, C); ps[i].grad = lt.randn_like(ps[i]) end
  return {opt = lt.optim.AdamW(ps, {lr = 1e-4})}
end, function(t) t.opt:step() end)
-- CNN pieces (batch 100)
local B = 100 // s
bench("conv5x5_1to32_28", function() return {x = leaf(B, 1, 28, 28), w = leaf(32, 1, 5, 5), b = leaf(32)} end,
  function(t) fb(F.conv2d(t.x, t.w, t.b, {padding = 2})) end)
bench("conv5x5_32to64_14",
  function() return {x = leaf(B, 32, 14, 14), w = leaf(64, 32, 5, 5), b = leaf(64)} end,
  function(t) fb(F.conv2d(t.x, t.w, t.b, {padding = 2})) end)
bench("maxpool2_32x28", function() return {x = leaf(B, 32, 28, 28)} end,
  function(t) fb(F.max_pool2d(t.x, 2)) end)
bench("relu_32x28", function() return {x = leaf(B, 32, 28, 28)} end, function(t) fb(F.relu(t.x)) end)
bench("linear_3136x1024", function() return {x = leaf(B, 3136), w = leaf(1024, 3136), b = leaf(1024)} end,
  function(t) fb(F.linear(t.x, t.w, t.b)) end)
