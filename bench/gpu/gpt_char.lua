-- bench/gpu/gpt_char.lua - ms per training iteration (forward, backward,
-- AdamW step) of the GPT-char configuration: 6 layers, 6 heads, 384
-- channels, context 256, batch 64, vocabulary 65, pre-LayerNorm blocks,
-- GELU MLP 4x, head tied to the token embedding, dropout 0, on random
-- tokens; in fp32, tf32 and bf16 autocast, with the peak memory of each.
-- Prints RESULT lines that bench/gpu/run.sh sets against gpt_char_torch.py.
-- No text, no evaluation, no sampling (examples/char_transformer.lua does those).
-- Usage: luatrain bench/gpu/gpt_char.lua [--iters N] [--time-limit S] [--modes fp32,bf16]
--        luatrain bench/gpu/gpt_char.lua --device cpu --layers 1 --iters 2   (logic check)
local lt = require "luatrain"
local nn, optim = lt.nn, lt.optim
local F = nn.functional

local a = lt.args({device = "cuda", layers = 6, heads = 6, embd = 384, block = 256, batch = 64,
                   vocab = 65, warmup = 3, iters = 10, time_limit = 0.0,
                   modes = "fp32,tf32,bf16", lr = 3e-4, seed = 0}, {help = {
  iters = "timed iterations per mode",
  time_limit = "per mode: stop timing after S seconds (at least 2 iterations; 0 = no limit)",
  modes = "comma-separated list of fp32, tf32, bf16",
}})

local dev = a.device
if dev:match("^cuda") and not lt.cuda.is_available() then
  print("gpt_char: no GPU: skipping (use --device cpu)")
  return
end
local is_cuda = dev:match("^cuda") ~= nil
local function sync() if is_cuda then lt.cuda.synchronize() end end

-- ------------------------------------------------------------- model

local Block = nn.Module:extend("Block")
function Block:init(C, H)
  self.ln_1 = nn.LayerNorm(C)
  self.attn = nn.CausalSelfAttention(C, H, {dropout = 0.0})
  self.ln_2 = nn.LayerNorm(C)
  self.mlp = nn.Sequential(nn.Linear(C, 4 * C), nn.GELU(), nn.Linear(4 * C, C))
end
function Block:forward(x)
  x = x + self.attn(self.ln_1(x))
  return x + self.mlp(self.ln_2(x))
end

local GPT = nn.Module:extend("GPT")
function GPT:init(V, T, L, H, C)
  self.tok_emb = nn.Embedding(V, C)
  self.pos_emb = nn.Embedding(T, C)
  local blocks = {}
  for i = 1, L do blocks[i] = Block(C, H) end
  self.blocks = nn.ModuleList(blocks)
  self.ln_f = nn.LayerNorm(C)
  self.head = nn.Linear(C, V, {bias = false})
  self:apply(function(m)   -- GPT-2 initialisation: N(0, 0.02), zero biases
    local mt = getmetatable(m)
    if m.weight ~= nil and (mt == nn.Linear or mt == nn.Embedding) then
      nn.init.normal_(m.weight, 0, 0.02)
      if m.bias ~= nil then nn.init.zeros_(m.bias) end
    end
  end)
  self.head.weight = self.tok_emb.weight   -- tied
end
function GPT:forward(idx, targets)
  local B, T = idx:size(1), idx:size(2)
  local pos = lt.arange(1, T + 1, 1, {dtype = "int64", device = idx.device})
  local x = self.tok_emb(idx) + self.pos_emb(pos)
  for _, block in ipairs(self.blocks) do x = block(x) end
  local logits = self.head(self.ln_f(x))
  return F.cross_entropy(logits:view(B * T, -1), targets:reshape(B * T))
end

lt.seed_everything(a.seed)
local model = GPT(a.vocab, a.block, a.layers, a.heads, a.embd):to(dev)
model:train()
local opt = optim.AdamW(model:parameters(), {lr = a.lr, betas = {0.9, 0.95}, weight_decay = 0.1})
local x = lt.randint(1, a.vocab + 1, {a.batch, a.block}, {device = dev})
local y = lt.randint(1, a.vocab + 1, {a.batch, a.block}, {device = dev})
print(("info: gpt_char luatrain %s on %s: %d layers, %d heads, %d channels, context %d, batch %d, "
       .. "%d parameters"):format(tostring(lt.version), dev, a.layers, a.heads, a.embd, a.block,
                                  a.batch, model:num_parameters()))

local function forward() return model(x, y) end

local function iteration(bf16)
  opt:zero_grad()
  local loss = bf16 and lt.autocast("bfloat16", forward) or forward()
  loss:backward()
  opt:step()
  return loss
end

local function run_mode(mode)
  local bf16 = mode == "bf16"
  lt.backends.allow_tf32 = mode == "tf32"
  collectgarbage()
  sync()
  if is_cuda then lt.cuda.reset_peak_memory_stats() end
  for _ = 1, a.warmup do iteration(bf16) end
  sync()
  local n, loss = 0
  local t0 = lt.time()
  repeat
    loss = iteration(bf16)
    n = n + 1
  until n >= a.iters or (a.time_limit > 0 and n >= 2 and lt.time() - t0 > a.time_limit)
  sync()
  local ms = (lt.time() - t0) / n * 1e3
  print(("info: gpt_%s %d iterations, loss %.4f"):format(mode, n, loss:item()))
  print(("RESULT gpt_%s_ms %.2f"):format(mode, ms))
  if is_cuda then
    print(("RESULT gpt_%s_peak_mib %.1f"):format(mode, lt.cuda.max_memory_allocated() / 2 ^ 20))
  end
end

for mode in a.modes:gmatch("[^,%s]+") do
  if mode ~= "fp32" and mode ~= "tf32" and mode ~= "bf16" then
    print(("%s: unknown mode (fp32, tf32, bf16)"):format(mode))
  elseif mode == "bf16" and type(lt.autocast) ~= "function" then
    print("bf16: lt.autocast unavailable")
  else
    local ok, err = pcall(run_mode, mode)
    if not ok then print(("%s: failed: %s"):format(mode, (tostring(err):gsub("\n.*", "")))) end
  end
  io.stdout:flush()
end
lt.backends.allow_tf32 = false
