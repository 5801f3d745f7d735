/*
** cuda_common.cuh - what the CUDA backend's files share: the error setter
** handed over by the engine, the one stream, check macros that turn CUDA,
** cuBLAS and launch failures into an lt_status naming the op, the scratch
** allocator, dtype dispatch and strided-geometry helpers for kernels.
** Calls no engine symbol (the .so is loaded with RTLD_LOCAL).
*/
#ifndef LT_CUDA_COMMON_CUH
#define LT_CUDA_COMMON_CUH

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

extern "C" {
#include "backend.h"
}

/* ---------------------------------------------------------------- shared state */

extern lt_error_fn lt_cuda_err;      /* the engine's lt_error */
extern cudaStream_t lt_cuda_stream;  /* every kernel and copy goes here */
extern int lt_cuda_sm_count;
extern bool lt_cuda_tf32;            /* lt_cuda_set_tf32 */
extern bool lt_cuda_determ;          /* lt_cuda_set_deterministic */

/* Scratch device memory through the caching allocator (stream ordered:
** freeing right after queuing the kernels that use it is safe). */
void *lt_cuda_scratch_alloc(size_t nbytes);
void lt_cuda_scratch_free(void *p, size_t nbytes);

#define LT_CUDA_CHECK(op, call)                                                   \
  do {                                                                            \
    cudaError_t e_ = (call);                                                      \
    if (e_ != cudaSuccess) {                                                      \
      (void)cudaGetLastError();                                                   \
      return lt_cuda_err(LT_ERR_BACKEND, "cuda %s: %s", op, cudaGetErrorString(e_)); \
    }                                                                             \
  } while (0)

/* After a <<<>>> launch: cheap, does not synchronize. */
#define LT_CUDA_LAUNCHED(op) LT_CUDA_CHECK(op, cudaGetLastError())

/* ---------------------------------------------------------------- launch sizes */

#define LT_THREADS 256
static inline unsigned lt_blocks(int64_t n, int threads = LT_THREADS) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > (1 << 22)) b = 1 << 22;  /* grid-stride loops cover the rest */
  return (unsigned)b;
}

#define LT_GRID_LOOP(i, n)                                                  \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
       i += (int64_t)blockDim.x * gridDim.x)

/* ---------------------------------------------------------------- dtypes */

typedef __nv_bfloat16 bf16_t;
typedef __half f16_t;

/* Arithmetic type of a storage type: halves compute in float. */
template <typename T> struct lt_acc { typedef T type; };
template <> struct lt_acc<bf16_t> { typedef float type; };
template <> struct lt_acc<f16_t> { typedef float type; };
template <> struct lt_acc<uint8_t> { typedef int type; };  /* wraps like PyTorch */

/* Value conversion between any two element types (PyTorch's casts: float to
** int truncates, anything to bool is != 0, halves round to nearest even). */
template <typename To> struct lt_cvt {
  template <typename From> __device__ __host__ static inline To f(From x) { return (To)x; }
  __device__ static inline To f(bf16_t x) { return (To)__bfloat162float(x); }
  __device__ static inline To f(f16_t x) { return (To)__half2float(x); }
  __device__ static inline To f(bool x) { return (To)(x ? 1 : 0); }
};
template <> struct lt_cvt<bool> {
  template <typename From> __device__ static inline bool f(From x) { return x != (From)0; }
  __device__ static inline bool f(bf16_t x) { return __bfloat162float(x) != 0.0f; }
  __device__ static inline bool f(f16_t x) { return __half2float(x) != 0.0f; }
  __device__ static inline bool f(bool x) { return x; }
};
template <> struct lt_cvt<bf16_t> {
  template <typename From> __device__ static inline bf16_t f(From x) {
    return __float2bfloat16_rn((float)x);
  }
  __device__ static inline bf16_t f(double x) { return __float2bfloat16_rn((float)x); }
  __device__ static inline bf16_t f(bf16_t x) { return x; }
  __device__ static inline bf16_t f(f16_t x) { return __float2bfloat16_rn(__half2float(x)); }
  __device__ static inline bf16_t f(bool x) { return __float2bfloat16_rn(x ? 1.0f : 0.0f); }
};
template <> struct lt_cvt<f16_t> {
  template <typename From> __device__ static inline f16_t f(From x) {
    return __float2half_rn((float)x);
  }
  __device__ static inline f16_t f(double x) { return __double2half(x); }
  __device__ static inline f16_t f(f16_t x) { return x; }
  __device__ static inline f16_t f(bf16_t x) { return __float2half_rn(__bfloat162float(x)); }
  __device__ static inline f16_t f(bool x) { return __float2half_rn(x ? 1.0f : 0.0f); }
};
/* float -> integer: out-of-range and NaN go through int64 like PyTorch's
** CPU casts (wraps for u8 / i32) instead of UB. */
template <> struct lt_cvt<uint8_t> {
  template <typename From> __device__ static inline uint8_t f(From x) {
    return (uint8_t)(int64_t)x;
  }
  __device__ static inline uint8_t f(bf16_t x) { return (uint8_t)(int64_t)__bfloat162float(x); }
  __device__ static inline uint8_t f(f16_t x) { return (uint8_t)(int64_t)__half2float(x); }
  __device__ static inline uint8_t f(bool x) { return x ? 1 : 0; }
};
template <> struct lt_cvt<int32_t> {
  template <typename From> __device__ static inline int32_t f(From x) {
    return (int32_t)(int64_t)x;
  }
  __device__ static inline int32_t f(bf16_t x) { return (int32_t)__bfloat162float(x); }
  __device__ static inline int32_t f(f16_t x) { return (int32_t)__half2float(x); }
  __device__ static inline int32_t f(bool x) { return x ? 1 : 0; }
};

template <typename To, typename From> __device__ inline To lt_to(From x) {
  return lt_cvt<To>::f(x);
}

/* Dispatch on dtype: body sees the element type as `scalar_t`. */
#define LT_DISPATCH_CASE(DT, T, ...) \
  case DT: { typedef T scalar_t; __VA_ARGS__; } break;
#define LT_DISPATCH_ALL(dt, op, ...)                                              \
  switch (dt) {                                                                   \
    LT_DISPATCH_CASE(LT_DTYPE_F32, float, __VA_ARGS__)                            \
    LT_DISPATCH_CASE(LT_DTYPE_F64, double, __VA_ARGS__)                           \
    LT_DISPATCH_CASE(LT_DTYPE_BF16, bf16_t, __VA_ARGS__)                          \
    LT_DISPATCH_CASE(LT_DTYPE_F16, f16_t, __VA_ARGS__)                            \
    LT_DISPATCH_CASE(LT_DTYPE_I64, int64_t, __VA_ARGS__)                          \
    LT_DISPATCH_CASE(LT_DTYPE_I32, int32_t, __VA_ARGS__)                          \
    LT_DISPATCH_CASE(LT_DTYPE_U8, uint8_t, __VA_ARGS__)                           \
    LT_DISPATCH_CASE(LT_DTYPE_BOOL, bool, __VA_ARGS__)                            \
    default:                                                                      \
      return lt_cuda_err(LT_ERR_DTYPE, "cuda %s: unsupported dtype %d", op, (int)(dt)); \
  }
#define LT_DISPATCH_FLOAT(dt, op, ...)                                            \
  switch (dt) {                                                                   \
    LT_DISPATCH_CASE(LT_DTYPE_F32, float, __VA_ARGS__)                            \
    LT_DISPATCH_CASE(LT_DTYPE_F64, double, __VA_ARGS__)                           \
    LT_DISPATCH_CASE(LT_DTYPE_BF16, bf16_t, __VA_ARGS__)                          \
    LT_DISPATCH_CASE(LT_DTYPE_F16, f16_t, __VA_ARGS__)                            \
    default:                                                                      \
      return lt_cuda_err(LT_ERR_DTYPE, "cuda %s: dtype %s is not a float dtype", op, \
                         lt_cuda_dtype_name(dt));                                 \
  }

static inline const char *lt_cuda_dtype_name(lt_dtype dt) {
  static const char *names[] = {"float32", "float64", "bfloat16", "float16",
                                "int64",   "int32",   "uint8",    "bool"};
  return (unsigned)dt < 8 ? names[dt] : "?";
}
static inline size_t lt_cuda_dtype_size(lt_dtype dt) {
  static const size_t sizes[] = {4, 8, 2, 2, 8, 4, 1, 1};
  return (unsigned)dt < 8 ? sizes[dt] : 0;
}
static inline bool lt_cuda_is_float(lt_dtype dt) { return dt <= LT_DTYPE_F16; }

/* ---------------------------------------------------------------- strided geometry */

/* Up to 4 views sharing one shape, dims coalesced on the host. `contig`:
** every operand is dense row-major, so offsets equal the linear index. */
#define LT_GEO_MAX 4
struct lt_geo {
  int ndim;
  bool contig;
  int64_t shape[LT_MAX_DIMS];
  int64_t stride[LT_GEO_MAX][LT_MAX_DIMS];
};

/* Builds the geometry of n views over `shape` (NULL views get stride 0). */
static inline lt_geo lt_geo_make(const int64_t *shape, int ndim, const lt_view *const *v,
                                 int nv) {
  lt_geo g;
  g.ndim = 0;
  /* drop size-1 dims, merge dims that are contiguous in every operand */
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 1) continue;
    int k = g.ndim;
    bool merge = k > 0;
    for (int i = 0; i < nv && merge; i++) {
      int64_t s = v[i] ? v[i]->stride[d] : 0;
      if (g.stride[i][k - 1] != s * shape[d]) merge = false;
    }
    if (merge) {
      g.shape[k - 1] *= shape[d];
      for (int i = 0; i < nv; i++) g.stride[i][k - 1] = v[i] ? v[i]->stride[d] : 0;
    } else {
      g.shape[k] = shape[d];
      for (int i = 0; i < nv; i++) g.stride[i][k] = v[i] ? v[i]->stride[d] : 0;
      g.ndim++;
    }
  }
  for (int i = nv; i < LT_GEO_MAX; i++)
    for (int d = 0; d < LT_MAX_DIMS; d++) g.stride[i][d] = 0;
  g.contig = g.ndim == 0 || (g.ndim == 1);
  if (g.ndim == 1)
    for (int i = 0; i < nv; i++)
      if (v[i] && g.stride[i][0] != 1) g.contig = false;
  if (g.ndim == 0) {  /* one element */
    g.ndim = 1;
    g.shape[0] = 1;
    for (int i = 0; i < LT_GEO_MAX; i++) g.stride[i][0] = 0;
  }
  return g;
}

static inline int64_t lt_numel_of(const int64_t *shape, int ndim) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  return n;
}

/* Offsets of linear index i in the first NV operands. */
template <int NV>
__device__ __forceinline__ void lt_geo_offsets(const lt_geo &g, int64_t i, int64_t *off) {
  if (g.contig) {
#pragma unroll
    for (int v = 0; v < NV; v++) off[v] = i;
    return;
  }
#pragma unroll
  for (int v = 0; v < NV; v++) off[v] = 0;
  for (int d = g.ndim - 1; d >= 0; d--) {
    int64_t s = g.shape[d];
    int64_t c = i % s;
    i /= s;
#pragma unroll
    for (int v = 0; v < NV; v++) off[v] += c * g.stride[v][d];
  }
}

/* ---------------------------------------------------------------- reductions in a block */

__device__ __forceinline__ float lt_warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ double lt_warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float lt_warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ double lt_warp_max(double v) {
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

/* Block-wide sum/max (blockDim a multiple of 32, at most 1024); every thread
** gets the result. `sh` holds 32 values. Deterministic order. */
template <typename A>
__device__ inline A lt_block_sum(A v, A *sh) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = lt_warp_sum(v);
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  v = lane < nw ? sh[lane] : (A)0;
  v = lt_warp_sum(v);
  return v;
}
template <typename A>
__device__ inline A lt_block_max(A v, A *sh) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = lt_warp_max(v);
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  v = lane < nw ? sh[lane] : (A)-INFINITY;
  v = lt_warp_max(v);
  return v;
}

#endif
