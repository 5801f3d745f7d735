/*
** ops_linalg.c - matrix-product front-ends: mm, bmm, matmul (PyTorch's
** 1-D/2-D/batched-broadcast semantics, composed from views + mm/bmm) and the
** fused linear layer. Transposed operands go to backend->gemm as trans
** flags; other layouts are made contiguous. Floating dtypes only. Under
** autocast the float inputs are cast to the autocast dtype first.
*/
#include <stdio.h>
#include <string.h>

#include "autocast.h"
#include "ops_util.h"

/* ---------------------------------------------------------------- gemm plumbing */

/* Can a (rows x cols) matrix with strides (s0, s1) be passed to gemm? Sets
** *trans (stored transposed) and *ld (row stride of the stored matrix). */
static bool mat_layout(int64_t r, int64_t c, int64_t s0, int64_t s1, bool *trans, int64_t *ld) {
  int64_t cm = c > 1 ? c : 1, rm = r > 1 ? r : 1;
  if ((s1 == 1 || c <= 1) && (r <= 1 || s0 >= cm)) {
    *trans = false;
    *ld = r <= 1 ? cm : s0;
    return true;
  }
  if ((s0 == 1 || r <= 1) && (c <= 1 || s1 >= rm)) {
    *trans = true;
    *ld = c <= 1 ? rm : s1;
    return true;
  }
  return false;
}

/* A contiguous copy with no history (t retained when already fine). */
static lt_tensor *contig_nograd(lt_tensor *t) {
  if (lt_is_contiguous(t)) return lt_ref(t);
  lt_tensor *d = lt_detach(t);
  if (!d) return NULL;
  lt_tensor *c = lt_contiguous(d);
  lt_tensor_release(d);
  return c;
}

typedef struct {
  lt_tensor *keep;  /* tensor whose data is passed (owned) */
  bool trans;
  int64_t ld, bstride;
} gemm_arg;

/* Prepares a 2-D or 3-D operand (last two dims are the matrix). */
static lt_status gemm_prepare(lt_tensor *t, gemm_arg *g) {
  int nd = t->ndim;
  int64_t r = t->shape[nd - 2], c = t->shape[nd - 1];
  if (mat_layout(r, c, t->stride[nd - 2], t->stride[nd - 1], &g->trans, &g->ld)) {
    g->keep = lt_ref(t);
  } else {
    g->keep = contig_nograd(t);
    if (!g->keep) return lt_errcode();
    g->trans = false;
    g->ld = c > 1 ? c : 1;
  }
  g->bstride = nd == 3 && t->shape[0] > 1 ? g->keep->stride[0] : 0;
  return LT_OK;
}

/* out (contiguous, [B,] m, n) = a @ b, a ([B,] m, k), b ([B,] k, n). */
static lt_status gemm_into(const char *op, lt_tensor *a, lt_tensor *b, lt_tensor *out, double beta) {
  int nd = a->ndim;
  int64_t m = a->shape[nd - 2], k = a->shape[nd - 1], n = b->shape[nd - 1];
  int64_t batch = nd == 3 ? a->shape[0] : 1;
  if (lt_numel(out) == 0) return LT_OK;
  const lt_backend *be = lt_backend_of(op, a);
  if (!be) return lt_errcode();
  if (k == 0) {
    if (beta != 0) return LT_OK;
    lt_view ov = lt_view_of(out);
    return be->fill(&ov, 0.0);
  }
  if (!be->gemm) return lt_err_not_impl(op, lt_tensor_device(a));
  gemm_arg ga = {0}, gb = {0};
  lt_status st = gemm_prepare(a, &ga);
  if (!st) st = gemm_prepare(b, &gb);
  if (!st)
    st = be->gemm(a->dtype, ga.trans, gb.trans, m, n, k, 1.0, lt_tensor_data(ga.keep), ga.ld,
                  ga.bstride, lt_tensor_data(gb.keep), gb.ld, gb.bstride, beta,
                  lt_tensor_data(out), n, m * n, batch);
  lt_tensor_release(ga.keep);
  lt_tensor_release(gb.keep);
  return st;
}

static lt_status check_mat_pair(const char *op, const lt_tensor *a, const lt_tensor *b) {
  if (lt_check_same_device(op, a, "self", b, "other")) return lt_errcode();
  if (a->dtype != b->dtype)
    return lt_error(LT_ERR_DTYPE, "%s: expected both arguments to have the same dtype, got %s and %s",
                    op, lt_dtype_name(a->dtype), lt_dtype_name(b->dtype));
  if (!lt_dtype_is_float(a->dtype))
    return lt_error(LT_ERR_DTYPE, "%s: only floating point tensors are supported, got %s", op,
                    lt_dtype_name(a->dtype));
  return LT_OK;
}

static lt_status shape_error(const char *op, const lt_tensor *a, const lt_tensor *b, int64_t ka,
                             int64_t kb) {
  char b1[128], b2[128];
  return lt_error(LT_ERR_SHAPE, "%s: shapes %s and %s cannot be multiplied (%lld != %lld)", op,
                  lt_shape_str(a, b1), lt_shape_str(b, b2), (long long)ka, (long long)kb);
}

/* ---------------------------------------------------------------- mm / bmm */

/* saved: 0 = a, 1 = b. i[0] = batched. */
static lt_status mm_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  bool batched = n->i[0] != 0;
  lt_tensor *g = gout[0];
  lt_tensor *(*prod)(lt_tensor *, lt_tensor *) = batched ? lt_bmm : lt_mm;
  int d0 = batched ? 1 : 0, d1 = d0 + 1;
  if (lt_node_needs_grad(n, 0)) {  /* da = g @ b^T */
    lt_tensor *b = lt_node_saved(n, 1);
    lt_tensor *bt = b ? lt_transpose(b, d0, d1) : NULL;
    lt_tensor *r = bt ? prod(g, bt) : NULL;
    lt_tensor_release(bt);
    if (!r || !(gin[0] = lt_grad_for_input(n, 0, r))) return lt_errcode();
  }
  if (lt_node_needs_grad(n, 1)) {  /* db = a^T @ g */
    lt_tensor *a = lt_node_saved(n, 0);
    lt_tensor *at = a ? lt_transpose(a, d0, d1) : NULL;
    lt_tensor *r = at ? prod(at, g) : NULL;
    lt_tensor_release(at);
    if (!r || !(gin[1] = lt_grad_for_input(n, 1, r))) return lt_errcode();
  }
  return LT_OK;
}

static lt_tensor *mm_common(const char *op, lt_tensor *a, lt_tensor *b, int nd) {
  lt_tensor *ac[2];
  int cast = lt_autocast_args(LT_AUTOCAST_LOW, (lt_tensor *[]){a, b}, ac, 2);
  if (cast) {  /* autocast: rerun on the low-precision inputs */
    lt_tensor *r = cast > 0 ? mm_common(op, ac[0], ac[1], nd) : NULL;
    lt_release_all(ac, 2);
    return r;
  }
  if (check_mat_pair(op, a, b)) return NULL;
  if (a->ndim != nd || b->ndim != nd) {
    lt_error(LT_ERR_SHAPE, "%s: expected %d-D tensors, got %d-D and %d-D", op, nd, a->ndim,
             b->ndim);
    return NULL;
  }
  if (a->shape[nd - 1] != b->shape[nd - 2]) {
    shape_error(op, a, b, a->shape[nd - 1], b->shape[nd - 2]);
    return NULL;
  }
  if (nd == 3 && a->shape[0] != b->shape[0]) {
    lt_error(LT_ERR_SHAPE, "%s: batch sizes differ (%lld and %lld)", op, (long long)a->shape[0],
             (long long)b->shape[0]);
    return NULL;
  }
  int64_t sh[3];
  if (nd == 3) sh[0] = a->shape[0];
  sh[nd - 2] = a->shape[nd - 2];
  sh[nd - 1] = b->shape[nd - 1];
  lt_tensor *out = lt_tensor_alloc(sh, nd, a->dtype, lt_tensor_device(a));
  if (!out || gemm_into(op, a, b, out, 0.0)) goto fail;
  lt_tensor *ins[2] = {a, b};
  if (lt_any_requires_grad(ins, 2)) {
    lt_node *n = lt_record(nd == 3 ? "BmmBackward" : "MmBackward", mm_backward, ins, 2, out);
    if (!n) goto fail;
    n->i[0] = nd == 3;
    if (b->requires_grad) lt_node_save(n, 0, a);
    if (a->requires_grad) lt_node_save(n, 1, b);
  }
  return out;
fail:
  lt_tensor_release(out);
  return NULL;
}

lt_tensor *lt_mm(lt_tensor *a, lt_tensor *b) { return mm_common("mm", a, b, 2); }
lt_tensor *lt_bmm(lt_tensor *a, lt_tensor *b) { return mm_common("bmm", a, b, 3); }

/* ---------------------------------------------------------------- matmul */

lt_tensor *lt_matmul(lt_tensor *a, lt_tensor *b) {
  const char *op = "matmul";
  lt_tensor *ac[2];
  int cast = lt_autocast_args(LT_AUTOCAST_LOW, (lt_tensor *[]){a, b}, ac, 2);
  if (cast) {
    lt_tensor *r = cast > 0 ? lt_matmul(ac[0], ac[1]) : NULL;
    lt_release_all(ac, 2);
    return r;
  }
  if (a->ndim == 0 || b->ndim == 0) {
    lt_error(LT_ERR_SHAPE, "matmul: both arguments need to be at least 1-D (got %d-D and %d-D)",
             a->ndim, b->ndim);
    return NULL;
  }
  if (check_mat_pair(op, a, b)) return NULL;
  int64_t ka = a->shape[a->ndim - 1], kb = b->ndim == 1 ? b->shape[0] : b->shape[b->ndim - 2];
  if (ka != kb) {
    shape_error(op, a, b, ka, kb);
    return NULL;
  }
  lt_tensor *t[6] = {0}, *out = NULL;
  if (a->ndim <= 2 && b->ndim <= 2) {
    t[0] = a->ndim == 1 ? lt_unsqueeze(a, 0) : lt_ref(a);
    t[1] = b->ndim == 1 ? lt_unsqueeze(b, 1) : lt_ref(b);
    if (!t[0] || !t[1] || !(t[2] = lt_mm(t[0], t[1]))) goto done;
    if (a->ndim == 1 && b->ndim == 1) out = lt_reshape(t[2], NULL, 0);
    else if (a->ndim == 1) out = lt_squeeze(t[2], 0);
    else if (b->ndim == 1) out = lt_squeeze(t[2], 1);
    else out = lt_ref(t[2]);
    goto done;
  }
  if (b->ndim <= 2) {  /* fold a's batch dims into the rows: one mm */
    int64_t sh[LT_MAX_DIMS];
    int nd = a->ndim;
    int64_t r2[2] = {lt_shape_numel(a->shape, nd - 1), ka};
    t[0] = lt_reshape(a, r2, 2);
    t[1] = b->ndim == 1 ? lt_unsqueeze(b, 1) : lt_ref(b);
    if (!t[0] || !t[1] || !(t[2] = lt_mm(t[0], t[1]))) goto done;
    memcpy(sh, a->shape, sizeof(int64_t) * (size_t)nd);
    if (b->ndim == 1) {
      out = lt_reshape(t[2], sh, nd - 1);
    } else {
      sh[nd - 1] = b->shape[1];
      out = lt_reshape(t[2], sh, nd);
    }
    goto done;
  }
  {
    /* batched: broadcast the batch dims, flatten them, one bmm */
    t[0] = a->ndim == 1 ? lt_unsqueeze(a, 0) : lt_ref(a);
    t[1] = b->ndim == 1 ? lt_unsqueeze(b, 1) : lt_ref(b);
    if (!t[0] || !t[1]) goto done;
    lt_tensor *A = t[0], *B = t[1];
    int64_t bsh[LT_MAX_DIMS], esh[LT_MAX_DIMS];
    int bnd;
    if (lt_broadcast_shape(A->shape, A->ndim - 2, B->shape, B->ndim - 2, bsh, &bnd)) {
      lt_error(LT_ERR_SHAPE, "matmul: batch dimensions: %s", lt_errmsg());
      goto done;
    }
    if (bnd + 2 > LT_MAX_DIMS) {
      lt_error(LT_ERR_SHAPE, "matmul: too many dims");
      goto done;
    }
    int64_t P = lt_shape_numel(bsh, bnd), m = A->shape[A->ndim - 2], n = B->shape[B->ndim - 1];
    memcpy(esh, bsh, sizeof(int64_t) * (size_t)bnd);
    esh[bnd] = m;
    esh[bnd + 1] = ka;
    int64_t s3[3] = {P, m, ka};
    if (!(t[2] = lt_expand(A, esh, bnd + 2)) || !(t[3] = lt_reshape(t[2], s3, 3))) goto done;
    esh[bnd] = ka;
    esh[bnd + 1] = n;
    s3[1] = ka;
    s3[2] = n;
    lt_tensor_release(t[2]);
    if (!(t[2] = lt_expand(B, esh, bnd + 2)) || !(t[4] = lt_reshape(t[2], s3, 3))) goto done;
    if (!(t[5] = lt_bmm(t[3], t[4]))) goto done;
    esh[bnd] = m;
    esh[bnd + 1] = n;
    int ond = bnd + 2;
    if (b->ndim == 1) ond--;            /* drop n (= 1) */
    if (a->ndim == 1) {                  /* drop m (= 1) */
      esh[bnd] = esh[bnd + 1];
      ond--;
    }
    out = lt_reshape(t[5], esh, ond);
  }
done:
  lt_release_all(t, 6);
  return out;
}

/* ---------------------------------------------------------------- linear */

/* inputs: x, w, b. saved: 0 = x, 1 = w. */
static lt_status linear_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  const lt_meta *mx = &n->meta[0];
  int64_t in = mx->shape[mx->ndim - 1], out = n->meta[1].shape[0];
  int64_t M = lt_shape_numel(mx->shape, mx->ndim - 1);
  int64_t g2s[2] = {M, out}, x2s[2] = {M, in};
  lt_tensor *t[6] = {0};
  lt_status st = LT_OK;
  if (!(t[0] = lt_reshape(gout[0], g2s, 2))) goto fail;  /* dy (M, out) */
  if (lt_node_needs_grad(n, 0)) {  /* dx = dy @ w */
    lt_tensor *w = lt_node_saved(n, 1);
    if (!w || !(t[1] = lt_mm(t[0], w))) goto fail;
    if (!(gin[0] = lt_reshape(t[1], mx->shape, mx->ndim))) goto fail;
  }
  if (lt_node_needs_grad(n, 1)) {  /* dw = dy^T @ x */
    lt_tensor *x = lt_node_saved(n, 0);
    if (!x || !(t[2] = lt_reshape(x, x2s, 2)) || !(t[3] = lt_transpose(t[0], 0, 1))) goto fail;
    if (!(gin[1] = lt_mm(t[3], t[2]))) goto fail;
  }
  if (n->n_inputs > 2 && lt_node_needs_grad(n, 2)) {  /* db = sum over rows of dy */
    int d0 = 0;
    if (!(gin[2] = lt_reduce(LT_REDUCE_SUM, t[0], &d0, 1, false, 0, NULL, 0))) goto fail;
  }
  lt_release_all(t, 6);
  return LT_OK;
fail:
  st = lt_errcode();
  lt_release_all(t, 6);
  return st;
}

lt_tensor *lt_linear(lt_tensor *x, lt_tensor *w, lt_tensor *b) {
  const char *op = "linear";
  char b1[128], b2[128];
  lt_tensor *ac[3];
  int cast = lt_autocast_args(LT_AUTOCAST_LOW, (lt_tensor *[]){x, w, b}, ac, 3);
  if (cast) {
    lt_tensor *r = cast > 0 ? lt_linear(ac[0], ac[1], ac[2]) : NULL;
    lt_release_all(ac, 3);
    return r;
  }
  if (check_mat_pair(op, x, w)) return NULL;
  if (b && (lt_check_same_device(op, x, "input", b, "bias"))) return NULL;
  if (b && b->dtype != x->dtype) {
    lt_error(LT_ERR_DTYPE, "linear: expected bias to have dtype %s, got %s",
             lt_dtype_name(x->dtype), lt_dtype_name(b->dtype));
    return NULL;
  }
  if (w->ndim != 2 || x->ndim < 1) {
    lt_error(LT_ERR_SHAPE, "linear: expected weight (out, in) and input (..., in), got %s and %s",
             lt_shape_str(w, b1), lt_shape_str(x, b2));
    return NULL;
  }
  int64_t in = w->shape[1], outf = w->shape[0];
  if (x->shape[x->ndim - 1] != in) {
    lt_error(LT_ERR_SHAPE, "linear: shapes %s and %s cannot be multiplied (%lld != %lld)",
             lt_shape_str(x, b1), lt_shape_str_raw((int64_t[]){in, outf}, 2, b2),
             (long long)x->shape[x->ndim - 1], (long long)in);
    return NULL;
  }
  if (b && !(b->ndim == 1 && b->shape[0] == outf)) {
    lt_error(LT_ERR_SHAPE, "linear: bias of shape %s does not match %lld output features",
             lt_shape_str(b, b1), (long long)outf);
    return NULL;
  }
  const lt_backend *be = lt_backend_of(op, x);
  if (!be) return NULL;
  int64_t ysh[LT_MAX_DIMS];
  memcpy(ysh, x->shape, sizeof(int64_t) * (size_t)x->ndim);
  ysh[x->ndim - 1] = outf;
  int64_t M = lt_shape_numel(x->shape, x->ndim - 1);
  lt_tensor *xc = contig_nograd(x), *y = NULL;
  gemm_arg gw = {0};
  if (!xc) return NULL;
  y = lt_tensor_alloc(ysh, x->ndim, x->dtype, lt_tensor_device(x));
  if (!y) goto fail;
  if (lt_numel(y) > 0) {
    double beta = 0.0;
    if (b) {
      lt_view yv = lt_view_of(y), bv = lt_view_broadcast(b, ysh, x->ndim);
      if (be->copy(&yv, &bv)) goto fail;
      beta = 1.0;
    }
    if (in == 0) {
      if (!b) {
        lt_view yv = lt_view_of(y);
        if (be->fill(&yv, 0.0)) goto fail;
      }
    } else {
      if (!be->gemm) {
        lt_err_not_impl(op, lt_tensor_device(x));
        goto fail;
      }
      if (gemm_prepare(w, &gw)) goto fail;
      /* y (M, out) = x (M, in) @ w^T: op(B) = w^T, so trans_b is "w stored as is" */
      if (be->gemm(x->dtype, false, !gw.trans, M, outf, in, 1.0, lt_tensor_data(xc), in, 0,
                   lt_tensor_data(gw.keep), gw.ld, 0, beta, lt_tensor_data(y), outf, 0, 1))
        goto fail;
    }
  }
  lt_tensor *ins[3] = {x, w, b};
  if (lt_any_requires_grad(ins, b ? 3 : 2)) {
    lt_node *n = lt_record("LinearBackward", linear_backward, ins, b ? 3 : 2, y);
    if (!n) goto fail;
    if (w->requires_grad) lt_node_save(n, 0, xc);
    if (x->requires_grad) lt_node_save(n, 1, w);
  }
  lt_tensor_release(gw.keep);
  lt_tensor_release(xc);
  return y;
fail:
  lt_tensor_release(gw.keep);
  lt_tensor_release(xc);
  lt_tensor_release(y);
  return NULL;
}
