-- bench/fmnist_common.lua - shared by the luatrain epoch benchmarks: the
-- command line (--batches, --warmup, --batch-size, --threads, --root), the
-- Fashion-MNIST DataLoader (shuffled, batches gathered in C) and the timed
-- Adam loop that prints RESULT lines (wall s, process CPU s, ms per batch).
local lt = require "luatrain"
local nn, optim, data = lt.nn, lt.optim, lt.data

local M = {}

function M.args()
  return lt.args{batches = 0, warmup = 10, batch_size = 128, threads = 2,
                 root = "/usr/share/datasets/fashion-mnist"}
end

function M.run(name, model, a)
  lt.set_num_threads(a.threads)
  local ds = data.FashionMNIST{split = "train", root = a.root}
  local loader = data.DataLoader(ds, {batch_size = a.batch_size, shuffle = true})
  local opt = optim.Adam(model:parameters(), {lr = 1e-3})
  local crit = nn.CrossEntropyLoss()
  model:train()

  local function step(xb, yb)
    opt:zero_grad()
    local loss = crit(model(xb), yb:view(-1))
    loss:backward()
    opt:step()
    return loss
  end

  local nb = 0
  for xb, yb in loader:iter() do
    step(xb, yb)
    nb = nb + 1
    if nb >= a.warmup then break end
  end
  local loss
  nb = 0
  local t0, c0 = lt.time(), os.clock()
  for xb, yb in loader:iter() do
    loss = step(xb, yb)
    nb = nb + 1
    if a.batches > 0 and nb >= a.batches then break end
  end
  local last = loss:item()
  local wall, cpu = lt.time() - t0, os.clock() - c0
  print(("info: %s luatrain %s, %d threads, %d batches of %d, final loss %.4f"):format(
    name, tostring(lt.version), lt.get_num_threads(), nb, a.batch_size, last))
  print(("RESULT %s_s %.4f"):format(name, wall))
  print(("RESULT %s_cpu_s %.4f"):format(name, cpu))
  print(("RESULT %s_batch_ms %.3f"):format(name, wall / nb * 1e3))
end

return M
