# Offline generator of tests/tensor_ext_ref.lua (not a test; needs PyTorch):
#   bench/.venv/bin/python tests/ref/tensor_ext_ref.py > /tmp/v.lua, then wrap into tests/tensor_ext_ref.lua
import torch, math
torch.set_default_dtype(torch.float64)
def S(*shape, k=0.7, c=0.3):
    n = math.prod(shape)
    return torch.sin(torch.arange(n, dtype=torch.float64)*k + c).reshape(shape)
def L(t):
    if isinstance(t, torch.Tensor):
        t = t.tolist()
    if isinstance(t, bool): return "true" if t else "false"
    if isinstance(t, (list, tuple)): return "{" + ", ".join(L(v) for v in t) + "}"
    if isinstance(t, float): return repr(t) if math.isfinite(t) else ("math.huge" if t > 0 else "-math.huge")
    return str(t)
out = {}
a = S(3,4); b = S(4,5, k=0.4, c=1.0)
out["tril_m1"] = torch.tril(a, -1); out["triu_1"] = torch.triu(a, 1); out["tril_2"] = torch.tril(S(2,3,4), 1)
out["einsum_ij_jk"] = torch.einsum("ij,jk->ik", a, b)
q = S(2,3,4,5); kk = S(2,3,6,5, k=0.3, c=0.2)
out["einsum_attn"] = torch.einsum("bhqd,bhkd->bhqk", q, kk)
sq = S(4,4)
out["einsum_ii_i"] = torch.einsum("ii->i", sq)
out["einsum_ii"] = torch.einsum("ii", sq)
out["einsum_ij_"] = torch.einsum("ij->", a)
out["einsum_ji"] = torch.einsum("ij->ji", a)
out["einsum_implicit"] = torch.einsum("ba", a)
out["einsum_ell"] = torch.einsum("...ij,...jk->...ik", S(2,3,4), S(4,5,k=0.2))
out["einsum_outer"] = torch.einsum("i,j", S(3), S(4,k=0.9))
out["einsum_3"] = torch.einsum("ij,jk,kl->il", a, b, S(5,2,k=0.5))
out["einsum_bij_bj"] = torch.einsum("bij,bj->bi", S(2,3,4), S(2,4,k=1.1))
out["tensordot_2"] = torch.tensordot(S(2,3,4), S(3,4,5, k=0.2), dims=2)
out["tensordot_pairs"] = torch.tensordot(S(2,3,4), S(4,2,5, k=0.2), dims=([0,2],[1,0]))
out["cross"] = torch.cross(S(4,3), S(4,3,k=0.3), dim=1)
out["cross_d0"] = torch.cross(S(3,2), S(3,1,k=0.3), dim=0)
out["lerp_s"] = torch.lerp(S(5), S(5,k=0.2), 0.3)
out["lerp_b"] = torch.lerp(S(5), S(5,k=0.2), 0.8)
w = torch.tensor([0.1, 0.6, 0.5, 0.9, 0.2])
out["lerp_t"] = torch.lerp(S(5), S(5,k=0.2), w)
out["addcmul"] = torch.addcmul(S(2,3), S(3,k=0.2), S(2,1,k=0.5), value=0.5)
out["addcdiv"] = torch.addcdiv(S(2,3), S(3,k=0.2), S(2,1,k=0.5)+2, value=-2)
out["addmm"] = torch.addmm(S(4), S(3,2), S(2,4,k=0.3), beta=0.5, alpha=2)
out["baddbmm"] = torch.baddbmm(S(2,3,4), S(2,3,5), S(2,5,4,k=0.3), beta=0.25, alpha=-1)
x = torch.tensor([1.0, 1.0+1e-6, 2.0, float('nan'), float('inf'), float('-inf'), 0.0, 1e-9])
y = torch.tensor([1.0, 1.0, 2.1, float('nan'), float('inf'), float('inf'), 1e-9, 0.0])
out["isclose_def"] = torch.isclose(x, y)
out["isclose_nan"] = torch.isclose(x, y, rtol=0.1, atol=0.0, equal_nan=True)
out["roll_flat"] = torch.roll(S(3,4), 5)
out["roll_dims"] = torch.roll(S(3,4), (1,-1), (0,1))
out["diff_1"] = torch.diff(S(3,4))
out["diff_2_d0"] = torch.diff(S(4,3), n=2, dim=0)
out["diff_pa"] = torch.diff(S(2,3), dim=1, prepend=S(2,1,k=0.1), append=S(2,2,k=0.3))
out["logspace"] = torch.logspace(-2, 2, 5)
out["logspace_b2"] = torch.logspace(0, 3, 4, base=2)
sd, mn = torch.std_mean(S(3,4), dim=1); out["std_mean_s"] = sd; out["std_mean_m"] = mn
vr, mn = torch.var_mean(S(3,4), dim=0, correction=0, keepdim=True); out["var_mean_v"] = vr; out["var_mean_m"] = mn
vr, mn = torch.var_mean(S(3,4)); out["var_mean_all_v"] = vr; out["var_mean_all_m"] = mn
mi, ma = torch.aminmax(S(3,4), dim=1); out["aminmax_min"] = mi; out["aminmax_max"] = ma
out["diagonal_1"] = torch.diagonal(S(3,4), 1)
out["diagonal_m1"] = torch.diagonal(S(3,4), -1)
out["diagonal_3d"] = torch.diagonal(S(2,3,4), 0, 0, 2)
out["trace"] = torch.trace(S(3,4))
out["diag_v"] = torch.diag(S(3), -1)
out["nonzero"] = torch.nonzero(torch.tensor([[0.,1.5,0.],[2.,0.,float('nan')]])) + 1
out["masked_select"] = torch.masked_select(S(2,3), torch.tensor([True, False, True]))
out["repint_t"] = torch.repeat_interleave(S(3,2), torch.tensor([1,0,2]), dim=0)
out["repint_2"] = torch.repeat_interleave(S(2,2), 2, dim=1)
out["tile"] = torch.tile(S(2,2), (2,1,2))
out["count_nonzero"] = torch.count_nonzero(torch.tensor([[0,1,2],[0,0,3]]), dim=1)
out["mv"] = torch.mv(S(3,4), S(4,k=0.1))
out["dot"] = torch.dot(S(4), S(4,k=0.1))
out["outer"] = torch.outer(S(3), S(2,k=0.1))
for k, v in out.items():
    print(f"  {k} = {L(v)},")
