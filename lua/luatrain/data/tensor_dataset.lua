--- luatrain.data.TensorDataset - a dataset over tensors sharing their first
-- dimension; sample i is the i-th row of each. The DataLoader recognises it
-- (the `tensors` field) and gathers whole batches with index_select in C.
local class = require "luatrain.class"

local TensorDataset = class.extend("TensorDataset")

local function is_tensor(x)
  local lt = require "luatrain"
  return lt.is_tensor(x)
end

--- Builds the dataset.
-- @param ... tensors with equal sizes along dimension 1
function TensorDataset:init(...)
  local n = select("#", ...)
  if n == 0 then error("TensorDataset: expected at least one tensor", 3) end
  local ts = {...}
  local len
  for i = 1, n do
    local t = ts[i]
    if not is_tensor(t) then
      error(("TensorDataset: argument %d is a %s, expected a tensor"):format(i, type(t)), 3)
    end
    if t:dim() == 0 then
      error(("TensorDataset: argument %d is a 0-d tensor, expected at least 1 dimension"):format(i), 3)
    end
    local s = t:size(1)
    if len and s ~= len then
      error(("TensorDataset: size mismatch along dim 1: argument 1 has %d rows, argument %d has %d")
            :format(len, i, s), 3)
    end
    len = s
  end
  self.tensors = ts
  self.n = len
end

function TensorDataset:__len() return self.n end

--- Returns the i-th rows (a view per tensor; a number for 1-D tensors).
-- @param i 1-based index (negative counts from the end)
function TensorDataset:get(i)
  if math.type(i) ~= "integer" then
    if type(i) == "number" and i == math.floor(i) then i = math.tointeger(i)
    else error("TensorDataset:get: index must be an integer, got " .. tostring(i), 2) end
  end
  if i < 0 then i = self.n + 1 + i end
  if i < 1 or i > self.n then
    error(("TensorDataset:get: index %d out of range 1..%d"):format(i, self.n), 2)
  end
  local out = {}
  for k, t in ipairs(self.tensors) do out[k] = t[i] end
  return table.unpack(out, 1, #self.tensors)
end

return TensorDataset
