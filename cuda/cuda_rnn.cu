/*
** cuda_rnn.cu - the CUDA backend's fused recurrent cells (backend.h:
** lstm_cell, gru_cell and their backwards): one grid-stride elementwise
** kernel each over the N x H hidden units of contiguous float32/float64
** buffers (float uses the CUDA intrinsics' expf/tanhf, double exp/tanh).
** It does not check shapes or record autograd (engine/ops_rnn.c does).
*/
#include "cuda_kernels.cuh"

__device__ __forceinline__ float rnn_sig(float x) {
  return x >= 0.0f ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
}
__device__ __forceinline__ double rnn_sig(double x) {
  return x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}
__device__ __forceinline__ float rnn_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double rnn_tanh(double x) { return tanh(x); }

template <typename T>
__global__ void lstm_fwd_kernel(T *h1, T *c1, T *act, T *tc, const T *g, const T *c, int64_t N,
                                int64_t H) {
  LT_GRID_LOOP(k, N * H) {
    int64_t n = k / H, j = k - n * H;
    const T *gr = g + n * 4 * H;
    T i = rnn_sig(gr[j]), f = rnn_sig(gr[H + j]), gg = rnn_tanh(gr[2 * H + j]),
      o = rnn_sig(gr[3 * H + j]);
    T cc = f * c[k] + i * gg;
    T t = rnn_tanh(cc);
    c1[k] = cc;
    h1[k] = o * t;
    if (act) {
      T *ar = act + n * 4 * H;
      ar[j] = i;
      ar[H + j] = f;
      ar[2 * H + j] = gg;
      ar[3 * H + j] = o;
      tc[k] = t;
    }
  }
}

template <typename T>
__global__ void lstm_bwd_kernel(T *dg, T *dc, const T *dh1, const T *dc1, const T *act,
                                const T *tc, const T *c, int64_t N, int64_t H) {
  LT_GRID_LOOP(k, N * H) {
    int64_t n = k / H, j = k - n * H;
    const T *ar = act + n * 4 * H;
    T i = ar[j], f = ar[H + j], gg = ar[2 * H + j], o = ar[3 * H + j], t = tc[k];
    T dh = dh1 ? dh1[k] : (T)0;
    T dct = (dc1 ? dc1[k] : (T)0) + dh * o * ((T)1 - t * t);
    T *dr = dg + n * 4 * H;
    dr[j] = dct * gg * ((T)1 - i) * i;
    dr[H + j] = dct * c[k] * ((T)1 - f) * f;
    dr[2 * H + j] = dct * i * ((T)1 - gg * gg);
    dr[3 * H + j] = dh * t * ((T)1 - o) * o;
    if (dc) dc[k] = dct * f;
  }
}

template <typename T>
__global__ void gru_fwd_kernel(T *h1, T *act, const T *gx, const T *gh, const T *h, int64_t N,
                               int64_t H) {
  LT_GRID_LOOP(k, N * H) {
    int64_t n = k / H, j = k - n * H;
    const T *xr = gx + n * 3 * H, *hr = gh + n * 3 * H;
    T r = rnn_sig(xr[j] + hr[j]), z = rnn_sig(xr[H + j] + hr[H + j]);
    T nn = rnn_tanh(xr[2 * H + j] + r * hr[2 * H + j]);
    h1[k] = nn + z * (h[k] - nn);
    if (act) {
      T *ar = act + n * 3 * H;
      ar[j] = r;
      ar[H + j] = z;
      ar[2 * H + j] = nn;
    }
  }
}

template <typename T>
__global__ void gru_bwd_kernel(T *dgx, T *dgh, T *dh, const T *dh1, const T *act, const T *gh,
                               const T *h, int64_t N, int64_t H) {
  LT_GRID_LOOP(k, N * H) {
    int64_t n = k / H, j = k - n * H;
    const T *ar = act + n * 3 * H;
    T r = ar[j], z = ar[H + j], nn = ar[2 * H + j], d = dh1[k];
    T an = d * ((T)1 - z) * ((T)1 - nn * nn);
    T rr = an * gh[n * 3 * H + 2 * H + j] * ((T)1 - r) * r;
    T az = d * (h[k] - nn) * ((T)1 - z) * z;
    if (dgx) {
      T *o = dgx + n * 3 * H;
      o[j] = rr;
      o[H + j] = az;
      o[2 * H + j] = an;
    }
    if (dgh) {
      T *o = dgh + n * 3 * H;
      o[j] = rr;
      o[H + j] = az;
      o[2 * H + j] = an * r;
    }
    if (dh) dh[k] = d * z;
  }
}

#define RNN_DISPATCH(dt, op, ...)                                                        \
  switch (dt) {                                                                          \
    LT_DISPATCH_CASE(LT_DTYPE_F32, float, __VA_ARGS__)                                   \
    LT_DISPATCH_CASE(LT_DTYPE_F64, double, __VA_ARGS__)                                  \
    default:                                                                             \
      return lt_cuda_err(LT_ERR_DTYPE, "cuda %s: dtype %s not supported (float32/float64)", \
                         op, lt_cuda_dtype_name(dt));                                    \
  }

lt_status lt_cuda_lstm_cell(void *h1, void *c1, void *act, void *tc, const void *gates,
                            const void *c, lt_dtype dt, int64_t N, int64_t H) {
  if (N * H <= 0) return LT_OK;
  RNN_DISPATCH(dt, "lstm_cell",
               lstm_fwd_kernel<scalar_t><<<lt_blocks(N * H), LT_THREADS, 0, lt_cuda_stream>>>(
                   (scalar_t *)h1, (scalar_t *)c1, (scalar_t *)act, (scalar_t *)tc,
                   (const scalar_t *)gates, (const scalar_t *)c, N, H));
  LT_CUDA_LAUNCHED("lstm_cell");
  return LT_OK;
}

lt_status lt_cuda_lstm_cell_backward(void *dgates, void *dc, const void *dh1, const void *dc1,
                                     const void *act, const void *tc, const void *c, lt_dtype dt,
                                     int64_t N, int64_t H) {
  if (N * H <= 0) return LT_OK;
  RNN_DISPATCH(dt, "lstm_cell_backward",
               lstm_bwd_kernel<scalar_t><<<lt_blocks(N * H), LT_THREADS, 0, lt_cuda_stream>>>(
                   (scalar_t *)dgates, (scalar_t *)dc, (const scalar_t *)dh1,
                   (const scalar_t *)dc1, (const scalar_t *)act, (const scalar_t *)tc,
                   (const scalar_t *)c, N, H));
  LT_CUDA_LAUNCHED("lstm_cell_backward");
  return LT_OK;
}

lt_status lt_cuda_gru_cell(void *h1, void *act, const void *gx, const void *gh, const void *h,
                           lt_dtype dt, int64_t N, int64_t H) {
  if (N * H <= 0) return LT_OK;
  RNN_DISPATCH(dt, "gru_cell",
               gru_fwd_kernel<scalar_t><<<lt_blocks(N * H), LT_THREADS, 0, lt_cuda_stream>>>(
                   (scalar_t *)h1, (scalar_t *)act, (const scalar_t *)gx,
                   (const scalar_t *)gh, (const scalar_t *)h, N, H));
  LT_CUDA_LAUNCHED("gru_cell");
  return LT_OK;
}

lt_status lt_cuda_gru_cell_backward(void *dgx, void *dgh, void *dh, const void *dh1,
                                    const void *act, const void *gh, const void *h, lt_dtype dt,
                                    int64_t N, int64_t H) {
  if (N * H <= 0) return LT_OK;
  RNN_DISPATCH(dt, "gru_cell_backward",
               gru_bwd_kernel<scalar_t><<<lt_blocks(N * H), LT_THREADS, 0, lt_cuda_stream>>>(
                   (scalar_t *)dgx, (scalar_t *)dgh, (scalar_t *)dh, (const scalar_t *)dh1,
                   (const scalar_t *)act, (const scalar_t *)gh, (const scalar_t *)h, N, H));
  LT_CUDA_LAUNCHED("gru_cell_backward");
  return LT_OK;
}
