/*
** ops_view.c - view front-ends (view, reshape, transpose, permute, narrow,
** select, squeeze, unsqueeze, expand, flatten, as_strided) and the
** broadcasting rule. Views share storage and record backward nodes; none of
** them launches a kernel except reshape's copy. as_strided is not recorded.
*/
#include <stdio.h>
#include <string.h>

#include "ops_util.h"

/* ---------------------------------------------------------------- helpers */

/* A view of t with the given geometry, flagged as a view. */
static lt_tensor *make_view(lt_tensor *t, const int64_t *shape, const int64_t *stride, int ndim,
                            int64_t offset) {
  lt_tensor *out = lt_tensor_view_of(t, shape, stride, ndim, offset);
  if (out) out->is_view = true;
  return out;
}

/* Records a single-input view node on out; on failure releases out. */
static lt_tensor *record_view(const char *name, lt_backward_fn fn, lt_tensor *t, lt_tensor *out,
                              lt_node **np) {
  if (np) *np = NULL;
  if (!out || !lt_any_requires_grad(&t, 1)) return out;
  lt_node *n = lt_record(name, fn, &t, 1, out);
  if (!n) {
    lt_tensor_release(out);
    return NULL;
  }
  if (np) *np = n;
  return out;
}

/* Backward shared by view/reshape/squeeze/unsqueeze/flatten: reshape back. */
static lt_status reshape_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  gin[0] = lt_reshape(gout[0], n->meta[0].shape, n->meta[0].ndim);
  return gin[0] ? LT_OK : lt_errcode();
}

/* PyTorch's computeStride: strides for viewing (shape, stride) as nshape,
** or false when the geometry does not allow a view. */
static bool compute_stride(const int64_t *shape, const int64_t *stride, int ndim,
                           const int64_t *nshape, int nndim, int64_t *nstride) {
  int64_t numel = lt_shape_numel(shape, ndim);
  if (numel == 0 || ndim == 0) {
    int64_t s = 1;
    for (int d = nndim - 1; d >= 0; d--) {
      nstride[d] = s;
      s *= nshape[d] > 1 ? nshape[d] : 1;
    }
    if (numel == 0 && lt_shape_eq(shape, ndim, nshape, nndim))
      memcpy(nstride, stride, sizeof(int64_t) * (size_t)ndim);
    return true;
  }
  int view_d = nndim - 1;
  int64_t chunk_base_stride = stride[ndim - 1];
  int64_t tensor_numel = 1, view_numel = 1;
  for (int td = ndim - 1; td >= 0; td--) {
    tensor_numel *= shape[td];
    if (td == 0 || (shape[td - 1] != 1 && stride[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || nshape[view_d] == 1)) {
        nstride[view_d] = view_numel * chunk_base_stride;
        view_numel *= nshape[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return false;
      if (td > 0) {
        chunk_base_stride = stride[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

/* Resolves one -1 and checks the element count. */
static lt_status infer_shape(const char *op, const lt_tensor *t, const int64_t *shape, int ndim,
                             int64_t *out) {
  char b1[128];
  if (ndim < 0 || ndim > LT_MAX_DIMS)
    return lt_error(LT_ERR_SHAPE, "%s: at most %d dims, got %d", op, LT_MAX_DIMS, ndim);
  int infer = -1;
  int64_t known = 1, nz = 1;  /* nz: product of the non-zero sizes (strides use it) */
  for (int d = 0; d < ndim; d++) {
    out[d] = shape[d];
    if (shape[d] == -1) {
      if (infer >= 0) return lt_error(LT_ERR_SHAPE, "%s: only one dimension can be inferred", op);
      infer = d;
    } else if (shape[d] < 0) {
      return lt_error(LT_ERR_SHAPE, "%s: invalid shape dimension %lld", op, (long long)shape[d]);
    } else if (shape[d] > 0 && __builtin_mul_overflow(nz, shape[d], &nz)) {
      return lt_error(LT_ERR_SHAPE, "%s: shape '%s' is too large (more than 2^63 elements)", op,
                      lt_shape_str_raw(shape, ndim, b1));
    } else {
      known *= shape[d];
    }
  }
  int64_t numel = lt_numel(t);
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      return lt_error(LT_ERR_SHAPE, "%s: shape '%s' is invalid for input of size %lld", op,
                      lt_shape_str_raw(shape, ndim, b1), (long long)numel);
    out[infer] = numel / known;
  } else if (known != numel) {
    return lt_error(LT_ERR_SHAPE, "%s: shape '%s' is invalid for input of size %lld", op,
                    lt_shape_str_raw(shape, ndim, b1), (long long)numel);
  }
  return LT_OK;
}

/* ---------------------------------------------------------------- view / reshape */

lt_tensor *lt_tensor_view(lt_tensor *t, const int64_t *shape, int ndim) {
  int64_t ns[LT_MAX_DIMS], st[LT_MAX_DIMS];
  if (infer_shape("view", t, shape, ndim, ns)) return NULL;
  if (!compute_stride(t->shape, t->stride, t->ndim, ns, ndim, st)) {
    char b1[128], b2[128];
    lt_error(LT_ERR_SHAPE,
             "view: size %s is not compatible with input's size %s and stride "
             "(at least one dimension spans across two contiguous subspaces); use reshape",
             lt_shape_str_raw(ns, ndim, b1), lt_shape_str(t, b2));
    return NULL;
  }
  return record_view("ViewBackward", reshape_backward, t,
                     make_view(t, ns, st, ndim, t->offset), NULL);
}

lt_tensor *lt_reshape(lt_tensor *t, const int64_t *shape, int ndim) {
  int64_t ns[LT_MAX_DIMS], st[LT_MAX_DIMS];
  if (infer_shape("reshape", t, shape, ndim, ns)) return NULL;
  if (compute_stride(t->shape, t->stride, t->ndim, ns, ndim, st))
    return record_view("ViewBackward", reshape_backward, t,
                       make_view(t, ns, st, ndim, t->offset), NULL);
  lt_tensor *c = lt_contiguous(t);  /* records a copy when t has history */
  if (!c) return NULL;
  lt_tensor *out = lt_tensor_view(c, ns, ndim);
  lt_tensor_release(c);
  return out;
}

lt_tensor *lt_flatten(lt_tensor *t, int start_dim, int end_dim) {
  int nd = t->ndim ? t->ndim : 1;
  if (lt_norm_dim("flatten", &start_dim, nd) || lt_norm_dim("flatten", &end_dim, nd))
    return NULL;
  if (start_dim > end_dim) {
    lt_error(LT_ERR_ARG, "flatten: start_dim (%d) cannot come after end_dim (%d)", start_dim,
             end_dim);
    return NULL;
  }
  if (t->ndim == 0) {
    int64_t one = 1;
    return lt_reshape(t, &one, 1);
  }
  int64_t ns[LT_MAX_DIMS];
  int k = 0;
  for (int d = 0; d < start_dim; d++) ns[k++] = t->shape[d];
  int64_t m = 1;
  for (int d = start_dim; d <= end_dim; d++) m *= t->shape[d];
  ns[k++] = m;
  for (int d = end_dim + 1; d < t->ndim; d++) ns[k++] = t->shape[d];
  return lt_reshape(t, ns, k);
}

/* ---------------------------------------------------------------- transpose / permute */

static lt_status transpose_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  gin[0] = lt_transpose(gout[0], (int)n->i[0], (int)n->i[1]);
  return gin[0] ? LT_OK : lt_errcode();
}

lt_tensor *lt_transpose(lt_tensor *t, int d0, int d1) {
  int nd = t->ndim ? t->ndim : 1;
  if (lt_norm_dim("transpose", &d0, nd) || lt_norm_dim("transpose", &d1, nd)) return NULL;
  int64_t sh[LT_MAX_DIMS] = {0}, st[LT_MAX_DIMS] = {0};
  memcpy(sh, t->shape, sizeof sh);
  memcpy(st, t->stride, sizeof st);
  if (t->ndim) {
    sh[d0] = t->shape[d1]; sh[d1] = t->shape[d0];
    st[d0] = t->stride[d1]; st[d1] = t->stride[d0];
  }
  lt_node *n;
  lt_tensor *out = record_view("TransposeBackward", transpose_backward, t,
                               make_view(t, sh, st, t->ndim, t->offset), &n);
  if (n) { n->i[0] = d0; n->i[1] = d1; }
  return out;
}

static lt_status permute_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  int inv[LT_MAX_DIMS];
  int nd = n->meta[0].ndim;
  for (int d = 0; d < nd; d++) inv[n->i[d]] = d;
  gin[0] = lt_permute(gout[0], inv, nd);
  return gin[0] ? LT_OK : lt_errcode();
}

lt_tensor *lt_permute(lt_tensor *t, const int *dims, int ndim) {
  if (ndim != t->ndim) {
    lt_error(LT_ERR_SHAPE,
             "permute: number of dims don't match (input has %d dims, %d were given)", t->ndim,
             ndim);
    return NULL;
  }
  int64_t sh[LT_MAX_DIMS] = {0}, st[LT_MAX_DIMS] = {0};
  int perm[LT_MAX_DIMS];
  bool seen[LT_MAX_DIMS] = {false};
  for (int d = 0; d < ndim; d++) {
    int p = dims[d];
    if (lt_norm_dim("permute", &p, ndim)) return NULL;
    if (seen[p]) {
      lt_error(LT_ERR_ARG, "permute: repeated dim %d in the permutation", p + 1);
      return NULL;
    }
    seen[p] = true;
    perm[d] = p;
    sh[d] = t->shape[p];
    st[d] = t->stride[p];
  }
  lt_node *n;
  lt_tensor *out = record_view("PermuteBackward", permute_backward, t,
                               make_view(t, sh, st, ndim, t->offset), &n);
  if (n)
    for (int d = 0; d < ndim; d++) n->i[d] = perm[d];
  return out;
}

/* ---------------------------------------------------------------- narrow / select */

/* Zeros of the input shape with g in the slice [start, start+len) of dim:
** constant padding is exactly that adjoint. */
static lt_tensor *pad_back(lt_tensor *g, int dim, int64_t start, int64_t size) {
  int64_t pads[2 * LT_MAX_DIMS] = {0};
  int nd = g->ndim;
  int k = nd - 1 - dim;  /* pair index counted from the last dim */
  pads[2 * k] = start;
  pads[2 * k + 1] = size - start - g->shape[dim];
  return lt_pad(g, pads, 2 * (k + 1), "constant", 0.0);
}

static lt_status narrow_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  int dim = (int)n->i[0];
  gin[0] = pad_back(gout[0], dim, n->i[1], n->meta[0].shape[dim]);
  return gin[0] ? LT_OK : lt_errcode();
}

lt_tensor *lt_narrow(lt_tensor *t, int dim, int64_t start, int64_t length) {
  if (t->ndim == 0) {
    lt_error(LT_ERR_SHAPE, "narrow: cannot be applied to a 0-dim tensor");
    return NULL;
  }
  if (lt_norm_dim("narrow", &dim, t->ndim)) return NULL;
  int64_t size = t->shape[dim];
  if (start < 0) start += size;
  if (start < 0 || start > size || length < 0 || start + length > size) {
    lt_error(LT_ERR_INDEX, "narrow: start (%lld) + length (%lld) exceeds dimension size (%lld)",
             (long long)start, (long long)length, (long long)size);
    return NULL;
  }
  int64_t sh[LT_MAX_DIMS];
  memcpy(sh, t->shape, sizeof sh);
  sh[dim] = length;
  lt_node *n;
  lt_tensor *out = record_view("NarrowBackward", narrow_backward, t,
                               make_view(t, sh, t->stride, t->ndim,
                                         t->offset + start * t->stride[dim]),
                               &n);
  if (n) { n->i[0] = dim; n->i[1] = start; }
  return out;
}

static lt_status select_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  int dim = (int)n->i[0];
  lt_tensor *u = lt_unsqueeze(gout[0], dim);
  if (!u) return lt_errcode();
  gin[0] = pad_back(u, dim, n->i[1], n->meta[0].shape[dim]);
  lt_tensor_release(u);
  return gin[0] ? LT_OK : lt_errcode();
}

lt_tensor *lt_select(lt_tensor *t, int dim, int64_t index) {
  if (t->ndim == 0) {
    lt_error(LT_ERR_SHAPE, "select: cannot be applied to a 0-dim tensor");
    return NULL;
  }
  if (lt_norm_dim("select", &dim, t->ndim)) return NULL;
  int64_t size = t->shape[dim];
  int64_t idx = index < 0 ? index + size : index;
  if (idx < 0 || idx >= size) {
    lt_error(LT_ERR_INDEX, "select: index %lld is out of range for dim %d with size %lld",
             (long long)index, dim, (long long)size);
    return NULL;
  }
  int64_t sh[LT_MAX_DIMS] = {0}, st[LT_MAX_DIMS] = {0};
  int k = 0;
  for (int d = 0; d < t->ndim; d++) {
    if (d == dim) continue;
    sh[k] = t->shape[d];
    st[k++] = t->stride[d];
  }
  lt_node *n;
  lt_tensor *out = record_view("SelectBackward", select_backward, t,
                               make_view(t, sh, st, k, t->offset + idx * t->stride[dim]), &n);
  if (n) { n->i[0] = dim; n->i[1] = idx; }
  return out;
}

/* ---------------------------------------------------------------- squeeze / unsqueeze */

lt_tensor *lt_squeeze(lt_tensor *t, int dim) {
  int64_t sh[LT_MAX_DIMS] = {0}, st[LT_MAX_DIMS] = {0};
  int k = 0;
  if (dim != LT_ALL_DIMS) {
    if (lt_norm_dim("squeeze", &dim, t->ndim ? t->ndim : 1)) return NULL;
  }
  for (int d = 0; d < t->ndim; d++) {
    bool drop = t->shape[d] == 1 && (dim == LT_ALL_DIMS || d == dim);
    if (drop) continue;
    sh[k] = t->shape[d];
    st[k++] = t->stride[d];
  }
  return record_view("SqueezeBackward", reshape_backward, t,
                     make_view(t, sh, st, k, t->offset), NULL);
}

lt_tensor *lt_unsqueeze(lt_tensor *t, int dim) {
  if (dim < 0) dim += t->ndim + 1;
  if (dim < 0 || dim > t->ndim || t->ndim >= LT_MAX_DIMS) {
    lt_error(LT_ERR_INDEX, "unsqueeze: dim %d out of range for a %d-dim tensor", dim, t->ndim);
    return NULL;
  }
  int64_t sh[LT_MAX_DIMS] = {0}, st[LT_MAX_DIMS] = {0};
  int k = 0;
  for (int d = 0; d <= t->ndim; d++) {
    if (d == dim) {
      sh[k] = 1;
      st[k++] = d < t->ndim ? t->shape[d] * t->stride[d] : 1;
    }
    if (d < t->ndim) {
      sh[k] = t->shape[d];
      st[k++] = t->stride[d];
    }
  }
  return record_view("UnsqueezeBackward", reshape_backward, t,
                     make_view(t, sh, st, t->ndim + 1, t->offset), NULL);
}

/* ---------------------------------------------------------------- expand */

static lt_status expand_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  gin[0] = lt_sum_to(gout[0], n->meta[0].shape, n->meta[0].ndim);
  return gin[0] ? LT_OK : lt_errcode();
}

lt_tensor *lt_expand(lt_tensor *t, const int64_t *shape, int ndim) {
  char b1[128], b2[128];
  if (ndim < t->ndim || ndim > LT_MAX_DIMS) {
    lt_error(LT_ERR_SHAPE,
             "expand: the number of sizes provided (%d) must be greater or equal to the "
             "number of dimensions in the tensor (%d)",
             ndim, t->ndim);
    return NULL;
  }
  int64_t sh[LT_MAX_DIMS] = {0}, st[LT_MAX_DIMS] = {0};
  int lead = ndim - t->ndim;
  for (int d = 0; d < ndim; d++) {
    int sd = d - lead;
    if (sd < 0) {
      if (shape[d] < 0) {
        lt_error(LT_ERR_SHAPE, "expand: -1 is not allowed in a leading, non-existing dimension");
        return NULL;
      }
      sh[d] = shape[d];
      st[d] = 0;
      continue;
    }
    int64_t want = shape[d] == -1 ? t->shape[sd] : shape[d];
    if (want == t->shape[sd]) {
      sh[d] = want;
      st[d] = t->stride[sd];
    } else if (t->shape[sd] == 1 && want >= 0) {
      sh[d] = want;
      st[d] = 0;
    } else {
      lt_error(LT_ERR_SHAPE,
               "expand: the expanded size of the tensor (%lld) must match the existing size "
               "(%lld) at non-singleton dimension %d. Target sizes: %s. Tensor sizes: %s",
               (long long)want, (long long)t->shape[sd], d + 1, lt_shape_str_raw(shape, ndim, b1),
               lt_shape_str(t, b2));
      return NULL;
    }
  }
  /* a view whose element count (or contiguous strides, for empty ones)
  ** overflows int64 would break every later op */
  int64_t nz = 1;
  bool overflow = false;
  for (int d = 0; d < ndim; d++)
    if (sh[d] > 0 && __builtin_mul_overflow(nz, sh[d], &nz)) overflow = true;
  if (overflow) {
    lt_error(LT_ERR_SHAPE, "expand: target sizes %s are too large (more than 2^63 elements)",
             lt_shape_str_raw(shape, ndim, b1));
    return NULL;
  }
  return record_view("ExpandBackward", expand_backward, t,
                     make_view(t, sh, st, ndim, t->offset), NULL);
}

/* ---------------------------------------------------------------- as_strided */

lt_tensor *lt_as_strided(lt_tensor *t, const int64_t *shape, const int64_t *stride, int ndim,
                         int64_t offset) {
  if (ndim < 0 || ndim > LT_MAX_DIMS) {
    lt_error(LT_ERR_SHAPE, "as_strided: at most %d dims, got %d", LT_MAX_DIMS, ndim);
    return NULL;
  }
  int64_t last = offset, cap = (int64_t)(t->storage->nbytes / lt_dtype_size(t->dtype));
  bool empty = false;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0 || stride[d] < 0) {
      lt_error(LT_ERR_ARG, "as_strided: negative size or stride at dim %d", d);
      return NULL;
    }
    if (shape[d] == 0) empty = true;
    else last += (shape[d] - 1) * stride[d];
  }
  if (offset < 0 || (!empty && last >= cap)) {
    char b1[128];
    lt_error(LT_ERR_INDEX,
             "as_strided: size %s with offset %lld is out of bounds for storage of %lld elements",
             lt_shape_str_raw(shape, ndim, b1), (long long)offset, (long long)cap);
    return NULL;
  }
  return make_view(t, shape, stride, ndim, offset);
}

/* ---------------------------------------------------------------- broadcasting */

lt_status lt_broadcast_shape(const int64_t *a, int na, const int64_t *b, int nb, int64_t *out,
                             int *nout) {
  int n = na > nb ? na : nb;
  if (n > LT_MAX_DIMS) return lt_error(LT_ERR_SHAPE, "broadcast: more than %d dims", LT_MAX_DIMS);
  for (int k = 0; k < n; k++) {
    int da = na - n + k, db = nb - n + k;
    int64_t sa = da >= 0 ? a[da] : 1, sb = db >= 0 ? b[db] : 1;
    if (sa == sb || sb == 1) out[k] = sa;
    else if (sa == 1) out[k] = sb;
    else {
      char b1[128], b2[128];
      return lt_error(LT_ERR_SHAPE,
                      "shapes %s and %s are not broadcastable: the size of tensor a (%lld) "
                      "must match the size of tensor b (%lld) at non-singleton dimension %d",
                      lt_shape_str_raw(a, na, b1), lt_shape_str_raw(b, nb, b2), (long long)sa,
                      (long long)sb, k + 1);  /* 1-based, as the Lua user counts dims */
    }
  }
  *nout = n;
  return LT_OK;
}
