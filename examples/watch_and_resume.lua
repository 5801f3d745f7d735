-- watch_and_resume.lua - training you can watch, stop and pick up: an MLP on
-- Fashion-MNIST with a run directory (manifest + copy of this script), a
-- Logger (metrics.csv, metrics.jsonl, TensorBoard events), a progress bar,
-- ModelCheckpoint (best + last.safetensors), EarlyStopping, Ctrl-C turned
-- into runs/<name>/interrupted.safetensors by lt.utils.training_guard, and
-- --resume from any of those checkpoints (mid-epoch included).
-- Run:    luatrain examples/watch_and_resume.lua --epochs 5
-- Smoke:  luatrain examples/watch_and_resume.lua --epochs 2 --limit-batches 20
-- Watch:  tensorboard --logdir runs    or    luatrain plot runs/<name>/metrics.csv -o loss.svg
-- Resume: luatrain examples/watch_and_resume.lua --resume runs/<name>/interrupted.safetensors
local lt = require "luatrain"
local nn, optim, data = lt.nn, lt.optim, lt.data

local args = lt.args({epochs = 5, lr = 1e-3, batch_size = 128, hidden = 256,
                      limit_batches = 0, seed = 0, device = "auto", root = "",
                      run_root = "runs", run_name = "", resume = "", patience = 3,
                      log_every = 10},
                     {help = {limit_batches = "train on at most this many batches per epoch (0: all)",
                              resume = "checkpoint to continue from (last/interrupted/best .safetensors)",
                              run_name = "directory name under --run-root (default: a timestamp)",
                              patience = "EarlyStopping: epochs without val_loss improvement"}})
local device = args.device
if device == "auto" then device = lt.cuda.is_available() and "cuda" or "cpu" end
local limit = args.limit_batches

-- A new directory per run (a resumed run too: it records where it came from).
local run = lt.run_dir{root = args.run_root, name = args.run_name ~= "" and args.run_name or nil,
                       seed = args.seed, config = args}
print("run directory: " .. run.path)
local logger <close> = run:logger{tensorboard = true}

local root = args.root ~= "" and args.root or nil
local train_loader = data.DataLoader(data.FashionMNIST{split = "train", root = root},
                                     {batch_size = args.batch_size, shuffle = true})
local val_loader = data.DataLoader(data.FashionMNIST{split = "test", root = root},
                                   {batch_size = 1000})

local model = nn.Sequential(nn.Flatten(), nn.Linear(784, args.hidden), nn.ReLU(),
                            nn.Linear(args.hidden, 10)):to(device)
local criterion = nn.CrossEntropyLoss()
local optimizer = optim.Adam(model:parameters(), {lr = args.lr})
local checkpoint = lt.callbacks.ModelCheckpoint{dir = run.path, monitor = "val_loss", save_top_k = 1}
local early_stop = lt.callbacks.EarlyStopping{monitor = "val_loss", patience = args.patience}

-- Where the loop is. `extra` travels in every checkpoint.
local epoch, step, done_pos = 1, 0, 0
local extra = {early_stopping = early_stop:state_dict()}

-- The guard's checkpoint records the batches whose step completed (the
-- loader has already handed out the batch that Ctrl-C interrupted).
local loader_view = {state_dict = function()
  local sd = train_loader:state_dict()
  sd.position = done_pos
  return sd
end}
local guard <close> = lt.utils.training_guard{model = model, optimizer = optimizer,
                                              loader = loader_view, extra = extra, dir = run.path}

if args.resume ~= "" then
  local info = lt.load_checkpoint(args.resume, {model = model, optimizer = optimizer,
                                                loader = train_loader, map_location = device})
  step = math.tointeger(info.step or 0) or 0
  local saved_epoch = math.tointeger(info.epoch or 0) or 0
  -- a mid-epoch checkpoint (Ctrl-C) carries the loader's position: finish
  -- that epoch; an end-of-epoch one (ModelCheckpoint) starts the next
  local mid = info.metadata.loader ~= nil
  epoch = mid and math.max(saved_epoch, 1) or saved_epoch + 1
  done_pos = mid and train_loader.position or 0
  if info.extra and info.extra.early_stopping then
    early_stop:load_state_dict(info.extra.early_stopping)
  end
  print(("resumed from %s at epoch %d, step %d (batch %d of the epoch)")
        :format(args.resume, epoch, step, done_pos))
end

local function evaluate()
  model:eval()
  local _ <close> = lt.no_grad()
  local loss_sum, correct, n, nb = 0, 0, 0, 0
  for xb, yb in val_loader:iter() do
    xb, yb = xb:to(device), yb:to(device):view(-1)
    local out = model(xb)
    loss_sum = loss_sum + criterion(out, yb):item() * yb:numel()
    correct = correct + out:argmax(2):eq(yb):sum():item()
    n, nb = n + yb:numel(), nb + 1
    if limit > 0 and nb >= 2 then break end
  end
  return loss_sum / n, correct / n
end

local per_epoch = limit > 0 and math.min(limit, #train_loader) or #train_loader
while epoch <= args.epochs do
  guard:update({epoch = epoch, step = step})
  model:train()
  local t0, sum, nb = lt.time(), 0, 0
  do
    local bar <close> = lt.progress(nil, {total = math.max(per_epoch - done_pos, 0),
                                          desc = ("epoch %d/%d"):format(epoch, args.epochs)})
    if done_pos < per_epoch then
      for xb, yb in train_loader:iter() do
        xb, yb = xb:to(device), yb:to(device):view(-1)
        optimizer:zero_grad()
        local loss = criterion(model(xb), yb)
        loss:backward()
        optimizer:step()
        step, done_pos = step + 1, train_loader.position
        local l = loss:item()
        sum, nb = sum + l, nb + 1
        bar:update()
        bar:set{loss = sum / nb}
        if step % args.log_every == 0 then logger:log({train_loss = l}, step) end
        guard:check({epoch = epoch, step = step})   -- records where we are; saves on Ctrl-C
        if train_loader.position >= per_epoch then break end
      end
    end
  end
  local val_loss, val_acc = evaluate()
  -- nil when the epoch ran no batch (resumed at its end): not logged, shown as "-"
  local train_loss = nb > 0 and sum / nb or nil
  logger:log({train_loss_epoch = train_loss, val_loss = val_loss, val_acc = val_acc,
              lr = optimizer.param_groups[1].lr}, step)
  logger:flush()
  print(("Epoch %d: train %s  val_loss %.4f  val_acc %.4f  step %d  (%.1fs)")
        :format(epoch, train_loss and ("%.4f"):format(train_loss) or "-", val_loss, val_acc,
                step, lt.time() - t0))
  local metrics = {val_loss = val_loss, val_acc = val_acc}
  local stop = early_stop:step(metrics)
  extra.early_stopping = early_stop:state_dict()
  -- end-of-epoch checkpoints carry no loader state: resuming starts epoch + 1
  checkpoint:step(metrics, {model = model, optimizer = optimizer, epoch = epoch, step = step,
                            extra = extra})
  if stop then
    print("early stopping: " .. early_stop.reason)
    break
  end
  epoch, done_pos = epoch + 1, 0
end
print(("best checkpoint: %s (val_loss %s); last: %s"):format(checkpoint.best_model_path,
      checkpoint.best_model_score and ("%.4f"):format(checkpoint.best_model_score),
      checkpoint.last_model_path))
print("plot it: luatrain plot " .. run:file("metrics.csv") .. " -o loss.svg")
