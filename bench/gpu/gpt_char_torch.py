"""bench/gpu/gpt_char_torch.py - the PyTorch side of bench/gpu/gpt_char.lua:
ms per training iteration (forward, backward, AdamW step) of the GPT-char
configuration (6 layers, 6 heads, 384 channels, context 256, batch 64,
vocabulary 65, pre-LN blocks, GELU MLP 4x, tied head, dropout 0) on random
tokens, in fp32, tf32 and bf16 autocast, and (mode "compile", its own run
because it is slow to start) bf16 autocast under torch.compile, abandoned
after --compile-timeout seconds. Prints the same RESULT lines.
Usage: python3 bench/gpu/gpt_char_torch.py [--iters N] [--modes fp32,tf32,bf16,compile]"""
import argparse
import math
import os
import sys
import threading
import time

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as e:
    print("gpt_char_torch: %s: skipping" % e)
    sys.exit(0)


class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.mlp = nn.Sequential(nn.Linear(C, 4 * C), nn.GELU(), nn.Linear(4 * C, C))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, self.H, C // self.H).transpose(1, 2)
        k = k.view(B, T, self.H, C // self.H).transpose(1, 2)
        v = v.view(B, T, self.H, C // self.H).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, V, T, L, H, C):
        super().__init__()
        self.tok_emb = nn.Embedding(V, C)
        self.pos_emb = nn.Embedding(T, C)
        self.blocks = nn.ModuleList([Block(C, H) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C)
        self.head = nn.Linear(C, V, bias=False)
        for m in self.modules():   # GPT-2 initialisation: N(0, 0.02), zero biases
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
        self.head.weight = self.tok_emb.weight   # tied

    def forward(self, idx, targets):
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.view(B * T, -1), targets.reshape(B * T))


def watchdog(seconds, what):
    """Ends the process with a clear line if `what` is still running after
    `seconds` (a signal cannot interrupt torch.compile reliably: its
    exceptions are caught inside). Returns the timer; cancel() it when done."""
    def fire():
        print("compile: skipped (%s over %d s)" % (what, seconds))
        sys.stdout.flush()
        os._exit(0)
    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()
    return t


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--embd", type=int, default=384)
    p.add_argument("--block", type=int, default=256)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--time-limit", type=float, default=0.0,
                   help="per mode: stop timing after S seconds (at least 2 iterations)")
    p.add_argument("--modes", default="fp32,tf32,bf16", help="fp32, tf32, bf16, compile")
    p.add_argument("--compile-timeout", type=int, default=60,
                   help="abandon torch.compile (compile + warm-up) after S seconds")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    dev = a.device
    dev_type = dev.split(":")[0]
    is_cuda = dev_type == "cuda"
    if is_cuda and not torch.cuda.is_available():
        print("gpt_char_torch: no GPU: skipping (use --device cpu)")
        return
    sync = torch.cuda.synchronize if is_cuda else (lambda: None)

    torch.manual_seed(a.seed)
    model = GPT(a.vocab, a.block, a.layers, a.heads, a.embd).to(dev)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.1)
    x = torch.randint(0, a.vocab, (a.batch, a.block), device=dev)
    y = torch.randint(0, a.vocab, (a.batch, a.block), device=dev)
    nparams = sum(q.numel() for q in model.parameters())
    print("info: gpt_char torch %s on %s: %d layers, %d heads, %d channels, context %d, batch %d, "
          "%d parameters" % (torch.__version__, dev, a.layers, a.heads, a.embd, a.block, a.batch, nparams))

    def run_mode(mode):
        fwd = model
        if mode == "compile":
            fwd = torch.compile(model)
        bf16 = mode in ("bf16", "compile")
        torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
        torch.backends.cudnn.allow_tf32 = mode == "tf32"

        def iteration():
            opt.zero_grad(set_to_none=True)
            if bf16:
                with torch.autocast(dev_type, dtype=torch.bfloat16):
                    loss = fwd(x, y)
            else:
                loss = fwd(x, y)
            loss.backward()
            opt.step()
            return loss

        sync()
        if is_cuda:
            torch.cuda.reset_peak_memory_stats()
        timer = None
        if mode == "compile" and a.compile_timeout > 0:
            timer = watchdog(a.compile_timeout, "compile + warm-up")
        t_start = time.perf_counter()
        try:
            for _ in range(max(a.warmup, 2 if mode == "compile" else 0)):
                iteration()
            sync()
        finally:
            if timer is not None:
                timer.cancel()
        if mode == "compile":
            print("info: compile + warm-up took %.1f s" % (time.perf_counter() - t_start))
        n, loss = 0, None
        t0 = time.perf_counter()
        while True:
            loss = iteration()
            n += 1
            if n >= a.iters or (a.time_limit > 0 and n >= 2 and time.perf_counter() - t0 > a.time_limit):
                break
        sync()
        ms = (time.perf_counter() - t0) / n * 1e3
        lv = loss.item()
        print("info: gpt_%s %d iterations, loss %.4f" % (mode, n, lv))
        if not math.isfinite(lv):
            print("%s: loss is not finite" % mode)
        print("RESULT gpt_%s_ms %.2f" % (mode, ms))
        if is_cuda:
            print("RESULT gpt_%s_peak_mib %.1f" % (mode, torch.cuda.max_memory_allocated() / 2**20))

    for mode in [m for m in a.modes.replace(" ", ",").split(",") if m]:
        if mode not in ("fp32", "tf32", "bf16", "compile"):
            print("%s: unknown mode (fp32, tf32, bf16, compile)" % mode)
            continue
        try:
            run_mode(mode)
        except Exception as e:  # noqa: BLE001 - report and go on with the next mode
            first = (str(e).strip().splitlines() or [""])[0][:200]
            print("%s: %s (%s: %s)" % (mode, "skipped" if mode == "compile" else "failed",
                                       type(e).__name__, first))
        sys.stdout.flush()
    torch.backends.cuda.matmul.allow_tf32 = False


if __name__ == "__main__":
    main()
