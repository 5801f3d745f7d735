"""bench/gpu/ops_torch.py - the PyTorch side of bench/gpu/ops.lua: the same
tiny-op, matmul 4096 and MLP-epoch measurements, printed as RESULT lines."""
import sys
import time

try:
    import torch
except ImportError:
    print("torch not installed: skipping")
    sys.exit(0)
if not torch.cuda.is_available():
    print("no GPU: skipping")
    sys.exit(0)
dev = "cuda"


def timeit(n, f):
    f()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / n


x = torch.ones(16, device=dev)
N = 20000
print("RESULT add_us %.3f" % (timeit(N, lambda: x + x) * 1e6))
print("RESULT add_inplace_us %.3f" % (timeit(N, lambda: x.add_(0)) * 1e6))
print("RESULT relu_us %.3f" % (timeit(N, lambda: x.relu()) * 1e6))
print("RESULT sum_us %.3f" % (timeit(N, lambda: x.sum()) * 1e6))

M = 4096
a, b = torch.randn(M, M, device=dev), torch.randn(M, M, device=dev)
for tf in (False, True):
    torch.backends.cuda.matmul.allow_tf32 = tf
    t = timeit(10, lambda: a @ b)
    print("RESULT matmul4096_%s_tflops %.2f" % ("tf32" if tf else "fp32", 2 * M**3 / t / 1e12))
torch.backends.cuda.matmul.allow_tf32 = False
del a, b

torch.manual_seed(0)
n_samples, bs = 60000, 128
X = torch.randn(n_samples, 784, device=dev)
Y = torch.randint(0, 10, (n_samples,), device=dev)
model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                            torch.nn.ReLU(), torch.nn.Linear(128, 10)).to(dev)
opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=False)


def epoch():
    last = None
    for i in range(0, n_samples - bs + 1, bs):
        xb, yb = X[i:i + bs], Y[i:i + bs]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        last = loss
    return last.item()


epoch()
torch.cuda.synchronize()
t0 = time.perf_counter()
epoch()
torch.cuda.synchronize()
print("RESULT mlp_epoch_s %.4f" % (time.perf_counter() - t0))
