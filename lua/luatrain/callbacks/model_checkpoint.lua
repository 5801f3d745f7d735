--- luatrain.callbacks.ModelCheckpoint - saves checkpoints through
-- lt.save_checkpoint after each epoch: the top-k by a monitored metric
-- (older, worse files are deleted) and last.safetensors. File names come
-- from a template such as "epoch{epoch}-{val_loss:.4f}" (printf specs after
-- the colon). It does not save mid-epoch (use lt.utils.training_guard).
local class = require "luatrain.class"

local function lt() return require "luatrain" end

local ModelCheckpoint = class.extend("ModelCheckpoint")

--- @param opts {dir = "checkpoints", monitor = "val_loss" (false: keep the
--   latest k), mode = "min"|"max", save_top_k = 1 (0 none, -1 all),
--   save_last = true, filename = "epoch{epoch}-{val_loss:.4f}",
--   save_fn = lt.save_checkpoint (tests may pass their own)}
function ModelCheckpoint:init(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("ModelCheckpoint: options must be a table", 3) end
  self.dir = opts.dir or "checkpoints"
  if type(self.dir) == "table" and self.dir.path then self.dir = self.dir.path end
  if opts.monitor == false then self.monitor = false else self.monitor = opts.monitor or "val_loss" end
  self.mode = opts.mode or "min"
  if self.mode ~= "min" and self.mode ~= "max" then
    error("ModelCheckpoint: mode must be \"min\" or \"max\", got " .. tostring(self.mode), 3)
  end
  self.save_top_k = opts.save_top_k == nil and 1 or opts.save_top_k
  if math.type(self.save_top_k) ~= "integer" or self.save_top_k < -1 then
    error("ModelCheckpoint: save_top_k must be an integer >= -1", 3)
  end
  self.save_last = opts.save_last ~= false
  self.filename = opts.filename
    or (self.monitor and ("epoch{epoch}-{" .. self.monitor .. ":.4f}") or "epoch{epoch}")
  self.save_fn = opts.save_fn
  self.best_k = {}             -- {path=, score=} sorted best first
  self.best_model_path, self.best_model_score = nil, nil
  self.last_model_path = nil
  self._count = 0
  self._made_dir = false
end

--- Fills "{key}" / "{key:fmt}" from `vals`.
function ModelCheckpoint.format_name(template, vals)
  return (template:gsub("{([%w_%.]+):?([^}]*)}", function(key, spec)
    local v = vals[key]
    if type(v) == "userdata" and v.item then v = v:item() end
    if v == nil then return "{" .. key .. "}" end
    if spec ~= "" then return ("%" .. spec):format(v) end
    if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 1e15 then
      return ("%d"):format(v)
    end
    if math.type(v) == "float" then return ("%.6g"):format(v) end
    return tostring(v)
  end))
end

local function better(mode, a, b)
  if mode == "min" then return a < b end
  return a > b
end

function ModelCheckpoint:_save(path, state)
  if not self._made_dir then
    os.execute("mkdir -p '" .. self.dir:gsub("'", "'\\''") .. "'")
    self._made_dir = true
  end
  local L = lt()
  local save = self.save_fn or L.save_checkpoint or (L.checkpoint and L.checkpoint.save_checkpoint)
  if type(save) ~= "function" then error("ModelCheckpoint: lt.save_checkpoint is not available", 3) end
  save(path, state)
end

--- Called after an epoch: saves what the policy asks for.
-- @param metrics table of numbers (must hold `monitor` unless monitor=false)
-- @param state the table passed to lt.save_checkpoint ({model=, optimizer=,
--   epoch=, step=, ...}); epoch/step are also used in the file name
-- @return false (never asks to stop)
function ModelCheckpoint:step(metrics, state)
  metrics = metrics or {}
  state = state or {}
  self._count = self._count + 1
  local vals = {}
  for k, v in pairs(state) do if type(v) == "number" then vals[k] = v end end
  for k, v in pairs(metrics) do vals[k] = v end
  if vals.epoch == nil then vals.epoch = self._count end
  local score
  if self.monitor then
    score = metrics[self.monitor]
    if type(score) == "userdata" and score.item then score = score:item() end
    if type(score) ~= "number" then
      local keys = {}
      for k in pairs(metrics) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      error(("ModelCheckpoint: metric %q not found (have: %s)")
            :format(self.monitor, table.concat(keys, ", ")), 2)
    end
  else
    score = self._count
  end
  local mode = self.monitor and self.mode or "max"
  local k = self.save_top_k
  if k ~= 0 and score == score then
    local worst = self.best_k[#self.best_k]
    if k == -1 or #self.best_k < k or better(mode, score, worst.score) then
      local path = self.dir .. "/" .. ModelCheckpoint.format_name(self.filename, vals) .. ".safetensors"
      self:_save(path, state)
      for i = #self.best_k, 1, -1 do           -- same name saved again: replace it
        if self.best_k[i].path == path then table.remove(self.best_k, i) end
      end
      local pos = #self.best_k + 1
      for i, e in ipairs(self.best_k) do
        if better(mode, score, e.score) then pos = i break end
      end
      table.insert(self.best_k, pos, {path = path, score = score})
      while k ~= -1 and #self.best_k > k do
        local drop = table.remove(self.best_k)
        if drop.path ~= path then os.remove(drop.path) end
      end
      self.best_model_path = self.best_k[1].path
      self.best_model_score = self.best_k[1].score
    end
  end
  if self.save_last then
    local path = self.dir .. "/last.safetensors"
    self:_save(path, state)
    self.last_model_path = path
  end
  return false
end

--- Paths and scores of the kept checkpoints, best first.
function ModelCheckpoint:best_k_models()
  local out = {}
  for i, e in ipairs(self.best_k) do out[i] = {path = e.path, score = e.score} end
  return out
end

return ModelCheckpoint
