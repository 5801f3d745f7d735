--- luatrain.fit - lt.fit{...}: the DESIGN §2 training loop packaged, with a
-- progress bar, logging, validation under no_grad, callbacks (checkpoints,
-- early stopping), Ctrl-C checkpointing and resume. It is a convenience,
-- not a framework: no gradient accumulation, AMP or multi-GPU; write the
-- loop by hand for those.
local class = require "luatrain.class"

local function lt() return require "luatrain" end

local function move(v, device)
  if device and lt().is_tensor(v) then return v:to(device) end
  return v
end

local builtin_metrics = {
  accuracy = function(out, y)
    return out:argmax(2):eq(y):float():mean():item()
  end,
}

local function resolve_metrics(m)
  local out = {}
  if m == nil then return out end
  if type(m) ~= "table" then error("fit: metrics must be a table", 3) end
  for k, v in pairs(m) do
    if math.type(k) == "integer" then
      if type(v) ~= "string" or not builtin_metrics[v] then
        error("fit: unknown metric " .. tostring(v) .. " (built in: accuracy)", 3)
      end
      out[#out + 1] = {v, builtin_metrics[v]}
    elseif type(v) == "function" then
      out[#out + 1] = {k, v}
    else
      error("fit: metric " .. tostring(k) .. " must be a function(output, target) -> number", 3)
    end
  end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

local function mean_loss(model, loss_fn, loader, device, metrics)
  local L = lt()
  local _ <close> = L.no_grad()
  local n, loss_sum, sums = 0, 0, {}
  for xb, yb in loader:iter() do
    xb, yb = move(xb, device), move(yb, device)
    local out = model(xb)
    local bs = L.is_tensor(out) and out:size(1) or 1
    loss_sum = loss_sum + loss_fn(out, yb):item() * bs
    for _, m in ipairs(metrics) do sums[m[1]] = (sums[m[1]] or 0) + m[2](out, yb) * bs end
    n = n + bs
  end
  local res = {}
  if n > 0 then
    res.val_loss = loss_sum / n
    for k, s in pairs(sums) do res["val_" .. k] = s / n end
  end
  return res
end

--- Trains a model.
-- @param o {model=, optimizer=, loss_fn = fn(output, target) (or a criterion module),
--   train_loader=, val_loader=, epochs = 1, callbacks = {...} (cb:step(metrics, state),
--   true stops), scheduler=, scheduler_interval = "epoch"|"step", device=,
--   metrics = {"accuracy"} or {name = fn(output, target) -> batch mean},
--   logger = lt.log.Logger or log_dir = dir (creates one), log_every = 10 (steps),
--   progress = true, checkpoint_dir = "." (interrupted.safetensors), resume = path,
--   clip_grad_norm = max_norm, verbose = true (a line per epoch)}
-- @return history: one table per epoch {epoch=, step=, train_loss=, val_loss=,
--   val_<metric>=, lr=, time=}
local function fit(o)
  local L = lt()
  if type(o) ~= "table" then error("fit: expected a table of options", 2) end
  local model, optimizer, loss_fn, loader = o.model, o.optimizer, o.loss_fn, o.train_loader
  if type(model) ~= "table" then error("fit: model is required", 2) end
  if type(optimizer) ~= "table" then error("fit: optimizer is required", 2) end
  if loss_fn == nil then error("fit: loss_fn is required", 2) end
  if type(loader) ~= "table" or type(loader.iter) ~= "function" then
    error("fit: train_loader must be a DataLoader (with :iter())", 2)
  end
  local epochs = o.epochs or 1
  if math.type(epochs) ~= "integer" or epochs < 1 then error("fit: epochs must be a positive integer", 2) end
  local metrics = resolve_metrics(o.metrics)
  local callbacks = o.callbacks or {}
  local device = o.device
  if device and type(model.to) == "function" then model:to(device) end
  local sched = o.scheduler
  local per_step = o.scheduler_interval == "step"
  local plateau = sched and class.name_of(sched) == "ReduceLROnPlateau"
  local logger, own_logger = o.logger, false
  if logger == nil and o.log_dir then
    logger = require("luatrain.log").Logger{dir = o.log_dir}
    own_logger = true
  end
  local log_every = o.log_every or 10
  local verbose = o.verbose ~= false
  local guard_mod = require "luatrain.utils.training_guard"
  -- the interrupt checkpoint records the batches whose step completed, not
  -- the one the loader handed out when Ctrl-C came
  local done_pos
  local loader_view = loader
  if type(loader.state_dict) == "function" then
    loader_view = {state_dict = function()
      local sd = loader:state_dict()
      if done_pos ~= nil then sd.position = done_pos
      elseif (sd.position or 0) > 0 then sd.position = sd.position - 1 end   -- first batch unfinished
      return sd
    end}
  end
  local guard = guard_mod({model = model, optimizer = optimizer,
    scheduler = sched, loader = loader_view, dir = o.checkpoint_dir or ".", exit = o.exit})
  local progress = require "luatrain.utils.progress"

  local start_epoch, step = 1, 0
  if o.resume then
    local load = L.load_checkpoint or (L.checkpoint and L.checkpoint.load_checkpoint)
    if type(load) ~= "function" then error("fit: lt.load_checkpoint is not available", 2) end
    local info = load(o.resume, {model = model, optimizer = optimizer,
                                              scheduler = sched, loader = loader}) or {}
    step = math.tointeger(info.step or 0) or 0
    local ep = math.tointeger(info.epoch or 0) or 0
    local mid = false
    if type(loader.state_dict) == "function" then
      local sd = loader:state_dict()
      mid = sd.position ~= nil and sd.position > 0 and sd.position < #loader
    end
    start_epoch = mid and math.max(ep, 1) or ep + 1
  end

  local history = {}
  local ok, err = pcall(function()
    for epoch = start_epoch, epochs do
      local t0 = L.time()
      if type(model.train) == "function" then model:train() end
      local bar = progress(loader, {desc = ("epoch %d/%d"):format(epoch, epochs),
                                    disable = o.progress == false})
      local loss_sum, nb = 0, 0
      done_pos = nil
      for xb, yb in bar do
        xb, yb = move(xb, device), move(yb, device)
        optimizer:zero_grad()
        local out = model(xb)
        local loss = loss_fn(out, yb)
        loss:backward()
        if o.clip_grad_norm then
          local clip = L.nn and L.nn.utils and L.nn.utils.clip_grad_norm_
          if clip then clip(model:parameters(), o.clip_grad_norm) end
        end
        optimizer:step()
        if sched and per_step then sched:step() end
        step = step + 1
        done_pos = loader.position
        local l = loss:item()
        loss_sum, nb = loss_sum + l, nb + 1
        bar:set{loss = loss_sum / nb}
        if logger and step % log_every == 0 then logger:log({train_loss = l}, step) end
        guard:check({epoch = epoch, step = step})
      end
      local m = {epoch = epoch, step = step, train_loss = nb > 0 and loss_sum / nb or nil}
      if o.val_loader then
        if type(model.eval) == "function" then model:eval() end
        for k, v in pairs(mean_loss(model, loss_fn, o.val_loader, device, metrics)) do m[k] = v end
      end
      local groups = optimizer.param_groups
      if groups and groups[1] then m.lr = groups[1].lr end
      if sched and not per_step then
        if plateau then sched:step(m.val_loss or m.train_loss) else sched:step() end
      end
      m.time = L.time() - t0
      history[#history + 1] = m
      if logger then
        local lm = {}
        for k, v in pairs(m) do if k ~= "step" then lm[k] = v end end
        logger:log(lm, step)
      end
      if verbose then
        local parts = {}
        for _, k in ipairs({"train_loss", "val_loss"}) do
          if m[k] then parts[#parts + 1] = ("%s %.4f"):format(k, m[k]) end
        end
        for _, mm in ipairs(metrics) do
          local v = m["val_" .. mm[1]]
          if v then parts[#parts + 1] = ("val_%s %.4f"):format(mm[1], v) end
        end
        io.stderr:write(("epoch %d/%d: %s (%.1fs)\n")
                        :format(epoch, epochs, table.concat(parts, ", "), m.time))
      end
      local stop = false
      local state = {model = model, optimizer = optimizer, scheduler = sched, loader = loader,
                     epoch = epoch, step = step}
      for _, cb in ipairs(callbacks) do
        if cb:step(m, state) then stop = true end
      end
      if stop then break end
    end
  end)
  if logger then
    if own_logger then logger:close() else logger:flush() end
  end
  if not ok and guard_mod.is_interrupt(err) then guard:check(nil, true) end
  guard:close()
  if not ok then error(err, 0) end
  return history
end

return fit
