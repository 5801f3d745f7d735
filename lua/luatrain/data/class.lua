--- luatrain.data.class - the tiny class helper the data and utils classes
-- share: `local C = class("Name")`, `function C:init(...)`, `C(...)` builds.
-- No inheritance beyond `class("Sub", Base)`; nn.Module has its own.
return function(name, base)
  local cls = {}
  cls.__index = cls
  cls.__name = name
  if base then
    for k, v in pairs(base) do
      if k:find("^__") and k ~= "__index" and k ~= "__name" then cls[k] = v end
    end
  end
  return setmetatable(cls, {
    __index = base,
    __call = function(c, ...)
      local o = setmetatable({}, c)
      if o.init then o:init(...) end
      return o
    end,
    __tostring = function() return name end,
  })
end
