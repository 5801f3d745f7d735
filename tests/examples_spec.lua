-- examples_spec.lua - runs each example in its short form as a subprocess:
-- it must exit 0 and its printed loss must go down.
-- the host running this spec (busted --lua=BUILD/luatrain), else BUILD's
local function find_bin()
  local env = os.getenv("LUATRAIN_BIN")
  if env then return env end
  local i = 0
  while arg and arg[i - 1] do i = i - 1 end
  if i < 0 and tostring(arg[i]):match("luatrain$") then return arg[i] end
  local build = os.getenv("LUATRAIN_BUILD") or os.getenv("BUILD") or "build"
  return build .. "/luatrain"
end
local BIN = find_bin()

local function run(args)
  local p = io.popen(BIN .. " " .. args .. " 2>&1; echo EXIT:$?")
  local s = p:read("a")
  p:close()
  return tonumber(s:match("EXIT:(%d+)%s*$")), s
end

local function losses(out, pattern)
  local t = {}
  for v in out:gmatch(pattern) do t[#t + 1] = tonumber(v) end
  return t
end

local function expect_decrease(out, pattern)
  local l = losses(out, pattern)
  assert(#l >= 2, "fewer than two losses printed:\n" .. out)
  assert(l[#l] < l[1], ("loss did not decrease (%g -> %g):\n%s"):format(l[1], l[#l], out))
end

local function has_fashion_mnist()
  local f = io.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", "rb")
  if f then f:close() return true end
  return false
end

describe("examples", function()
  it("boilerplate.lua trains and saves the model", function()
    local out = os.tmpname()
    local code, s = run("examples/boilerplate.lua --epochs 8 --lr 0.01 --out " .. out)
    assert.are.equal(0, code, s)
    expect_decrease(s, "train (%d+%.%d+)")
    local f = io.open(out, "rb")
    assert.is_not_nil(f, "model file written")
    f:close()
    os.remove(out)
  end)

  it("custom_module/train.lua uses a module from beside the script", function()
    local code, s = run("examples/custom_module/train.lua --epochs 30")
    assert.are.equal(0, code, s)
    assert.is_truthy(s:find("Swish(beta=1)", 1, true))
    expect_decrease(s, "train (%d+%.%d+)")
  end)

  it("fashion_mnist_mlp.lua learns in a few batches", function()
    if not has_fashion_mnist() then pending("no Fashion-MNIST files") return end
    local code, s = run("examples/fashion_mnist_mlp.lua --epochs 2 --limit-batches 40")
    assert.are.equal(0, code, s)
    expect_decrease(s, "train (%d+%.%d+)")
    local acc = losses(s, "test_acc (%d%.%d+)")
    assert.is_true(acc[#acc] > 0.6, s)
  end)

  it("fashion_mnist_cnn.lua learns in a few batches", function()
    if not has_fashion_mnist() then pending("no Fashion-MNIST files") return end
    local code, s = run("examples/fashion_mnist_cnn.lua --epochs 2 --limit-batches 8 --batch-size 64")
    assert.are.equal(0, code, s)
    expect_decrease(s, "train (%d+%.%d+)")
  end)

  it("char_transformer.lua trains, evaluates and samples", function()
    local code, s = run("examples/char_transformer.lua --limit-batches 40 --n-layer 1 --n-embd 32"
                        .. " --n-head 2 --block-size 32 --batch-size 16 --device cpu")
    assert.are.equal(0, code, s)
    expect_decrease(s, "train (%d+%.%d+)")
    assert.is_truthy(s:find("---- sample ----", 1, true))
  end)

  it("char_rnn.lua trains an LSTM, evaluates and samples with top-k", function()
    local code, s = run("examples/char_rnn.lua --limit-batches 30 --hidden 64 --embed 16"
                        .. " --seq-length 32 --batch-size 16 --device cpu --sample-len 20")
    assert.are.equal(0, code, s)
    expect_decrease(s, "train (%d+%.%d+)")
    local before, after = s:match("val loss (%d+%.%d+) %-> (%d+%.%d+)")
    assert.is_truthy(before, s)
    assert.is_true(tonumber(after) < tonumber(before), s)
    local sample = s:match("%-%-%- sample %-%-%-\n(.*)$")
    assert.is_truthy(sample and #sample >= 20, s)
  end)
end)
