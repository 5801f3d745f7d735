-- checkpoint_spec.lua - lt.save_checkpoint / lt.load_checkpoint: N straight
-- epochs vs N/2 + save + a fresh process + load + N/2 gives bit-identical
-- parameters (model, Adam state, scheduler, shuffling loader, dropout RNG);
-- loading names the file and key on bad input.
local lt = require "luatrain"
local nn, optim = lt.nn, lt.optim

local save_checkpoint, load_checkpoint = lt.save_checkpoint, lt.load_checkpoint

-- the host running this spec (busted --lua=BUILD/luatrain), else BUILD's
local function find_bin()
  local env = os.getenv("LUATRAIN_BIN")
  if env then return env end
  local i = 0
  while arg and arg[i - 1] do i = i - 1 end
  if i < 0 and tostring(arg[i]):match("luatrain$") then return arg[i] end
  local build = os.getenv("LUATRAIN_BUILD") or os.getenv("BUILD") or "build"
  return build .. "/luatrain"
end
local BIN = find_bin()

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

local SCRIPT = [[
local lt = require "luatrain"
local nn, optim, data = lt.nn, lt.optim, lt.data
local mode, epochs, ckpt, out = arg[1], tonumber(arg[2]), arg[3], arg[4]
lt.seed_everything(7)
local X, Y = lt.randn(64, 5), lt.randn(64, 1)
local model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
local opt = optim.Adam(model:parameters(), {lr = 1e-2})
local sched = optim.lr_scheduler.StepLR(opt, 2, {gamma = 0.5})
local loader = data.DataLoader(data.TensorDataset(X, Y), {batch_size = 16, shuffle = true})
local start = 1
if mode == "resume" then
  local st = lt.load_checkpoint(ckpt, {model = model, optimizer = opt, scheduler = sched,
                                      loader = loader})
  start = st.epoch + 1
end
for epoch = start, epochs do
  model:train()
  for xb, yb in loader:iter() do
    opt:zero_grad()
    nn.functional.mse_loss(model(xb), yb):backward()
    opt:step()
  end
  sched:step()
  if mode == "first" and epoch == epochs then
    lt.save_checkpoint(ckpt, {model = model, optimizer = opt, scheduler = sched, loader = loader,
                              epoch = epoch, extra = {note = "half"}})
  end
end
lt.save(model:state_dict(), out)
]]

local function run(script, ...)
  local cmd = BIN .. " " .. script
  for _, a in ipairs({...}) do cmd = cmd .. " " .. a end
  local p = io.popen(cmd .. " 2>&1; echo EXIT:$?")
  local s = p:read("a")
  p:close()
  local code = tonumber(s:match("EXIT:(%d+)%s*$"))
  assert(code == 0, ("%s failed:\n%s"):format(cmd, s))
end

describe("checkpoints", function()
  it("resume in a fresh process bit-identically", function()
    local d = tmpdir()
    local script = d .. "/run.lua"
    local f = assert(io.open(script, "w"))
    f:write(SCRIPT)
    f:close()
    run(script, "full", 6, d .. "/unused.safetensors", d .. "/full.safetensors")
    run(script, "first", 3, d .. "/ckpt.safetensors", d .. "/half.safetensors")
    run(script, "resume", 6, d .. "/ckpt.safetensors", d .. "/resumed.safetensors")
    local a = lt.load(d .. "/full.safetensors")
    local b = lt.load(d .. "/resumed.safetensors")
    local h = lt.load(d .. "/half.safetensors")
    local n = 0
    for k, t in pairs(a) do
      n = n + 1
      assert.is_not_nil(b[k], k)
      assert.are.equal(0, (t - b[k]):abs():max():item(), k)
      if t:numel() > 1 and t.dtype ~= "int64" then
        assert.is_true((t - h[k]):abs():max():item() > 0, k .. " changed after the checkpoint")
      end
    end
    assert.are.equal(4, n)
    os.execute("rm -rf " .. d)
  end)

  it("stores model, optimizer and metadata under the documented names", function()
    local d = tmpdir()
    local model = nn.Linear(3, 2)
    local opt = optim.SGD(model:parameters(), {lr = 0.1, momentum = 0.9})
    model(lt.randn(4, 3)):sum():backward()
    opt:step()
    save_checkpoint(d .. "/c.safetensors", {model = model, optimizer = opt, epoch = 4, step = 40,
                                            extra = {best = 0.5, hist = {1, 2}}})
    local t, meta = lt.load(d .. "/c.safetensors")
    assert.is_not_nil(t["model.weight"])
    assert.is_not_nil(t["optim.1.momentum_buffer"])
    assert.is_not_nil(t["optim.2.momentum_buffer"])
    assert.is_string(meta.luatrain)
    local m2 = nn.Linear(3, 2)
    local o2 = optim.SGD(m2:parameters(), {lr = 0.5, momentum = 0.9})
    local st = load_checkpoint(d .. "/c.safetensors", {model = m2, optimizer = o2})
    assert.are.equal(4, st.epoch)
    assert.are.equal(40, st.step)
    assert.are.same({best = 0.5, hist = {1, 2}}, st.extra)
    assert.are.equal(0.1, o2.param_groups[1].lr)
    assert.are.equal(0, (m2.weight - model.weight):abs():max():item())
    os.execute("rm -rf " .. d)
  end)

  it("names the file and key when shapes do not match", function()
    local d = tmpdir()
    local path = d .. "/c.safetensors"
    save_checkpoint(path, {model = nn.Linear(3, 2)})
    local ok, err = pcall(load_checkpoint, path, {model = nn.Linear(4, 2)})
    assert.is_false(ok)
    assert.is_truthy(err:find(path, 1, true))
    assert.is_truthy(err:find("weight", 1, true))
    ok, err = pcall(load_checkpoint, path, {model = nn.Sequential(nn.Linear(3, 2))})
    assert.is_false(ok)
    assert.is_truthy(err:find("0.weight", 1, true))
    ok, err = pcall(load_checkpoint, d .. "/missing.safetensors", {})
    assert.is_false(ok)
    assert.is_truthy(err:find("missing.safetensors", 1, true))
    os.execute("rm -rf " .. d)
  end)
end)
