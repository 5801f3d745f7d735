--- luatrain.utils.plot - lt.utils.plot(csv, {out=, keys=}): an SVG line chart
-- of a metrics CSV (the Logger's long format `step,key,value`, or a wide
-- `step,a,b,...` table with empty cells allowed): axes, "nice" ticks, a
-- legend, one <path> per series. Pure Lua, no plotting library; it does
-- not smooth, and a log scale is only `logy = true` on positive data.
local M = {}

local COLORS = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

local function split_csv_line(line)
  local out, i, n = {}, 1, #line
  while i <= n + 1 do
    if line:sub(i, i) == '"' then
      local j, buf = i + 1, {}
      while j <= n do
        local c = line:sub(j, j)
        if c == '"' then
          if line:sub(j + 1, j + 1) == '"' then buf[#buf + 1] = '"' j = j + 2
          else j = j + 1 break end
        else buf[#buf + 1] = c j = j + 1 end
      end
      out[#out + 1] = table.concat(buf)
      i = j + 1
    else
      local j = line:find(",", i, true) or (n + 1)
      out[#out + 1] = line:sub(i, j - 1)
      i = j + 1
    end
  end
  return out
end

--- Reads a metrics CSV into series.
-- @return {names = {...} (first-seen order), series = {name = {{x, y}, ...}}}
function M.read_csv(path)
  local f, err = io.open(path, "r")
  if not f then error("plot: cannot open " .. tostring(err), 3) end
  local header = f:read("l")
  if not header then f:close() error("plot: " .. path .. " is empty", 3) end
  header = split_csv_line((header:gsub("\r$", "")))
  local names, series = {}, {}
  local function add(name, x, y)
    if not series[name] then series[name] = {} names[#names + 1] = name end
    local s = series[name]
    s[#s + 1] = {x, y}
  end
  local long = #header == 3 and header[1] == "step" and header[2] == "key" and header[3] == "value"
  local row = 0
  for line in f:lines() do
    line = line:gsub("\r$", "")
    row = row + 1
    if line ~= "" then
      local c = split_csv_line(line)
      local x = tonumber(c[1]) or row
      if long then
        local y = tonumber(c[3])
        if c[2] and y then add(c[2], x, y) end
      else
        for j = 2, #header do
          local y = tonumber(c[j])
          if y then add(header[j], x, y) end
        end
      end
    end
  end
  f:close()
  return {names = names, series = series}
end

-- "nice" tick step for a range (1, 2, 5 x 10^k)
local function nice_ticks(lo, hi, n)
  if hi <= lo then
    local d = math.abs(lo) > 0 and math.abs(lo) * 0.1 or 1
    lo, hi = lo - d, hi + d
  end
  local raw = (hi - lo) / (n or 5)
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local step = mag
  for _, m in ipairs({1, 2, 2.5, 5, 10}) do
    if raw <= m * mag then step = m * mag break end
  end
  local t0 = math.floor(lo / step) * step
  local t1 = math.ceil(hi / step) * step
  local ticks = {}
  local v = t0
  while v <= t1 + step * 1e-9 do
    ticks[#ticks + 1] = math.abs(v) < step * 1e-9 and 0 or v
    v = v + step
  end
  return t0, t1, ticks
end

local function fmt_tick(v)
  if v == math.floor(v) and math.abs(v) < 1e9 then return ("%d"):format(v) end
  return (("%.4g"):format(v))
end

local function esc(s)
  return (tostring(s):gsub("[&<>\"']", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
                                         ['"'] = "&quot;", ["'"] = "&apos;"}))
end

--- Writes the SVG.
-- @param csv path of the metrics CSV
-- @param opts {out = csv with .svg, keys = {...} (default all series),
--   title=, width = 720, height = 440, logy = false, xlabel = "step"}
-- @return the SVG path and the number of series drawn
function M.plot(csv, opts)
  opts = opts or {}
  if type(csv) ~= "string" then error("plot: csv path must be a string", 2) end
  local data = M.read_csv(csv)
  local keys = opts.keys
  if type(keys) == "string" then
    local k = {}
    for s in keys:gmatch("[^,]+") do k[#k + 1] = s end
    keys = k
  end
  keys = keys or data.names
  local series = {}
  for _, k in ipairs(keys) do
    if not data.series[k] then
      error(("plot: no series %q in %s (have: %s)"):format(k, csv, table.concat(data.names, ", ")), 2)
    end
    series[#series + 1] = {name = k, pts = data.series[k]}
  end
  if #series == 0 then error("plot: no data in " .. csv, 2) end
  local logy = opts.logy
  local function ty(y) return logy and math.log(y, 10) or y end
  local xmin, xmax, ymin, ymax = math.huge, -math.huge, math.huge, -math.huge
  for _, s in ipairs(series) do
    for _, p in ipairs(s.pts) do
      if not logy or p[2] > 0 then
        xmin, xmax = math.min(xmin, p[1]), math.max(xmax, p[1])
        ymin, ymax = math.min(ymin, ty(p[2])), math.max(ymax, ty(p[2]))
      end
    end
  end
  if xmin == math.huge then error("plot: nothing to draw", 2) end
  local W, H = opts.width or 720, opts.height or 440
  local ml, mr, mt, mb = 70, 160, opts.title and 40 or 20, 50
  local pw, ph = W - ml - mr, H - mt - mb
  local x0, x1, xt = nice_ticks(xmin, xmax, 6)
  local y0, y1, yt = nice_ticks(ymin, ymax, 5)
  local function sx(x) return ml + (x - x0) / (x1 - x0) * pw end
  local function sy(y) return mt + ph - (ty(y) - y0) / (y1 - y0) * ph end
  local o = {}
  local function w(s) o[#o + 1] = s end
  w(('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
     .. 'width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">\n')
     :format(W, H, W, H))
  w(('<rect x="0" y="0" width="%d" height="%d" fill="white"/>\n'):format(W, H))
  if opts.title then
    w(('<text x="%.1f" y="24" text-anchor="middle" font-size="15">%s</text>\n')
      :format(ml + pw / 2, esc(opts.title)))
  end
  -- grid, ticks and labels
  w('<g class="grid" stroke="#e0e0e0" stroke-width="1">\n')
  local LINE = '<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>\n'
  for _, v in ipairs(xt) do w(LINE:format(sx(v), mt, sx(v), mt + ph)) end
  for _, v in ipairs(yt) do
    local yy = mt + ph - (v - y0) / (y1 - y0) * ph
    w(('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>\n'):format(ml, yy, ml + pw, yy))
  end
  w('</g>\n<g class="axes" stroke="black" stroke-width="1">\n')
  w(('<line x1="%d" y1="%d" x2="%d" y2="%d"/>\n'):format(ml, mt + ph, ml + pw, mt + ph))
  w(('<line x1="%d" y1="%d" x2="%d" y2="%d"/>\n'):format(ml, mt, ml, mt + ph))
  for _, v in ipairs(xt) do w(LINE:format(sx(v), mt + ph, sx(v), mt + ph + 5)) end
  for _, v in ipairs(yt) do
    local yy = mt + ph - (v - y0) / (y1 - y0) * ph
    w(('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>\n'):format(ml - 5, yy, ml, yy))
  end
  w('</g>\n<g class="ticks" fill="black">\n')
  for _, v in ipairs(xt) do
    w(('<text x="%.1f" y="%d" text-anchor="middle">%s</text>\n'):format(sx(v), mt + ph + 18, fmt_tick(v)))
  end
  for _, v in ipairs(yt) do
    local yy = mt + ph - (v - y0) / (y1 - y0) * ph
    w(('<text x="%d" y="%.1f" text-anchor="end">%s</text>\n'):format(ml - 8, yy + 4,
      esc(logy and ("1e" .. fmt_tick(v)) or fmt_tick(v))))
  end
  w(('<text x="%.1f" y="%d" text-anchor="middle">%s</text>\n')
    :format(ml + pw / 2, H - 10, esc(opts.xlabel or "step")))
  w('</g>\n')
  -- series
  for i, s in ipairs(series) do
    local d = {}
    for _, p in ipairs(s.pts) do
      if not logy or p[2] > 0 then
        d[#d + 1] = ("%s%.2f,%.2f"):format(#d == 0 and "M" or "L", sx(p[1]), sy(p[2]))
      end
    end
    local color = COLORS[(i - 1) % #COLORS + 1]
    w(('<path class="series" data-key="%s" d="%s" fill="none" stroke="%s" stroke-width="1.5"/>\n')
      :format(esc(s.name), table.concat(d, " "), color))
  end
  -- legend
  w('<g class="legend">\n')
  for i, s in ipairs(series) do
    local ly = mt + 10 + (i - 1) * 20
    local color = COLORS[(i - 1) % #COLORS + 1]
    w(('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>\n')
      :format(ml + pw + 15, ly, ml + pw + 40, ly, color))
    w(('<text x="%d" y="%d">%s</text>\n'):format(ml + pw + 46, ly + 4, esc(s.name)))
  end
  w('</g>\n</svg>\n')
  local out = opts.out or (csv:gsub("%.csv$", "") .. ".svg")
  local f, err = io.open(out, "w")
  if not f then error("plot: cannot write " .. tostring(err), 2) end
  f:write(table.concat(o))
  f:close()
  return out, #series
end

return setmetatable(M, {__call = function(_, csv, opts) return M.plot(csv, opts) end})
