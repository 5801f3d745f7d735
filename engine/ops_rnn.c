/*
** ops_rnn.c - fused recurrent cell front-ends: lt_lstm_cell and
** lt_gru_cell (one autograd node each, backward from the activations the
** forward saved) and lt_fused_rnn_available. They check shapes, dtypes and
** devices, make inputs contiguous and call the backend's optional
** lstm_cell / gru_cell kernels. Not here: the matmuls around the cell and
** the composed fallback (lua/luatrain/nn/rnn.lua), other dtypes than
** float32/float64.
*/
#include <stddef.h>
#include <string.h>

#include "ops_util.h"

static void *dptr(const lt_tensor *t) { return lt_tensor_data(t); }

/* contiguous copy (or t itself) without recording autograd */
static lt_tensor *contig_nograd(lt_tensor *t) {
  bool g = lt_grad_enabled();
  lt_set_grad_enabled(false);
  lt_tensor *r = lt_contiguous(t);
  lt_set_grad_enabled(g);
  return r;
}

/* the gradient of an output (may be NULL) as contiguous dtype dt; *ok false on failure */
static lt_tensor *grad_contig(lt_tensor *g, lt_dtype dt, bool *ok) {
  if (!g) return NULL;
  lt_tensor *c = lt_cast_nograd(g, dt);
  lt_tensor *r = c ? lt_contiguous(c) : NULL;
  lt_tensor_release(c);
  if (!r) *ok = false;
  return r;
}

static bool has_kernels(const lt_backend *be) {
  return be && be->lstm_cell && be->lstm_cell_backward && be->gru_cell && be->gru_cell_backward;
}

bool lt_fused_rnn_available(lt_device dev, lt_dtype dt) {
  if (dt != LT_DTYPE_F32 && dt != LT_DTYPE_F64) return false;
  lt_status saved = lt_errcode();
  const lt_backend *be = lt_backend_for(dev);
  if (!be && saved == LT_OK) lt_clearerr();  /* a query: leave no error behind */
  return has_kernels(be);
}

/* Checks `t` is a 2-D float32/float64 tensor (rows, width) on ref's device with
** ref's dtype (ref NULL: t is the reference). */
static lt_status check_arg(const char *op, const lt_tensor *t, const char *name, int64_t rows,
                           int64_t width, const lt_tensor *ref, const char *refname,
                           const char *layout) {
  char sa[128], sb[128];
  if (!t) return lt_error(LT_ERR_ARG, "%s: %s is NULL", op, name);
  if (ref) {
    lt_status st = lt_check_same_device(op, ref, refname, t, name);
    if (st) return st;
    if (t->dtype != ref->dtype)
      return lt_error(LT_ERR_DTYPE, "%s: %s has dtype %s but %s has dtype %s", op, name,
                      lt_dtype_name(t->dtype), refname, lt_dtype_name(ref->dtype));
  } else if (t->dtype != LT_DTYPE_F32 && t->dtype != LT_DTYPE_F64) {
    return lt_error(LT_ERR_DTYPE, "%s: %s must be float32 or float64, got %s", op, name,
                    lt_dtype_name(t->dtype));
  }
  if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != width) {
    if (ref)
      return lt_error(LT_ERR_SHAPE, "%s: expected %s of shape {%lld, %lld} (%s), got %s "
                      "(%s shape %s)", op, name, (long long)rows, (long long)width, layout,
                      lt_shape_str(t, sa), refname, lt_shape_str(ref, sb));
    return lt_error(LT_ERR_SHAPE, "%s: expected %s of shape (N, %s), got %s", op, name, layout,
                    lt_shape_str(t, sa));
  }
  return LT_OK;
}

/* The backend with the fused kernels for t's device, else NULL + error. */
static const lt_backend *rnn_backend(const char *op, const lt_tensor *t) {
  const lt_backend *be = lt_backend_of(op, t);
  if (!be) return NULL;
  if (!has_kernels(be)) {
    lt_err_not_impl(op, lt_tensor_device(t));
    return NULL;
  }
  return be;
}

/* ---------------------------------------------------------------- LSTM */

/* inputs: gates, c; outputs h1, c1; saved: act, tc, c (contiguous); i = {N, H} */
static lt_status lstm_cell_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_tensor *act = lt_node_saved(n, 0), *tc = lt_node_saved(n, 1), *c = lt_node_saved(n, 2);
  if (!act || !tc || !c) return lt_errcode();
  const char *op = "lstm_cell_backward";
  const lt_backend *be = rnn_backend(op, act);
  if (!be) return lt_errcode();
  int64_t N = n->i[0], H = n->i[1];
  lt_dtype dt = act->dtype;
  lt_device dev = lt_tensor_device(act);
  bool ok = true;
  lt_tensor *dh1 = grad_contig(gout[0], dt, &ok), *dc1 = grad_contig(gout[1], dt, &ok);
  bool wg = lt_node_needs_grad(n, 0), wc = lt_node_needs_grad(n, 1);
  lt_tensor *dg = NULL, *dc = NULL;
  lt_status st = ok ? LT_OK : lt_errcode();
  if (!st && (wg || wc)) {  /* the kernel always writes dgates */
    dg = lt_tensor_alloc(act->shape, 2, dt, dev);
    if (!dg) st = lt_errcode();
  }
  if (!st && wc && !(dc = lt_tensor_alloc(c->shape, 2, dt, dev))) st = lt_errcode();
  if (!st && dg && N * H > 0)
    st = be->lstm_cell_backward(dptr(dg), dc ? dptr(dc) : NULL, dh1 ? dptr(dh1) : NULL,
                                dc1 ? dptr(dc1) : NULL, dptr(act), dptr(tc), dptr(c), dt, N, H);
  lt_tensor_release(dh1);
  lt_tensor_release(dc1);
  if (st) {
    lt_tensor_release(dg);
    lt_tensor_release(dc);
    return st;
  }
  if (wg) gin[0] = dg;
  else lt_tensor_release(dg);
  if (wc) gin[1] = dc;
  return LT_OK;
}

lt_status lt_lstm_cell(lt_tensor *gates, lt_tensor *c, lt_tensor **h1_out, lt_tensor **c1_out) {
  const char *op = "lstm_cell";
  char sa[128];
  if (!h1_out || !c1_out) return lt_error(LT_ERR_ARG, "%s: output pointers are NULL", op);
  *h1_out = *c1_out = NULL;
  if (!gates) return lt_error(LT_ERR_ARG, "%s: gates is NULL", op);
  if (gates->ndim != 2 || gates->shape[1] % 4 != 0)
    return lt_error(LT_ERR_SHAPE, "%s: expected gates of shape (N, 4*hidden_size), got %s", op,
                    lt_shape_str(gates, sa));
  int64_t N = gates->shape[0], H = gates->shape[1] / 4;
  lt_status st = check_arg(op, gates, "gates", N, 4 * H, NULL, NULL, "4*hidden_size");
  if (!st) st = check_arg(op, c, "c", N, H, gates, "gates", "N, hidden_size");
  if (st) return st;
  const lt_backend *be = rnn_backend(op, gates);
  if (!be) return lt_errcode();
  lt_dtype dt = gates->dtype;
  lt_device dev = lt_tensor_device(gates);
  lt_tensor *ins[2] = {gates, c};
  bool grad = lt_any_requires_grad(ins, 2);
  int64_t sh[2] = {N, H};
  lt_tensor *tmp[4] = {0};
  lt_tensor *gc = tmp[0] = contig_nograd(gates);
  lt_tensor *cc = tmp[1] = contig_nograd(c);
  lt_tensor *act = grad ? (tmp[2] = lt_tensor_alloc(gates->shape, 2, dt, dev)) : NULL;
  lt_tensor *tc = grad ? (tmp[3] = lt_tensor_alloc(sh, 2, dt, dev)) : NULL;
  lt_tensor *h1 = lt_tensor_alloc(sh, 2, dt, dev), *c1 = lt_tensor_alloc(sh, 2, dt, dev);
  st = gc && cc && (!grad || (act && tc)) && h1 && c1 ? LT_OK : lt_errcode();
  if (!st && N * H > 0)
    st = be->lstm_cell(dptr(h1), dptr(c1), act ? dptr(act) : NULL, tc ? dptr(tc) : NULL,
                       dptr(gc), dptr(cc), dt, N, H);
  if (!st && grad) {
    lt_node *n = lt_node_new("LstmCellBackward", lstm_cell_backward, ins, 2, 2);
    if (!n) {
      st = lt_errcode() ? lt_errcode() : LT_ERR_MEMORY;
    } else {
      lt_node_save(n, 0, act);
      lt_node_save(n, 1, tc);
      lt_node_save(n, 2, cc);
      n->i[0] = N;
      n->i[1] = H;
      lt_node_set_output(n, h1, 0);
      lt_node_set_output(n, c1, 1);
      lt_node_release(n);
    }
  }
  lt_release_all(tmp, 4);
  if (st) {
    lt_tensor_release(h1);
    lt_tensor_release(c1);
    return st;
  }
  *h1_out = h1;
  *c1_out = c1;
  return LT_OK;
}

/* ---------------------------------------------------------------- GRU */

/* inputs: gx, gh, h; saved: act, gh, h (contiguous); i = {N, H} */
static lt_status gru_cell_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_tensor *act = lt_node_saved(n, 0), *gh = lt_node_saved(n, 1), *h = lt_node_saved(n, 2);
  if (!act || !gh || !h) return lt_errcode();
  const char *op = "gru_cell_backward";
  const lt_backend *be = rnn_backend(op, act);
  if (!be) return lt_errcode();
  int64_t N = n->i[0], H = n->i[1];
  lt_dtype dt = act->dtype;
  lt_device dev = lt_tensor_device(act);
  bool ok = true;
  lt_tensor *dh1 = grad_contig(gout[0], dt, &ok);
  lt_tensor *dgx = NULL, *dgh = NULL, *dh = NULL;
  lt_status st = ok ? LT_OK : lt_errcode();
  if (!st && lt_node_needs_grad(n, 0) && !(dgx = lt_tensor_alloc(act->shape, 2, dt, dev)))
    st = lt_errcode();
  if (!st && lt_node_needs_grad(n, 1) && !(dgh = lt_tensor_alloc(act->shape, 2, dt, dev)))
    st = lt_errcode();
  if (!st && lt_node_needs_grad(n, 2) && !(dh = lt_tensor_alloc(h->shape, 2, dt, dev)))
    st = lt_errcode();
  if (!st && dh1 && N * H > 0 && (dgx || dgh || dh))
    st = be->gru_cell_backward(dgx ? dptr(dgx) : NULL, dgh ? dptr(dgh) : NULL,
                               dh ? dptr(dh) : NULL, dptr(dh1), dptr(act), dptr(gh), dptr(h),
                               dt, N, H);
  if (!st && !dh1) {  /* no gradient arrived: zeros */
    if (dgx) st = lt_zero_(dgx);
    if (!st && dgh) st = lt_zero_(dgh);
    if (!st && dh) st = lt_zero_(dh);
  }
  lt_tensor_release(dh1);
  if (st) {
    lt_tensor_release(dgx);
    lt_tensor_release(dgh);
    lt_tensor_release(dh);
    return st;
  }
  gin[0] = dgx;
  gin[1] = dgh;
  gin[2] = dh;
  return LT_OK;
}

lt_tensor *lt_gru_cell(lt_tensor *gx, lt_tensor *gh, lt_tensor *h) {
  const char *op = "gru_cell";
  char sa[128];
  if (!gx) {
    lt_error(LT_ERR_ARG, "%s: gx is NULL", op);
    return NULL;
  }
  if (gx->ndim != 2 || gx->shape[1] % 3 != 0) {
    lt_error(LT_ERR_SHAPE, "%s: expected gx of shape (N, 3*hidden_size), got %s", op,
             lt_shape_str(gx, sa));
    return NULL;
  }
  int64_t N = gx->shape[0], H = gx->shape[1] / 3;
  if (check_arg(op, gx, "gx", N, 3 * H, NULL, NULL, "3*hidden_size") ||
      check_arg(op, gh, "gh", N, 3 * H, gx, "gx", "N, 3*hidden_size") ||
      check_arg(op, h, "h", N, H, gx, "gx", "N, hidden_size"))
    return NULL;
  const lt_backend *be = rnn_backend(op, gx);
  if (!be) return NULL;
  lt_dtype dt = gx->dtype;
  lt_device dev = lt_tensor_device(gx);
  lt_tensor *ins[3] = {gx, gh, h};
  bool grad = lt_any_requires_grad(ins, 3);
  int64_t sh[2] = {N, H};
  lt_tensor *tmp[4] = {0};
  lt_tensor *gxc = tmp[0] = contig_nograd(gx);
  lt_tensor *ghc = tmp[1] = contig_nograd(gh);
  lt_tensor *hc = tmp[2] = contig_nograd(h);
  lt_tensor *act = grad ? (tmp[3] = lt_tensor_alloc(gx->shape, 2, dt, dev)) : NULL;
  lt_tensor *h1 = lt_tensor_alloc(sh, 2, dt, dev);
  lt_status st = gxc && ghc && hc && (!grad || act) && h1 ? LT_OK : lt_errcode();
  if (!st && N * H > 0)
    st = be->gru_cell(dptr(h1), act ? dptr(act) : NULL, dptr(gxc), dptr(ghc), dptr(hc), dt, N,
                      H);
  if (!st && grad) {
    lt_node *n = lt_node_new("GruCellBackward", gru_cell_backward, ins, 3, 1);
    if (!n) {
      st = lt_errcode() ? lt_errcode() : LT_ERR_MEMORY;
    } else {
      lt_node_save(n, 0, act);
      lt_node_save(n, 1, ghc);
      lt_node_save(n, 2, hc);
      n->i[0] = N;
      n->i[1] = H;
      lt_node_set_output(n, h1, 0);
      lt_node_release(n);
    }
  }
  lt_release_all(tmp, 4);
  if (st) {
    lt_tensor_release(h1);
    return NULL;
  }
  return h1;
}
