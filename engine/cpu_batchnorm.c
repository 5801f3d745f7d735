/*
** cpu_batchnorm.c - the CPU backend's fused batch norm (backend.h:
** batch_norm_stats / _forward / _backward) on contiguous (N, C, HW)
** buffers: per-channel statistics and running-stat update, the normalising
** transform, and dx/dw/db in two passes. f32/f64 natively (plane sums in
** the element type, added up in double), bf16/f16 staged through float32.
** It does not check shapes or record autograd (ops_nn.c does).
*/
#include <math.h>
#include <stdlib.h>
#include "cpu_kernels.h"
#include "cpu_stage.h"

#define T float
#define SUF f32
#include "cpu_batchnorm_tmpl.h"
#undef T
#undef SUF

#define T double
#define SUF f64
#include "cpu_batchnorm_tmpl.h"
#undef T
#undef SUF

static lt_status bad_dtype(const char *op, lt_dtype dt) {
  return lt_error(LT_ERR_DTYPE, "%s: dtype %s not supported on cpu (float dtypes only)", op,
                  lt_dtype_name(dt));
}

static lt_status oom(const char *op) {
  return lt_error(LT_ERR_MEMORY, "%s: out of memory for batch norm buffers", op);
}

lt_status lt_cpu_batch_norm_stats(void *mean, void *invstd, void *running_mean,
                                  void *running_var, const void *x, lt_dtype dt, int64_t N,
                                  int64_t C, int64_t HW, bool training, double momentum,
                                  double eps) {
  switch (dt) {
    case LT_DTYPE_F32:
      bn_stats_f32(mean, invstd, running_mean, running_var, x, N, C, HW, training, momentum, eps);
      return LT_OK;
    case LT_DTYPE_F64:
      bn_stats_f64(mean, invstd, running_mean, running_var, x, N, C, HW, training, momentum, eps);
      return LT_OK;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: {
      bool fail = false;
      float *fx = training ? lt_stage_in(x, dt, N * C * HW, &fail) : NULL;
      float *frm = lt_stage_in(running_mean, dt, C, &fail);
      float *frv = lt_stage_in(running_var, dt, C, &fail);
      if (!fail) {
        bn_stats_f32(mean, invstd, frm, frv, fx, N, C, HW, training, momentum, eps);
        if (training) {
          lt_stage_back(running_mean, frm, dt, C);
          lt_stage_back(running_var, frv, dt, C);
        }
      }
      free(fx); free(frm); free(frv);
      return fail ? oom("batch_norm") : LT_OK;
    }
    default: return bad_dtype("batch_norm", dt);
  }
}

lt_status lt_cpu_batch_norm_forward(void *y, const void *x, const void *mean, const void *invstd,
                                    const void *w, const void *b, lt_dtype dt, int64_t N,
                                    int64_t C, int64_t HW) {
  switch (dt) {
    case LT_DTYPE_F32: bn_forward_f32(y, x, mean, invstd, w, b, N, C, HW); return LT_OK;
    case LT_DTYPE_F64: bn_forward_f64(y, x, mean, invstd, w, b, N, C, HW); return LT_OK;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: {
      bool fail = false;
      int64_t n = N * C * HW;
      float *fx = lt_stage_in(x, dt, n, &fail), *fy = lt_stage_out(y, n, &fail);
      float *fw = lt_stage_in(w, dt, C, &fail), *fb = lt_stage_in(b, dt, C, &fail);
      if (!fail) {
        bn_forward_f32(fy, fx, mean, invstd, fw, fb, N, C, HW);
        lt_stage_back(y, fy, dt, n);
      }
      free(fx); free(fy); free(fw); free(fb);
      return fail ? oom("batch_norm") : LT_OK;
    }
    default: return bad_dtype("batch_norm", dt);
  }
}

lt_status lt_cpu_batch_norm_backward(void *dx, void *dw, void *db, const void *dy, const void *x,
                                     const void *mean, const void *invstd, const void *w,
                                     lt_dtype dt, int64_t N, int64_t C, int64_t HW,
                                     bool training) {
  const char *op = "batch_norm_backward";
  double *ssum = malloc((size_t)(2 * C > 0 ? 2 * C : 1) * sizeof(double));
  if (!ssum) return oom(op);
  lt_status st = LT_OK;
  switch (dt) {
    case LT_DTYPE_F32:
      bn_backward_f32(dx, dw, db, dy, x, mean, invstd, w, N, C, HW, training, ssum);
      break;
    case LT_DTYPE_F64:
      bn_backward_f64(dx, dw, db, dy, x, mean, invstd, w, N, C, HW, training, ssum);
      break;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: {
      bool fail = false;
      int64_t n = N * C * HW;
      float *fdy = lt_stage_in(dy, dt, n, &fail), *fx = lt_stage_in(x, dt, n, &fail);
      float *fw = lt_stage_in(w, dt, C, &fail);
      float *fdx = lt_stage_out(dx, n, &fail), *fdw = lt_stage_out(dw, C, &fail);
      float *fdb = lt_stage_out(db, C, &fail);
      if (!fail) {
        bn_backward_f32(fdx, fdw, fdb, fdy, fx, mean, invstd, fw, N, C, HW, training, ssum);
        lt_stage_back(dx, fdx, dt, n);
        lt_stage_back(dw, fdw, dt, C);
        lt_stage_back(db, fdb, dt, C);
      }
      free(fdy); free(fx); free(fw); free(fdx); free(fdw); free(fdb);
      if (fail) st = oom(op);
      break;
    }
    default: st = bad_dtype(op, dt); break;
  }
  free(ssum);
  return st;
}
