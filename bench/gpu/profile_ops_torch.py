# bench/gpu/profile_ops_torch.py - PyTorch side of profile_ops.lua: the same
# pieces, shapes and timing (forward+backward, ms per iteration).
import argparse, time, torch
import torch.nn.functional as F
p = argparse.ArgumentParser(); p.add_argument("--device", default="cuda")
p.add_argument("--iters", type=int, default=20); p.add_argument("--scale", type=int, default=1)
a = p.parse_args(); dev = a.device; s = a.scale
def sync():
    if dev.startswith("cuda"): torch.cuda.synchronize()
def bench(name, make, step):
    try:
        st = make()
        for _ in range(3): step(st)
        sync(); t0 = time.perf_counter()
        for _ in range(a.iters): step(st)
        sync(); print("RESULT %s %.4f" % (name, (time.perf_counter() - t0) / a.iters * 1000))
    except Exception as e:
        print("RESULT %s failed: %s" % (name, e))
def leaf(*shape): return torch.randn(*shape, device=dev, requires_grad=True)
def fb(out): out.sum().backward()
N, C = 16384 // s, 384 // s
bench("linear_384x1152", lambda: dict(x=leaf(N, C), w=leaf(3 * C, C), b=leaf(3 * C)),
      lambda t: fb(F.linear(t["x"], t["w"], t["b"])))
for name in ("composed", "fused"):
    def mk():
        return dict(q=leaf(64 // s, 6, 256 // s, 64), k=leaf(64 // s, 6, 256 // s, 64), v=leaf(64 // s, 6, 256 // s, 64))
    if name == "composed":
        def st(t):
            sc = t["q"] @ t["k"].transpose(-2, -1) * (1 / 8.0)
            L = sc.shape[-1]
            m = torch.ones(L, L, dtype=torch.bool, device=dev).triu(1)
            fb(torch.softmax(sc.masked_fill(m, float("-inf")), -1) @ t["v"])
    else:
        def st(t): fb(F.scaled_dot_product_attention(t["q"], t["k"], t["v"], is_causal=True))
    bench("attention_" + name, mk, st)
def split(t):
    x = t["x"]
    q = x[:, :, :C].view(64 // s, 256 // s, 6, C // 6).transpose(1, 2)
    k = x[:, :, C:2 * C].view(64 // s, 256 // s, 6, C // 6).transpose(1, 2)
    fb((q.contiguous() + k.contiguous()).transpose(1, 2).contiguous().view(64 // s, 256 // s, C))
bench("qkv_split_heads", lambda: dict(x=leaf(64 // s, 256 // s, 3 * C)), split)
bench("layer_norm_384", lambda: dict(x=leaf(N, C), w=leaf(C), b=leaf(C)),
      lambda t: fb(F.layer_norm(t["x"], (C,), t["w"], t["b"])))
bench("gelu_1536", lambda: dict(x=leaf(N, 4 * C)), lambda t: fb(F.gelu(t["x"])))
bench("residual_add", lambda: dict(x=leaf(N, C), y=leaf(N, C)), lambda t: fb(t["x"] + t["y"]))
bench("cross_entropy_65", lambda: dict(x=leaf(N, 65), y=torch.randint(0, 65, (N,), device=dev)),
      lambda t: F.cross_entropy(t["x"], t["y"]).backward())
bench("embedding", lambda: dict(w=leaf(65, C), i=torch.randint(0, 65, (64 // s, 256 // s), device=dev)),
      lambda t: fb(F.embedding(t["i"], t["w"])))
def mkopt():
    ps = []
    for i in range(1, 76):
        q = leaf(4 * C if i % 3 == 0 else C, C); q.grad = torch.randn_like(q); ps.append(q)
    return dict(opt=torch.optim.AdamW(ps, lr=1e-4, foreach=False))
bench("adamw_75_tensors", mkopt, lambda t: t["opt"].step())
B = 100 // s
bench("conv5x5_1to32_28", lambda: dict(x=leaf(B, 1, 28, 28), w=leaf(32, 1, 5, 5), b=leaf(32)),
      lambda t: fb(F.conv2d(t["x"], t["w"], t["b"], padding=2)))
bench("conv5x5_32to64_14", lambda: dict(x=leaf(B, 32, 14, 14), w=leaf(64, 32, 5, 5), b=leaf(64)),
      lambda t: fb(F.conv2d(t["x"], t["w"], t["b"], padding=2)))
bench("maxpool2_32x28", lambda: dict(x=leaf(B, 32, 28, 28)), lambda t: fb(F.max_pool2d(t["x"], 2)))
bench("relu_32x28", lambda: dict(x=leaf(B, 32, 28, 28)), lambda t: fb(F.relu(t["x"])))
bench("linear_3136x1024", lambda: dict(x=leaf(B, 3136), w=leaf(1024, 3136), b=leaf(1024)),
      lambda t: fb(F.linear(t["x"], t["w"], t["b"])))
