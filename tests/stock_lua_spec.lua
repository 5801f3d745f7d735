-- `require "luatrain"` from a stock lua5.4 (README: "also works from a stock
-- lua5.4 with LUA_CPATH=build/?.so"): the bindings built as a C module load
-- the embedded stdlib and train a step. Skipped under the sanitizers: a stock
-- lua5.4 cannot load an ASan-instrumented .so without LD_PRELOAD of libasan.
local H = require "tests.helpers"

local build = os.getenv("LUATRAIN_BUILD") or os.getenv("BUILD") or "build"

local function have_lua54()
  local _, rc = H.sh("command -v lua5.4")
  return rc == 0
end

describe("luatrain.so in a stock lua5.4", function()
  it("loads, computes gradients and steps an optimizer", function()
    if os.getenv("SANITIZE") then
      pending("SANITIZE is set: an ASan .so cannot load into a stock lua5.4 without LD_PRELOAD")
      return
    end
    if not have_lua54() then
      pending("no lua5.4 on PATH")
      return
    end
    local so = build .. "/luatrain.so"
    local f = io.open(so, "rb")
    if not f then
      pending(so .. " not built")
      return
    end
    f:close()
    local script = H.write_tmp([[
local lt = require "luatrain"
local x = lt.randn(4, 3, {requires_grad = true})
local m = lt.nn.Linear(3, 2)
local opt = lt.optim.SGD(m:parameters(), {lr = 0.1})
local loss = m(x):pow(2):mean()
loss:backward()
opt:step()
assert(x.grad and x.grad.shape[1] == 4, "no gradient")
print("stock-lua-ok " .. lt.version)
]])
    local out, rc = H.sh(("LUA_CPATH=%s lua5.4 %s"):format(H.q(build .. "/?.so"), H.q(script)))
    os.remove(script)
    assert.are.equal(0, rc, out)
    assert.is_truthy(out:find("stock-lua-ok", 1, true), out)
  end)
end)
