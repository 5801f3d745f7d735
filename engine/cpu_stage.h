/*
** cpu_stage.h - float32 staging for the group B CPU kernels (cpu_gemm.c,
** cpu_nn.c, cpu_conv.c): bf16/f16 buffers are widened to float32, the f32
** kernel runs, results are narrowed back. Host memory only; no lt_error.
*/
#ifndef LT_CPU_STAGE_H
#define LT_CPU_STAGE_H

#include <stdlib.h>
#include "backend.h"

static inline bool lt_stage_is_half(lt_dtype dt) {
  return dt == LT_DTYPE_BF16 || dt == LT_DTYPE_F16;
}

/* n elements of a bf16/f16 buffer -> new float32 buffer (NULL src -> NULL). */
static inline float *lt_stage_in(const void *src, lt_dtype dt, int64_t n, bool *oom) {
  if (!src) return NULL;
  float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  if (!f) { *oom = true; return NULL; }
  const uint16_t *h = src;
  if (dt == LT_DTYPE_BF16)
    for (int64_t i = 0; i < n; i++) f[i] = (float)lt_bf16_to_double(h[i]);
  else
    for (int64_t i = 0; i < n; i++) f[i] = lt_half_to_float(h[i]);
  return f;
}

/* Scratch float32 buffer of n elements (for outputs). */
static inline float *lt_stage_out(const void *dst, int64_t n, bool *oom) {
  if (!dst) return NULL;
  float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  if (!f) *oom = true;
  return f;
}

/* float32 buffer -> n elements of bf16/f16 at dst (NULL-safe). */
static inline void lt_stage_back(void *dst, const float *f, lt_dtype dt, int64_t n) {
  if (!dst || !f) return;
  uint16_t *h = dst;
  if (dt == LT_DTYPE_BF16)
    for (int64_t i = 0; i < n; i++) h[i] = lt_float_to_bf16(f[i]);
  else
    for (int64_t i = 0; i < n; i++) h[i] = lt_float_to_half(f[i]);
}

#endif
