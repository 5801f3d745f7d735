-- progress_spec.lua - lt.progress: the tqdm-style meter text, plain lines on
-- a non-terminal stream, \r redraws in terminal mode, postfix and wrapping.
local lt = require "luatrain"
local progress = require "luatrain.utils.progress"

local function read_back(f)
  f:seek("set")
  return f:read("a")
end

describe("progress.format_meter", function()
  it("formats like tqdm with a total", function()
    local s = progress.format_meter(211, 469, 3.4, {desc = "desc", rate = 61.2, postfix = "loss=0.412"})
    assert.are.equal("desc:  45%|████▍     | 211/469 [00:03<00:04, 61.2it/s, loss=0.412]", s)
    assert.are.equal("100%|██████████| 10/10 [01:05<00:00, 2.00it/s]",
      progress.format_meter(10, 10, 65, {rate = 2}))
  end)

  it("shows a count and no bar without a total, s/it for slow loops and h:mm:ss", function()
    assert.are.equal("7it [00:02, 3.50it/s]", progress.format_meter(7, nil, 2))
    assert.truthy(progress.format_meter(1, 5, 4, {rate = 0.25}):find("4.00s/it", 1, true))
    assert.are.equal("1:01:01", progress.format_interval(3661))
    assert.are.equal("00:59", progress.format_interval(59))
  end)
end)

describe("lt.progress", function()
  it("wraps a number and writes plain lines, no \\r, to a non-terminal file", function()
    local f = io.tmpfile()
    local seen = 0
    for i in lt.progress(50, {file = f, tty = false, mininterval = 0, desc = "train"}) do
      seen = seen + 1
      assert.are.equal(seen, i)
    end
    assert.are.equal(50, seen)
    local out = read_back(f)
    assert.is_nil(out:find("\r", 1, true))
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.is_true(#lines >= 2 and #lines <= 12)
    assert.truthy(lines[#lines]:find("^train: 100%%|██████████| 50/50 %["))
  end)

  it("redraws with \\r in terminal mode and ends with a newline", function()
    local f = io.tmpfile()
    for _ in lt.progress(3, {file = f, tty = true, mininterval = 0}) do end
    local out = read_back(f)
    assert.truthy(out:find("\r", 1, true))
    assert.truthy(out:find("3/3", 1, true))
    assert.are.equal("\n", out:sub(-1))
  end)

  it("wraps a DataLoader, passes every batch value through and shows the postfix", function()
    local ds = lt.data.TensorDataset(lt.zeros(10, 2), lt.arange(1, 11, 1, {dtype = "int64"}))
    local loader = lt.data.DataLoader(ds, {batch_size = 4})
    local f = io.tmpfile()
    local bar = lt.progress(loader, {file = f, tty = false, mininterval = 0})
    assert.are.equal(3, bar.total)
    local n = 0
    for xb, yb in bar do
      n = n + 1
      assert.is_true(lt.is_tensor(xb) and lt.is_tensor(yb))
      bar:set{loss = 0.5 / n}
    end
    assert.are.equal(3, n)
    local out = read_back(f)
    assert.truthy(out:find("3/3", 1, true))
    assert.truthy(out:find("loss=0.167", 1, true))
  end)

  it("supports manual update/close and closes on break", function()
    local f = io.tmpfile()
    local bar = lt.progress(nil, {total = 4, file = f, tty = false, mininterval = 0})
    bar:update(2)
    bar:update()
    bar:close()
    bar:close()
    local out = read_back(f)
    assert.truthy(out:find("3/4", 1, true))
    local g = io.tmpfile()
    for i in lt.progress(100, {file = g, tty = true, mininterval = 1e9}) do
      if i == 5 then break end
    end
    local s = read_back(g)
    assert.truthy(s:find("5/100", 1, true))
    assert.are.equal("\n", s:sub(-1))
  end)

  it("costs little per iteration when no redraw is due", function()
    local f = io.tmpfile()
    local t0 = lt.time()
    for _ in lt.progress(200000, {file = f, tty = false, mininterval = 1e9, plain_interval = 1e9}) do end
    assert.is_true(lt.time() - t0 < 5.0)
  end)

  it("rejects bad input", function()
    assert.has_error(function() lt.progress(-1) end)
    assert.has_error(function() lt.progress(true) end)
    assert.has_error(function() lt.progress(3, 5) end)
  end)
end)
