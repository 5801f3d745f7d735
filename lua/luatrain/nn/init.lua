--- luatrain.nn: layers, containers, losses, nn.functional, nn.init, nn.utils.
-- Collects the classes defined one concern per file under nn/ into one
-- table; it defines nothing itself.
-- @module luatrain.nn
local module = require("luatrain.nn.module")

local M = {}

M.Module = module.Module
M.Parameter = module.Parameter
M.is_parameter = module.is_parameter
M.is_module = module.is_module

for _, name in ipairs({"container", "linear", "activation", "dropout", "conv", "pooling",
                       "batchnorm", "normalization", "sparse", "attention", "loss",
                       "rnn", "transformer", "upsampling", "padding"}) do
  for k, v in pairs(require("luatrain.nn." .. name)) do
    if k:sub(1, 1) ~= "_" and k:match("^%u") then M[k] = v end
  end
end

M.functional = require("luatrain.nn.functional")
M.F = M.functional
M.init = require("luatrain.nn.init_fns")
M.utils = require("luatrain.nn.utils")

return M
