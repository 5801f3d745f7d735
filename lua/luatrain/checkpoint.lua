--- Checkpoints: lt.save_checkpoint / lt.load_checkpoint.
-- One safetensors file: tensors "model.<name>" (the model's state_dict),
-- "optim.<i>.<key>" (optimizer state per 1-based parameter position), and
-- "loader.*" / "scheduler.*" / "extra.*" for tensors inside those states;
-- the rest (param groups, scheduler and loader state, epoch, step, extra,
-- RNG state) is JSON in the metadata key "luatrain". Loading validates keys,
-- shapes and dtypes, naming the file and key, and restores the RNG last.
-- It deliberately does not pickle arbitrary Lua values (functions are dropped).
-- @module luatrain.checkpoint
local M = {}

local function core() return require("luatrain") end

local FORMAT = "luatrain-checkpoint"
local VERSION = 1

-- Lua value -> JSON-safe value; tensors go to `tensors` under `prefix`
local function extract(v, prefix, tensors, lt)
  if lt.is_tensor(v) then
    tensors[prefix] = v
    return {["@tensor"] = prefix}
  end
  local tv = type(v)
  if tv == "number" then
    if v ~= v then return {["@num"] = "nan"} end
    if v == math.huge then return {["@num"] = "inf"} end
    if v == -math.huge then return {["@num"] = "-inf"} end
    return v
  end
  if tv == "string" or tv == "boolean" then return v end
  if tv ~= "table" then return nil end   -- functions, userdata: dropped
  local n, count, ints = #v, 0, true
  for k in pairs(v) do
    count = count + 1
    if math.type(k) ~= "integer" then ints = false end
  end
  local out = {}
  if count == n then   -- a proper sequence (or empty)
    for i = 1, n do out[i] = extract(v[i], prefix .. "." .. i, tensors, lt) end
    return out
  end
  if ints then out["@int_keys"] = true end
  for k, x in pairs(v) do
    if type(k) == "string" or math.type(k) == "integer" then
      out[tostring(k)] = extract(x, prefix .. "." .. tostring(k), tensors, lt)
    end
  end
  return out
end

-- inverse of extract
local function restore(v, tensors, path)
  if type(v) ~= "table" then return v end
  local tname = v["@tensor"]
  if tname ~= nil then
    local t = tensors[tname]
    if t == nil then
      error(("load_checkpoint %s: missing tensor '%s'"):format(path, tname), 0)
    end
    return t
  end
  local num = v["@num"]
  if num ~= nil then
    if num == "nan" then return 0 / 0 end
    if num == "inf" then return math.huge end
    return -math.huge
  end
  local ints = v["@int_keys"]
  local out = {}
  for k, x in pairs(v) do
    if k ~= "@int_keys" then
      local key = k
      if ints then key = math.tointeger(tonumber(k)) or k end
      out[key] = restore(x, tensors, path)
    end
  end
  return out
end

local function check_path(path, fname)
  if type(path) ~= "string" or path == "" then
    error(("%s: bad argument #1 'path' (string expected, got %s)"):format(fname, type(path)), 3)
  end
end

--- Saves training state into one safetensors file.
-- @param path string
-- @param opts {model =, optimizer =, scheduler =, epoch =, step =, extra = (table or
--   value; tensors inside are stored as tensors), loader = (its state_dict())}
function M.save_checkpoint(path, opts)
  check_path(path, "save_checkpoint")
  if type(opts) ~= "table" then
    error(("save_checkpoint: bad argument #2 'opts' (table expected, got %s)"):format(type(opts)), 2)
  end
  local lt = core()
  local tensors = {}
  local meta = {format = FORMAT, version = VERSION, epoch = opts.epoch, step = opts.step}
  if opts.model ~= nil then
    if type(opts.model) ~= "table" or type(opts.model.state_dict) ~= "function" then
      error("save_checkpoint: option 'model' must be an nn.Module", 2)
    end
    for k, t in pairs(opts.model:state_dict()) do tensors["model." .. k] = t end
  end
  if opts.optimizer ~= nil then
    if type(opts.optimizer) ~= "table" or type(opts.optimizer.state_dict) ~= "function" then
      error("save_checkpoint: option 'optimizer' must be an Optimizer", 2)
    end
    local osd = opts.optimizer:state_dict()
    meta.optimizer = {
      state = extract(osd.state, "optim", tensors, lt),
      param_groups = extract(osd.param_groups, "optim_groups", tensors, lt),
    }
  end
  if opts.scheduler ~= nil then
    if type(opts.scheduler) ~= "table" or type(opts.scheduler.state_dict) ~= "function" then
      error("save_checkpoint: option 'scheduler' must be a scheduler with state_dict()", 2)
    end
    meta.scheduler = extract(opts.scheduler:state_dict(), "scheduler", tensors, lt)
  end
  if opts.loader ~= nil and type(opts.loader.state_dict) == "function" then
    meta.loader = extract(opts.loader:state_dict(), "loader", tensors, lt)
  end
  if opts.extra ~= nil then meta.extra = extract(opts.extra, "extra", tensors, lt) end
  meta.rng = lt.get_rng_state()
  lt.save(tensors, path, {luatrain = lt.json.encode(meta)})
end

local function strip_pos(msg)
  msg = tostring(msg)
  return (msg:gsub("^[^\n]-:%d+: ", ""))
end

local function shape_str(t) return "{" .. table.concat(t.shape, ", ") .. "}" end

local function same_shape(a, b)
  local sa, sb = a.shape, b.shape
  if #sa ~= #sb then return false end
  for i = 1, #sa do if sa[i] ~= sb[i] then return false end end
  return true
end

--- Loads a checkpoint written by save_checkpoint into the given objects.
-- @param path string
-- @param opts {model =, optimizer =, scheduler =, loader =, map_location = (device
--   for the returned tensors), strict = true (model keys)}
-- @return {epoch =, step =, extra =, metadata = (the decoded JSON)}
function M.load_checkpoint(path, opts)
  check_path(path, "load_checkpoint")
  opts = opts or {}
  if type(opts) ~= "table" then
    error(("load_checkpoint: bad argument #2 'opts' (table expected, got %s)"):format(type(opts)), 2)
  end
  local lt = core()
  local ok, tensors, md = pcall(lt.load, path)
  if not ok then error(("load_checkpoint %s: %s"):format(path, strip_pos(tensors)), 2) end
  local raw = md and md.luatrain
  if raw == nil then
    error(("load_checkpoint %s: not a luatrain checkpoint (no 'luatrain' metadata)"):format(path), 2)
  end
  local okj, meta = pcall(lt.json.decode, raw)
  if not okj or type(meta) ~= "table" or meta.format ~= FORMAT then
    error(("load_checkpoint %s: corrupt 'luatrain' metadata"):format(path), 2)
  end
  if opts.map_location then
    for k, t in pairs(tensors) do tensors[k] = t:to(opts.map_location) end
  end
  local function fail(msg) error(("load_checkpoint %s: %s"):format(path, strip_pos(msg)), 3) end

  if opts.model ~= nil then
    local sd = {}
    for k, t in pairs(tensors) do
      local name = k:match("^model%.(.+)$")
      if name then sd[name] = t end
    end
    local okm, err = pcall(opts.model.load_state_dict, opts.model, sd, opts.strict ~= false)
    if not okm then fail(err) end
  end

  if opts.optimizer ~= nil then
    if meta.optimizer == nil then fail("the checkpoint has no optimizer state") end
    local okr, state = pcall(restore, meta.optimizer.state or {}, tensors, path)
    if not okr then error(state, 2) end
    local groups = restore(meta.optimizer.param_groups or {}, tensors, path)
    local optim = opts.optimizer
    if #groups ~= #optim.param_groups then
      fail(("the checkpoint has %d optimizer parameter groups, the optimizer has %d")
           :format(#groups, #optim.param_groups))
    end
    local FLOAT = {float32 = true, float64 = true, float16 = true, bfloat16 = true}
    for gi, g in ipairs(optim.param_groups) do
      local saved = groups[gi].params or {}
      if #saved ~= #g.params then
        fail(("optimizer group %d has %d parameters in the checkpoint, %d in the optimizer")
             :format(gi, #saved, #g.params))
      end
      for j, p in ipairs(g.params) do
        local idx = math.tointeger(saved[j])
        for key, v in pairs(state[idx] or {}) do
          if lt.is_tensor(v) then
            local tname = ("optim.%d.%s"):format(idx, key)
            if not same_shape(v, p) then
              fail(("'%s' has shape %s, its parameter (group %d, entry %d) has shape %s")
                   :format(tname, shape_str(v), gi, j, shape_str(p)))
            end
            if v.dtype ~= p.dtype and not (FLOAT[v.dtype] and FLOAT[p.dtype]) then
              fail(("'%s' has dtype %s, its parameter has dtype %s"):format(tname, v.dtype, p.dtype))
            end
          end
        end
      end
    end
    local oko, err = pcall(optim.load_state_dict, optim, {state = state, param_groups = groups})
    if not oko then fail(err) end
  end

  if opts.scheduler ~= nil then
    if meta.scheduler == nil then fail("the checkpoint has no scheduler state") end
    local oks, err = pcall(function()
      opts.scheduler:load_state_dict(restore(meta.scheduler, tensors, path))
    end)
    if not oks then fail(err) end
  end

  if opts.loader ~= nil and meta.loader ~= nil and type(opts.loader.load_state_dict) == "function" then
    local okl, err = pcall(function()
      opts.loader:load_state_dict(restore(meta.loader, tensors, path))
    end)
    if not okl then fail(err) end
  end

  local extra
  if meta.extra ~= nil then
    local oke, e = pcall(restore, meta.extra, tensors, path)
    if not oke then error(e, 2) end
    extra = e
  end
  if meta.rng ~= nil then lt.set_rng_state(meta.rng) end
  return {epoch = meta.epoch, step = meta.step, extra = extra, metadata = meta}
end

return M
