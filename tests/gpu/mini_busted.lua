-- tests/gpu/mini_busted.lua - a tiny stand-in for busted on machines that
-- have no busted installed (the GPU box): describe / it / pending and the
-- assert forms our specs use. Not a busted replacement: no hooks, no tags.
-- Usage: build/luatrain tests/gpu/mini_busted.lua tests/cuda_spec.lua ...
local passed, failed, pend = 0, 0, 0
local PENDING = {}
local prefix = {}

local function fail(msg, level) error(msg or "assertion failed", (level or 1) + 1) end

local A = setmetatable({}, {__call = function(_, v, msg, ...)
  if not v then fail(msg or "assertion failed", 2) end
  return v, msg, ...
end})
A.are = {
  equal = function(a, b)
    if a ~= b then fail(("expected %s, got %s"):format(tostring(a), tostring(b)), 2) end
  end,
  same = function(a, b) if a ~= b then fail("not the same", 2) end end,
}
A.is_true = function(v, m) if v ~= true then fail(m or "expected true", 2) end end
A.is_false = function(v, m) if v ~= false then fail(m or "expected false", 2) end end
A.is_string = function(v) if type(v) ~= "string" then fail("expected a string", 2) end end
A.is_number = function(v) if type(v) ~= "number" then fail("expected a number", 2) end end
A.is_nil = function(v) if v ~= nil then fail("expected nil", 2) end end
A.is_not_nil = function(v) if v == nil then fail("expected a value", 2) end end
A.matches = function(pat, s)
  if not tostring(s):match(pat) then fail(("%q does not match %q"):format(tostring(s), pat), 2) end
end
A.has_error = function(f) if pcall(f) then fail("expected an error", 2) end end
A.equal, A.same, A.True, A.False = A.are.equal, A.are.same, A.is_true, A.is_false
_G.assert = A

function _G.pending() error(PENDING, 0) end
function _G.describe(name, fn)
  prefix[#prefix + 1] = name
  fn()
  prefix[#prefix] = nil
end
function _G.it(name, fn)
  local full = table.concat(prefix, " ") .. " " .. name
  local ok, err = xpcall(fn, function(e) return e == PENDING and e or debug.traceback(tostring(e), 2) end)
  if ok then passed = passed + 1; print("ok     " .. full)
  elseif err == PENDING then pend = pend + 1; print("pend   " .. full)
  else failed = failed + 1; print("FAIL   " .. full .. "\n" .. tostring(err)) end
end
local function nop() end
_G.before_each, _G.after_each, _G.setup, _G.teardown = nop, nop, nop, nop

for _, f in ipairs(arg) do dofile(f) end
print(("mini_busted: %d passed, %d failed, %d pending"):format(passed, failed, pend))
os.exit(failed == 0 and 0 or 1)
