/*
** ops_sort.c - front-ends of the sort family (sort, topk, kthvalue, median,
** median of all elements) and the scans (cumsum, cumprod): check dims and
** k, move the dim last into contiguous rows for backend->sort_rows /
** backend->cumulative, shape the results back and record autograd (values
** scatter their gradient to the chosen positions; scans reverse-scan).
** No kernels here; no in-place or out= variants, no dtype= option.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops_util.h"

enum { ST_SORT, ST_TOPK, ST_KTH, ST_MEDIAN };
static const char *const st_names[] = {"sort", "topk", "kthvalue", "median"};
static const char *const st_nodes[] = {"SortBackward", "TopkBackward", "KthvalueBackward",
                                       "MedianBackward"};

/* Contiguous strides of shape. */
static void st_contig_strides(const int64_t *shape, int nd, int64_t *stride) {
  int64_t s = 1;
  for (int d = nd - 1; d >= 0; d--) {
    stride[d] = s;
    s *= shape[d] ? shape[d] : 1;
  }
}

/* A view of contiguous t with a new shape of the same numel (no autograd). */
static lt_tensor *st_reshape_raw(lt_tensor *t, const int64_t *shape, int nd) {
  int64_t st[LT_MAX_DIMS];
  st_contig_strides(shape, nd, st);
  return lt_tensor_view_of(t, shape, st, nd, t->offset);
}

/* a with `dim` moved last, as contiguous (rows, n). Grad mode is off. */
static lt_tensor *st_to_rows(lt_tensor *a, int dim, int64_t *rows) {
  int nd = a->ndim, k = 0;
  int64_t sh[LT_MAX_DIMS], st[LT_MAX_DIMS];
  *rows = 1;
  for (int d = 0; d < nd; d++)
    if (d != dim) {
      sh[k] = a->shape[d];
      st[k++] = a->stride[d];
      *rows *= a->shape[d];
    }
  sh[k] = a->shape[dim];
  st[k] = a->stride[dim];
  lt_tensor *v = lt_tensor_view_of(a, sh, st, nd, a->offset);
  if (!v) return NULL;
  lt_tensor *c = lt_contiguous(v);
  lt_tensor_release(v);
  if (!c) return NULL;
  int64_t two[2] = {*rows, a->shape[dim]};
  lt_tensor *r = st_reshape_raw(c, two, 2);
  lt_tensor_release(c);
  return r;
}

/* (rows, k) contiguous -> a's shape with dim of size k, contiguous. */
static lt_tensor *st_from_rows(lt_tensor *t, const lt_tensor *a, int dim, int64_t k) {
  int nd = a->ndim, j = 0;
  int64_t psh[LT_MAX_DIMS], pst[LT_MAX_DIMS], sh[LT_MAX_DIMS], st[LT_MAX_DIMS];
  for (int d = 0; d < nd; d++)
    if (d != dim) psh[j++] = a->shape[d];
  psh[j] = k;
  st_contig_strides(psh, nd, pst);
  for (int d = 0; d < nd; d++) {
    sh[d] = d == dim ? k : a->shape[d];
    st[d] = d == dim ? pst[nd - 1] : pst[d < dim ? d : d - 1];
  }
  lt_tensor *v = lt_tensor_view_of(t, sh, st, nd, t->offset);
  if (!v) return NULL;
  lt_tensor *c = lt_contiguous(v);
  lt_tensor_release(v);
  return c;
}

/* Runs the kernel on contiguous rows: values/indices (rows, k), or
** (rows, 1) holding the k-th alone when kth_only. */
static lt_status st_rows_sort(const lt_backend *be, lt_tensor *xr, int64_t rows, int64_t n,
                              int64_t k, bool desc, bool kth_only, int64_t base, lt_tensor **v,
                              lt_tensor **i) {
  int64_t sh[2] = {rows, kth_only ? 1 : k};
  *v = lt_tensor_alloc(sh, 2, xr->dtype, lt_tensor_device(xr));
  *i = *v ? lt_tensor_alloc(sh, 2, LT_DTYPE_I64, lt_tensor_device(xr)) : NULL;
  if (!*v || !*i) {
    lt_release_all((lt_tensor *[]){*v, *i}, 2);
    *v = *i = NULL;
    return lt_errcode() ? lt_errcode() : LT_ERR_MEMORY;
  }
  if (rows * k == 0) return LT_OK;
  lt_status s = be->sort_rows(lt_tensor_data(*v), (int64_t *)lt_tensor_data(*i),
                              lt_tensor_data(xr), xr->dtype, rows, n, k, desc, kth_only, base);
  if (s) {
    lt_release_all((lt_tensor *[]){*v, *i}, 2);
    *v = *i = NULL;
  }
  return s;
}

/* ---------------------------------------------------------------- backward */

/* i[0] = dim, i[1] = base, i[2] = 1 when the dim was squeezed away;
** saved 0 = indices with the dim kept. */
static lt_status select_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  if (!lt_node_needs_grad(n, 0)) return LT_OK;
  lt_tensor *idx = lt_node_saved(n, 0);
  if (!idx) return lt_errcode();
  const lt_meta *m = &n->meta[0];
  lt_tensor *g = n->i[2] ? lt_reshape(gout[0], idx->shape, idx->ndim) : lt_ref(gout[0]);
  lt_tensor *z = g ? lt_zeros(m->shape, m->ndim, g->dtype, m->device) : NULL;
  lt_tensor *r = NULL;
  if (z) r = lt_numel(idx) == 0 ? lt_ref(z) : lt_scatter(z, (int)n->i[0], idx, g, 0.0, NULL, n->i[1]);
  lt_tensor_release(z);
  lt_tensor_release(g);
  if (!r || !(gin[0] = lt_grad_for_input(n, 0, r))) return lt_errcode() ? lt_errcode() : LT_ERR_AUTOGRAD;
  return LT_OK;
}

/* ---------------------------------------------------------------- sort family */

static lt_tensor *sort_family(int kind, lt_tensor *a, int64_t k, int dim, bool flag,
                              bool keepdim, lt_tensor **indices, int64_t base) {
  const char *op = st_names[kind];
  char b1[128];
  if (indices) *indices = NULL;
  if (a->ndim == 0) {  /* a scalar sorts like a 1-element vector */
    if (dim != 0 && dim != -1) {
      lt_error(LT_ERR_INDEX, "%s: dimension %d out of range for a tensor of 0 dimensions", op,
               dim + 1);
      return NULL;
    }
    int64_t one = 1;
    lt_tensor *v = lt_reshape(a, &one, 1), *ix = NULL;
    if (!v) return NULL;
    lt_tensor *r = sort_family(kind, v, k, 0, flag, keepdim, &ix, base);
    lt_tensor_release(v);
    if (!r) return NULL;
    if (r->ndim == 1 && r->shape[0] == 1) {  /* back to 0-d */
      int64_t none[1] = {1};
      lt_tensor *r0 = lt_reshape(r, none, 0), *i0 = lt_reshape(ix, none, 0);
      lt_release_all((lt_tensor *[]){r, ix}, 2);
      if (!r0 || !i0) {
        lt_release_all((lt_tensor *[]){r0, i0}, 2);
        return NULL;
      }
      r = r0;
      ix = i0;
    }
    if (indices) *indices = ix;
    else lt_tensor_release(ix);
    return r;
  }
  if (lt_norm_dim(op, &dim, a->ndim)) return NULL;
  int64_t n = a->shape[dim];
  switch (kind) {
    case ST_SORT: k = n; break;
    case ST_TOPK:
      if (k < 0 || k > n) {
        lt_error(LT_ERR_INDEX, "topk: k (%lld) out of range for dimension %d of size %lld "
                 "(shape %s)", (long long)k, dim + 1, (long long)n, lt_shape_str(a, b1));
        return NULL;
      }
      break;
    case ST_KTH:
      if (k < 1 || k > n) {
        lt_error(LT_ERR_INDEX, "kthvalue: k (%lld) out of range for dimension %d of size %lld "
                 "(shape %s); expected 1 <= k <= %lld", (long long)k, dim + 1, (long long)n,
                 lt_shape_str(a, b1), (long long)n);
        return NULL;
      }
      break;
    default:
      if (n == 0) {
        lt_error(LT_ERR_INDEX, "median: expected reduction dimension %d to have non-zero size "
                 "(shape %s)", dim + 1, lt_shape_str(a, b1));
        return NULL;
      }
      k = (n + 1) / 2;
      break;
  }
  const lt_backend *be = lt_backend_of(op, a);
  if (!be) return NULL;
  if (!be->sort_rows) {
    lt_err_not_impl(op, lt_tensor_device(a));
    return NULL;
  }
  bool select = kind == ST_KTH || kind == ST_MEDIAN;
  bool desc = !select && flag;
  bool grad_mode = lt_grad_enabled();
  lt_set_grad_enabled(false);
  lt_tensor *xr = NULL, *v = NULL, *ix = NULL, *out = NULL, *oidx = NULL;
  int64_t rows;
  if (!(xr = st_to_rows(a, dim, &rows))) goto fail;
  if (st_rows_sort(be, xr, rows, n, k, desc, select, base, &v, &ix)) goto fail;
  if (!select) {
    out = st_from_rows(v, a, dim, k);
    oidx = out ? st_from_rows(ix, a, dim, k) : NULL;
    if (!out || !oidx) goto fail;
  } else {
    if (kind == ST_MEDIAN && lt_dtype_is_float(a->dtype) && rows > 0) {
      /* a NaN in the row makes the median NaN, at the first NaN */
      lt_tensor *nv = NULL, *ni = NULL, *isn = NULL, *has = NULL, *w1 = NULL, *w2 = NULL;
      int last = 1;
      bool ok = st_rows_sort(be, xr, rows, n, 1, true, false, base, &nv, &ni) == LT_OK;
      if (ok) {
        isn = lt_unary(LT_UNARY_ISNAN, xr);
        has = isn ? lt_reduce(LT_REDUCE_ANY, isn, &last, 1, true, 0, NULL, 0) : NULL;
        w1 = has ? lt_where(has, nv, v) : NULL;
        w2 = w1 ? lt_where(has, ni, ix) : NULL;
      }
      lt_release_all((lt_tensor *[]){nv, ni, isn, has}, 4);
      if (!w1 || !w2) {
        lt_release_all((lt_tensor *[]){w1, w2}, 2);
        goto fail;
      }
      lt_release_all((lt_tensor *[]){v, ix}, 2);
      v = w1;
      ix = w2;
    }
    int64_t sh[LT_MAX_DIMS];
    int j = 0;
    for (int d = 0; d < a->ndim; d++) {
      if (d != dim) sh[j++] = a->shape[d];
      else if (keepdim) sh[j++] = 1;
    }
    out = st_reshape_raw(v, sh, j);
    oidx = out ? st_reshape_raw(ix, sh, j) : NULL;
    if (!out || !oidx) goto fail;
  }
  lt_release_all((lt_tensor *[]){xr, v, ix}, 3);
  lt_set_grad_enabled(grad_mode);
  if (lt_dtype_is_float(a->dtype) && lt_any_requires_grad(&a, 1)) {
    lt_node *nd = lt_record(st_nodes[kind], select_backward, &a, 1, out);
    if (!nd) goto fail_rec;
    nd->i[0] = dim;
    nd->i[1] = base;
    nd->i[2] = select && !keepdim;
    lt_tensor *ik = oidx;
    if (select && !keepdim) {
      int64_t sh[LT_MAX_DIMS];
      for (int d = 0; d < a->ndim; d++) sh[d] = d == dim ? 1 : a->shape[d];
      if (!(ik = st_reshape_raw(oidx, sh, a->ndim))) goto fail_rec;
    } else {
      lt_tensor_retain(ik);
    }
    lt_node_save(nd, 0, ik);
    lt_tensor_release(ik);
  }
  if (indices) *indices = oidx;
  else lt_tensor_release(oidx);
  return out;
fail:
  lt_set_grad_enabled(grad_mode);
  lt_release_all((lt_tensor *[]){xr, v, ix}, 3);
fail_rec:
  lt_release_all((lt_tensor *[]){out, oidx}, 2);
  return NULL;
}

lt_tensor *lt_sort(lt_tensor *a, int dim, bool descending, lt_tensor **indices, int64_t base) {
  return sort_family(ST_SORT, a, 0, dim, descending, false, indices, base);
}

lt_tensor *lt_topk(lt_tensor *a, int64_t k, int dim, bool largest, lt_tensor **indices,
                   int64_t base) {
  return sort_family(ST_TOPK, a, k, dim, largest, false, indices, base);
}

lt_tensor *lt_kthvalue(lt_tensor *a, int64_t k, int dim, bool keepdim, lt_tensor **indices,
                       int64_t base) {
  return sort_family(ST_KTH, a, k, dim, false, keepdim, indices, base);
}

lt_tensor *lt_median(lt_tensor *a, int dim, bool keepdim, lt_tensor **indices, int64_t base) {
  return sort_family(ST_MEDIAN, a, 0, dim, false, keepdim, indices, base);
}

/* ---------------------------------------------------------------- median of all */

/* saved 0 = x, 1 = the median (0-d): the gradient is shared evenly by the
** elements equal to it (NaN counts as equal to a NaN median), as PyTorch. */
static lt_status median_all_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  if (!lt_node_needs_grad(n, 0)) return LT_OK;
  lt_tensor *x = lt_node_saved(n, 0), *y = x ? lt_node_saved(n, 1) : NULL;
  if (!y) return lt_errcode();
  lt_arena ar = {0};
#define K(e) lt_keep(&ar, (e))
  lt_tensor *eq = K(lt_binary(LT_BINARY_EQ, x, y));
  lt_tensor *xn = K(lt_unary(LT_UNARY_ISNAN, x)), *yn = K(lt_unary(LT_UNARY_ISNAN, y));
  lt_tensor *bn = xn && yn ? K(lt_binary(LT_BINARY_LOGICAL_AND, xn, yn)) : NULL;
  lt_tensor *mk = eq && bn ? K(lt_binary(LT_BINARY_LOGICAL_OR, eq, bn)) : NULL;
  lt_tensor *mf = mk ? K(lt_cast_nograd(mk, gout[0]->dtype)) : NULL;
  lt_tensor *cnt = mf ? K(lt_reduce(LT_REDUCE_SUM, mf, NULL, 0, false, 0, NULL, 0)) : NULL;
  lt_tensor *gs = cnt ? K(lt_binary(LT_BINARY_DIV, gout[0], cnt)) : NULL;
  lt_tensor *r = gs ? lt_binary(LT_BINARY_MUL, mf, gs) : NULL;
#undef K
  lt_arena_done(&ar);
  if (!r || !(gin[0] = lt_grad_for_input(n, 0, r))) return lt_errcode() ? lt_errcode() : LT_ERR_AUTOGRAD;
  return LT_OK;
}

lt_tensor *lt_median_all(lt_tensor *a) {
  int64_t numel = lt_numel(a);
  if (numel == 0) {
    if (lt_dtype_is_float(a->dtype)) return lt_scalar(NAN, a->dtype, lt_tensor_device(a));
    lt_error(LT_ERR_INDEX, "median: cannot take the median of an empty %s tensor",
             lt_dtype_name(a->dtype));
    return NULL;
  }
  bool grad_mode = lt_grad_enabled();
  lt_set_grad_enabled(false);
  lt_tensor *flat = lt_reshape(a, &numel, 1);
  lt_tensor *out = flat ? lt_median(flat, 0, false, NULL, 0) : NULL;
  lt_tensor_release(flat);
  lt_set_grad_enabled(grad_mode);
  if (!out) return NULL;
  if (lt_dtype_is_float(a->dtype) && lt_any_requires_grad(&a, 1)) {
    lt_node *nd = lt_record("MedianBackward", median_all_backward, &a, 1, out);
    if (!nd) {
      lt_tensor_release(out);
      return NULL;
    }
    lt_node_save(nd, 0, a);
    lt_tensor *y = lt_detach(out);
    if (!y) {
      lt_tensor_release(out);
      return NULL;
    }
    lt_node_save(nd, 1, y);
    lt_tensor_release(y);
  }
  return out;
}

/* ---------------------------------------------------------------- scans */

static lt_tensor *cum_impl(const char *op, lt_tensor *a, int dim, bool prod, bool reverse,
                           bool record);

/* i[0] = dim, i[1] = reverse; cumprod saves 0 = x, 1 = y. */
static lt_status cumsum_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  if (!lt_node_needs_grad(n, 0)) return LT_OK;
  lt_tensor *r = cum_impl("cumsum", gout[0], (int)n->i[0], false, !n->i[1], false);
  if (!r || !(gin[0] = lt_grad_for_input(n, 0, r))) return lt_errcode() ? lt_errcode() : LT_ERR_AUTOGRAD;
  return LT_OK;
}

/* d y_j / d x_k = prod_{i <= j, i != k} x_i. Positions before a row's first
** zero: revcumsum(g * y) / x. The first zero z: revcumsum(g * y') where y'
** is the cumprod with x_z replaced by 1. After z: 0. */
static lt_status cumprod_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  if (!lt_node_needs_grad(n, 0)) return LT_OK;
  lt_tensor *x = lt_node_saved(n, 0), *y = x ? lt_node_saved(n, 1) : NULL;
  if (!y) return lt_errcode();
  int dim = (int)n->i[0];
  bool rev = n->i[1];
  lt_tensor *g = gout[0];
  lt_arena ar = {0};
#define K(e) lt_keep(&ar, (e))
#define CUM(t, p, r) ((t) ? K(cum_impl("cumprod", (t), dim, (p), (r), false)) : NULL)
#define BIN(o, p, q) ((p) && (q) ? K(lt_binary(o, p, q)) : NULL)
  lt_tensor *iz = K(lt_binary_scalar(LT_BINARY_EQ, x, 0.0, false));
  lt_tensor *cz = CUM(iz, false, rev);
  lt_tensor *before = cz ? K(lt_binary_scalar(LT_BINARY_EQ, cz, 0.0, false)) : NULL;
  lt_tensor *one = cz ? K(lt_binary_scalar(LT_BINARY_EQ, cz, 1.0, false)) : NULL;
  lt_tensor *fz = BIN(LT_BINARY_LOGICAL_AND, iz, one);
  lt_tensor *x1 = fz ? K(lt_masked_fill(x, fz, 1.0)) : NULL;
  lt_tensor *y1 = CUM(x1, true, rev);
  lt_tensor *ga = CUM(BIN(LT_BINARY_MUL, g, y1), false, !rev);
  lt_tensor *nb = before ? K(lt_unary(LT_UNARY_LOGICAL_NOT, before)) : NULL;
  lt_tensor *xb = nb ? K(lt_masked_fill(x, nb, 1.0)) : NULL;
  lt_tensor *gb = BIN(LT_BINARY_DIV, CUM(BIN(LT_BINARY_MUL, g, y), false, !rev), xb);
  lt_tensor *nfz = fz ? K(lt_unary(LT_UNARY_LOGICAL_NOT, fz)) : NULL;
  lt_tensor *gz = ga && nfz ? K(lt_masked_fill(ga, nfz, 0.0)) : NULL;
  lt_tensor *r = before && gb && gz ? lt_where(before, gb, gz) : NULL;
#undef K
#undef CUM
#undef BIN
  lt_arena_done(&ar);
  if (!r || !(gin[0] = lt_grad_for_input(n, 0, r))) return lt_errcode() ? lt_errcode() : LT_ERR_AUTOGRAD;
  return LT_OK;
}

static lt_tensor *cum_impl(const char *op, lt_tensor *a, int dim, bool prod, bool reverse,
                           bool record) {
  int nd = a->ndim;
  int64_t outer = 1, n = 1, inner = 1;
  if (nd == 0) {
    if (dim != 0 && dim != -1) {
      lt_error(LT_ERR_INDEX, "%s: dimension %d out of range for a tensor of 0 dimensions", op,
               dim + 1);
      return NULL;
    }
    dim = 0;
  } else {
    if (lt_norm_dim(op, &dim, nd)) return NULL;
    for (int d = 0; d < dim; d++) outer *= a->shape[d];
    n = a->shape[dim];
    for (int d = dim + 1; d < nd; d++) inner *= a->shape[d];
  }
  lt_dtype odt = lt_dtype_is_float(a->dtype) ? a->dtype : LT_DTYPE_I64;
  const lt_backend *be = lt_backend_of(op, a);
  if (!be) return NULL;
  if (!be->cumulative) {
    lt_err_not_impl(op, lt_tensor_device(a));
    return NULL;
  }
  bool grad_mode = lt_grad_enabled();
  lt_set_grad_enabled(false);
  lt_tensor *xc = lt_cast_nograd(a, odt);
  lt_tensor *x = xc ? lt_contiguous(xc) : NULL;
  lt_tensor *out = x ? lt_tensor_alloc(a->shape, nd, odt, lt_tensor_device(a)) : NULL;
  lt_set_grad_enabled(grad_mode);
  lt_tensor_release(xc);
  if (!out) goto fail;
  if (lt_numel(out) > 0 && be->cumulative(lt_tensor_data(out), lt_tensor_data(x), odt, outer, n,
                                          inner, prod, reverse))
    goto fail;
  if (record && lt_dtype_is_float(odt) && lt_any_requires_grad(&a, 1)) {
    lt_node *node = lt_record(prod ? "CumprodBackward" : "CumsumBackward",
                              prod ? cumprod_backward : cumsum_backward, &a, 1, out);
    if (!node) goto fail;
    node->i[0] = dim;
    node->i[1] = reverse;
    if (prod) {
      lt_node_save(node, 0, x);
      lt_tensor *y = lt_detach(out);
      if (!y) goto fail;
      lt_node_save(node, 1, y);
      lt_tensor_release(y);
    }
  }
  lt_tensor_release(x);
  return out;
fail:
  lt_release_all((lt_tensor *[]){x, out}, 2);
  return NULL;
}

lt_tensor *lt_cumsum(lt_tensor *a, int dim) { return cum_impl("cumsum", a, dim, false, false, true); }
lt_tensor *lt_cumprod(lt_tensor *a, int dim) { return cum_impl("cumprod", a, dim, true, false, true); }
