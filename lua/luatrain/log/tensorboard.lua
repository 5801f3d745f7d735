--- luatrain.log.tensorboard - writes TensorBoard event files in pure Lua:
-- TFRecord framing (uint64 length, masked CRC-32C of the length, data,
-- masked CRC-32C of the data) around hand-encoded Event protobufs
-- (wall_time, step, file_version, summary{value{tag, simple_value}}).
-- Scalars only: no images, histograms, graphs or hparams.
local M = {}

-- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table driven.
local CRC_TABLE = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if c & 1 == 1 then c = (c >> 1) ~ 0x82F63B78 else c = c >> 1 end
  end
  CRC_TABLE[i] = c
end

--- CRC-32C of a string.
function M.crc32c(s)
  local crc = 0xFFFFFFFF
  local byte = string.byte
  for i = 1, #s do
    crc = CRC_TABLE[(crc ~ byte(s, i)) & 0xFF] ~ (crc >> 8)
  end
  return crc ~ 0xFFFFFFFF
end

--- TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8 (32 bits).
function M.masked_crc(s)
  local crc = M.crc32c(s)
  return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xa282ead8) & 0xFFFFFFFF
end

--- Protobuf base-128 varint of a non-negative (or two's complement) integer.
function M.varint(v)
  local out = {}
  repeat
    local b = v & 0x7F
    v = v >> 7            -- logical shift: negative int64 take 10 bytes
    if v ~= 0 then b = b | 0x80 end
    out[#out + 1] = string.char(b)
  until v == 0
  return table.concat(out)
end

local function key(field, wire) return M.varint((field << 3) | wire) end
local function bytes_field(field, s) return key(field, 2) .. M.varint(#s) .. s end

--- Encodes an Event message.
-- @param ev {wall_time = number, step = integer, file_version = string,
--   values = {{tag, number}, ...}}
function M.encode_event(ev)
  local parts = {key(1, 1), string.pack("<d", ev.wall_time or 0)}
  if ev.step then
    local step = math.tointeger(ev.step) or math.floor(ev.step)
    parts[#parts + 1] = key(2, 0) .. M.varint(step)
  end
  if ev.file_version then parts[#parts + 1] = bytes_field(3, ev.file_version) end
  if ev.values and #ev.values > 0 then
    local vals = {}
    for i, tv in ipairs(ev.values) do
      vals[i] = bytes_field(1, bytes_field(1, tv[1]) .. key(2, 5) .. string.pack("<f", tv[2]))
    end
    parts[#parts + 1] = bytes_field(5, table.concat(vals))
  end
  return table.concat(parts)
end

--- Frames one record.
function M.frame(data)
  local len = string.pack("<I8", #data)
  return len .. string.pack("<I4", M.masked_crc(len)) .. data .. string.pack("<I4", M.masked_crc(data))
end

local function hostname()
  local f = io.open("/proc/sys/kernel/hostname", "r") or io.open("/etc/hostname", "r")
  local h
  if f then h = f:read("l") f:close() end
  if h == nil or h == "" then h = os.getenv("HOSTNAME") or "localhost" end
  return (h:gsub("[^%w%.%-_]", "_"))
end
M.hostname = hostname

local Writer = {}
Writer.__index = Writer

--- Opens dir/events.out.tfevents.<unix time>.<host> and writes the
-- file_version record.
-- @param dir existing directory
-- @param wall_time function returning the wall-clock time in seconds
function M.Writer(dir, wall_time)
  local path = ("%s/events.out.tfevents.%d.%s"):format(dir, os.time(), hostname())
  local f, err = io.open(path, "wb")
  if not f then error("tensorboard: cannot create " .. tostring(err), 3) end
  local w = setmetatable({path = path, f = f, wall_time = wall_time or os.time}, Writer)
  f:write(M.frame(M.encode_event{wall_time = w.wall_time(), step = 0, file_version = "brain.Event:2"}))
  return w
end

--- Appends one event holding every numeric value of `metrics`.
function Writer:add_scalars(metrics, step)
  local vals = {}
  for k, v in pairs(metrics) do
    if type(v) == "number" then vals[#vals + 1] = {tostring(k), v} end
  end
  table.sort(vals, function(a, b) return a[1] < b[1] end)
  if #vals == 0 then return end
  self.f:write(M.frame(M.encode_event{wall_time = self.wall_time(), step = step, values = vals}))
end

function Writer:flush() if self.f then self.f:flush() end end

function Writer:close()
  if self.f then self.f:close() self.f = nil end
end

return M
