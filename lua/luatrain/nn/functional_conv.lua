--- nn.functional, convolution / normalisation / resampling family:
-- conv1d, conv_transpose1d/2d, group_norm, instance_norm, rms_norm,
-- interpolate, pixel_shuffle/unshuffle, 1-D and adaptive-max pooling.
-- Merged into `nn.functional` (every key here is copied there). Only
-- conv_transpose2d is an engine op of its own; 1-D forms lower onto the
-- 2-D ops with a unit height, the norms compose the fused layer_norm (or
-- elementwise ops), interpolate composes index_select, so no function here
-- needs a backward of its own. No bicubic/area/trilinear modes, no 3-D ops.
-- @module luatrain.nn.functional_conv
local lt = require("luatrain")
local argcheck = require "luatrain.nn._argcheck"

local M = {}

local shape_str = argcheck.shape_str

local check_tensor = argcheck.check_tensor

local function check_opt_tensor(v, argn, name, fname)
  if v ~= nil and not lt.is_tensor(v) then
    error(("%s: bad argument #%d '%s' (tensor or nil expected, got %s)")
          :format(fname, argn, name, type(v)), 3)
  end
end

local check_opts = argcheck.check_opts

local function check_rank(x, lo, hi, fname, what)
  local nd = x:dim()
  if nd < lo or nd > hi then
    error(("%s: expected %s input, got input of shape %s"):format(fname, what, shape_str(x)), 3)
  end
end

-- a 1-D option: integer or {n} -> integer
local function single(v, key, fname, def)
  if v == nil then return def end
  if type(v) == "table" and #v == 1 then v = v[1] end
  if math.type(v) ~= "integer" then
    error(("%s: option '%s' must be an integer, got %s"):format(fname, key, tostring(v)), 3)
  end
  return v
end

-- ------------------------------------------------------------ convolutions

--- 1-D convolution over (N, C, L) or unbatched (C, L) input.
-- @param x tensor (N, C, L) or (C, L)
-- @param weight tensor (O, C/groups, k)
-- @param bias tensor (O) or nil
-- @param opts {stride = 1, padding = 0 (integer, "valid" or "same"), dilation = 1, groups = 1}
function M.conv1d(x, weight, bias, opts)
  local fname = "conv1d"
  check_tensor(x, 1, "input", fname)
  check_tensor(weight, 2, "weight", fname)
  check_opt_tensor(bias, 3, "bias", fname)
  opts = check_opts(opts, 4, fname)
  check_rank(x, 2, 3, fname, "2D (unbatched) or 3D (batched)")
  if weight:dim() ~= 3 then
    error(("conv1d: expected 3-dimensional weight (O, C/groups, k), got %s"):format(shape_str(weight)), 2)
  end
  local stride = single(opts.stride, "stride", fname, 1)
  local dilation = single(opts.dilation, "dilation", fname, 1)
  local groups = opts.groups or 1
  local cin = x.shape[x:dim() - 1]
  if math.type(groups) == "integer" and groups > 0 and weight.shape[2] * groups ~= cin then
    error(("conv1d: given groups=%d, weight of size %s, expected input %s to have %d channels, but got %d channels")
          :format(groups, shape_str(weight), shape_str(x), weight.shape[2] * groups, cin), 2)
  end
  local padding = opts.padding or 0
  if padding == "valid" then padding = 0 end
  if padding == "same" then
    if stride ~= 1 then error("conv1d: padding='same' is not supported for strided convolutions", 2) end
    local total = dilation * (weight.shape[3] - 1)
    local left = total // 2
    if total - left ~= left then x = lt.pad(x, {left, total - left}); padding = 0
    else padding = left end
  end
  padding = single(padding, "padding", fname, 0)
  local y = lt.conv2d(x:unsqueeze(-2), weight:unsqueeze(3), bias,
                      {stride = {1, stride}, padding = {0, padding}, dilation = {1, dilation},
                       groups = groups})
  return y:squeeze(-2)
end

--- 2-D transposed convolution (the gradient of conv2d with respect to its input).
-- @param x tensor (N, C_in, H, W) or (C_in, H, W)
-- @param weight tensor (C_in, C_out/groups, kh, kw)
-- @param bias tensor (C_out) or nil
-- @param opts {stride = 1, padding = 0, output_padding = 0, groups = 1, dilation = 1}
--   (integers or {h, w}); output size (H-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1
function M.conv_transpose2d(x, weight, bias, opts)
  local fname = "conv_transpose2d"
  check_tensor(x, 1, "input", fname)
  check_tensor(weight, 2, "weight", fname)
  check_opt_tensor(bias, 3, "bias", fname)
  opts = check_opts(opts, 4, fname)
  return lt.conv_transpose2d(x, weight, bias, opts)
end

--- 1-D transposed convolution over (N, C_in, L) or (C_in, L).
-- @param weight tensor (C_in, C_out/groups, k)
-- @param opts {stride = 1, padding = 0, output_padding = 0, groups = 1, dilation = 1}
function M.conv_transpose1d(x, weight, bias, opts)
  local fname = "conv_transpose1d"
  check_tensor(x, 1, "input", fname)
  check_tensor(weight, 2, "weight", fname)
  check_opt_tensor(bias, 3, "bias", fname)
  opts = check_opts(opts, 4, fname)
  check_rank(x, 2, 3, fname, "2D (unbatched) or 3D (batched)")
  if weight:dim() ~= 3 then
    error(("conv_transpose1d: expected 3-dimensional weight (C_in, C_out/groups, k), got %s")
          :format(shape_str(weight)), 2)
  end
  local cin = x.shape[x:dim() - 1]
  if weight.shape[1] ~= cin then
    error(("conv_transpose1d: weight of size %s expects input %s to have %d channels, but got %d channels")
          :format(shape_str(weight), shape_str(x), weight.shape[1], cin), 2)
  end
  local o = {stride = {1, single(opts.stride, "stride", fname, 1)},
             padding = {0, single(opts.padding, "padding", fname, 0)},
             output_padding = {0, single(opts.output_padding, "output_padding", fname, 0)},
             dilation = {1, single(opts.dilation, "dilation", fname, 1)},
             groups = opts.groups}
  return lt.conv_transpose2d(x:unsqueeze(-2), weight:unsqueeze(3), bias, o):squeeze(-2)
end

-- ------------------------------------------------------------ normalisation

-- reshapes a per-channel (C) tensor to broadcast over (N, C, ...) of rank nd
local function chan_view(t, nd)
  local s = {1, t:numel()}
  for i = 3, nd do s[i] = 1 end
  return t:reshape(s)
end

local function check_chan_param(t, name, C, x, fname)
  if t ~= nil and (t:dim() ~= 1 or t.shape[1] ~= C) then
    error(("%s: expected '%s' of shape {%d} for input of shape %s, got %s")
          :format(fname, name, C, shape_str(x), shape_str(t)), 3)
  end
end

--- Group normalisation: statistics over each group of channels (and all
-- spatial positions) of each sample, then a per-channel affine map.
-- Composed from the fused layer_norm over (N, G, C/G * spatial).
-- @param x tensor (N, C, ...)
-- @param num_groups integer dividing C
-- @param weight tensor (C) or nil
-- @param bias tensor (C) or nil
-- @param eps number (default 1e-5)
function M.group_norm(x, num_groups, weight, bias, eps)
  local fname = "group_norm"
  check_tensor(x, 1, "input", fname)
  check_opt_tensor(weight, 3, "weight", fname)
  check_opt_tensor(bias, 4, "bias", fname)
  if math.type(num_groups) ~= "integer" or num_groups <= 0 then
    error(("group_norm: bad argument #2 'num_groups' (positive integer expected, got %s)")
          :format(tostring(num_groups)), 2)
  end
  if x:dim() < 2 then
    error(("group_norm: expected input of at least 2 dims (N, C, ...), got shape %s"):format(shape_str(x)), 2)
  end
  local shape = x.shape
  local N, C = shape[1], shape[2]
  if C % num_groups ~= 0 then
    error(("group_norm: expected number of channels in input %s to be divisible by num_groups=%d")
          :format(shape_str(x), num_groups), 2)
  end
  check_chan_param(weight, "weight", C, x, fname)
  check_chan_param(bias, "bias", C, x, fname)
  local inner = 1
  for i = 2, #shape do inner = inner * shape[i] end
  inner = inner // num_groups
  local y = lt.layer_norm(x:reshape(N, num_groups, inner), {inner}, nil, nil, eps or 1e-5)
  y = y:reshape(shape)
  if weight ~= nil then y = y * chan_view(weight, #shape) end
  if bias ~= nil then y = y + chan_view(bias, #shape) end
  return y
end

--- Instance normalisation: statistics over the spatial dims of each
-- (sample, channel). With use_input_stats (default true) and running
-- stats given, updates them as PyTorch (unbiased variance averaged over
-- the batch, momentum); with use_input_stats = false normalises by them.
-- @param x tensor (N, C, ...)
-- @param running_mean tensor (C) or nil
-- @param running_var tensor (C) or nil
-- @param weight tensor (C) or nil
-- @param bias tensor (C) or nil
-- @param use_input_stats boolean (default true)
-- @param momentum number (default 0.1)
-- @param eps number (default 1e-5)
function M.instance_norm(x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)
  local fname = "instance_norm"
  check_tensor(x, 1, "input", fname)
  check_opt_tensor(running_mean, 2, "running_mean", fname)
  check_opt_tensor(running_var, 3, "running_var", fname)
  check_opt_tensor(weight, 4, "weight", fname)
  check_opt_tensor(bias, 5, "bias", fname)
  if use_input_stats == nil then use_input_stats = true end
  momentum, eps = momentum or 0.1, eps or 1e-5
  if x:dim() < 3 then
    error(("instance_norm: expected input of at least 3 dims (N, C, ...), got shape %s"):format(shape_str(x)), 2)
  end
  local shape = x.shape
  local N, C = shape[1], shape[2]
  check_chan_param(running_mean, "running_mean", C, x, fname)
  check_chan_param(running_var, "running_var", C, x, fname)
  check_chan_param(weight, "weight", C, x, fname)
  check_chan_param(bias, "bias", C, x, fname)
  if not use_input_stats then
    if running_mean == nil or running_var == nil then
      error("instance_norm: running_mean and running_var are needed when use_input_stats is false", 2)
    end
    local y = (x - chan_view(running_mean, #shape)) * chan_view((running_var + eps):rsqrt(), #shape)
    if weight ~= nil then y = y * chan_view(weight, #shape) end
    if bias ~= nil then y = y + chan_view(bias, #shape) end
    return y
  end
  if running_mean ~= nil or running_var ~= nil then
    lt.no_grad(function()
      local xs = x:detach():reshape(N, C, -1)
      if running_mean ~= nil then
        local m = xs:mean(3):mean(1):to(running_mean.dtype)
        running_mean:copy_(running_mean * (1 - momentum) + m * momentum)
      end
      if running_var ~= nil then
        local v = xs:var(3):mean(1):to(running_var.dtype)
        running_var:copy_(running_var * (1 - momentum) + v * momentum)
      end
    end)
  end
  return M.group_norm(x, C, weight, bias, eps)
end

local finfo_eps = {float32 = 1.1920928955078125e-07, float64 = 2.220446049250313e-16,
                   float16 = 0.0009765625, bfloat16 = 0.0078125}

--- Root-mean-square normalisation over the trailing `normalized_shape` dims:
-- x / sqrt(mean(x^2) + eps) * weight. Composed from elementwise ops and a mean.
-- @param normalized_shape integer or table of the trailing dims' sizes
-- @param weight tensor of normalized_shape or nil
-- @param eps number or nil (nil: the machine epsilon of x's dtype, as PyTorch)
function M.rms_norm(x, normalized_shape, weight, eps)
  local fname = "rms_norm"
  check_tensor(x, 1, "input", fname)
  check_opt_tensor(weight, 3, "weight", fname)
  if math.type(normalized_shape) == "integer" then normalized_shape = {normalized_shape} end
  if type(normalized_shape) ~= "table" or #normalized_shape == 0 then
    error(("rms_norm: bad argument #2 'normalized_shape' (integer or table expected, got %s)")
          :format(tostring(normalized_shape)), 2)
  end
  local k, shape = #normalized_shape, x.shape
  local ok = k <= #shape
  for i = 1, k do ok = ok and shape[#shape - k + i] == normalized_shape[i] end
  if not ok then
    error(("rms_norm: normalized_shape {%s} does not match the trailing dims of input shape %s")
          :format(table.concat(normalized_shape, ", "), shape_str(x)), 2)
  end
  if weight ~= nil then
    local ws, wok = weight.shape, weight:dim() == k
    for i = 1, k do wok = wok and ws[i] == normalized_shape[i] end
    if not wok then
      error(("rms_norm: expected 'weight' of shape {%s}, got %s")
            :format(table.concat(normalized_shape, ", "), shape_str(weight)), 2)
    end
  end
  if not x:is_floating_point() then
    error(("rms_norm: expected a floating point input, got %s"):format(x.dtype), 2)
  end
  eps = eps or finfo_eps[x.dtype] or finfo_eps.float32
  local dims = {}
  for i = 1, k do dims[i] = -i end
  local y = x * ((x * x):mean(dims, {keepdim = true}) + eps):rsqrt()
  if weight ~= nil then y = y * weight end
  return y
end

-- ------------------------------------------------------------ resampling

local function f32(v) return (string.unpack("f", string.pack("f", v))) end

-- source indices (1-based int64 tensor) of nearest / nearest-exact along one dim
local function nearest_index(n_in, n_out, sf, exact, dev)
  local idx = {}
  if n_out == n_in and not exact then
    for j = 0, n_out - 1 do idx[j + 1] = j + 1 end
  elseif n_out == 2 * n_in and not exact then
    for j = 0, n_out - 1 do idx[j + 1] = (j >> 1) + 1 end
  else  -- PyTorch computes in float32: scale = float(1/sf) or float(in)/out
    local scale = sf and f32(1.0 / sf) or f32(f32(n_in) / n_out)
    for j = 0, n_out - 1 do
      local s = exact and f32((j + 0.5) * scale) or f32(j * scale)
      idx[j + 1] = math.min(math.floor(s), n_in - 1) + 1
    end
  end
  return lt.tensor(idx, {dtype = "int64", device = dev})
end

-- linear interpolation of x along dim d (1-based from the front) to n_out
local function linear_along(x, d, n_out, sf, align_corners)
  local n_in = x.shape[d]
  local scale
  if align_corners then scale = n_out > 1 and (n_in - 1) / (n_out - 1) or 0
  else scale = sf and 1.0 / sf or n_in / n_out end
  local i0, i1, lam = {}, {}, {}
  for j = 0, n_out - 1 do
    local src = align_corners and scale * j or math.max(scale * (j + 0.5) - 0.5, 0)
    local a = math.min(math.floor(src), n_in - 1)
    local l = math.min(math.max(src - a, 0), 1)
    i0[j + 1], i1[j + 1], lam[j + 1] = a + 1, math.min(a + 1, n_in - 1) + 1, l
  end
  local dev = x.device
  local lshape = {n_out}
  for k = d + 1, x:dim() do lshape[#lshape + 1] = 1 end
  local w1 = lt.tensor(lam, {dtype = x.dtype, device = dev}):reshape(lshape)
  local a = x:index_select(d, lt.tensor(i0, {dtype = "int64", device = dev}))
  local b = x:index_select(d, lt.tensor(i1, {dtype = "int64", device = dev}))
  return a * (1 - w1) + b * w1
end

-- each slice of dim d repeated k times in place (nearest upsampling by an
-- integer factor): a reshape/expand/reshape, whose backward is a sum
local function repeat_along(x, d, k)
  if k == 1 then return x end
  local s, a, b = x.shape, {}, {}
  for i = 1, #s do
    a[#a + 1], b[#b + 1] = s[i], s[i]
    if i == d then a[#a + 1], b[#b + 1] = 1, k end
  end
  local r = {table.unpack(s)}
  r[d] = s[d] * k
  return x:reshape(a):expand(b):reshape(r)
end

local modes = {nearest = true, ["nearest-exact"] = true, linear = 3, bilinear = 4}

--- Resizes the spatial dims of (N, C, L) or (N, C, H, W) input.
-- @param x tensor
-- @param opts {size = (integer or table), scale_factor = (number or table),
--   mode = "nearest" | "nearest-exact" | "linear" (3-D) | "bilinear" (4-D),
--   align_corners = (linear modes only; default false), recompute_scale_factor = false}
function M.interpolate(x, opts)
  local fname = "interpolate"
  check_tensor(x, 1, "input", fname)
  opts = check_opts(opts, 2, fname)
  for k in pairs(opts) do
    if k ~= "size" and k ~= "scale_factor" and k ~= "mode" and k ~= "align_corners"
       and k ~= "recompute_scale_factor" then
      error(("interpolate: unknown option '%s'"):format(tostring(k)), 2)
    end
  end
  local mode = opts.mode or "nearest"
  if not modes[mode] then
    error(("interpolate: bad option 'mode' ('%s'; 'nearest', 'nearest-exact', 'linear' or 'bilinear' expected)")
          :format(tostring(mode)), 2)
  end
  local nd = x:dim()
  if nd ~= 3 and nd ~= 4 then
    error(("interpolate: expected 3-D (N, C, L) or 4-D (N, C, H, W) input, got shape %s"):format(shape_str(x)), 2)
  end
  if type(modes[mode]) == "number" and modes[mode] ~= nd then
    error(("interpolate: mode '%s' expects %d-D input, got shape %s"):format(mode, modes[mode], shape_str(x)), 2)
  end
  local linear = type(modes[mode]) == "number"
  if opts.align_corners ~= nil and not linear then
    error("interpolate: align_corners option can only be set with the interpolating modes: linear | bilinear", 2)
  end
  if not x:is_floating_point() and linear then
    error(("interpolate: mode '%s' expects a floating point input, got %s"):format(mode, x.dtype), 2)
  end
  local nsp = nd - 2
  local size, sf = opts.size, opts.scale_factor
  if size ~= nil and sf ~= nil then error("interpolate: only one of size or scale_factor should be defined", 2) end
  if size == nil and sf == nil then error("interpolate: either size or scale_factor should be defined", 2) end
  local function spread(v, name, isint)
    if type(v) ~= "table" then v = {v} end
    if #v == 1 then local t = {} for i = 1, nsp do t[i] = v[1] end v = t end
    if #v ~= nsp then
      error(("interpolate: option '%s' has %d values for input shape %s with %d spatial dims")
            :format(name, #v, shape_str(x), nsp), 3)
    end
    for i = 1, nsp do
      local ok = isint and math.type(v[i]) == "integer" and v[i] > 0 or
                 not isint and type(v[i]) == "number" and v[i] > 0
      if not ok then
        error(("interpolate: option '%s' must hold positive %s, got %s")
              :format(name, isint and "integers" or "numbers", tostring(v[i])), 3)
      end
    end
    return v
  end
  local out, scales = {}, {}
  if size ~= nil then
    out = spread(size, "size", true)
  else
    local s = spread(sf, "scale_factor", false)
    for i = 1, nsp do
      out[i] = math.floor(x.shape[2 + i] * s[i])
      if out[i] < 1 then
        error(("interpolate: scale_factor %g gives an empty output for input shape %s"):format(s[i], shape_str(x)), 2)
      end
      if not opts.recompute_scale_factor then scales[i] = s[i] end
    end
  end
  local y = x
  for i = 1, nsp do
    local d = 2 + i
    if linear then
      y = linear_along(y, d, out[i], scales[i], opts.align_corners)
    elseif out[i] % x.shape[d] == 0 then  -- integer factor k: src = floor(j / k) in both modes
      y = repeat_along(y, d, out[i] // x.shape[d])
    else
      y = y:index_select(d, nearest_index(x.shape[d], out[i], scales[i], mode == "nearest-exact", x.device))
    end
  end
  return y
end

--- Rearranges (*, C*r^2, H, W) into (*, C, H*r, W*r).
function M.pixel_shuffle(x, upscale_factor)
  local fname = "pixel_shuffle"
  check_tensor(x, 1, "input", fname)
  local r = upscale_factor
  if math.type(r) ~= "integer" or r <= 0 then
    error(("pixel_shuffle: bad argument #2 'upscale_factor' (positive integer expected, got %s)"):format(tostring(r)), 2)
  end
  local s, nd = x.shape, x:dim()
  if nd < 3 or nd > 6 then
    error(("pixel_shuffle: expected input of 3 to 6 dims (*, C*r^2, H, W), got shape %s"):format(shape_str(x)), 2)
  end
  local C, H, W = s[nd - 2], s[nd - 1], s[nd]
  if C % (r * r) ~= 0 then
    error(("pixel_shuffle: channels %d of input shape %s are not divisible by upscale_factor^2 = %d")
          :format(C, shape_str(x), r * r), 2)
  end
  local nb, b = nd - 3, {}
  for i = 1, nb do b[i] = s[i] end
  local function with(...) local t = {table.unpack(b)} for _, v in ipairs({...}) do t[#t + 1] = v end return t end
  local perm = {}
  for i = 1, nb do perm[i] = i end
  for _, p in ipairs({1, 4, 2, 5, 3}) do perm[#perm + 1] = nb + p end
  return x:reshape(with(C // (r * r), r, r, H, W)):permute(perm):reshape(with(C // (r * r), H * r, W * r))
end

--- Rearranges (*, C, H*r, W*r) into (*, C*r^2, H, W) (inverse of pixel_shuffle).
function M.pixel_unshuffle(x, downscale_factor)
  local fname = "pixel_unshuffle"
  check_tensor(x, 1, "input", fname)
  local r = downscale_factor
  if math.type(r) ~= "integer" or r <= 0 then
    error(("pixel_unshuffle: bad argument #2 'downscale_factor' (positive integer expected, got %s)"):format(tostring(r)), 2)
  end
  local s, nd = x.shape, x:dim()
  if nd < 3 or nd > 6 then
    error(("pixel_unshuffle: expected input of 3 to 6 dims (*, C, H*r, W*r), got shape %s"):format(shape_str(x)), 2)
  end
  local C, H, W = s[nd - 2], s[nd - 1], s[nd]
  if H % r ~= 0 or W % r ~= 0 then
    error(("pixel_unshuffle: height and width of input shape %s must be divisible by downscale_factor %d")
          :format(shape_str(x), r), 2)
  end
  local nb, b = nd - 3, {}
  for i = 1, nb do b[i] = s[i] end
  local function with(...) local t = {table.unpack(b)} for _, v in ipairs({...}) do t[#t + 1] = v end return t end
  local perm = {}
  for i = 1, nb do perm[i] = i end
  for _, p in ipairs({1, 3, 5, 2, 4}) do perm[#perm + 1] = nb + p end
  return x:reshape(with(C, H // r, r, W // r, r)):permute(perm):reshape(with(C * r * r, H // r, W // r))
end

-- ------------------------------------------------------------ pooling

local function pool1d_opts(opts, fname, keys)
  local o = {}
  for k, v in pairs(opts) do
    if not keys[k] then error(("%s: unknown option '%s'"):format(fname, tostring(k)), 3) end
    if k == "stride" or k == "padding" or k == "dilation" then
      o[k] = {k == "padding" and 0 or 1, single(v, k, fname)}
    else
      o[k] = v
    end
  end
  return o
end

--- 1-D max pooling over (N, C, L) or (C, L).
-- @param opts {stride = kernel_size, padding = 0, dilation = 1, ceil_mode = false,
--   return_indices = false} (indices as max_pool2d's, positions along L)
function M.max_pool1d(x, kernel_size, opts)
  local fname = "max_pool1d"
  check_tensor(x, 1, "input", fname)
  opts = check_opts(opts, 3, fname)
  check_rank(x, 2, 3, fname, "2D or 3D (batch mode)")
  local k = single(kernel_size, "kernel_size", fname)
  local o = pool1d_opts(opts, fname, {stride = 1, padding = 1, dilation = 1, ceil_mode = 1, return_indices = 1})
  o.stride = o.stride or {1, k}
  local y, idx = lt.max_pool2d(x:unsqueeze(-2), {1, k}, o)
  if idx then return y:squeeze(-2), idx:squeeze(-2) end
  return y:squeeze(-2)
end

--- 1-D average pooling over (N, C, L) or (C, L).
-- @param opts {stride = kernel_size, padding = 0, ceil_mode = false, count_include_pad = true}
function M.avg_pool1d(x, kernel_size, opts)
  local fname = "avg_pool1d"
  check_tensor(x, 1, "input", fname)
  opts = check_opts(opts, 3, fname)
  check_rank(x, 2, 3, fname, "2D or 3D (batch mode)")
  local k = single(kernel_size, "kernel_size", fname)
  local o = pool1d_opts(opts, fname, {stride = 1, padding = 1, ceil_mode = 1, count_include_pad = 1})
  o.stride = o.stride or {1, k}
  return lt.avg_pool2d(x:unsqueeze(-2), {1, k}, o):squeeze(-2)
end

--- Adaptive average pooling of (N, C, L) or (C, L) to `output_size` positions.
function M.adaptive_avg_pool1d(x, output_size)
  local fname = "adaptive_avg_pool1d"
  check_tensor(x, 1, "input", fname)
  check_rank(x, 2, 3, fname, "2D or 3D (batch mode)")
  local n = single(output_size, "output_size", fname)
  return lt.adaptive_avg_pool2d(x:unsqueeze(-2), {1, n}):squeeze(-2)
end

-- window starts (0-based) and a padded index list (1-based, windows of
-- `k` entries, short windows repeating their last element) along one dim
local function adaptive_windows(n_in, n_out, dev)
  local starts, k = {}, 0
  for i = 0, n_out - 1 do
    local a, b = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
    starts[i + 1] = a
    if b - a > k then k = b - a end
  end
  local idx = {}
  for i = 0, n_out - 1 do
    local a, b = starts[i + 1], -((-(i + 1) * n_in) // n_out)
    for t = 0, k - 1 do idx[#idx + 1] = math.min(a + t, b - 1) + 1 end
  end
  return starts, k, lt.tensor(idx, {dtype = "int64", device = dev})
end

--- Adaptive max pooling of (N, C, H, W) or (C, H, W) to `output_size`
-- (integer or {h, w}); with return_indices also the int64 flat positions
-- in H*W, 0-based like max_pool2d's indices. Evenly dividing sizes use
-- max_pool2d; other sizes a separable max over gathered windows.
function M.adaptive_max_pool2d(x, output_size, return_indices)
  local fname = "adaptive_max_pool2d"
  check_tensor(x, 1, "input", fname)
  if type(return_indices) == "table" then return_indices = return_indices.return_indices end
  check_rank(x, 3, 4, fname, "3D or 4D (batch mode)")
  local os = output_size
  if math.type(os) == "integer" then os = {os, os} end
  if type(os) ~= "table" or #os ~= 2 or math.type(os[1]) ~= "integer" or math.type(os[2]) ~= "integer"
     or os[1] <= 0 or os[2] <= 0 then
    error(("adaptive_max_pool2d: bad argument #2 'output_size' (positive integer or {h, w} expected, got %s)")
          :format(tostring(output_size)), 2)
  end
  if not x:is_floating_point() then
    error(("adaptive_max_pool2d: expected a floating point input, got %s"):format(x.dtype), 2)
  end
  local s, nd = x.shape, x:dim()
  local H, W = s[nd - 1], s[nd]
  if H == 0 or W == 0 then
    error(("adaptive_max_pool2d: expected non-empty spatial dims, got input of shape %s"):format(shape_str(x)), 2)
  end
  local oh, ow = os[1], os[2]
  if H % oh == 0 and W % ow == 0 then
    local k = {H // oh, W // ow}
    return lt.max_pool2d(x, k, {stride = k, return_indices = return_indices or false})
  end
  local dev = x.device
  local sw, kw, iw = adaptive_windows(W, ow, dev)
  local sh, kh, ih = adaptive_windows(H, oh, dev)
  local lead = {}
  for i = 1, nd - 2 do lead[i] = s[i] end
  local function shp(...) local t = {table.unpack(lead)} for _, v in ipairs({...}) do t[#t + 1] = v end return t end
  -- along W: (.., H, ow*kw) -> (.., H, ow, kw) -> max
  local vw, aw = x:index_select(nd, iw):reshape(shp(H, ow, kw)):max(nd + 1)
  -- along H: (.., oh*kh, ow) -> (.., oh, kh, ow) -> max
  local vh, ah = vw:index_select(nd - 1, ih):reshape(shp(oh, kh, ow)):max(nd)
  if not return_indices then return vh end
  local out
  lt.no_grad(function()
    local startw = lt.tensor(sw, {dtype = "int64", device = dev})
    local starth = lt.tensor(sh, {dtype = "int64", device = dev}):reshape(oh, 1)
    local col = aw - 1 + startw                                  -- (.., H, ow) 0-based
    local colsel = col:index_select(nd - 1, ih):reshape(shp(oh, kh, ow))
                      :gather(nd, ah:unsqueeze(nd)):squeeze(nd)  -- (.., oh, ow)
    local row = ah - 1 + starth
    out = row * W + colsel                                       -- 0-based, as max_pool2d's
  end)
  return vh, out
end

--- Adaptive max pooling of (N, C, L) or (C, L) to `output_size` positions.
function M.adaptive_max_pool1d(x, output_size, return_indices)
  local fname = "adaptive_max_pool1d"
  check_tensor(x, 1, "input", fname)
  if type(return_indices) == "table" then return_indices = return_indices.return_indices end
  check_rank(x, 2, 3, fname, "2D or 3D (batch mode)")
  local n = single(output_size, "output_size", fname)
  local y, idx = M.adaptive_max_pool2d(x:unsqueeze(-2), {1, n}, return_indices)
  if return_indices then return y:squeeze(-2), idx:squeeze(-2) end
  return y:squeeze(-2)
end

return M
