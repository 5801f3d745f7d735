/*
** ops_index.c - indexing and joining front-ends: index_select, gather,
** scatter (out-of-place and in place), index_add, cat, stack, one_hot, pad.
** Checks index dtype/shape/range (messages in the caller's index base),
** dispatches to the backend's index kernels and records backward nodes.
** Reflect/replicate padding is built from index_select (its adjoint is
** index_add); no kernels live here.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_util.h"

/* ---------------------------------------------------------------- helpers */

static lt_status check_index_tensor(const char *op, const lt_tensor *a, const lt_tensor *index) {
  if (index->dtype != LT_DTYPE_I64)
    return lt_error(LT_ERR_DTYPE, "%s: expected index to be an int64 tensor, got %s", op,
                    lt_dtype_name(index->dtype));
  return lt_check_same_device(op, a, "self", index, "index");
}

/* Range check through the backend; the message names op, dim and size. */
static lt_status check_range(const char *op, const lt_backend *be, lt_tensor *index, int dim,
                             int64_t size, int64_t base) {
  if (lt_numel(index) == 0) return LT_OK;
  if (!be->check_index) return lt_err_not_impl(op, lt_tensor_device(index));
  lt_view iv = lt_view_of(index);
  lt_status st = be->check_index(&iv, size, base, false, 0);
  if (st == LT_OK) return st;
  const char *msg = lt_errmsg(), *p = strstr(msg, "index ");
  long long bad;
  if (st == LT_ERR_INDEX && p && sscanf(p, "index %lld", &bad) == 1)
    return lt_error(LT_ERR_INDEX, "%s: index %lld is out of range for dim %lld with size %lld", op,
                    bad, (long long)dim + (long long)base, (long long)size);
  return lt_error(st, "%s: %s", op, msg);
}

/* A history-free copy of t in dtype dt (fresh storage, contiguous). */
static lt_tensor *fresh_copy(const lt_backend *be, lt_tensor *t, lt_dtype dt) {
  lt_tensor *c = lt_tensor_alloc(t->shape, t->ndim, dt, lt_tensor_device(t));
  if (!c || lt_numel(c) == 0) return c;
  lt_view cv = lt_view_of(c), tv = lt_view_of(t);
  if (be->copy(&cv, &tv)) {
    lt_tensor_release(c);
    return NULL;
  }
  return c;
}

/* The view of t restricted to the leading `shape` block (same strides). */
static lt_view block_view(const lt_tensor *t, const int64_t *shape, int ndim) {
  lt_view v = lt_view_of(t);
  for (int d = 0; d < ndim; d++) v.shape[d] = shape[d];
  return v;
}

/* ---------------------------------------------------------------- index_select */

/* saved: 0 = index. i[0] = dim, i[1] = base */
static lt_status index_select_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_tensor *index = lt_node_saved(n, 0);
  if (!index) return lt_errcode();
  const lt_meta *m = &n->meta[0];
  lt_tensor *z = lt_zeros(m->shape, m->ndim, gout[0]->dtype, m->device);
  if (!z) return lt_errcode();
  lt_tensor *r = lt_index_add(z, (int)n->i[0], index, gout[0], n->i[1]);
  lt_tensor_release(z);
  if (!r || !(gin[0] = lt_grad_for_input(n, 0, r))) return lt_errcode();
  return LT_OK;
}

lt_tensor *lt_index_select(lt_tensor *a, int dim, lt_tensor *index, int64_t base) {
  const char *op = "index_select";
  if (check_index_tensor(op, a, index)) return NULL;
  if (index->ndim > 1) {
    lt_error(LT_ERR_SHAPE, "index_select: index must be 0-D or 1-D, got %d-D", index->ndim);
    return NULL;
  }
  if (a->ndim == 0) {
    lt_error(LT_ERR_SHAPE, "index_select: cannot index a 0-dim tensor");
    return NULL;
  }
  if (lt_norm_dim(op, &dim, a->ndim)) return NULL;
  const lt_backend *be = lt_backend_of(op, a);
  if (!be || check_range(op, be, index, dim, a->shape[dim], base)) return NULL;
  if (!be->index_select) {
    lt_err_not_impl(op, lt_tensor_device(a));
    return NULL;
  }
  int64_t sh[LT_MAX_DIMS];
  memcpy(sh, a->shape, sizeof sh);
  sh[dim] = lt_numel(index);
  lt_tensor *out = lt_tensor_alloc(sh, a->ndim, a->dtype, lt_tensor_device(a));
  if (!out) return NULL;
  if (lt_numel(out)) {
    lt_view ov = lt_view_of(out), av = lt_view_of(a), iv = lt_view_of(index);
    if (be->index_select(&ov, &av, dim, &iv, base)) goto fail;
  }
  if (lt_dtype_is_float(a->dtype) && lt_any_requires_grad(&a, 1)) {
    lt_node *n = lt_record("IndexSelectBackward", index_select_backward, &a, 1, out);
    if (!n) goto fail;
    n->i[0] = dim;
    n->i[1] = base;
    lt_node_save(n, 0, index);
  }
  return out;
fail:
  lt_tensor_release(out);
  return NULL;
}

/* ---------------------------------------------------------------- index_add */

/* inputs a, src. saved: 0 = index. i[0] = dim, i[1] = base */
static lt_status index_add_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  if (lt_node_needs_grad(n, 0) && !(gin[0] = lt_grad_for_input(n, 0, lt_ref(gout[0]))))
    return lt_errcode();
  if (lt_node_needs_grad(n, 1)) {
    lt_tensor *index = lt_node_saved(n, 0);
    lt_tensor *r = index ? lt_index_select(gout[0], (int)n->i[0], index, n->i[1]) : NULL;
    if (!r || !(gin[1] = lt_grad_for_input(n, 1, r))) return lt_errcode();
  }
  return LT_OK;
}

lt_tensor *lt_index_add(lt_tensor *a, int dim, lt_tensor *index, lt_tensor *src, int64_t base) {
  const char *op = "index_add";
  char b1[128], b2[128];
  if (check_index_tensor(op, a, index) || lt_check_same_device(op, a, "self", src, "source"))
    return NULL;
  if (index->ndim > 1 || a->ndim == 0) {
    lt_error(LT_ERR_SHAPE, "index_add: index must be 0-D or 1-D and self at least 1-D");
    return NULL;
  }
  if (lt_norm_dim(op, &dim, a->ndim)) return NULL;
  bool ok = src->ndim == a->ndim;
  for (int d = 0; ok && d < a->ndim; d++)
    ok = src->shape[d] == (d == dim ? lt_numel(index) : a->shape[d]);
  if (!ok) {
    lt_error(LT_ERR_SHAPE,
             "index_add: source of shape %s does not match self of shape %s with %lld indices "
             "along dim %d",
             lt_shape_str(src, b1), lt_shape_str(a, b2), (long long)lt_numel(index), dim + 1);
    return NULL;
  }
  const lt_backend *be = lt_backend_of(op, a);
  if (!be || check_range(op, be, index, dim, a->shape[dim], base)) return NULL;
  if (!be->index_add) {
    lt_err_not_impl(op, lt_tensor_device(a));
    return NULL;
  }
  lt_tensor *sc = lt_cast_nograd(src, a->dtype), *out = sc ? fresh_copy(be, a, a->dtype) : NULL;
  if (!out) goto fail;
  if (lt_numel(sc)) {
    lt_view ov = lt_view_of(out), sv = lt_view_of(sc), iv = lt_view_of(index);
    if (be->index_add(&ov, dim, &iv, &sv, base)) goto fail;
  }
  lt_tensor *ins[2] = {a, src};
  if (lt_dtype_is_float(a->dtype) && lt_any_requires_grad(ins, 2)) {
    lt_node *n = lt_record("IndexAddBackward", index_add_backward, ins, 2, out);
    if (!n) goto fail;
    n->i[0] = dim;
    n->i[1] = base;
    lt_node_save(n, 0, index);
  }
  lt_tensor_release(sc);
  return out;
fail:
  lt_tensor_release(sc);
  lt_tensor_release(out);
  return NULL;
}

/* ---------------------------------------------------------------- gather */

/* saved: 0 = index. i[0] = dim, i[1] = base */
static lt_status gather_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_tensor *index = lt_node_saved(n, 0);
  if (!index) return lt_errcode();
  const lt_meta *m = &n->meta[0];
  lt_tensor *z = lt_zeros(m->shape, m->ndim, gout[0]->dtype, m->device);
  if (!z) return lt_errcode();
  lt_status st = lt_scatter_(z, (int)n->i[0], index, gout[0], 0.0, "add", n->i[1]);
  if (st) {
    lt_tensor_release(z);
    return st;
  }
  gin[0] = lt_grad_for_input(n, 0, z);
  return gin[0] ? LT_OK : lt_errcode();
}

lt_tensor *lt_gather(lt_tensor *a, int dim, lt_tensor *index, int64_t base) {
  const char *op = "gather";
  char b1[128], b2[128];
  if (check_index_tensor(op, a, index)) return NULL;
  int nd = a->ndim ? a->ndim : 1;
  if (lt_norm_dim(op, &dim, nd)) return NULL;
  bool ok = index->ndim == a->ndim;
  for (int d = 0; ok && d < a->ndim; d++)
    ok = d == dim || index->shape[d] <= a->shape[d];
  if (!ok) {
    lt_error(LT_ERR_SHAPE,
             "gather: index of shape %s must have self's number of dims and not exceed self's "
             "shape %s outside dim %d",
             lt_shape_str(index, b1), lt_shape_str(a, b2), dim + 1);
    return NULL;
  }
  const lt_backend *be = lt_backend_of(op, a);
  if (!be || check_range(op, be, index, dim, a->ndim ? a->shape[dim] : 1, base)) return NULL;
  if (!be->gather) {
    lt_err_not_impl(op, lt_tensor_device(a));
    return NULL;
  }
  lt_tensor *out = lt_tensor_alloc(index->shape, index->ndim, a->dtype, lt_tensor_device(a));
  if (!out) return NULL;
  if (lt_numel(out)) {
    lt_view ov = lt_view_of(out), av = lt_view_of(a), iv = lt_view_of(index);
    if (be->gather(&ov, &av, dim, &iv, base)) goto fail;
  }
  if (lt_dtype_is_float(a->dtype) && lt_any_requires_grad(&a, 1)) {
    lt_node *n = lt_record("GatherBackward", gather_backward, &a, 1, out);
    if (!n) goto fail;
    n->i[0] = dim;
    n->i[1] = base;
    lt_node_save(n, 0, index);
  }
  return out;
fail:
  lt_tensor_release(out);
  return NULL;
}

/* ---------------------------------------------------------------- scatter */

/* inputs a, src (may be NULL). saved: 0 = index. i[0] = dim, i[1] = base,
** i[2] = accumulate */
static lt_status scatter_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_tensor *index = lt_node_saved(n, 0), *g = gout[0];
  if (!index) return lt_errcode();
  int dim = (int)n->i[0];
  if (lt_node_needs_grad(n, 0)) {  /* replaced positions get no gradient */
    lt_tensor *r = n->i[2] ? lt_ref(g) : lt_scatter(g, dim, index, NULL, 0.0, NULL, n->i[1]);
    if (!r || !(gin[0] = lt_grad_for_input(n, 0, r))) return lt_errcode();
  }
  if (n->n_inputs > 1 && lt_node_needs_grad(n, 1)) {
    lt_tensor *r = lt_gather(g, dim, index, n->i[1]);
    if (!r) return lt_errcode();
    const lt_meta *m = &n->meta[1];
    if (!lt_shape_eq(r->shape, r->ndim, m->shape, m->ndim)) {  /* src larger than index */
      lt_tensor *z = lt_zeros(m->shape, m->ndim, r->dtype, m->device);
      const lt_backend *be = z ? lt_backend_of("scatter", z) : NULL;
      lt_view zv = z ? block_view(z, r->shape, r->ndim) : (lt_view){0}, rv = lt_view_of(r);
      lt_status st = !be ? lt_errcode() : lt_numel(r) ? be->copy(&zv, &rv) : LT_OK;
      lt_tensor_release(r);
      if (st) {
        lt_tensor_release(z);
        return st;
      }
      r = z;
    }
    if (!(gin[1] = lt_grad_for_input(n, 1, r))) return lt_errcode();
  }
  return LT_OK;
}

/* Checks shapes and options; writes into out (a copy of a, or a itself). */
static lt_status scatter_checks(const char *op, lt_tensor *a, int *dim, lt_tensor *index,
                                lt_tensor *src, const char *reduce, bool *accumulate) {
  char b1[128], b2[128];
  if (reduce && strcmp(reduce, "add") != 0)
    return lt_error(LT_ERR_ARG, "%s: reduce must be \"add\" or none, got \"%s\"", op, reduce);
  *accumulate = reduce != NULL;
  if (check_index_tensor(op, a, index)) return lt_errcode();
  if (src && lt_check_same_device(op, a, "self", src, "src")) return lt_errcode();
  if (lt_norm_dim(op, dim, a->ndim ? a->ndim : 1)) return lt_errcode();
  bool ok = index->ndim == a->ndim && (!src || src->ndim == a->ndim);
  for (int d = 0; ok && d < a->ndim; d++)
    ok = (d == *dim || index->shape[d] <= a->shape[d]) && (!src || index->shape[d] <= src->shape[d]);
  if (!ok)
    return lt_error(LT_ERR_SHAPE,
                    "%s: index of shape %s must not exceed src's shape nor self's shape %s "
                    "outside dim %d",
                    op, lt_shape_str(index, b1), lt_shape_str(a, b2), *dim + 1);
  return LT_OK;
}

static lt_status scatter_kernel(const char *op, const lt_backend *be, lt_tensor *out, int dim,
                                lt_tensor *index, lt_tensor *src, double value, bool accumulate,
                                int64_t base) {
  if (lt_numel(index) == 0) return LT_OK;
  if (!be->scatter) return lt_err_not_impl(op, lt_tensor_device(out));
  lt_tensor *sc = src ? lt_cast_nograd(src, out->dtype) : NULL;
  if (src && !sc) return lt_errcode();
  lt_view ov = lt_view_of(out), iv = lt_view_of(index);
  lt_view sv = sc ? block_view(sc, index->shape, index->ndim) : ov;
  lt_status st = be->scatter(&ov, dim, &iv, sc ? &sv : NULL, value, accumulate, base);
  lt_tensor_release(sc);
  return st;
}

lt_tensor *lt_scatter(lt_tensor *a, int dim, lt_tensor *index, lt_tensor *src, double value,
                      const char *reduce, int64_t base) {
  const char *op = "scatter";
  bool acc;
  if (scatter_checks(op, a, &dim, index, src, reduce, &acc)) return NULL;
  const lt_backend *be = lt_backend_of(op, a);
  if (!be || check_range(op, be, index, dim, a->ndim ? a->shape[dim] : 1, base)) return NULL;
  lt_tensor *out = fresh_copy(be, a, a->dtype);
  if (!out || scatter_kernel(op, be, out, dim, index, src, value, acc, base)) goto fail;
  lt_tensor *ins[2] = {a, src};
  if (lt_dtype_is_float(a->dtype) && lt_any_requires_grad(ins, src ? 2 : 1)) {
    lt_node *n = lt_record(acc ? "ScatterAddBackward" : "ScatterBackward", scatter_backward, ins,
                           src ? 2 : 1, out);
    if (!n) goto fail;
    n->i[0] = dim;
    n->i[1] = base;
    n->i[2] = acc;
    lt_node_save(n, 0, index);
  }
  return out;
fail:
  lt_tensor_release(out);
  return NULL;
}

lt_status lt_scatter_(lt_tensor *a, int dim, lt_tensor *index, lt_tensor *src, double value,
                      const char *reduce, int64_t base) {
  const char *op = "scatter_";
  bool acc;
  if (scatter_checks(op, a, &dim, index, src, reduce, &acc)) return lt_errcode();
  const lt_backend *be = lt_backend_of(op, a);
  if (!be || check_range(op, be, index, dim, a->ndim ? a->shape[dim] : 1, base))
    return lt_errcode();
  lt_tensor *ins[2] = {a, src};
  int nin = src ? 2 : 1;
  bool rec = lt_dtype_is_float(a->dtype) && lt_any_requires_grad(ins, nin);
  if (lt_grad_enabled() && a->is_view && rec)
    return lt_error(LT_ERR_AUTOGRAD,
                    "%s: in-place operation on a view of a tensor that requires grad is not "
                    "supported", op);
  if (lt_prepare_inplace(op, a)) return lt_errcode();
  lt_node *n = NULL;
  if (rec) {
    n = lt_node_new(acc ? "ScatterAddBackward" : "ScatterBackward", scatter_backward, ins, nin, 1);
    if (!n) return lt_errcode();
    n->i[0] = dim;
    n->i[1] = base;
    n->i[2] = acc;
    lt_node_save(n, 0, index);
  }
  lt_status st = scatter_kernel(op, be, a, dim, index, src, value, acc, base);
  if (n) {
    if (!st) lt_node_set_output(n, a, 0);
    lt_node_release(n);
  }
  return st;
}

/* ---------------------------------------------------------------- cat / stack */

/* i[0] = dim. Input k's size along dim is in its meta. */
static lt_status cat_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  int dim = (int)n->i[0];
  int64_t off = 0;
  for (int k = 0; k < n->n_inputs; k++) {
    int64_t len = n->meta[k].shape[dim];
    if (lt_node_needs_grad(n, k)) {
      lt_tensor *s = lt_narrow(gout[0], dim, off, len);
      lt_tensor *c = s ? lt_contiguous(s) : NULL;
      lt_tensor_release(s);
      if (!c || !(gin[k] = lt_grad_for_input(n, k, c))) return lt_errcode();
    }
    off += len;
  }
  return LT_OK;
}

lt_tensor *lt_cat(lt_tensor **ts, int n, int dim) {
  const char *op = "cat";
  char b1[128], b2[128];
  if (n < 1) {
    lt_error(LT_ERR_ARG, "cat: expected a non-empty list of tensors");
    return NULL;
  }
  lt_tensor *t0 = ts[0];
  if (t0->ndim == 0) {
    lt_error(LT_ERR_SHAPE, "cat: zero-dimensional tensor (at position 1) cannot be concatenated");
    return NULL;
  }
  if (lt_norm_dim(op, &dim, t0->ndim)) return NULL;
  lt_dtype dt = t0->dtype;
  int64_t sh[LT_MAX_DIMS];
  memcpy(sh, t0->shape, sizeof sh);
  sh[dim] = 0;
  /* positions and dims in messages are 1-based, as the Lua user counts them */
  for (int k = 0; k < n; k++) {
    lt_tensor *t = ts[k];
    char tk[32];
    snprintf(tk, sizeof tk, "tensor %d", k + 1);
    if (lt_check_same_device(op, t0, "tensor 1", t, tk)) return NULL;
    bool ok = t->ndim == t0->ndim;
    for (int d = 0; ok && d < t->ndim; d++) ok = d == dim || t->shape[d] == t0->shape[d];
    if (!ok) {
      lt_error(LT_ERR_SHAPE,
               "cat: sizes of tensors must match except in dimension %d: tensor 1 has shape %s "
               "but tensor %d has shape %s",
               dim + 1, lt_shape_str(t0, b1), k + 1, lt_shape_str(t, b2));
      return NULL;
    }
    dt = lt_promote_types(dt, t->dtype);
    sh[dim] += t->shape[dim];
  }
  const lt_backend *be = lt_backend_of(op, t0);
  if (!be) return NULL;
  lt_tensor *out = lt_tensor_alloc(sh, t0->ndim, dt, lt_tensor_device(t0));
  if (!out) return NULL;
  int64_t off = 0;
  for (int k = 0; k < n; k++) {
    lt_tensor *t = ts[k];
    if (lt_numel(t)) {
      lt_view ov = lt_view_of(out), tv = lt_view_of(t);
      ov.shape[dim] = t->shape[dim];
      ov.data = (char *)ov.data + off * out->stride[dim] * (int64_t)lt_dtype_size(dt);
      if (be->copy(&ov, &tv)) goto fail;
    }
    off += t->shape[dim];
  }
  if (lt_dtype_is_float(dt) && lt_any_requires_grad(ts, n)) {
    lt_node *nd = lt_record("CatBackward", cat_backward, ts, n, out);
    if (!nd) goto fail;
    nd->i[0] = dim;
  }
  return out;
fail:
  lt_tensor_release(out);
  return NULL;
}

lt_tensor *lt_stack(lt_tensor **ts, int n, int dim) {
  char b1[128], b2[128];
  if (n < 1) {
    lt_error(LT_ERR_ARG, "stack: expected a non-empty list of tensors");
    return NULL;
  }
  int nd = ts[0]->ndim;
  if (dim < 0) dim += nd + 1;
  if (dim < 0 || dim > nd) {
    lt_error(LT_ERR_INDEX, "stack: dim %d out of range for %d-dim tensors", dim, nd);
    return NULL;
  }
  for (int k = 1; k < n; k++)
    if (!lt_shape_eq(ts[k]->shape, ts[k]->ndim, ts[0]->shape, nd)) {
      lt_error(LT_ERR_SHAPE,
               "stack: expects each tensor to be equal size, but got %s at entry 1 and %s at "
               "entry %d",
               lt_shape_str(ts[0], b1), lt_shape_str(ts[k], b2), k + 1);
      return NULL;
    }
  lt_tensor **us = calloc((size_t)n, sizeof *us), *out = NULL;
  if (!us) {
    lt_error(LT_ERR_MEMORY, "stack: out of host memory");
    return NULL;
  }
  int k = 0;
  for (; k < n; k++)
    if (!(us[k] = lt_unsqueeze(ts[k], dim))) break;
  if (k == n) out = lt_cat(us, n, dim);
  for (int j = 0; j < k; j++) lt_tensor_release(us[j]);
  free(us);
  return out;
}

/* ---------------------------------------------------------------- one_hot */

lt_tensor *lt_one_hot(lt_tensor *index, int64_t num_classes, int64_t base) {
  const char *op = "one_hot";
  if (index->dtype != LT_DTYPE_I64) {
    lt_error(LT_ERR_DTYPE, "one_hot: expected index to be an int64 tensor, got %s",
             lt_dtype_name(index->dtype));
    return NULL;
  }
  if (index->ndim >= LT_MAX_DIMS) {
    lt_error(LT_ERR_SHAPE, "one_hot: index has too many dims");
    return NULL;
  }
  const lt_backend *be = lt_backend_of(op, index);
  if (!be) return NULL;
  if (num_classes < 0) {
    if (lt_numel(index) == 0) {
      lt_error(LT_ERR_ARG, "one_hot: cannot infer the number of classes of an empty tensor");
      return NULL;
    }
    lt_tensor *mx = lt_reduce(LT_REDUCE_MAX, index, NULL, 0, false, 0, NULL, 0);
    double v;
    lt_status st = mx ? lt_item(mx, &v) : lt_errcode();
    lt_tensor_release(mx);
    if (st) return NULL;
    if (!(v < 4611686018427387904.0)) {  /* 2^62: (int64_t)v must stay defined */
      lt_error(LT_ERR_ARG, "one_hot: the largest index %.17g is too large", v);
      return NULL;
    }
    num_classes = v < (double)base ? 1 : (int64_t)v - base + 1;
  }
  if (check_range(op, be, index, index->ndim, num_classes, base)) return NULL;
  int64_t sh[LT_MAX_DIMS];
  memcpy(sh, index->shape, sizeof(int64_t) * (size_t)index->ndim);
  sh[index->ndim] = num_classes;
  lt_tensor *out = lt_zeros(sh, index->ndim + 1, LT_DTYPE_I64, lt_tensor_device(index));
  if (!out || lt_numel(out) == 0) return out;
  if (!be->scatter) {
    lt_err_not_impl(op, lt_tensor_device(index));
    lt_tensor_release(out);
    return NULL;
  }
  lt_view ov = lt_view_of(out), iv = lt_view_of(index);
  iv.shape[index->ndim] = 1;
  iv.stride[index->ndim] = 1;
  iv.ndim = index->ndim + 1;
  if (be->scatter(&ov, index->ndim, &iv, NULL, 1.0, false, base)) {
    lt_tensor_release(out);
    return NULL;
  }
  return out;
}

/* ---------------------------------------------------------------- pad */

/* i[0] = npads, i[1..] = pads */
static lt_status constant_pad_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  int64_t neg[2 * LT_MAX_DIMS];
  int np = (int)n->i[0];
  for (int k = 0; k < np; k++) neg[k] = -n->i[1 + k];
  lt_tensor *r = lt_pad(gout[0], neg, np, "constant", 0.0);
  if (!r || !(gin[0] = lt_grad_for_input(n, 0, r))) return lt_errcode();
  return LT_OK;
}

/* index_select-based padding of one dim (reflect or replicate). */
static lt_tensor *pad_dim_indexed(lt_tensor *t, int dim, int64_t l, int64_t r, bool reflect) {
  int64_t size = t->shape[dim], m = size + l + r;
  if (reflect ? (l >= size || r >= size) : size == 0) {
    lt_error(LT_ERR_SHAPE,
             reflect ? "pad: padding (%lld, %lld) should be less than the size %lld of dim %d in "
                       "reflect mode"
                     : "pad: cannot replicate-pad an empty dim (%lld, %lld; size %lld, dim %d)",
             (long long)l, (long long)r, (long long)size, dim + 1);
    return NULL;
  }
  int64_t *ix = m > INT64_MAX / 16 ? NULL : malloc((size_t)(m > 0 ? m : 1) * sizeof *ix);
  if (!ix) {
    lt_error(LT_ERR_MEMORY, "pad: out of host memory (padded size %lld)", (long long)m);
    return NULL;
  }
  for (int64_t k = 0; k < m; k++) {
    int64_t j = k - l;
    if (reflect) {
      if (j < 0) j = -j;
      if (j >= size) j = 2 * (size - 1) - j;
    } else {
      j = j < 0 ? 0 : j >= size ? size - 1 : j;
    }
    ix[k] = j;
  }
  lt_tensor *it = lt_from_data(ix, LT_DTYPE_I64, &m, 1, LT_DTYPE_I64, lt_tensor_device(t));
  free(ix);
  if (!it) return NULL;
  lt_tensor *out = lt_index_select(t, dim, it, 0);
  lt_tensor_release(it);
  return out;
}

lt_tensor *lt_pad(lt_tensor *a, const int64_t *pads, int npads, const char *mode, double value) {
  const char *op = "pad";
  if (!mode) mode = "constant";
  bool reflect = strcmp(mode, "reflect") == 0, replicate = strcmp(mode, "replicate") == 0;
  if (!reflect && !replicate && strcmp(mode, "constant") != 0) {
    lt_error(LT_ERR_ARG, "pad: mode must be \"constant\", \"reflect\" or \"replicate\", got \"%s\"",
             mode);
    return NULL;
  }
  if (npads % 2 != 0 || npads < 0) {
    lt_error(LT_ERR_ARG, "pad: padding length must be divisible by 2, got %d", npads);
    return NULL;
  }
  if (npads / 2 > a->ndim) {
    lt_error(LT_ERR_ARG, "pad: padding length %d is too large for a %d-dim tensor", npads, a->ndim);
    return NULL;
  }
  int64_t sh[LT_MAX_DIMS];
  memcpy(sh, a->shape, sizeof sh);
  for (int k = 0; k < npads / 2; k++) {
    int d = a->ndim - 1 - k;
    /* bounded pads keep -pad and the sums below free of int64 overflow */
    if (pads[2 * k] < -(INT64_MAX / 4) || pads[2 * k] > INT64_MAX / 4 ||
        pads[2 * k + 1] < -(INT64_MAX / 4) || pads[2 * k + 1] > INT64_MAX / 4 ||
        __builtin_add_overflow(a->shape[d], pads[2 * k] + pads[2 * k + 1], &sh[d])) {
      lt_error(LT_ERR_SHAPE, "pad: padding (%lld, %lld) of dim %d is too large",
               (long long)pads[2 * k], (long long)pads[2 * k + 1], d + 1);
      return NULL;
    }
    if (sh[d] < 0) {
      lt_error(LT_ERR_SHAPE, "pad: the padded size of dim %d would be %lld", d + 1,
               (long long)sh[d]);
      return NULL;
    }
  }
  if (reflect || replicate) {
    lt_tensor *cur = lt_ref(a);
    for (int k = 0; k < npads / 2 && cur; k++) {
      if (pads[2 * k] == 0 && pads[2 * k + 1] == 0) continue;
      lt_tensor *nx = pad_dim_indexed(cur, a->ndim - 1 - k, pads[2 * k], pads[2 * k + 1], reflect);
      lt_tensor_release(cur);
      cur = nx;
    }
    return cur;
  }
  const lt_backend *be = lt_backend_of(op, a);
  if (!be) return NULL;
  lt_tensor *out = lt_full(sh, a->ndim, value, a->dtype, lt_tensor_device(a));
  if (!out) return NULL;
  /* copy the overlap of a and out */
  lt_view ov = lt_view_of(out), av = lt_view_of(a);
  bool empty = false;
  size_t isz = lt_dtype_size(a->dtype);
  for (int k = 0; k < npads / 2; k++) {
    int d = a->ndim - 1 - k;
    int64_t l = pads[2 * k], r = pads[2 * k + 1];
    int64_t s0 = l < 0 ? -l : 0, d0 = l > 0 ? l : 0;
    int64_t len = a->shape[d] - s0 - (r < 0 ? -r : 0);
    if (len <= 0) { empty = true; break; }
    av.shape[d] = ov.shape[d] = len;
    av.data = (char *)av.data + s0 * a->stride[d] * (int64_t)isz;
    ov.data = (char *)ov.data + d0 * out->stride[d] * (int64_t)isz;
  }
  if (!empty && lt_numel(a) > 0 && be->copy(&ov, &av)) {
    lt_tensor_release(out);
    return NULL;
  }
  if (lt_dtype_is_float(a->dtype) && lt_any_requires_grad(&a, 1)) {
    lt_node *n = lt_record("ConstantPadBackward", constant_pad_backward, &a, 1, out);
    if (!n) {
      lt_tensor_release(out);
      return NULL;
    }
    n->i[0] = npads;
    for (int k = 0; k < npads; k++) n->i[1 + k] = pads[k];
  }
  return out;
}
