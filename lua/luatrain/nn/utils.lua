--- nn.utils: gradient clipping and flat parameter vectors.
-- clip_grad_norm_ uses the core's fused total norm and scale (lt._C) and
-- follows PyTorch's clip_coef = max_norm / (total + 1e-6), clamped to 1.
-- No weight_norm / spectral_norm / rnn packing.
-- @module luatrain.nn.utils
local lt = require("luatrain")

local M = {}

local function param_list(params, fname)
  if lt.is_tensor(params) then return {params} end
  if type(params) ~= "table" then
    error(("%s: bad argument #1 'parameters' (tensor or list of tensors expected, got %s)")
          :format(fname, type(params)), 3)
  end
  if type(params.parameters) == "function" then return params:parameters() end
  for i = 1, #params do
    if not lt.is_tensor(params[i]) then
      error(("%s: bad argument #1 'parameters' (entry %d is a %s, not a tensor)")
            :format(fname, i, type(params[i])), 3)
    end
  end
  return params
end

local function grads_of(params)
  local gs = {}
  for _, p in ipairs(params) do
    local g = p.grad
    if g ~= nil then gs[#gs + 1] = g end
  end
  return gs
end

--- Scales gradients in place so their total norm is at most max_norm.
-- @param params tensor, list of tensors, or a Module
-- @param max_norm number
-- @param norm_type number (default 2; math.huge for the max norm)
-- @param opts {error_if_nonfinite = false}
-- @return the total norm before clipping (a number)
function M.clip_grad_norm_(params, max_norm, norm_type, opts)
  params = param_list(params, "clip_grad_norm_")
  if type(max_norm) ~= "number" then
    error(("clip_grad_norm_: bad argument #2 'max_norm' (number expected, got %s)")
          :format(type(max_norm)), 2)
  end
  norm_type = norm_type or 2.0
  if type(norm_type) == "string" and norm_type == "inf" then norm_type = math.huge end
  if type(norm_type) ~= "number" then
    error(("clip_grad_norm_: bad argument #3 'norm_type' (number expected, got %s)")
          :format(type(norm_type)), 2)
  end
  local gs = grads_of(params)
  if #gs == 0 then return 0.0 end
  local total = lt._C.total_norm(gs, norm_type)
  if total ~= total or total == math.huge then
    if opts and opts.error_if_nonfinite then
      error(("clip_grad_norm_: the total norm of order %g of the gradients is non-finite (%g)")
            :format(norm_type, total), 2)
    end
  end
  local clip_coef = max_norm / (total + 1e-6)
  if clip_coef < 1 then lt._C.scale_(gs, clip_coef) end
  for _, g in ipairs(gs) do g:free() end  -- handles only: see optim/adam.lua
  return total
end

--- Clamps every gradient to [-clip_value, clip_value] in place.
function M.clip_grad_value_(params, clip_value)
  params = param_list(params, "clip_grad_value_")
  if type(clip_value) ~= "number" then
    error(("clip_grad_value_: bad argument #2 'clip_value' (number expected, got %s)")
          :format(type(clip_value)), 2)
  end
  lt.no_grad(function()
    for _, g in ipairs(grads_of(params)) do g:clamp_(-clip_value, clip_value) end
  end)
end

--- Concatenates the parameters into one 1-D tensor (a copy).
function M.parameters_to_vector(params)
  params = param_list(params, "parameters_to_vector")
  local flat = {}
  for i, p in ipairs(params) do flat[i] = p:reshape(-1) end
  return lt.cat(flat, 1)
end

--- Copies consecutive slices of a 1-D vector into the parameters.
function M.vector_to_parameters(vec, params)
  if not lt.is_tensor(vec) or vec:dim() ~= 1 then
    error("vector_to_parameters: bad argument #1 'vec' (1-D tensor expected)", 2)
  end
  params = param_list(params, "vector_to_parameters")
  local total = 0
  for _, p in ipairs(params) do total = total + p:numel() end
  if total ~= vec:numel() then
    error(("vector_to_parameters: 'vec' has %d elements, the parameters %d")
          :format(vec:numel(), total), 2)
  end
  lt.no_grad(function()
    local pos = 1
    for _, p in ipairs(params) do
      local n = p:numel()
      p:copy_(vec:narrow(1, pos, n):reshape(p.shape))
      pos = pos + n
    end
  end)
end

return M
