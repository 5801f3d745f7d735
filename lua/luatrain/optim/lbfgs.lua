--- LBFGS: PyTorch's L-BFGS (one param group; history of curvature pairs,
-- optional strong-Wolfe line search, maximize). step(closure) re-evaluates
-- the closure like PyTorch: up to max_iter inner iterations and max_eval
-- evaluations per call. Works on flattened copies of the parameters, so
-- it needs the whole flat vector in memory; dot products run as tensor
-- reductions read back as Lua numbers. No per-group options.
-- @classmod luatrain.optim.LBFGS
local lt = require("luatrain")
local class = require("luatrain.class")
local optimizer = require("luatrain.optim.optimizer")
local C = require("luatrain.optim._common")

local M = {}

local LBFGS = optimizer.Optimizer:extend("LBFGS")
M.LBFGS = LBFGS

local function dot(a, b) return (a * b):sum():item() end
local function absmax(a) return a:abs():max():item() end

--- LBFGS(params, {lr = 1, max_iter = 20, max_eval = max_iter * 5 // 4,
-- tolerance_grad = 1e-7, tolerance_change = 1e-9, history_size = 100,
-- line_search_fn = nil or "strong_wolfe", maximize = false}).
function LBFGS:init(params, opts)
  local d = C.options("LBFGS", opts, {lr = 1, max_iter = 20, tolerance_grad = 1e-7,
                      tolerance_change = 1e-9, history_size = 100, maximize = false},
                      {max_eval = true, line_search_fn = true})
  C.number("LBFGS", d, "lr", 0)
  C.pos_int("LBFGS", d, "max_iter")
  if d.max_eval == nil then d.max_eval = d.max_iter * 5 // 4 end
  C.pos_int("LBFGS", d, "max_eval")
  C.number("LBFGS", d, "tolerance_grad", 0)
  C.number("LBFGS", d, "tolerance_change", 0)
  C.pos_int("LBFGS", d, "history_size")
  C.boolean("LBFGS", d, "maximize")
  if d.line_search_fn ~= nil and d.line_search_fn ~= "strong_wolfe" then
    error(("LBFGS: bad option 'line_search_fn' (nil or 'strong_wolfe' expected, got %s)")
          :format(tostring(d.line_search_fn)), 3)
  end
  optimizer.Optimizer.init(self, params, d)
  if #self.param_groups ~= 1 then
    error("LBFGS doesn't support per-parameter options (parameter groups)", 3)
  end
  self._params = self.param_groups[1].params
end

function LBFGS:add_param_group()
  error("LBFGS doesn't support per-parameter options (parameter groups)", 2)
end

function LBFGS:_gather_flat_grad()
  local views = {}
  for i, p in ipairs(self._params) do
    local g = p.grad
    if g == nil then views[i] = lt.zeros(p:numel(), {dtype = p.dtype, device = p.device})
    else views[i] = g:reshape(-1) end
  end
  local flat = lt.cat(views, 1)
  if self.param_groups[1].maximize then flat = -flat end
  return flat
end

function LBFGS:_add_grad(step_size, update)
  local offset = 0
  for _, p in ipairs(self._params) do
    local n = p:numel()
    if n > 0 then
      p:add_(update:narrow(1, offset + 1, n):reshape(p.shape), {alpha = step_size})
    end
    offset = offset + n
  end
end

function LBFGS:_clone_param()
  local out = {}
  for i, p in ipairs(self._params) do out[i] = p:clone() end
  return out
end

function LBFGS:_set_param(data)
  for i, p in ipairs(self._params) do p:copy_(data[i]) end
end

local function loss_value(v, maximize)
  if type(v) ~= "number" then
    if not lt.is_tensor(v) then
      error(("LBFGS:step: the closure must return the loss (number or tensor), got %s")
            :format(type(v)), 4)
    end
    v = v:item()
  end
  if maximize then return -v end
  return v
end

function LBFGS:_directional_evaluate(closure, x, t, d)
  self:_add_grad(t, d)
  local loss = loss_value(closure(), self.param_groups[1].maximize)
  local flat_grad = self:_gather_flat_grad()
  self:_set_param(x)
  return loss, flat_grad
end

-- PyTorch's _cubic_interpolate (torch/optim polyinterp)
local function cubic_interpolate(x1, f1, g1, x2, f2, g2, lo, hi)
  local xmin, xmax
  if lo ~= nil then xmin, xmax = lo, hi
  elseif x1 <= x2 then xmin, xmax = x1, x2
  else xmin, xmax = x2, x1 end
  local d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
  local d2_square = d1 * d1 - g1 * g2
  if d2_square >= 0 then
    local d2 = math.sqrt(d2_square)
    local min_pos
    if x1 <= x2 then
      min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else
      min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    end
    return math.min(math.max(min_pos, xmin), xmax)
  end
  return (xmin + xmax) / 2.0
end
M._cubic_interpolate = cubic_interpolate

-- PyTorch's _strong_wolfe; obj(x, t, d) -> f, g. Returns f, g, t, evals.
local function strong_wolfe(obj, x, t, d, f, g, gtd, max_ls)
  local c1, c2, tolerance_change = 1e-4, 0.9, 1e-9
  local d_norm = absmax(d)
  local f_new, g_new = obj(x, t, d)
  local evals = 1
  local gtd_new = dot(g_new, d)
  local t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
  local done = false
  local ls_iter = 0
  local bracket, bracket_f, bracket_g, bracket_gtd
  while ls_iter < max_ls do
    if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev) then
      bracket, bracket_f = {t_prev, t}, {f_prev, f_new}
      bracket_g, bracket_gtd = {g_prev, g_new}, {gtd_prev, gtd_new}
      break
    end
    if math.abs(gtd_new) <= -c2 * gtd then
      bracket, bracket_f, bracket_g = {t}, {f_new}, {g_new}
      done = true
      break
    end
    if gtd_new >= 0 then
      bracket, bracket_f = {t_prev, t}, {f_prev, f_new}
      bracket_g, bracket_gtd = {g_prev, g_new}, {gtd_prev, gtd_new}
      break
    end
    local min_step = t + 0.01 * (t - t_prev)
    local max_step = t * 10
    local tmp = t
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step)
    t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
    f_new, g_new = obj(x, t, d)
    evals = evals + 1
    gtd_new = dot(g_new, d)
    ls_iter = ls_iter + 1
  end
  if ls_iter == max_ls then
    bracket, bracket_f, bracket_g = {0, t}, {f, f_new}, {g, g_new}
  end
  local insuf_progress = false
  local low, high
  if bracket_f[1] <= bracket_f[#bracket_f] then low, high = 1, 2 else low, high = 2, 1 end
  while not done and ls_iter < max_ls do
    if math.abs(bracket[2] - bracket[1]) * d_norm < tolerance_change then break end
    t = cubic_interpolate(bracket[1], bracket_f[1], bracket_gtd[1],
                          bracket[2], bracket_f[2], bracket_gtd[2])
    local bmax, bmin = math.max(bracket[1], bracket[2]), math.min(bracket[1], bracket[2])
    local eps = 0.1 * (bmax - bmin)
    if math.min(bmax - t, t - bmin) < eps then
      if insuf_progress or t >= bmax or t <= bmin then
        if math.abs(t - bmax) < math.abs(t - bmin) then t = bmax - eps else t = bmin + eps end
        insuf_progress = false
      else
        insuf_progress = true
      end
    else
      insuf_progress = false
    end
    f_new, g_new = obj(x, t, d)
    evals = evals + 1
    gtd_new = dot(g_new, d)
    ls_iter = ls_iter + 1
    if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low] then
      bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
      if bracket_f[1] <= bracket_f[2] then low, high = 1, 2 else low, high = 2, 1 end
    else
      if math.abs(gtd_new) <= -c2 * gtd then
        done = true
      elseif gtd_new * (bracket[high] - bracket[low]) >= 0 then
        bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
        bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
      end
      bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new
    end
  end
  return bracket_f[low], bracket_g[low], bracket[low], evals
end

--- Runs up to max_iter L-BFGS iterations.
-- @param closure function that zeroes the gradients, computes the loss,
--   calls backward and returns the loss (required)
-- @return the closure's first loss
function LBFGS:step(closure)
  if type(closure) ~= "function" then
    error(("%s:step: bad argument #1 'closure' (function expected, got %s)")
          :format(class.name_of(self), type(closure)), 2)
  end
  local function eval() return lt.enable_grad(closure) end
  return lt.no_grad(function() return self:_step(eval) end)
end

function LBFGS:_step(closure)
  local group = self.param_groups[1]
  local lr, max_iter, max_eval = group.lr, group.max_iter, group.max_eval
  local tolerance_grad, tolerance_change = group.tolerance_grad, group.tolerance_change
  local history_size, maximize = group.history_size, group.maximize
  local state = self:state_for(self._params[1])
  state.func_evals = state.func_evals or 0
  state.n_iter = state.n_iter or 0

  local orig_loss = closure()
  local loss = loss_value(orig_loss, maximize)
  local current_evals = 1
  state.func_evals = state.func_evals + 1
  local flat_grad = self:_gather_flat_grad()
  local opt_cond = absmax(flat_grad) <= tolerance_grad
  if opt_cond then return orig_loss end

  local d, t = state.d, state.t
  local old_dirs, old_stps, ro = state.old_dirs, state.old_stps, state.ro
  local H_diag, prev_flat_grad, prev_loss = state.H_diag, state.prev_flat_grad, state.prev_loss

  local n_iter = 0
  while n_iter < max_iter do
    n_iter = n_iter + 1
    state.n_iter = state.n_iter + 1
    if state.n_iter == 1 then
      d = -flat_grad
      old_dirs, old_stps, ro = {}, {}, {}
      H_diag = 1
    else
      local y = flat_grad - prev_flat_grad
      local s = d * t
      local ys = dot(y, s)
      if ys > 1e-10 then
        if #old_dirs == history_size then
          table.remove(old_dirs, 1)
          table.remove(old_stps, 1)
          table.remove(ro, 1)
        end
        old_dirs[#old_dirs + 1] = y
        old_stps[#old_stps + 1] = s
        ro[#ro + 1] = 1.0 / ys
        H_diag = ys / dot(y, y)
      end
      local num_old = #old_dirs
      local al = {}
      local q = -flat_grad
      for i = num_old, 1, -1 do
        al[i] = dot(old_stps[i], q) * ro[i]
        q:add_(old_dirs[i], {alpha = -al[i]})
      end
      local r = q * H_diag
      d = r
      for i = 1, num_old do
        local be_i = dot(old_dirs[i], r) * ro[i]
        r:add_(old_stps[i], {alpha = al[i] - be_i})
      end
    end
    if prev_flat_grad == nil then prev_flat_grad = flat_grad:clone()
    else prev_flat_grad:copy_(flat_grad) end
    prev_loss = loss

    if state.n_iter == 1 then
      t = math.min(1.0, 1.0 / flat_grad:abs():sum():item()) * lr
    else
      t = lr
    end
    local gtd = dot(flat_grad, d)
    if gtd > -tolerance_change then break end

    local ls_func_evals = 0
    if group.line_search_fn ~= nil then
      local x_init = self:_clone_param()
      local function obj(x, tt, dd) return self:_directional_evaluate(closure, x, tt, dd) end
      loss, flat_grad, t, ls_func_evals =
        strong_wolfe(obj, x_init, t, d, loss, flat_grad, gtd, max_eval - current_evals)
      self:_add_grad(t, d)
      opt_cond = absmax(flat_grad) <= tolerance_grad
    else
      self:_add_grad(t, d)
      if n_iter ~= max_iter then
        loss = loss_value(closure(), maximize)
        flat_grad = self:_gather_flat_grad()
        opt_cond = absmax(flat_grad) <= tolerance_grad
        ls_func_evals = 1
      end
    end
    current_evals = current_evals + ls_func_evals
    state.func_evals = state.func_evals + ls_func_evals

    if n_iter == max_iter then break end
    if current_evals >= max_eval then break end
    if opt_cond then break end
    if absmax(d) * math.abs(t) <= tolerance_change then break end
    if math.abs(loss - prev_loss) < tolerance_change then break end
  end

  state.d, state.t = d, t
  state.old_dirs, state.old_stps, state.ro = old_dirs, old_stps, ro
  state.H_diag, state.prev_flat_grad, state.prev_loss = H_diag, prev_flat_grad, prev_loss
  return orig_loss
end

--- Loads a state_dict (as Optimizer:load_state_dict) and also copies the
-- history lists (old_dirs, old_stps, ro) so the restored optimizer owns them.
function LBFGS:load_state_dict(sd)
  optimizer.Optimizer.load_state_dict(self, sd)
  for p, s in pairs(self.state) do
    for _, k in ipairs({"old_dirs", "old_stps", "ro"}) do
      local list = s[k]
      if type(list) == "table" then
        local copy, n = {}, 0
        for kk in pairs(list) do n = math.max(n, tonumber(kk) or 0) end
        for i = 1, n do
          local v = list[i] or list[tostring(i)]
          if lt.is_tensor(v) then v = v:detach():to({device = p.device, dtype = p.dtype}):clone() end
          copy[i] = v
        end
        s[k] = copy
      end
    end
  end
end

return M
