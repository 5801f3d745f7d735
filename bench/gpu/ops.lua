-- bench/gpu/ops.lua - luatrain GPU microbenchmarks: tiny-op overhead
-- (us per op from Lua), matmul 4096 fp32/tf32 TFLOP/s, and an MLP
-- 784-256-128-10 epoch (batch 128, Adam, data already on the GPU).
-- Prints "RESULT <key> <value>" lines that bench/gpu/run.sh compares.
local lt = require "luatrain"
local nn, optim = lt.nn, lt.optim

if not lt.cuda.is_available() then
  print("no GPU: skipping")
  return
end
local dev = "cuda"

local function timeit(n, f)
  f()
  lt.cuda.synchronize()
  local t0 = lt.time()
  for _ = 1, n do f() end
  lt.cuda.synchronize()
  return (lt.time() - t0) / n
end

-- tiny ops: the cost is host overhead (allocation, dispatch, launch)
local x = lt.ones(16, {device = dev})
local N = 20000
print(("RESULT add_us %.3f"):format(timeit(N, function() local _ = x + x end) * 1e6))
print(("RESULT add_inplace_us %.3f"):format(timeit(N, function() x:add_(0) end) * 1e6))
print(("RESULT relu_us %.3f"):format(timeit(N, function() local _ = x:relu() end) * 1e6))
print(("RESULT sum_us %.3f"):format(timeit(N, function() local _ = x:sum() end) * 1e6))
collectgarbage()

-- matmul 4096
local M = 4096
local a, b = lt.randn(M, M, {device = dev}), lt.randn(M, M, {device = dev})
for _, tf in ipairs{false, true} do
  lt.backends.allow_tf32 = tf
  local t = timeit(10, function() local _ = a:matmul(b) end)
  print(("RESULT matmul4096_%s_tflops %.2f"):format(tf and "tf32" or "fp32", 2 * M ^ 3 / t / 1e12))
end
lt.backends.allow_tf32 = false
a, b = nil, nil
collectgarbage()

-- MLP epoch
lt.manual_seed(0)
local n_samples, bs = 60000, 128
local X = lt.randn(n_samples, 784, {device = dev})
local Y = lt.randint(1, 11, {n_samples}, {device = dev})
local model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
  nn.Linear(128, 10)):to(dev)
local opt = optim.Adam(model:parameters(), {lr = 1e-3})
local function epoch()
  local last
  for i = 0, n_samples - bs, bs do
    local xb, yb = X:narrow(1, i + 1, bs), Y:narrow(1, i + 1, bs)
    opt:zero_grad()
    local loss = lt.cross_entropy(model(xb), yb)
    loss:backward()
    opt:step()
    last = loss
  end
  return last:item()
end
epoch()  -- warm-up (allocator, cuBLAS)
lt.cuda.synchronize()
local t0 = lt.time()
local loss = epoch()
lt.cuda.synchronize()
print(("RESULT mlp_epoch_s %.4f"):format(lt.time() - t0))
print(("info: final loss %.4f, memory allocated %.1f MiB, reserved %.1f MiB"):format(loss,
  lt.cuda.memory_allocated() / 2 ^ 20, lt.cuda.memory_reserved() / 2 ^ 20))
