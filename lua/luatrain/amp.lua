--- Mixed precision: `lt.autocast` (a to-be-closed guard, or a function form
-- that runs fn under it and restores the previous state on error too) and
-- `GradScaler` (PyTorch's torch.amp.GradScaler: dynamic loss scaling that
-- skips optimizer steps whose gradients hold inf/NaN). The casts themselves
-- happen in the engine's op front-ends (engine/autocast.c): matmul, linear,
-- conv2d and attention run in the autocast dtype; reductions, norms,
-- softmax and losses in float32. One autocast state serves every device;
-- scales are Lua numbers rounded to float32, not device tensors.
-- @module luatrain.amp
local lt = require("luatrain")
local class = require("luatrain.class")

local C = lt._C
local M = {}

-- ---------------------------------------------------------------- autocast

local DTYPES = {bfloat16 = "bfloat16", bf16 = "bfloat16", float16 = "float16", half = "float16"}
local DEVICE_DEFAULT = {cuda = "float16", cpu = "bfloat16"}  -- PyTorch's defaults
local OPT_KEYS = {dtype = true, enabled = true, device_type = true, cache_enabled = true}

local Guard = {__name = "luatrain.autocast"}
Guard.__index = Guard

--- Restores the autocast state the guard replaced (idempotent).
function Guard:close()
  if not self.closed then
    self.closed = true
    C.set_autocast(self.prev)
  end
end
Guard.__close = Guard.close
Guard.__tostring = function(self)
  return ("autocast(%s)%s"):format(self.dtype or "disabled", self.closed and " (closed)" or "")
end

local function parse_autocast(a, level)
  local dtype, enabled, device = nil, true, nil
  if type(a) == "table" then
    for k in pairs(a) do
      if not OPT_KEYS[k] then error(("autocast: unknown option '%s'"):format(tostring(k)), level) end
    end
    dtype, device = a.dtype, a.device_type
    if a.enabled ~= nil then
      if type(a.enabled) ~= "boolean" then
        error("autocast: option 'enabled' must be a boolean", level)
      end
      enabled = a.enabled
    end
  elseif type(a) == "string" then
    if DEVICE_DEFAULT[a] then device = a else dtype = a end
  elseif a ~= nil then
    error(("autocast: bad argument #1 (dtype string or options table expected, got %s)")
          :format(type(a)), level)
  end
  if device ~= nil and not DEVICE_DEFAULT[device] then
    error(("autocast: device_type must be 'cuda' or 'cpu', got '%s'"):format(tostring(device)),
          level)
  end
  if dtype == nil then dtype = DEVICE_DEFAULT[device or "cpu"] end
  local name = type(dtype) == "string" and DTYPES[dtype]
  if not name then
    error(("autocast: dtype must be 'bfloat16' or 'float16', got %s")
          :format(type(dtype) == "string" and "'" .. dtype .. "'" or type(dtype)), level)
  end
  return enabled and name or nil
end

local function run(guard, fn, ...)
  local _ <close> = guard
  return fn(...)
end

--- Mixed precision region. `local _ <close> = lt.autocast("bfloat16")`
-- turns autocast on until the variable goes out of scope;
-- `lt.autocast("bfloat16", fn, ...)` runs fn(...) under it and returns its
-- results. The argument is a dtype ("bfloat16", "float16"), a device type
-- ("cuda" -> float16, "cpu" -> bfloat16) or a table {dtype=, enabled=,
-- device_type=}; `enabled = false` turns autocast off inside the region.
-- @param opts string or table (default bfloat16)
-- @param fn optional function to run under autocast
-- @return the guard (no fn) or fn's results
function M.autocast(opts, fn, ...)
  local dtype = parse_autocast(opts, 3)
  if fn ~= nil and type(fn) ~= "function" then
    error(("autocast: bad argument #2 (function expected, got %s)"):format(type(fn)), 2)
  end
  local guard = setmetatable({dtype = dtype}, Guard)
  guard.prev = C.set_autocast(dtype)
  if fn == nil then return guard end
  return run(guard, fn, ...)
end

--- True while autocast is on.
function M.is_autocast_enabled() return C.autocast_dtype() ~= nil end

--- The autocast dtype name, or nil when autocast is off.
function M.get_autocast_dtype() return C.autocast_dtype() end

-- ---------------------------------------------------------------- GradScaler

local FLT_MAX = 3.4028234663852886e38

-- x rounded to float32 (the precision PyTorch keeps its scale in)
local function f32(x)
  if x ~= x or x > FLT_MAX or x < -FLT_MAX then return x end
  return (string.unpack("<f", string.pack("<f", x)))
end

local READY, UNSCALED, STEPPED = "ready", "unscaled", "stepped"
local SCALER_KEYS = {init_scale = true, growth_factor = true, backoff_factor = true,
                     growth_interval = true, enabled = true, device = true}

local GradScaler = class.extend("GradScaler")
M.GradScaler = GradScaler

--- GradScaler{init_scale = 65536, growth_factor = 2, backoff_factor = 0.5,
-- growth_interval = 2000, enabled = true}: scale(loss) before backward,
-- step(optimizer) (unscales, skips the step when a gradient is inf/NaN),
-- update() once per iteration (backs off on inf/NaN, grows after
-- growth_interval clean steps).
function GradScaler:init(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error(("GradScaler: bad argument #1 (options table expected, got %s)"):format(type(opts)), 3)
  end
  for k in pairs(opts) do
    if not SCALER_KEYS[k] then error(("GradScaler: unknown option '%s'"):format(tostring(k)), 3) end
  end
  local function num(k, def)
    local v = opts[k]
    if v == nil then return def end
    if type(v) ~= "number" then error(("GradScaler: option '%s' must be a number"):format(k), 4) end
    return v
  end
  self._enabled = opts.enabled ~= false
  self._init_scale = num("init_scale", 2.0 ^ 16)
  self._growth_factor = num("growth_factor", 2.0)
  self._backoff_factor = num("backoff_factor", 0.5)
  self._growth_interval = num("growth_interval", 2000)
  if self._growth_factor <= 1 then error("GradScaler: the growth factor must be > 1.0", 3) end
  if self._backoff_factor >= 1 or self._backoff_factor <= 0 then
    error("GradScaler: the backoff factor must be in (0, 1)", 3)
  end
  if math.type(self._growth_interval) ~= "integer" or self._growth_interval <= 0 then
    error("GradScaler: growth_interval must be a positive integer", 3)
  end
  self._scale = nil         -- set by the first scale()
  self._growth_tracker = 0
  self._per_opt = setmetatable({}, {__mode = "k"})
end

function GradScaler:_check_scale(fname, level)
  if self._scale == nil then
    error(("GradScaler:%s: attempted %s but the scale is not set; this may indicate your script "
           .. "did not use scaler:scale(loss) earlier in the iteration"):format(fname, fname),
          level + 1)
  end
end

function GradScaler:_state(optimizer)
  local st = self._per_opt[optimizer]
  if st == nil then
    st = {stage = READY}
    self._per_opt[optimizer] = st
  end
  return st
end

local function scale_outputs(x, s, level)
  if lt.is_tensor(x) then return x * s end
  if type(x) == "table" then
    local r = {}
    for k, v in pairs(x) do r[k] = scale_outputs(v, s, level + 1) end
    return r
  end
  error(("GradScaler:scale: outputs must be a tensor or a table of tensors, got %s"):format(type(x)),
        level)
end

--- Multiplies the loss (a tensor, or a table of tensors) by the scale.
-- Returns outputs unchanged when the scaler is disabled.
function GradScaler:scale(outputs)
  if not self._enabled then return outputs end
  if self._scale == nil then self._scale = f32(self._init_scale) end
  return scale_outputs(outputs, self._scale, 3)
end

--- Divides the optimizer's gradients by the scale in place and records
-- whether any of them is inf/NaN (one fused total-norm check). Call it
-- before clipping gradients; step() then does not unscale again.
function GradScaler:unscale_(optimizer)
  if not self._enabled then return end
  self:_check_scale("unscale_", 2)
  local st = self:_state(optimizer)
  if st.stage == UNSCALED then
    error("GradScaler:unscale_: unscale_() has already been called on this optimizer since the "
          .. "last update()", 2)
  elseif st.stage == STEPPED then
    error("GradScaler:unscale_: unscale_() is being called after step()", 2)
  end
  local grads = {}
  for _, g in ipairs(optimizer.param_groups) do
    for _, p in ipairs(g.params) do
      local gr = p.grad
      if gr ~= nil then grads[#grads + 1] = gr end
    end
  end
  -- sum |g| is inf or NaN exactly when some element is (NaN survives a sum, unlike a max)
  local total = #grads > 0 and C.total_norm(grads, 1) or 0
  st.found_inf = total ~= total or total == math.huge
  st.has_grads = #grads > 0
  C.scale_(grads, f32(1.0 / self._scale))
  st.stage = UNSCALED
end

--- Unscales (unless unscale_ already ran) and runs optimizer:step(...) when
-- no gradient is inf/NaN; returns what optimizer:step returned, or nil when
-- the step was skipped.
function GradScaler:step(optimizer, ...)
  if not self._enabled then return optimizer:step(...) end
  if select("#", ...) > 0 and type((...)) == "function" then
    error("GradScaler:step: closure use is not supported when the GradScaler is enabled", 2)
  end
  self:_check_scale("step", 2)
  local st = self:_state(optimizer)
  if st.stage == STEPPED then
    error("GradScaler:step: step() has already been called since the last update()", 2)
  end
  if st.stage == READY then self:unscale_(optimizer) end
  if not st.has_grads then
    error("GradScaler:step: no inf checks were recorded for this optimizer (no parameter has a "
          .. "gradient)", 2)
  end
  local ret
  if not st.found_inf then ret = optimizer:step(...) end
  st.stage = STEPPED
  return ret
end

--- Updates the scale after the iteration's steps: times backoff_factor when
-- a step saw inf/NaN (and the growth count restarts), times growth_factor
-- after growth_interval clean iterations in a row. `new_scale` (a number or
-- a one-element tensor) sets it directly instead.
function GradScaler:update(new_scale)
  if not self._enabled then return end
  self:_check_scale("update", 2)
  if new_scale ~= nil then
    if lt.is_tensor(new_scale) then new_scale = new_scale:item() end
    if type(new_scale) ~= "number" then
      error("GradScaler:update: new_scale must be a number or a one-element tensor", 2)
    end
    self._scale = f32(new_scale)
  else
    local recorded, found = false, false
    for _, st in pairs(self._per_opt) do
      if st.found_inf ~= nil then
        recorded = true
        found = found or st.found_inf
      end
    end
    if not recorded then error("GradScaler:update: no inf checks were recorded prior to update()", 2) end
    if found then
      self._scale = f32(self._scale * self._backoff_factor)
      self._growth_tracker = 0
    else
      local n = self._growth_tracker + 1
      if n == self._growth_interval then
        local grown = f32(self._scale * self._growth_factor)
        if grown <= FLT_MAX then self._scale = grown end  -- stays put rather than overflow
        n = 0
      end
      self._growth_tracker = n
    end
  end
  self._per_opt = setmetatable({}, {__mode = "k"})
end

--- The current scale (a number); 1.0 when disabled.
function GradScaler:get_scale()
  if not self._enabled then return 1.0 end
  return self._scale or f32(self._init_scale)
end

function GradScaler:is_enabled() return self._enabled end
function GradScaler:get_growth_factor() return self._growth_factor end
function GradScaler:set_growth_factor(v) self._growth_factor = v end
function GradScaler:get_backoff_factor() return self._backoff_factor end
function GradScaler:set_backoff_factor(v) self._backoff_factor = v end
function GradScaler:get_growth_interval() return self._growth_interval end
function GradScaler:set_growth_interval(v) self._growth_interval = v end

--- {scale=, growth_factor=, backoff_factor=, growth_interval=,
-- _growth_tracker=} as in PyTorch; an empty table when disabled.
function GradScaler:state_dict()
  if not self._enabled then return {} end
  return {scale = self:get_scale(), growth_factor = self._growth_factor,
          backoff_factor = self._backoff_factor, growth_interval = self._growth_interval,
          _growth_tracker = self._growth_tracker}
end

function GradScaler:load_state_dict(sd)
  if not self._enabled then return end
  if type(sd) ~= "table" or next(sd) == nil then
    error("GradScaler:load_state_dict: the source state dict is empty, possibly because it was "
          .. "saved from a disabled instance of GradScaler", 2)
  end
  for _, k in ipairs{"scale", "growth_factor", "backoff_factor", "growth_interval",
                     "_growth_tracker"} do
    if type(sd[k]) ~= "number" then
      error(("GradScaler:load_state_dict: missing or non-numeric '%s'"):format(k), 2)
    end
  end
  self._init_scale = sd.scale
  if self._scale ~= nil then self._scale = f32(sd.scale) end
  self._growth_factor = sd.growth_factor
  self._backoff_factor = sd.backoff_factor
  self._growth_interval = math.tointeger(sd.growth_interval) or sd.growth_interval
  self._growth_tracker = math.tointeger(sd._growth_tracker) or sd._growth_tracker
end

GradScaler.__tostring = function(self)
  return ("GradScaler(scale=%g, enabled=%s)"):format(self:get_scale(), tostring(self._enabled))
end

return M
