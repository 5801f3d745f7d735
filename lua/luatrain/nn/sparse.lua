--- Embedding: a lookup table of `num_embeddings` rows of size
-- `embedding_dim`, indexed by 1-based int64 ids. Init N(0, 1) with the
-- padding row zeroed (its gradient is zero too). No max_norm, no sparse
-- gradients, no EmbeddingBag.
-- @module luatrain.nn.sparse
local lt = require("luatrain")
local module = require("luatrain.nn.module")
local init = require("luatrain.nn.init_fns")

local Module, Parameter = module.Module, module.Parameter
local M = {}

--- Embedding(num_embeddings, embedding_dim, {padding_idx = nil (1-based;
-- negative counts from the end), dtype =, device =}).
local Embedding = Module:extend("Embedding")
M.Embedding = Embedding

function Embedding:init(num, dim, opts)
  if math.type(num) ~= "integer" or num <= 0 then
    error(("Embedding: bad argument #1 'num_embeddings' (positive integer expected, got %s)")
          :format(tostring(num)), 3)
  end
  if math.type(dim) ~= "integer" or dim <= 0 then
    error(("Embedding: bad argument #2 'embedding_dim' (positive integer expected, got %s)")
          :format(tostring(dim)), 3)
  end
  opts = opts or {}
  local pidx = opts.padding_idx
  if pidx ~= nil then
    if math.type(pidx) ~= "integer" or pidx == 0 or pidx > num or pidx < -num then
      error(("Embedding: bad option 'padding_idx' (1-based index within num_embeddings %d, got %s)")
            :format(num, tostring(pidx)), 3)
    end
    if pidx < 0 then pidx = num + pidx + 1 end
  end
  self.num_embeddings, self.embedding_dim, self.padding_idx = num, dim, pidx
  if opts._weight then
    self.weight = Parameter(opts._weight, not opts.freeze)
  else
    self.weight = Parameter(lt.empty({num, dim}, {dtype = opts.dtype, device = opts.device}))
    self:reset_parameters()
  end
end

--- Re-draws the weight from N(0, 1) and zeroes the padding row.
function Embedding:reset_parameters()
  init.normal_(self.weight)
  if self.padding_idx then
    local w, i = self.weight, self.padding_idx
    lt.no_grad(function() w:narrow(1, i, 1):zero_() end)
  end
end

function Embedding:forward(ids)
  return lt.embedding(ids, self.weight, self.padding_idx)
end

function Embedding:extra_repr()
  local s = ("%d, %d"):format(self.num_embeddings, self.embedding_dim)
  if self.padding_idx then s = s .. ", padding_idx=" .. self.padding_idx end
  return s
end

--- Embedding.from_pretrained(weight, {freeze = true, padding_idx =}).
function Embedding.from_pretrained(weight, opts)
  if not lt.is_tensor(weight) or weight:dim() ~= 2 then
    error("Embedding.from_pretrained: bad argument #1 'embeddings' (2-D tensor expected)", 2)
  end
  opts = opts or {}
  local freeze = opts.freeze ~= false
  return Embedding(weight:size(1), weight:size(2),
                   {padding_idx = opts.padding_idx, _weight = weight:detach():clone(), freeze = freeze})
end

return M
