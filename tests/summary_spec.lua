-- summary_spec.lua - lt.utils.summary / model:summary: per-module rows with
-- output shapes and parameter counts, totals checked against hand counts.
local lt = require "luatrain"
local summary = require "luatrain.utils.summary"
local nn = lt.nn

describe("lt.utils.summary", function()
  it("counts parameters, frozen ones and buffers, and records output shapes", function()
    local Net = nn.Module:extend("SummaryNet")
    function Net:init()
      self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
      self.head = nn.Linear(2, 3, {bias = false})
      self:register_buffer("scale", lt.ones(5))
    end
    function Net:forward(x) return self.head(self.body(x)) end
    local model = Net()
    for _, p in ipairs(model.head:parameters()) do p:requires_grad_(false) end
    local f = io.tmpfile()
    local res = summary(model, {input_shape = {7, 4}, file = f})
    -- hand counts: 4*8+8 + 8*2+2 = 58 trainable, 2*3 = 6 frozen, 5 buffer elements
    assert.are.equal(64, res.total_params)
    assert.are.equal(58, res.trainable_params)
    assert.are.equal(6, res.frozen_params)
    assert.are.equal(5, res.buffer_elems)
    assert.are.equal(64 * 4, res.param_bytes)
    assert.are.equal(5 * 4, res.buffer_bytes)
    assert.is_true(math.abs(res.size_mb - (64 * 4 + 20) / 1048576) < 1e-12)
    local by = {}
    for _, r in ipairs(res.rows) do by[r.path] = r end
    assert.are.equal("[7, 3]", by["(root)"].output_shape)
    assert.are.equal("[7, 2]", by["body"].output_shape)
    assert.are.equal("[7, 8]", by["body.0"].output_shape)
    assert.are.equal("[7, 8]", by["body.1"].output_shape)
    assert.are.equal(40, by["body.0"].params)
    assert.are.equal(0, by["body.1"].params)
    assert.are.equal(18, by["body.2"].params)
    assert.are.equal(6, by["head"].params)
    f:seek("set")
    local text = f:read("a")
    assert.truthy(text:find("Total params: 64", 1, true))
    assert.truthy(text:find("Trainable params: 58", 1, true))
    assert.truthy(text:find("body.2", 1, true))
    -- forward functions are restored and the mode is kept
    assert.is_true(model.training)
    local calls = 0
    local orig = nn.Linear.forward
    nn.Linear.forward = function(self, x) calls = calls + 1 return orig(self, x) end
    model(lt.zeros(1, 4))
    nn.Linear.forward = orig
    assert.are.equal(3, calls)
  end)

  it("is available as model:summary when nn.Module has it", function()
    local m = nn.Sequential(nn.Linear(3, 3))
    if type(m.summary) ~= "function" then pending("nn.Module has no summary method") return end
    local res = m:summary({input_shape = {2, 3}, print = false})
    assert.are.equal(12, res.total_params)
  end)

  it("rejects a missing input shape and reports forward errors", function()
    local m = nn.Linear(3, 2)
    assert.has_error(function() summary(m, {print = false}) end)
    assert.has_error(function() summary(m, {input_shape = {2, 5}, print = false}) end)
    assert.has_error(function() summary(42) end)
  end)
end)
