--- PyTorch tensor functions composed from the core ops (tril, einsum, roll,
-- lerp, nonzero, ... see docs/core-api.md "Composed tensor functions").
-- At start this installs one small stub per name on `lt` and `lt.Tensor`;
-- the first call of any stub loads lua/luatrain/tensor_ext_impl.lua, which
-- replaces them all, so the host's start does not parse the implementations.
-- Names the C core already defines are left alone.
-- @module luatrain.tensor_ext

local M = {}

-- name -> also a Tensor method (false: only lt.<name>)
M.names = {
  tril = true, triu = true, tril_ = true, triu_ = true, outer = true, ger = true,
  dot = true, mv = true, addmm = true, baddbmm = true, lerp = true, lerp_ = true,
  addcmul = true, addcmul_ = true, addcdiv = true, addcdiv_ = true,
  clamp_min = true, clamp_max = true, clamp_min_ = true, clamp_max_ = true,
  isfinite = true, isposinf = true, isneginf = true, isclose = true,
  roll = true, diff = true, repeat_interleave = true, ["repeat"] = true, tile = true,
  new_zeros = true, new_ones = true, new_empty = true, new_full = true,
  new_tensor = true, type_as = true, numel = true, count_nonzero = true,
  nonzero = true, argwhere = true, masked_select = true, diagonal = true,
  trace = true, diag = true, cross = true, std_mean = true, var_mean = true,
  aminmax = true, logspace = false, meshgrid = false, tensordot = false, einsum = false,
}

--- Installs the stubs.
-- @param lt the public table being built by luatrain.lt
function M.install(lt)
  local T = lt.Tensor
  local stubs = {}
  local loaded = false
  local function load()
    if not loaded then
      loaded = true
      require("luatrain.tensor_ext_impl").install(lt, stubs)
    end
  end
  for name, method in pairs(M.names) do
    local function stub(...)
      load()
      return rawget(lt, name)(...)
    end
    local mstub = stub
    if method then
      -- the method may differ from lt.<name> when the core defines one of them
      mstub = function(...)
        load()
        return T[name](...)
      end
    end
    stubs[stub], stubs[mstub] = true, true
    if rawget(lt, name) == nil then rawset(lt, name, stub) end
    if method and rawget(T, name) == nil then T[name] = mstub end
  end
end

return M
