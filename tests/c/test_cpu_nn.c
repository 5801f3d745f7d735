/*
** test_cpu_nn.c - the group B CPU kernels (cpu_gemm/index/nn/conv.c) called
** directly: hand-computed cases and naive reference loops (gemm, conv via
** im2col + gemm, pools), finite differences in float64 for backward kernels.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_kernels.h"
#include "ctest.h"

static uint64_t rng_s = 88172645463325252ull;
static double urand(void) {  /* xorshift, uniform in [-1, 1) */
  rng_s ^= rng_s << 13; rng_s ^= rng_s >> 7; rng_s ^= rng_s << 17;
  return (double)(rng_s >> 11) / 9007199254740992.0 * 2 - 1;
}
static void fill_d(double *p, int64_t n) { for (int64_t i = 0; i < n; i++) p[i] = urand(); }

static lt_view view_of(void *data, lt_dtype dt, int nd, const int64_t *shape,
                       const int64_t *stride) {
  lt_view v = {.data = data, .dtype = dt, .ndim = nd};
  for (int d = 0; d < nd; d++) { v.shape[d] = shape[d]; v.stride[d] = stride[d]; }
  return v;
}

/* ---------------------------------------------------------------- gemm */

static double ref_at(const double *p, bool t, int64_t r, int64_t c, int64_t ld) {
  return t ? p[c * ld + r] : p[r * ld + c];
}

static void test_gemm_case(int64_t m, int64_t n, int64_t k, bool ta, bool tb, int64_t batch,
                           bool share_b, double alpha, double beta) {
  int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  int64_t lda = ac + 3, ldb = bc + 1, ldc = n + 2;  /* padded rows */
  int64_t sa = ar * lda + 5, sb = share_b ? 0 : br * ldb, sc = m * ldc;
  int64_t na = sa * batch + 8, nb = (share_b ? br * ldb : sb * batch) + 8, nc = sc * batch + 8;
  double *a = malloc(na * 8), *b = malloc(nb * 8), *c = malloc(nc * 8), *ref = malloc(nc * 8);
  float *af = malloc(na * 4), *bf = malloc(nb * 4), *cf = malloc(nc * 4);
  fill_d(a, na); fill_d(b, nb); fill_d(c, nc);
  for (int64_t i = 0; i < na; i++) af[i] = (float)a[i];
  for (int64_t i = 0; i < nb; i++) bf[i] = (float)b[i];
  for (int64_t i = 0; i < nc; i++) cf[i] = (float)c[i];
  memcpy(ref, c, nc * 8);
  for (int64_t q = 0; q < batch; q++)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t p = 0; p < k; p++)
          s += ref_at(a + q * sa, ta, i, p, lda) * ref_at(b + q * sb, tb, p, j, ldb);
        double *r = &ref[q * sc + i * ldc + j];
        *r = alpha * s + beta * *r;
      }
  lt_status st = lt_cpu_gemm(LT_DTYPE_F64, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta,
                             c, ldc, sc, batch);
  CHECK(st == LT_OK, "gemm f64");
  double e64 = 0, e32 = 0;
  for (int64_t i = 0; i < nc; i++) e64 = fmax(e64, fabs(c[i] - ref[i]));
  st = lt_cpu_gemm(LT_DTYPE_F32, ta, tb, m, n, k, alpha, af, lda, sa, bf, ldb, sb, beta, cf, ldc,
                   sc, batch);
  CHECK(st == LT_OK, "gemm f32");
  for (int64_t i = 0; i < nc; i++) e32 = fmax(e32, fabs(cf[i] - ref[i]));
  CHECK(e64 < 1e-10, "gemm f64 m%lld n%lld k%lld ta%d tb%d err %g", (long long)m, (long long)n,
        (long long)k, ta, tb, e64);
  CHECK(e32 < 1e-4 * (k + 1), "gemm f32 m%lld n%lld k%lld ta%d tb%d err %g", (long long)m,
        (long long)n, (long long)k, ta, tb, e32);
  free(a); free(b); free(c); free(ref); free(af); free(bf); free(cf);
}

static void test_gemm(void) {
  for (int t = 0; t < 4; t++) {
    bool ta = t & 1, tb = t & 2;
    test_gemm_case(3, 4, 5, ta, tb, 1, false, 1, 0);        /* small: plain loop */
    test_gemm_case(37, 29, 41, ta, tb, 1, false, 0.5, 2);   /* BLAS */
    test_gemm_case(6, 7, 3, ta, tb, 4, false, 1, 1);        /* batched small */
    test_gemm_case(33, 40, 20, ta, tb, 3, true, -1, 0.25);  /* batched BLAS, shared B */
    test_gemm_case(1, 50, 100, ta, tb, 1, false, 1, 0);     /* vector rows */
    test_gemm_case(5, 3, 0, ta, tb, 2, false, 1, 0.5);      /* k == 0: C = beta*C */
  }
  /* products cut into one slab per thread (>= 2^20 multiply-adds): along
     the rows, along the columns, sizes not multiples of the slab unit */
  for (int t = 0; t < 4; t++) {
    bool ta = t & 1, tb = t & 2;
    test_gemm_case(150, 97, 80, ta, tb, 1, false, 1, 0);
    test_gemm_case(70, 230, 70, ta, tb, 1, false, -0.5, 1);
  }
  /* batches whose items run in parallel, large items too */
  test_gemm_case(100, 110, 100, false, true, 5, false, 1, 0.5);
  test_gemm_case(100, 110, 100, true, false, 2, true, 1, 0);
  /* hand case: [[1,2],[3,4]] @ [[5,6],[7,8]] = [[19,22],[43,50]] */
  float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8}, c[4] = {NAN, NAN, NAN, NAN};
  CHECK(lt_cpu_gemm(LT_DTYPE_F32, false, false, 2, 2, 2, 1, a, 2, 0, b, 2, 0, 0, c, 2, 0, 1) ==
            LT_OK, "gemm hand");
  CHECK(c[0] == 19 && c[1] == 22 && c[2] == 43 && c[3] == 50, "hand gemm %g %g %g %g", c[0], c[1],
        c[2], c[3]);
  /* beta == 0 ignores NaN in C on the BLAS path too */
  int64_t N = 40;
  float *x = malloc(N * N * 4), *y = malloc(N * N * 4);
  for (int64_t i = 0; i < N * N; i++) { x[i] = 1; y[i] = NAN; }
  lt_cpu_gemm(LT_DTYPE_F32, false, false, N, N, N, 1, x, N, 0, x, N, 0, 0, y, N, 0, 1);
  bool ok = true;
  for (int64_t i = 0; i < N * N; i++) ok = ok && y[i] == (float)N;
  CHECK(ok, "beta 0 with NaN C");
  /* k == 0 with beta 0 gives zeros */
  for (int64_t i = 0; i < 4; i++) y[i] = NAN;
  lt_cpu_gemm(LT_DTYPE_F32, false, false, 2, 2, 0, 1, x, 1, 0, x, 2, 0, 0, y, 2, 0, 1);
  CHECK(y[0] == 0 && y[3] == 0, "k0 beta0 %g", y[0]);
  free(x); free(y);
  /* bf16 via float32 staging */
  uint16_t ha[4], hb[4], hc[4];
  for (int i = 0; i < 4; i++) { ha[i] = lt_float_to_bf16(a[i]); hb[i] = lt_float_to_bf16(b[i]); }
  CHECK(lt_cpu_gemm(LT_DTYPE_BF16, false, true, 2, 2, 2, 1, ha, 2, 0, hb, 2, 0, 0, hc, 2, 0, 1) ==
            LT_OK, "bf16 gemm");
  /* A @ B^T = [[17,23],[39,53]] */
  CHECK(lt_bf16_to_double(hc[0]) == 17 && lt_bf16_to_double(hc[3]) == 53, "bf16 %g %g",
        lt_bf16_to_double(hc[0]), lt_bf16_to_double(hc[3]));
  for (int i = 0; i < 4; i++) { ha[i] = lt_float_to_half(a[i]); hb[i] = lt_float_to_half(b[i]); }
  lt_cpu_gemm(LT_DTYPE_F16, false, false, 2, 2, 2, 1, ha, 2, 0, hb, 2, 0, 0, hc, 2, 0, 1);
  CHECK(lt_half_to_float(hc[1]) == 22 && lt_half_to_float(hc[2]) == 43, "f16 gemm");
  int64_t ia[4] = {0};
  CHECK(lt_cpu_gemm(LT_DTYPE_I64, false, false, 2, 2, 2, 1, ia, 2, 0, ia, 2, 0, 0, ia, 2, 0, 1) ==
            LT_ERR_DTYPE, "int gemm refused");
}

/* ---------------------------------------------------------------- indexing */

static void test_index(void) {
  /* in 3x4 = 0..11; stored transposed (column-major) to test strides */
  float inT[12];
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 4; c++) inT[c * 3 + r] = (float)(r * 4 + c);
  lt_view in = view_of(inT, LT_DTYPE_F32, 2, (int64_t[]){3, 4}, (int64_t[]){1, 3});
  int64_t idx[] = {3, 1, 3};  /* base 1: rows 2, 0, 2 */
  lt_view iv = view_of(idx, LT_DTYPE_I64, 1, (int64_t[]){3}, (int64_t[]){1});
  float out[12];
  lt_view ov = view_of(out, LT_DTYPE_F32, 2, (int64_t[]){3, 4}, (int64_t[]){4, 1});
  CHECK(lt_cpu_index_select(&ov, &in, 0, &iv, 1) == LT_OK, "index_select");
  CHECK(out[0] == 8 && out[3] == 11 && out[4] == 0 && out[11] == 11, "select rows %g %g %g",
        out[0], out[4], out[11]);
  /* along dim 1, base 0, int64 data */
  int64_t data[6] = {10, 11, 12, 20, 21, 22}, o2[4];
  int64_t idx2[] = {2, 0};
  lt_view dv = view_of(data, LT_DTYPE_I64, 2, (int64_t[]){2, 3}, (int64_t[]){3, 1});
  lt_view i2 = view_of(idx2, LT_DTYPE_I64, 1, (int64_t[]){2}, (int64_t[]){1});
  lt_view o2v = view_of(o2, LT_DTYPE_I64, 2, (int64_t[]){2, 2}, (int64_t[]){2, 1});
  CHECK(lt_cpu_index_select(&o2v, &dv, 1, &i2, 0) == LT_OK, "index_select i64");
  CHECK(o2[0] == 12 && o2[1] == 10 && o2[2] == 22 && o2[3] == 20, "select cols");
  /* out of range is an error naming the value as written */
  idx[1] = 5;
  CHECK(lt_cpu_index_select(&ov, &in, 0, &iv, 1) == LT_ERR_INDEX, "bad index");
  CHECK(strstr(lt_errmsg(), "index 5 is out of range for size 3") != NULL, "msg %s", lt_errmsg());

  /* index_add: out (4) += src at {0, 2, 0, 3} -> duplicates accumulate */
  double acc[4] = {1, 1, 1, 1}, src[4] = {1, 2, 3, 4};
  int64_t ia[] = {0, 2, 0, 3};
  lt_view av = view_of(acc, LT_DTYPE_F64, 1, (int64_t[]){4}, (int64_t[]){1});
  lt_view sv = view_of(src, LT_DTYPE_F64, 1, (int64_t[]){4}, (int64_t[]){1});
  lt_view iav = view_of(ia, LT_DTYPE_I64, 1, (int64_t[]){4}, (int64_t[]){1});
  CHECK(lt_cpu_index_add(&av, 0, &iav, &sv, 0) == LT_OK, "index_add");
  CHECK(acc[0] == 5 && acc[1] == 1 && acc[2] == 3 && acc[3] == 5, "index_add %g %g %g %g", acc[0],
        acc[1], acc[2], acc[3]);
  /* 2-D index_add along dim 1 with large random data vs naive */
  {
    int64_t R = 300, C = 50, L = 400;
    double *o = calloc(R * C, 8), *s = malloc(R * L * 8), *ref = calloc(R * C, 8);
    int64_t *ix = malloc(L * 8);
    fill_d(s, R * L);
    for (int64_t j = 0; j < L; j++) ix[j] = (int64_t)((urand() + 1) / 2 * C) % C;
    for (int64_t r = 0; r < R; r++)
      for (int64_t j = 0; j < L; j++) ref[r * C + ix[j]] += s[r * L + j];
    lt_view a2 = view_of(o, LT_DTYPE_F64, 2, (int64_t[]){R, C}, (int64_t[]){C, 1});
    lt_view s2 = view_of(s, LT_DTYPE_F64, 2, (int64_t[]){R, L}, (int64_t[]){L, 1});
    lt_view x2 = view_of(ix, LT_DTYPE_I64, 1, (int64_t[]){L}, (int64_t[]){1});
    lt_cpu_index_add(&a2, 1, &x2, &s2, 0);
    double e = 0;
    for (int64_t i = 0; i < R * C; i++) e = fmax(e, fabs(o[i] - ref[i]));
    CHECK(e == 0, "index_add large exact order err %g", e);
    free(o); free(s); free(ref); free(ix);
  }

  /* gather dim 1: in [[1,2],[3,4]], index [[0,0],[1,0]] -> [[1,1],[4,3]] */
  float g_in[] = {1, 2, 3, 4}, g_out[4];
  int64_t g_ix[] = {0, 0, 1, 0};
  lt_view gin = view_of(g_in, LT_DTYPE_F32, 2, (int64_t[]){2, 2}, (int64_t[]){2, 1});
  lt_view gix = view_of(g_ix, LT_DTYPE_I64, 2, (int64_t[]){2, 2}, (int64_t[]){2, 1});
  lt_view gout = view_of(g_out, LT_DTYPE_F32, 2, (int64_t[]){2, 2}, (int64_t[]){2, 1});
  CHECK(lt_cpu_gather(&gout, &gin, 1, &gix, 0) == LT_OK, "gather");
  CHECK(g_out[0] == 1 && g_out[1] == 1 && g_out[2] == 4 && g_out[3] == 3, "gather vals");
  /* gather with index broadcast (stride 0 on dim 0) and base 1 */
  int64_t g_ix1[] = {2, 1};
  lt_view gixb = view_of(g_ix1, LT_DTYPE_I64, 2, (int64_t[]){2, 2}, (int64_t[]){0, 1});
  lt_cpu_gather(&gout, &gin, 1, &gixb, 1);
  CHECK(g_out[0] == 2 && g_out[1] == 1 && g_out[2] == 4 && g_out[3] == 3, "gather bcast");

  /* scatter dim 0: zeros 3x2, index [[0,1],[2,0]], src [[1,2],[3,4]] */
  float s_out[6] = {0}, s_src[] = {1, 2, 3, 4};
  int64_t s_ix[] = {0, 1, 2, 0};
  lt_view so = view_of(s_out, LT_DTYPE_F32, 2, (int64_t[]){3, 2}, (int64_t[]){2, 1});
  lt_view six = view_of(s_ix, LT_DTYPE_I64, 2, (int64_t[]){2, 2}, (int64_t[]){2, 1});
  lt_view ssrc = view_of(s_src, LT_DTYPE_F32, 2, (int64_t[]){2, 2}, (int64_t[]){2, 1});
  CHECK(lt_cpu_scatter(&so, 0, &six, &ssrc, 0, false, 0) == LT_OK, "scatter");
  /* out[0][0]=1, out[1][1]=2, out[2][0]=3, out[0][1]=4 */
  CHECK(s_out[0] == 1 && s_out[1] == 4 && s_out[2] == 0 && s_out[3] == 2 && s_out[4] == 3,
        "scatter vals");
  /* accumulate with duplicates and a scalar value */
  float s2[3] = {0};
  int64_t dup[] = {1, 1, 1, 3};
  lt_view s2v = view_of(s2, LT_DTYPE_F32, 1, (int64_t[]){3}, (int64_t[]){1});
  lt_view dupv = view_of(dup, LT_DTYPE_I64, 1, (int64_t[]){4}, (int64_t[]){1});
  lt_cpu_scatter(&s2v, 0, &dupv, NULL, 0.5, true, 1);
  CHECK(s2[0] == 1.5f && s2[1] == 0 && s2[2] == 0.5f, "scatter add value %g %g %g", s2[0], s2[1],
        s2[2]);
  uint8_t u8[3] = {0};
  lt_view u8v = view_of(u8, LT_DTYPE_U8, 1, (int64_t[]){3}, (int64_t[]){1});
  lt_cpu_scatter(&u8v, 0, &dupv, NULL, 7, false, 1);
  CHECK(u8[0] == 7 && u8[1] == 0 && u8[2] == 7, "scatter u8 value");

  /* check_index */
  int64_t ci[] = {1, 2, -100, 3, 4};
  lt_view civ = view_of(ci, LT_DTYPE_I64, 1, (int64_t[]){5}, (int64_t[]){1});
  CHECK(lt_cpu_check_index(&civ, 3, 1, true, -100) == LT_ERR_INDEX, "check_index finds 4");
  CHECK(strstr(lt_errmsg(), "index 4 is out of range for size 3") != NULL, "msg %s", lt_errmsg());
  civ.shape[0] = 4;
  CHECK(lt_cpu_check_index(&civ, 3, 1, true, -100) == LT_OK, "ignore allowed");
  CHECK(lt_cpu_check_index(&civ, 3, 1, false, 0) == LT_ERR_INDEX, "ignore not allowed");
  CHECK(strstr(lt_errmsg(), "index -100 is out of range") != NULL, "msg %s", lt_errmsg());
}

/* ---------------------------------------------------------------- softmax / CE */

static void test_softmax(void) {
  int64_t O = 3, N = 5, I = 4, n = O * N * I;
  double x[60], y[60], ly[60];
  fill_d(x, n);
  for (int i = 0; i < n; i++) x[i] *= 5;
  x[7] = 800;  /* stability */
  CHECK(lt_cpu_softmax(y, x, LT_DTYPE_F64, O, N, I, false) == LT_OK, "softmax");
  lt_cpu_softmax(ly, x, LT_DTYPE_F64, O, N, I, true);
  double worst = 0, lerr = 0;
  for (int64_t o = 0; o < O; o++)
    for (int64_t i = 0; i < I; i++) {
      double s = 0;
      for (int64_t j = 0; j < N; j++) {
        int64_t k = o * N * I + j * I + i;
        s += y[k];
        lerr = fmax(lerr, fabs(exp(ly[k]) - y[k]));
      }
      worst = fmax(worst, fabs(s - 1));
    }
  CHECK(worst < 1e-12, "rows sum to 1: %g", worst);
  CHECK(lerr < 1e-12, "log_softmax = log(softmax): %g", lerr);
  CHECK(isfinite(y[7]) && fabs(y[7] - 1) < 1e-12, "large logit %g", y[7]);
  /* float32 and bf16 */
  float xf[60], yf[60];
  uint16_t xb[60], yb[60];
  for (int i = 0; i < n; i++) { xf[i] = (float)x[i]; xb[i] = lt_float_to_bf16(xf[i]); }
  lt_cpu_softmax(yf, xf, LT_DTYPE_F32, O, N, I, false);
  lt_cpu_softmax(yb, xb, LT_DTYPE_BF16, O, N, I, false);
  double ef = 0, eb = 0;
  for (int i = 0; i < n; i++) {
    ef = fmax(ef, fabs(yf[i] - y[i]));
    eb = fmax(eb, fabs(lt_bf16_to_double(yb[i]) - y[i]));
  }
  CHECK(ef < 1e-6 && eb < 0.05, "f32 %g bf16 %g", ef, eb);
  /* backward vs finite differences of L = sum(w * softmax(x)) (and log) */
  for (int lg = 0; lg < 2; lg++) {
    double w[60], dx[60], yy[60], yp[60], ym[60], xx[60];
    fill_d(w, n);
    fill_d(xx, n);
    lt_cpu_softmax(yy, xx, LT_DTYPE_F64, O, N, I, lg);
    lt_cpu_softmax_backward(dx, yy, w, LT_DTYPE_F64, O, N, I, lg);
    double e = 0, h = 1e-6;
    for (int i = 0; i < n; i++) {
      double keep = xx[i], lp = 0, lm = 0;
      xx[i] = keep + h; lt_cpu_softmax(yp, xx, LT_DTYPE_F64, O, N, I, lg);
      xx[i] = keep - h; lt_cpu_softmax(ym, xx, LT_DTYPE_F64, O, N, I, lg);
      xx[i] = keep;
      for (int k = 0; k < n; k++) { lp += w[k] * yp[k]; lm += w[k] * ym[k]; }
      e = fmax(e, fabs((lp - lm) / (2 * h) - dx[i]));
    }
    CHECK(e < 1e-7, "softmax backward (log %d) vs FD: %g", lg, e);
  }
}

/* loss of one row by the PyTorch formula, for the test's reference */
static double ce_ref(const double *x, int64_t C, int64_t t, const double *w, double ls) {
  double mx = x[0], s = 0;
  for (int64_t c = 1; c < C; c++) mx = fmax(mx, x[c]);
  for (int64_t c = 0; c < C; c++) s += exp(x[c] - mx);
  double lse = mx + log(s), sm = 0;
  for (int64_t c = 0; c < C; c++) sm += (w ? w[c] : 1) * (lse - x[c]);
  return (1 - ls) * (w ? w[t] : 1) * (lse - x[t]) + ls / C * sm;
}

static void test_cross_entropy(void) {
  enum { R = 6, C = 5 };
  double x[R * C], w[C], loss[R], lse[R], dx[R * C], dl[R];
  int64_t t[R] = {1, 5, -100, 3, 2, 1};  /* base 1 */
  fill_d(x, R * C);
  for (int c = 0; c < C; c++) w[c] = 0.5 + c * 0.25;
  fill_d(dl, R);
  for (int variant = 0; variant < 4; variant++) {
    double ls = variant & 1 ? 0.1 : 0;
    const double *wp = variant & 2 ? w : NULL;
    CHECK(lt_cpu_cross_entropy(loss, lse, x, t, wp, LT_DTYPE_F64, R, C, 1, true, -100, ls) == LT_OK,
          "ce");
    double e = 0;
    for (int r = 0; r < R; r++) {
      double ref = t[r] == -100 ? 0 : ce_ref(x + r * C, C, t[r] - 1, wp, ls);
      e = fmax(e, fabs(ref - loss[r]));
    }
    CHECK(e < 1e-12, "ce variant %d vs formula %g", variant, e);
    CHECK(loss[2] == 0, "ignored row");
    /* backward vs finite differences of sum_r dl[r] * loss[r] */
    lt_cpu_cross_entropy_backward(dx, dl, 1, x, lse, t, wp, LT_DTYPE_F64, R, C, 1, true, -100, ls);
    double h = 1e-6, eg = 0, lp[R], lm[R], s1[R];
    for (int i = 0; i < R * C; i++) {
      double keep = x[i], a = 0, b = 0;
      x[i] = keep + h; lt_cpu_cross_entropy(lp, s1, x, t, wp, LT_DTYPE_F64, R, C, 1, true, -100, ls);
      x[i] = keep - h; lt_cpu_cross_entropy(lm, s1, x, t, wp, LT_DTYPE_F64, R, C, 1, true, -100, ls);
      x[i] = keep;
      for (int r = 0; r < R; r++) { a += dl[r] * lp[r]; b += dl[r] * lm[r]; }
      eg = fmax(eg, fabs((a - b) / (2 * h) - dx[i]));
    }
    CHECK(eg < 1e-7, "ce backward variant %d vs FD %g", variant, eg);
    CHECK(dx[2 * C] == 0 && dx[2 * C + 4] == 0, "ignored row has zero gradient");
  }
  /* scalar dloss (stride 0) and float32 */
  float xf[R * C], lf[R], sf[R], dxf[R * C], one = 2;
  for (int i = 0; i < R * C; i++) xf[i] = (float)x[i];
  lt_cpu_cross_entropy(lf, sf, xf, t, NULL, LT_DTYPE_F32, R, C, 1, true, -100, 0);
  lt_cpu_cross_entropy_backward(dxf, &one, 0, xf, sf, t, NULL, LT_DTYPE_F32, R, C, 1, true, -100, 0);
  double s = 0;
  for (int c = 0; c < C; c++) s += dxf[c];
  CHECK(fabs(lf[0] - ce_ref(x, C, 0, NULL, 0)) < 1e-5, "f32 ce");
  CHECK(fabs(s) < 1e-5, "gradient row sums to 0: %g", s);
  /* bf16: loss in bf16, lse saved as float32 */
  uint16_t xh[R * C], lh[R], dxh[R * C], twoh = lt_float_to_bf16(2);
  float lseh[R];
  for (int i = 0; i < R * C; i++) xh[i] = lt_float_to_bf16(xf[i]);
  CHECK(lt_cpu_cross_entropy(lh, lseh, xh, t, NULL, LT_DTYPE_BF16, R, C, 1, true, -100, 0.1) ==
            LT_OK, "bf16 ce");
  CHECK(fabs(lseh[0] - sf[0]) < 0.02 && fabs(lseh[5] - sf[5]) < 0.02, "bf16 lse %g vs %g",
        lseh[0], sf[0]);
  CHECK(fabs(lt_bf16_to_double(lh[0]) - ce_ref(x, C, 0, NULL, 0.1)) < 0.03, "bf16 loss %g",
        lt_bf16_to_double(lh[0]));
  lt_cpu_cross_entropy_backward(dxh, &twoh, 0, xh, lseh, t, NULL, LT_DTYPE_BF16, R, C, 1, true,
                                -100, 0.1);
  double sh = 0;
  for (int c = 0; c < C; c++) sh += lt_bf16_to_double(dxh[C + c]);
  /* row 0's target is class 0: smoothing 0.1 moves its gradient by 2 * (0.1 - 0.1/C) */
  double want = dxf[0] + 2 * (0.1 - 0.1 / C);
  CHECK(fabs(sh) < 0.02 && fabs(lt_bf16_to_double(dxh[0]) - want) < 0.02,
        "bf16 ce backward (sum %g, %g vs %g)", sh, lt_bf16_to_double(dxh[0]), want);
  /* bad target */
  t[0] = 7;
  CHECK(lt_cpu_cross_entropy(loss, lse, x, t, NULL, LT_DTYPE_F64, R, C, 1, true, -100, 0) ==
            LT_ERR_INDEX, "bad target");
  CHECK(strstr(lt_errmsg(), "7 is out of range for size 5") != NULL, "msg %s", lt_errmsg());
}

/* ---------------------------------------------------------------- layer norm */

static double dot(const double *a, const double *b, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static void test_layer_norm(void) {
  enum { R = 4, C = 7 };
  double x[R * C], w[C], b[C], y[R * C], mean[R], rstd[R], dy[R * C], dx[R * C], dw[C], db[C];
  fill_d(x, R * C); fill_d(w, C); fill_d(b, C); fill_d(dy, R * C);
  lt_cpu_layer_norm(y, mean, rstd, x, NULL, NULL, LT_DTYPE_F64, R, C, 1e-5);
  double em = 0, ev = 0;
  for (int r = 0; r < R; r++) {
    double m = 0, v = 0;
    for (int c = 0; c < C; c++) m += y[r * C + c];
    m /= C;
    for (int c = 0; c < C; c++) v += (y[r * C + c] - m) * (y[r * C + c] - m);
    em = fmax(em, fabs(m));
    ev = fmax(ev, fabs(v / C - 1));
  }
  CHECK(em < 1e-12 && ev < 1e-3, "normalised rows: mean %g var %g", em, ev);
  lt_cpu_layer_norm(y, mean, rstd, x, w, b, LT_DTYPE_F64, R, C, 1e-5);
  for (int c = 0; c < C; c++) { dw[c] = 1; db[c] = 2; }  /* accumulated into */
  lt_cpu_layer_norm_backward(dx, dw, db, dy, x, mean, rstd, w, LT_DTYPE_F64, R, C);
  double h = 1e-6, ex = 0, ew = 0, eb = 0, yp[R * C], ym[R * C], mm[R], rr[R];
#define LOSS(yv) dot(dy, yv, R * C)
  for (int i = 0; i < R * C; i++) {
    double keep = x[i];
    x[i] = keep + h; lt_cpu_layer_norm(yp, mm, rr, x, w, b, LT_DTYPE_F64, R, C, 1e-5);
    x[i] = keep - h; lt_cpu_layer_norm(ym, mm, rr, x, w, b, LT_DTYPE_F64, R, C, 1e-5);
    x[i] = keep;
    ex = fmax(ex, fabs((LOSS(yp) - LOSS(ym)) / (2 * h) - dx[i]));
  }
  for (int c = 0; c < C; c++) {
    double keep = w[c];
    w[c] = keep + h; lt_cpu_layer_norm(yp, mm, rr, x, w, b, LT_DTYPE_F64, R, C, 1e-5);
    w[c] = keep - h; lt_cpu_layer_norm(ym, mm, rr, x, w, b, LT_DTYPE_F64, R, C, 1e-5);
    w[c] = keep;
    ew = fmax(ew, fabs((LOSS(yp) - LOSS(ym)) / (2 * h) - (dw[c] - 1)));
    keep = b[c];
    b[c] = keep + h; lt_cpu_layer_norm(yp, mm, rr, x, w, b, LT_DTYPE_F64, R, C, 1e-5);
    b[c] = keep - h; lt_cpu_layer_norm(ym, mm, rr, x, w, b, LT_DTYPE_F64, R, C, 1e-5);
    b[c] = keep;
    eb = fmax(eb, fabs((LOSS(yp) - LOSS(ym)) / (2 * h) - (db[c] - 2)));
  }
#undef LOSS
  CHECK(ex < 1e-6 && ew < 1e-6 && eb < 1e-6, "layer_norm backward vs FD: dx %g dw %g db %g", ex,
        ew, eb);
  /* float32: mean/rstd float32, same values */
  float xf[R * C], yf[R * C], mf[R], rf[R];
  for (int i = 0; i < R * C; i++) xf[i] = (float)x[i];
  lt_cpu_layer_norm(yf, mf, rf, xf, NULL, NULL, LT_DTYPE_F32, R, C, 1e-5);
  CHECK(fabs(mf[1] - mean[1]) < 1e-6 && fabs(rf[1] - rstd[1]) < 1e-3 * rstd[1], "f32 stats");
}

/* ---------------------------------------------------------------- conv and pools */

static void test_conv(void) {
  /* conv2d via im2col + gemm vs direct loops, several geometries */
  int64_t cfg[][7] = {  /* kh kw sh sw ph pw dil */
      {3, 3, 1, 1, 1, 1, 1}, {3, 2, 2, 1, 0, 1, 1}, {3, 3, 2, 2, 2, 1, 2}, {1, 1, 1, 1, 0, 0, 1}};
  for (int q = 0; q < 4; q++) {
    lt_conv_geom g = {.n = 2, .c = 3, .h = 7, .w = 6, .kh = cfg[q][0], .kw = cfg[q][1],
                      .sh = cfg[q][2], .sw = cfg[q][3], .ph = cfg[q][4], .pw = cfg[q][5],
                      .dh = cfg[q][6], .dw = cfg[q][6]};
    g.oh = (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
    g.ow = (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
    int64_t O = 4, K = g.c * g.kh * g.kw, L = g.oh * g.ow;
    int64_t nx = g.n * g.c * g.h * g.w, nw = O * K, ncol = g.n * K * L, ny = g.n * O * L;
    double *x = malloc(nx * 8), *w = malloc(nw * 8), *col = malloc(ncol * 8);
    double *y = malloc(ny * 8), *ref = calloc(ny, 8), *ct = malloc(ncol * 8), *dx = malloc(nx * 8);
    fill_d(x, nx); fill_d(w, nw);
    CHECK(lt_cpu_im2col(col, x, LT_DTYPE_F64, &g) == LT_OK, "im2col");
    /* y_b (O, L) = w (O, K) @ col_b (K, L) */
    lt_cpu_gemm(LT_DTYPE_F64, false, false, O, L, K, 1, w, K, 0, col, L, K * L, 0, y, L, O * L,
                g.n);
    for (int64_t b = 0; b < g.n; b++)
      for (int64_t o = 0; o < O; o++)
        for (int64_t oy = 0; oy < g.oh; oy++)
          for (int64_t ox = 0; ox < g.ow; ox++) {
            double s = 0;
            for (int64_t c = 0; c < g.c; c++)
              for (int64_t i = 0; i < g.kh; i++)
                for (int64_t j = 0; j < g.kw; j++) {
                  int64_t iy = oy * g.sh - g.ph + i * g.dh, ix = ox * g.sw - g.pw + j * g.dw;
                  if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                  s += w[(o * g.c + c) * g.kh * g.kw + i * g.kw + j] *
                       x[((b * g.c + c) * g.h + iy) * g.w + ix];
                }
            ref[((b * O + o) * g.oh + oy) * g.ow + ox] = s;
          }
    double e = 0;
    for (int64_t i = 0; i < ny; i++) e = fmax(e, fabs(y[i] - ref[i]));
    CHECK(e < 1e-12, "conv via im2col cfg %d err %g", q, e);
    /* col2im is im2col's adjoint: <im2col(x), c> == <x, col2im(c)> */
    fill_d(ct, ncol);
    CHECK(lt_cpu_col2im(dx, ct, LT_DTYPE_F64, &g) == LT_OK, "col2im");
    double l = 0, r = 0;
    for (int64_t i = 0; i < ncol; i++) l += col[i] * ct[i];
    for (int64_t i = 0; i < nx; i++) r += x[i] * dx[i];
    CHECK(fabs(l - r) < 1e-10, "col2im adjoint cfg %d: %g vs %g", q, l, r);
    /* float32 im2col equals the float64 one; col2im f32 */
    float *xf = malloc(nx * 4), *cf = malloc(ncol * 4);
    for (int64_t i = 0; i < nx; i++) xf[i] = (float)x[i];
    lt_cpu_im2col(cf, xf, LT_DTYPE_F32, &g);
    bool same = true;
    for (int64_t i = 0; i < ncol; i++) same = same && cf[i] == (float)col[i];
    CHECK(same, "im2col f32 cfg %d", q);
    free(xf); free(cf);
    free(x); free(w); free(col); free(y); free(ref); free(ct); free(dx);
  }
}

static void test_pools(void) {
  /* max pool vs naive, with padding and dilation */
  lt_pool_geom g = {.nc = 3, .h = 7, .w = 8, .kh = 3, .kw = 2, .sh = 2, .sw = 2, .ph = 1,
                    .pw = 1, .dh = 2, .dw = 1};
  g.oh = (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.ow = (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  int64_t nx = g.nc * g.h * g.w, ny = g.nc * g.oh * g.ow;
  double x[168], y[64], dy[64], dx[168];
  int64_t idx[64];
  fill_d(x, nx);
  fill_d(dy, ny);
  CHECK(lt_cpu_max_pool2d(y, idx, x, LT_DTYPE_F64, &g) == LT_OK, "max_pool2d");
  bool ok = true;
  for (int64_t p = 0; p < g.nc; p++)
    for (int64_t oy = 0; oy < g.oh; oy++)
      for (int64_t ox = 0; ox < g.ow; ox++) {
        double m = -INFINITY;
        for (int64_t i = 0; i < g.kh; i++)
          for (int64_t j = 0; j < g.kw; j++) {
            int64_t iy = oy * g.sh - g.ph + i * g.dh, ix = ox * g.sw - g.pw + j * g.dw;
            if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) m = fmax(m, x[(p * g.h + iy) * g.w + ix]);
          }
        int64_t o = (p * g.oh + oy) * g.ow + ox;
        ok = ok && y[o] == m && x[p * g.h * g.w + idx[o]] == m;
      }
  CHECK(ok, "max pool vs naive");
  CHECK(lt_cpu_max_pool2d_backward(dx, dy, idx, LT_DTYPE_F64, &g) == LT_OK, "max bw");
  double l = 0, r = 0;  /* adjoint: <dy, x[idx]> == <dx, x> */
  for (int64_t o = 0; o < ny; o++) l += dy[o] * x[(o / (g.oh * g.ow)) * g.h * g.w + idx[o]];
  for (int64_t i = 0; i < nx; i++) r += dx[i] * x[i];
  CHECK(fabs(l - r) < 1e-12, "max pool backward %g vs %g", l, r);

  /* avg pool hand cases: x = 1..9 (3x3), k 2, s 2, p 1 */
  double a[9], ay[4], ady[4] = {1, 1, 1, 1}, adx[9];
  for (int i = 0; i < 9; i++) a[i] = i + 1;
  lt_pool_geom ag = {.nc = 1, .h = 3, .w = 3, .oh = 2, .ow = 2, .kh = 2, .kw = 2, .sh = 2,
                     .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .count_include_pad = true};
  lt_cpu_avg_pool2d(ay, a, LT_DTYPE_F64, &ag);
  CHECK(ay[0] == 0.25 && ay[1] == 1.25 && ay[2] == 2.75 && ay[3] == 7, "avg incl pad %g %g %g %g",
        ay[0], ay[1], ay[2], ay[3]);
  ag.count_include_pad = false;
  lt_cpu_avg_pool2d(ay, a, LT_DTYPE_F64, &ag);
  CHECK(ay[0] == 1 && ay[1] == 2.5 && ay[2] == 5.5 && ay[3] == 7, "avg excl pad %g %g %g %g",
        ay[0], ay[1], ay[2], ay[3]);
  ag.divisor_override = 2;
  lt_cpu_avg_pool2d(ay, a, LT_DTYPE_F64, &ag);
  CHECK(ay[0] == 0.5 && ay[3] == 14, "divisor_override");
  lt_cpu_avg_pool2d_backward(adx, ady, LT_DTYPE_F64, &ag);
  CHECK(adx[0] == 0.5 && adx[4] == 0.5 && adx[8] == 0.5, "avg backward override");
  /* ceil_mode: k 2 s 2 p 0 on 3x3 gives 2x2 with the last window clipped */
  lt_pool_geom cg = {.nc = 1, .h = 3, .w = 3, .oh = 2, .ow = 2, .kh = 2, .kw = 2, .sh = 2,
                     .sw = 2, .dh = 1, .dw = 1, .count_include_pad = true};
  lt_cpu_avg_pool2d(ay, a, LT_DTYPE_F64, &cg);
  CHECK(ay[0] == 3 && ay[1] == 4.5 && ay[2] == 7.5 && ay[3] == 9, "ceil avg %g %g %g %g", ay[0],
        ay[1], ay[2], ay[3]);
  /* avg backward is the adjoint of avg forward (float32 too) */
  {
    lt_pool_geom pg = {.nc = 2, .h = 6, .w = 5, .oh = 3, .ow = 3, .kh = 3, .kw = 2, .sh = 2,
                       .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1, .count_include_pad = false};
    float px[60], py[18], pdy[18], pdx[60];
    for (int i = 0; i < 60; i++) px[i] = (float)urand();
    for (int i = 0; i < 18; i++) pdy[i] = (float)urand();
    lt_cpu_avg_pool2d(py, px, LT_DTYPE_F32, &pg);
    lt_cpu_avg_pool2d_backward(pdx, pdy, LT_DTYPE_F32, &pg);
    double l2 = 0, r2 = 0;
    for (int i = 0; i < 18; i++) l2 += (double)py[i] * pdy[i];
    for (int i = 0; i < 60; i++) r2 += (double)px[i] * pdx[i];
    CHECK(fabs(l2 - r2) < 1e-5, "avg adjoint %g vs %g", l2, r2);
  }
  /* adaptive: 5 -> 3 rows uses [0,2) [1,4) [3,5); 4 -> 2 cols [0,2) [2,4) */
  double ax[20], axy[6], axdy[6], axdx[20];
  for (int i = 0; i < 20; i++) ax[i] = i;
  lt_pool_geom dg = {.nc = 1, .h = 5, .w = 4, .oh = 3, .ow = 2};
  lt_cpu_adaptive_avg_pool2d(axy, ax, LT_DTYPE_F64, &dg);
  /* rows 0-1 cols 0-1: (0+1+4+5)/4 = 2.5; rows 1-3 cols 2-3: (6+7+10+11+14+15)/6 = 10.5 */
  CHECK(axy[0] == 2.5 && axy[3] == 10.5 && axy[4] == (12 + 13 + 16 + 17) / 4.0, "adaptive %g %g %g",
        axy[0], axy[3], axy[4]);
  fill_d(axdy, 6);
  lt_cpu_adaptive_avg_pool2d_backward(axdx, axdy, LT_DTYPE_F64, &dg);
  double l3 = 0, r3 = 0;
  for (int i = 0; i < 6; i++) l3 += axy[i] * axdy[i];
  for (int i = 0; i < 20; i++) r3 += ax[i] * axdx[i];
  CHECK(fabs(l3 - r3) < 1e-12, "adaptive adjoint %g vs %g", l3, r3);
  int64_t ii[4];
  CHECK(lt_cpu_max_pool2d(ay, ii, ii, LT_DTYPE_I64, &ag) == LT_ERR_DTYPE, "int pool refused");
}

int main(void) {
  test_gemm();
  test_index();
  test_softmax();
  test_cross_entropy();
  test_layer_norm();
  test_conv();
  test_pools();
  CTEST_END();
}
