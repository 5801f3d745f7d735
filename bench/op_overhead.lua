-- bench/op_overhead.lua - per-op overhead from Lua on a tiny CPU tensor
-- (16 float32 elements): the cost is dispatch, allocation and bookkeeping,
-- not arithmetic. Prints "RESULT <key> <microseconds per op>" lines
-- (median of 5 rounds) that bench/run.sh compares with op_overhead.py.
local lt = require "luatrain"
lt.set_num_threads(2)

local N = tonumber(arg and arg[1]) or 200000
local function timeit(f)
  f()
  local best = {}
  for r = 1, 5 do
    local t0 = lt.time()
    for _ = 1, N do f() end
    best[r] = (lt.time() - t0) / N
  end
  table.sort(best)
  return best[3] * 1e6
end

local x = lt.ones(16)
local y = lt.ones(16)
local w = lt.ones(16, {requires_grad = true})
local r = {}
r.add_us = timeit(function() local _ = x + y end)
r.add_inplace_us = timeit(function() x:add_(y) end)
r.mul_scalar_us = timeit(function() local _ = x * 2 end)
r.relu_us = timeit(function() local _ = x:relu() end)
r.sum_us = timeit(function() local _ = x:sum() end)
r.view_us = timeit(function() local _ = x:view(4, 4) end)
r.add_grad_us = timeit(function() local _ = w + y end)
for _, k in ipairs{"add_us", "add_inplace_us", "mul_scalar_us", "relu_us", "sum_us", "view_us",
                   "add_grad_us"} do
  print(("RESULT %s %.3f"):format(k, r[k]))
end
