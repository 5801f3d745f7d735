/*
** test_batchnorm.c - the fused batch norm (backend batch_norm_stats /
** _forward / _backward, used by lt_batch_norm on the CPU): forward values,
** running-stat updates and gradients against the composed formula (built
** here from reductions and elementwise ops, as the fallback path does) in
** float64, float32 and bfloat16, eval mode, and float64 finite-difference
** gradient checks. CPU only.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "ctest.h"
#include "gradcheck.h"

static double *host(lt_tensor *t) {
  int64_t n = lt_numel(t);
  double *b = calloc((size_t)(n > 0 ? n : 1), sizeof *b);
  if (lt_to_host(t, b, LT_DTYPE_F64)) {
    free(b);
    return NULL;
  }
  return b;
}

/* Largest |a - b| relative to max(1, |b|) (INFINITY when unreadable). */
static double reldiff(lt_tensor *a, lt_tensor *b) {
  if (!a || !b || lt_numel(a) != lt_numel(b)) return INFINITY;
  double *x = host(a), *y = host(b);
  double m = x && y ? 0 : INFINITY;
  for (int64_t i = 0; x && y && i < lt_numel(a); i++) {
    double d = fabs(x[i] - y[i]) / fmax(1.0, fabs(y[i]));
    if (!(d <= m)) m = d;
  }
  free(x);
  free(y);
  return m;
}

static lt_tensor *randn_scaled(const int64_t *shape, int nd, double scale, double shift,
                               lt_dtype dt) {
  lt_tensor *r = lt_randn(shape, nd, LT_DTYPE_F64, lt_cpu());
  lt_tensor *s = r ? lt_binary_scalar(LT_BINARY_MUL, r, scale, false) : NULL;
  lt_tensor *t = s ? lt_binary_scalar(LT_BINARY_ADD, s, shift, false) : NULL;
  lt_tensor *c = t ? lt_to(t, dt, lt_cpu()) : NULL;
  lt_tensor_release(r);
  lt_tensor_release(s);
  lt_tensor_release(t);
  return c;
}

static lt_tensor *cast(lt_tensor *t, lt_dtype dt) { return t ? lt_to(t, dt, lt_cpu()) : NULL; }

/* The composed formula, from public ops (autograd through each op):
** training: batch mean / biased var over every dim but 1; eval: rm, rv. */
static lt_tensor *composed(lt_tensor *x, lt_tensor *rm, lt_tensor *rv, lt_tensor *w,
                           lt_tensor *b, bool training, double eps) {
  int nd = x->ndim, dims[LT_MAX_DIMS], nr = 0;
  int64_t bs[LT_MAX_DIMS];
  for (int d = 0; d < nd; d++) {
    bs[d] = d == 1 ? x->shape[1] : 1;
    if (d != 1) dims[nr++] = d;
  }
  lt_tensor *t[10] = {0}, *y = NULL;
  if (training) {
    t[0] = lt_reduce(LT_REDUCE_MEAN, x, dims, nr, true, 0, NULL, 0);
    t[1] = lt_binary(LT_BINARY_SUB, x, t[0]);
    t[2] = lt_binary(LT_BINARY_MUL, t[1], t[1]);
    t[3] = lt_reduce(LT_REDUCE_MEAN, t[2], dims, nr, true, 0, NULL, 0);
  } else {
    t[0] = lt_reshape(rm, bs, nd);
    t[1] = lt_binary(LT_BINARY_SUB, x, t[0]);
    t[3] = lt_reshape(rv, bs, nd);
  }
  t[4] = lt_binary_scalar(LT_BINARY_ADD, t[3], eps, false);
  t[5] = lt_unary(LT_UNARY_RSQRT, t[4]);
  y = lt_binary(LT_BINARY_MUL, t[1], t[5]);
  if (w) {
    t[6] = lt_reshape(w, bs, nd);
    lt_tensor *r = lt_binary(LT_BINARY_MUL, y, t[6]);
    lt_tensor_release(y);
    y = r;
  }
  if (b) {
    t[7] = lt_reshape(b, bs, nd);
    lt_tensor *r = lt_binary(LT_BINARY_ADD, y, t[7]);
    lt_tensor_release(y);
    y = r;
  }
  for (int k = 0; k < 10; k++) lt_tensor_release(t[k]);
  return y;
}

/* sum(y * g) backpropagated (g fixed), grads left in the leaves */
static lt_status backprop(lt_tensor *y, lt_tensor *g) {
  lt_tensor *p = lt_binary(LT_BINARY_MUL, y, g);
  lt_tensor *s = p ? lt_reduce(LT_REDUCE_SUM, p, NULL, 0, false, 0, NULL, 0) : NULL;
  lt_status st = s ? lt_backward(s, NULL, false) : lt_errcode();
  lt_tensor_release(p);
  lt_tensor_release(s);
  return st;
}

static void clear_grads(lt_tensor **ts, int n) {
  for (int k = 0; k < n; k++) {
    if (!ts[k]) continue;
    lt_tensor_release(ts[k]->grad);
    ts[k]->grad = NULL;
  }
}

/* One configuration: the fused op (lt_batch_norm) vs the composed formula
** in dtype dt, compared at tolerance tol (values and gradients). */
static void check_case(const char *name, lt_dtype dt, const int64_t *shape, int nd, bool training,
                       bool affine, bool running, double tol) {
  int64_t C = shape[1];
  double eps = 1e-5, mom = 0.1;
  lt_manual_seed(7);
  lt_tensor *x = randn_scaled(shape, nd, 2.0, 3.0, dt);  /* mean far from 0 */
  lt_tensor *w = affine ? randn_scaled(&C, 1, 0.5, 1.0, dt) : NULL;
  lt_tensor *b = affine ? randn_scaled(&C, 1, 0.5, 0.0, dt) : NULL;
  lt_tensor *rm = running ? randn_scaled(&C, 1, 0.3, 0.0, dt) : NULL;
  lt_tensor *rv0 = running ? randn_scaled(&C, 1, 0.2, 0.0, LT_DTYPE_F64) : NULL;
  lt_tensor *rva = rv0 ? lt_unary(LT_UNARY_ABS, rv0) : NULL;
  lt_tensor *rvs = rva ? lt_binary_scalar(LT_BINARY_ADD, rva, 0.5, false) : NULL;
  lt_tensor *rv = rvs ? cast(rvs, dt) : NULL;
  lt_tensor *rm_ref = rm ? lt_clone(rm) : NULL, *rv_ref = rv ? lt_clone(rv) : NULL;
  lt_tensor *g = randn_scaled(shape, nd, 1.0, 0.0, dt);
  lt_tensor *leaves[3] = {x, w, b};
  for (int k = 0; k < 3; k++)
    if (leaves[k]) lt_tensor_set_requires_grad(leaves[k], true);

  lt_tensor *y = lt_batch_norm(x, rm, rv, w, b, training, mom, eps);
  CHECK(y && y->dtype == dt, "%s: fused forward", name);
  CHECK(y && y->grad_fn && !strcmp(lt_node_name(y->grad_fn), "NativeBatchNormBackward"),
        "%s: fused node recorded", name);
  CHECK(y && backprop(y, g) == LT_OK, "%s: fused backward", name);
  lt_tensor *gf[3] = {0};
  for (int k = 0; k < 3; k++)
    if (leaves[k]) {
      gf[k] = leaves[k]->grad;
      if (gf[k]) lt_tensor_retain(gf[k]);
    }
  clear_grads(leaves, 3);

  /* reference in float64 from the same inputs */
  lt_tensor *x64 = lt_detach(x), *xr = cast(x64, LT_DTYPE_F64);
  lt_tensor *wr = w ? cast(w, LT_DTYPE_F64) : NULL, *br = b ? cast(b, LT_DTYPE_F64) : NULL;
  lt_tensor *wd = wr ? lt_detach(wr) : NULL, *bd = br ? lt_detach(br) : NULL;
  lt_tensor *rmr = rm_ref ? cast(rm_ref, LT_DTYPE_F64) : NULL;
  lt_tensor *rvr = rv_ref ? cast(rv_ref, LT_DTYPE_F64) : NULL;
  lt_tensor *gr = cast(g, LT_DTYPE_F64);
  lt_tensor *rl[3] = {xr, wd, bd};
  for (int k = 0; k < 3; k++)
    if (rl[k]) lt_tensor_set_requires_grad(rl[k], true);
  lt_tensor *yr = composed(xr, rmr, rvr, wd, bd, training, eps);
  CHECK(yr && backprop(yr, gr) == LT_OK, "%s: composed reference", name);
  CHECK(reldiff(y, yr) <= tol, "%s: output differs by %g", name, reldiff(y, yr));
  const char *gname[3] = {"input", "weight", "bias"};
  for (int k = 0; k < 3; k++)
    if (rl[k])
      CHECK(reldiff(gf[k], rl[k]->grad) <= tol, "%s: grad %s differs by %g", name, gname[k],
            reldiff(gf[k], rl[k]->grad));

  if (running) {
    /* expected running stats: (1 - m) r + m batch (unbiased var) or unchanged (eval) */
    int dims[LT_MAX_DIMS], nr = 0;
    for (int d = 0; d < nd; d++)
      if (d != 1) dims[nr++] = d;
    lt_tensor *em = rmr, *ev = rvr;
    lt_tensor *bm = NULL, *bv = NULL, *t1 = NULL, *t2 = NULL, *t3 = NULL, *t4 = NULL;
    if (training) {
      lt_tensor *xd = lt_detach(xr);
      bm = lt_reduce(LT_REDUCE_MEAN, xd, dims, nr, false, 0, NULL, 0);
      bv = lt_reduce(LT_REDUCE_VAR, xd, dims, nr, false, 1, NULL, 0);
      t1 = lt_binary_scalar(LT_BINARY_MUL, rmr, 1 - mom, false);
      t2 = lt_binary_scalar(LT_BINARY_MUL, bm, mom, false);
      t3 = lt_binary_scalar(LT_BINARY_MUL, rvr, 1 - mom, false);
      t4 = lt_binary_scalar(LT_BINARY_MUL, bv, mom, false);
      em = lt_binary(LT_BINARY_ADD, t1, t2);
      ev = lt_binary(LT_BINARY_ADD, t3, t4);
      lt_tensor_release(xd);
    }
    CHECK(reldiff(rm, em) <= tol, "%s: running_mean differs by %g", name, reldiff(rm, em));
    CHECK(reldiff(rv, ev) <= tol, "%s: running_var differs by %g", name, reldiff(rv, ev));
    if (training) {
      lt_tensor_release(em);
      lt_tensor_release(ev);
    }
    lt_tensor *tt[6] = {bm, bv, t1, t2, t3, t4};
    for (int k = 0; k < 6; k++) lt_tensor_release(tt[k]);
  }

  lt_tensor *all[] = {x, w, b, rm, rv0, rva, rvs, rv, rm_ref, rv_ref, g, y, gf[0], gf[1], gf[2],
                      x64, xr, wr, br, wd, bd, rmr, rvr, gr, yr};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) lt_tensor_release(all[k]);
}

/* ---------------------------------------------------------------- gradcheck */

static lt_tensor *bn_train(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_batch_norm(in[0], NULL, NULL, in[1], in[2], true, 0.1, 1e-5);
}
static lt_tensor *bn_train_stats(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_batch_norm(in[0], in[3], in[4], in[1], in[2], true, 0.1, 1e-5);
}
static lt_tensor *bn_eval(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_batch_norm(in[0], in[3], in[4], in[1], in[2], false, 0.1, 1e-5);
}
static lt_tensor *bn_plain(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_batch_norm(in[0], NULL, NULL, NULL, NULL, true, 0.1, 1e-5);
}

static void gradchecks(void) {
  int64_t xs[4] = {3, 4, 3, 5}, C = 4, xs2[2] = {6, 4};
  lt_manual_seed(11);
  lt_tensor *x = randn_scaled(xs, 4, 1.5, 0.5, LT_DTYPE_F64);
  lt_tensor *x2 = randn_scaled(xs2, 2, 1.0, -1.0, LT_DTYPE_F64);
  lt_tensor *w = randn_scaled(&C, 1, 0.5, 1.0, LT_DTYPE_F64);
  lt_tensor *b = randn_scaled(&C, 1, 0.5, 0.0, LT_DTYPE_F64);
  lt_tensor *rm = randn_scaled(&C, 1, 0.3, 0.0, LT_DTYPE_F64);
  lt_tensor *rv = gradcheck_input(&C, 1, 0.5, 1.5, 3);
  lt_tensor *in[5] = {x, w, b, rm, rv};
  bool wrt[5] = {true, true, true, false, false};
  CHECK(gradcheck_ex("bn train", bn_train, NULL, in, 5, wrt, 1e-6, 1e-5) == 0, "gradcheck train");
  CHECK(gradcheck_ex("bn train+stats", bn_train_stats, NULL, in, 5, wrt, 1e-6, 1e-5) == 0,
        "gradcheck train with running stats");
  CHECK(gradcheck_ex("bn eval", bn_eval, NULL, in, 5, wrt, 1e-6, 1e-5) == 0, "gradcheck eval");
  lt_tensor *in2[5] = {x2, w, b, rm, rv};
  CHECK(gradcheck_ex("bn train 2d", bn_train, NULL, in2, 5, wrt, 1e-6, 1e-5) == 0,
        "gradcheck train (N, C)");
  lt_tensor *in3[1] = {x};
  CHECK(gradcheck("bn no affine", bn_plain, NULL, in3, 1) == 0,
        "gradcheck without weight and bias");
  lt_tensor *all[] = {x, x2, w, b, rm, rv};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) lt_tensor_release(all[k]);
}

/* The running stats are written in place: their version moves on. */
static void check_version(void) {
  int64_t xs[3] = {4, 3, 5}, C = 3;
  lt_tensor *x = lt_randn(xs, 3, LT_DTYPE_F32, lt_cpu());
  lt_tensor *rm = lt_zeros(&C, 1, LT_DTYPE_F32, lt_cpu());
  lt_tensor *rv = lt_ones(&C, 1, LT_DTYPE_F32, lt_cpu());
  uint64_t v0 = rm->storage->version;
  lt_tensor *y = lt_batch_norm(x, rm, rv, NULL, NULL, true, 0.1, 1e-5);
  CHECK(y && rm->storage->version != v0, "running_mean version bumped");
  lt_tensor_release(y);
  v0 = rm->storage->version;
  y = lt_batch_norm(x, rm, rv, NULL, NULL, false, 0.1, 1e-5);
  CHECK(y && rm->storage->version == v0, "eval leaves running stats alone");
  lt_tensor_release(y);
  /* empty batch in eval: fine, empty output */
  int64_t es[3] = {0, 3, 5};
  lt_tensor *e = lt_zeros(es, 3, LT_DTYPE_F32, lt_cpu());
  y = lt_batch_norm(e, rm, rv, NULL, NULL, false, 0.1, 1e-5);
  CHECK(y && lt_numel(y) == 0, "empty eval batch");
  lt_tensor_release(y);
  lt_tensor *all[] = {x, rm, rv, e};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) lt_tensor_release(all[k]);
}

int main(void) {
  int64_t s4[4] = {5, 3, 4, 7}, s2[2] = {9, 6}, s3[3] = {4, 5, 33}, big[4] = {16, 8, 12, 12};
  struct { lt_dtype dt; double tol; const char *n; } dts[3] = {
    {LT_DTYPE_F64, 1e-10, "f64"}, {LT_DTYPE_F32, 2e-5, "f32"}, {LT_DTYPE_BF16, 4e-2, "bf16"}};
  char name[96];
  for (int k = 0; k < 3; k++) {
    for (int mode = 0; mode < 4; mode++) {
      bool training = mode != 3, affine = mode != 1, running = mode != 2;
      snprintf(name, sizeof name, "%s NCHW train=%d affine=%d running=%d", dts[k].n, training,
               affine, running);
      check_case(name, dts[k].dt, s4, 4, training, affine, running, dts[k].tol);
    }
    snprintf(name, sizeof name, "%s (N, C)", dts[k].n);
    check_case(name, dts[k].dt, s2, 2, true, true, true, dts[k].tol);
    snprintf(name, sizeof name, "%s (N, C, L)", dts[k].n);
    check_case(name, dts[k].dt, s3, 3, true, true, true, dts[k].tol);
    snprintf(name, sizeof name, "%s larger (parallel)", dts[k].n);
    check_case(name, dts[k].dt, big, 4, true, true, true, dts[k].tol);
  }
  gradchecks();
  check_version();
  CTEST_END();
}
