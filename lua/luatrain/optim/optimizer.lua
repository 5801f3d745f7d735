--- Optimizer: the base of every optimizer (PyTorch's torch.optim.Optimizer).
-- Param groups ({params = {...}, lr = ..., ...}) with per-group options
-- filled from the defaults, per-parameter state, zero_grad, step(closure),
-- and state_dict/load_state_dict in PyTorch's layout except that parameter
-- positions are 1-based. Subclasses implement `_update_group(group)`; it runs
-- under no_grad. It deliberately has no hooks and no foreach/fused switches.
-- @classmod luatrain.optim.Optimizer
local class = require("luatrain.class")
local lt = require("luatrain")

local M = {}

local Optimizer = class.extend("Optimizer")
M.Optimizer = Optimizer

local REQUIRED = {}
M.required = REQUIRED   -- a default that every group must set (PyTorch's `required`)

--- Optimizer(params, defaults): params is a list of tensors, a list of
-- groups {params = {...}, <option> = ...}, or a Module.
function Optimizer:init(params, defaults)
  local name = class.name_of(self)
  self.defaults = defaults or {}
  self.state = setmetatable({}, {__mode = "k"})
  self.param_groups = {}
  if type(params) == "table" and type(params.parameters) == "function" then
    params = params:parameters()
  end
  if lt.is_tensor(params) then params = {params} end
  if type(params) ~= "table" then
    error(("%s: bad argument #1 'params' (list of tensors or of param groups expected, got %s)")
          :format(name, type(params)), 4)
  end
  if #params == 0 then error(("%s got an empty parameter list"):format(name), 4) end
  if lt.is_tensor(params[1]) then params = {{params = params}} end
  for _, g in ipairs(params) do self:_add_group(g, 5) end
end

function Optimizer:_add_group(group, level)
  local name = class.name_of(self)
  if type(group) ~= "table" or group.params == nil then
    error(("%s: a param group must be a table with a 'params' list"):format(name), level)
  end
  local ps = group.params
  if lt.is_tensor(ps) then ps = {ps} end
  local list = {}
  for i, p in ipairs(ps) do
    if not lt.is_tensor(p) then
      error(("%s: param group entry %d is a %s, not a tensor"):format(name, i, type(p)), level)
    end
    if not p.is_leaf then
      error(("%s: can't optimize a non-leaf tensor (param group entry %d)"):format(name, i), level)
    end
    list[i] = p
  end
  local g = {}
  for k, v in pairs(group) do g[k] = v end
  g.params = list
  for k, v in pairs(self.defaults) do
    if g[k] == nil then
      if v == REQUIRED then
        error(("%s: parameter group didn't specify a value of required option '%s'"):format(name, k), level)
      end
      if type(v) == "table" then g[k] = {table.unpack(v)} else g[k] = v end
    end
  end
  local seen = {}
  for _, og in ipairs(self.param_groups) do
    for _, p in ipairs(og.params) do seen[p] = true end
  end
  for _, p in ipairs(list) do
    if seen[p] then
      error(("%s: some parameters appear in more than one parameter group"):format(name), level)
    end
    seen[p] = true
  end
  self.param_groups[#self.param_groups + 1] = g
end

--- Adds a param group ({params = {...}, <option> = ...}).
function Optimizer:add_param_group(group)
  self:_add_group(group, 3)
end

--- Clears the gradients of every parameter.
-- @param set_to_none boolean (default true)
function Optimizer:zero_grad(set_to_none)
  if set_to_none == nil then set_to_none = true end
  for _, g in ipairs(self.param_groups) do
    for _, p in ipairs(g.params) do
      if set_to_none then
        p.grad = nil
      else
        local gr = p.grad
        if gr then gr:zero_() end
      end
    end
  end
end

--- Per-parameter state table (created empty on first use).
function Optimizer:state_for(p)
  local s = self.state[p]
  if s == nil then
    s = {}
    self.state[p] = s
  end
  return s
end

--- Performs one optimisation step.
-- @param closure optional function that re-evaluates the model and returns the loss
-- @return the closure's loss, if any
function Optimizer:step(closure)
  local loss
  if closure ~= nil then
    if type(closure) ~= "function" then
      error(("step: bad argument #1 'closure' (function expected, got %s)"):format(type(closure)), 2)
    end
    loss = lt.enable_grad(closure)
  end
  lt.no_grad(function()
    for _, g in ipairs(self.param_groups) do self:_update_group(g) end
  end)
  return loss
end

function Optimizer:_update_group()
  error(("%s does not implement _update_group"):format(class.name_of(self)), 2)
end

--- The optimizer's state in PyTorch's layout: {state = {[i] = {...}},
-- param_groups = {{<options>, params = {i, ...}}}} with 1-based parameter
-- positions counted across groups. State tensors are references.
function Optimizer:state_dict()
  local index, idx = {}, 0
  local groups = {}
  for gi, g in ipairs(self.param_groups) do
    local pg = {}
    for k, v in pairs(g) do
      if k ~= "params" then
        if type(v) == "table" then pg[k] = {table.unpack(v)} else pg[k] = v end
      end
    end
    pg.params = {}
    for _, p in ipairs(g.params) do
      if index[p] == nil then
        idx = idx + 1
        index[p] = idx
      end
      pg.params[#pg.params + 1] = index[p]
    end
    groups[gi] = pg
  end
  local state = {}
  for p, i in pairs(index) do
    local s = self.state[p]
    if s ~= nil then
      local copy = {}
      for k, v in pairs(s) do copy[k] = v end
      state[i] = copy
    end
  end
  return {state = state, param_groups = groups}
end

--- Loads a state_dict made by state_dict() (group and parameter counts must
-- match). State tensors are copied to each parameter's device (and floating
-- ones to its dtype).
function Optimizer:load_state_dict(sd)
  local name = class.name_of(self)
  if type(sd) ~= "table" or type(sd.param_groups) ~= "table" then
    error(("%s:load_state_dict: bad argument #1 'state_dict' (table with param_groups expected)")
          :format(name), 2)
  end
  if #sd.param_groups ~= #self.param_groups then
    error(("%s:load_state_dict: loaded state dict has %d parameter groups, the optimizer has %d")
          :format(name, #sd.param_groups, #self.param_groups), 2)
  end
  local by_index = {}
  for gi, g in ipairs(self.param_groups) do
    local sg = sd.param_groups[gi]
    if type(sg.params) ~= "table" or #sg.params ~= #g.params then
      error(("%s:load_state_dict: loaded state dict contains a parameter group (%d) that doesn't "
             .. "match the size of optimizer's group (%d vs %d parameters)")
            :format(name, gi, gi, type(sg.params) == "table" and #sg.params or 0, #g.params), 2)
    end
    for j, p in ipairs(g.params) do by_index[sg.params[j]] = p end
  end
  local FLOAT = {float32 = true, float64 = true, float16 = true, bfloat16 = true}
  local newstate = setmetatable({}, {__mode = "k"})
  for i, s in pairs(sd.state or {}) do
    local p = by_index[tonumber(i)]
    if p == nil then
      error(("%s:load_state_dict: state for parameter %s that no group holds"):format(name, tostring(i)), 2)
    end
    local copy = {}
    for k, v in pairs(s) do
      if lt.is_tensor(v) then
        local want = {device = p.device}
        if FLOAT[v.dtype] and FLOAT[p.dtype] then want.dtype = p.dtype end
        v = v:detach():to(want):clone()
      end
      copy[k] = v
    end
    newstate[p] = copy
  end
  self.state = newstate
  for gi, g in ipairs(self.param_groups) do
    for k, v in pairs(sd.param_groups[gi]) do
      if k ~= "params" then
        if type(v) == "table" then g[k] = {table.unpack(v)} else g[k] = v end
      end
    end
  end
end

function Optimizer.__tostring(self)
  local lines = {class.name_of(self) .. " ("}
  for gi, g in ipairs(self.param_groups) do
    lines[#lines + 1] = ("Parameter Group %d"):format(gi - 1)
    local keys = {}
    for k in pairs(g) do if k ~= "params" then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = g[k]
      if type(v) == "table" then v = "(" .. table.concat(v, ", ") .. ")" end
      lines[#lines + 1] = ("    %s: %s"):format(k, tostring(v))
    end
  end
  lines[#lines + 1] = ")"
  return table.concat(lines, "\n")
end

return M
