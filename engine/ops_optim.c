/*
** ops_optim.c - front-ends of the fused optimizer updates (SGD, Adam/AdamW,
** RMSprop), the total gradient norm and in-place scaling used by
** clip_grad_norm_. They check the state buffers and call the backend; they
** write outside autograd. Not here: optimizer state bookkeeping (Lua).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Param and state buffers are written in place: they must be contiguous,
** on one device, of one float dtype and of one shape. */
static lt_status check_state(const char *op, lt_tensor *param, lt_tensor *t, const char *name) {
  char sa[128], sb[128];
  if (!t) return lt_error(LT_ERR_ARG, "%s: %s is NULL", op, name);
  lt_status st = lt_check_same_device(op, param, "param", t, name);
  if (st) return st;
  if (t->dtype != param->dtype)
    return lt_error(LT_ERR_DTYPE, "%s: %s has dtype %s but param has dtype %s", op, name,
                    lt_dtype_name(t->dtype), lt_dtype_name(param->dtype));
  if (lt_numel(t) != lt_numel(param) || t->ndim != param->ndim ||
      memcmp(t->shape, param->shape, (size_t)t->ndim * sizeof(int64_t)) != 0)
    return lt_error(LT_ERR_SHAPE, "%s: %s has shape %s but param has shape %s", op, name,
                    lt_shape_str(t, sa), lt_shape_str(param, sb));
  if (!lt_is_contiguous(t))
    return lt_error(LT_ERR_ARG, "%s: %s must be contiguous", op, name);
  return LT_OK;
}

/* Checks param and grad; returns the backend and a contiguous grad (new
** ref) in *gc, or NULL with the error set. */
static const lt_backend *prepare(const char *op, lt_tensor *param, lt_tensor *grad,
                                 lt_tensor **gc) {
  *gc = NULL;
  if (!param) {
    lt_error(LT_ERR_ARG, "%s: param is NULL", op);
    return NULL;
  }
  if (lt_check_float(op, param, "param")) return NULL;
  if (!lt_is_contiguous(param)) {
    lt_error(LT_ERR_ARG, "%s: param must be contiguous", op);
    return NULL;
  }
  if (!grad) {
    lt_error(LT_ERR_ARG, "%s: grad is NULL", op);
    return NULL;
  }
  if (lt_check_same_device(op, param, "param", grad, "grad")) return NULL;
  char sa[128], sb[128];
  if (grad->dtype != param->dtype) {
    lt_error(LT_ERR_DTYPE, "%s: grad has dtype %s but param has dtype %s", op,
             lt_dtype_name(grad->dtype), lt_dtype_name(param->dtype));
    return NULL;
  }
  if (grad->ndim != param->ndim ||
      memcmp(grad->shape, param->shape, (size_t)grad->ndim * sizeof(int64_t)) != 0) {
    lt_error(LT_ERR_SHAPE, "%s: grad has shape %s but param has shape %s", op,
             lt_shape_str(grad, sa), lt_shape_str(param, sb));
    return NULL;
  }
  const lt_backend *be = lt_backend_of(op, param);
  if (!be) return NULL;
  bool g = lt_grad_enabled();
  lt_set_grad_enabled(false);
  *gc = lt_contiguous(grad);
  lt_set_grad_enabled(g);
  return *gc ? be : NULL;
}

lt_status lt_sgd_step(lt_tensor *param, lt_tensor *grad, lt_tensor *momentum_buf, double lr,
                      double momentum, double dampening, double weight_decay, bool nesterov,
                      bool maximize, bool first_step) {
  const char *op = "sgd_step";
  if (nesterov && (momentum <= 0 || dampening != 0))
    return lt_error(LT_ERR_ARG, "%s: nesterov momentum requires a momentum and zero dampening",
                    op);
  lt_tensor *gc;
  const lt_backend *be = prepare(op, param, grad, &gc);
  if (!be) return lt_errcode();
  lt_status st = LT_OK;
  if (momentum != 0) st = check_state(op, param, momentum_buf, "momentum_buf");
  else momentum_buf = NULL;
  if (!st && !be->sgd_step) st = lt_err_not_impl(op, lt_tensor_device(param));
  if (!st && lt_numel(param) > 0)
    st = be->sgd_step(lt_tensor_data(param), lt_tensor_data(gc),
                      momentum_buf ? lt_tensor_data(momentum_buf) : NULL, param->dtype,
                      lt_numel(param), lr, momentum, dampening, weight_decay, nesterov, maximize,
                      first_step);
  if (!st) {
    lt_bump_version(param);
    if (momentum_buf) lt_bump_version(momentum_buf);
  }
  lt_tensor_release(gc);
  return st;
}

lt_status lt_adam_step(lt_tensor *param, lt_tensor *grad, lt_tensor *exp_avg,
                       lt_tensor *exp_avg_sq, lt_tensor *max_exp_avg_sq, double lr, double beta1,
                       double beta2, double eps, double weight_decay, bool decoupled,
                       bool maximize, int64_t step) {
  const char *op = "adam_step";
  if (step < 1) return lt_error(LT_ERR_ARG, "%s: step must be >= 1, got %lld", op,
                                (long long)step);
  lt_tensor *gc;
  const lt_backend *be = prepare(op, param, grad, &gc);
  if (!be) return lt_errcode();
  lt_status st = check_state(op, param, exp_avg, "exp_avg");
  if (!st) st = check_state(op, param, exp_avg_sq, "exp_avg_sq");
  if (!st && max_exp_avg_sq) st = check_state(op, param, max_exp_avg_sq, "max_exp_avg_sq");
  if (!st && !be->adam_step) st = lt_err_not_impl(op, lt_tensor_device(param));
  if (!st && lt_numel(param) > 0)
    st = be->adam_step(lt_tensor_data(param), lt_tensor_data(gc), lt_tensor_data(exp_avg),
                       lt_tensor_data(exp_avg_sq),
                       max_exp_avg_sq ? lt_tensor_data(max_exp_avg_sq) : NULL, param->dtype,
                       lt_numel(param), lr, beta1, beta2, eps, weight_decay, decoupled,
                       maximize, step);
  if (!st) {
    lt_bump_version(param);
    lt_bump_version(exp_avg);
    lt_bump_version(exp_avg_sq);
    if (max_exp_avg_sq) lt_bump_version(max_exp_avg_sq);
  }
  lt_tensor_release(gc);
  return st;
}

lt_status lt_rmsprop_step(lt_tensor *param, lt_tensor *grad, lt_tensor *square_avg,
                          lt_tensor *momentum_buf, lt_tensor *grad_avg, double lr, double alpha,
                          double eps, double weight_decay, double momentum, bool maximize) {
  const char *op = "rmsprop_step";
  lt_tensor *gc;
  const lt_backend *be = prepare(op, param, grad, &gc);
  if (!be) return lt_errcode();
  lt_status st = check_state(op, param, square_avg, "square_avg");
  if (!st && momentum > 0) st = check_state(op, param, momentum_buf, "momentum_buf");
  if (momentum <= 0) momentum_buf = NULL;
  if (!st && grad_avg) st = check_state(op, param, grad_avg, "grad_avg");
  if (!st && !be->rmsprop_step) st = lt_err_not_impl(op, lt_tensor_device(param));
  if (!st && lt_numel(param) > 0)
    st = be->rmsprop_step(lt_tensor_data(param), lt_tensor_data(gc), lt_tensor_data(square_avg),
                          momentum_buf ? lt_tensor_data(momentum_buf) : NULL,
                          grad_avg ? lt_tensor_data(grad_avg) : NULL, param->dtype,
                          lt_numel(param), lr, alpha, eps, weight_decay, momentum, maximize);
  if (!st) {
    lt_bump_version(param);
    lt_bump_version(square_avg);
    if (momentum_buf) lt_bump_version(momentum_buf);
    if (grad_avg) lt_bump_version(grad_avg);
  }
  lt_tensor_release(gc);
  return st;
}

/* Per-tensor norms through lt_reduce(NORM), cast to float64 and stacked on
** the tensors' device; the total is the same norm of that vector (the norms
** are >= 0, so (sum norm_k^p)^(1/p), max or min), read back once: one
** host sync for the whole list, not one per tensor. Tensors on different
** devices are read back one group at a time. */
lt_status lt_total_norm(lt_tensor **ts, int n, double p, double *out) {
  if (!out) return lt_error(LT_ERR_ARG, "total_norm: out is NULL");
  if (n < 0 || (n > 0 && !ts)) return lt_error(LT_ERR_ARG, "total_norm: bad tensor list");
  if (isnan(p) || p == 0)
    return lt_error(LT_ERR_ARG, "total_norm: unsupported norm type %g", p);
  for (int k = 0; k < n; k++)
    if (!ts[k]) return lt_error(LT_ERR_ARG, "total_norm: tensor %d is NULL", k + 1);
  bool g = lt_grad_enabled();
  lt_set_grad_enabled(false);
  lt_tensor **norms = n > 0 ? calloc((size_t)n, sizeof *norms) : NULL;
  bool *done = n > 0 ? calloc((size_t)n, sizeof *done) : NULL;
  lt_status st = (n > 0 && (!norms || !done))
                     ? lt_error(LT_ERR_MEMORY, "total_norm: out of host memory") : LT_OK;
  double acc = isinf(p) && p < 0 ? INFINITY : 0.0;
  bool any = false;
  for (int first = 0; first < n && !st; first++) {
    if (done[first]) continue;
    lt_device dev = lt_tensor_device(ts[first]);
    int m = 0;
    for (int k = first; k < n && !st; k++) {  /* every tensor on this device */
      lt_device dk = lt_tensor_device(ts[k]);
      if (done[k] || dk.type != dev.type || dk.index != dev.index) continue;
      done[k] = true;
      if (lt_numel(ts[k]) == 0) continue;
      lt_tensor *nt = lt_reduce(LT_REDUCE_NORM, ts[k], NULL, 0, false, p, NULL, 0);
      lt_tensor *nd = nt ? lt_to(nt, LT_DTYPE_F64, dev) : NULL;
      lt_tensor_release(nt);
      if (!nd) st = lt_errcode();
      else norms[m++] = nd;
    }
    if (!st && m > 0) {
      lt_tensor *v = lt_stack(norms, m, 0);
      lt_tensor *tot = v ? lt_reduce(LT_REDUCE_NORM, v, NULL, 0, false, p, NULL, 0) : NULL;
      double x = 0;
      if (!tot) st = lt_errcode();
      else st = lt_item(tot, &x);
      lt_tensor_release(tot);
      lt_tensor_release(v);
      if (!st) {
        any = true;
        if (isinf(p)) acc = p > 0 ? (x > acc || isnan(x) ? x : acc) : (x < acc || isnan(x) ? x : acc);
        else acc += pow(x, p);
      }
    }
    for (int k = 0; k < m; k++) lt_tensor_release(norms[k]);
  }
  free(norms);
  free(done);
  lt_set_grad_enabled(g);
  if (st) return st;
  if (!isinf(p)) acc = (p == 1) ? acc : (p == 2 ? sqrt(acc) : pow(acc, 1.0 / p));
  else if (!any) acc = 0.0;
  *out = acc;
  return LT_OK;
}

lt_status lt_scale_(lt_tensor **ts, int n, double scale) {
  if (n < 0 || (n > 0 && !ts)) return lt_error(LT_ERR_ARG, "scale_: bad tensor list");
  bool g = lt_grad_enabled();
  lt_set_grad_enabled(false);
  lt_status st = LT_OK;
  for (int k = 0; k < n && !st; k++) {
    if (!ts[k]) st = lt_error(LT_ERR_ARG, "scale_: tensor %d is NULL", k + 1);
    else st = lt_binary_scalar_(LT_BINARY_MUL, ts[k], scale);
  }
  lt_set_grad_enabled(g);
  return st;
}
