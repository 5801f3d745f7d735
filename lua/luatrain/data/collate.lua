--- luatrain.data.collate - combines a list of samples into one batch, the
-- default collate_fn of the DataLoader for datasets that are not tensor
-- backed: tensors are stacked along a new dim 1, numbers become a tensor
-- (int64 if all are integers, float32 otherwise), booleans a bool tensor,
-- strings stay a list, tables are collated key by key recursively.
-- It does not pad ragged tensors: that is a custom collate_fn's job.

local function lt() return require "luatrain" end

local collate

local function kind(v)
  local t = type(v)
  if t == "userdata" and lt().is_tensor(v) then return "tensor" end
  return t
end

--- Collates a list of samples.
-- @param samples array of samples, all of the same structure
-- @param path (internal) where we are, for error messages
-- @return the batch
function collate(samples, path)
  path = path or "batch"
  local n = #samples
  if n == 0 then error("collate: empty list of samples", 2) end
  local k = kind(samples[1])
  for i = 2, n do
    local ki = kind(samples[i])
    if ki ~= k then
      error(("collate: %s: sample 1 is a %s but sample %d is a %s"):format(path, k, i, ki), 2)
    end
  end
  if k == "tensor" then
    return lt().stack(samples, 1)
  elseif k == "number" then
    local all_int = true
    for i = 1, n do
      if math.type(samples[i]) ~= "integer" then all_int = false break end
    end
    return lt().tensor(samples, {dtype = all_int and "int64" or "float32"})
  elseif k == "boolean" then
    return lt().tensor(samples, {dtype = "bool"})
  elseif k == "string" then
    local out = {}
    for i = 1, n do out[i] = samples[i] end
    return out
  elseif k == "table" then
    local out = {}
    for key in pairs(samples[1]) do
      local col = {}
      for i = 1, n do
        local v = samples[i][key]
        if v == nil then
          error(("collate: %s.%s is missing in sample %d"):format(path, tostring(key), i), 2)
        end
        col[i] = v
      end
      out[key] = collate(col, path .. "." .. tostring(key))
    end
    return out
  end
  error(("collate: %s: cannot collate values of type %s"):format(path, k), 2)
end

return collate
