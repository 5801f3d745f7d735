/*
** cpu_rnn_tmpl.h - body of cpu_rnn.c's fused LSTM/GRU cell kernels for one
** float type, included once per type with T, SUF, SIG(x) and TANH(x)
** defined. Not a header of its own: no guard.
*/
#define RFN_(a, b) a##_##b
#define RFN2(a, b) RFN_(a, b)
#define RFN(name) RFN2(name, SUF)

/* one row of the LSTM forward; SAVE (a constant after inlining) stores act/tc */
LT_SIMD_CLONES static void RFN(lstm_row)(
    T *restrict h1, T *restrict c1, T *restrict act, T *restrict tc, const T *restrict g,
    const T *restrict c, int64_t H, const int save) {
  if (save) {
#pragma omp simd
    for (int64_t j = 0; j < H; j++) {
      const T i = SIG(g[j]), f = SIG(g[H + j]), gg = TANH(g[2 * H + j]), o = SIG(g[3 * H + j]);
      const T cc = f * c[j] + i * gg;
      const T t = TANH(cc);
      c1[j] = cc;
      h1[j] = o * t;
      act[j] = i;
      act[H + j] = f;
      act[2 * H + j] = gg;
      act[3 * H + j] = o;
      tc[j] = t;
    }
  } else {
#pragma omp simd
    for (int64_t j = 0; j < H; j++) {
      const T i = SIG(g[j]), f = SIG(g[H + j]), gg = TANH(g[2 * H + j]), o = SIG(g[3 * H + j]);
      const T cc = f * c[j] + i * gg;
      c1[j] = cc;
      h1[j] = o * TANH(cc);
    }
  }
}

static void RFN(lstm_fwd)(T *h1, T *c1, T *act, T *tc, const T *g, const T *c, int64_t N,
                          int64_t H) {
#pragma omp parallel for schedule(static) if (N > 1 && N * H * 4 > LT_CPU_PARALLEL_GRAIN)
  for (int64_t n = 0; n < N; n++) {
    if (act)
      RFN(lstm_row)(h1 + n * H, c1 + n * H, act + n * 4 * H, tc + n * H, g + n * 4 * H,
                    c + n * H, H, 1);
    else
      RFN(lstm_row)(h1 + n * H, c1 + n * H, NULL, NULL, g + n * 4 * H, c + n * H, H, 0);
  }
}

/* one row of the LSTM backward; HDH/HDC/HDC0 (constants after inlining):
   dh1 given, dc1 given, dc wanted */
static inline __attribute__((always_inline)) void RFN(lstm_bw_row)(
    T *restrict dg, T *restrict dc, const T *restrict dh1, const T *restrict dc1,
    const T *restrict a, const T *restrict tc, const T *restrict c, int64_t H, const int hdh,
    const int hdc, const int want_dc) {
#pragma omp simd
  for (int64_t j = 0; j < H; j++) {
    const T i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j], t = tc[j];
    const T dh = hdh ? dh1[j] : (T)0;
    const T dct = (hdc ? dc1[j] : (T)0) + dh * o * ((T)1 - t * t);
    dg[j] = dct * gg * ((T)1 - i) * i;
    dg[H + j] = dct * c[j] * ((T)1 - f) * f;
    dg[2 * H + j] = dct * i * ((T)1 - gg * gg);
    dg[3 * H + j] = dh * t * ((T)1 - o) * o;
    if (want_dc) dc[j] = dct * f;
  }
}

#define LSTM_BW_CASE(A, B, C)                                                              \
  RFN(lstm_bw_row)(dg + n * 4 * H, C ? dc + n * H : NULL, A ? dh1 + n * H : NULL,          \
                   B ? dc1 + n * H : NULL, a + n * 4 * H, tc + n * H, c + n * H, H, A, B, C)

static void RFN(lstm_bwd)(T *dg, T *dc, const T *dh1, const T *dc1, const T *a, const T *tc,
                          const T *c, int64_t N, int64_t H) {
  const int hdh = dh1 != NULL, hdc = dc1 != NULL, wdc = dc != NULL;
#pragma omp parallel for schedule(static) if (N > 1 && N * H * 4 > LT_CPU_PARALLEL_GRAIN)
  for (int64_t n = 0; n < N; n++) {
    if (hdh && hdc && wdc) LSTM_BW_CASE(1, 1, 1);
    else if (hdh && hdc) LSTM_BW_CASE(1, 1, 0);
    else if (hdh && wdc) LSTM_BW_CASE(1, 0, 1);
    else if (hdh) LSTM_BW_CASE(1, 0, 0);
    else if (hdc && wdc) LSTM_BW_CASE(0, 1, 1);
    else if (hdc) LSTM_BW_CASE(0, 1, 0);
    else if (wdc) LSTM_BW_CASE(0, 0, 1);
    else LSTM_BW_CASE(0, 0, 0);
  }
}
#undef LSTM_BW_CASE

LT_SIMD_CLONES static void RFN(gru_row)(
    T *restrict h1, T *restrict act, const T *restrict gx, const T *restrict gh,
    const T *restrict h, int64_t H, const int save) {
#pragma omp simd
  for (int64_t j = 0; j < H; j++) {
    const T r = SIG(gx[j] + gh[j]), z = SIG(gx[H + j] + gh[H + j]);
    const T nn = TANH(gx[2 * H + j] + r * gh[2 * H + j]);
    h1[j] = nn + z * (h[j] - nn);
    if (save) {
      act[j] = r;
      act[H + j] = z;
      act[2 * H + j] = nn;
    }
  }
}

static void RFN(gru_fwd)(T *h1, T *act, const T *gx, const T *gh, const T *h, int64_t N,
                         int64_t H) {
#pragma omp parallel for schedule(static) if (N > 1 && N * H * 3 > LT_CPU_PARALLEL_GRAIN)
  for (int64_t n = 0; n < N; n++) {
    if (act)
      RFN(gru_row)(h1 + n * H, act + n * 3 * H, gx + n * 3 * H, gh + n * 3 * H, h + n * H, H, 1);
    else
      RFN(gru_row)(h1 + n * H, NULL, gx + n * 3 * H, gh + n * 3 * H, h + n * H, H, 0);
  }
}

static inline __attribute__((always_inline)) void RFN(gru_bw_row)(
    T *restrict dgx, T *restrict dgh, T *restrict dh, const T *restrict dh1,
    const T *restrict a, const T *restrict gh, const T *restrict h, int64_t H, const int wx,
    const int wh, const int wd) {
#pragma omp simd
  for (int64_t j = 0; j < H; j++) {
    const T r = a[j], z = a[H + j], nn = a[2 * H + j], d = dh1[j];
    const T an = d * ((T)1 - z) * ((T)1 - nn * nn);
    const T ar = an * gh[2 * H + j] * ((T)1 - r) * r;
    const T az = d * (h[j] - nn) * ((T)1 - z) * z;
    if (wx) {
      dgx[j] = ar;
      dgx[H + j] = az;
      dgx[2 * H + j] = an;
    }
    if (wh) {
      dgh[j] = ar;
      dgh[H + j] = az;
      dgh[2 * H + j] = an * r;
    }
    if (wd) dh[j] = d * z;
  }
}

#define GRU_BW_CASE(A, B, C)                                                             \
  RFN(gru_bw_row)(A ? dgx + n * 3 * H : NULL, B ? dgh + n * 3 * H : NULL,                \
                  C ? dh + n * H : NULL, dh1 + n * H, a + n * 3 * H, gh + n * 3 * H,     \
                  h + n * H, H, A, B, C)

static void RFN(gru_bwd)(T *dgx, T *dgh, T *dh, const T *dh1, const T *a, const T *gh,
                         const T *h, int64_t N, int64_t H) {
  const int wx = dgx != NULL, wh = dgh != NULL, wd = dh != NULL;
#pragma omp parallel for schedule(static) if (N > 1 && N * H * 3 > LT_CPU_PARALLEL_GRAIN)
  for (int64_t n = 0; n < N; n++) {
    if (wx && wh && wd) GRU_BW_CASE(1, 1, 1);
    else if (wx && wh) GRU_BW_CASE(1, 1, 0);
    else if (wx && wd) GRU_BW_CASE(1, 0, 1);
    else if (wx) GRU_BW_CASE(1, 0, 0);
    else if (wh && wd) GRU_BW_CASE(0, 1, 1);
    else if (wh) GRU_BW_CASE(0, 1, 0);
    else if (wd) GRU_BW_CASE(0, 0, 1);
  }
}
#undef GRU_BW_CASE

#undef RFN_
#undef RFN2
#undef RFN
