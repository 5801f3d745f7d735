--- Shared pieces of the optimizers composed from in-place tensor ops
-- (Adagrad, Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop, LBFGS): strict
-- option parsing with errors naming the class, the option and the value,
-- and small tensor helpers (effective gradient, lerp_). No kernels here.
-- @module luatrain.optim._common
local lt = require("luatrain")

local M = {}

-- Errors are raised at level 4: helper -> init -> class constructor -> caller.
local LEVEL = 4

--- Parses `opts` against `defaults` (unknown keys are errors; keys listed in
-- `nilable` may be absent). Returns a new table of options.
function M.options(cls, opts, defaults, nilable)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error(("%s: bad argument #2 'opts' (table expected, got %s)"):format(cls, type(opts)), LEVEL)
  end
  for k in pairs(opts) do
    if defaults[k] == nil and not (nilable and nilable[k]) then
      error(("%s: unknown option '%s'"):format(cls, tostring(k)), LEVEL)
    end
  end
  local d = {}
  for k, v in pairs(defaults) do
    if opts[k] == nil then d[k] = v else d[k] = opts[k] end
  end
  for k in pairs(nilable or {}) do d[k] = opts[k] end
  return d
end

local function show(v)
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = tostring(x) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return tostring(v)
end

--- Checks that option `name` is a number v with lo <= v (lo < v when
-- `open_lo`) and, when hi is given, v <= hi.
function M.number(cls, d, name, lo, open_lo, hi)
  local v = d[name]
  local ok = type(v) == "number" and v == v
  if ok and lo ~= nil then ok = open_lo and v > lo or (not open_lo and v >= lo) end
  if ok and hi ~= nil then ok = v <= hi end
  if not ok then
    local want
    if lo == 0 and hi == nil then want = open_lo and "positive number" or "non-negative number"
    elseif hi ~= nil then want = ("number in %s%s, %s]"):format(open_lo and "(" or "[", lo, hi)
    else want = "number" end
    error(("%s: bad option '%s' (%s expected, got %s)"):format(cls, name, want, show(v)), LEVEL)
  end
end

--- Checks a positive integer option.
function M.pos_int(cls, d, name)
  local v = d[name]
  if math.type(v) ~= "integer" or v <= 0 then
    error(("%s: bad option '%s' (positive integer expected, got %s)"):format(cls, name, show(v)), LEVEL)
  end
end

--- Checks a boolean option.
function M.boolean(cls, d, name)
  if type(d[name]) ~= "boolean" then
    error(("%s: bad option '%s' (boolean expected, got %s)"):format(cls, name, show(d[name])), LEVEL)
  end
end

--- Checks betas = {beta1, beta2}, each in [0, 1), and copies the pair.
function M.betas(cls, d)
  local b = d.betas
  if type(b) ~= "table" or type(b[1]) ~= "number" or type(b[2]) ~= "number"
     or not (b[1] >= 0 and b[1] < 1) or not (b[2] >= 0 and b[2] < 1) then
    error(("%s: bad option 'betas' ({beta1, beta2} in [0, 1) expected, got %s)"):format(cls, show(b)), LEVEL)
  end
  d.betas = {b[1], b[2]}
end

--- The gradient the update uses: -grad when maximizing, plus weight_decay * p
-- (L2). Never modifies p.grad.
function M.grad(p, grad, maximize, weight_decay)
  if maximize then grad = -grad end
  if weight_decay ~= 0 then grad = grad:add(p, {alpha = weight_decay}) end
  return grad
end

--- a <- a + w * (b - a), with PyTorch's two-sided formula (exact at w = 1).
function M.lerp_(a, b, w)
  if w < 0.5 then
    a:add_(b - a, {alpha = w})
  else
    local diff = b - a
    a:copy_(b)
    a:add_(diff, {alpha = -(1 - w)})
  end
  return a
end

--- a <- a + value * t1 * t2 (PyTorch's addcmul_).
function M.addcmul_(a, t1, t2, value)
  return a:add_(t1 * t2, {alpha = value})
end

--- a <- a + value * t1 / t2 (PyTorch's addcdiv_).
function M.addcdiv_(a, t1, t2, value)
  return a:add_(t1 / t2, {alpha = value})
end

M.lt = lt
return M
