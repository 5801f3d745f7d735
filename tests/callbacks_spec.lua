-- callbacks_spec.lua - ModelCheckpoint (top-k rotation, last, names) and
-- EarlyStopping against fixed sequences of metric values.
local lt = require "luatrain"
local callbacks = require "luatrain.callbacks"

local tmpdir = require("tests.helpers").tmpdir

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() return true end
  return false
end

-- a stand-in for lt.save_checkpoint that records calls and writes a file
local function recorder()
  local calls = {}
  return calls, function(path, state)
    calls[#calls + 1] = {path = path, epoch = state.epoch}
    local f = assert(io.open(path, "w"))
    f:write(tostring(state.epoch))
    f:close()
  end
end

describe("ModelCheckpoint", function()
  it("formats file names from metrics and state", function()
    local fmt = callbacks.ModelCheckpoint.format_name
    assert.are.equal("epoch3-0.1235", fmt("epoch{epoch}-{val_loss:.4f}", {epoch = 3, val_loss = 0.123456}))
    assert.are.equal("e7-{missing}", fmt("e{epoch}-{missing}", {epoch = 7.0}))
    assert.are.equal("s12-acc0.5", fmt("s{step:d}-acc{acc}", {step = 12, acc = 0.5}))
  end)

  it("keeps the top-k by the monitored metric and rotates the rest away", function()
    local dir = tmpdir()
    local calls, save = recorder()
    local cb = callbacks.ModelCheckpoint{dir = dir, save_top_k = 2, save_fn = save}
    local losses = {0.9, 0.5, 0.7, 0.3, 0.8}
    for e, v in ipairs(losses) do
      assert.is_false(cb:step({val_loss = v}, {epoch = e, step = e * 10}))
    end
    local kept = cb:best_k_models()
    assert.are.equal(2, #kept)
    assert.are.equal(dir .. "/epoch4-0.3000.safetensors", kept[1].path)
    assert.are.equal(dir .. "/epoch2-0.5000.safetensors", kept[2].path)
    assert.are.equal(kept[1].path, cb.best_model_path)
    assert.are.equal(0.3, cb.best_model_score)
    assert.is_true(exists(kept[1].path))
    assert.is_true(exists(kept[2].path))
    assert.is_false(exists(dir .. "/epoch1-0.9000.safetensors"))
    assert.is_false(exists(dir .. "/epoch3-0.7000.safetensors"))
    assert.is_false(exists(dir .. "/epoch5-0.8000.safetensors"))   -- never saved (worse than top-2)
    assert.is_true(exists(dir .. "/last.safetensors"))
    -- saves: epochs 1,2,3,4 top-k + 5 last
    local topk = 0
    for _, c in ipairs(calls) do if not c.path:find("last") then topk = topk + 1 end end
    assert.are.equal(4, topk)
    assert.are.equal(#losses + topk, #calls)
    os.execute("rm -rf " .. dir)
  end)

  it("handles mode=max, save_top_k=-1 and 0, monitor=false", function()
    local dir = tmpdir()
    local _, save = recorder()
    local cb = callbacks.ModelCheckpoint{dir = dir, monitor = "acc", mode = "max", save_top_k = 1,
                                         save_last = false, filename = "best-{acc:.2f}", save_fn = save}
    for e, v in ipairs({0.5, 0.8, 0.6}) do cb:step({acc = v}, {epoch = e}) end
    assert.are.equal(dir .. "/best-0.80.safetensors", cb.best_model_path)
    assert.is_false(exists(dir .. "/last.safetensors"))
    local all = callbacks.ModelCheckpoint{dir = dir, save_top_k = -1, save_fn = save, save_last = false}
    for e, v in ipairs({3, 2, 1}) do all:step({val_loss = v}, {epoch = e}) end
    assert.are.equal(3, #all:best_k_models())
    local none_calls, save2 = recorder()
    local none = callbacks.ModelCheckpoint{dir = dir, save_top_k = 0, save_fn = save2}
    none:step({val_loss = 1}, {epoch = 1})
    assert.are.equal(1, #none_calls)                 -- only last
    local recent = callbacks.ModelCheckpoint{dir = dir, monitor = false, save_top_k = 2,
                                             save_last = false, save_fn = save}
    for e = 1, 4 do recent:step({}, {epoch = e}) end
    local k = recent:best_k_models()
    assert.are.equal(dir .. "/epoch4.safetensors", k[1].path)
    assert.are.equal(dir .. "/epoch3.safetensors", k[2].path)
    assert.is_false(exists(dir .. "/epoch2.safetensors"))
    os.execute("rm -rf " .. dir)
  end)

  it("errors when the monitored metric is missing or options are bad", function()
    local cb = callbacks.ModelCheckpoint{dir = "/tmp", save_fn = function() end}
    assert.has_error(function() cb:step({loss = 1}, {epoch = 1}) end)
    assert.has_error(function() callbacks.ModelCheckpoint{mode = "up"} end)
    assert.has_error(function() callbacks.ModelCheckpoint{save_top_k = -2} end)
  end)

  it("writes real checkpoints through lt.save_checkpoint", function()
    if type(lt.save_checkpoint or (lt.checkpoint or {}).save_checkpoint) ~= "function" or not lt.nn then
      pending("lt.save_checkpoint is not available")
      return
    end
    local dir = tmpdir()
    local model = lt.nn.Linear(3, 2)
    local cb = callbacks.ModelCheckpoint{dir = dir, save_top_k = 1}
    cb:step({val_loss = 0.5}, {model = model, epoch = 1, step = 4})
    assert.is_true(exists(dir .. "/epoch1-0.5000.safetensors"))
    assert.is_true(exists(dir .. "/last.safetensors"))
    local t = lt.load(dir .. "/last.safetensors")
    assert.truthy(t)
    os.execute("rm -rf " .. dir)
  end)
end)

describe("EarlyStopping", function()
  local function run(es, seq)
    for i, v in ipairs(seq) do
      if es:step({val_loss = v}) then return i end
    end
    return nil
  end

  it("stops after `patience` steps without improvement", function()
    assert.are.equal(5, run(callbacks.EarlyStopping{patience = 3}, {1.0, 0.8, 0.9, 0.85, 0.81, 0.1}))
    assert.is_nil(run(callbacks.EarlyStopping{patience = 3}, {1.0, 0.9, 0.8, 0.7, 0.6}))
  end)

  it("needs more than min_delta to count as an improvement", function()
    assert.are.equal(3, run(callbacks.EarlyStopping{patience = 2, min_delta = 0.1}, {1.0, 0.95, 0.91, 0.5}))
    local es = callbacks.EarlyStopping{patience = 2, min_delta = 0.1}
    assert.is_nil(run(es, {1.0, 0.85, 0.7}))
    assert.are.equal(0.7, es.best)
  end)

  it("works in max mode and stops on NaN", function()
    local es = callbacks.EarlyStopping{monitor = "acc", mode = "max", patience = 1}
    assert.is_false(es:step({acc = 0.5}))
    assert.is_false(es:step({acc = 0.6}))
    assert.is_true(es:step({acc = 0.6}))
    local n = callbacks.EarlyStopping{patience = 10}
    assert.is_false(n:step({val_loss = 1}))
    assert.is_true(n:step({val_loss = 0 / 0}))
  end)

  it("errors on a missing metric or bad options", function()
    assert.has_error(function() callbacks.EarlyStopping{}:step({loss = 1}) end)
    assert.has_error(function() callbacks.EarlyStopping{mode = "sideways"} end)
    assert.has_error(function() callbacks.EarlyStopping{patience = -1} end)
  end)
end)
