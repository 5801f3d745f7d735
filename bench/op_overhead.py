"""bench/op_overhead.py - the PyTorch side of bench/op_overhead.lua: the same
tiny ops (16 float32 elements, CPU, 2 threads), microseconds per op, median
of 5 rounds, printed as RESULT lines."""
import sys
import time

import torch

torch.set_num_threads(2)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 200000


def timeit(f):
    f()
    best = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(N):
            f()
        best.append((time.perf_counter() - t0) / N)
    best.sort()
    return best[2] * 1e6


x = torch.ones(16)
y = torch.ones(16)
w = torch.ones(16, requires_grad=True)
r = {
    "add_us": timeit(lambda: x + y),
    "add_inplace_us": timeit(lambda: x.add_(y)),
    "mul_scalar_us": timeit(lambda: x * 2),
    "relu_us": timeit(lambda: x.relu()),
    "sum_us": timeit(lambda: x.sum()),
    "view_us": timeit(lambda: x.view(4, 4)),
    "add_grad_us": timeit(lambda: w + y),
}
for k, v in r.items():
    print("RESULT %s %.3f" % (k, v))
