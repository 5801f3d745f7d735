-- boilerplate.lua - the training loop of DESIGN.md section 2: 100x10 dummy
-- regression data, Linear-ReLU-Linear, MSELoss, Adam, train and validation
-- loss printed each epoch, weights saved to model.safetensors.
-- Run: luatrain examples/boilerplate.lua --epochs 10 --lr 1e-2
local lt = require "luatrain"
local nn, optim, data = lt.nn, lt.optim, lt.data

local args = lt.args{epochs = 10, lr = 1e-2, batch_size = 32, hidden = 64, seed = 42,
                     device = "auto", out = "model.safetensors"}

lt.seed_everything(args.seed)
local device = args.device
if device == "auto" then device = lt.cuda.is_available() and "cuda" or "cpu" end

-- dummy data with something to learn: a noisy linear target
local w_true = lt.randn(10, 1)
local X, Xval = lt.randn(100, 10), lt.randn(50, 10)
local y = X:matmul(w_true) + 0.1 * lt.randn(100, 1)
local yval = Xval:matmul(w_true) + 0.1 * lt.randn(50, 1)
local loader = data.DataLoader(data.TensorDataset(X, y), {batch_size = args.batch_size, shuffle = true})

local model = nn.Sequential(nn.Linear(10, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 1)):to(device)
local criterion = nn.MSELoss()
local optimizer = optim.Adam(model:parameters(), {lr = args.lr})

for epoch = 1, args.epochs do
  model:train()
  local train_loss = 0
  for xb, yb in loader:iter() do
    xb, yb = xb:to(device), yb:to(device)
    optimizer:zero_grad()
    local loss = criterion(model(xb), yb)
    loss:backward()
    optimizer:step()
    train_loss = train_loss + loss:item() * xb:size(1)
  end
  model:eval()
  local val_loss
  do
    local _ <close> = lt.no_grad()
    val_loss = criterion(model(Xval:to(device)), yval:to(device)):item()
  end
  print(("Epoch %d: train %.4f  val %.4f"):format(epoch, train_loss / X:size(1), val_loss))
end
lt.save(model:state_dict(), args.out)
print("saved " .. args.out)
