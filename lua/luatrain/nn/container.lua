--- Containers: Sequential, ModuleList, ModuleDict, ParameterList and
-- ParameterDict. Children and parameters are registered under PyTorch's
-- names ("0", "1", ... for the sequences, so state_dict keys match
-- PyTorch's) and indexed 1-based from Lua (`seq[1]` is child "0"). They
-- deliberately do not support slicing.
-- @module luatrain.nn.container
local class = require("luatrain.class")
local lt = require("luatrain")
local module = require("luatrain.nn.module")

local Module = module.Module
local is_module = module.is_module

local M = {}

local function check_module(m, fname, argn, level)
  if not is_module(m) then
    error(("%s: bad argument #%d (Module expected, got %s)"):format(fname, argn, class.name_of(m)),
          level or 3)
  end
end

-- shared behaviour of the two numbered containers
local function numbered(name)
  local C = Module:extend(name)
  local base_index, base_newindex = Module.__index, Module.__newindex

  local function list(self) return rawget(self, "_modules").names end

  local function position(self, i, fname, allow_end)
    local n = #list(self)
    if math.type(i) ~= "integer" then
      error(("%s: index must be an integer, got %s"):format(fname, tostring(i)), 3)
    end
    if i < 0 then i = n + i + 1 end
    if i < 1 or i > n + (allow_end and 1 or 0) then
      error(("%s: index %d out of range (%d modules)"):format(fname, i, n), 3)
    end
    return i
  end

  function C.__index(self, k)
    if type(k) == "number" then
      local names = list(self)
      local n = #names
      if math.type(k) ~= "integer" then return nil end
      if k < 0 then k = n + k + 1 end
      local nm = names[k]
      if nm == nil then return nil end
      return rawget(self, "_modules").map[nm]
    end
    return base_index(self, k)
  end

  function C.__newindex(self, k, v)
    if type(k) == "number" then
      local i = position(self, k, name .. "[]", true)
      check_module(v, name .. "[]", 1)
      local names = list(self)
      if i == #names + 1 then self:add_module(tostring(i - 1), v)
      else rawget(self, "_modules").map[names[i]] = v end
      return
    end
    return base_newindex(self, k, v)
  end

  function C.__len(self) return #list(self) end

  --- Appends a module at the end.
  -- @return self
  function C:append(m)
    check_module(m, name .. ":append", 1)
    self:add_module(tostring(#list(self)), m)
    return self
  end

  --- Appends every module of a list (on the class itself: makes a subclass).
  -- @return self
  function C:extend(ms)
    if class.is_class(self) then return class.Object.extend(self, ms) end
    if type(ms) ~= "table" then
      error(("%s:extend: bad argument #1 (list of modules expected, got %s)"):format(name, type(ms)), 2)
    end
    for i = 1, #ms do
      check_module(ms[i], name .. ":extend", 1)
      self:add_module(tostring(#list(self)), ms[i])
    end
    return self
  end

  --- Inserts a module before position i (1-based); later ones are renumbered.
  function C:insert(i, m)
    i = position(self, i, name .. ":insert", true)
    check_module(m, name .. ":insert", 2)
    local mods = {}
    for j = 1, #self do mods[j] = self[j] end
    table.insert(mods, i, m)
    local kind = rawget(self, "_modules")
    kind.names, kind.map, kind.has = {}, {}, {}
    for j = 1, #mods do self:add_module(tostring(j - 1), mods[j]) end
    return self
  end

  --- Iterator over (position, module), 1-based.
  function C:iter()
    local i = 0
    return function()
      i = i + 1
      local m = self[i]
      if m ~= nil then return i, m end
    end
  end

  return C
end

--- Sequential(m1, m2, ...) or Sequential{m1, m2, ...}: calls the children in
-- order, each on the previous one's output.
local Sequential = numbered("Sequential")
M.Sequential = Sequential

function Sequential:init(...)
  local args = table.pack(...)
  if args.n == 1 and type(args[1]) == "table" and not is_module(args[1]) then
    args = args[1]
    args.n = #args
  end
  for i = 1, args.n do
    check_module(args[i], "Sequential", i, 4)
    self:add_module(tostring(i - 1), args[i])
  end
end

function Sequential:forward(x, ...)
  local n = #self
  if n == 0 then return x end
  local out = table.pack(self[1](x, ...))
  for i = 2, n do out = table.pack(self[i](table.unpack(out, 1, out.n))) end
  return table.unpack(out, 1, out.n)
end

--- ModuleList{m1, m2, ...}: a list of children, registered so parameters()
-- sees them; `ipairs(list)` and `#list` work.
local ModuleList = numbered("ModuleList")
M.ModuleList = ModuleList

function ModuleList:init(ms)
  if ms ~= nil then
    if type(ms) ~= "table" or is_module(ms) then
      error("ModuleList: bad argument #1 'modules' (list of modules expected)", 3)
    end
    self:extend(ms)
  end
end

function ModuleList:forward()
  error("ModuleList has no forward: call its children", 2)
end

--- ModuleDict{name = module, ...} (names sorted) or ModuleDict{{name, module}, ...}
-- (order kept): children by name.
local ModuleDict = Module:extend("ModuleDict")
M.ModuleDict = ModuleDict

function ModuleDict:init(t)
  if t == nil then return end
  if type(t) ~= "table" or is_module(t) then
    error("ModuleDict: bad argument #1 'modules' (table expected)", 3)
  end
  if #t > 0 then
    for i, e in ipairs(t) do
      if type(e) ~= "table" or type(e[1]) ~= "string" then
        error(("ModuleDict: entry %d must be {name, module}"):format(i), 3)
      end
      check_module(e[2], "ModuleDict", 1, 4)
      self:add_module(e[1], e[2])
    end
  else
    local keys = {}
    for k in pairs(t) do
      if type(k) ~= "string" then error("ModuleDict: keys must be strings", 3) end
      keys[#keys + 1] = k
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
      check_module(t[k], "ModuleDict", 1, 4)
      self:add_module(k, t[k])
    end
  end
end

function ModuleDict.__len(self) return #rawget(self, "_modules").names end

--- The names, in order.
function ModuleDict:keys()
  local out = {}
  for i, k in ipairs(rawget(self, "_modules").names) do out[i] = k end
  return out
end

--- The modules, in order.
function ModuleDict:values()
  local kind, out = rawget(self, "_modules"), {}
  for i, k in ipairs(kind.names) do out[i] = kind.map[k] end
  return out
end

--- Iterator over (name, module), in order.
function ModuleDict:items()
  local kind, i = rawget(self, "_modules"), 0
  return function()
    i = i + 1
    local k = kind.names[i]
    if k then return k, kind.map[k] end
  end
end

function ModuleDict:forward()
  error("ModuleDict has no forward: call its children", 2)
end

local function as_param(v, fname)
  if not lt.is_tensor(v) then
    error(("%s: bad argument (tensor expected, got %s)"):format(fname, class.name_of(v)), 4)
  end
  if module.is_parameter(v) then return v end
  return module.Parameter(v)
end

--- ParameterList{p1, p2, ...}: parameters registered as "0", "1", ... (so
-- parameters(), state_dict() and `to` see them), indexed 1-based:
-- `pl[1]`, `pl[1] = t`, `#pl`, `pl:append(t)`, `pl:extend{...}`, `pl:iter()`.
-- Tensors that are not parameters are made parameters, as in PyTorch.
local ParameterList = Module:extend("ParameterList")
M.ParameterList = ParameterList
do
  local base_index, base_newindex = Module.__index, Module.__newindex
  local function names(self) return rawget(self, "_params").names end

  function ParameterList.__index(self, k)
    if type(k) == "number" then
      if math.type(k) ~= "integer" then return nil end
      local ns = names(self)
      if k < 0 then k = #ns + k + 1 end
      local nm = ns[k]
      return nm and rawget(self, "_params").map[nm] or nil
    end
    return base_index(self, k)
  end

  function ParameterList.__newindex(self, k, v)
    if type(k) == "number" then
      local n = #names(self)
      if math.type(k) ~= "integer" then
        error(("ParameterList[]: index must be an integer, got %s"):format(tostring(k)), 2)
      end
      local i = k < 0 and n + k + 1 or k
      if i < 1 or i > n + 1 then
        error(("ParameterList[]: index %d out of range (%d parameters)"):format(k, n), 2)
      end
      self:register_parameter(tostring(i - 1), as_param(v, "ParameterList[]"))
      return
    end
    return base_newindex(self, k, v)
  end

  function ParameterList.__len(self) return #names(self) end

  function ParameterList:init(ps)
    if ps ~= nil then
      if type(ps) ~= "table" or is_module(ps) then
        error("ParameterList: bad argument #1 'values' (list of tensors expected)", 3)
      end
      for i = 1, #ps do self:register_parameter(tostring(i - 1), as_param(ps[i], "ParameterList")) end
    end
  end

  --- Appends a parameter (a tensor is made one).
  -- @return self
  function ParameterList:append(p)
    self:register_parameter(tostring(#names(self)), as_param(p, "ParameterList:append"))
    return self
  end

  --- Appends every tensor of a list (on the class itself: makes a subclass).
  -- @return self
  function ParameterList:extend(ps)
    if class.is_class(self) then return class.Object.extend(self, ps) end
    if type(ps) ~= "table" then
      error(("ParameterList:extend: bad argument #1 (list of tensors expected, got %s)"):format(type(ps)), 2)
    end
    for i = 1, #ps do self:append(ps[i]) end
    return self
  end

  --- Iterator over (position, parameter), 1-based.
  function ParameterList:iter()
    local i = 0
    return function()
      i = i + 1
      local p = self[i]
      if p ~= nil then return i, p end
    end
  end

  function ParameterList:forward()
    error("ParameterList has no forward: use its parameters", 2)
  end

  function ParameterList:extra_repr()
    local lines = {}
    for i, p in self:iter() do
      lines[#lines + 1] = ("(%d): Parameter containing: [%s of size {%s}]")
                          :format(i - 1, p.dtype, table.concat(p.shape, ", "))
    end
    if #lines == 0 then return "" end
    return "\n  " .. table.concat(lines, "\n  ") .. "\n"
  end
end

--- ParameterDict{name = tensor, ...} (names sorted) or ParameterDict{{name, tensor}, ...}
-- (order kept): parameters by name (`pd.name`, `pd["name"] = t`, `#pd`,
-- `pd:keys()`, `pd:values()`, `pd:items()`), registered under those names.
local ParameterDict = Module:extend("ParameterDict")
M.ParameterDict = ParameterDict

function ParameterDict:init(t)
  if t == nil then return end
  if type(t) ~= "table" or is_module(t) or lt.is_tensor(t) then
    error("ParameterDict: bad argument #1 'parameters' (table expected)", 3)
  end
  if #t > 0 then
    for i, e in ipairs(t) do
      if type(e) ~= "table" or type(e[1]) ~= "string" then
        error(("ParameterDict: entry %d must be {name, tensor}"):format(i), 3)
      end
      self:register_parameter(e[1], as_param(e[2], "ParameterDict"))
    end
  else
    local keys = {}
    for k in pairs(t) do
      if type(k) ~= "string" then error("ParameterDict: keys must be strings", 3) end
      keys[#keys + 1] = k
    end
    table.sort(keys)
    for _, k in ipairs(keys) do self:register_parameter(k, as_param(t[k], "ParameterDict")) end
  end
end

do
  local base_newindex = Module.__newindex
  function ParameterDict.__newindex(self, k, v)
    if type(k) == "string" and lt.is_tensor(v) then
      self:register_parameter(k, as_param(v, "ParameterDict[]"))
      return
    end
    return base_newindex(self, k, v)
  end
end

function ParameterDict.__len(self) return #rawget(self, "_params").names end

--- The names, in order.
function ParameterDict:keys()
  local out = {}
  for i, k in ipairs(rawget(self, "_params").names) do out[i] = k end
  return out
end

--- The parameters, in order.
function ParameterDict:values()
  local kind, out = rawget(self, "_params"), {}
  for i, k in ipairs(kind.names) do out[i] = kind.map[k] end
  return out
end

--- Iterator over (name, parameter), in order.
function ParameterDict:items()
  local kind, i = rawget(self, "_params"), 0
  return function()
    i = i + 1
    local k = kind.names[i]
    if k then return k, kind.map[k] end
  end
end

function ParameterDict:forward()
  error("ParameterDict has no forward: use its parameters", 2)
end

return M
