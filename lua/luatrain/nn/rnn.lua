--- Recurrent layers: RNN (tanh/relu), LSTM and GRU over whole sequences
-- (stacked, optionally bidirectional), and the single-step cells RNNCell,
-- LSTMCell and GRUCell. Parameter names, shapes, gate order (LSTM i,f,g,o;
-- GRU r,z,n with n = tanh(W_in x + b_in + r (W_hn h + b_hn))) and the
-- U(-1/sqrt(hidden), 1/sqrt(hidden)) initialisation are PyTorch's, so
-- state_dicts load both ways. The input projection of a whole sequence is one
-- matmul per layer and direction; only the hidden projection loops over
-- time, in Lua. LSTM and GRU steps use the core's fused cells
-- (lt._C.lstm_cell / gru_cell: one kernel and one autograd node per step)
-- when the device's backend has them for the dtype and autocast is off,
-- else the same step composed from differentiable core ops (so every
-- device works). No packed sequences, no LSTM proj_size, no cuDNN.
-- @module luatrain.nn.rnn
local lt = require("luatrain")
local module = require("luatrain.nn.module")
local init = require("luatrain.nn.init_fns")
local F = require("luatrain.nn.functional")

local Module, Parameter = module.Module, module.Parameter
local C = lt._C
local M = {}

local function shape_str(t) return "{" .. table.concat(t.shape, ", ") .. "}" end

local GATES = {RNN_TANH = 1, RNN_RELU = 1, LSTM = 4, GRU = 3}

local function check_size(name, argn, key, v)
  if math.type(v) ~= "integer" or v <= 0 then
    error(("%s: bad argument #%d '%s' (positive integer expected, got %s)")
          :format(name, argn, key, tostring(v)), 4)
  end
end

local function check_tensor(name, argn, key, v)
  if not lt.is_tensor(v) then
    error(("%s: bad argument #%d '%s' (tensor expected, got %s)"):format(name, argn, key, type(v)), 4)
  end
end

-- input must match the weights' dtype and device
local function check_like(name, key, t, w)
  if t.dtype ~= w.dtype then
    error(("%s: '%s' has dtype %s but the weights have %s"):format(name, key, t.dtype, w.dtype), 4)
  end
  if t.device ~= w.device then
    error(("%s: '%s' is on %s but the weights are on %s"):format(name, key, t.device, w.device), 4)
  end
end

-- ------------------------------------------------------------ one time step
-- gx: the input projection W_ih x + b_ih (+ b_hh for RNN/LSTM), (N, G*H)

local function step_rnn(gx, h, w_hh, b_hh, relu)
  local g = gx + lt.linear(h, w_hh, b_hh)
  if relu then return g:relu() end
  return g:tanh()
end

-- true when this tensor's device and dtype have the fused cells (checked
-- once per forward; autocast mixes dtypes, so it takes the composed path)
local function use_fused(t)
  return C.has_fused_rnn(t.device, t.dtype) and not lt.is_autocast_enabled()
end

local function step_lstm(gx, h, c, w_hh, b_hh, H, fused)
  local g = gx + lt.linear(h, w_hh, b_hh)
  if fused then return C.lstm_cell(g, c) end
  local s = g:sigmoid()
  local i, f, o = s:narrow(2, 1, H), s:narrow(2, H + 1, H), s:narrow(2, 3 * H + 1, H)
  local gg = g:narrow(2, 2 * H + 1, H):tanh()
  local c1 = f * c + i * gg
  return o * c1:tanh(), c1
end

local function step_gru(gx, h, w_hh, b_hh, H, fused)
  local gh = lt.linear(h, w_hh, b_hh)
  if fused then return C.gru_cell(gx, gh, h) end
  local rz = (gx:narrow(2, 1, 2 * H) + gh:narrow(2, 1, 2 * H)):sigmoid()
  local r, z = rz:narrow(2, 1, H), rz:narrow(2, H + 1, H)
  local n = (gx:narrow(2, 2 * H + 1, H) + r * gh:narrow(2, 2 * H + 1, H)):tanh()
  return n + z * (h - n)
end

-- The time steps of xp (L, N, G*H) as L views whose gradients meet in one
-- stack: a plain select per step would pad each step's gradient to the
-- whole (L, N, G*H) and add L of them (O(L^2) for the sequence). Custom
-- Functions have at most 16 outputs, so longer sequences are first split
-- into at most 16 chunks (recursively), each with a cat for its backward.
local MAX_OUT = 16
local Unbind = lt.autograd.Function{
  name = "UnbindBackward",
  forward = function(_, x)
    local outs = {}
    for t = 1, x:size(1) do outs[t] = x:select(1, t) end
    return table.unpack(outs)
  end,
  backward = function(_, ...) return lt.stack({...}, 1) end,
}
local Split = lt.autograd.Function{
  name = "SplitBackward",
  forward = function(_, x, size)
    local outs, L = {}, x:size(1)
    for s = 1, L, size do outs[#outs + 1] = x:narrow(1, s, math.min(size, L - s + 1)) end
    return table.unpack(outs)
  end,
  backward = function(_, ...) return lt.cat({...}, 1) end,
}

local function split_steps(x, out)
  local L = x:size(1)
  if L <= MAX_OUT then
    for _, v in ipairs({Unbind(x)}) do out[#out + 1] = v end
  else
    for _, v in ipairs({Split(x, (L + MAX_OUT - 1) // MAX_OUT)}) do split_steps(v, out) end
  end
  return out
end

-- The top split of an LSTM/RNN layer also gives W_hh its gradient: the steps
-- use a detached W_hh, and since gates_t = xp_t + h_(t-1) W_hh^T, the
-- gradient of xp is the stacked gate gradients dG, so dW_hh = dG^T Hprev in
-- one matmul (box.hprev[t] = h_(t-1), filled by the loop) instead of one
-- (4H, H) product and accumulation per step.
local SplitW = lt.autograd.Function{
  name = "RecurrentStepsBackward",
  forward = function(ctx, x, _, box, size)
    ctx.box = box
    local outs, L = {}, x:size(1)
    for s = 1, L, size do outs[#outs + 1] = x:narrow(1, s, math.min(size, L - s + 1)) end
    return table.unpack(outs)
  end,
  backward = function(ctx, ...)
    local dg = lt.cat({...}, 1)
    local dw
    if ctx.needs_input_grad[2] then
      local L, N = dg:size(1), dg:size(2)
      local hp = lt.stack(ctx.box.hprev, 1):reshape(L * N, -1)
      dw = dg:reshape(L * N, -1):t():matmul(hp)
    end
    ctx.box = nil
    return dg, dw
  end,
}

-- the steps of xp; w_hh given (LSTM/RNN): also returns the W_hh to use in the
-- steps and the box whose hprev the loop fills
local function unbind_steps(xp, w_hh)
  local L = xp:size(1)
  if L > 1 and lt.is_grad_enabled() and (xp.requires_grad or (w_hh and w_hh.requires_grad)) then
    if w_hh then
      local box = {hprev = {}}
      local out = {}
      for _, v in ipairs({SplitW(xp, w_hh, box, (L + MAX_OUT - 1) // MAX_OUT)}) do
        split_steps(v, out)
      end
      return out, w_hh:detach(), box
    end
    return split_steps(xp, {}), nil
  end
  local outs = {}
  for t = 1, L do outs[t] = xp:select(1, t) end
  return outs, w_hh
end

-- the steps, for tests comparing the fused and composed paths
M._step_lstm, M._step_gru = step_lstm, step_gru

-- ------------------------------------------------------------ RNN / LSTM / GRU

local RNNBase = Module:extend("RNNBase")
M.RNNBase = RNNBase

local OPTS = {num_layers = true, bias = true, batch_first = true, dropout = true,
              bidirectional = true, nonlinearity = true, dtype = true, device = true,
              proj_size = true}

-- (input_size, hidden_size[, num_layers][, opts]) or ({input_size=, hidden_size=, ...})
function RNNBase:_setup(name, mode, input_size, hidden_size, a3, a4)
  local opts
  if type(input_size) == "table" then
    opts = input_size
    input_size, hidden_size = opts.input_size, opts.hidden_size
  elseif math.type(a3) == "integer" then
    if a4 ~= nil and type(a4) ~= "table" then
      error(("%s: bad argument #4 'opts' (table expected, got %s)"):format(name, type(a4)), 4)
    end
    opts = {}
    for k, v in pairs(a4 or {}) do opts[k] = v end
    opts.num_layers = a3
  else
    if a3 ~= nil and type(a3) ~= "table" then
      error(("%s: bad argument #3 'num_layers' (integer or options table expected, got %s)")
            :format(name, tostring(a3)), 4)
    end
    opts = a3 or {}
  end
  for k in pairs(opts) do
    if not OPTS[k] and k ~= "input_size" and k ~= "hidden_size" then
      error(("%s: unknown option '%s'"):format(name, tostring(k)), 4)
    end
  end
  check_size(name, 1, "input_size", input_size)
  check_size(name, 2, "hidden_size", hidden_size)
  local num_layers = opts.num_layers or 1
  check_size(name, 3, "num_layers", num_layers)
  local p = opts.dropout or 0
  if type(p) ~= "number" or p < 0 or p > 1 then
    error(("%s: bad option 'dropout' (probability in [0, 1] expected, got %s)"):format(name, tostring(p)), 4)
  end
  if (opts.proj_size or 0) ~= 0 then
    error(("%s: proj_size is not supported"):format(name), 4)
  end
  if mode == "RNN" then
    local nl = opts.nonlinearity or "tanh"
    if nl ~= "tanh" and nl ~= "relu" then
      error(("%s: bad option 'nonlinearity' ('%s'; 'tanh' or 'relu' expected)"):format(name, tostring(nl)), 4)
    end
    self.nonlinearity = nl
    mode = nl == "tanh" and "RNN_TANH" or "RNN_RELU"
  end
  self._name, self.mode = name, mode
  self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
  self.bias = opts.bias ~= false
  self.batch_first = opts.batch_first or false
  self.dropout = p
  self.bidirectional = opts.bidirectional or false
  local D = self.bidirectional and 2 or 1
  local G = GATES[mode]
  local topts = {dtype = opts.dtype, device = opts.device}
  for layer = 0, num_layers - 1 do
    local in_size = layer == 0 and input_size or hidden_size * D
    for dir = 0, D - 1 do
      local sfx = ("l%d%s"):format(layer, dir == 1 and "_reverse" or "")
      self["weight_ih_" .. sfx] = Parameter(lt.empty({G * hidden_size, in_size}, topts))
      self["weight_hh_" .. sfx] = Parameter(lt.empty({G * hidden_size, hidden_size}, topts))
      if self.bias then
        self["bias_ih_" .. sfx] = Parameter(lt.empty({G * hidden_size}, topts))
        self["bias_hh_" .. sfx] = Parameter(lt.empty({G * hidden_size}, topts))
      end
    end
  end
  self:reset_parameters()
end

--- Re-draws every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
function RNNBase:reset_parameters()
  local k = 1 / math.sqrt(self.hidden_size)
  for _, p in ipairs(self:parameters(false)) do init.uniform_(p, -k, k) end
end

--- No-op, for PyTorch scripts that call it.
function RNNBase:flatten_parameters() end

-- one layer, one direction over x (L, N, In); returns outputs (L, N, H), h_T, c_T
function RNNBase:_run(x, sfx, h, c, reverse)
  local H, mode = self.hidden_size, self.mode
  local w_ih, w_hh = self["weight_ih_" .. sfx], self["weight_hh_" .. sfx]
  local b_ih, b_hh = self["bias_ih_" .. sfx], self["bias_hh_" .. sfx]
  if mode ~= "GRU" and b_ih ~= nil then   -- both biases act before the nonlinearity
    b_ih, b_hh = b_ih + b_hh, nil
  end
  local xp = lt.linear(x, w_ih, b_ih)      -- (L, N, G*H): one matmul for all steps
  local L = x:size(1)
  local fused = mode ~= "RNN_TANH" and mode ~= "RNN_RELU" and use_fused(xp)
  local outs = {}
  local xs, box
  if mode == "GRU" then
    xs = unbind_steps(xp)
  else
    xs, w_hh, box = unbind_steps(xp, w_hh)
  end
  for step = 1, L do
    local t = reverse and (L - step + 1) or step
    local gx = xs[t]
    if box then box.hprev[t] = h:detach() end
    if mode == "LSTM" then
      h, c = step_lstm(gx, h, c, w_hh, b_hh, H, fused)
    elseif mode == "GRU" then
      h = step_gru(gx, h, w_hh, b_hh, H, fused)
    else
      h = step_rnn(gx, h, w_hh, b_hh, mode == "RNN_RELU")
    end
    outs[t] = h
  end
  return lt.stack(outs, 1), h, c
end

-- checks an initial state tensor; returns it as (layers*D, N, H)
function RNNBase:_check_state(t, key, batched, N, w)
  local name = self._name
  local D = self.bidirectional and 2 or 1
  local want = batched and {self.num_layers * D, N, self.hidden_size}
                       or {self.num_layers * D, self.hidden_size}
  if not lt.is_tensor(t) then
    error(("%s: bad argument #2 '%s' (tensor expected, got %s)"):format(name, key, type(t)), 4)
  end
  local ok = t:dim() == #want
  for i = 1, #want do ok = ok and t:size(i) == want[i] end
  if not ok then
    error(("%s: expected %s of shape {%s}, got %s"):format(name, key, table.concat(want, ", "),
                                                          shape_str(t)), 4)
  end
  check_like(name, key, t, w)
  return batched and t or t:unsqueeze(2)
end

--- Runs the sequence.
-- @param input (L, N, input_size), or (N, L, input_size) with batch_first,
--   or (L, input_size) unbatched
-- @param hx initial state (default zeros): h_0 (num_layers * D, N, hidden_size)
--   ((num_layers * D, hidden_size) unbatched), D = 2 when bidirectional;
--   for LSTM a table {h_0, c_0}
-- @return output (L, N, D * hidden_size) (batch_first: (N, L, ...)), and the
--   final state h_n (num_layers * D, N, hidden_size) -- for LSTM the table
--   {h_n, c_n}, so `out, state = lstm(x, state)` chains as in PyTorch
function RNNBase:forward(input, hx)
  local name = self._name
  if not lt.is_tensor(input) then
    error(("%s: bad argument #1 'input' (tensor expected, got %s)"):format(name, type(input)), 2)
  end
  local nd = input:dim()
  if nd ~= 2 and nd ~= 3 then
    error(("%s: expected input of 2 (unbatched) or 3 dims, got shape %s"):format(name, shape_str(input)), 2)
  end
  if input:size(nd) ~= self.input_size then
    error(("%s: input.size(-1) must be equal to input_size %d, got input shape %s")
          :format(name, self.input_size, shape_str(input)), 2)
  end
  local w0 = self.weight_ih_l0
  check_like(name, "input", input, w0)
  local batched = nd == 3
  local x = input
  if not batched then x = x:unsqueeze(2)
  elseif self.batch_first then x = x:transpose(1, 2) end
  local N = x:size(2)
  local H, D = self.hidden_size, self.bidirectional and 2 or 1
  local lstm = self.mode == "LSTM"
  local h0, c0
  if hx ~= nil then
    if lstm then
      if type(hx) ~= "table" or lt.is_tensor(hx) then
        error(("%s: bad argument #2 'hx' (table {h_0, c_0} expected, got %s)")
              :format(name, lt.is_tensor(hx) and "a tensor" or type(hx)), 2)
      end
      h0 = self:_check_state(hx[1], "h_0", batched, N, w0)
      c0 = self:_check_state(hx[2], "c_0", batched, N, w0)
    else
      h0 = self:_check_state(hx, "hx", batched, N, w0)
    end
  end
  local zeros
  local function zero_state()
    zeros = zeros or lt.zeros({N, H}, {dtype = w0.dtype, device = w0.device})
    return zeros
  end
  local hn, cn = {}, {}
  local layer_in = x
  for layer = 0, self.num_layers - 1 do
    local outs = {}
    for dir = 0, D - 1 do
      local idx = layer * D + dir + 1
      local sfx = ("l%d%s"):format(layer, dir == 1 and "_reverse" or "")
      local h = h0 and h0:select(1, idx) or zero_state()
      local c = lstm and (c0 and c0:select(1, idx) or zero_state()) or nil
      local o, hT, cT = self:_run(layer_in, sfx, h, c, dir == 1)
      outs[dir + 1], hn[idx], cn[idx] = o, hT, cT
    end
    local out = D == 2 and lt.cat(outs, 3) or outs[1]
    if self.dropout > 0 and self.training and layer < self.num_layers - 1 then
      out = F.dropout(out, self.dropout, true)
    end
    layer_in = out
  end
  local output = layer_in
  local h_n = lt.stack(hn, 1)
  local c_n = lstm and lt.stack(cn, 1) or nil
  if not batched then
    output = output:squeeze(2)
    h_n = h_n:squeeze(2)
    if c_n then c_n = c_n:squeeze(2) end
  elseif self.batch_first then
    output = output:transpose(1, 2)
  end
  if lstm then return output, {h_n, c_n} end
  return output, h_n
end

function RNNBase:extra_repr()
  local s = ("%d, %d"):format(self.input_size, self.hidden_size)
  if self.num_layers ~= 1 then s = s .. (", num_layers=%d"):format(self.num_layers) end
  if self.mode == "RNN_RELU" then s = s .. ", nonlinearity='relu'" end
  if not self.bias then s = s .. ", bias=false" end
  if self.batch_first then s = s .. ", batch_first=true" end
  if self.dropout ~= 0 then s = s .. (", dropout=%g"):format(self.dropout) end
  if self.bidirectional then s = s .. ", bidirectional=true" end
  return s
end

--- RNN(input_size, hidden_size[, num_layers], {num_layers = 1, nonlinearity =
-- "tanh"|"relu", bias = true, batch_first = false, dropout = 0, bidirectional =
-- false, dtype =, device =}): h_t = act(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh).
-- `local out, h_n = rnn(x, h_0)`.
local RNN = RNNBase:extend("RNN")
M.RNN = RNN
function RNN:init(...) self:_setup("RNN", "RNN", ...) end

--- LSTM(input_size, hidden_size[, num_layers], {num_layers = 1, bias = true,
-- batch_first = false, dropout = 0, bidirectional = false, dtype =, device =}).
-- `local out, state = lstm(x, {h_0, c_0})`; state is {h_n, c_n}.
local LSTM = RNNBase:extend("LSTM")
M.LSTM = LSTM
function LSTM:init(...) self:_setup("LSTM", "LSTM", ...) end

--- GRU(input_size, hidden_size[, num_layers], {num_layers = 1, bias = true,
-- batch_first = false, dropout = 0, bidirectional = false, dtype =, device =}).
-- `local out, h_n = gru(x, h_0)`.
local GRU = RNNBase:extend("GRU")
M.GRU = GRU
function GRU:init(...) self:_setup("GRU", "GRU", ...) end

-- ------------------------------------------------------------ cells

local CellBase = Module:extend("RNNCellBase")

-- (input_size, hidden_size[, bias[, nonlinearity]][, opts])
function CellBase:_setup(name, mode, input_size, hidden_size, a3, a4, a5)
  local opts = {}
  local args = {a3, a4, a5}
  local bias, nl = true, nil
  for i = 1, 3 do
    local a = args[i]
    if type(a) == "boolean" then bias = a
    elseif type(a) == "string" then nl = a
    elseif type(a) == "table" then opts = a
    elseif a ~= nil then
      error(("%s: bad argument #%d (boolean, string or options table expected, got %s)")
            :format(name, i + 2, type(a)), 4)
    end
  end
  for k in pairs(opts) do
    if k ~= "bias" and k ~= "nonlinearity" and k ~= "dtype" and k ~= "device" then
      error(("%s: unknown option '%s'"):format(name, tostring(k)), 4)
    end
  end
  if opts.bias ~= nil then bias = opts.bias end
  nl = opts.nonlinearity or nl
  check_size(name, 1, "input_size", input_size)
  check_size(name, 2, "hidden_size", hidden_size)
  if mode == "RNN" then
    nl = nl or "tanh"
    if nl ~= "tanh" and nl ~= "relu" then
      error(("%s: bad option 'nonlinearity' ('%s'; 'tanh' or 'relu' expected)"):format(name, tostring(nl)), 4)
    end
    self.nonlinearity = nl
  elseif nl ~= nil then
    error(("%s: unknown option 'nonlinearity'"):format(name), 4)
  end
  self._name, self.mode = name, mode
  self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
  local G = mode == "LSTM" and 4 or mode == "GRU" and 3 or 1
  local topts = {dtype = opts.dtype, device = opts.device}
  self.weight_ih = Parameter(lt.empty({G * hidden_size, input_size}, topts))
  self.weight_hh = Parameter(lt.empty({G * hidden_size, hidden_size}, topts))
  if bias then
    self.bias_ih = Parameter(lt.empty({G * hidden_size}, topts))
    self.bias_hh = Parameter(lt.empty({G * hidden_size}, topts))
  else
    self:register_parameter("bias_ih", nil)
    self:register_parameter("bias_hh", nil)
  end
  self:reset_parameters()
end

--- Re-draws every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
function CellBase:reset_parameters()
  local k = 1 / math.sqrt(self.hidden_size)
  for _, p in ipairs(self:parameters(false)) do init.uniform_(p, -k, k) end
end

function CellBase:_input(input)
  local name = self._name
  if not lt.is_tensor(input) then
    error(("%s: bad argument #1 'input' (tensor expected, got %s)"):format(name, type(input)), 4)
  end
  if (input:dim() ~= 1 and input:dim() ~= 2) or input:size(input:dim()) ~= self.input_size then
    error(("%s: expected input of shape (N, %d) or (%d), got %s")
          :format(name, self.input_size, self.input_size, shape_str(input)), 4)
  end
  check_like(name, "input", input, self.weight_ih)
  local batched = input:dim() == 2
  return batched and input or input:unsqueeze(1), batched
end

function CellBase:_state(t, key, x, batched)
  local name = self._name
  local N, H = x:size(1), self.hidden_size
  if t == nil then return lt.zeros({N, H}, {dtype = x.dtype, device = x.device}) end
  if not lt.is_tensor(t) then
    error(("%s: bad argument #2 '%s' (tensor expected, got %s)"):format(name, key, type(t)), 4)
  end
  local ok = batched and (t:dim() == 2 and t:size(1) == N and t:size(2) == H)
                     or (t:dim() == 1 and t:size(1) == H)
  if not ok then
    error(("%s: expected %s of shape %s, got %s (input shape %s)")
          :format(name, key, batched and ("{" .. N .. ", " .. H .. "}") or ("{" .. H .. "}"),
                  shape_str(t), shape_str(x)), 4)
  end
  check_like(name, key, t, self.weight_ih)
  return batched and t or t:unsqueeze(1)
end

function CellBase:extra_repr()
  local s = ("%d, %d"):format(self.input_size, self.hidden_size)
  if not self.bias then s = s .. ", bias=false" end
  if self.nonlinearity == "relu" then s = s .. ", nonlinearity='relu'" end
  return s
end

--- RNNCell(input_size, hidden_size, bias = true, nonlinearity = "tanh")
-- (or an options table {bias =, nonlinearity =, dtype =, device =}).
-- `h_1 = cell(x, h_0)`: x (N, input_size) or (input_size), h_0 default zeros.
local RNNCell = CellBase:extend("RNNCell")
M.RNNCell = RNNCell
function RNNCell:init(...) self:_setup("RNNCell", "RNN", ...) end
function RNNCell:forward(input, hx)
  local x, batched = self:_input(input)
  local h = self:_state(hx, "hx", x, batched)
  local h1 = step_rnn(lt.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh,
                      self.bias_hh, self.nonlinearity == "relu")
  return batched and h1 or h1:squeeze(1)
end

--- LSTMCell(input_size, hidden_size, bias = true) (or {bias =, dtype =, device =}).
-- `local h_1, c_1 = cell(x, {h_0, c_0})` (state default zeros).
local LSTMCell = CellBase:extend("LSTMCell")
M.LSTMCell = LSTMCell
function LSTMCell:init(...) self:_setup("LSTMCell", "LSTM", ...) end
function LSTMCell:forward(input, hx)
  local x, batched = self:_input(input)
  if hx ~= nil and (type(hx) ~= "table" or lt.is_tensor(hx)) then
    error(("LSTMCell: bad argument #2 'hx' (table {h_0, c_0} expected, got %s)")
          :format(lt.is_tensor(hx) and "a tensor" or type(hx)), 2)
  end
  local h = self:_state(hx and hx[1], "h_0", x, batched)
  local c = self:_state(hx and hx[2], "c_0", x, batched)
  local gx = lt.linear(x, self.weight_ih, self.bias_ih)
  local h1, c1 = step_lstm(gx, h, c, self.weight_hh, self.bias_hh, self.hidden_size,
                           use_fused(gx))
  if not batched then return h1:squeeze(1), c1:squeeze(1) end
  return h1, c1
end

--- GRUCell(input_size, hidden_size, bias = true) (or {bias =, dtype =, device =}).
-- `h_1 = cell(x, h_0)`.
local GRUCell = CellBase:extend("GRUCell")
M.GRUCell = GRUCell
function GRUCell:init(...) self:_setup("GRUCell", "GRU", ...) end
function GRUCell:forward(input, hx)
  local x, batched = self:_input(input)
  local h = self:_state(hx, "hx", x, batched)
  local gx = lt.linear(x, self.weight_ih, self.bias_ih)
  local h1 = step_gru(gx, h, self.weight_hh, self.bias_hh, self.hidden_size, use_fused(gx))
  return batched and h1 or h1:squeeze(1)
end

return M
