--- luatrain.data - datasets, the DataLoader, collate and batch transforms.
-- Classes live one per file and load on first use (lt.data.DataLoader ...).
-- `read_idx` comes from the C core; everything else here is Lua composed
-- from tensor ops (no per-sample or per-pixel Lua work on the fast paths).
local M = {}

local lazy = {
  TensorDataset = "luatrain.data.tensor_dataset",
  DataLoader    = "luatrain.data.dataloader",
  collate       = "luatrain.data.collate",
  FashionMNIST  = {"luatrain.data.mnist", "FashionMNIST"},
  MNIST         = {"luatrain.data.mnist", "MNIST"},
  CharDataset   = "luatrain.data.char_dataset",
  TextDataset   = "luatrain.data.char_dataset",
  transforms    = "luatrain.data.transforms",
}

--- Returns the C core table (bindings), without loading the Lua layer.
local function core()
  local c = package.loaded["luatrain.core"]
  if c == nil then
    local lt = require "luatrain"
    c = package.loaded["luatrain.core"] or lt
  end
  return c
end

--- Reads an IDX file (gzip or not) into a uint8 tensor of the file's shape.
-- Provided by the C core; looked up in `core.data.read_idx` or `core.read_idx`.
-- @param path file name
-- @return tensor
function M.read_idx(path)
  if type(path) ~= "string" then
    error("read_idx: path must be a string, got " .. type(path), 2)
  end
  local c = core()
  local f = (type(c.data) == "table" and c.data.read_idx) or c.read_idx
  if f == nil or f == M.read_idx then
    error("read_idx: the C core provides no read_idx (core.data.read_idx)", 2)
  end
  return f(path)
end

setmetatable(M, {__index = function(t, k)
  local spec = lazy[k]
  if spec == nil then return nil end
  local v
  if type(spec) == "table" then
    v = require(spec[1])[spec[2]]
  else
    v = require(spec)
  end
  rawset(t, k, v)
  return v
end})

return M
