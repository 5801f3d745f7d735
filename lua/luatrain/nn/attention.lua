--- Attention layers: MultiheadAttention (PyTorch's parameter layout:
-- in_proj_weight (3E, E), in_proj_bias, out_proj) and CausalSelfAttention
-- (a GPT block's attention: one fused qkv Linear, causal mask). Both run on
-- lt.scaled_dot_product_attention. No kdim/vdim different from embed_dim,
-- no add_bias_kv / add_zero_attn.
-- @module luatrain.nn.attention
local lt = require("luatrain")
local module = require("luatrain.nn.module")
local linear = require("luatrain.nn.linear")
local dropout = require("luatrain.nn.dropout")
local init = require("luatrain.nn.init_fns")
local F = require("luatrain.nn.functional")

local Module, Parameter = module.Module, module.Parameter
local M = {}

local function check_heads(name, embed_dim, num_heads)
  if math.type(embed_dim) ~= "integer" or embed_dim <= 0 then
    error(("%s: bad argument #1 'embed_dim' (positive integer expected, got %s)")
          :format(name, tostring(embed_dim)), 4)
  end
  if math.type(num_heads) ~= "integer" or num_heads <= 0 then
    error(("%s: bad argument #2 'num_heads' (positive integer expected, got %s)")
          :format(name, tostring(num_heads)), 4)
  end
  if embed_dim % num_heads ~= 0 then
    error(("%s: embed_dim %d must be divisible by num_heads %d"):format(name, embed_dim, num_heads), 4)
  end
end

-- bool mask (true = masked out) -> additive float mask
local function to_float_mask(mask, like)
  if mask.dtype == "bool" then
    return lt.zeros(mask.shape, {dtype = like.dtype, device = like.device})
             :masked_fill(mask, -math.huge)
  end
  return mask
end

local function causal_mask(L, S, like)
  local i = lt.arange(0, L, 1, {device = like.device}):view(L, 1)
  local j = lt.arange(0, S, 1, {device = like.device}):view(1, S)
  return to_float_mask(j:gt(i), like)
end

--- MultiheadAttention(embed_dim, num_heads, {dropout = 0, bias = true,
-- batch_first = true, dtype =, device =}).
local MultiheadAttention = Module:extend("MultiheadAttention")
M.MultiheadAttention = MultiheadAttention

function MultiheadAttention:init(embed_dim, num_heads, opts)
  check_heads("MultiheadAttention", embed_dim, num_heads)
  opts = opts or {}
  if (opts.kdim and opts.kdim ~= embed_dim) or (opts.vdim and opts.vdim ~= embed_dim) then
    error("MultiheadAttention: kdim and vdim different from embed_dim are not supported", 3)
  end
  self.embed_dim, self.num_heads = embed_dim, num_heads
  self.head_dim = embed_dim // num_heads
  self.dropout = opts.dropout or 0.0
  if opts.batch_first == nil then self.batch_first = true else self.batch_first = opts.batch_first end
  local topts = {dtype = opts.dtype, device = opts.device}
  self.in_proj_weight = Parameter(lt.empty({3 * embed_dim, embed_dim}, topts))
  if opts.bias ~= false then
    self.in_proj_bias = Parameter(lt.empty({3 * embed_dim}, topts))
  else
    self:register_parameter("in_proj_bias", nil)
  end
  self.out_proj = linear.Linear(embed_dim, embed_dim, {bias = opts.bias ~= false,
                                                       dtype = opts.dtype, device = opts.device})
  self:reset_parameters()
end

--- PyTorch's init: xavier_uniform_ on in_proj_weight, zero biases.
function MultiheadAttention:reset_parameters()
  init.xavier_uniform_(self.in_proj_weight)
  if self.in_proj_bias ~= nil then
    init.zeros_(self.in_proj_bias)
    init.zeros_(self.out_proj.bias)
  end
end

--- Attention of query over key/value.
-- @param query (N, L, E) with batch_first (else (L, N, E)), or (L, E) unbatched
-- @param key (default query)
-- @param value (default key)
-- @param opts {key_padding_mask = (N, S) (true = ignore), attn_mask = (L, S) or
--   (N*H, L, S) (bool: true = masked, or float added), need_weights = true,
--   average_attn_weights = true, is_causal = false}
-- @return output, attention weights (nil unless need_weights)
function MultiheadAttention:forward(query, key, value, opts)
  if not lt.is_tensor(query) then
    error(("MultiheadAttention: bad argument #1 'query' (tensor expected, got %s)"):format(type(query)), 2)
  end
  key = key or query
  value = value or key
  opts = opts or {}
  local unbatched = query:dim() == 2
  if unbatched then
    query, key, value = query:unsqueeze(1), key:unsqueeze(1), value:unsqueeze(1)
  elseif not self.batch_first then
    query, key, value = query:transpose(1, 2), key:transpose(1, 2), value:transpose(1, 2)
  end
  local N, L, E = query:size(1), query:size(2), query:size(3)
  if E ~= self.embed_dim then
    error(("MultiheadAttention: query has %d features, expected embed_dim %d"):format(E, self.embed_dim), 2)
  end
  local S = key:size(2)
  local H, D = self.num_heads, self.head_dim
  local w, b = self.in_proj_weight, self.in_proj_bias
  local function proj(x, i)
    return F.linear(x, w:narrow(1, i * E + 1, E), b and b:narrow(1, i * E + 1, E))
  end
  local q, k, v = proj(query, 0), proj(key, 1), proj(value, 2)
  q = q:reshape(N, L, H, D):transpose(2, 3)
  k = k:reshape(N, S, H, D):transpose(2, 3)
  v = v:reshape(N, S, H, D):transpose(2, 3)

  local mask
  if opts.attn_mask then
    mask = to_float_mask(opts.attn_mask, q)
    if mask:dim() == 3 then mask = mask:reshape(N, H, L, S) end
  end
  if opts.key_padding_mask then
    local kpm = to_float_mask(opts.key_padding_mask, q):reshape(N, 1, 1, S)
    mask = mask and (mask + kpm) or kpm
  end
  local is_causal = opts.is_causal or false
  if is_causal and mask then
    mask = mask + causal_mask(L, S, q)
    is_causal = false
  end
  local p = self.training and self.dropout or 0.0
  local need_weights = opts.need_weights ~= false
  local out, weights
  if need_weights then
    local scores = q:matmul(k:transpose(3, 4)) * (1 / math.sqrt(D))
    if is_causal then scores = scores + causal_mask(L, S, q) end
    if mask then scores = scores + mask end
    local attn = lt.softmax(scores, -1)
    weights = attn
    if opts.average_attn_weights ~= false then weights = attn:mean(2) end
    out = F.dropout(attn, p, self.training):matmul(v)
  else
    out = lt.scaled_dot_product_attention(q, k, v, {attn_mask = mask, dropout_p = p,
                                                    is_causal = is_causal})
  end
  out = self.out_proj(out:transpose(2, 3):reshape(N, L, E))
  if unbatched then
    out = out:squeeze(1)
    if weights then weights = weights:squeeze(1) end
  elseif not self.batch_first then
    out = out:transpose(1, 2)
  end
  return out, weights
end

function MultiheadAttention:extra_repr()
  return ("embed_dim=%d, num_heads=%d, dropout=%g, batch_first=%s")
         :format(self.embed_dim, self.num_heads, self.dropout, tostring(self.batch_first))
end

--- CausalSelfAttention(embed_dim, num_heads, {dropout = 0, bias = true}):
-- GPT-style masked self-attention over (B, T, E) with a fused c_attn
-- Linear(E, 3E) and an output projection c_proj.
local CausalSelfAttention = Module:extend("CausalSelfAttention")
M.CausalSelfAttention = CausalSelfAttention

function CausalSelfAttention:init(embed_dim, num_heads, opts)
  check_heads("CausalSelfAttention", embed_dim, num_heads)
  opts = opts or {}
  self.embed_dim, self.num_heads = embed_dim, num_heads
  self.dropout = opts.dropout or 0.0
  local bias = opts.bias ~= false
  self.c_attn = linear.Linear(embed_dim, 3 * embed_dim, {bias = bias, dtype = opts.dtype,
                                                         device = opts.device})
  self.c_proj = linear.Linear(embed_dim, embed_dim, {bias = bias, dtype = opts.dtype,
                                                     device = opts.device})
  self.resid_dropout = dropout.Dropout(self.dropout)
end

function CausalSelfAttention:forward(x)
  if not lt.is_tensor(x) or x:dim() ~= 3 then
    error("CausalSelfAttention: bad argument #1 'x' (tensor (B, T, E) expected)", 2)
  end
  local B, T, E = x:size(1), x:size(2), x:size(3)
  local H = self.num_heads
  local D = E // H
  local qkv = self.c_attn(x)
  local function head(i)
    return qkv:narrow(3, i * E + 1, E):reshape(B, T, H, D):transpose(2, 3)
  end
  local q, k, v = head(0), head(1), head(2)
  local y = lt.scaled_dot_product_attention(q, k, v, {is_causal = true,
                                                      dropout_p = self.training and self.dropout or 0.0})
  y = y:transpose(2, 3):reshape(B, T, E)
  return self.resid_dropout(self.c_proj(y))
end

function CausalSelfAttention:extra_repr()
  return ("embed_dim=%d, num_heads=%d"):format(self.embed_dim, self.num_heads)
end

return M
