# Generates the PyTorch reference numbers pasted into tests/nn_seq_spec.lua
# (the REF table). Run: bench/.venv/bin/python tests/ref/nn_seq_ref.py
# Weights and inputs come from closed formulas that the spec repeats in Lua:
#   parameter j (1-based, state_dict order), element k: 0.5 sin(0.37 k + 1.3 j + 0.1)
#   input number j, element k:                         0.8 cos(0.53 k + 0.7 j + 0.2)
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

def wfill(j, shape):
    n = math.prod(shape)
    k = torch.arange(n, dtype=torch.float64)
    return (0.5 * torch.sin(0.37 * k + 1.3 * j + 0.1)).reshape(shape)

def xfill(j, shape):
    n = math.prod(shape)
    k = torch.arange(n, dtype=torch.float64)
    return (0.8 * torch.cos(0.53 * k + 0.7 * j + 0.2)).reshape(shape)

def setw(m):
    with torch.no_grad():
        for j, (name, p) in enumerate(m.state_dict().items(), start=1):
            p.copy_(wfill(j, tuple(p.shape)))

out = []
def emit(name, t):
    if isinstance(t, torch.Tensor):
        t = t.detach()
        vals = ", ".join("%.17g" % v for v in t.reshape(-1).tolist())
        shape = ", ".join(str(s) for s in t.shape)
        out.append('  ["%s"] = {shape = {%s}, %s},' % (name, shape, vals))
    else:
        out.append('  ["%s"] = %s,' % (name, t))

def keys(name, m):
    out.append('  ["%s"] = {%s},' % (name, ", ".join('"%s"' % k for k in m.state_dict().keys())))

# ---------------- activations
x = torch.tensor([-3.5, -1.0, -0.2, 0.1, 0.3, 2.0, 25.0])
acts = {
    "elu": F.elu(x), "elu_a": F.elu(x, alpha=0.5), "selu": F.selu(x), "celu_a": F.celu(x, alpha=2.0),
    "softplus": F.softplus(x), "softplus_bt": F.softplus(x, beta=2.0, threshold=5.0),
    "mish": F.mish(x), "hardswish": F.hardswish(x), "hardsigmoid": F.hardsigmoid(x),
    "hardtanh": F.hardtanh(x, -2.0, 1.5), "relu6": F.relu6(x), "logsigmoid": F.logsigmoid(x),
    "softsign": F.softsign(x), "tanhshrink": F.tanhshrink(x), "threshold": F.threshold(x, 0.1, 20.0),
}
for k, v in acts.items():
    emit("act_" + k, v)
x2 = xfill(1, (2, 4))
emit("glu", F.glu(x2, dim=-1))
emit("glu_dim1", F.glu(x2, dim=0))
emit("softmin", F.softmin(x2, dim=1))
pr = nn.PReLU(3, init=0.1)
x3 = xfill(2, (2, 3, 2))
emit("prelu", pr(x3))

# ---------------- distances and losses
a, b = xfill(3, (3, 4)), xfill(4, (3, 4))
emit("cos_dim1", F.cosine_similarity(a, b, dim=1))
emit("cos_dim0", F.cosine_similarity(a, b, dim=0))
emit("cos_bcast", F.cosine_similarity(a, b[0:1], dim=1))
emit("normalize", F.normalize(a, dim=1))
emit("normalize_p1_d0", F.normalize(a, p=1.0, dim=0))
emit("pdist", F.pairwise_distance(a, b))
emit("pdist_p1_keep", F.pairwise_distance(a, b, p=1.0, keepdim=True))
logp = F.log_softmax(a, dim=1)
tgt = F.softmax(b, dim=1)
tgt0 = tgt.clone(); tgt0[0, 1] = 0.0
for r in ["mean", "batchmean", "sum", "none"]:
    emit("kl_" + r, F.kl_div(logp, tgt0, reduction=r))
emit("kl_logt", F.kl_div(logp, F.log_softmax(b, dim=1), reduction="batchmean", log_target=True))
y = torch.tensor([1.0, -1.0, 1.0])
emit("cel", F.cosine_embedding_loss(a, b, y, margin=0.1))
emit("cel_none", F.cosine_embedding_loss(a, b, y, margin=-0.5, reduction="none"))
emit("mrl", F.margin_ranking_loss(a[:, 0], b[:, 0], y, margin=0.2))
var = xfill(5, (3, 4)).abs() + 0.1
emit("gnll", F.gaussian_nll_loss(a, b, var))
emit("gnll_full_homo", F.gaussian_nll_loss(a, b, var[:, 0], full=True, reduction="sum"))
emit("gnll_last1", F.gaussian_nll_loss(a, b, var[:, 0:1], reduction="none"))

# ---------------- recurrent
lstm = nn.LSTM(3, 2, num_layers=2, batch_first=True, bidirectional=True)
keys("keys_lstm", lstm)
setw(lstm)
xl = xfill(6, (2, 3, 3)).requires_grad_(True)
h0, c0 = xfill(7, (4, 2, 2)), xfill(8, (4, 2, 2))
o, (hn, cn) = lstm(xl, (h0, c0))
emit("lstm_out", o); emit("lstm_hn", hn); emit("lstm_cn", cn)
(o.pow(2).sum() + hn.sum() + 2 * cn.sum()).backward()
emit("lstm_xgrad", xl.grad)
emit("lstm_whh1r_grad", lstm.weight_hh_l1_reverse.grad)

gru = nn.GRU(3, 3)
keys("keys_gru", gru)
setw(gru)
xg = xfill(9, (4, 2, 3)).requires_grad_(True)
o, hn = gru(xg)
emit("gru_out", o); emit("gru_hn", hn)
(o.pow(2).sum() + hn.sum()).backward()
emit("gru_xgrad", xg.grad)
emit("gru_bhh_grad", gru.bias_hh_l0.grad)

rnn = nn.RNN(2, 3, num_layers=2, nonlinearity="relu", bias=False, bidirectional=True)
keys("keys_rnn", rnn)
setw(rnn)
xr = xfill(10, (4, 2))
h0 = xfill(11, (4, 3))
o, hn = rnn(xr, h0)
emit("rnn_out", o); emit("rnn_hn", hn)

gru2 = nn.GRU(2, 2, num_layers=2, batch_first=True)
keys("keys_gru2", gru2)

lc = nn.LSTMCell(3, 2); setw(lc); keys("keys_lstmcell", lc)
xc = xfill(12, (2, 3)); hc = xfill(13, (2, 2)); cc = xfill(14, (2, 2))
h1, c1 = lc(xc, (hc, cc))
emit("lstmcell_h", h1); emit("lstmcell_c", c1)
gc = nn.GRUCell(3, 2); setw(gc)
emit("grucell_h", gc(xc, hc))
rc = nn.RNNCell(3, 2, nonlinearity="tanh"); setw(rc)
emit("rnncell_h", rc(xc, hc))
emit("rnncell_h0", rc(xc))

# ---------------- transformer
for nf in [False, True]:
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, batch_first=True,
                                       norm_first=nf, activation="gelu" if nf else "relu")
    if not nf:
        keys("keys_tel", layer)
    setw(layer)
    layer.eval()
    src = xfill(15, (2, 3, 4)).requires_grad_(True)
    kpm = torch.tensor([[False, False, True], [False, False, False]])
    y = layer(src, src_key_padding_mask=kpm)
    tag = "tel_nf" if nf else "tel"
    emit(tag, y)
    y.pow(2).sum().backward()
    emit(tag + "_xgrad", src.grad)

layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0)   # seq-first
enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(4), enable_nested_tensor=False)
keys("keys_enc", enc)
setw(enc)
enc.eval()
src = xfill(16, (3, 2, 4))
mask = nn.Transformer.generate_square_subsequent_mask(3)
emit("enc_causal", enc(src, mask=mask, is_causal=True))

for nf in [False, True]:
    dl = nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, dropout=0.0, batch_first=True, norm_first=nf)
    if not nf:
        keys("keys_tdl", dl)
    setw(dl)
    dl.eval()
    tgt = xfill(17, (2, 3, 4)).requires_grad_(True)
    mem = xfill(18, (2, 5, 4))
    mkpm = torch.tensor([[False, False, False, True, True], [False] * 5])
    y = dl(tgt, mem, tgt_mask=nn.Transformer.generate_square_subsequent_mask(3), tgt_is_causal=True,
           memory_key_padding_mask=mkpm)
    tag = "tdl_nf" if nf else "tdl"
    emit(tag, y)
    y.pow(2).sum().backward()
    emit(tag + "_xgrad", tgt.grad)
dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, dropout=0.0), 2,
                            norm=nn.LayerNorm(4))
keys("keys_dec", dec)

print("local REF = {")
print("\n".join(out))
print("}")
