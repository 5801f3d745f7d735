"""bench/cnn_epoch.py - PyTorch side of bench/cnn_epoch.lua: the
examples/fashion_mnist_cnn.lua network (two conv3x3+BatchNorm+ReLU+maxpool
blocks, 32 and 64 channels, then Linear(3136, 128), ReLU, Dropout(0.3),
Linear(128, 10)), Adam (lr 1e-3), batch 128, Fashion-MNIST on the CPU with
2 threads. Usage: python bench/cnn_epoch.py [--batches N]"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist_common as common  # noqa: E402

a = common.args()
torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
common.run("cnn_epoch", model, a)
