--- luatrain.utils.run_dir - lt.run_dir: one directory per training run,
-- runs/<name or timestamp>, holding a copy of the script and manifest.json
-- (script, args, resolved config, seed, versions, device, deterministic
-- flags, host, start time) so a run can be traced and repeated. It does not
-- record the git state or environment variables.
local class = require "luatrain.class"

local function lt() return require "luatrain" end

local M = {}

local RunDir = class.extend("RunDir")
M.RunDir = RunDir

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function exists(p) return os.rename(p, p) and true or false end

local function basename(p) return (p:match("([^/]+)$")) or p end

local function read_all(p)
  local f = io.open(p, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function try(f, ...)
  if type(f) ~= "function" then return nil end
  local ok, v = pcall(f, ...)
  if ok then return v end
  return nil
end

local function deterministic_flags(L)
  local det
  for _, name in ipairs({"is_deterministic", "get_deterministic", "deterministic",
                         "are_deterministic_algorithms_enabled"}) do
    local v = L[name]
    if type(v) == "function" then det = try(v) elseif type(v) == "boolean" then det = v end
    if det ~= nil then break end
  end
  local b = type(L.backends) == "table" and L.backends or {}
  return {deterministic = det, allow_tf32 = b.allow_tf32, benchmark = b.benchmark}
end

-- Only JSON-friendly values survive (functions, tensors, userdata dropped).
local function plain(v, depth)
  depth = depth or 0
  local t = type(v)
  if t == "number" or t == "string" or t == "boolean" then return v end
  if t == "table" and depth < 8 then
    local out = {}
    for k, x in pairs(v) do
      if type(k) == "string" or math.type(k) == "integer" then out[k] = plain(x, depth + 1) end
    end
    return out
  end
  return nil
end

--- Creates the run directory and writes manifest.json.
-- @param opts {root = "runs", name = (default a timestamp, made unique),
--   config = table (stored as given), seed = n (lt.seed_everything(n) is called),
--   script = path (default arg[0]), args = table (default arg)}
function RunDir:init(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("run_dir: options must be a table", 3) end
  local L = lt()
  local root = opts.root or "runs"
  local name = opts.name
  if name ~= nil and (type(name) ~= "string" or name == "" or name:find("/")) then
    error("run_dir: name must be a non-empty string without '/'", 3)
  end
  local base = name or os.date("%Y%m%d-%H%M%S")
  local path = root .. "/" .. base
  if name == nil then
    local i = 1
    while exists(path) do
      path = ("%s/%s-%d"):format(root, base, i)
      i = i + 1
    end
  end
  os.execute("mkdir -p " .. quote(path))
  if not exists(path) then error("run_dir: cannot create directory " .. path, 3) end
  self.path = path
  self.name = basename(path)
  if opts.seed ~= nil then
    if math.type(opts.seed) ~= "integer" then error("run_dir: seed must be an integer", 3) end
    if type(L.seed_everything) == "function" then L.seed_everything(opts.seed) end
  end
  local script = opts.script or (arg and arg[0])
  local args = opts.args
  if args == nil and arg then
    args = {}
    for i = 1, #arg do args[i] = arg[i] end
  end
  if script then
    local src = read_all(script)
    if src then
      local f = io.open(path .. "/" .. basename(script), "wb")
      if f then f:write(src) f:close() end
    end
  end
  local cuda = type(L.cuda) == "table" and L.cuda or {}
  local has_cuda = try(cuda.is_available) and true or false
  local device_name
  if has_cuda then device_name = try(cuda.get_device_name, 0) or try(cuda.get_device_name, 1) end
  local host = require("luatrain.log.tensorboard").hostname()
  self.manifest = {
    script = script,
    args = args or {},
    config = plain(opts.config) or {},
    seed = opts.seed or try(L.initial_seed),
    luatrain_version = L.version,
    lua_version = _VERSION,
    device = has_cuda and "cuda" or "cpu",
    cuda_device_name = device_name,
    cuda_device_count = has_cuda and try(cuda.device_count) or 0,
    flags = deterministic_flags(L),
    hostname = host,
    start_time = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    path = path,
  }
  local json = L.json and L.json.encode
  if type(json) ~= "function" then error("run_dir: lt.json.encode is not available", 3) end
  local f = assert(io.open(path .. "/manifest.json", "w"))
  f:write(json(self.manifest), "\n")
  f:close()
end

--- A path inside the run directory.
function RunDir:file(name)
  if type(name) ~= "string" then error("run_dir:file: name must be a string", 2) end
  return self.path .. "/" .. name
end

--- A Logger writing into this directory (opts as lt.log.Logger).
function RunDir:logger(opts)
  opts = opts or {}
  opts.dir = self.path
  return require("luatrain.log").Logger(opts)
end

function RunDir:__tostring() return self.path end

setmetatable(M, {__call = function(_, opts) return RunDir(opts) end})
return M
