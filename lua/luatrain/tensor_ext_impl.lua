--- The implementations behind lua/luatrain/tensor_ext.lua (which installs
-- cheap stubs at start and loads this file on the first call of any of them).
-- PyTorch tensor functions that are compositions of the core ops: tril/triu,
-- outer/dot/mv/addmm/baddbmm, lerp, addcmul/addcdiv, clamp_min/max, isfinite,
-- isclose, roll, diff, repeat_interleave, new_*, nonzero/masked_select,
-- einsum, tensordot, std_mean, aminmax, logspace, meshgrid, cross, diag ...
-- Each is differentiable and runs on every device through the ops it is made
-- of; none has a backward of its own. Only nonzero's count is C
-- (bindings/ops_ext.c).
-- @module luatrain.tensor_ext_impl

local M = {}

--- Installs the functions on `lt` and the methods on `lt.Tensor`, replacing
-- the stubs of tensor_ext; a name the core defines itself is left alone.
-- @param lt the public luatrain table
-- @param stubs set of the stub functions (may be empty)
function M.install(lt, stubs)
  local T = lt.Tensor
  local C = lt._C
  local is_tensor = lt.is_tensor
  local mtype = math.type

  local function shape_str(t)
    return "{" .. table.concat(t.shape, ", ") .. "}"
  end
  local function list_str(s) return "{" .. table.concat(s, ", ") .. "}" end

  local function fail(level, fmt, ...)
    error(fmt:format(...), level + 1)
  end

  local function check_tensor(fname, argname, v)
    if not is_tensor(v) then
      fail(3, "%s: %s must be a tensor, got %s", fname, argname, type(v))
    end
    local _ = v.ndim  -- a freed tensor raises "... freed tensor" here
    return v
  end

  local function check_int(fname, argname, v, default)
    if v == nil then return default end
    if mtype(v) ~= "integer" then
      if mtype(v) == "float" and v == math.floor(v) then return math.tointeger(v) end
      fail(3, "%s: %s must be an integer, got %s", fname, argname, tostring(v))
    end
    return v
  end

  -- 1-based (negative from the end) dim -> positive 1-based dim
  local function norm_dim(fname, d, nd, level)
    if mtype(d) ~= "integer" then
      fail(level or 3, "%s: dim must be an integer, got %s", fname, tostring(d))
    end
    local r = d < 0 and d + nd + 1 or d
    if r < 1 or r > nd then
      fail(level or 3, "%s: dim %d out of range for tensor of dimension %d", fname, d, nd)
    end
    return r
  end

  local function check_opts(fname, opts, keys)
    if opts == nil then return {} end
    if type(opts) ~= "table" or is_tensor(opts) then
      fail(3, "%s: options table expected, got %s", fname, type(opts))
    end
    for k in pairs(opts) do
      if not keys[k] then fail(3, "%s: unknown option '%s'", fname, tostring(k)) end
    end
    return opts
  end

  -- an options table (string keys) rather than a shape/dims table
  local function is_opts(v)
    return type(v) == "table" and not is_tensor(v) and v[1] == nil and next(v) ~= nil
  end

  -- broadcast shape of two shapes or an error naming both
  local function broadcast(fname, sa, sb, level)
    local n = math.max(#sa, #sb)
    local out = {}
    for i = 1, n do
      local a = sa[#sa - n + i] or 1
      local b = sb[#sb - n + i] or 1
      if a == b or b == 1 then out[i] = a
      elseif a == 1 then out[i] = b
      else
        fail(level or 3, "%s: shapes %s and %s are not broadcastable", fname, list_str(sa), list_str(sb))
      end
    end
    return out
  end

  -- can a tensor of shape s expand to shape `to`?
  local function expandable(s, to)
    if #s > #to then return false end
    for i = 1, #s do
      local a, b = s[i], to[#to - #s + i]
      if a ~= b and a ~= 1 then return false end
    end
    return true
  end

  local function same_device(fname, a, b, an, bn)
    if a.device ~= b.device then
      fail(3, "%s: %s is on %s but %s is on %s", fname, an, a.device, bn, b.device)
    end
  end

  local function def(name, fn, method)
    local cur = rawget(lt, name)
    if cur == nil or stubs[cur] then rawset(lt, name, fn) end
    cur = rawget(T, name)
    if method ~= false and (cur == nil or stubs[cur]) then T[name] = fn end
  end

  local function idx_tensor(list, device)
    return lt.tensor(list, {dtype = "int64", device = device})
  end

  -- ------------------------------------------------------------ triangles

  -- bool mask of the positions tril (lower) / triu zero out
  local function tri_zero_mask(fname, x, k)
    check_tensor(fname, "input", x)
    k = check_int(fname, "diagonal", k, 0)
    local nd = x:dim()
    if nd < 2 then
      fail(3, "%s: expected a tensor with at least 2 dimensions, got shape %s", fname, shape_str(x))
    end
    local n, m = x:size(nd - 1), x:size(nd)
    local r = lt.arange(n, {device = x.device}):view(n, 1)
    local c = lt.arange(m, {device = x.device}):view(1, m)
    local d = c - r
    if fname:sub(1, 4) == "tril" then return d:gt(k) end
    return d:lt(k)
  end

  --- Lower triangle (elements with col - row <= diagonal), the rest zero.
  def("tril", function(x, diagonal) return x:masked_fill(tri_zero_mask("tril", x, diagonal), 0) end)
  def("triu", function(x, diagonal) return x:masked_fill(tri_zero_mask("triu", x, diagonal), 0) end)
  def("tril_", function(x, diagonal) return x:masked_fill_(tri_zero_mask("tril_", x, diagonal), 0) end)
  def("triu_", function(x, diagonal) return x:masked_fill_(tri_zero_mask("triu_", x, diagonal), 0) end)

  -- ------------------------------------------------------------ products

  local function check_ndim(fname, argname, t, nd)
    check_tensor(fname, argname, t)
    if t:dim() ~= nd then
      fail(3, "%s: %s must be %d-D, got shape %s", fname, argname, nd, shape_str(t))
    end
  end

  local function same_dtype(fname, a, b, an, bn)
    if a.dtype ~= b.dtype then
      fail(3, "%s: %s and %s must have the same dtype, got %s and %s", fname, an, bn, a.dtype, b.dtype)
    end
  end

  --- Outer product of two vectors (n) x (m) -> (n, m).
  local function outer(a, b)
    check_ndim("outer", "input", a, 1)
    check_ndim("outer", "vec2", b, 1)
    same_device("outer", a, b, "input", "vec2")
    return a:unsqueeze(2) * b:unsqueeze(1)
  end
  def("outer", outer)
  def("ger", outer)

  def("dot", function(a, b)
    check_ndim("dot", "input", a, 1)
    check_ndim("dot", "tensor", b, 1)
    if a:numel() ~= b:numel() then
      fail(2, "dot: vectors of different sizes %s and %s", shape_str(a), shape_str(b))
    end
    same_dtype("dot", a, b, "input", "tensor")
    return a:matmul(b)
  end)

  def("mv", function(m, v)
    check_ndim("mv", "input", m, 2)
    check_ndim("mv", "vec", v, 1)
    if m:size(2) ~= v:size(1) then
      fail(2, "mv: size mismatch, input %s and vec %s", shape_str(m), shape_str(v))
    end
    same_dtype("mv", m, v, "input", "vec")
    return m:matmul(v)
  end)

  local AB_KEYS = {alpha = true, beta = true}

  -- beta * input + alpha * prod, PyTorch's addmm/baddbmm (beta = 0 ignores input)
  local function add_scaled(fname, input, prod, opts)
    opts = check_opts(fname, opts, AB_KEYS)
    local alpha, beta = opts.alpha or 1, opts.beta or 1
    if type(alpha) ~= "number" or type(beta) ~= "number" then
      fail(3, "%s: alpha and beta must be numbers", fname)
    end
    if not expandable(input.shape, prod.shape) then
      fail(3, "%s: input of shape %s cannot be broadcast to the product's shape %s", fname,
           shape_str(input), shape_str(prod))
    end
    if alpha ~= 1 then prod = prod * alpha end
    if beta == 0 then return prod end
    if beta ~= 1 then input = input * beta end
    return input + prod
  end

  def("addmm", function(input, m1, m2, opts)
    check_tensor("addmm", "input", input)
    check_ndim("addmm", "mat1", m1, 2)
    check_ndim("addmm", "mat2", m2, 2)
    if m1:size(2) ~= m2:size(1) then
      fail(2, "addmm: mat1 and mat2 shapes cannot be multiplied (%s and %s)", shape_str(m1), shape_str(m2))
    end
    return add_scaled("addmm", input, m1:mm(m2), opts)
  end)

  def("baddbmm", function(input, b1, b2, opts)
    check_tensor("baddbmm", "input", input)
    check_ndim("baddbmm", "batch1", b1, 3)
    check_ndim("baddbmm", "batch2", b2, 3)
    if b1:size(1) ~= b2:size(1) or b1:size(3) ~= b2:size(2) then
      fail(2, "baddbmm: batch1 and batch2 shapes cannot be multiplied (%s and %s)",
           shape_str(b1), shape_str(b2))
    end
    return add_scaled("baddbmm", input, b1:bmm(b2), opts)
  end)

  -- ------------------------------------------------------------ lerp, addc*

  local function check_weight(fname, w)
    if type(w) ~= "number" and not is_tensor(w) then
      fail(3, "%s: weight must be a number or a tensor, got %s", fname, type(w))
    end
  end

  --- start + weight * (end - start), computed as PyTorch does (from the end
  -- when weight >= 0.5, so weight 1 gives end exactly).
  def("lerp", function(start, stop, w)
    check_tensor("lerp", "input", start)
    check_tensor("lerp", "end", stop)
    check_weight("lerp", w)
    broadcast("lerp", start.shape, stop.shape, 2)
    local d = stop - start
    if type(w) == "number" then
      if w < 0.5 then return start + d * w end
      return stop - d * (1 - w)
    end
    return lt.where(w:lt(0.5), start + d * w, stop - d * (1 - w))
  end)

  def("lerp_", function(self, stop, w)
    check_tensor("lerp_", "input", self)
    check_tensor("lerp_", "end", stop)
    check_weight("lerp_", w)
    if not expandable(stop.shape, self.shape) then
      fail(2, "lerp_: end of shape %s cannot be broadcast to input's shape %s",
           shape_str(stop), shape_str(self))
    end
    if type(w) == "number" then
      if w < 0.5 then return self:add_(stop - self, {alpha = w}) end
      return self:sub_(stop):mul_(1 - w):add_(stop)
    end
    return self:copy_(lt.lerp(self, stop, w))
  end)

  local VALUE_KEYS = {value = true}
  local function value_of(fname, v)
    if v == nil then return 1 end
    if type(v) == "number" then return v end
    v = check_opts(fname, v, VALUE_KEYS).value or 1
    if type(v) ~= "number" then fail(3, "%s: value must be a number", fname) end
    return v
  end

  local function addc(fname, div, inplace)
    return function(input, t1, t2, opts)
      check_tensor(fname, "input", input)
      check_tensor(fname, "tensor1", t1)
      check_tensor(fname, "tensor2", t2)
      local value = value_of(fname, opts)
      local s = broadcast(fname, t1.shape, t2.shape, 2)
      if inplace then
        if not expandable(s, input.shape) then
          fail(2, "%s: tensor1 %s and tensor2 %s cannot be broadcast to input's shape %s", fname,
               shape_str(t1), shape_str(t2), shape_str(input))
        end
      else
        broadcast(fname, input.shape, s, 2)
      end
      local p = div and t1 / t2 or t1 * t2
      if inplace then return input:add_(p, {alpha = value}) end
      if value ~= 1 then p = p * value end
      return input + p
    end
  end
  def("addcmul", addc("addcmul", false, false))
  def("addcmul_", addc("addcmul_", false, true))
  def("addcdiv", addc("addcdiv", true, false))
  def("addcdiv_", addc("addcdiv_", true, true))

  -- ------------------------------------------------------------ clamps

  local function clamp_one(fname, is_min, inplace)
    return function(x, v)
      check_tensor(fname, "input", x)
      if type(v) == "number" then
        local lo, hi = nil, nil
        if is_min then lo = v else hi = v end
        if inplace then return x:clamp_(lo, hi) end
        return x:clamp(lo, hi)
      end
      if not is_tensor(v) then
        fail(2, "%s: %s must be a number or a tensor, got %s", fname, is_min and "min" or "max", type(v))
      end
      local r = is_min and x:maximum(v) or x:minimum(v)
      if inplace then return x:copy_(r) end
      return r
    end
  end
  def("clamp_min", clamp_one("clamp_min", true, false))
  def("clamp_max", clamp_one("clamp_max", false, false))
  def("clamp_min_", clamp_one("clamp_min_", true, true))
  def("clamp_max_", clamp_one("clamp_max_", false, true))

  -- ------------------------------------------------------------ predicates

  local function all_false(x)
    return lt.zeros(x.shape, {dtype = "bool", device = x.device})
  end

  def("isfinite", function(x)
    check_tensor("isfinite", "input", x)
    if not x:is_floating_point() then return lt.ones(x.shape, {dtype = "bool", device = x.device}) end
    return (x - x):eq(0)  -- inf - inf and NaN - NaN are NaN
  end)
  def("isposinf", function(x)
    check_tensor("isposinf", "input", x)
    if not x:is_floating_point() then return all_false(x) end
    return x:eq(math.huge)
  end)
  def("isneginf", function(x)
    check_tensor("isneginf", "input", x)
    if not x:is_floating_point() then return all_false(x) end
    return x:eq(-math.huge)
  end)

  local CLOSE_KEYS = {rtol = true, atol = true, equal_nan = true}
  --- |a - b| <= atol + rtol * |b| elementwise (PyTorch's isclose).
  def("isclose", function(a, b, rtol, atol, equal_nan)
    check_tensor("isclose", "input", a)
    check_tensor("isclose", "other", b)
    if is_opts(rtol) then
      local o = check_opts("isclose", rtol, CLOSE_KEYS)
      rtol, atol, equal_nan = o.rtol, o.atol, o.equal_nan
    end
    rtol, atol = rtol or 1e-5, atol or 1e-8
    if type(rtol) ~= "number" or rtol < 0 then
      fail(2, "isclose: rtol must be a non-negative number, got %s", tostring(rtol))
    end
    if type(atol) ~= "number" or atol < 0 then
      fail(2, "isclose: atol must be a non-negative number, got %s", tostring(atol))
    end
    same_dtype("isclose", a, b, "input", "other")
    broadcast("isclose", a.shape, b.shape, 2)
    local close = a:eq(b)
    if a.dtype == "bool" then return close end
    if equal_nan then close = close:logical_or(a:isnan():logical_and(b:isnan())) end
    local err = (a - b):abs()
    local allowed = b:abs() * rtol + atol
    return close:logical_or(err:le(allowed):logical_and(lt.isfinite(err)))
  end)

  -- ------------------------------------------------------------ shifting

  local function int_list(fname, argname, v)
    if type(v) == "number" then return {check_int(fname, argname, v)} end
    if type(v) ~= "table" or is_tensor(v) then
      fail(3, "%s: %s must be an integer or a table of integers, got %s", fname, argname, type(v))
    end
    local r = {}
    for i = 1, #v do r[i] = check_int(fname, argname, v[i]) end
    return r
  end

  local function roll_dim(x, s, d)
    local n = x:size(d)
    if n == 0 then return x end
    s = s % n
    if s == 0 then return x end
    return lt.cat({x:narrow(d, n - s + 1, s), x:narrow(d, 1, n - s)}, d)
  end

  --- Rolls along dims (elements shifted past the end come back at the start).
  def("roll", function(x, shifts, dims)
    check_tensor("roll", "input", x)
    local sh = int_list("roll", "shifts", shifts)
    if dims == nil then
      if #sh ~= 1 then fail(2, "roll: without dims, shifts must be one integer, got %d", #sh) end
      return roll_dim(x:reshape(-1), sh[1], 1):view(x.shape)
    end
    local ds = int_list("roll", "dims", dims)
    if #ds ~= #sh then
      fail(2, "roll: shifts and dims must have the same length, got %d and %d", #sh, #ds)
    end
    local r = x
    for i = 1, #ds do r = roll_dim(r, sh[i], norm_dim("roll", ds[i], x:dim())) end
    if r == x then r = x:clone() end
    return r
  end)

  local DIFF_KEYS = {prepend = true, append = true}
  --- n-th forward difference along dim (default the last).
  def("diff", function(x, n, dim, opts)
    check_tensor("diff", "input", x)
    if is_opts(n) then opts, n = n, nil end
    if is_opts(dim) then opts, dim = dim, nil end
    opts = check_opts("diff", opts, DIFF_KEYS)
    n = check_int("diff", "n", n, 1)
    if n < 0 then fail(2, "diff: order must be non-negative, got %d", n) end
    if x:dim() == 0 then fail(2, "diff: expected at least a 1-D tensor, got a 0-d tensor") end
    local d = norm_dim("diff", check_int("diff", "dim", dim, -1), x:dim())
    local function side(v, name)
      if v == nil then return nil end
      if type(v) == "number" then
        local s = x.shape
        s[d] = 1
        return lt.full(s, v, {dtype = x.dtype, device = x.device})
      end
      check_tensor("diff", name, v)
      if v:dim() ~= x:dim() then
        fail(3, "diff: %s must have as many dims as input, got %s and %s", name, shape_str(v), shape_str(x))
      end
      return v
    end
    local pre, app = side(opts.prepend, "prepend"), side(opts.append, "append")
    if pre or app then
      local parts = {}
      if pre then parts[#parts + 1] = pre end
      parts[#parts + 1] = x
      if app then parts[#parts + 1] = app end
      x = lt.cat(parts, d)
    end
    for _ = 1, n do
      local len = x:size(d)
      if len == 0 then break end
      local hi, lo = x:narrow(d, 2, len - 1), x:narrow(d, 1, len - 1)
      x = x.dtype == "bool" and hi:logical_xor(lo) or hi - lo
    end
    return x
  end)

  --- Repeats each element `repeats` times along dim (flattened when dim is nil).
  def("repeat_interleave", function(x, repeats, dim)
    check_tensor("repeat_interleave", "input", x)
    if dim == nil then
      x = x:reshape(-1)
      dim = 1
    end
    local d = norm_dim("repeat_interleave", dim, x:dim())
    if is_tensor(repeats) then
      if repeats:dim() > 1 or repeats:is_floating_point() then
        fail(2, "repeat_interleave: repeats must be an integer or a 1-D integer tensor, got %s of shape %s",
             repeats.dtype, shape_str(repeats))
      end
      local reps = repeats:reshape(-1):tolist()
      local n = x:size(d)
      if #reps == 1 then
        repeats = reps[1]
      else
        if #reps ~= n then
          fail(2, "repeat_interleave: repeats has %d elements but input has size %d at dim %d", #reps, n, d)
        end
        local idx, k = {}, 0
        for i = 1, n do
          if reps[i] < 0 then fail(2, "repeat_interleave: repeats must be non-negative, got %d", reps[i]) end
          for _ = 1, reps[i] do k = k + 1; idx[k] = i end
        end
        return x:index_select(d, idx_tensor(idx, x.device))
      end
    end
    local r = check_int("repeat_interleave", "repeats", repeats)
    if r < 0 then fail(2, "repeat_interleave: repeats must be non-negative, got %d", r) end
    local s = x.shape
    local e = {}
    for i = 1, #s do e[#e + 1] = s[i]; if i == d then e[#e + 1] = r end end
    local out = x.shape
    out[d] = s[d] * r
    return x:unsqueeze(d + 1):expand(e):reshape(out)
  end)

  -- repeat (a Lua keyword: x["repeat"](x, 2, 3) or x:tile{2, 3})
  local function repeat_(x, ...)
    local fname = "repeat"
    check_tensor(fname, "input", x)
    local sizes = select("#", ...) == 1 and type((...)) == "table" and (...) or {...}
    sizes = int_list(fname, "sizes", sizes)
    local nd = x:dim()
    if #sizes < nd then
      fail(2, "repeat: number of repeat dims (%d) cannot be smaller than the number of tensor dims (%d)",
           #sizes, nd)
    end
    local padded, v, e, out = {}, {}, {}, {}
    local s = x.shape
    for i = 1, #sizes do
      local si = s[i - (#sizes - nd)] or 1
      if sizes[i] < 0 then fail(2, "repeat: sizes must be non-negative, got %s", list_str(sizes)) end
      padded[i] = si
      v[#v + 1] = 1; v[#v + 1] = si
      e[#e + 1] = sizes[i]; e[#e + 1] = si
      out[i] = si * sizes[i]
    end
    if #sizes == 0 then return x:clone() end
    return x:reshape(padded):reshape(v):expand(e):reshape(out)
  end
  def("repeat", repeat_)
  def("tile", function(x, ...)
    check_tensor("tile", "input", x)
    local reps = select("#", ...) == 1 and type((...)) == "table" and (...) or {...}
    reps = int_list("tile", "dims", reps)
    local full = {}
    for _ = 1, x:dim() - #reps do full[#full + 1] = 1 end
    for i = 1, #reps do full[#full + 1] = reps[i] end
    return repeat_(x, full)
  end)

  -- ------------------------------------------------------------ creation

  -- splits (size..., opts) into the size arguments and the options
  local function size_and_opts(...)
    local n = select("#", ...)
    local last = n > 0 and select(n, ...) or nil
    if is_opts(last) then return {select(1, ...)}, n - 1, last end
    return {...}, n, nil
  end

  local function new_opts(self, user)
    local o = {dtype = self.dtype, device = self.device}
    if user then for k, v in pairs(user) do o[k] = v end end
    return o
  end

  local function new_ctor(name, ctor)
    local fname = "new_" .. name
    return function(self, ...)
      check_tensor(fname, "self", self)
      local args, n, opts = size_and_opts(...)
      args[n + 1] = new_opts(self, opts)
      return ctor(table.unpack(args, 1, n + 1))
    end
  end
  def("new_zeros", new_ctor("zeros", lt.zeros))
  def("new_ones", new_ctor("ones", lt.ones))
  def("new_empty", new_ctor("empty", lt.empty))
  def("new_full", function(self, size, value, opts)
    check_tensor("new_full", "self", self)
    return lt.full(size, value, new_opts(self, opts))
  end)
  def("new_tensor", function(self, data, opts)
    check_tensor("new_tensor", "self", self)
    return lt.tensor(data, new_opts(self, opts))
  end)

  def("type_as", function(self, other)
    check_tensor("type_as", "input", self)
    check_tensor("type_as", "other", other)
    return self:to(other)
  end)

  def("numel", function(x) return check_tensor("numel", "input", x):numel() end)

  local LOGSPACE_KEYS = {dtype = true, device = true, requires_grad = true}
  --- base ^ linspace(start, end, steps), computed in float64.
  def("logspace", function(start, stop, steps, base, opts)
    if is_opts(base) then opts, base = base, nil end
    opts = check_opts("logspace", opts, LOGSPACE_KEYS)
    base = base or 10
    if type(base) ~= "number" then fail(2, "logspace: base must be a number, got %s", type(base)) end
    local t = lt.linspace(start, stop, steps, {dtype = "float64", device = opts.device})
    local r = (base ^ t):to(opts.dtype or lt.get_default_dtype())
    if opts.requires_grad then r:requires_grad_(true) end
    return r
  end, false)

  local MESH_KEYS = {indexing = true}
  --- Coordinate grids of 1-D tensors (as multiple results); indexing "ij"
  -- (default, as PyTorch) or "xy" (the first two dims swapped).
  def("meshgrid", function(...)
    local args, n, opts = size_and_opts(...)
    opts = check_opts("meshgrid", opts, MESH_KEYS)
    if n == 1 and type(args[1]) == "table" and not is_tensor(args[1]) then
      args = args[1]
      n = #args
    end
    local indexing = opts.indexing or "ij"
    if indexing ~= "ij" and indexing ~= "xy" then
      fail(2, "meshgrid: indexing must be 'ij' or 'xy', got '%s'", tostring(indexing))
    end
    if n == 0 then fail(2, "meshgrid: expected at least one tensor") end
    local sizes = {}
    for i = 1, n do
      local t = args[i]
      check_tensor("meshgrid", "argument " .. i, t)
      if t:dim() > 1 then
        fail(2, "meshgrid: expected 0-D or 1-D tensors, got shape %s for argument %d", shape_str(t), i)
      end
      if t.dtype ~= args[1].dtype or t.device ~= args[1].device then
        fail(2, "meshgrid: all tensors must have the same dtype and device, got %s on %s and %s on %s",
             args[1].dtype, args[1].device, t.dtype, t.device)
      end
      sizes[i] = t:numel()
    end
    local pos = {}
    for i = 1, n do pos[i] = i end
    if indexing == "xy" and n >= 2 then pos[1], pos[2] = 2, 1 end
    local shape = {}
    for i = 1, n do shape[pos[i]] = sizes[i] end
    local out = {}
    for i = 1, n do
      local v = {}
      for j = 1, n do v[j] = 1 end
      v[pos[i]] = sizes[i]
      out[i] = args[i]:reshape(v):expand(shape)
    end
    return table.unpack(out, 1, n)
  end, false)

  -- ------------------------------------------------------------ selection

  def("count_nonzero", function(x, dim)
    check_tensor("count_nonzero", "input", x)
    if dim == nil then return x:ne(0):sum() end
    local ds = int_list("count_nonzero", "dim", dim)
    for i = 1, #ds do ds[i] = norm_dim("count_nonzero", ds[i], x:dim()) end
    return x:ne(0):sum(ds)
  end)

  local NZ_KEYS = {as_tuple = true}
  --- (n, ndim) int64 of the 1-based indices of the non-zero elements, in
  -- row-major order; with {as_tuple = true} one 1-D tensor per dim (results).
  def("nonzero", function(x, opts)
    check_tensor("nonzero", "input", x)
    opts = check_opts("nonzero", opts, NZ_KEYS)
    if not opts.as_tuple then return C.nonzero(x) end
    if x:dim() == 0 then x = x:reshape(1) end
    local r = C.nonzero(x)
    local out = {}
    for j = 1, x:dim() do out[j] = r:select(2, j):contiguous() end
    return table.unpack(out, 1, x:dim())
  end)
  def("argwhere", function(x)
    check_tensor("argwhere", "input", x)
    return C.nonzero(x)
  end)

  --- 1-D tensor of the elements of x where mask (bool, broadcast) is true.
  def("masked_select", function(x, mask)
    check_tensor("masked_select", "input", x)
    check_tensor("masked_select", "mask", mask)
    if mask.dtype ~= "bool" then
      fail(2, "masked_select: mask must be a bool tensor, got %s", mask.dtype)
    end
    same_device("masked_select", x, mask, "input", "mask")
    local s = broadcast("masked_select", x.shape, mask.shape, 2)
    local idx = C.nonzero(mask:expand(s):reshape(-1)):view(-1)
    return x:expand(s):reshape(-1):index_select(1, idx)
  end)

  -- ------------------------------------------------------------ diagonals

  --- The diagonal (offset > 0 above the main one) of the dims dim1, dim2,
  -- as a new last dim (a copy, not a view).
  local function diagonal(x, offset, dim1, dim2)
    check_tensor("diagonal", "input", x)
    offset = check_int("diagonal", "offset", offset, 0)
    local nd = x:dim()
    if nd < 2 then
      fail(2, "diagonal: expected a tensor with at least 2 dimensions, got shape %s", shape_str(x))
    end
    local d1 = norm_dim("diagonal", check_int("diagonal", "dim1", dim1, 1), nd)
    local d2 = norm_dim("diagonal", check_int("diagonal", "dim2", dim2, 2), nd)
    if d1 == d2 then fail(2, "diagonal: dim1 and dim2 cannot be the same dim (%d)", d1) end
    local n, m = x:size(d1), x:size(d2)
    local r0, c0 = offset < 0 and -offset or 0, offset > 0 and offset or 0
    local L = math.max(0, math.min(n - r0, m - c0))
    local perm, out = {}, {}
    for i = 1, nd do
      if i ~= d1 and i ~= d2 then perm[#perm + 1] = i; out[#out + 1] = x:size(i) end
    end
    perm[#perm + 1] = d1
    perm[#perm + 1] = d2
    out[#out + 1] = L
    if L == 0 then return lt.zeros(out, {dtype = x.dtype, device = x.device}) end
    local sq = x:narrow(d1, r0 + 1, L):narrow(d2, c0 + 1, L):permute(perm)
    local flat = {}
    for i = 1, #out - 1 do flat[i] = out[i] end
    flat[#flat + 1] = L * L
    local idx = lt.arange(L, {device = x.device}) * (L + 1) + 1
    return sq:reshape(flat):index_select(#flat, idx)
  end
  def("diagonal", diagonal)

  def("trace", function(x)
    check_tensor("trace", "input", x)
    if x:dim() ~= 2 then fail(2, "trace: expected a 2-D tensor, got shape %s", shape_str(x)) end
    return diagonal(x):sum()
  end)

  --- Vector -> square matrix with it on diagonal k; matrix -> its diagonal k.
  local function diag(x, k)
    check_tensor("diag", "input", x)
    k = check_int("diag", "diagonal", k, 0)
    if x:dim() == 2 then return diagonal(x, k) end
    if x:dim() ~= 1 then fail(2, "diag: expected a 1-D or 2-D tensor, got shape %s", shape_str(x)) end
    if x.dtype == "bool" then return diag(x:long(), k):bool() end
    local n = x:size(1)
    local N = n + math.abs(k)
    local i = lt.arange(n, {device = x.device})
    local idx = k >= 0 and i * (N + 1) + (k + 1) or i * (N + 1) + (-k * N + 1)
    return lt.zeros(N * N, {dtype = x.dtype, device = x.device}):index_add(1, idx, x):view(N, N)
  end
  def("diag", diag)

  --- Cross product along dim (default: the first dim of size 3, as torch.cross).
  def("cross", function(a, b, dim)
    check_tensor("cross", "input", a)
    check_tensor("cross", "other", b)
    same_device("cross", a, b, "input", "other")
    local s = broadcast("cross", a.shape, b.shape, 2)
    local d
    if dim == nil then
      for i = 1, #s do if s[i] == 3 then d = i; break end end
      if not d then
        fail(2, "cross: no dimension of size 3 in shapes %s and %s", shape_str(a), shape_str(b))
      end
    else
      d = norm_dim("cross", dim, #s)
      if s[d] ~= 3 then
        fail(2, "cross: dim %d must have size 3, got shapes %s and %s", dim, shape_str(a), shape_str(b))
      end
    end
    a, b = a:expand(s), b:expand(s)
    local i1, i2 = idx_tensor({2, 3, 1}, a.device), idx_tensor({3, 1, 2}, a.device)
    return a:index_select(d, i1) * b:index_select(d, i2) - a:index_select(d, i2) * b:index_select(d, i1)
  end)

  -- ------------------------------------------------------------ reductions

  local MOMENT_KEYS = {correction = true, unbiased = true, keepdim = true}
  local function moment_mean(fname, method)
    return function(x, dim, opts)
      check_tensor(fname, "input", x)
      if is_opts(dim) then opts, dim = dim, nil end
      opts = check_opts(fname, opts, MOMENT_KEYS)
      local m = x:mean(dim, {keepdim = opts.keepdim})
      return x[method](x, dim, opts), m
    end
  end
  def("std_mean", moment_mean("std_mean", "std"))
  def("var_mean", moment_mean("var_mean", "var"))

  local AMM_KEYS = {dim = true, keepdim = true}
  --- (min, max) over all elements or over dim.
  def("aminmax", function(x, dim, opts)
    check_tensor("aminmax", "input", x)
    if is_opts(dim) then opts, dim = dim, nil end
    opts = check_opts("aminmax", opts, AMM_KEYS)
    if dim == nil then dim = opts.dim end
    if x:numel() == 0 then
      fail(2, "aminmax: cannot compute on an empty tensor of shape %s", shape_str(x))
    end
    if dim == nil then return x:amin(), x:amax() end
    dim = check_int("aminmax", "dim", dim)
    local o = {keepdim = opts.keepdim}
    return x:amin(dim, o), x:amax(dim, o)
  end)

  -- ------------------------------------------------------------ contractions

  --- Contracts dims of a with dims of b (dims: an integer n = the last n of a
  -- with the first n of b, or {{a dims}, {b dims}}, 1-based).
  def("tensordot", function(a, b, dims)
    check_tensor("tensordot", "a", a)
    check_tensor("tensordot", "b", b)
    same_device("tensordot", a, b, "a", "b")
    local na, nb = a:dim(), b:dim()
    local da, db = {}, {}
    dims = dims == nil and 2 or dims
    if type(dims) == "number" then
      dims = check_int("tensordot", "dims", dims)
      if dims < 0 or dims > na or dims > nb then
        fail(2, "tensordot: dims %d out of range for shapes %s and %s", dims, shape_str(a), shape_str(b))
      end
      for i = 1, dims do da[i] = na - dims + i; db[i] = i end
    elseif type(dims) == "table" and #dims == 2 then
      local la, lb = int_list("tensordot", "dims[1]", dims[1]), int_list("tensordot", "dims[2]", dims[2])
      if #la ~= #lb then
        fail(2, "tensordot: dims lists must have the same length, got %d and %d", #la, #lb)
      end
      for i = 1, #la do
        da[i] = norm_dim("tensordot", la[i], na)
        db[i] = norm_dim("tensordot", lb[i], nb)
      end
    else
      fail(2, "tensordot: dims must be an integer or a pair of tables of dims")
    end
    local K, used_a, used_b = 1, {}, {}
    for i = 1, #da do
      if a:size(da[i]) ~= b:size(db[i]) then
        fail(2, "tensordot: contracted dims have different sizes: dim %d of a %s is %d, dim %d of b %s is %d",
             da[i], shape_str(a), a:size(da[i]), db[i], shape_str(b), b:size(db[i]))
      end
      if used_a[da[i]] or used_b[db[i]] then fail(2, "tensordot: a dim is repeated in dims") end
      used_a[da[i]], used_b[db[i]] = true, true
      K = K * a:size(da[i])
    end
    local pa, pb, out, Mn, N = {}, {}, {}, 1, 1
    for i = 1, na do
      if not used_a[i] then pa[#pa + 1] = i; out[#out + 1] = a:size(i); Mn = Mn * a:size(i) end
    end
    for i = 1, #da do pa[#pa + 1] = da[i]; pb[#pb + 1] = db[i] end
    for i = 1, nb do
      if not used_b[i] then pb[#pb + 1] = i; out[#out + 1] = b:size(i); N = N * b:size(i) end
    end
    local am = (na > 0 and a:permute(pa) or a):reshape(Mn, K)
    local bm = (nb > 0 and b:permute(pb) or b):reshape(K, N)
    return am:mm(bm):reshape(out)
  end, false)

  -- einsum: labels are single letters, ellipsis dims get labels "#1", "#2"...
  local function parse_term(term, which)
    local labels, ell = {}, nil
    local i = 1
    while i <= #term do
      local ch = term:sub(i, i)
      if ch == "." then
        if term:sub(i, i + 2) ~= "..." or ell then
          fail(4, "einsum: invalid ellipsis in %s '%s'", which, term)
        end
        ell = #labels + 1
        i = i + 3
      elseif ch:match("%a") then
        labels[#labels + 1] = ch
        i = i + 1
      else
        fail(4, "einsum: invalid subscript '%s' in %s '%s' (letters and '...' only)", ch, which, term)
      end
    end
    return labels, ell
  end

  local function insert_ell(labels, ell, n_ell, max_ell)
    if not ell then return labels end
    local r = {}
    for i = 1, ell - 1 do r[#r + 1] = labels[i] end
    for j = max_ell - n_ell + 1, max_ell do r[#r + 1] = "#" .. j end
    for i = ell, #labels do r[#r + 1] = labels[i] end
    return r
  end

  local function index_of(list, v)
    for i = 1, #list do if list[i] == v then return i end end
    return nil
  end

  -- sums away the dims whose labels are not in `keep`; returns t, labels
  local function sum_out(t, labels, keep)
    local dims, rest = {}, {}
    for i = 1, #labels do
      if keep[labels[i]] then rest[#rest + 1] = labels[i] else dims[#dims + 1] = i end
    end
    if #dims == 0 then return t, labels end
    return t:sum(dims), rest
  end

  -- takes diagonals for labels repeated in one operand
  local function take_diagonals(t, labels, k)
    while true do
      local p, q
      for i = 1, #labels do
        for j = i + 1, #labels do
          if labels[i] == labels[j] then p, q = i, j; break end
        end
        if p then break end
      end
      if not p then return t, labels end
      if t:size(p) ~= t:size(q) then
        fail(4, "einsum: subscript '%s' is repeated in operand %d for dims of different sizes %d and %d",
             labels[p], k, t:size(p), t:size(q))
      end
      t = diagonal(t, 0, p, q)
      local nl = {}
      for i = 1, #labels do if i ~= p and i ~= q then nl[#nl + 1] = labels[i] end end
      nl[#nl + 1] = labels[p]
      labels = nl
    end
  end

  -- contracts A (labels la) with B (labels lb) keeping the labels in `keep`
  local function contract(A, la, B, lb, keep)
    local inb, ina = {}, {}
    for i = 1, #lb do inb[lb[i]] = i end
    for i = 1, #la do ina[la[i]] = i end
    local batch, aonly, con, bonly = {}, {}, {}, {}
    for _, l in ipairs(la) do
      if inb[l] then
        if keep[l] then batch[#batch + 1] = l else con[#con + 1] = l end
      else
        aonly[#aonly + 1] = l
      end
    end
    for _, l in ipairs(lb) do if not ina[l] then bonly[#bonly + 1] = l end end
    -- sizes (size-1 dims broadcast)
    local size = {}
    local ea, eb = A.shape, B.shape
    local need_a, need_b = false, false
    for _, l in ipairs(la) do size[l] = A:size(ina[l]) end
    for _, l in ipairs(lb) do
      local sb = B:size(inb[l])
      if size[l] == nil or size[l] == sb then size[l] = sb
      elseif size[l] == 1 then size[l] = sb; ea[ina[l]] = sb; need_a = true
      elseif sb == 1 then eb[inb[l]] = size[l]; need_b = true
      else
        fail(4, "einsum: subscript '%s' has size %d in one operand and %d in the other", l, size[l], sb)
      end
    end
    if need_a then A = A:expand(ea) end
    if need_b then B = B:expand(eb) end
    local pa, pb = {}, {}
    local Bs, Ms, Ks, Ns = 1, 1, 1, 1
    local out_shape, out_labels = {}, {}
    for _, l in ipairs(batch) do
      pa[#pa + 1] = ina[l]; pb[#pb + 1] = inb[l]; Bs = Bs * size[l]
      out_shape[#out_shape + 1] = size[l]; out_labels[#out_labels + 1] = l
    end
    for _, l in ipairs(aonly) do
      pa[#pa + 1] = ina[l]; Ms = Ms * size[l]
      out_shape[#out_shape + 1] = size[l]; out_labels[#out_labels + 1] = l
    end
    for _, l in ipairs(con) do pa[#pa + 1] = ina[l]; pb[#pb + 1] = inb[l]; Ks = Ks * size[l] end
    for _, l in ipairs(bonly) do
      pb[#pb + 1] = inb[l]; Ns = Ns * size[l]
      out_shape[#out_shape + 1] = size[l]; out_labels[#out_labels + 1] = l
    end
    if #pa > 0 then A = A:permute(pa) end
    if #pb > 0 then B = B:permute(pb) end
    local r
    if #batch == 0 then
      r = A:reshape(Ms, Ks):mm(B:reshape(Ks, Ns))
    else
      r = A:reshape(Bs, Ms, Ks):bmm(B:reshape(Bs, Ks, Ns))
    end
    return r:reshape(out_shape), out_labels
  end

  --- Einstein summation over one or more operands ('ij,jk->ik', 'ii->i',
  -- 'bhqd,bhkd->bhqk', '...ij->...ji'), lowered to permute/sum/mm/bmm.
  def("einsum", function(eq, ...)
    if type(eq) ~= "string" then fail(2, "einsum: equation must be a string, got %s", type(eq)) end
    local ops = {...}
    if select("#", ...) == 1 and type(ops[1]) == "table" and not is_tensor(ops[1]) then ops = ops[1] end
    for i = 1, #ops do check_tensor("einsum", "operand " .. i, ops[i]) end
    eq = eq:gsub("%s", "")
    local lhs, rhs = eq:match("^(.-)%->(.*)$")
    if not lhs then lhs = eq end
    local terms = {}
    for term in (lhs .. ","):gmatch("([^,]*),") do terms[#terms + 1] = term end
    if #terms ~= #ops then
      fail(2, "einsum: equation '%s' has %d operands but %d tensors were given", eq, #terms, #ops)
    end
    if #ops == 0 then fail(2, "einsum: at least one operand is required") end
    local labels, ells, nell, max_ell = {}, {}, {}, 0
    for k = 1, #ops do
      labels[k], ells[k] = parse_term(terms[k], "operand " .. k)
      local nd = ops[k]:dim()
      if ells[k] then
        nell[k] = nd - #labels[k]
        if nell[k] < 0 then
          fail(2, "einsum: operand %d has %d dims but subscripts '%s' name more", k, nd, terms[k])
        end
        max_ell = math.max(max_ell, nell[k])
      elseif #labels[k] ~= nd then
        fail(2, "einsum: operand %d has shape %s but subscripts '%s' name %d dims", k, shape_str(ops[k]),
             terms[k], #labels[k])
      end
    end
    local count = {}
    for k = 1, #ops do
      labels[k] = insert_ell(labels[k], ells[k], nell[k] or 0, max_ell)
      for _, l in ipairs(labels[k]) do count[l] = (count[l] or 0) + 1 end
    end
    -- sizes must agree (1 broadcasts)
    local size = {}
    for k = 1, #ops do
      for i, l in ipairs(labels[k]) do
        local s = ops[k]:size(i)
        if size[l] == nil or size[l] == 1 then size[l] = s
        elseif s ~= 1 and s ~= size[l] then
          fail(2, "einsum: subscript '%s' has size %d for operand %d but %d before",
               l:sub(1, 1) == "#" and "..." or l, s, k, size[l])
        end
      end
    end
    local out = {}
    if rhs then
      local ol, oell = parse_term(rhs, "output")
      out = insert_ell(ol, oell, max_ell, max_ell)
      local seen = {}
      for _, l in ipairs(out) do
        if seen[l] then fail(2, "einsum: output subscript '%s' appears more than once", l) end
        if not count[l] then fail(2, "einsum: output subscript '%s' does not appear in the inputs", l) end
        seen[l] = true
      end
    else
      for j = 1, max_ell do out[#out + 1] = "#" .. j end
      local once = {}
      for l, c in pairs(count) do if c == 1 and l:sub(1, 1) ~= "#" then once[#once + 1] = l end end
      table.sort(once)
      for _, l in ipairs(once) do out[#out + 1] = l end
    end
    local in_out = {}
    for _, l in ipairs(out) do in_out[l] = true end
    -- labels still needed after operand k
    local function needed_after(k)
      local keep = {}
      for l in pairs(in_out) do keep[l] = true end
      for j = k + 1, #ops do for _, l in ipairs(labels[j]) do keep[l] = true end end
      return keep
    end
    local function prepare(k, others)
      local t, ls = take_diagonals(ops[k], labels[k], k)
      return sum_out(t, ls, others)
    end
    local keep1 = needed_after(1)
    local cur, cl = prepare(1, keep1)
    for k = 2, #ops do
      local keep = needed_after(k)
      local kb = {}
      for l in pairs(keep) do kb[l] = true end
      for _, l in ipairs(cl) do kb[l] = true end
      local B, bl = prepare(k, kb)
      cur, cl = contract(cur, cl, B, bl, keep)
    end
    cur, cl = sum_out(cur, cl, in_out)
    -- output dims missing from the result (size-1 broadcast leftovers) cannot
    -- happen: every output label is in some input and was kept
    local perm, identity = {}, true
    for i, l in ipairs(out) do
      perm[i] = index_of(cl, l)
      identity = identity and perm[i] == i
    end
    if #out > 0 and not identity then cur = cur:permute(perm) end
    return cur
  end, false)
end

return M
