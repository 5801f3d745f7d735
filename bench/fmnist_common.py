"""bench/fmnist_common.py - shared by the PyTorch benchmarks: reads
Fashion-MNIST from the IDX files with gzip + numpy (float32 images in [0, 1]
shaped (N, 1, 28, 28), int64 labels 0..9), a timing loop over shuffled
batches, and the command line (--batches, --root)."""
import argparse
import gzip
import os
import time

import numpy as np
import torch

ROOT = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(tuple(int(d) for d in dims))


def load(root, split="train"):
    base = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(root, base + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(root, base + "-labels-idx1-ubyte.gz"))
    X = torch.from_numpy(x.astype(np.float32) / 255.0).view(-1, 1, 28, 28)
    Y = torch.from_numpy(y.astype(np.int64))
    return X, Y


def args():
    p = argparse.ArgumentParser()
    p.add_argument("--batches", type=int, default=0, help="timed batches (0 = one epoch)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--root", default=ROOT)
    return p.parse_args()


def run(name, model, a):
    """Times `a.batches` Adam steps (or one epoch) over shuffled batches and
    prints RESULT lines: wall seconds, process CPU seconds, ms per batch."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    X, Y = load(a.root)
    n, bs = X.shape[0], a.batch_size
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = torch.nn.CrossEntropyLoss()
    model.train()

    def batches(limit):
        perm = torch.randperm(n)
        count = 0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            yield X.index_select(0, idx), Y.index_select(0, idx)
            count += 1
            if limit and count >= limit:
                return

    def step(xb, yb):
        opt.zero_grad()
        loss = crit(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    for xb, yb in batches(a.warmup):
        step(xb, yb)
    nb = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for xb, yb in batches(a.batches):
        loss = step(xb, yb)
        nb += 1
    last = loss.item()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print("info: %s torch %s, %d threads, %d batches of %d, final loss %.4f" %
          (name, torch.__version__, torch.get_num_threads(), nb, bs, last))
    print("RESULT %s_s %.4f" % (name, wall))
    print("RESULT %s_cpu_s %.4f" % (name, cpu))
    print("RESULT %s_batch_ms %.3f" % (name, wall / nb * 1e3))
