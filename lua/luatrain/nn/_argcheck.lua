--- luatrain.nn._argcheck - the argument checks nn.functional's files share
-- (functional.lua, functional_conv.lua, functional_extra.lua) and the shape
-- string every nn error message uses. Errors are raised at level 3: the
-- caller of the F function that checks.
local lt = require "luatrain"

local M = {}

--- "{2, 3}" for a tensor of shape (2, 3).
function M.shape_str(t) return "{" .. table.concat(t.shape, ", ") .. "}" end

--- Raises "fname: bad argument #argn 'name' (tensor expected, got T)".
function M.check_tensor(v, argn, name, fname)
  if not lt.is_tensor(v) then
    error(("%s: bad argument #%d '%s' (tensor expected, got %s)")
          :format(fname, argn, name, type(v)), 3)
  end
end

--- An options table (nil gives {}), else an error naming argument argn.
function M.check_opts(opts, argn, fname)
  if opts ~= nil and type(opts) ~= "table" then
    error(("%s: bad argument #%d 'opts' (table expected, got %s)")
          :format(fname, argn, type(opts)), 3)
  end
  return opts or {}
end

return M
