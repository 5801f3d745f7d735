/*
** test_cnn_fast.c - the CPU fast paths a small CNN runs through: im2col /
** col2im with padding (typed copies, all element widths), the 2x2 stride-2
** max pool (NaN and tie rules as PyTorch), per-channel float32 sums over
** dims (0, 2, 3), and conv2d's weight gradient from the forward's saved
** columns (same result as without them). Against naive loops here. CPU only.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_kernels.h"
#include "ctest.h"

static void fill(double *v, int64_t n, uint64_t seed) {
  for (int64_t i = 0; i < n; i++) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    v[i] = (double)((seed >> 11) % 2001) / 1000.0 - 1.0;
  }
}

static void test_im2col(void) {
  /* CNN-like 3x3 pad 1 stride 1, and stride 2 pad 1 */
  for (int q = 0; q < 2; q++) {
    lt_conv_geom g = {.n = 3, .c = 2, .h = 5, .w = 6, .kh = 3, .kw = 3, .sh = q + 1, .sw = q + 1,
                      .ph = 1, .pw = 1, .dh = 1, .dw = 1};
    g.oh = (g.h + 2 - 3) / g.sh + 1;
    g.ow = (g.w + 2 - 3) / g.sw + 1;
    int64_t nx = g.n * g.c * g.h * g.w, L = g.oh * g.ow, ncol = g.n * g.c * 9 * L;
    double *xd = malloc(nx * 8), *ref = malloc(ncol * 8);
    float *xf = malloc(nx * 4), *cf = malloc(ncol * 4), *dxf = malloc(nx * 4);
    uint16_t *xh = malloc(nx * 2), *ch = malloc(ncol * 2);
    fill(xd, nx, 3 + q);
    for (int64_t i = 0; i < nx; i++) {
      xf[i] = (float)xd[i];
      xh[i] = (uint16_t)(i * 37 + 1);  /* bit patterns: the 2-byte path only moves them */
    }
    for (int64_t b = 0; b < g.n * g.c; b++)
      for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 3; j++)
          for (int64_t oy = 0; oy < g.oh; oy++)
            for (int64_t ox = 0; ox < g.ow; ox++) {
              int64_t iy = oy * g.sh - 1 + i, ix = ox * g.sw - 1 + j;
              bool in = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
              ref[((b * 9) + i * 3 + j) * L + oy * g.ow + ox] =
                  in ? (double)(b * g.h * g.w + iy * g.w + ix) : -1;
            }
    CHECK(lt_cpu_im2col(cf, xf, LT_DTYPE_F32, &g) == LT_OK, "im2col f32");
    CHECK(lt_cpu_im2col(ch, xh, LT_DTYPE_BF16, &g) == LT_OK, "im2col bf16");
    bool okf = true, okh = true;
    for (int64_t k = 0; k < ncol; k++) {
      int64_t src = (int64_t)ref[k];
      okf = okf && cf[k] == (src < 0 ? 0.0f : xf[src]);
      okh = okh && ch[k] == (src < 0 ? 0 : xh[src]);
    }
    CHECK(okf, "im2col f32 vs naive (stride %d)", q + 1);
    CHECK(okh, "im2col 2-byte vs naive (stride %d)", q + 1);
    /* col2im: dx[src] = sum of the col entries that read it */
    for (int64_t k = 0; k < ncol; k++) cf[k] = (float)((k % 7) + 1);
    CHECK(lt_cpu_col2im(dxf, cf, LT_DTYPE_F32, &g) == LT_OK, "col2im f32");
    double *acc = calloc(nx, 8);
    for (int64_t k = 0; k < ncol; k++)
      if (ref[k] >= 0) acc[(int64_t)ref[k]] += cf[k];
    bool okc = true;
    for (int64_t i = 0; i < nx; i++) okc = okc && fabs(dxf[i] - acc[i]) < 1e-4;
    CHECK(okc, "col2im f32 vs naive (stride %d)", q + 1);
    free(acc); free(xd); free(ref); free(xf); free(cf); free(dxf); free(xh); free(ch);
  }
}

static void test_maxpool_2x2(void) {
  /* 2 planes of 5 x 7 (odd: the last row/column is dropped), NaN, ties */
  lt_pool_geom g = {.nc = 2, .h = 5, .w = 7, .oh = 2, .ow = 3, .kh = 2, .kw = 2, .sh = 2,
                    .sw = 2, .ph = 0, .pw = 0, .dh = 1, .dw = 1};
  float x[70], y[12];
  int64_t idx[12];
  double xd[70];
  fill(xd, 70, 9);
  for (int i = 0; i < 70; i++) x[i] = (float)xd[i];
  x[0] = x[1] = x[7] = x[8] = 0.5f;   /* all tied: first (0) */
  x[2] = NAN;                         /* NaN wins */
  x[3 + 7] = NAN;                     /* two NaNs: the later one's index, as PyTorch's loop */
  x[2] = NAN;
  x[35 + 4] = 2.0f; x[35 + 5] = 2.0f; /* tie on the top row: the first */
  CHECK(lt_cpu_max_pool2d(y, idx, x, LT_DTYPE_F32, &g) == LT_OK, "max_pool2d 2x2");
  bool ok = true;
  for (int64_t p = 0; p < 2; p++)
    for (int64_t oy = 0; oy < 2; oy++)
      for (int64_t ox = 0; ox < 3; ox++) {
        float m = -INFINITY;
        int64_t mi = -1;
        for (int64_t i = 0; i < 2; i++)
          for (int64_t j = 0; j < 2; j++) {
            int64_t k = (2 * oy + i) * 7 + 2 * ox + j;
            float v = x[p * 35 + k];
            if (mi < 0) mi = k;
            if (v > m || isnan(v)) { m = v; mi = k; }
          }
        int64_t o = (p * 2 + oy) * 3 + ox;
        ok = ok && idx[o] == mi && (isnan(m) ? isnan(y[o]) : y[o] == m);
      }
  CHECK(ok, "2x2 max pool vs naive (NaN, ties)");
  CHECK(idx[0] == 0 && idx[1] == 10 && isnan(y[1]), "tie keeps first, later NaN wins: %lld %lld",
        (long long)idx[0], (long long)idx[1]);
  CHECK(idx[6 + 2] == 4, "top-row tie keeps the first: %lld", (long long)idx[8]);
}

/* The vectorised rows (4 outputs at a time, then a tail): a 2 x 3 x 9 x 19
** input (ow 9 = two blocks of 4 + 1) with NaNs, ties and -inf placed in
** every lane position, against the naive loop. */
static void test_maxpool_2x2_wide(void) {
  enum { NC = 6, H = 9, W = 19, OH = 4, OW = 9 };
  lt_pool_geom g = {.nc = NC, .h = H, .w = W, .oh = OH, .ow = OW, .kh = 2, .kw = 2, .sh = 2,
                    .sw = 2, .ph = 0, .pw = 0, .dh = 1, .dw = 1};
  static float x[NC * H * W], y[NC * OH * OW];
  static int64_t idx[NC * OH * OW];
  static double xd[NC * H * W];
  fill(xd, NC * H * W, 31);
  for (int i = 0; i < NC * H * W; i++) {
    x[i] = (float)xd[i];
    if (i % 13 == 5) x[i] = NAN;
    else if (i % 11 == 3) x[i] = x[i - 1];       /* tie with the left neighbour */
    else if (i % 17 == 7) x[i] = x[i >= W ? i - W : i];  /* tie with the row above */
    else if (i % 23 == 2) x[i] = -INFINITY;
  }
  CHECK(lt_cpu_max_pool2d(y, idx, x, LT_DTYPE_F32, &g) == LT_OK, "max_pool2d 2x2 wide");
  int bad = 0;
  for (int64_t p = 0; p < NC; p++)
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++) {
        float m = -INFINITY;
        int64_t mi = -1;
        for (int64_t i = 0; i < 2; i++)
          for (int64_t j = 0; j < 2; j++) {
            int64_t k = (2 * oy + i) * W + 2 * ox + j;
            float v = x[p * H * W + k];
            if (mi < 0) mi = k;
            if (v > m || isnan(v)) { m = v; mi = k; }
          }
        int64_t o = (p * OH + oy) * OW + ox;
        if (!(idx[o] == mi && (isnan(m) ? isnan(y[o]) : y[o] == m))) bad++;
      }
  CHECK(bad == 0, "2x2 max pool, vectorised rows vs naive: %d outputs differ", bad);
}

static void test_channel_sum(void) {
  /* sum over (0, 2, 3) of a (3, 5, 4, 9) float32 tensor, and its mean */
  int64_t N = 3, C = 5, HW = 36, n = N * C * HW;
  double *xd = malloc(n * 8);
  float *x = malloc(n * 4), out[5], mo[5];
  fill(xd, n, 21);
  for (int64_t i = 0; i < n; i++) x[i] = (float)xd[i] * 1000.0f;
  lt_view in = {x, LT_DTYPE_F32, 4, {3, 5, 4, 9}, {C * HW, HW, 9, 1}};
  lt_view o = {out, LT_DTYPE_F32, 4, {1, 5, 1, 1}, {5, 1, 1, 1}};
  lt_view om = {mo, LT_DTYPE_F32, 4, {1, 5, 1, 1}, {5, 1, 1, 1}};
  CHECK(lt_cpu_reduce(LT_REDUCE_SUM, &o, NULL, &in, 0xd, 0, 0) == LT_OK, "channel sum");
  CHECK(lt_cpu_reduce(LT_REDUCE_MEAN, &om, NULL, &in, 0xd, 0, 0) == LT_OK, "channel mean");
  for (int64_t c = 0; c < C; c++) {
    double s = 0;
    for (int64_t b = 0; b < N; b++)
      for (int64_t i = 0; i < HW; i++) s += x[(b * C + c) * HW + i];
    CHECK(out[c] == (float)s, "channel %lld sum %.9g vs %.9g", (long long)c, out[c], s);
    CHECK(mo[c] == (float)(s / (double)(N * HW)), "channel %lld mean", (long long)c);
  }
  free(xd);
  free(x);
}

/* conv2d's dW with the forward's saved columns equals dW recomputed: run
** the same conv with x requiring grad only (no columns kept) and w too. */
static void test_conv_saved_cols(void) {
  int64_t xs[4] = {4, 3, 6, 5}, ws[4] = {5, 3, 3, 3};
  lt_manual_seed(5);
  lt_tensor *x = lt_randn(xs, 4, LT_DTYPE_F32, lt_cpu());
  lt_tensor *w = lt_randn(ws, 4, LT_DTYPE_F32, lt_cpu());
  lt_conv2d_opts o = {{1, 1}, {1, 1}, {1, 1}, 1};
  lt_tensor *dx[2] = {0}, *dw = NULL;
  for (int pass = 0; pass < 2; pass++) {
    lt_tensor_set_requires_grad(x, true);
    lt_tensor_set_requires_grad(w, pass == 1);
    lt_tensor *y = lt_conv2d(x, w, NULL, &o);
    lt_tensor *s = y ? lt_reduce(LT_REDUCE_SUM, y, NULL, 0, false, 0, NULL, 0) : NULL;
    CHECK(s && lt_backward(s, NULL, false) == LT_OK, "conv backward pass %d", pass);
    dx[pass] = x->grad;
    x->grad = NULL;
    if (pass == 1) {
      dw = w->grad;
      w->grad = NULL;
    }
    lt_tensor_release(s);
    lt_tensor_release(y);
  }
  double a[360], b[360], wd[135], xv[360], wv[135];
  CHECK(dx[0] && dx[1] && lt_to_host(dx[0], a, LT_DTYPE_F64) == LT_OK &&
            lt_to_host(dx[1], b, LT_DTYPE_F64) == LT_OK && !memcmp(a, b, sizeof a),
        "dx the same with and without saved columns");
  /* dW[o, c, i, j] = sum over n, oy, ox of x at the tap (dy = 1) */
  CHECK(dw && lt_to_host(dw, wd, LT_DTYPE_F64) == LT_OK && lt_to_host(x, xv, LT_DTYPE_F64) == LT_OK &&
            lt_to_host(w, wv, LT_DTYPE_F64) == LT_OK, "dw read");
  double err = 0;
  for (int64_t oc = 0; oc < 5; oc++)
    for (int64_t c = 0; c < 3; c++)
      for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 3; j++) {
          double s = 0;
          for (int64_t nn = 0; nn < 4; nn++)
            for (int64_t oy = 0; oy < 6; oy++)
              for (int64_t ox = 0; ox < 5; ox++) {
                int64_t iy = oy - 1 + i, ix = ox - 1 + j;
                if (iy >= 0 && iy < 6 && ix >= 0 && ix < 5) s += xv[((nn * 3 + c) * 6 + iy) * 5 + ix];
              }
          err = fmax(err, fabs(s - wd[((oc * 3 + c) * 3 + i) * 3 + j]));
        }
  CHECK(err < 1e-4, "dW from saved columns vs naive: %g", err);
  lt_tensor_release(dx[0]);
  lt_tensor_release(dx[1]);
  lt_tensor_release(dw);
  lt_tensor_release(x);
  lt_tensor_release(w);
}

int main(void) {
  test_im2col();
  test_maxpool_2x2();
  test_maxpool_2x2_wide();
  test_channel_sum();
  test_conv_saved_cols();
  CTEST_END();
}
