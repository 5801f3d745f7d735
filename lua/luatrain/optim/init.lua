--- luatrain.optim: optimizers (SGD, Adam, AdamW, RMSprop), the Optimizer
-- base class and optim.lr_scheduler. Collects; defines nothing itself.
-- @module luatrain.optim
local M = {}

M.Optimizer = require("luatrain.optim.optimizer").Optimizer
M.SGD = require("luatrain.optim.sgd").SGD
M.Adam = require("luatrain.optim.adam").Adam
M.AdamW = require("luatrain.optim.adamw").AdamW
M.RMSprop = require("luatrain.optim.rmsprop").RMSprop
M.lr_scheduler = require("luatrain.optim.lr_scheduler")

return M
