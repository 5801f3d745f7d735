-- bench/gpu/cnn_epoch.lua - one epoch of the TensorFlow-tutorial CNN on
-- Fashion-MNIST (conv5x5x32 'same', ReLU, maxpool2, conv5x5x64 'same', ReLU,
-- maxpool2, fc1024, ReLU, fc10), batch 100, Adam lr 1e-3, the whole dataset
-- already on the device; prints RESULT lines (seconds per epoch, peak
-- memory, test accuracy) that bench/gpu/run.sh sets against
-- cnn_epoch_torch.py. With --max-batches N or --time-limit S it times fewer
-- batches and extrapolates to the epoch (and says so). No data loader, no
-- augmentation, no checkpoints.
-- Usage: luatrain bench/gpu/cnn_epoch.lua [--max-batches N] [--time-limit S]
--        luatrain bench/gpu/cnn_epoch.lua --device cpu --max-batches 3 --test-batches 1
local lt = require "luatrain"
local nn, optim, data = lt.nn, lt.optim, lt.data

local a = lt.args({device = "cuda", batch_size = 100, warmup = 5, max_batches = 0,
                   time_limit = 0.0, test_batches = 0, root = "", seed = 0, tf32 = false},
                  {help = {
  max_batches = "time only N batches and extrapolate to the epoch (0 = whole epoch)",
  time_limit = "stop timing after S seconds and extrapolate (0 = no limit)",
  test_batches = "evaluate on N test batches of 1000 (0 = the whole test set)",
  root = "Fashion-MNIST directory (default LUATRAIN_DATA_DIR/fashionmnist or the Debian path)",
  tf32 = "allow TF32 in matrix products (default strict fp32, as the torch side)",
}})

local dev = a.device
if dev:match("^cuda") and not lt.cuda.is_available() then
  print("cnn_epoch: no GPU: skipping (use --device cpu)")
  return
end
local is_cuda = dev:match("^cuda") ~= nil
local function sync() if is_cuda then lt.cuda.synchronize() end end

lt.backends.allow_tf32 = a.tf32
lt.seed_everything(a.seed)
if is_cuda then lt.cuda.reset_peak_memory_stats() end

local root = a.root ~= "" and a.root or nil
local train = data.FashionMNIST{split = "train", root = root}
local test = data.FashionMNIST{split = "test", root = root}
local X, Y = train.data:to(dev), train.targets:to(dev)      -- (60000, 1, 28, 28), 1..10
local Xt, Yt = test.data:to(dev), test.targets:to(dev)
local n, bs = X:size(1), a.batch_size
local per_epoch = n // bs

local model = nn.Sequential(
  nn.Conv2d(1, 32, 5, {padding = 2}), nn.ReLU(), nn.MaxPool2d(2),
  nn.Conv2d(32, 64, 5, {padding = 2}), nn.ReLU(), nn.MaxPool2d(2),
  nn.Flatten(), nn.Linear(7 * 7 * 64, 1024), nn.ReLU(), nn.Linear(1024, 10)):to(dev)
local opt = optim.Adam(model:parameters(), {lr = 1e-3})

-- batch i (0-based) of a permutation drawn on the host, gathered on the device
local perm = lt.randperm(n):to(dev)
local function step(i)
  local idx = perm:narrow(1, i * bs + 1, bs)
  local xb, yb = X:index_select(1, idx), Y:index_select(1, idx)
  opt:zero_grad()
  local loss = lt.cross_entropy(model(xb), yb)
  loss:backward()
  opt:step()
  return loss
end

model:train()
for i = 0, math.min(a.warmup, per_epoch) - 1 do step(i) end
sync()

perm = lt.randperm(n):to(dev)   -- the timed epoch: a fresh order
local limit = a.max_batches > 0 and math.min(a.max_batches, per_epoch) or per_epoch
local loss, nb = nil, 0
local t0 = lt.time()
for i = 0, limit - 1 do
  loss = step(i)
  nb = nb + 1
  if a.time_limit > 0 and lt.time() - t0 > a.time_limit then break end
end
sync()
local wall = lt.time() - t0
local last = loss:item()

-- the timing first, so that it survives an evaluation cut short
if nb < per_epoch then
  print(("info: cnn_epoch timed %d of %d batches and extrapolated to the epoch; accuracy after "
         .. "%d warm-up + %d batches"):format(nb, per_epoch, a.warmup, nb))
end
print(("info: cnn_epoch luatrain %s on %s, batch %d, final loss %.4f, %.3f ms/batch, tf32 %s")
      :format(tostring(lt.version), dev, bs, last, wall / nb * 1e3, tostring(a.tf32)))
print(("RESULT cnn_batches %d"):format(nb))
print(("RESULT cnn_epoch_s %.4f"):format(wall / nb * per_epoch))
if is_cuda then   -- training's peak, before evaluation
  print(("RESULT cnn_peak_mib %.1f"):format(lt.cuda.max_memory_allocated() / 2 ^ 20))
end

-- test accuracy in batches of 1000; with --time-limit, stops after S/2 seconds
model:eval()
local correct, total = 0, 0
do
  local _ <close> = lt.no_grad()
  local tb, nt = 1000, Xt:size(1)
  local batches = nt // tb
  if a.test_batches > 0 then batches = math.min(batches, a.test_batches) end
  local te = lt.time()
  for j = 0, batches - 1 do
    local xb, yb = Xt:narrow(1, j * tb + 1, tb), Yt:narrow(1, j * tb + 1, tb)
    correct = correct + model(xb):argmax(2):eq(yb):sum():item()
    total = total + tb
    if a.time_limit > 0 and lt.time() - te > a.time_limit / 2 then break end
  end
end
if total < Xt:size(1) then
  print(("info: cnn_epoch accuracy on %d of %d test images"):format(total, Xt:size(1)))
end
print(("RESULT cnn_test_acc %.4f"):format(correct / total))
