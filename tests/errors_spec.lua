-- Errors from the Lua API: each is a Lua error naming the function and the
-- argument (or option), never a crash.
local H = require "tests.helpers"
local lt = H.lt

-- pcall(fn) must fail with a message containing every plain string given
local function fails_with(fn, ...)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  err = tostring(err)
  for i = 1, select("#", ...) do
    local want = select(i, ...)
    assert.is_truthy(err:find(want, 1, true), ("error %q does not mention %q"):format(err, want))
  end
  return err
end

describe("argument errors", function()
  it("names non-tensor arguments", function()
    fails_with(function() return lt.add({}, 1) end, "bad argument #1", "add", "tensor expected, got table")
    fails_with(function() return lt.ones(2):add("x") end, "add", "tensor or number expected, got string")
    fails_with(function() return lt.ones(2):matmul(3) end, "matmul", "tensor expected, got number")
    fails_with(function() return lt.cat({lt.ones(1), 5}) end, "cat", "element 2")
  end)

  it("names bad shapes", function()
    fails_with(function() return lt.ones(2, 3) + lt.ones(4) end, "add", "{2, 3}", "{4}")
    fails_with(function() return lt.ones(2, 3):matmul(lt.ones(2, 3)) end, "matmul", "{2, 3}")
    fails_with(function() return lt.ones(2, 3):view(4) end, "view", "{4}")
    fails_with(function() return lt.ones(2, 3):view("a") end, "view",
               "number or table expected, got string")
    fails_with(function() return lt.zeros(-1) end, "zeros", "negative size")
    fails_with(function() return lt.tensor{{1, 2}, {3}} end, "tensor", "inconsistent")
  end)

  it("names the function called, not an inner op, for wrong dtypes", function()
    local F = lt.nn.functional
    fails_with(function() return F.mse_loss(lt.tensor{true, false}, lt.tensor{true, true}) end,
               "mse_loss", "'input'", "floating-point", "bool")
    fails_with(function() return F.one_hot(lt.tensor{true, false}) end,
               "one_hot", "'input'", "integer tensor", "bool", "{2}")
    -- flip of a 0-d tensor is a copy, as in PyTorch
    local t = lt.tensor(3)
    local f = t:flip(1)
    assert.equal(3, f:item())
    f:fill_(5)
    assert.equal(3, t:item())
  end)

  it("names out of range dims and indices", function()
    fails_with(function() return lt.ones(2, 3):sum(4) end, "sum",
               "dim 4 out of range for tensor of dimension 2")
    fails_with(function() return lt.ones(2, 3):transpose(1, -3) end, "transpose", "dim -3 out of range")
    fails_with(function() return lt.ones(2, 3):unsqueeze(5) end, "unsqueeze", "dim 5 out of range")
    fails_with(function() return lt.ones(3)[4] end, "index 4 out of range")
    fails_with(function() return lt.ones(3):narrow(1, 3, 2) end, "narrow", "length 2 out of range")
    fails_with(function() return lt.ones(3):select(1, 0) end, "select", "index 0 out of range")
    fails_with(function() return lt.ones(2):index_select(1, lt.tensor{3}) end, "index_select", "3")
    fails_with(function() return lt.cross_entropy(lt.ones(2, 3), lt.tensor{1, 4}) end, "4", "out of range")
  end)

  it("names bad dtypes and devices", function()
    fails_with(function() return lt.zeros(2, {dtype = "bogus"}) end, "zeros", "unknown dtype 'bogus'")
    fails_with(function() return lt.zeros(2, {device = "tpu"}) end, "zeros", "unknown device 'tpu'")
    fails_with(function() return lt.ones(2):to("tpu") end, "to", "tpu")
    fails_with(function() return lt.ones(2):index_select(1, lt.tensor{1.0}) end, "index_select", "int64")
    fails_with(function() lt.ones(2):long():exp_() end, "exp_")
    if not lt.cuda.is_available() then
      fails_with(function() return lt.zeros(2, {device = "cuda"}) end, "cuda")
    end
  end)

  it("rejects unknown options by name", function()
    fails_with(function() return lt.zeros(2, {dtpye = "float32"}) end, "zeros: unknown option 'dtpye'")
    fails_with(function() return lt.ones(2):sum(1, {keepdims = true}) end, "sum: unknown option 'keepdims'")
    fails_with(function() return lt.conv2d(lt.ones(1, 1, 3, 3), lt.ones(1, 1, 1, 1), nil, {strides = 1}) end,
               "conv2d: unknown option 'strides'")
    fails_with(function() return lt.cross_entropy(lt.ones(1, 2), lt.tensor{1}, {reduction = "avg"}) end,
               "cross_entropy", "reduction")
    fails_with(function() return lt.ones(2):gelu{approximate = "fast"} end, "gelu", "fast")
    fails_with(function() lt.backends.speed = true end, "backends", "speed")
    fails_with(function() return lt.zeros(2, {requires_grad = "yes"}) end, "requires_grad", "boolean")
  end)

  it("reports freed tensors", function()
    local t = lt.ones(2)
    t:free()
    fails_with(function() return t + 1 end, "tensor has been freed")
    fails_with(function() return lt.cat({t}) end, "freed")
  end)

  it("reports item on many elements and len of 0-d tensors", function()
    fails_with(function() return lt.ones(2):item() end, "item", "2 elements")
    fails_with(function() return #lt.tensor(1.0) end, "0-d")
  end)
end)

describe("engine errors count as the user does", function()
  it("gives 1-based dims and positions in shape errors", function()
    fails_with(function() return lt.cat({lt.zeros(2, 3), lt.zeros(2, 3), lt.zeros(3, 4)}, 2) end,
               "cat: sizes of tensors must match except in dimension 2: tensor 1 has shape {2, 3} " ..
               "but tensor 3 has shape {3, 4}")
    fails_with(function() return lt.cat({lt.zeros(2, 3), lt.zeros(2, 4)}, 1) end,
               "except in dimension 1:", "but tensor 2 has shape {2, 4}")
    fails_with(function() return lt.stack({lt.zeros(2, 3), lt.zeros(2, 4)}) end,
               "got {2, 3} at entry 1 and {2, 4} at entry 2")
    fails_with(function() return lt.zeros(2, 3):expand(2, 4) end,
               "expand:", "existing size (3) at non-singleton dimension 2.")
    fails_with(function() return lt.zeros(2, 3) + lt.zeros(4) end,
               "add: shapes {2, 3} and {4} are not broadcastable",
               "must match the size of tensor b (4) at non-singleton dimension 2")
    fails_with(function() return lt.zeros(4, 2, 3) * lt.zeros(5, 1, 3) end, "at non-singleton dimension 1")
    fails_with(function() return lt.zeros(3, 5):gather(2, lt.ones(4, 1, {dtype = "int64"})) end,
               "gather:", "outside dim 2")
    fails_with(function() return lt.zeros(3, 5):index_add(2, lt.tensor{1}, lt.ones(3, 2)) end,
               "index_add:", "along dim 2")
    fails_with(function() return lt.zeros(3, 5):sum({2, 2}) end, "sum: dim 2 appears multiple times")
    fails_with(function() return lt.zeros(3, 5):permute(2, 2) end, "permute: repeated dim 2")
    fails_with(function() return lt.zeros(3, 0):max(2) end, "reduction dim 2 to have non-zero size")
    fails_with(function() return lt.pad(lt.zeros(1, 3, 2), {3, 3}, {mode = "reflect"}) end,
               "pad:", "size 2 of dim 3")
  end)

  it("names the op and the valid range for out-of-range indices and targets", function()
    fails_with(function() return lt.cross_entropy(lt.zeros(2, 3), lt.tensor{1, 4}) end,
               "cross_entropy: target 4 is out of range for 3 classes")
    fails_with(function() return lt.cross_entropy(lt.zeros(2, 3), lt.tensor{0, 1}) end,
               "cross_entropy: target 0 is out of range for 3 classes")
    fails_with(function() return lt.nn.functional.cross_entropy(lt.zeros(2, 3), lt.tensor{3, 5}) end,
               "cross_entropy: target 5 is out of range for 3 classes")
    fails_with(function() return lt.nll_loss(lt.zeros(2, 3), lt.tensor{1, 4}) end,
               "nll_loss: target 4 is out of range for 3 classes")
    -- ignore_index values are not range errors
    assert.is_true(lt.is_tensor(lt.cross_entropy(lt.zeros(2, 3), lt.tensor{1, -100})))
    fails_with(function() return lt.embedding(lt.tensor{1, 11}, lt.zeros(10, 4)) end,
               "embedding: index 11 is out of range for 10 embeddings")
    fails_with(function() return lt.zeros(3, 5):index_select(2, lt.tensor{1, 7}) end,
               "index_select: index 7 is out of range for dim 2 with size 5")
    fails_with(function() return lt.zeros(3, 5):index_select(1, lt.tensor{0}) end,
               "index_select: index 0 is out of range for dim 1 with size 3")
    fails_with(function() return lt.zeros(3, 5):gather(2, lt.tensor{{1}, {9}, {1}}) end,
               "gather: index 9 is out of range for dim 2 with size 5")
  end)
end)

describe("file errors", function()
  it("names missing files", function()
    fails_with(function() return lt.load("/nonexistent/x.safetensors") end, "load",
               "/nonexistent/x.safetensors")
    fails_with(function() return lt.read_idx("/nonexistent/x-idx1-ubyte") end, "read_idx", "/nonexistent")
  end)

  it("names corrupt files and the problem", function()
    local bad = H.write_tmp("\255\255\255\255\255\255\255\255 garbage", ".safetensors")
    fails_with(function() return lt.load(bad) end, "load", bad)
    fails_with(function() return lt.read_idx(bad) end, "read_idx", bad)
    local trunc = H.write_tmp("\16\0\0\0\0\0\0\0{\"a\":", ".safetensors")
    fails_with(function() return lt.load(trunc) end, "load", trunc)
    os.remove(bad)
    os.remove(trunc)
  end)

  it("names bad JSON", function()
    fails_with(function() return lt.json.decode("{bad") end, "json.decode")
    fails_with(function() return lt.json.encode({f = print}) end, "json.encode", "function")
    local cyc = {}
    cyc.self = cyc
    fails_with(function() return lt.json.encode(cyc) end, "json.encode", "too deep")
    fails_with(function() return lt.json.encode(0 / 0) end, "json.encode", "finite")
  end)
end)

describe("files round trip", function()
  it("saves and loads safetensors with metadata", function()
    local p = H.tmpname(".safetensors")
    lt.save({a = lt.arange(3), b = lt.ones(2, 2, {dtype = "float64"})}, p, {epoch = 3, note = "x"})
    local t, meta = lt.load(p)
    assert.same({0, 1, 2}, t.a:tolist())
    assert.equal("float64", t.b.dtype)
    assert.equal("3", meta.epoch)
    assert.equal("x", meta.note)
    os.remove(p)
  end)

  it("encodes and decodes JSON", function()
    assert.equal('{"a":[1,2,3],"b":"x","c":null,"d":{},"e":1.5}',
                 lt.json.encode({a = {1, 2, 3}, b = "x", c = lt.json.null, d = {}, e = 1.5}))
    local d = lt.json.decode('{"a":[1,2.5,null,true],"b":{"c":"d"}}')
    assert.equal(1, d.a[1])
    assert.equal("integer", math.type(d.a[1]))
    assert.equal(lt.json.null, d.a[3])
    assert.equal("d", d.b.c)
    assert.equal("[[1,2]]", lt.json.encode(lt.tensor{{1, 2}}))
  end)
end)
