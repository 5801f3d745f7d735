/*
** cpu_random.c - the Philox4x32-10 block function and the CPU rng kernel:
** the stream and conversions of backend.h, bit for bit what cuRAND's
** curand_init(seed, 0, 4 * (offset + b)) + curand4 / curand_uniform4 /
** curand_normal4 give per block b. It keeps no generator state (the
** engine owns (seed, offset)) and does no shape work.
*/
#include "cpu_util.h"

#define PHILOX_W32_0 0x9E3779B9u
#define PHILOX_W32_1 0xBB67AE85u
#define PHILOX_M4x32_0 0xD2511F53u
#define PHILOX_M4x32_1 0xCD9E8D57u
#define LT_2POW32_INV 2.3283064e-10f                 /* cuRAND's CURAND_2POW32_INV (= 2^-32) */
#define LT_2POW32_INV_2PI (2.3283064e-10f * 6.2831855f) /* CURAND_2POW32_INV_2PI */

static inline void philox_round(uint32_t c[4], const uint32_t k[2]) {
  uint64_t p0 = (uint64_t)PHILOX_M4x32_0 * c[0];
  uint64_t p1 = (uint64_t)PHILOX_M4x32_1 * c[2];
  uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
  uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
  uint32_t r0 = hi1 ^ c[1] ^ k[0], r2 = hi0 ^ c[3] ^ k[1];
  c[0] = r0;
  c[1] = lo1;
  c[2] = r2;
  c[3] = lo0;
}

void lt_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
  uint32_t k[2] = {key[0], key[1]};
  for (int r = 0; r < 10; r++) {
    if (r) {
      k[0] += PHILOX_W32_0;
      k[1] += PHILOX_W32_1;
    }
    philox_round(c, k);
  }
  out[0] = c[0];
  out[1] = c[1];
  out[2] = c[2];
  out[3] = c[3];
}

/* words of block b of the stream (subsequence 0 or 1 = counter word 2) */
static inline void rng_block(lt_philox_state st, uint64_t b, uint32_t sub, uint32_t r[4]) {
  uint64_t ctr64 = st.offset + b;
  const uint32_t ctr[4] = {(uint32_t)ctr64, (uint32_t)(ctr64 >> 32), sub, 0};
  const uint32_t key[2] = {(uint32_t)st.seed, (uint32_t)(st.seed >> 32)};
  lt_philox4x32_10(ctr, key, r);
}

/* curand_uniform: (0, 1]; the product is exact, so FMA or not gives the same */
static inline float rng_uniform(uint32_t x) {
  return (float)x * LT_2POW32_INV + LT_2POW32_INV / 2.0f;
}

/* _curand_box_muller; v uses fmaf as nvcc contracts it on the device */
static inline void rng_box_muller(uint32_t x, uint32_t y, float *o0, float *o1) {
  float u = (float)x * LT_2POW32_INV + LT_2POW32_INV / 2.0f;
  float v = fmaf((float)y, LT_2POW32_INV_2PI, LT_2POW32_INV_2PI / 2.0f);
  float s = sqrtf(-2.0f * logf(u));
  *o0 = sinf(v) * s;
  *o1 = cosf(v) * s;
}

static inline void rng_put_f(void *out, lt_dtype dt, int64_t i, float v) {
  switch (dt) {
    case LT_DTYPE_F32: ((float *)out)[i] = v; break;
    case LT_DTYPE_F64: ((double *)out)[i] = v; break;
    case LT_DTYPE_BF16: ((uint16_t *)out)[i] = lt_cpu_f2bf(v); break;
    case LT_DTYPE_F16: ((uint16_t *)out)[i] = lt_cpu_f2h(v); break;
    default: lt_cpu_store_d((char *)out + i * (int64_t)lt_cpu_esize(dt), dt, v); break;
  }
}

lt_status lt_cpu_rng(lt_rng_kind kind, void *out, lt_dtype dt, int64_t n, lt_philox_state st,
                     double a, double b) {
  if ((unsigned)dt >= LT_DTYPE_COUNT) return lt_error(LT_ERR_DTYPE, "rng: unknown dtype %d", (int)dt);
  if (n < 0) return lt_error(LT_ERR_ARG, "rng: negative count %lld", (long long)n);
  if (n == 0) return LT_OK;
  if (!out) return lt_error(LT_ERR_ARG, "rng: NULL output for %lld values", (long long)n);
  const int64_t nb = (n + 3) / 4;
  const size_t es = lt_cpu_esize(dt);
  if (kind == LT_RNG_UNIFORM || kind == LT_RNG_NORMAL) {
    /* value = fmaf(u or z, scale, shift) in float32; wider dtypes get that float */
    const float scale = (float)(kind == LT_RNG_UNIFORM ? b - a : b), shift = (float)a;
#pragma omp parallel for schedule(static) if (n > LT_CPU_PARALLEL_GRAIN)
    for (int64_t blk = 0; blk < nb; blk++) {
      uint32_t r[4];
      float f[4];
      rng_block(st, (uint64_t)blk, 0, r);
      if (kind == LT_RNG_UNIFORM) {  /* (0, 1] -> [0, 1) as PyTorch: 1 becomes 0 */
        for (int j = 0; j < 4; j++) {
          f[j] = rng_uniform(r[j]);
          if (f[j] == 1.0f) f[j] = 0.0f;
        }
      } else {
        rng_box_muller(r[0], r[1], &f[0], &f[1]);
        rng_box_muller(r[2], r[3], &f[2], &f[3]);
      }
      int64_t i0 = blk * 4;
      int m = n - i0 < 4 ? (int)(n - i0) : 4;
      for (int j = 0; j < m; j++) rng_put_f(out, dt, i0 + j, fmaf(f[j], scale, shift));
    }
    return LT_OK;
  }
  if (kind != LT_RNG_RANDINT) return lt_error(LT_ERR_ARG, "rng: unknown kind %d", (int)kind);
  if (!(b > a) || a < -9.2e18 || b > 9.2e18)
    return lt_error(LT_ERR_ARG, "randint: empty or out-of-range interval [%g, %g)", a, b);
  const int64_t low = (int64_t)a;
  const uint64_t range = (uint64_t)((int64_t)b - low);
  const bool wide = range > 0x100000000ull;
#pragma omp parallel for schedule(static) if (n > LT_CPU_PARALLEL_GRAIN)
  for (int64_t blk = 0; blk < nb; blk++) {
    uint32_t r[4], h[4];
    rng_block(st, (uint64_t)blk, 0, r);
    /* ranges above 2^32: the high word comes from subsequence 1, same block */
    if (wide) rng_block(st, (uint64_t)blk, 1, h);
    int64_t i0 = blk * 4;
    int m = n - i0 < 4 ? (int)(n - i0) : 4;
    for (int j = 0; j < m; j++) {
      uint64_t x = wide ? (((uint64_t)h[j] << 32) | r[j]) : r[j];
      int64_t v = (int64_t)((uint64_t)low + x % range);
      lt_cpu_store_i((char *)out + (i0 + j) * (int64_t)es, dt, v);
    }
  }
  return LT_OK;
}
