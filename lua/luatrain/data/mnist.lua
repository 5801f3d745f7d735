--- luatrain.data.FashionMNIST / MNIST - the IDX files read once by the C
-- core (lt.data.read_idx), converted once to float32 images {N,1,28,28} in
-- [0,1] and int64 labels 1..10. Tensor-backed (`tensors`, `data`,
-- `targets`), so the DataLoader batches them with index_select in C.
-- No download: the files come from Debian's dataset-fashion-mnist package
-- or from `root=`.
local class = require "luatrain.class"

local FILES = {
  train = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
  test  = {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
}

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() return true end
  return false
end

local function find_file(root, base, name, hint)
  for _, p in ipairs({root .. "/" .. base .. ".gz", root .. "/" .. base}) do
    if exists(p) then return p end
  end
  error(("%s: cannot open %s/%s.gz (%s)"):format(name, root, base, hint), 4)
end

local function make(name, default_root, hint)
  local C = class.extend(name)
  C.classes = name == "FashionMNIST"
    and {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
    or {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

  --- Loads a split.
  -- @param opts {split = "train"|"test", root = dir, transform = fn(batch)}
  --   (also `train = true|false` as in torchvision)
  function C:init(opts)
    opts = opts or {}
    if type(opts) ~= "table" then error(name .. ": options must be a table", 3) end
    local split = opts.split
    if split == nil then split = (opts.train == false) and "test" or "train" end
    if FILES[split] == nil then
      error(("%s: split must be \"train\" or \"test\", got %s"):format(name, tostring(split)), 3)
    end
    -- LUATRAIN_DATA_DIR/<name> overrides the default root (machines
    -- without the Debian package, e.g. a GPU box with a copied dataset).
    local env = os.getenv("LUATRAIN_DATA_DIR")
    local root = opts.root or (env and env ~= "" and env .. "/" .. name:lower()) or default_root
    if type(root) ~= "string" then error(name .. ": root must be a string", 3) end
    root = root:gsub("/+$", "")
    local img_path = find_file(root, FILES[split][1], name, hint)
    local lbl_path = find_file(root, FILES[split][2], name, hint)
    local data = require "luatrain.data"
    local raw_x = data.read_idx(img_path)
    local raw_y = data.read_idx(lbl_path)
    if raw_x:dim() ~= 3 or raw_y:dim() ~= 1 or raw_x:size(1) ~= raw_y:size(1) then
      error(("%s: %s and %s do not match (images %s, labels %s)"):format(name, img_path, lbl_path,
        table.concat(raw_x.shape, "x"), table.concat(raw_y.shape, "x")), 3)
    end
    local n, h, w = raw_x:size(1), raw_x:size(2), raw_x:size(3)
    self.data = (raw_x:float() / 255):view(n, 1, h, w)
    self.targets = raw_y:long() + 1
    self.tensors = {self.data, self.targets}
    self.n = n
    self.split = split
    self.root = root
    self.transform = opts.transform
  end

  function C:__len() return self.n end

  --- Sample i: an image {1,28,28} (transform applied as to a batch of one)
  -- and its label (a number 1..10).
  function C:get(i)
    if math.type(i) ~= "integer" or i < 1 or i > self.n then
      error(("%s:get: index %s out of range 1..%d"):format(name, tostring(i), self.n), 2)
    end
    local x = self.data[i]
    if self.transform then x = self.transform(x:unsqueeze(1))[1] end
    return x, self.targets[i]
  end

  return C
end

local M = {}
M.FashionMNIST = make("FashionMNIST", "/usr/share/datasets/fashion-mnist",
  "install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist) or pass root=")
M.MNIST = make("MNIST", "/usr/share/datasets/mnist",
  "pass root= naming a directory holding the MNIST IDX files")
return M
