-- A short deterministic run of tests/fuzz/api_fuzz.lua (every lt function,
-- tensor method and metamethod called with random arguments under pcall) in
-- a child host, so a crash fails this spec instead of killing busted. Under
-- AddressSanitizer the child gets allocator_may_return_null=1: absurd shapes
-- must come back as Lua errors, not as ASan's allocation-size abort.
local H = require "tests.helpers"
local lt = H.lt

local function run_fuzz(seed, iters)
  local asan = os.getenv("ASAN_OPTIONS")
  asan = (asan and asan ~= "" and asan .. ":" or "") .. "allocator_may_return_null=1"
  local cmd = ("ASAN_OPTIONS=%s %s tests/fuzz/api_fuzz.lua --seed %d --iters %d"):format(
    H.q(asan), H.q(H.LUATRAIN), seed, iters)
  return H.sh(cmd)
end

describe("api fuzz", function()
  -- fewer calls under the sanitizers, which make every call ~10x slower
  local iters = os.getenv("SANITIZE") and 400 or 1500

  for _, seed in ipairs{1, 2} do
    it(("survives random calls from seed %d and ends with clean errors"):format(seed), function()
      local out, rc = run_fuzz(seed, iters)
      assert.are.equal(0, rc, out:sub(-3000))
      local calls = tonumber(out:match("api_fuzz: (%d+) calls"))
      assert.is_truthy(calls and calls >= iters, out:sub(-3000))
    end)
  end

  it("makes every method of a freed tensor a clear error", function()
    local t = lt.ones(2, 3)
    t:free()
    for name, f in pairs(lt.Tensor) do
      if type(f) == "function" and name ~= "free" then
        local ok, err = pcall(f, t, 1, 1)
        assert.is_false(ok, name .. " succeeded on a freed tensor")
        assert.is_truthy(tostring(err):find("freed", 1, true), name .. ": " .. tostring(err))
      end
    end
    assert.is_truthy(pcall(t.free, t))  -- free stays idempotent
    assert.are.equal("tensor(<freed>)", tostring(t))
  end)

  it("rejects calling the metamethods on something that is not a tensor", function()
    local mt = getmetatable(lt.ones(1))
    assert.has_error(function() return mt.__index("x", "shape") end)
    assert.has_error(function() return mt.__index({}, 1) end)
    assert.has_error(function() mt.__newindex("x", 1, 2) end)
    assert.has_error(function() mt.__newindex(io.stdout, "grad", nil) end)
  end)

  it("splits and chunks with huge counts without overflowing", function()
    local t = lt.arange(5)
    assert.are.equal(1, #t:split(math.maxinteger))
    assert.are.equal(5, #t:chunk(math.maxinteger))
    assert.has_error(function() return t:split{math.maxinteger, math.maxinteger} end)
  end)

  it("refuses shapes whose element count overflows int64", function()
    local ok, err = pcall(lt.zeros, math.maxinteger, math.maxinteger)
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("too large", 1, true), err)
    ok = pcall(lt.eye, 2^40, 2^40)
    assert.is_false(ok)
  end)
end)
