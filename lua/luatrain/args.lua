--- Command-line options over typed defaults: `lt.args{lr = 1e-3, epochs = 10}`
-- parses `--lr 0.01 --epochs=3 --no-shuffle` from the global `arg` (or
-- opts.argv). Types come from the defaults (number, integer, string,
-- boolean); `--help` prints the options and exits 0; an unknown option or
-- a bad value is an error naming it. Names with '-' map to '_' keys.
-- @module luatrain.args

local function typeof(v)
  if math.type(v) == "integer" then return "integer" end
  return type(v)
end

local function convert(name, kind, s)
  if kind == "integer" then
    local v = math.tointeger(tonumber(s))
    if v == nil then error(("args: option --%s expects an integer, got '%s'"):format(name, s), 0) end
    return v
  elseif kind == "number" then
    local v = tonumber(s)
    if v == nil then error(("args: option --%s expects a number, got '%s'"):format(name, s), 0) end
    return v
  elseif kind == "boolean" then
    if s == "true" or s == "1" or s == "yes" then return true end
    if s == "false" or s == "0" or s == "no" then return false end
    error(("args: option --%s expects true or false, got '%s'"):format(name, s), 0)
  end
  return s
end

local function usage(defaults, opts, out)
  local names = {}
  for k in pairs(defaults) do names[#names + 1] = k end
  table.sort(names)
  local prog = opts.prog or (arg and arg[0]) or "script"
  out:write(("usage: luatrain %s [options]\n"):format(prog))
  if opts.description then out:write("\n", opts.description, "\n") end
  out:write("\noptions:\n")
  for _, k in ipairs(names) do
    local v = defaults[k]
    local flag = "--" .. k:gsub("_", "-")
    local kind = typeof(v)
    local shown = kind == "boolean" and (flag .. " / --no-" .. k:gsub("_", "-"))
                  or (flag .. " " .. kind:upper())
    local help = opts.help and opts.help[k]
    out:write(("  %-28s %s(default: %s)\n"):format(shown, help and (help .. " ") or "", tostring(v)))
  end
  out:write(("  %-28s %s\n"):format("--help", "show this message and exit"))
end

--- Parses options over `defaults`.
-- @param defaults table name -> default value (its type is the option's type)
-- @param opts table|nil {argv = list, help = {name = text}, description = text,
--   prog = name, exit = function(code) (default os.exit), output = file}
-- @return table of values (a fresh copy of defaults with overrides), and a
--   list of positional arguments
local function parse(defaults, opts)
  if type(defaults) ~= "table" then
    error("args: defaults must be a table, got " .. type(defaults), 2)
  end
  opts = opts or {}
  local argv = opts.argv or arg or {}
  local kinds, values, positional = {}, {}, {}
  for k, v in pairs(defaults) do
    if type(k) ~= "string" then error("args: option names must be strings", 2) end
    local kind = typeof(v)
    if kind ~= "number" and kind ~= "integer" and kind ~= "string" and kind ~= "boolean" then
      error(("args: default for '%s' must be a number, integer, string or boolean, got %s")
            :format(k, kind), 2)
    end
    kinds[k], values[k] = kind, v
  end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do positional[#positional + 1] = argv[j] end
      break
    elseif a == "--help" or a == "-h" then
      local out = opts.output or io.stdout
      usage(defaults, opts, out)
      out:flush()
      local exit = opts.exit or os.exit
      return exit(0)
    elseif a:sub(1, 2) == "--" then
      local body = a:sub(3)
      local name, val = body:match("^([^=]+)=(.*)$")
      name = name or body
      local key = name:gsub("-", "_")
      if kinds[key] == nil and key:sub(1, 3) == "no_" and kinds[key:sub(4)] == "boolean" and val == nil then
        values[key:sub(4)] = false
      elseif kinds[key] == nil then
        error(("args: unknown option '--%s' (try --help)"):format(name), 0)
      elseif kinds[key] == "boolean" then
        if val ~= nil then
          values[key] = convert(name, "boolean", val)
        elseif argv[i + 1] == "true" or argv[i + 1] == "false" then
          values[key] = argv[i + 1] == "true"
          i = i + 1
        else
          values[key] = true
        end
      else
        if val == nil then
          val = argv[i + 1]
          if val == nil then error(("args: option '--%s' needs a value"):format(name), 0) end
          i = i + 1
        end
        values[key] = convert(name, kinds[key], val)
      end
    else
      positional[#positional + 1] = a
    end
    i = i + 1
  end
  return values, positional
end

return parse
