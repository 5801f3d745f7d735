/*
** cuda_nn.cu - softmax / log_softmax (+backward) on the outer x n x inner
** layout, fused cross entropy (+backward) and layer norm (+backward).
** lse (saved for backward) is float32 for f32/bf16/f16 logits, float64 for
** float64, as on the CPU. Rows go to a warp (short rows) or a 256-thread block (long rows); the
** strided inner > 1 case gives one thread per column. Halves compute in
** float. layer_norm's dw/db sum per-chunk partials in a second kernel, in
** order: no atomics, deterministic. Inputs are contiguous (the contract).
*/
#include "cuda_kernels.cuh"

/* Sum / max over a group of G threads (G = 32: one warp; G = 256: block). */
template <int G, typename A> __device__ inline A group_sum(A v, A *sh) {
  if (G == 32) return lt_warp_sum(v);
  return lt_block_sum<A>(v, sh);
}
template <int G, typename A> __device__ inline A group_max(A v, A *sh) {
  if (G == 32) return lt_warp_max(v);
  return lt_block_max<A>(v, sh);
}

#define LT_ROW_SETUP(G, rows)                                     \
  int lane = threadIdx.x % G;                                     \
  int64_t row = (int64_t)blockIdx.x * (LT_THREADS / G) + threadIdx.x / G; \
  bool live = row < (rows);

/* ---------------------------------------------------------------- softmax */

/* inner == 1: G threads per row of n */
template <typename T, int G>
__global__ void softmax_forward_kernel(T *out, const T *in, int64_t rows, int64_t n, bool lg) {
  typedef typename lt_acc<T>::type A;
  __shared__ A sh[32];
  LT_ROW_SETUP(G, rows)
  const T *x = in + (live ? row : 0) * n;
  A m = -INFINITY;
  if (live)
    for (int64_t j = lane; j < n; j += G) { A v = lt_to<A>(x[j]); m = v > m || v != v ? v : m; }
  m = group_max<G, A>(m, sh);
  A s = 0;
  if (live)
    for (int64_t j = lane; j < n; j += G) s += exp(lt_to<A>(x[j]) - m);
  s = group_sum<G, A>(s, sh);
  if (!live) return;
  T *y = out + row * n;
  A ls = log(s), inv = (A)1 / s;
  for (int64_t j = lane; j < n; j += G) {
    A v = lt_to<A>(x[j]) - m;
    y[j] = lt_to<T>(lg ? v - ls : exp(v) * inv);
  }
}

/* inner > 1: one thread per (outer, inner) column, walking n */
template <typename T>
__global__ void softmax_inner_kernel(T *out, const T *in, int64_t outer, int64_t n,
                                     int64_t inner, bool lg) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(c, outer * inner) {
    int64_t o = c / inner, i = c % inner;
    const T *x = in + o * n * inner + i;
    T *y = out + o * n * inner + i;
    A m = -INFINITY, s = 0;
    for (int64_t j = 0; j < n; j++) { A v = lt_to<A>(x[j * inner]); m = v > m || v != v ? v : m; }
    for (int64_t j = 0; j < n; j++) s += exp(lt_to<A>(x[j * inner]) - m);
    A ls = log(s), inv = (A)1 / s;
    for (int64_t j = 0; j < n; j++) {
      A v = lt_to<A>(x[j * inner]) - m;
      y[j * inner] = lt_to<T>(lg ? v - ls : exp(v) * inv);
    }
  }
}

/* dx = y (dy - sum(dy y))   or (log) dx = dy - exp(y) sum(dy) */
template <typename T, int G>
__global__ void softmax_backward_kernel(T *dx, const T *y, const T *dy, int64_t rows, int64_t n,
                                        bool lg) {
  typedef typename lt_acc<T>::type A;
  __shared__ A sh[32];
  LT_ROW_SETUP(G, rows)
  int64_t base = (live ? row : 0) * n;
  A s = 0;
  if (live)
    for (int64_t j = lane; j < n; j += G)
      s += lg ? lt_to<A>(dy[base + j]) : lt_to<A>(dy[base + j]) * lt_to<A>(y[base + j]);
  s = group_sum<G, A>(s, sh);
  if (!live) return;
  for (int64_t j = lane; j < n; j += G) {
    A g = lt_to<A>(dy[base + j]), v = lt_to<A>(y[base + j]);
    dx[base + j] = lt_to<T>(lg ? g - exp(v) * s : v * (g - s));
  }
}

template <typename T>
__global__ void softmax_backward_inner_kernel(T *dx, const T *y, const T *dy, int64_t outer,
                                              int64_t n, int64_t inner, bool lg) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(c, outer * inner) {
    int64_t base = (c / inner) * n * inner + c % inner;
    A s = 0;
    for (int64_t j = 0; j < n; j++) {
      int64_t k = base + j * inner;
      s += lg ? lt_to<A>(dy[k]) : lt_to<A>(dy[k]) * lt_to<A>(y[k]);
    }
    for (int64_t j = 0; j < n; j++) {
      int64_t k = base + j * inner;
      A g = lt_to<A>(dy[k]), v = lt_to<A>(y[k]);
      dx[k] = lt_to<T>(lg ? g - exp(v) * s : v * (g - s));
    }
  }
}

static unsigned row_blocks(int64_t rows, int G) {
  int64_t per = LT_THREADS / G;
  return (unsigned)((rows + per - 1) / per);
}

lt_status lt_cuda_softmax(void *out, const void *in, lt_dtype dt, int64_t outer, int64_t n,
                          int64_t inner, bool log) {
  if (outer * n * inner == 0) return LT_OK;
  if (inner == 1) {
    if (n <= 1024) {
      LT_DISPATCH_FLOAT(dt, "softmax",
                        softmax_forward_kernel<scalar_t, 32><<<row_blocks(outer, 32), LT_THREADS, 0,
                                                               lt_cuda_stream>>>(
                            (scalar_t *)out, (const scalar_t *)in, outer, n, log));
    } else {
      LT_DISPATCH_FLOAT(dt, "softmax",
                        softmax_forward_kernel<scalar_t, LT_THREADS><<<row_blocks(outer, LT_THREADS),
                                                                       LT_THREADS, 0,
                                                                       lt_cuda_stream>>>(
                            (scalar_t *)out, (const scalar_t *)in, outer, n, log));
    }
  } else {
    LT_DISPATCH_FLOAT(dt, "softmax",
                      softmax_inner_kernel<scalar_t><<<lt_blocks(outer * inner), LT_THREADS, 0,
                                                       lt_cuda_stream>>>(
                          (scalar_t *)out, (const scalar_t *)in, outer, n, inner, log));
  }
  LT_CUDA_LAUNCHED(log ? "log_softmax" : "softmax");
  return LT_OK;
}

lt_status lt_cuda_softmax_backward(void *dx, const void *y, const void *dy, lt_dtype dt,
                                   int64_t outer, int64_t n, int64_t inner, bool log) {
  if (outer * n * inner == 0) return LT_OK;
  if (inner == 1) {
    if (n <= 1024) {
      LT_DISPATCH_FLOAT(dt, "softmax_backward",
                        softmax_backward_kernel<scalar_t, 32><<<row_blocks(outer, 32), LT_THREADS,
                                                                0, lt_cuda_stream>>>(
                            (scalar_t *)dx, (const scalar_t *)y, (const scalar_t *)dy, outer, n,
                            log));
    } else {
      LT_DISPATCH_FLOAT(dt, "softmax_backward",
                        softmax_backward_kernel<scalar_t, LT_THREADS><<<row_blocks(outer,
                                                                                   LT_THREADS),
                                                                        LT_THREADS, 0,
                                                                        lt_cuda_stream>>>(
                            (scalar_t *)dx, (const scalar_t *)y, (const scalar_t *)dy, outer, n,
                            log));
    }
  } else {
    LT_DISPATCH_FLOAT(dt, "softmax_backward",
                      softmax_backward_inner_kernel<scalar_t><<<lt_blocks(outer * inner),
                                                                LT_THREADS, 0, lt_cuda_stream>>>(
                          (scalar_t *)dx, (const scalar_t *)y, (const scalar_t *)dy, outer, n,
                          inner, log));
  }
  LT_CUDA_LAUNCHED(log ? "log_softmax_backward" : "softmax_backward");
  return LT_OK;
}

/* ---------------------------------------------------------------- cross entropy */

/* PyTorch's row loss: (1-ls) w_t (lse - x_t) + ls/C sum_c w_c (lse - x_c)
** (w = 1 without weights); an all -inf row uses max 0 as the CPU does. */
template <typename T, int G>
__global__ void cross_entropy_forward_kernel(T *loss, typename lt_acc<T>::type *lse_out,
                                             const T *logits, const int64_t *target,
                                             const T *weight, int64_t rows, int64_t C,
                                             int64_t base, bool has_ignore, int64_t ignore,
                                             double smoothing) {
  typedef typename lt_acc<T>::type A;
  __shared__ A sh[32];
  LT_ROW_SETUP(G, rows)
  const T *x = logits + (live ? row : 0) * C;
  A m = -INFINITY, s = 0, sw = 0, swx = 0;
  if (live)
    for (int64_t j = lane; j < C; j += G) { A v = lt_to<A>(x[j]); m = v > m || v != v ? v : m; }
  m = group_max<G, A>(m, sh);
  if (m == -INFINITY) m = 0;
  if (live)
    for (int64_t j = lane; j < C; j += G) {
      A v = lt_to<A>(x[j]), wc = weight ? lt_to<A>(weight[j]) : (A)1;
      s += exp(v - m);
      sw += wc;
      swx += wc * v;
    }
  s = group_sum<G, A>(s, sh);
  if (smoothing != 0) {
    sw = group_sum<G, A>(sw, sh);
    swx = group_sum<G, A>(swx, sh);
  }
  if (!live || lane != 0) return;
  A lse = m + log(s);
  lse_out[row] = lse;
  int64_t t = target[row];
  if (has_ignore && t == ignore) { loss[row] = lt_to<T>((A)0); return; }
  t -= base;
  if (t < 0 || t >= C) { loss[row] = lt_to<T>((A)NAN); return; }
  A ls = (A)smoothing, wt = weight ? lt_to<A>(weight[t]) : (A)1;
  A l = ((A)1 - ls) * wt * (lse - lt_to<A>(x[t]));
  if (smoothing != 0) l += ls / (A)C * (lse * sw - swx);
  loss[row] = lt_to<T>(l);
}

lt_status lt_cuda_cross_entropy(void *loss, void *lse, const void *logits, const int64_t *target,
                                const void *weight, lt_dtype dt, int64_t rows, int64_t classes,
                                int64_t base, bool has_ignore, int64_t ignore, double smoothing) {
  if (rows == 0) return LT_OK;
  if (classes <= 0)
    return lt_cuda_err(LT_ERR_SHAPE, "cuda cross_entropy: %lld classes", (long long)classes);
  if (classes <= 2048) {
    LT_DISPATCH_FLOAT(dt, "cross_entropy",
                      cross_entropy_forward_kernel<scalar_t, 32><<<row_blocks(rows, 32), LT_THREADS,
                                                                   0, lt_cuda_stream>>>(
                          (scalar_t *)loss, (typename lt_acc<scalar_t>::type *)lse,
                          (const scalar_t *)logits, target, (const scalar_t *)weight, rows,
                          classes, base, has_ignore, ignore, smoothing));
  } else {
    LT_DISPATCH_FLOAT(dt, "cross_entropy",
                      cross_entropy_forward_kernel<scalar_t, LT_THREADS><<<row_blocks(rows,
                                                                                      LT_THREADS),
                                                                           LT_THREADS, 0,
                                                                           lt_cuda_stream>>>(
                          (scalar_t *)loss, (typename lt_acc<scalar_t>::type *)lse,
                          (const scalar_t *)logits, target, (const scalar_t *)weight, rows,
                          classes, base, has_ignore, ignore, smoothing));
  }
  LT_CUDA_LAUNCHED("cross_entropy");
  return LT_OK;
}

/* W = sum of the class weights (one block, fixed order) */
template <typename T>
__global__ void weight_sum_kernel(typename lt_acc<T>::type *W, const T *w, int64_t C) {
  typedef typename lt_acc<T>::type A;
  __shared__ A sh[32];
  A s = 0;
  for (int64_t j = threadIdx.x; j < C; j += blockDim.x) s += lt_to<A>(w[j]);
  s = lt_block_sum<A>(s, sh);
  if (threadIdx.x == 0) *W = s;
}

/* dlogits[r,c] = dloss[r] ((1-ls) w_t (p_c - [c == t]) + ls/C (W p_c - w_c)) */
template <typename T>
__global__ void cross_entropy_backward_kernel(T *dlogits, const T *dloss, int64_t dstride,
                                              const T *logits,
                                              const typename lt_acc<T>::type *lse,
                                              const int64_t *target, const T *weight,
                                              const typename lt_acc<T>::type *Wsum, int64_t rows,
                                              int64_t C, int64_t base, bool has_ignore,
                                              int64_t ignore, double smoothing) {
  typedef typename lt_acc<T>::type A;
  A W = Wsum ? *Wsum : (A)C;
  LT_GRID_LOOP(e, rows * C) {
    int64_t r = e / C, c = e % C;
    int64_t t = target[r];
    if ((has_ignore && t == ignore) || t - base < 0 || t - base >= C) {
      dlogits[e] = lt_to<T>((A)0);
      continue;
    }
    t -= base;
    A ls = (A)smoothing;
    A wt = weight ? lt_to<A>(weight[t]) : (A)1, wc = weight ? lt_to<A>(weight[c]) : (A)1;
    A p = exp(lt_to<A>(logits[e]) - lse[r]);
    A d = ((A)1 - ls) * wt * (p - (c == t ? (A)1 : (A)0));
    if (smoothing != 0) d += ls / (A)C * (W * p - wc);
    dlogits[e] = lt_to<T>(lt_to<A>(dloss[r * dstride]) * d);
  }
}

template <typename T>
static lt_status ce_backward_run(T *dlogits, const T *dloss, int64_t dstride, const T *logits,
                                 const typename lt_acc<T>::type *lse, const int64_t *target,
                                 const T *weight, int64_t rows, int64_t C, int64_t base,
                                 bool has_ignore, int64_t ignore, double smoothing) {
  typedef typename lt_acc<T>::type A;
  A *W = NULL;
  if (weight && smoothing != 0) {
    W = (A *)lt_cuda_scratch_alloc(sizeof(A));
    if (!W) return lt_cuda_err(LT_ERR_MEMORY, "cuda cross_entropy_backward: out of memory");
    weight_sum_kernel<T><<<1, LT_THREADS, 0, lt_cuda_stream>>>(W, weight, C);
  }
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) {
    cross_entropy_backward_kernel<T><<<lt_blocks(rows * C), LT_THREADS, 0, lt_cuda_stream>>>(
        dlogits, dloss, dstride, logits, lse, target, weight, W, rows, C, base, has_ignore,
        ignore, smoothing);
    e = cudaGetLastError();
  }
  if (W) lt_cuda_scratch_free(W, sizeof(A));
  if (e != cudaSuccess)
    return lt_cuda_err(LT_ERR_BACKEND, "cuda cross_entropy_backward: %s", cudaGetErrorString(e));
  return LT_OK;
}

lt_status lt_cuda_cross_entropy_backward(void *dlogits, const void *dloss, int64_t dloss_stride,
                                         const void *logits, const void *lse,
                                         const int64_t *target, const void *weight, lt_dtype dt,
                                         int64_t rows, int64_t classes, int64_t base,
                                         bool has_ignore, int64_t ignore, double smoothing) {
  if (rows * classes == 0) return LT_OK;
  LT_DISPATCH_FLOAT(dt, "cross_entropy_backward", {
    typedef typename lt_acc<scalar_t>::type A;
    return ce_backward_run<scalar_t>((scalar_t *)dlogits, (const scalar_t *)dloss, dloss_stride,
                                     (const scalar_t *)logits, (const A *)lse, target,
                                     (const scalar_t *)weight, rows, classes, base, has_ignore,
                                     ignore, smoothing);
  });
  return LT_OK;
}

/* ---------------------------------------------------------------- layer norm */

/* y = (x - mean) rstd w + b; mean/rstd in A (float for halves) */
template <typename T, int G>
__global__ void layer_norm_forward_kernel(T *y, typename lt_acc<T>::type *mean_out,
                                          typename lt_acc<T>::type *rstd_out, const T *x,
                                          const T *w, const T *b, int64_t rows, int64_t cols,
                                          double eps) {
  typedef typename lt_acc<T>::type A;
  __shared__ A sh[32];
  LT_ROW_SETUP(G, rows)
  const T *xr = x + (live ? row : 0) * cols;
  A s = 0;
  if (live)
    for (int64_t j = lane; j < cols; j += G) s += lt_to<A>(xr[j]);
  A mean = group_sum<G, A>(s, sh) / (A)cols;
  A q = 0;
  if (live)
    for (int64_t j = lane; j < cols; j += G) { A d = lt_to<A>(xr[j]) - mean; q += d * d; }
  A var = group_sum<G, A>(q, sh) / (A)cols;
  if (!live) return;
  A rstd = (A)1 / sqrt(var + (A)eps);
  if (lane == 0) {
    if (mean_out) mean_out[row] = mean;
    if (rstd_out) rstd_out[row] = rstd;
  }
  T *yr = y + row * cols;
  for (int64_t j = lane; j < cols; j += G) {
    A v = (lt_to<A>(xr[j]) - mean) * rstd;
    if (w) v *= lt_to<A>(w[j]);
    if (b) v += lt_to<A>(b[j]);
    yr[j] = lt_to<T>(v);
  }
}

lt_status lt_cuda_layer_norm(void *y, void *mean, void *rstd, const void *x, const void *w,
                             const void *b, lt_dtype dt, int64_t rows, int64_t cols, double eps) {
  if (rows * cols == 0) return LT_OK;
  if (cols <= 1024) {
    LT_DISPATCH_FLOAT(dt, "layer_norm", {
      typedef typename lt_acc<scalar_t>::type A;
      layer_norm_forward_kernel<scalar_t, 32><<<row_blocks(rows, 32), LT_THREADS, 0,
                                                lt_cuda_stream>>>(
          (scalar_t *)y, (A *)mean, (A *)rstd, (const scalar_t *)x, (const scalar_t *)w,
          (const scalar_t *)b, rows, cols, eps);
    });
  } else {
    LT_DISPATCH_FLOAT(dt, "layer_norm", {
      typedef typename lt_acc<scalar_t>::type A;
      layer_norm_forward_kernel<scalar_t, LT_THREADS><<<row_blocks(rows, LT_THREADS), LT_THREADS,
                                                        0, lt_cuda_stream>>>(
          (scalar_t *)y, (A *)mean, (A *)rstd, (const scalar_t *)x, (const scalar_t *)w,
          (const scalar_t *)b, rows, cols, eps);
    });
  }
  LT_CUDA_LAUNCHED("layer_norm");
  return LT_OK;
}

/* dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dy w, xhat = (x - mean) rstd */
template <typename T, int G>
__global__ void layer_norm_backward_kernel(T *dx, const T *dy, const T *x,
                                           const typename lt_acc<T>::type *mean,
                                           const typename lt_acc<T>::type *rstd, const T *w,
                                           int64_t rows, int64_t cols) {
  typedef typename lt_acc<T>::type A;
  __shared__ A sh[32];
  LT_ROW_SETUP(G, rows)
  int64_t base = (live ? row : 0) * cols;
  A mu = live ? mean[row] : (A)0, rs = live ? rstd[row] : (A)0;
  A sg = 0, sgx = 0;
  if (live)
    for (int64_t j = lane; j < cols; j += G) {
      A g = lt_to<A>(dy[base + j]);
      if (w) g *= lt_to<A>(w[j]);
      A xh = (lt_to<A>(x[base + j]) - mu) * rs;
      sg += g;
      sgx += g * xh;
    }
  sg = group_sum<G, A>(sg, sh) / (A)cols;
  sgx = group_sum<G, A>(sgx, sh) / (A)cols;
  if (!live) return;
  for (int64_t j = lane; j < cols; j += G) {
    A g = lt_to<A>(dy[base + j]);
    if (w) g *= lt_to<A>(w[j]);
    A xh = (lt_to<A>(x[base + j]) - mu) * rs;
    dx[base + j] = lt_to<T>(rs * (g - sg - xh * sgx));
  }
}

/* partial sums of dy * xhat and dy over a chunk of rows, per column */
template <typename T>
__global__ void layer_norm_dwdb_partial_kernel(typename lt_acc<T>::type *pw,
                                               typename lt_acc<T>::type *pb, const T *dy,
                                               const T *x, const typename lt_acc<T>::type *mean,
                                               const typename lt_acc<T>::type *rstd,
                                               int64_t rows, int64_t cols, int64_t chunk) {
  typedef typename lt_acc<T>::type A;
  int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int64_t ch = blockIdx.y;
  if (c >= cols) return;
  int64_t r0 = ch * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
  A sw = 0, sb = 0;
  for (int64_t r = r0; r < r1; r++) {
    A g = lt_to<A>(dy[r * cols + c]);
    sw += g * (lt_to<A>(x[r * cols + c]) - mean[r]) * rstd[r];
    sb += g;
  }
  pw[ch * cols + c] = sw;
  pb[ch * cols + c] = sb;
}

template <typename T>
__global__ void layer_norm_dwdb_finish_kernel(T *dw, T *db, const typename lt_acc<T>::type *pw,
                                              const typename lt_acc<T>::type *pb, int64_t cols,
                                              int64_t chunks) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(c, cols) {
    A sw = 0, sb = 0;
    for (int64_t k = 0; k < chunks; k++) {
      sw += pw[k * cols + c];
      sb += pb[k * cols + c];
    }
    if (dw) dw[c] = lt_to<T>(lt_to<A>(dw[c]) + sw);
    if (db) db[c] = lt_to<T>(lt_to<A>(db[c]) + sb);
  }
}

template <typename T>
static lt_status layer_norm_backward_run(T *dx, T *dw, T *db, const T *dy, const T *x,
                                         const typename lt_acc<T>::type *mean,
                                         const typename lt_acc<T>::type *rstd, const T *w,
                                         int64_t rows, int64_t cols) {
  typedef typename lt_acc<T>::type A;
  if (dx) {
    if (cols <= 1024)
      layer_norm_backward_kernel<T, 32><<<row_blocks(rows, 32), LT_THREADS, 0, lt_cuda_stream>>>(
          dx, dy, x, mean, rstd, w, rows, cols);
    else
      layer_norm_backward_kernel<T, LT_THREADS><<<row_blocks(rows, LT_THREADS), LT_THREADS, 0,
                                                  lt_cuda_stream>>>(dx, dy, x, mean, rstd, w,
                                                                    rows, cols);
    LT_CUDA_LAUNCHED("layer_norm_backward");
  }
  if (!dw && !db) return LT_OK;
  int64_t cblocks = (cols + LT_THREADS - 1) / LT_THREADS;
  int64_t chunks = ((int64_t)lt_cuda_sm_count * 8 + cblocks - 1) / cblocks;
  if (chunks > rows / 16) chunks = rows / 16;
  if (chunks > 1024) chunks = 1024;
  if (chunks < 1) chunks = 1;
  int64_t chunk = (rows + chunks - 1) / chunks;
  size_t bytes = (size_t)chunks * cols * sizeof(A) * 2;
  A *part = (A *)lt_cuda_scratch_alloc(bytes);
  if (!part)
    return lt_cuda_err(LT_ERR_MEMORY, "cuda layer_norm_backward: out of memory for %zu bytes",
                       bytes);
  dim3 grid((unsigned)cblocks, (unsigned)chunks);
  layer_norm_dwdb_partial_kernel<T><<<grid, LT_THREADS, 0, lt_cuda_stream>>>(
      part, part + chunks * cols, dy, x, mean, rstd, rows, cols, chunk);
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) {
    layer_norm_dwdb_finish_kernel<T><<<lt_blocks(cols), LT_THREADS, 0, lt_cuda_stream>>>(
        dw, db, part, part + chunks * cols, cols, chunks);
    e = cudaGetLastError();
  }
  lt_cuda_scratch_free(part, bytes);
  if (e != cudaSuccess)
    return lt_cuda_err(LT_ERR_BACKEND, "cuda layer_norm_backward: %s", cudaGetErrorString(e));
  return LT_OK;
}

lt_status lt_cuda_layer_norm_backward(void *dx, void *dw, void *db, const void *dy, const void *x,
                                      const void *mean, const void *rstd, const void *w,
                                      lt_dtype dt, int64_t rows, int64_t cols) {
  if (rows * cols == 0) return LT_OK;
  LT_DISPATCH_FLOAT(dt, "layer_norm_backward", {
    typedef typename lt_acc<scalar_t>::type A;
    return layer_norm_backward_run<scalar_t>((scalar_t *)dx, (scalar_t *)dw, (scalar_t *)db,
                                             (const scalar_t *)dy, (const scalar_t *)x,
                                             (const A *)mean, (const A *)rstd,
                                             (const scalar_t *)w, rows, cols);
  });
  return LT_OK;
}
