--- luatrain.utils.summary - lt.utils.summary(model, {input_shape=}) (also
-- model:summary{...}): runs one forward on zeros under no_grad with every
-- module's forward temporarily wrapped, then prints a table of module path,
-- type, output shape and own parameter count, with totals (trainable,
-- frozen, buffers) and size in MB. It does not count FLOPs or activations'
-- memory.
local function lt() return require "luatrain" end

local class = require "luatrain.class"

local function shape_of(v, L)
  if L.is_tensor(v) then return "[" .. table.concat(v.shape, ", ") .. "]" end
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = shape_of(x, L) end
    if #parts > 0 then return "(" .. table.concat(parts, ", ") .. ")" end
  end
  return type(v)
end

local function group(n)
  local s = tostring(math.tointeger(n) or n)
  local neg = s:sub(1, 1) == "-"
  if neg then s = s:sub(2) end
  s = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  if s:sub(1, 1) == "," then s = s:sub(2) end
  return (neg and "-" or "") .. s
end

local function wrap_forward(m, record)
  local attrs = rawget(m, "_attrs")
  local own
  if attrs then own = attrs.forward else own = rawget(m, "forward") end
  local orig = m.forward
  local function wrapped(self, ...)
    local out = table.pack(orig(self, ...))
    record(m, out[1])
    return table.unpack(out, 1, out.n)
  end
  if attrs then attrs.forward = wrapped else rawset(m, "forward", wrapped) end
  return function()
    if attrs then attrs.forward = own else rawset(m, "forward", own) end
  end
end

local function own_params(m)
  local ok, ps = pcall(m.parameters, m, false)
  if ok and type(ps) == "table" then return ps end
  return {}
end

local function own_buffers(m)
  if type(m.buffers) ~= "function" then return {} end
  local ok, bs = pcall(m.buffers, m, false)
  if ok and type(bs) == "table" then return bs end
  return {}
end

--- Prints and returns the model summary.
-- @param model an nn.Module
-- @param opts {input_shape = {1, 1, 28, 28} (or a list of shapes for several
--   inputs), input = tensor(s) instead of a shape, dtype=, device=,
--   file = io.stdout, print = true}
-- @return {total_params=, trainable_params=, frozen_params=, buffer_elems=,
--   param_bytes=, buffer_bytes=, size_mb=, rows = {{path=, type=, output_shape=, params=}}}
local function summary(model, opts)
  local L = lt()
  opts = opts or {}
  if type(model) ~= "table" or type(model.forward) ~= "function" then
    error("summary: model must be an nn.Module", 2)
  end
  if type(opts) ~= "table" then error("summary: options must be a table", 2) end
  local mods = {}
  if type(model.named_modules) == "function" then
    for name, m in model:named_modules() do mods[#mods + 1] = {name, m} end
  else
    mods[1] = {"", model}
  end
  -- inputs
  local params_all = model:parameters()
  local p1 = params_all[1]
  local dtype = opts.dtype or (p1 and p1.dtype:find("float") and p1.dtype) or "float32"
  local device = opts.device or (p1 and p1.device) or "cpu"
  local inputs
  if opts.input ~= nil then
    inputs = L.is_tensor(opts.input) and {opts.input} or opts.input
  elseif type(opts.input_shape) == "table" then
    local shapes = type(opts.input_shape[1]) == "table" and opts.input_shape or {opts.input_shape}
    inputs = {}
    for i, s in ipairs(shapes) do inputs[i] = L.zeros(s, {dtype = dtype, device = device}) end
  else
    error("summary: give input_shape (e.g. {1, 1, 28, 28}) or input", 2)
  end
  -- hook every module
  local outs, restore = {}, {}
  local function record(m, out) outs[m] = out end
  for _, e in ipairs(mods) do restore[#restore + 1] = wrap_forward(e[2], record) end
  local was_training = model.training
  if type(model.eval) == "function" then model:eval() end
  local ok, err = pcall(function()
    local _ <close> = L.no_grad()
    return model(table.unpack(inputs))
  end)
  for _, r in ipairs(restore) do r() end
  if was_training and type(model.train) == "function" then model:train(true) end
  if not ok then error("summary: forward failed: " .. tostring(err), 2) end
  -- table
  local rows, seen = {}, {}
  local total, trainable, frozen, pbytes = 0, 0, 0, 0
  local belems, bbytes = 0, 0
  local bseen = {}
  for _, e in ipairs(mods) do
    local name, m = e[1], e[2]
    local count = 0
    for _, p in ipairs(own_params(m)) do
      count = count + p:numel()
      if not seen[p] then
        seen[p] = true
        total = total + p:numel()
        pbytes = pbytes + p:numel() * p:element_size()
        if p.requires_grad then trainable = trainable + p:numel() else frozen = frozen + p:numel() end
      end
    end
    for _, b in ipairs(own_buffers(m)) do
      if not bseen[b] then
        bseen[b] = true
        belems = belems + b:numel()
        bbytes = bbytes + b:numel() * b:element_size()
      end
    end
    rows[#rows + 1] = {path = name == "" and "(root)" or name, type = class.name_of(m),
                       output_shape = outs[m] ~= nil and shape_of(outs[m], L) or "-", params = count}
  end
  local res = {total_params = total, trainable_params = trainable, frozen_params = frozen,
               buffer_elems = belems, param_bytes = pbytes, buffer_bytes = bbytes,
               size_mb = (pbytes + bbytes) / (1024 * 1024), rows = rows}
  if opts.print ~= false then
    local w1, w2, w3 = #"Layer (path)", #"Type", #"Output Shape"
    for _, r in ipairs(rows) do
      w1, w2, w3 = math.max(w1, #r.path), math.max(w2, #r.type), math.max(w3, #r.output_shape)
    end
    local fmt = "%-" .. w1 .. "s  %-" .. w2 .. "s  %-" .. w3 .. "s  %12s\n"
    local f = opts.file or io.stdout
    local rule = ("-"):rep(w1 + w2 + w3 + 18) .. "\n"
    f:write(rule, fmt:format("Layer (path)", "Type", "Output Shape", "Param #"), rule)
    for _, r in ipairs(rows) do f:write(fmt:format(r.path, r.type, r.output_shape, group(r.params))) end
    f:write(rule)
    f:write(("Total params: %s\nTrainable params: %s\nNon-trainable (frozen) params: %s\n")
      :format(group(total), group(trainable), group(frozen)))
    f:write(("Buffers: %s elements\nParams size (MB): %.2f\nBuffers size (MB): %.2f\nTotal size (MB): %.2f\n")
      :format(group(belems), pbytes / 1048576, bbytes / 1048576, res.size_mb))
    f:write(rule)
  end
  return res
end

return summary
