--- Pooling layers over (N, C, H, W): MaxPool2d, AvgPool2d,
-- AdaptiveAvgPool2d. Thin modules over nn.functional; no 1-D/3-D or
-- adaptive max pooling.
-- @module luatrain.nn.pooling
local module = require("luatrain.nn.module")
local F = require("luatrain.nn.functional")

local Module = module.Module
local M = {}

local function fmt(v)
  if type(v) == "table" then return ("(%s, %s)"):format(v[1], v[2]) end
  return tostring(v)
end

local function check_kernel(k, name)
  if not (math.type(k) == "integer" or (type(k) == "table" and #k == 2)) then
    error(("%s: bad argument #1 'kernel_size' (integer or {h, w} expected, got %s)")
          :format(name, tostring(k)), 4)
  end
end

--- MaxPool2d(kernel_size, {stride = kernel_size, padding = 0, dilation = 1,
-- ceil_mode = false, return_indices = false}); a number as 2nd argument is the stride.
local MaxPool2d = Module:extend("MaxPool2d")
M.MaxPool2d = MaxPool2d
function MaxPool2d:init(kernel_size, opts)
  check_kernel(kernel_size, "MaxPool2d")
  if type(opts) == "number" or (type(opts) == "table" and #opts == 2) then opts = {stride = opts} end
  opts = opts or {}
  self.kernel_size = kernel_size
  self.stride = opts.stride or kernel_size
  self.padding = opts.padding or 0
  self.dilation = opts.dilation or 1
  self.ceil_mode = opts.ceil_mode or false
  self.return_indices = opts.return_indices or false
end
function MaxPool2d:forward(x)
  return F.max_pool2d(x, self.kernel_size, {stride = self.stride, padding = self.padding,
                                            dilation = self.dilation, ceil_mode = self.ceil_mode,
                                            return_indices = self.return_indices})
end
function MaxPool2d:extra_repr()
  return ("kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=%s")
         :format(fmt(self.kernel_size), fmt(self.stride), fmt(self.padding), fmt(self.dilation),
                 tostring(self.ceil_mode))
end

--- AvgPool2d(kernel_size, {stride = kernel_size, padding = 0, ceil_mode = false,
-- count_include_pad = true, divisor_override = nil}).
local AvgPool2d = Module:extend("AvgPool2d")
M.AvgPool2d = AvgPool2d
function AvgPool2d:init(kernel_size, opts)
  check_kernel(kernel_size, "AvgPool2d")
  if type(opts) == "number" or (type(opts) == "table" and #opts == 2) then opts = {stride = opts} end
  opts = opts or {}
  self.kernel_size = kernel_size
  self.stride = opts.stride or kernel_size
  self.padding = opts.padding or 0
  self.ceil_mode = opts.ceil_mode or false
  if opts.count_include_pad == nil then self.count_include_pad = true
  else self.count_include_pad = opts.count_include_pad end
  self.divisor_override = opts.divisor_override
end
function AvgPool2d:forward(x)
  return F.avg_pool2d(x, self.kernel_size, {stride = self.stride, padding = self.padding,
                                            ceil_mode = self.ceil_mode,
                                            count_include_pad = self.count_include_pad,
                                            divisor_override = self.divisor_override})
end
function AvgPool2d:extra_repr()
  return ("kernel_size=%s, stride=%s, padding=%s"):format(fmt(self.kernel_size),
                                                        fmt(self.stride), fmt(self.padding))
end

--- AdaptiveAvgPool2d(output_size): output_size a number or {h, w}.
local AdaptiveAvgPool2d = Module:extend("AdaptiveAvgPool2d")
M.AdaptiveAvgPool2d = AdaptiveAvgPool2d
function AdaptiveAvgPool2d:init(output_size)
  check_kernel(output_size, "AdaptiveAvgPool2d")
  self.output_size = output_size
end
function AdaptiveAvgPool2d:forward(x) return F.adaptive_avg_pool2d(x, self.output_size) end
function AdaptiveAvgPool2d:extra_repr() return "output_size=" .. fmt(self.output_size) end

return M
