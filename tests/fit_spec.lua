-- fit_spec.lua - lt.fit: trains a small regression, validates, logs,
-- calls callbacks and stops early when one asks.
local lt = require "luatrain"

local tmpdir = require("tests.helpers").tmpdir

describe("lt.fit", function()
  it("lowers the loss and returns one history entry per epoch", function()
    lt.seed_everything(0)
    local X = lt.randn(64, 3)
    local w = lt.tensor({{1.0}, {-2.0}, {0.5}})
    local y = X:matmul(w)
    local ds = lt.data.TensorDataset(X, y)
    local loader = lt.data.DataLoader(ds, {batch_size = 16, shuffle = true})
    local val = lt.data.DataLoader(ds, {batch_size = 64})
    local model = lt.nn.Linear(3, 1)
    local dir = tmpdir()
    local seen = {}
    local cb = {step = function(_, m) seen[#seen + 1] = m.epoch return false end}
    local hist = lt.fit{model = model, optimizer = lt.optim.SGD(model:parameters(), {lr = 0.1}),
      loss_fn = lt.nn.functional.mse_loss, train_loader = loader, val_loader = val, epochs = 5,
      callbacks = {cb}, log_dir = dir, progress = false, verbose = false}
    assert.are.equal(5, #hist)
    assert.are.same({1, 2, 3, 4, 5}, seen)
    assert.is_true(hist[5].val_loss < hist[1].val_loss)
    assert.is_true(hist[5].val_loss < 0.05)
    assert.are.equal(20, hist[5].step)
    local f = io.open(dir .. "/metrics.csv")
    local csv = f:read("a")
    f:close()
    assert.truthy(csv:find("\n20,val_loss,", 1, true))
    os.execute("rm -rf " .. dir)
  end)

  it("stops when a callback returns true and computes metrics", function()
    local X = lt.randn(20, 4)
    local y = lt.randint(1, 3, {20}, {dtype = "int64"})
    local loader = lt.data.DataLoader(lt.data.TensorDataset(X, y), {batch_size = 5})
    local model = lt.nn.Linear(4, 2)
    local es = lt.callbacks.EarlyStopping{monitor = "val_loss", patience = 0}
    local hist = lt.fit{model = model, optimizer = lt.optim.SGD(model:parameters(), {lr = 0}),
      loss_fn = lt.nn.functional.cross_entropy, train_loader = loader, val_loader = loader,
      epochs = 10, callbacks = {es}, metrics = {"accuracy"}, progress = false, verbose = false}
    assert.are.equal(2, #hist)                 -- lr 0: no improvement after epoch 1
    assert.is_true(hist[1].val_accuracy >= 0 and hist[1].val_accuracy <= 1)
  end)

  it("rejects missing pieces", function()
    assert.has_error(function() lt.fit{} end)
    assert.has_error(function() lt.fit{model = lt.nn.Linear(1, 1)} end)
  end)

  it("saves on an interrupt mid-epoch and resumes with the remaining batches", function()
    lt.seed_everything(1)
    local X = lt.randn(40, 2)
    local y = X:sum(2, {keepdim = true})
    local function setup()
      local loader = lt.data.DataLoader(lt.data.TensorDataset(X, y), {batch_size = 4, shuffle = true})
      local model = lt.nn.Linear(2, 1)
      return loader, model, lt.optim.SGD(model:parameters(), {lr = 0.05})
    end
    local dir = tmpdir()
    local loader, model, opt = setup()
    local calls, code = 0, nil
    local function loss_fn(out, t)
      calls = calls + 1
      if calls == 14 then error("interrupted", 0) end   -- what the host raises on Ctrl-C
      return lt.nn.functional.mse_loss(out, t)
    end
    local ok = pcall(lt.fit, {model = model, optimizer = opt, loss_fn = loss_fn, train_loader = loader,
      epochs = 3, checkpoint_dir = dir, exit = function(c) code = c end, progress = false, verbose = false})
    assert.is_false(ok)
    assert.are.equal(130, code)
    local ckpt = dir .. "/interrupted.safetensors"
    assert.truthy(io.open(ckpt, "rb"))
    -- epoch 2 had finished 3 of its 10 batches when interrupted
    local loader2, model2, opt2 = setup()
    local seen = 0
    local hist = lt.fit{model = model2, optimizer = opt2, train_loader = loader2, epochs = 3,
      loss_fn = function(out, t) seen = seen + 1 return lt.nn.functional.mse_loss(out, t) end,
      resume = ckpt, progress = false, verbose = false}
    assert.are.equal(7 + 10, seen)             -- the rest of epoch 2, then epoch 3
    assert.are.equal(2, #hist)
    assert.are.equal(2, hist[1].epoch)
    assert.are.equal(3, hist[2].epoch)
    os.execute("rm -rf " .. dir)
  end)
end)
