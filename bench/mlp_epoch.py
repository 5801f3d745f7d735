"""bench/mlp_epoch.py - PyTorch side of bench/mlp_epoch.lua: a
784-256-128-10 ReLU MLP, Adam (lr 1e-3), batch 128, one epoch of
Fashion-MNIST (60,000 samples) on the CPU with 2 threads. Usage:
python bench/mlp_epoch.py [--batches N]"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist_common as common  # noqa: E402

a = common.args()
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 256), torch.nn.ReLU(),
                            torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
common.run("mlp_epoch", model, a)
