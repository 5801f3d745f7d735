--- luatrain.utils.training_guard - the Ctrl-C service of a training loop.
-- While a guard is open, the first Ctrl-C only sets lt.interrupted(): the
-- host raises no error in the middle of a step (that could land between
-- optimizer:step() and the step counter, or halfway through the parameter
-- updates, and the checkpoint would not resume exactly). The loop stops at
-- its next step boundary: `guard:check(state)`, called once per step after
-- optimizer:step(), or lt.progress / lt.fit polling between batches; the
-- guard then writes <dir>/interrupted.safetensors with lt.save_checkpoint,
-- prints how to resume and exits with status 130. An "interrupted" error
-- that still unwinds through the guard (a `<close>` variable, or
-- guard:run(fn)) saves the same way. A second Ctrl-C stops at once (the
-- host restores the default handler) and writes nothing. It installs no
-- signal handler itself.
local class = require "luatrain.class"

local function lt() return require "luatrain" end

local M = {}
local stack = {}        -- open guards, the innermost last

local Guard = class.extend("TrainingGuard")
M.TrainingGuard = Guard

--- Creates a guard and makes it the active one.
-- @param opts {model=, optimizer=, scheduler=, loader=, extra=, dir = ".",
--   path = (default dir/interrupted.safetensors), file = io.stderr,
--   exit = os.exit and save_fn = lt.save_checkpoint (tests pass their own),
--   script = arg[0]}
function Guard:init(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("training_guard: options must be a table", 3) end
  self.model, self.optimizer, self.scheduler = opts.model, opts.optimizer, opts.scheduler
  self.loader, self.extra = opts.loader, opts.extra
  self.dir = opts.dir or "."
  self.path = opts.path or (self.dir .. "/interrupted.safetensors")
  self.file = opts.file or io.stderr
  self.exit = opts.exit or os.exit
  self.save_fn = opts.save_fn
  self.script = opts.script or (arg and arg[0]) or "train.lua"
  self.state = {}
  stack[#stack + 1] = self
  M._defer(true)
end

-- tells the host to only record Ctrl-C while any guard is open
function M._defer(on)
  local C = lt()._C
  if C and C.defer_interrupts then C.defer_interrupts(on) end
end

--- The innermost open guard, or nil.
function M.active() return stack[#stack] end

--- Records the loop's position (epoch, step ...) without checking.
function Guard:update(state)
  if state then for k, v in pairs(state) do self.state[k] = v end end
end

--- Writes the checkpoint now.
-- @param state {epoch=, step=, ...} merged over the last known state
-- @return the checkpoint path
function Guard:save(state)
  self:update(state)
  local L = lt()
  local save = self.save_fn or L.save_checkpoint or (L.checkpoint and L.checkpoint.save_checkpoint)
  if type(save) ~= "function" then
    error("training_guard: lt.save_checkpoint is not available", 2)
  end
  if self.dir ~= "." then os.execute("mkdir -p '" .. self.dir:gsub("'", "'\\''") .. "'") end
  save(self.path, {model = self.model, optimizer = self.optimizer,
    scheduler = self.scheduler, loader = self.loader, epoch = self.state.epoch,
    step = self.state.step, extra = self.extra})
  return self.path
end

--- If Ctrl-C was pressed (or `force`): saves, prints the resume command and
-- exits with 130. Otherwise records `state` and returns false.
function Guard:check(state, force)
  self:update(state)
  local L = lt()
  if not force and not (type(L.interrupted) == "function" and L.interrupted()) then return false end
  local ok, err = pcall(self.save, self)
  if ok then
    self.file:write(("\ninterrupted: checkpoint written to %s\nresume with: luatrain %s --resume %s\n")
      :format(self.path, self.script, self.path))
  else
    self.file:write(("\ninterrupted: could not write the checkpoint: %s\n"):format(tostring(err)))
  end
  self.file:flush()
  self:close()
  self.exit(130)
  return true
end

--- Stops being the active guard; idempotent.
function Guard:close()
  for i = #stack, 1, -1 do
    if stack[i] == self then table.remove(stack, i) end
  end
  if #stack == 0 then M._defer(false) end
end

--- True when `err` (an error value) comes from Ctrl-C.
function M.is_interrupt(err)
  local L = lt()
  if type(L.interrupted) == "function" and L.interrupted() then return true end
  return type(err) == "string" and (err:find("^interrupted") or err:find(": interrupted$")) ~= nil
end

--- Runs fn(...) and saves + exits on Ctrl-C; other errors pass through.
function Guard:run(fn, ...)
  local res = table.pack(pcall(fn, ...))
  if not res[1] then
    if M.is_interrupt(res[2]) then self:check(nil, true) end
    self:close()
    error(res[2], 0)
  end
  return table.unpack(res, 2, res.n)
end

-- As a to-be-closed variable: an error unwinding through the scope that is
-- an interrupt triggers the checkpoint.
function Guard:__close(err)
  if err ~= nil and M.is_interrupt(err) then self:check(nil, true) end
  self:close()
end

setmetatable(M, {__call = function(_, opts) return Guard(opts) end})
return M
