/*
** cpu_fastmath.h - branch-free float exp/tanh/sigmoid that the compiler
** vectorizes inside `omp simd` loops (glibc's expf/tanhf are scalar calls:
** tanh over a 32x1024 LSTM gate cost ~30 ns an element, these ~1-2 ns).
** Accuracy: max relative error about 2e-7 (a few ulp) over the whole float
** range, NaN in -> NaN out, overflow to inf and gradual underflow to 0 as
** in libm (tests/c/test_cpu_kernels.c sweeps them against double libm).
** Float only: float64 keeps libm.
*/
#ifndef LT_CPU_FASTMATH_H
#define LT_CPU_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* LT_SIMD_CLONES on a function whose loops are transcendental-heavy
** (compute-bound, not memory-bound): GCC compiles it for AVX-512, AVX2 and
** the x86-64 baseline and picks one at load time from cpuid (an ifunc). The
** per-element arithmetic is the same in every clone (-std=c11 turns off FMA
** contraction), so results do not depend on the machine. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define LT_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default"), noinline))
#else
#define LT_SIMD_CLONES
#endif

/* bit casts on unsigned integers: the arithmetic on them wraps (a NaN input
** makes garbage exponents, which must not be undefined behaviour) */
static inline float lt_fm_from_bits(uint32_t i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}

static inline uint32_t lt_fm_bits(float f) {
  uint32_t i;
  memcpy(&i, &f, sizeof i);
  return i;
}

/* e^x: x = n ln2 + r with |r| <= ln2/2 (n by the 1.5 * 2^23 rounding trick,
** no float->int conversion, so NaN stays harmless); e^r by a degree-6
** polynomial; 2^n applied in two halves so that results between the
** smallest denormal and FLT_MAX come out right. */
static inline float lt_fast_expf(float x) {
  const float magic = 12582912.0f; /* 1.5 * 2^23 */
  x = x > 89.0f ? 89.0f : x;       /* NaN compares false: stays NaN */
  x = x < -104.0f ? -104.0f : x;
  const float t = x * 1.44269504088896341f + magic;
  const float fn = t - magic;                        /* round(x / ln2) */
  const int32_t n = (int32_t)(lt_fm_bits(t) - lt_fm_bits(magic)); /* |n| < 2^23 unless NaN */
  float r = x - fn * 0.693359375f;                   /* ln2 in two parts */
  r = r - fn * -2.12194440e-4f;
  const float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  const int32_t n1 = n / 2, n2 = n - n1;            /* each in [-75, 64] */
  return p * lt_fm_from_bits((uint32_t)(n1 + 127) << 23) *
         lt_fm_from_bits((uint32_t)(n2 + 127) << 23);
}

/* tanh: an odd polynomial below |x| = 0.625, 1 - 2 / (e^2|x| + 1) above,
** with the sign put back. */
static inline float lt_fast_tanhf(float x) {
  const float ax = x < 0 ? -x : x;
  const float z = x * x;
  float s = -5.70498872745e-3f;
  s = s * z + 2.06390887954e-2f;
  s = s * z - 5.37397155531e-2f;
  s = s * z + 1.33314422036e-1f;
  s = s * z - 3.33332819422e-1f;
  s = x * (1.0f + s * z);                            /* keeps tanh(-0) = -0 */
  const float e = lt_fast_expf(2.0f * ax);
  float b = 1.0f - 2.0f / (e + 1.0f);
  b = x < 0 ? -b : b;
  return ax < 0.625f ? s : b;
}

/* 1 / (1 + e^-x) from e = e^-|x| (never overflows): 1 / (1 + e) for
** x >= 0, e / (1 + e) below, so tiny results keep their precision */
static inline float lt_fast_sigmoidf(float x) {
  const float e = lt_fast_expf(x < 0 ? x : -x);
  const float r = 1.0f / (1.0f + e);
  return x < 0 ? e * r : r;
}

#endif
