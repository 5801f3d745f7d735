-- run_dir_spec.lua - lt.run_dir: the directory, the script copy and
-- manifest.json (read back with lt.json.decode).
local lt = require "luatrain"
local run_dir = require "luatrain.utils.run_dir"

local tmpdir = require("tests.helpers").tmpdir

local function slurp(p)
  local f = io.open(p, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

describe("lt.run_dir", function()
  it("creates root/name with the script and a manifest", function()
    local root = tmpdir()
    local script = root .. "/train.lua"
    local f = assert(io.open(script, "w"))
    f:write("print('hi')\n")
    f:close()
    local run = run_dir{root = root, name = "exp1", config = {lr = 0.01, layers = {64, 32}, fn = print},
                        seed = 42, script = script, args = {"--lr", "0.01"}}
    assert.are.equal(root .. "/exp1", run.path)
    assert.are.equal(root .. "/exp1/metrics.csv", run:file("metrics.csv"))
    assert.are.equal("print('hi')\n", slurp(run.path .. "/train.lua"))
    local text = slurp(run.path .. "/manifest.json")
    assert.truthy(text)
    local m = lt.json.decode(text)
    assert.are.equal(script, m.script)
    assert.are.same({"--lr", "0.01"}, m.args)
    assert.are.equal(0.01, m.config.lr)
    assert.are.same({64, 32}, m.config.layers)
    assert.is_nil(m.config.fn)
    assert.are.equal(42, m.seed)
    assert.are.equal(lt.version, m.luatrain_version)
    assert.are.equal(_VERSION, m.lua_version)
    assert.truthy(m.device == "cpu" or m.device == "cuda")
    assert.truthy(m.hostname and #m.hostname > 0)
    assert.truthy(m.start_time:find("^%d%d%d%d%-%d%d%-%d%dT"))
    os.execute("rm -rf " .. root)
  end)

  it("seeds the generators when given a seed", function()
    local root = tmpdir()
    run_dir{root = root, name = "a", seed = 5, script = "/nonexistent.lua"}
    local a = lt.randn(4):tolist()
    run_dir{root = root, name = "b", seed = 5, script = "/nonexistent.lua"}
    local b = lt.randn(4):tolist()
    assert.are.same(a, b)
    os.execute("rm -rf " .. root)
  end)

  it("names unnamed runs by time and never reuses a directory", function()
    local root = tmpdir()
    local r1 = run_dir{root = root, script = "/nonexistent.lua"}
    local r2 = run_dir{root = root, script = "/nonexistent.lua"}
    assert.are_not.equal(r1.path, r2.path)
    assert.truthy(r1.name:find("^%d%d%d%d%d%d%d%d%-%d%d%d%d%d%d"))
    assert.truthy(slurp(r2:file("manifest.json")))
    os.execute("rm -rf " .. root)
  end)

  it("rejects bad names", function()
    assert.has_error(function() run_dir{name = "a/b"} end)
    assert.has_error(function() run_dir{name = ""} end)
    assert.has_error(function() run_dir(5) end)
  end)
end)
