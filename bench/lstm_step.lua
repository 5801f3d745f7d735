-- bench/lstm_step.lua - the examples/char_rnn.lua model (embedding 64,
-- 2-layer LSTM 256 with dropout 0.2, linear head over 114 symbols), batch
-- 32 x 64 steps of random ids, Adam + gradient clipping: milliseconds per
-- training step on the CPU. Same model and loop as bench/lstm_step.py.
-- Usage: luatrain bench/lstm_step.lua [--steps N]
local lt = require "luatrain"
local nn, F = lt.nn, lt.nn.functional
local a = lt.args({steps = 20, warmup = 3})
lt.seed_everything(0)
local V, B, T = 114, 32, 64
local Net = nn.Module:extend("Net")
function Net:init()
  self.embed = nn.Embedding(V, 64)
  self.lstm = nn.LSTM(64, 256, {num_layers = 2, dropout = 0.2, batch_first = true})
  self.head = nn.Linear(256, V)
end
function Net:forward(x) return self.head((self.lstm(self.embed(x)))) end
local model = Net()
local opt = lt.optim.Adam(model:parameters(), {lr = 2e-3})
local x = lt.randint(1, V + 1, {B, T})
local y = lt.randint(1, V + 1, {B, T})
local function step()
  opt:zero_grad()
  local loss = F.cross_entropy(model(x):reshape(B * T, V), y:reshape(B * T))
  loss:backward()
  nn.utils.clip_grad_norm_(model:parameters(), 5.0)
  opt:step()
  return loss
end
for _ = 1, a.warmup do step() end
local t0 = lt.time()
for _ = 1, a.steps do step() end
print(("RESULT lstm_step_ms %.2f"):format((lt.time() - t0) / a.steps * 1e3))
