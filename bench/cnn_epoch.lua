-- bench/cnn_epoch.lua - the examples/fashion_mnist_cnn.lua network (two
-- conv3x3+BatchNorm+ReLU+maxpool blocks, 32 and 64 channels, then
-- Linear(3136, 128), ReLU, Dropout(0.3), Linear(128, 10)), Adam (lr 1e-3),
-- batch 128, Fashion-MNIST on the CPU, 2 threads; same as bench/cnn_epoch.py.
-- Usage: luatrain bench/cnn_epoch.lua [--batches N]
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local lt = require "luatrain"
local nn = lt.nn
local common = require "fmnist_common"

local a = common.args()
lt.seed_everything(0)
local model = nn.Sequential(
  nn.Conv2d(1, 32, 3, {padding = 1}), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
  nn.Conv2d(32, 64, 3, {padding = 1}), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
  nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
common.run("cnn_epoch", model, a)
