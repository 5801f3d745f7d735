/*
** cpu_optim.c - fused SGD / Adam(W) / RMSprop steps on contiguous CPU
** buffers, numerically torch.optim's single-tensor (foreach=False) code:
** per element arithmetic in the tensor's dtype (float for f32/bf16/f16,
** rounded to bf16/f16 wherever PyTorch stores an intermediate tensor),
** scalars computed in double then cast. No state allocation here.
*/
#include "cpu_util.h"
#if defined(__SSE2__)
#include <immintrin.h>
#endif

static inline float opt_ld_f32(float v) { return v; }
static inline float opt_st_f32(float v) { return v; }
static inline double opt_ld_f64(double v) { return v; }
static inline double opt_st_f64(double v) { return v; }
static inline float opt_ld_bf16(uint16_t v) { return lt_cpu_bf2f(v); }
static inline uint16_t opt_st_bf16(float v) { return lt_cpu_f2bf(v); }
static inline float opt_ld_f16(uint16_t v) { return lt_cpu_h2f(v); }
static inline uint16_t opt_st_f16(float v) { return lt_cpu_f2h(v); }

/* torch.lerp: weight < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w) */
#define OPT_LERP(CT, a, b, w) \
  (fabs((double)(w)) < 0.5 ? (a) + (w) * ((b) - (a)) : (b) - ((b) - (a)) * ((CT)1 - (w)))

#define OPT_DEFINE(N, T, CT, SQRT)                                                          \
  static void sgd_##N(T *p, const T *g, T *buf, int64_t n, double lr, double momentum,      \
                      double dampening, double wd, bool nesterov, bool maximize, bool first) { \
    const CT wd_c = (CT)wd, mom_c = (CT)momentum, damp_c = (CT)(1 - dampening);             \
    const CT nlr_c = (CT)(-lr);                                                             \
    _Pragma("omp parallel for schedule(static) if (n > LT_CPU_PARALLEL_GRAIN)")             \
    for (int64_t i = 0; i < n; i++) {                                                       \
      CT gv = opt_ld_##N(g[i]);                                                             \
      if (maximize) gv = -gv;                                                               \
      const CT pv = opt_ld_##N(p[i]);                                                       \
      if (wd != 0) gv = RND(N, gv + wd_c * pv);                                             \
      if (momentum != 0) {                                                                  \
        CT bv = first ? gv : RND(N, RND(N, opt_ld_##N(buf[i]) * mom_c) + damp_c * gv);       \
        buf[i] = opt_st_##N(bv);                                                            \
        gv = nesterov ? RND(N, gv + mom_c * bv) : bv;                                       \
      }                                                                                     \
      p[i] = opt_st_##N(pv + nlr_c * gv);                                                   \
    }                                                                                       \
  }                                                                                         \
  static void adam_##N(T *p, const T *g, T *m, T *v, T *vmax, int64_t n, double lr,         \
                       double beta1, double beta2, double eps, double wd, bool decoupled,   \
                       bool maximize, int64_t step) {                                       \
    const double bc1 = 1 - pow(beta1, (double)step), bc2 = 1 - pow(beta2, (double)step);    \
    const CT nstep_c = (CT)(-(lr / bc1)), bc2s_c = (CT)sqrt(bc2), eps_c = (CT)eps;          \
    const CT w1 = (CT)(1 - beta1), b2_c = (CT)beta2, omb2_c = (CT)(1 - beta2);              \
    const CT wd_c = (CT)wd, decay_c = (CT)(1 - lr * wd);                                    \
    _Pragma("omp parallel for schedule(static) if (n > LT_CPU_PARALLEL_GRAIN)")             \
    for (int64_t i = 0; i < n; i++) {                                                       \
      CT gv = opt_ld_##N(g[i]);                                                             \
      if (maximize) gv = -gv;                                                               \
      CT pv = opt_ld_##N(p[i]);                                                             \
      if (wd != 0) {                                                                        \
        if (decoupled) pv = RND(N, pv * decay_c);                                           \
        else gv = RND(N, gv + wd_c * pv);                                                   \
      }                                                                                     \
      const CT mo = opt_ld_##N(m[i]);                                                       \
      const CT mv = RND(N, OPT_LERP(CT, mo, gv, w1));                                       \
      CT vv = RND(N, opt_ld_##N(v[i]) * b2_c);                                              \
      vv = RND(N, vv + omb2_c * gv * gv);                                                   \
      m[i] = opt_st_##N(mv);                                                                \
      v[i] = opt_st_##N(vv);                                                                \
      CT dv = vv;                                                                           \
      if (vmax) {                                                                           \
        const CT vm = opt_ld_##N(vmax[i]);                                                  \
        dv = (isnan(vm) || vm > vv) ? vm : vv;                                              \
        vmax[i] = opt_st_##N(dv);                                                           \
      }                                                                                     \
      const CT denom = RND(N, RND(N, SQRT(dv) / bc2s_c) + eps_c);                           \
      p[i] = opt_st_##N(pv + nstep_c * mv / denom);                                         \
    }                                                                                       \
  }                                                                                         \
  static void rmsprop_##N(T *p, const T *g, T *sq, T *buf, T *gavg, int64_t n, double lr,   \
                          double alpha, double eps, double wd, double momentum,             \
                          bool maximize) {                                                  \
    const CT a_c = (CT)alpha, oma_c = (CT)(1 - alpha), eps_c = (CT)eps, wd_c = (CT)wd;      \
    const CT mom_c = (CT)momentum, nlr_c = (CT)(-lr);                                       \
    _Pragma("omp parallel for schedule(static) if (n > LT_CPU_PARALLEL_GRAIN)")             \
    for (int64_t i = 0; i < n; i++) {                                                       \
      CT gv = opt_ld_##N(g[i]);                                                             \
      if (maximize) gv = -gv;                                                               \
      const CT pv = opt_ld_##N(p[i]);                                                       \
      if (wd != 0) gv = RND(N, gv + wd_c * pv);                                             \
      CT sv = RND(N, opt_ld_##N(sq[i]) * a_c);                                              \
      sv = RND(N, sv + oma_c * gv * gv);                                                    \
      sq[i] = opt_st_##N(sv);                                                               \
      CT avg;                                                                               \
      if (gavg) {                                                                           \
        const CT go = opt_ld_##N(gavg[i]);                                                  \
        const CT ga = RND(N, OPT_LERP(CT, go, gv, oma_c));                                  \
        gavg[i] = opt_st_##N(ga);                                                           \
        avg = RND(N, SQRT(RND(N, sv + (CT)(-1) * ga * ga)));                                \
      } else {                                                                              \
        avg = RND(N, SQRT(sv));                                                             \
      }                                                                                     \
      avg = RND(N, avg + eps_c);                                                            \
      if (momentum > 0) {                                                                   \
        CT bv = RND(N, opt_ld_##N(buf[i]) * mom_c);                                         \
        bv = RND(N, bv + gv / avg);                                                         \
        buf[i] = opt_st_##N(bv);                                                            \
        p[i] = opt_st_##N(pv + nlr_c * bv);                                                 \
      } else {                                                                              \
        p[i] = opt_st_##N(pv + nlr_c * gv / avg);                                           \
      }                                                                                     \
    }                                                                                       \
  }

/* value as PyTorch would store it in an intermediate tensor of this dtype */
#define RND(N, v) opt_ld_##N(opt_st_##N(v))

OPT_DEFINE(f32, float, float, sqrtf)
OPT_DEFINE(f64, double, double, sqrt)
OPT_DEFINE(bf16, uint16_t, float, sqrtf)
OPT_DEFINE(f16, uint16_t, float, sqrtf)

static lt_status opt_check(const char *op, lt_dtype dt, int64_t n) {
  if (!lt_cpu_is_float(dt))
    return lt_error(LT_ERR_DTYPE, "%s: parameters must be floating point, got %s", op,
                    (unsigned)dt < LT_DTYPE_COUNT ? lt_dtype_name(dt) : "?");
  if (n < 0) return lt_error(LT_ERR_ARG, "%s: negative element count %lld", op, (long long)n);
  return LT_OK;
}

lt_status lt_cpu_sgd_step(void *p, const void *g, void *buf, lt_dtype dt, int64_t n, double lr,
                          double momentum, double dampening, double wd, bool nesterov,
                          bool maximize, bool first) {
  lt_status st = opt_check("sgd", dt, n);
  if (st) return st;
  if (momentum != 0 && !buf) return lt_error(LT_ERR_ARG, "sgd: momentum %g needs a buffer", momentum);
  switch (dt) {
    case LT_DTYPE_F32: sgd_f32(p, g, buf, n, lr, momentum, dampening, wd, nesterov, maximize, first); break;
    case LT_DTYPE_F64: sgd_f64(p, g, buf, n, lr, momentum, dampening, wd, nesterov, maximize, first); break;
    case LT_DTYPE_BF16: sgd_bf16(p, g, buf, n, lr, momentum, dampening, wd, nesterov, maximize, first); break;
    default: sgd_f16(p, g, buf, n, lr, momentum, dampening, wd, nesterov, maximize, first); break;
  }
  return LT_OK;
}

/*
** The common float32 Adam (no amsgrad, distinct buffers) as one vectorised
** loop: the same arithmetic in the same order as adam_f32, with the
** per-element branches on loop-invariant flags turned into selects. The
** generic loop above does not vectorise (possible aliasing, errno of sqrtf),
** so the loop is written with SSE intrinsics; threads split the range.
*/
typedef struct {
  float nstep, bc2s, eps, w1, b2, omb2, wd, decay, sgn;
  bool small_w, l2, dec;
} adam_consts;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* The same loop 16 lanes wide on CPUs with AVX-512 (IEEE per lane, the
** same operations in the same order: bit-identical to the SSE and scalar
** forms). Returns where it stopped; the caller finishes the tail. */
__attribute__((target("avx512f"))) static int64_t adam_f32_avx512(
    float *restrict p, const float *restrict g, float *restrict m, float *restrict v, int64_t i,
    int64_t i1, const adam_consts *k) {
  const adam_consts c = *k;
  const __m512 sgn = _mm512_set1_ps(c.sgn), decay = _mm512_set1_ps(c.decay);
  const __m512 wd = _mm512_set1_ps(c.wd), w1 = _mm512_set1_ps(c.w1);
  const __m512 omw1 = _mm512_set1_ps(1.0f - c.w1), b2 = _mm512_set1_ps(c.b2);
  const __m512 omb2 = _mm512_set1_ps(c.omb2), bc2s = _mm512_set1_ps(c.bc2s);
  const __m512 eps = _mm512_set1_ps(c.eps), nstep = _mm512_set1_ps(c.nstep);
  for (; i + 16 <= i1; i += 16) {
    __m512 gv = _mm512_mul_ps(_mm512_loadu_ps(g + i), sgn);
    __m512 pv = _mm512_loadu_ps(p + i);
    if (c.dec) pv = _mm512_mul_ps(pv, decay);
    if (c.l2) gv = _mm512_add_ps(gv, _mm512_mul_ps(wd, pv));
    const __m512 mo = _mm512_loadu_ps(m + i);
    const __m512 d = _mm512_sub_ps(gv, mo);
    const __m512 mv = c.small_w ? _mm512_add_ps(mo, _mm512_mul_ps(w1, d))
                                : _mm512_sub_ps(gv, _mm512_mul_ps(d, omw1));
    __m512 vv = _mm512_mul_ps(_mm512_loadu_ps(v + i), b2);
    vv = _mm512_add_ps(vv, _mm512_mul_ps(_mm512_mul_ps(omb2, gv), gv));
    _mm512_storeu_ps(m + i, mv);
    _mm512_storeu_ps(v + i, vv);
    const __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vv), bc2s), eps);
    _mm512_storeu_ps(p + i, _mm512_add_ps(pv, _mm512_div_ps(_mm512_mul_ps(nstep, mv), denom)));
  }
  return i;
}
#define LT_ADAM_AVX512 1
#endif

static void adam_f32_range(float *restrict p, const float *restrict g, float *restrict m,
                           float *restrict v, int64_t i0, int64_t i1, const adam_consts *k) {
  const adam_consts c = *k;
  int64_t i = i0;
#ifdef LT_ADAM_AVX512
  if (__builtin_cpu_supports("avx512f")) i = adam_f32_avx512(p, g, m, v, i, i1, k);
#endif
#if defined(__SSE2__)
  /* 4 lanes at a time with SSE (x86-64 baseline): IEEE per lane, so the
  ** results equal the scalar tail's bit for bit */
  const __m128 sgn = _mm_set1_ps(c.sgn), decay = _mm_set1_ps(c.decay), wd = _mm_set1_ps(c.wd);
  const __m128 w1 = _mm_set1_ps(c.w1), omw1 = _mm_set1_ps(1.0f - c.w1), b2 = _mm_set1_ps(c.b2);
  const __m128 omb2 = _mm_set1_ps(c.omb2), bc2s = _mm_set1_ps(c.bc2s), eps = _mm_set1_ps(c.eps);
  const __m128 nstep = _mm_set1_ps(c.nstep);
  for (; i + 4 <= i1; i += 4) {
    __m128 gv = _mm_mul_ps(_mm_loadu_ps(g + i), sgn);
    __m128 pv = _mm_loadu_ps(p + i);
    if (c.dec) pv = _mm_mul_ps(pv, decay);
    if (c.l2) gv = _mm_add_ps(gv, _mm_mul_ps(wd, pv));
    const __m128 mo = _mm_loadu_ps(m + i);
    const __m128 d = _mm_sub_ps(gv, mo);
    const __m128 mv = c.small_w ? _mm_add_ps(mo, _mm_mul_ps(w1, d)) : _mm_sub_ps(gv, _mm_mul_ps(d, omw1));
    __m128 vv = _mm_mul_ps(_mm_loadu_ps(v + i), b2);
    vv = _mm_add_ps(vv, _mm_mul_ps(_mm_mul_ps(omb2, gv), gv));
    _mm_storeu_ps(m + i, mv);
    _mm_storeu_ps(v + i, vv);
    const __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vv), bc2s), eps);
    _mm_storeu_ps(p + i, _mm_add_ps(pv, _mm_div_ps(_mm_mul_ps(nstep, mv), denom)));
  }
#endif
  for (; i < i1; i++) {
    float gv = g[i] * c.sgn;
    float pv = p[i];
    if (c.dec) pv = pv * c.decay;
    if (c.l2) gv = gv + c.wd * pv;
    const float mo = m[i];
    const float mv = c.small_w ? mo + c.w1 * (gv - mo) : gv - (gv - mo) * (1.0f - c.w1);
    float vv = v[i] * c.b2;
    vv = vv + c.omb2 * gv * gv;
    m[i] = mv;
    v[i] = vv;
    const float denom = sqrtf(vv) / c.bc2s + c.eps;
    p[i] = pv + c.nstep * mv / denom;
  }
}

static void adam_f32_simd(float *p, const float *g, float *m, float *v, int64_t n, double lr,
                          double beta1, double beta2, double eps, double wd, bool decoupled,
                          bool maximize, int64_t step) {
  const double bc1 = 1 - pow(beta1, (double)step), bc2 = 1 - pow(beta2, (double)step);
  const float w1 = (float)(1 - beta1);
  const adam_consts k = {
    .nstep = (float)(-(lr / bc1)), .bc2s = (float)sqrt(bc2), .eps = (float)eps, .w1 = w1,
    .b2 = (float)beta2, .omb2 = (float)(1 - beta2), .wd = (float)wd,
    .decay = (float)(1 - lr * wd), .sgn = maximize ? -1.0f : 1.0f,
    .small_w = fabs((double)w1) < 0.5, .l2 = wd != 0 && !decoupled, .dec = wd != 0 && decoupled};
  const int64_t block = 16384, nblk = (n + block - 1) / block;
#pragma omp parallel for schedule(static) if (n > LT_CPU_PARALLEL_GRAIN)
  for (int64_t b = 0; b < nblk; b++) {
    int64_t i0 = b * block, i1 = i0 + block < n ? i0 + block : n;
    adam_f32_range(p, g, m, v, i0, i1, &k);
  }
}

lt_status lt_cpu_adam_step(void *p, const void *g, void *m, void *v, void *vmax, lt_dtype dt,
                           int64_t n, double lr, double beta1, double beta2, double eps,
                           double wd, bool decoupled, bool maximize, int64_t step) {
  lt_status st = opt_check("adam", dt, n);
  if (st) return st;
  if (step < 1) return lt_error(LT_ERR_ARG, "adam: step must be >= 1, got %lld", (long long)step);
  switch (dt) {
    case LT_DTYPE_F32:
      if (!vmax && p != g && p != m && p != v && g != m && g != v && m != v)
        adam_f32_simd(p, g, m, v, n, lr, beta1, beta2, eps, wd, decoupled, maximize, step);
      else
        adam_f32(p, g, m, v, vmax, n, lr, beta1, beta2, eps, wd, decoupled, maximize, step);
      break;
    case LT_DTYPE_F64: adam_f64(p, g, m, v, vmax, n, lr, beta1, beta2, eps, wd, decoupled, maximize, step); break;
    case LT_DTYPE_BF16: adam_bf16(p, g, m, v, vmax, n, lr, beta1, beta2, eps, wd, decoupled, maximize, step); break;
    default: adam_f16(p, g, m, v, vmax, n, lr, beta1, beta2, eps, wd, decoupled, maximize, step); break;
  }
  return LT_OK;
}

lt_status lt_cpu_rmsprop_step(void *p, const void *g, void *sq, void *buf, void *gavg,
                              lt_dtype dt, int64_t n, double lr, double alpha, double eps,
                              double wd, double momentum, bool maximize) {
  lt_status st = opt_check("rmsprop", dt, n);
  if (st) return st;
  if (momentum > 0 && !buf)
    return lt_error(LT_ERR_ARG, "rmsprop: momentum %g needs a buffer", momentum);
  switch (dt) {
    case LT_DTYPE_F32: rmsprop_f32(p, g, sq, buf, gavg, n, lr, alpha, eps, wd, momentum, maximize); break;
    case LT_DTYPE_F64: rmsprop_f64(p, g, sq, buf, gavg, n, lr, alpha, eps, wd, momentum, maximize); break;
    case LT_DTYPE_BF16: rmsprop_bf16(p, g, sq, buf, gavg, n, lr, alpha, eps, wd, momentum, maximize); break;
    default: rmsprop_f16(p, g, sq, buf, gavg, n, lr, alpha, eps, wd, momentum, maximize); break;
  }
  return LT_OK;
}
