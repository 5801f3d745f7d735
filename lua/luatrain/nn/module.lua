--- nn.Module: the base class of every layer and model.
-- Assigning a Module, a parameter (a leaf tensor that requires grad, or one
-- made by nn.Parameter) or a registered buffer to a field registers it, in
-- assignment order, so parameters(), state_dict() and __tostring see it.
-- It deliberately has no hooks (forward/backward hooks), no
-- `_load_from_state_dict` overrides and no in-place device move when the
-- core has no `set_` (see Module:to).
-- @classmod luatrain.nn.Module
local class = require("luatrain.class")
local lt = require("luatrain")

local M = {}

-- Parameters made through nn.Parameter (weak: the set never keeps them alive).
local marked = setmetatable({}, {__mode = "k"})

local function is_tensor(v) return lt.is_tensor(v) end

--- Marks `t` as a parameter: a leaf tensor that requires grad.
-- A tensor with history is detached first (its storage is shared).
-- @param t tensor
-- @param requires_grad boolean (default true)
-- @return the parameter tensor
function M.Parameter(t, requires_grad)
  if not is_tensor(t) then
    error(("Parameter: bad argument #1 'data' (tensor expected, got %s)"):format(type(t)), 2)
  end
  if requires_grad == nil then requires_grad = true end
  if not t.is_leaf then t = t:detach() end
  t:requires_grad_(requires_grad)
  marked[t] = true
  return t
end

--- True when `v` counts as a parameter when assigned to a module field.
function M.is_parameter(v)
  if not is_tensor(v) then return false end
  if marked[v] then return true end
  return v.requires_grad and v.is_leaf or false
end
local is_parameter = M.is_parameter

local Module = class.extend("Module")
M.Module = Module

-- ordered map helpers: names list + value map; a name may map to nil
local function omap_set(names, map, has, k, v)
  if not has[k] then
    has[k] = true
    names[#names + 1] = k
  end
  map[k] = v
end

local function omap_del(names, map, has, k)
  if not has[k] then return end
  has[k] = nil
  map[k] = nil
  for i = 1, #names do
    if names[i] == k then table.remove(names, i) break end
  end
end

local function newkind()
  return {names = {}, map = {}, has = {}}
end

--- Raw constructor used by the class helper (runs before `init`).
function Module.__new(cls)
  local obj = {
    _params = newkind(),
    _buffers = newkind(),
    _modules = newkind(),
    _attrs = {training = true},
    _non_persistent = {},
  }
  return setmetatable(obj, cls)
end

function Module.__index(self, k)
  local attrs = rawget(self, "_attrs")
  if attrs then
    local v = attrs[k]
    if v ~= nil then return v end
    local kinds = rawget(self, "_modules")
    v = kinds.map[k]
    if v ~= nil then return v end
    v = rawget(self, "_params").map[k]
    if v ~= nil then return v end
    v = rawget(self, "_buffers").map[k]
    if v ~= nil then return v end
  end
  return getmetatable(self)[k]
end

local function isinstance_module(v) return class.isinstance(v, Module) end
M.is_module = isinstance_module

function Module.__newindex(self, k, v)
  local params, bufs, mods = rawget(self, "_params"), rawget(self, "_buffers"),
                             rawget(self, "_modules")
  local attrs = rawget(self, "_attrs")
  if isinstance_module(v) then
    omap_del(params.names, params.map, params.has, k)
    omap_del(bufs.names, bufs.map, bufs.has, k)
    attrs[k] = nil
    omap_set(mods.names, mods.map, mods.has, k, v)
  elseif is_tensor(v) then
    if bufs.has[k] then
      bufs.map[k] = v
    elseif is_parameter(v) then
      omap_del(mods.names, mods.map, mods.has, k)
      attrs[k] = nil
      omap_set(params.names, params.map, params.has, k, v)
    elseif params.has[k] then
      error(("cannot assign a tensor that is not a parameter to parameter '%s' "
             .. "(use nn.Parameter(t) or register_buffer)"):format(tostring(k)), 2)
    else
      omap_del(mods.names, mods.map, mods.has, k)
      attrs[k] = v
    end
  elseif v == nil then
    -- like PyTorch: a registered name set to nil stays registered as nil
    if params.has[k] then params.map[k] = nil
    elseif bufs.has[k] then bufs.map[k] = nil
    elseif mods.has[k] then mods.map[k] = nil
    else attrs[k] = nil end
  else
    if params.has[k] then
      error(("cannot assign a %s to parameter '%s' (tensor or nil expected)")
            :format(type(v), tostring(k)), 2)
    elseif mods.has[k] then
      error(("cannot assign a %s to child module '%s' (Module or nil expected)")
            :format(type(v), tostring(k)), 2)
    elseif bufs.has[k] then
      error(("cannot assign a %s to buffer '%s' (tensor or nil expected)")
            :format(type(v), tostring(k)), 2)
    end
    attrs[k] = v
  end
end

function Module.__call(self, ...)
  return self:forward(...)
end

--- Default constructor (subclasses define their own `init`).
function Module.init() end

--- The computation; subclasses override it. `module(x)` calls it.
function Module:forward()
  error(("%s: forward is not implemented"):format(class.name_of(self)), 2)
end

--- Registers a parameter under `name` (tensor or nil).
-- @param name string
-- @param param a tensor (made a parameter) or nil
function Module:register_parameter(name, param)
  if type(name) ~= "string" then
    error("register_parameter: bad argument #1 'name' (string expected)", 2)
  end
  if param ~= nil and not is_tensor(param) then
    error(("register_parameter: bad argument #2 'param' (tensor or nil expected, got %s)")
          :format(type(param)), 2)
  end
  if param ~= nil and not is_parameter(param) then param = M.Parameter(param) end
  local p = rawget(self, "_params")
  rawget(self, "_attrs")[name] = nil
  omap_set(p.names, p.map, p.has, name, param)
end

--- Registers a buffer: state that is not trained (running statistics ...).
-- @param name string
-- @param tensor a tensor or nil
-- @param persistent boolean (default true): whether state_dict includes it
function Module:register_buffer(name, tensor, persistent)
  if type(name) ~= "string" then
    error("register_buffer: bad argument #1 'name' (string expected)", 2)
  end
  if tensor ~= nil and not is_tensor(tensor) then
    error(("register_buffer: bad argument #2 'tensor' (tensor or nil expected, got %s)")
          :format(type(tensor)), 2)
  end
  local b = rawget(self, "_buffers")
  rawget(self, "_attrs")[name] = nil
  omap_set(b.names, b.map, b.has, name, tensor)
  rawget(self, "_non_persistent")[name] = (persistent == false) or nil
end

--- Registers a child module under `name` (same as assignment).
function Module:add_module(name, module)
  if type(name) ~= "string" then
    error("add_module: bad argument #1 'name' (string expected)", 2)
  end
  if module ~= nil and not isinstance_module(module) then
    error(("add_module: bad argument #2 'module' (Module or nil expected, got %s)")
          :format(class.name_of(module)), 2)
  end
  local m = rawget(self, "_modules")
  omap_set(m.names, m.map, m.has, name, module)
end

-- iterator over an array of {name, value} pairs
local function pairs_iter(list)
  local i = 0
  return function()
    i = i + 1
    local e = list[i]
    if e then return e[1], e[2] end
  end
end

-- list of {name, module} for every module in the tree (pre-order), once each
local function collect_modules(self, prefix, memo, out)
  if memo[self] then return out end
  memo[self] = true
  out[#out + 1] = {prefix, self}
  local mods = rawget(self, "_modules")
  for _, name in ipairs(mods.names) do
    local child = mods.map[name]
    if child then
      collect_modules(child, prefix == "" and name or (prefix .. "." .. name), memo, out)
    end
  end
  return out
end

--- Iterator over (name, module) for this module and all below, pre-order.
-- @param prefix optional name prefix
function Module:named_modules(prefix)
  return pairs_iter(collect_modules(self, prefix or "", {}, {}))
end

--- List of this module and every module below it.
function Module:modules()
  local out = {}
  for _, m in ipairs(collect_modules(self, "", {}, {})) do out[#out + 1] = m[2] end
  return out
end

--- Iterator over (name, child) for the direct children.
function Module:named_children()
  local mods, list, seen = rawget(self, "_modules"), {}, {}
  for _, name in ipairs(mods.names) do
    local c = mods.map[name]
    if c and not seen[c] then
      seen[c] = true
      list[#list + 1] = {name, c}
    end
  end
  return pairs_iter(list)
end

--- List of the direct children.
function Module:children()
  local out = {}
  for _, c in self:named_children() do out[#out + 1] = c end
  return out
end

-- {name, tensor} of a kind ("_params" / "_buffers") over the tree; `dedup`
-- lists a shared tensor once (under its first name)
local function collect_tensors(self, kind, recurse, dedup, skip_nonpersistent)
  local out, seen = {}, {}
  local mods = recurse and collect_modules(self, "", {}, {}) or {{"", self}}
  for _, e in ipairs(mods) do
    local prefix, m = e[1], e[2]
    local k = rawget(m, kind)
    local np = rawget(m, "_non_persistent")
    for _, name in ipairs(k.names) do
      local t = k.map[name]
      if t ~= nil and not (skip_nonpersistent and np[name]) and not (dedup and seen[t]) then
        seen[t] = true
        out[#out + 1] = {prefix == "" and name or (prefix .. "." .. name), t}
      end
    end
  end
  return out
end

--- Iterator over (dotted name, parameter); a shared parameter appears once.
-- @param recurse boolean (default true)
function Module:named_parameters(recurse)
  return pairs_iter(collect_tensors(self, "_params", recurse ~= false, true))
end

--- List of the parameters (each once), in registration order.
-- @param recurse boolean (default true)
function Module:parameters(recurse)
  local out = {}
  for _, e in ipairs(collect_tensors(self, "_params", recurse ~= false, true)) do
    out[#out + 1] = e[2]
  end
  return out
end

--- Iterator over (dotted name, buffer).
function Module:named_buffers(recurse)
  return pairs_iter(collect_tensors(self, "_buffers", recurse ~= false, true))
end

--- List of the buffers.
function Module:buffers(recurse)
  local out = {}
  for _, e in ipairs(collect_tensors(self, "_buffers", recurse ~= false, true)) do
    out[#out + 1] = e[2]
  end
  return out
end

--- Sets training mode on this module and all below.
-- @param mode boolean (default true)
-- @return self
function Module:train(mode)
  if mode == nil then mode = true end
  if type(mode) ~= "boolean" then
    error(("train: bad argument #1 'mode' (boolean expected, got %s)"):format(type(mode)), 2)
  end
  for _, m in ipairs(self:modules()) do rawget(m, "_attrs").training = mode end
  return self
end

--- Sets evaluation mode (train(false)).
-- @return self
function Module:eval() return self:train(false) end

--- Sets requires_grad on every parameter.
-- @return self
function Module:requires_grad_(b)
  if b == nil then b = true end
  for _, p in ipairs(self:parameters()) do p:requires_grad_(b) end
  return self
end

--- Calls fn(m) on every child (recursively) then on self, as PyTorch.
-- @return self
function Module:apply(fn)
  if type(fn) ~= "function" then
    error(("apply: bad argument #1 'fn' (function expected, got %s)"):format(type(fn)), 2)
  end
  for _, c in ipairs(self:children()) do c:apply(fn) end
  fn(self)
  return self
end

--- Clears the gradients of every parameter.
-- @param set_to_none boolean (default true): nil the grads instead of zeroing
function Module:zero_grad(set_to_none)
  if set_to_none == nil then set_to_none = true end
  for _, p in ipairs(self:parameters()) do
    if set_to_none then
      p.grad = nil
    else
      local g = p.grad
      if g then g:zero_() end
    end
  end
end

local FLOAT = {float32 = true, float64 = true, float16 = true, bfloat16 = true}
M.FLOAT_DTYPES = FLOAT

local function parse_to_args(a, b)
  local device, dtype
  local function one(x)
    if x == nil then return end
    if type(x) == "string" then
      if x:match("^cpu") or x:match("^cuda") then device = x else dtype = x end
    elseif is_tensor(x) then
      device, dtype = x.device, x.dtype
    elseif type(x) == "table" then
      device, dtype = x.device or device, x.dtype or dtype
    else
      error(("to: bad argument (device, dtype, tensor or {device=, dtype=} expected, got %s)")
            :format(type(x)), 3)
    end
  end
  one(a) one(b)
  return device, dtype
end

local function norm_device(d)
  if d == "cuda" then return "cuda:0" end
  return d
end

-- can the core move a tensor in place? (a `set_` method)
local function has_set_(t)
  local ok, f = pcall(function() return t.set_ end)
  return ok and type(f) == "function"
end

--- Moves and/or casts parameters and buffers (floating dtypes only for a dtype).
-- Accepts a device string, a dtype string, a tensor, or {device=, dtype=}.
-- When the core tensors have a `set_` method the parameters keep their
-- identity; otherwise they are replaced by new leaf tensors (ties kept), so
-- create the optimizer after calling `to` (PyTorch's recommendation too).
-- @return self
function Module:to(a, b)
  local device, dtype = parse_to_args(a, b)
  if device == nil and dtype == nil then return self end
  local replaced = {}
  local function convert(t)
    local want_dtype = (dtype and FLOAT[t.dtype]) and dtype or t.dtype
    local want_dev = device or t.device
    if norm_device(want_dev) == norm_device(t.device) and want_dtype == t.dtype then
      return t
    end
    return t:to({device = want_dev, dtype = want_dtype})
  end
  lt.no_grad(function()
    for _, m in ipairs(self:modules()) do
      local p = rawget(m, "_params")
      for _, name in ipairs(p.names) do
        local t = p.map[name]
        if t ~= nil then
          if replaced[t] == nil then
            local nt = convert(t:detach())
            if rawequal(nt, t) or (nt.device == t.device and nt.dtype == t.dtype) then
              replaced[t] = t
            elseif has_set_(t) then
              t:set_(nt)
              replaced[t] = t
            else
              local np = M.Parameter(nt:clone():detach(), t.requires_grad)
              local g = t.grad
              if g then np.grad = convert(g) end
              replaced[t] = np
            end
          end
          p.map[name] = replaced[t]
        end
      end
      local bf = rawget(m, "_buffers")
      for _, name in ipairs(bf.names) do
        local t = bf.map[name]
        if t ~= nil then
          if replaced[t] == nil then replaced[t] = convert(t) end
          bf.map[name] = replaced[t]
        end
      end
    end
  end)
  return self
end

--- Moves to the CPU.
function Module:cpu() return self:to("cpu") end
--- Moves to the GPU (device "cuda" or "cuda:N").
function Module:cuda(i) return self:to(i and ("cuda:" .. i) or "cuda") end
--- Casts floating parameters and buffers to float32.
function Module:float() return self:to("float32") end
--- Casts floating parameters and buffers to float64.
function Module:double() return self:to("float64") end

--- The module's state: parameters and persistent buffers under dotted names
-- ("fc1.weight", "bn.running_mean"). Tensors are detached aliases. A tied
-- parameter appears under each of its names, as in PyTorch.
-- @param prefix optional key prefix
-- @return table name -> tensor (state_dict_keys() gives the names in order)
function Module:state_dict(prefix)
  return (self:_state_dict(prefix))
end

--- The names of state_dict() in registration order.
function Module:state_dict_keys(prefix)
  local _, order = self:_state_dict(prefix)
  return order
end

function Module:_state_dict(prefix)
  prefix = prefix or ""
  local sd, order = {}, {}
  for _, e in ipairs(collect_modules(self, "", {}, {})) do
    local mp, m = e[1], e[2]
    local base = prefix .. (mp == "" and "" or (mp .. "."))
    local p = rawget(m, "_params")
    for _, name in ipairs(p.names) do
      local t = p.map[name]
      if t ~= nil then
        sd[base .. name] = t:detach()
        order[#order + 1] = base .. name
      end
    end
    local bf, np = rawget(m, "_buffers"), rawget(m, "_non_persistent")
    for _, name in ipairs(bf.names) do
      local t = bf.map[name]
      if t ~= nil and not np[name] then
        sd[base .. name] = t:detach()
        order[#order + 1] = base .. name
      end
    end
  end
  return sd, order
end

-- every state entry as name -> {module, kind, key}
local function state_targets(self)
  local out, order = {}, {}
  for _, e in ipairs(collect_modules(self, "", {}, {})) do
    local mp, m = e[1], e[2]
    local base = mp == "" and "" or (mp .. ".")
    local p = rawget(m, "_params")
    for _, name in ipairs(p.names) do
      if p.map[name] ~= nil then
        out[base .. name] = p.map[name]
        order[#order + 1] = base .. name
      end
    end
    local bf, np = rawget(m, "_buffers"), rawget(m, "_non_persistent")
    for _, name in ipairs(bf.names) do
      if bf.map[name] ~= nil and not np[name] then
        out[base .. name] = bf.map[name]
        order[#order + 1] = base .. name
      end
    end
  end
  return out, order
end

local function shape_str(t)
  return "{" .. table.concat(t.shape, ", ") .. "}"
end
M.shape_str = shape_str

local function same_shape(a, b)
  local sa, sb = a.shape, b.shape
  if #sa ~= #sb then return false end
  for i = 1, #sa do if sa[i] ~= sb[i] then return false end end
  return true
end

--- Copies `sd` (name -> tensor) into the parameters and buffers, in place
-- (ties are kept). With strict (default true) missing or unexpected keys are
-- an error listing them; a shape mismatch, or a dtype mismatch other than
-- between two floating dtypes, is always an error naming the key.
-- @param sd table name -> tensor
-- @param strict boolean (default true)
-- @return {missing_keys = {...}, unexpected_keys = {...}}
function Module:load_state_dict(sd, strict)
  if type(sd) ~= "table" then
    error(("load_state_dict: bad argument #1 'state_dict' (table expected, got %s)")
          :format(type(sd)), 2)
  end
  if strict == nil then strict = true end
  local targets, order = state_targets(self)
  local missing, unexpected = {}, {}
  for _, name in ipairs(order) do
    if sd[name] == nil then missing[#missing + 1] = name end
  end
  for name in pairs(sd) do
    if targets[name] == nil then unexpected[#unexpected + 1] = name end
  end
  table.sort(unexpected)
  if strict and (#missing > 0 or #unexpected > 0) then
    local msg = {("Error(s) in loading state_dict for %s:"):format(class.name_of(self))}
    if #missing > 0 then
      msg[#msg + 1] = "  Missing key(s): " .. table.concat(missing, ", ")
    end
    if #unexpected > 0 then
      msg[#msg + 1] = "  Unexpected key(s): " .. table.concat(unexpected, ", ")
    end
    error(table.concat(msg, "\n"), 2)
  end
  for _, name in ipairs(order) do
    local src, dst = sd[name], targets[name]
    if src ~= nil then
      if not is_tensor(src) then
        error(("load_state_dict: entry '%s' is a %s, not a tensor"):format(name, type(src)), 2)
      end
      if not same_shape(src, dst) then
        error(("load_state_dict: size mismatch for %s: copying a tensor of shape %s from "
               .. "the state dict, the shape in the current model is %s")
              :format(name, shape_str(src), shape_str(dst)), 2)
      end
      if src.dtype ~= dst.dtype and not (FLOAT[src.dtype] and FLOAT[dst.dtype]) then
        error(("load_state_dict: dtype mismatch for %s: the state dict has %s, the current "
               .. "model has %s"):format(name, src.dtype, dst.dtype), 2)
      end
    end
  end
  lt.no_grad(function()
    for _, name in ipairs(order) do
      local src = sd[name]
      if src ~= nil then targets[name]:copy_(src) end
    end
  end)
  return {missing_keys = missing, unexpected_keys = unexpected}
end

--- Extra text shown inside the parentheses by __tostring (override).
function Module:extra_repr() return "" end

local function repr(m)
  local name = class.name_of(m)
  local extra = m:extra_repr()
  local lines = {}
  local mods = rawget(m, "_modules")
  for _, k in ipairs(mods.names) do
    local c = mods.map[k]
    local s = c and repr(c) or "nil"
    s = s:gsub("\n", "\n  ")
    lines[#lines + 1] = ("  (%s): %s"):format(k, s)
  end
  if #lines == 0 then return name .. "(" .. extra .. ")" end
  local head = name .. "("
  if extra ~= "" then head = head .. "\n  " .. extra:gsub("\n", "\n  ") end
  return head .. "\n" .. table.concat(lines, "\n") .. "\n)"
end

function Module.__tostring(self) return repr(self) end

--- Prints and returns a per-layer summary (see lt.utils.summary):
-- `model:summary{input_shape = {1, 1, 28, 28}}`.
function Module:summary(opts) return require("luatrain.utils.summary")(self, opts) end

--- The number of elements over all parameters.
function Module:num_parameters()
  local n = 0
  for _, p in ipairs(self:parameters()) do n = n + p:numel() end
  return n
end

return M
