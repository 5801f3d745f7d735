--- Conv2d: 2-D convolution layer over (N, C, H, W) input.
-- Weight (out, in/groups, kh, kw) and bias initialised as PyTorch does.
-- padding may be numbers, {h, w}, "valid" or "same" (stride 1). Only
-- zero padding; no Conv1d/Conv3d/transposed convolutions.
-- @module luatrain.nn.conv
local lt = require("luatrain")
local module = require("luatrain.nn.module")
local init = require("luatrain.nn.init_fns")
local F = require("luatrain.nn.functional")

local Module, Parameter = module.Module, module.Parameter
local M = {}

local function pair(v, name)
  if type(v) == "number" then
    if math.type(v) ~= "integer" then error(("Conv2d: option '%s' must be an integer"):format(name), 4) end
    return {v, v}
  end
  if type(v) == "table" and #v == 2 then return {v[1], v[2]} end
  error(("Conv2d: bad option '%s' (integer or {h, w} expected, got %s)"):format(name, tostring(v)), 4)
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

return M
