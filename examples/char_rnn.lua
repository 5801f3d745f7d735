-- char_rnn.lua - the Torch7 classic, in luatrain: a character-level LSTM
-- (embedding, nn.LSTM with several layers and dropout between them, a linear
-- head) trained on random windows of a text with Adam and gradient clipping,
-- then sampled one character at a time, carrying the LSTM state {h, c}
-- across steps, with temperature and top-k (Tensor:topk).
-- Text: --path FILE, or the fortunes files by default.
-- Run: luatrain examples/char_rnn.lua --max-iters 1500
--      luatrain examples/char_rnn.lua --limit-batches 20        (smoke test)
--      luatrain examples/char_rnn.lua --device cuda --hidden 512 --layers 3
local lt = require "luatrain"
local nn, optim, data = lt.nn, lt.optim, lt.data
local F = nn.functional

local args = lt.args({
  path = "", seq_length = 64, batch_size = 32, embed = 64, hidden = 256, layers = 2,
  dropout = 0.2, lr = 2e-3, grad_clip = 5.0, max_iters = 1500, eval_interval = 250,
  eval_iters = 10, limit_batches = 0, device = "auto", seed = 123,
  sample_len = 300, temperature = 0.8, top_k = 10, prompt = "\n", save = "",
}, {help = {
  device = "auto (cuda when a GPU answers), cpu, cuda or cuda:N",
  save = "write the trained weights to this .safetensors file",
}})
lt.seed_everything(args.seed)
local device = args.device
if device == "auto" then device = lt.cuda.is_available() and "cuda" or "cpu" end
if device:match("^cuda") and not lt.cuda.is_available() then
  error("--device " .. device .. ": no GPU answers (lt.cuda.is_available() is false)", 0)
end
local max_iters = args.max_iters
if args.limit_batches > 0 then
  max_iters = args.limit_batches
  args.eval_interval = max_iters
  args.eval_iters = math.min(args.eval_iters, 3)
  args.sample_len = math.min(args.sample_len, 40)
end

local opts = {block_size = args.seq_length, path = args.path ~= "" and args.path or nil}
opts.split = "train"
local train_set = data.CharDataset(opts)
opts.split = "val"
local val_set = data.CharDataset(opts)
local V = train_set.vocab_size
print(("vocab %d, train %d windows, val %d windows, device %s")
      :format(V, #train_set, #val_set, device))

-- ------------------------------------------------------------- model

local CharRNN = nn.Module:extend("CharRNN")
function CharRNN:init(vocab, embed, hidden, layers, dropout)
  self.embed = nn.Embedding(vocab, embed)
  self.lstm = nn.LSTM(embed, hidden, {num_layers = layers, dropout = dropout,
                                      batch_first = true})
  self.drop = nn.Dropout(dropout)
  self.head = nn.Linear(hidden, vocab)
end

-- idx (B, T) of 1-based ids -> logits (B, T, V), the new state {h, c}
function CharRNN:forward(idx, state)
  local out, new_state = self.lstm(self.embed(idx), state)
  return self.head(self.drop(out)), new_state
end

local model = CharRNN(V, args.embed, args.hidden, args.layers, args.dropout):to(device)
print(("%d parameters"):format(model:num_parameters()))
local optimizer = optim.Adam(model:parameters(), {lr = args.lr})
local scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, math.max(1, max_iters),
                                                      {eta_min = args.lr / 10})

local function loss_of(x, y)
  local logits = model(x)
  local B, T = x:size(1), x:size(2)
  return F.cross_entropy(logits:reshape(B * T, V), y:reshape(B * T))
end

local function estimate_loss()
  model:eval()
  local _ <close> = lt.no_grad()
  local out = {}
  for name, ds in pairs({train = train_set, val = val_set}) do
    local s = 0
    for _ = 1, args.eval_iters do
      s = s + loss_of(ds:batch(args.batch_size, {device = device})):item()
    end
    out[name] = s / args.eval_iters
  end
  model:train()
  return out
end

-- ------------------------------------------------------------- training

local t0 = lt.time()
model:train()
local first_val, last_val
for it = 0, max_iters do
  if it % args.eval_interval == 0 or it == max_iters then
    local l = estimate_loss()
    first_val = first_val or l.val
    last_val = l.val
    print(("step %d: train %.4f  val %.4f  lr %.2e  (%.1fs)")
          :format(it, l.train, l.val, scheduler:get_last_lr()[1], lt.time() - t0))
  end
  if it == max_iters then break end
  optimizer:zero_grad()
  local loss = loss_of(train_set:batch(args.batch_size, {device = device}))
  loss:backward()
  nn.utils.clip_grad_norm_(model:parameters(), args.grad_clip)
  optimizer:step()
  scheduler:step()
end
print(("val loss %.4f -> %.4f"):format(first_val, last_val))
if args.save ~= "" then
  lt.save(model:state_dict(), args.save)
  print("saved " .. args.save)
end

-- ------------------------------------------------------------- sampling

-- one character from a (V) row of logits: temperature, then the top k only
local function pick(logits)
  logits = logits / args.temperature
  if args.top_k > 0 and args.top_k < V then
    local vals, ids = logits:topk(args.top_k)
    local j = F.softmax(vals, 1):multinomial(1)
    return ids[j:item()]   -- indexing a 1-D tensor gives a number
  end
  return F.softmax(logits, 1):multinomial(1):item()
end

model:eval()
local _ <close> = lt.no_grad()
-- run the prompt through, keeping the state; then feed back each sample
local logits, state = model(train_set:encode(args.prompt):view(1, -1):to(device))
local text = {args.prompt}
for _ = 1, args.sample_len do
  local c = pick(logits[1][logits:size(2)])
  text[#text + 1] = train_set:decode({c})
  logits, state = model(lt.tensor({{c}}, {dtype = "int64", device = device}), state)
end
print("--- sample ---")
print(table.concat(text))
