/*
** test_attention.c - the fused (flash-attention style) scaled dot-product
** attention of the CPU backend against the composed path (matmul + softmax,
** forced with an all-true mask), forward and backward, causal and not,
** L != S, key counts spanning several tiles, finite differences in float64,
** bf16/f16 inputs; and the autocast state's effect on op result dtypes.
*/
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "ctest.h"
#include "gradcheck.h"

static void release_all(lt_tensor **ts, int n) {
  for (int i = 0; i < n; i++) {
    lt_tensor_release(ts[i]);
    ts[i] = NULL;
  }
}

static lt_tensor *rnd(const int64_t *shape, int nd, lt_dtype dt, uint64_t seed) {
  lt_tensor *t = gradcheck_input(shape, nd, -1.5, 1.5, seed);
  if (dt == LT_DTYPE_F64 || !t) return t;
  lt_tensor *c = lt_to(t, dt, lt_cpu());
  lt_tensor_release(t);
  return c;
}

static double maxdiff_t(lt_tensor *a, lt_tensor *b) {
  if (!a || !b || lt_numel(a) != lt_numel(b)) return INFINITY;
  int64_t n = lt_numel(a);
  double *x = malloc((size_t)n * sizeof(double)), *y = malloc((size_t)n * sizeof(double));
  double m = INFINITY;
  if (x && y && !lt_to_host(a, x, LT_DTYPE_F64) && !lt_to_host(b, y, LT_DTYPE_F64)) {
    m = 0;
    for (int64_t i = 0; i < n; i++) {
      double d = fabs(x[i] - y[i]);
      if (!(d <= m)) m = d;  /* NaN wins */
    }
  }
  free(x);
  free(y);
  return m;
}

/* All-true bool mask (L, S): takes the composed path with the same result. */
static lt_tensor *keep_all(int64_t L, int64_t S) {
  int64_t s[2] = {L, S};
  lt_tensor *m = lt_ones(s, 2, LT_DTYPE_BOOL, lt_cpu());
  return m;
}

typedef struct {
  int64_t B, H, L, S, E, Ev;
  bool causal;
  double scale;
} cfg;

static const char *node_name(lt_tensor *t) {
  return t && t->grad_fn ? lt_node_name(t->grad_fn) : "(none)";
}

/* Fused vs composed: outputs and the gradients of sum(out * w). */
static void compare_paths(const cfg *c, lt_dtype dt, double tol_out, double tol_grad) {
  int64_t qs[4] = {c->B, c->H, c->L, c->E}, ks[4] = {c->B, c->H, c->S, c->E};
  int64_t vs[4] = {c->B, c->H, c->S, c->Ev}, os[4] = {c->B, c->H, c->L, c->Ev};
  lt_tensor *in[3] = {rnd(qs, 4, dt, 11), rnd(ks, 4, dt, 12), rnd(vs, 4, dt, 13)};
  lt_tensor *w = rnd(os, 4, dt, 14), *mask = keep_all(c->L, c->S);
  lt_tensor *out[2] = {0}, *grads[2][3] = {{0}};
  for (int path = 0; path < 2; path++) {
    for (int i = 0; i < 3; i++) lt_tensor_set_requires_grad(in[i], true);
    out[path] = lt_scaled_dot_product_attention(in[0], in[1], in[2], path ? mask : NULL, 0,
                                                c->causal, c->scale);
    lt_tensor *p = out[path] ? lt_binary(LT_BINARY_MUL, out[path], w) : NULL;
    lt_tensor *s = p ? lt_reduce(LT_REDUCE_SUM, p, NULL, 0, false, 0, NULL, 0) : NULL;
    CHECK(s && lt_backward(s, NULL, false) == LT_OK, "backward (path %d)", path);
    lt_tensor_release(s);
    lt_tensor_release(p);
    for (int i = 0; i < 3; i++) {
      grads[path][i] = in[i]->grad;
      in[i]->grad = NULL;
    }
  }
  CHECK(!strcmp(node_name(out[0]), "ScaledDotProductFlashAttentionBackward"),
        "the maskless call takes the fused path (got %s)", node_name(out[0]));
  CHECK(strcmp(node_name(out[1]), "ScaledDotProductFlashAttentionBackward") != 0,
        "a masked call is composed");
  double d = maxdiff_t(out[0], out[1]);
  CHECK(d <= tol_out, "%s L=%lld S=%lld E=%lld Ev=%lld causal=%d: out differs by %g",
        lt_dtype_name(dt), (long long)c->L, (long long)c->S, (long long)c->E,
        (long long)c->Ev, c->causal, d);
  for (int i = 0; i < 3; i++) {
    d = maxdiff_t(grads[0][i], grads[1][i]);
    CHECK(d <= tol_grad, "%s L=%lld S=%lld causal=%d: grad of input %d differs by %g",
          lt_dtype_name(dt), (long long)c->L, (long long)c->S, c->causal, i, d);
    CHECK(grads[0][i] && grads[0][i]->dtype == dt, "gradient dtype is the input's");
  }
  for (int p = 0; p < 2; p++) {
    lt_tensor_release(out[p]);
    release_all(grads[p], 3);
  }
  release_all(in, 3);
  lt_tensor_release(w);
  lt_tensor_release(mask);
}

static void test_fused_vs_composed(void) {
  const cfg cases[] = {
    {2, 3, 5, 7, 4, 3, false, 0},    /* L < S */
    {2, 3, 5, 7, 4, 3, true, 0},
    {1, 2, 9, 4, 8, 5, true, 0.3},   /* L > S causal: late rows see every key */
    {1, 2, 9, 4, 8, 5, false, 0.3},
    {1, 1, 70, 150, 16, 16, false, 0}, /* keys span three tiles of 64 */
    {1, 1, 150, 150, 16, 8, true, 0},
    {1, 1, 3, 3, 128, 128, true, 0},   /* the largest head dim */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    compare_paths(&cases[i], LT_DTYPE_F64, 1e-12, 1e-11);
    compare_paths(&cases[i], LT_DTYPE_F32, 2e-5, 1e-4);
  }
}

/* bf16/f16 inputs: the fused result equals float32 attention of the
** rounded inputs, rounded once. */
static void test_half_inputs(void) {
  lt_dtype dts[2] = {LT_DTYPE_BF16, LT_DTYPE_F16};
  for (int t = 0; t < 2; t++) {
    int64_t qs[3] = {2, 6, 16}, ks[3] = {2, 80, 16};
    lt_tensor *q = rnd(qs, 3, dts[t], 21), *k = rnd(ks, 3, dts[t], 22), *v = rnd(ks, 3, dts[t], 23);
    lt_tensor *o = lt_scaled_dot_product_attention(q, k, v, NULL, 0, true, 0);
    lt_tensor *qf = lt_to(q, LT_DTYPE_F32, lt_cpu()), *kf = lt_to(k, LT_DTYPE_F32, lt_cpu());
    lt_tensor *vf = lt_to(v, LT_DTYPE_F32, lt_cpu());
    lt_tensor *of = lt_scaled_dot_product_attention(qf, kf, vf, NULL, 0, true, 0);
    CHECK(o && o->dtype == dts[t], "%s in, %s out", lt_dtype_name(dts[t]),
          o ? lt_dtype_name(o->dtype) : "NULL");
    double d = maxdiff_t(o, of);
    CHECK(d <= (t == 0 ? 1e-2 : 2e-3), "%s fused vs float32: %g", lt_dtype_name(dts[t]), d);
    lt_tensor_release(o);
    lt_tensor_release(of);
    lt_tensor_release(qf);
    lt_tensor_release(kf);
    lt_tensor_release(vf);
    lt_tensor_release(q);
    lt_tensor_release(k);
    lt_tensor_release(v);
  }
}

/* The backend entry itself: lse[r] = logsumexp_j(scale * q_r . k_j). */
static void test_lse(void) {
  enum { L = 4, S = 70, E = 3 };
  int64_t qs[2] = {L, E}, ks[2] = {S, E};
  lt_tensor *q = rnd(qs, 2, LT_DTYPE_F64, 31), *k = rnd(ks, 2, LT_DTYPE_F64, 32);
  double out[L * E], lse[L];
  const double *qd = lt_tensor_data(q), *kd = lt_tensor_data(k);
  for (int causal = 0; causal < 2; causal++) {
    lt_status st = lt_cpu_backend.sdpa_forward(out, lse, qd, kd, kd, LT_DTYPE_F64, 1, L, S, E, E,
                                               0.5, causal);
    CHECK(st == LT_OK, "sdpa_forward");
    for (int i = 0; i < L; i++) {
      double m = -INFINITY, z = 0;
      int jend = causal ? i + 1 : S;
      for (int j = 0; j < jend; j++) {
        double s = 0;
        for (int e = 0; e < E; e++) s += qd[i * E + e] * kd[j * E + e];
        m = fmax(m, 0.5 * s);
      }
      for (int j = 0; j < jend; j++) {
        double s = 0;
        for (int e = 0; e < E; e++) s += qd[i * E + e] * kd[j * E + e];
        z += exp(0.5 * s - m);
      }
      CHECK_NEAR(lse[i], m + log(z), 1e-12);
    }
  }
  CHECK(lt_cpu_backend.sdpa_forward(out, lse, qd, kd, kd, LT_DTYPE_F64, 1, L, S, 200, E, 0.5,
                                    false) == LT_ERR_ARG,
        "head dims over the limit are refused");
  lt_tensor_release(q);
  lt_tensor_release(k);
}

typedef struct {
  bool causal;
  double scale;
} gc_ud;

static lt_tensor *sdpa_fn(lt_tensor **in, void *ud) {
  gc_ud *u = ud;
  return lt_scaled_dot_product_attention(in[0], in[1], in[2], NULL, 0, u->causal, u->scale);
}

static void test_gradcheck(void) {
  for (int causal = 0; causal < 2; causal++) {
    int64_t qs[3] = {2, 5, 3}, ks[3] = {2, 4, 3}, vs[3] = {2, 4, 2};
    lt_tensor *in[3] = {gradcheck_input(qs, 3, -1, 1, 41), gradcheck_input(ks, 3, -1, 1, 42),
                        gradcheck_input(vs, 3, -1, 1, 43)};
    gc_ud u = {causal != 0, 0};
    CHECK(gradcheck(causal ? "sdpa causal L>S" : "sdpa L>S", sdpa_fn, &u, in, 3) == 0,
          "fused attention matches finite differences (causal %d)", causal);
    release_all(in, 3);
    int64_t qs2[2] = {3, 4}, ks2[2] = {70, 4};  /* 2-D inputs, keys over two tiles */
    lt_tensor *in2[3] = {gradcheck_input(qs2, 2, -1, 1, 44), gradcheck_input(ks2, 2, -1, 1, 45),
                         gradcheck_input(ks2, 2, -1, 1, 46)};
    gc_ud u2 = {causal != 0, 0.9};
    CHECK(gradcheck("sdpa 2-D two tiles", sdpa_fn, &u2, in2, 3) == 0,
          "fused attention over two key tiles matches finite differences (causal %d)", causal);
    release_all(in2, 3);
  }
}

/* Inputs the fused kernels do not take go through the composed path. */
static void test_fallbacks(void) {
  int64_t qs[3] = {2, 3, 130}, vs[3] = {2, 4, 5}, ks[3] = {2, 4, 130};
  lt_tensor *q = rnd(qs, 3, LT_DTYPE_F32, 51), *k = rnd(ks, 3, LT_DTYPE_F32, 52);
  lt_tensor *v = rnd(vs, 3, LT_DTYPE_F32, 53);
  lt_tensor_set_requires_grad(q, true);
  lt_tensor *o = lt_scaled_dot_product_attention(q, k, v, NULL, 0, false, 0);
  CHECK(o && strcmp(node_name(o), "ScaledDotProductFlashAttentionBackward") != 0 &&
            o->shape[2] == 5,
        "head dim 130 is composed (%s)", node_name(o));
  lt_tensor_release(o);
  int64_t k1s[3] = {1, 4, 130};  /* broadcast batch */
  lt_tensor *k1 = rnd(k1s, 3, LT_DTYPE_F32, 54);
  lt_tensor *v1 = rnd((int64_t[]){1, 4, 5}, 3, LT_DTYPE_F32, 55);
  o = lt_scaled_dot_product_attention(q, k1, v1, NULL, 0, false, 0);
  CHECK(o && o->shape[0] == 2, "broadcast batch dims are composed");
  lt_tensor_release(o);
  lt_tensor_release(k1);
  lt_tensor_release(v1);
  lt_tensor_release(q);
  lt_tensor_release(k);
  lt_tensor_release(v);
}

static void test_autocast_dtypes(void) {
  CHECK(lt_autocast_dtype() == -1, "autocast starts off");
  CHECK(lt_set_autocast(LT_DTYPE_F64) == LT_ERR_DTYPE, "autocast refuses float64");
  CHECK(lt_set_autocast(LT_DTYPE_BF16) == LT_OK && lt_autocast_dtype() == LT_DTYPE_BF16, "on");
  int64_t s[2] = {4, 4};
  lt_tensor *a = rnd(s, 2, LT_DTYPE_F32, 61), *b = rnd(s, 2, LT_DTYPE_F32, 62);
  lt_tensor_set_requires_grad(a, true);
  lt_tensor *m = lt_matmul(a, b);
  CHECK(m && m->dtype == LT_DTYPE_BF16, "matmul under bf16 autocast returns bf16");
  lt_tensor *sm = m ? lt_softmax(m, 1) : NULL;
  CHECK(sm && sm->dtype == LT_DTYPE_F32, "softmax under autocast returns float32");
  lt_tensor *sum = m ? lt_reduce(LT_REDUCE_SUM, m, NULL, 0, false, 0, NULL, 0) : NULL;
  CHECK(sum && sum->dtype == LT_DTYPE_F32, "sum of bf16 under autocast is float32");
  lt_tensor *mx = m ? lt_reduce(LT_REDUCE_MAX, m, NULL, 0, false, 0, NULL, 0) : NULL;
  CHECK(mx && mx->dtype == LT_DTYPE_BF16, "max keeps bf16");
  lt_tensor *d = rnd(s, 2, LT_DTYPE_F64, 63);
  lt_tensor *md = lt_matmul(d, d);
  CHECK(md && md->dtype == LT_DTYPE_F64, "float64 is not autocast");
  CHECK(sum && lt_backward(sum, NULL, false) == LT_OK, "backward under autocast");
  CHECK(lt_autocast_dtype() == LT_DTYPE_BF16, "backward restores the autocast state");
  CHECK(a->grad && a->grad->dtype == LT_DTYPE_F32, "the gradient arrives in float32");
  lt_set_autocast(-1);
  lt_tensor *m2 = lt_matmul(a, b);
  CHECK(m2 && m2->dtype == LT_DTYPE_F32, "autocast off: float32");
  lt_tensor_release(m2);
  lt_tensor_release(md);
  lt_tensor_release(d);
  lt_tensor_release(mx);
  lt_tensor_release(sum);
  lt_tensor_release(sm);
  lt_tensor_release(m);
  lt_tensor_release(a);
  lt_tensor_release(b);
}

int main(void) {
  /* these tests compare the two paths: force the fused one where it applies
  ** (auto mode picks by size, see test_auto_mode) */
  lt_set_sdpa_fused_mode(LT_SDPA_ALWAYS);
  test_fused_vs_composed();
  test_half_inputs();
  test_lse();
  test_gradcheck();
  test_fallbacks();
  test_autocast_dtypes();
  CTEST_END();
}
