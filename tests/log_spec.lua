-- log_spec.lua - lt.log.Logger: metrics.csv (long format), metrics.jsonl and
-- the TensorBoard event file, decoded here by an independent reader that
-- checks the TFRecord CRCs and the Event protobuf fields.
local lt = require "luatrain"
local log = require "luatrain.log"

local tmpdir = require("tests.helpers").tmpdir

local slurp = require("tests.helpers").slurp

-- independent CRC-32C (bitwise, no table) and masking
local function crc32c(s)
  local crc = 0xFFFFFFFF
  for i = 1, #s do
    crc = crc ~ s:byte(i)
    for _ = 1, 8 do
      local lsb = crc & 1
      crc = crc >> 1
      if lsb == 1 then crc = crc ~ 0x82F63B78 end
    end
  end
  return crc ~ 0xFFFFFFFF
end
local function masked(s)
  local c = crc32c(s)
  return (((c >> 15) | ((c << 17) & 0xFFFFFFFF)) + 0xa282ead8) & 0xFFFFFFFF
end

local function read_records(s)
  local recs, pos = {}, 1
  while pos <= #s do
    local len_bytes = s:sub(pos, pos + 7)
    local len = string.unpack("<I8", len_bytes)
    local lcrc = string.unpack("<I4", s, pos + 8)
    assert.are.equal(masked(len_bytes), lcrc)
    local data = s:sub(pos + 12, pos + 12 + len - 1)
    local dcrc = string.unpack("<I4", s, pos + 12 + len)
    assert.are.equal(masked(data), dcrc)
    recs[#recs + 1] = data
    pos = pos + 12 + len + 4
  end
  assert.are.equal(#s + 1, pos)
  return recs
end

-- minimal protobuf reader: {field = {values...}} with raw wire values
local function varint(s, pos)
  local v, shift = 0, 0
  while true do
    local b = s:byte(pos)
    pos = pos + 1
    v = v | ((b & 0x7F) << shift)
    if b < 0x80 then return v, pos end
    shift = shift + 7
  end
end
local function decode(s)
  local out, pos = {}, 1
  while pos <= #s do
    local key
    key, pos = varint(s, pos)
    local field, wire = key >> 3, key & 7
    local v
    if wire == 0 then v, pos = varint(s, pos)
    elseif wire == 1 then v = s:sub(pos, pos + 7) pos = pos + 8
    elseif wire == 5 then v = s:sub(pos, pos + 3) pos = pos + 4
    elseif wire == 2 then
      local n
      n, pos = varint(s, pos)
      v = s:sub(pos, pos + n - 1)
      pos = pos + n
    else error("bad wire type " .. wire) end
    out[field] = out[field] or {}
    table.insert(out[field], v)
  end
  return out
end

describe("lt.log.Logger", function()
  it("writes CSV (long), JSONL and TensorBoard records that decode with valid CRCs", function()
    local dir = tmpdir()
    local lg = log.Logger{dir = dir}
    lg:log({loss = 0.5, acc = 0.25, note = "warmup"}, 1)
    lg:log({loss = 0.125}, 2)
    lg:log({val_loss = lt.tensor(0.75)}, 2)
    lg:close()
    assert.are.equal("step,key,value\n1,acc,0.25\n1,loss,0.5\n2,loss,0.125\n2,val_loss,0.75\n",
                     slurp(dir .. "/metrics.csv"))
    local lines = {}
    for l in slurp(dir .. "/metrics.jsonl"):gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(3, #lines)
    assert.truthy(lines[1]:find('^{"step":1,"time":%d+%.%d+,'))
    assert.truthy(lines[1]:find('"note":"warmup"', 1, true))
    assert.truthy(lines[1]:find('"acc":0.25', 1, true))
    if lt.json and lt.json.decode then
      local j = lt.json.decode(lines[2])
      assert.are.equal(0.125, j.loss)
      assert.are.equal(2, j.step)
    end
    -- TensorBoard
    local p = io.popen("ls " .. dir .. "/events.out.tfevents.*")
    local ev = p:read("l")
    p:close()
    assert.truthy(ev)
    assert.are.equal(lg.tensorboard_path, ev)
    local recs = read_records(slurp(ev))
    assert.are.equal(4, #recs)
    local first = decode(recs[1])
    assert.are.equal("brain.Event:2", first[3][1])
    local wall = string.unpack("<d", first[1][1])
    assert.is_true(math.abs(wall - os.time()) < 3600)
    local e2 = decode(recs[2])
    assert.are.equal(1, e2[2][1])
    local summary = decode(e2[5][1])
    assert.are.equal(2, #summary[1])
    local got = {}
    for _, vbytes in ipairs(summary[1]) do
      local v = decode(vbytes)
      got[v[1][1]] = string.unpack("<f", v[2][1])
    end
    assert.are.same({acc = 0.25, loss = 0.5}, got)
    local e4 = decode(recs[4])
    assert.are.equal(2, e4[2][1])
    local v4 = decode(decode(e4[5][1])[1][1])
    assert.are.equal("val_loss", v4[1][1])
    assert.are.equal(0.75, string.unpack("<f", v4[2][1]))
    os.execute("rm -rf " .. dir)
  end)

  it("can turn outputs off, numbers steps itself, and flushes by time", function()
    local dir = tmpdir()
    local lg = log.Logger{dir = dir, tensorboard = false, jsonl = false, flush_secs = 0}
    lg:log({a = 1})
    lg:log({a = 2})
    -- flush_secs = 0: the rows are on disk before close
    assert.are.equal("step,key,value\n1,a,1\n2,a,2\n", slurp(dir .. "/metrics.csv"))
    lg:close()
    assert.is_nil(io.open(dir .. "/metrics.jsonl"))
    assert.has_error(function() lg:log({a = 3}) end)
    os.execute("rm -rf " .. dir)
  end)

  it("rejects bad input", function()
    local dir = tmpdir()
    local lg = log.Logger{dir = dir, tensorboard = false}
    assert.has_error(function() lg:log(3) end)
    assert.has_error(function() lg:log({a = 1}, "x") end)
    lg:close()
    assert.has_error(function() log.Logger{dir = 5} end)
    os.execute("rm -rf " .. dir)
  end)
end)
