--- AdamW: Adam with decoupled weight decay (default 1e-2), PyTorch's
-- numerics via lt._C.adam_step(decoupled = true). Everything else is Adam.
-- @classmod luatrain.optim.AdamW
local adam = require("luatrain.optim.adam")

local M = {}

local AdamW = adam.Adam:extend("AdamW")
M.AdamW = AdamW

AdamW._decoupled = true

--- AdamW(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
-- weight_decay = 1e-2, amsgrad = false, maximize = false}).
function AdamW:init(params, opts)
  adam._init(self, "AdamW", params, opts, 1e-2)
end

return M
