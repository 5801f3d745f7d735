-- data_spec.lua - lt.data: TensorDataset, DataLoader (batching, shuffle,
-- resume), generic datasets + collate, FashionMNIST, transforms, CharDataset.
local lt = require "luatrain"
local data = lt.data
pcall(require, "tests.helpers")

local function flat(t) return t:reshape(-1):tolist() end

local function same(a, b)
  assert.are.same(a.shape, b.shape)
  assert.are.same(flat(a), flat(b))
end

local function collect(loader)
  local out = {}
  for xb, yb in loader:iter() do out[#out + 1] = {xb, yb} end
  return out
end

describe("TensorDataset", function()
  it("has the length of its tensors and returns the i-th rows", function()
    local X = lt.arange(0, 12, 1, {dtype = "float32"}):view(6, 2)
    local y = lt.arange(1, 7, 1, {dtype = "int64"})
    local ds = data.TensorDataset(X, y)
    assert.are.equal(6, #ds)
    local x3, y3 = ds:get(3)
    assert.are.same({4, 5}, x3:tolist())
    assert.are.equal(3, y3)
    local xl = ds:get(-1)
    assert.are.same({10, 11}, xl:tolist())
  end)

  it("rejects mismatched sizes, non-tensors and bad indices", function()
    assert.has_error(function() data.TensorDataset(lt.zeros(3, 2), lt.zeros(4)) end)
    assert.has_error(function() data.TensorDataset({1, 2}) end)
    assert.has_error(function() data.TensorDataset() end)
    local ds = data.TensorDataset(lt.zeros(3, 2))
    assert.has_error(function() ds:get(4) end)
    assert.has_error(function() ds:get(1.5) end)
  end)
end)

describe("DataLoader", function()
  local X = lt.arange(0, 20, 1, {dtype = "float32"}):view(10, 2)
  local y = lt.arange(1, 11, 1, {dtype = "int64"})
  local ds = data.TensorDataset(X, y)

  it("counts batches with and without drop_last", function()
    assert.are.equal(4, #data.DataLoader(ds, {batch_size = 3}))
    assert.are.equal(3, #data.DataLoader(ds, {batch_size = 3, drop_last = true}))
    assert.are.equal(10, #data.DataLoader(ds))
    local b = collect(data.DataLoader(ds, {batch_size = 3}))
    assert.are.equal(4, #b)
    assert.are.same({3, 2}, b[1][1].shape)
    assert.are.same({1, 2}, b[4][1].shape)
    assert.are.same({10}, b[4][2]:tolist())
    assert.are.equal(3, #collect(data.DataLoader(ds, {batch_size = 3, drop_last = true})))
  end)

  it("keeps order without shuffle and covers every sample with shuffle", function()
    local b = collect(data.DataLoader(ds, {batch_size = 4}))
    assert.are.same({1, 2, 3, 4}, b[1][2]:tolist())
    local seen = {}
    for _, xy in ipairs(collect(data.DataLoader(ds, {batch_size = 4, shuffle = true}))) do
      local ys, xs = xy[2]:tolist(), xy[1]:tolist()
      for i, v in ipairs(ys) do
        seen[#seen + 1] = v
        assert.are.same({2 * (v - 1), 2 * (v - 1) + 1}, xs[i])   -- rows stay paired
      end
    end
    table.sort(seen)
    assert.are.same({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, seen)
  end)

  it("shuffles reproducibly under lt.seed_everything and with seed=", function()
    local function order(opts)
      local o = {}
      for _, xy in ipairs(collect(data.DataLoader(ds, opts))) do
        for _, v in ipairs(xy[2]:tolist()) do o[#o + 1] = v end
      end
      return o
    end
    lt.seed_everything(7)
    local a = order({batch_size = 3, shuffle = true})
    lt.seed_everything(7)
    local b = order({batch_size = 3, shuffle = true})
    assert.are.same(a, b)
    local c = order({batch_size = 3, shuffle = true, seed = 3})
    lt.seed_everything(123)
    local d = order({batch_size = 3, shuffle = true, seed = 3})
    assert.are.same(c, d)
    -- consecutive epochs differ
    local loader = data.DataLoader(ds, {batch_size = 10, shuffle = true, seed = 1})
    local e1 = collect(loader)[1][2]:tolist()
    local e2 = collect(loader)[1][2]:tolist()
    assert.are_not.same(e1, e2)
    assert.are.equal(2, loader.epoch)
  end)

  it("resumes mid-epoch from state_dict with the same remaining batches", function()
    lt.seed_everything(11)
    local a = data.DataLoader(ds, {batch_size = 3, shuffle = true})
    local it = a:iter()
    it(); it()
    local sd = a:state_dict()
    assert.are.equal(1, sd.epoch)
    assert.are.equal(2, sd.position)
    local rest = {}
    for _, yb in it do rest[#rest + 1] = yb:tolist() end
    assert.are.equal(2, #rest)
    local b = data.DataLoader(ds, {batch_size = 3, shuffle = true})
    b:load_state_dict(sd)
    local resumed = {}
    for _, yb in b:iter() do resumed[#resumed + 1] = yb:tolist() end
    assert.are.same(rest, resumed)
    -- afterwards a new epoch starts
    assert.are.equal(4, #collect(b))
    assert.are.equal(2, b.epoch)
    -- a permutation given as a Lua table works too
    local c = data.DataLoader(ds, {batch_size = 3, shuffle = true})
    c:load_state_dict({epoch = 1, position = 2, batch_size = 3,
                       permutation = sd.permutation:tolist()})
    local r2 = {}
    for _, yb in c:iter() do r2[#r2 + 1] = yb:tolist() end
    assert.are.same(rest, r2)
  end)

  it("rejects a state for another batch size or dataset", function()
    local a = data.DataLoader(ds, {batch_size = 3})
    assert.has_error(function() a:load_state_dict({epoch = 1, position = 1, batch_size = 4}) end)
    assert.has_error(function() a:load_state_dict({epoch = 1, position = 1, n = 99}) end)
  end)

  it("uses a sampler and a batch transform", function()
    local loader = data.DataLoader(ds, {batch_size = 2, sampler = function() return {10, 9, 1} end,
                                        transform = function(x) return x * 0 end})
    assert.are.equal(2, #loader)
    local b = collect(loader)
    assert.are.same({10, 9}, b[1][2]:tolist())
    assert.are.same({{0, 0}, {0, 0}}, b[1][1]:tolist())
  end)

  it("batches a generic dataset through collate", function()
    local Gen = {}
    Gen.__index = Gen
    Gen.__len = function() return 5 end
    function Gen:get(i) return lt.full({2}, i), i, {id = i, w = i * 0.5} end
    local g = setmetatable({}, Gen)
    local loader = data.DataLoader(g, {batch_size = 2})
    assert.are.equal(3, #loader)
    local n = 0
    for x, idx, meta in loader:iter() do
      n = n + 1
      if n == 1 then
        assert.are.same({{1, 1}, {2, 2}}, x:tolist())
        assert.are.equal("int64", idx.dtype)
        assert.are.same({1, 2}, idx:tolist())
        assert.are.same({1, 2}, meta.id:tolist())
        assert.are.equal("float32", meta.w.dtype)
      end
    end
    assert.are.equal(3, n)
    -- custom collate_fn gets the list of samples
    local l2 = data.DataLoader(g, {batch_size = 5, collate_fn = function(s) return #s, s[5][2] end})
    local count, last = l2:iter()()
    assert.are.equal(5, count)
    assert.are.equal(5, last)
  end)

  it("collate refuses mixed kinds", function()
    assert.has_error(function() data.collate({1, lt.zeros(1)}) end)
    assert.has_error(function() data.collate({}) end)
  end)

  it("rejects bad options", function()
    assert.has_error(function() data.DataLoader(ds, {batch_size = 0}) end)
    assert.has_error(function() data.DataLoader(ds, {batch_size = 1.5}) end)
    assert.has_error(function() data.DataLoader(42) end)
    assert.has_error(function() data.DataLoader({}) end)
  end)
end)

local has_fmnist = io.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", "rb")
if has_fmnist then has_fmnist:close() end

describe("FashionMNIST", function()
  it("loads the test split as float images in [0,1] and labels 1..10", function()
    if not has_fmnist then pending("dataset-fashion-mnist is not installed") return end
    local ds = data.FashionMNIST{split = "test"}
    assert.are.equal(10000, #ds)
    assert.are.same({10000, 1, 28, 28}, ds.data.shape)
    assert.are.equal("float32", ds.data.dtype)
    assert.are.equal("int64", ds.targets.dtype)
    assert.is_true(ds.data:min():item() >= 0)
    assert.is_true(ds.data:max():item() <= 1 and ds.data:max():item() > 0.99)
    assert.are.equal(1, ds.targets:min():item())
    assert.are.equal(10, ds.targets:max():item())
    local x, label = ds:get(1)
    assert.are.same({1, 28, 28}, x.shape)
    assert.are.equal(10, label)        -- the first test image is an ankle boot (9 + 1)
    local loader = data.DataLoader(ds, {batch_size = 256, shuffle = true})
    assert.are.equal(40, #loader)
    local xb, yb = loader:iter()()
    assert.are.same({256, 1, 28, 28}, xb.shape)
    assert.are.same({256}, yb.shape)
  end)

  it("names the file and the package when files are missing", function()
    local ok, err = pcall(data.FashionMNIST, {root = "/nonexistent-dir"})
    assert.is_false(ok)
    assert.truthy(tostring(err):find("train%-images%-idx3%-ubyte", 1))
    assert.truthy(tostring(err):find("apt-get install dataset-fashion-mnist", 1, true))
    assert.has_error(function() data.FashionMNIST{split = "dev"} end)
  end)
end)

describe("transforms", function()
  local T = data.transforms
  local x = lt.arange(0, 2 * 1 * 4 * 4, 1, {dtype = "float32"}):view(2, 1, 4, 4)

  it("Normalize subtracts the mean and divides by the std per channel", function()
    local y = T.Normalize(1, 2)(x)
    same(y, (x - 1) / 2)
    local x3 = lt.ones(2, 3, 2, 2)
    local y3 = T.Normalize({1, 0, 1}, {1, 1, 0.5})(x3)
    assert.are.same({0, 1, 0}, y3[1]:select(2, 1):select(2, 1):tolist())
    assert.has_error(function() T.Normalize({1, 2}, {1})(x) end)
    assert.has_error(function() T.Normalize({1, 2}, {1, 1})(x3) end)
  end)

  it("RandomHorizontalFlip flips all with p=1, none with p=0, reproducibly otherwise", function()
    same(T.RandomHorizontalFlip(1)(x), x:flip({4}))
    same(T.RandomHorizontalFlip(0)(x), x)
    local big = lt.rand(64, 1, 3, 5)
    lt.seed_everything(3)
    local a = T.RandomHorizontalFlip(0.5)(big)
    lt.seed_everything(3)
    local b = T.RandomHorizontalFlip(0.5)(big)
    same(a, b)
    -- each image is either itself or its mirror
    local f = big:flip({4})
    local n_flipped = 0
    for i = 1, 64 do
      local ai = flat(a[i])
      if ai[1] == flat(f[i])[1] and ai[1] ~= flat(big[i])[1] then n_flipped = n_flipped + 1 end
      assert.is_true(ai[1] == flat(big[i])[1] or ai[1] == flat(f[i])[1])
    end
    assert.is_true(n_flipped > 5 and n_flipped < 59)
    assert.has_error(function() T.RandomHorizontalFlip(2) end)
  end)

  it("RandomCrop keeps the size, is a window of the padded image, and is reproducible", function()
    local c = T.RandomCrop(4, {padding = 1})
    lt.seed_everything(5)
    local a = c(x)
    lt.seed_everything(5)
    local b = c(x)
    assert.are.same({2, 1, 4, 4}, a.shape)
    same(a, b)
    same(T.RandomCrop(4)(x), x)            -- no padding: the only crop is the image
    local small = T.RandomCrop(2)(x)
    assert.are.same({2, 1, 2, 2}, small.shape)
    local s = small:tolist()[1][1]
    assert.are.equal(s[1][1] + 1, s[1][2])  -- consecutive columns
    assert.are.equal(s[1][1] + 4, s[2][1])  -- consecutive rows
    assert.has_error(function() T.RandomCrop(6)(x) end)
  end)

  it("Compose chains and works on a single {C,H,W} image", function()
    local t = T.Compose{T.RandomHorizontalFlip(1), T.Normalize(0, 2)}
    same(t(x), x:flip({4}) / 2)
    assert.are.same({1, 4, 4}, t(x[1]).shape)
    assert.has_error(function() T.Compose{1} end)
  end)
end)

describe("CharDataset", function()
  local text = "hello world, hello luatrain\n"

  it("builds a sorted byte vocabulary and round-trips encode/decode", function()
    local ds = data.CharDataset{text = text, block_size = 4, split = "all"}
    local uniq = {}
    for ch in text:gmatch(".") do uniq[ch] = true end
    local n = 0
    for _ in pairs(uniq) do n = n + 1 end
    assert.are.equal(n, ds.vocab_size)
    assert.are.equal("\n", ds.itos[1])
    local ids = ds:encode("hello")
    assert.are.equal("int64", ids.dtype)
    assert.are.equal("hello", ds:decode(ids))
    assert.are.equal("low", ds:decode(ds:encode("low"):tolist()))
    assert.are.equal(text, ds:decode(ds.ids))
    assert.has_error(function() ds:encode("Z") end)
    assert.has_error(function() ds:decode({0}) end)
  end)

  it("gives shifted windows and random batches", function()
    local ds = data.CharDataset{text = text, block_size = 4, split = "all"}
    assert.are.equal(#text - 4, #ds)
    local x, y = ds:get(1)
    assert.are.equal("hell", ds:decode(x))
    assert.are.equal("ello", ds:decode(y))
    local xb, yb = ds:batch(8)
    assert.are.same({8, 4}, xb.shape)
    assert.are.same({8, 4}, yb.shape)
    local xs, ys = xb:tolist(), yb:tolist()
    for b = 1, 8 do
      local sx, sy = ds:decode(xs[b]), ds:decode(ys[b])
      assert.are.equal(sx:sub(2), sy:sub(1, 3))
      assert.truthy(text:find(sx .. sy:sub(4), 1, true))
    end
  end)

  it("splits train/val by val_fraction with a shared vocabulary", function()
    local long = string.rep("abcdefghij", 10)
    local tr = data.CharDataset{text = long, block_size = 3}
    local va = data.CharDataset{text = long, block_size = 3, split = "val", val_fraction = 0.2}
    assert.are.equal(90, tr.ids:numel())
    assert.are.equal(20, va.ids:numel())
    assert.are.equal(tr.vocab_size, va.vocab_size)
    assert.are.equal(data.TextDataset, data.CharDataset)
  end)

  it("reads the fortunes files by default", function()
    local f = io.open("/usr/share/games/fortunes/fortunes", "rb")
    if not f then pending("fortunes is not installed") return end
    f:close()
    local ds = data.CharDataset{block_size = 32}
    assert.is_true(#ds > 100000)
    assert.is_true(ds.vocab_size > 60 and ds.vocab_size <= 256)
  end)

  it("rejects bad input", function()
    assert.has_error(function() data.CharDataset{text = "abc"} end)
    assert.has_error(function() data.CharDataset{text = "abc", block_size = 8} end)
    assert.has_error(function() data.CharDataset{text = "abc", block_size = 1, split = "x"} end)
    assert.has_error(function() data.CharDataset{path = "/nonexistent.txt", block_size = 2} end)
  end)
end)
