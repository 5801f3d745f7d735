/*
** cpu_conv.c - the CPU backend's convolution helpers (im2col / col2im) and
** 2-d pools (max with indices, avg with PyTorch's divisor rules, adaptive
** avg), forward and backward, on contiguous NCHW buffers. im2col moves
** elements of any dtype; the rest are f32/f64 (bf16/f16 staged through
** float32). The convolution itself is im2col + gemm in the front-end.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_kernels.h"
#include "cpu_stage.h"

/* The output columns [*lo, *hi) whose input column ox*sw - pw + j*dw
   lies inside [0, w); the others read padding. */
static inline void conv_valid_cols(const lt_conv_geom *g, int64_t j, int64_t *lo, int64_t *hi) {
  int64_t off = j * g->dw - g->pw;  /* ix = ox * sw + off */
  int64_t a = off >= 0 ? 0 : (-off + g->sw - 1) / g->sw;
  int64_t b = g->w - off <= 0 ? 0 : (g->w - off + g->sw - 1) / g->sw;  /* first ox with ix >= w */
  if (b > g->ow) b = g->ow;
  if (a > b) a = b;
  *lo = a;
  *hi = b;
}

/* One output row of the float 2x2 max pool (stride 2): rows r0, r1 of the
** input, outputs yr[0..ow), flat input indices ir (k0 = index of r0[0],
** W = input width). Four outputs per step with SSE2 (x86-64's baseline):
** GCC does not vectorise the scalar form (stride-2 loads, mixed int64),
** and at -O2 it compiles its selects to branches that mispredict on real
** data (17 ns per output). Same rules as the scalar loop: a later value
** wins when it is greater or NaN; ties keep the first. Needs ow >= 4. */
#if defined(__SSE2__)
#include <emmintrin.h>
#define LT_POOL2X2_ROW_F32 pool2x2_row_f32
static void pool2x2_row_f32(const float *r0, const float *r1, float *yr, int64_t *ir,
                            int64_t ow, int64_t k0, int64_t W) {
  const __m128i one = _mm_set1_epi32(1), two = _mm_set1_epi32(2), three = _mm_set1_epi32(3);
  const __m128i zero = _mm_setzero_si128(), wv = _mm_set1_epi32((int32_t)W);
  const __m128i lane = _mm_setr_epi32(0, 2, 4, 6);
  /* indices in int32 lanes (the caller keeps k0 + 2 * ow + W below 2^31);
     a row not a multiple of 4 ends with a block overlapping the previous
     one (same values written twice) */
  for (int64_t i = 0; i < ow; i += 4) {
    const int64_t ox = i + 4 <= ow ? i : ow - 4;
    __m128 u0 = _mm_loadu_ps(r0 + 2 * ox), u1 = _mm_loadu_ps(r0 + 2 * ox + 4);
    __m128 v0 = _mm_loadu_ps(r1 + 2 * ox), v1 = _mm_loadu_ps(r1 + 2 * ox + 4);
    __m128 a = _mm_shuffle_ps(u0, u1, _MM_SHUFFLE(2, 0, 2, 0));
    __m128 b = _mm_shuffle_ps(u0, u1, _MM_SHUFFLE(3, 1, 3, 1));
    __m128 c = _mm_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0));
    __m128 d = _mm_shuffle_ps(v0, v1, _MM_SHUFFLE(3, 1, 3, 1));
    __m128 mx = a;
    __m128i w = zero;
#define POOL_STEP(V, K)                                                               \
    do {                                                                              \
      __m128 t = _mm_or_ps(_mm_cmpgt_ps(V, mx), _mm_cmpunord_ps(V, V));               \
      mx = _mm_or_ps(_mm_and_ps(t, V), _mm_andnot_ps(t, mx));                         \
      __m128i ti = _mm_castps_si128(t);                                               \
      w = _mm_or_si128(_mm_and_si128(ti, K), _mm_andnot_si128(ti, w));                \
    } while (0)
    POOL_STEP(b, one);
    POOL_STEP(c, two);
    POOL_STEP(d, three);
#undef POOL_STEP
    _mm_storeu_ps(yr + ox, mx);
    /* k0 + 2 * ox + 2 * lane + (w & 1) + (w > 1 ? W : 0) */
    __m128i k = _mm_add_epi32(_mm_set1_epi32((int32_t)(k0 + 2 * ox)), lane);
    k = _mm_add_epi32(k, _mm_and_si128(w, one));
    k = _mm_add_epi32(k, _mm_and_si128(_mm_cmpgt_epi32(w, one), wv));
    _mm_storeu_si128((__m128i *)(ir + ox), _mm_unpacklo_epi32(k, zero));
    _mm_storeu_si128((__m128i *)(ir + ox + 2), _mm_unpackhi_epi32(k, zero));
  }
}
#endif

#define T float
#define SUF f32
#include "cpu_conv_tmpl.h"
#undef T
#undef SUF
#undef LT_POOL2X2_ROW_F32

#define T double
#define SUF f64
#include "cpu_conv_tmpl.h"
#undef T
#undef SUF

/* im2col for one element width (E: an unsigned type of the dtype's size) */
#define IM2COL_BODY(E)                                                                       \
  do {                                                                                       \
    const E *px = x;                                                                         \
    E *pc = col;                                                                             \
    _Pragma("omp parallel for schedule(static) if (planes * kk * ohw > LT_CPU_PARALLEL_GRAIN)") \
    for (int64_t p = 0; p < planes; p++) {                                                   \
      const E *xp = px + p * hw;                                                             \
      E *cp = pc + p * kk * ohw; /* (b, ch) rows are consecutive */                          \
      for (int64_t i = 0; i < g->kh; i++)                                                    \
        for (int64_t j = 0; j < g->kw; j++) {                                                \
          E *cr = cp + (i * g->kw + j) * ohw;                                                \
          int64_t lo, hi, off = j * g->dw - g->pw;                                           \
          conv_valid_cols(g, j, &lo, &hi);                                                   \
          for (int64_t oy = 0; oy < g->oh; oy++) {                                           \
            int64_t iy = oy * g->sh - g->ph + i * g->dh;                                     \
            E *co = cr + oy * g->ow;                                                         \
            if (iy < 0 || iy >= g->h) {                                                      \
              for (int64_t ox = 0; ox < g->ow; ox++) co[ox] = 0;                             \
              continue;                                                                      \
            }                                                                                \
            const int64_t r = iy * g->w + off; /* xp[r + ox * sw], ox in [lo, hi) */          \
            for (int64_t ox = 0; ox < lo; ox++) co[ox] = 0;                                  \
            if (g->sw == 1) {                                                                \
              _Pragma("omp simd")                                                            \
              for (int64_t ox = lo; ox < hi; ox++) co[ox] = xp[r + ox];                      \
            } else                                                                           \
              for (int64_t ox = lo; ox < hi; ox++) co[ox] = xp[r + ox * g->sw];              \
            for (int64_t ox = hi; ox < g->ow; ox++) co[ox] = 0;                              \
          }                                                                                  \
        }                                                                                    \
    }                                                                                        \
  } while (0)

/* col (n, c*kh*kw, oh*ow), row c*kh*kw + i*kw + j: x at
   (oy*sh - ph + i*dh, ox*sw - pw + j*dw), zero outside. Parallel over the
   (image, channel) planes. */
lt_status lt_cpu_im2col(void *col, const void *x, lt_dtype dt, const lt_conv_geom *g) {
  int64_t planes = g->n * g->c, hw = g->h * g->w, ohw = g->oh * g->ow, kk = g->kh * g->kw;
  switch (lt_dtype_size(dt)) {
    case 1: IM2COL_BODY(uint8_t); break;
    case 2: IM2COL_BODY(uint16_t); break;
    case 4: IM2COL_BODY(uint32_t); break;
    case 8: IM2COL_BODY(uint64_t); break;
    default:
      return lt_error(LT_ERR_DTYPE, "im2col: dtype %s not supported", lt_dtype_name(dt));
  }
  return LT_OK;
}
#undef IM2COL_BODY

static lt_status bad_dtype(const char *op, lt_dtype dt) {
  return lt_error(LT_ERR_DTYPE, "%s: dtype %s not supported on cpu (float dtypes only)", op,
                  lt_dtype_name(dt));
}

static lt_status oom(const char *op) {
  return lt_error(LT_ERR_MEMORY, "%s: out of memory staging half-precision buffers", op);
}

lt_status lt_cpu_col2im(void *dx, const void *col, lt_dtype dt, const lt_conv_geom *g) {
  switch (dt) {
    case LT_DTYPE_F32: col2im_f32(dx, col, g); return LT_OK;
    case LT_DTYPE_F64: col2im_f64(dx, col, g); return LT_OK;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: {
      bool fail = false;
      int64_t nx = g->n * g->c * g->h * g->w;
      float *fc = lt_stage_in(col, dt, g->n * g->c * g->kh * g->kw * g->oh * g->ow, &fail);
      float *fx = lt_stage_out(dx, nx, &fail);
      if (!fail) {
        col2im_f32(fx, fc, g);
        lt_stage_back(dx, fx, dt, nx);
      }
      free(fc); free(fx);
      return fail ? oom("col2im") : LT_OK;
    }
    default: return bad_dtype("col2im", dt);
  }
}

lt_status lt_cpu_max_pool2d(void *y, int64_t *idx, const void *x, lt_dtype dt,
                            const lt_pool_geom *g) {
  switch (dt) {
    case LT_DTYPE_F32: max_pool2d_f32(y, idx, x, g); return LT_OK;
    case LT_DTYPE_F64: max_pool2d_f64(y, idx, x, g); return LT_OK;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: {
      bool fail = false;
      int64_t nx = g->nc * g->h * g->w, ny = g->nc * g->oh * g->ow;
      float *fx = lt_stage_in(x, dt, nx, &fail), *fy = lt_stage_out(y, ny, &fail);
      if (!fail) {
        max_pool2d_f32(fy, idx, fx, g);
        lt_stage_back(y, fy, dt, ny);
      }
      free(fx); free(fy);
      return fail ? oom("max_pool2d") : LT_OK;
    }
    default: return bad_dtype("max_pool2d", dt);
  }
}

lt_status lt_cpu_max_pool2d_backward(void *dx, const void *dy, const int64_t *idx, lt_dtype dt,
                                     const lt_pool_geom *g) {
  switch (dt) {
    case LT_DTYPE_F32: max_pool2d_backward_f32(dx, dy, idx, g); return LT_OK;
    case LT_DTYPE_F64: max_pool2d_backward_f64(dx, dy, idx, g); return LT_OK;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: {
      bool fail = false;
      int64_t nx = g->nc * g->h * g->w, ny = g->nc * g->oh * g->ow;
      float *fdy = lt_stage_in(dy, dt, ny, &fail), *fdx = lt_stage_out(dx, nx, &fail);
      if (!fail) {
        max_pool2d_backward_f32(fdx, fdy, idx, g);
        lt_stage_back(dx, fdx, dt, nx);
      }
      free(fdy); free(fdx);
      return fail ? oom("max_pool2d_backward") : LT_OK;
    }
    default: return bad_dtype("max_pool2d_backward", dt);
  }
}

/* The remaining pools share one shape: out = f(in) with in/out sizes. */
typedef void (*pool_f32_fn)(float *, const float *, const lt_pool_geom *);
typedef void (*pool_f64_fn)(double *, const double *, const lt_pool_geom *);

static lt_status pool_dispatch(const char *op, pool_f32_fn f32, pool_f64_fn f64, void *out,
                               int64_t nout, const void *in, int64_t nin, lt_dtype dt,
                               const lt_pool_geom *g) {
  switch (dt) {
    case LT_DTYPE_F32: f32(out, in, g); return LT_OK;
    case LT_DTYPE_F64: f64(out, in, g); return LT_OK;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: {
      bool fail = false;
      float *fi = lt_stage_in(in, dt, nin, &fail), *fo = lt_stage_out(out, nout, &fail);
      if (!fail) {
        f32(fo, fi, g);
        lt_stage_back(out, fo, dt, nout);
      }
      free(fi); free(fo);
      return fail ? oom(op) : LT_OK;
    }
    default: return bad_dtype(op, dt);
  }
}

lt_status lt_cpu_avg_pool2d(void *y, const void *x, lt_dtype dt, const lt_pool_geom *g) {
  return pool_dispatch("avg_pool2d", avg_pool2d_f32, avg_pool2d_f64, y, g->nc * g->oh * g->ow,
                       x, g->nc * g->h * g->w, dt, g);
}

lt_status lt_cpu_avg_pool2d_backward(void *dx, const void *dy, lt_dtype dt,
                                     const lt_pool_geom *g) {
  return pool_dispatch("avg_pool2d_backward", avg_pool2d_backward_f32, avg_pool2d_backward_f64,
                       dx, g->nc * g->h * g->w, dy, g->nc * g->oh * g->ow, dt, g);
}

lt_status lt_cpu_adaptive_avg_pool2d(void *y, const void *x, lt_dtype dt, const lt_pool_geom *g) {
  return pool_dispatch("adaptive_avg_pool2d", adaptive_avg_pool2d_f32, adaptive_avg_pool2d_f64,
                       y, g->nc * g->oh * g->ow, x, g->nc * g->h * g->w, dt, g);
}

lt_status lt_cpu_adaptive_avg_pool2d_backward(void *dx, const void *dy, lt_dtype dt,
                                              const lt_pool_geom *g) {
  return pool_dispatch("adaptive_avg_pool2d_backward", adaptive_avg_pool2d_backward_f32,
                       adaptive_avg_pool2d_backward_f64, dx, g->nc * g->h * g->w, dy,
                       g->nc * g->oh * g->ow, dt, g);
}
