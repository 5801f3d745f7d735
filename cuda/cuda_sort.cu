/*
** cuda_sort.cu - the CUDA backend's sort family: sort_rows (per-row stable
** order + first k) and cumulative (inclusive scans). Values become
** order-preserving uint64 keys (NaN largest, -0 == +0, ~key descending);
** rows up to LT_SORT_BITONIC_MAX sort in shared memory with a bitonic
** network on (key, position), longer rows with CUB's segmented radix sort
** (stable). Scans: a block per row with cub::BlockScan when the dim is
** the last one, a thread per line otherwise. No selection-only top-k path.
*/
#include <cub/cub.cuh>

#include "cuda_kernels.cuh"

#define LT_SORT_BITONIC_MAX 4096  /* 4096 * 12 bytes = 48 KiB of shared memory */

/* ---------------------------------------------------------------- keys */

__device__ __forceinline__ uint64_t lt_sort_key_f(double v) {
  if (v != v) return ~0ull;
  if (v == 0.0) v = 0.0;
  uint64_t u = (uint64_t)__double_as_longlong(v);
  return (u >> 63) ? ~u : (u | (1ull << 63));
}
__device__ __forceinline__ uint64_t lt_sort_key_i(int64_t v) {
  return (uint64_t)v ^ (1ull << 63);
}
__device__ __forceinline__ uint64_t lt_sort_key(float v) { return lt_sort_key_f(v); }
__device__ __forceinline__ uint64_t lt_sort_key(double v) { return lt_sort_key_f(v); }
__device__ __forceinline__ uint64_t lt_sort_key(bf16_t v) {
  return lt_sort_key_f(__bfloat162float(v));
}
__device__ __forceinline__ uint64_t lt_sort_key(f16_t v) { return lt_sort_key_f(__half2float(v)); }
__device__ __forceinline__ uint64_t lt_sort_key(int64_t v) { return lt_sort_key_i(v); }
__device__ __forceinline__ uint64_t lt_sort_key(int32_t v) { return lt_sort_key_i(v); }
__device__ __forceinline__ uint64_t lt_sort_key(uint8_t v) { return lt_sort_key_i(v); }
__device__ __forceinline__ uint64_t lt_sort_key(bool v) { return lt_sort_key_i(v ? 1 : 0); }

/* ---------------------------------------------------------------- bitonic rows */

template <typename T>
__global__ void lt_sort_bitonic_kernel(T *values, int64_t *indices, const T *in, int64_t rows,
                                       int n, int P, int k0, int kout, bool desc, int64_t base) {
  extern __shared__ uint64_t lt_sort_smem[];
  uint64_t *sk = lt_sort_smem;
  uint32_t *si = (uint32_t *)(sk + P);
  uint64_t flip = desc ? ~0ull : 0ull;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T *row = in + r * (int64_t)n;
    for (int i = threadIdx.x; i < P; i += blockDim.x) {
      if (i < n) {
        sk[i] = lt_sort_key(row[i]) ^ flip;
        si[i] = (uint32_t)i;
      } else {  /* padding sorts after every real element */
        sk[i] = ~0ull;
        si[i] = 0xffffffffu;
      }
    }
    __syncthreads();
    for (int size = 2; size <= P; size <<= 1) {
      for (int stride = size >> 1; stride > 0; stride >>= 1) {
        for (int t = threadIdx.x; t < P / 2; t += blockDim.x) {
          int pos = 2 * t - (t & (stride - 1));
          int q = pos + stride;
          bool up = (pos & size) == 0;
          uint64_t ka = sk[pos], kb = sk[q];
          uint32_t ia = si[pos], ib = si[q];
          bool gt = ka > kb || (ka == kb && ia > ib);
          if (gt == up) {
            sk[pos] = kb;
            sk[q] = ka;
            si[pos] = ib;
            si[q] = ia;
          }
        }
        __syncthreads();
      }
    }
    for (int j = threadIdx.x; j < kout; j += blockDim.x) {  /* entries k0 .. k0 + kout - 1 */
      uint32_t ix = si[k0 + j];
      values[r * kout + j] = row[ix];
      indices[r * kout + j] = (int64_t)ix + base;
    }
    __syncthreads();
  }
}

/* ---------------------------------------------------------------- radix rows */

template <typename T>
__global__ void lt_sort_keys_kernel(uint64_t *keys, int32_t *pos, const T *in, int64_t total,
                                    int n, bool desc) {
  uint64_t flip = desc ? ~0ull : 0ull;
  LT_GRID_LOOP(i, total) {
    keys[i] = lt_sort_key(in[i]) ^ flip;
    pos[i] = (int32_t)(i % n);
  }
}

__global__ void lt_sort_offsets_kernel(int *off, int64_t rows, int n) {
  LT_GRID_LOOP(r, rows + 1) off[r] = (int)(r * n);
}

template <typename T>
__global__ void lt_sort_take_kernel(T *values, int64_t *indices, const T *in, const int32_t *pos,
                                    int64_t rows, int n, int k0, int kout, int64_t base) {
  LT_GRID_LOOP(i, rows * kout) {
    int64_t r = i / kout, j = i % kout;
    int32_t ix = pos[r * n + k0 + j];
    values[i] = in[r * n + ix];
    indices[i] = (int64_t)ix + base;
  }
}

template <typename T>
static lt_status lt_sort_radix(T *values, int64_t *indices, const T *in, int64_t rows, int n,
                               int k0, int kout, bool desc, int64_t base) {
  int64_t chunk = ((int64_t)1 << 26) / n;  /* <= 1.5 GiB of scratch per pass */
  if (chunk < 1) chunk = 1;
  if (chunk > rows) chunk = rows;
  int64_t items = chunk * n;
  size_t kb = (size_t)items * sizeof(uint64_t), pb = (size_t)items * sizeof(int32_t);
  size_t ob = (size_t)(chunk + 1) * sizeof(int);
  uint64_t *k_in = (uint64_t *)lt_cuda_scratch_alloc(kb);
  uint64_t *k_out = (uint64_t *)lt_cuda_scratch_alloc(kb);
  int32_t *p_in = (int32_t *)lt_cuda_scratch_alloc(pb);
  int32_t *p_out = (int32_t *)lt_cuda_scratch_alloc(pb);
  int *off = (int *)lt_cuda_scratch_alloc(ob);
  size_t tb = 0;
  void *tmp = NULL;
  lt_status st = LT_OK;
  if (!k_in || !k_out || !p_in || !p_out || !off) {
    st = lt_cuda_err(LT_ERR_MEMORY, "cuda sort: out of memory for the sort buffers (%lld x %d)",
                     (long long)chunk, n);
    goto done;
  }
  if (cub::DeviceSegmentedRadixSort::SortPairs(NULL, tb, k_in, k_out, p_in, p_out, (int)items,
                                               (int)chunk, off, off + 1, 0, 64,
                                               lt_cuda_stream) != cudaSuccess) {
    (void)cudaGetLastError();
    st = lt_cuda_err(LT_ERR_BACKEND, "cuda sort: cub temp storage query failed");
    goto done;
  }
  if (!(tmp = lt_cuda_scratch_alloc(tb ? tb : 1))) {
    st = lt_cuda_err(LT_ERR_MEMORY, "cuda sort: out of memory for %zu bytes of sort scratch", tb);
    goto done;
  }
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    int64_t cr = rows - r0 < chunk ? rows - r0 : chunk;
    int64_t tot = cr * n;
    const T *src = in + r0 * n;
    lt_sort_keys_kernel<T><<<lt_blocks(tot), LT_THREADS, 0, lt_cuda_stream>>>(k_in, p_in, src, tot,
                                                                            n, desc);
    lt_sort_offsets_kernel<<<lt_blocks(cr + 1), LT_THREADS, 0, lt_cuda_stream>>>(off, cr, n);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess)
      e = cub::DeviceSegmentedRadixSort::SortPairs(tmp, tb, k_in, k_out, p_in, p_out, (int)tot,
                                                   (int)cr, off, off + 1, 0, 64, lt_cuda_stream);
    if (e == cudaSuccess) {
      lt_sort_take_kernel<T><<<lt_blocks(cr * kout), LT_THREADS, 0, lt_cuda_stream>>>(
          values + r0 * kout, indices + r0 * kout, src, p_out, cr, n, k0, kout, base);
      e = cudaGetLastError();
    }
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      st = lt_cuda_err(LT_ERR_BACKEND, "cuda sort: %s", cudaGetErrorString(e));
      goto done;
    }
  }
done:
  if (tmp) lt_cuda_scratch_free(tmp, tb ? tb : 1);
  if (off) lt_cuda_scratch_free(off, ob);
  if (p_out) lt_cuda_scratch_free(p_out, pb);
  if (p_in) lt_cuda_scratch_free(p_in, pb);
  if (k_out) lt_cuda_scratch_free(k_out, kb);
  if (k_in) lt_cuda_scratch_free(k_in, kb);
  return st;
}

lt_status lt_cuda_sort_rows(void *values, int64_t *indices, const void *in, lt_dtype dt,
                            int64_t rows, int64_t n, int64_t k, bool descending, bool kth_only,
                            int64_t base) {
  if (rows <= 0 || k <= 0) return LT_OK;
  if (k > n) return lt_cuda_err(LT_ERR_ARG, "cuda sort: k (%lld) exceeds the row length (%lld)",
                                (long long)k, (long long)n);
  if (n > ((int64_t)1 << 30))
    return lt_cuda_err(LT_ERR_ARG, "cuda sort: rows of %lld elements are not supported "
                       "(at most 2^30)", (long long)n);
  int k0 = kth_only ? (int)(k - 1) : 0, kout = kth_only ? 1 : (int)k;
  if (n <= LT_SORT_BITONIC_MAX) {
    int P = 1;
    while (P < n) P <<= 1;
    if (P < 2) P = 2;
    int threads = P / 2 < 1024 ? P / 2 : 1024;
    if (threads < 32) threads = 32;
    unsigned grid = rows < (1 << 20) ? (unsigned)rows : (1u << 20);
    size_t smem = (size_t)P * (sizeof(uint64_t) + sizeof(uint32_t));
    LT_DISPATCH_ALL(dt, "sort", {
      lt_sort_bitonic_kernel<scalar_t><<<grid, threads, smem, lt_cuda_stream>>>(
          (scalar_t *)values, indices, (const scalar_t *)in, rows, (int)n, P, k0, kout,
          descending, base);
    });
    LT_CUDA_LAUNCHED("sort");
    return LT_OK;
  }
  LT_DISPATCH_ALL(dt, "sort", {
    return lt_sort_radix<scalar_t>((scalar_t *)values, indices, (const scalar_t *)in, rows,
                                   (int)n, k0, kout, descending, base);
  });
  return LT_OK;
}

/* ---------------------------------------------------------------- scans */

template <typename A> struct lt_scan_mul {
  __device__ __forceinline__ A operator()(const A &a, const A &b) const { return a * b; }
};
template <typename A> struct lt_scan_add {
  __device__ __forceinline__ A operator()(const A &a, const A &b) const { return a + b; }
};
/* int64 wraps like the CPU kernel */
template <> struct lt_scan_mul<int64_t> {
  __device__ __forceinline__ int64_t operator()(const int64_t &a, const int64_t &b) const {
    return (int64_t)((unsigned long long)a * (unsigned long long)b);
  }
};
template <> struct lt_scan_add<int64_t> {
  __device__ __forceinline__ int64_t operator()(const int64_t &a, const int64_t &b) const {
    return (int64_t)((unsigned long long)a + (unsigned long long)b);
  }
};

/* One thread per (outer, inner) line, walking the dim sequentially. */
template <typename T, typename A, bool PROD>
__global__ void lt_cum_lines_kernel(T *out, const T *in, int64_t outer, int64_t n, int64_t inner,
                                    bool reverse) {
  LT_GRID_LOOP(t, outer * inner) {
    int64_t o = t / inner, i = t % inner;
    int64_t b = o * n * inner + i;
    A acc = PROD ? (A)1 : (A)0;
    for (int64_t s = 0; s < n; s++) {
      int64_t j = reverse ? n - 1 - s : s;
      A v = lt_to<A>(in[b + j * inner]);
      acc = PROD ? lt_scan_mul<A>()(acc, v) : lt_scan_add<A>()(acc, v);
      out[b + j * inner] = lt_to<T>(acc);
    }
  }
}

#define LT_SCAN_THREADS 256

/* A block per row of a contiguous (rows, n): chunks of 256 scanned with
** cub::BlockScan, carrying the running total between chunks. */
template <typename T, typename A, bool PROD>
__global__ void lt_cum_rows_kernel(T *out, const T *in, int64_t rows, int64_t n, bool reverse) {
  typedef cub::BlockScan<A, LT_SCAN_THREADS> Scan;
  __shared__ typename Scan::TempStorage tmp;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    A carry = PROD ? (A)1 : (A)0;
    for (int64_t c = 0; c < n; c += LT_SCAN_THREADS) {
      int64_t j = c + threadIdx.x;
      int64_t p = reverse ? n - 1 - j : j;
      A v = j < n ? lt_to<A>(in[r * n + p]) : (PROD ? (A)1 : (A)0);
      A incl, total;
      if (PROD) Scan(tmp).InclusiveScan(v, incl, lt_scan_mul<A>(), total);
      else Scan(tmp).InclusiveScan(v, incl, lt_scan_add<A>(), total);
      incl = PROD ? lt_scan_mul<A>()(carry, incl) : lt_scan_add<A>()(carry, incl);
      if (j < n) out[r * n + p] = lt_to<T>(incl);
      carry = PROD ? lt_scan_mul<A>()(carry, total) : lt_scan_add<A>()(carry, total);
      __syncthreads();  /* tmp is reused by the next chunk */
    }
  }
}

template <typename T, typename A>
static lt_status lt_cum_launch(T *out, const T *in, int64_t outer, int64_t n, int64_t inner,
                               bool prod, bool reverse) {
  if (inner == 1 && n >= 64) {
    unsigned grid = outer < (1 << 20) ? (unsigned)outer : (1u << 20);
    if (prod)
      lt_cum_rows_kernel<T, A, true><<<grid, LT_SCAN_THREADS, 0, lt_cuda_stream>>>(out, in, outer,
                                                                                  n, reverse);
    else
      lt_cum_rows_kernel<T, A, false><<<grid, LT_SCAN_THREADS, 0, lt_cuda_stream>>>(out, in, outer,
                                                                                   n, reverse);
  } else {
    int64_t lines = outer * inner;
    if (prod)
      lt_cum_lines_kernel<T, A, true><<<lt_blocks(lines), LT_THREADS, 0, lt_cuda_stream>>>(
          out, in, outer, n, inner, reverse);
    else
      lt_cum_lines_kernel<T, A, false><<<lt_blocks(lines), LT_THREADS, 0, lt_cuda_stream>>>(
          out, in, outer, n, inner, reverse);
  }
  LT_CUDA_LAUNCHED(prod ? "cumprod" : "cumsum");
  return LT_OK;
}

lt_status lt_cuda_cumulative(void *out, const void *in, lt_dtype dt, int64_t outer, int64_t n,
                             int64_t inner, bool prod, bool reverse) {
  if (outer <= 0 || n <= 0 || inner <= 0) return LT_OK;
  switch (dt) {
    case LT_DTYPE_F32:
      return lt_cum_launch<float, float>((float *)out, (const float *)in, outer, n, inner, prod,
                                         reverse);
    case LT_DTYPE_F64:
      return lt_cum_launch<double, double>((double *)out, (const double *)in, outer, n, inner,
                                           prod, reverse);
    case LT_DTYPE_BF16:
      return lt_cum_launch<bf16_t, float>((bf16_t *)out, (const bf16_t *)in, outer, n, inner,
                                          prod, reverse);
    case LT_DTYPE_F16:
      return lt_cum_launch<f16_t, float>((f16_t *)out, (const f16_t *)in, outer, n, inner, prod,
                                         reverse);
    case LT_DTYPE_I64:
      return lt_cum_launch<int64_t, int64_t>((int64_t *)out, (const int64_t *)in, outer, n, inner,
                                             prod, reverse);
    default:
      return lt_cuda_err(LT_ERR_DTYPE, "cuda %s: unsupported dtype %s", prod ? "cumprod" : "cumsum",
                         lt_cuda_dtype_name(dt));
  }
}
