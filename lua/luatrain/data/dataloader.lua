--- luatrain.data.DataLoader - iterates a dataset in batches, optionally
-- shuffled, and remembers where it is (epoch, permutation, position) so a
-- checkpoint resumes mid-epoch. Tensor-backed datasets (a `tensors` field:
-- TensorDataset, FashionMNIST, MNIST) are batched in C: one index_select (or
-- a zero-copy narrow when not shuffled) per tensor per batch. Any other
-- dataset (a `__len` and `get(i)`) is fetched sample by sample and combined
-- by collate_fn (lt.data.collate by default). No worker processes.
local class = require "luatrain.class"
local collate = require "luatrain.data.collate"

local function lt() return require "luatrain" end

local DataLoader = class.extend("DataLoader")

local function dataset_len(ds)
  local mt = getmetatable(ds)
  if mt and mt.__len then return #ds end
  if type(ds) == "table" and type(ds.len) == "function" then return ds:len() end
  if type(ds) == "table" and type(ds.n) == "number" then return ds.n end
  return nil
end

local function tensor_list(ds)
  if type(ds) ~= "table" or type(ds.tensors) ~= "table" or #ds.tensors == 0 then return nil end
  for _, t in ipairs(ds.tensors) do
    if not lt().is_tensor(t) then return nil end
  end
  return ds.tensors
end

local function check_int(v, name, min)
  if v == nil then return nil end
  if type(v) ~= "number" or v ~= math.floor(v) or v < min then
    error(("DataLoader: %s must be an integer >= %d, got %s"):format(name, min, tostring(v)), 4)
  end
  return math.tointeger(v)
end

--- Creates a loader.
-- @param dataset a TensorDataset-like object (`tensors`) or any object with
--   `__len` and `get(i)`
-- @param opts {batch_size = 1, shuffle = false, drop_last = false,
--   collate_fn = fn(samples), sampler = fn(epoch, n) | {indices = fn(self, epoch, n)},
--   seed = n (or generator = n: own shuffle seed, else the engine generator),
--   transform = fn(batch_first_tensor)}
function DataLoader:init(dataset, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("DataLoader: options must be a table", 3) end
  if type(dataset) ~= "table" and type(dataset) ~= "userdata" then
    error("DataLoader: dataset must be a dataset object, got " .. type(dataset), 3)
  end
  local n = dataset_len(dataset)
  if n == nil then error("DataLoader: dataset has no length (__len)", 3) end
  self.tensors = tensor_list(dataset)
  if self.tensors == nil and type(dataset.get) ~= "function" then
    error("DataLoader: dataset has no get(i) method and no `tensors` field", 3)
  end
  self.dataset = dataset
  self.n = n
  self.batch_size = check_int(opts.batch_size, "batch_size", 1) or 1
  self.shuffle = opts.shuffle and true or false
  self.drop_last = opts.drop_last and true or false
  if opts.collate_fn ~= nil and type(opts.collate_fn) ~= "function" then
    error("DataLoader: collate_fn must be a function", 3)
  end
  self.collate_fn = opts.collate_fn
  self.sampler = opts.sampler
  local seed = opts.seed
  if seed == nil and type(opts.generator) == "number" then seed = opts.generator end
  self.seed = check_int(seed, "seed", 0)
  if opts.transform ~= nil and not (type(opts.transform) == "function"
      or (getmetatable(opts.transform) or {}).__call) then
    error("DataLoader: transform must be callable", 3)
  end
  self.transform = opts.transform
  self.epoch = 0        -- epochs started
  self.position = 0     -- batches yielded in the current epoch
  self._perm = nil      -- int64 tensor of 1-based indices, nil = 1..n
  self._count = n       -- number of indices this epoch
  self._resume = false
end

local function nbatches(self, count)
  if self.drop_last then return count // self.batch_size end
  return (count + self.batch_size - 1) // self.batch_size
end

--- Number of batches per epoch (with a sampler, of the current epoch, or
-- before the first one of the epoch about to start).
function DataLoader:__len()
  if self.sampler ~= nil and self.epoch == 0 and not self._resume then
    if self._next_perm == nil then self._next_perm = self:_indices(1) end
    return nbatches(self, self._next_perm:numel())
  end
  return nbatches(self, self._count)
end

local function to_index_tensor(x, what)
  local L = lt()
  if L.is_tensor(x) then
    if x:dim() ~= 1 then error(what .. ": indices must be 1-D", 4) end
    if x.dtype ~= "int64" then x = x:long() end
    return x
  elseif type(x) == "table" then
    return L.tensor(x, {dtype = "int64", device = "cpu"})
  end
  error(what .. ": expected a tensor or a table of indices, got " .. type(x), 4)
end

-- The epoch's indices (nil = identity order 1..n).
function DataLoader:_indices(epoch)
  local L = lt()
  local s = self.sampler
  if s ~= nil then
    local r
    if type(s) == "function" then r = s(epoch, self.n)
    elseif type(s) == "table" and type(s.indices) == "function" then r = s:indices(epoch, self.n)
    else error("DataLoader: sampler must be a function(epoch, n) or have :indices(epoch, n)", 3) end
    return to_index_tensor(r, "DataLoader sampler")
  end
  if not self.shuffle then return nil end
  if self.seed then
    local saved = L.get_rng_state()
    L.manual_seed(self.seed + epoch - 1)
    local ok, p = pcall(L.randperm, self.n, {device = "cpu"})
    L.set_rng_state(saved)
    if not ok then error(p, 0) end
    return p.dtype == "int64" and p or p:long()
  end
  local p = L.randperm(self.n, {device = "cpu"})  -- indices live on the host
  return p.dtype == "int64" and p or p:long()
end

local function start_epoch(self)
  if self._resume then
    self._resume = false
    return
  end
  self.epoch = self.epoch + 1
  self.position = 0
  if self._next_perm ~= nil and self.epoch == 1 then
    self._perm = self._next_perm
  else
    self._perm = self:_indices(self.epoch)
  end
  self._next_perm = nil
  self._count = self._perm and self._perm:numel() or self.n
  self._perm_list = nil
end

-- Fast path: batch b of a tensor-backed dataset.
local function tensor_batch(self, first, len)
  local out, ts = {}, self.tensors
  local idx, on_dev = nil, {}
  if self._perm then idx = self._perm:narrow(1, first, len) end
  for k, t in ipairs(ts) do
    if idx == nil then
      out[k] = t:narrow(1, first, len)
    else
      local dev = t.device
      local i = idx
      if dev ~= "cpu" then
        i = on_dev[dev] or idx:to(dev)
        on_dev[dev] = i
      end
      out[k] = t:index_select(1, i)
    end
  end
  local ds_tf = self.dataset.transform
  if ds_tf then out[1] = ds_tf(out[1]) end
  if self.transform then out[1] = self.transform(out[1]) end
  return table.unpack(out, 1, #ts)
end

-- Generic path: get(i) per sample, then collate.
local function generic_batch(self, first, len)
  local ds = self.dataset
  local list = self._perm_list
  if self._perm and not list then
    list = self._perm:tolist()
    self._perm_list = list
  end
  local samples, m = {}, nil
  for j = 1, len do
    local i = list and list[first + j - 1] or first + j - 1
    local vals = table.pack(ds:get(i))
    local nret = vals.n
    vals.n = nil
    if m == nil then m = nret
    elseif nret ~= m then
      error(("DataLoader: dataset:get returned %d values for index %d but %d before"):format(nret, i, m), 3)
    end
    samples[j] = (m == 1) and vals[1] or vals
  end
  if self.collate_fn then
    return self.collate_fn(samples)
  end
  local batch = collate(samples)
  if m == 1 then
    if self.transform and lt().is_tensor(batch) then batch = self.transform(batch) end
    return batch
  end
  if self.transform and lt().is_tensor(batch[1]) then batch[1] = self.transform(batch[1]) end
  return table.unpack(batch, 1, m)
end

--- A generic-for iterator over one epoch: `for xb, yb in loader:iter() do`.
-- Starts a new epoch unless load_state_dict left one to finish.
-- @return iterator yielding the batch's values
function DataLoader:iter()
  start_epoch(self)
  local nb = nbatches(self, self._count)
  local bs = self.batch_size
  local fetch = self.tensors and not self.collate_fn and tensor_batch or generic_batch
  return function()
    local b = self.position + 1
    if b > nb then return nil end
    local first = (b - 1) * bs + 1
    local len = math.min(bs, self._count - first + 1)
    self.position = b
    return fetch(self, first, len)
  end
end

--- Where the loader is: enough to resume the current epoch exactly.
-- @return {epoch=, position= (batches done), permutation= (int64 tensor or nil),
--   batch_size=, n=}
function DataLoader:state_dict()
  return {
    epoch = self.epoch,
    position = self.position,
    permutation = self._perm,
    batch_size = self.batch_size,
    n = self.n,
  }
end

--- Restores a state_dict: the next iter() finishes that epoch (or starts the
-- following one if it was complete).
function DataLoader:load_state_dict(sd)
  if type(sd) ~= "table" then error("DataLoader:load_state_dict: expected a table", 2) end
  local epoch = math.tointeger(tonumber(sd.epoch or 0))
  local pos = math.tointeger(tonumber(sd.position or 0))
  if epoch == nil or pos == nil or epoch < 0 or pos < 0 then
    error("DataLoader:load_state_dict: epoch and position must be non-negative integers", 2)
  end
  if sd.batch_size and math.tointeger(tonumber(sd.batch_size)) ~= self.batch_size then
    error(("DataLoader:load_state_dict: state has batch_size %s, loader has %d")
          :format(tostring(sd.batch_size), self.batch_size), 2)
  end
  if sd.n and math.tointeger(tonumber(sd.n)) ~= self.n then
    error(("DataLoader:load_state_dict: state is for a dataset of %s samples, this one has %d")
          :format(tostring(sd.n), self.n), 2)
  end
  local perm = sd.permutation
  if perm ~= nil then
    perm = to_index_tensor(perm, "DataLoader:load_state_dict permutation")
  end
  self.epoch = epoch
  self.position = pos
  self._perm = perm
  self._perm_list = nil
  self._count = perm and perm:numel() or self.n
  self._resume = epoch > 0 and pos < nbatches(self, self._count)
end

return DataLoader
