--- Resampling and reshaping layers: Upsample (UpsamplingNearest2d,
-- UpsamplingBilinear2d), PixelShuffle, PixelUnshuffle and Unflatten.
-- Thin modules over nn.functional (interpolate, pixel_shuffle, ...); no
-- parameters or buffers. No bicubic/trilinear/area modes.
-- @module luatrain.nn.upsampling
local lt = require("luatrain")
local module = require("luatrain.nn.module")
local F = require("luatrain.nn.functional")

local Module = module.Module
local M = {}

local function fmt(v)
  if type(v) == "table" then return "(" .. table.concat(v, ", ") .. ")" end
  return tostring(v)
end

local function check_input(self, x)
  if not lt.is_tensor(x) then
    error(("%s: bad argument #1 'input' (tensor expected, got %s)")
          :format(getmetatable(self).__name, type(x)), 3)
  end
end

--- Upsample({size =, scale_factor =, mode = "nearest" | "nearest-exact" |
-- "linear" | "bilinear", align_corners =, recompute_scale_factor =}):
-- F.interpolate over (N, C, L) or (N, C, H, W) input.
local Upsample = Module:extend("Upsample")
M.Upsample = Upsample
function Upsample:init(opts)
  local cls = getmetatable(self).__name
  if opts ~= nil and type(opts) ~= "table" then
    error(("%s: bad argument #1 'opts' (table expected, got %s)"):format(cls, type(opts)), 3)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "size" and k ~= "scale_factor" and k ~= "mode" and k ~= "align_corners"
       and k ~= "recompute_scale_factor" then
      error(("%s: unknown option '%s'"):format(cls, tostring(k)), 3)
    end
  end
  if (opts.size == nil) == (opts.scale_factor == nil) then
    error(("%s: exactly one of 'size' or 'scale_factor' must be given"):format(cls), 3)
  end
  self.size, self.scale_factor = opts.size, opts.scale_factor
  self.mode = opts.mode or "nearest"
  self.align_corners = opts.align_corners
  self.recompute_scale_factor = opts.recompute_scale_factor
end
function Upsample:forward(x)
  check_input(self, x)
  return F.interpolate(x, {size = self.size, scale_factor = self.scale_factor, mode = self.mode,
                           align_corners = self.align_corners,
                           recompute_scale_factor = self.recompute_scale_factor})
end
function Upsample:extra_repr()
  if self.scale_factor ~= nil then
    return ("scale_factor=%s, mode='%s'"):format(fmt(self.scale_factor), self.mode)
  end
  return ("size=%s, mode='%s'"):format(fmt(self.size), self.mode)
end

--- UpsamplingNearest2d({size =} or {scale_factor =}): Upsample with mode "nearest".
local UpsamplingNearest2d = Upsample:extend("UpsamplingNearest2d")
M.UpsamplingNearest2d = UpsamplingNearest2d
function UpsamplingNearest2d:init(opts)
  opts = opts or {}
  Upsample.init(self, {size = opts.size, scale_factor = opts.scale_factor, mode = "nearest"})
end

--- UpsamplingBilinear2d({size =} or {scale_factor =}): mode "bilinear", align_corners = true.
local UpsamplingBilinear2d = Upsample:extend("UpsamplingBilinear2d")
M.UpsamplingBilinear2d = UpsamplingBilinear2d
function UpsamplingBilinear2d:init(opts)
  opts = opts or {}
  Upsample.init(self, {size = opts.size, scale_factor = opts.scale_factor, mode = "bilinear",
                       align_corners = true})
end

--- PixelShuffle(upscale_factor): (*, C*r^2, H, W) -> (*, C, H*r, W*r).
local PixelShuffle = Module:extend("PixelShuffle")
M.PixelShuffle = PixelShuffle
function PixelShuffle:init(upscale_factor)
  if math.type(upscale_factor) ~= "integer" or upscale_factor <= 0 then
    error(("PixelShuffle: bad argument #1 'upscale_factor' (positive integer expected, got %s)")
          :format(tostring(upscale_factor)), 3)
  end
  self.upscale_factor = upscale_factor
end
function PixelShuffle:forward(x)
  check_input(self, x)
  return F.pixel_shuffle(x, self.upscale_factor)
end
function PixelShuffle:extra_repr() return "upscale_factor=" .. self.upscale_factor end

--- PixelUnshuffle(downscale_factor): (*, C, H*r, W*r) -> (*, C*r^2, H, W).
local PixelUnshuffle = Module:extend("PixelUnshuffle")
M.PixelUnshuffle = PixelUnshuffle
function PixelUnshuffle:init(downscale_factor)
  if math.type(downscale_factor) ~= "integer" or downscale_factor <= 0 then
    error(("PixelUnshuffle: bad argument #1 'downscale_factor' (positive integer expected, got %s)")
          :format(tostring(downscale_factor)), 3)
  end
  self.downscale_factor = downscale_factor
end
function PixelUnshuffle:forward(x)
  check_input(self, x)
  return F.pixel_unshuffle(x, self.downscale_factor)
end
function PixelUnshuffle:extra_repr() return "downscale_factor=" .. self.downscale_factor end

--- Unflatten(dim, unflattened_size): splits dim `dim` (1-based, negative
-- from the end) into the sizes of the table `unflattened_size` (one may be -1).
local Unflatten = Module:extend("Unflatten")
M.Unflatten = Unflatten
function Unflatten:init(dim, unflattened_size)
  if math.type(dim) ~= "integer" or dim == 0 then
    error(("Unflatten: bad argument #1 'dim' (non-zero integer expected, got %s)"):format(tostring(dim)), 3)
  end
  if type(unflattened_size) ~= "table" or #unflattened_size == 0 then
    error(("Unflatten: bad argument #2 'unflattened_size' (table of integers expected, got %s)")
          :format(tostring(unflattened_size)), 3)
  end
  local neg = 0
  for _, v in ipairs(unflattened_size) do
    if math.type(v) ~= "integer" or (v < 0 and v ~= -1) then
      error(("Unflatten: bad argument #2 'unflattened_size' (sizes must be integers >= 0 or -1, got %s)")
            :format(tostring(v)), 3)
    end
    if v == -1 then neg = neg + 1 end
  end
  if neg > 1 then error("Unflatten: only one size in 'unflattened_size' may be -1", 3) end
  self.dim, self.unflattened_size = dim, {table.unpack(unflattened_size)}
end
function Unflatten:forward(x)
  check_input(self, x)
  local s, nd = x.shape, x:dim()
  local d = self.dim < 0 and nd + 1 + self.dim or self.dim
  if d < 1 or d > nd then
    error(("Unflatten: dim %d out of range for input of shape {%s}"):format(self.dim, table.concat(s, ", ")), 2)
  end
  local prod, free = 1, nil
  for i, v in ipairs(self.unflattened_size) do
    if v == -1 then free = i else prod = prod * v end
  end
  local sizes = {table.unpack(self.unflattened_size)}
  if free then
    if prod == 0 or s[d] % prod ~= 0 then prod = -1 else sizes[free] = s[d] // prod; prod = s[d] end
  end
  if prod ~= s[d] then
    error(("Unflatten: sizes {%s} do not multiply to the size %d of dim %d of input shape {%s}")
          :format(table.concat(self.unflattened_size, ", "), s[d], self.dim, table.concat(s, ", ")), 2)
  end
  local ns = {}
  for i = 1, d - 1 do ns[#ns + 1] = s[i] end
  for _, v in ipairs(sizes) do ns[#ns + 1] = v end
  for i = d + 1, nd do ns[#ns + 1] = s[i] end
  return x:reshape(ns)
end
function Unflatten:extra_repr()
  return ("dim=%d, unflattened_size=%s"):format(self.dim, fmt(self.unflattened_size))
end

return M
