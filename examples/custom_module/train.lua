-- train.lua - a model using a user module from beside this script
-- (swish.lua, with its own autograd Function) on a small regression task.
-- Run: luatrain examples/custom_module/train.lua --epochs 20
local lt = require "luatrain"
local nn, optim = lt.nn, lt.optim

-- find modules next to this script, wherever it is run from
local here = (arg and arg[0] or ""):match("^(.*[/\\])") or "./"
package.path = here .. "?.lua;" .. package.path
local Swish = require "swish"

local args = lt.args{epochs = 20, lr = 1e-2, seed = 0}
lt.seed_everything(args.seed)

local Net = nn.Module:extend("Net")
function Net:init(d_in, d_hidden)
  self.fc1 = nn.Linear(d_in, d_hidden)
  self.act = Swish(1.0)
  self.fc2 = nn.Linear(d_hidden, 1)
end
function Net:forward(x) return self.fc2(self.act(self.fc1(x))) end

-- target: a smooth function of the inputs
local X = lt.randn(256, 4)
local y = (X:narrow(2, 1, 1) * 2):sin() + X:narrow(2, 2, 1) * X:narrow(2, 3, 1) * 0.5

local model = Net(4, 32)
print(model)
local optimizer = optim.Adam(model:parameters(), {lr = args.lr})
local criterion = nn.MSELoss()
for epoch = 1, args.epochs do
  optimizer:zero_grad()
  local loss = criterion(model(X), y)
  loss:backward()
  optimizer:step()
  print(("Epoch %d: train %.4f"):format(epoch, loss:item()))
end
