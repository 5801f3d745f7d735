/*
** cuda_index.cu - index_select, index_add, gather, scatter and check_index
** on strided views of any dtype. index_add uses atomics for float/int
** dtypes unless lt_cuda_set_deterministic(1); the deterministic path (and
** scatter always) gives each thread one line along dim, walked in index
** order, which is the CPU's order too. Kernels never read or write out of
** bounds: a bad index is skipped (reads give 0); check_index is the entry
** that reports it (it synchronizes to copy the flag back).
*/
#include <type_traits>
#include "cuda_kernels.cuh"

/* Up to 3 views over one shape; `dim` is handled by the caller. */
struct idx_geo {
  int ndim, dim;
  int64_t shape[LT_MAX_DIMS];
  int64_t st[3][LT_MAX_DIMS];
};

static idx_geo idx_geo_make(const int64_t *shape, int ndim, int dim, const lt_view *v0,
                            const lt_view *v1, const lt_view *v2) {
  idx_geo g;
  const lt_view *v[3] = {v0, v1, v2};
  g.ndim = ndim;
  g.dim = dim;
  for (int d = 0; d < LT_MAX_DIMS; d++) {
    g.shape[d] = d < ndim ? shape[d] : 1;
    for (int k = 0; k < 3; k++)
      g.st[k][d] = (d < ndim && v[k] && d < v[k]->ndim) ? v[k]->stride[d] : 0;
  }
  return g;
}

/* Offsets of linear index i in the 3 views, and the coordinate along dim. */
__device__ inline int64_t idx_offsets(const idx_geo &g, int64_t i, int64_t *off) {
  off[0] = off[1] = off[2] = 0;
  int64_t cd = 0;
  for (int d = g.ndim - 1; d >= 0; d--) {
    int64_t s = g.shape[d];
    int64_t c = i % s;
    i /= s;
    if (d == g.dim) cd = c;
    off[0] += c * g.st[0][d];
    off[1] += c * g.st[1][d];
    off[2] += c * g.st[2][d];
  }
  return cd;
}

/* ---------------------------------------------------------------- index_select */

/* views: 0 out, 1 in (stride along dim zeroed) */
template <typename T>
__global__ void index_select_kernel(T *out, const T *in, const int64_t *ix, int64_t ixstr,
                                    int64_t instr, int64_t insize, int64_t base, idx_geo g,
                                    int64_t n) {
  LT_GRID_LOOP(i, n) {
    int64_t off[3];
    int64_t j = idx_offsets(g, i, off);
    int64_t pos = ix[j * ixstr] - base;
    out[off[0]] = (pos >= 0 && pos < insize) ? in[off[1] + pos * instr] : lt_to<T>(0);
  }
}

static void index_vec(const lt_view *index, int64_t *len, int64_t *stride) {
  *len = index->ndim ? index->shape[0] : 1;
  *stride = index->ndim ? index->stride[0] : 0;
}

lt_status lt_cuda_index_select(const lt_view *out, const lt_view *in, int dim,
                               const lt_view *index, int64_t base) {
  if (index->dtype != LT_DTYPE_I64)
    return lt_cuda_err(LT_ERR_DTYPE, "cuda index_select: index must be int64");
  if (dim < 0 || dim >= (in->ndim ? in->ndim : 1))
    return lt_cuda_err(LT_ERR_INDEX, "cuda index_select: dim %d out of range", dim);
  int64_t n = lt_numel_of(out->shape, out->ndim);
  if (n == 0) return LT_OK;
  int nd = out->ndim;
  idx_geo g = idx_geo_make(out->shape, nd, nd ? dim : -1, out, in, NULL);
  int64_t instr = in->ndim ? in->stride[dim] : 0, insize = in->ndim ? in->shape[dim] : 1;
  if (nd) g.st[1][dim] = 0;
  int64_t ilen, istr;
  index_vec(index, &ilen, &istr);
  LT_DISPATCH_ALL(out->dtype, "index_select",
                  index_select_kernel<scalar_t><<<lt_blocks(n), LT_THREADS, 0, lt_cuda_stream>>>(
                      (scalar_t *)out->data, (const scalar_t *)in->data,
                      (const int64_t *)index->data, istr, instr, insize, base, g, n));
  LT_CUDA_LAUNCHED("index_select");
  return LT_OK;
}

/* ---------------------------------------------------------------- accumulation helpers */

template <typename T> __device__ inline void add_to(T *p, T v) {
  typedef typename lt_acc<T>::type A;
  if constexpr (std::is_same<T, bool>::value) *p = *p || v;
  else *p = lt_to<T>(lt_to<A>(*p) + lt_to<A>(v));
}

template <typename T> struct has_atomic { static const bool value = false; };
template <> struct has_atomic<float> { static const bool value = true; };
template <> struct has_atomic<double> { static const bool value = true; };
template <> struct has_atomic<bf16_t> { static const bool value = true; };
template <> struct has_atomic<f16_t> { static const bool value = true; };
template <> struct has_atomic<int64_t> { static const bool value = true; };
template <> struct has_atomic<int32_t> { static const bool value = true; };

template <typename T> __device__ inline void atomic_add_to(T *p, T v) {
  if constexpr (std::is_same<T, int64_t>::value)
    atomicAdd((unsigned long long *)p, (unsigned long long)v);
  else if constexpr (has_atomic<T>::value)
    atomicAdd(p, v);
  else
    add_to<T>(p, v);
}

/* ---------------------------------------------------------------- index_add */

/* atomic: one thread per src element. views: 0 out (dim stride zeroed), 1 src */
template <typename T>
__global__ void index_add_atomic_kernel(T *out, const T *src, const int64_t *ix, int64_t ixstr,
                                        int64_t ostr, int64_t osize, int64_t base, idx_geo g,
                                        int64_t n) {
  LT_GRID_LOOP(i, n) {
    int64_t off[3];
    int64_t j = idx_offsets(g, i, off);
    int64_t pos = ix[j * ixstr] - base;
    if (pos >= 0 && pos < osize) atomic_add_to<T>(out + off[0] + pos * ostr, src[off[1]]);
  }
}

/* deterministic: one thread per line along dim (g has shape[dim] == 1) */
template <typename T>
__global__ void index_add_serial_kernel(T *out, const T *src, const int64_t *ix, int64_t ixstr,
                                        int64_t ostr, int64_t sstr, int64_t osize, int64_t len,
                                        int64_t base, idx_geo g, int64_t n) {
  LT_GRID_LOOP(i, n) {
    int64_t off[3];
    idx_offsets(g, i, off);
    for (int64_t j = 0; j < len; j++) {
      int64_t pos = ix[j * ixstr] - base;
      if (pos >= 0 && pos < osize) add_to<T>(out + off[0] + pos * ostr, src[off[1] + j * sstr]);
    }
  }
}

lt_status lt_cuda_index_add(const lt_view *out, int dim, const lt_view *index, const lt_view *src,
                            int64_t base) {
  if (index->dtype != LT_DTYPE_I64)
    return lt_cuda_err(LT_ERR_DTYPE, "cuda index_add: index must be int64");
  if (dim < 0 || dim >= (out->ndim ? out->ndim : 1))
    return lt_cuda_err(LT_ERR_INDEX, "cuda index_add: dim %d out of range", dim);
  int nd = src->ndim;
  int64_t ilen, istr;
  index_vec(index, &ilen, &istr);
  int64_t len = nd ? src->shape[dim] : 1;
  if (len > ilen) len = ilen;
  int64_t ostr = out->ndim ? out->stride[dim] : 0, osize = out->ndim ? out->shape[dim] : 1;
  int64_t sstr = nd ? src->stride[dim] : 0;
  int64_t n = lt_numel_of(src->shape, nd);
  if (n == 0 || len == 0) return LT_OK;
  bool fl = lt_cuda_is_float(out->dtype);
  bool atomic = out->dtype != LT_DTYPE_U8 && out->dtype != LT_DTYPE_BOOL &&
                !(fl && lt_cuda_determ);
  if (atomic) {
    int64_t shp[LT_MAX_DIMS];
    for (int d = 0; d < nd; d++) shp[d] = src->shape[d];
    if (nd) shp[dim] = len;
    n = lt_numel_of(shp, nd);
    idx_geo g = idx_geo_make(shp, nd, nd ? dim : -1, out, src, NULL);
    if (nd) g.st[0][dim] = 0;
    LT_DISPATCH_ALL(out->dtype, "index_add",
                    index_add_atomic_kernel<scalar_t><<<lt_blocks(n), LT_THREADS, 0, lt_cuda_stream>>>(
                        (scalar_t *)out->data, (const scalar_t *)src->data,
                        (const int64_t *)index->data, istr, ostr, osize, base, g, n));
  } else {
    int64_t shp[LT_MAX_DIMS];
    for (int d = 0; d < nd; d++) shp[d] = src->shape[d];
    if (nd) shp[dim] = 1;
    n = lt_numel_of(shp, nd);
    idx_geo g = idx_geo_make(shp, nd, nd ? dim : -1, out, src, NULL);
    LT_DISPATCH_ALL(out->dtype, "index_add",
                    index_add_serial_kernel<scalar_t><<<lt_blocks(n), LT_THREADS, 0, lt_cuda_stream>>>(
                        (scalar_t *)out->data, (const scalar_t *)src->data,
                        (const int64_t *)index->data, istr, ostr, sstr, osize, len, base, g, n));
  }
  LT_CUDA_LAUNCHED("index_add");
  return LT_OK;
}

/* ---------------------------------------------------------------- gather */

/* views: 0 out, 1 in (dim stride zeroed), 2 index */
template <typename T>
__global__ void gather_kernel(T *out, const T *in, const int64_t *ix, int64_t instr,
                              int64_t insize, int64_t base, idx_geo g, int64_t n) {
  LT_GRID_LOOP(i, n) {
    int64_t off[3];
    idx_offsets(g, i, off);
    int64_t pos = ix[off[2]] - base;
    out[off[0]] = (pos >= 0 && pos < insize) ? in[off[1] + pos * instr] : lt_to<T>(0);
  }
}

lt_status lt_cuda_gather(const lt_view *out, const lt_view *in, int dim, const lt_view *index,
                         int64_t base) {
  if (index->dtype != LT_DTYPE_I64)
    return lt_cuda_err(LT_ERR_DTYPE, "cuda gather: index must be int64");
  if (dim < 0 || dim >= (in->ndim ? in->ndim : 1))
    return lt_cuda_err(LT_ERR_INDEX, "cuda gather: dim %d out of range", dim);
  int64_t n = lt_numel_of(out->shape, out->ndim);
  if (n == 0) return LT_OK;
  int nd = out->ndim;
  idx_geo g = idx_geo_make(out->shape, nd, nd ? dim : -1, out, in, index);
  int64_t instr = in->ndim ? in->stride[dim] : 0, insize = in->ndim ? in->shape[dim] : 1;
  if (nd) g.st[1][dim] = 0;
  LT_DISPATCH_ALL(out->dtype, "gather",
                  gather_kernel<scalar_t><<<lt_blocks(n), LT_THREADS, 0, lt_cuda_stream>>>(
                      (scalar_t *)out->data, (const scalar_t *)in->data,
                      (const int64_t *)index->data, instr, insize, base, g, n));
  LT_CUDA_LAUNCHED("gather");
  return LT_OK;
}

/* ---------------------------------------------------------------- scatter */

/* one thread per line of index along dim; views: 0 out (dim zeroed), 1 index, 2 src */
template <typename T>
__global__ void scatter_kernel(T *out, const int64_t *ix, const T *src, T value, bool acc,
                               int64_t ostr, int64_t xstr, int64_t sstr, int64_t osize,
                               int64_t len, int64_t base, idx_geo g, int64_t n) {
  LT_GRID_LOOP(i, n) {
    int64_t off[3];
    idx_offsets(g, i, off);
    for (int64_t j = 0; j < len; j++) {
      int64_t pos = ix[off[1] + j * xstr] - base;
      if (pos < 0 || pos >= osize) continue;
      T v = src ? src[off[2] + j * sstr] : value;
      T *d = out + off[0] + pos * ostr;
      if (acc) add_to<T>(d, v);
      else *d = v;
    }
  }
}

template <typename T> static T value_as(double v);
template <> float value_as<float>(double v) { return (float)v; }
template <> double value_as<double>(double v) { return v; }
template <> bf16_t value_as<bf16_t>(double v) { return __float2bfloat16_rn((float)v); }
template <> f16_t value_as<f16_t>(double v) { return __float2half_rn((float)v); }
template <> int64_t value_as<int64_t>(double v) { return (int64_t)v; }
template <> int32_t value_as<int32_t>(double v) { return (int32_t)(int64_t)v; }
template <> uint8_t value_as<uint8_t>(double v) { return (uint8_t)(int64_t)v; }
template <> bool value_as<bool>(double v) { return v != 0; }

lt_status lt_cuda_scatter(const lt_view *out, int dim, const lt_view *index, const lt_view *src,
                          double value, bool accumulate, int64_t base) {
  if (index->dtype != LT_DTYPE_I64)
    return lt_cuda_err(LT_ERR_DTYPE, "cuda scatter: index must be int64");
  if (dim < 0 || dim >= (out->ndim ? out->ndim : 1))
    return lt_cuda_err(LT_ERR_INDEX, "cuda scatter: dim %d out of range", dim);
  int nd = index->ndim;
  int64_t shp[LT_MAX_DIMS];
  for (int d = 0; d < nd; d++) shp[d] = index->shape[d];
  int64_t len = nd ? index->shape[dim] : 1;
  if (nd) shp[dim] = 1;
  int64_t n = lt_numel_of(shp, nd);
  if (n == 0 || len == 0 || lt_numel_of(index->shape, nd) == 0) return LT_OK;
  idx_geo g = idx_geo_make(shp, nd, nd ? dim : -1, out, index, src);
  int64_t ostr = out->ndim ? out->stride[dim] : 0, osize = out->ndim ? out->shape[dim] : 1;
  int64_t xstr = nd ? index->stride[dim] : 0, sstr = src && src->ndim ? src->stride[dim] : 0;
  LT_DISPATCH_ALL(out->dtype, "scatter",
                  scatter_kernel<scalar_t><<<lt_blocks(n), LT_THREADS, 0, lt_cuda_stream>>>(
                      (scalar_t *)out->data, (const int64_t *)index->data,
                      src ? (const scalar_t *)src->data : NULL, value_as<scalar_t>(value),
                      accumulate, ostr, xstr, sstr, osize, len, base, g, n));
  LT_CUDA_LAUNCHED("scatter");
  return LT_OK;
}

/* ---------------------------------------------------------------- check_index */

__global__ void check_index_kernel(const int64_t *ix, idx_geo g, int64_t n, int64_t size,
                                   int64_t base, bool has_ignore, int64_t ignore,
                                   unsigned long long *first_bad) {
  LT_GRID_LOOP(i, n) {
    int64_t off[3];
    idx_offsets(g, i, off);
    int64_t v = ix[off[0]];
    if (has_ignore && v == ignore) continue;
    bool bad = (base > 0 && v < INT64_MIN + base) || (base < 0 && v > INT64_MAX + base) ||
               v - base < 0 || v - base >= size;
    if (bad) atomicMin(first_bad, (unsigned long long)i);
  }
}

lt_status lt_cuda_check_index(const lt_view *index, int64_t size, int64_t base, bool has_ignore,
                              int64_t ignore) {
  if (index->dtype != LT_DTYPE_I64)
    return lt_cuda_err(LT_ERR_DTYPE, "index must be int64, got %s",
                       lt_cuda_dtype_name(index->dtype));
  int64_t n = lt_numel_of(index->shape, index->ndim);
  if (n == 0) return LT_OK;
  idx_geo g = idx_geo_make(index->shape, index->ndim, -1, index, NULL, NULL);
  unsigned long long *flag = (unsigned long long *)lt_cuda_scratch_alloc(8);
  if (!flag) return lt_cuda_err(LT_ERR_MEMORY, "cuda check_index: out of memory");
  unsigned long long first = ~0ull;
  cudaError_t e = cudaMemsetAsync(flag, 0xff, 8, lt_cuda_stream);
  if (e == cudaSuccess) {
    check_index_kernel<<<lt_blocks(n), LT_THREADS, 0, lt_cuda_stream>>>(
        (const int64_t *)index->data, g, n, size, base, has_ignore, ignore, flag);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaMemcpyAsync(&first, flag, 8, cudaMemcpyDeviceToHost, lt_cuda_stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(lt_cuda_stream);
  lt_cuda_scratch_free(flag, 8);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return lt_cuda_err(LT_ERR_BACKEND, "cuda check_index: %s", cudaGetErrorString(e));
  }
  if (first == ~0ull) return LT_OK;
  /* offset of the first bad element, then its value */
  int64_t off = 0, t = (int64_t)first;
  for (int d = index->ndim - 1; d >= 0; d--) {
    off += (t % index->shape[d]) * index->stride[d];
    t /= index->shape[d];
  }
  int64_t bad = 0;
  LT_CUDA_CHECK("check_index", cudaMemcpyAsync(&bad, (const int64_t *)index->data + off, 8,
                                               cudaMemcpyDeviceToHost, lt_cuda_stream));
  LT_CUDA_CHECK("check_index", cudaStreamSynchronize(lt_cuda_stream));
  return lt_cuda_err(LT_ERR_INDEX, "index %lld is out of range for size %lld", (long long)bad,
                     (long long)size);
}
