--- luatrain.data.transforms - augmentations applied to a whole BATCH of
-- images {B, C, H, W} with tensor ops (a handful of C calls per batch, no
-- per-sample or per-pixel Lua): Normalize, RandomHorizontalFlip, RandomCrop,
-- Compose. Randomness comes from the engine generator, so
-- lt.seed_everything makes them reproducible. A {C, H, W} image is treated
-- as a batch of one.
local class = require "luatrain.class"

local function lt() return require "luatrain" end

local M = {}

local function check_batch(x, who)
  local L = lt()
  if not L.is_tensor(x) then error(who .. ": expected a tensor, got " .. type(x), 3) end
  local d = x:dim()
  if d == 3 then return x:unsqueeze(1), true end
  if d ~= 4 then
    error(("%s: expected a {B,C,H,W} or {C,H,W} tensor, got %d dims"):format(who, d), 3)
  end
  return x, false
end

local function finish(y, squeezed) if squeezed then return y[1] end return y end

local function callable(c)
  c.__call = function(self, x) return self:forward(x) end
  return c
end

-------------------------------------------------------------------- Normalize
local Normalize = callable(class.extend("Normalize"))
M.Normalize = Normalize

--- (x - mean) / std per channel.
-- @param mean number or table of per-channel means
-- @param std number or table of per-channel stds
function Normalize:init(mean, std)
  local function chk(v, name)
    if type(v) == "number" then return {v} end
    if type(v) ~= "table" or #v == 0 then
      error("Normalize: " .. name .. " must be a number or a table of numbers", 4)
    end
    for i, e in ipairs(v) do
      if type(e) ~= "number" then error(("Normalize: %s[%d] is not a number"):format(name, i), 4) end
    end
    return v
  end
  self.mean, self.std = chk(mean, "mean"), chk(std, "std")
  if #self.mean ~= #self.std then
    error(("Normalize: mean has %d entries, std has %d"):format(#self.mean, #self.std), 3)
  end
  for i, s in ipairs(self.std) do
    if s == 0 then error(("Normalize: std[%d] is 0"):format(i), 3) end
  end
  self._cache = {}
end

function Normalize:forward(x)
  local xb, sq = check_batch(x, "Normalize")
  local C = xb:size(2)
  local k = #self.mean
  if k ~= 1 and k ~= C then
    error(("Normalize: %d channel statistics for an input with %d channels"):format(k, C), 2)
  end
  local key = xb.device .. "/" .. xb.dtype
  local c = self._cache[key]
  if not c then
    local L = lt()
    local o = {dtype = xb.dtype, device = xb.device}
    c = {L.tensor(self.mean, o):view(1, k, 1, 1), L.tensor(self.std, o):view(1, k, 1, 1)}
    self._cache[key] = c
  end
  return finish((xb - c[1]) / c[2], sq)
end

--------------------------------------------------------- RandomHorizontalFlip
local RandomHorizontalFlip = callable(class.extend("RandomHorizontalFlip"))
M.RandomHorizontalFlip = RandomHorizontalFlip

--- Mirrors each image left-right with probability p (default 0.5).
function RandomHorizontalFlip:init(p)
  p = p == nil and 0.5 or p
  if type(p) ~= "number" or p < 0 or p > 1 then
    error("RandomHorizontalFlip: p must be a number in [0, 1], got " .. tostring(p), 3)
  end
  self.p = p
end

function RandomHorizontalFlip:forward(x)
  local xb, sq = check_batch(x, "RandomHorizontalFlip")
  local L = lt()
  local B, W = xb:size(1), xb:size(4)
  local probs = L.full({B, 1, 1, 1}, self.p + 0.0, {dtype = "float32", device = xb.device})
  local mask = L.bernoulli(probs):bool()
  local rev = L.arange(W, 0, -1, {dtype = "int64", device = xb.device})   -- W..1
  local flipped = xb:index_select(4, rev)
  return finish(L.where(mask, flipped, xb), sq)
end

------------------------------------------------------------------- RandomCrop
local RandomCrop = callable(class.extend("RandomCrop"))
M.RandomCrop = RandomCrop

--- A random size x size crop per image, after zero padding.
-- @param size number or {h, w}
-- @param opts {padding = number | {left, right, top, bottom}, fill = 0}
function RandomCrop:init(size, opts)
  opts = opts or {}
  if type(size) == "number" then size = {size, size} end
  if type(size) ~= "table" or math.type(size[1]) ~= "integer" or math.type(size[2]) ~= "integer"
     or size[1] < 1 or size[2] < 1 then
    error("RandomCrop: size must be a positive integer or {h, w}", 3)
  end
  local p = opts.padding or 0
  if type(p) == "number" then p = {p, p, p, p} end
  if type(p) ~= "table" or #p ~= 4 then
    error("RandomCrop: padding must be a number or {left, right, top, bottom}", 3)
  end
  for i = 1, 4 do
    if math.type(p[i]) ~= "integer" or p[i] < 0 then
      error("RandomCrop: padding must be non-negative integers", 3)
    end
  end
  self.size, self.padding, self.fill = size, p, opts.fill or 0
end

function RandomCrop:forward(x)
  local xb, sq = check_batch(x, "RandomCrop")
  local L = lt()
  local p = self.padding
  if p[1] + p[2] + p[3] + p[4] > 0 then
    xb = L.pad(xb, p, {mode = "constant", value = self.fill})
  end
  local B, C, Hp, Wp = xb:size(1), xb:size(2), xb:size(3), xb:size(4)
  local h, w = self.size[1], self.size[2]
  if h > Hp or w > Wp then
    error(("RandomCrop: crop %dx%d is larger than the padded image %dx%d"):format(h, w, Hp, Wp), 2)
  end
  local dev = xb.device
  local o = {dtype = "int64", device = dev}
  -- one gather on the flattened padded images: for sample b the crop's
  -- element (r, c) is at (oy_b + r) * Wp + (ox_b + c) + 1 (r, c 0-based)
  local oy = L.randint(0, Hp - h + 1, {B, 1, 1}, o)
  local ox = L.randint(0, Wp - w + 1, {B, 1, 1}, o)
  local r = L.arange(0, h, 1, o):view(1, h, 1)
  local c = L.arange(1, w + 1, 1, o):view(1, 1, w)
  local lin = ((oy + r) * Wp + (ox + c)):view(B, 1, h * w)
  local y = xb:reshape(B, C, Hp * Wp):gather(3, lin:expand(B, C, h * w):contiguous()):view(B, C, h, w)
  return finish(y, sq)
end

---------------------------------------------------------------------- Compose
local Compose = callable(class.extend("Compose"))
M.Compose = Compose

--- Applies transforms in order.
-- @param list array of callables
function Compose:init(list)
  if type(list) ~= "table" then error("Compose: expected a table of transforms", 3) end
  for i, t in ipairs(list) do
    if type(t) ~= "function" and not (getmetatable(t) or {}).__call then
      error(("Compose: transform %d is not callable"):format(i), 3)
    end
  end
  self.transforms = list
end

function Compose:forward(x)
  for _, t in ipairs(self.transforms) do x = t(x) end
  return x
end

return M
