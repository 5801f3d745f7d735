"""bench/gpu/cnn_epoch_torch.py - the PyTorch side of bench/gpu/cnn_epoch.lua:
the TensorFlow-tutorial CNN (conv5x5x32 'same', ReLU, maxpool2, conv5x5x64
'same', ReLU, maxpool2, fc1024, ReLU, fc10), batch 100, Adam lr 1e-3, one
epoch of Fashion-MNIST already on the device, read from the same gz IDX files
(LUATRAIN_DATA_DIR/fashionmnist or /usr/share/datasets/fashion-mnist).
Prints the same RESULT lines. No data loader, no augmentation.
Usage: python3 bench/gpu/cnn_epoch_torch.py [--max-batches N] [--time-limit S]"""
import argparse
import gzip
import os
import sys
import time

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError as e:
    print("cnn_epoch_torch: %s: skipping" % e)
    sys.exit(0)


def default_root():
    env = os.environ.get("LUATRAIN_DATA_DIR")
    return os.path.join(env, "fashionmnist") if env else "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    if not os.path.exists(path) and os.path.exists(path[:-3]):
        path = path[:-3]
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(tuple(int(d) for d in dims))


def load(root, base, dev):
    x = read_idx(os.path.join(root, base + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(root, base + "-labels-idx1-ubyte.gz"))
    X = torch.from_numpy(x.astype(np.float32) / 255.0).view(-1, 1, 28, 28).to(dev)
    Y = torch.from_numpy(y.astype(np.int64)).to(dev)
    return X, Y


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--max-batches", type=int, default=0,
                   help="time only N batches and extrapolate to the epoch (0 = whole epoch)")
    p.add_argument("--time-limit", type=float, default=0.0,
                   help="stop timing after S seconds and extrapolate (0 = no limit)")
    p.add_argument("--test-batches", type=int, default=0,
                   help="evaluate on N test batches of 1000 (0 = the whole test set)")
    p.add_argument("--root", default="")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tf32", action="store_true", help="allow TF32 in matmuls and convolutions")
    a = p.parse_args()
    # strict fp32 unless --tf32, as luatrain (cuDNN convolutions default to TF32 otherwise)
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32

    dev = a.device
    is_cuda = dev.startswith("cuda")
    if is_cuda and not torch.cuda.is_available():
        print("cnn_epoch_torch: no GPU: skipping (use --device cpu)")
        return
    sync = torch.cuda.synchronize if is_cuda else (lambda: None)

    torch.manual_seed(a.seed)
    if is_cuda:
        torch.cuda.reset_peak_memory_stats()
    root = a.root or default_root()
    try:
        X, Y = load(root, "train", dev)
        Xt, Yt = load(root, "t10k", dev)
    except (OSError, ValueError) as e:
        print("cnn_epoch_torch: cannot read Fashion-MNIST from %s: %s" % (root, e))
        sys.exit(1)
    n, bs = X.shape[0], a.batch_size
    per_epoch = n // bs

    model = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * 64, 1024), nn.ReLU(), nn.Linear(1024, 10)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    perm = torch.randperm(n).to(dev)

    def step(i):
        idx = perm[i * bs:(i + 1) * bs]
        xb, yb = X.index_select(0, idx), Y.index_select(0, idx)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    model.train()
    for i in range(min(a.warmup, per_epoch)):
        step(i)
    sync()

    perm = torch.randperm(n).to(dev)
    limit = min(a.max_batches, per_epoch) if a.max_batches > 0 else per_epoch
    loss, nb = None, 0
    t0 = time.perf_counter()
    for i in range(limit):
        loss = step(i)
        nb += 1
        if a.time_limit > 0 and time.perf_counter() - t0 > a.time_limit:
            break
    sync()
    wall = time.perf_counter() - t0
    last = loss.item()

    # the timing first, so that it survives an evaluation cut short
    if nb < per_epoch:
        print("info: cnn_epoch timed %d of %d batches and extrapolated to the epoch; accuracy after "
              "%d warm-up + %d batches" % (nb, per_epoch, a.warmup, nb))
    print("info: cnn_epoch torch %s on %s, batch %d, final loss %.4f, %.3f ms/batch, tf32 %s"
          % (torch.__version__, dev, bs, last, wall / nb * 1e3, a.tf32))
    print("RESULT cnn_batches %d" % nb)
    print("RESULT cnn_epoch_s %.4f" % (wall / nb * per_epoch))
    if is_cuda:   # training's peak, before evaluation
        print("RESULT cnn_peak_mib %.1f" % (torch.cuda.max_memory_allocated() / 2**20))
    sys.stdout.flush()

    # test accuracy in batches of 1000; with --time-limit, stops after S/2 seconds
    model.eval()
    correct = total = 0
    with torch.no_grad():
        tb, nt = 1000, Xt.shape[0]
        batches = nt // tb
        if a.test_batches > 0:
            batches = min(batches, a.test_batches)
        te = time.perf_counter()
        for j in range(batches):
            xb, yb = Xt[j * tb:(j + 1) * tb], Yt[j * tb:(j + 1) * tb]
            correct += int((model(xb).argmax(1) == yb).sum().item())
            total += tb
            if a.time_limit > 0 and time.perf_counter() - te > a.time_limit / 2:
                break
    if total < nt:
        print("info: cnn_epoch accuracy on %d of %d test images" % (total, nt))
    print("RESULT cnn_test_acc %.4f" % (correct / total))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
