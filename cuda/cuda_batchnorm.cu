/*
** cuda_batchnorm.cu - the CUDA backend's fused batch norm (backend.h:
** batch_norm_stats / _forward / _backward) on contiguous (N, C, HW) buffers
** of f32/f64/bf16/f16 (halves compute in float; mean/invstd are float32,
** float64 for f64). Per-channel sums are double, in two stages with a fixed
** order (per-block partials, then one block per channel adds them up): no
** atomics, bitwise repeatable on a given GPU (the split follows its SM
** count). The statistics take one pass over x with sums of
** d = x - shift and d^2 (shift = the channel's first value) in double.
** Planes of HW >= 32 are split along the channel's values (block per
** (channel, chunk)); smaller planes read the (N, C*HW) matrix by columns.
** It does not check shapes or record autograd (engine/ops_nn.c does).
*/
#include "cuda_kernels.cuh"

#define BN_THREADS 256     /* partial-sum and elementwise blocks */
#define BN_FIN_THREADS 128 /* one block per channel adds the partials */
#define BN_VEC 4           /* elements per vector load when HW % 4 == 0 */

/* V elements loaded/stored as one aligned access */
template <typename T, int V> struct alignas(sizeof(T) * V) bn_vec { T v[V]; };

/* Division by a fixed divisor d: magic multiply (PyTorch's IntDivider) for
** n, d < 2^31 (`fast`), else 64-bit division. */
struct bn_div {
  int64_t d;
  uint32_t m, s;
  bool fast;
};

static bn_div bn_div_make(int64_t d, bool fast) {
  bn_div r;
  r.d = d;
  r.m = 0;
  r.s = 0;
  r.fast = fast && d > 0 && d <= INT32_MAX;
  if (r.fast) {
    uint32_t s = 0;
    while (s < 32 && ((uint64_t)1 << s) < (uint64_t)d) s++;
    uint64_t m = (((uint64_t)1 << 32) * (((uint64_t)1 << s) - (uint64_t)d)) / (uint64_t)d + 1;
    if (m > UINT32_MAX) {
      r.fast = false;
    } else {
      r.m = (uint32_t)m;
      r.s = s;
    }
  }
  return r;
}

__device__ __forceinline__ int64_t bn_div_q(const bn_div &v, int64_t n) {
  if (v.fast) {
    uint32_t u = (uint32_t)n;
    return (int64_t)((__umulhi(u, v.m) + u) >> v.s);
  }
  return n / v.d;
}

/* Rounded products and sums that are never fused into an FMA, so the
** elementwise kernels compute exactly what the CPU kernels do. */
__device__ __forceinline__ float bn_mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double bn_mul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float bn_add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double bn_add(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float bn_sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double bn_sub(double a, double b) { return __dsub_rn(a, b); }

/* ---------------------------------------------------------------- partial sums */

/* MODE 0 (statistics): a1 += x - shift, a2 += (x - shift)^2, shift = the
** channel's first value. MODE 1 (backward): a1 += dy, a2 += dy * (x - mean). */
template <typename T, int MODE>
__device__ __forceinline__ void bn_acc2(T xv, const T *g, double shift, double &a1, double &a2) {
  double d = lt_to<double>(xv) - shift;
  if (MODE == 0) {
    a1 += d;
    a2 += d * d;
  } else {
    double gg = lt_to<double>(*g);
    a1 += gg;
    a2 += gg * d;
  }
}

template <typename T, int MODE>
__device__ __forceinline__ double bn_shift(const T *x, const typename lt_acc<T>::type *mean,
                                           int64_t c, int64_t HW) {
  return MODE == 0 ? lt_to<double>(x[c * HW]) : (double)mean[c];
}

/* Block (channel c = blockIdx.x, chunk s = blockIdx.y) sums the chunk
** [s*cs, s*cs + cs) of the channel's Mv = N * HWv vector units (a unit is
** V elements of one plane); partials go to p[s * C + c]. Each thread walks
** its units with an (n, i) position stepped without division. */
template <typename T, int V, int MODE>
__global__ void bn_partial_plane_kernel(double *p1, double *p2, const T *__restrict__ x,
                                        const T *__restrict__ dy,
                                        const typename lt_acc<T>::type *mean, int64_t C,
                                        int64_t HWv, int64_t Mv, int64_t cs) {
  typedef bn_vec<T, V> VT;
  __shared__ double sh[32];
  const int64_t c = blockIdx.x, s = blockIdx.y;
  const double shift = bn_shift<T, MODE>(x, mean, c, HWv * V);
  const VT *xv = (const VT *)x, *gv = (const VT *)dy;
  const int64_t j1 = (s + 1) * cs < Mv ? (s + 1) * cs : Mv;
  double a1 = 0, a2 = 0;
  int64_t j = s * cs + threadIdx.x;
  if (j < j1) {
    int64_t n = j / HWv, i = j - n * HWv;
    const int64_t dq = blockDim.x / HWv, dr = blockDim.x - dq * HWv;
#pragma unroll 4
    for (; j < j1; j += blockDim.x) {
      int64_t e = (n * C + c) * HWv + i;
      VT a = xv[e];
      if (MODE == 0) {
#pragma unroll
        for (int k = 0; k < V; k++) bn_acc2<T, 0>(a.v[k], NULL, shift, a1, a2);
      } else {
        VT g = gv[e];
#pragma unroll
        for (int k = 0; k < V; k++) bn_acc2<T, 1>(a.v[k], &g.v[k], shift, a1, a2);
      }
      i += dr;
      n += dq;
      if (i >= HWv) {
        i -= HWv;
        n++;
      }
    }
  }
  a1 = lt_block_sum<double>(a1, sh);
  a2 = lt_block_sum<double>(a2, sh);
  if (threadIdx.x == 0) {
    p1[s * C + c] = a1;
    p2[s * C + c] = a2;
  }
}

/* Small planes: x as an (N, K = C*HW) matrix. A block holds bx columns x ry
** row lanes; lane ty of chunk ch sums rows r0 + ty, r0 + ty + ry, ... of
** column k into p[(ch * ry + ty) * K + k]. */
template <typename T, int MODE>
__global__ void bn_partial_col_kernel(double *p1, double *p2, const T *__restrict__ x,
                                      const T *__restrict__ dy,
                                      const typename lt_acc<T>::type *mean, int64_t N,
                                      int64_t HW, int64_t K, int64_t chunk, int bx) {
  int tx = threadIdx.x % bx, ty = threadIdx.x / bx, ry = blockDim.x / bx;
  int64_t k = (int64_t)blockIdx.x * bx + tx;
  if (ty >= ry || k >= K) return;
  const int64_t ch = blockIdx.y, c = k / HW;
  const double shift = bn_shift<T, MODE>(x, mean, c, HW);
  const int64_t r1 = (ch + 1) * chunk < N ? (ch + 1) * chunk : N;
  double a1 = 0, a2 = 0;
#pragma unroll 4
  for (int64_t r = ch * chunk + ty; r < r1; r += ry) {
    int64_t e = r * K + k;
    bn_acc2<T, MODE>(x[e], MODE == 1 ? dy + e : NULL, shift, a1, a2);
  }
  int64_t o = ch * ry + ty;
  p1[o * K + k] = a1;
  p2[o * K + k] = a2;
}

/* Partials of both layouts sit at p[(o * C + c) * HWp + i], o < outer,
** i < HWp; one block per channel adds them in a fixed order. */
__device__ inline void bn_channel_sums(const double *p1, const double *p2, int64_t c, int64_t C,
                                       int64_t outer, int64_t HWp, double *s1, double *s2,
                                       double *sh) {
  double a1 = 0, a2 = 0;
  const int64_t P = outer * HWp;
  for (int64_t t = threadIdx.x; t < P; t += blockDim.x) {
    int64_t o = t / HWp, i = t - o * HWp;
    int64_t e = (o * C + c) * HWp + i;
    a1 += p1[e];
    a2 += p2[e];
  }
  *s1 = lt_block_sum<double>(a1, sh);
  *s2 = lt_block_sum<double>(a2, sh);
}

/* Scratch partials of one sums pass */
struct bn_sums_t {
  double *p1, *p2;
  size_t bytes;
  int64_t outer, HWp;
};

static bool bn_aligned(const void *p, size_t a) { return p == NULL || (uintptr_t)p % a == 0; }

/* Queues the partial sums (MODE as bn_acc2) of every channel into fresh
** scratch (s->p1, the caller frees it with s->bytes). N * HW > 0. */
template <typename T, int MODE>
static lt_status bn_sums(const char *op, bn_sums_t *s, const T *x, const T *dy,
                         const typename lt_acc<T>::type *mean, int64_t N, int64_t C,
                         int64_t HW) {
  const int64_t target = (int64_t)lt_cuda_sm_count * 8;  /* blocks to fill the GPU */
  int64_t K = C * HW;
  dim3 grid;
  int bx = 0, V = 1;
  int64_t cs = 0, HWv = HW, Mv = 0, chunk = 0;
  if (HW >= 32) {
    if (HW % BN_VEC == 0 && bn_aligned(x, sizeof(T) * BN_VEC) &&
        bn_aligned(dy, sizeof(T) * BN_VEC))
      V = BN_VEC;
    HWv = HW / V;
    Mv = N * HWv;
    int64_t S = (target + C - 1) / C, maxS = (Mv + 2047) / 2048;  /* >= 8 units a thread */
    if (S > maxS) S = maxS;
    if (S > 65535) S = 65535;
    if (S < 1) S = 1;
    cs = (Mv + S - 1) / S;
    S = (Mv + cs - 1) / cs;
    s->outer = S;
    s->HWp = 1;
    grid = dim3((unsigned)C, (unsigned)S);
  } else {
    bx = K >= BN_THREADS ? BN_THREADS : (int)((K + 31) / 32 * 32);
    int ry = BN_THREADS / bx;
    int64_t cblocks = (K + bx - 1) / bx;
    int64_t chunks = (target + cblocks - 1) / cblocks, maxch = (N + 4 * ry - 1) / (4 * ry);
    if (chunks > maxch) chunks = maxch;
    if (chunks > 65535) chunks = 65535;
    if (chunks < 1) chunks = 1;
    chunk = (N + chunks - 1) / chunks;
    chunks = (N + chunk - 1) / chunk;
    s->outer = chunks * ry;
    s->HWp = HW;
    grid = dim3((unsigned)cblocks, (unsigned)chunks);
  }
  s->bytes = (size_t)s->outer * (size_t)K * 2 * sizeof(double);
  s->p1 = (double *)lt_cuda_scratch_alloc(s->bytes);
  if (!s->p1)
    return lt_cuda_err(LT_ERR_MEMORY, "cuda %s: out of memory for %zu bytes of partial sums", op,
                       s->bytes);
  s->p2 = s->p1 + s->outer * K;
  if (bx)
    bn_partial_col_kernel<T, MODE><<<grid, BN_THREADS, 0, lt_cuda_stream>>>(
        s->p1, s->p2, x, dy, mean, N, HW, K, chunk, bx);
  else if (V == BN_VEC)
    bn_partial_plane_kernel<T, BN_VEC, MODE><<<grid, BN_THREADS, 0, lt_cuda_stream>>>(
        s->p1, s->p2, x, dy, mean, C, HWv, Mv, cs);
  else
    bn_partial_plane_kernel<T, 1, MODE><<<grid, BN_THREADS, 0, lt_cuda_stream>>>(
        s->p1, s->p2, x, dy, mean, C, HWv, Mv, cs);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) {
    lt_cuda_scratch_free(s->p1, s->bytes);
    return lt_cuda_err(LT_ERR_BACKEND, "cuda %s: %s", op, cudaGetErrorString(e));
  }
  return LT_OK;
}

/* ---------------------------------------------------------------- statistics */

template <typename T>
__global__ void bn_stats_finish_kernel(typename lt_acc<T>::type *mean,
                                       typename lt_acc<T>::type *invstd, T *rm, T *rv,
                                       const double *p1, const double *p2, const T *x,
                                       int64_t C, int64_t HW, int64_t outer, int64_t HWp,
                                       int64_t M, double momentum, double eps) {
  typedef typename lt_acc<T>::type A;
  __shared__ double sh[32];
  const int64_t c = blockIdx.x;
  double s1, s2;
  bn_channel_sums(p1, p2, c, C, outer, HWp, &s1, &s2, sh);
  if (threadIdx.x != 0) return;
  const double Md = (double)M;
  double mu = lt_to<double>(x[c * HW]) + s1 / Md;
  double q = s2 - s1 * (s1 / Md);  /* centred sum of squares */
  if (q < 0) q = 0;
  double var = q / Md;
  mean[c] = (A)mu;
  invstd[c] = (A)(1.0 / sqrt(var + eps));
  if (rm) rm[c] = lt_to<T>((A)((1.0 - momentum) * lt_to<double>(rm[c]) + momentum * mu));
  if (rv)
    rv[c] = lt_to<T>((A)((1.0 - momentum) * lt_to<double>(rv[c]) +
                         momentum * (M > 1 ? q / (Md - 1) : var)));
}

template <typename T>
__global__ void bn_eval_stats_kernel(typename lt_acc<T>::type *mean,
                                     typename lt_acc<T>::type *invstd, const T *rm,
                                     const T *rv, int64_t C, double eps) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(c, C) {
    mean[c] = lt_to<A>(rm[c]);
    invstd[c] = (A)(1.0 / sqrt(lt_to<double>(rv[c]) + eps));
  }
}

template <typename T>
static lt_status bn_stats_run(typename lt_acc<T>::type *mean, typename lt_acc<T>::type *invstd,
                              T *rm, T *rv, const T *x, int64_t N, int64_t C, int64_t HW,
                              bool training, double momentum, double eps) {
  const char *op = "batch_norm";
  if (!training) {
    if (!rm || !rv)
      return lt_cuda_err(LT_ERR_ARG, "cuda %s: evaluation mode needs running_mean and "
                         "running_var (C %lld)", op, (long long)C);
    bn_eval_stats_kernel<T><<<lt_blocks(C), LT_THREADS, 0, lt_cuda_stream>>>(mean, invstd, rm,
                                                                            rv, C, eps);
    LT_CUDA_LAUNCHED("batch_norm");
    return LT_OK;
  }
  if (N * HW == 0)
    return lt_cuda_err(LT_ERR_ARG, "cuda %s: no values per channel to train on (N %lld, C %lld, "
                       "HW %lld)", op, (long long)N, (long long)C, (long long)HW);
  bn_sums_t s = {NULL, NULL, 0, 0, 0};
  lt_status st = bn_sums<T, 0>(op, &s, x, (const T *)NULL, NULL, N, C, HW);
  if (st) return st;
  bn_stats_finish_kernel<T><<<(unsigned)C, BN_FIN_THREADS, 0, lt_cuda_stream>>>(
      mean, invstd, rm, rv, s.p1, s.p2, x, C, HW, s.outer, s.HWp, N * HW, momentum, eps);
  cudaError_t e = cudaGetLastError();
  lt_cuda_scratch_free(s.p1, s.bytes);
  if (e != cudaSuccess) return lt_cuda_err(LT_ERR_BACKEND, "cuda %s: %s", op, cudaGetErrorString(e));
  return LT_OK;
}

/* ---------------------------------------------------------------- elementwise */

/* channel of vector unit u: (u / HWv) % C */
__device__ __forceinline__ int64_t bn_channel(int64_t u, const bn_div &dhw, const bn_div &dc) {
  int64_t q = bn_div_q(dhw, u);
  return q - bn_div_q(dc, q) * dc.d;
}

/* y = x * scale + shift, scale = invstd * w, shift = b - mean * scale (in
** double, then rounded, as on the CPU) */
template <typename T, int V>
__global__ void bn_forward_kernel(T *y, const T *__restrict__ x,
                                  const typename lt_acc<T>::type *mean,
                                  const typename lt_acc<T>::type *invstd, const T *w,
                                  const T *b, bn_div dhw, bn_div dc, int64_t units) {
  typedef typename lt_acc<T>::type A;
  typedef bn_vec<T, V> VT;
  LT_GRID_LOOP(u, units) {
    int64_t c = bn_channel(u, dhw, dc);
    double sc = __dmul_rn((double)invstd[c], w ? lt_to<double>(w[c]) : 1.0);
    A scale = (A)sc, shift = (A)__dsub_rn(b ? lt_to<double>(b[c]) : 0.0,
                                          __dmul_rn((double)mean[c], sc));
    VT a = ((const VT *)x)[u], r;
#pragma unroll
    for (int k = 0; k < V; k++) r.v[k] = lt_to<T>(bn_add(bn_mul(lt_to<A>(a.v[k]), scale), shift));
    ((VT *)y)[u] = r;
  }
}

template <typename T>
static lt_status bn_forward_run(T *y, const T *x, const typename lt_acc<T>::type *mean,
                                const typename lt_acc<T>::type *invstd, const T *w, const T *b,
                                int64_t N, int64_t C, int64_t HW) {
  int64_t n = N * C * HW;
  if (n == 0) return LT_OK;
  bool vec = HW % BN_VEC == 0 && bn_aligned(x, sizeof(T) * BN_VEC) &&
             bn_aligned(y, sizeof(T) * BN_VEC);
  int V = vec ? BN_VEC : 1;
  int64_t units = n / V;
  bool fast = units <= INT32_MAX;
  bn_div dhw = bn_div_make(HW / V, fast), dc = bn_div_make(C, fast);
  if (vec)
    bn_forward_kernel<T, BN_VEC><<<lt_blocks(units), BN_THREADS, 0, lt_cuda_stream>>>(
        y, x, mean, invstd, w, b, dhw, dc, units);
  else
    bn_forward_kernel<T, 1><<<lt_blocks(units), BN_THREADS, 0, lt_cuda_stream>>>(
        y, x, mean, invstd, w, b, dhw, dc, units);
  LT_CUDA_LAUNCHED("batch_norm");
  return LT_OK;
}

/* ---------------------------------------------------------------- backward */

/* db = sum dy, dw = invstd * sum dy (x - mean); coef (3C, when given) gets
** dx = dy * k1 + (x - mean) * k2 + k3 (k2 = k3 = 0 in eval). */
template <typename T>
__global__ void bn_backward_finish_kernel(T *dw, T *db, typename lt_acc<T>::type *coef,
                                          const double *p1, const double *p2,
                                          const typename lt_acc<T>::type *invstd, const T *w,
                                          int64_t C, int64_t outer, int64_t HWp, int64_t M,
                                          bool training) {
  typedef typename lt_acc<T>::type A;
  __shared__ double sh[32];
  const int64_t c = blockIdx.x;
  double s1, s2;
  bn_channel_sums(p1, p2, c, C, outer, HWp, &s1, &s2, sh);
  if (threadIdx.x != 0) return;
  const double is = (double)invstd[c], sdx = s2 * is;  /* sum dy * xhat */
  if (db) db[c] = lt_to<T>((A)s1);
  if (dw) dw[c] = lt_to<T>((A)sdx);
  if (coef) {
    double k1 = (w ? lt_to<double>(w[c]) : 1.0) * is, k2 = 0, k3 = 0;
    if (training) {
      k2 = -k1 * is * (sdx / (double)M);
      k3 = -k1 * (s1 / (double)M);
    }
    coef[c] = (A)k1;
    coef[C + c] = (A)k2;
    coef[2 * C + c] = (A)k3;
  }
}

/* TRAIN: dx = dy * k1 + (x - mean) * k2 + k3 from coef; else dx = dy * w * invstd */
template <typename T, int V, bool TRAIN>
__global__ void bn_backward_dx_kernel(T *dx, const T *__restrict__ dy, const T *__restrict__ x,
                                      const typename lt_acc<T>::type *mean,
                                      const typename lt_acc<T>::type *invstd, const T *w,
                                      const typename lt_acc<T>::type *coef, bn_div dhw,
                                      bn_div dc, int64_t units) {
  typedef typename lt_acc<T>::type A;
  typedef bn_vec<T, V> VT;
  const int64_t C = dc.d;
  LT_GRID_LOOP(u, units) {
    int64_t c = bn_channel(u, dhw, dc);
    VT g = ((const VT *)dy)[u], r;
    if (TRAIN) {
      A k1 = coef[c], k2 = coef[C + c], k3 = coef[2 * C + c], m = mean[c];
      VT a = ((const VT *)x)[u];
#pragma unroll
      for (int k = 0; k < V; k++)
        r.v[k] = lt_to<T>(bn_add(bn_add(bn_mul(lt_to<A>(g.v[k]), k1),
                                        bn_mul(bn_sub(lt_to<A>(a.v[k]), m), k2)),
                                 k3));
    } else {
      A k1 = (A)__dmul_rn(w ? lt_to<double>(w[c]) : 1.0, (double)invstd[c]);
#pragma unroll
      for (int k = 0; k < V; k++) r.v[k] = lt_to<T>(bn_mul(lt_to<A>(g.v[k]), k1));
    }
    ((VT *)dx)[u] = r;
  }
}

template <typename T, bool TRAIN>
static void bn_dx_launch(T *dx, const T *dy, const T *x, const typename lt_acc<T>::type *mean,
                         const typename lt_acc<T>::type *invstd, const T *w,
                         const typename lt_acc<T>::type *coef, int64_t N, int64_t C,
                         int64_t HW) {
  int64_t n = N * C * HW;
  bool vec = HW % BN_VEC == 0 && bn_aligned(dx, sizeof(T) * BN_VEC) &&
             bn_aligned(dy, sizeof(T) * BN_VEC) && bn_aligned(x, sizeof(T) * BN_VEC);
  int V = vec ? BN_VEC : 1;
  int64_t units = n / V;
  bool fast = units <= INT32_MAX;
  bn_div dhw = bn_div_make(HW / V, fast), dc = bn_div_make(C, fast);
  if (vec)
    bn_backward_dx_kernel<T, BN_VEC, TRAIN><<<lt_blocks(units), BN_THREADS, 0, lt_cuda_stream>>>(
        dx, dy, x, mean, invstd, w, coef, dhw, dc, units);
  else
    bn_backward_dx_kernel<T, 1, TRAIN><<<lt_blocks(units), BN_THREADS, 0, lt_cuda_stream>>>(
        dx, dy, x, mean, invstd, w, coef, dhw, dc, units);
}

template <typename T>
static lt_status bn_backward_run(T *dx, T *dw, T *db, const T *dy, const T *x,
                                 const typename lt_acc<T>::type *mean,
                                 const typename lt_acc<T>::type *invstd, const T *w, int64_t N,
                                 int64_t C, int64_t HW, bool training) {
  typedef typename lt_acc<T>::type A;
  const char *op = "batch_norm_backward";
  if (N * HW == 0) {  /* no values: zero dw and db (all-zero bits are 0.0) */
    if (dw) LT_CUDA_CHECK(op, cudaMemsetAsync(dw, 0, (size_t)C * sizeof(T), lt_cuda_stream));
    if (db) LT_CUDA_CHECK(op, cudaMemsetAsync(db, 0, (size_t)C * sizeof(T), lt_cuda_stream));
    return LT_OK;
  }
  const bool sums = dw || db || (dx && training);
  bn_sums_t s = {NULL, NULL, 0, 0, 0};
  A *coef = NULL;
  const size_t cbytes = (size_t)C * 3 * sizeof(A);
  cudaError_t e = cudaSuccess;
  if (sums) {
    lt_status st = bn_sums<T, 1>(op, &s, x, dy, mean, N, C, HW);
    if (st) return st;
    if (dx && training && !(coef = (A *)lt_cuda_scratch_alloc(cbytes))) {
      lt_cuda_scratch_free(s.p1, s.bytes);
      return lt_cuda_err(LT_ERR_MEMORY, "cuda %s: out of memory for %zu bytes", op, cbytes);
    }
    bn_backward_finish_kernel<T><<<(unsigned)C, BN_FIN_THREADS, 0, lt_cuda_stream>>>(
        dw, db, coef, s.p1, s.p2, invstd, w, C, s.outer, s.HWp, N * HW, training);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess && dx) {
    if (training)
      bn_dx_launch<T, true>(dx, dy, x, mean, invstd, w, coef, N, C, HW);
    else
      bn_dx_launch<T, false>(dx, dy, x, mean, invstd, w, coef, N, C, HW);
    e = cudaGetLastError();
  }
  if (s.p1) lt_cuda_scratch_free(s.p1, s.bytes);
  if (coef) lt_cuda_scratch_free(coef, cbytes);
  if (e != cudaSuccess) return lt_cuda_err(LT_ERR_BACKEND, "cuda %s: %s", op, cudaGetErrorString(e));
  return LT_OK;
}

/* ---------------------------------------------------------------- entries */

static lt_status bn_check_dims(const char *op, int64_t N, int64_t C, int64_t HW) {
  if (N < 0 || C < 0 || HW < 0 || C > INT32_MAX)
    return lt_cuda_err(LT_ERR_SHAPE, "cuda %s: bad sizes N %lld, C %lld, HW %lld", op,
                       (long long)N, (long long)C, (long long)HW);
  return LT_OK;
}

lt_status lt_cuda_batch_norm_stats(void *mean, void *invstd, void *running_mean,
                                   void *running_var, const void *x, lt_dtype dt, int64_t N,
                                   int64_t C, int64_t HW, bool training, double momentum,
                                   double eps) {
  lt_status st = bn_check_dims("batch_norm", N, C, HW);
  if (st || C == 0) return st;
  LT_DISPATCH_FLOAT(dt, "batch_norm", {
    typedef typename lt_acc<scalar_t>::type A;
    return bn_stats_run<scalar_t>((A *)mean, (A *)invstd, (scalar_t *)running_mean,
                                  (scalar_t *)running_var, (const scalar_t *)x, N, C, HW,
                                  training, momentum, eps);
  });
  return LT_OK;
}

lt_status lt_cuda_batch_norm_forward(void *y, const void *x, const void *mean,
                                     const void *invstd, const void *w, const void *b,
                                     lt_dtype dt, int64_t N, int64_t C, int64_t HW) {
  lt_status st = bn_check_dims("batch_norm", N, C, HW);
  if (st || C == 0) return st;
  LT_DISPATCH_FLOAT(dt, "batch_norm", {
    typedef typename lt_acc<scalar_t>::type A;
    return bn_forward_run<scalar_t>((scalar_t *)y, (const scalar_t *)x, (const A *)mean,
                                    (const A *)invstd, (const scalar_t *)w,
                                    (const scalar_t *)b, N, C, HW);
  });
  return LT_OK;
}

lt_status lt_cuda_batch_norm_backward(void *dx, void *dw, void *db, const void *dy,
                                      const void *x, const void *mean, const void *invstd,
                                      const void *w, lt_dtype dt, int64_t N, int64_t C,
                                      int64_t HW, bool training) {
  lt_status st = bn_check_dims("batch_norm_backward", N, C, HW);
  if (st || C == 0) return st;
  LT_DISPATCH_FLOAT(dt, "batch_norm_backward", {
    typedef typename lt_acc<scalar_t>::type A;
    return bn_backward_run<scalar_t>((scalar_t *)dx, (scalar_t *)dw, (scalar_t *)db,
                                     (const scalar_t *)dy, (const scalar_t *)x,
                                     (const A *)mean, (const A *)invstd, (const scalar_t *)w, N,
                                     C, HW, training);
  });
  return LT_OK;
}
