--- luatrain.data.CharDataset (alias TextDataset) - a character (byte) level
-- text dataset for language models: vocabulary of the sorted unique bytes,
-- encode/decode, windows (x, y) of block_size shifted by one, and
-- :batch(B) drawing random windows gathered in C. Bytes, not UTF-8 code
-- points: a multi-byte character is several tokens.
local class = require "luatrain.class"

local function lt() return require "luatrain" end

local FORTUNES = (os.getenv("LUATRAIN_DATA_DIR") and os.getenv("LUATRAIN_DATA_DIR") ~= ""
  and os.getenv("LUATRAIN_DATA_DIR") .. "/fortunes") or "/usr/share/games/fortunes"

local CharDataset = class.extend("CharDataset")

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then error("CharDataset: cannot open " .. tostring(err), 4) end
  local s = f:read("a")
  f:close()
  return s
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- The fortunes package's text files concatenated (sorted by name, no
-- .dat/.u8 index files, no sub-directories).
local function read_fortunes()
  local p = io.popen("find " .. shell_quote(FORTUNES) .. " -maxdepth 1 -type f 2>/dev/null | LC_ALL=C sort")
  local names = {}
  if p then
    for line in p:lines() do
      if not line:find("%.dat$") and not line:find("%.u8$") then names[#names + 1] = line end
    end
    p:close()
  end
  if #names == 0 then
    error("CharDataset: no text given and " .. FORTUNES .. " has no fortune files; pass path= or " ..
          "text=, or install Debian's fortunes package (apt-get install fortunes)", 4)
  end
  local parts = {}
  for i, n in ipairs(names) do parts[i] = read_file(n) end
  return table.concat(parts)
end

-- Encodes a whole string through a byte -> id lookup, in C: chunks of bytes
-- become int64 tensors, then one index_select through the table.
local function encode_text(text, lut)
  local L = lt()
  local chunks, CH = {}, 1 << 15
  for i = 1, #text, CH do
    chunks[#chunks + 1] = L.tensor({string.byte(text, i, math.min(i + CH - 1, #text))},
                                   {dtype = "int64", device = "cpu"})
  end
  local bytes = #chunks == 1 and chunks[1] or L.cat(chunks, 1)
  return lut:index_select(1, bytes + 1)
end

--- Builds the dataset.
-- @param opts {path = file | text = string (default: the fortunes files),
--   block_size = T (required), split = "train"|"val"|"all", val_fraction = 0.1}
function CharDataset:init(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("CharDataset: options must be a table", 3) end
  local T = opts.block_size
  if math.type(T) ~= "integer" or T < 1 then
    error("CharDataset: block_size must be a positive integer, got " .. tostring(T), 3)
  end
  local split = opts.split or "train"
  if split ~= "train" and split ~= "val" and split ~= "all" then
    error("CharDataset: split must be \"train\", \"val\" or \"all\", got " .. tostring(split), 3)
  end
  local vf = opts.val_fraction or 0.1
  if type(vf) ~= "number" or vf < 0 or vf >= 1 then
    error("CharDataset: val_fraction must be in [0, 1), got " .. tostring(vf), 3)
  end
  local text
  if opts.text ~= nil then
    if type(opts.text) ~= "string" then error("CharDataset: text must be a string", 3) end
    text = opts.text
  elseif opts.path ~= nil then
    text = read_file(opts.path)
  else
    text = read_fortunes()
  end
  if #text == 0 then error("CharDataset: the text is empty", 3) end
  -- vocabulary: sorted unique bytes (256 plain finds, no per-byte Lua loop)
  local itos, stoi = {}, {}
  for b = 0, 255 do
    local ch = string.char(b)
    if text:find(ch, 1, true) then
      itos[#itos + 1] = ch
      stoi[ch] = #itos
      stoi[b] = #itos
    end
  end
  self.itos, self.stoi, self.vocab_size = itos, stoi, #itos
  local lut = {}
  for b = 0, 255 do lut[b + 1] = stoi[b] or 0 end
  local all = encode_text(text, lt().tensor(lut, {dtype = "int64", device = "cpu"}))
  local n = #text
  local n_val = math.floor(n * vf)
  local n_train = n - n_val
  if split == "train" then self.ids = all:narrow(1, 1, n_train)
  elseif split == "val" then
    if n_val == 0 then error("CharDataset: val split is empty (val_fraction " .. vf .. ")", 3) end
    self.ids = all:narrow(1, n_train + 1, n_val)
  else self.ids = all end
  self.block_size = T
  self.split = split
  local len = self.ids:numel() - T
  if len < 1 then
    error(("CharDataset: the %s split has %d characters, need more than block_size %d")
          :format(split, self.ids:numel(), T), 3)
  end
  self.n = len
  self._offsets = lt().arange(0, T, 1, {dtype = "int64", device = self.ids.device}):view(1, T)
end

--- Number of windows.
function CharDataset:__len() return self.n end

--- Window i: x = ids[i .. i+T-1], y = ids[i+1 .. i+T] (int64 {T}).
function CharDataset:get(i)
  if math.type(i) ~= "integer" or i < 1 or i > self.n then
    error(("CharDataset:get: index %s out of range 1..%d"):format(tostring(i), self.n), 2)
  end
  local T = self.block_size
  return self.ids:narrow(1, i, T), self.ids:narrow(1, i + 1, T)
end

--- Random windows for training: x, y int64 {B, T}, gathered in C.
-- @param batch_size B
-- @param opts {device = } (optional)
function CharDataset:batch(batch_size, opts)
  if math.type(batch_size) ~= "integer" or batch_size < 1 then
    error("CharDataset:batch: batch_size must be a positive integer, got " .. tostring(batch_size), 2)
  end
  local L = lt()
  local B, T = batch_size, self.block_size
  local starts = L.randint(1, self.n + 1, {B, 1}, {dtype = "int64", device = self.ids.device})
  local idx = (starts + self._offsets):view(B * T)
  local x = self.ids:index_select(1, idx):view(B, T)
  local y = self.ids:index_select(1, idx + 1):view(B, T)
  if opts and opts.device then x, y = x:to(opts.device), y:to(opts.device) end
  return x, y
end

--- String -> int64 tensor of 1-based ids.
function CharDataset:encode(s)
  if type(s) ~= "string" then error("CharDataset:encode: expected a string, got " .. type(s), 2) end
  local ids, stoi = {}, self.stoi
  for i = 1, #s do
    local id = stoi[s:byte(i)]
    if id == nil then
      error(("CharDataset:encode: character %q (byte %d) at position %d is not in the vocabulary")
            :format(s:sub(i, i), s:byte(i), i), 2)
    end
    ids[i] = id
  end
  return lt().tensor(ids, {dtype = "int64"})
end

--- Ids (tensor of any shape, or a Lua table) -> string.
function CharDataset:decode(ids)
  local L = lt()
  if L.is_tensor(ids) then
    if ids:numel() == 0 then return "" end
    ids = ids:reshape(-1):tolist()
  elseif type(ids) == "number" then
    ids = {ids}
  elseif type(ids) ~= "table" then
    error("CharDataset:decode: expected a tensor or a table of ids, got " .. type(ids), 2)
  end
  local out, itos = {}, self.itos
  for i, id in ipairs(ids) do
    local ch = itos[math.tointeger(id) or -1]
    if ch == nil then
      error(("CharDataset:decode: id %s at position %d is outside 1..%d"):format(tostring(id), i, #itos), 2)
    end
    out[i] = ch
  end
  return table.concat(out)
end

return CharDataset
