--- luatrain.utils.progress - lt.progress, a tqdm-style progress bar:
--   `desc: 45%|████▌     | 211/469 [00:03<00:04, 61.2it/s, loss=0.412]`
-- on stderr, redrawn with \r at most every `mininterval` seconds (plain
-- periodic lines when the output is not a terminal). Wraps a DataLoader (or
-- anything with :iter()), a number, an array or an iterator function, and
-- polls lt.interrupted() (Ctrl-C) between items. It does not size itself to
-- the terminal width (fixed bar width, `width=` to change it).
local class = require "luatrain.class"

local function lt() return require "luatrain" end

local M = {}

local Progress = class.extend("Progress")
M.Progress = Progress

local BLOCKS = {"▏", "▎", "▍", "▌", "▋", "▊", "▉"}   -- 1/8 .. 7/8
local FULL = "█"

--- Seconds -> "mm:ss" or "h:mm:ss".
function M.format_interval(t)
  if t ~= t or t == math.huge then return "?" end
  t = math.floor(t + 0.5)
  local h, m, s = t // 3600, (t // 60) % 60, t % 60
  if h > 0 then return ("%d:%02d:%02d"):format(h, m, s) end
  return ("%02d:%02d"):format(m, s)
end

local function format_num(v)
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then
    if v == math.floor(v) and math.abs(v) < 1e15 then return ("%d"):format(v) end
    return ("%.3g"):format(v)
  end
  return tostring(v)
end
M.format_num = format_num

local function format_rate(rate, unit)
  if rate == nil or rate ~= rate then return "?" .. unit .. "/s" end
  if rate > 0 and rate < 1 then return ("%.2fs/%s"):format(1 / rate, unit) end
  if rate >= 100 then return ("%.0f%s/s"):format(rate, unit) end
  if rate >= 10 then return ("%.1f%s/s"):format(rate, unit) end
  return ("%.2f%s/s"):format(rate, unit)
end

--- The bar as text (no \r, no newline).
-- @param n items done
-- @param total items in all (nil: unknown)
-- @param elapsed seconds since the start
-- @param opts {desc=, unit="it", rate= (items/s, default n/elapsed), postfix= string, width=10}
function M.format_meter(n, total, elapsed, opts)
  opts = opts or {}
  local unit = opts.unit or "it"
  local rate = opts.rate
  if rate == nil and elapsed > 0 then rate = n / elapsed end
  local post = opts.postfix and opts.postfix ~= "" and (", " .. opts.postfix) or ""
  local desc = opts.desc and opts.desc ~= "" and (opts.desc .. ": ") or ""
  if total and total > 0 then
    local frac = math.min(n / total, 1)
    local width = opts.width or 10
    local cells = frac * width
    local full = math.floor(cells)
    local part = math.floor((cells - full) * 8)
    local bar = FULL:rep(full)
    local used = full
    if full < width then
      if part > 0 then bar = bar .. BLOCKS[part] else bar = bar .. " " end
      used = used + 1
    end
    bar = bar .. (" "):rep(width - used)
    local remaining = (rate and rate > 0) and (total - n) / rate or nil
    return ("%s%3.0f%%|%s| %d/%d [%s<%s, %s%s]"):format(desc, frac * 100, bar, n, total,
      M.format_interval(elapsed), remaining and M.format_interval(remaining) or "?",
      format_rate(rate, unit), post)
  end
  return ("%s%d%s [%s, %s%s]"):format(desc, n, unit, M.format_interval(elapsed),
    format_rate(rate, unit), post)
end

-- Is the stream a terminal? Checked once per process for stderr.
local stderr_tty
local function is_tty(file)
  if file ~= io.stderr then return false end
  if stderr_tty == nil then
    local L = lt()
    local f = L.isatty or (L._C and L._C.isatty)
    if type(f) == "function" then
      local ok, r = pcall(f, 2)
      if ok then stderr_tty = r and true or false end
    end
    if stderr_tty == nil then
      local term = os.getenv("TERM")
      if term == nil or term == "" or term == "dumb" then stderr_tty = false
      else stderr_tty = os.execute("test -t 2") == true end
    end
  end
  return stderr_tty
end

local function clock()
  local L = lt()
  return L.time and L.time() or os.clock()
end

--- Creates a bar.
-- @param src a DataLoader (anything with :iter() and #), a number of
--   steps, an array, an iterator function, or nil (manual bar:update)
-- @param opts {desc=, unit="it", total=, file=io.stderr, mininterval=0.1,
--   tty= (force terminal/plain mode), width=10, plain_interval=10 (seconds
--   between plain lines; also a line at every 10%), leave=true, disable=false,
--   smoothing=0.3}
function Progress:init(src, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("progress: options must be a table", 3) end
  self.desc = opts.desc
  self.unit = opts.unit or "it"
  self.file = opts.file or io.stderr
  self.mininterval = opts.mininterval or 0.1
  self.width = opts.width or 10
  self.smoothing = opts.smoothing or 0.3
  self.plain_interval = opts.plain_interval or 10
  self.leave = opts.leave ~= false
  self.disable = opts.disable and true or false
  local total = opts.total
  local ts = type(src)
  if ts == "number" then
    if src < 0 or src ~= math.floor(src) then
      error("progress: a step count must be a non-negative integer, got " .. tostring(src), 3)
    end
    total = total or src
    local i, n = 0, src
    self._next = function() if i < n then i = i + 1 return i end end
  elseif ts == "function" then
    self._next = src
  elseif (ts == "table" or ts == "userdata") and type(src.iter) == "function" then
    local mt = getmetatable(src)
    if total == nil and mt and mt.__len then total = #src end
    self._src = src
  elseif ts == "table" then
    total = total or #src
    local i = 0
    self._next = function()
      i = i + 1
      if src[i] ~= nil then return i, src[i] end
    end
  elseif src ~= nil then
    error("progress: cannot iterate a " .. ts, 3)
  end
  self.total = total
  if opts.tty ~= nil then self.tty = opts.tty and true or false else self.tty = is_tty(self.file) end
  self.n = 0
  self.postfix = {}
  self._keys = {}
  self.start = clock()
  self._last_t = self.start
  self._last_n = 0
  self._ema_dn, self._ema_dt, self._ema_calls = 0, 0, 0
  self._last_len = 0
  self._last_plain_t = self.start
  self._last_plain_pct = -1
  self.closed = false
  local L = lt()
  self._interrupted = type(L.interrupted) == "function" and L.interrupted or nil
  if not self.disable and self.tty then self:refresh() end
end

--- Current text of the bar.
function Progress:text(now)
  now = now or clock()
  local post = {}
  for _, k in ipairs(self._keys) do
    post[#post + 1] = k .. "=" .. format_num(self.postfix[k])
  end
  local rate
  if self._ema_calls > 0 and self._ema_dt > 0 then rate = self._ema_dn / self._ema_dt end
  return M.format_meter(self.n, self.total, now - self.start, {desc = self.desc, unit = self.unit,
    rate = rate, postfix = table.concat(post, ", "), width = self.width})
end

-- EMA of dn and dt as tqdm (smoothing 0.3); tqdm's bias correction divides
-- both by the same factor, so the rate is just their ratio.
local function smooth(self, now)
  local dn, dt = self.n - self._last_n, now - self._last_t
  if dn > 0 and dt > 0 then
    local a = self.smoothing
    self._ema_dn = a * dn + (1 - a) * self._ema_dn
    self._ema_dt = a * dt + (1 - a) * self._ema_dt
    self._ema_calls = self._ema_calls + 1
    self._last_n, self._last_t = self.n, now
  end
end

--- Redraws now (terminal) or writes a line (plain).
function Progress:refresh(now)
  if self.disable then return end
  now = now or clock()
  local s = self:text(now)
  if self.tty then
    local pad = self._last_len > #s and (" "):rep(self._last_len - #s) or ""
    self.file:write("\r", s, pad)
    self._last_len = #s
  else
    self.file:write(s, "\n")
  end
  self.file:flush()
end

-- Called when `mininterval` has passed since the last redraw.
local function maybe_draw(self, now)
  smooth(self, now)
  if self.disable then return end
  if self.tty then
    self:refresh(now)
  else
    local pct = self.total and self.total > 0 and math.floor(self.n * 10 / self.total) or -1
    if now - self._last_plain_t >= self.plain_interval or (pct > self._last_plain_pct and pct < 10) then
      self._last_plain_t = now
      self._last_plain_pct = pct
      self:refresh(now)
    end
  end
end

--- Advances by n (default 1).
function Progress:update(n)
  self.n = self.n + (n or 1)
  local now = clock()
  if now - self._last_t >= self.mininterval then maybe_draw(self, now) end
end

--- Sets postfix values shown after the rate (`bar:set{loss = 0.41}`);
-- keys keep the order in which they first appear.
function Progress:set(t)
  if type(t) ~= "table" then error("progress:set: expected a table", 2) end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if self.postfix[k] == nil then self._keys[#self._keys + 1] = k end
    self.postfix[k] = t[k]
  end
end
Progress.set_postfix = Progress.set

--- Sets the description.
function Progress:set_description(desc) self.desc = desc end

--- Final draw and newline; idempotent.
function Progress:close()
  if self.closed then return end
  self.closed = true
  if self.disable then return end
  local now = clock()
  smooth(self, now)
  if self.tty then
    if self.leave then
      self:refresh(now)
      self.file:write("\n")
    else
      self.file:write("\r", (" "):rep(self._last_len), "\r")
    end
  else
    self:refresh(now)
  end
  self.file:flush()
end
Progress.__close = Progress.close

local function on_interrupt(self)
  self:close()
  local guard = require("luatrain.utils.training_guard").active()
  if guard then guard:check(nil, true) end
  error("interrupted (Ctrl-C)", 0)
end

local function after(self, first, ...)
  if first == nil then
    self:close()
    return nil
  end
  self.n = self.n + 1
  local now = clock()
  if now - self._last_t >= self.mininterval then maybe_draw(self, now) end
  return first, ...
end

--- Generic-for support: `for xb, yb in lt.progress(loader) do`.
function Progress:__call()
  local f = self._next
  if f == nil then
    if self._src == nil then error("progress: this bar has nothing to iterate (use :update)", 2) end
    f = self._src:iter()
    self._next = f
  end
  if self._interrupted and self._interrupted() then on_interrupt(self) end
  return after(self, f())
end

M.__call = function(_, src, opts)
  local bar = Progress(src, opts)
  return bar, nil, nil, bar      -- the 4th value closes the bar on `break`
end

return setmetatable(M, M)
