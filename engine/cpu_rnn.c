/*
** cpu_rnn.c - the CPU backend's fused recurrent cells (backend.h: lstm_cell,
** gru_cell and their backwards) on contiguous (N, G*H) buffers: one pass
** per row, vectorised over the hidden units, OpenMP over rows when large.
** float32 uses cpu_fastmath.h's exp/tanh/sigmoid, float64 libm. No other
** dtypes, no shape checks, no autograd (engine/ops_rnn.c does those).
*/
#include <math.h>
#include "cpu_fastmath.h"
#include "cpu_kernels.h"

static inline double rnn_sigmoid_d(double x) {
  return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

#define T float
#define SUF f32
#define SIG(x) lt_fast_sigmoidf(x)
#define TANH(x) lt_fast_tanhf(x)
#include "cpu_rnn_tmpl.h"
#undef T
#undef SUF
#undef SIG
#undef TANH

#define T double
#define SUF f64
#define SIG(x) rnn_sigmoid_d(x)
#define TANH(x) tanh(x)
#include "cpu_rnn_tmpl.h"
#undef T
#undef SUF
#undef SIG
#undef TANH

static lt_status bad_dtype(const char *op, lt_dtype dt) {
  return lt_error(LT_ERR_DTYPE, "%s: dtype %s not supported on cpu (float32/float64 only)", op,
                  lt_dtype_name(dt));
}

lt_status lt_cpu_lstm_cell(void *h1, void *c1, void *act, void *tc, const void *gates,
                           const void *c, lt_dtype dt, int64_t N, int64_t H) {
  if (dt == LT_DTYPE_F32) lstm_fwd_f32(h1, c1, act, tc, gates, c, N, H);
  else if (dt == LT_DTYPE_F64) lstm_fwd_f64(h1, c1, act, tc, gates, c, N, H);
  else return bad_dtype("lstm_cell", dt);
  return LT_OK;
}

lt_status lt_cpu_lstm_cell_backward(void *dgates, void *dc, const void *dh1, const void *dc1,
                                    const void *act, const void *tc, const void *c, lt_dtype dt,
                                    int64_t N, int64_t H) {
  if (dt == LT_DTYPE_F32) lstm_bwd_f32(dgates, dc, dh1, dc1, act, tc, c, N, H);
  else if (dt == LT_DTYPE_F64) lstm_bwd_f64(dgates, dc, dh1, dc1, act, tc, c, N, H);
  else return bad_dtype("lstm_cell_backward", dt);
  return LT_OK;
}

lt_status lt_cpu_gru_cell(void *h1, void *act, const void *gx, const void *gh, const void *h,
                          lt_dtype dt, int64_t N, int64_t H) {
  if (dt == LT_DTYPE_F32) gru_fwd_f32(h1, act, gx, gh, h, N, H);
  else if (dt == LT_DTYPE_F64) gru_fwd_f64(h1, act, gx, gh, h, N, H);
  else return bad_dtype("gru_cell", dt);
  return LT_OK;
}

lt_status lt_cpu_gru_cell_backward(void *dgx, void *dgh, void *dh, const void *dh1,
                                   const void *act, const void *gh, const void *h, lt_dtype dt,
                                   int64_t N, int64_t H) {
  if (dt == LT_DTYPE_F32) gru_bwd_f32(dgx, dgh, dh, dh1, act, gh, h, N, H);
  else if (dt == LT_DTYPE_F64) gru_bwd_f64(dgx, dgh, dh, dh1, act, gh, h, N, H);
  else return bad_dtype("gru_cell_backward", dt);
  return LT_OK;
}
