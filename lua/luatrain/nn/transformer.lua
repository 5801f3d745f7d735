--- Transformer layers: TransformerEncoderLayer (self-attention + feed-forward,
-- post-norm or pre-norm), TransformerEncoder (a stack of deep copies of one
-- layer, plus an optional final norm), TransformerDecoderLayer and
-- TransformerDecoder, with PyTorch's constructor arguments, submodule names
-- (self_attn.in_proj_weight, linear1, norm1, ...) and defaults, so
-- state_dicts match PyTorch's key for key. Built on nn.MultiheadAttention;
-- no fast path, no nested tensors, no nn.Transformer wrapper.
-- @module luatrain.nn.transformer
local lt = require("luatrain")
local module = require("luatrain.nn.module")
local linear = require("luatrain.nn.linear")
local dropout = require("luatrain.nn.dropout")
local attention = require("luatrain.nn.attention")
local normalization = require("luatrain.nn.normalization")
local container = require("luatrain.nn.container")
local F = require("luatrain.nn.functional")

local Module = module.Module
local M = {}

local function shape_str(t) return "{" .. table.concat(t.shape, ", ") .. "}" end

-- a deep copy of a module tree: new parameters (same values, same
-- requires_grad, ties kept), buffers and children; other fields copied
-- (tables one level deep)
local function deepcopy(m, memo)
  if memo[m] then return memo[m] end
  local cls = getmetatable(m)
  local new = cls.__new(cls)
  memo[m] = new
  local function tcopy(t)
    if t == nil then return nil end
    if memo[t] == nil then
      local c = t:detach():clone()
      if module.is_parameter(t) then c = module.Parameter(c, t.requires_grad) end
      memo[t] = c
    end
    return memo[t]
  end
  for k, v in pairs(rawget(m, "_attrs")) do
    if lt.is_tensor(v) then v = tcopy(v)
    elseif type(v) == "table" and not module.is_module(v) then
      local c = {}
      for kk, vv in pairs(v) do c[kk] = vv end
      v = setmetatable(c, getmetatable(v))
    end
    rawget(new, "_attrs")[k] = v
  end
  for _, kind in ipairs({"_params", "_buffers", "_modules"}) do
    local src, dst = rawget(m, kind), rawget(new, kind)
    for i, name in ipairs(src.names) do
      dst.names[i] = name
      dst.has[name] = true
      local v = src.map[name]
      if v ~= nil then
        dst.map[name] = kind == "_modules" and deepcopy(v, memo) or tcopy(v)
      end
    end
  end
  for k, v in pairs(rawget(m, "_non_persistent")) do rawget(new, "_non_persistent")[k] = v end
  return new
end
M._deepcopy = deepcopy

local ACTIVATIONS = {relu = F.relu, gelu = F.gelu}

local LAYER_OPTS = {dim_feedforward = true, dropout = true, activation = true,
                    layer_norm_eps = true, batch_first = true, norm_first = true,
                    bias = true, dtype = true, device = true}

--- TransformerEncoderLayer(d_model, nhead, {dim_feedforward = 2048, dropout = 0.1,
-- activation = "relu"|"gelu"|function, layer_norm_eps = 1e-5, batch_first = false,
-- norm_first = false, bias = true, dtype =, device =}).
-- Post-norm (default): x = norm1(x + sa(x)); x = norm2(x + ff(x)).
-- Pre-norm (norm_first): x = x + sa(norm1(x)); x = x + ff(norm2(x)).
local TransformerEncoderLayer = Module:extend("TransformerEncoderLayer")
M.TransformerEncoderLayer = TransformerEncoderLayer

function TransformerEncoderLayer:init(d_model, nhead, opts)
  local name = "TransformerEncoderLayer"
  if math.type(d_model) ~= "integer" or d_model <= 0 then
    error(("%s: bad argument #1 'd_model' (positive integer expected, got %s)"):format(name, tostring(d_model)), 3)
  end
  if math.type(nhead) ~= "integer" or nhead <= 0 then
    error(("%s: bad argument #2 'nhead' (positive integer expected, got %s)"):format(name, tostring(nhead)), 3)
  end
  if d_model % nhead ~= 0 then
    error(("%s: d_model %d must be divisible by nhead %d"):format(name, d_model, nhead), 3)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("%s: bad argument #3 'opts' (table expected, got %s)"):format(name, type(opts)), 3)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if not LAYER_OPTS[k] then error(("%s: unknown option '%s'"):format(name, tostring(k)), 3) end
  end
  local dff = opts.dim_feedforward or 2048
  if math.type(dff) ~= "integer" or dff <= 0 then
    error(("%s: bad option 'dim_feedforward' (positive integer expected, got %s)"):format(name, tostring(dff)), 3)
  end
  local p = opts.dropout or 0.1
  if type(p) ~= "number" or p < 0 or p > 1 then
    error(("%s: bad option 'dropout' (probability in [0, 1] expected, got %s)"):format(name, tostring(p)), 3)
  end
  local act = opts.activation or "relu"
  if type(act) == "string" then
    if not ACTIVATIONS[act] then
      error(("%s: bad option 'activation' ('%s'; 'relu', 'gelu' or a function expected)"):format(name, act), 3)
    end
    self.activation_name = act
  elseif type(act) ~= "function" and not module.is_module(act) then
    error(("%s: bad option 'activation' ('relu', 'gelu' or a function expected, got %s)")
          :format(name, type(act)), 3)
  end
  local bias = opts.bias ~= false
  local topts = {dtype = opts.dtype, device = opts.device}
  self.d_model, self.nhead = d_model, nhead
  self.batch_first = opts.batch_first or false
  self.self_attn = attention.MultiheadAttention(d_model, nhead, {dropout = p, bias = bias,
                                                 batch_first = self.batch_first,
                                                 dtype = opts.dtype, device = opts.device})
  self.linear1 = linear.Linear(d_model, dff, {bias = bias, dtype = topts.dtype, device = topts.device})
  self.dropout = dropout.Dropout(p)
  self.linear2 = linear.Linear(dff, d_model, {bias = bias, dtype = topts.dtype, device = topts.device})
  self.norm_first = opts.norm_first or false
  local eps = opts.layer_norm_eps or 1e-5
  self.norm1 = normalization.LayerNorm(d_model, {eps = eps, bias = bias, dtype = topts.dtype,
                                                 device = topts.device})
  self.norm2 = normalization.LayerNorm(d_model, {eps = eps, bias = bias, dtype = topts.dtype,
                                                 device = topts.device})
  self.dropout1 = dropout.Dropout(p)
  self.dropout2 = dropout.Dropout(p)
  if type(act) == "string" then self._act = ACTIVATIONS[act]
  elseif type(act) == "function" then self._act = act
  else self.activation = act end
end

-- (src, {src_mask =, src_key_padding_mask =, is_causal =}) or PyTorch's
-- positional (src, src_mask, src_key_padding_mask, is_causal)
local function mask_args(name, a2, a3, a4)
  if type(a2) == "table" and not lt.is_tensor(a2) then
    for k in pairs(a2) do
      if k ~= "src_mask" and k ~= "mask" and k ~= "src_key_padding_mask" and k ~= "is_causal" then
        error(("%s: unknown option '%s'"):format(name, tostring(k)), 4)
      end
    end
    return a2.src_mask or a2.mask, a2.src_key_padding_mask, a2.is_causal or false
  end
  if a2 ~= nil and not lt.is_tensor(a2) then
    error(("%s: bad argument #2 'src_mask' (tensor or options table expected, got %s)")
          :format(name, type(a2)), 4)
  end
  if a3 ~= nil and not lt.is_tensor(a3) then
    error(("%s: bad argument #3 'src_key_padding_mask' (tensor expected, got %s)")
          :format(name, type(a3)), 4)
  end
  return a2, a3, a4 or false
end

local function check_src(name, src, d_model, batch_first, mask, kpm, nhead)
  if not lt.is_tensor(src) then
    error(("%s: bad argument #1 'src' (tensor expected, got %s)"):format(name, type(src)), 4)
  end
  local nd = src:dim()
  if (nd ~= 2 and nd ~= 3) or src:size(nd) ~= d_model then
    error(("%s: expected src of shape (S, N, %d), (N, S, %d) with batch_first, or (S, %d); got %s")
          :format(name, d_model, d_model, d_model, shape_str(src)), 4)
  end
  local S = (nd == 3 and batch_first) and src:size(2) or src:size(1)
  local N = nd == 3 and (batch_first and src:size(1) or src:size(2)) or 1
  if mask ~= nil then
    local ok = (mask:dim() == 2 and mask:size(1) == S and mask:size(2) == S)
      or (mask:dim() == 3 and mask:size(1) == N * nhead and mask:size(2) == S and mask:size(3) == S)
    if not ok then
      error(("%s: src_mask shape %s does not match {%d, %d} or {%d, %d, %d} for src shape %s")
            :format(name, shape_str(mask), S, S, N * nhead, S, S, shape_str(src)), 4)
    end
  end
  if kpm ~= nil then
    local ok = (nd == 3 and kpm:dim() == 2 and kpm:size(1) == N and kpm:size(2) == S)
      or (nd == 2 and kpm:dim() == 1 and kpm:size(1) == S)
    if not ok then
      error(("%s: src_key_padding_mask shape %s does not match {%s} for src shape %s")
            :format(name, shape_str(kpm), nd == 3 and (N .. ", " .. S) or tostring(S), shape_str(src)), 4)
    end
  end
end

function TransformerEncoderLayer:_sa_block(x, mask, kpm, is_causal)
  local y = self.self_attn(x, x, x, {attn_mask = mask, key_padding_mask = kpm,
                                     need_weights = false, is_causal = is_causal})
  return self.dropout1(y)
end

function TransformerEncoderLayer:_ff_block(x)
  local act = self._act or self.activation
  return self.dropout2(self.linear2(self.dropout(act(self.linear1(x)))))
end

--- Encodes src.
-- @param src (S, N, d_model), (N, S, d_model) with batch_first, or (S, d_model)
-- @param opts {src_mask = (S, S) or (N*nhead, S, S) (bool: true = masked, or
--   float added), src_key_padding_mask = (N, S) (true = ignore), is_causal =
--   false (a causal mask; added to src_mask when both are given)}; PyTorch's
--   positional form (src, src_mask, src_key_padding_mask, is_causal) works too
-- @return tensor of src's shape
function TransformerEncoderLayer:forward(src, a2, a3, a4)
  local name = "TransformerEncoderLayer"
  local mask, kpm, is_causal = mask_args(name, a2, a3, a4)
  check_src(name, src, self.d_model, self.batch_first, mask, kpm, self.nhead)
  local x = src
  if self.norm_first then
    x = x + self:_sa_block(self.norm1(x), mask, kpm, is_causal)
    x = x + self:_ff_block(self.norm2(x))
  else
    x = self.norm1(x + self:_sa_block(x, mask, kpm, is_causal))
    x = self.norm2(x + self:_ff_block(x))
  end
  return x
end

function TransformerEncoderLayer:extra_repr()
  return ("d_model=%d, nhead=%d, activation=%s, batch_first=%s, norm_first=%s")
         :format(self.d_model, self.nhead, self.activation_name or "custom",
                 tostring(self.batch_first), tostring(self.norm_first))
end

--- TransformerEncoder(encoder_layer, num_layers, norm) (or {norm =} as the third
-- argument): `layers` is a ModuleList of num_layers deep copies of
-- encoder_layer (independent parameters, as PyTorch's), `norm` an optional
-- final module (e.g. LayerNorm).
local TransformerEncoder = Module:extend("TransformerEncoder")
M.TransformerEncoder = TransformerEncoder

function TransformerEncoder:init(encoder_layer, num_layers, norm)
  local name = "TransformerEncoder"
  if not module.is_module(encoder_layer) then
    error(("%s: bad argument #1 'encoder_layer' (Module expected, got %s)"):format(name, type(encoder_layer)), 3)
  end
  if math.type(num_layers) ~= "integer" or num_layers < 0 then
    error(("%s: bad argument #2 'num_layers' (non-negative integer expected, got %s)")
          :format(name, tostring(num_layers)), 3)
  end
  if type(norm) == "table" and not module.is_module(norm) then
    for k in pairs(norm) do
      if k ~= "norm" and k ~= "enable_nested_tensor" and k ~= "mask_check" then
        error(("%s: unknown option '%s'"):format(name, tostring(k)), 3)
      end
    end
    norm = norm.norm
  end
  if norm ~= nil and not module.is_module(norm) then
    error(("%s: bad argument #3 'norm' (Module or nil expected, got %s)"):format(name, type(norm)), 3)
  end
  local layers = {}
  for i = 1, num_layers do layers[i] = deepcopy(encoder_layer, {}) end
  self.layers = container.ModuleList(layers)
  self.num_layers = num_layers
  if norm ~= nil then self.norm = norm end
end

--- Runs src through every layer, then norm.
-- @param opts {mask =, src_key_padding_mask =, is_causal =} (see
--   TransformerEncoderLayer:forward; positional (src, mask, src_key_padding_mask,
--   is_causal) works too)
function TransformerEncoder:forward(src, a2, a3, a4)
  local mask, kpm, is_causal = mask_args("TransformerEncoder", a2, a3, a4)
  local x = src
  for _, layer in self.layers:iter() do
    x = layer(x, {src_mask = mask, src_key_padding_mask = kpm, is_causal = is_causal})
  end
  if self.norm ~= nil then x = self.norm(x) end
  return x
end

function TransformerEncoder:extra_repr() return ("num_layers=%d"):format(self.num_layers) end

--- TransformerDecoderLayer(d_model, nhead, {same options as TransformerEncoderLayer}):
-- self-attention over tgt, attention over memory (`multihead_attn`), then the
-- feed-forward block, each with its residual and norm (norm1..norm3),
-- post-norm or pre-norm (norm_first).
local TransformerDecoderLayer = Module:extend("TransformerDecoderLayer")
M.TransformerDecoderLayer = TransformerDecoderLayer

function TransformerDecoderLayer:init(d_model, nhead, opts)
  -- PyTorch's registration order: self_attn, multihead_attn, linear1, dropout,
  -- linear2, norm1, norm2, norm3, dropout1, dropout2, dropout3
  local ok, enc = pcall(TransformerEncoderLayer, d_model, nhead, opts)
  if not ok then
    error((tostring(enc):gsub("TransformerEncoderLayer", "TransformerDecoderLayer")), 0)
  end
  opts = opts or {}
  self.d_model, self.nhead, self.batch_first = d_model, nhead, enc.batch_first
  self.activation_name, self._act = enc.activation_name, enc._act
  self.self_attn = enc.self_attn
  self.multihead_attn = attention.MultiheadAttention(d_model, nhead, {
    dropout = enc.dropout.p, bias = opts.bias ~= false, batch_first = enc.batch_first,
    dtype = opts.dtype, device = opts.device})
  -- one assignment per statement: registration order is the state_dict order
  self.linear1 = enc.linear1
  self.dropout = enc.dropout
  self.linear2 = enc.linear2
  self.norm_first = enc.norm_first
  self.norm1 = enc.norm1
  self.norm2 = enc.norm2
  self.norm3 = normalization.LayerNorm(d_model, {eps = enc.norm1.eps, bias = opts.bias ~= false,
                                                 dtype = opts.dtype, device = opts.device})
  self.dropout1 = enc.dropout1
  self.dropout2 = enc.dropout2
  self.dropout3 = dropout.Dropout(enc.dropout.p)
  if enc.activation ~= nil then self.activation = enc.activation end
end

local DEC_KEYS = {tgt_mask = true, memory_mask = true, tgt_key_padding_mask = true,
                  memory_key_padding_mask = true, tgt_is_causal = true, memory_is_causal = true}

local function dec_opts(name, opts)
  if opts ~= nil and (type(opts) ~= "table" or lt.is_tensor(opts)) then
    error(("%s: bad argument #3 'opts' (table expected, got %s)")
          :format(name, lt.is_tensor(opts) and "a tensor" or type(opts)), 4)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if not DEC_KEYS[k] then error(("%s: unknown option '%s'"):format(name, tostring(k)), 4) end
  end
  return opts
end

--- Decodes tgt attending to memory.
-- @param tgt (T, N, d_model), (N, T, d_model) with batch_first, or (T, d_model)
-- @param memory (S, N, d_model) likewise (the encoder output)
-- @param opts {tgt_mask = (T, T), memory_mask = (T, S), tgt_key_padding_mask =
--   (N, T), memory_key_padding_mask = (N, S), tgt_is_causal = false,
--   memory_is_causal = false} (masks as in TransformerEncoderLayer:forward)
-- @return tensor of tgt's shape
function TransformerDecoderLayer:forward(tgt, memory, opts)
  local name = "TransformerDecoderLayer"
  opts = dec_opts(name, opts)
  check_src(name, tgt, self.d_model, self.batch_first, opts.tgt_mask, opts.tgt_key_padding_mask, self.nhead)
  check_src(name, memory, self.d_model, self.batch_first, nil, opts.memory_key_padding_mask, self.nhead)
  if tgt:dim() ~= memory:dim() then
    error(("%s: tgt %s and memory %s must both be batched or both unbatched")
          :format(name, shape_str(tgt), shape_str(memory)), 2)
  end
  local function sa(x)
    return self.dropout1(self.self_attn(x, x, x, {attn_mask = opts.tgt_mask,
      key_padding_mask = opts.tgt_key_padding_mask, need_weights = false,
      is_causal = opts.tgt_is_causal or false}))
  end
  local function mha(x)
    return self.dropout2(self.multihead_attn(x, memory, memory, {attn_mask = opts.memory_mask,
      key_padding_mask = opts.memory_key_padding_mask, need_weights = false,
      is_causal = opts.memory_is_causal or false}))
  end
  local function ff(x)
    local act = self._act or self.activation
    return self.dropout3(self.linear2(self.dropout(act(self.linear1(x)))))
  end
  local x = tgt
  if self.norm_first then
    x = x + sa(self.norm1(x))
    x = x + mha(self.norm2(x))
    x = x + ff(self.norm3(x))
  else
    x = self.norm1(x + sa(x))
    x = self.norm2(x + mha(x))
    x = self.norm3(x + ff(x))
  end
  return x
end

TransformerDecoderLayer.extra_repr = TransformerEncoderLayer.extra_repr

--- TransformerDecoder(decoder_layer, num_layers, norm) (or {norm =}): num_layers
-- deep copies of decoder_layer in `layers`, then the optional final `norm`.
local TransformerDecoder = Module:extend("TransformerDecoder")
M.TransformerDecoder = TransformerDecoder

function TransformerDecoder:init(decoder_layer, num_layers, norm)
  if not module.is_module(decoder_layer) then
    error(("TransformerDecoder: bad argument #1 'decoder_layer' (Module expected, got %s)")
          :format(type(decoder_layer)), 3)
  end
  if math.type(num_layers) ~= "integer" or num_layers < 0 then
    error(("TransformerDecoder: bad argument #2 'num_layers' (non-negative integer expected, got %s)")
          :format(tostring(num_layers)), 3)
  end
  if type(norm) == "table" and not module.is_module(norm) then norm = norm.norm end
  if norm ~= nil and not module.is_module(norm) then
    error(("TransformerDecoder: bad argument #3 'norm' (Module or nil expected, got %s)"):format(type(norm)), 3)
  end
  local layers = {}
  for i = 1, num_layers do layers[i] = deepcopy(decoder_layer, {}) end
  self.layers = container.ModuleList(layers)
  self.num_layers = num_layers
  if norm ~= nil then self.norm = norm end
end

--- Runs tgt through every layer (each attending to memory), then norm.
-- @param opts as TransformerDecoderLayer:forward
function TransformerDecoder:forward(tgt, memory, opts)
  opts = dec_opts("TransformerDecoder", opts)
  local x = tgt
  for _, layer in self.layers:iter() do x = layer(x, memory, opts) end
  if self.norm ~= nil then x = self.norm(x) end
  return x
end

TransformerDecoder.extra_repr = TransformerEncoder.extra_repr

return M
