/*
** ops_nn.c - nn op front-ends: softmax/log_softmax, cross_entropy, nll_loss,
** dropout, conv2d (im2col + gemm per group), max/avg/adaptive pools,
** batch_norm (fused backend kernels, else composed), layer_norm, embedding and scaled dot-product
** attention (the backend's fused kernels when it has them, else composed).
** They check arguments, apply autocast's casts, allocate outputs, call the
** backend kernels and record autograd nodes with their backward formulas.
** Not here: the kernels themselves (backend.h) and module state (Lua).
*/
#include <math.h>
#include <time.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autocast.h"
#include "ops_util.h"

/* ---------------------------------------------------------------- helpers */

static void *dptr(const lt_tensor *t) { return lt_tensor_data(t); }

/* Range check of class targets / ids through the backend (which does not
** know the op): the message names op, the bad value and the valid count,
** e.g. "cross_entropy: target 4 is out of range for 3 classes". */
static lt_status check_ids(const char *op, const lt_backend *be, const lt_view *v, int64_t n,
                           int64_t base, bool has_ignore, int64_t ignore, const char *what,
                           const char *of) {
  if (!be->check_index) return LT_OK;
  lt_status st = be->check_index(v, n, base, has_ignore, ignore);
  if (st == LT_OK) return st;
  const char *msg = lt_errmsg(), *p = strstr(msg, "index ");
  long long bad;
  if (st == LT_ERR_INDEX && p && sscanf(p, "index %lld", &bad) == 1)
    return lt_error(LT_ERR_INDEX, "%s: %s %lld is out of range for %lld %s", op, what, bad,
                    (long long)n, of);
  return lt_error(st, "%s: %s", op, msg);
}

static char *cptr(const lt_tensor *t, int64_t elems) {
  return (char *)lt_tensor_data(t) + (size_t)elems * lt_dtype_size(t->dtype);
}

static lt_status need(const char *op, const void *t, const char *name) {
  return t ? LT_OK : lt_error(LT_ERR_ARG, "%s: %s is NULL", op, name);
}

/* The gradient as a contiguous tensor of dtype dt (new ref). */
static lt_tensor *grad_contig(lt_tensor *g, lt_dtype dt) {
  lt_tensor *c = lt_cast_nograd(g, dt);
  if (!c) return NULL;
  lt_tensor *r = lt_contiguous(c);
  lt_tensor_release(c);
  return r;
}

/* A history-free header on t's storage, for saving an op's own output in
** its node without a reference cycle (in-place writes are still caught
** through the shared storage version). */
static lt_tensor *alias_of(lt_tensor *t) {
  return lt_tensor_view_of(t, t->shape, t->stride, t->ndim, t->offset);
}

static lt_status save_alias(lt_node *n, int slot, lt_tensor *t) {
  lt_tensor *a = alias_of(t);
  if (!a) return lt_errcode();
  lt_node_save(n, slot, a);
  lt_tensor_release(a);
  return LT_OK;
}

/* Records a node when an input requires grad; on failure releases *out. */
static lt_node *record(const char *name, lt_backward_fn fn, lt_tensor *const *ins, int n,
                       lt_tensor **out, bool *failed) {
  *failed = false;
  if (!lt_any_requires_grad(ins, n)) return NULL;
  lt_node *nd = lt_record(name, fn, ins, n, *out);
  if (!nd) {
    *failed = true;
    lt_tensor_release(*out);
    *out = NULL;
  }
  return nd;
}

/* The backend of t's device when it has the kernel at byte offset `off`
** of lt_backend, else NULL with the error set. */
static const lt_backend *backend_with(const char *op, const lt_tensor *t, size_t off) {
  const lt_backend *be = lt_backend_of(op, t);
  if (!be) return NULL;
  void (*fp)(void);
  memcpy(&fp, (const char *)be + off, sizeof fp);
  if (!fp) {
    lt_err_not_impl(op, lt_tensor_device(t));
    return NULL;
  }
  return be;
}
#define BACKEND(op, t, field) backend_with(op, t, offsetof(lt_backend, field))

static bool same_shape(const lt_tensor *a, const lt_tensor *b) {
  return lt_shape_eq(a->shape, a->ndim, b->shape, b->ndim);
}

static int parse_reduction(const char *op, const char *r) {
  if (!r || !strcmp(r, "mean")) return 0;
  if (!strcmp(r, "sum")) return 1;
  if (!strcmp(r, "none")) return 2;
  lt_error(LT_ERR_ARG, "%s: reduction must be 'mean', 'sum' or 'none', got '%s'", op, r);
  return -1;
}

/* Autocast: when it changes one of the listed inputs, returns `call`
** evaluated on the cast inputs ac[0..n-1] (lt_autocast_args, autocast.h). */
#define AUTOCAST(policy, n, call, ...)                                          \
  do {                                                                          \
    lt_tensor *ac[n];                                                           \
    int cast_ = lt_autocast_args(policy, (lt_tensor *[]){__VA_ARGS__}, ac, n);  \
    if (cast_) {                                                                \
      lt_tensor *r_ = cast_ > 0 ? (call) : NULL;                                \
      lt_release_all(ac, n);                                                    \
      return r_;                                                                \
    }                                                                           \
  } while (0)

/* ---------------------------------------------------------------- softmax */

/* y saved (alias); i = {outer, n, inner, log} */
static lt_status softmax_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_tensor *y = lt_node_saved(n, 0);
  if (!y) return lt_errcode();
  const char *op = n->i[3] ? "log_softmax_backward" : "softmax_backward";
  const lt_backend *be = BACKEND(op, y, softmax_backward);
  if (!be) return lt_errcode();
  lt_tensor *dy = grad_contig(gout[0], y->dtype);
  if (!dy) return lt_errcode();
  lt_tensor *dx = lt_tensor_alloc(y->shape, y->ndim, y->dtype, lt_tensor_device(y));
  lt_status st = dx ? LT_OK : lt_errcode();
  if (!st && lt_numel(y) > 0)
    st = be->softmax_backward(dptr(dx), dptr(y), dptr(dy), y->dtype, n->i[0], n->i[1], n->i[2],
                              n->i[3] != 0);
  lt_tensor_release(dy);
  if (st) {
    lt_tensor_release(dx);
    return st;
  }
  gin[0] = dx;
  return LT_OK;
}

static lt_tensor *softmax_impl(const char *op, lt_tensor *a, int dim, bool log) {
  if (need(op, a, "input") || lt_check_float(op, a, "input")) return NULL;
  AUTOCAST(LT_AUTOCAST_F32, 1, softmax_impl(op, ac[0], dim, log), a);
  int nd = a->ndim;
  if (lt_norm_dim(op, &dim, nd ? nd : 1)) return NULL;
  const lt_backend *be = BACKEND(op, a, softmax);
  if (!be) return NULL;
  int64_t outer = 1, len = nd ? a->shape[dim] : 1, inner = 1;
  for (int d = 0; d < dim && d < nd; d++) outer *= a->shape[d];
  for (int d = dim + 1; d < nd; d++) inner *= a->shape[d];
  lt_tensor *x = lt_contiguous(a);
  if (!x) return NULL;
  lt_tensor *y = lt_tensor_alloc(a->shape, nd, a->dtype, lt_tensor_device(a));
  lt_status st = y ? LT_OK : lt_errcode();
  if (!st && lt_numel(a) > 0)
    st = be->softmax(dptr(y), dptr(x), a->dtype, outer, len, inner, log);
  if (st) {
    lt_tensor_release(x);
    lt_tensor_release(y);
    return NULL;
  }
  bool failed;
  lt_node *n = record(log ? "LogSoftmaxBackward" : "SoftmaxBackward", softmax_backward, &x, 1,
                      &y, &failed);
  if (n) {
    n->i[0] = outer;
    n->i[1] = len;
    n->i[2] = inner;
    n->i[3] = log;
    if (save_alias(n, 0, y)) {
      lt_tensor_release(y);
      y = NULL;
    }
  }
  lt_tensor_release(x);
  return y;
}

lt_tensor *lt_softmax(lt_tensor *a, int dim) { return softmax_impl("softmax", a, dim, false); }
lt_tensor *lt_log_softmax(lt_tensor *a, int dim) {
  return softmax_impl("log_softmax", a, dim, true);
}

/* ---------------------------------------------------------------- losses */

/* Logits (N, C, d1...) -> (rows, C), (N, C) as is, (C) -> (1, C);
** differentiable (permute + reshape). */
static lt_tensor *to_rows(lt_tensor *x) {
  int nd = x->ndim;
  if (nd == 2) {
    lt_tensor_retain(x);
    return x;
  }
  int64_t C = nd == 1 ? x->shape[0] : x->shape[1], rows = 1;
  for (int d = 0; d < nd; d++)
    if (d != (nd == 1 ? 0 : 1)) rows *= x->shape[d];
  int64_t s[2] = {rows, C};
  if (nd == 1) return lt_reshape(x, s, 2);
  int perm[LT_MAX_DIMS];
  perm[0] = 0;
  for (int d = 2; d < nd; d++) perm[d - 1] = d;
  perm[nd - 1] = 1;
  lt_tensor *p = lt_permute(x, perm, nd);
  if (!p) return NULL;
  lt_tensor *r = lt_reshape(p, s, 2);
  lt_tensor_release(p);
  return r;
}

/* Checks class targets against logits (N, C, d...) / (C): int64 of shape
** (N, d...) / (); weight (C) float. Returns the class count or -1. */
static int64_t check_class_target(const char *op, lt_tensor *x, lt_tensor *t, lt_tensor *w) {
  char sa[128], sb[128];
  if (x->ndim < 1) {
    lt_error(LT_ERR_SHAPE, "%s: input must have at least 1 dimension (classes), got a scalar",
             op);
    return -1;
  }
  if (lt_check_same_device(op, x, "input", t, "target")) return -1;
  if (t->dtype != LT_DTYPE_I64) {
    lt_error(LT_ERR_DTYPE, "%s: class targets must be int64, got %s", op,
             lt_dtype_name(t->dtype));
    return -1;
  }
  int cdim = x->ndim == 1 ? 0 : 1;
  int64_t C = x->shape[cdim], want[LT_MAX_DIMS];
  int nw = 0;
  for (int d = 0; d < x->ndim; d++)
    if (d != cdim) want[nw++] = x->shape[d];
  if (!lt_shape_eq(t->shape, t->ndim, want, nw)) {
    lt_error(LT_ERR_SHAPE, "%s: expected target of shape %s for input of shape %s, got %s", op,
             lt_shape_str_raw(want, nw, sa), lt_shape_str(x, sb), lt_shape_str(t, sa + 64));
    return -1;
  }
  if (w) {
    if (lt_check_same_device(op, x, "input", w, "weight")) return -1;
    if (lt_check_float(op, w, "weight")) return -1;
    if (w->ndim != 1 || w->shape[0] != C) {
      lt_error(LT_ERR_SHAPE,
               "%s: weight tensor should be defined either for all %lld classes or no classes "
               "but got weight tensor of shape: %s",
               op, (long long)C, lt_shape_str(w, sb));
      return -1;
    }
  }
  return C;
}

/* Per-row weights of class targets t (rows): w[t - base] (or 1), 0 where
** t == ignore; dtype dt; no history. */
static lt_tensor *target_weights(lt_tensor *t, lt_tensor *w, int64_t ignore, int64_t base,
                                 lt_dtype dt) {
  bool g = lt_grad_enabled();
  lt_set_grad_enabled(false);
  lt_tensor *tmp[4] = {0}, *r = NULL;
  tmp[0] = lt_binary_scalar(LT_BINARY_NE, t, (double)ignore, false);
  if (tmp[0]) tmp[1] = lt_cast_nograd(tmp[0], dt);
  if (tmp[1] && w) {
    tmp[2] = lt_unary(LT_UNARY_LOGICAL_NOT, tmp[0]);
    lt_tensor *safe = tmp[2] ? lt_masked_fill(t, tmp[2], (double)base) : NULL;
    lt_tensor *wt = safe ? lt_index_select(w, 0, safe, base) : NULL;
    lt_tensor_release(safe);
    tmp[3] = wt ? lt_cast_nograd(wt, dt) : NULL;
    lt_tensor_release(wt);
    if (tmp[3]) r = lt_binary(LT_BINARY_MUL, tmp[3], tmp[1]);
  } else if (tmp[1]) {
    r = tmp[1];
    lt_tensor_retain(r);
  }
  lt_release_all(tmp, 4);
  lt_set_grad_enabled(g);
  return r;
}

/* Applies the reduction to per-element losses `l` (takes ownership):
** none -> reshaped to `shape`; sum; mean = sum / denom (denom tensor, or
** the element count when denom is NULL). */
static lt_tensor *reduce_loss(lt_tensor *l, int red, const int64_t *shape, int ndim,
                              lt_tensor *denom) {
  if (!l) return NULL;
  lt_tensor *r;
  if (red == 2) {
    r = lt_reshape(l, shape, ndim);
  } else {
    r = lt_reduce(LT_REDUCE_SUM, l, NULL, 0, false, 0, NULL, 0);
    if (r && red == 0) {
      lt_tensor *m;
      if (denom) {
        lt_tensor *ds = lt_reduce(LT_REDUCE_SUM, denom, NULL, 0, false, 0, NULL, 0);
        m = ds ? lt_binary(LT_BINARY_DIV, r, ds) : NULL;
        lt_tensor_release(ds);
      } else {
        m = lt_binary_scalar(LT_BINARY_DIV, r, (double)lt_numel(l), false);
      }
      lt_tensor_release(r);
      r = m;
    }
  }
  lt_tensor_release(l);
  return r;
}

/* saved: logits (rows, C), lse, target, weight; i = {base, ignore, has_w};
** d = {smoothing} */
static lt_status cross_entropy_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_tensor *x = lt_node_saved(n, 0), *lse = lt_node_saved(n, 1), *t = lt_node_saved(n, 2);
  lt_tensor *w = n->i[2] ? lt_node_saved(n, 3) : NULL;
  if (!x || !lse || !t || (n->i[2] && !w)) return lt_errcode();
  const lt_backend *be = BACKEND("cross_entropy_backward", x, cross_entropy_backward);
  if (!be) return lt_errcode();
  lt_tensor *dl = grad_contig(gout[0], x->dtype);
  if (!dl) return lt_errcode();
  lt_tensor *dx = lt_tensor_alloc(x->shape, 2, x->dtype, lt_tensor_device(x));
  lt_status st = dx ? LT_OK : lt_errcode();
  if (!st && lt_numel(x) > 0)
    st = be->cross_entropy_backward(dptr(dx), dptr(dl), 1, dptr(x), dptr(lse), dptr(t),
                                    w ? dptr(w) : NULL, x->dtype, x->shape[0], x->shape[1],
                                    n->i[0], true, n->i[1], n->d[0]);
  lt_tensor_release(dl);
  if (st) {
    lt_tensor_release(dx);
    return st;
  }
  gin[0] = dx;
  return LT_OK;
}

/* Per-row loss of class targets through the backend kernel. */
static lt_tensor *cross_entropy_rows(lt_tensor *x2, lt_tensor *t1, lt_tensor *w, int64_t ignore,
                                     double ls, int64_t base) {
  const char *op = "cross_entropy";
  const lt_backend *be = BACKEND(op, x2, cross_entropy);
  if (!be) return NULL;
  int64_t rows = x2->shape[0], C = x2->shape[1];
  lt_tensor *x = lt_contiguous(x2);
  if (!x) return NULL;
  lt_dtype lse_dt = x->dtype == LT_DTYPE_F64 ? LT_DTYPE_F64 : LT_DTYPE_F32;  /* >= dtype size */
  lt_tensor *loss = lt_tensor_alloc(&rows, 1, x->dtype, lt_tensor_device(x));
  lt_tensor *lse = lt_tensor_alloc(&rows, 1, lse_dt, lt_tensor_device(x));
  lt_status st = loss && lse ? LT_OK : lt_errcode();
  if (!st && rows > 0) {
    lt_view tv = lt_view_of(t1);
    st = check_ids(op, be, &tv, C, base, true, ignore, "target", "classes");
    if (!st)
      st = be->cross_entropy(dptr(loss), dptr(lse), dptr(x), dptr(t1), w ? dptr(w) : NULL,
                             x->dtype, rows, C, base, true, ignore, ls);
  }
  bool failed = false;
  lt_node *n = NULL;
  if (!st) {
    n = record("CrossEntropyBackward", cross_entropy_backward, &x, 1, &loss, &failed);
    if (failed) st = lt_errcode();
  }
  if (n) {
    lt_node_save(n, 0, x);
    lt_node_save(n, 1, lse);
    lt_node_save(n, 2, t1);
    if (w) lt_node_save(n, 3, w);
    n->i[0] = base;
    n->i[1] = ignore;
    n->i[2] = w != NULL;
    n->d[0] = ls;
  }
  lt_tensor_release(x);
  lt_tensor_release(lse);
  if (st) {
    lt_tensor_release(loss);
    return NULL;
  }
  return loss;
}

/* Probability targets: -sum_c w[c] * q[c] * log_softmax(x)[c], q the
** (smoothed) target; mean divides by the number of rows. */
static lt_tensor *cross_entropy_probs(lt_tensor *x, lt_tensor *t, lt_tensor *w, double ls,
                                      int red) {
  const char *op = "cross_entropy";
  char sa[128], sb[128];
  if (!same_shape(x, t)) {
    lt_error(LT_ERR_SHAPE, "%s: probability target of shape %s does not match input of shape %s",
             op, lt_shape_str(t, sa), lt_shape_str(x, sb));
    return NULL;
  }
  if (lt_check_same_device(op, x, "input", t, "target")) return NULL;
  int cdim = x->ndim == 1 ? 0 : 1;
  int64_t C = x->shape[cdim];
  if (w) {
    if (lt_check_same_device(op, x, "input", w, "weight") || lt_check_float(op, w, "weight"))
      return NULL;
    if (w->ndim != 1 || w->shape[0] != C) {
      lt_error(LT_ERR_SHAPE,
               "%s: weight tensor should be defined either for all %lld classes or no classes "
               "but got weight tensor of shape: %s",
               op, (long long)C, lt_shape_str(w, sb));
      return NULL;
    }
  }
  lt_tensor *tmp[6] = {0};
  lt_tensor *r = NULL;
  tmp[0] = lt_log_softmax(x, cdim);
  lt_tensor *q = t;
  if (tmp[0] && ls > 0) {
    tmp[1] = lt_binary_scalar(LT_BINARY_MUL, t, 1.0 - ls, false);
    q = tmp[1] ? (tmp[2] = lt_binary_scalar(LT_BINARY_ADD, tmp[1], ls / (double)C, false))
               : NULL;
  }
  if (tmp[0] && q) tmp[3] = lt_binary(LT_BINARY_MUL, tmp[0], q);
  lt_tensor *prod = tmp[3];
  if (prod && w) {
    int64_t ws[LT_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) ws[d] = d == cdim ? C : 1;
    lt_tensor *wc = lt_cast_nograd(w, x->dtype);
    tmp[4] = wc ? lt_reshape(wc, ws, x->ndim) : NULL;
    lt_tensor_release(wc);
    prod = tmp[4] ? (tmp[5] = lt_binary(LT_BINARY_MUL, prod, tmp[4])) : NULL;
  }
  if (prod) {
    int dims[1] = {cdim};
    lt_tensor *s = lt_reduce(LT_REDUCE_SUM, prod, dims, 1, false, 0, NULL, 0);
    lt_tensor *l = s ? lt_unary(LT_UNARY_NEG, s) : NULL;
    lt_tensor_release(s);
    if (l) {
      if (red == 2) r = l;
      else {
        r = lt_reduce(LT_REDUCE_SUM, l, NULL, 0, false, 0, NULL, 0);
        lt_tensor_release(l);
        if (r && red == 0) {
          int64_t cnt = x->ndim == 1 ? 1 : lt_numel(x) / (C ? C : 1);
          lt_tensor *m = lt_binary_scalar(LT_BINARY_DIV, r, (double)cnt, false);
          lt_tensor_release(r);
          r = m;
        }
      }
    }
  }
  lt_release_all(tmp, 6);
  return r;
}

lt_tensor *lt_cross_entropy(lt_tensor *logits, lt_tensor *target, lt_tensor *weight,
                            int64_t ignore_index, double label_smoothing, const char *reduction,
                            int64_t base) {
  const char *op = "cross_entropy";
  if (need(op, logits, "input") || need(op, target, "target")) return NULL;
  if (lt_check_float(op, logits, "input")) return NULL;
  AUTOCAST(LT_AUTOCAST_F32, 3,
           lt_cross_entropy(ac[0], ac[1], ac[2], ignore_index, label_smoothing, reduction, base),
           logits, target, weight);
  int red = parse_reduction(op, reduction);
  if (red < 0) return NULL;
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0)) {
    lt_error(LT_ERR_ARG, "%s: label_smoothing must be between 0.0 and 1.0. Got: %g", op,
             label_smoothing);
    return NULL;
  }
  if (logits->ndim < 1) {
    lt_error(LT_ERR_SHAPE, "%s: input must have at least 1 dimension (classes), got a scalar",
             op);
    return NULL;
  }
  if (lt_dtype_is_float(target->dtype))
    return cross_entropy_probs(logits, target, weight, label_smoothing, red);
  if (check_class_target(op, logits, target, weight) < 0) return NULL;
  lt_tensor *tmp[5] = {0};
  lt_tensor *x2 = tmp[0] = to_rows(logits);
  int64_t rows = x2 ? x2->shape[0] : 0;
  tmp[1] = x2 ? lt_reshape(target, &rows, 1) : NULL;
  lt_tensor *t1 = tmp[1] ? (tmp[2] = lt_contiguous(tmp[1])) : NULL;
  lt_tensor *w = NULL;
  if (t1 && weight) w = tmp[3] = lt_cast_nograd(weight, logits->dtype);
  lt_tensor *r = NULL;
  if (t1 && (!weight || w)) {
    lt_tensor *l = cross_entropy_rows(x2, t1, w, ignore_index, label_smoothing, base);
    lt_tensor *denom = NULL;
    if (l && red == 0) denom = tmp[4] = target_weights(t1, w, ignore_index, base, logits->dtype);
    if (l && (red != 0 || denom)) r = reduce_loss(l, red, target->shape, target->ndim, denom);
    else lt_tensor_release(l);
  }
  lt_release_all(tmp, 5);
  return r;
}

lt_tensor *lt_nll_loss(lt_tensor *logp, lt_tensor *target, lt_tensor *weight,
                       int64_t ignore_index, const char *reduction, int64_t base) {
  const char *op = "nll_loss";
  if (need(op, logp, "input") || need(op, target, "target")) return NULL;
  if (lt_check_float(op, logp, "input")) return NULL;
  AUTOCAST(LT_AUTOCAST_F32, 3, lt_nll_loss(ac[0], ac[1], ac[2], ignore_index, reduction, base),
           logp, target, weight);
  int red = parse_reduction(op, reduction);
  if (red < 0) return NULL;
  int64_t C = check_class_target(op, logp, target, weight);
  if (C < 0) return NULL;
  lt_tensor *tmp[8] = {0};
  lt_tensor *r = NULL;
  lt_tensor *x2 = tmp[0] = to_rows(logp);
  int64_t rows = x2 ? x2->shape[0] : 0;
  tmp[1] = x2 ? lt_reshape(target, &rows, 1) : NULL;
  lt_tensor *t1 = tmp[1] ? (tmp[2] = lt_contiguous(tmp[1])) : NULL;
  lt_status st = t1 ? LT_OK : lt_errcode();
  if (!st && rows > 0) {
    const lt_backend *be = lt_backend_of(op, t1);
    lt_view tv = lt_view_of(t1);
    st = !be ? lt_errcode()
             : check_ids(op, be, &tv, C, base, true, ignore_index, "target", "classes");
  }
  lt_tensor *w = NULL;
  if (!st && weight) {
    w = tmp[3] = lt_cast_nograd(weight, logp->dtype);
    if (!w) st = lt_errcode();
  }
  if (!st) {
    /* loss[r] = -x2[r, t_r] * wt[r], wt = w[t] masked by ignore */
    lt_tensor *wt = tmp[4] = target_weights(t1, w, ignore_index, base, logp->dtype);
    lt_tensor *safe = NULL;
    if (wt) {
      bool g = lt_grad_enabled();
      lt_set_grad_enabled(false);
      lt_tensor *ig = lt_binary_scalar(LT_BINARY_EQ, t1, (double)ignore_index, false);
      safe = ig ? lt_masked_fill(t1, ig, (double)base) : NULL;
      lt_tensor_release(ig);
      lt_set_grad_enabled(g);
    }
    int64_t cs[2] = {rows, 1};
    lt_tensor *idx = safe ? (tmp[5] = lt_reshape(safe, cs, 2)) : NULL;
    lt_tensor_release(safe);
    lt_tensor *picked = idx ? (tmp[6] = lt_gather(x2, 1, idx, base)) : NULL;
    lt_tensor *p1 = picked ? (tmp[7] = lt_reshape(picked, &rows, 1)) : NULL;
    lt_tensor *prod = p1 ? lt_binary(LT_BINARY_MUL, p1, wt) : NULL;
    lt_tensor *l = prod ? lt_unary(LT_UNARY_NEG, prod) : NULL;
    lt_tensor_release(prod);
    if (l) r = reduce_loss(l, red, target->shape, target->ndim, red == 0 ? wt : NULL);
  }
  lt_release_all(tmp, 8);
  return r;
}

/* ---------------------------------------------------------------- dropout */

lt_tensor *lt_dropout(lt_tensor *a, double p, bool training) {
  const char *op = "dropout";
  if (need(op, a, "input")) return NULL;
  if (!(p >= 0.0 && p <= 1.0)) {
    lt_error(LT_ERR_ARG, "%s: dropout probability has to be between 0 and 1, but got %g", op, p);
    return NULL;
  }
  if (!training || p == 0.0) {
    lt_tensor_retain(a);
    return a;
  }
  if (lt_check_float(op, a, "input")) return NULL;
  if (p == 1.0) return lt_binary_scalar(LT_BINARY_MUL, a, 0.0, false);
  /* mask = bernoulli(1 - p) / (1 - p); out = a * mask */
  lt_tensor *keep = lt_bernoulli_p(a->shape, a->ndim, 1.0 - p, a->dtype, lt_tensor_device(a));
  if (!keep) return NULL;
  lt_tensor *mask = lt_binary_scalar(LT_BINARY_MUL, keep, 1.0 / (1.0 - p), false);
  lt_tensor_release(keep);
  if (!mask) return NULL;
  lt_tensor *out = lt_binary(LT_BINARY_MUL, a, mask);
  lt_tensor_release(mask);
  return out;
}

/* ---------------------------------------------------------------- conv2d */

/* Geometry of a convolution, packed in a node's i[] (16 entries). */
typedef struct {
  int64_t N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, groups, oh, ow;
} conv_shape;

static lt_conv_geom conv_geom(const conv_shape *s, int64_t n) {
  lt_conv_geom g = {n, s->C, s->H, s->W, s->kh, s->kw, s->sh, s->sw,
                    s->ph, s->pw, s->dh, s->dw, s->oh, s->ow};
  return g;
}

/* 1x1 kernel, stride 1, no padding: col is x itself. */
static bool conv_direct(const conv_shape *s) {
  return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->ph == 0 && s->pw == 0;
}

/* Images per im2col chunk: keeps the col buffer near 16M elements. */
static int64_t conv_chunk(const conv_shape *s) {
  int64_t per = s->C * s->kh * s->kw * s->oh * s->ow;
  int64_t nb = per > 0 ? ((int64_t)1 << 24) / per : s->N;
  if (nb < 1) nb = 1;
  if (nb > s->N) nb = s->N;
  return nb;
}

/* y (N, O, oh, ow) = conv(x, w) + b; x, w contiguous, b (O) or NULL.
** keep_col (may be NULL): receives the im2col buffer of the whole batch
** (new ref) when one chunk held it, for the weight gradient; else NULL. */
static lt_status conv_forward(const lt_backend *be, lt_tensor *y, lt_tensor *x, lt_tensor *w,
                              lt_tensor *b, const conv_shape *s, lt_tensor **keep_col) {
  lt_dtype dt = x->dtype;
  int64_t G = s->groups, Og = s->O / G, Cg = s->C / G, kk = s->kh * s->kw, K = Cg * kk;
  int64_t L = s->oh * s->ow, CKL = s->C * kk * L;
  lt_status st;
  double beta = 0;
  if (b) {  /* y <- b broadcast over (N, oh, ow), then gemm accumulates */
    lt_view yv = lt_view_of(y), bv = lt_view_of(y);
    bv.data = dptr(b);
    bv.dtype = b->dtype;
    bv.stride[0] = bv.stride[2] = bv.stride[3] = 0;
    bv.stride[1] = b->stride[0];
    if ((st = be->copy(&yv, &bv))) return st;
    beta = 1;
  }
  bool direct = conv_direct(s);
  int64_t nb = conv_chunk(s);
  lt_tensor *col = NULL;
  if (!direct) {
    int64_t cs[3] = {nb, s->C * kk, L};
    col = lt_tensor_alloc(cs, 3, dt, lt_tensor_device(x));
    if (!col) return lt_errcode();
  }
  st = LT_OK;
  for (int64_t n0 = 0; n0 < s->N && !st; n0 += nb) {
    int64_t cnt = s->N - n0 < nb ? s->N - n0 : nb;
    const char *src = cptr(x, n0 * s->C * s->H * s->W);
    if (!direct) {
      lt_conv_geom g = conv_geom(s, cnt);
      if ((st = be->im2col(dptr(col), src, dt, &g))) break;
      src = dptr(col);
    }
    for (int64_t gi = 0; gi < G && !st; gi++)
      st = be->gemm(dt, false, false, Og, L, K, 1.0, cptr(w, gi * Og * K), K, 0,
                    src + (size_t)(gi * K * L) * lt_dtype_size(dt), L, CKL, beta,
                    cptr(y, (n0 * s->O + gi * Og) * L), L, s->O * L, cnt);
    if (!st) st = lt_check_interrupt();
  }
  if (keep_col && !st && col && nb >= s->N) {
    *keep_col = col;
    return LT_OK;
  }
  lt_tensor_release(col);
  return st;
}

static void conv_pack(lt_node *n, const conv_shape *s) {
  memcpy(n->i, s, sizeof *s);
}

/* saved: x, w (contiguous), and the forward's im2col buffer of the whole
** batch when i[16] (then the weight gradient skips its im2col); i = conv_shape.
** db = sum_{n,h,w} dy; dW_g += dy_g[n] @ col_g[n]^T; dcol_g = W_g^T @ dy_g,
** dx = col2im(dcol). */
#define CONV_HAS_COL 16
static lt_status conv2d_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  conv_shape s;
  memcpy(&s, n->i, sizeof s);
  lt_tensor *x = lt_node_saved(n, 0), *w = lt_node_saved(n, 1);
  lt_tensor *fcol = n->i[CONV_HAS_COL] ? lt_node_saved(n, 2) : NULL;
  if (!x || !w || (n->i[CONV_HAS_COL] && !fcol)) return lt_errcode();
  const char *op = "conv2d_backward";
  const lt_backend *be = BACKEND(op, x, gemm);
  if (!be) return lt_errcode();
  if (!be->im2col || !be->col2im || !be->fill)
    return lt_err_not_impl(op, lt_tensor_device(x));
  lt_dtype dt = x->dtype;
  size_t sz = lt_dtype_size(dt);
  bool nx = lt_node_needs_grad(n, 0), nw = lt_node_needs_grad(n, 1);
  bool nb_ = n->n_inputs > 2 && lt_node_needs_grad(n, 2);
  lt_tensor *dy = grad_contig(gout[0], dt);
  if (!dy) return lt_errcode();
  lt_tensor *dx = NULL, *dw = NULL, *db = NULL, *col = NULL;
  lt_status st = LT_OK;
  if (nb_) {
    int dims[3] = {0, 2, 3};
    db = lt_reduce(LT_REDUCE_SUM, dy, dims, 3, false, 0, NULL, 0);
    if (!db) st = lt_errcode();
  }
  int64_t G = s.groups, Og = s.O / G, Cg = s.C / G, kk = s.kh * s.kw, K = Cg * kk;
  int64_t L = s.oh * s.ow, CKL = s.C * kk * L, CHW = s.C * s.H * s.W;
  bool direct = conv_direct(&s);
  int64_t nbat = conv_chunk(&s);
  if (!st && nw) {
    dw = lt_tensor_alloc(w->shape, 4, dt, lt_tensor_device(w));
    if (!dw) st = lt_errcode();
    else {
      lt_view v = lt_view_of(dw);
      st = be->fill(&v, 0);
    }
  }
  if (!st && nx) {
    dx = lt_tensor_alloc(x->shape, 4, dt, lt_tensor_device(x));
    if (!dx) st = lt_errcode();
  }
  if (!st && !direct && (nx || (nw && !fcol))) {
    int64_t cs[3] = {nbat, s.C * kk, L};
    col = lt_tensor_alloc(cs, 3, dt, lt_tensor_device(x));
    if (!col) st = lt_errcode();
  }
  for (int64_t n0 = 0; n0 < s.N && !st && (nx || nw); n0 += nbat) {
    int64_t cnt = s.N - n0 < nbat ? s.N - n0 : nbat;
    lt_conv_geom g = conv_geom(&s, cnt);
    if (nw) {
      const char *src = cptr(x, n0 * CHW);
      if (fcol) {  /* one chunk: the forward's columns */
        src = dptr(fcol);
      } else if (!direct) {
        if ((st = be->im2col(dptr(col), src, dt, &g))) break;
        src = dptr(col);
      }
      /* per image, batched over groups: dW_g (Og, K) += dy_g (Og, L) @ col_g^T (L, K) */
      for (int64_t i = 0; i < cnt && !st; i++)
        st = be->gemm(dt, false, true, Og, K, L, 1.0, cptr(dy, (n0 + i) * s.O * L), L, Og * L,
                      src + (size_t)(i * CKL) * sz, L, K * L, 1.0, dptr(dw), K, Og * K, G);
      if (st) break;
    }
    if (nx) {
      /* per group, batched over images: dcol_g (K, L) = W_g^T (K, Og) @ dy_g (Og, L) */
      char *dst = direct ? cptr(dx, n0 * CHW) : dptr(col);
      for (int64_t gi = 0; gi < G && !st; gi++)
        st = be->gemm(dt, true, false, K, L, Og, 1.0, cptr(w, gi * Og * K), K, 0,
                      cptr(dy, (n0 * s.O + gi * Og) * L), L, s.O * L, 0.0,
                      dst + (size_t)(gi * K * L) * sz, L, CKL, cnt);
      if (!st && !direct) st = be->col2im(cptr(dx, n0 * CHW), dptr(col), dt, &g);
    }
    if (!st) st = lt_check_interrupt();
  }
  lt_tensor_release(col);
  lt_tensor_release(dy);
  if (st) {
    lt_tensor_release(dx);
    lt_tensor_release(dw);
    lt_tensor_release(db);
    return st;
  }
  gin[0] = dx;
  gin[1] = dw;
  if (n->n_inputs > 2) gin[2] = db;
  else lt_tensor_release(db);
  return LT_OK;
}

lt_tensor *lt_conv2d(lt_tensor *x, lt_tensor *w, lt_tensor *b, const lt_conv2d_opts *o) {
  const char *op = "conv2d";
  char sa[128], sb[128];
  if (need(op, x, "input") || need(op, w, "weight")) return NULL;
  AUTOCAST(LT_AUTOCAST_LOW, 3, lt_conv2d(ac[0], ac[1], ac[2], o), x, w, b);
  lt_conv2d_opts def = {{1, 1}, {0, 0}, {1, 1}, 1};
  if (!o) o = &def;
  if (x->ndim != 3 && x->ndim != 4) {
    lt_error(LT_ERR_SHAPE,
             "%s: expected 3D (unbatched) or 4D (batched) input, but got input of size: %s", op,
             lt_shape_str(x, sa));
    return NULL;
  }
  if (x->ndim == 3) {  /* unbatched: add and drop a batch dim */
    lt_tensor *xb = lt_unsqueeze(x, 0);
    if (!xb) return NULL;
    lt_tensor *yb = lt_conv2d(xb, w, b, o);
    lt_tensor_release(xb);
    if (!yb) return NULL;
    lt_tensor *y = lt_squeeze(yb, 0);
    lt_tensor_release(yb);
    return y;
  }
  if (lt_check_float(op, x, "input") || lt_check_same_device(op, x, "input", w, "weight"))
    return NULL;
  if (w->dtype != x->dtype) {
    lt_error(LT_ERR_DTYPE, "%s: input type (%s) and weight type (%s) should be the same", op,
             lt_dtype_name(x->dtype), lt_dtype_name(w->dtype));
    return NULL;
  }
  if (w->ndim != 4) {
    lt_error(LT_ERR_SHAPE, "%s: expected 4-dimensional weight (O, C/groups, kh, kw), got %s",
             op, lt_shape_str(w, sa));
    return NULL;
  }
  for (int k = 0; k < 2; k++) {
    if (o->stride[k] <= 0) {
      lt_error(LT_ERR_ARG, "%s: non-positive stride is not supported", op);
      return NULL;
    }
    if (o->padding[k] < 0) {
      lt_error(LT_ERR_ARG, "%s: negative padding is not supported", op);
      return NULL;
    }
    if (o->dilation[k] <= 0) {
      lt_error(LT_ERR_ARG, "%s: dilation should be greater than zero", op);
      return NULL;
    }
  }
  if (o->groups <= 0) {
    lt_error(LT_ERR_ARG, "%s: non-positive groups is not supported", op);
    return NULL;
  }
  conv_shape s = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[0],
                  w->shape[2], w->shape[3], o->stride[0], o->stride[1], o->padding[0],
                  o->padding[1], o->dilation[0], o->dilation[1], o->groups, 0, 0};
  if (s.O % s.groups != 0) {
    lt_error(LT_ERR_SHAPE,
             "%s: given groups=%d, expected weight to be divisible by %d at dimension 0, but got "
             "weight of size %s instead",
             op, o->groups, o->groups, lt_shape_str(w, sa));
    return NULL;
  }
  if (w->shape[1] * s.groups != s.C) {
    lt_error(LT_ERR_SHAPE,
             "%s: given groups=%d, weight of size %s, expected input%s to have %lld channels, "
             "but got %lld channels instead",
             op, o->groups, lt_shape_str(w, sa), lt_shape_str(x, sb),
             (long long)(w->shape[1] * s.groups), (long long)s.C);
    return NULL;
  }
  if (b) {
    if (lt_check_same_device(op, x, "input", b, "bias")) return NULL;
    if (b->ndim != 1 || b->shape[0] != s.O) {
      lt_error(LT_ERR_SHAPE,
               "%s: given weight of size %s, expected bias to be 1-dimensional with %lld "
               "elements, but got bias of size %s instead",
               op, lt_shape_str(w, sa), (long long)s.O, lt_shape_str(b, sb));
      return NULL;
    }
    if (b->dtype != x->dtype) {
      lt_error(LT_ERR_DTYPE, "%s: input type (%s) and bias type (%s) should be the same", op,
               lt_dtype_name(x->dtype), lt_dtype_name(b->dtype));
      return NULL;
    }
  }
  int64_t ekh = s.dh * (s.kh - 1) + 1, ekw = s.dw * (s.kw - 1) + 1;
  int64_t phh = s.H + 2 * s.ph, pww = s.W + 2 * s.pw;
  if (phh < ekh || pww < ekw) {
    lt_error(LT_ERR_SHAPE,
             "%s: calculated padded input size per channel: (%lld x %lld). Kernel size: (%lld x "
             "%lld). Kernel size can't be greater than actual input size",
             op, (long long)phh, (long long)pww, (long long)ekh, (long long)ekw);
    return NULL;
  }
  s.oh = (phh - ekh) / s.sh + 1;
  s.ow = (pww - ekw) / s.sw + 1;
  const lt_backend *be = BACKEND(op, x, gemm);
  if (!be) return NULL;
  if (!be->im2col || !be->copy) {
    lt_err_not_impl(op, lt_tensor_device(x));
    return NULL;
  }
  lt_tensor *xc = lt_contiguous(x), *wc = xc ? lt_contiguous(w) : NULL;
  int64_t ys[4] = {s.N, s.O, s.oh, s.ow};
  lt_tensor *y = wc ? lt_tensor_alloc(ys, 4, x->dtype, lt_tensor_device(x)) : NULL;
  lt_status st = y ? LT_OK : lt_errcode();
  lt_tensor *fcol = NULL;  /* kept for the weight gradient when it will be needed */
  if (!st && lt_numel(y) > 0)
    st = conv_forward(be, y, xc, wc, b, &s, lt_any_requires_grad(&wc, 1) ? &fcol : NULL);
  if (!st) {
    lt_tensor *ins[3] = {xc, wc, b};
    bool failed;
    lt_node *n = record("Conv2dBackward", conv2d_backward, ins, b ? 3 : 2, &y, &failed);
    if (failed) st = lt_errcode();
    if (n) {
      conv_pack(n, &s);
      lt_node_save(n, 0, xc);
      lt_node_save(n, 1, wc);
      if (fcol) {
        n->i[CONV_HAS_COL] = 1;
        lt_node_save(n, 2, fcol);
      }
    }
  }
  lt_tensor_release(fcol);
  lt_tensor_release(xc);
  lt_tensor_release(wc);
  if (st) {
    lt_tensor_release(y);
    return NULL;
  }
  return y;
}

/* ---------------------------------------------------------------- pooling */

static void pool_pack(lt_node *n, const lt_pool_geom *g) {
  int64_t *p = n->i;
  p[0] = g->nc; p[1] = g->h; p[2] = g->w; p[3] = g->oh; p[4] = g->ow;
  p[5] = g->kh; p[6] = g->kw; p[7] = g->sh; p[8] = g->sw; p[9] = g->ph; p[10] = g->pw;
  p[11] = g->dh; p[12] = g->dw; p[13] = g->count_include_pad; p[14] = g->divisor_override;
}

static lt_pool_geom pool_unpack(const lt_node *n) {
  const int64_t *p = n->i;
  lt_pool_geom g = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10],
                    p[11], p[12], p[13] != 0, p[14]};
  return g;
}

/* PyTorch's pooling_output_shape: floor or ceil, and with ceil_mode the
** last window must start inside the input (or the left padding). */
static int64_t pool_out_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil,
                             bool ceil_mode) {
  int64_t num = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  int64_t q = num / stride;
  if ((num % stride != 0) && ((num < 0) != (stride < 0))) q--;  /* floor division */
  int64_t o = q + 1;
  if (ceil_mode && (o - 1) * stride >= in + pad) o--;
  return o;
}

/* Checks a 3-D/4-D input and the options; fills the geometry and the
** output shape (x's with the last two dims -> oh, ow). */
static lt_status pool_setup(const char *op, lt_tensor *x, const lt_pool2d_opts *o, bool is_max,
                            lt_pool_geom *g, int64_t *oshape) {
  char sa[128];
  if (need(op, x, "input") || need(op, o, "options")) return lt_errcode();
  bool ok = x->ndim == 3 || x->ndim == 4;
  for (int d = x->ndim == 4 ? 1 : 0; ok && d < x->ndim; d++) ok = x->shape[d] > 0;
  if (!ok)
    return lt_error(LT_ERR_SHAPE,
                    "%s: expected 3D or 4D (batch mode) tensor with optional 0 dim batch size "
                    "for input, but got: %s",
                    op, lt_shape_str(x, sa));
  if (lt_check_float(op, x, "input")) return lt_errcode();
  int64_t k[2], s[2], p[2], d[2];
  for (int i = 0; i < 2; i++) {
    k[i] = o->kernel[i];
    s[i] = o->stride[i] ? o->stride[i] : o->kernel[i];
    p[i] = o->padding[i];
    d[i] = o->dilation[i] ? o->dilation[i] : 1;
  }
  if (k[0] <= 0 || k[1] <= 0)
    return lt_error(LT_ERR_ARG,
                    "%s: kernel_size must be greater than zero, but got kH: %lld kW: %lld", op,
                    (long long)k[0], (long long)k[1]);
  if (s[0] <= 0 || s[1] <= 0)
    return lt_error(LT_ERR_ARG, "%s: stride should be greater than zero, but got dH: %lld dW: %lld",
                    op, (long long)s[0], (long long)s[1]);
  if (d[0] <= 0 || d[1] <= 0)
    return lt_error(LT_ERR_ARG,
                    "%s: dilation should be greater than zero, but got dilationH: %lld "
                    "dilationW: %lld",
                    op, (long long)d[0], (long long)d[1]);
  if (!is_max && (d[0] != 1 || d[1] != 1))
    return lt_error(LT_ERR_ARG, "%s: dilation is not supported (got %lld x %lld)", op,
                    (long long)d[0], (long long)d[1]);
  if (!is_max && o->divisor_override < 0)
    return lt_error(LT_ERR_ARG, "%s: divisor must be not zero", op);
  for (int i = 0; i < 2; i++) {
    if (p[i] < 0)
      return lt_error(LT_ERR_ARG, "%s: pad must be non-negative, but got pad: %lld", op,
                      (long long)p[i]);
    if (is_max && p[i] > ((k[i] - 1) * d[i] + 1) / 2)
      return lt_error(LT_ERR_ARG,
                      "%s: pad should be at most half of effective kernel size, but got "
                      "pad=%lld, kernel_size=%lld and dilation=%lld",
                      op, (long long)p[i], (long long)k[i], (long long)d[i]);
    if (!is_max && p[i] > k[i] / 2)
      return lt_error(LT_ERR_ARG,
                      "%s: pad should be at most half of kernel size, but got pad=%lld and "
                      "kernel_size=%lld",
                      op, (long long)p[i], (long long)k[i]);
  }
  int nd = x->ndim;
  int64_t C = x->shape[nd - 3], H = x->shape[nd - 2], W = x->shape[nd - 1];
  int64_t oh = pool_out_size(H, k[0], p[0], s[0], d[0], o->ceil_mode);
  int64_t ow = pool_out_size(W, k[1], p[1], s[1], d[1], o->ceil_mode);
  if (oh < 1 || ow < 1)
    return lt_error(LT_ERR_SHAPE,
                    "%s: given input size: (%lldx%lldx%lld). Calculated output size: "
                    "(%lldx%lldx%lld). Output size is too small",
                    op, (long long)C, (long long)H, (long long)W, (long long)C, (long long)oh,
                    (long long)ow);
  lt_pool_geom gg = {lt_numel(x) / (H * W), H, W, oh, ow, k[0], k[1], s[0], s[1], p[0], p[1],
                     d[0], d[1], o->count_include_pad, o->divisor_override};
  *g = gg;
  for (int i = 0; i < nd; i++) oshape[i] = x->shape[i];
  oshape[nd - 2] = oh;
  oshape[nd - 1] = ow;
  return LT_OK;
}

/* saved: idx (max) or nothing (avg/adaptive); i = geometry; d[0] = kind */
enum { POOL_MAX = 0, POOL_AVG, POOL_ADAPTIVE };

static lt_status pool_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_pool_geom g = pool_unpack(n);
  int kind = (int)n->d[0];
  const lt_meta *m = &n->meta[0];
  lt_tensor *idx = NULL;
  if (kind == POOL_MAX && !(idx = lt_node_saved(n, 0))) return lt_errcode();
  lt_tensor *dy = grad_contig(gout[0], m->dtype);
  if (!dy) return lt_errcode();
  const char *op = kind == POOL_MAX   ? "max_pool2d_backward"
                   : kind == POOL_AVG ? "avg_pool2d_backward"
                                      : "adaptive_avg_pool2d_backward";
  const void *entry = NULL;
  const lt_backend *be = lt_backend_of(op, dy);
  if (be)
    entry = kind == POOL_MAX   ? (const void *)be->max_pool2d_backward
            : kind == POOL_AVG ? (const void *)be->avg_pool2d_backward
                               : (const void *)be->adaptive_avg_pool2d_backward;
  lt_status st = !be ? lt_errcode() : !entry ? lt_err_not_impl(op, m->device) : LT_OK;
  lt_tensor *dx = st ? NULL : lt_tensor_alloc(m->shape, m->ndim, m->dtype, m->device);
  if (!st && !dx) st = lt_errcode();
  if (!st && lt_numel(dx) > 0) {
    if (kind == POOL_MAX) st = be->max_pool2d_backward(dptr(dx), dptr(dy), dptr(idx), m->dtype, &g);
    else if (kind == POOL_AVG) st = be->avg_pool2d_backward(dptr(dx), dptr(dy), m->dtype, &g);
    else st = be->adaptive_avg_pool2d_backward(dptr(dx), dptr(dy), m->dtype, &g);
  }
  lt_tensor_release(dy);
  if (st) {
    lt_tensor_release(dx);
    return st;
  }
  gin[0] = dx;
  return LT_OK;
}

/* Runs a pool kernel into a new output and records the node. */
static lt_tensor *pool_run(const char *op, const char *node, int kind, lt_tensor *x,
                           const lt_pool_geom *g, const int64_t *oshape, lt_tensor **indices) {
  const lt_backend *be = lt_backend_of(op, x);
  if (!be) return NULL;
  const void *entry = kind == POOL_MAX   ? (const void *)be->max_pool2d
                      : kind == POOL_AVG ? (const void *)be->avg_pool2d
                                         : (const void *)be->adaptive_avg_pool2d;
  if (!entry) {
    lt_err_not_impl(op, lt_tensor_device(x));
    return NULL;
  }
  lt_tensor *xc = lt_contiguous(x);
  if (!xc) return NULL;
  lt_device dev = lt_tensor_device(x);
  lt_tensor *y = lt_tensor_alloc(oshape, x->ndim, x->dtype, dev);
  lt_tensor *idx = kind == POOL_MAX && y ? lt_tensor_alloc(oshape, x->ndim, LT_DTYPE_I64, dev)
                                         : NULL;
  lt_status st = y && (kind != POOL_MAX || idx) ? LT_OK : lt_errcode();
  if (!st && lt_numel(y) > 0) {
    if (kind == POOL_MAX) st = be->max_pool2d(dptr(y), dptr(idx), dptr(xc), x->dtype, g);
    else if (kind == POOL_AVG) st = be->avg_pool2d(dptr(y), dptr(xc), x->dtype, g);
    else st = be->adaptive_avg_pool2d(dptr(y), dptr(xc), x->dtype, g);
  }
  if (!st) {
    bool failed;
    lt_node *n = record(node, pool_backward, &xc, 1, &y, &failed);
    if (failed) st = lt_errcode();
    if (n) {
      pool_pack(n, g);
      n->d[0] = kind;
      if (idx) lt_node_save(n, 0, idx);
    }
  }
  lt_tensor_release(xc);
  if (st) {
    lt_tensor_release(y);
    lt_tensor_release(idx);
    return NULL;
  }
  if (indices) *indices = idx;
  else lt_tensor_release(idx);
  return y;
}

lt_tensor *lt_max_pool2d(lt_tensor *x, const lt_pool2d_opts *o, lt_tensor **indices) {
  lt_pool_geom g;
  int64_t os[4];
  if (indices) *indices = NULL;
  if (pool_setup("max_pool2d", x, o, true, &g, os)) return NULL;
  return pool_run("max_pool2d", "MaxPool2DWithIndicesBackward", POOL_MAX, x, &g, os, indices);
}

lt_tensor *lt_avg_pool2d(lt_tensor *x, const lt_pool2d_opts *o) {
  lt_pool_geom g;
  int64_t os[4];
  if (pool_setup("avg_pool2d", x, o, false, &g, os)) return NULL;
  return pool_run("avg_pool2d", "AvgPool2DBackward", POOL_AVG, x, &g, os, NULL);
}

lt_tensor *lt_adaptive_avg_pool2d(lt_tensor *x, int64_t oh, int64_t ow) {
  const char *op = "adaptive_avg_pool2d";
  char sa[128];
  if (need(op, x, "input")) return NULL;
  bool ok = x->ndim == 3 || x->ndim == 4;
  for (int d = x->ndim == 4 ? 1 : 0; ok && d < x->ndim; d++) ok = x->shape[d] > 0;
  if (!ok) {
    lt_error(LT_ERR_SHAPE,
             "%s: expected 3D or 4D tensor with non-zero sizes for non-batch dimensions, but "
             "got %s",
             op, lt_shape_str(x, sa));
    return NULL;
  }
  if (lt_check_float(op, x, "input")) return NULL;
  if (oh < 0 || ow < 0) {
    lt_error(LT_ERR_ARG,
             "%s: elements of output_size must be greater than or equal to 0 but received "
             "{%lld, %lld}",
             op, (long long)oh, (long long)ow);
    return NULL;
  }
  int nd = x->ndim;
  int64_t H = x->shape[nd - 2], W = x->shape[nd - 1], os[4];
  for (int i = 0; i < nd; i++) os[i] = x->shape[i];
  os[nd - 2] = oh;
  os[nd - 1] = ow;
  lt_pool_geom g = {lt_numel(x) / (H * W), H, W, oh, ow, 1, 1, 1, 1, 0, 0, 1, 1, false, 0};
  return pool_run(op, "AdaptiveAvgPool2DBackward", POOL_ADAPTIVE, x, &g, os, NULL);
}

/* ---------------------------------------------------------------- batch norm */

/* saved: x (contiguous), mean, invstd (C; float32, float64 for f64 x), w
** when i[4]; i = {N, C, HW, training, has_w}. One backend call gives dx,
** dw and db (formulas in backend.h). */
static lt_status batch_norm_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_tensor *x = lt_node_saved(n, 0), *mean = lt_node_saved(n, 1), *invstd = lt_node_saved(n, 2);
  lt_tensor *w = n->i[4] ? lt_node_saved(n, 3) : NULL;
  if (!x || !mean || !invstd || (n->i[4] && !w)) return lt_errcode();
  const char *op = "batch_norm_backward";
  const lt_backend *be = BACKEND(op, x, batch_norm_backward);
  if (!be) return lt_errcode();
  int64_t N = n->i[0], C = n->i[1], HW = n->i[2];
  bool training = n->i[3] != 0;
  bool nx = lt_node_needs_grad(n, 0), nw = lt_node_needs_grad(n, 1), nb = lt_node_needs_grad(n, 2);
  lt_tensor *dy = grad_contig(gout[0], x->dtype);
  if (!dy) return lt_errcode();
  lt_device dev = lt_tensor_device(x);
  lt_tensor *dx = NULL, *dw = NULL, *db = NULL;
  lt_status st = LT_OK;
  if (nx && !(dx = lt_tensor_alloc(x->shape, x->ndim, x->dtype, dev))) st = lt_errcode();
  if (!st && nw && !(dw = lt_tensor_alloc(n->meta[1].shape, n->meta[1].ndim, x->dtype, dev)))
    st = lt_errcode();
  if (!st && nb && !(db = lt_tensor_alloc(n->meta[2].shape, n->meta[2].ndim, x->dtype, dev)))
    st = lt_errcode();
  if (!st && N * HW == 0) {  /* empty batch: zero gradients for w and b */
    lt_view v;
    if (dw) { v = lt_view_of(dw); st = be->fill(&v, 0); }
    if (!st && db) { v = lt_view_of(db); st = be->fill(&v, 0); }
  } else if (!st && C > 0) {
    st = be->batch_norm_backward(dx ? dptr(dx) : NULL, dw ? dptr(dw) : NULL,
                                 db ? dptr(db) : NULL, dptr(dy), dptr(x), dptr(mean),
                                 dptr(invstd), w ? dptr(w) : NULL, x->dtype, N, C, HW, training);
  }
  lt_tensor_release(dy);
  if (st) {
    lt_tensor_release(dx);
    lt_tensor_release(dw);
    lt_tensor_release(db);
    return st;
  }
  gin[0] = dx;
  gin[1] = dw;
  gin[2] = db;
  return LT_OK;
}

/* The backend's fused kernels apply when it has all three and every given
** parameter / running stat is a contiguous tensor of x's dtype. */
static bool batch_norm_fusable(const lt_backend *be, lt_tensor *x, lt_tensor *const *params) {
  if (!be || !be->batch_norm_stats || !be->batch_norm_forward || !be->batch_norm_backward ||
      !be->fill)
    return false;
  if (x->dtype != LT_DTYPE_F32 && x->dtype != LT_DTYPE_F64 && x->dtype != LT_DTYPE_BF16 &&
      x->dtype != LT_DTYPE_F16)
    return false;
  for (int k = 0; k < 4; k++)
    if (params[k] && (params[k]->dtype != x->dtype || !lt_is_contiguous(params[k]))) return false;
  return true;
}

/* batch_norm through batch_norm_stats + batch_norm_forward, recording
** NativeBatchNormBackward. Arguments are checked by lt_batch_norm. */
static lt_tensor *batch_norm_fused(const lt_backend *be, lt_tensor *x, lt_tensor *running_mean,
                                   lt_tensor *running_var, lt_tensor *weight, lt_tensor *bias,
                                   bool training, double momentum, double eps) {
  int64_t N = x->shape[0], C = x->shape[1], HW = 1;
  for (int d = 2; d < x->ndim; d++) HW *= x->shape[d];
  lt_dtype dt = x->dtype, sdt = dt == LT_DTYPE_F64 ? LT_DTYPE_F64 : LT_DTYPE_F32;
  lt_device dev = lt_tensor_device(x);
  lt_tensor *xc = lt_contiguous(x);
  if (!xc) return NULL;
  lt_tensor *mean = lt_tensor_alloc(&C, 1, sdt, dev);
  lt_tensor *invstd = mean ? lt_tensor_alloc(&C, 1, sdt, dev) : NULL;
  lt_tensor *y = invstd ? lt_tensor_alloc(x->shape, x->ndim, dt, dev) : NULL;
  lt_status st = y ? LT_OK : lt_errcode();
  bool upd = training && running_mean;
  if (!st && C > 0 && (N * HW > 0 || !training)) {
    st = be->batch_norm_stats(dptr(mean), dptr(invstd), running_mean ? dptr(running_mean) : NULL,
                              running_var ? dptr(running_var) : NULL, dptr(xc), dt, N, C, HW,
                              training, momentum, eps);
    if (!st && upd) {
      lt_bump_version(running_mean);
      lt_bump_version(running_var);
    }
    if (!st && N * HW > 0)
      st = be->batch_norm_forward(dptr(y), dptr(xc), dptr(mean), dptr(invstd),
                                  weight ? dptr(weight) : NULL, bias ? dptr(bias) : NULL, dt, N,
                                  C, HW);
  }
  if (!st) {
    lt_tensor *ins[3] = {xc, weight, bias};
    bool failed;
    lt_node *n = record("NativeBatchNormBackward", batch_norm_backward, ins, 3, &y, &failed);
    if (failed) st = lt_errcode();
    if (n) {
      n->i[0] = N;
      n->i[1] = C;
      n->i[2] = HW;
      n->i[3] = training;
      n->i[4] = weight != NULL;
      lt_node_save(n, 0, xc);
      lt_node_save(n, 1, mean);
      lt_node_save(n, 2, invstd);
      if (weight) lt_node_save(n, 3, weight);
    }
  }
  lt_tensor_release(xc);
  lt_tensor_release(mean);
  lt_tensor_release(invstd);
  if (st) {
    lt_tensor_release(y);
    return NULL;
  }
  return y;
}

/* With the backend's fused kernels (batch_norm_fused), else composed from
** reductions and elementwise ops, so autograd is automatic:
** training: mean, biased var over (N, ...) per channel, y = (x - mean) *
** rsqrt(var + eps) * w + b, running stats updated in place under no grad
** with the unbiased variance; eval: the running stats. */
lt_tensor *lt_batch_norm(lt_tensor *x, lt_tensor *running_mean, lt_tensor *running_var,
                         lt_tensor *weight, lt_tensor *bias, bool training, double momentum,
                         double eps) {
  const char *op = "batch_norm";
  char sa[128], sb[128];
  if (need(op, x, "input") || lt_check_float(op, x, "input")) return NULL;
  /* autocast: float32 statistics; the running stats are updated in place, never cast */
  AUTOCAST(LT_AUTOCAST_F32, 3,
           lt_batch_norm(ac[0], running_mean, running_var, ac[1], ac[2], training, momentum, eps),
           x, weight, bias);
  if (x->ndim < 2) {
    lt_error(LT_ERR_SHAPE, "%s: expected input of at least 2 dimensions (N, C, ...), got %s",
             op, lt_shape_str(x, sa));
    return NULL;
  }
  int nd = x->ndim;
  int64_t C = x->shape[1];
  lt_tensor *params[4] = {running_mean, running_var, weight, bias};
  const char *pnames[4] = {"running_mean", "running_var", "weight", "bias"};
  for (int k = 0; k < 4; k++) {
    if (!params[k]) continue;
    if (lt_check_same_device(op, x, "input", params[k], pnames[k])) return NULL;
    if (lt_check_float(op, params[k], pnames[k])) return NULL;
    if (lt_numel(params[k]) != C) {
      lt_error(LT_ERR_SHAPE, "%s: %s should contain %lld elements not %lld (input %s, %s %s)", op,
               pnames[k], (long long)C, (long long)lt_numel(params[k]), lt_shape_str(x, sa),
               pnames[k], lt_shape_str(params[k], sb));
      return NULL;
    }
  }
  if ((running_mean == NULL) != (running_var == NULL)) {
    lt_error(LT_ERR_ARG, "%s: running_mean and running_var must be given together", op);
    return NULL;
  }
  if (!training && !running_mean) {
    lt_error(LT_ERR_ARG, "%s: running_mean and running_var must be defined in evaluation mode",
             op);
    return NULL;
  }
  int64_t count = C ? lt_numel(x) / C : 0;
  if (training && count <= 1) {
    lt_error(LT_ERR_ARG, "%s: expected more than 1 value per channel when training, got input "
             "size %s", op, lt_shape_str(x, sa));
    return NULL;
  }
  const lt_backend *fbe = lt_backend_for(lt_tensor_device(x));
  if (batch_norm_fusable(fbe, x, params))
    return batch_norm_fused(fbe, x, running_mean, running_var, weight, bias, training, momentum,
                            eps);
  int64_t bshape[LT_MAX_DIMS];
  int dims[LT_MAX_DIMS], ndims = 0;
  for (int d = 0; d < nd; d++) {
    bshape[d] = d == 1 ? C : 1;
    if (d != 1) dims[ndims++] = d;
  }
  lt_tensor *tmp[12] = {0};
  lt_tensor *y = NULL;
  lt_status st = LT_OK;
  if (training) {
    lt_tensor *mean = tmp[0] = lt_reduce(LT_REDUCE_MEAN, x, dims, ndims, true, 0, NULL, 0);
    lt_tensor *xc = mean ? (tmp[1] = lt_binary(LT_BINARY_SUB, x, mean)) : NULL;
    lt_tensor *sq = xc ? (tmp[2] = lt_binary(LT_BINARY_MUL, xc, xc)) : NULL;
    lt_tensor *var = sq ? (tmp[3] = lt_reduce(LT_REDUCE_MEAN, sq, dims, ndims, true, 0, NULL, 0))
                        : NULL;
    lt_tensor *ve = var ? (tmp[4] = lt_binary_scalar(LT_BINARY_ADD, var, eps, false)) : NULL;
    lt_tensor *rs = ve ? (tmp[5] = lt_unary(LT_UNARY_RSQRT, ve)) : NULL;
    y = rs ? lt_binary(LT_BINARY_MUL, xc, rs) : NULL;
    if (!y) st = lt_errcode();
    if (!st && running_mean) {  /* running = (1 - m) * running + m * batch */
      bool g = lt_grad_enabled();
      lt_set_grad_enabled(false);
      lt_tensor *bm = lt_reshape(mean, &C, 1);
      lt_tensor *bv = lt_reshape(var, &C, 1);
      lt_tensor *bvu = bv ? lt_binary_scalar(LT_BINARY_MUL, bv, (double)count / (double)(count - 1),
                                             false)
                          : NULL;
      lt_tensor *bmc = bm ? lt_cast_nograd(bm, running_mean->dtype) : NULL;
      lt_tensor *bvc = bvu ? lt_cast_nograd(bvu, running_var->dtype) : NULL;
      lt_tensor *rmv = lt_reshape(running_mean, &C, 1), *rvv = lt_reshape(running_var, &C, 1);
      if (!bmc || !bvc || !rmv || !rvv) st = lt_errcode();
      if (!st && (rmv->storage != running_mean->storage || rvv->storage != running_var->storage))
        st = lt_error(LT_ERR_ARG, "%s: running stats must be viewable as (C)", op);
      if (!st) st = lt_binary_scalar_(LT_BINARY_MUL, rmv, 1.0 - momentum);
      if (!st) st = lt_add_scaled_(rmv, bmc, momentum);
      if (!st) st = lt_binary_scalar_(LT_BINARY_MUL, rvv, 1.0 - momentum);
      if (!st) st = lt_add_scaled_(rvv, bvc, momentum);
      lt_tensor_release(bm);
      lt_tensor_release(bv);
      lt_tensor_release(bvu);
      lt_tensor_release(bmc);
      lt_tensor_release(bvc);
      lt_tensor_release(rmv);
      lt_tensor_release(rvv);
      lt_set_grad_enabled(g);
    }
  } else {
    lt_tensor *rm = tmp[0] = lt_reshape(running_mean, bshape, nd);
    lt_tensor *rv = rm ? (tmp[1] = lt_reshape(running_var, bshape, nd)) : NULL;
    lt_tensor *rmc = rv ? (tmp[2] = lt_cast_nograd(rm, x->dtype)) : NULL;
    lt_tensor *rvc = rmc ? (tmp[3] = lt_cast_nograd(rv, x->dtype)) : NULL;
    lt_tensor *xc = rvc ? (tmp[4] = lt_binary(LT_BINARY_SUB, x, rmc)) : NULL;
    lt_tensor *ve = xc ? (tmp[5] = lt_binary_scalar(LT_BINARY_ADD, rvc, eps, false)) : NULL;
    lt_tensor *rs = ve ? (tmp[6] = lt_unary(LT_UNARY_RSQRT, ve)) : NULL;
    y = rs ? lt_binary(LT_BINARY_MUL, xc, rs) : NULL;
    if (!y) st = lt_errcode();
  }
  if (!st && weight) {
    lt_tensor *wv = tmp[8] = lt_reshape(weight, bshape, nd);
    lt_tensor *r = wv ? lt_binary(LT_BINARY_MUL, y, wv) : NULL;
    lt_tensor_release(y);
    y = r;
    if (!y) st = lt_errcode();
  }
  if (!st && bias) {
    lt_tensor *bv = tmp[9] = lt_reshape(bias, bshape, nd);
    lt_tensor *r = bv ? lt_binary(LT_BINARY_ADD, y, bv) : NULL;
    lt_tensor_release(y);
    y = r;
    if (!y) st = lt_errcode();
  }
  lt_release_all(tmp, 12);
  if (st) {
    lt_tensor_release(y);
    return NULL;
  }
  return y;
}

/* ---------------------------------------------------------------- layer norm */

/* saved: x, mean, rstd, w (contiguous); i = {rows, cols, has_w} */
static lt_status layer_norm_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_tensor *x = lt_node_saved(n, 0), *mean = lt_node_saved(n, 1), *rstd = lt_node_saved(n, 2);
  lt_tensor *w = n->i[2] ? lt_node_saved(n, 3) : NULL;
  if (!x || !mean || !rstd || (n->i[2] && !w)) return lt_errcode();
  const char *op = "layer_norm_backward";
  const lt_backend *be = BACKEND(op, x, layer_norm_backward);
  if (!be) return lt_errcode();
  if (!be->fill) return lt_err_not_impl(op, lt_tensor_device(x));
  int64_t rows = n->i[0], cols = n->i[1];
  bool nw = n->n_inputs > 1 && lt_node_needs_grad(n, 1);
  bool nb = n->n_inputs > 2 && lt_node_needs_grad(n, 2);
  lt_tensor *dy = grad_contig(gout[0], x->dtype);
  if (!dy) return lt_errcode();
  lt_device dev = lt_tensor_device(x);
  lt_tensor *dx = lt_tensor_alloc(x->shape, x->ndim, x->dtype, dev);
  lt_tensor *dw = NULL, *db = NULL;
  lt_status st = dx ? LT_OK : lt_errcode();
  if (!st && nw) {
    dw = lt_zeros(n->meta[1].shape, n->meta[1].ndim, x->dtype, dev);
    if (!dw) st = lt_errcode();
  }
  if (!st && nb) {
    db = lt_zeros(n->meta[2].shape, n->meta[2].ndim, x->dtype, dev);
    if (!db) st = lt_errcode();
  }
  if (!st && rows * cols > 0)
    st = be->layer_norm_backward(dptr(dx), dw ? dptr(dw) : NULL, db ? dptr(db) : NULL, dptr(dy),
                                 dptr(x), dptr(mean), dptr(rstd), w ? dptr(w) : NULL, x->dtype,
                                 rows, cols);
  lt_tensor_release(dy);
  if (st) {
    lt_tensor_release(dx);
    lt_tensor_release(dw);
    lt_tensor_release(db);
    return st;
  }
  gin[0] = dx;
  if (n->n_inputs > 1) gin[1] = dw;
  if (n->n_inputs > 2) gin[2] = db;
  return LT_OK;
}

lt_tensor *lt_layer_norm(lt_tensor *x, int nnorm, lt_tensor *weight, lt_tensor *bias,
                         double eps) {
  const char *op = "layer_norm";
  char sa[128], sb[128];
  if (need(op, x, "input") || lt_check_float(op, x, "input")) return NULL;
  AUTOCAST(LT_AUTOCAST_F32, 3, lt_layer_norm(ac[0], nnorm, ac[1], ac[2], eps), x, weight, bias);
  if (nnorm < 1 || nnorm > x->ndim) {
    lt_error(LT_ERR_SHAPE, "%s: cannot normalise over the last %d dims of input of shape %s", op,
             nnorm, lt_shape_str(x, sa));
    return NULL;
  }
  const int64_t *nshape = x->shape + (x->ndim - nnorm);
  lt_tensor *ps[2] = {weight, bias};
  const char *pn[2] = {"weight", "bias"};
  for (int k = 0; k < 2; k++) {
    if (!ps[k]) continue;
    if (lt_check_same_device(op, x, "input", ps[k], pn[k])) return NULL;
    if (ps[k]->dtype != x->dtype) {
      lt_error(LT_ERR_DTYPE, "%s: %s has dtype %s but input has dtype %s", op, pn[k],
               lt_dtype_name(ps[k]->dtype), lt_dtype_name(x->dtype));
      return NULL;
    }
    if (!lt_shape_eq(ps[k]->shape, ps[k]->ndim, nshape, nnorm)) {
      lt_error(LT_ERR_SHAPE, "%s: expected %s of shape %s (normalized_shape), got %s", op, pn[k],
               lt_shape_str_raw(nshape, nnorm, sa), lt_shape_str(ps[k], sb));
      return NULL;
    }
  }
  const lt_backend *be = BACKEND(op, x, layer_norm);
  if (!be) return NULL;
  int64_t cols = lt_shape_numel(nshape, nnorm);
  int64_t rows = cols ? lt_numel(x) / cols : 0;
  lt_dtype sdt = x->dtype == LT_DTYPE_F64 ? LT_DTYPE_F64 : LT_DTYPE_F32;
  lt_device dev = lt_tensor_device(x);
  lt_tensor *tmp[5] = {0};
  lt_tensor *xc = tmp[0] = lt_contiguous(x);
  lt_tensor *wc = weight && xc ? (tmp[1] = lt_contiguous(weight)) : NULL;
  lt_tensor *bc = bias && xc ? (tmp[2] = lt_contiguous(bias)) : NULL;
  lt_tensor *mean = tmp[3] = lt_tensor_alloc(&rows, 1, sdt, dev);
  lt_tensor *rstd = tmp[4] = lt_tensor_alloc(&rows, 1, sdt, dev);
  lt_tensor *y = lt_tensor_alloc(x->shape, x->ndim, x->dtype, dev);
  lt_status st = xc && (!weight || wc) && (!bias || bc) && mean && rstd && y ? LT_OK
                                                                             : lt_errcode();
  if (!st && rows * cols > 0)
    st = be->layer_norm(dptr(y), dptr(mean), dptr(rstd), dptr(xc), wc ? dptr(wc) : NULL,
                        bc ? dptr(bc) : NULL, x->dtype, rows, cols, eps);
  if (!st) {
    lt_tensor *ins[3] = {xc, wc, bc};
    int nin = bc ? 3 : wc ? 2 : 1;
    bool failed;
    lt_node *n = record("NativeLayerNormBackward", layer_norm_backward, ins, nin, &y, &failed);
    if (failed) st = lt_errcode();
    if (n) {
      lt_node_save(n, 0, xc);
      lt_node_save(n, 1, mean);
      lt_node_save(n, 2, rstd);
      if (wc) lt_node_save(n, 3, wc);
      n->i[0] = rows;
      n->i[1] = cols;
      n->i[2] = wc != NULL;
    }
  }
  lt_release_all(tmp, 5);
  if (st) {
    lt_tensor_release(y);
    return NULL;
  }
  return y;
}

/* ---------------------------------------------------------------- embedding */

/* saved: ids (flat, contiguous int64); i = {num_embeddings, dim, padding, base}.
** dW = zeros.index_add_(0, ids, dy), then the padding row is zeroed (it
** only ever received the padding ids' gradients). */
static lt_status embedding_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_tensor *ids = lt_node_saved(n, 0);
  if (!ids) return lt_errcode();
  const lt_meta *m = &n->meta[0];
  int64_t V = n->i[0], D = n->i[1], pad = n->i[2], base = n->i[3], cnt = lt_numel(ids);
  const char *op = "embedding_backward";
  lt_tensor *dy = grad_contig(gout[0], m->dtype);
  if (!dy) return lt_errcode();
  const lt_backend *be = BACKEND(op, dy, index_add);
  lt_status st = be ? LT_OK : lt_errcode();
  if (!st && !be->fill) st = lt_err_not_impl(op, m->device);
  int64_t ws[2] = {V, D};
  lt_tensor *dw = st ? NULL : lt_tensor_alloc(ws, 2, m->dtype, m->device);
  if (!st && !dw) st = lt_errcode();
  if (!st) {
    lt_view wv = lt_view_of(dw);
    st = be->fill(&wv, 0);
  }
  if (!st && cnt > 0 && D > 0) {
    lt_view wv = lt_view_of(dw), iv = lt_view_of(ids), gv = lt_view_of(dy);
    gv.ndim = 2;
    gv.shape[0] = cnt;
    gv.shape[1] = D;
    gv.stride[0] = D;
    gv.stride[1] = 1;
    st = be->index_add(&wv, 0, &iv, &gv, base);
  }
  if (!st && pad >= 0 && pad < V) {
    lt_view rv = lt_view_of(dw);
    rv.data = cptr(dw, pad * D);
    rv.ndim = 1;
    rv.shape[0] = D;
    rv.stride[0] = 1;
    st = be->fill(&rv, 0);
  }
  lt_tensor_release(dy);
  if (st) {
    lt_tensor_release(dw);
    return st;
  }
  gin[0] = dw;
  return LT_OK;
}

lt_tensor *lt_embedding(lt_tensor *weight, lt_tensor *ids, int64_t padding_idx, int64_t base) {
  const char *op = "embedding";
  char sa[128];
  if (need(op, weight, "weight") || need(op, ids, "indices")) return NULL;
  if (weight->ndim != 2) {
    lt_error(LT_ERR_SHAPE, "%s: weight must be 2-D (num_embeddings, embedding_dim), got %s", op,
             lt_shape_str(weight, sa));
    return NULL;
  }
  if (lt_check_same_device(op, weight, "weight", ids, "indices")) return NULL;
  if (ids->dtype != LT_DTYPE_I64 && ids->dtype != LT_DTYPE_I32) {
    lt_error(LT_ERR_DTYPE, "%s: expected indices of dtype int64 or int32, got %s", op,
             lt_dtype_name(ids->dtype));
    return NULL;
  }
  int64_t V = weight->shape[0], D = weight->shape[1];
  if (padding_idx >= V) {
    lt_error(LT_ERR_INDEX, "%s: padding_idx %lld must be within num_embeddings %lld", op,
             (long long)padding_idx, (long long)V);
    return NULL;
  }
  if (ids->ndim + 1 > LT_MAX_DIMS) {
    lt_error(LT_ERR_SHAPE, "%s: indices have too many dimensions (%d)", op, ids->ndim);
    return NULL;
  }
  const lt_backend *be = BACKEND(op, weight, index_select);
  if (!be) return NULL;
  lt_tensor *ic = lt_cast_nograd(ids, LT_DTYPE_I64);
  lt_tensor *i1 = ic ? lt_contiguous(ic) : NULL;
  lt_tensor_release(ic);
  if (!i1) return NULL;
  int64_t cnt = lt_numel(i1);
  int64_t os[LT_MAX_DIMS];
  for (int d = 0; d < ids->ndim; d++) os[d] = ids->shape[d];
  os[ids->ndim] = D;
  lt_tensor *y = lt_tensor_alloc(os, ids->ndim + 1, weight->dtype, lt_tensor_device(weight));
  lt_status st = y ? LT_OK : lt_errcode();
  lt_view iv = lt_view_of(i1);
  iv.ndim = 1;
  iv.shape[0] = cnt;
  iv.stride[0] = 1;
  if (!st && cnt > 0) st = check_ids(op, be, &iv, V, base, false, 0, "index", "embeddings");
  if (!st && cnt > 0 && D > 0) {
    lt_view yv = lt_view_of(y), wv = lt_view_of(weight);
    yv.ndim = 2;
    yv.shape[0] = cnt;
    yv.shape[1] = D;
    yv.stride[0] = D;
    yv.stride[1] = 1;
    st = be->index_select(&yv, &wv, 0, &iv, base);
  }
  if (!st) {
    bool failed;
    lt_node *n = record("EmbeddingBackward", embedding_backward, &weight, 1, &y, &failed);
    if (failed) st = lt_errcode();
    if (n) {
      int64_t s1 = cnt;
      lt_tensor *flat = lt_tensor_view_of(i1, &s1, (int64_t[]){1}, 1, i1->offset);
      if (!flat) st = lt_errcode();
      else {
        lt_node_save(n, 0, flat);
        lt_tensor_release(flat);
      }
      n->i[0] = V;
      n->i[1] = D;
      n->i[2] = padding_idx;
      n->i[3] = base;
    }
  }
  lt_tensor_release(i1);
  if (st) {
    lt_tensor_release(y);
    return NULL;
  }
  return y;
}

/* ---------------------------------------------------------------- attention */

/* saved: q, k, v (contiguous, no history), out (alias), lse;
** i = {bh, L, S, E, Ev, causal}; d = {scale} */
static lt_status sdpa_fused_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_tensor *q = lt_node_saved(n, 0), *k = lt_node_saved(n, 1), *v = lt_node_saved(n, 2);
  lt_tensor *o = lt_node_saved(n, 3), *lse = lt_node_saved(n, 4);
  if (!q || !k || !v || !o || !lse) return lt_errcode();
  const char *op = "scaled_dot_product_attention_backward";
  const lt_backend *be = BACKEND(op, q, sdpa_backward);
  if (!be) return lt_errcode();
  lt_tensor *dout = grad_contig(gout[0], q->dtype);
  if (!dout) return lt_errcode();
  lt_device dev = lt_tensor_device(q);
  lt_tensor *g[3] = {0};
  lt_status st = LT_OK;
  for (int i = 0; i < 3 && !st; i++) {
    g[i] = lt_tensor_alloc(n->meta[i].shape, n->meta[i].ndim, q->dtype, dev);
    if (!g[i]) st = lt_errcode();
  }
  if (!st && n->i[0] > 0)
    st = be->sdpa_backward(dptr(g[0]), dptr(g[1]), dptr(g[2]), dptr(dout), dptr(q), dptr(k),
                           dptr(v), dptr(o), dptr(lse), q->dtype, n->i[0], n->i[1], n->i[2],
                           n->i[3], n->i[4], n->d[0], n->i[5] != 0);
  lt_tensor_release(dout);
  if (st) {
    lt_release_all(g, 3);
    return st;
  }
  for (int i = 0; i < 3; i++) {
    if (lt_node_needs_grad(n, i)) gin[i] = g[i];
    else lt_tensor_release(g[i]);
  }
  return LT_OK;
}

/* A contiguous copy of t without history (t's storage when already contiguous). */
static lt_tensor *contig_detached(lt_tensor *t) {
  lt_tensor *d = lt_detach(t);
  if (!d) return NULL;
  lt_tensor *c = lt_contiguous(d);
  lt_tensor_release(d);
  return c;
}

/* Can the backend's fused kernels take this call? (same batch dims, no
** mask, no dropout, non-empty sequences, head dims the kernels support) */
static bool sdpa_fusable(const lt_backend *be, lt_tensor *q, lt_tensor *k, lt_tensor *v,
                         lt_tensor *mask, double dropout_p) {
  if (!be || !be->sdpa_forward || !be->sdpa_backward || mask || dropout_p > 0) return false;
  int nd = q->ndim;
  if (k->ndim != nd || v->ndim != nd) return false;
  for (int d = 0; d < nd - 2; d++)
    if (k->shape[d] != q->shape[d] || v->shape[d] != q->shape[d]) return false;
  int64_t L = q->shape[nd - 2], S = k->shape[nd - 2], E = q->shape[nd - 1];
  int64_t Ev = v->shape[nd - 1];
  if (!(L >= 1 && S >= 1 && E >= 1 && Ev >= 1 && E <= LT_SDPA_MAX_HEAD_DIM &&
        Ev <= LT_SDPA_MAX_HEAD_DIM))
    return false;
  int mode = lt_sdpa_fused_mode();
  if (mode != LT_SDPA_AUTO) return mode == LT_SDPA_ALWAYS;
  return true;  /* supported; sdpa_prefer_fused decides in auto mode */
}

/* lt.backends.benchmark's cache for attention: one entry per call shape. */
typedef struct {
  lt_device dev;
  lt_dtype dt;
  int64_t batch, L, S, E, Ev;
  bool causal;
  bool fused;
} sdpa_choice;
static sdpa_choice sdpa_cache[64];
static int sdpa_cache_len;

static double sdpa_time_once(const lt_backend *be, lt_device dev, lt_tensor *q, lt_tensor *k,
                             lt_tensor *v, bool causal, double scale, int mode) {
  int saved = lt_sdpa_fused_mode();
  lt_set_sdpa_fused_mode(mode);
  double best = INFINITY;
  for (int rep = 0; rep < 3; rep++) {  /* first run warms up */
    if (be->synchronize) be->synchronize(dev.index);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lt_tensor *o = lt_scaled_dot_product_attention(q, k, v, NULL, 0, causal, scale);
    if (be->synchronize) be->synchronize(dev.index);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!o) { best = INFINITY; break; }
    lt_tensor_release(o);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (rep > 0 && dt < best) best = dt;
  }
  lt_set_sdpa_fused_mode(saved);
  return best;
}

/* Auto mode: with lt.backends.benchmark, time both paths once per shape
** and keep the faster; without it, the composed path while its (batch, L, S)
** score matrix is small, the fused kernels past LT_SDPA_AUTO_BYTES. */
static bool sdpa_prefer_fused(const lt_backend *be, lt_tensor *q, lt_tensor *k, lt_tensor *v,
                              bool causal, double scale) {
  int nd = q->ndim;
  int64_t L = q->shape[nd - 2], S = k->shape[nd - 2], E = q->shape[nd - 1];
  int64_t Ev = v->shape[nd - 1];
  double batch = 1;
  for (int d = 0; d < nd - 2; d++) batch *= (double)q->shape[d];
  if (lt_sdpa_fused_mode() != LT_SDPA_AUTO) return true;
  if (!lt_benchmark()) return batch * (double)L * (double)S * 4.0 > LT_SDPA_AUTO_BYTES;
  lt_device dev = lt_tensor_device(q);
  for (int i = 0; i < sdpa_cache_len; i++) {
    sdpa_choice *c = &sdpa_cache[i];
    if (lt_device_eq(c->dev, dev) && c->dt == q->dtype && c->batch == (int64_t)batch &&
        c->L == L && c->S == S && c->E == E && c->Ev == Ev && c->causal == causal)
      return c->fused;
  }
  bool grad = lt_grad_enabled();
  lt_set_grad_enabled(false);
  double tf = sdpa_time_once(be, dev, q, k, v, causal, scale, LT_SDPA_ALWAYS);
  double tc = sdpa_time_once(be, dev, q, k, v, causal, scale, LT_SDPA_NEVER);
  lt_set_grad_enabled(grad);
  lt_clearerr();
  sdpa_choice c = {dev, q->dtype, (int64_t)batch, L, S, E, Ev, causal, tf <= tc};
  if (sdpa_cache_len < (int)(sizeof sdpa_cache / sizeof sdpa_cache[0]))
    sdpa_cache[sdpa_cache_len++] = c;
  return c.fused;
}

/* The fused path: backend sdpa_forward, one node whose backward is
** backend sdpa_backward (flash-attention style, no (L, S) matrix). */
static lt_tensor *sdpa_fused(const lt_backend *be, lt_tensor *q, lt_tensor *k, lt_tensor *v,
                             bool is_causal, double scale) {
  int nd = q->ndim;
  int64_t L = q->shape[nd - 2], S = k->shape[nd - 2], E = q->shape[nd - 1];
  int64_t Ev = v->shape[nd - 1], bh = 1;
  for (int d = 0; d < nd - 2; d++) bh *= q->shape[d];
  int64_t os[LT_MAX_DIMS], rows = bh * L;
  memcpy(os, q->shape, sizeof(int64_t) * (size_t)nd);
  os[nd - 1] = Ev;
  lt_device dev = lt_tensor_device(q);
  lt_tensor *tmp[4] = {0};
  lt_tensor *qc = tmp[0] = contig_detached(q);
  lt_tensor *kc = qc ? (tmp[1] = contig_detached(k)) : NULL;
  lt_tensor *vc = kc ? (tmp[2] = contig_detached(v)) : NULL;
  lt_tensor *lse = vc ? (tmp[3] = lt_tensor_alloc(&rows, 1,
                                                  q->dtype == LT_DTYPE_F64 ? LT_DTYPE_F64
                                                                           : LT_DTYPE_F32,
                                                  dev))
                      : NULL;
  lt_tensor *out = lse ? lt_tensor_alloc(os, nd, q->dtype, dev) : NULL;
  lt_status st = out ? LT_OK : lt_errcode();
  if (!st && bh > 0)
    st = be->sdpa_forward(dptr(out), dptr(lse), dptr(qc), dptr(kc), dptr(vc), q->dtype, bh, L,
                          S, E, Ev, scale, is_causal);
  if (!st) {
    lt_tensor *ins[3] = {q, k, v};
    bool failed;
    lt_node *n = record("ScaledDotProductFlashAttentionBackward", sdpa_fused_backward, ins, 3,
                        &out, &failed);
    if (failed) st = lt_errcode();
    if (n) {
      lt_node_save(n, 0, qc);
      lt_node_save(n, 1, kc);
      lt_node_save(n, 2, vc);
      lt_node_save(n, 4, lse);
      if (save_alias(n, 3, out)) st = lt_errcode();
      int64_t pk[6] = {bh, L, S, E, Ev, is_causal};
      for (int i = 0; i < 6; i++) n->i[i] = pk[i];
      n->d[0] = scale;
    }
  }
  lt_release_all(tmp, 4);
  if (st) {
    lt_tensor_release(out);
    return NULL;
  }
  return out;
}

/* softmax(q @ k^T * scale + bias) @ v. Without a mask and dropout, and
** when the backend has the fused kernels (sdpa_forward/backward), one
** flash-attention style op; else composed: the causal mask keeps
** j <= i over (L, S) (top-left aligned, PyTorch's tril(diagonal=0)); a bool
** mask keeps True; a float mask is added. Fully masked rows give NaN as in
** PyTorch's math reference. */
lt_tensor *lt_scaled_dot_product_attention(lt_tensor *q, lt_tensor *k, lt_tensor *v,
                                           lt_tensor *mask, double dropout_p, bool is_causal,
                                           double scale) {
  const char *op = "scaled_dot_product_attention";
  char sa[128], sb[128];
  if (need(op, q, "query") || need(op, k, "key") || need(op, v, "value")) return NULL;
  if (lt_check_float(op, q, "query")) return NULL;
  AUTOCAST(LT_AUTOCAST_LOW, 3,
           lt_scaled_dot_product_attention(ac[0], ac[1], ac[2], mask, dropout_p, is_causal,
                                           scale),
           q, k, v);
  if (k->dtype != q->dtype || v->dtype != q->dtype) {
    lt_error(LT_ERR_DTYPE,
             "%s: expected query, key, and value to have the same dtype, but got query.dtype: "
             "%s key.dtype: %s and value.dtype: %s instead",
             op, lt_dtype_name(q->dtype), lt_dtype_name(k->dtype), lt_dtype_name(v->dtype));
    return NULL;
  }
  if (lt_check_same_device(op, q, "query", k, "key") ||
      lt_check_same_device(op, q, "query", v, "value"))
    return NULL;
  if (q->ndim < 2 || k->ndim < 2 || v->ndim < 2) {
    lt_error(LT_ERR_SHAPE, "%s: query, key and value must have at least 2 dimensions", op);
    return NULL;
  }
  int64_t L = q->shape[q->ndim - 2], E = q->shape[q->ndim - 1];
  int64_t S = k->shape[k->ndim - 2];
  if (k->shape[k->ndim - 1] != E) {
    lt_error(LT_ERR_SHAPE, "%s: query %s and key %s must have the same embedding size", op,
             lt_shape_str(q, sa), lt_shape_str(k, sb));
    return NULL;
  }
  if (v->shape[v->ndim - 2] != S) {
    lt_error(LT_ERR_SHAPE, "%s: key %s and value %s must have the same sequence length", op,
             lt_shape_str(k, sa), lt_shape_str(v, sb));
    return NULL;
  }
  if (!(dropout_p >= 0.0 && dropout_p <= 1.0)) {
    lt_error(LT_ERR_ARG, "%s: dropout_p must be in [0, 1], got %g", op, dropout_p);
    return NULL;
  }
  if (mask) {
    if (lt_check_same_device(op, q, "query", mask, "attn_mask")) return NULL;
    if (mask->dtype != LT_DTYPE_BOOL && !lt_dtype_is_float(mask->dtype)) {
      lt_error(LT_ERR_DTYPE, "%s: attn_mask must be bool or float, got %s", op,
               lt_dtype_name(mask->dtype));
      return NULL;
    }
  }
  if (!(scale > 0)) scale = 1.0 / sqrt((double)(E > 0 ? E : 1));
  const lt_backend *be = lt_backend_of(op, q);
  if (!be) return NULL;
  if (sdpa_fusable(be, q, k, v, mask, dropout_p) &&
      sdpa_prefer_fused(be, q, k, v, is_causal, scale))
    return sdpa_fused(be, q, k, v, is_causal, scale);
  lt_tensor *tmp[10] = {0};
  lt_tensor *out = NULL;
  lt_tensor *kt = tmp[0] = lt_transpose(k, k->ndim - 2, k->ndim - 1);
  lt_tensor *sc = kt ? (tmp[1] = lt_matmul(q, kt)) : NULL;
  lt_tensor *s = sc ? (tmp[2] = lt_binary_scalar(LT_BINARY_MUL, sc, scale, false)) : NULL;
  if (s && is_causal) {
    uint8_t *drop = malloc((size_t)(L * S > 0 ? L * S : 1));
    if (!drop) {
      lt_error(LT_ERR_MEMORY, "%s: out of memory for the causal mask", op);
      s = NULL;
    } else {
      for (int64_t i = 0; i < L; i++)
        for (int64_t j = 0; j < S; j++) drop[i * S + j] = j > i;
      int64_t ms[2] = {L, S};
      tmp[3] = lt_from_data(drop, LT_DTYPE_U8, ms, 2, LT_DTYPE_BOOL, lt_tensor_device(q));
      free(drop);
      s = tmp[3] ? (tmp[4] = lt_masked_fill(s, tmp[3], -INFINITY)) : NULL;
    }
  }
  if (s && mask) {
    if (mask->dtype == LT_DTYPE_BOOL) {
      tmp[5] = lt_unary(LT_UNARY_LOGICAL_NOT, mask);
      s = tmp[5] ? (tmp[6] = lt_masked_fill(s, tmp[5], -INFINITY)) : NULL;
    } else {
      tmp[5] = lt_to(mask, s->dtype, lt_tensor_device(s));
      s = tmp[5] ? (tmp[6] = lt_binary(LT_BINARY_ADD, s, tmp[5])) : NULL;
    }
  }
  lt_tensor *a = s ? (tmp[7] = lt_softmax(s, s->ndim - 1)) : NULL;
  if (a && dropout_p > 0) a = tmp[8] = lt_dropout(a, dropout_p, true);
  if (a) out = lt_matmul(a, v);
  lt_release_all(tmp, 10);
  return out;
}
