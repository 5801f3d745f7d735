-- bench/safetensors_interop.lua - the luatrain half of safetensors_interop.sh.
--   save DIR    lt.save a few tensors to DIR/lua.safetensors and their values
--               to DIR/ref.json for the Python side to compare
--   load PATH   lt.load a file written by Python and compare with the
--               expected values; PASS/FAIL per tensor, exit 1 on a failure
local lt = require "luatrain"
local mode = arg[1]
if mode == "save" then
  local dir = arg[2]
  local t = {
    f32 = lt.arange(12):float():view(3, 4) / 7,
    f64 = lt.linspace(-1, 1, 5, {dtype = "float64"}),
    i64 = lt.tensor({{-3, 0, 1 << 40}}, {dtype = "int64"}),
    i32 = lt.tensor({7, -8}, {dtype = "int32"}),
    u8 = lt.tensor({0, 255, 17}, {dtype = "uint8"}),
    b = lt.tensor({true, false, true}),
    noncontig = lt.arange(6):float():view(2, 3):t(),
  }
  lt.save(t, dir .. "/lua.safetensors", {source = "luatrain"})
  local ref = {}
  for k, v in pairs(t) do
    local vals = v:contiguous():view(-1):tolist()
    ref[k] = {values = vals, shape = v.shape, dtype = v.dtype == "bool" and "bool" or v.dtype}
  end
  local f = assert(io.open(dir .. "/ref.json", "w"))
  f:write(lt.json.encode(ref))
  f:close()
else
  local t, meta = lt.load(arg[2])
  local a = lt.arange(12):float():view(3, 4) / 7
  local want = {
    f32 = a, f64 = lt.linspace(-1, 1, 5, {dtype = "float64"}),
    i64 = lt.tensor({{-3, 0, 1 << 40}}, {dtype = "int64"}), i32 = lt.tensor({7, -8}, {dtype = "int32"}),
    u8 = lt.tensor({0, 255, 17}, {dtype = "uint8"}), b = lt.tensor({true, false, true}),
    scalar = lt.tensor(2.5),
  }
  local bad = 0
  for k, w in pairs(want) do
    local g = t[k]
    local ok = g ~= nil and g.dtype == w.dtype and g:dim() == w:dim() and g:equal(w)
    print(("%s python->lua %s"):format(ok and "PASS" or "FAIL", k))
    if not ok then bad = bad + 1 end
  end
  local mok = meta and meta.source == "python"
  print(("%s python->lua metadata"):format(mok and "PASS" or "FAIL"))
  if not mok then bad = bad + 1 end
  os.exit(bad == 0 and 0 or 1)
end
