--- Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d.
-- Weights (out, in/groups, k...) for convolutions and (in, out/groups, k...)
-- for transposed ones, biases, initialised as PyTorch does, so state_dicts
-- load from PyTorch by name and shape. padding may be numbers, {h, w},
-- "valid" or "same" (stride 1; not for transposed). Only zero padding; no
-- Conv3d/ConvTranspose3d and no lazy variants.
-- @module luatrain.nn.conv
local lt = require("luatrain")
local module = require("luatrain.nn.module")
local init = require("luatrain.nn.init_fns")
local F = require("luatrain.nn.functional")

local Module, Parameter = module.Module, module.Parameter
local M = {}

local function pair(v, name, cls)
  cls = cls or "Conv2d"
  if type(v) == "number" then
    if math.type(v) ~= "integer" then error(("%s: option '%s' must be an integer"):format(cls, name), 4) end
    return {v, v}
  end
  if type(v) == "table" and #v == 2 then return {v[1], v[2]} end
  error(("%s: bad option '%s' (integer or {h, w} expected, got %s)"):format(cls, name, tostring(v)), 4)
end

--- Conv2d(in_channels, out_channels, kernel_size, {stride = 1, padding = 0,
-- dilation = 1, groups = 1, bias = true, dtype =, device =}).
local Conv2d = Module:extend("Conv2d")
M.Conv2d = Conv2d

function Conv2d:init(in_channels, out_channels, kernel_size, opts)
  for i, e in ipairs({{in_channels, "in_channels"}, {out_channels, "out_channels"}}) do
    if math.type(e[1]) ~= "integer" or e[1] <= 0 then
      error(("Conv2d: bad argument #%d '%s' (positive integer expected, got %s)")
            :format(i, e[2], tostring(e[1])), 3)
    end
  end
  if kernel_size == nil then
    error("Conv2d: bad argument #3 'kernel_size' (integer or {h, w} expected)", 3)
  end
  opts = opts or {}
  if type(opts) ~= "table" then error("Conv2d: bad argument #4 'opts' (table expected)", 3) end
  local groups = opts.groups or 1
  if in_channels % groups ~= 0 then error("Conv2d: in_channels must be divisible by groups", 3) end
  if out_channels % groups ~= 0 then error("Conv2d: out_channels must be divisible by groups", 3) end
  self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
  self.kernel_size = pair(kernel_size, "kernel_size")
  self.stride = pair(opts.stride or 1, "stride")
  self.dilation = pair(opts.dilation or 1, "dilation")
  local padding = opts.padding or 0
  if padding == "valid" then padding = 0 end
  if padding == "same" then
    if self.stride[1] ~= 1 or self.stride[2] ~= 1 then
      error("Conv2d: padding='same' is not supported for strided convolutions", 3)
    end
    self.padding = "same"
  else
    self.padding = pair(padding, "padding")
  end
  local topts = {dtype = opts.dtype, device = opts.device}
  self.weight = Parameter(lt.empty({out_channels, in_channels // groups,
                                    self.kernel_size[1], self.kernel_size[2]}, topts))
  if opts.bias ~= false then
    self.bias = Parameter(lt.empty({out_channels}, topts))
  else
    self:register_parameter("bias", nil)
  end
  self:reset_parameters()
end

--- Re-draws weight and bias with PyTorch's default initialisation.
function Conv2d:reset_parameters()
  init.kaiming_uniform_(self.weight, {a = math.sqrt(5)})
  if self.bias ~= nil then
    local fan_in = init.calculate_fan_in_and_fan_out(self.weight)
    local bound = fan_in > 0 and 1 / math.sqrt(fan_in) or 0
    init.uniform_(self.bias, -bound, bound)
  end
end

function Conv2d:forward(x)
  local padding = self.padding
  if padding == "same" then
    local pads, sym = {}, true
    local lefts = {}
    for d = 2, 1, -1 do   -- F.pad order: last dim first
      local total = self.dilation[d] * (self.kernel_size[d] - 1)
      local left = total // 2
      lefts[d] = left
      pads[#pads + 1], pads[#pads + 2] = left, total - left
      if total - left ~= left then sym = false end
    end
    if sym then
      padding = {lefts[1], lefts[2]}
    else
      x = F.pad(x, pads)
      padding = {0, 0}
    end
  end
  return lt.conv2d(x, self.weight, self.bias, {stride = self.stride, padding = padding,
                                               dilation = self.dilation, groups = self.groups})
end

function Conv2d:extra_repr()
  local function p2(t) return ("(%d, %d)"):format(t[1], t[2]) end
  local s = ("%d, %d, kernel_size=%s, stride=%s"):format(self.in_channels, self.out_channels,
                                                         p2(self.kernel_size), p2(self.stride))
  if self.padding == "same" then s = s .. ", padding=same"
  elseif self.padding[1] ~= 0 or self.padding[2] ~= 0 then s = s .. ", padding=" .. p2(self.padding) end
  if self.dilation[1] ~= 1 or self.dilation[2] ~= 1 then s = s .. ", dilation=" .. p2(self.dilation) end
  if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
  if self.bias == nil then s = s .. ", bias=false" end
  return s
end


local function shape_str(t) return "{" .. table.concat(t.shape, ", ") .. "}" end

-- integer or {n} -> n (1-D options)
local function single(v, name, cls)
  if type(v) == "table" and #v == 1 then v = v[1] end
  if math.type(v) ~= "integer" then
    error(("%s: bad option '%s' (integer expected, got %s)"):format(cls, name, tostring(v)), 4)
  end
  return v
end

local function check_channels(cls, in_channels, out_channels, kernel_size, opts)
  for i, e in ipairs({{in_channels, "in_channels"}, {out_channels, "out_channels"}}) do
    if math.type(e[1]) ~= "integer" or e[1] <= 0 then
      error(("%s: bad argument #%d '%s' (positive integer expected, got %s)")
            :format(cls, i, e[2], tostring(e[1])), 4)
    end
  end
  if kernel_size == nil then error(("%s: bad argument #3 'kernel_size' (integer expected)"):format(cls), 4) end
  opts = opts or {}
  if type(opts) ~= "table" then error(("%s: bad argument #4 'opts' (table expected)"):format(cls), 4) end
  local groups = opts.groups or 1
  if math.type(groups) ~= "integer" or groups <= 0 then
    error(("%s: bad option 'groups' (positive integer expected, got %s)"):format(cls, tostring(groups)), 4)
  end
  if in_channels % groups ~= 0 then error(("%s: in_channels must be divisible by groups"):format(cls), 4) end
  if out_channels % groups ~= 0 then error(("%s: out_channels must be divisible by groups"):format(cls), 4) end
  return opts, groups
end

-- input of rank lo..lo+1 with `c` channels at dim -(k+1) (k spatial dims)
local function check_input(self, x, k)
  local cls = getmetatable(self).__name
  if not lt.is_tensor(x) then
    error(("%s: bad argument #1 'input' (tensor expected, got %s)"):format(cls, type(x)), 3)
  end
  local nd = x:dim()
  if nd ~= k + 1 and nd ~= k + 2 then
    error(("%s: expected %dD (unbatched) or %dD (batched) input, got input of shape %s")
          :format(cls, k + 1, k + 2, shape_str(x)), 3)
  end
  if x.shape[nd - k] ~= self.in_channels then
    error(("%s: expected input with %d channels (dim %d), got input of shape %s")
          :format(cls, self.in_channels, nd - k, shape_str(x)), 3)
  end
end

--- Conv1d(in_channels, out_channels, kernel_size, {stride = 1, padding = 0
-- (integer, "valid" or "same"), dilation = 1, groups = 1, bias = true, dtype =, device =})
-- over (N, C, L) or (C, L); weight (out, in/groups, k).
local Conv1d = Module:extend("Conv1d")
M.Conv1d = Conv1d

function Conv1d:init(in_channels, out_channels, kernel_size, opts)
  local groups
  opts, groups = check_channels("Conv1d", in_channels, out_channels, kernel_size, opts)
  self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
  self.kernel_size = single(kernel_size, "kernel_size", "Conv1d")
  self.stride = single(opts.stride or 1, "stride", "Conv1d")
  self.dilation = single(opts.dilation or 1, "dilation", "Conv1d")
  local padding = opts.padding or 0
  if padding == "valid" then padding = 0 end
  if padding == "same" then
    if self.stride ~= 1 then error("Conv1d: padding='same' is not supported for strided convolutions", 3) end
    self.padding = "same"
  else
    self.padding = single(padding, "padding", "Conv1d")
  end
  local topts = {dtype = opts.dtype, device = opts.device}
  self.weight = Parameter(lt.empty({out_channels, in_channels // groups, self.kernel_size}, topts))
  if opts.bias ~= false then
    self.bias = Parameter(lt.empty({out_channels}, topts))
  else
    self:register_parameter("bias", nil)
  end
  self:reset_parameters()
end

Conv1d.reset_parameters = Conv2d.reset_parameters

function Conv1d:forward(x)
  check_input(self, x, 1)
  return F.conv1d(x, self.weight, self.bias, {stride = self.stride, padding = self.padding,
                                              dilation = self.dilation, groups = self.groups})
end

function Conv1d:extra_repr()
  local s = ("%d, %d, kernel_size=(%d,), stride=(%d,)"):format(self.in_channels, self.out_channels,
                                                              self.kernel_size, self.stride)
  if self.padding == "same" then s = s .. ", padding=same"
  elseif self.padding ~= 0 then s = s .. (", padding=(%d,)"):format(self.padding) end
  if self.dilation ~= 1 then s = s .. (", dilation=(%d,)"):format(self.dilation) end
  if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
  if self.bias == nil then s = s .. ", bias=false" end
  return s
end

--- ConvTranspose2d(in_channels, out_channels, kernel_size, {stride = 1, padding = 0,
-- output_padding = 0, groups = 1, bias = true, dilation = 1, dtype =, device =})
-- over (N, C, H, W) or (C, H, W); weight (in, out/groups, kh, kw) as PyTorch.
-- `module(x, output_size)` picks the output_padding that gives output_size
-- ({h, w}, or with leading dims: the last two are used).
local ConvTranspose2d = Module:extend("ConvTranspose2d")
M.ConvTranspose2d = ConvTranspose2d

function ConvTranspose2d:init(in_channels, out_channels, kernel_size, opts)
  local groups
  opts, groups = check_channels("ConvTranspose2d", in_channels, out_channels, kernel_size, opts)
  self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
  self.kernel_size = pair(kernel_size, "kernel_size", "ConvTranspose2d")
  self.stride = pair(opts.stride or 1, "stride", "ConvTranspose2d")
  self.padding = pair(opts.padding or 0, "padding", "ConvTranspose2d")
  self.output_padding = pair(opts.output_padding or 0, "output_padding", "ConvTranspose2d")
  self.dilation = pair(opts.dilation or 1, "dilation", "ConvTranspose2d")
  local topts = {dtype = opts.dtype, device = opts.device}
  self.weight = Parameter(lt.empty({in_channels, out_channels // groups,
                                    self.kernel_size[1], self.kernel_size[2]}, topts))
  if opts.bias ~= false then
    self.bias = Parameter(lt.empty({out_channels}, topts))
  else
    self:register_parameter("bias", nil)
  end
  self:reset_parameters()
end

ConvTranspose2d.reset_parameters = Conv2d.reset_parameters

-- output_padding giving `output_size` for input x (PyTorch's _output_padding)
local function output_padding(self, x, output_size, k)
  local cls = getmetatable(self).__name
  if output_size == nil then return self.output_padding end
  if math.type(output_size) == "integer" then output_size = {output_size} end
  local n = type(output_size) == "table" and #output_size or 0
  if n ~= k and n ~= k + 1 and n ~= k + 2 then
    error(("%s: output_size must have %d or %d elements (got %s)"):format(cls, k, k + 2, tostring(n)), 3)
  end
  local one = k == 1
  local st = one and {self.stride} or self.stride
  local pd = one and {self.padding} or self.padding
  local dl = one and {self.dilation} or self.dilation
  local ks = one and {self.kernel_size} or self.kernel_size
  local res = {}
  for d = 1, k do
    local insz = x.shape[x:dim() - k + d]
    local want = output_size[n - k + d]
    local min = (insz - 1) * st[d] - 2 * pd[d] + dl[d] * (ks[d] - 1) + 1
    local max = min + st[d] - 1
    if want < min or want > max then
      error(("%s: requested an output size of %s, but valid sizes range from %d to %d (for an input of shape %s)")
            :format(cls, "{" .. table.concat(output_size, ", ") .. "}", min, max,
                    "{" .. table.concat(x.shape, ", ") .. "}"), 3)
    end
    res[d] = want - min
  end
  return one and res[1] or res
end

function ConvTranspose2d:forward(x, output_size)
  check_input(self, x, 2)
  return F.conv_transpose2d(x, self.weight, self.bias,
                            {stride = self.stride, padding = self.padding,
                             output_padding = output_padding(self, x, output_size, 2),
                             dilation = self.dilation, groups = self.groups})
end

function ConvTranspose2d:extra_repr()
  local function p2(t) return ("(%d, %d)"):format(t[1], t[2]) end
  local s = ("%d, %d, kernel_size=%s, stride=%s"):format(self.in_channels, self.out_channels,
                                                         p2(self.kernel_size), p2(self.stride))
  if self.padding[1] ~= 0 or self.padding[2] ~= 0 then s = s .. ", padding=" .. p2(self.padding) end
  if self.output_padding[1] ~= 0 or self.output_padding[2] ~= 0 then
    s = s .. ", output_padding=" .. p2(self.output_padding)
  end
  if self.dilation[1] ~= 1 or self.dilation[2] ~= 1 then s = s .. ", dilation=" .. p2(self.dilation) end
  if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
  if self.bias == nil then s = s .. ", bias=false" end
  return s
end

--- ConvTranspose1d(in_channels, out_channels, kernel_size, {stride = 1, padding = 0,
-- output_padding = 0, groups = 1, bias = true, dilation = 1, dtype =, device =})
-- over (N, C, L) or (C, L); weight (in, out/groups, k). `module(x, output_size)` as 2-D.
local ConvTranspose1d = Module:extend("ConvTranspose1d")
M.ConvTranspose1d = ConvTranspose1d

function ConvTranspose1d:init(in_channels, out_channels, kernel_size, opts)
  local groups
  opts, groups = check_channels("ConvTranspose1d", in_channels, out_channels, kernel_size, opts)
  self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
  self.kernel_size = single(kernel_size, "kernel_size", "ConvTranspose1d")
  self.stride = single(opts.stride or 1, "stride", "ConvTranspose1d")
  self.padding = single(opts.padding or 0, "padding", "ConvTranspose1d")
  self.output_padding = single(opts.output_padding or 0, "output_padding", "ConvTranspose1d")
  self.dilation = single(opts.dilation or 1, "dilation", "ConvTranspose1d")
  local topts = {dtype = opts.dtype, device = opts.device}
  self.weight = Parameter(lt.empty({in_channels, out_channels // groups, self.kernel_size}, topts))
  if opts.bias ~= false then
    self.bias = Parameter(lt.empty({out_channels}, topts))
  else
    self:register_parameter("bias", nil)
  end
  self:reset_parameters()
end

ConvTranspose1d.reset_parameters = Conv2d.reset_parameters

function ConvTranspose1d:forward(x, output_size)
  check_input(self, x, 1)
  return F.conv_transpose1d(x, self.weight, self.bias,
                            {stride = self.stride, padding = self.padding,
                             output_padding = output_padding(self, x, output_size, 1),
                             dilation = self.dilation, groups = self.groups})
end

function ConvTranspose1d:extra_repr()
  local s = ("%d, %d, kernel_size=(%d,), stride=(%d,)"):format(self.in_channels, self.out_channels,
                                                              self.kernel_size, self.stride)
  if self.padding ~= 0 then s = s .. (", padding=(%d,)"):format(self.padding) end
  if self.output_padding ~= 0 then s = s .. (", output_padding=(%d,)"):format(self.output_padding) end
  if self.dilation ~= 1 then s = s .. (", dilation=(%d,)"):format(self.dilation) end
  if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
  if self.bias == nil then s = s .. ", bias=false" end
  return s
end

return M
