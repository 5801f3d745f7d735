/*
** cuda_conv.cu - im2col / col2im for convolutions (the GEMM is cuBLAS's)
** and max / avg / adaptive-avg 2-D pooling with their backwards. Every
** backward is a gather (one thread per input element visiting the windows
** that contain it), so none needs atomics and results are deterministic.
** Contiguous NCHW only, as the contract says; halves compute in float.
*/
#include "cuda_kernels.cuh"

/* ---------------------------------------------------------------- im2col / col2im */

/* col (n, c*kh*kw, oh*ow) <- x (n, c, h, w) */
template <typename T>
__global__ void im2col_kernel(T *col, const T *x, lt_conv_geom g, int64_t total) {
  LT_GRID_LOOP(e, total) {
    int64_t L = g.oh * g.ow, K = g.c * g.kh * g.kw;
    int64_t p = e % L, ck = (e / L) % K, b = e / (L * K);
    int64_t kj = ck % g.kw, ki = (ck / g.kw) % g.kh, ci = ck / (g.kw * g.kh);
    int64_t oi = p / g.ow, oj = p % g.ow;
    int64_t ih = oi * g.sh - g.ph + ki * g.dh, iw = oj * g.sw - g.pw + kj * g.dw;
    col[e] = (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w)
                 ? x[((b * g.c + ci) * g.h + ih) * g.w + iw]
                 : lt_to<T>(0.0f);
  }
}

/* dx (n, c, h, w) = sum over the col entries that read each element */
template <typename T>
__global__ void col2im_kernel(T *dx, const T *col, lt_conv_geom g, int64_t total) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(e, total) {
    int64_t iw = e % g.w, ih = (e / g.w) % g.h, ci = (e / (g.w * g.h)) % g.c;
    int64_t b = e / (g.w * g.h * g.c);
    int64_t L = g.oh * g.ow, K = g.c * g.kh * g.kw;
    A s = 0;
    for (int64_t ki = 0; ki < g.kh; ki++) {
      int64_t hn = ih + g.ph - ki * g.dh;
      if (hn < 0 || hn % g.sh) continue;
      int64_t oi = hn / g.sh;
      if (oi >= g.oh) continue;
      for (int64_t kj = 0; kj < g.kw; kj++) {
        int64_t wn = iw + g.pw - kj * g.dw;
        if (wn < 0 || wn % g.sw) continue;
        int64_t oj = wn / g.sw;
        if (oj >= g.ow) continue;
        int64_t ck = (ci * g.kh + ki) * g.kw + kj;
        s += lt_to<A>(col[(b * K + ck) * L + oi * g.ow + oj]);
      }
    }
    dx[e] = lt_to<T>(s);
  }
}

lt_status lt_cuda_im2col(void *col, const void *x, lt_dtype dt, const lt_conv_geom *g) {
  int64_t total = g->n * g->c * g->kh * g->kw * g->oh * g->ow;
  if (total == 0) return LT_OK;
  if (g->sh <= 0 || g->sw <= 0)
    return lt_cuda_err(LT_ERR_ARG, "cuda im2col: stride must be positive");
  LT_DISPATCH_FLOAT(dt, "im2col",
                    im2col_kernel<scalar_t><<<lt_blocks(total), LT_THREADS, 0, lt_cuda_stream>>>(
                        (scalar_t *)col, (const scalar_t *)x, *g, total));
  LT_CUDA_LAUNCHED("im2col");
  return LT_OK;
}

lt_status lt_cuda_col2im(void *dx, const void *col, lt_dtype dt, const lt_conv_geom *g) {
  int64_t total = g->n * g->c * g->h * g->w;
  if (total == 0) return LT_OK;
  if (g->sh <= 0 || g->sw <= 0)
    return lt_cuda_err(LT_ERR_ARG, "cuda col2im: stride must be positive");
  LT_DISPATCH_FLOAT(dt, "col2im",
                    col2im_kernel<scalar_t><<<lt_blocks(total), LT_THREADS, 0, lt_cuda_stream>>>(
                        (scalar_t *)dx, (const scalar_t *)col, *g, total));
  LT_CUDA_LAUNCHED("col2im");
  return LT_OK;
}

/* ---------------------------------------------------------------- max pool */

/* y (nc, oh, ow), idx flat into h*w; NaN wins as in PyTorch */
template <typename T>
__global__ void max_pool2d_forward_kernel(T *y, int64_t *idx, const T *x, lt_pool_geom g,
                                          int64_t total) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(e, total) {
    int64_t oj = e % g.ow, oi = (e / g.ow) % g.oh, pl = e / (g.ow * g.oh);
    const T *xp = x + pl * g.h * g.w;
    A best = -INFINITY;
    int64_t bi = -1;
    for (int64_t ki = 0; ki < g.kh; ki++) {
      int64_t ih = oi * g.sh - g.ph + ki * g.dh;
      if (ih < 0 || ih >= g.h) continue;
      for (int64_t kj = 0; kj < g.kw; kj++) {
        int64_t iw = oj * g.sw - g.pw + kj * g.dw;
        if (iw < 0 || iw >= g.w) continue;
        A v = lt_to<A>(xp[ih * g.w + iw]);
        if (bi < 0 || v > best || v != v) { best = v; bi = ih * g.w + iw; }
      }
    }
    y[e] = lt_to<T>(best);
    if (idx) idx[e] = bi < 0 ? 0 : bi;
  }
}

template <typename T>
__global__ void max_pool2d_backward_kernel(T *dx, const T *dy, const int64_t *idx, lt_pool_geom g,
                                           int64_t total) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(e, total) {
    int64_t iw = e % g.w, ih = (e / g.w) % g.h, pl = e / (g.w * g.h);
    int64_t me = ih * g.w + iw, ob = pl * g.oh * g.ow;
    A s = 0;
    for (int64_t ki = 0; ki < g.kh; ki++) {
      int64_t hn = ih + g.ph - ki * g.dh;
      if (hn < 0 || hn % g.sh) continue;
      int64_t oi = hn / g.sh;
      if (oi >= g.oh) continue;
      for (int64_t kj = 0; kj < g.kw; kj++) {
        int64_t wn = iw + g.pw - kj * g.dw;
        if (wn < 0 || wn % g.sw) continue;
        int64_t oj = wn / g.sw;
        if (oj >= g.ow) continue;
        int64_t o = ob + oi * g.ow + oj;
        if (idx[o] == me) s += lt_to<A>(dy[o]);
      }
    }
    dx[e] = lt_to<T>(s);
  }
}

static lt_status pool_check(const char *op, const lt_pool_geom *g) {
  if (g->sh <= 0 || g->sw <= 0 || g->dh <= 0 || g->dw <= 0)
    return lt_cuda_err(LT_ERR_ARG, "cuda %s: stride and dilation must be positive", op);
  return LT_OK;
}

lt_status lt_cuda_max_pool2d(void *y, int64_t *idx, const void *x, lt_dtype dt,
                             const lt_pool_geom *g) {
  int64_t total = g->nc * g->oh * g->ow;
  if (total == 0) return LT_OK;
  if (pool_check("max_pool2d", g)) return LT_ERR_ARG;
  LT_DISPATCH_FLOAT(dt, "max_pool2d",
                    max_pool2d_forward_kernel<scalar_t><<<lt_blocks(total), LT_THREADS, 0,
                                                          lt_cuda_stream>>>(
                        (scalar_t *)y, idx, (const scalar_t *)x, *g, total));
  LT_CUDA_LAUNCHED("max_pool2d");
  return LT_OK;
}

lt_status lt_cuda_max_pool2d_backward(void *dx, const void *dy, const int64_t *idx, lt_dtype dt,
                                      const lt_pool_geom *g) {
  int64_t total = g->nc * g->h * g->w;
  if (total == 0) return LT_OK;
  if (pool_check("max_pool2d_backward", g)) return LT_ERR_ARG;
  LT_DISPATCH_FLOAT(dt, "max_pool2d_backward",
                    max_pool2d_backward_kernel<scalar_t><<<lt_blocks(total), LT_THREADS, 0,
                                                           lt_cuda_stream>>>(
                        (scalar_t *)dx, (const scalar_t *)dy, idx, *g, total));
  LT_CUDA_LAUNCHED("max_pool2d_backward");
  return LT_OK;
}

/* ---------------------------------------------------------------- avg pool */

/* PyTorch's window and divisor for output (oi, oj); returns the divisor and
** the clamped window. */
__device__ inline int64_t avg_window(const lt_pool_geom &g, int64_t oi, int64_t oj, int64_t *hs,
                                     int64_t *he, int64_t *ws, int64_t *we) {
  int64_t h0 = oi * g.sh - g.ph, w0 = oj * g.sw - g.pw;
  int64_t h1 = h0 + g.kh < g.h + g.ph ? h0 + g.kh : g.h + g.ph;
  int64_t w1 = w0 + g.kw < g.w + g.pw ? w0 + g.kw : g.w + g.pw;
  int64_t pool = (h1 - h0) * (w1 - w0);
  if (h0 < 0) h0 = 0;
  if (w0 < 0) w0 = 0;
  if (h1 > g.h) h1 = g.h;
  if (w1 > g.w) w1 = g.w;
  *hs = h0; *he = h1; *ws = w0; *we = w1;
  if (g.divisor_override) return g.divisor_override;
  return g.count_include_pad ? pool : (h1 - h0) * (w1 - w0);
}

template <typename T>
__global__ void avg_pool2d_forward_kernel(T *y, const T *x, lt_pool_geom g, int64_t total) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(e, total) {
    int64_t oj = e % g.ow, oi = (e / g.ow) % g.oh, pl = e / (g.ow * g.oh);
    int64_t hs, he, ws, we;
    int64_t div = avg_window(g, oi, oj, &hs, &he, &ws, &we);
    const T *xp = x + pl * g.h * g.w;
    A s = 0;
    for (int64_t ih = hs; ih < he; ih++)
      for (int64_t iw = ws; iw < we; iw++) s += lt_to<A>(xp[ih * g.w + iw]);
    y[e] = lt_to<T>((hs >= he || ws >= we || div == 0) ? (A)0 : s / (A)div);
  }
}

template <typename T>
__global__ void avg_pool2d_backward_kernel(T *dx, const T *dy, lt_pool_geom g, int64_t total) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(e, total) {
    int64_t iw = e % g.w, ih = (e / g.w) % g.h, pl = e / (g.w * g.h);
    int64_t ob = pl * g.oh * g.ow;
    A s = 0;
    for (int64_t ki = 0; ki < g.kh; ki++) {
      int64_t hn = ih + g.ph - ki;
      if (hn < 0 || hn % g.sh) continue;
      int64_t oi = hn / g.sh;
      if (oi >= g.oh) continue;
      for (int64_t kj = 0; kj < g.kw; kj++) {
        int64_t wn = iw + g.pw - kj;
        if (wn < 0 || wn % g.sw) continue;
        int64_t oj = wn / g.sw;
        if (oj >= g.ow) continue;
        int64_t hs, he, ws, we;
        int64_t div = avg_window(g, oi, oj, &hs, &he, &ws, &we);
        if (ih < hs || ih >= he || iw < ws || iw >= we || div == 0) continue;
        s += lt_to<A>(dy[ob + oi * g.ow + oj]) / (A)div;
      }
    }
    dx[e] = lt_to<T>(s);
  }
}

lt_status lt_cuda_avg_pool2d(void *y, const void *x, lt_dtype dt, const lt_pool_geom *g) {
  int64_t total = g->nc * g->oh * g->ow;
  if (total == 0) return LT_OK;
  if (g->sh <= 0 || g->sw <= 0)
    return lt_cuda_err(LT_ERR_ARG, "cuda avg_pool2d: stride must be positive");
  LT_DISPATCH_FLOAT(dt, "avg_pool2d",
                    avg_pool2d_forward_kernel<scalar_t><<<lt_blocks(total), LT_THREADS, 0,
                                                          lt_cuda_stream>>>(
                        (scalar_t *)y, (const scalar_t *)x, *g, total));
  LT_CUDA_LAUNCHED("avg_pool2d");
  return LT_OK;
}

lt_status lt_cuda_avg_pool2d_backward(void *dx, const void *dy, lt_dtype dt,
                                      const lt_pool_geom *g) {
  int64_t total = g->nc * g->h * g->w;
  if (total == 0) return LT_OK;
  if (g->sh <= 0 || g->sw <= 0)
    return lt_cuda_err(LT_ERR_ARG, "cuda avg_pool2d_backward: stride must be positive");
  LT_DISPATCH_FLOAT(dt, "avg_pool2d_backward",
                    avg_pool2d_backward_kernel<scalar_t><<<lt_blocks(total), LT_THREADS, 0,
                                                           lt_cuda_stream>>>(
                        (scalar_t *)dx, (const scalar_t *)dy, *g, total));
  LT_CUDA_LAUNCHED("avg_pool2d_backward");
  return LT_OK;
}

/* ---------------------------------------------------------------- adaptive avg pool */

__device__ inline int64_t ad_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
__device__ inline int64_t ad_end(int64_t o, int64_t in, int64_t out) {
  return ((o + 1) * in + out - 1) / out;
}

template <typename T>
__global__ void adaptive_avg_pool2d_forward_kernel(T *y, const T *x, lt_pool_geom g,
                                                   int64_t total) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(e, total) {
    int64_t oj = e % g.ow, oi = (e / g.ow) % g.oh, pl = e / (g.ow * g.oh);
    int64_t hs = ad_start(oi, g.h, g.oh), he = ad_end(oi, g.h, g.oh);
    int64_t ws = ad_start(oj, g.w, g.ow), we = ad_end(oj, g.w, g.ow);
    const T *xp = x + pl * g.h * g.w;
    A s = 0;
    for (int64_t ih = hs; ih < he; ih++)
      for (int64_t iw = ws; iw < we; iw++) s += lt_to<A>(xp[ih * g.w + iw]);
    y[e] = lt_to<T>(s / (A)((he - hs) * (we - ws)));
  }
}

template <typename T>
__global__ void adaptive_avg_pool2d_backward_kernel(T *dx, const T *dy, lt_pool_geom g,
                                                    int64_t total) {
  typedef typename lt_acc<T>::type A;
  LT_GRID_LOOP(e, total) {
    int64_t iw = e % g.w, ih = (e / g.w) % g.h, pl = e / (g.w * g.h);
    int64_t oi0 = (ih * g.oh) / g.h - 1, oi1 = ((ih + 1) * g.oh + g.h - 1) / g.h + 1;
    int64_t oj0 = (iw * g.ow) / g.w - 1, oj1 = ((iw + 1) * g.ow + g.w - 1) / g.w + 1;
    if (oi0 < 0) oi0 = 0;
    if (oj0 < 0) oj0 = 0;
    if (oi1 > g.oh) oi1 = g.oh;
    if (oj1 > g.ow) oj1 = g.ow;
    A s = 0;
    for (int64_t oi = oi0; oi < oi1; oi++) {
      int64_t hs = ad_start(oi, g.h, g.oh), he = ad_end(oi, g.h, g.oh);
      if (ih < hs || ih >= he) continue;
      for (int64_t oj = oj0; oj < oj1; oj++) {
        int64_t ws = ad_start(oj, g.w, g.ow), we = ad_end(oj, g.w, g.ow);
        if (iw < ws || iw >= we) continue;
        s += lt_to<A>(dy[(pl * g.oh + oi) * g.ow + oj]) / (A)((he - hs) * (we - ws));
      }
    }
    dx[e] = lt_to<T>(s);
  }
}

lt_status lt_cuda_adaptive_avg_pool2d(void *y, const void *x, lt_dtype dt, const lt_pool_geom *g) {
  int64_t total = g->nc * g->oh * g->ow;
  if (total == 0) return LT_OK;
  if (g->h <= 0 || g->w <= 0)
    return lt_cuda_err(LT_ERR_SHAPE, "cuda adaptive_avg_pool2d: empty input plane");
  LT_DISPATCH_FLOAT(dt, "adaptive_avg_pool2d",
                    adaptive_avg_pool2d_forward_kernel<scalar_t><<<lt_blocks(total), LT_THREADS, 0,
                                                                   lt_cuda_stream>>>(
                        (scalar_t *)y, (const scalar_t *)x, *g, total));
  LT_CUDA_LAUNCHED("adaptive_avg_pool2d");
  return LT_OK;
}

lt_status lt_cuda_adaptive_avg_pool2d_backward(void *dx, const void *dy, lt_dtype dt,
                                               const lt_pool_geom *g) {
  int64_t total = g->nc * g->h * g->w;
  if (total == 0) return LT_OK;
  if (g->oh <= 0 || g->ow <= 0) return LT_OK;
  LT_DISPATCH_FLOAT(dt, "adaptive_avg_pool2d_backward",
                    adaptive_avg_pool2d_backward_kernel<scalar_t><<<lt_blocks(total), LT_THREADS,
                                                                    0, lt_cuda_stream>>>(
                        (scalar_t *)dx, (const scalar_t *)dy, *g, total));
  LT_CUDA_LAUNCHED("adaptive_avg_pool2d_backward");
  return LT_OK;
}
