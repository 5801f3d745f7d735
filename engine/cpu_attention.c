/*
** cpu_attention.c - the CPU backend's fused scaled dot-product attention
** (backend.h sdpa_forward / sdpa_backward): online softmax over key tiles,
** logsumexp saved per row, backward recomputing the probabilities, no
** (L, S) matrix and no races. The reference the CUDA kernels mirror.
** f32/f64 natively, bf16/f16 through float32 staging. No masks, no dropout.
*/
#include <math.h>
#include <stdlib.h>
#include "cpu_kernels.h"
#include "cpu_stage.h"

#define LT_ATT_BC 64  /* keys per tile of the forward pass */

#define T float
#define SUF f32
#define EXPT expf
#define LOGT logf
#include "cpu_attention_tmpl.h"
#undef T
#undef SUF
#undef EXPT
#undef LOGT

#define T double
#define SUF f64
#define EXPT exp
#define LOGT log
#include "cpu_attention_tmpl.h"
#undef T
#undef SUF
#undef EXPT
#undef LOGT

static lt_status check_args(const char *op, lt_dtype dt, int64_t bh, int64_t L, int64_t S,
                            int64_t E, int64_t Ev) {
  if (!lt_dtype_is_float(dt))
    return lt_error(LT_ERR_DTYPE, "%s: dtype %s not supported on cpu (float dtypes only)", op,
                    lt_dtype_name(dt));
  if (bh < 0 || L < 1 || S < 1 || E < 1 || Ev < 1 || E > LT_SDPA_MAX_HEAD_DIM ||
      Ev > LT_SDPA_MAX_HEAD_DIM)
    return lt_error(LT_ERR_ARG,
                    "%s: unsupported sizes (bh %lld, L %lld, S %lld, E %lld, Ev %lld; head dims "
                    "up to %d)",
                    op, (long long)bh, (long long)L, (long long)S, (long long)E, (long long)Ev,
                    LT_SDPA_MAX_HEAD_DIM);
  return LT_OK;
}

static lt_status oom(const char *op) {
  return lt_error(LT_ERR_MEMORY, "%s: out of memory for attention scratch buffers", op);
}

lt_status lt_cpu_sdpa_forward(void *out, void *lse, const void *q, const void *k, const void *v,
                              lt_dtype dt, int64_t bh, int64_t L, int64_t S, int64_t E,
                              int64_t Ev, double scale, bool causal) {
  const char *op = "scaled_dot_product_attention";
  lt_status st = check_args(op, dt, bh, L, S, E, Ev);
  if (st) return st;
  if (bh == 0) return LT_OK;
  if (dt == LT_DTYPE_F64) {
    sdpa_fwd_f64(out, lse, q, k, v, bh, L, S, E, Ev, scale, causal);
    return LT_OK;
  }
  if (dt == LT_DTYPE_F32) {
    sdpa_fwd_f32(out, lse, q, k, v, bh, L, S, E, Ev, (float)scale, causal);
    return LT_OK;
  }
  bool fail = false;
  float *fq = lt_stage_in(q, dt, bh * L * E, &fail), *fk = lt_stage_in(k, dt, bh * S * E, &fail);
  float *fv = lt_stage_in(v, dt, bh * S * Ev, &fail), *fo = lt_stage_out(out, bh * L * Ev, &fail);
  if (!fail) {
    sdpa_fwd_f32(fo, lse, fq, fk, fv, bh, L, S, E, Ev, (float)scale, causal);
    lt_stage_back(out, fo, dt, bh * L * Ev);
  }
  free(fq); free(fk); free(fv); free(fo);
  return fail ? oom(op) : LT_OK;
}

lt_status lt_cpu_sdpa_backward(void *dq, void *dk, void *dv, const void *dout, const void *q,
                               const void *k, const void *v, const void *out, const void *lse,
                               lt_dtype dt, int64_t bh, int64_t L, int64_t S, int64_t E,
                               int64_t Ev, double scale, bool causal) {
  const char *op = "scaled_dot_product_attention_backward";
  lt_status st = check_args(op, dt, bh, L, S, E, Ev);
  if (st) return st;
  if (bh == 0) return LT_OK;
  size_t dsz = dt == LT_DTYPE_F64 ? sizeof(double) : sizeof(float);
  void *D = malloc((size_t)(bh * L) * dsz);
  if (!D) return oom(op);
  if (dt == LT_DTYPE_F64) {
    sdpa_bwd_f64(dq, dk, dv, D, dout, q, k, v, out, lse, bh, L, S, E, Ev, scale, causal);
    free(D);
    return LT_OK;
  }
  if (dt == LT_DTYPE_F32) {
    sdpa_bwd_f32(dq, dk, dv, D, dout, q, k, v, out, lse, bh, L, S, E, Ev, (float)scale, causal);
    free(D);
    return LT_OK;
  }
  bool fail = false;
  int64_t nq = bh * L * E, nk = bh * S * E, nv = bh * S * Ev, no = bh * L * Ev;
  float *fdo = lt_stage_in(dout, dt, no, &fail), *fq = lt_stage_in(q, dt, nq, &fail);
  float *fk = lt_stage_in(k, dt, nk, &fail), *fv = lt_stage_in(v, dt, nv, &fail);
  float *fo = lt_stage_in(out, dt, no, &fail);
  float *fdq = lt_stage_out(dq, nq, &fail), *fdk = lt_stage_out(dk, nk, &fail);
  float *fdv = lt_stage_out(dv, nv, &fail);
  if (!fail) {
    sdpa_bwd_f32(fdq, fdk, fdv, D, fdo, fq, fk, fv, fo, lse, bh, L, S, E, Ev, (float)scale,
                 causal);
    lt_stage_back(dq, fdq, dt, nq);
    lt_stage_back(dk, fdk, dt, nk);
    lt_stage_back(dv, fdv, dt, nv);
  }
  free(fdo); free(fq); free(fk); free(fv); free(fo); free(fdq); free(fdk); free(fdv);
  free(D);
  return fail ? oom(op) : LT_OK;
}
