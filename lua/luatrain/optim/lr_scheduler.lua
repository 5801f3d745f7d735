--- Learning-rate schedulers (torch.optim.lr_scheduler): LRScheduler base,
-- LambdaLR, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR,
-- OneCycleLR, SequentialLR, ReduceLROnPlateau, ConstantLR, PolynomialLR,
-- CosineAnnealingWarmRestarts, CyclicLR and ChainedScheduler. Each follows
-- PyTorch's chainable (recursive) formulas so trajectories match step for
-- step; constructing one sets `initial_lr` on the groups and takes the
-- initial step, as in PyTorch. No SWA schedulers, no custom scale_fn state.
-- @module luatrain.optim.lr_scheduler
local class = require("luatrain.class")

local M = {}

local function check_optimizer(opt, name, level)
  if type(opt) ~= "table" or type(opt.param_groups) ~= "table" then
    error(("%s: bad argument #1 'optimizer' (Optimizer expected, got %s)")
          :format(name, class.name_of(opt)), level or 4)
  end
end

local function bisect_right(list, x)
  local lo, hi = 1, #list + 1
  while lo < hi do
    local mid = (lo + hi) // 2
    if x < list[mid] then hi = mid else lo = mid + 1 end
  end
  return lo - 1   -- count of elements <= x
end

-- -------------------------------------------------------------- base

local LRScheduler = class.extend("LRScheduler")
M.LRScheduler = LRScheduler

--- Base constructor: sets initial_lr (if absent) and takes the initial step.
-- @param optimizer an Optimizer
-- @param last_epoch number (default -1: a fresh start)
function LRScheduler:init(optimizer, last_epoch)
  local name = class.name_of(self)
  check_optimizer(optimizer, name, 5)
  self.optimizer = optimizer
  last_epoch = last_epoch or -1
  if last_epoch == -1 then
    for _, g in ipairs(optimizer.param_groups) do
      if g.initial_lr == nil then g.initial_lr = g.lr end
    end
  else
    for i, g in ipairs(optimizer.param_groups) do
      if g.initial_lr == nil then
        error(("%s: param 'initial_lr' is not specified in param_groups[%d] when resuming")
              :format(name, i), 5)
      end
    end
  end
  self.base_lrs = {}
  for i, g in ipairs(optimizer.param_groups) do self.base_lrs[i] = g.initial_lr end
  self.last_epoch = last_epoch
  self:_initial_step()
end

function LRScheduler:_initial_step()
  self._step_count = 0
  self._is_initial = true
  self:step()
  self._is_initial = false
end

--- The learning rates computed by the last step, one per group.
function LRScheduler:get_last_lr()
  local out = {}
  for i, v in ipairs(self._last_lr or {}) do out[i] = v end
  return out
end

--- Chainable form of the schedule (subclasses).
function LRScheduler:get_lr()
  error(("%s does not implement get_lr"):format(class.name_of(self)), 2)
end

local function group_lrs(self)
  local out = {}
  for i, g in ipairs(self.optimizer.param_groups) do out[i] = g.lr end
  return out
end
M._group_lrs = group_lrs

--- Advances the schedule by one (or to `epoch` with the closed form, when
-- the scheduler has one) and writes the new lr into each group.
function LRScheduler:step(epoch)
  self._step_count = self._step_count + 1
  local values
  if epoch == nil then
    self.last_epoch = self.last_epoch + 1
    values = self:get_lr()
  else
    self.last_epoch = epoch
    if self._get_closed_form_lr then values = self:_get_closed_form_lr() else values = self:get_lr() end
  end
  for i, g in ipairs(self.optimizer.param_groups) do g.lr = values[i] end
  self._last_lr = group_lrs(self)
end

local SKIP = {optimizer = true, lr_lambdas = true, _schedulers = true}

--- Plain-data state (everything but the optimizer and functions).
function LRScheduler:state_dict()
  local sd = {}
  for k, v in pairs(self) do
    if not SKIP[k] and type(v) ~= "function" then
      if type(v) == "table" then
        local c = {}
        for kk, vv in pairs(v) do c[kk] = vv end
        v = c
      end
      sd[k] = v
    end
  end
  return sd
end

--- Restores state from state_dict().
function LRScheduler:load_state_dict(sd)
  if type(sd) ~= "table" then
    error(("%s:load_state_dict: bad argument #1 'state_dict' (table expected, got %s)")
          :format(class.name_of(self), type(sd)), 2)
  end
  for k, v in pairs(sd) do
    if not SKIP[k] then
      if type(v) == "table" then
        local c = {}
        for kk, vv in pairs(v) do c[tonumber(kk) or kk] = vv end
        v = c
      end
      self[k] = v
    end
  end
end

-- -------------------------------------------------------------- schedules

--- LambdaLR(optimizer, lr_lambda (function or one per group)): lr = base_lr * f(epoch).
local LambdaLR = LRScheduler:extend("LambdaLR")
M.LambdaLR = LambdaLR
function LambdaLR:init(optimizer, lr_lambda, last_epoch)
  check_optimizer(optimizer, "LambdaLR")
  local n = #optimizer.param_groups
  if type(lr_lambda) == "function" then
    self.lr_lambdas = {}
    for i = 1, n do self.lr_lambdas[i] = lr_lambda end
  elseif type(lr_lambda) == "table" and #lr_lambda == n then
    self.lr_lambdas = lr_lambda
  else
    error(("LambdaLR: bad argument #2 'lr_lambda' (function or %d functions expected)"):format(n), 3)
  end
  LRScheduler.init(self, optimizer, last_epoch)
end
function LambdaLR:get_lr()
  local out = {}
  for i, base in ipairs(self.base_lrs) do out[i] = base * self.lr_lambdas[i](self.last_epoch) end
  return out
end

local function check_pos_int(v, name, cls)
  if math.type(v) ~= "integer" or v <= 0 then
    error(("%s: bad argument '%s' (positive integer expected, got %s)"):format(cls, name, tostring(v)), 4)
  end
end

--- StepLR(optimizer, step_size, {gamma = 0.1, last_epoch = -1}).
local StepLR = LRScheduler:extend("StepLR")
M.StepLR = StepLR
function StepLR:init(optimizer, step_size, opts)
  check_pos_int(step_size, "step_size", "StepLR")
  if type(opts) == "number" then opts = {gamma = opts} end
  opts = opts or {}
  self.step_size, self.gamma = step_size, opts.gamma or 0.1
  LRScheduler.init(self, optimizer, opts.last_epoch)
end
function StepLR:get_lr()
  local lrs = group_lrs(self)
  if self.last_epoch == 0 or self.last_epoch % self.step_size ~= 0 then return lrs end
  for i = 1, #lrs do lrs[i] = lrs[i] * self.gamma end
  return lrs
end
function StepLR:_get_closed_form_lr()
  local out = {}
  for i, b in ipairs(self.base_lrs) do out[i] = b * self.gamma ^ (self.last_epoch // self.step_size) end
  return out
end

--- MultiStepLR(optimizer, milestones, {gamma = 0.1, last_epoch = -1}).
local MultiStepLR = LRScheduler:extend("MultiStepLR")
M.MultiStepLR = MultiStepLR
function MultiStepLR:init(optimizer, milestones, opts)
  if type(milestones) ~= "table" then
    error("MultiStepLR: bad argument #2 'milestones' (list of integers expected)", 3)
  end
  if type(opts) == "number" then opts = {gamma = opts} end
  opts = opts or {}
  local ms = {}
  for i, m in ipairs(milestones) do ms[i] = m end
  table.sort(ms)
  self.milestones, self.gamma = ms, opts.gamma or 0.1
  LRScheduler.init(self, optimizer, opts.last_epoch)
end
function MultiStepLR:get_lr()
  local lrs = group_lrs(self)
  local count = 0
  for _, m in ipairs(self.milestones) do if m == self.last_epoch then count = count + 1 end end
  if count == 0 then return lrs end
  for i = 1, #lrs do lrs[i] = lrs[i] * self.gamma ^ count end
  return lrs
end
function MultiStepLR:_get_closed_form_lr()
  local out = {}
  local k = bisect_right(self.milestones, self.last_epoch)
  for i, b in ipairs(self.base_lrs) do out[i] = b * self.gamma ^ k end
  return out
end

--- ExponentialLR(optimizer, gamma, {last_epoch = -1}).
local ExponentialLR = LRScheduler:extend("ExponentialLR")
M.ExponentialLR = ExponentialLR
function ExponentialLR:init(optimizer, gamma, opts)
  if type(gamma) ~= "number" then error("ExponentialLR: bad argument #2 'gamma' (number expected)", 3) end
  self.gamma = gamma
  LRScheduler.init(self, optimizer, (opts or {}).last_epoch)
end
function ExponentialLR:get_lr()
  local lrs = group_lrs(self)
  if self.last_epoch == 0 then return lrs end
  for i = 1, #lrs do lrs[i] = lrs[i] * self.gamma end
  return lrs
end
function ExponentialLR:_get_closed_form_lr()
  local out = {}
  for i, b in ipairs(self.base_lrs) do out[i] = b * self.gamma ^ self.last_epoch end
  return out
end

--- CosineAnnealingLR(optimizer, T_max, {eta_min = 0, last_epoch = -1}).
local CosineAnnealingLR = LRScheduler:extend("CosineAnnealingLR")
M.CosineAnnealingLR = CosineAnnealingLR
function CosineAnnealingLR:init(optimizer, T_max, opts)
  check_pos_int(T_max, "T_max", "CosineAnnealingLR")
  if type(opts) == "number" then opts = {eta_min = opts} end
  opts = opts or {}
  self.T_max, self.eta_min = T_max, opts.eta_min or 0.0
  LRScheduler.init(self, optimizer, opts.last_epoch)
end
function CosineAnnealingLR:get_lr()
  local lrs, e, T, eta = group_lrs(self), self.last_epoch, self.T_max, self.eta_min
  local pi, cos = math.pi, math.cos
  if e == 0 then return lrs end
  local out = {}
  if self._step_count == 1 and e > 0 then
    for i, b in ipairs(self.base_lrs) do out[i] = eta + (b - eta) * (1 + cos(e * pi / T)) / 2 end
  elseif (e - 1 - T) % (2 * T) == 0 then
    for i, b in ipairs(self.base_lrs) do out[i] = lrs[i] + (b - eta) * (1 - cos(pi / T)) / 2 end
  else
    for i = 1, #lrs do
      out[i] = (1 + cos(pi * e / T)) / (1 + cos(pi * (e - 1) / T)) * (lrs[i] - eta) + eta
    end
  end
  return out
end
function CosineAnnealingLR:_get_closed_form_lr()
  local out = {}
  for i, b in ipairs(self.base_lrs) do
    out[i] = self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
  end
  return out
end

--- LinearLR(optimizer, {start_factor = 1/3, end_factor = 1, total_iters = 5, last_epoch = -1}).
local LinearLR = LRScheduler:extend("LinearLR")
M.LinearLR = LinearLR
function LinearLR:init(optimizer, opts)
  opts = opts or {}
  local sf, ef = opts.start_factor or 1.0 / 3, opts.end_factor or 1.0
  if sf > 1 or sf <= 0 then
    error("LinearLR: bad option 'start_factor' (expected in (0, 1])", 3)
  end
  if ef > 1 or ef < 0 then
    error("LinearLR: bad option 'end_factor' (expected in [0, 1])", 3)
  end
  self.start_factor, self.end_factor, self.total_iters = sf, ef, opts.total_iters or 5
  LRScheduler.init(self, optimizer, opts.last_epoch)
end
function LinearLR:get_lr()
  local lrs, e = group_lrs(self), self.last_epoch
  local sf, ef, n = self.start_factor, self.end_factor, self.total_iters
  if e == 0 then
    for i = 1, #lrs do lrs[i] = lrs[i] * sf end
    return lrs
  end
  if e > n then return lrs end
  for i = 1, #lrs do
    lrs[i] = lrs[i] * (1.0 + (ef - sf) / (n * sf + (e - 1) * (ef - sf)))
  end
  return lrs
end
function LinearLR:_get_closed_form_lr()
  local out = {}
  local sf, ef, n = self.start_factor, self.end_factor, self.total_iters
  for i, b in ipairs(self.base_lrs) do
    out[i] = b * (sf + (ef - sf) * math.min(n, self.last_epoch) / n)
  end
  return out
end

--- OneCycleLR(optimizer, max_lr (number or one per group), {total_steps = or
-- epochs = and steps_per_epoch =, pct_start = 0.3, anneal_strategy = "cos",
-- cycle_momentum = true, base_momentum = 0.85, max_momentum = 0.95,
-- div_factor = 25, final_div_factor = 1e4, three_phase = false, last_epoch = -1}).
-- Cycles SGD's momentum or Adam's beta1.
local OneCycleLR = LRScheduler:extend("OneCycleLR")
M.OneCycleLR = OneCycleLR

local function per_group(v, n, name)
  if type(v) == "table" then
    if #v ~= n then error(("OneCycleLR: expected %d values for %s, got %d"):format(n, name, #v), 4) end
    return v
  end
  local out = {}
  for i = 1, n do out[i] = v end
  return out
end

function OneCycleLR:init(optimizer, max_lr, opts)
  check_optimizer(optimizer, "OneCycleLR")
  opts = opts or {}
  local total = opts.total_steps
  if total == nil then
    if opts.epochs == nil or opts.steps_per_epoch == nil then
      error("OneCycleLR: you must define either total_steps or (epochs and steps_per_epoch)", 3)
    end
    total = opts.epochs * opts.steps_per_epoch
  end
  if math.type(total) ~= "integer" or total <= 0 then
    error(("OneCycleLR: total_steps must be a positive integer, got %s"):format(tostring(total)), 3)
  end
  self.total_steps = total
  local pct = opts.pct_start or 0.3
  if pct < 0 or pct > 1 then error("OneCycleLR: pct_start must be in [0, 1]", 3) end
  local strategy = opts.anneal_strategy or "cos"
  if strategy ~= "cos" and strategy ~= "linear" then
    error(("OneCycleLR: anneal_strategy must be 'cos' or 'linear', got '%s'"):format(tostring(strategy)), 3)
  end
  self.anneal_strategy = strategy
  if opts.three_phase then
    self._schedule_phases = {
      {end_step = pct * total - 1, start_lr = "initial_lr", end_lr = "max_lr",
       start_momentum = "max_momentum", end_momentum = "base_momentum"},
      {end_step = 2 * pct * total - 2, start_lr = "max_lr", end_lr = "initial_lr",
       start_momentum = "base_momentum", end_momentum = "max_momentum"},
      {end_step = total - 1, start_lr = "initial_lr", end_lr = "min_lr",
       start_momentum = "max_momentum", end_momentum = "max_momentum"},
    }
  else
    self._schedule_phases = {
      {end_step = pct * total - 1, start_lr = "initial_lr", end_lr = "max_lr",
       start_momentum = "max_momentum", end_momentum = "base_momentum"},
      {end_step = total - 1, start_lr = "max_lr", end_lr = "min_lr",
       start_momentum = "base_momentum", end_momentum = "max_momentum"},
    }
  end
  local groups = optimizer.param_groups
  local n = #groups
  local last_epoch = opts.last_epoch or -1
  local div, final_div = opts.div_factor or 25.0, opts.final_div_factor or 1e4
  local max_lrs = per_group(max_lr, n, "max_lr")
  if last_epoch == -1 then
    for i, g in ipairs(groups) do
      g.initial_lr = max_lrs[i] / div
      g.max_lr = max_lrs[i]
      g.min_lr = g.initial_lr / final_div
    end
  end
  self.cycle_momentum = opts.cycle_momentum ~= false
  if self.cycle_momentum then
    local d = optimizer.defaults or {}
    if d.momentum == nil and d.betas == nil then
      error("OneCycleLR: optimizer must support momentum or beta1 with cycle_momentum enabled", 3)
    end
    self.use_beta1 = d.betas ~= nil
    local maxm = per_group(opts.max_momentum or 0.95, n, "max_momentum")
    local basem = per_group(opts.base_momentum or 0.85, n, "base_momentum")
    if last_epoch == -1 then
      for i, g in ipairs(groups) do
        if self.use_beta1 then g.betas = {maxm[i], g.betas[2]} else g.momentum = maxm[i] end
        g.max_momentum, g.base_momentum = maxm[i], basem[i]
      end
    end
  end
  LRScheduler.init(self, optimizer, last_epoch)
end

local function anneal(strategy, start, stop, pct)
  if strategy == "cos" then
    return stop + (start - stop) / 2.0 * (math.cos(math.pi * pct) + 1)
  end
  return (stop - start) * pct + start
end

function OneCycleLR:get_lr()
  local step = self.last_epoch
  if step > self.total_steps then
    error(("OneCycleLR: tried to step %d times; the total number of steps is %d")
          :format(step, self.total_steps), 3)
  end
  local lrs = {}
  local phases = self._schedule_phases
  for gi, g in ipairs(self.optimizer.param_groups) do
    local start_step = 0
    local lr, mom
    for i, ph in ipairs(phases) do
      local end_step = ph.end_step
      if step <= end_step or i == #phases then
        local pct = (step - start_step) / (end_step - start_step)
        lr = anneal(self.anneal_strategy, g[ph.start_lr], g[ph.end_lr], pct)
        if self.cycle_momentum then
          mom = anneal(self.anneal_strategy, g[ph.start_momentum], g[ph.end_momentum], pct)
        end
        break
      end
      start_step = ph.end_step
    end
    lrs[gi] = lr
    if self.cycle_momentum then
      if self.use_beta1 then g.betas = {mom, g.betas[2]} else g.momentum = mom end
    end
  end
  return lrs
end

--- SequentialLR(optimizer, schedulers, milestones): runs schedulers[i] until
-- milestones[i], then switches to the next (which restarts at epoch 0).
local SequentialLR = LRScheduler:extend("SequentialLR")
M.SequentialLR = SequentialLR
function SequentialLR:init(optimizer, schedulers, milestones, last_epoch)
  check_optimizer(optimizer, "SequentialLR")
  if type(schedulers) ~= "table" or #schedulers < 1 then
    error("SequentialLR: bad argument #2 'schedulers' (non-empty list expected)", 3)
  end
  for i, s in ipairs(schedulers) do
    if not class.isinstance(s, LRScheduler) then
      error(("SequentialLR: schedulers[%d] is not a scheduler"):format(i), 3)
    end
    if s.optimizer ~= optimizer then
      error(("SequentialLR: schedulers[%d] has a different optimizer"):format(i), 3)
    end
  end
  if type(milestones) ~= "table" or #milestones ~= #schedulers - 1 then
    error(("SequentialLR: expected %d milestones for %d schedulers"):format(#schedulers - 1, #schedulers), 3)
  end
  self._schedulers = schedulers
  self._milestones = {table.unpack(milestones)}
  self.last_epoch = (last_epoch or -1) + 1
  self.optimizer = optimizer
  for _, g in ipairs(optimizer.param_groups) do g.lr = g.initial_lr end
  for _, s in ipairs(schedulers) do s.last_epoch = s.last_epoch - 1 end
  schedulers[1]:_initial_step()
  self._last_lr = schedulers[1]:get_last_lr()
end
function SequentialLR:step()
  self.last_epoch = self.last_epoch + 1
  local idx = bisect_right(self._milestones, self.last_epoch)   -- 0-based scheduler index
  local s = self._schedulers[idx + 1]
  if idx > 0 and self._milestones[idx] == self.last_epoch then s:step(0) else s:step() end
  self._last_lr = s:get_last_lr()
end
function SequentialLR:state_dict()
  local sd = LRScheduler.state_dict(self)
  sd._schedulers = {}
  for i, s in ipairs(self._schedulers) do sd._schedulers[i] = s:state_dict() end
  return sd
end
function SequentialLR:load_state_dict(sd)
  LRScheduler.load_state_dict(self, sd)
  for i, s in ipairs(self._schedulers) do
    local ssd = sd._schedulers and (sd._schedulers[i] or sd._schedulers[tostring(i)])
    if ssd then s:load_state_dict(ssd) end
  end
end

--- ReduceLROnPlateau(optimizer, {mode = "min", factor = 0.1, patience = 10,
-- threshold = 1e-4, threshold_mode = "rel", cooldown = 0, min_lr = 0 (or one
-- per group), eps = 1e-8}); call step(metric) after each validation.
local ReduceLROnPlateau = class.extend("ReduceLROnPlateau")
M.ReduceLROnPlateau = ReduceLROnPlateau
function ReduceLROnPlateau:init(optimizer, opts)
  check_optimizer(optimizer, "ReduceLROnPlateau")
  opts = opts or {}
  self.factor = opts.factor or 0.1
  if self.factor >= 1.0 then error("ReduceLROnPlateau: factor should be < 1.0", 3) end
  self.optimizer = optimizer
  local n = #optimizer.param_groups
  self.min_lrs = per_group(opts.min_lr or 0, n, "min_lr")
  self.patience = opts.patience or 10
  self.cooldown = opts.cooldown or 0
  self.eps = opts.eps or 1e-8
  self.mode = opts.mode or "min"
  self.threshold = opts.threshold or 1e-4
  self.threshold_mode = opts.threshold_mode or "rel"
  if self.mode ~= "min" and self.mode ~= "max" then
    error(("ReduceLROnPlateau: mode '%s' is unknown ('min' or 'max')"):format(tostring(self.mode)), 3)
  end
  if self.threshold_mode ~= "rel" and self.threshold_mode ~= "abs" then
    error(("ReduceLROnPlateau: threshold_mode '%s' is unknown ('rel' or 'abs')")
          :format(tostring(self.threshold_mode)), 3)
  end
  self.best = self.mode == "min" and math.huge or -math.huge
  self.num_bad_epochs = 0
  self.cooldown_counter = 0
  self.last_epoch = 0
  self._last_lr = group_lrs(self)
end

function ReduceLROnPlateau:is_better(a, best)
  if self.mode == "min" and self.threshold_mode == "rel" then return a < best * (1 - self.threshold) end
  if self.mode == "min" then return a < best - self.threshold end
  if self.threshold_mode == "rel" then return a > best * (self.threshold + 1) end
  return a > best + self.threshold
end

--- Records a metric; reduces the lr after `patience` epochs without improvement.
-- @param metrics number (or a one-element tensor)
function ReduceLROnPlateau:step(metrics)
  local current = metrics
  if type(current) ~= "number" then
    local ok, v = pcall(function() return current:item() end)
    if not ok then
      error(("ReduceLROnPlateau:step: bad argument #1 'metrics' (number expected, got %s)")
            :format(type(metrics)), 2)
    end
    current = v
  end
  self.last_epoch = self.last_epoch + 1
  if self:is_better(current, self.best) then
    self.best = current
    self.num_bad_epochs = 0
  else
    self.num_bad_epochs = self.num_bad_epochs + 1
  end
  if self.cooldown_counter > 0 then
    self.cooldown_counter = self.cooldown_counter - 1
    self.num_bad_epochs = 0
  end
  if self.num_bad_epochs > self.patience then
    for i, g in ipairs(self.optimizer.param_groups) do
      local old = g.lr
      local new = math.max(old * self.factor, self.min_lrs[i])
      if old - new > self.eps then g.lr = new end
    end
    self.cooldown_counter = self.cooldown
    self.num_bad_epochs = 0
  end
  self._last_lr = group_lrs(self)
end

ReduceLROnPlateau.get_last_lr = LRScheduler.get_last_lr
ReduceLROnPlateau.state_dict = LRScheduler.state_dict
ReduceLROnPlateau.load_state_dict = LRScheduler.load_state_dict

-- -------------------------------------------------------------- more schedules

local function check_num(v, name, cls, level)
  if type(v) ~= "number" or v ~= v then
    error(("%s: bad argument '%s' (number expected, got %s)"):format(cls, name, tostring(v)), level or 4)
  end
end

-- a number or one per group -> list (PyTorch's _format_param)
local function format_param(cls, name, v, n)
  if type(v) == "table" then
    if #v ~= n then
      error(("%s: expected %d values for %s, got %d"):format(cls, n, name, #v), 4)
    end
    for i = 1, n do check_num(v[i], name, cls, 5) end
    return {table.unpack(v)}
  end
  check_num(v, name, cls, 5)
  local out = {}
  for i = 1, n do out[i] = v end
  return out
end

--- ConstantLR(optimizer, {factor = 1/3, total_iters = 5, last_epoch = -1}):
-- lr = base_lr * factor until total_iters, then base_lr.
local ConstantLR = LRScheduler:extend("ConstantLR")
M.ConstantLR = ConstantLR
function ConstantLR:init(optimizer, opts)
  opts = opts or {}
  local factor = opts.factor or 1.0 / 3
  check_num(factor, "factor", "ConstantLR")
  if factor > 1 or factor < 0 then
    error(("ConstantLR: bad option 'factor' (expected in [0, 1], got %s)"):format(tostring(factor)), 3)
  end
  local n = opts.total_iters or 5
  if math.type(n) ~= "integer" or n < 0 then
    error(("ConstantLR: bad option 'total_iters' (non-negative integer expected, got %s)")
          :format(tostring(n)), 3)
  end
  self.factor, self.total_iters = factor, n
  LRScheduler.init(self, optimizer, opts.last_epoch)
end
function ConstantLR:get_lr()
  local lrs = group_lrs(self)
  if self.last_epoch == 0 then
    for i = 1, #lrs do lrs[i] = lrs[i] * self.factor end
  elseif self.last_epoch == self.total_iters then
    for i = 1, #lrs do lrs[i] = lrs[i] * (1.0 / self.factor) end
  end
  return lrs
end
function ConstantLR:_get_closed_form_lr()
  local out = {}
  local done = self.last_epoch >= self.total_iters and 1 or 0
  for i, b in ipairs(self.base_lrs) do out[i] = b * (self.factor + done * (1 - self.factor)) end
  return out
end

--- PolynomialLR(optimizer, {total_iters = 5, power = 1.0, last_epoch = -1}):
-- lr = base_lr * (1 - min(epoch, total_iters) / total_iters) ^ power.
local PolynomialLR = LRScheduler:extend("PolynomialLR")
M.PolynomialLR = PolynomialLR
function PolynomialLR:init(optimizer, opts)
  opts = opts or {}
  local n, power = opts.total_iters or 5, opts.power or 1.0
  if math.type(n) ~= "integer" or n <= 0 then
    error(("PolynomialLR: bad option 'total_iters' (positive integer expected, got %s)")
          :format(tostring(n)), 3)
  end
  check_num(power, "power", "PolynomialLR")
  self.total_iters, self.power = n, power
  LRScheduler.init(self, optimizer, opts.last_epoch)
end
function PolynomialLR:get_lr()
  local lrs = group_lrs(self)
  if self._is_initial or self.last_epoch > self.total_iters then return lrs end
  local e, n = self.last_epoch, self.total_iters
  local f = ((1.0 - e / n) / (1.0 - (e - 1) / n)) ^ self.power
  for i = 1, #lrs do lrs[i] = lrs[i] * f end
  return lrs
end
function PolynomialLR:_get_closed_form_lr()
  local out = {}
  for i, b in ipairs(self.base_lrs) do
    out[i] = b * (1.0 - math.min(self.total_iters, self.last_epoch) / self.total_iters) ^ self.power
  end
  return out
end

--- CosineAnnealingWarmRestarts(optimizer, T_0, {T_mult = 1, eta_min = 0,
-- last_epoch = -1}): cosine from base_lr to eta_min over T_i epochs, then a
-- restart with T_i = T_i * T_mult. step(epoch) accepts fractional epochs
-- (e.g. epoch + i / iters_per_epoch), as in PyTorch.
local CosineAnnealingWarmRestarts = LRScheduler:extend("CosineAnnealingWarmRestarts")
M.CosineAnnealingWarmRestarts = CosineAnnealingWarmRestarts
function CosineAnnealingWarmRestarts:init(optimizer, T_0, opts)
  local cls = "CosineAnnealingWarmRestarts"
  check_pos_int(T_0, "T_0", cls)
  opts = opts or {}
  local T_mult, eta_min = opts.T_mult or 1, opts.eta_min or 0.0
  if math.type(T_mult) ~= "integer" or T_mult < 1 then
    error(("%s: bad option 'T_mult' (integer >= 1 expected, got %s)"):format(cls, tostring(T_mult)), 3)
  end
  check_num(eta_min, "eta_min", cls)
  self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
  self.T_cur = opts.last_epoch or -1
  LRScheduler.init(self, optimizer, opts.last_epoch)
end
function CosineAnnealingWarmRestarts:get_lr()
  local out = {}
  for i, b in ipairs(self.base_lrs) do
    out[i] = self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
  end
  return out
end
--- Advances one epoch, or jumps to `epoch` (a non-negative number, may be fractional).
function CosineAnnealingWarmRestarts:step(epoch)
  self._step_count = (self._step_count or 0) + 1
  if epoch == nil and self.last_epoch < 0 then epoch = 0 end
  if epoch == nil then
    epoch = self.last_epoch + 1
    self.T_cur = self.T_cur + 1
    if self.T_cur >= self.T_i then
      self.T_cur = self.T_cur % self.T_i
      self.T_i = self.T_i * self.T_mult
    end
  else
    if type(epoch) ~= "number" or epoch ~= epoch or epoch < 0 then
      error(("CosineAnnealingWarmRestarts:step: bad argument #1 'epoch' "
             .. "(non-negative number expected, got %s)")
            :format(tostring(epoch)), 2)
    end
    if epoch >= self.T_0 then
      if self.T_mult == 1 then
        self.T_cur = epoch % self.T_0
      else
        local m = self.T_mult
        local n = math.floor(math.log(epoch / self.T_0 * (m - 1) + 1) / math.log(m))
        self.T_cur = epoch - self.T_0 * (m ^ n - 1) / (m - 1)
        self.T_i = self.T_0 * (math.tointeger(m ^ n) or m ^ n)
      end
    else
      self.T_i = self.T_0
      self.T_cur = epoch
    end
  end
  self.last_epoch = math.floor(epoch)
  local values = self:get_lr()
  for i, g in ipairs(self.optimizer.param_groups) do g.lr = values[i] end
  self._last_lr = group_lrs(self)
end

--- CyclicLR(optimizer, base_lr, max_lr (numbers or one per group),
-- {step_size_up = 2000, step_size_down = step_size_up, mode = "triangular"
-- | "triangular2" | "exp_range", gamma = 1, scale_fn = nil, scale_mode =
-- "cycle" | "iterations", cycle_momentum = true, base_momentum = 0.8,
-- max_momentum = 0.9, last_epoch = -1}). Step it after every batch. With
-- cycle_momentum it cycles SGD's momentum or Adam's beta1 inversely.
local CyclicLR = LRScheduler:extend("CyclicLR")
M.CyclicLR = CyclicLR
local CYCLIC_MODES = {triangular = "cycle", triangular2 = "cycle", exp_range = "iterations"}
function CyclicLR:init(optimizer, base_lr, max_lr, opts)
  local cls = "CyclicLR"
  check_optimizer(optimizer, cls)
  opts = opts or {}
  if type(opts) ~= "table" then
    error(("CyclicLR: bad argument #4 'opts' (table expected, got %s)"):format(type(opts)), 3)
  end
  local groups = optimizer.param_groups
  local n = #groups
  local last_epoch = opts.last_epoch or -1
  local base_lrs = format_param(cls, "base_lr", base_lr, n)
  if last_epoch == -1 then
    for i, g in ipairs(groups) do g.lr = base_lrs[i] end
  end
  self.max_lrs = format_param(cls, "max_lr", max_lr, n)
  local up = opts.step_size_up or 2000
  check_num(up, "step_size_up", cls)
  local down = opts.step_size_down or up
  check_num(down, "step_size_down", cls)
  if up + down <= 0 then error("CyclicLR: step_size_up + step_size_down must be positive", 3) end
  self.total_size = up + down + 0.0
  self.step_ratio = up / self.total_size
  local mode = opts.mode or "triangular"
  if opts.scale_fn == nil and CYCLIC_MODES[mode] == nil then
    error(("CyclicLR: bad option 'mode' ('triangular', 'triangular2' or 'exp_range' expected, got %s)")
          :format(tostring(mode)), 3)
  end
  if opts.scale_fn ~= nil and type(opts.scale_fn) ~= "function" then
    error(("CyclicLR: bad option 'scale_fn' (function expected, got %s)"):format(type(opts.scale_fn)), 3)
  end
  self.mode, self.gamma = mode, opts.gamma or 1.0
  check_num(self.gamma, "gamma", cls)
  self._scale_fn_custom = opts.scale_fn
  self.scale_mode = opts.scale_mode or "cycle"
  if opts.scale_fn == nil then self.scale_mode = CYCLIC_MODES[mode]
  elseif self.scale_mode ~= "cycle" and self.scale_mode ~= "iterations" then
    error(("CyclicLR: bad option 'scale_mode' ('cycle' or 'iterations' expected, got %s)")
          :format(tostring(self.scale_mode)), 3)
  end
  self.cycle_momentum = opts.cycle_momentum ~= false
  if self.cycle_momentum then
    local d = optimizer.defaults or {}
    if d.momentum == nil and d.betas == nil then
      error("CyclicLR: optimizer must support momentum or beta1 with cycle_momentum enabled", 3)
    end
    self.use_beta1 = d.betas ~= nil
    self.base_momentums = format_param(cls, "base_momentum", opts.base_momentum or 0.8, n)
    self.max_momentums = format_param(cls, "max_momentum", opts.max_momentum or 0.9, n)
    if last_epoch == -1 then
      for i, g in ipairs(groups) do
        if self.use_beta1 then g.betas = {self.max_momentums[i], g.betas[2]}
        else g.momentum = self.max_momentums[i] end
        g.max_momentum, g.base_momentum = self.max_momentums[i], self.base_momentums[i]
      end
    end
  end
  LRScheduler.init(self, optimizer, last_epoch)
  self.base_lrs = base_lrs
end
function CyclicLR:scale_fn(x)
  if self._scale_fn_custom then return self._scale_fn_custom(x) end
  if self.mode == "triangular" then return 1.0 end
  if self.mode == "triangular2" then return 1 / (2.0 ^ (x - 1)) end
  return self.gamma ^ x
end
function CyclicLR:get_lr()
  local cycle = math.floor(1 + self.last_epoch / self.total_size)
  local x = 1.0 + self.last_epoch / self.total_size - cycle
  local scale
  if x <= self.step_ratio then scale = x / self.step_ratio
  else scale = (x - 1) / (self.step_ratio - 1) end
  local s = self.scale_mode == "cycle" and self:scale_fn(cycle) or self:scale_fn(self.last_epoch)
  local lrs = {}
  for i, b in ipairs(self.base_lrs) do lrs[i] = b + (self.max_lrs[i] - b) * scale * s end
  if self.cycle_momentum then
    for i, g in ipairs(self.optimizer.param_groups) do
      local bm, mm = self.base_momentums[i], self.max_momentums[i]
      local m = mm - (mm - bm) * scale * s
      if self.use_beta1 then g.betas = {m, g.betas[2]} else g.momentum = m end
    end
  end
  return lrs
end

--- ChainedScheduler(schedulers, optimizer = schedulers[1].optimizer): step()
-- steps every scheduler in order (their effects multiply for the chainable
-- ones). ReduceLROnPlateau can't be chained.
local ChainedScheduler = LRScheduler:extend("ChainedScheduler")
M.ChainedScheduler = ChainedScheduler
function ChainedScheduler:init(schedulers, optimizer)
  if type(schedulers) ~= "table" or #schedulers < 1 then
    error(("ChainedScheduler: bad argument #1 'schedulers' (non-empty list of schedulers expected, got %s)")
          :format(type(schedulers) == "table" and "an empty table" or type(schedulers)), 3)
  end
  optimizer = optimizer or schedulers[1].optimizer
  for i, s in ipairs(schedulers) do
    if class.isinstance(s, ReduceLROnPlateau) then
      error(("ChainedScheduler: schedulers[%d] is a ReduceLROnPlateau, which can't be chained"):format(i), 3)
    end
    if not class.isinstance(s, LRScheduler) then
      error(("ChainedScheduler: schedulers[%d] is not a scheduler (%s)"):format(i, class.name_of(s)), 3)
    end
    if s.optimizer ~= optimizer then
      error(("ChainedScheduler: schedulers[%d] has a different optimizer"):format(i), 3)
    end
  end
  self._schedulers = {table.unpack(schedulers)}
  self.optimizer = optimizer
  self._last_lr = group_lrs(self)
end
function ChainedScheduler:step()
  for _, s in ipairs(self._schedulers) do s:step() end
  self._last_lr = group_lrs(self)
end
ChainedScheduler.state_dict = SequentialLR.state_dict
ChainedScheduler.load_state_dict = SequentialLR.load_state_dict

return M
