/*
** tensor.c - tensors and storage: allocation (with the OOM retry and the
** allocation hooks that feed Lua's collector), reference counting, creation,
** copies across layouts, dtypes and devices, element access. Op front-ends
** and their autograd formulas live in ops_*.c; the walk in autograd.c.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static lt_alloc_hook alloc_hook;
static void *alloc_hook_ud;
static lt_oom_hook oom_hook;
static void *oom_hook_ud;

void lt_set_alloc_hook(lt_alloc_hook hook, void *ud) {
  alloc_hook = hook;
  alloc_hook_ud = ud;
}
void lt_set_oom_hook(lt_oom_hook hook, void *ud) {
  oom_hook = hook;
  oom_hook_ud = ud;
}

/* ---------------------------------------------------------------- header caches */

/* Tensor and storage headers are small and made for every op result, so
** each thread keeps a free list of each (malloc's calloc path showed up in
** per-op profiles; Lua's collector frees them thousands at a time). Off under AddressSanitizer so it still sees
** use-after-free of headers. */
#if defined(__SANITIZE_ADDRESS__)
#define LT_HEADER_CACHE 0
#else
#define LT_HEADER_CACHE 4096
#endif

typedef union cached_header { union cached_header *next; lt_tensor t; lt_storage s; } cached_header;
#if LT_HEADER_CACHE > 0
static _Thread_local cached_header *tensor_free_list, *storage_free_list;
static _Thread_local int tensor_free_count, storage_free_count;
#endif

static void *header_get(cached_header **list, int *count, size_t size) {
#if LT_HEADER_CACHE > 0
  cached_header *h = *list;
  if (h) {
    *list = h->next;
    (*count)--;
    memset(h, 0, size);
    return h;
  }
#else
  (void)list; (void)count;
#endif
  return calloc(1, size);
}

static void header_put(cached_header **list, int *count, void *p) {
#if LT_HEADER_CACHE > 0
  if (p && *count < LT_HEADER_CACHE) {
    cached_header *h = p;
    h->next = *list;
    *list = h;
    (*count)++;
    return;
  }
#else
  (void)list; (void)count;
#endif
  free(p);
}

#if LT_HEADER_CACHE > 0
#define TENSOR_LIST &tensor_free_list, &tensor_free_count
#define STORAGE_LIST &storage_free_list, &storage_free_count
#else
#define TENSOR_LIST NULL, NULL
#define STORAGE_LIST NULL, NULL
#endif
static lt_storage *storage_header_new(void) { return header_get(STORAGE_LIST, sizeof(lt_storage)); }
static void storage_header_free(lt_storage *s) { header_put(STORAGE_LIST, s); }
static void tensor_header_free(lt_tensor *t) { header_put(TENSOR_LIST, t); }

/* ---------------------------------------------------------------- storage */

static lt_storage *storage_new(size_t nbytes, lt_device dev) {
  const lt_backend *be = lt_backend_for(dev);
  if (!be) return NULL;
  lt_storage *s = storage_header_new();
  if (!s) {
    lt_error(LT_ERR_MEMORY, "out of host memory allocating a storage header");
    return NULL;
  }
  void *p = NULL;
  if (nbytes) {
    p = be->alloc(nbytes, dev.index);
    if (!p) {
      if (oom_hook) oom_hook(oom_hook_ud, dev, nbytes);
      if (be->empty_cache) be->empty_cache();
      p = be->alloc(nbytes, dev.index);
    }
    if (!p) {
      double mib = nbytes / 1048576.0;
      if (dev.type == LT_DEVICE_CUDA) {
        double used = be->memory_allocated ? be->memory_allocated() / 1048576.0 : 0;
        double cached = be->memory_reserved ? be->memory_reserved() / 1048576.0 - used : 0;
        lt_error(LT_ERR_MEMORY,
                 "CUDA out of memory: tried to allocate %.2f MiB (%.2f MiB in use, %.2f MiB "
                 "cached)",
                 mib, used, cached < 0 ? 0 : cached);
      } else {
        lt_error(LT_ERR_MEMORY, "out of memory: tried to allocate %.2f MiB on the cpu", mib);
      }
      storage_header_free(s);
      return NULL;
    }
  }
  s->refcount = 1;
  s->data = p;
  s->nbytes = nbytes;
  s->device = dev;
  s->owns_data = true;
  if (alloc_hook && nbytes) alloc_hook(alloc_hook_ud, dev, (ptrdiff_t)nbytes);
  return s;
}

static void storage_release(lt_storage *s) {
  if (!s || --s->refcount > 0) return;
  if (s->owns_data) {
    if (s->data) {
      const lt_backend *be = lt_backend_for(s->device);
      if (be) be->free(s->data, s->nbytes, s->device.index);
      if (alloc_hook) alloc_hook(alloc_hook_ud, s->device, -(ptrdiff_t)s->nbytes);
    }
  } else if (s->deleter) {
    s->deleter(s->deleter_ctx, s->data);
  }
  storage_header_free(s);
}

/* ---------------------------------------------------------------- refcounts */

void lt_tensor_retain(lt_tensor *t) {
  if (t) t->refcount++;
}

void lt_tensor_release(lt_tensor *t) {
  if (!t || --t->refcount > 0) return;
  if (t->retains_grad && t->grad_fn && t->grad_fn->retained)
    t->grad_fn->retained[t->output_nr] = NULL;  /* drop the weak ref */
  lt_node *fn = t->grad_fn;
  lt_tensor *grad = t->grad, *base = t->view_base;
  storage_release(t->storage);
  tensor_header_free(t);
  lt_node_release(fn);
  lt_tensor_release(grad);
  lt_tensor_release(base);
}

/* ---------------------------------------------------------------- geometry */

int64_t lt_numel(const lt_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
  return n;
}

bool lt_is_contiguous(const lt_tensor *t) {
  int64_t expected = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] == 0) return true;
    if (t->shape[i] != 1 && t->stride[i] != expected) return false;
    expected *= t->shape[i];
  }
  return true;
}

void *lt_tensor_data(const lt_tensor *t) {
  if (!t->storage->data) return NULL;
  return (char *)t->storage->data + t->offset * (int64_t)lt_dtype_size(t->dtype);
}

const char *lt_shape_str_raw(const int64_t *shape, int ndim, char *buf) {
  size_t len = 0, cap = 128;
  buf[len++] = '{';
  for (int i = 0; i < ndim && len < cap - 24; i++)
    len += (size_t)snprintf(buf + len, cap - len, i ? ", %lld" : "%lld", (long long)shape[i]);
  buf[len++] = '}';
  buf[len] = '\0';
  return buf;
}

const char *lt_shape_str(const lt_tensor *t, char *buf) {
  return lt_shape_str_raw(t->shape, t->ndim, buf);
}

static lt_status check_shape(const char *op, const int64_t *shape, int ndim, int64_t *numel) {
  if (ndim < 0 || ndim > LT_MAX_DIMS)
    return lt_error(LT_ERR_SHAPE, "%s: tensors have at most %d dimensions, got %d", op,
                    LT_MAX_DIMS, ndim);
  int64_t n = 1, nz = 1;  /* nz: product of the non-zero sizes (strides use it) */
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) {
      char b[128];
      return lt_error(LT_ERR_SHAPE, "%s: negative dimension %lld in shape %s", op,
                      (long long)shape[i], lt_shape_str_raw(shape, ndim, b));
    }
    if (shape[i] && nz > INT64_MAX / 16 / shape[i]) {
      char b[128];
      return lt_error(LT_ERR_MEMORY, "%s: shape %s is too large", op,
                      lt_shape_str_raw(shape, ndim, b));
    }
    if (shape[i]) nz *= shape[i];
    n *= shape[i];
  }
  *numel = n;
  return LT_OK;
}

static lt_tensor *header_new(void) {
  lt_tensor *t = header_get(TENSOR_LIST, sizeof(lt_tensor));
  if (!t) lt_error(LT_ERR_MEMORY, "out of host memory allocating a tensor header");
  else t->refcount = 1;
  return t;
}

lt_tensor *lt_tensor_alloc(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev) {
  int64_t n;
  if ((unsigned)dt >= LT_DTYPE_COUNT) {
    lt_error(LT_ERR_DTYPE, "empty: unknown dtype %d", (int)dt);
    return NULL;
  }
  if (check_shape("tensor", shape, ndim, &n)) return NULL;
  lt_tensor *t = header_new();
  if (!t) return NULL;
  t->storage = storage_new((size_t)n * lt_dtype_size(dt), dev);
  if (!t->storage) {
    tensor_header_free(t);
    return NULL;
  }
  t->ndim = ndim;
  t->dtype = dt;
  int64_t st = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    t->shape[i] = shape[i];
    t->stride[i] = st;
    st *= shape[i] ? shape[i] : 1;
  }
  return t;
}

lt_tensor *lt_tensor_view_of(lt_tensor *t, const int64_t *shape, const int64_t *stride, int ndim,
                             int64_t offset) {
  lt_tensor *v = header_new();
  if (!v) return NULL;
  v->storage = t->storage;
  v->storage->refcount++;
  v->offset = offset;
  v->ndim = ndim;
  v->dtype = t->dtype;
  for (int i = 0; i < ndim; i++) {
    v->shape[i] = shape[i];
    v->stride[i] = stride[i];
  }
  return v;
}

lt_view lt_view_of(const lt_tensor *t) {
  lt_view v;
  v.data = lt_tensor_data(t);
  v.dtype = t->dtype;
  v.ndim = t->ndim;
  for (int i = 0; i < t->ndim; i++) {
    v.shape[i] = t->shape[i];
    v.stride[i] = t->stride[i];
  }
  for (int i = t->ndim; i < LT_MAX_DIMS; i++) {
    v.shape[i] = 1;
    v.stride[i] = 0;
  }
  return v;
}

lt_view lt_view_broadcast(const lt_tensor *t, const int64_t *shape, int ndim) {
  lt_view v;
  v.data = lt_tensor_data(t);
  v.dtype = t->dtype;
  v.ndim = ndim;
  int off = ndim - t->ndim;
  for (int i = 0; i < ndim; i++) {
    int j = i - off;
    v.shape[i] = shape[i];
    if (j < 0 || t->shape[j] == 1) v.stride[i] = 0;
    else v.stride[i] = t->stride[j];
  }
  for (int i = ndim; i < LT_MAX_DIMS; i++) {
    v.shape[i] = 1;
    v.stride[i] = 0;
  }
  return v;
}

const lt_backend *lt_backend_of(const char *op, const lt_tensor *t) {
  const lt_backend *be = lt_backend_for(t->storage->device);
  if (!be) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", lt_errmsg());
    lt_error(LT_ERR_DEVICE, "%s: %s", op, msg);
  }
  return be;
}

lt_status lt_err_not_impl(const char *op, lt_device dev) {
  char b[16];
  return lt_error(LT_ERR_DEVICE, "%s: not implemented on %s", op, lt_device_str(dev, b));
}

/* ---------------------------------------------------------------- checks */

lt_status lt_check_same_device(const char *op, const lt_tensor *a, const char *aname,
                               const lt_tensor *b, const char *bname) {
  if (lt_device_eq(a->storage->device, b->storage->device)) return LT_OK;
  char da[16], db[16];
  return lt_error(LT_ERR_DEVICE,
                  "%s: expected all tensors on the same device, but %s is on %s and %s is on %s",
                  op, aname, lt_device_str(a->storage->device, da), bname,
                  lt_device_str(b->storage->device, db));
}

lt_status lt_check_float(const char *op, const lt_tensor *a, const char *aname) {
  if (lt_dtype_is_float(a->dtype)) return LT_OK;
  return lt_error(LT_ERR_DTYPE, "%s: expected a floating point tensor for %s, got %s", op, aname,
                  lt_dtype_name(a->dtype));
}

lt_status lt_check_dtype(const char *op, const lt_tensor *a, const char *aname, lt_dtype dt) {
  if (a->dtype == dt) return LT_OK;
  return lt_error(LT_ERR_DTYPE, "%s: expected %s to be %s, got %s", op, aname, lt_dtype_name(dt),
                  lt_dtype_name(a->dtype));
}

lt_status lt_check_dim(const char *op, const lt_tensor *a, const char *aname, int ndim_min,
                       int ndim_max) {
  if (a->ndim >= ndim_min && a->ndim <= ndim_max) return LT_OK;
  char b[128];
  if (ndim_min == ndim_max)
    return lt_error(LT_ERR_SHAPE, "%s: expected %s to be %d-D, got shape %s", op, aname, ndim_min,
                    lt_shape_str(a, b));
  return lt_error(LT_ERR_SHAPE, "%s: expected %s to have %d to %d dimensions, got shape %s", op,
                  aname, ndim_min, ndim_max, lt_shape_str(a, b));
}

lt_status lt_norm_dim(const char *op, int *dim, int ndim) {
  int n = ndim > 0 ? ndim : 1;
  int d = *dim < 0 ? *dim + n : *dim;
  if (d < 0 || d >= n)
    return lt_error(LT_ERR_INDEX, "%s: dimension %d out of range for a tensor of %d dimension%s",
                    op, *dim + 1, ndim, ndim == 1 ? "" : "s");
  *dim = d;
  return LT_OK;
}

lt_status lt_prepare_inplace(const char *op, lt_tensor *t) {
  if (lt_grad_enabled() && t->requires_grad && t->grad_fn == NULL)
    return lt_error(LT_ERR_AUTOGRAD,
                    "%s: a leaf tensor that requires grad is being used in an in-place "
                    "operation (wrap it in lt.no_grad() or use an out-of-place op)",
                    op);
  t->storage->version++;
  return LT_OK;
}

/* ---------------------------------------------------------------- copies */

/* dst <- src (broadcast), any dtypes and devices; no autograd, no checks of
** in-place rules. Shapes must broadcast. */
static lt_status copy_data(const char *op, lt_tensor *dst, lt_tensor *src) {
  char b1[128], b2[128];
  int off = dst->ndim - src->ndim;
  bool ok = off >= 0;
  for (int i = 0; ok && i < src->ndim; i++)
    ok = src->shape[i] == 1 || src->shape[i] == dst->shape[i + off];
  if (!ok)
    return lt_error(LT_ERR_SHAPE, "%s: source of shape %s cannot be broadcast to %s", op,
                    lt_shape_str(src, b1), lt_shape_str(dst, b2));
  if (lt_numel(dst) == 0) return LT_OK;
  lt_device dd = dst->storage->device, sd = src->storage->device;
  if (lt_device_eq(dd, sd)) {
    const lt_backend *be = lt_backend_of(op, dst);
    if (!be) return lt_errcode();
    lt_view dv = lt_view_of(dst), sv = lt_view_broadcast(src, dst->shape, dst->ndim);
    return be->copy(&dv, &sv);
  }
  /* Across devices: materialise src with dst's shape and dtype on its own
  ** device, move the bytes, then scatter into dst's layout if needed. */
  lt_tensor *tmp = NULL, *tmp2 = NULL;
  lt_status st = LT_OK;
  bool same_layout = src->dtype == dst->dtype && lt_is_contiguous(src) &&
                     src->ndim == dst->ndim && lt_numel(src) == lt_numel(dst);
  if (same_layout) {
    tmp = src;
    lt_tensor_retain(tmp);
  } else {
    tmp = lt_tensor_alloc(dst->shape, dst->ndim, dst->dtype, sd);
    if (!tmp) return lt_errcode();
    st = copy_data(op, tmp, src);
    if (st) goto done;
  }
  lt_tensor *target = dst;
  if (!lt_is_contiguous(dst)) {
    tmp2 = lt_tensor_alloc(dst->shape, dst->ndim, dst->dtype, dd);
    if (!tmp2) { st = lt_errcode(); goto done; }
    target = tmp2;
  }
  size_t nbytes = (size_t)lt_numel(dst) * lt_dtype_size(dst->dtype);
  if (sd.type == LT_DEVICE_CPU) {
    const lt_backend *be = lt_backend_of(op, dst);
    if (!be) { st = lt_errcode(); goto done; }
    st = be->memcpy_(lt_tensor_data(target), false, lt_tensor_data(tmp), true, nbytes, dd.index);
  } else if (dd.type == LT_DEVICE_CPU) {
    const lt_backend *be = lt_backend_of(op, src);
    if (!be) { st = lt_errcode(); goto done; }
    st = be->memcpy_(lt_tensor_data(target), true, lt_tensor_data(tmp), false, nbytes, sd.index);
  } else {  /* device to device (different indices) */
    const lt_backend *be = lt_backend_of(op, dst);
    if (!be) { st = lt_errcode(); goto done; }
    st = be->memcpy_(lt_tensor_data(target), false, lt_tensor_data(tmp), false, nbytes, dd.index);
  }
  if (st == LT_OK && tmp2) st = copy_data(op, dst, tmp2);
done:
  lt_tensor_release(tmp);
  lt_tensor_release(tmp2);
  return st;
}

lt_tensor *lt_cast_nograd(lt_tensor *t, lt_dtype dt) {
  if (t->dtype == dt) {
    lt_tensor_retain(t);
    return t;
  }
  lt_tensor *out = lt_tensor_alloc(t->shape, t->ndim, dt, t->storage->device);
  if (!out) return NULL;
  if (copy_data("to", out, t)) {
    lt_tensor_release(out);
    return NULL;
  }
  return out;
}

lt_status lt_copy_(lt_tensor *dst, lt_tensor *src) {
  if (lt_grad_enabled() && (src->requires_grad || (dst->requires_grad && dst->grad_fn)))
    return lt_error(LT_ERR_AUTOGRAD,
                    "copy_: copying into a tensor is not recorded by autograd; use "
                    "lt.no_grad(), detach() or an out-of-place op (lt.cat, lt.where)");
  if (lt_prepare_inplace("copy_", dst)) return lt_errcode();
  return copy_data("copy_", dst, src);
}

lt_status lt_fill_(lt_tensor *t, double value) {
  if (lt_prepare_inplace("fill_", t)) return lt_errcode();
  if (t->grad_fn && lt_grad_enabled()) {  /* history before the fill no longer matters */
    lt_node_release(t->grad_fn);
    t->grad_fn = NULL;
    t->requires_grad = false;
  }
  if (lt_numel(t) == 0) return LT_OK;
  const lt_backend *be = lt_backend_of("fill_", t);
  if (!be) return lt_errcode();
  lt_view v = lt_view_of(t);
  return be->fill(&v, value);
}

lt_status lt_zero_(lt_tensor *t) { return lt_fill_(t, 0.0); }

lt_status lt_tensor_set_(lt_tensor *t, lt_tensor *src) {
  if (t == src) return LT_OK;
  lt_storage *old = t->storage;
  src->storage->refcount++;
  t->storage = src->storage;
  t->offset = src->offset;
  t->ndim = src->ndim;
  t->dtype = src->dtype;
  memcpy(t->shape, src->shape, sizeof t->shape);
  memcpy(t->stride, src->stride, sizeof t->stride);
  storage_release(old);
  if (t->grad) {
    lt_tensor *g = t->grad;
    bool keep = g->ndim == t->ndim && lt_device_eq(g->storage->device, t->storage->device) &&
                memcmp(g->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim) == 0;
    if (!keep) {
      t->grad = NULL;
      lt_tensor_release(g);
    }
  }
  return LT_OK;
}

/* ---------------------------------------------------------------- creation */

lt_tensor *lt_empty(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev) {
  return lt_tensor_alloc(shape, ndim, dt, dev);
}

lt_tensor *lt_full(const int64_t *shape, int ndim, double value, lt_dtype dt, lt_device dev) {
  lt_tensor *t = lt_tensor_alloc(shape, ndim, dt, dev);
  if (!t) return NULL;
  if (lt_numel(t) > 0) {
    const lt_backend *be = lt_backend_of("full", t);
    lt_view v = lt_view_of(t);
    if (!be || be->fill(&v, value)) {
      lt_tensor_release(t);
      return NULL;
    }
  }
  return t;
}

lt_tensor *lt_zeros(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev) {
  return lt_full(shape, ndim, 0.0, dt, dev);
}
lt_tensor *lt_ones(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev) {
  return lt_full(shape, ndim, 1.0, dt, dev);
}
lt_tensor *lt_scalar(double value, lt_dtype dt, lt_device dev) {
  return lt_full(NULL, 0, value, dt, dev);
}

lt_tensor *lt_from_blob(void *data, lt_dtype dt, const int64_t *shape, int ndim,
                        void (*deleter)(void *ctx, void *data), void *ctx) {
  int64_t n;
  if (check_shape("from_blob", shape, ndim, &n)) return NULL;
  lt_tensor *t = header_new();
  if (!t) return NULL;
  t->storage = storage_header_new();
  if (!t->storage) {
    tensor_header_free(t);
    lt_error(LT_ERR_MEMORY, "out of host memory");
    return NULL;
  }
  t->storage->refcount = 1;
  t->storage->data = data;
  t->storage->nbytes = (size_t)n * lt_dtype_size(dt);
  t->storage->device = lt_cpu();
  t->storage->owns_data = false;
  t->storage->deleter = deleter;
  t->storage->deleter_ctx = ctx;
  t->ndim = ndim;
  t->dtype = dt;
  int64_t st = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    t->shape[i] = shape[i];
    t->stride[i] = st;
    st *= shape[i] ? shape[i] : 1;
  }
  return t;
}

lt_tensor *lt_from_data(const void *data, lt_dtype src_dt, const int64_t *shape, int ndim,
                        lt_dtype dt, lt_device dev) {
  lt_tensor *src = lt_from_blob((void *)data, src_dt, shape, ndim, NULL, NULL);
  if (!src) return NULL;
  lt_tensor *t = lt_tensor_alloc(shape, ndim, dt, dev);
  if (!t || copy_data("tensor", t, src)) {
    lt_tensor_release(t);
    lt_tensor_release(src);
    return NULL;
  }
  lt_tensor_release(src);
  return t;
}

static lt_tensor *from_doubles(double *buf, int64_t n, const int64_t *shape, int ndim,
                               lt_dtype dt, lt_device dev) {
  (void)n;
  lt_tensor *t = lt_from_data(buf, LT_DTYPE_F64, shape, ndim, dt, dev);
  free(buf);
  return t;
}

lt_tensor *lt_arange(double start, double end, double step, lt_dtype dt, lt_device dev) {
  if (step == 0 || !isfinite(start) || !isfinite(end) || !isfinite(step)) {
    lt_error(LT_ERR_ARG, "arange: step must be non-zero and bounds finite (got %g, %g, %g)",
             start, end, step);
    return NULL;
  }
  if ((end - start) / step < 0) {
    lt_error(LT_ERR_ARG, "arange: upper bound and step are inconsistent (start %g, end %g, step %g)",
             start, end, step);
    return NULL;
  }
  double nd = ceil((end - start) / step);
  if (nd > 1e12) {
    lt_error(LT_ERR_ARG, "arange: too many elements (%g)", nd);
    return NULL;
  }
  int64_t n = (int64_t)nd;
  double *buf = malloc(sizeof(double) * (size_t)(n ? n : 1));
  if (!buf) {
    lt_error(LT_ERR_MEMORY, "arange: out of host memory");
    return NULL;
  }
  for (int64_t i = 0; i < n; i++) buf[i] = start + (double)i * step;
  return from_doubles(buf, n, &n, 1, dt, dev);
}

lt_tensor *lt_linspace(double start, double end, int64_t steps, lt_dtype dt, lt_device dev) {
  if (steps < 0 || steps > (int64_t)1e12) {
    lt_error(LT_ERR_ARG, "linspace: number of steps must be non-negative, got %lld",
             (long long)steps);
    return NULL;
  }
  double *buf = malloc(sizeof(double) * (size_t)(steps ? steps : 1));
  if (!buf) {
    lt_error(LT_ERR_MEMORY, "linspace: out of host memory");
    return NULL;
  }
  double step = steps > 1 ? (end - start) / (double)(steps - 1) : 0;
  int64_t half = steps / 2;
  for (int64_t i = 0; i < steps; i++)  /* symmetric as PyTorch: from both ends */
    buf[i] = i < half ? start + step * (double)i : end - step * (double)(steps - 1 - i);
  return from_doubles(buf, steps, &steps, 1, dt, dev);
}

lt_tensor *lt_eye(int64_t n, int64_t m, lt_dtype dt, lt_device dev) {
  if (m < 0) m = n;
  if (n < 0 || n > 100000 || m > 100000) {
    lt_error(LT_ERR_ARG, "eye: bad size %lld x %lld", (long long)n, (long long)m);
    return NULL;
  }
  double *buf = calloc((size_t)(n * m > 0 ? n * m : 1), sizeof(double));
  if (!buf) {
    lt_error(LT_ERR_MEMORY, "eye: out of host memory");
    return NULL;
  }
  for (int64_t i = 0; i < n && i < m; i++) buf[i * m + i] = 1;
  int64_t shape[2] = {n, m};
  return from_doubles(buf, n * m, shape, 2, dt, dev);
}

/* ---------------------------------------------------------------- differentiable copies */

static lt_status clone_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  (void)n;
  lt_tensor_retain(gout[0]);
  gin[0] = gout[0];
  return LT_OK;
}

static lt_status to_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  gin[0] = lt_to(gout[0], n->meta[0].dtype, n->meta[0].device);
  return gin[0] ? LT_OK : lt_errcode();
}

lt_tensor *lt_clone(lt_tensor *t) {
  lt_tensor *out = lt_tensor_alloc(t->shape, t->ndim, t->dtype, t->storage->device);
  if (!out) return NULL;
  if (copy_data("clone", out, t)) {
    lt_tensor_release(out);
    return NULL;
  }
  if (lt_any_requires_grad(&t, 1) && !lt_record("CloneBackward", clone_backward, &t, 1, out) &&
      lt_errcode() == LT_ERR_MEMORY) {
    lt_tensor_release(out);
    return NULL;
  }
  return out;
}

lt_tensor *lt_contiguous(lt_tensor *t) {
  if (lt_is_contiguous(t)) {
    lt_tensor_retain(t);
    return t;
  }
  return lt_clone(t);
}

lt_tensor *lt_to(lt_tensor *t, lt_dtype dt, lt_device dev) {
  if (t->dtype == dt && lt_device_eq(t->storage->device, dev)) {
    lt_tensor_retain(t);
    return t;
  }
  lt_tensor *out = lt_tensor_alloc(t->shape, t->ndim, dt, dev);
  if (!out) return NULL;
  if (copy_data("to", out, t)) {
    lt_tensor_release(out);
    return NULL;
  }
  if (lt_dtype_is_float(dt) && lt_any_requires_grad(&t, 1)) {
    lt_record("ToCopyBackward", to_backward, &t, 1, out);
  }
  return out;
}

lt_tensor *lt_detach(lt_tensor *t) {
  return lt_tensor_view_of(t, t->shape, t->stride, t->ndim, t->offset);
}

/* ---------------------------------------------------------------- element access */

static double read_host(const void *p, lt_dtype dt) {
  switch (dt) {
    case LT_DTYPE_F32: return *(const float *)p;
    case LT_DTYPE_F64: return *(const double *)p;
    case LT_DTYPE_BF16: return lt_bf16_to_double(*(const uint16_t *)p);
    case LT_DTYPE_F16: return lt_half_to_float(*(const uint16_t *)p);
    case LT_DTYPE_I64: return (double)*(const int64_t *)p;
    case LT_DTYPE_I32: return *(const int32_t *)p;
    case LT_DTYPE_U8: return *(const uint8_t *)p;
    case LT_DTYPE_BOOL: return *(const uint8_t *)p ? 1 : 0;
    default: return 0;
  }
}

lt_status lt_get_flat(lt_tensor *t, int64_t i, double *out) {
  int64_t n = lt_numel(t);
  if (i < 0 || i >= n)
    return lt_error(LT_ERR_INDEX, "item: index %lld out of range for %lld elements",
                    (long long)i, (long long)n);
  int64_t off = t->offset, rem = i;
  for (int d = t->ndim - 1; d >= 0; d--) {
    off += (rem % t->shape[d]) * t->stride[d];
    rem /= t->shape[d];
  }
  size_t sz = lt_dtype_size(t->dtype);
  const char *p = (const char *)t->storage->data + off * (int64_t)sz;
  if (t->storage->device.type == LT_DEVICE_CPU) {
    *out = read_host(p, t->dtype);
    return LT_OK;
  }
  const lt_backend *be = lt_backend_of("item", t);
  if (!be) return lt_errcode();
  unsigned char buf[8];
  lt_status st = be->memcpy_(buf, true, p, false, sz, t->storage->device.index);
  if (st) return st;
  *out = read_host(buf, t->dtype);
  return LT_OK;
}

lt_status lt_item(lt_tensor *t, double *out) {
  if (lt_numel(t) != 1) {
    char b[128];
    return lt_error(LT_ERR_SHAPE,
                    "item: a tensor with %lld elements (shape %s) cannot be converted to a number",
                    (long long)lt_numel(t), lt_shape_str(t, b));
  }
  return lt_get_flat(t, 0, out);
}

lt_status lt_to_host(lt_tensor *t, void *out, lt_dtype dt) {
  if (lt_numel(t) == 0) return LT_OK;
  lt_tensor *blob = lt_from_blob(out, dt, t->shape, t->ndim, NULL, NULL);
  if (!blob) return lt_errcode();
  lt_status st = copy_data("to_host", blob, t);
  lt_tensor_release(blob);
  return st;
}
