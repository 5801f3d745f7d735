/*
** gradcheck.h - finite-difference gradient checks for C engine tests.
** gradcheck(name, fn, ud, inputs, n) builds out = fn(inputs), backpropagates
** sum(out * W) (W fixed pseudo-random weights) and compares every float64
** input's .grad with central differences (eps 1e-6). Inputs must be
** contiguous float64 CPU tensors (non-float inputs, e.g. indices, are
** skipped); fn must not keep references to its inputs. Header-only, static.
*/
#ifndef LT_GRADCHECK_H
#define LT_GRADCHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "luatrain.h"

/* Builds the op's output from the inputs (a NEW reference, or NULL). */
typedef lt_tensor *(*gradcheck_fn)(lt_tensor **in, void *ud);

static double gradcheck_weight(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)((*s >> 11) & ((1ULL << 53) - 1)) / (double)(1ULL << 53) * 2.0 - 1.0;
}

/* sum(out * w) of fn's output on the host, grad mode off; NAN on error. */
static double gradcheck_eval(gradcheck_fn fn, void *ud, lt_tensor **in, const double *w,
                             int64_t nw) {
  lt_tensor *out = fn(in, ud);
  if (!out) return NAN;
  int64_t n = lt_numel(out);
  double *buf = (double *)malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
  double s = NAN;
  if (buf && n == nw && lt_to_host(out, buf, LT_DTYPE_F64) == LT_OK) {
    s = 0;
    for (int64_t k = 0; k < n; k++) s += buf[k] * w[k];
  }
  free(buf);
  lt_tensor_release(out);
  return s;
}

/* wrt (NULL = every float input) selects the inputs to check. Returns 0 on
** success, 1 on a mismatch or error (with a message on stderr). */
static int gradcheck_ex(const char *name, gradcheck_fn fn, void *ud, lt_tensor **in, int n,
                        const bool *wrt, double atol, double rtol) {
  const double eps = 1e-6;
  int fail = 0;
  bool prev = lt_grad_enabled();
  bool use[16] = {false};
  if (n > 16) { fprintf(stderr, "gradcheck %s: too many inputs\n", name); return 1; }
  for (int i = 0; i < n; i++) {
    use[i] = in[i] && in[i]->dtype == LT_DTYPE_F64 && (!wrt || wrt[i]);
    if (use[i] && (!lt_is_contiguous(in[i]) || lt_tensor_device(in[i]).type != LT_DEVICE_CPU)) {
      fprintf(stderr, "gradcheck %s: input %d must be a contiguous CPU tensor\n", name, i);
      return 1;
    }
    if (use[i]) {
      lt_tensor_release(in[i]->grad);
      in[i]->grad = NULL;
      lt_tensor_set_requires_grad(in[i], true);
    }
  }
  lt_set_grad_enabled(true);
  lt_tensor *out = fn(in, ud);
  if (!out) {
    fprintf(stderr, "gradcheck %s: forward failed: %s\n", name, lt_errmsg());
    lt_set_grad_enabled(prev);
    return 1;
  }
  int64_t nw = lt_numel(out);
  double *w = (double *)malloc((size_t)(nw > 0 ? nw : 1) * sizeof(double));
  uint64_t seed = 12345;
  for (int64_t k = 0; k < nw; k++) w[k] = gradcheck_weight(&seed);
  lt_tensor *wt = lt_from_data(w, LT_DTYPE_F64, out->shape, out->ndim, out->dtype,
                               lt_tensor_device(out));
  lt_tensor *prod = wt ? lt_binary(LT_BINARY_MUL, out, wt) : NULL;
  lt_tensor *loss = prod ? lt_reduce(LT_REDUCE_SUM, prod, NULL, 0, false, 0, NULL, 0) : NULL;
  if (!loss || lt_backward(loss, NULL, false) != LT_OK) {
    fprintf(stderr, "gradcheck %s: backward failed: %s\n", name, lt_errmsg());
    fail = 1;
  }
  lt_tensor_release(loss);
  lt_tensor_release(prod);
  lt_tensor_release(wt);
  lt_tensor_release(out);
  lt_set_grad_enabled(false);
  double max_abs = 0, max_rel = 0;
  for (int i = 0; i < n && !fail; i++) {
    if (!use[i]) continue;
    int64_t m = lt_numel(in[i]);
    double *ana = (double *)calloc((size_t)(m > 0 ? m : 1), sizeof(double));
    if (in[i]->grad) {
      if (lt_numel(in[i]->grad) != m || lt_to_host(in[i]->grad, ana, LT_DTYPE_F64) != LT_OK) {
        fprintf(stderr, "gradcheck %s: input %d: bad gradient shape\n", name, i);
        fail = 1;
      }
    }
    double *x = (double *)lt_tensor_data(in[i]);
    for (int64_t j = 0; j < m && !fail; j++) {
      double orig = x[j];
      x[j] = orig + eps;
      double fp = gradcheck_eval(fn, ud, in, w, nw);
      x[j] = orig - eps;
      double fm = gradcheck_eval(fn, ud, in, w, nw);
      x[j] = orig;
      double num = (fp - fm) / (2 * eps);
      double err = fabs(ana[j] - num), rel = err / (fabs(num) > 1e-12 ? fabs(num) : 1e-12);
      if (err > max_abs) max_abs = err;
      if (err > atol && rel > max_rel) max_rel = rel;
      if (!(err <= atol + rtol * fabs(num))) {
        fprintf(stderr,
                "gradcheck %s: input %d element %lld: analytic %.10g numeric %.10g "
                "(abs err %.3g)\n",
                name, i, (long long)j, ana[j], num, err);
        fail = 1;
      }
    }
    free(ana);
  }
  for (int i = 0; i < n; i++)  /* after the loop: inputs may alias each other */
    if (use[i] && in[i]->grad) {
      lt_tensor_release(in[i]->grad);
      in[i]->grad = NULL;
    }
  if (fail) fprintf(stderr, "gradcheck %s: max abs err %.3g, max rel err %.3g\n", name,
                    max_abs, max_rel);
  free(w);
  lt_set_grad_enabled(prev);
  return fail;
}

static int gradcheck(const char *name, gradcheck_fn fn, void *ud, lt_tensor **in, int n) {
  return gradcheck_ex(name, fn, ud, in, n, NULL, 1e-5, 1e-3);
}

/* A float64 CPU tensor of `shape` with values uniform in [lo, hi) from seed. */
static lt_tensor *gradcheck_input(const int64_t *shape, int ndim, double lo, double hi,
                                  uint64_t seed) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  double *v = (double *)malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
  for (int64_t k = 0; k < n; k++) v[k] = lo + (hi - lo) * (gradcheck_weight(&seed) + 1) / 2;
  lt_tensor *t = lt_from_data(v, LT_DTYPE_F64, shape, ndim, LT_DTYPE_F64, lt_cpu());
  free(v);
  return t;
}

#endif
