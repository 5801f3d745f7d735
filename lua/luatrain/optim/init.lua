--- luatrain.optim: optimizers (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta,
-- Adamax, NAdam, RAdam, ASGD, Rprop, LBFGS), the Optimizer
-- base class and optim.lr_scheduler. Collects; defines nothing itself.
-- @module luatrain.optim
local M = {}

M.Optimizer = require("luatrain.optim.optimizer").Optimizer
M.SGD = require("luatrain.optim.sgd").SGD
M.Adam = require("luatrain.optim.adam").Adam
M.AdamW = require("luatrain.optim.adamw").AdamW
M.RMSprop = require("luatrain.optim.rmsprop").RMSprop
M.Adagrad = require("luatrain.optim.adagrad").Adagrad
M.Adadelta = require("luatrain.optim.adadelta").Adadelta
M.Adamax = require("luatrain.optim.adamax").Adamax
M.NAdam = require("luatrain.optim.nadam").NAdam
M.RAdam = require("luatrain.optim.radam").RAdam
M.ASGD = require("luatrain.optim.asgd").ASGD
M.Rprop = require("luatrain.optim.rprop").Rprop
M.LBFGS = require("luatrain.optim.lbfgs").LBFGS
M.lr_scheduler = require("luatrain.optim.lr_scheduler")

return M
