/*
** cpu_util.h - private helpers of the group A CPU kernels (cpu_memory.c,
** cpu_elementwise.c, cpu_reduce.c, cpu_random.c, cpu_optim.c): inline
** bf16/f16 conversions, per-dtype load/store of one value, and the strided
** N-d iterator that feeds 1-d "row" loops. No kernels and no lt_error here.
*/
#ifndef LT_CPU_UTIL_H
#define LT_CPU_UTIL_H

#include <math.h>
#include <string.h>
#include "cpu_kernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* ---------------------------------------------------------------- bf16 / f16 */

static inline float lt_cpu_bf2f(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static inline uint16_t lt_cpu_f2bf(float f) { return lt_float_to_bf16(f); }

static inline float lt_cpu_h2f(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000u | (mant << 13);
  } else if (exp == 0) {
    float f = (float)mant * 0x1p-24f;  /* zero or subnormal: exact */
    return sign ? -f : f;
  } else {
    u = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* Round to nearest even; overflow -> inf; NaN -> 0x7e00 (with sign). */
static inline uint16_t lt_cpu_f2h(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = x & 0x80000000u;
  x ^= sign;
  uint16_t o;
  if (x >= 0x47800000u) {         /* |f| >= 65536, inf or NaN */
    o = x > 0x7f800000u ? 0x7e00 : 0x7c00;
  } else if (x < 0x38800000u) {   /* below the smallest normal half: let the FPU round */
    const uint32_t magic_u = (uint32_t)((127 - 15) + (23 - 10) + 1) << 23;
    float magic, v;
    memcpy(&magic, &magic_u, 4);
    memcpy(&v, &x, 4);
    v += magic;
    uint32_t r;
    memcpy(&r, &v, 4);
    o = (uint16_t)(r - magic_u);
  } else {
    uint32_t odd = (x >> 13) & 1u;
    x += ((uint32_t)(15 - 127) << 23) + 0xfffu + odd;
    o = (uint16_t)(x >> 13);
  }
  return (uint16_t)(o | (sign >> 16));
}

/* ---------------------------------------------------------------- one value */

static inline double lt_cpu_load_d(const void *p, lt_dtype dt) {
  switch (dt) {
    case LT_DTYPE_F32: return *(const float *)p;
    case LT_DTYPE_F64: return *(const double *)p;
    case LT_DTYPE_BF16: return lt_cpu_bf2f(*(const uint16_t *)p);
    case LT_DTYPE_F16: return lt_cpu_h2f(*(const uint16_t *)p);
    case LT_DTYPE_I64: return (double)*(const int64_t *)p;
    case LT_DTYPE_I32: return *(const int32_t *)p;
    case LT_DTYPE_U8: return *(const uint8_t *)p;
    case LT_DTYPE_BOOL: return *(const uint8_t *)p != 0;
    default: return 0;
  }
}

static inline int64_t lt_cpu_load_i(const void *p, lt_dtype dt) {
  switch (dt) {
    case LT_DTYPE_I64: return *(const int64_t *)p;
    case LT_DTYPE_I32: return *(const int32_t *)p;
    case LT_DTYPE_U8: return *(const uint8_t *)p;
    case LT_DTYPE_BOOL: return *(const uint8_t *)p != 0;
    default: return (int64_t)lt_cpu_load_d(p, dt);
  }
}

/* float -> integer through int64 (PyTorch's behaviour for negative -> uint8) */
static inline int64_t lt_cpu_d2i(double v) {
  if (v != v) return INT64_MIN;
  if (v >= 9223372036854775807.0) return INT64_MAX;
  if (v <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v;
}

static inline void lt_cpu_store_d(void *p, lt_dtype dt, double v) {
  switch (dt) {
    case LT_DTYPE_F32: *(float *)p = (float)v; break;
    case LT_DTYPE_F64: *(double *)p = v; break;
    case LT_DTYPE_BF16: *(uint16_t *)p = lt_cpu_f2bf((float)v); break;
    case LT_DTYPE_F16: *(uint16_t *)p = lt_cpu_f2h((float)v); break;
    case LT_DTYPE_I64: *(int64_t *)p = lt_cpu_d2i(v); break;
    case LT_DTYPE_I32: *(int32_t *)p = (int32_t)lt_cpu_d2i(v); break;
    case LT_DTYPE_U8: *(uint8_t *)p = (uint8_t)lt_cpu_d2i(v); break;
    case LT_DTYPE_BOOL: *(uint8_t *)p = v != 0; break;
    default: break;
  }
}

static inline void lt_cpu_store_i(void *p, lt_dtype dt, int64_t v) {
  switch (dt) {
    case LT_DTYPE_I64: *(int64_t *)p = v; break;
    case LT_DTYPE_I32: *(int32_t *)p = (int32_t)v; break;
    case LT_DTYPE_U8: *(uint8_t *)p = (uint8_t)v; break;
    case LT_DTYPE_BOOL: *(uint8_t *)p = v != 0; break;
    default: lt_cpu_store_d(p, dt, (double)v); break;
  }
}

static inline size_t lt_cpu_esize(lt_dtype dt) {
  switch (dt) {
    case LT_DTYPE_F64: case LT_DTYPE_I64: return 8;
    case LT_DTYPE_F32: case LT_DTYPE_I32: return 4;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: return 2;
    default: return 1;
  }
}

static inline bool lt_cpu_is_float(lt_dtype dt) {
  return dt == LT_DTYPE_F32 || dt == LT_DTYPE_F64 || dt == LT_DTYPE_BF16 || dt == LT_DTYPE_F16;
}

/* ---------------------------------------------------------------- iterator */

#define LT_CPU_MAX_OPERANDS 4

/* A row loop: n elements; ptr[k] points at operand k's first element and
** stride[k] is its step in elements (0 = broadcast). */
typedef void (*lt_cpu_row_fn)(void *ctx, int64_t n, char **ptr, const int64_t *stride);

/* Operands of one elementwise call after dropping size-1 dims and merging
** dims that are contiguous for every operand (all-contiguous -> ndim 1). */
typedef struct {
  int nv, ndim;
  int64_t numel;
  int64_t shape[LT_MAX_DIMS];
  int64_t stride[LT_CPU_MAX_OPERANDS][LT_MAX_DIMS];
  char *data[LT_CPU_MAX_OPERANDS];
  int64_t esize[LT_CPU_MAX_OPERANDS];
} lt_cpu_iter;

/* v[0] gives the shape; every v[k] must have the same ndim/shape (else
** LT_ERR_SHAPE with a message naming `op`). */
lt_status lt_cpu_iter_init(lt_cpu_iter *it, const char *op, int nv, const lt_view *const *v);
/* Calls fn over every row; splits across threads above LT_CPU_PARALLEL_GRAIN. */
void lt_cpu_iter_run(const lt_cpu_iter *it, lt_cpu_row_fn fn, void *ctx);

#endif
