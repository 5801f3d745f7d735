-- tests/fuzz/api_fuzz.lua - crash hunting from Lua: calls every C function of
-- the core table (lt.*, lt._C.*, lt.json.*, lt.cuda.*), every tensor method
-- and metamethod with random arguments (nil, odd numbers, strings, tables,
-- tensors of random shapes/dtypes, views, freed tensors, custom autograd
-- Functions) under pcall, from a fixed seed. A Lua error is fine; a crash or
-- a sanitizer report is a bug. Does not judge error wording (see --unclear).
--
--   build/luatrain tests/fuzz/api_fuzz.lua [--seed N] [--iters N]
--       [--seconds S] [--verbose] [--unclear] [--sweep]
--
-- Under AddressSanitizer set ASAN_OPTIONS=allocator_may_return_null=1: huge
-- shapes (lt.zeros(1e12)) must come back as a Lua "out of memory" error.
-- Prints "api_fuzz: N calls (E errors) seed S" when it finishes.
local lt = require "luatrain"
local core = assert(package.loaded["luatrain.core"])

-- ---------------------------------------------------------------- options
local opt = {seed = 1, iters = 2000, seconds = nil, verbose = false, unclear = false, sweep = false}
do
  local i = 1
  while arg and arg[i] do
    local a = arg[i]
    if a == "--seed" or a == "--iters" or a == "--seconds" then
      opt[a:sub(3)] = assert(tonumber(arg[i + 1]), a .. " needs a number")
      i = i + 2
    elseif a == "--verbose" then opt.verbose = true; i = i + 1
    elseif a == "--unclear" then opt.unclear = true; i = i + 1
    elseif a == "--sweep" then opt.sweep = true; i = i + 1
    else error("api_fuzz: unknown argument " .. a) end
  end
end

-- ---------------------------------------------------------------- generator
-- xorshift64*, independent of math.random (which the fuzzed seed functions reset)
local state = opt.seed * 2654435761 + 88172645463325252
local function rnd()
  state = state ~ (state >> 12)
  state = state ~ (state << 25)
  state = state ~ (state >> 27)
  return ((state * 2685821657736338717) >> 11) & 0x7fffffff
end
local function ri(n) return rnd() % n + 1 end         -- 1..n
local function chance(p) return rnd() % 1000 < p * 1000 end
local function pick(list) return list[ri(#list)] end

local tmpdir = os.tmpname()
os.remove(tmpdir)
assert(os.execute("mkdir -p '" .. tmpdir .. "'"))

-- ---------------------------------------------------------------- value pools
local DTYPES = {"float32", "float64", "bfloat16", "float16", "int64", "int32", "uint8", "bool"}
-- no sizes between ~1e5 and ~1e11: those are valid requests that would
-- really allocate gigabytes (lt.randperm(2^31)); 1e12 and up must fail cleanly
local NUMBERS = {0, 1, 2, 3, -1, -2, 0.5, -0.5, 1.5, 17, 1e12, 2^53, math.maxinteger,
                 math.mininteger, 0 / 0, math.huge, -math.huge, 1e300, -1e-300, 2^40, 2^63, 7}
local STRINGS = {"", "x", "float32", "float64", "int64", "bool", "uint8", "bfloat16", "half",
                 "cpu", "cuda", "cuda:0", "cuda:99", "cuda:-1", "sum", "mean", "none", "add",
                 "multiply", "tanh", "reflect", "constant", "replicate", "fro", "inf",
                 "%s%s%s%n", ("a"):rep(300), "1", "-1", "nan", "1e12", "{}", "[1,2", "[[[1]]]",
                 '{"a":1}', "null", "\0", "\255\254"}
local OPTION_KEYS = {"dtype", "device", "requires_grad", "keepdim", "dim", "alpha", "retain_graph",
                     "stride", "padding", "dilation", "groups", "ceil_mode", "return_indices",
                     "weight", "ignore_index", "label_smoothing", "reduction", "approximate",
                     "correction", "unbiased", "mode", "value", "attn_mask", "dropout_p",
                     "is_causal", "scale", "reduce", "indent", "sort_keys", "seed", "offset",
                     "count_include_pad", "divisor_override", "dtpye", 1, 2}
local PATHS = {"a.safetensors", "b.idx", "missing/x", "", "c.safetensors"}

local pool = {}          -- tensors seen so far (live or freed)
local POOL_MAX = 96
local callables = {}     -- custom autograd Functions

local function add_tensor(t)
  if not lt.is_tensor(t) then return end
  local ok, n = pcall(function() return t:numel() end)
  if ok and n > 20000 then pcall(t.free, t); return end
  if #pool >= POOL_MAX then
    local k = ri(#pool)
    if chance(0.5) then pcall(function() pool[k]:free() end) end
    pool[k] = t
  else
    pool[#pool + 1] = t
  end
end

local function small_dim() return pick{0, 1, 1, 2, 2, 3, 3, 4, 5} end

local function random_shape()
  local nd = pick{0, 1, 1, 2, 2, 3, 4}
  local s = {}
  for k = 1, nd do s[k] = small_dim() end
  return s
end

local function new_tensor()
  local shape, dt = random_shape(), pick(DTYPES)
  local ok, t = pcall(function()
    local x
    if dt == "bool" then x = lt.rand(shape):gt(0.5)
    elseif dt == "uint8" then x = lt.randint(0, 5, shape, {dtype = dt})
    elseif dt:match("int") then x = lt.randint(-3, 5, shape, {dtype = dt})
    else x = lt.randn(shape, {dtype = dt}) end
    local r = rnd() % 8
    if r == 0 and x:dim() >= 2 then x = x:transpose(1, 2)
    elseif r == 1 and x:dim() >= 1 and x:size(1) > 1 then x = x:narrow(1, 2, x:size(1) - 1)
    elseif r == 2 and x:dim() == 1 then x = x:unsqueeze(1):expand(3, x:size(1))
    elseif r == 3 and x:is_floating_point() then x = x:requires_grad_(true)
    elseif r == 4 and x:is_floating_point() then x = (x:clone():requires_grad_(true) * 2):exp()
    elseif r == 5 then x:free() end
    return x
  end)
  if ok then return t end
  return lt.zeros(1)
end

local gen_value   -- forward

local function random_table(depth)
  local r = rnd() % 12
  if r == 0 then return random_shape() end
  if r == 1 then return {} end
  if r == 2 then                       -- options table
    local o = {}
    for _ = 1, ri(3) do o[pick(OPTION_KEYS)] = gen_value(depth + 1) end
    return o
  end
  if r == 3 then                       -- list of tensors
    local l = {}
    for k = 1, ri(4) - 1 do l[k] = #pool > 0 and pick(pool) or new_tensor() end
    return l
  end
  if r == 4 then                       -- nested numbers, maybe ragged
    local l = {}
    for k = 1, ri(3) do
      l[k] = chance(0.3) and {pick(NUMBERS), pick(NUMBERS)} or {1, 2}
    end
    if chance(0.3) then l[#l + 1] = {1} end
    return l
  end
  if r == 5 then                       -- cycle
    local c = {1}
    c[2] = c
    c.self = c
    return c
  end
  if r == 6 then                       -- deep nesting
    local d = {1}
    for _ = 1, pick{3, 9, 200, 100000} do d = {d} end
    return d
  end
  if r == 7 then return setmetatable({}, {__index = function() error("boom") end}) end
  if r == 8 then return {lt.json and lt.json.null, true, "s", 1.5} end
  if r == 9 then return {pick(NUMBERS), pick(NUMBERS), pick(NUMBERS)} end
  if r == 10 then return {dtype = pick(DTYPES), device = pick{"cpu", "cuda", "cuda:3", "gpu"}} end
  local m = {}
  for k = 1, ri(3) do m[k] = gen_value(depth + 1) end
  return m
end

function gen_value(depth)
  depth = depth or 0
  local r = rnd() % 20
  if depth > 2 and r >= 14 then r = r % 7 end
  if r <= 1 then return nil end
  if r == 2 then return chance(0.5) end
  if r <= 5 then return pick{0, 1, 1, 2, 2, 3, -1} end
  if r <= 7 then return pick(NUMBERS) end
  if r == 8 then return pick(STRINGS) end
  if r == 9 then return pick(DTYPES) end
  if r <= 13 then return #pool > 0 and pick(pool) or new_tensor() end
  if r == 14 then return new_tensor() end
  if r <= 17 then return random_table(depth) end
  if r == 18 then return #callables > 0 and pick(callables) or print end
  return pick{lt.json.null, coroutine.create(print), function() return lt.ones(2) end, io.stdout}
end

-- Arguments that often pass the argument checks, so calls reach the kernels
-- and autograd: dims, same-shape or broadcastable tensors, valid options.
local function plausible(self)
  local r = rnd() % 10
  if r <= 2 then return pick{1, 2, -1, 1, 0, 3} end
  if r <= 5 and lt.is_tensor(self) then
    local ok, t = pcall(function()
      local k = rnd() % 4
      if k == 0 then return self:detach():clone() end
      if k == 1 then return lt.randn(self.shape):to(pick(DTYPES)) end
      if k == 2 then return lt.randint(1, 3, self.shape) end
      return lt.rand(self.shape):gt(0.5)
    end)
    if ok then return t end
  end
  if r == 6 then return {keepdim = chance(0.5)} end
  if r == 7 then return pick{0.5, 2, 1e-3} end
  if r == 8 then return nil end
  return #pool > 0 and pick(pool) or new_tensor()
end

-- ---------------------------------------------------------------- targets
local targets = {}
local skip = {
  -- would reset the pool's numbers or change global state in ways that make
  -- the run slow or non-reproducible; called with sane arguments below
  set_num_threads = true, _Function = true, _methods = true,
}
local file_fns = {save = true, load = true, read_idx = true, save_checkpoint = true,
                  load_checkpoint = true}
for name, f in pairs(core) do
  if type(f) == "function" and not skip[name] then targets[#targets + 1] = {name, f} end
end
for _, sub in ipairs{"_C", "json", "cuda"} do
  for name, f in pairs(core[sub] or {}) do
    if type(f) == "function" then targets[#targets + 1] = {sub .. "." .. name, f} end
  end
end
-- the Lua layers on top (they reach the C core with argument mixes of their own)
for name, f in pairs(lt.nn.functional) do
  if type(f) == "function" then targets[#targets + 1] = {"F." .. name, f} end
end
for _, name in ipairs{"seed_everything", "save_checkpoint", "load_checkpoint", "autocast"} do
  if type(lt[name]) == "function" then targets[#targets + 1] = {name, lt[name]} end
end
local methods = {}
for name, f in pairs(core._methods) do
  if type(f) == "function" then methods[#methods + 1] = {name, f} end
end
local mt = getmetatable(lt.zeros(1))
local metas = {}
for _, name in ipairs{"__add", "__sub", "__mul", "__div", "__pow", "__mod", "__idiv", "__unm",
                      "__len", "__tostring", "__index", "__newindex", "__close", "__gc"} do
  if mt[name] then metas[#metas + 1] = {name, mt[name]} end
end
local function by_name(a, b) return a[1] < b[1] end
table.sort(targets, by_name)       -- pairs order is not reproducible
table.sort(methods, by_name)
table.sort(metas, by_name)

local function make_function()
  local fwd_kind, bwd_kind = rnd() % 4, rnd() % 6
  local ok, F = pcall(core._Function, {
    name = chance(0.5) and "Fz" or nil,
    forward = function(ctx, ...)
      local x = ...
      if fwd_kind == 0 and lt.is_tensor(x) then ctx:save_for_backward(x); return x * 2 end
      if fwd_kind == 1 then return gen_value(2) end
      if fwd_kind == 2 then error("forward fails") end
      return ...
    end,
    backward = function(ctx, g, ...)
      if bwd_kind == 0 then return g end
      if bwd_kind == 1 then return gen_value(2), gen_value(2) end
      if bwd_kind == 2 then error("backward fails") end
      if bwd_kind == 3 then return ctx.saved_tensors and ctx.saved_tensors[1] end
      if bwd_kind == 4 then return nil end
      return lt.ones(7, 3), ...
    end,
  })
  if ok and F then callables[#callables + 1] = F end
end

-- ---------------------------------------------------------------- the loop
local calls, errors, unclear = 0, 0, {}
local function note(name, ok, err, ...)
  calls = calls + 1
  if ok then
    for k = 1, select("#", ...) do
      local v = select(k, ...)
      if lt.is_tensor(v) then add_tensor(v)
      elseif type(v) == "table" then
        for i = 1, math.min(rawlen(v), 16) do
          local x = rawget(v, i)
          if lt.is_tensor(x) then add_tensor(x) end
        end
      end
    end
    if lt.is_tensor(err) then add_tensor(err) end
    return
  end
  errors = errors + 1
  if type(err) ~= "string" then
    if opt.verbose then print("non-string error from " .. name .. ": " .. tostring(err)) end
    return
  end
  local short = name:gsub("^.*%.", "")
  if opt.unclear and not err:find(short, 1, true) and not err:find("freed", 1, true) then
    unclear[#unclear + 1] = name .. ": " .. err
  end
end

local function map_path(v)
  if type(v) == "string" then return tmpdir .. "/" .. (v:gsub("[^%w%.]", "_")) end
  return v
end

local function call(name, f, args, n)
  if opt.verbose then
    local parts = {}
    for k = 1, n do
      local v = args[k]
      parts[k] = lt.is_tensor(v) and "T" or type(v) == "string" and ("%q"):format(v:sub(1, 20))
        or tostring(v)
    end
    io.stderr:write(("%d %s(%s)\n"):format(calls, name, table.concat(parts, ", ")))
  end
  note(name, pcall(f, table.unpack(args, 1, n)))
end

-- --sweep: every target with one odd value at each argument position in
-- front of plain ones (a tensor {2, 3}, then 1s): systematic, no randomness
if opt.sweep then
  local EDGE = {nil, 0, -1, 1e12, math.maxinteger, math.mininteger, 2^63, 0 / 0, math.huge,
                -math.huge, 0.5, "x", "float64", {}, {2^62, 4}, {-1, -1}, true}
  local nedge = 17
  local all = {}
  for _, tg in ipairs(targets) do
    if not file_fns[tg[1]] then all[#all + 1] = tg end
  end
  for _, m in ipairs(methods) do all[#all + 1] = m end
  for _, m in ipairs(metas) do all[#all + 1] = m end
  local bases = {
    function() return lt.randn(2, 3) end,
    function() return lt.randint(0, 3, {2, 3}) end,
    function() return lt.zeros(0) end,
    function() return lt.tensor(2.5) end,
    function() return lt.rand(3):gt(0.5) end,
    function() return lt.randn(2, 3, {requires_grad = true}) * 1 end,
    function() local t = lt.ones(2); t:free(); return t end,
  }
  for _, tg in ipairs(all) do
    for b = 1, #bases do
      for pos = 1, 4 do
        for e = 1, nedge do
          local ok, base = pcall(bases[b])
          if not ok then base = nil end
          local args = {base, 1, 1, 1, 1}
          if pos > 1 and chance(0.5) then args[pos - 1] = bases[b]() end
          args[pos] = EDGE[e]
          call(tg[1], tg[2], args, 4)
        end
      end
    end
  end
end

for _ = 1, 12 do add_tensor(new_tensor()) end
for _ = 1, 3 do make_function() end
local t0 = os.clock()
local it = 0
while true do
  it = it + 1
  if opt.seconds then
    if os.clock() - t0 > opt.seconds then break end
  elseif it > opt.iters then break end
  local r = rnd() % 100
  local n = rnd() % 6
  local args = {}
  for k = 1, n do args[k] = gen_value() end
  if r < 40 then                                   -- lt.* function
    local tg = pick(targets)
    if file_fns[tg[1]] then
      for k = 1, n do args[k] = map_path(args[k]) end
      local at = tg[1] == "save" and 2 or 1
      if n >= at and chance(0.7) then args[at] = tmpdir .. "/" .. pick(PATHS) end
    end
    if r < 25 and n >= 1 and not file_fns[tg[1]] then
      args[1] = #pool > 0 and pick(pool) or args[1]
      if chance(0.5) then
        for k = 2, n do args[k] = plausible(args[1]) end
      end
    end
    call(tg[1], tg[2], args, n)
  elseif r < 80 then                               -- tensor method
    local m = pick(methods)
    local self = chance(0.9) and (#pool > 0 and pick(pool) or new_tensor()) or gen_value()
    if chance(0.5) then
      for k = 1, n do args[k] = plausible(self) end
    end
    table.insert(args, 1, self)
    call(m[1], m[2], args, n + 1)
  elseif r < 92 then                               -- metamethod
    local m = pick(metas)
    local a = chance(0.85) and (#pool > 0 and pick(pool) or new_tensor()) or gen_value()
    local b = gen_value()
    if chance(0.5) then a, b = b, a end
    if m[1] == "__index" then b = chance(0.6) and pick{1, -1, 2, 0, 100, 1.5, 2^63} or b end
    if m[1] == "__newindex" then
      call(m[1], m[2], {a, pick{1, -1, 2, 0, 5, "shape", "grad", "requires_grad", "data", "x"},
                        gen_value()}, 3)
    else
      call(m[1], m[2], {a, b}, 2)
    end
  elseif r < 95 then                               -- autograd
    local t = #pool > 0 and pick(pool) or new_tensor()
    call("backward", core._methods.backward, {t, gen_value(), gen_value()}, 3)
  elseif r < 97 then                               -- custom Functions
    if chance(0.3) or #callables == 0 then make_function() end
    if #callables > 0 then call("Function", pick(callables), args, n) end
  elseif r < 98 then                               -- free something
    local t = #pool > 0 and pick(pool)
    if t then call("free", core._methods.free, {t}, 1) end
  elseif r < 99 then
    collectgarbage(pick{"collect", "step"})
  else                                             -- global state, sane values
    pcall(core.set_grad_enabled, chance(0.8))
    pcall(core.set_default_dtype, pick{"float32", "float32", "float64", "bfloat16"})
    pcall(core.set_num_threads, pick{1, 2})
    pcall(core.set_deterministic, chance(0.5))
  end
end

-- fixed checks from the brief: these must give clean errors, not crashes
local function must_fail(what, f, ...)
  local ok, err = pcall(f, ...)
  calls = calls + 1
  if ok then error("api_fuzz: " .. what .. " did not fail") end
  if type(err) ~= "string" then error("api_fuzz: " .. what .. " raised a " .. type(err)) end
  if opt.verbose then print(what .. " -> " .. err) end
end
core.set_grad_enabled(true)
core.set_default_dtype("float32")
must_fail("zeros(1e12)", lt.zeros, 1e12)
must_fail("zeros(2^62, 4)", lt.zeros, 2^62, 4)
must_fail("zeros(maxinteger, maxinteger)", lt.zeros, math.maxinteger, math.maxinteger)
must_fail("ones{2^40, 2^40}", lt.ones, {2^40, 2^40})
must_fail("eye(2^40, 2^40)", lt.eye, 2^40, 2^40)
must_fail("arange(0, 2^62)", lt.arange, 0, 2^62)
must_fail("expand to 2^62 then contiguous", function()
  return lt.ones(1, 1):expand(2^62, 2^62):contiguous()
end)
do
  local t = lt.randn(2, 3, {requires_grad = true})
  local y = (t * t):sum()
  y:backward()
  must_fail("backward twice", y.backward, y)
  local deep = {1}
  for _ = 1, 200000 do deep = {deep} end
  must_fail("tensor of a 200000-deep table", lt.tensor, deep)
  must_fail("json.encode of a 200000-deep table", lt.json.encode, deep)
  must_fail("json.decode of 200000 '['", lt.json.decode, ("["):rep(200000))
  local s = tostring(lt.zeros(1, 1, 1, 1, 1, 1, 1, 1))
  assert(s:find("tensor", 1, true), "tostring of an 8-d tensor")
  t:free()
  for _, m in ipairs(methods) do
    local ok, err = pcall(m[2], t, 1, 1)
    calls = calls + 1
    if ok and m[1] ~= "free" then error("api_fuzz: " .. m[1] .. " on a freed tensor did not fail") end
    if not ok and not tostring(err):find("freed", 1, true) then
      error("api_fuzz: " .. m[1] .. " on a freed tensor: unclear error: " .. tostring(err))
    end
  end
end

for _, t in ipairs(pool) do pcall(t.free, t) end
os.execute("rm -rf '" .. tmpdir .. "'")
if opt.unclear then
  table.sort(unclear)
  local last
  for _, u in ipairs(unclear) do
    local key = u:sub(1, 60)
    if key ~= last then print("unclear: " .. u) end
    last = key
  end
end
print(("api_fuzz: %d calls (%d errors) seed %d"):format(calls, errors, opt.seed))
