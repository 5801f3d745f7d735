/*
** cuda_attention.cu - fused scaled dot-product attention (flash-attention
** style) for the CUDA backend, mirroring engine/cpu_attention.c: K/V stream
** through shared memory in tiles of 32 keys, online softmax in registers,
** logsumexp saved per row; the backward recomputes the probabilities tile by
** tile in two kernels (dq per query row; dk, dv per key tile), so there are
** no float atomics and the results are deterministic. Scalar FMA kernels
** (no tensor cores), head dims up to LT_SDPA_MAX_HEAD_DIM.
*/
#include <limits.h>
#include "cuda_kernels.cuh"

#define ATT_BC 32     /* keys per tile: one per lane */
#define ATT_WARPS 8   /* query rows per block: one per warp */
#define ATT_THREADS (ATT_WARPS * 32)
#define ATT_PER_LANE (LT_SDPA_MAX_HEAD_DIM / 32)                 /* 4 */
#define ATT_PER_THREAD (ATT_BC * LT_SDPA_MAX_HEAD_DIM / ATT_THREADS) /* 16 */

static __device__ __forceinline__ float att_exp(float x) { return expf(x); }
static __device__ __forceinline__ double att_exp(double x) { return exp(x); }
static __device__ __forceinline__ float att_log(float x) { return logf(x); }
static __device__ __forceinline__ double att_log(double x) { return log(x); }

/* Loads rows [r0, r0 + n) of a (rows, dim) matrix into shared memory with
** row pitch `pitch`, zero-filling rows past `nrows` (rows of the tile). */
template <typename T, typename A>
static __device__ void att_load(A *dst, int pitch, const T *src, int64_t r0, int nrows, int n,
                                int dim) {
  for (int idx = threadIdx.x; idx < n * dim; idx += blockDim.x) {
    int r = idx / dim, d = idx % dim;
    dst[r * pitch + d] = r < nrows ? lt_to<A>(src[(r0 + r) * (int64_t)dim + d]) : (A)0;
  }
}

/* ---------------------------------------------------------------- forward */

/* Block: ATT_WARPS query rows of one head (warp w owns row i0 + w); keys
** stream through shared memory ATT_BC at a time, lane c scoring key j0 + c.
** q (bh, L, E), k (bh, S, E), v (bh, S, Ev) -> out (bh, L, Ev), lse (bh, L). */
template <typename T, typename A>
__global__ void sdpa_forward_kernel(T *out, A *lse, const T *q, const T *k, const T *v,
                                    int64_t L, int64_t S, int E, int Ev, int64_t tiles, A scale,
                                    bool causal) {
  extern __shared__ __align__(16) unsigned char att_smem[];
  A *ks = (A *)att_smem;              /* ATT_BC x (E + 1), padded against bank conflicts */
  A *vs = ks + ATT_BC * (E + 1);      /* ATT_BC x Ev */
  A *qs = vs + ATT_BC * Ev;           /* ATT_WARPS x E */
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int64_t b = blockIdx.x / tiles, i0 = (blockIdx.x % tiles) * ATT_WARPS, i = i0 + warp;
  bool active = i < L;
  const T *kb = k + b * S * E, *vb = v + b * S * Ev;
  int nrows = (int)(L - i0 < ATT_WARPS ? L - i0 : ATT_WARPS);
  att_load<T, A>(qs, E, q + b * L * E, i0, nrows, ATT_WARPS, E);
  int64_t last = i0 + nrows - 1;
  int64_t jend = causal ? (last + 1 < S ? last + 1 : S) : S;   /* block-uniform */
  int64_t my_jend = causal ? (i + 1 < S ? i + 1 : S) : S;      /* warp-uniform */
  A m = -INFINITY, l = 0, acc[ATT_PER_LANE];
#pragma unroll
  for (int t = 0; t < ATT_PER_LANE; t++) acc[t] = 0;
  for (int64_t j0 = 0; j0 < jend; j0 += ATT_BC) {
    int nc = (int)(jend - j0 < ATT_BC ? jend - j0 : ATT_BC);
    __syncthreads();  /* the previous tile is consumed (and qs is loaded) */
    att_load<T, A>(ks, E + 1, kb, j0, nc, ATT_BC, E);
    att_load<T, A>(vs, Ev, vb, j0, nc, ATT_BC, Ev);
    __syncthreads();
    if (!active || j0 >= my_jend) continue;
    int nvis = (int)(my_jend - j0 < ATT_BC ? my_jend - j0 : ATT_BC);
    A s = -INFINITY;
    if (lane < nvis) {
      A dot = 0;
      for (int d = 0; d < E; d++) dot += qs[warp * E + d] * ks[lane * (E + 1) + d];
      s = dot * scale;
    }
    A mx = lt_warp_max(s);
    mx = mx > m ? mx : m;
    A p = lane < nvis ? att_exp(s - mx) : (A)0;
    A corr = m == mx ? (A)1 : att_exp(m - mx);  /* m = -inf on the first tile: 0 */
    l = l * corr + lt_warp_sum(p);
#pragma unroll
    for (int t = 0; t < ATT_PER_LANE; t++) acc[t] *= corr;
    for (int c = 0; c < nvis; c++) {
      A pc = __shfl_sync(0xffffffffu, p, c);
#pragma unroll
      for (int t = 0; t < ATT_PER_LANE; t++) {
        int d = lane + 32 * t;
        if (d < Ev) acc[t] += pc * vs[c * Ev + d];
      }
    }
    m = mx;
  }
  if (!active) return;
  int64_t r = b * L + i;
  A inv = (A)1 / l;
#pragma unroll
  for (int t = 0; t < ATT_PER_LANE; t++) {
    int d = lane + 32 * t;
    if (d < Ev) out[r * Ev + d] = lt_to<T>(acc[t] * inv);
  }
  if (lane == 0) lse[r] = m + att_log(l);
}

/* ---------------------------------------------------------------- backward */

/* dq: block of ATT_WARPS query rows, keys streamed as in the forward.
**   D_i = dout_i . out_i (stored for the dk/dv kernel),
**   p_ij = exp(scale q_i.k_j - lse_i), ds_ij = p_ij (dout_i.v_j - D_i),
**   dq_i = scale sum_j ds_ij k_j. */
template <typename T, typename A>
__global__ void sdpa_backward_dq_kernel(T *dq, A *D, const T *dout, const T *q, const T *k,
                                        const T *v, const T *out, const A *lse, int64_t L,
                                        int64_t S, int E, int Ev, int64_t tiles, A scale,
                                        bool causal) {
  extern __shared__ __align__(16) unsigned char att_smem[];
  A *ks = (A *)att_smem;              /* ATT_BC x (E + 1) */
  A *vs = ks + ATT_BC * (E + 1);      /* ATT_BC x (Ev + 1) */
  A *qs = vs + ATT_BC * (Ev + 1);     /* ATT_WARPS x E */
  A *dos = qs + ATT_WARPS * E;        /* ATT_WARPS x Ev */
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int64_t b = blockIdx.x / tiles, i0 = (blockIdx.x % tiles) * ATT_WARPS, i = i0 + warp;
  bool active = i < L;
  int64_t r = b * L + i;
  const T *kb = k + b * S * E, *vb = v + b * S * Ev;
  int nrows = (int)(L - i0 < ATT_WARPS ? L - i0 : ATT_WARPS);
  att_load<T, A>(qs, E, q + b * L * E, i0, nrows, ATT_WARPS, E);
  att_load<T, A>(dos, Ev, dout + b * L * Ev, i0, nrows, ATT_WARPS, Ev);
  A Di = 0, li = 0;
  if (active) {
    A part = 0;
    for (int d = lane; d < Ev; d += 32) part += lt_to<A>(dout[r * Ev + d]) * lt_to<A>(out[r * Ev + d]);
    Di = lt_warp_sum(part);
    li = lse[r];
    if (lane == 0) D[r] = Di;
  }
  int64_t last = i0 + nrows - 1;
  int64_t jend = causal ? (last + 1 < S ? last + 1 : S) : S;
  int64_t my_jend = causal ? (i + 1 < S ? i + 1 : S) : S;
  A acc[ATT_PER_LANE];
#pragma unroll
  for (int t = 0; t < ATT_PER_LANE; t++) acc[t] = 0;
  for (int64_t j0 = 0; j0 < jend; j0 += ATT_BC) {
    int nc = (int)(jend - j0 < ATT_BC ? jend - j0 : ATT_BC);
    __syncthreads();
    att_load<T, A>(ks, E + 1, kb, j0, nc, ATT_BC, E);
    att_load<T, A>(vs, Ev + 1, vb, j0, nc, ATT_BC, Ev);
    __syncthreads();
    if (!active || j0 >= my_jend) continue;
    int nvis = (int)(my_jend - j0 < ATT_BC ? my_jend - j0 : ATT_BC);
    A ds = 0;
    if (lane < nvis) {
      A dot = 0, dp = 0;
      for (int d = 0; d < E; d++) dot += qs[warp * E + d] * ks[lane * (E + 1) + d];
      for (int d = 0; d < Ev; d++) dp += dos[warp * Ev + d] * vs[lane * (Ev + 1) + d];
      A p = att_exp(dot * scale - li);
      ds = p * (dp - Di);
    }
    for (int c = 0; c < nvis; c++) {
      A dsc = __shfl_sync(0xffffffffu, ds, c);
#pragma unroll
      for (int t = 0; t < ATT_PER_LANE; t++) {
        int d = lane + 32 * t;
        if (d < E) acc[t] += dsc * ks[c * (E + 1) + d];
      }
    }
  }
  if (!active) return;
#pragma unroll
  for (int t = 0; t < ATT_PER_LANE; t++) {
    int d = lane + 32 * t;
    if (d < E) dq[r * E + d] = lt_to<T>(scale * acc[t]);
  }
}

/* dk, dv: block of ATT_BC keys (kept in shared memory); query rows stream
** ATT_WARPS at a time (warp w scores row i0 + w against the block's keys,
** lane c against key j0 + c), then every thread accumulates its share of
** the (ATT_BC x E) dk and (ATT_BC x Ev) dv tiles in registers:
**   dk_j = scale sum_i ds_ij q_i,  dv_j = sum_i p_ij dout_i. */
template <typename T, typename A>
__global__ void sdpa_backward_dkdv_kernel(T *dk, T *dv, const T *dout, const T *q, const T *k,
                                          const T *v, const A *lse, const A *D, int64_t L,
                                          int64_t S, int E, int Ev, int64_t tiles, A scale,
                                          bool causal) {
  extern __shared__ __align__(16) unsigned char att_smem[];
  A *ks = (A *)att_smem;              /* ATT_BC x (E + 1) */
  A *vs = ks + ATT_BC * (E + 1);      /* ATT_BC x (Ev + 1) */
  A *qs = vs + ATT_BC * (Ev + 1);     /* ATT_WARPS x E */
  A *dos = qs + ATT_WARPS * E;        /* ATT_WARPS x Ev */
  A *ps = dos + ATT_WARPS * Ev;       /* ATT_WARPS x ATT_BC */
  A *dss = ps + ATT_WARPS * ATT_BC;   /* ATT_WARPS x ATT_BC */
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int64_t b = blockIdx.x / tiles, j0 = (blockIdx.x % tiles) * ATT_BC;
  int nc = (int)(S - j0 < ATT_BC ? S - j0 : ATT_BC);
  att_load<T, A>(ks, E + 1, k + b * S * E, j0, nc, ATT_BC, E);
  att_load<T, A>(vs, Ev + 1, v + b * S * Ev, j0, nc, ATT_BC, Ev);
  A ak[ATT_PER_THREAD], av[ATT_PER_THREAD];
#pragma unroll
  for (int u = 0; u < ATT_PER_THREAD; u++) ak[u] = av[u] = 0;
  const T *qb = q + b * L * E, *db = dout + b * L * Ev;
  /* rows before j0 see none of these keys under the causal mask */
  for (int64_t i0 = causal ? j0 : 0; i0 < L; i0 += ATT_WARPS) {
    int nrows = (int)(L - i0 < ATT_WARPS ? L - i0 : ATT_WARPS);
    __syncthreads();  /* previous rows consumed (and the key tile is loaded) */
    att_load<T, A>(qs, E, qb, i0, nrows, ATT_WARPS, E);
    att_load<T, A>(dos, Ev, db, i0, nrows, ATT_WARPS, Ev);
    __syncthreads();
    int64_t i = i0 + warp, j = j0 + lane;
    A p = 0, ds = 0;
    if (warp < nrows && lane < nc && (!causal || j <= i)) {
      int64_t r = b * L + i;
      A dot = 0, dp = 0;
      for (int d = 0; d < E; d++) dot += qs[warp * E + d] * ks[lane * (E + 1) + d];
      for (int d = 0; d < Ev; d++) dp += dos[warp * Ev + d] * vs[lane * (Ev + 1) + d];
      p = att_exp(dot * scale - lse[r]);
      ds = p * (dp - D[r]);
    }
    ps[warp * ATT_BC + lane] = p;
    dss[warp * ATT_BC + lane] = ds;
    __syncthreads();
#pragma unroll
    for (int u = 0; u < ATT_PER_THREAD; u++) {
      int idx = threadIdx.x + u * ATT_THREADS;
      if (idx < ATT_BC * E) {
        int c = idx / E, d = idx % E;
        A s = 0;
        for (int w = 0; w < nrows; w++) s += dss[w * ATT_BC + c] * qs[w * E + d];
        ak[u] += s;
      }
      if (idx < ATT_BC * Ev) {
        int c = idx / Ev, d = idx % Ev;
        A s = 0;
        for (int w = 0; w < nrows; w++) s += ps[w * ATT_BC + c] * dos[w * Ev + d];
        av[u] += s;
      }
    }
  }
#pragma unroll
  for (int u = 0; u < ATT_PER_THREAD; u++) {
    int idx = threadIdx.x + u * ATT_THREADS;
    if (idx < ATT_BC * E) {
      int c = idx / E, d = idx % E;
      if (c < nc) dk[(b * S + j0 + c) * E + d] = lt_to<T>(scale * ak[u]);
    }
    if (idx < ATT_BC * Ev) {
      int c = idx / Ev, d = idx % Ev;
      if (c < nc) dv[(b * S + j0 + c) * Ev + d] = lt_to<T>(av[u]);
    }
  }
}

/* ---------------------------------------------------------------- launchers */

template <typename K>
static lt_status att_smem_attr(const char *op, K kernel, size_t smem) {
  if (smem > 48 * 1024)
    LT_CUDA_CHECK(op, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           (int)smem));
  return LT_OK;
}

static lt_status att_check(const char *op, lt_dtype dt, int64_t bh, int64_t L, int64_t S,
                           int64_t E, int64_t Ev, int64_t *blocks_q, int64_t *blocks_k) {
  if (!lt_cuda_is_float(dt))
    return lt_cuda_err(LT_ERR_DTYPE, "cuda %s: dtype %s is not a float dtype", op,
                       lt_cuda_dtype_name(dt));
  if (bh < 0 || L < 1 || S < 1 || E < 1 || Ev < 1 || E > LT_SDPA_MAX_HEAD_DIM ||
      Ev > LT_SDPA_MAX_HEAD_DIM)
    return lt_cuda_err(LT_ERR_ARG,
                       "cuda %s: unsupported sizes (bh %lld, L %lld, S %lld, E %lld, Ev %lld; "
                       "head dims up to %d)",
                       op, (long long)bh, (long long)L, (long long)S, (long long)E,
                       (long long)Ev, LT_SDPA_MAX_HEAD_DIM);
  *blocks_q = bh * ((L + ATT_WARPS - 1) / ATT_WARPS);
  *blocks_k = bh * ((S + ATT_BC - 1) / ATT_BC);
  if (*blocks_q > INT_MAX || *blocks_k > INT_MAX)
    return lt_cuda_err(LT_ERR_ARG, "cuda %s: too many heads and rows (bh %lld, L %lld, S %lld)",
                       op, (long long)bh, (long long)L, (long long)S);
  return LT_OK;
}

template <typename T, typename A>
static lt_status sdpa_forward_run(void *out, void *lse, const void *q, const void *k,
                                  const void *v, int64_t L, int64_t S, int E, int Ev,
                                  int64_t blocks, double scale, bool causal) {
  const char *op = "scaled_dot_product_attention";
  size_t smem = sizeof(A) * (size_t)(ATT_BC * (E + 1) + ATT_BC * Ev + ATT_WARPS * E);
  lt_status st = att_smem_attr(op, sdpa_forward_kernel<T, A>, smem);
  if (st) return st;
  int64_t tiles = (L + ATT_WARPS - 1) / ATT_WARPS;
  sdpa_forward_kernel<T, A><<<(unsigned)blocks, ATT_THREADS, smem, lt_cuda_stream>>>(
      (T *)out, (A *)lse, (const T *)q, (const T *)k, (const T *)v, L, S, E, Ev, tiles,
      (A)scale, causal);
  LT_CUDA_LAUNCHED(op);
  return LT_OK;
}

template <typename T, typename A>
static lt_status sdpa_backward_run(void *dq, void *dk, void *dv, const void *dout, const void *q,
                                   const void *k, const void *v, const void *out,
                                   const void *lse, int64_t bh, int64_t L, int64_t S, int E,
                                   int Ev, int64_t blocks_q, int64_t blocks_k, double scale,
                                   bool causal) {
  const char *op = "scaled_dot_product_attention_backward";
  size_t dbytes = sizeof(A) * (size_t)(bh * L);
  A *D = (A *)lt_cuda_scratch_alloc(dbytes);
  if (!D)
    return lt_cuda_err(LT_ERR_MEMORY, "cuda %s: out of memory for %zu bytes of scratch", op,
                       dbytes);
  size_t smem_q = sizeof(A) * (size_t)(ATT_BC * (E + 1) + ATT_BC * (Ev + 1) + ATT_WARPS * E +
                                       ATT_WARPS * Ev);
  size_t smem_k = smem_q + sizeof(A) * (size_t)(2 * ATT_WARPS * ATT_BC);
  lt_status st = att_smem_attr(op, sdpa_backward_dq_kernel<T, A>, smem_q);
  if (!st) st = att_smem_attr(op, sdpa_backward_dkdv_kernel<T, A>, smem_k);
  if (!st) {
    sdpa_backward_dq_kernel<T, A><<<(unsigned)blocks_q, ATT_THREADS, smem_q, lt_cuda_stream>>>(
        (T *)dq, D, (const T *)dout, (const T *)q, (const T *)k, (const T *)v, (const T *)out,
        (const A *)lse, L, S, E, Ev, (L + ATT_WARPS - 1) / ATT_WARPS, (A)scale, causal);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) {  /* after dq: it writes D */
      sdpa_backward_dkdv_kernel<T, A><<<(unsigned)blocks_k, ATT_THREADS, smem_k,
                                        lt_cuda_stream>>>(
          (T *)dk, (T *)dv, (const T *)dout, (const T *)q, (const T *)k, (const T *)v,
          (const A *)lse, D, L, S, E, Ev, (S + ATT_BC - 1) / ATT_BC, (A)scale, causal);
      e = cudaGetLastError();
    }
    if (e != cudaSuccess)
      st = lt_cuda_err(LT_ERR_BACKEND, "cuda %s: %s", op, cudaGetErrorString(e));
  }
  lt_cuda_scratch_free(D, dbytes);  /* stream ordered: safe after queuing */
  return st;
}

lt_status lt_cuda_sdpa_forward(void *out, void *lse, const void *q, const void *k, const void *v,
                               lt_dtype dt, int64_t bh, int64_t L, int64_t S, int64_t E,
                               int64_t Ev, double scale, bool causal) {
  int64_t bq = 0, bk = 0;
  lt_status st = att_check("scaled_dot_product_attention", dt, bh, L, S, E, Ev, &bq, &bk);
  if (st || bh == 0) return st;
  switch (dt) {
    case LT_DTYPE_F64:
      return sdpa_forward_run<double, double>(out, lse, q, k, v, L, S, (int)E, (int)Ev, bq,
                                              scale, causal);
    case LT_DTYPE_BF16:
      return sdpa_forward_run<bf16_t, float>(out, lse, q, k, v, L, S, (int)E, (int)Ev, bq,
                                             scale, causal);
    case LT_DTYPE_F16:
      return sdpa_forward_run<f16_t, float>(out, lse, q, k, v, L, S, (int)E, (int)Ev, bq,
                                            scale, causal);
    default:
      return sdpa_forward_run<float, float>(out, lse, q, k, v, L, S, (int)E, (int)Ev, bq, scale,
                                            causal);
  }
}

lt_status lt_cuda_sdpa_backward(void *dq, void *dk, void *dv, const void *dout, const void *q,
                                const void *k, const void *v, const void *out, const void *lse,
                                lt_dtype dt, int64_t bh, int64_t L, int64_t S, int64_t E,
                                int64_t Ev, double scale, bool causal) {
  int64_t bq = 0, bk = 0;
  lt_status st =
      att_check("scaled_dot_product_attention_backward", dt, bh, L, S, E, Ev, &bq, &bk);
  if (st || bh == 0) return st;
  switch (dt) {
    case LT_DTYPE_F64:
      return sdpa_backward_run<double, double>(dq, dk, dv, dout, q, k, v, out, lse, bh, L, S,
                                               (int)E, (int)Ev, bq, bk, scale, causal);
    case LT_DTYPE_BF16:
      return sdpa_backward_run<bf16_t, float>(dq, dk, dv, dout, q, k, v, out, lse, bh, L, S,
                                              (int)E, (int)Ev, bq, bk, scale, causal);
    case LT_DTYPE_F16:
      return sdpa_backward_run<f16_t, float>(dq, dk, dv, dout, q, k, v, out, lse, bh, L, S,
                                             (int)E, (int)Ev, bq, bk, scale, causal);
    default:
      return sdpa_backward_run<float, float>(dq, dk, dv, dout, q, k, v, out, lse, bh, L, S,
                                             (int)E, (int)Ev, bq, bk, scale, causal);
  }
}
