--- Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
-- AdaptiveMaxPool2d over (N, C, H, W); MaxPool1d, AvgPool1d,
-- AdaptiveAvgPool1d, AdaptiveMaxPool1d over (N, C, L). Thin modules over
-- nn.functional (the 1-D ones run the 2-D ops); no 3-D or LP/fractional pooling.
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


local function check_int(k, name, cls)
  if type(k) == "table" and #k == 1 then k = k[1] end
  if math.type(k) ~= "integer" then
    error(("%s: bad argument #1 '%s' (integer expected, got %s)"):format(cls, name, tostring(k)), 4)
  end
  return k
end

local function check_rank(self, x, lo, hi)
  local cls = getmetatable(self).__name
  if not require("luatrain").is_tensor(x) then
    error(("%s: bad argument #1 'input' (tensor expected, got %s)"):format(cls, type(x)), 3)
  end
  if x:dim() < lo or x:dim() > hi then
    error(("%s: expected %dD or %dD (batch mode) input, got input of shape {%s}")
          :format(cls, lo, hi, table.concat(x.shape, ", ")), 3)
  end
end

--- MaxPool1d(kernel_size, {stride = kernel_size, padding = 0, dilation = 1,
-- ceil_mode = false, return_indices = false}) over (N, C, L) or (C, L); a
-- number as 2nd argument is the stride.
local MaxPool1d = Module:extend("MaxPool1d")
M.MaxPool1d = MaxPool1d
function MaxPool1d:init(kernel_size, opts)
  self.kernel_size = check_int(kernel_size, "kernel_size", "MaxPool1d")
  if type(opts) == "number" then opts = {stride = opts} end
  opts = opts or {}
  self.stride = opts.stride or self.kernel_size
  self.padding = opts.padding or 0
  self.dilation = opts.dilation or 1
  self.ceil_mode = opts.ceil_mode or false
  self.return_indices = opts.return_indices or false
end
function MaxPool1d:forward(x)
  check_rank(self, x, 2, 3)
  return F.max_pool1d(x, self.kernel_size, {stride = self.stride, padding = self.padding,
                                            dilation = self.dilation, ceil_mode = self.ceil_mode,
                                            return_indices = self.return_indices})
end
function MaxPool1d:extra_repr()
  return ("kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=%s")
         :format(fmt(self.kernel_size), fmt(self.stride), fmt(self.padding), fmt(self.dilation),
                 tostring(self.ceil_mode))
end

--- AvgPool1d(kernel_size, {stride = kernel_size, padding = 0, ceil_mode = false,
-- count_include_pad = true}) over (N, C, L) or (C, L).
local AvgPool1d = Module:extend("AvgPool1d")
M.AvgPool1d = AvgPool1d
function AvgPool1d:init(kernel_size, opts)
  self.kernel_size = check_int(kernel_size, "kernel_size", "AvgPool1d")
  if type(opts) == "number" then opts = {stride = opts} end
  opts = opts or {}
  self.stride = opts.stride or self.kernel_size
  self.padding = opts.padding or 0
  self.ceil_mode = opts.ceil_mode or false
  if opts.count_include_pad == nil then self.count_include_pad = true
  else self.count_include_pad = opts.count_include_pad end
end
function AvgPool1d:forward(x)
  check_rank(self, x, 2, 3)
  return F.avg_pool1d(x, self.kernel_size, {stride = self.stride, padding = self.padding,
                                            ceil_mode = self.ceil_mode,
                                            count_include_pad = self.count_include_pad})
end
function AvgPool1d:extra_repr()
  return ("kernel_size=(%s,), stride=(%s,), padding=(%s,)"):format(fmt(self.kernel_size),
                                                                 fmt(self.stride), fmt(self.padding))
end

--- AdaptiveAvgPool1d(output_size) over (N, C, L) or (C, L).
local AdaptiveAvgPool1d = Module:extend("AdaptiveAvgPool1d")
M.AdaptiveAvgPool1d = AdaptiveAvgPool1d
function AdaptiveAvgPool1d:init(output_size)
  self.output_size = check_int(output_size, "output_size", "AdaptiveAvgPool1d")
end
function AdaptiveAvgPool1d:forward(x)
  check_rank(self, x, 2, 3)
  return F.adaptive_avg_pool1d(x, self.output_size)
end
function AdaptiveAvgPool1d:extra_repr() return "output_size=" .. fmt(self.output_size) end

--- AdaptiveMaxPool2d(output_size, return_indices = false): output_size a
-- number or {h, w}; with return_indices the forward also returns the 0-based
-- flat positions in H*W (as MaxPool2d's).
local AdaptiveMaxPool2d = Module:extend("AdaptiveMaxPool2d")
M.AdaptiveMaxPool2d = AdaptiveMaxPool2d
function AdaptiveMaxPool2d:init(output_size, return_indices)
  check_kernel(output_size, "AdaptiveMaxPool2d")
  if type(return_indices) == "table" then return_indices = return_indices.return_indices end
  self.output_size = output_size
  self.return_indices = return_indices or false
end
function AdaptiveMaxPool2d:forward(x)
  check_rank(self, x, 3, 4)
  return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)
end
function AdaptiveMaxPool2d:extra_repr() return "output_size=" .. fmt(self.output_size) end

--- AdaptiveMaxPool1d(output_size, return_indices = false) over (N, C, L) or (C, L).
local AdaptiveMaxPool1d = Module:extend("AdaptiveMaxPool1d")
M.AdaptiveMaxPool1d = AdaptiveMaxPool1d
function AdaptiveMaxPool1d:init(output_size, return_indices)
  self.output_size = check_int(output_size, "output_size", "AdaptiveMaxPool1d")
  if type(return_indices) == "table" then return_indices = return_indices.return_indices end
  self.return_indices = return_indices or false
end
function AdaptiveMaxPool1d:forward(x)
  check_rank(self, x, 2, 3)
  return F.adaptive_max_pool1d(x, self.output_size, self.return_indices)
end
function AdaptiveMaxPool1d:extra_repr() return "output_size=" .. fmt(self.output_size) end

return M
