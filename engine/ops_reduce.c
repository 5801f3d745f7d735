/*
** ops_reduce.c - reduction front-ends (sum, mean, prod, max/min with
** indices, argmax/argmin, var/std, norm, logsumexp, any/all) and lt_sum_to,
** broadcasting's unbroadcast. Checks dims, picks result dtypes as PyTorch,
** dispatches to backend->reduce and records backward formulas built from the
** other front-ends. No kernels here; cumulative ops are not covered.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autocast.h"
#include "ops_util.h"

static const char *const reduce_names[LT_REDUCE_COUNT] = {
  "sum", "mean", "prod", "max", "min", "argmax", "argmin", "var", "std", "norm", "logsumexp",
  "any", "all"};
static const char *const reduce_nodes[LT_REDUCE_COUNT] = {
  "SumBackward", "MeanBackward", "ProdBackward", "MaxBackward", "MinBackward", "ArgmaxBackward",
  "ArgminBackward", "VarBackward", "StdBackward", "NormBackward", "LogsumexpBackward",
  "AnyBackward", "AllBackward"};

const char *lt_reduce_name(lt_reduce_op op) {
  return (unsigned)op < LT_REDUCE_COUNT ? reduce_names[op] : "?";
}

/* ---------------------------------------------------------------- helpers */

static int mask_to_dims(uint32_t mask, int ndim, int *dims) {
  int k = 0;
  for (int d = 0; d < ndim; d++)
    if (mask & (1u << d)) dims[k++] = d;
  return k;
}

/* shape with reduced dims set to 1 (keepdim) or removed */
static int reduced_shape(const int64_t *shape, int ndim, uint32_t mask, bool keepdim,
                         int64_t *out) {
  int k = 0;
  for (int d = 0; d < ndim; d++) {
    if (mask & (1u << d)) {
      if (keepdim) out[k++] = 1;
    } else {
      out[k++] = shape[d];
    }
  }
  return k;
}

/* A view of t (whose dims are the kept dims, or all dims when keepdim) with
** size-1 dims re-inserted at the reduced positions: shape `ndim` dims. */
static lt_tensor *keepdim_view(lt_tensor *t, int ndim, uint32_t mask) {
  int64_t sh[LT_MAX_DIMS] = {0}, st[LT_MAX_DIMS] = {0};
  if (t->ndim == ndim) {
    lt_tensor_retain(t);
    return t;
  }
  int k = 0;
  for (int d = 0; d < ndim; d++) {
    if (mask & (1u << d)) {
      sh[d] = 1;
      st[d] = 0;
    } else {
      sh[d] = t->shape[k];
      st[d] = t->stride[k++];
    }
  }
  return lt_tensor_view_of(t, sh, st, ndim, t->offset);
}

static lt_dtype reduce_out_dtype(lt_reduce_op op, lt_dtype dt) {
  switch (op) {
    case LT_REDUCE_SUM: case LT_REDUCE_PROD:
      return lt_dtype_is_float(dt) ? dt : LT_DTYPE_I64;
    case LT_REDUCE_MEAN: case LT_REDUCE_VAR: case LT_REDUCE_STD: case LT_REDUCE_NORM:
    case LT_REDUCE_LOGSUMEXP:
      return lt_dtype_is_float(dt) ? dt : lt_default_dtype();
    case LT_REDUCE_ARGMAX: case LT_REDUCE_ARGMIN:
      return LT_DTYPE_I64;
    case LT_REDUCE_ANY: case LT_REDUCE_ALL:
      return LT_DTYPE_BOOL;
    default:
      return dt;
  }
}

/* ---------------------------------------------------------------- backward */

/* i[0] = op, i[1] = mask, i[2] = keepdim, i[3] = dim (indices), i[4] = base,
** d[0] = param. saved: 0 = x (compute dtype), 1 = y, 2 = indices (keepdim). */
static lt_status reduce_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_reduce_op op = (lt_reduce_op)n->i[0];
  uint32_t mask = (uint32_t)n->i[1];
  const lt_meta *m = &n->meta[0];
  int nd = m->ndim;
  int dims[LT_MAX_DIMS];
  int ndims = mask_to_dims(mask, nd, dims);
  double p = n->d[0];
  int64_t count = 1;
  for (int k = 0; k < ndims; k++) count *= m->shape[dims[k]];
  lt_arena ar = {0};
#define K(expr) lt_keep(&ar, (expr))
#define BIN(o, x, z) ((x) && (z) ? K(lt_binary(o, x, z)) : NULL)
#define BSC(o, x, s) ((x) ? K(lt_binary_scalar(o, x, s, false)) : NULL)
#define UN(o, x) ((x) ? K(lt_unary(o, x)) : NULL)
#define RED(o, x, prm) ((x) ? K(lt_reduce(o, x, dims, ndims, true, prm, NULL, 0)) : NULL)
  lt_tensor *g = K(keepdim_view(gout[0], nd, mask));
  lt_tensor *x = NULL, *y = NULL, *r = NULL;
  bool wx = op != LT_REDUCE_SUM && op != LT_REDUCE_MEAN &&
            !((op == LT_REDUCE_MAX || op == LT_REDUCE_MIN) && n->i[3] >= 0);
  bool wy = op == LT_REDUCE_PROD || op == LT_REDUCE_STD || op == LT_REDUCE_NORM ||
            op == LT_REDUCE_LOGSUMEXP || ((op == LT_REDUCE_MAX || op == LT_REDUCE_MIN) &&
                                          n->i[3] < 0);
  if (wx && !(x = lt_node_saved(n, 0))) goto fail;
  if (wy) {
    lt_tensor *ys = lt_node_saved(n, 1);
    if (!ys || !(y = K(keepdim_view(ys, nd, mask)))) goto fail;
  }
  switch (op) {
    case LT_REDUCE_SUM:
      r = g;
      break;
    case LT_REDUCE_MEAN:
      r = BSC(LT_BINARY_DIV, g, (double)count);
      break;
    case LT_REDUCE_PROD: {
      /* prod of the others: y/x without zeros; with one zero only the zero's
      ** slot gets the product of the non-zeros; with two or more, nothing. */
      lt_tensor *xz = BSC(LT_BINARY_EQ, x, 0.0);
      lt_tensor *xm = xz ? K(lt_masked_fill(x, xz, 1.0)) : NULL;
      lt_tensor *zc = RED(LT_REDUCE_SUM, xz, 0);
      lt_tensor *pnz = RED(LT_REDUCE_PROD, xm, 0);
      lt_tensor *c0 = BSC(LT_BINARY_EQ, zc, 0.0);
      lt_tensor *c1 = BIN(LT_BINARY_LOGICAL_AND, xz, BSC(LT_BINARY_EQ, zc, 1.0));
      lt_tensor *zero = K(lt_scalar(0.0, g->dtype, m->device));
      lt_tensor *inner = c1 && pnz && zero ? K(lt_where(c1, pnz, zero)) : NULL;
      lt_tensor *t0 = BIN(LT_BINARY_DIV, pnz, xm);
      lt_tensor *w = c0 && t0 && inner ? K(lt_where(c0, t0, inner)) : NULL;
      r = BIN(LT_BINARY_MUL, g, w);
      break;
    }
    case LT_REDUCE_MAX:
    case LT_REDUCE_MIN:
      if (n->i[3] >= 0) {  /* one dim: scatter into the chosen positions */
        lt_tensor *idx = lt_node_saved(n, 2);
        if (!idx) goto fail;
        lt_tensor *z = K(lt_zeros(m->shape, nd, g->dtype, m->device));
        r = z ? K(lt_scatter(z, (int)n->i[3], idx, g, 0.0, NULL, n->i[4])) : NULL;
      } else {  /* ties share the gradient evenly */
        lt_tensor *eq = K(lt_cast_nograd(BIN(LT_BINARY_EQ, x, y), g->dtype));
        lt_tensor *cnt = RED(LT_REDUCE_SUM, eq, 0);
        r = BIN(LT_BINARY_MUL, BIN(LT_BINARY_DIV, g, cnt), eq);
      }
      break;
    case LT_REDUCE_VAR:
    case LT_REDUCE_STD: {
      double den = (double)count - p;
      lt_tensor *xc = BIN(LT_BINARY_SUB, x, RED(LT_REDUCE_MEAN, x, 0));
      if (op == LT_REDUCE_VAR) {
        r = BIN(LT_BINARY_MUL, BSC(LT_BINARY_MUL, g, 2.0 / den), xc);
      } else {
        lt_tensor *gs = BIN(LT_BINARY_DIV, g, BSC(LT_BINARY_MUL, y, den));
        lt_tensor *yz = BSC(LT_BINARY_EQ, y, 0.0);
        gs = gs && yz ? K(lt_masked_fill(gs, yz, 0.0)) : NULL;
        r = BIN(LT_BINARY_MUL, gs, xc);
      }
      break;
    }
    case LT_REDUCE_NORM: {
      lt_tensor *yz = BSC(LT_BINARY_EQ, y, 0.0);
      if (p == 0) {
        r = K(lt_zeros(m->shape, nd, g->dtype, m->device));
      } else if (p == 1) {
        r = BIN(LT_BINARY_MUL, g, UN(LT_UNARY_SIGN, x));
      } else if (isinf(p)) {
        lt_tensor *ax = UN(LT_UNARY_ABS, x);
        lt_tensor *eq = K(lt_cast_nograd(BIN(LT_BINARY_EQ, ax, y), g->dtype));
        lt_tensor *cnt = RED(LT_REDUCE_SUM, eq, 0);
        r = BIN(LT_BINARY_MUL, BIN(LT_BINARY_MUL, BIN(LT_BINARY_DIV, g, cnt), eq),
                UN(LT_UNARY_SIGN, x));
      } else {
        /* d|x|_p / dx = x |x|^(p-2) / |x|_p^(p-1) */
        lt_tensor *s = p == 2 ? BIN(LT_BINARY_DIV, g, y)
                              : BIN(LT_BINARY_DIV, g, K(lt_unary_p(LT_UNARY_POW_SCALAR, y, p - 1, NAN)));
        s = s && yz ? K(lt_masked_fill(s, yz, 0.0)) : NULL;
        lt_tensor *xp = p == 2 ? x
                               : BIN(LT_BINARY_MUL, x,
                                     K(lt_unary_p(LT_UNARY_POW_SCALAR, UN(LT_UNARY_ABS, x), p - 2, NAN)));
        r = BIN(LT_BINARY_MUL, s, xp);
      }
      break;
    }
    case LT_REDUCE_LOGSUMEXP:
      r = BIN(LT_BINARY_MUL, g, UN(LT_UNARY_EXP, BIN(LT_BINARY_SUB, x, y)));
      break;
    default:
      lt_arena_done(&ar);
      return lt_error(LT_ERR_AUTOGRAD, "%s: not differentiable", reduce_names[op]);
  }
#undef K
#undef BIN
#undef BSC
#undef UN
#undef RED
  if (!r || ar.failed) goto fail;
  {
    lt_tensor *e = lt_expand(r, m->shape, nd);
    lt_tensor *c = e ? lt_contiguous(e) : NULL;
    lt_tensor_release(e);
    if (!c || !(gin[0] = lt_grad_for_input(n, 0, c))) goto fail;
  }
  lt_arena_done(&ar);
  return LT_OK;
fail:
  lt_arena_done(&ar);
  return lt_errcode() ? lt_errcode() : LT_ERR_AUTOGRAD;
}

/* ---------------------------------------------------------------- forward */

lt_tensor *lt_reduce(lt_reduce_op op, lt_tensor *a, const int *dims, int ndims, bool keepdim,
                     double param, lt_tensor **indices, int64_t index_base) {
  if (indices) *indices = NULL;
  if ((unsigned)op >= LT_REDUCE_COUNT) {
    lt_error(LT_ERR_ARG, "reduce: unknown op %d", (int)op);
    return NULL;
  }
  const char *name = reduce_names[op];
  if (op <= LT_REDUCE_PROD || (op >= LT_REDUCE_VAR && op <= LT_REDUCE_LOGSUMEXP)) {
    lt_tensor *ac;  /* autocast: arithmetic reductions of bf16/f16 run in float32 */
    int cast = lt_autocast_args(LT_AUTOCAST_F32, &a, &ac, 1);
    if (cast) {
      lt_tensor *r = cast > 0 ? lt_reduce(op, ac, dims, ndims, keepdim, param, indices,
                                          index_base)
                              : NULL;
      lt_tensor_release(ac);
      return r;
    }
  }
  if (a->ndim == 0) {  /* a scalar reduces like a 1-element vector over dim 0 */
    for (int k = 0; k < ndims; k++)
      if (dims[k] != 0 && dims[k] != -1) {
        lt_error(LT_ERR_INDEX, "%s: dimension %d out of range for a tensor of 0 dimensions",
                 name, dims[k]);
        return NULL;
      }
    int64_t one = 1;
    int d0 = 0;
    lt_tensor *v = lt_reshape(a, &one, 1);
    if (!v) return NULL;
    lt_tensor *out = lt_reduce(op, v, &d0, 1, false, param, indices, index_base);
    lt_tensor_release(v);
    return out;
  }
  int nd = a->ndim;
  uint32_t mask = 0;
  for (int k = 0; k < ndims; k++) {
    int d = dims[k];
    if (lt_norm_dim(name, &d, nd)) return NULL;
    if (mask & (1u << d)) {
      lt_error(LT_ERR_ARG, "%s: dim %d appears multiple times in the list of dims", name, d + 1);
      return NULL;
    }
    mask |= 1u << d;
  }
  bool all = ndims == 0;
  if (all) mask = (nd >= 32 ? 0xffffffffu : ((1u << nd) - 1));
  bool is_arg = op == LT_REDUCE_ARGMAX || op == LT_REDUCE_ARGMIN;
  bool is_mm = op == LT_REDUCE_MAX || op == LT_REDUCE_MIN;
  if (is_arg && ndims > 1) {
    lt_error(LT_ERR_ARG, "%s: expected one dim or none, got %d dims", name, ndims);
    return NULL;
  }
  if (is_arg || is_mm) {
    for (int d = 0; d < nd; d++)
      if ((mask & (1u << d)) && a->shape[d] == 0) {
        lt_error(LT_ERR_INDEX,
                 "%s: expected reduction dim %d to have non-zero size (cannot reduce an empty "
                 "dimension)", name, d + 1);
        return NULL;
      }
    if (is_mm && a->dtype == LT_DTYPE_BOOL) {
      lt_error(LT_ERR_DTYPE, "%s: not supported for bool tensors", name);
      return NULL;
    }
  }
  int one_dim = ndims == 1 ? (int)__builtin_ctz(mask) : -1;
  lt_dtype odt = reduce_out_dtype(op, a->dtype);
  lt_dtype cdt = op == LT_REDUCE_ANY || op == LT_REDUCE_ALL ? LT_DTYPE_BOOL
                 : is_arg || is_mm ? a->dtype : odt;
  bool rec = lt_dtype_is_float(odt) && !is_arg && op != LT_REDUCE_ANY && op != LT_REDUCE_ALL &&
             lt_any_requires_grad(&a, 1);
  bool want_idx = (is_mm && one_dim >= 0 && (indices || rec)) || is_arg;
  int64_t osh[LT_MAX_DIMS], ksh[LT_MAX_DIMS], kst[LT_MAX_DIMS];
  int ond = reduced_shape(a->shape, nd, mask, keepdim, osh);
  reduced_shape(a->shape, nd, mask, true, ksh);
  for (int d = nd - 1, s = 1; d >= 0; d--) {
    kst[d] = s;
    s *= (int)(ksh[d] ? ksh[d] : 1);
  }
  const lt_backend *be = lt_backend_of(name, a);
  if (!be) return NULL;
  if (!be->reduce) {
    lt_err_not_impl(name, lt_tensor_device(a));
    return NULL;
  }
  lt_tensor *x = lt_cast_nograd(a, cdt), *out = NULL, *idx = NULL, *vals = NULL;
  if (!x) return NULL;
  lt_dtype vdt = is_arg ? a->dtype : odt;
  vals = lt_tensor_alloc(osh, ond, vdt, lt_tensor_device(a));
  if (!vals) goto fail;
  if (want_idx && !(idx = lt_tensor_alloc(osh, ond, LT_DTYPE_I64, lt_tensor_device(a)))) goto fail;
  {
    lt_view ov = lt_view_of(vals), iv = lt_view_of(x), xv;
    ov.ndim = nd;
    for (int d = 0; d < nd; d++) { ov.shape[d] = ksh[d]; ov.stride[d] = kst[d]; }
    if (idx) {
      xv = ov;
      xv.data = lt_tensor_data(idx);
      xv.dtype = LT_DTYPE_I64;
    }
    lt_status st = lt_numel(vals) == 0 ? LT_OK
                                       : be->reduce(op, &ov, idx ? &xv : NULL, &iv, mask, param,
                                                    index_base);
    if (st) goto fail;
  }
  if (is_arg) {
    out = idx;
    idx = NULL;
    lt_tensor_release(vals);
    vals = NULL;
  } else {
    out = vals;
    vals = NULL;
  }
  if (rec) {
    lt_node *n = lt_record(reduce_nodes[op], reduce_backward, &a, 1, out);
    if (!n) goto fail;
    n->i[0] = op;
    n->i[1] = mask;
    n->i[2] = keepdim;
    n->i[3] = is_mm ? one_dim : -1;
    n->i[4] = index_base;
    n->d[0] = param;
    if (op != LT_REDUCE_SUM && op != LT_REDUCE_MEAN && !(is_mm && one_dim >= 0))
      lt_node_save(n, 0, x);
    lt_node_save(n, 1, out);
    if (is_mm && one_dim >= 0) {
      lt_tensor *ik = keepdim_view(idx, nd, mask);
      if (!ik) goto fail;
      lt_node_save(n, 2, ik);
      lt_tensor_release(ik);
    }
  }
  if (indices && is_mm && one_dim >= 0) {
    *indices = idx;
    idx = NULL;
  }
  lt_tensor_release(idx);
  lt_tensor_release(x);
  return out;
fail:
  lt_release_all((lt_tensor *[]){x, out, idx, vals}, 4);
  return NULL;
}

/* ---------------------------------------------------------------- sum_to */

lt_tensor *lt_sum_to(lt_tensor *a, const int64_t *shape, int ndim) {
  char b1[128], b2[128];
  if (ndim > a->ndim) goto bad;
  int lead = a->ndim - ndim, dims[LT_MAX_DIMS], k = 0;
  for (int d = 0; d < a->ndim; d++) {
    if (d < lead) {
      dims[k++] = d;
      continue;
    }
    int64_t want = shape[d - lead];
    if (want == a->shape[d]) continue;
    if (want != 1) goto bad;
    dims[k++] = d;
  }
  if (k == 0) {
    lt_tensor_retain(a);
    return a;
  }
  lt_tensor *s = lt_reduce(LT_REDUCE_SUM, a, dims, k, true, 0, NULL, 0);
  if (!s) return NULL;
  lt_tensor *out = lt_reshape(s, shape, ndim);
  lt_tensor_release(s);
  return out;
bad:
  lt_error(LT_ERR_SHAPE, "sum_to: shape %s cannot be summed to %s", lt_shape_str(a, b1),
           lt_shape_str_raw(shape, ndim, b2));
  return NULL;
}
