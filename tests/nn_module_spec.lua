-- nn_module_spec.lua - nn.Module: registration by assignment, dotted names,
-- shared (tied) parameters, buffers, train/eval, state_dict round trips and
-- their errors, containers, __tostring, the class helper.
local lt = require "luatrain"
local nn = lt.nn
local class = require "luatrain.class"
pcall(require, "tests.helpers")

local function names_of(iter)
  local out = {}
  for name in iter do out[#out + 1] = name end
  return out
end

local function sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local Net = nn.Module:extend("Net")
function Net:init(d_in, d_hidden)
  self.fc1 = nn.Linear(d_in, d_hidden)
  self.drop = nn.Dropout(0.5)
  self.fc2 = nn.Linear(d_hidden, 1)
end
function Net:forward(x) return self.fc2(self.drop(self.fc1(x):relu())) end

describe("class helper", function()
  it("constructs with init, inherits and answers isinstance", function()
    local A = class.extend("A")
    function A:init(x) self.x = x end
    function A:get() return self.x end
    local B = A:extend("B")
    function B:init(x) A.init(self, x * 2) end
    local b = B(3)
    assert.are.equal(6, b:get())
    assert.is_true(class.isinstance(b, A))
    assert.is_true(class.isinstance(b, B))
    assert.is_false(class.isinstance(A(1), B))
    assert.are.equal("B", class.name_of(b))
    assert.is_truthy(tostring(b):find("B"))
  end)
end)

describe("Module", function()
  it("registers children and parameters in assignment order with dotted names", function()
    local m = Net(10, 64)
    assert.are.same({"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}, names_of(m:named_parameters()))
    assert.are.equal(4, #m:parameters())
    assert.are.same({"", "fc1", "drop", "fc2"}, names_of(m:named_modules()))
    assert.are.same({"fc1", "drop", "fc2"}, names_of(m:named_children()))
    assert.are.equal(10 * 64 + 64 + 64 + 1, m:num_parameters())
  end)

  it("calls forward through __call", function()
    local m = Net(10, 8):eval()
    local y = m(lt.randn(5, 10))
    assert.are.same({5, 1}, y.shape)
  end)

  it("errors on a missing forward", function()
    local Empty = nn.Module:extend("Empty")
    assert.has_error(function() Empty()(lt.zeros(1)) end)
  end)

  it("prints a PyTorch-like tree", function()
    local s = tostring(Net(10, 64))
    assert.are.equal("Net(\n  (fc1): Linear(in_features=10, out_features=64, bias=true)\n"
      .. "  (drop): Dropout(p=0.5)\n  (fc2): Linear(in_features=64, out_features=1, bias=true)\n)", s)
  end)

  it("propagates train/eval", function()
    local m = Net(3, 4)
    assert.is_true(m.training)
    m:eval()
    assert.is_false(m.training)
    assert.is_false(m.fc1.training)
    m:train()
    assert.is_true(m.drop.training)
  end)

  it("lists a shared parameter once but under both names in state_dict", function()
    local T = nn.Module:extend("Tied")
    function T:init()
      self.emb = nn.Embedding(7, 4)
      self.head = nn.Linear(4, 7, {bias = false})
      self.head.weight = self.emb.weight
    end
    local m = T()
    assert.are.equal(1, #m:parameters())
    assert.are.same({"emb.weight"}, names_of(m:named_parameters()))
    local sd = m:state_dict()
    assert.are.same({"emb.weight", "head.weight"}, sorted_keys(sd))
    assert.are.same({"emb.weight", "head.weight"}, m:state_dict_keys())
    -- loading keeps the tie
    local src = T()
    m:load_state_dict(src:state_dict())
    assert.are.equal(m.emb.weight, m.head.weight)
    assert.are.equal(0, (m.head.weight - src.emb.weight):abs():max():item())
  end)

  it("keeps buffers (persistent or not) apart from parameters", function()
    local B = nn.Module:extend("B")
    function B:init()
      self.lin = nn.Linear(2, 2)
      self:register_buffer("scale", lt.ones(2))
      self:register_buffer("cache", lt.zeros(2), false)
      self.bn = nn.BatchNorm1d(2)
    end
    local m = B()
    assert.are.same({"scale", "cache", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"},
                    names_of(m:named_buffers()))
    assert.are.same({"bn.bias", "bn.num_batches_tracked", "bn.running_mean", "bn.running_var",
                     "bn.weight", "lin.bias", "lin.weight", "scale"}, sorted_keys(m:state_dict()))
    m.scale = lt.full({2}, 3.0)
    assert.are.same({3, 3}, m:state_dict().scale:tolist())
  end)

  it("keeps plain attributes unregistered", function()
    local m = Net(2, 2)
    m.note = "hello"
    m.tmp = lt.zeros(3)   -- not a parameter: no requires_grad
    assert.are.equal("hello", m.note)
    assert.are.equal(4, #m:parameters())
    assert.is_nil(m:state_dict().tmp)
  end)

  it("refuses a plain tensor assigned to a parameter name", function()
    local m = nn.Linear(2, 2)
    assert.has_error(function() m.weight = lt.zeros(2, 2) end)
  end)

  it("zero_grad sets grads to nil or zero", function()
    local m = Net(3, 4):eval()
    m(lt.randn(2, 3)):sum():backward()
    assert.is_not_nil(m.fc1.weight.grad)
    m:zero_grad(false)
    assert.are.equal(0, m.fc1.weight.grad:abs():sum():item())
    m:zero_grad()
    assert.is_nil(m.fc1.weight.grad)
  end)

  it("load_state_dict reports missing and unexpected keys", function()
    local m = Net(3, 4)
    local sd = m:state_dict()
    sd["fc1.bias"] = nil
    sd["extra.w"] = lt.zeros(1)
    local ok, err = pcall(m.load_state_dict, m, sd)
    assert.is_false(ok)
    assert.is_truthy(err:find("Missing key%(s%): fc1.bias"))
    assert.is_truthy(err:find("Unexpected key%(s%): extra.w"))
    local r = m:load_state_dict(sd, false)
    assert.are.same({"fc1.bias"}, r.missing_keys)
    assert.are.same({"extra.w"}, r.unexpected_keys)
  end)

  it("load_state_dict names the key and both shapes on a size mismatch", function()
    local m = Net(3, 4)
    local sd = Net(5, 4):state_dict()
    local ok, err = pcall(m.load_state_dict, m, sd)
    assert.is_false(ok)
    assert.is_truthy(err:find("fc1.weight", 1, true))
    assert.is_truthy(err:find("{4, 5}", 1, true))
    assert.is_truthy(err:find("{4, 3}", 1, true))
  end)

  it("load_state_dict copies values in place", function()
    local a, b = Net(3, 4), Net(3, 4)
    local w = a.fc1.weight
    a:load_state_dict(b:state_dict())
    assert.are.equal(w, a.fc1.weight)
    assert.are.equal(0, (a.fc1.weight - b.fc1.weight):abs():max():item())
  end)

  it("requires_grad_ and apply reach every module", function()
    local m = Net(3, 4)
    m:requires_grad_(false)
    for _, p in ipairs(m:parameters()) do assert.is_false(p.requires_grad) end
    local seen = {}
    m:apply(function(mod) seen[#seen + 1] = class.name_of(mod) end)
    assert.are.same({"Linear", "Dropout", "Linear", "Net"}, seen)
  end)

  it("to(dtype) converts floating parameters and buffers, keeping ties", function()
    local m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    m:to("float64")
    assert.are.equal("float64", m[1].weight.dtype)
    assert.are.equal("float64", m[2].running_mean.dtype)
    assert.are.equal("int64", m[2].num_batches_tracked.dtype)
    assert.is_true(m[1].weight.requires_grad)
    local y = m(lt.randn(4, 2, {dtype = "float64"}))
    assert.are.equal("float64", y.dtype)
  end)
end)

describe("Module:to", function()
  it("moves parameters in place, so an optimizer made before still works", function()
    local m = nn.Linear(2, 2)
    local w = m.weight
    local opt = lt.optim.SGD(m:parameters(), {lr = 0.1})
    m:to("float64")
    assert.are.equal(w, m.weight)
    assert.are.equal("float64", w.dtype)
    m(lt.randn(3, 2, {dtype = "float64"})):sum():backward()
    local before = w:clone()
    opt:step()
    assert.is_true((before - w):abs():max():item() > 0)
  end)
end)

describe("Sequential", function()
  it("numbers children from 0 like PyTorch and indexes them from 1", function()
    local s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert.are.equal(3, #s)
    assert.are.equal("Linear", class.name_of(s[1]))
    assert.are.equal("ReLU", class.name_of(s[2]))
    assert.are.equal(s[3], s[-1])
    assert.are.same({"0.weight", "0.bias", "2.weight", "2.bias"}, names_of(s:named_parameters()))
    s:append(nn.Sigmoid())
    assert.are.equal(4, #s)
    local y = s(lt.randn(5, 2))
    assert.are.same({5, 1}, y.shape)
    assert.is_true(y:min():item() >= 0 and y:max():item() <= 1)
  end)

  it("accepts a list and supports subclassing", function()
    local s = nn.Sequential{nn.Identity(), nn.Identity()}
    assert.are.equal(2, #s)
    local Sub = nn.Sequential:extend("Sub")
    assert.are.equal("Sub", class.name_of(Sub(nn.ReLU())))
  end)

  it("rejects non-modules naming the argument", function()
    local ok, err = pcall(nn.Sequential, nn.ReLU(), 5)
    assert.is_false(ok)
    assert.is_truthy(err:find("#2"))
  end)
end)

describe("ModuleList and ModuleDict", function()
  it("register their children", function()
    local l = nn.ModuleList{nn.Linear(2, 2), nn.Linear(2, 2)}
    l:append(nn.Linear(2, 1))
    assert.are.equal(3, #l)
    local n = 0
    for i, m in ipairs(l) do
      n = n + 1
      assert.are.equal(l[i], m)
    end
    assert.are.equal(3, n)
    assert.are.equal(6, #l:parameters())
    assert.are.equal("2.weight", names_of(l:named_parameters())[5])

    local d = nn.ModuleDict{b = nn.Linear(1, 1), a = nn.ReLU()}
    assert.are.same({"a", "b"}, d:keys())
    assert.are.equal("Linear", class.name_of(d.b))
    assert.are.same({"b.weight", "b.bias"}, names_of(d:named_parameters()))
  end)
end)
