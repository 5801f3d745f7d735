-- char_transformer.lua - a small GPT on characters: token + position
-- embeddings, pre-LayerNorm blocks (causal self-attention, GELU MLP), the
-- output head tied to the token embedding, AdamW with warmup + cosine decay
-- (LinearLR then CosineAnnealingLR in a SequentialLR), gradient clipping,
-- train/val loss, then sampling with temperature and top-k.
-- Text: --path FILE, or the fortunes files by default.
-- Run: luatrain examples/char_transformer.lua --max-iters 2000 --device cuda
--      luatrain examples/char_transformer.lua --limit-batches 30   (smoke test)
--      luatrain examples/char_transformer.lua --config gpt-char --device cuda --precision bf16
--        (the bench/gpu/gpt_char.lua model: 6 layers, 6 heads, 384 channels,
--        context 256, batch 64, dropout 0; flags given after it still win)
local lt = require "luatrain"
local nn, optim, data = lt.nn, lt.optim, lt.data
local F = nn.functional

local defaults = {
  path = "", block_size = 64, batch_size = 32, n_layer = 4, n_head = 4, n_embd = 128,
  dropout = 0.1, lr = 1e-3, min_lr = 1e-4, weight_decay = 0.1, warmup = 100,
  max_iters = 2000, eval_interval = 250, eval_iters = 20, grad_clip = 1.0,
  limit_batches = 0, device = "auto", seed = 1337,
  sample_len = 300, temperature = 0.8, top_k = 10, prompt = "\n",
  config = "", precision = "fp32",
}
-- named configurations: new defaults, which options on the command line override
local CONFIGS = {
  ["gpt-char"] = {n_layer = 6, n_head = 6, n_embd = 384, block_size = 256, batch_size = 64,
                  dropout = 0.0},
}
for i, a in ipairs(arg or {}) do
  local name = a:match("^%-%-config=(.*)$") or (a == "--config" and arg[i + 1])
  if name and name ~= "" then
    if not CONFIGS[name] then
      error(("--config: unknown configuration '%s' (known: gpt-char)"):format(name), 0)
    end
    for k, v in pairs(CONFIGS[name]) do defaults[k] = v end
  end
end
local args = lt.args(defaults, {help = {
  config = "named configuration: gpt-char (6 layers, 6 heads, 384 channels, context 256, batch 64)",
  precision = "fp32, tf32 (TF32 matrix products) or bf16 (lt.autocast)",
  device = "auto (cuda when a GPU answers), cpu, cuda or cuda:N",
}})
lt.seed_everything(args.seed)
local device = args.device
if device == "auto" then device = lt.cuda.is_available() and "cuda" or "cpu" end
if device:match("^cuda") and not lt.cuda.is_available() then
  error("--device " .. device .. ": no GPU answers (lt.cuda.is_available() is false)", 0)
end
if args.precision ~= "fp32" and args.precision ~= "tf32" and args.precision ~= "bf16" then
  error(("--precision must be fp32, tf32 or bf16, got '%s'"):format(args.precision), 0)
end
if args.precision == "bf16" and type(lt.autocast) ~= "function" then
  error("--precision bf16 needs lt.autocast, which this luatrain does not have", 0)
end
lt.backends.allow_tf32 = args.precision == "tf32"
-- bf16: forward passes run under autocast (a nil guard closes nothing)
local function autocast()
  if args.precision == "bf16" then return lt.autocast("bfloat16") end
  return nil
end
local max_iters = args.max_iters
if args.limit_batches > 0 then
  max_iters = args.limit_batches
  args.eval_interval = math.max(1, max_iters)
  args.eval_iters = math.min(args.eval_iters, 4)
  args.warmup = math.min(args.warmup, math.max(1, max_iters // 5))
  args.sample_len = math.min(args.sample_len, 40)
end

local ds_opts = {block_size = args.block_size, path = args.path ~= "" and args.path or nil}
ds_opts.split = "train"
local train_set = data.CharDataset(ds_opts)
ds_opts.split = "val"
local val_set = data.CharDataset(ds_opts)
local V = train_set.vocab_size
print(("vocab %d, train %d windows, val %d windows, device %s"):format(V, #train_set, #val_set, device))

-- ------------------------------------------------------------- model

local Block = nn.Module:extend("Block")
function Block:init(C, H, p)
  self.ln_1 = nn.LayerNorm(C)
  self.attn = nn.CausalSelfAttention(C, H, {dropout = p})
  self.ln_2 = nn.LayerNorm(C)
  self.mlp = nn.Sequential(nn.Linear(C, 4 * C), nn.GELU(), nn.Linear(4 * C, C), nn.Dropout(p))
end
function Block:forward(x)
  x = x + self.attn(self.ln_1(x))
  return x + self.mlp(self.ln_2(x))
end

local GPT = nn.Module:extend("GPT")
function GPT:init(cfg)
  self.block_size = cfg.block_size
  self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
  self.pos_emb = nn.Embedding(cfg.block_size, cfg.n_embd)
  self.drop = nn.Dropout(cfg.dropout)
  local blocks = {}
  for i = 1, cfg.n_layer do blocks[i] = Block(cfg.n_embd, cfg.n_head, cfg.dropout) end
  self.blocks = nn.ModuleList(blocks)
  self.ln_f = nn.LayerNorm(cfg.n_embd)
  self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, {bias = false})
  -- GPT-2 initialisation: N(0, 0.02) weights, zero biases
  self:apply(function(m)
    if m.weight ~= nil and (getmetatable(m) == nn.Linear or getmetatable(m) == nn.Embedding) then
      nn.init.normal_(m.weight, 0, 0.02)
      if m.bias ~= nil then nn.init.zeros_(m.bias) end
    end
  end)
  self.head.weight = self.tok_emb.weight   -- weight tying (listed once in parameters())
end

function GPT:forward(idx, targets)
  local B, T = idx:size(1), idx:size(2)
  local pos = lt.arange(1, T + 1, 1, {dtype = "int64", device = idx.device})
  local x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
  for _, block in ipairs(self.blocks) do x = block(x) end
  local logits = self.head(self.ln_f(x))
  local loss
  if targets then loss = F.cross_entropy(logits:view(B * T, -1), targets:reshape(B * T)) end
  return logits, loss
end

local model = GPT{vocab_size = V, block_size = args.block_size, n_layer = args.n_layer,
                  n_head = args.n_head, n_embd = args.n_embd, dropout = args.dropout}:to(device)
print(("%d parameters"):format(model:num_parameters()))

-- weight decay on matrices only
local decay, no_decay = {}, {}
for _, p in model:named_parameters() do
  if p:dim() >= 2 then decay[#decay + 1] = p else no_decay[#no_decay + 1] = p end
end
local optimizer = optim.AdamW({{params = decay, weight_decay = args.weight_decay},
                               {params = no_decay, weight_decay = 0.0}},
                              {lr = args.lr, betas = {0.9, 0.95}})
local sched = optim.lr_scheduler
local warmup = math.max(1, args.warmup)
local scheduler = sched.SequentialLR(optimizer, {
  sched.LinearLR(optimizer, {start_factor = 1e-2, end_factor = 1.0, total_iters = warmup}),
  sched.CosineAnnealingLR(optimizer, math.max(1, max_iters - warmup), {eta_min = args.min_lr}),
}, {warmup})

local function estimate_loss()
  model:eval()
  local _ <close> = lt.no_grad()
  local _ <close> = autocast()
  local out = {}
  for name, ds in pairs({train = train_set, val = val_set}) do
    local s = 0
    for _ = 1, args.eval_iters do
      local x, y = ds:batch(args.batch_size, {device = device})
      local _, loss = model(x, y)
      s = s + loss:item()
    end
    out[name] = s / args.eval_iters
  end
  model:train()
  return out
end

-- ------------------------------------------------------------- training

local t0 = lt.time()
model:train()
for it = 0, max_iters do
  if it % args.eval_interval == 0 or it == max_iters then
    local l = estimate_loss()
    print(("step %d: train %.4f  val %.4f  lr %.2e  (%.1fs)")
          :format(it, l.train, l.val, scheduler:get_last_lr()[1], lt.time() - t0))
  end
  if it == max_iters then break end
  local x, y = train_set:batch(args.batch_size, {device = device})
  optimizer:zero_grad()
  local loss
  do
    local _ <close> = autocast()
    loss = select(2, model(x, y))
  end
  loss:backward()
  nn.utils.clip_grad_norm_(model:parameters(), args.grad_clip)
  optimizer:step()
  scheduler:step()
end

-- ------------------------------------------------------------- sampling

-- keeps the k largest logits of a (1, V) row, the rest -inf
local function top_k_filter(logits, k)
  if k <= 0 or k >= logits:size(2) then return logits end
  local vals = logits:view(-1):tolist()
  table.sort(vals, function(a, b) return a > b end)
  return logits:masked_fill(logits:lt(vals[k]), -math.huge)
end

local function generate(idx, n, temperature, top_k)
  model:eval()
  local _ <close> = lt.no_grad()
  local _ <close> = autocast()
  for _ = 1, n do
    local T = idx:size(2)
    local ctx = T > args.block_size and idx:narrow(2, T - args.block_size + 1, args.block_size) or idx
    local logits = model(ctx)
    logits = logits:select(2, ctx:size(2)) / temperature   -- (1, V)
    logits = top_k_filter(logits, top_k)
    local nxt = lt.multinomial(F.softmax(logits, -1), 1)  -- (1, 1), 1-based
    idx = lt.cat({idx, nxt}, 2)
  end
  return idx
end

local ok, start = pcall(train_set.encode, train_set, args.prompt)
if not ok then start = train_set:encode(train_set:decode({1})) end
local out = generate(start:view(1, -1):to(device), args.sample_len, args.temperature, args.top_k)
print("---- sample ----")
print(train_set:decode(out:view(-1):cpu()))
