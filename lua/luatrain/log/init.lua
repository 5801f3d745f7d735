--- luatrain.log - lt.log.Logger: scalar metrics to metrics.csv, metrics.jsonl
-- and a TensorBoard event file in one directory, flushed at least every
-- flush_secs. CSV is in LONG format, one row per value: `step,key,value`,
-- so keys may appear at any time (train loss every step, val_loss per
-- epoch) and the header is written once, at creation. Non-numeric values go
-- to the JSONL file only. No background thread: flushing happens in log().
local class = require "luatrain.class"
local tensorboard = require "luatrain.log.tensorboard"

local function lt() return require "luatrain" end

local M = {tensorboard = tensorboard}

local Logger = class.extend("Logger")
M.Logger = Logger

local function mkdir_p(dir)
  local ok = os.rename(dir, dir)
  if ok then return end
  os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
  if not os.rename(dir, dir) then error("Logger: cannot create directory " .. dir, 4) end
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local map = {['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r"}
    return map[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function json_value(v)
  local t = type(v)
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if math.type(v) == "integer" then return tostring(v) end
    return ("%.17g"):format(v)
  elseif t == "boolean" then return tostring(v)
  elseif t == "string" then return json_string(v) end
  return json_string(tostring(v))
end

local function num_str(v)
  if math.type(v) == "integer" then return tostring(v) end
  return ("%.10g"):format(v)
end

--- Opens the logger.
-- @param opts {dir = "logs" (or a run_dir object), tensorboard = true,
--   csv = true, jsonl = true, flush_secs = 5, stdout = false (print a line per log)}
function Logger:init(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("Logger: options must be a table", 3) end
  local dir = opts.dir or "logs"
  if type(dir) == "table" and dir.path then dir = dir.path end
  if type(dir) ~= "string" then error("Logger: dir must be a string", 3) end
  mkdir_p(dir)
  self.dir = dir
  self.flush_secs = opts.flush_secs or 5
  self.stdout = opts.stdout and true or false
  local L = lt()
  self._clock = L.time or os.clock
  local t0, w0 = self._clock(), os.time()
  local clock = self._clock
  self.wall_time = function() return w0 + (clock() - t0) end
  self._last_flush = t0
  self.step = 0
  if opts.csv ~= false then
    self.csv_path = dir .. "/metrics.csv"
    self._csv = assert(io.open(self.csv_path, "w"))
    self._csv:write("step,key,value\n")
  end
  if opts.jsonl ~= false then
    self.jsonl_path = dir .. "/metrics.jsonl"
    self._jsonl = assert(io.open(self.jsonl_path, "w"))
  end
  if opts.tensorboard ~= false then
    self._tb = tensorboard.Writer(dir, self.wall_time)
    self.tensorboard_path = self._tb.path
  end
end

--- Logs a table of metrics at a step (default: last step + 1).
-- Tensors are read with :item(); numbers go everywhere, other values to JSONL.
function Logger:log(metrics, step)
  if self.closed then error("Logger:log: the logger is closed", 2) end
  if type(metrics) ~= "table" then error("Logger:log: metrics must be a table", 2) end
  if step == nil then step = self.step + 1 end
  if type(step) ~= "number" then error("Logger:log: step must be a number", 2) end
  step = math.tointeger(step) or step
  self.step = step
  local L = lt()
  local entries = {}
  for k, v in pairs(metrics) do
    if L.is_tensor and L.is_tensor(v) then v = v:item() end
    entries[#entries + 1] = {tostring(k), v}
  end
  table.sort(entries, function(a, b) return a[1] < b[1] end)
  local nums = {}
  if self._csv then
    for _, e in ipairs(entries) do
      if type(e[2]) == "number" then
        self._csv:write(tostring(step), ",", e[1]:find("[,\"\n]") and json_string(e[1]) or e[1],
                        ",", num_str(e[2]), "\n")
      end
    end
  end
  for _, e in ipairs(entries) do
    if type(e[2]) == "number" then nums[e[1]] = e[2] end
  end
  if self._jsonl then
    local parts = {'"step":' .. json_value(step), '"time":' .. ("%.3f"):format(self.wall_time())}
    for _, e in ipairs(entries) do
      if e[1] ~= "step" and e[1] ~= "time" then
        parts[#parts + 1] = json_string(e[1]) .. ":" .. json_value(e[2])
      end
    end
    self._jsonl:write("{", table.concat(parts, ","), "}\n")
  end
  if self._tb then self._tb:add_scalars(nums, step) end
  if self.stdout then
    local p = {}
    for _, e in ipairs(entries) do
      p[#p + 1] = e[1] .. "=" .. (type(e[2]) == "number" and ("%.4g"):format(e[2]) or tostring(e[2]))
    end
    print(("step %s: %s"):format(tostring(step), table.concat(p, " ")))
  end
  local now = self._clock()
  if now - self._last_flush >= self.flush_secs then self:flush() end
end

--- Flushes every file now.
function Logger:flush()
  if self._csv then self._csv:flush() end
  if self._jsonl then self._jsonl:flush() end
  if self._tb then self._tb:flush() end
  self._last_flush = self._clock()
end

--- Flushes and closes; idempotent.
function Logger:close()
  if self.closed then return end
  self.closed = true
  if self._csv then self._csv:close() self._csv = nil end
  if self._jsonl then self._jsonl:close() self._jsonl = nil end
  if self._tb then self._tb:close() self._tb = nil end
end
Logger.__close = Logger.close
Logger.__gc = Logger.close

setmetatable(M, {__call = function(_, opts) return Logger(opts) end})
return M
