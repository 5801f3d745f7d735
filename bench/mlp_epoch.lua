-- bench/mlp_epoch.lua - a 784-256-128-10 ReLU MLP, Adam (lr 1e-3), batch
-- 128, one epoch of Fashion-MNIST (60,000 samples) on the CPU, 2 threads.
-- Same network, init scheme, data and loop as bench/mlp_epoch.py.
-- Usage: luatrain bench/mlp_epoch.lua [--batches N]
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local lt = require "luatrain"
local nn = lt.nn
local common = require "fmnist_common"

local a = common.args()
lt.seed_everything(0)
local model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                            nn.ReLU(), nn.Linear(128, 10))
common.run("mlp_epoch", model, a)
