--- A small in-house class helper: single inheritance, `init` constructor.
-- `local Point = class.extend("Point")` (or `Base:extend("Name")`) makes a
-- class; `Point(...)` constructs an instance and runs `Point.init(self, ...)`.
-- Metamethods (`__tostring`, `__index` functions, `__call` ...) defined on a
-- class are copied to its subclasses when they are created, since Lua does not
-- inherit metamethods through `__index`. It deliberately has no mixins,
-- multiple inheritance or properties.
-- @module luatrain.class
local M = {}

-- Constructs an instance of `cls`: `__new(cls)` (when the class has one)
-- makes the raw object, then `init` runs.
local function construct(cls, ...)
  local obj
  if cls.__new then obj = cls.__new(cls) else obj = setmetatable({}, cls) end
  local init = cls.init
  if init then init(obj, ...) end
  return obj
end

local Object = {}
Object.__name = "Object"
Object.__index = Object
Object.__tostring = function(self)
  return ("%s instance"):format(getmetatable(self).__name or "?")
end

local class_mt = {
  __call = construct,
  __tostring = function(cls) return ("class %s"):format(rawget(cls, "__name") or "?") end,
}

--- Creates a subclass of `self` named `name`.
-- @param name string class name (used by `__tostring` and error messages)
-- @return the new class table
function Object.extend(self, name)
  if type(name) ~= "string" then
    error(("extend: bad argument #1 'name' (string expected, got %s)"):format(type(name)), 2)
  end
  local cls = {}
  for k, v in pairs(self) do
    if type(k) == "string" and k:sub(1, 2) == "__" then cls[k] = v end
  end
  -- a plain `__index = class` points at the new class; a function is kept
  if rawget(self, "__index") == self then cls.__index = cls end
  cls.__name = name
  cls.__luatrain_class = true
  cls.super = self
  return setmetatable(cls, {__call = class_mt.__call, __tostring = class_mt.__tostring,
                            __index = self})
end

--- Default constructor: does nothing.
function Object.init() end

setmetatable(Object, class_mt)
M.Object = Object

--- Creates a new root class (a direct subclass of `Object`).
-- @param name string class name
-- @param parent optional parent class (default `Object`)
function M.extend(name, parent)
  if parent ~= nil and not M.is_class(parent) then
    error("class.extend: bad argument #2 'parent' (class expected)", 2)
  end
  return Object.extend(parent or Object, name)
end

--- True when `c` is a class made by this helper.
function M.is_class(c)
  if type(c) ~= "table" then return false end
  -- the marker, not the identity of `construct`: a second copy of this
  -- module (busted's insulation reloads modules per spec file) must still
  -- recognise classes made by the first
  if rawget(c, "__luatrain_class") or c == Object then return true end
  local mt = getmetatable(c)
  return type(mt) == "table" and mt.__call == construct
end

--- True when `cls` is `base` or inherits from it.
function M.is_subclass(cls, base)
  while cls do
    if cls == base then return true end
    cls = rawget(cls, "super")
  end
  return false
end

--- True when `obj` is an instance of `cls` or of one of its subclasses.
-- @param obj any value
-- @param cls a class
function M.isinstance(obj, cls)
  if type(obj) ~= "table" then return false end
  local mt = getmetatable(obj)
  if not M.is_class(mt) then return false end
  return M.is_subclass(mt, cls)
end

--- The class of an instance (nil for non-instances).
function M.class_of(obj)
  if type(obj) ~= "table" then return nil end
  local mt = getmetatable(obj)
  if type(mt) == "table" and M.is_class(mt) then return mt end
  return nil
end

--- The class name of an instance or a class.
function M.name_of(x)
  if M.is_class(x) then return rawget(x, "__name") end
  local c = M.class_of(x)
  return c and rawget(c, "__name") or type(x)
end

return M
