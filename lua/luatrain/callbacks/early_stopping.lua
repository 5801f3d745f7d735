--- luatrain.callbacks.EarlyStopping - stops training when a monitored
-- metric has not improved by more than min_delta for `patience` steps
-- (epochs), or at once when it becomes NaN/inf (check_finite). It does not
-- restore the best weights: pair it with ModelCheckpoint.
local class = require "luatrain.class"

local EarlyStopping = class.extend("EarlyStopping")

--- @param opts {monitor = "val_loss", mode = "min"|"max", patience = 3,
--   min_delta = 0, check_finite = true, verbose = false}
function EarlyStopping:init(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("EarlyStopping: options must be a table", 3) end
  self.monitor = opts.monitor or "val_loss"
  self.mode = opts.mode or "min"
  if self.mode ~= "min" and self.mode ~= "max" then
    error("EarlyStopping: mode must be \"min\" or \"max\", got " .. tostring(self.mode), 3)
  end
  self.patience = opts.patience or 3
  if math.type(self.patience) ~= "integer" or self.patience < 0 then
    error("EarlyStopping: patience must be a non-negative integer", 3)
  end
  self.min_delta = math.abs(opts.min_delta or 0)
  self.check_finite = opts.check_finite ~= false
  self.verbose = opts.verbose and true or false
  self.best = nil
  self.wait = 0
  self.stopped = false
  self.steps = 0
  self.stopped_step = nil
end

--- Feeds one value; returns true when training should stop.
-- @param metrics table holding the monitored key (a number or 1-element tensor)
function EarlyStopping:step(metrics)
  if type(metrics) ~= "table" then error("EarlyStopping:step: metrics must be a table", 2) end
  local v = metrics[self.monitor]
  if type(v) == "userdata" and v.item then v = v:item() end
  if type(v) ~= "number" then
    local keys = {}
    for k in pairs(metrics) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    error(("EarlyStopping: metric %q not found (have: %s)"):format(self.monitor, table.concat(keys, ", ")), 2)
  end
  self.steps = self.steps + 1
  local stop = false
  if self.check_finite and (v ~= v or v == math.huge or v == -math.huge) then
    stop = true
    self.reason = ("%s is %s"):format(self.monitor, tostring(v))
  else
    local improved
    if self.best == nil then improved = true
    elseif self.mode == "min" then improved = v < self.best - self.min_delta
    else improved = v > self.best + self.min_delta end
    if improved then
      self.best, self.wait = v, 0
    else
      self.wait = self.wait + 1
      if self.wait >= self.patience then
        stop = true
        self.reason = ("%s did not improve for %d steps (best %.6g)")
                      :format(self.monitor, self.wait, self.best)
      end
    end
  end
  if stop then
    self.stopped, self.stopped_step = true, self.steps
    if self.verbose then io.stderr:write("EarlyStopping: ", self.reason, "\n") end
  end
  return stop
end

function EarlyStopping:state_dict()
  return {best = self.best, wait = self.wait, steps = self.steps}
end

function EarlyStopping:load_state_dict(sd)
  self.best, self.wait, self.steps = sd.best, sd.wait or 0, sd.steps or 0
end

return EarlyStopping
