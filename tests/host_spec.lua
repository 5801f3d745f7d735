-- The luatrain executable, run as a subprocess: options, script arguments,
-- errors and exit status, stdin, lt.args, LUATRAIN_PATH, the REPL and
-- SIGINT handling.
local H = require "tests.helpers"

local run, q = H.run_host, H.q
local HOST = H.LUATRAIN

describe("luatrain host", function()
  it("runs -e statements with lt preloaded", function()
    local out, rc = run("-e", "print(1 + 1, lt.version, require('luatrain') == lt)")
    assert.equal(0, rc)
    assert.matches("2\t0.1.0\ttrue", out, 1, true)
  end)

  it("prints the version with -v and usage with -h", function()
    local out, rc = run("-v")
    assert.equal(0, rc)
    assert.matches("^luatrain %d+%.%d+%.%d+", out)
    out, rc = run("--help")
    assert.equal(0, rc)
    assert.matches("usage: ", out, 1, true)
    assert.matches("--device", out, 1, true)
    out, rc = run("--bogus")
    assert.equal(1, rc)
    assert.matches("unrecognized option '--bogus'", out, 1, true)
  end)

  it("passes script arguments in arg and ...", function()
    local s = H.write_tmp([[
      print("arg0=" .. arg[0], "n=" .. select("#", ...), "a1=" .. arg[1], "a2=" .. tostring((...)))
      print("neg=" .. tostring(arg[-1]))
    ]])
    local out, rc = run("-e", "x = 1", s, "--lr", "0.5")
    assert.equal(0, rc)
    assert.matches("arg0=" .. s, out, 1, true)
    assert.matches("n=2", out, 1, true)
    assert.matches("a1=--lr", out, 1, true)
    assert.matches("a2=--lr", out, 1, true)
    assert.matches("neg=x = 1", out, 1, true)
    os.remove(s)
  end)

  it("exits 1 with the message and a traceback on error", function()
    local s = H.write_tmp([[
      local function inner() error("boom here") end
      inner()
    ]])
    local out, rc = run(s)
    assert.equal(1, rc)
    assert.matches("luatrain: ", out, 1, true)
    assert.matches("boom here", out, 1, true)
    assert.matches("stack traceback:", out, 1, true)
    assert.matches("in local 'inner'", out, 1, true)
    os.remove(s)
    out, rc = run("/nonexistent/script.lua")
    assert.equal(1, rc)
    assert.matches("cannot open /nonexistent/script.lua", out, 1, true)
  end)

  it("runs stdin with -", function()
    local out, rc = H.sh("echo 'print(\"from stdin\", ...)' | " .. HOST .. " - a b")
    assert.equal(0, rc)
    assert.matches("from stdin\ta\tb", out, 1, true)
  end)

  it("requires libraries with -l mod and -l g=mod", function()
    local out, rc = run("-l", "string", "-l", "J=luatrain", "-e", "print(type(J.tensor), type(string.rep))")
    assert.equal(0, rc)
    assert.matches("function\tfunction", out, 1, true)
  end)

  it("seeds with --seed and sets the device with --device", function()
    local a = run("--seed", "5", "-e", "print(lt.rand(1):item())")
    local b = run("--seed=5", "-e", "print(lt.rand(1):item())")
    local c = run("-e", "lt.seed_everything(5) print(lt.rand(1):item())")
    assert.equal(a, b)
    assert.equal(a, c)
    local out, rc = run("--device", "cpu", "-e", "print(lt.get_default_device(), lt.zeros(1).device)")
    assert.equal(0, rc)
    assert.matches("cpu\tcpu", out, 1, true)
    out, rc = run("--device", "tpu", "-e", "print(1)")
    assert.equal(1, rc)
    assert.matches("--device", out, 1, true)
    local _, rc2 = run("--seed", "abc", "-e", "print(1)")
    assert.equal(1, rc2)
  end)

  it("does not load stdlib submodules at start", function()
    local out = run("-e", "print(package.loaded['luatrain.nn'] == nil, " ..
                          "package.loaded['luatrain.optim'] == nil)")
    assert.matches("true\ttrue", out, 1, true)
  end)

  it("starts quickly", function()
    local s = H.write_tmp("local x = 1\n")
    local lt = H.lt
    local t0 = lt.time()
    for _ = 1, 10 do H.sh(HOST .. " " .. s) end
    local per = (lt.time() - t0) / 10
    os.remove(s)
    -- 20 ms on an idle machine; generous here since the suite shares the CPU
    assert.is_true(per < 0.25, ("startup took %.1f ms"):format(per * 1000))
  end)

  it("parses options with lt.args", function()
    local s = H.write_tmp([[
      local lt = require "luatrain"
      local o, rest = lt.args{lr = 1e-3, epochs = 10, name = "run", shuffle = true, batch_size = 32}
      print(o.lr, o.epochs, math.type(o.epochs), o.name, o.shuffle, o.batch_size, #rest)
    ]])
    local out, rc = run(s, "--lr", "0.5", "--epochs=7", "--no-shuffle", "--name", "foo", "--batch-size", "8")
    assert.equal(0, rc)
    assert.matches("0.5\t7\tinteger\tfoo\tfalse\t8\t0", out, 1, true)
    out = run(s, "--shuffle", "false")
    assert.matches("\tfalse\t32\t0", out, 1, true)
    out = run(s, "--shuffle")
    assert.matches("\ttrue\t32\t0", out, 1, true)
    out, rc = run(s, "--help")
    assert.equal(0, rc)
    assert.matches("--lr", out, 1, true)
    assert.matches("default: 10", out, 1, true)
    assert.matches("--batch-size", out, 1, true)
    out, rc = run(s, "--bogus", "1")
    assert.equal(1, rc)
    assert.matches("unknown option '--bogus'", out, 1, true)
    out, rc = run(s, "--epochs", "abc")
    assert.equal(1, rc)
    assert.matches("--epochs expects an integer, got 'abc'", out, 1, true)
    out, rc = run(s, "--lr")
    assert.equal(1, rc)
    assert.matches("needs a value", out, 1, true)
    os.remove(s)
  end)

  it("parses a given argv in-process", function()
    local args = H.lt.args
    local o, rest = args({k = 1, f = false}, {argv = {"--k", "3", "--f", "pos"}})
    assert.equal(3, o.k)
    assert.is_true(o.f)
    assert.same({"pos"}, rest)
    local code
    local sink = {write = function() end, flush = function() end}
    args({k = 1}, {argv = {"--help"}, exit = function(c) code = c end, output = sink})
    assert.equal(0, code)
  end)

  it("finds modules on LUATRAIN_PATH before the stdlib", function()
    local dir = H.tmpname("_ltpath")
    os.execute("mkdir -p " .. q(dir .. "/luatrain"))
    local f = assert(io.open(dir .. "/mymod.lua", "w"))
    f:write("return {x = 42}\n")
    f:close()
    f = assert(io.open(dir .. "/luatrain/args.lua", "w"))
    f:write("return function() return 'overridden' end\n")
    f:close()
    local out, rc = H.sh("LUATRAIN_PATH=" .. q(dir) .. " " .. HOST ..
                         " -e " .. q("print(require('mymod').x, lt.args())"))
    assert.equal(0, rc)
    assert.matches("42\toverridden", out, 1, true)
    out = H.sh("LUATRAIN_PATH=" .. q(dir .. "/?.lua") .. " " .. HOST ..
               " -e " .. q("print(require('mymod').x)"))
    assert.matches("42", out, 1, true)
    out = run("-e", "require('no_such_module_xyz')")
    assert.matches("module 'no_such_module_xyz' not found", out, 1, true)
    os.execute("rm -rf " .. q(dir))
  end)

  it("makes idle OpenMP threads spin briefly unless the environment chose", function()
    local show = q("print(os.getenv('OMP_WAIT_POLICY'), os.getenv('GOMP_SPINCOUNT'))")
    local out = H.sh("env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT " .. HOST .. " -e " .. show)
    assert.matches("^nil\t3000", out)
    out = H.sh("env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active " .. HOST .. " -e " .. show)
    assert.matches("^active\tnil", out)
    out = H.sh("env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=100000 " .. HOST .. " -e " .. show)
    assert.matches("^nil\t100000", out)
  end)

  it("runs a REPL on stdin: expressions, multi-line input, errors", function()
    local input = "1 + 1\nx =\n5\nprint('x is', x)\nerror('oops')\nprint('still here', lt ~= nil)\n"
    local out, rc = H.sh("printf " .. q(input) .. " | " .. HOST)
    assert.equal(0, rc)
    assert.matches("2", out, 1, true)
    assert.matches("x is\t5", out, 1, true)
    assert.matches("oops", out, 1, true)
    assert.matches("still here\ttrue", out, 1, true)
  end)

  it("pretty-prints tensors and several results in the piped REPL", function()
    local input = "lt.tensor{{1, 2}, {3, 4}} * 2\nlt.ones(2), 'two', nil\nlt.zeros(2, 3):view(4)\n" ..
                  "lt.arange(3)\n"
    local out, rc = H.sh("printf " .. q(input) .. " | " .. HOST)
    assert.equal(0, rc)
    assert.matches("tensor([[2, 4],\n        [6, 8]])", out, 1, true)
    assert.matches("tensor([1.0000, 1.0000])\ttwo\tnil", out, 1, true)
    assert.matches("view: shape '{4}' is invalid for input of size 6", out, 1, true)
    assert.matches("tensor([0, 1, 2])", out, 1, true)
  end)

  it("on a terminal: readline history kept across sessions, Ctrl-C drops the line", function()
    if select(2, H.sh("command -v script")) ~= 0 then pending("no script(1)") return end
    if select(2, H.sh("ldd " .. q(HOST) .. " | grep -q libreadline")) ~= 0 then
      pending("built without readline") return
    end
    local hist = H.tmpname(".hist")
    -- script(1) runs the command through $SHELL -c; `exec` keeps that shell
    -- out of the terminal's process group, else a shell like dash that sees
    -- the Ctrl-C too kills itself with SIGINT once the host exits (rc 130)
    local keys = "(sleep 1; printf 'x = 1 +'; sleep 0.3; printf '\\003'; sleep 0.4; " ..
                 "printf 'print(40 + 2)\\r'; sleep 0.4; printf 'lt.ones(2)\\r'; sleep 0.3; " ..
                 "printf '\\004'; sleep 0.3)"
    local out, rc = H.sh(keys .. " | LUATRAIN_HISTORY=" .. q(hist) .. " script -qec " ..
                         q("exec " .. q(HOST)) .. " /dev/null")
    assert.equal(0, rc, out)
    out = out:gsub("\27%[[%d;?]*[a-zA-Z]", ""):gsub("\r", "")
    assert.matches("luatrain %d+%.%d+%.%d+", out)
    assert.matches("KeyboardInterrupt\n> print(40 + 2)\n42\n", out, 1, true)
    assert.matches("tensor([1.0000, 1.0000])", out, 1, true)
    local f = assert(io.open(hist))
    local h = f:read("a")
    f:close()
    os.remove(hist)
    assert.matches("print(40 + 2)\nlt.ones(2)", h, 1, true)
    assert.not_matches("x = 1 +", h, 1, true)
  end)

  it("turns SIGINT into an error at a safe point and runs <close> handlers", function()
    local s = H.write_tmp([[
      local lt = require "luatrain"
      do
        local _ <close> = setmetatable({}, {__close = function()
          print("closed", lt.interrupted())
          io.stdout:flush()
        end})
        print("started")
        io.stdout:flush()
        local i = 0
        while true do i = i + 1 end
      end
    ]])
    local log = H.tmpname(".log")
    local cmd = HOST .. " " .. q(s) .. " > " .. q(log) .. " 2>&1 & pid=$!; " ..
                "for i in $(seq 100); do grep -q started " .. q(log) ..
                " 2>/dev/null && break; sleep 0.05; done; " ..
                "kill -INT $pid; wait $pid; echo \"exit=$?\""
    local out = H.sh(cmd)
    local f = assert(io.open(log))
    local text = f:read("a")
    f:close()
    assert.matches("exit=1", out, 1, true)
    assert.matches("started", text, 1, true)
    assert.matches("closed\ttrue", text, 1, true)
    assert.matches("interrupted", text, 1, true)
    os.remove(s)
    os.remove(log)
  end)
end)
