/*
** test_nn_ops.c - the nn, random and optimizer front-ends (ops_nn.c,
** ops_random.c, ops_optim.c): forward values against PyTorch's formulas
** computed here in double, float64 finite-difference gradient checks, RNG
** determinism, and an Adam trajectory. CPU only.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "ctest.h"
#include "gradcheck.h"

/* ---------------------------------------------------------------- helpers */

static lt_tensor *T64(const double *v, const int64_t *shape, int nd) {
  return lt_from_data(v, LT_DTYPE_F64, shape, nd, LT_DTYPE_F64, lt_cpu());
}
static lt_tensor *T32(const double *v, const int64_t *shape, int nd) {
  return lt_from_data(v, LT_DTYPE_F64, shape, nd, LT_DTYPE_F32, lt_cpu());
}
static lt_tensor *I64(const int64_t *v, const int64_t *shape, int nd) {
  return lt_from_data(v, LT_DTYPE_I64, shape, nd, LT_DTYPE_I64, lt_cpu());
}

static double *host(lt_tensor *t) {
  int64_t n = lt_numel(t);
  double *b = calloc((size_t)(n > 0 ? n : 1), sizeof *b);
  if (lt_to_host(t, b, LT_DTYPE_F64)) {
    free(b);
    return NULL;
  }
  return b;
}

/* Largest |t - ref| (INFINITY when t is NULL or unreadable). */
static double maxdiff(lt_tensor *t, const double *ref, int64_t n) {
  if (!t || lt_numel(t) != n) return INFINITY;
  double *b = host(t);
  if (!b) return INFINITY;
  double m = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs(b[i] - ref[i]);
    if (!(d <= m)) m = d;  /* NaN propagates */
  }
  free(b);
  return m;
}

static double item(lt_tensor *t) {
  double v = NAN;
  if (t) lt_item(t, &v);
  return v;
}

static void release_n(lt_tensor **ts, int n) {
  for (int k = 0; k < n; k++) {
    lt_tensor_release(ts[k]);
    ts[k] = NULL;
  }
}

static bool errmsg_has(const char *s) { return strstr(lt_errmsg(), s) != NULL; }

/* ---------------------------------------------------------------- references */

/* conv2d in double: x (N,C,H,W), w (O,C/g,kh,kw), b (O) or NULL */
static void ref_conv2d(double *y, const double *x, const double *w, const double *b, int N, int C,
                       int H, int W, int O, int kh, int kw, int sh, int sw, int ph, int pw,
                       int dh, int dw, int g, int oh, int ow) {
  int Cg = C / g, Og = O / g;
  for (int n = 0; n < N; n++)
    for (int o = 0; o < O; o++)
      for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++) {
          double s = b ? b[o] : 0;
          int gi = o / Og;
          for (int c = 0; c < Cg; c++)
            for (int a = 0; a < kh; a++)
              for (int e = 0; e < kw; e++) {
                int iy = i * sh - ph + a * dh, ix = j * sw - pw + e * dw;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += x[((n * C + gi * Cg + c) * H + iy) * W + ix] *
                     w[((o * Cg + c) * kh + a) * kw + e];
              }
          y[((n * O + o) * oh + i) * ow + j] = s;
        }
}

/* ---------------------------------------------------------------- forward values */

static void test_softmax_values(void) {
  double v[6] = {1, 2, 3, -1, 0, 5};
  int64_t s[2] = {2, 3};
  lt_tensor *x = T64(v, s, 2);
  lt_tensor *y = lt_softmax(x, 1), *ly = lt_log_softmax(x, -1), *y0 = lt_softmax(x, 0);
  double ref[6], lref[6], ref0[6];
  for (int r = 0; r < 2; r++) {
    double m = -INFINITY, z = 0;
    for (int c = 0; c < 3; c++) m = fmax(m, v[r * 3 + c]);
    for (int c = 0; c < 3; c++) z += exp(v[r * 3 + c] - m);
    for (int c = 0; c < 3; c++) {
      ref[r * 3 + c] = exp(v[r * 3 + c] - m) / z;
      lref[r * 3 + c] = v[r * 3 + c] - m - log(z);
    }
  }
  for (int c = 0; c < 3; c++) {
    double z = exp(v[c]) + exp(v[3 + c]);
    ref0[c] = exp(v[c]) / z;
    ref0[3 + c] = exp(v[3 + c]) / z;
  }
  CHECK(maxdiff(y, ref, 6) < 1e-12, "softmax dim 1");
  CHECK(maxdiff(ly, lref, 6) < 1e-12, "log_softmax dim -1");
  CHECK(maxdiff(y0, ref0, 6) < 1e-12, "softmax dim 0");
  lt_tensor *bad = lt_softmax(x, 2);
  CHECK(bad == NULL && lt_errcode() == LT_ERR_INDEX, "softmax dim out of range");
  lt_tensor_release(y);
  lt_tensor_release(ly);
  lt_tensor_release(y0);
  lt_tensor_release(x);
}

static void test_conv2d_values(void) {
  /* 1x1x4x4 input 1..16, 2x2 kernel [[1,2],[3,4]], bias 0.5:
     y[i][j] = 44.5 + 10 j + 40 i (PyTorch gives the same). */
  double xv[16], wv[4] = {1, 2, 3, 4}, bv[1] = {0.5};
  for (int i = 0; i < 16; i++) xv[i] = i + 1;
  int64_t xs[4] = {1, 1, 4, 4}, ws[4] = {1, 1, 2, 2}, bs[1] = {1};
  lt_tensor *x = T32(xv, xs, 4), *w = T32(wv, ws, 4), *b = T32(bv, bs, 1);
  lt_tensor *y = lt_conv2d(x, w, b, NULL);
  double ref[9];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) ref[i * 3 + j] = 44.5 + 10 * j + 40 * i;
  CHECK(y && y->ndim == 4 && y->shape[2] == 3 && y->shape[3] == 3, "conv2d output shape");
  CHECK(maxdiff(y, ref, 9) < 1e-4, "conv2d 4x4 * 2x2 values");
  lt_tensor_release(y);

  /* stride 2, padding 1: output 3x3 */
  lt_conv2d_opts o = {{2, 2}, {1, 1}, {1, 1}, 1};
  y = lt_conv2d(x, w, NULL, &o);
  double ref2[9];
  ref_conv2d(ref2, xv, wv, NULL, 1, 1, 4, 4, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 3, 3);
  CHECK(maxdiff(y, ref2, 9) < 1e-4, "conv2d stride 2 padding 1");
  CHECK(ref2[0] == 4 && ref2[4] == 1 * 6 + 2 * 7 + 3 * 10 + 4 * 11, "reference sanity");
  lt_tensor_release(y);

  /* groups, dilation, asymmetric stride/padding, against the reference */
  enum { N = 2, C = 4, H = 6, W = 7, O = 6, KH = 3, KW = 2, G = 2 };
  double X[N * C * H * W], Wt[O * (C / G) * KH * KW], B[O];
  uint64_t seed = 99;
  for (int i = 0; i < N * C * H * W; i++) X[i] = gradcheck_weight(&seed);
  for (int i = 0; i < O * (C / G) * KH * KW; i++) Wt[i] = gradcheck_weight(&seed);
  for (int i = 0; i < O; i++) B[i] = gradcheck_weight(&seed);
  lt_conv2d_opts o3 = {{2, 1}, {1, 2}, {2, 1}, G};
  int oh = (H + 2 - 2 * (KH - 1) - 1) / 2 + 1, ow = (W + 4 - 1 * (KW - 1) - 1) / 1 + 1;
  double R[N * O * 16 * 16];
  ref_conv2d(R, X, Wt, B, N, C, H, W, O, KH, KW, 2, 1, 1, 2, 2, 1, G, oh, ow);
  int64_t Xs[4] = {N, C, H, W}, Ws[4] = {O, C / G, KH, KW}, Bs[1] = {O};
  lt_tensor *X64 = T64(X, Xs, 4), *W64 = T64(Wt, Ws, 4), *B64 = T64(B, Bs, 1);
  y = lt_conv2d(X64, W64, B64, &o3);
  CHECK(y && y->shape[2] == oh && y->shape[3] == ow, "conv2d grouped shape");
  CHECK(maxdiff(y, R, N * O * oh * ow) < 1e-12, "conv2d groups/stride/padding/dilation");
  lt_tensor_release(y);
  /* 1x1 direct path */
  int64_t W1s[4] = {O, C, 1, 1};
  lt_tensor *W1 = T64(Wt, W1s, 4);
  y = lt_conv2d(X64, W1, NULL, NULL);
  ref_conv2d(R, X, Wt, NULL, N, C, H, W, O, 1, 1, 1, 1, 0, 0, 1, 1, 1, H, W);
  CHECK(maxdiff(y, R, N * O * H * W) < 1e-12, "conv2d 1x1");
  lt_tensor_release(y);
  /* unbatched (C, H, W) */
  lt_tensor *x3 = lt_select(X64, 0, 1);
  y = lt_conv2d(x3, W64, B64, &o3);
  ref_conv2d(R, X, Wt, B, N, C, H, W, O, KH, KW, 2, 1, 1, 2, 2, 1, G, oh, ow);
  CHECK(y && y->ndim == 3 && maxdiff(y, R + O * oh * ow, O * oh * ow) < 1e-12,
        "conv2d unbatched");
  lt_tensor_release(y);
  lt_tensor_release(x3);

  /* errors */
  lt_conv2d_opts og = {{1, 1}, {0, 0}, {1, 1}, 1};
  y = lt_conv2d(X64, W64, NULL, &og);
  CHECK(!y && lt_errcode() == LT_ERR_SHAPE && errmsg_has("channels"), "channel mismatch");
  og.groups = 4;
  y = lt_conv2d(X64, W64, NULL, &og);
  CHECK(!y && errmsg_has("divisible"), "groups must divide out channels");
  og.groups = 2;
  og.stride[0] = 0;
  y = lt_conv2d(X64, W64, NULL, &og);
  CHECK(!y && errmsg_has("stride"), "non-positive stride");
  lt_tensor *tiny = lt_zeros((int64_t[]){1, 4, 2, 2}, 4, LT_DTYPE_F64, lt_cpu());
  og.stride[0] = 1;
  y = lt_conv2d(tiny, W64, NULL, &og);
  CHECK(!y && errmsg_has("Kernel size can't be greater"), "kernel larger than input");
  lt_tensor *bb = lt_zeros((int64_t[]){5}, 1, LT_DTYPE_F64, lt_cpu());
  y = lt_conv2d(X64, W64, bb, &o3);
  CHECK(!y && errmsg_has("bias"), "bad bias");
  lt_tensor_release(bb);
  lt_tensor_release(tiny);
  lt_tensor_release(W1);
  lt_tensor_release(X64);
  lt_tensor_release(W64);
  lt_tensor_release(B64);
  lt_tensor_release(x);
  lt_tensor_release(w);
  lt_tensor_release(b);
}

static void test_pool_values(void) {
  double xv[16];
  for (int i = 0; i < 16; i++) xv[i] = (i * 7) % 16;  /* 0 7 14 5 / 12 3 10 1 / 8 15 6 13 / 4 11 2 9 */
  int64_t xs[4] = {1, 1, 4, 4};
  lt_tensor *x = T32(xv, xs, 4);
  lt_pool2d_opts o = {{2, 2}, {0, 0}, {0, 0}, {1, 1}, false, true, 0};
  lt_tensor *idx = NULL;
  lt_tensor *y = lt_max_pool2d(x, &o, &idx);
  double ref[4] = {12, 14, 15, 13}, iref[4] = {4, 2, 9, 11};
  CHECK(maxdiff(y, ref, 4) == 0, "max_pool2d values");
  CHECK(idx && idx->dtype == LT_DTYPE_I64 && maxdiff(idx, iref, 4) == 0,
        "max_pool2d indices (0-based flat in h*w)");
  lt_tensor_release(y);
  lt_tensor_release(idx);

  /* kernel 3 stride 2 padding 1 ceil_mode: PyTorch's output size 3 -> 2 for H=4? */
  lt_pool2d_opts oc = {{3, 3}, {2, 2}, {1, 1}, {1, 1}, true, true, 0};
  y = lt_max_pool2d(x, &oc, NULL);
  /* out = ceil((4 + 2 - 3) / 2) + 1 = 3; last window starts at 2*2-1 = 3 < 4 + 1: kept */
  CHECK(y && y->shape[2] == 3 && y->shape[3] == 3, "max_pool2d ceil_mode size");
  lt_tensor_release(y);
  lt_pool2d_opts of = oc;
  of.ceil_mode = false;
  y = lt_max_pool2d(x, &of, NULL);
  CHECK(y && y->shape[2] == 2, "max_pool2d floor size");
  lt_tensor_release(y);
  /* ceil_mode drop: H=5, k=2, s=2, p=1: ceil((5+2-2)/2)+1 = 4, (4-1)*2 = 6 >= 5+1: 3 */
  lt_tensor *x5 = lt_zeros((int64_t[]){1, 5, 5}, 3, LT_DTYPE_F32, lt_cpu());
  lt_pool2d_opts od = {{2, 2}, {2, 2}, {1, 1}, {1, 1}, true, true, 0};
  y = lt_max_pool2d(x5, &od, NULL);
  CHECK(y && y->ndim == 3 && y->shape[1] == 3 && y->shape[2] == 3,
        "ceil_mode drops a window starting in the padding");
  lt_tensor_release(y);
  lt_tensor_release(x5);

  /* avg: kernel 3, stride 2, pad 1 on 4x4, count_include_pad true vs false */
  lt_pool2d_opts oa = {{3, 3}, {2, 2}, {1, 1}, {1, 1}, false, true, 0};
  y = lt_avg_pool2d(x, &oa);
  double aref[4], bref[4];
  for (int oy = 0; oy < 2; oy++)
    for (int ox = 0; ox < 2; ox++) {
      double s = 0;
      int cnt = 0;
      for (int i = oy * 2 - 1; i < oy * 2 + 2; i++)
        for (int j = ox * 2 - 1; j < ox * 2 + 2; j++)
          if (i >= 0 && i < 4 && j >= 0 && j < 4) {
            s += xv[i * 4 + j];
            cnt++;
          }
      aref[oy * 2 + ox] = s / 9;
      bref[oy * 2 + ox] = s / cnt;
    }
  CHECK(maxdiff(y, aref, 4) < 1e-5, "avg_pool2d count_include_pad");
  lt_tensor_release(y);
  oa.count_include_pad = false;
  y = lt_avg_pool2d(x, &oa);
  CHECK(maxdiff(y, bref, 4) < 1e-5, "avg_pool2d exclude pad");
  lt_tensor_release(y);
  oa.divisor_override = 2;
  y = lt_avg_pool2d(x, &oa);
  for (int i = 0; i < 4; i++) aref[i] = aref[i] * 9 / 2;
  CHECK(maxdiff(y, aref, 4) < 1e-4, "avg_pool2d divisor_override");
  lt_tensor_release(y);

  /* adaptive 4x4 -> 3x3: windows [0,2) [1,3) [2,4) */
  y = lt_adaptive_avg_pool2d(x, 3, 3);
  double adref[9];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      adref[i * 3 + j] = (xv[i * 4 + j] + xv[i * 4 + j + 1] + xv[(i + 1) * 4 + j] +
                          xv[(i + 1) * 4 + j + 1]) / 4;
  CHECK(maxdiff(y, adref, 9) < 1e-5, "adaptive_avg_pool2d 4->3");
  lt_tensor_release(y);
  y = lt_adaptive_avg_pool2d(x, 1, 1);
  double mean = 0;
  for (int i = 0; i < 16; i++) mean += xv[i] / 16;
  CHECK(maxdiff(y, &mean, 1) < 1e-5, "adaptive_avg_pool2d global");
  lt_tensor_release(y);

  /* errors */
  lt_pool2d_opts ob = {{2, 2}, {0, 0}, {2, 2}, {1, 1}, false, true, 0};
  y = lt_max_pool2d(x, &ob, NULL);
  CHECK(!y && errmsg_has("pad should be at most half"), "max pool pad too big");
  lt_tensor *flat = lt_zeros((int64_t[]){4, 4}, 2, LT_DTYPE_F32, lt_cpu());
  y = lt_avg_pool2d(flat, &o);
  CHECK(!y && errmsg_has("3D or 4D"), "pool needs 3D/4D input");
  lt_tensor_release(flat);
  lt_tensor_release(x);
}

static void ref_cross_entropy(const double *x, const int64_t *t, const double *w, int rows, int C,
                              int64_t ignore, double ls, double *per_row, double *mean) {
  double tot = 0, den = 0;
  for (int r = 0; r < rows; r++) {
    per_row[r] = 0;
    if (t[r] == ignore) continue;
    double m = -INFINITY, z = 0, sm = 0;
    for (int c = 0; c < C; c++) m = fmax(m, x[r * C + c]);
    for (int c = 0; c < C; c++) z += exp(x[r * C + c] - m);
    double lse = m + log(z);
    for (int c = 0; c < C; c++) sm += (w ? w[c] : 1) * (lse - x[r * C + c]);
    double wt = w ? w[t[r]] : 1;
    per_row[r] = (1 - ls) * wt * (lse - x[r * C + t[r]]) + ls / C * sm;
    tot += per_row[r];
    den += wt;
  }
  *mean = tot / den;
}

static void test_loss_values(void) {
  /* F.cross_entropy([[1,2,3]], [0]) = log(e + e^2 + e^3) - 1 */
  double v1[3] = {1, 2, 3};
  int64_t t1v[1] = {0}, s13[2] = {1, 3}, s1[1] = {1};
  lt_tensor *x1 = T32(v1, s13, 2), *t1 = I64(t1v, s1, 1);
  lt_tensor *l = lt_cross_entropy(x1, t1, NULL, -100, 0, "mean", 0);
  CHECK_NEAR(item(l), 2.4076059644443806, 1e-6);
  lt_tensor_release(l);
  /* 1-based targets (base 1) */
  int64_t t1b[1] = {1};
  lt_tensor *tb = I64(t1b, s1, 1);
  l = lt_cross_entropy(x1, tb, NULL, -100, 0, "mean", 1);
  CHECK_NEAR(item(l), 2.4076059644443806, 1e-6);
  lt_tensor_release(l);
  lt_tensor_release(tb);
  lt_tensor_release(x1);
  lt_tensor_release(t1);

  /* smoothing 0.1, ignore_index 2, with and without weights */
  enum { R = 4, C = 3 };
  double xv[R * C] = {0.5, -1, 2, 1, 1, 1, -0.3, 0.8, 0.1, 3, -2, 0.4};
  int64_t tv[R] = {2, 0, 2, 1}, xs[2] = {R, C}, ts[1] = {R}, wsz[1] = {C};
  double wv[C] = {0.2, 1.5, 0.7};
  lt_tensor *x = T64(xv, xs, 2), *t = I64(tv, ts, 1), *w = T64(wv, wsz, 1);
  double per[R], mean;
  ref_cross_entropy(xv, tv, NULL, R, C, 2, 0.1, per, &mean);
  l = lt_cross_entropy(x, t, NULL, 2, 0.1, "mean", 0);
  CHECK_NEAR(item(l), mean, 1e-12);
  lt_tensor_release(l);
  l = lt_cross_entropy(x, t, NULL, 2, 0.1, "none", 0);
  CHECK(maxdiff(l, per, R) < 1e-12, "cross_entropy none");
  lt_tensor_release(l);
  double sum = per[0] + per[1] + per[2] + per[3];
  l = lt_cross_entropy(x, t, NULL, 2, 0.1, "sum", 0);
  CHECK_NEAR(item(l), sum, 1e-12);
  lt_tensor_release(l);
  ref_cross_entropy(xv, tv, wv, R, C, 2, 0.1, per, &mean);
  l = lt_cross_entropy(x, t, w, 2, 0.1, "mean", 0);
  CHECK_NEAR(item(l), mean, 1e-12);  /* divided by the sum of the targets' weights */
  lt_tensor_release(l);
  ref_cross_entropy(xv, tv, wv, R, C, -100, 0.0, per, &mean);
  l = lt_cross_entropy(x, t, w, -100, 0.0, "mean", 0);
  CHECK_NEAR(item(l), mean, 1e-12);
  lt_tensor_release(l);

  /* nll_loss(log_softmax) == cross_entropy, with weight and ignore */
  lt_tensor *lp = lt_log_softmax(x, 1);
  ref_cross_entropy(xv, tv, wv, R, C, 0, 0.0, per, &mean);
  l = lt_nll_loss(lp, t, w, 0, "mean", 0);
  CHECK_NEAR(item(l), mean, 1e-12);
  lt_tensor_release(l);
  l = lt_nll_loss(lp, t, NULL, -100, "none", 0);
  ref_cross_entropy(xv, tv, NULL, R, C, -100, 0.0, per, &mean);
  CHECK(maxdiff(l, per, R) < 1e-12, "nll_loss none");
  lt_tensor_release(l);

  /* probability targets: one-hot gives the class-index loss */
  double oh[R * C] = {0};
  for (int r = 0; r < R; r++) oh[r * C + tv[r]] = 1;
  lt_tensor *p = T64(oh, xs, 2);
  l = lt_cross_entropy(x, p, NULL, -100, 0.1, "mean", 0);
  ref_cross_entropy(xv, tv, NULL, R, C, -100, 0.1, per, &mean);
  CHECK_NEAR(item(l), mean, 1e-12);
  lt_tensor_release(l);

  /* (N, C, d) logits against (N, d) targets == moving C last */
  double x3v[2 * 3 * 2];
  for (int i = 0; i < 12; i++) x3v[i] = sin(i + 1.0);
  int64_t x3s[3] = {2, 3, 2}, t3s[2] = {2, 2}, t3v[4] = {1, 2, -100, 0};
  lt_tensor *x3 = T64(x3v, x3s, 3), *t3 = I64(t3v, t3s, 2);
  double rows[4 * 3];
  int64_t tr[4];
  for (int n = 0; n < 2; n++)
    for (int d = 0; d < 2; d++) {
      for (int c = 0; c < 3; c++) rows[(n * 2 + d) * 3 + c] = x3v[(n * 3 + c) * 2 + d];
      tr[n * 2 + d] = t3v[n * 2 + d];
    }
  ref_cross_entropy(rows, tr, NULL, 4, 3, -100, 0.0, per, &mean);
  l = lt_cross_entropy(x3, t3, NULL, -100, 0.0, "mean", 0);
  CHECK_NEAR(item(l), mean, 1e-12);
  lt_tensor_release(l);
  l = lt_cross_entropy(x3, t3, NULL, -100, 0.0, "none", 0);
  CHECK(l && l->ndim == 2 && maxdiff(l, per, 4) < 1e-12, "cross_entropy (N,C,d) none");
  lt_tensor_release(l);

  /* errors */
  int64_t bad[R] = {0, 3, 1, 1};
  lt_tensor *tbad = I64(bad, ts, 1);
  l = lt_cross_entropy(x, tbad, NULL, -100, 0, "mean", 0);
  CHECK(!l && lt_errcode() == LT_ERR_INDEX, "target out of range");
  lt_tensor_release(tbad);
  l = lt_cross_entropy(x, t, NULL, -100, 0, "avg", 0);
  CHECK(!l && errmsg_has("reduction"), "bad reduction");
  l = lt_cross_entropy(x, t3, NULL, -100, 0, "mean", 0);
  CHECK(!l && lt_errcode() == LT_ERR_SHAPE, "target shape mismatch");
  l = lt_cross_entropy(x, t, NULL, -100, 1.5, "mean", 0);
  CHECK(!l && errmsg_has("label_smoothing"), "label_smoothing range");
  lt_tensor_release(x3);
  lt_tensor_release(t3);
  lt_tensor_release(p);
  lt_tensor_release(lp);
  lt_tensor_release(x);
  lt_tensor_release(t);
  lt_tensor_release(w);
}

static void test_norm_values(void) {
  /* batch_norm training on (4, 2): one step with momentum 0.1 */
  double xv[8] = {1, 10, 2, 20, 4, 30, 7, 60};
  int64_t xs[2] = {4, 2}, cs[1] = {2};
  double wv[2] = {2, 0.5}, bv[2] = {1, -1}, rmv[2] = {0, 0}, rvv[2] = {1, 1};
  lt_tensor *x = T32(xv, xs, 2), *w = T32(wv, cs, 1), *b = T32(bv, cs, 1);
  lt_tensor *rm = T32(rmv, cs, 1), *rv = T32(rvv, cs, 1);
  lt_tensor *y = lt_batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5);
  double ref[8], rmr[2], rvr[2];
  for (int c = 0; c < 2; c++) {
    double m = 0, v = 0;
    for (int n = 0; n < 4; n++) m += xv[n * 2 + c] / 4;
    for (int n = 0; n < 4; n++) v += (xv[n * 2 + c] - m) * (xv[n * 2 + c] - m);
    for (int n = 0; n < 4; n++)
      ref[n * 2 + c] = (xv[n * 2 + c] - m) / sqrt(v / 4 + 1e-5) * wv[c] + bv[c];
    rmr[c] = 0.1 * m;
    rvr[c] = 0.9 * 1 + 0.1 * v / 3;  /* unbiased */
  }
  CHECK(maxdiff(y, ref, 8) < 1e-5, "batch_norm train output");
  CHECK(maxdiff(rm, rmr, 2) < 1e-5, "running_mean after one step");
  CHECK(maxdiff(rv, rvr, 2) < 1e-4, "running_var (unbiased) after one step");
  lt_tensor_release(y);
  /* eval uses the running stats */
  y = lt_batch_norm(x, rm, rv, w, b, false, 0.1, 1e-5);
  for (int n = 0; n < 4; n++)
    for (int c = 0; c < 2; c++)
      ref[n * 2 + c] = (xv[n * 2 + c] - rmr[c]) / sqrt(rvr[c] + 1e-5) * wv[c] + bv[c];
  CHECK(maxdiff(y, ref, 8) < 1e-4, "batch_norm eval output");
  CHECK(maxdiff(rm, rmr, 2) < 1e-5, "eval leaves running stats alone");
  lt_tensor_release(y);
  lt_tensor *one = lt_zeros((int64_t[]){1, 2}, 2, LT_DTYPE_F32, lt_cpu());
  y = lt_batch_norm(one, NULL, NULL, NULL, NULL, true, 0.1, 1e-5);
  CHECK(!y && errmsg_has("more than 1 value per channel"), "batch_norm needs 2 values");
  lt_tensor_release(one);

  /* layer_norm over the last dim of (2, 4) */
  double lv[8] = {1, 2, 3, 4, -1, 0, 5, 2};
  double lw[4] = {1, 2, 0.5, -1}, lb[4] = {0, 1, 0, 0.25};
  int64_t ls[2] = {2, 4}, l4[1] = {4};
  lt_tensor *lx = T64(lv, ls, 2), *lwt = T64(lw, l4, 1), *lbt = T64(lb, l4, 1);
  y = lt_layer_norm(lx, 1, lwt, lbt, 1e-5);
  for (int r = 0; r < 2; r++) {
    double m = 0, v = 0;
    for (int c = 0; c < 4; c++) m += lv[r * 4 + c] / 4;
    for (int c = 0; c < 4; c++) v += (lv[r * 4 + c] - m) * (lv[r * 4 + c] - m) / 4;
    for (int c = 0; c < 4; c++)
      ref[r * 4 + c] = (lv[r * 4 + c] - m) / sqrt(v + 1e-5) * lw[c] + lb[c];
  }
  CHECK(maxdiff(y, ref, 8) < 1e-10, "layer_norm values");
  lt_tensor_release(y);
  y = lt_layer_norm(lx, 1, lbt, NULL, 1e-5);
  CHECK(y != NULL, "layer_norm weight only");
  lt_tensor_release(y);
  lt_tensor *w3 = lt_ones((int64_t[]){3}, 1, LT_DTYPE_F64, lt_cpu());
  y = lt_layer_norm(lx, 1, w3, NULL, 1e-5);
  CHECK(!y && lt_errcode() == LT_ERR_SHAPE, "layer_norm weight shape");
  lt_tensor_release(w3);
  lt_tensor_release(lx);
  lt_tensor_release(lwt);
  lt_tensor_release(lbt);
  lt_tensor_release(x);
  lt_tensor_release(w);
  lt_tensor_release(b);
  lt_tensor_release(rm);
  lt_tensor_release(rv);
}

static void test_embedding_values(void) {
  double wv[8] = {0, 1, 10, 11, 20, 21, 30, 31};
  int64_t ws[2] = {4, 2}, is[2] = {2, 2}, iv[4] = {4, 1, 2, 4};
  lt_tensor *w = T64(wv, ws, 2), *ids = I64(iv, is, 2);
  lt_tensor_set_requires_grad(w, true);
  lt_tensor *y = lt_embedding(w, ids, 3, 1);  /* 1-based ids, padding row 3 (0-based) */
  double ref[8] = {30, 31, 0, 1, 10, 11, 30, 31};
  CHECK(y && y->ndim == 3 && y->shape[2] == 2 && maxdiff(y, ref, 8) == 0, "embedding values");
  lt_tensor *s = y ? lt_reduce(LT_REDUCE_SUM, y, NULL, 0, false, 0, NULL, 0) : NULL;
  CHECK(s && lt_backward(s, NULL, false) == LT_OK, "embedding backward");
  double gref[8] = {1, 1, 1, 1, 0, 0, 0, 0};  /* rows 0, 1 once each; row 3 is padding */
  CHECK(w->grad && maxdiff(w->grad, gref, 8) == 0, "padding row gets no gradient");
  lt_tensor_release(s);
  lt_tensor_release(y);
  int64_t badv[4] = {0, 1, 2, 3};
  lt_tensor *bad = I64(badv, is, 2);
  y = lt_embedding(w, bad, -1, 1);
  CHECK(!y && lt_errcode() == LT_ERR_INDEX, "embedding index out of range");
  lt_tensor_release(bad);
  lt_tensor_release(ids);
  lt_tensor_release(w);
}

/* softmax(q k^T * scale + bias) v for (L, E) x (S, E) x (S, Ev), keep mask */
static void ref_sdpa(double *out, const double *q, const double *k, const double *v, int L,
                     int S, int E, int Ev, const bool *keep, const double *add, double scale) {
  for (int i = 0; i < L; i++) {
    double sc[16], m = -INFINITY, z = 0;
    for (int j = 0; j < S; j++) {
      double s = 0;
      for (int e = 0; e < E; e++) s += q[i * E + e] * k[j * E + e];
      s = s * scale + (add ? add[i * S + j] : 0);
      if (keep && !keep[i * S + j]) s = -INFINITY;
      sc[j] = s;
      m = fmax(m, s);
    }
    for (int j = 0; j < S; j++) z += exp(sc[j] - m);
    for (int c = 0; c < Ev; c++) {
      double o = 0;
      for (int j = 0; j < S; j++) o += exp(sc[j] - m) / z * v[j * Ev + c];
      out[i * Ev + c] = o;
    }
  }
}

static void test_sdpa_values(void) {
  enum { L = 3, S = 4, E = 2, Ev = 3 };
  double q[L * E], k[S * E], v[S * Ev], ref[L * Ev];
  uint64_t seed = 5;
  for (int i = 0; i < L * E; i++) q[i] = gradcheck_weight(&seed) * 2;
  for (int i = 0; i < S * E; i++) k[i] = gradcheck_weight(&seed) * 2;
  for (int i = 0; i < S * Ev; i++) v[i] = gradcheck_weight(&seed);
  int64_t qs[3] = {1, L, E}, ks[3] = {1, S, E}, vs[3] = {1, S, Ev};
  lt_tensor *Q = T64(q, qs, 3), *K = T64(k, ks, 3), *V = T64(v, vs, 3);
  lt_tensor *o = lt_scaled_dot_product_attention(Q, K, V, NULL, 0, false, 0);
  ref_sdpa(ref, q, k, v, L, S, E, Ev, NULL, NULL, 1 / sqrt(2.0));
  CHECK(maxdiff(o, ref, L * Ev) < 1e-12, "sdpa plain");
  lt_tensor_release(o);
  bool causal[L * S];
  for (int i = 0; i < L; i++)
    for (int j = 0; j < S; j++) causal[i * S + j] = j <= i;  /* top-left aligned */
  o = lt_scaled_dot_product_attention(Q, K, V, NULL, 0, true, 0.7);
  ref_sdpa(ref, q, k, v, L, S, E, Ev, causal, NULL, 0.7);
  CHECK(maxdiff(o, ref, L * Ev) < 1e-12, "sdpa causal L != S");
  lt_tensor_release(o);
  uint8_t km[L * S] = {1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1};
  bool keep[L * S];
  for (int i = 0; i < L * S; i++) keep[i] = km[i];
  int64_t ms[2] = {L, S};
  lt_tensor *M = lt_from_data(km, LT_DTYPE_U8, ms, 2, LT_DTYPE_BOOL, lt_cpu());
  o = lt_scaled_dot_product_attention(Q, K, V, M, 0, false, 0);
  ref_sdpa(ref, q, k, v, L, S, E, Ev, keep, NULL, 1 / sqrt(2.0));
  CHECK(maxdiff(o, ref, L * Ev) < 1e-12, "sdpa bool mask");
  lt_tensor_release(o);
  double add[L * S];
  for (int i = 0; i < L * S; i++) add[i] = 0.3 * i - 1;
  lt_tensor *A = T64(add, ms, 2);
  o = lt_scaled_dot_product_attention(Q, K, V, A, 0, false, 0);
  ref_sdpa(ref, q, k, v, L, S, E, Ev, NULL, add, 1 / sqrt(2.0));
  CHECK(maxdiff(o, ref, L * Ev) < 1e-12, "sdpa float mask");
  lt_tensor_release(o);
  lt_tensor_release(A);
  lt_tensor_release(M);
  lt_tensor_release(Q);
  lt_tensor_release(K);
  lt_tensor_release(V);
}

static void test_dropout_values(void) {
  int64_t s[1] = {10000};
  lt_tensor *x = lt_ones(s, 1, LT_DTYPE_F32, lt_cpu());
  lt_tensor *y = lt_dropout(x, 0.0, true);
  CHECK(y == x, "dropout p=0 returns the input itself");
  lt_tensor_release(y);
  y = lt_dropout(x, 0.5, false);
  CHECK(y == x, "dropout in eval returns the input itself");
  lt_tensor_release(y);
  lt_manual_seed(3);
  y = lt_dropout(x, 0.25, true);
  double *h = y ? host(y) : NULL;
  int kept = 0, bad = 0;
  for (int i = 0; h && i < 10000; i++) {
    if (h[i] == 0) continue;
    if (fabs(h[i] - 1 / 0.75) < 1e-6) kept++;
    else bad++;
  }
  CHECK(h && bad == 0 && abs(kept - 7500) < 200, "dropout keeps ~1-p scaled by 1/(1-p): %d", kept);
  free(h);
  lt_manual_seed(3);
  lt_tensor *y2 = lt_dropout(x, 0.25, true);
  double z[1] = {0};
  lt_tensor *d = y2 ? lt_binary(LT_BINARY_SUB, y, y2) : NULL;
  lt_tensor *ad = d ? lt_unary(LT_UNARY_ABS, d) : NULL;
  lt_tensor *dm = ad ? lt_reduce(LT_REDUCE_MAX, ad, NULL, 0, false, 0, NULL, 0) : NULL;
  CHECK(maxdiff(dm, z, 1) == 0, "same seed, same dropout mask");
  lt_tensor_release(dm);
  lt_tensor_release(ad);
  lt_tensor_release(d);
  lt_tensor_release(y2);
  lt_tensor_release(y);
  y = lt_dropout(x, 1.0, true);
  lt_tensor *sy = y ? lt_reduce(LT_REDUCE_SUM, y, NULL, 0, false, 0, NULL, 0) : NULL;
  CHECK(sy && item(sy) == 0, "dropout p=1 gives zeros");
  lt_tensor_release(sy);
  lt_tensor_release(y);
  y = lt_dropout(x, 1.5, true);
  CHECK(!y && errmsg_has("between 0 and 1"), "dropout p range");
  lt_tensor_release(x);
}

/* A batch big enough for several im2col chunks (~16M elements each) gives
** the same output and gradients as one image at a time. */
static lt_tensor *sum_all(lt_tensor *t) {
  return t ? lt_reduce(LT_REDUCE_SUM, t, NULL, 0, false, 0, NULL, 0) : NULL;
}

static void test_conv2d_chunks(void) {
  int64_t xs[4] = {4, 2, 512, 512}, ws[4] = {3, 2, 3, 3}, bs[1] = {3};
  lt_manual_seed(1);
  lt_tensor *x = lt_randn(xs, 4, LT_DTYPE_F32, lt_cpu());
  lt_tensor *w = lt_randn(ws, 4, LT_DTYPE_F32, lt_cpu());
  lt_tensor *b = lt_randn(bs, 1, LT_DTYPE_F32, lt_cpu());
  lt_tensor *r = lt_rand((int64_t[]){4, 3, 512, 512}, 4, LT_DTYPE_F32, lt_cpu());
  lt_tensor_set_requires_grad(x, true);
  lt_tensor_set_requires_grad(w, true);
  lt_tensor_set_requires_grad(b, true);
  lt_conv2d_opts o = {{1, 1}, {1, 1}, {1, 1}, 1};  /* col: 4.7M elements an image */
  lt_tensor *y = lt_conv2d(x, w, b, &o);
  lt_tensor *yr = y ? lt_binary(LT_BINARY_MUL, y, r) : NULL;
  lt_tensor *l = sum_all(yr);
  CHECK(l && lt_backward(l, NULL, false) == LT_OK, "chunked conv backward");
  double *gx = x->grad ? host(x->grad) : NULL;
  double *gw = w->grad ? host(w->grad) : NULL, *gb = b->grad ? host(b->grad) : NULL;
  double *hy = y ? host(y) : NULL;
  double accw[54] = {0}, accb[3] = {0}, errx = 0, erry = 0, scale = 0;
  for (int i = 0; i < 4 && gx && gw && gb && hy; i++) {
    lt_tensor *xi = lt_narrow(x, 0, i, 1), *ri = lt_narrow(r, 0, i, 1);
    lt_tensor *xd = lt_detach(xi);
    lt_tensor *xc = lt_contiguous(xd);
    lt_tensor_set_requires_grad(xc, true);
    lt_tensor_release(w->grad);
    lt_tensor_release(b->grad);
    w->grad = b->grad = NULL;
    lt_tensor *yi = lt_conv2d(xc, w, b, &o);
    lt_tensor *yri = yi ? lt_binary(LT_BINARY_MUL, yi, ri) : NULL;
    lt_tensor *li = sum_all(yri);
    if (li && lt_backward(li, NULL, false) == LT_OK && xc->grad) {
      double *g1 = host(xc->grad), *y1 = host(yi), *w1 = host(w->grad), *b1 = host(b->grad);
      int64_t nx = 2 * 512 * 512, ny = 3 * 512 * 512;
      for (int64_t k = 0; k < nx; k++) errx = fmax(errx, fabs(g1[k] - gx[i * nx + k]));
      for (int64_t k = 0; k < ny; k++) erry = fmax(erry, fabs(y1[k] - hy[i * ny + k]));
      for (int k = 0; k < 54; k++) accw[k] += w1[k];
      for (int k = 0; k < 3; k++) accb[k] += b1[k];
      free(g1), free(y1), free(w1), free(b1);
    } else {
      errx = INFINITY;
    }
    lt_tensor *tmp[8] = {xi, ri, xd, xc, yi, yri, li, NULL};
    release_n(tmp, 8);
  }
  for (int k = 0; k < 54 && gw; k++) scale = fmax(scale, fabs(gw[k]));
  for (int k = 0; k < 3 && gb; k++) scale = fmax(scale, fabs(gb[k]));
  double errw = 0, errb = 0;
  for (int k = 0; k < 54 && gw; k++) errw = fmax(errw, fabs(accw[k] - gw[k]));
  for (int k = 0; k < 3 && gb; k++) errb = fmax(errb, fabs(accb[k] - gb[k]));
  CHECK(erry < 1e-5 && errx < 1e-5, "chunked conv: y err %g, dx err %g", erry, errx);
  CHECK(scale > 0 && errw < 1e-5 * scale && errb < 1e-5 * scale,
        "chunked conv: dW err %g (scale %g), db err %g", errw, scale, errb);
  free(gx), free(gw), free(gb), free(hy);
  lt_tensor *tmp[7] = {x, w, b, r, y, yr, l};
  release_n(tmp, 7);
}

/* ---------------------------------------------------------------- gradient checks */

static lt_tensor *g_softmax(lt_tensor **in, void *ud) { (void)ud; return lt_softmax(in[0], 1); }
static lt_tensor *g_log_softmax(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_log_softmax(in[0], -1);
}

static lt_tensor *g_conv(lt_tensor **in, void *ud) {
  return lt_conv2d(in[0], in[1], in[2], (const lt_conv2d_opts *)ud);
}

static lt_tensor *g_maxpool(lt_tensor **in, void *ud) {
  return lt_max_pool2d(in[0], (const lt_pool2d_opts *)ud, NULL);
}
static lt_tensor *g_avgpool(lt_tensor **in, void *ud) {
  return lt_avg_pool2d(in[0], (const lt_pool2d_opts *)ud);
}
static lt_tensor *g_adaptive(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_adaptive_avg_pool2d(in[0], 3, 4);
}
static lt_tensor *g_bn_train(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_batch_norm(in[0], NULL, NULL, in[1], in[2], true, 0.1, 1e-5);
}
static lt_tensor *g_bn_eval(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_batch_norm(in[0], in[3], in[4], in[1], in[2], false, 0.1, 1e-5);
}
static lt_tensor *g_layer_norm(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_layer_norm(in[0], 2, in[1], in[2], 1e-5);
}
static lt_tensor *g_embedding(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_embedding(in[0], in[1], 4, 0);
}
static lt_tensor *g_sdpa(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_scaled_dot_product_attention(in[0], in[1], in[2], in[3], 0, true, 0);
}
static lt_tensor *g_sdpa_float(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_scaled_dot_product_attention(in[0], in[1], in[2], in[3], 0, false, 0.5);
}
static lt_tensor *g_ce(lt_tensor **in, void *ud) {
  return lt_cross_entropy(in[0], in[1], in[2], -100, 0.2, (const char *)ud, 0);
}
static lt_tensor *g_ce_probs(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_cross_entropy(in[0], in[1], in[2], -100, 0.1, "mean", 0);
}
static lt_tensor *g_nll(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_nll_loss(in[0], in[1], in[2], 1, "mean", 0);
}
static lt_tensor *g_dropout(lt_tensor **in, void *ud) {
  (void)ud;
  lt_manual_seed(11);
  return lt_dropout(in[0], 0.4, true);
}

static void test_gradchecks(void) {
  int64_t s345[3] = {3, 4, 5};
  lt_tensor *a = gradcheck_input(s345, 3, -2, 2, 1);
  CHECK(gradcheck("softmax", g_softmax, NULL, &a, 1) == 0, "softmax gradcheck");
  CHECK(gradcheck("log_softmax", g_log_softmax, NULL, &a, 1) == 0, "log_softmax gradcheck");
  CHECK(gradcheck("dropout", g_dropout, NULL, &a, 1) == 0, "dropout gradcheck");
  lt_tensor_release(a);

  {  /* conv2d: groups 2, stride (2,1), padding (1,2), dilation (2,1) */
    int64_t xs[4] = {2, 4, 5, 6}, ws[4] = {6, 2, 3, 2}, bs[1] = {6};
    lt_tensor *in[3] = {gradcheck_input(xs, 4, -1, 1, 2), gradcheck_input(ws, 4, -1, 1, 3),
                        gradcheck_input(bs, 1, -1, 1, 4)};
    lt_conv2d_opts o = {{2, 1}, {1, 2}, {2, 1}, 2};
    CHECK(gradcheck("conv2d", g_conv, &o, in, 3) == 0, "conv2d gradcheck");
    lt_conv2d_opts o1 = {{1, 1}, {0, 0}, {1, 1}, 1};
    int64_t w1s[4] = {3, 4, 1, 1}, b1s[1] = {3};
    lt_tensor *in1[3] = {in[0], gradcheck_input(w1s, 4, -1, 1, 5), gradcheck_input(b1s, 1, -1, 1, 6)};
    CHECK(gradcheck("conv2d 1x1", g_conv, &o1, in1, 3) == 0, "conv2d 1x1 gradcheck");
    lt_tensor *in2[3] = {in[0], in[1], NULL};
    lt_conv2d_opts o2 = {{1, 2}, {0, 1}, {1, 1}, 2};
    CHECK(gradcheck("conv2d no bias", g_conv, &o2, in2, 3) == 0, "conv2d no bias gradcheck");
    release_n(in, 3);
    lt_tensor_release(in1[1]);
    lt_tensor_release(in1[2]);
  }
  {  /* pools */
    int64_t xs[4] = {2, 2, 5, 6};
    lt_tensor *x = gradcheck_input(xs, 4, -3, 3, 7);
    lt_pool2d_opts mp = {{3, 2}, {2, 2}, {1, 1}, {1, 1}, true, true, 0};
    CHECK(gradcheck("max_pool2d", g_maxpool, &mp, &x, 1) == 0, "max_pool2d gradcheck");
    lt_pool2d_opts mpd = {{2, 2}, {1, 2}, {1, 0}, {2, 2}, false, true, 0};
    CHECK(gradcheck("max_pool2d dilation", g_maxpool, &mpd, &x, 1) == 0,
          "max_pool2d dilation gradcheck");
    lt_pool2d_opts ap = {{3, 3}, {2, 2}, {1, 1}, {1, 1}, true, false, 0};
    CHECK(gradcheck("avg_pool2d", g_avgpool, &ap, &x, 1) == 0, "avg_pool2d gradcheck");
    ap.count_include_pad = true;
    CHECK(gradcheck("avg_pool2d incl pad", g_avgpool, &ap, &x, 1) == 0,
          "avg_pool2d count_include_pad gradcheck");
    CHECK(gradcheck("adaptive_avg_pool2d", g_adaptive, NULL, &x, 1) == 0,
          "adaptive_avg_pool2d gradcheck");
    lt_tensor_release(x);
  }
  {  /* batch_norm train (N,C,H,W) and eval */
    int64_t xs[4] = {4, 3, 2, 2}, cs[1] = {3};
    lt_tensor *in[5] = {gradcheck_input(xs, 4, -2, 2, 8), gradcheck_input(cs, 1, 0.5, 1.5, 9),
                        gradcheck_input(cs, 1, -1, 1, 10), gradcheck_input(cs, 1, -1, 1, 11),
                        gradcheck_input(cs, 1, 0.5, 2, 12)};
    CHECK(gradcheck("batch_norm train", g_bn_train, NULL, in, 3) == 0,
          "batch_norm train gradcheck");
    bool wrt[5] = {true, true, true, false, false};
    CHECK(gradcheck_ex("batch_norm eval", g_bn_eval, NULL, in, 5, wrt, 1e-5, 1e-3) == 0,
          "batch_norm eval gradcheck");
    release_n(in, 5);
  }
  {  /* layer_norm over the last two dims */
    int64_t xs[3] = {3, 4, 5}, ws[2] = {4, 5};
    lt_tensor *in[3] = {gradcheck_input(xs, 3, -2, 2, 13), gradcheck_input(ws, 2, 0.5, 1.5, 14),
                        gradcheck_input(ws, 2, -1, 1, 15)};
    CHECK(gradcheck("layer_norm", g_layer_norm, NULL, in, 3) == 0, "layer_norm gradcheck");
    release_n(in, 3);
  }
  {  /* embedding with padding_idx 4 (not used by the ids, so the check is exact) */
    int64_t ws[2] = {5, 3}, is[2] = {2, 3}, iv[6] = {0, 2, 2, 3, 0, 1};
    lt_tensor *in[2] = {gradcheck_input(ws, 2, -1, 1, 16), I64(iv, is, 2)};
    CHECK(gradcheck("embedding", g_embedding, NULL, in, 2) == 0, "embedding gradcheck");
    release_n(in, 2);
  }
  {  /* sdpa causal + bool mask, and float mask */
    int64_t qs[3] = {2, 3, 4}, ks[3] = {2, 5, 4}, vs[3] = {2, 5, 3}, ms[2] = {3, 5};
    uint8_t km[15] = {1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1};
    lt_tensor *in[4] = {gradcheck_input(qs, 3, -1, 1, 17), gradcheck_input(ks, 3, -1, 1, 18),
                        gradcheck_input(vs, 3, -1, 1, 19),
                        lt_from_data(km, LT_DTYPE_U8, ms, 2, LT_DTYPE_BOOL, lt_cpu())};
    CHECK(gradcheck("sdpa causal+mask", g_sdpa, NULL, in, 4) == 0, "sdpa gradcheck");
    lt_tensor_release(in[3]);
    in[3] = gradcheck_input(ms, 2, -1, 1, 20);
    CHECK(gradcheck("sdpa float mask", g_sdpa_float, NULL, in, 4) == 0,
          "sdpa float mask gradcheck (mask too)");
    release_n(in, 4);
  }
  {  /* cross_entropy (N, C, d) with smoothing, ignore_index, weight */
    int64_t xs[3] = {3, 4, 2}, ts[2] = {3, 2}, tv[6] = {1, -100, 3, 0, 2, 2}, wsz[1] = {4};
    lt_tensor *in[3] = {gradcheck_input(xs, 3, -2, 2, 21), I64(tv, ts, 2),
                        gradcheck_input(wsz, 1, 0.2, 2, 22)};
    bool wrt[3] = {true, false, false};
    CHECK(gradcheck_ex("cross_entropy mean", g_ce, "mean", in, 3, wrt, 1e-5, 1e-3) == 0,
          "cross_entropy mean gradcheck");
    CHECK(gradcheck_ex("cross_entropy none", g_ce, "none", in, 3, wrt, 1e-5, 1e-3) == 0,
          "cross_entropy none gradcheck");
    lt_tensor *in2[3] = {in[0], in[1], NULL};
    CHECK(gradcheck("cross_entropy sum", g_ce, "sum", in2, 3) == 0,
          "cross_entropy sum gradcheck");
    lt_tensor *pt = gradcheck_input(xs, 3, 0, 1, 23);
    lt_tensor *in3[3] = {in[0], pt, in[2]};
    bool wrt3[3] = {true, true, false};
    CHECK(gradcheck_ex("cross_entropy probs", g_ce_probs, NULL, in3, 3, wrt3, 1e-5, 1e-3) == 0,
          "cross_entropy probability targets gradcheck");
    lt_tensor_release(pt);
    release_n(in, 3);
  }
  {  /* nll_loss with weight and ignore_index 1 */
    int64_t xs[2] = {5, 3}, ts[1] = {5}, tv[5] = {0, 1, 2, 2, 0}, wsz[1] = {3};
    lt_tensor *in[3] = {gradcheck_input(xs, 2, -2, 0, 24), I64(tv, ts, 1),
                        gradcheck_input(wsz, 1, 0.5, 2, 25)};
    bool wrt[3] = {true, false, false};
    CHECK(gradcheck_ex("nll_loss", g_nll, NULL, in, 3, wrt, 1e-5, 1e-3) == 0,
          "nll_loss gradcheck");
    release_n(in, 3);
  }
}

/* ---------------------------------------------------------------- random */

static void test_random(void) {
  int64_t s[1] = {1000};
  lt_manual_seed(123);
  CHECK(lt_initial_seed() == 123, "initial_seed");
  lt_tensor *a = lt_randn(s, 1, LT_DTYPE_F32, lt_cpu());
  uint64_t seed, off;
  lt_rng_get_state(&seed, &off);
  CHECK(seed == 123 && off == 250, "offset advanced by ceil(n/4): %llu", (unsigned long long)off);
  lt_manual_seed(123);
  lt_tensor *b = lt_randn(s, 1, LT_DTYPE_F32, lt_cpu());
  double *ha = a ? host(a) : NULL;
  CHECK(ha && maxdiff(b, ha, 1000) == 0, "same seed, same randn");
  double mean = 0, var = 0;
  for (int i = 0; ha && i < 1000; i++) mean += ha[i] / 1000;
  for (int i = 0; ha && i < 1000; i++) var += (ha[i] - mean) * (ha[i] - mean) / 999;
  CHECK(fabs(mean) < 0.15 && fabs(var - 1) < 0.15, "randn moments %g %g", mean, var);
  /* the stream of backend.h: Box-Muller on Philox words of (seed, offset 0) */
  {
    uint32_t ctr[4] = {0, 0, 0, 0}, key[2] = {123, 0}, r[4];
    lt_philox4x32_10(ctr, key, r);
    float u = (float)r[0] * 2.3283064365386963e-10f + 1.1641532182693481e-10f;
    float v = (float)r[1] * 2.3283064365386963e-10f * 6.2831853071795864f +
              2.3283064365386963e-10f * 3.1415926535897932f;
    float sr = sqrtf(-2.0f * logf(u));
    CHECK(ha && fabs(ha[0] - sr * sinf(v)) < 1e-5 && fabs(ha[1] - sr * cosf(v)) < 1e-5,
          "randn follows the documented Philox/Box-Muller stream: %g vs %g", ha ? ha[0] : 0,
          (double)(sr * sinf(v)));
  }
  free(ha);
  release_n(&a, 1);
  release_n(&b, 1);

  /* get/set state reproduces */
  lt_rng_get_state(&seed, &off);
  a = lt_rand(s, 1, LT_DTYPE_F64, lt_cpu());
  lt_rng_set_state(seed, off);
  b = lt_rand(s, 1, LT_DTYPE_F64, lt_cpu());
  ha = a ? host(a) : NULL;
  CHECK(ha && maxdiff(b, ha, 1000) == 0, "set_state reproduces rand");
  bool inrange = ha != NULL;
  for (int i = 0; ha && i < 1000; i++) inrange = inrange && ha[i] > 0 && ha[i] <= 1;
  CHECK(inrange, "rand in (0, 1]");
  free(ha);
  lt_tensor_release(a);
  lt_tensor_release(b);

  /* randint */
  a = lt_randint(3, 7, s, 1, LT_DTYPE_I64, lt_cpu());
  ha = a ? host(a) : NULL;
  int hits[4] = {0};
  bool ok = ha != NULL;
  for (int i = 0; ha && i < 1000; i++) {
    ok = ok && ha[i] >= 3 && ha[i] < 7 && ha[i] == floor(ha[i]);
    if (ok) hits[(int)ha[i] - 3]++;
  }
  CHECK(ok && hits[0] > 150 && hits[3] > 150, "randint in [3, 7)");
  free(ha);
  lt_tensor_release(a);
  a = lt_randint(5, 5, s, 1, LT_DTYPE_I64, lt_cpu());
  CHECK(!a, "randint empty range is an error");

  /* randperm */
  lt_manual_seed(7);
  a = lt_randperm(100, LT_DTYPE_I64, lt_cpu(), 1);
  ha = a ? host(a) : NULL;
  int seen[101] = {0}, moved = 0;
  ok = ha != NULL;
  for (int i = 0; ha && i < 100; i++) {
    int vv = (int)ha[i];
    ok = ok && vv >= 1 && vv <= 100 && !seen[vv];
    if (ok) seen[vv] = 1;
    moved += vv != i + 1;
  }
  CHECK(ok && moved > 50, "randperm is a permutation of 1..100 (moved %d)", moved);
  lt_manual_seed(7);
  b = lt_randperm(100, LT_DTYPE_I64, lt_cpu(), 1);
  CHECK(ha && maxdiff(b, ha, 100) == 0, "randperm deterministic");
  free(ha);
  lt_tensor_release(a);
  lt_tensor_release(b);
  a = lt_randperm(0, LT_DTYPE_I64, lt_cpu(), 0);
  CHECK(a && lt_numel(a) == 0, "randperm(0)");
  lt_tensor_release(a);

  /* bernoulli */
  a = lt_bernoulli_p(s, 1, 0.0, LT_DTYPE_F32, lt_cpu());
  b = lt_bernoulli_p(s, 1, 1.0, LT_DTYPE_BOOL, lt_cpu());
  lt_tensor *sa = a ? lt_reduce(LT_REDUCE_SUM, a, NULL, 0, false, 0, NULL, 0) : NULL;
  lt_tensor *sb = b ? lt_reduce(LT_REDUCE_SUM, b, NULL, 0, false, 0, NULL, 0) : NULL;
  CHECK(item(sa) == 0 && item(sb) == 1000, "bernoulli p=0 / p=1");
  release_n(&sa, 1);
  release_n(&sb, 1);
  lt_tensor_release(a);
  lt_tensor_release(b);
  double pv[4] = {0, 1, 0.5, 0.5};
  int64_t ps[1] = {4};
  lt_tensor *p = T64(pv, ps, 1);
  a = lt_bernoulli(p);
  ha = a ? host(a) : NULL;
  CHECK(ha && a->dtype == LT_DTYPE_F64 && ha[0] == 0 && ha[1] == 1 &&
            (ha[2] == 0 || ha[2] == 1),
        "bernoulli(p tensor)");
  free(ha);
  lt_tensor_release(a);
  lt_tensor_release(p);

  /* uniform_/normal_ in place, also on a non-contiguous view */
  lt_tensor *m = lt_zeros((int64_t[]){20, 30}, 2, LT_DTYPE_F32, lt_cpu());
  lt_tensor *mt = lt_transpose(m, 0, 1);
  uint64_t v0 = m->storage->version;
  CHECK(lt_uniform_(mt, -2, 3) == LT_OK, "uniform_ on a transposed view");
  ha = host(m);
  ok = ha != NULL;
  double mn = 1e9, mx = -1e9;
  for (int i = 0; ha && i < 600; i++) {
    mn = fmin(mn, ha[i]);
    mx = fmax(mx, ha[i]);
  }
  CHECK(ok && mn >= -2 && mx <= 3 && mx - mn > 4, "uniform_ range [%g, %g]", mn, mx);
  CHECK(m->storage->version > v0, "uniform_ bumps the version");
  free(ha);
  CHECK(lt_normal_(m, 5, 0.01) == LT_OK, "normal_");
  lt_tensor *mm = lt_reduce(LT_REDUCE_MEAN, m, NULL, 0, false, 0, NULL, 0);
  CHECK_NEAR(item(mm), 5, 0.01);
  lt_tensor_release(mm);
  CHECK(lt_normal_(m, 0, -1) != LT_OK, "normal_ negative std");
  lt_tensor_release(mt);
  lt_tensor_release(m);

  /* multinomial */
  double pr[6] = {0, 1, 0, 0.2, 0.8, 0};
  int64_t prs[2] = {2, 3};
  p = T64(pr, prs, 2);
  a = lt_multinomial(p, 2000, 1);
  ha = a ? host(a) : NULL;
  int c1 = 0;
  ok = ha && a->shape[0] == 2 && a->shape[1] == 2000;
  for (int k = 0; ok && k < 2000; k++) {
    ok = ok && ha[k] == 2 && (ha[2000 + k] == 1 || ha[2000 + k] == 2);
    c1 += ha[2000 + k] == 1;
  }
  CHECK(ok && abs(c1 - 400) < 80, "multinomial draws by probability (%d of 2000 ~ 400)", c1);
  free(ha);
  lt_tensor_release(a);
  lt_tensor_release(p);
  double zp[3] = {0, 0, 0};
  int64_t zs[1] = {3};
  p = T64(zp, zs, 1);
  a = lt_multinomial(p, 1, 0);
  CHECK(!a && errmsg_has("sum of probabilities"), "multinomial zero row");
  lt_tensor_release(p);
}

/* ---------------------------------------------------------------- optimizers */

static void test_optim(void) {
  /* Adam trajectory vs PyTorch's single-tensor formula in double */
  double p0[3] = {1, -2, 3};
  int64_t s[1] = {3};
  lt_tensor *p = T32(p0, s, 1);
  lt_tensor *m = lt_zeros(s, 1, LT_DTYPE_F32, lt_cpu()), *v = lt_zeros(s, 1, LT_DTYPE_F32, lt_cpu());
  double rp[3] = {1, -2, 3}, rm[3] = {0}, rv[3] = {0};
  double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
  bool ok = true;
  for (int step = 1; step <= 5; step++) {
    double gv[3];
    for (int i = 0; i < 3; i++) gv[i] = 2 * rp[i] + 0.5 * i;  /* gradient of a quadratic */
    lt_tensor *g = T32(gv, s, 1);
    ok = ok && lt_adam_step(p, g, m, v, NULL, lr, b1, b2, eps, wd, false, false, step) == LT_OK;
    lt_tensor_release(g);
    for (int i = 0; i < 3; i++) {
      double gi = gv[i] + wd * rp[i];
      rm[i] = b1 * rm[i] + (1 - b1) * gi;
      rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
      double bc1 = 1 - pow(b1, step), bc2 = 1 - pow(b2, step);
      rp[i] -= lr / bc1 * rm[i] / (sqrt(rv[i]) / sqrt(bc2) + eps);
    }
  }
  CHECK(ok, "adam_step runs");
  CHECK(maxdiff(p, rp, 3) < 2e-5, "Adam trajectory after 5 steps");
  CHECK(maxdiff(m, rm, 3) < 2e-5, "Adam exp_avg");
  CHECK(maxdiff(v, rv, 3) < 2e-5, "Adam exp_avg_sq");
  /* by hand: first step of Adam moves each coordinate by lr (m/sqrt(v) = sign g) */
  lt_tensor *q = T32(p0, s, 1);
  lt_tensor *m2 = lt_zeros(s, 1, LT_DTYPE_F32, lt_cpu()), *v2 = lt_zeros(s, 1, LT_DTYPE_F32, lt_cpu());
  double gq[3] = {3, -1, 0.5}, q1[3] = {0.9, -1.9, 2.9};
  lt_tensor *g = T32(gq, s, 1);
  CHECK(lt_adam_step(q, g, m2, v2, NULL, 0.1, 0.9, 0.999, 1e-8, 0, false, false, 1) == LT_OK &&
            maxdiff(q, q1, 3) < 1e-6,
        "Adam first step is lr * sign(g)");
  /* AdamW decoupled decay: p *= 1 - lr*wd first */
  uint64_t ver = q->storage->version;
  CHECK(lt_adam_step(q, g, m2, v2, NULL, 0.1, 0.9, 0.999, 1e-8, 0.5, true, false, 2) == LT_OK,
        "AdamW step");
  CHECK(q->storage->version > ver, "optimizer step bumps the param version");
  lt_tensor *bad = lt_zeros((int64_t[]){4}, 1, LT_DTYPE_F32, lt_cpu());
  CHECK(lt_adam_step(q, g, bad, v2, NULL, 0.1, 0.9, 0.999, 1e-8, 0, false, false, 3) ==
            LT_ERR_SHAPE,
        "adam_step state shape checked");
  CHECK(lt_adam_step(q, g, m2, v2, NULL, 0.1, 0.9, 0.999, 1e-8, 0, false, false, 0) != LT_OK,
        "adam_step step >= 1");
  lt_tensor *g64 = T64(gq, s, 1);
  CHECK(lt_adam_step(q, g64, m2, v2, NULL, 0.1, 0.9, 0.999, 1e-8, 0, false, false, 3) ==
            LT_ERR_DTYPE,
        "adam_step grad dtype checked");
  lt_tensor_release(g64);
  lt_tensor_release(bad);

  /* SGD with momentum, two steps: buf = g; then buf = 0.9 buf + g */
  lt_tensor *r = T32(p0, s, 1), *buf = lt_zeros(s, 1, LT_DTYPE_F32, lt_cpu());
  CHECK(lt_sgd_step(r, g, buf, 0.1, 0.9, 0, 0, false, false, true) == LT_OK &&
            lt_sgd_step(r, g, buf, 0.1, 0.9, 0, 0, false, false, false) == LT_OK,
        "sgd steps");
  double sref[3];
  for (int i = 0; i < 3; i++) sref[i] = p0[i] - 0.1 * gq[i] - 0.1 * (1.9 * gq[i]);
  CHECK(maxdiff(r, sref, 3) < 1e-6, "SGD momentum trajectory");
  CHECK(lt_sgd_step(r, g, NULL, 0.1, 0.9, 0, 0, false, false, false) != LT_OK,
        "sgd momentum needs a buffer");
  CHECK(lt_sgd_step(r, g, NULL, 0.1, 0, 0, 0, false, false, false) == LT_OK, "plain sgd");

  /* RMSprop, one step: sq = (1-a) g^2; p -= lr g / (sqrt(sq) + eps) */
  lt_tensor *r2 = T32(p0, s, 1), *sq = lt_zeros(s, 1, LT_DTYPE_F32, lt_cpu());
  CHECK(lt_rmsprop_step(r2, g, sq, NULL, NULL, 0.01, 0.99, 1e-8, 0, 0, false) == LT_OK,
        "rmsprop step");
  for (int i = 0; i < 3; i++)
    sref[i] = p0[i] - 0.01 * gq[i] / (sqrt(0.01 * gq[i] * gq[i]) + 1e-8);
  CHECK(maxdiff(r2, sref, 3) < 1e-5, "RMSprop first step");

  /* total_norm / scale_ */
  lt_tensor *ts[2] = {g, p};
  double tn;
  double pp[3];
  lt_to_host(p, pp, LT_DTYPE_F64);
  double want = 0;
  for (int i = 0; i < 3; i++) want += gq[i] * gq[i] + pp[i] * pp[i];
  CHECK(lt_total_norm(ts, 2, 2, &tn) == LT_OK, "total_norm");
  CHECK_NEAR(tn, sqrt(want), 1e-5);
  CHECK(lt_total_norm(ts, 2, INFINITY, &tn) == LT_OK, "total_norm inf");
  double mxv = 3;
  for (int i = 0; i < 3; i++) mxv = fmax(mxv, fabs(pp[i]));
  CHECK_NEAR(tn, mxv, 1e-6);
  CHECK(lt_scale_(ts, 1, 0.5) == LT_OK, "scale_");
  double half[3] = {1.5, -0.5, 0.25};
  CHECK(maxdiff(g, half, 3) == 0, "scale_ values");

  lt_tensor_release(r2);
  lt_tensor_release(sq);
  lt_tensor_release(r);
  lt_tensor_release(buf);
  lt_tensor_release(g);
  lt_tensor_release(q);
  lt_tensor_release(m2);
  lt_tensor_release(v2);
  lt_tensor_release(p);
  lt_tensor_release(m);
  lt_tensor_release(v);
}

int main(void) {
  test_softmax_values();
  test_conv2d_values();
  test_conv2d_chunks();
  test_pool_values();
  test_loss_values();
  test_norm_values();
  test_embedding_values();
  test_sdpa_values();
  test_dropout_values();
  test_gradchecks();
  test_random();
  test_optim();
  CTEST_END();
}
