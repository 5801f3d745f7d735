-- cli_spec.lua - the host's subcommands (`luatrain plot ...`, any
-- luatrain.cli.NAME module) and the watch/stop/resume flow of
-- examples/watch_and_resume.lua: a short run, `luatrain plot` on its
-- metrics.csv, Ctrl-C (SIGINT) mid-epoch -> exit 130 and
-- interrupted.safetensors, then --resume continuing from the saved step.
local H = require "tests.helpers"

local run, q = H.run_host, H.q
local HOST = H.LUATRAIN
local lt = H.lt

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function exists(path) return read(path) ~= nil end

local function has_fashion_mnist()
  return exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
end

-- metrics.csv (long format) -> {key = {[step] = value}}
local function read_metrics(path)
  local out = {}
  local s = assert(read(path), "no " .. path)
  for line in s:gmatch("[^\n]+") do
    local step, key, value = line:match("^(%d+),([^,]+),(.+)$")
    if step then
      out[key] = out[key] or {}
      out[key][tonumber(step)] = tonumber(value)
    end
  end
  return out
end

local function steps_of(series)
  local t = {}
  for s in pairs(series or {}) do t[#t + 1] = s end
  table.sort(t)
  return t
end

describe("luatrain subcommands", function()
  it("are listed by --help", function()
    local out, rc = run("--help")
    assert.equal(0, rc)
    assert.matches("COMMAND [args]", out, 1, true)
    assert.matches("\n  plot %s+draw a metrics CSV", out)
  end)

  it("dispatch to luatrain.cli.NAME with the remaining arguments and its exit status", function()
    local dir = H.tmpname("_cli")
    os.execute("mkdir -p " .. q(dir .. "/luatrain/cli"))
    local f = assert(io.open(dir .. "/luatrain/cli/echoargs.lua", "w"))
    f:write([[
      --- luatrain.cli.echoargs - a test command.
      return {main = function(args)
        print("args:" .. table.concat(args, "|"), "arg0=" .. tostring(arg[0]))
        return tonumber(args[1]) or 0
      end}
    ]])
    f:close()
    local env = "LUATRAIN_PATH=" .. q(dir) .. " "
    local out, rc = H.sh(env .. HOST .. " echoargs 3 --x -o y")
    assert.equal(3, rc, out)
    assert.matches("args:3|--x|-o|y\targ0=echoargs", out, 1, true)
    out, rc = H.sh(env .. HOST .. " echoargs")
    assert.equal(0, rc, out)
    -- host options before the command still apply
    out, rc = H.sh(env .. HOST .. " --seed 3 echoargs 0")
    assert.equal(0, rc, out)
    os.execute("rm -rf " .. q(dir))
  end)

  it("lose to an existing file of the same name", function()
    local dir = H.tmpname("_clifile")
    os.execute("mkdir -p " .. q(dir))
    local f = assert(io.open(dir .. "/plot", "w"))
    f:write("print('a script named plot', ...)\n")
    f:close()
    local host = HOST:sub(1, 1) == "/" and HOST or (os.getenv("PWD") .. "/" .. HOST)
    local out, rc = H.sh("cd " .. q(dir) .. " && " .. q(host) .. " plot x")
    assert.equal(0, rc, out)
    assert.matches("a script named plot\tx", out, 1, true)
    os.execute("rm -rf " .. q(dir))
  end)

  it("reports an unknown command, a usage error (2) and a failure (1)", function()
    local out, rc = run("no_such_command_xyz")
    assert.equal(1, rc)
    assert.matches("'no_such_command_xyz' is not a command", out, 1, true)
    out, rc = run("plot")
    assert.equal(2, rc)
    assert.matches("usage: luatrain plot", out, 1, true)
    out, rc = run("plot", "--help")
    assert.equal(0, rc)
    assert.matches("usage: luatrain plot", out, 1, true)
    out, rc = run("plot", "/nonexistent/metrics.csv")
    assert.equal(1, rc)
    assert.matches("luatrain plot: cannot open /nonexistent/metrics.csv", out, 1, true)
  end)

  it("plot draws a Logger CSV as SVG", function()
    local csv = H.write_tmp("step,key,value\n1,train_loss,2.0\n2,train_loss,1.5\n2,val_loss,1.7\n" ..
                            "3,train_loss,1.1\n4,train_loss,0.9\n4,val_loss,1.2\n", ".csv")
    local svg = H.tmpname(".svg")
    local out, rc = run("plot", csv, "-o", svg, "--title", "my run")
    assert.equal(0, rc, out)
    assert.matches("wrote " .. svg .. " (2 series)", out, 1, true)
    local s = assert(read(svg))
    assert.matches("^<%?xml", s)
    assert.matches("<svg", s, 1, true)
    assert.matches("train_loss", s, 1, true)
    assert.matches("val_loss", s, 1, true)
    assert.matches("my run", s, 1, true)
    local _, npath = s:gsub("<path", "")
    assert.equal(2, npath)
    os.remove(csv)
    os.remove(svg)
  end)
end)

describe("watch_and_resume.lua", function()
  local root, example = nil, "examples/watch_and_resume.lua"
  local base = " --device cpu --run-root "

  setup(function() root = H.tmpname("_runs") end)
  teardown(function() if root then os.execute("rm -rf " .. q(root)) end end)

  it("trains, logs, checkpoints, plots, and resumes after Ctrl-C where it stopped", function()
    if not has_fashion_mnist() then pending("no Fashion-MNIST files") return end
    -- 1. the short form, uninterrupted: N steps, a loss logged at each
    local N = 60
    local out, rc = H.sh(HOST .. " " .. example .. base .. q(root) ..
                         " --run-name a --epochs 1 --limit-batches " .. N .. " --log-every 1")
    assert.equal(0, rc, out)
    assert.matches("Epoch 1: train %d+%.%d+  val_loss", out)
    local a = root .. "/a"
    for _, name in ipairs({"manifest.json", "metrics.csv", "metrics.jsonl", "last.safetensors",
                           "watch_and_resume.lua"}) do
      assert.is_true(exists(a .. "/" .. name), name .. " missing:\n" .. out)
    end
    assert.matches("events%.out%.tfevents%.", H.sh("ls " .. q(a)))
    local ma = read_metrics(a .. "/metrics.csv")
    assert.equal(N, #steps_of(ma.train_loss))
    assert.is_not_nil(ma.val_loss and ma.val_loss[N])
    local last = lt.load_checkpoint(a .. "/last.safetensors")
    assert.equal(1, last.epoch)
    assert.equal(N, last.step)

    -- 2. luatrain plot on what it logged
    local svg = root .. "/loss.svg"
    out, rc = run("plot", a .. "/metrics.csv", "-o", svg, "--keys", "train_loss,val_loss")
    assert.equal(0, rc, out)
    local s = assert(read(svg))
    assert.matches("<svg", s, 1, true)
    assert.matches("train_loss", s, 1, true)

    -- 3. Ctrl-C once the first progress line is out: exit 130, checkpoint
    local b = root .. "/b"
    local log = root .. "/b.log"
    out = H.sh(HOST .. " " .. example .. base .. q(root) .. " --run-name b --epochs 1" ..
               " > " .. q(log) .. " 2>&1 & pid=$!; " ..
               "for i in $(seq 600); do grep -q 'epoch 1/1:' " .. q(log) ..
               " 2>/dev/null && break; sleep 0.05; done; " ..
               "kill -INT $pid; wait $pid; echo \"exit=$?\"")
    local text = read(log) or ""
    assert.matches("exit=130", out, 1, true)
    assert.matches("interrupted: checkpoint written to " .. b .. "/interrupted.safetensors", text, 1, true)
    assert.matches("resume with: luatrain " .. example .. " --resume ", text, 1, true)
    local ck = b .. "/interrupted.safetensors"
    local info = lt.load_checkpoint(ck)
    local saved = math.tointeger(info.step)
    assert.is_not_nil(saved, text)
    assert.is_true(saved >= 1, text)
    assert.equal(1, info.epoch)
    assert.equal(saved, info.metadata.loader.position)
    local tensors = lt.load(ck)
    assert.is_true(lt.is_tensor(tensors["model.1.weight"]))

    -- 4. --resume continues at the next step of the same epoch (on a loaded
    -- machine the Ctrl-C may land after step N: the resumed run then goes on
    -- a few steps past it, and only the overlap with run a is compared)
    local limit = math.max(N, saved + 5)
    out, rc = H.sh(HOST .. " " .. example .. base .. q(root) .. " --run-name c --epochs 1" ..
                   " --limit-batches " .. limit .. " --log-every 1 --resume " .. q(ck))
    assert.equal(0, rc, out)
    assert.matches(("resumed from %s at epoch 1, step %d (batch %d of the epoch)")
                   :format(ck, saved, saved), out, 1, true)
    assert.matches("step " .. limit .. " ", out, 1, true)
    local mc = read_metrics(root .. "/c/metrics.csv")
    local steps = steps_of(mc.train_loss)
    assert.equal(saved + 1, steps[1])
    assert.equal(limit, steps[#steps])
    do
      -- same seed, same data order: the resumed run repeats the
      -- uninterrupted one step for step
      for _, st in ipairs(steps) do
        if st > N then break end
        assert(math.abs(mc.train_loss[st] - ma.train_loss[st]) < 1e-4,
                       ("step %d: resumed %g, uninterrupted %g"):format(st, mc.train_loss[st],
                                                                      ma.train_loss[st]))
      end
    end

    -- 5. from an end-of-epoch checkpoint the next epoch starts
    out, rc = H.sh(HOST .. " " .. example .. base .. q(root) .. " --run-name d --epochs 2" ..
                   " --limit-batches 5 --resume " .. q(a .. "/last.safetensors"))
    assert.equal(0, rc, out)
    assert.matches("at epoch 2, step " .. N .. " (batch 0 of the epoch)", out, 1, true)
    assert.matches("Epoch 2: .* step " .. (N + 5) .. " ", out)
  end)
end)
