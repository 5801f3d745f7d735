--- Containers: Sequential, ModuleList and ModuleDict.
-- Children are registered under PyTorch's names ("0", "1", ... for the
-- sequences, so state_dict keys match PyTorch's) and indexed 1-based from
-- Lua (`seq[1]` is child "0"). They deliberately do not support slicing.
-- @module luatrain.nn.container
local class = require("luatrain.class")
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

return M
