-- plot_spec.lua - lt.utils.plot and `luatrain plot`: the SVG is well-formed
-- XML (a small checker here, plus xmllint when installed) with one <path>
-- per series, axes, ticks and a legend.
local plot = require "luatrain.utils.plot"
local cli = require "luatrain.cli.plot"

local tmpdir = require("tests.helpers").tmpdir

local slurp = require("tests.helpers").slurp

local function write(p, s)
  local f = assert(io.open(p, "w"))
  f:write(s)
  f:close()
end

-- Tiny XML well-formedness check: balanced tags, quoted attributes, no
-- stray '<' or '&'. Returns the count of each element name.
local function check_xml(s)
  local counts, stack = {}, {}
  s = s:gsub("^<%?xml.-%?>", "")
  local pos = 1
  while true do
    local a = s:find("<", pos, true)
    local text = s:sub(pos, (a or #s + 1) - 1)
    for amp in text:gmatch("&[^;]*;?") do
      assert(amp:match("^&[%w#]+;$"), "bad entity " .. amp)
    end
    if not a then break end
    local b = s:find(">", a, true)
    assert(b, "unclosed tag at " .. a)
    local tag = s:sub(a + 1, b - 1)
    assert(not tag:find("<", 1, true), "'<' inside a tag at " .. a)
    if tag:sub(1, 1) == "/" then
      local name = tag:sub(2):match("^%s*([%w:_%-]+)%s*$")
      assert(name, "bad end tag " .. tag)
      assert(stack[#stack] == name, ("</%s> closes <%s>"):format(name, tostring(stack[#stack])))
      stack[#stack] = nil
    else
      local self_closing = tag:sub(-1) == "/"
      if self_closing then tag = tag:sub(1, -2) end
      local name, rest = tag:match("^([%w:_%-]+)(.*)$")
      assert(name, "bad tag " .. tag)
      local r = rest:gsub('%s+[%w:_%-]+%s*=%s*"[^"<]*"', "")
      assert(r:match("^%s*$"), "bad attributes in <" .. name .. ">: " .. r)
      counts[name] = (counts[name] or 0) + 1
      if not self_closing then stack[#stack + 1] = name end
    end
    pos = b + 1
  end
  assert(#stack == 0, "unclosed <" .. tostring(stack[#stack]) .. ">")
  assert.is_true((counts.svg or 0) == 1)
  return counts
end

local function xmllint_ok(path)
  if not os.execute("command -v xmllint >/dev/null 2>&1") then return true end
  return os.execute("xmllint --noout " .. path .. " 2>/dev/null") == true
end

describe("lt.utils.plot", function()
  it("draws one path per series of a long-format CSV, with axes and legend", function()
    local dir = tmpdir()
    local rows = {"step,key,value"}
    for s = 1, 30 do
      rows[#rows + 1] = ("%d,train_loss,%g"):format(s, 2 / s)
      if s % 10 == 0 then rows[#rows + 1] = ("%d,val_loss,%g"):format(s, 2.5 / s) end
    end
    write(dir .. "/metrics.csv", table.concat(rows, "\n") .. "\n")
    local out, n = plot.plot(dir .. "/metrics.csv", {out = dir .. "/loss.svg", title = "a & b <c>"})
    assert.are.equal(dir .. "/loss.svg", out)
    assert.are.equal(2, n)
    local svg = slurp(out)
    local counts = check_xml(svg)
    assert.are.equal(2, counts.path)
    assert.is_true(counts.text >= 6)               -- tick labels + legend
    assert.truthy(svg:find('data-key="train_loss"', 1, true))
    assert.truthy(svg:find('data-key="val_loss"', 1, true))
    assert.truthy(svg:find("a &amp; b &lt;c&gt;", 1, true))
    assert.is_true(xmllint_ok(out))
    -- keys= selects series
    local _, n1 = plot.plot(dir .. "/metrics.csv", {out = dir .. "/v.svg", keys = {"val_loss"}})
    assert.are.equal(1, n1)
    assert.are.equal(1, check_xml(slurp(dir .. "/v.svg")).path)
    assert.has_error(function() plot.plot(dir .. "/metrics.csv", {keys = {"nope"}}) end)
    os.execute("rm -rf " .. dir)
  end)

  it("reads wide CSVs with empty cells and handles a constant series", function()
    local dir = tmpdir()
    write(dir .. "/w.csv", "step,a,b\n1,1,\n2,1,3\n3,1,\n")
    local data = plot.read_csv(dir .. "/w.csv")
    assert.are.same({"a", "b"}, data.names)
    assert.are.equal(3, #data.series.a)
    assert.are.equal(1, #data.series.b)
    local out, n = plot(dir .. "/w.csv")
    assert.are.equal(dir .. "/w.svg", out)
    assert.are.equal(2, n)
    assert.are.equal(2, check_xml(slurp(out)).path)
    os.execute("rm -rf " .. dir)
  end)

  it("the CLI writes the file and reports usage errors", function()
    local dir = tmpdir()
    write(dir .. "/m.csv", "step,key,value\n1,loss,1\n2,loss,0.5\n")
    local out, err = io.tmpfile(), io.tmpfile()
    assert.are.equal(0, cli.main({dir .. "/m.csv", "-o", dir .. "/o.svg", "--keys", "loss"}, out, err))
    assert.are.equal(1, check_xml(slurp(dir .. "/o.svg")).path)
    assert.are.equal(2, cli.main({}, out, err))
    assert.are.equal(2, cli.main({"--bogus"}, out, err))
    assert.are.equal(1, cli.main({dir .. "/missing.csv"}, out, err))
    out:seek("set")
    assert.truthy(out:read("a"):find("wrote " .. dir .. "/o.svg (1 series)", 1, true))
    err:seek("set")
    assert.truthy(err:read("a"):find("missing.csv", 1, true))
    os.execute("rm -rf " .. dir)
  end)
end)
