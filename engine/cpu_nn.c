/*
** cpu_nn.c - the CPU backend's nn kernels on contiguous buffers: softmax /
** log_softmax, cross entropy (label smoothing, ignore_index, class weights
** as torch.nn.functional.cross_entropy) and layer norm, forward and
** backward. f32/f64 natively (sums in double), bf16/f16 through float32
** staging; integer dtypes are refused. Reductions over rows (mean, sum) are
** the front-end's business.
*/
#include <math.h>
#include <stdlib.h>
#include "cpu_kernels.h"
#include "cpu_stage.h"

#define T float
#define SUF f32
#define EXPT expf
#include "cpu_nn_tmpl.h"
#undef T
#undef SUF
#undef EXPT

#define T double
#define SUF f64
#define EXPT exp
#include "cpu_nn_tmpl.h"
#undef T
#undef SUF
#undef EXPT

static lt_status bad_dtype(const char *op, lt_dtype dt) {
  return lt_error(LT_ERR_DTYPE, "%s: dtype %s not supported on cpu (float dtypes only)", op,
                  lt_dtype_name(dt));
}

static lt_status oom(const char *op) {
  return lt_error(LT_ERR_MEMORY, "%s: out of memory staging half-precision buffers", op);
}

lt_status lt_cpu_softmax(void *out, const void *in, lt_dtype dt, int64_t outer, int64_t n,
                         int64_t inner, bool log) {
  switch (dt) {
    case LT_DTYPE_F32: softmax_f32(out, in, outer, n, inner, log); return LT_OK;
    case LT_DTYPE_F64: softmax_f64(out, in, outer, n, inner, log); return LT_OK;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: {
      bool fail = false;
      int64_t cnt = outer * n * inner;
      float *fi = lt_stage_in(in, dt, cnt, &fail), *fo = lt_stage_out(out, cnt, &fail);
      if (!fail) {
        softmax_f32(fo, fi, outer, n, inner, log);
        lt_stage_back(out, fo, dt, cnt);
      }
      free(fi); free(fo);
      return fail ? oom("softmax") : LT_OK;
    }
    default: return bad_dtype("softmax", dt);
  }
}

lt_status lt_cpu_softmax_backward(void *dx, const void *y, const void *dy, lt_dtype dt,
                                  int64_t outer, int64_t n, int64_t inner, bool log) {
  switch (dt) {
    case LT_DTYPE_F32: softmax_backward_f32(dx, y, dy, outer, n, inner, log); return LT_OK;
    case LT_DTYPE_F64: softmax_backward_f64(dx, y, dy, outer, n, inner, log); return LT_OK;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: {
      bool fail = false;
      int64_t cnt = outer * n * inner;
      float *fy = lt_stage_in(y, dt, cnt, &fail), *fdy = lt_stage_in(dy, dt, cnt, &fail);
      float *fdx = lt_stage_out(dx, cnt, &fail);
      if (!fail) {
        softmax_backward_f32(fdx, fy, fdy, outer, n, inner, log);
        lt_stage_back(dx, fdx, dt, cnt);
      }
      free(fy); free(fdy); free(fdx);
      return fail ? oom("softmax_backward") : LT_OK;
    }
    default: return bad_dtype("softmax_backward", dt);
  }
}

static lt_status check_targets(const char *op, const int64_t *target, int64_t rows,
                               int64_t classes, int64_t base, bool has_ignore, int64_t ignore) {
  for (int64_t r = 0; r < rows; r++) {
    int64_t v = target[r];
    if (has_ignore && v == ignore) continue;
    if (v < base || v - base >= classes)
      return lt_error(LT_ERR_INDEX, "%s: target %lld is out of range for size %lld", op,
                      (long long)v, (long long)classes);
  }
  return LT_OK;
}

lt_status lt_cpu_cross_entropy(void *loss, void *lse, const void *logits, const int64_t *target,
                               const void *weight, lt_dtype dt, int64_t rows, int64_t classes,
                               int64_t base, bool has_ignore, int64_t ignore, double smoothing) {
  lt_status st = check_targets("cross_entropy", target, rows, classes, base, has_ignore, ignore);
  if (st) return st;
  switch (dt) {
    case LT_DTYPE_F32:
      cross_entropy_f32(loss, lse, logits, target, weight, rows, classes, base, has_ignore,
                        ignore, smoothing);
      return LT_OK;
    case LT_DTYPE_F64:
      cross_entropy_f64(loss, lse, logits, target, weight, rows, classes, base, has_ignore,
                        ignore, smoothing);
      return LT_OK;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: {
      bool fail = false;
      float *fx = lt_stage_in(logits, dt, rows * classes, &fail);
      float *fw = lt_stage_in(weight, dt, classes, &fail);
      float *fl = lt_stage_out(loss, rows, &fail);
      if (!fail) {  /* lse is float32 for half dtypes (as layer_norm's stats) */
        cross_entropy_f32(fl, lse, fx, target, fw, rows, classes, base, has_ignore, ignore,
                          smoothing);
        lt_stage_back(loss, fl, dt, rows);
      }
      free(fx); free(fw); free(fl);
      return fail ? oom("cross_entropy") : LT_OK;
    }
    default: return bad_dtype("cross_entropy", dt);
  }
}

lt_status lt_cpu_cross_entropy_backward(void *dlogits, const void *dloss, int64_t dloss_stride,
                                        const void *logits, const void *lse,
                                        const int64_t *target, const void *weight, lt_dtype dt,
                                        int64_t rows, int64_t classes, int64_t base,
                                        bool has_ignore, int64_t ignore, double smoothing) {
  lt_status st =
      check_targets("cross_entropy_backward", target, rows, classes, base, has_ignore, ignore);
  if (st) return st;
  switch (dt) {
    case LT_DTYPE_F32:
      cross_entropy_backward_f32(dlogits, dloss, dloss_stride, logits, lse, target, weight, rows,
                                 classes, base, has_ignore, ignore, smoothing);
      return LT_OK;
    case LT_DTYPE_F64:
      cross_entropy_backward_f64(dlogits, dloss, dloss_stride, logits, lse, target, weight, rows,
                                 classes, base, has_ignore, ignore, smoothing);
      return LT_OK;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: {
      bool fail = false;
      int64_t nd = dloss_stride ? (rows - 1) * dloss_stride + 1 : 1;
      if (rows == 0) nd = 1;
      float *fx = lt_stage_in(logits, dt, rows * classes, &fail);
      float *fw = lt_stage_in(weight, dt, classes, &fail);
      float *fd = lt_stage_in(dloss, dt, nd, &fail);
      float *fdx = lt_stage_out(dlogits, rows * classes, &fail);
      if (!fail) {  /* lse is float32 for half dtypes */
        cross_entropy_backward_f32(fdx, fd, dloss_stride, fx, lse, target, fw, rows, classes,
                                   base, has_ignore, ignore, smoothing);
        lt_stage_back(dlogits, fdx, dt, rows * classes);
      }
      free(fx); free(fw); free(fd); free(fdx);
      return fail ? oom("cross_entropy_backward") : LT_OK;
    }
    default: return bad_dtype("cross_entropy_backward", dt);
  }
}

lt_status lt_cpu_layer_norm(void *y, void *mean, void *rstd, const void *x, const void *w,
                            const void *b, lt_dtype dt, int64_t rows, int64_t cols, double eps) {
  switch (dt) {
    case LT_DTYPE_F32: layer_norm_f32(y, mean, rstd, x, w, b, rows, cols, eps); return LT_OK;
    case LT_DTYPE_F64: layer_norm_f64(y, mean, rstd, x, w, b, rows, cols, eps); return LT_OK;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: {  /* mean/rstd are float32 already */
      bool fail = false;
      float *fx = lt_stage_in(x, dt, rows * cols, &fail);
      float *fw = lt_stage_in(w, dt, cols, &fail), *fb = lt_stage_in(b, dt, cols, &fail);
      float *fy = lt_stage_out(y, rows * cols, &fail);
      if (!fail) {
        layer_norm_f32(fy, mean, rstd, fx, fw, fb, rows, cols, eps);
        lt_stage_back(y, fy, dt, rows * cols);
      }
      free(fx); free(fw); free(fb); free(fy);
      return fail ? oom("layer_norm") : LT_OK;
    }
    default: return bad_dtype("layer_norm", dt);
  }
}

lt_status lt_cpu_layer_norm_backward(void *dx, void *dw, void *db, const void *dy, const void *x,
                                     const void *mean, const void *rstd, const void *w,
                                     lt_dtype dt, int64_t rows, int64_t cols) {
  switch (dt) {
    case LT_DTYPE_F32:
      layer_norm_backward_f32(dx, dw, db, dy, x, mean, rstd, w, rows, cols);
      return LT_OK;
    case LT_DTYPE_F64:
      layer_norm_backward_f64(dx, dw, db, dy, x, mean, rstd, w, rows, cols);
      return LT_OK;
    case LT_DTYPE_BF16: case LT_DTYPE_F16: {
      bool fail = false;
      float *fx = lt_stage_in(x, dt, rows * cols, &fail), *fdy = lt_stage_in(dy, dt, rows * cols, &fail);
      float *fw = lt_stage_in(w, dt, cols, &fail);
      float *fdw = lt_stage_in(dw, dt, cols, &fail), *fdb = lt_stage_in(db, dt, cols, &fail);
      float *fdx = lt_stage_out(dx, rows * cols, &fail);
      if (!fail) {
        layer_norm_backward_f32(fdx, fdw, fdb, fdy, fx, mean, rstd, fw, rows, cols);
        lt_stage_back(dx, fdx, dt, rows * cols);
        lt_stage_back(dw, fdw, dt, cols);
        lt_stage_back(db, fdb, dt, cols);
      }
      free(fx); free(fdy); free(fw); free(fdw); free(fdb); free(fdx);
      return fail ? oom("layer_norm_backward") : LT_OK;
    }
    default: return bad_dtype("layer_norm_backward", dt);
  }
}
