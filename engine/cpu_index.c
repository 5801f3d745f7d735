/*
** cpu_index.c - the CPU backend's indexing kernels: index_select, index_add,
** gather, scatter (replace/add, view or scalar source) and check_index, on
** strided views of any dtype (elements moved by itemsize). Accumulation is
** deterministic: one thread owns each output line and walks the index in
** order. Shapes are trusted (the front-ends check them); index values are
** re-checked here so a bad index is an error, never a stray write.
*/
#include <string.h>
#include "cpu_kernels.h"

#define LT_INDEX_CHUNK 4096

/* ---------------------------------------------------------------- n-d walker */

/* Row-major walk over `shape` carrying up to 3 element offsets. */
typedef struct {
  int nd, nv;
  int64_t shape[LT_MAX_DIMS];
  int64_t stride[3][LT_MAX_DIMS];
  int64_t coord[LT_MAX_DIMS];
  int64_t off[3];
} nd_iter;

static int64_t shape_numel(const int64_t *shape, int nd) {
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= shape[d];
  return n;
}

/* Positions the walker at row-major linear position `lin`. */
static void it_seek(nd_iter *it, int64_t lin) {
  for (int v = 0; v < it->nv; v++) it->off[v] = 0;
  for (int d = it->nd - 1; d >= 0; d--) {
    int64_t s = it->shape[d] > 0 ? it->shape[d] : 1;
    it->coord[d] = lin % s;
    lin /= s;
    for (int v = 0; v < it->nv; v++) it->off[v] += it->coord[d] * it->stride[v][d];
  }
}

static inline void it_next(nd_iter *it) {
  for (int d = it->nd - 1; d >= 0; d--) {
    if (++it->coord[d] < it->shape[d]) {
      for (int v = 0; v < it->nv; v++) it->off[v] += it->stride[v][d];
      return;
    }
    for (int v = 0; v < it->nv; v++) it->off[v] -= (it->shape[d] - 1) * it->stride[v][d];
    it->coord[d] = 0;
  }
}

/* ---------------------------------------------------------------- elements */

static inline void copy_elem(char *dst, const char *src, size_t sz) {
  switch (sz) {
    case 1: *dst = *src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, sz);
  }
}

static inline double load_double(const char *p, lt_dtype dt) {
  switch (dt) {
    case LT_DTYPE_F32: { float v; memcpy(&v, p, 4); return v; }
    case LT_DTYPE_F64: { double v; memcpy(&v, p, 8); return v; }
    case LT_DTYPE_BF16: { uint16_t h; memcpy(&h, p, 2); return lt_bf16_to_double(h); }
    case LT_DTYPE_F16: { uint16_t h; memcpy(&h, p, 2); return lt_half_to_float(h); }
    case LT_DTYPE_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case LT_DTYPE_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case LT_DTYPE_U8: return (uint8_t)*p;
    case LT_DTYPE_BOOL: return *p != 0;
    default: return 0;
  }
}

static inline void store_double(char *p, lt_dtype dt, double x) {
  switch (dt) {
    case LT_DTYPE_F32: { float v = (float)x; memcpy(p, &v, 4); break; }
    case LT_DTYPE_F64: memcpy(p, &x, 8); break;
    case LT_DTYPE_BF16: { uint16_t h = lt_float_to_bf16((float)x); memcpy(p, &h, 2); break; }
    case LT_DTYPE_F16: { uint16_t h = lt_float_to_half((float)x); memcpy(p, &h, 2); break; }
    case LT_DTYPE_I64: { int64_t v = (int64_t)x; memcpy(p, &v, 8); break; }
    case LT_DTYPE_I32: { int32_t v = (int32_t)x; memcpy(p, &v, 4); break; }
    case LT_DTYPE_U8: *(uint8_t *)p = (uint8_t)(int64_t)x; break;
    case LT_DTYPE_BOOL: *p = x != 0; break;
    default: break;
  }
}

/* *dst += *src in dtype dt (integers wrap as in C, bool is logical or). */
static inline void add_elem(char *dst, const char *src, lt_dtype dt) {
  switch (dt) {
    case LT_DTYPE_F32: { float a, b; memcpy(&a, dst, 4); memcpy(&b, src, 4); a += b; memcpy(dst, &a, 4); break; }
    case LT_DTYPE_F64: { double a, b; memcpy(&a, dst, 8); memcpy(&b, src, 8); a += b; memcpy(dst, &a, 8); break; }
    case LT_DTYPE_I64: { uint64_t a, b; memcpy(&a, dst, 8); memcpy(&b, src, 8); a += b; memcpy(dst, &a, 8); break; }
    case LT_DTYPE_I32: { uint32_t a, b; memcpy(&a, dst, 4); memcpy(&b, src, 4); a += b; memcpy(dst, &a, 4); break; }
    case LT_DTYPE_U8: *(uint8_t *)dst = (uint8_t)(*(uint8_t *)dst + *(const uint8_t *)src); break;
    case LT_DTYPE_BOOL: *dst = (*dst || *src); break;
    default: store_double(dst, dt, load_double(dst, dt) + load_double(src, dt)); break;
  }
}

/* ---------------------------------------------------------------- index checks */

static inline int64_t index_at(const lt_view *index, const nd_iter *it) {
  return ((const int64_t *)index->data)[it->off[0]];
}

/* First value of `index` (row-major) outside [base, base + size), allowing
** `ignore`; returns false and the value in *bad when there is one. */
static bool find_bad_index(const lt_view *index, int64_t size, int64_t base, bool has_ignore,
                           int64_t ignore, int64_t *bad) {
  nd_iter it = {.nd = index->ndim, .nv = 1};
  memcpy(it.shape, index->shape, sizeof it.shape);
  memcpy(it.stride[0], index->stride, sizeof it.stride[0]);
  int64_t n = shape_numel(index->shape, index->ndim);
  if (n == 0) return true;
  it_seek(&it, 0);
  for (int64_t e = 0; e < n; e++, it_next(&it)) {
    int64_t v = index_at(index, &it);
    if (has_ignore && v == ignore) continue;
    /* v - base may overflow: compare in a way that cannot */
    if ((base > 0 && v < INT64_MIN + base) || (base < 0 && v > INT64_MAX + base) ||
        v - base < 0 || v - base >= size) {
      *bad = v;
      return false;
    }
  }
  return true;
}

static lt_status check_or_error(const char *op, const lt_view *index, int64_t size,
                                int64_t base) {
  if (index->dtype != LT_DTYPE_I64)
    return lt_error(LT_ERR_DTYPE, "%s: index must be int64, got %s", op,
                    lt_dtype_name(index->dtype));
  int64_t bad;
  if (!find_bad_index(index, size, base, false, 0, &bad))
    return lt_error(LT_ERR_INDEX, "%s: index %lld is out of range for size %lld", op,
                    (long long)bad, (long long)size);
  return LT_OK;
}

lt_status lt_cpu_check_index(const lt_view *index, int64_t size, int64_t base, bool has_ignore,
                             int64_t ignore) {
  if (index->dtype != LT_DTYPE_I64)
    return lt_error(LT_ERR_DTYPE, "index must be int64, got %s", lt_dtype_name(index->dtype));
  int64_t bad;
  if (!find_bad_index(index, size, base, has_ignore, ignore, &bad))
    return lt_error(LT_ERR_INDEX, "index %lld is out of range for size %lld", (long long)bad,
                    (long long)size);
  return LT_OK;
}

/* ---------------------------------------------------------------- kernels */

/* A 0-dim index behaves as a 1-element vector. */
static void index_vec(const lt_view *index, int64_t *len, int64_t *stride) {
  *len = index->ndim ? index->shape[0] : 1;
  *stride = index->ndim ? index->stride[0] : 0;
}

/* True when v is row-major contiguous (size-1 dims may have any stride). */
static bool view_contiguous(const lt_view *v) {
  int64_t st = 1;
  for (int d = v->ndim - 1; d >= 0; d--) {
    if (v->shape[d] != 1 && v->stride[d] != st) return false;
    st *= v->shape[d];
  }
  return true;
}

/* index_select on contiguous in/out: one memcpy per selected slice (the
** DataLoader's batch gather). Indices already checked. */
static void index_select_rows(const lt_view *out, const lt_view *in, int dim, const int64_t *ix,
                              int64_t istr, int64_t base) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < dim; d++) outer *= out->shape[d];
  for (int d = dim + 1; d < out->ndim; d++) inner *= out->shape[d];
  const int64_t len = out->shape[dim], insize = in->shape[dim];
  const size_t sz = lt_dtype_size(out->dtype), row = (size_t)inner * sz;
  char *po = out->data;
  const char *pi = in->data;
  const int64_t rows = outer * len;
#pragma omp parallel for if (rows * inner > LT_CPU_PARALLEL_GRAIN && rows > 1)
  for (int64_t r = 0; r < rows; r++) {
    int64_t o = r / len, j = r % len;
    int64_t pos = ix[j * istr] - base;
    memcpy(po + (size_t)r * row, pi + (size_t)(o * insize + pos) * row, row);
  }
}

lt_status lt_cpu_index_select(const lt_view *out, const lt_view *in, int dim,
                              const lt_view *index, int64_t base) {
  if (dim < 0 || dim >= (in->ndim ? in->ndim : 1))
    return lt_error(LT_ERR_INDEX, "index_select: dim %d out of range", dim);
  int64_t insize = in->ndim ? in->shape[dim] : 1;
  lt_status st = check_or_error("index_select", index, insize, base);
  if (st) return st;
  int64_t ilen, istr;
  index_vec(index, &ilen, &istr);
  const int64_t *ix = index->data;
  if (out->ndim >= 1 && in->ndim == out->ndim && view_contiguous(out) && view_contiguous(in)) {
    index_select_rows(out, in, dim, ix, istr, base);
    return LT_OK;
  }
  size_t sz = lt_dtype_size(out->dtype);
  int nd = out->ndim;
  nd_iter it0 = {.nd = nd, .nv = 2};
  memcpy(it0.shape, out->shape, sizeof it0.shape);
  memcpy(it0.stride[0], out->stride, sizeof it0.stride[0]);
  memcpy(it0.stride[1], in->stride, sizeof it0.stride[1]);
  int64_t instr = in->ndim ? in->stride[dim] : 0;
  if (nd) it0.stride[1][dim] = 0;
  int64_t n = shape_numel(out->shape, nd), nch = (n + LT_INDEX_CHUNK - 1) / LT_INDEX_CHUNK;
  char *po = out->data;
  const char *pi = in->data;
#pragma omp parallel for if (n > LT_CPU_PARALLEL_GRAIN)
  for (int64_t ch = 0; ch < nch; ch++) {
    nd_iter it = it0;
    int64_t e0 = ch * LT_INDEX_CHUNK, e1 = e0 + LT_INDEX_CHUNK < n ? e0 + LT_INDEX_CHUNK : n;
    it_seek(&it, e0);
    for (int64_t e = e0; e < e1; e++, it_next(&it)) {
      int64_t j = nd ? it.coord[dim] : 0;
      int64_t pos = ix[j * istr] - base;
      copy_elem(po + it.off[0] * sz, pi + (it.off[1] + pos * instr) * sz, sz);
    }
  }
  (void)ilen;
  return LT_OK;
}

lt_status lt_cpu_index_add(const lt_view *out, int dim, const lt_view *index, const lt_view *src,
                           int64_t base) {
  if (dim < 0 || dim >= (out->ndim ? out->ndim : 1))
    return lt_error(LT_ERR_INDEX, "index_add: dim %d out of range", dim);
  int64_t osize = out->ndim ? out->shape[dim] : 1;
  lt_status st = check_or_error("index_add", index, osize, base);
  if (st) return st;
  int64_t ilen, istr;
  index_vec(index, &ilen, &istr);
  const int64_t *ix = index->data;
  size_t sz = lt_dtype_size(out->dtype);
  lt_dtype dt = out->dtype;
  int nd = src->ndim;
  /* walk src with dim collapsed; each line along dim is one thread's */
  nd_iter it0 = {.nd = nd, .nv = 2};
  memcpy(it0.shape, src->shape, sizeof it0.shape);
  memcpy(it0.stride[0], out->stride, sizeof it0.stride[0]);
  memcpy(it0.stride[1], src->stride, sizeof it0.stride[1]);
  int64_t ostr = out->ndim ? out->stride[dim] : 0, sstr = nd ? src->stride[dim] : 0;
  int64_t len = nd ? src->shape[dim] : 1;
  if (len > ilen) len = ilen;
  if (nd) it0.shape[dim] = 1;
  int64_t n = shape_numel(it0.shape, nd), nch = (n + LT_INDEX_CHUNK - 1) / LT_INDEX_CHUNK;
  char *po = out->data;
  const char *ps = src->data;
#pragma omp parallel for if (n * len > LT_CPU_PARALLEL_GRAIN)
  for (int64_t ch = 0; ch < nch; ch++) {
    nd_iter it = it0;
    int64_t e0 = ch * LT_INDEX_CHUNK, e1 = e0 + LT_INDEX_CHUNK < n ? e0 + LT_INDEX_CHUNK : n;
    it_seek(&it, e0);
    for (int64_t e = e0; e < e1; e++, it_next(&it))
      for (int64_t j = 0; j < len; j++) {
        int64_t pos = ix[j * istr] - base;
        add_elem(po + (it.off[0] + pos * ostr) * sz, ps + (it.off[1] + j * sstr) * sz, dt);
      }
  }
  return LT_OK;
}

lt_status lt_cpu_gather(const lt_view *out, const lt_view *in, int dim, const lt_view *index,
                        int64_t base) {
  if (dim < 0 || dim >= (in->ndim ? in->ndim : 1))
    return lt_error(LT_ERR_INDEX, "gather: dim %d out of range", dim);
  int64_t insize = in->ndim ? in->shape[dim] : 1;
  lt_status st = check_or_error("gather", index, insize, base);
  if (st) return st;
  size_t sz = lt_dtype_size(out->dtype);
  int nd = out->ndim;
  nd_iter it0 = {.nd = nd, .nv = 3};
  memcpy(it0.shape, out->shape, sizeof it0.shape);
  memcpy(it0.stride[0], out->stride, sizeof it0.stride[0]);
  memcpy(it0.stride[1], in->stride, sizeof it0.stride[1]);
  memcpy(it0.stride[2], index->stride, sizeof it0.stride[2]);
  int64_t instr = in->ndim ? in->stride[dim] : 0;
  if (nd) it0.stride[1][dim] = 0;
  int64_t n = shape_numel(out->shape, nd), nch = (n + LT_INDEX_CHUNK - 1) / LT_INDEX_CHUNK;
  char *po = out->data;
  const char *pi = in->data;
  const int64_t *ix = index->data;
#pragma omp parallel for if (n > LT_CPU_PARALLEL_GRAIN)
  for (int64_t ch = 0; ch < nch; ch++) {
    nd_iter it = it0;
    int64_t e0 = ch * LT_INDEX_CHUNK, e1 = e0 + LT_INDEX_CHUNK < n ? e0 + LT_INDEX_CHUNK : n;
    it_seek(&it, e0);
    for (int64_t e = e0; e < e1; e++, it_next(&it)) {
      int64_t pos = ix[it.off[2]] - base;
      copy_elem(po + it.off[0] * sz, pi + (it.off[1] + pos * instr) * sz, sz);
    }
  }
  return LT_OK;
}

lt_status lt_cpu_scatter(const lt_view *out, int dim, const lt_view *index, const lt_view *src,
                         double value, bool accumulate, int64_t base) {
  if (dim < 0 || dim >= (out->ndim ? out->ndim : 1))
    return lt_error(LT_ERR_INDEX, "scatter: dim %d out of range", dim);
  int64_t osize = out->ndim ? out->shape[dim] : 1;
  lt_status st = check_or_error("scatter", index, osize, base);
  if (st) return st;
  lt_dtype dt = out->dtype;
  size_t sz = lt_dtype_size(dt);
  char vbuf[8] = {0};
  store_double(vbuf, dt, value);
  int nd = index->ndim;
  /* walk index with dim collapsed; the line along dim is walked in order */
  nd_iter it0 = {.nd = nd, .nv = 3};
  memcpy(it0.shape, index->shape, sizeof it0.shape);
  memcpy(it0.stride[0], out->stride, sizeof it0.stride[0]);
  memcpy(it0.stride[1], index->stride, sizeof it0.stride[1]);
  if (src) memcpy(it0.stride[2], src->stride, sizeof it0.stride[2]);
  int64_t ostr = out->ndim ? out->stride[dim] : 0, xstr = nd ? index->stride[dim] : 0;
  int64_t sstr = src && src->ndim ? src->stride[dim] : 0;
  int64_t len = nd ? index->shape[dim] : 1;
  if (nd) {
    it0.shape[dim] = 1;
    it0.stride[0][dim] = 0;  /* out position along dim comes from the index */
  }
  int64_t n = shape_numel(it0.shape, nd), nch = (n + LT_INDEX_CHUNK - 1) / LT_INDEX_CHUNK;
  char *po = out->data;
  const char *ps = src ? src->data : NULL;
  const int64_t *ix = index->data;
#pragma omp parallel for if (n * len > LT_CPU_PARALLEL_GRAIN)
  for (int64_t ch = 0; ch < nch; ch++) {
    nd_iter it = it0;
    int64_t e0 = ch * LT_INDEX_CHUNK, e1 = e0 + LT_INDEX_CHUNK < n ? e0 + LT_INDEX_CHUNK : n;
    it_seek(&it, e0);
    for (int64_t e = e0; e < e1; e++, it_next(&it))
      for (int64_t j = 0; j < len; j++) {
        int64_t pos = ix[it.off[1] + j * xstr] - base;
        char *d = po + (it.off[0] + pos * ostr) * sz;
        const char *s = ps ? ps + (it.off[2] + j * sstr) * sz : vbuf;
        if (accumulate) add_elem(d, s, dt);
        else copy_elem(d, s, sz);
      }
  }
  return LT_OK;
}
