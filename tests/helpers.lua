--- Shared helpers for the busted specs.
-- `local H = require "tests.helpers"` (run from the repo root) registers
-- `assert.tensor_near(a, b, tol)` and provides gradcheck, tmpname and a
-- way to run the host as a subprocess. Keep this API stable: every spec
-- uses it.
-- @module tests.helpers

local lt = require "luatrain"
local say = require "say"
local luassert = require "luassert"

local H = {}

H.lt = lt
--- Path of the luatrain executable: $LUATRAIN, else the interpreter running
-- the specs when it is a luatrain host (busted --lua=...), else $BUILD/luatrain.
local function host_path()
  if os.getenv("LUATRAIN") then return os.getenv("LUATRAIN") end
  local i = -1
  while arg and arg[i - 1] do i = i - 1 end
  local interp = arg and arg[i]
  if interp and interp:match("luatrain$") then return interp end
  return (os.getenv("BUILD") or "build") .. "/luatrain"
end
H.LUATRAIN = host_path()

--- Float64 copy of a tensor or a nested table / number on the CPU.
local function as_f64(x)
  if lt.is_tensor(x) then return x:detach():to{dtype = "float64", device = "cpu"} end
  return lt.tensor(x, {dtype = "float64"})
end
H.as_f64 = as_f64

--- Largest |a - b| and where (1-based multi-index string), or nil + message
-- when the shapes differ.
-- @return maxdiff number, where string
function H.max_diff(a, b)
  a, b = as_f64(a), as_f64(b)
  local sa, sb = a.shape, b.shape
  local same = #sa == #sb
  for i = 1, #sa do same = same and sa[i] == sb[i] end
  if not same then
    return nil, ("shapes differ: {%s} vs {%s}"):format(table.concat(sa, ", "), table.concat(sb, ", "))
  end
  if a:numel() == 0 then return 0, "" end
  local d = (a - b):abs():reshape(-1)
  -- NaN on one side only counts as infinitely different; NaN on both is equal
  local an, bn = a:isnan():reshape(-1), b:isnan():reshape(-1)
  d = lt.where(an:logical_xor(bn), math.huge, lt.where(an:logical_and(bn), 0, d))
  local _, idx = d:max(1)
  local k = idx:item() - 1
  local maxd = d[k + 1]
  local pos = {}
  for i = #sa, 1, -1 do
    pos[i] = k % sa[i] + 1
    k = k // sa[i]
  end
  return maxd, "{" .. table.concat(pos, ", ") .. "}"
end

local function tensor_near(state, arguments)
  local a, b, tol = arguments[1], arguments[2], arguments[3] or 1e-5
  local d, where = H.max_diff(a, b)
  if d == nil then
    state.failure_message = "expected tensors of the same shape: " .. where
    return false
  end
  local ok = d <= tol
  local fa, fb = as_f64(a), as_f64(b)
  local function at(t)
    if where == "" then return "-" end
    local v = t
    for i in where:gmatch("%d+") do v = v[tonumber(i)] end
    return tostring(v)
  end
  local msg = ("largest difference %.6g at %s (%s vs %s), tolerance %g"):format(
    d, where, at(fa), at(fb), tol)
  state.failure_message = (state.mod and "expected tensors within tolerance: " or
                           "expected tensors to differ: ") .. msg
  return ok
end

say:set("assertion.tensor_near.positive", "Expected tensors to be near.\n%s")
say:set("assertion.tensor_near.negative", "Expected tensors not to be near.\n%s")
luassert:register("assertion", "tensor_near", tensor_near,
                  "assertion.tensor_near.positive", "assertion.tensor_near.negative")

--- Finite-difference gradient check in float64.
-- fn(...) receives the inputs and returns a tensor; inputs are tensors
-- (converted to float64 leaves requiring grad) or other values passed as-is.
-- @param fn function
-- @param inputs list
-- @param opts table|nil {eps = 1e-6, atol = 1e-5, rtol = 1e-3, check = {i...}
--   (which inputs to check; default all float tensors)}
-- @return true, or false and a message naming the input and element
function H.gradcheck(fn, inputs, opts)
  opts = opts or {}
  local eps, atol, rtol = opts.eps or 1e-6, opts.atol or 1e-5, opts.rtol or 1e-3
  local xs = {}
  local n = select("#", table.unpack(inputs))
  n = math.max(n, #inputs)
  for i = 1, n do
    local v = inputs[i]
    if lt.is_tensor(v) and v:is_floating_point() then
      xs[i] = v:detach():to{dtype = "float64", device = "cpu", copy = true}:requires_grad_(true)
    else
      xs[i] = v
    end
  end
  local out = fn(table.unpack(xs, 1, n))
  -- a fixed random projection makes the output scalar
  local w = lt.rand(out.shape, {dtype = "float64"}) + 0.5
  local loss = (out * w):sum()
  loss:backward()
  local function f_at()
    local _ <close> = lt.no_grad()
    local o = fn(table.unpack(xs, 1, n))
    return (o * w):sum():item()
  end
  for i = 1, n do
    local x = xs[i]
    local check = lt.is_tensor(x) and x:is_floating_point()
    if opts.check then
      check = false
      for _, c in ipairs(opts.check) do check = check or c == i end
    end
    if check then
      local g = x.grad and x.grad:reshape(-1) or lt.zeros(x:numel(), {dtype = "float64"})
      local flat = x.data:reshape(-1)
      for k = 1, x:numel() do
        local v = flat[k]
        flat[k] = v + eps
        local fp = f_at()
        flat[k] = v - eps
        local fm = f_at()
        flat[k] = v
        local num = (fp - fm) / (2 * eps)
        local ana = g[k]
        if math.abs(num - ana) > atol + rtol * math.abs(num) then
          return false, ("gradcheck: input %d element %d: analytic %.8g, numeric %.8g"):format(i, k, ana, num)
        end
      end
    end
  end
  return true
end

--- A fresh temporary file name (removed by the caller).
function H.tmpname(suffix)
  local n = os.tmpname()
  os.remove(n)
  return n .. (suffix or "")
end

--- A fresh temporary directory (created; the caller removes it if it cares).
function H.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  os.execute("mkdir -p " .. d)
  return d
end

--- The whole content of file `p` (raises if it cannot be read).
function H.slurp(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

--- Writes `text` to a temporary file and returns its name.
function H.write_tmp(text, suffix)
  local n = H.tmpname(suffix or ".lua")
  local f = assert(io.open(n, "w"))
  f:write(text)
  f:close()
  return n
end

--- Runs a shell command; returns stdout+stderr text and the exit code.
function H.sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"__rc=$?\""))
  local out = p:read("a")
  p:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return out:gsub("__rc=%d+%s*$", ""), rc
end

--- Quotes a string for the shell.
function H.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Runs the host: H.run_host("-e", "print(1)") -> output, exit code.
function H.run_host(...)
  local parts = {H.LUATRAIN}
  for i = 1, select("#", ...) do parts[#parts + 1] = H.q(select(i, ...)) end
  return H.sh(table.concat(parts, " "))
end

--- True when a GPU answers (for `cuda` tagged specs).
function H.has_cuda()
  return lt.cuda.is_available()
end

return H
