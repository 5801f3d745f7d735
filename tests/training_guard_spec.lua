-- training_guard_spec.lua - lt.utils.training_guard: nothing happens until
-- interrupted; when forced it saves, prints the resume command and exits 130.
local lt = require "luatrain"
local guard_mod = require "luatrain.utils.training_guard"

describe("training_guard", function()
  it("returns false while not interrupted and records the state", function()
    local g = guard_mod{dir = "/tmp", exit = function() error("must not exit") end}
    assert.are.equal(g, guard_mod.active())
    assert.is_false(g:check({epoch = 2, step = 7}))
    assert.are.equal(7, g.state.step)
    g:close()
    assert.is_nil(guard_mod.active())
  end)

  it("saves interrupted.safetensors, prints how to resume and exits with 130", function()
    if type(lt.save_checkpoint or (lt.checkpoint or {}).save_checkpoint) ~= "function" or not lt.nn then
      pending("lt.save_checkpoint is not available")
      return
    end
    local dir = os.tmpname()
    os.remove(dir)
    local out = io.tmpfile()
    local code
    local g = guard_mod{model = lt.nn.Linear(2, 2), dir = dir, file = out, script = "train.lua",
                        exit = function(c) code = c end}
    assert.is_true(g:check({epoch = 1, step = 3}, true))
    assert.are.equal(130, code)
    out:seek("set")
    local text = out:read("a")
    assert.truthy(text:find("luatrain train.lua --resume " .. dir .. "/interrupted.safetensors", 1, true))
    local f = io.open(dir .. "/interrupted.safetensors", "rb")
    assert.truthy(f)
    f:close()
    assert.is_nil(guard_mod.active())
    os.execute("rm -rf " .. dir)
  end)

  it("catches an interrupt error unwinding through a <close> guard or run()", function()
    local saved, code = {}, nil
    local out = io.tmpfile()
    local function mk()
      return guard_mod{dir = "/tmp", file = out, exit = function(c) code = c end,
                       save_fn = function(path, st) saved[#saved + 1] = {path, st.step} end}
    end
    local ok = pcall(function()
      local g <close> = mk()
      g:check({epoch = 1, step = 9})
      error("interrupted", 0)
    end)
    assert.is_false(ok)
    assert.are.equal(130, code)
    assert.are.same({"/tmp/interrupted.safetensors", 9}, saved[1])
    -- other errors pass through without a checkpoint
    code = nil
    local g2 = mk()
    local ok2, err2 = pcall(g2.run, g2, function() error("boom", 0) end)
    assert.is_false(ok2)
    assert.are.equal("boom", err2)
    assert.is_nil(code)
    assert.are.equal(1, #saved)
    assert.are.equal(42, mk():run(function(x) return x end, 42))
    while guard_mod.active() do guard_mod.active():close() end
  end)

  it("with a guard open, a Ctrl-C in the middle of a step stops at the step's end", function()
    local H = require "tests.helpers"
    -- the script signals its own host halfway through step 3, then keeps
    -- calling functions: without the deferral the host's hook raises there
    local script = H.write_tmp([[
      local lt = require "luatrain"
      local saved
      local guard = lt.utils.training_guard{
        save_fn = function(_, ck) saved = ck.step end,
        exit = function(code) print("saved step", saved, "exit", code) os.exit(code) end,
        file = io.stdout}
      local w = lt.zeros(2)
      for step = 1, 6 do
        w:add_(1)
        if step == 3 then
          local p = io.popen("kill -INT $PPID")
          p:close()
          for _ = 1, 200 do w = w + 0 end        -- the rest of the step
          print("step 3 finished, w =", w[1], "interrupted:", lt.interrupted())
        end
        guard:check({step = step})
      end
      print("not reached")
    ]])
    local out, rc = H.run_host(script)
    assert.equal(130, rc, out)
    assert.matches("step 3 finished, w =\t3.0+\tinterrupted:\ttrue", out)
    assert.matches("saved step\t3\texit\t130", out)
    assert.not_matches("not reached", out, 1, true)
    -- no guard: the same Ctrl-C raises at the next safe point, as before
    local plain = H.write_tmp([[
      local lt = require "luatrain"
      local p = io.popen("kill -INT $PPID")
      p:close()
      for _ = 1, 200 do local _ = lt.zeros(1) + 0 end
      print("not reached")
    ]])
    out, rc = H.run_host(plain)
    assert.equal(1, rc, out)
    assert.matches("interrupted", out, 1, true)
    assert.not_matches("not reached", out, 1, true)
  end)
end)
