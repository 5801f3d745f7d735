/*
** check_backend.c - a standalone check of the CUDA backend table: dlopens
** luatrain_cuda.so (argv[1]), runs every entry against host references in
** double and prints "check_backend: N passed, M failed". Needs no engine
** (it only includes backend.h), so it runs before the rest builds.
** Build: cc -O1 -std=c11 -Iengine tests/gpu/check_backend.c -ldl -lm
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "backend.h"

static const lt_backend *B;
static char g_msg[1024];
static int n_pass, n_fail;

static lt_status err_fn(lt_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_msg, sizeof g_msg, fmt, ap);
  va_end(ap);
  return code;
}

#define CHECK(cond, ...)                                                  \
  do {                                                                    \
    if (cond) n_pass++;                                                   \
    else {                                                                \
      n_fail++;                                                           \
      printf("FAIL line %d: %s: ", __LINE__, #cond);                      \
      printf(__VA_ARGS__);                                                \
      printf(" [%s]\n", g_msg);                                           \
    }                                                                     \
  } while (0)
#define OK(call) CHECK((call) == LT_OK, "%s", #call)

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t rs = 12345;
static double frand(void) {  /* in [-1, 1) */
  rs = rs * 1664525u + 1013904223u;
  return (rs >> 8) / 8388608.0 - 1.0;
}

/* device buffers of float/double/int64 */
static void *dev_from(const void *host, size_t bytes) {
  void *d = B->alloc(bytes, 0);
  if (!d) { printf("alloc failed\n"); exit(2); }
  if (B->memcpy_(d, false, host, true, bytes, 0)) { printf("h2d: %s\n", g_msg); exit(2); }
  return d;
}
static void to_host(void *host, const void *d, size_t bytes) {
  if (B->memcpy_(host, true, d, false, bytes, 0)) printf("d2h: %s\n", g_msg);
}
static float *frandv(int64_t n) {
  float *f = malloc(n * 4);
  for (int64_t i = 0; i < n; i++) f[i] = (float)frand();
  return f;
}
static lt_view mkview(void *data, lt_dtype dt, int ndim, const int64_t *shape,
                      const int64_t *stride) {
  lt_view v;
  memset(&v, 0, sizeof v);
  v.data = data;
  v.dtype = dt;
  v.ndim = ndim;
  for (int d = 0; d < ndim; d++) v.shape[d] = shape[d];
  if (stride) for (int d = 0; d < ndim; d++) v.stride[d] = stride[d];
  else {
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) { v.stride[d] = s; s *= shape[d]; }
  }
  return v;
}
static double maxdiff_f(const float *a, const double *ref, int64_t n, int64_t *where) {
  double m = 0;
  *where = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs(a[i] - ref[i]) / (1 + fabs(ref[i]));
    if (d > m || d != d) { m = d != d ? 1e30 : d; *where = i; }
  }
  return m;
}
#define NEARV(got, ref, n, tol)                                                            \
  do {                                                                                     \
    int64_t w_;                                                                            \
    double md_ = maxdiff_f(got, ref, n, &w_);                                              \
    CHECK(md_ <= (tol), "max rel diff %g at %lld (got %g want %g)", md_, (long long)w_,   \
          (double)(got)[w_], (ref)[w_]);                                                   \
  } while (0)

/* ---------------------------------------------------------------- tests */

static void test_copy_fill(void) {
  int64_t shp[2] = {37, 53}, tst[2] = {1, 37};
  int64_t n = 37 * 53;
  float *h = frandv(n);
  void *d = dev_from(h, n * 4);
  /* transposed read into a float64 contiguous */
  void *o = B->alloc(n * 8, 0);
  lt_view src = mkview(d, LT_DTYPE_F32, 2, shp, tst);  /* element (i,j) at j*37+i */
  lt_view dst = mkview(o, LT_DTYPE_F64, 2, shp, NULL);
  OK(B->copy(&dst, &src));
  double *r = malloc(n * 8);
  to_host(r, o, n * 8);
  int bad = 0;
  for (int i = 0; i < 37; i++)
    for (int j = 0; j < 53; j++) if (r[i * 53 + j] != (double)h[j * 37 + i]) bad++;
  CHECK(bad == 0, "transposed f32->f64 copy: %d wrong", bad);
  /* f32 -> bf16 -> f32 */
  void *b16 = B->alloc(n * 2, 0), *back = B->alloc(n * 4, 0);
  lt_view vb = mkview(b16, LT_DTYPE_BF16, 2, shp, NULL), vf = mkview(d, LT_DTYPE_F32, 2, shp, NULL);
  lt_view vback = mkview(back, LT_DTYPE_F32, 2, shp, NULL);
  OK(B->copy(&vb, &vf));
  OK(B->copy(&vback, &vb));
  float *f = malloc(n * 4);
  to_host(f, back, n * 4);
  bad = 0;
  for (int64_t i = 0; i < n; i++) if (fabs(f[i] - h[i]) > 1e-2 * (1 + fabs(h[i]))) bad++;
  CHECK(bad == 0, "bf16 roundtrip: %d off", bad);
  /* float -> int64 truncation, -> bool */
  void *i64 = B->alloc(n * 8, 0);
  float *h2 = malloc(n * 4);
  for (int64_t i = 0; i < n; i++) h2[i] = h[i] * 10;
  B->memcpy_(d, false, h2, true, n * 4, 0);
  lt_view vi = mkview(i64, LT_DTYPE_I64, 2, shp, NULL);
  OK(B->copy(&vi, &vf));
  int64_t *ri = malloc(n * 8);
  to_host(ri, i64, n * 8);
  bad = 0;
  for (int64_t i = 0; i < n; i++) if (ri[i] != (int64_t)h2[i]) bad++;
  CHECK(bad == 0, "f32->i64: %d wrong", bad);
  /* fill with broadcast-free strided view: every other column */
  int64_t hs[2] = {37, 26}, hst[2] = {53, 2};
  lt_view vfill = mkview(d, LT_DTYPE_F32, 2, hs, hst);
  OK(B->fill(&vfill, 2.5));
  to_host(f, d, n * 4);
  bad = 0;
  for (int i = 0; i < 37; i++)
    for (int j = 0; j < 53; j++) {
      float want = (j % 2 == 0 && j / 2 < 26) ? 2.5f : h2[i * 53 + j];
      if (f[i * 53 + j] != want) bad++;
    }
  CHECK(bad == 0, "strided fill: %d wrong", bad);
  B->free(d, n * 4, 0); B->free(o, n * 8, 0); B->free(b16, n * 2, 0); B->free(back, n * 4, 0);
  B->free(i64, n * 8, 0);
  free(h); free(h2); free(r); free(f); free(ri);
}

static double href_unary(int op, double x, const double *p) {
  switch (op) {
    case LT_UNARY_NEG: return -x;
    case LT_UNARY_ABS: return fabs(x);
    case LT_UNARY_SIGN: return (x > 0) - (x < 0);
    case LT_UNARY_EXP: return exp(x);
    case LT_UNARY_LOG: return log(fabs(x) + 0.1);
    case LT_UNARY_LOG1P: return log1p(fabs(x));
    case LT_UNARY_EXPM1: return expm1(x);
    case LT_UNARY_SQRT: return sqrt(fabs(x) + 0.1);
    case LT_UNARY_RSQRT: return 1 / sqrt(fabs(x) + 0.1);
    case LT_UNARY_RECIPROCAL: return 1 / (fabs(x) + 0.1);
    case LT_UNARY_SQUARE: return x * x;
    case LT_UNARY_SIN: return sin(x);
    case LT_UNARY_COS: return cos(x);
    case LT_UNARY_TANH: return tanh(x);
    case LT_UNARY_SIGMOID: return 1 / (1 + exp(-x));
    case LT_UNARY_RELU: return x > 0 ? x : 0;
    case LT_UNARY_GELU: return 0.5 * x * (1 + erf(x / sqrt(2)));
    case LT_UNARY_GELU_TANH:
      return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case LT_UNARY_SILU: return x / (1 + exp(-x));
    case LT_UNARY_ERF: return erf(x);
    case LT_UNARY_FLOOR: return floor(x * 5);
    case LT_UNARY_CEIL: return ceil(x * 5);
    case LT_UNARY_ROUND: return nearbyint(x * 5);
    case LT_UNARY_TRUNC: return trunc(x * 5);
    case LT_UNARY_CLAMP: return x < p[0] ? p[0] : (x > p[1] ? p[1] : x);
    case LT_UNARY_LEAKY_RELU: return x > 0 ? x : x * p[0];
    case LT_UNARY_POW_SCALAR: return pow(fabs(x) + 0.1, p[0]);
    case LT_UNARY_RPOW_SCALAR: return pow(p[0], x);
    default: return 0;
  }
}
/* inputs shifted so log/sqrt/etc stay in domain */
static double unary_input(int op, double x) {
  switch (op) {
    case LT_UNARY_LOG: case LT_UNARY_SQRT: case LT_UNARY_RSQRT: case LT_UNARY_RECIPROCAL:
    case LT_UNARY_POW_SCALAR: return fabs(x) + 0.1;
    case LT_UNARY_LOG1P: return fabs(x);
    case LT_UNARY_FLOOR: case LT_UNARY_CEIL: case LT_UNARY_ROUND: case LT_UNARY_TRUNC:
      return x * 5;
    default: return x;
  }
}

static void test_unary(void) {
  int64_t n = 1000, shp[1] = {1000};
  float *h = frandv(n), *x = malloc(n * 4), *got = malloc(n * 4);
  double *ref = malloc(n * 8);
  void *dx = B->alloc(n * 4, 0), *dy = B->alloc(n * 4, 0);
  double params[2] = {-0.3, 0.4};
  for (int op = 0; op < LT_UNARY_COUNT; op++) {
    if (op == LT_UNARY_LOGICAL_NOT || op == LT_UNARY_ISNAN || op == LT_UNARY_ISINF) continue;
    const double *p = params;
    double pp[2] = {1.7, 0};
    if (op == LT_UNARY_LEAKY_RELU) pp[0] = 0.01, p = pp;
    if (op == LT_UNARY_POW_SCALAR || op == LT_UNARY_RPOW_SCALAR) p = pp;
    for (int64_t i = 0; i < n; i++) {
      x[i] = (float)unary_input(op, h[i]);
      ref[i] = href_unary(op, h[i], p);
    }
    B->memcpy_(dx, false, x, true, n * 4, 0);
    lt_view vi = mkview(dx, LT_DTYPE_F32, 1, shp, NULL), vo = mkview(dy, LT_DTYPE_F32, 1, shp, NULL);
    CHECK(B->unary(op, &vo, &vi, p) == LT_OK, "unary %d", op);
    to_host(got, dy, n * 4);
    int64_t w;
    double md = maxdiff_f(got, ref, n, &w);
    CHECK(md < 2e-5, "unary op %d: diff %g at %lld (x %g got %g want %g)", op, md, (long long)w,
          x[w], got[w], ref[w]);
  }
  /* isnan on a NaN */
  float nanv[3] = {1, NAN, INFINITY};
  B->memcpy_(dx, false, nanv, true, 12, 0);
  int64_t s3[1] = {3};
  lt_view vi = mkview(dx, LT_DTYPE_F32, 1, s3, NULL), vb = mkview(dy, LT_DTYPE_BOOL, 1, s3, NULL);
  OK(B->unary(LT_UNARY_ISNAN, &vb, &vi, NULL));
  unsigned char bb[3];
  to_host(bb, dy, 3);
  CHECK(bb[0] == 0 && bb[1] == 1 && bb[2] == 0, "isnan %d %d %d", bb[0], bb[1], bb[2]);
  /* backward of tanh, gelu_tanh, silu vs finite differences (float64) */
  int ops[6] = {LT_UNARY_TANH, LT_UNARY_GELU, LT_UNARY_GELU_TANH, LT_UNARY_SILU, LT_UNARY_SIGMOID,
                LT_UNARY_ERF};
  double *hx = malloc(n * 8), *hy = malloc(n * 8), *hdy = malloc(n * 8), *gd = malloc(n * 8);
  void *ex = B->alloc(n * 8, 0), *ey = B->alloc(n * 8, 0), *edy = B->alloc(n * 8, 0),
       *edx = B->alloc(n * 8, 0);
  for (int k = 0; k < 6; k++) {
    int op = ops[k];
    for (int64_t i = 0; i < n; i++) {
      hx[i] = 3 * h[i];
      hy[i] = href_unary(op, hx[i], params);
      hdy[i] = 0.5 + h[(i + 7) % n];
    }
    B->memcpy_(ex, false, hx, true, n * 8, 0);
    B->memcpy_(ey, false, hy, true, n * 8, 0);
    B->memcpy_(edy, false, hdy, true, n * 8, 0);
    lt_view vx = mkview(ex, LT_DTYPE_F64, 1, shp, NULL), vy = mkview(ey, LT_DTYPE_F64, 1, shp, NULL);
    lt_view vdy = mkview(edy, LT_DTYPE_F64, 1, shp, NULL), vdx = mkview(edx, LT_DTYPE_F64, 1, shp, NULL);
    CHECK(B->unary_backward(op, &vdx, &vdy, &vx, &vy, params) == LT_OK, "unary_backward %d", op);
    to_host(gd, edx, n * 8);
    double md = 0;
    for (int64_t i = 0; i < n; i++) {
      double e = 1e-6;
      double fd = (href_unary(op, hx[i] + e, params) - href_unary(op, hx[i] - e, params)) / (2 * e);
      double d = fabs(gd[i] - hdy[i] * fd);
      if (d > md) md = d;
    }
    CHECK(md < 1e-6, "unary_backward op %d vs finite differences: %g", op, md);
  }
  B->free(dx, n * 4, 0); B->free(dy, n * 4, 0);
  B->free(ex, n * 8, 0); B->free(ey, n * 8, 0); B->free(edy, n * 8, 0); B->free(edx, n * 8, 0);
  free(h); free(x); free(got); free(ref); free(hx); free(hy); free(hdy); free(gd);
}

static void test_binary(void) {
  /* a (64, 33) + b (33) broadcast on dim 0, a transposed storage */
  int64_t R = 64, C = 33, n = R * C, shp[2] = {64, 33};
  float *ha = frandv(n), *hb = frandv(C), *got = malloc(n * 4);
  double *ref = malloc(n * 8);
  void *da = dev_from(ha, n * 4), *db = dev_from(hb, C * 4), *dout = B->alloc(n * 4, 0);
  int64_t ast[2] = {1, 64}, bst[2] = {0, 1};
  lt_view va = mkview(da, LT_DTYPE_F32, 2, shp, ast), vb = mkview(db, LT_DTYPE_F32, 2, shp, bst);
  lt_view vo = mkview(dout, LT_DTYPE_F32, 2, shp, NULL);
  int ops[7] = {LT_BINARY_ADD, LT_BINARY_SUB, LT_BINARY_MUL, LT_BINARY_DIV, LT_BINARY_MAXIMUM,
                LT_BINARY_ATAN2, LT_BINARY_REMAINDER};
  for (int k = 0; k < 7; k++) {
    for (int i = 0; i < R; i++)
      for (int j = 0; j < C; j++) {
        double a = ha[j * R + i], b = hb[j];
        double r = 0;
        switch (ops[k]) {
          case LT_BINARY_ADD: r = a + b; break;
          case LT_BINARY_SUB: r = a - b; break;
          case LT_BINARY_MUL: r = a * b; break;
          case LT_BINARY_DIV: r = (float)a / (float)b; break;
          case LT_BINARY_MAXIMUM: r = a > b ? a : b; break;
          case LT_BINARY_ATAN2: r = atan2(a, b); break;
          case LT_BINARY_REMAINDER: r = a - b * floor(a / b); break;
        }
        ref[i * C + j] = r;
      }
    CHECK(B->binary(ops[k], &vo, &va, &vb, 0, false) == LT_OK, "binary %d", ops[k]);
    to_host(got, dout, n * 4);
    int64_t w;
    double md = maxdiff_f(got, ref, n, &w);
    CHECK(md < 1e-4, "binary op %d broadcast/strided: diff %g at %lld", ops[k], md, (long long)w);
  }
  /* reverse scalar: 2 - a */
  OK(B->binary(LT_BINARY_SUB, &vo, &va, NULL, 2.0, true));
  to_host(got, dout, n * 4);
  for (int i = 0; i < R; i++)
    for (int j = 0; j < C; j++) ref[i * C + j] = 2.0 - ha[j * R + i];
  NEARV(got, ref, n, 1e-6);
  /* comparison -> bool */
  void *dbool = B->alloc(n, 0);
  lt_view vbo = mkview(dbool, LT_DTYPE_BOOL, 2, shp, NULL);
  OK(B->binary(LT_BINARY_GT, &vbo, &va, &vb, 0, false));
  unsigned char *hbool = malloc(n);
  to_host(hbool, dbool, n);
  int bad = 0;
  for (int i = 0; i < R; i++)
    for (int j = 0; j < C; j++) if (hbool[i * C + j] != (ha[j * R + i] > hb[j])) bad++;
  CHECK(bad == 0, "gt: %d wrong", bad);
  /* where(cond, a, 7) */
  OK(B->where(&vo, &vbo, &va, NULL, 7.0));
  to_host(got, dout, n * 4);
  for (int i = 0; i < R; i++)
    for (int j = 0; j < C; j++) ref[i * C + j] = hbool[i * C + j] ? ha[j * R + i] : 7.0;
  NEARV(got, ref, n, 0);
  /* int64 floor_divide / remainder with negatives */
  int64_t ia[6] = {7, -7, 7, -7, 9, 0}, ib[6] = {2, 2, -2, -2, 3, 5}, io[6];
  int64_t s6[1] = {6};
  void *dia = dev_from(ia, 48), *dib = dev_from(ib, 48), *dio = B->alloc(48, 0);
  lt_view via = mkview(dia, LT_DTYPE_I64, 1, s6, NULL), vib = mkview(dib, LT_DTYPE_I64, 1, s6, NULL);
  lt_view vio = mkview(dio, LT_DTYPE_I64, 1, s6, NULL);
  OK(B->binary(LT_BINARY_FLOOR_DIVIDE, &vio, &via, &vib, 0, false));
  to_host(io, dio, 48);
  CHECK(io[0] == 3 && io[1] == -4 && io[2] == -4 && io[3] == 3 && io[4] == 3 && io[5] == 0,
        "int floor_divide %lld %lld %lld %lld", (long long)io[0], (long long)io[1],
        (long long)io[2], (long long)io[3]);
  OK(B->binary(LT_BINARY_REMAINDER, &vio, &via, &vib, 0, false));
  to_host(io, dio, 48);
  CHECK(io[0] == 1 && io[1] == 1 && io[2] == -1 && io[3] == -1, "int remainder %lld %lld %lld %lld",
        (long long)io[0], (long long)io[1], (long long)io[2], (long long)io[3]);
  B->free(da, n * 4, 0); B->free(db, C * 4, 0); B->free(dout, n * 4, 0); B->free(dbool, n, 0);
  B->free(dia, 48, 0); B->free(dib, 48, 0); B->free(dio, 48, 0);
  free(ha); free(hb); free(got); free(ref); free(hbool);
}

static void test_reduce(void) {
  int64_t R = 300, C = 1000, n = R * C;
  int64_t shp[2] = {300, 1000};
  float *h = frandv(n), *got = malloc(n * 4);
  double *ref = malloc(n * 8);
  void *d = dev_from(h, n * 4), *o = B->alloc(n * 8, 0), *ix = B->alloc(n * 8, 0);
  lt_view vin = mkview(d, LT_DTYPE_F32, 2, shp, NULL);
  /* sum over dim 0 (column mode), dim 1 (row mode) */
  int64_t s0[2] = {1, 1000}, s1[2] = {300, 1};
  lt_view o0 = mkview(o, LT_DTYPE_F32, 2, s0, NULL), o1 = mkview(o, LT_DTYPE_F32, 2, s1, NULL);
  OK(B->reduce(LT_REDUCE_SUM, &o0, NULL, &vin, 1u, 0, 0));
  to_host(got, o, C * 4);
  for (int j = 0; j < C; j++) { double s = 0; for (int i = 0; i < R; i++) s += h[i * C + j]; ref[j] = s; }
  NEARV(got, ref, C, 1e-5);
  OK(B->reduce(LT_REDUCE_SUM, &o1, NULL, &vin, 2u, 0, 0));
  to_host(got, o, R * 4);
  for (int i = 0; i < R; i++) { double s = 0; for (int j = 0; j < C; j++) s += h[i * C + j]; ref[i] = s; }
  NEARV(got, ref, R, 1e-5);
  /* max with indices over dim 1, base 1 */
  lt_view vix = mkview(ix, LT_DTYPE_I64, 2, s1, NULL);
  OK(B->reduce(LT_REDUCE_MAX, &o1, &vix, &vin, 2u, 0, 1));
  int64_t *hix = malloc(n * 8);
  to_host(got, o, R * 4);
  to_host(hix, ix, R * 8);
  int bad = 0;
  for (int i = 0; i < R; i++) {
    int bj = 0;
    for (int j = 1; j < C; j++) if (h[i * C + j] > h[i * C + bj]) bj = j;
    if (hix[i] != bj + 1 || got[i] != h[i * C + bj]) bad++;
  }
  CHECK(bad == 0, "max with indices: %d rows wrong", bad);
  /* argmin over dim 0 (column mode) */
  lt_view vix0 = mkview(ix, LT_DTYPE_I64, 2, s0, NULL);
  OK(B->reduce(LT_REDUCE_ARGMIN, &vix0, NULL, &vin, 1u, 0, 0));
  to_host(hix, ix, C * 8);
  bad = 0;
  for (int j = 0; j < C; j++) {
    int bi = 0;
    for (int i = 1; i < R; i++) if (h[i * C + j] < h[bi * C + j]) bi = i;
    if (hix[j] != bi) bad++;
  }
  CHECK(bad == 0, "argmin dim 0: %d wrong", bad);
  /* full argmax (flat), var, std, norm, logsumexp, mean over everything */
  int64_t one[2] = {1, 1};
  lt_view oall = mkview(o, LT_DTYPE_F32, 2, one, NULL), iall = mkview(ix, LT_DTYPE_I64, 2, one, NULL);
  OK(B->reduce(LT_REDUCE_ARGMAX, &iall, NULL, &vin, 3u, 0, 0));
  to_host(hix, ix, 8);
  int64_t bm = 0;
  for (int64_t i = 1; i < n; i++) if (h[i] > h[bm]) bm = i;
  CHECK(hix[0] == bm, "flat argmax %lld vs %lld", (long long)hix[0], (long long)bm);
  double s = 0, sq = 0, l1 = 0, mx = -1e30;
  for (int64_t i = 0; i < n; i++) { s += h[i]; l1 += fabs(h[i]); if (h[i] > mx) mx = h[i]; }
  double mean = s / n;
  for (int64_t i = 0; i < n; i++) sq += (h[i] - mean) * (h[i] - mean);
  double lse = 0;
  for (int64_t i = 0; i < n; i++) lse += exp(h[i] - mx);
  lse = mx + log(lse);
  struct { int op; double p; double want; } cases[] = {
    {LT_REDUCE_MEAN, 0, mean}, {LT_REDUCE_VAR, 1, sq / (n - 1)}, {LT_REDUCE_STD, 0, sqrt(sq / n)},
    {LT_REDUCE_NORM, 1, l1}, {LT_REDUCE_LOGSUMEXP, 0, lse}, {LT_REDUCE_SUM, 0, s}};
  for (int k = 0; k < 6; k++) {
    CHECK(B->reduce(cases[k].op, &oall, NULL, &vin, 3u, cases[k].p, 0) == LT_OK, "reduce %d", cases[k].op);
    to_host(got, o, 4);
    CHECK(fabs(got[0] - cases[k].want) <= 1e-4 * (1 + fabs(cases[k].want)),
          "full reduce op %d: %.8g vs %.8g", cases[k].op, got[0], cases[k].want);
  }
  /* middle dim of (6, 50, 7), as float64, with var */
  int64_t s3[3] = {6, 50, 7}, so[3] = {6, 1, 7};
  lt_view v3 = mkview(d, LT_DTYPE_F32, 3, s3, NULL), o3 = mkview(o, LT_DTYPE_F64, 3, so, NULL);
  OK(B->reduce(LT_REDUCE_VAR, &o3, NULL, &v3, 2u, 1, 0));
  double *gd = malloc(42 * 8);
  to_host(gd, o, 42 * 8);
  double md = 0;
  for (int a = 0; a < 6; a++)
    for (int c = 0; c < 7; c++) {
      double m = 0, q = 0;
      for (int b = 0; b < 50; b++) m += h[(a * 50 + b) * 7 + c];
      m /= 50;
      for (int b = 0; b < 50; b++) q += pow(h[(a * 50 + b) * 7 + c] - m, 2);
      md = fmax(md, fabs(gd[a * 7 + c] - q / 49));
    }
  CHECK(md < 1e-5, "var over middle dim: %g", md);
  /* int64 sum and bool any/all */
  int64_t hi[5] = {1, 2, 3, (int64_t)1 << 40, -5}, s5[1] = {5}, s1v[1] = {1};
  void *di = dev_from(hi, 40);
  lt_view vi = mkview(di, LT_DTYPE_I64, 1, s5, NULL), voi = mkview(o, LT_DTYPE_I64, 1, s1v, NULL);
  OK(B->reduce(LT_REDUCE_SUM, &voi, NULL, &vi, 1u, 0, 0));
  int64_t isum;
  to_host(&isum, o, 8);
  CHECK(isum == ((int64_t)1 << 40) + 1, "int64 sum %lld", (long long)isum);
  B->free(di, 40, 0);
  B->free(d, n * 4, 0); B->free(o, n * 8, 0); B->free(ix, n * 8, 0);
  free(h); free(got); free(ref); free(hix); free(gd);
}

static void gemm_ref(bool ta, bool tb, int m, int n, int k, const float *a, int lda,
                     const float *b, int ldb, double *c) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int p = 0; p < k; p++)
        s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
      c[i * n + j] = s;
    }
}

static void test_gemm(void) {
  int m = 96, n = 80, k = 112;
  float *a = frandv(m * k), *b = frandv(k * n), *got = malloc(m * n * 4 * 3);
  double *ref = malloc(m * n * 8 * 3);
  void *da = dev_from(a, m * k * 4), *db = dev_from(b, k * n * 4), *dc = B->alloc(m * n * 4 * 3, 0);
  for (int t = 0; t < 4; t++) {
    bool ta = t & 1, tb = t & 2;
    int lda = ta ? m : k, ldb = tb ? k : n;
    OK(B->gemm(LT_DTYPE_F32, ta, tb, m, n, k, 1.0, da, lda, 0, db, ldb, 0, 0.0, dc, n, 0, 1));
    to_host(got, dc, m * n * 4);
    gemm_ref(ta, tb, m, n, k, a, lda, b, ldb, ref);
    int64_t w;
    double md = maxdiff_f(got, ref, m * n, &w);
    CHECK(md < 1e-4, "gemm ta %d tb %d: %g", ta, tb, md);
  }
  /* batched, B shared (stride 0), beta = 1 accumulate */
  int batch = 3;
  float *a3 = frandv((int64_t)batch * m * k);
  void *da3 = dev_from(a3, (size_t)batch * m * k * 4);
  float *c0 = frandv((int64_t)batch * m * n);
  B->memcpy_(dc, false, c0, true, (size_t)batch * m * n * 4, 0);
  OK(B->gemm(LT_DTYPE_F32, false, false, m, n, k, 0.5, da3, k, (int64_t)m * k, db, n, 0, 1.0, dc,
             n, (int64_t)m * n, batch));
  to_host(got, dc, (size_t)batch * m * n * 4);
  for (int i = 0; i < batch; i++) {
    gemm_ref(false, false, m, n, k, a3 + (size_t)i * m * k, k, b, n, ref + (size_t)i * m * n);
    for (int e = 0; e < m * n; e++) ref[i * m * n + e] = 0.5 * ref[i * m * n + e] + c0[i * m * n + e];
  }
  NEARV(got, ref, (int64_t)batch * m * n, 1e-4);
  /* bf16 */
  int64_t sa[1] = {m * k}, sb[1] = {k * n}, sc[1] = {m * n};
  void *ha = B->alloc(m * k * 2, 0), *hb = B->alloc(k * n * 2, 0), *hc = B->alloc(m * n * 2, 0);
  lt_view fa = mkview(da, LT_DTYPE_F32, 1, sa, NULL), ba = mkview(ha, LT_DTYPE_BF16, 1, sa, NULL);
  lt_view fb = mkview(db, LT_DTYPE_F32, 1, sb, NULL), bb = mkview(hb, LT_DTYPE_BF16, 1, sb, NULL);
  lt_view bc = mkview(hc, LT_DTYPE_BF16, 1, sc, NULL), fc = mkview(dc, LT_DTYPE_F32, 1, sc, NULL);
  OK(B->copy(&ba, &fa));
  OK(B->copy(&bb, &fb));
  OK(B->gemm(LT_DTYPE_BF16, false, false, m, n, k, 1.0, ha, k, 0, hb, n, 0, 0.0, hc, n, 0, 1));
  OK(B->copy(&fc, &bc));
  to_host(got, dc, m * n * 4);
  gemm_ref(false, false, m, n, k, a, k, b, n, ref);
  NEARV(got, ref, m * n, 5e-2);
  /* odd ld (single row, ld 0) goes to the plain kernel */
  OK(B->gemm(LT_DTYPE_F32, false, false, 1, n, k, 1.0, da, 0, 0, db, n, 0, 0.0, dc, 0, 0, 1));
  to_host(got, dc, n * 4);
  gemm_ref(false, false, 1, n, k, a, k, b, n, ref);
  NEARV(got, ref, n, 1e-4);
  B->free(da, m * k * 4, 0); B->free(db, k * n * 4, 0); B->free(dc, m * n * 4 * 3, 0);
  B->free(da3, (size_t)batch * m * k * 4, 0); B->free(ha, m * k * 2, 0); B->free(hb, k * n * 2, 0);
  B->free(hc, m * n * 2, 0);
  free(a); free(b); free(got); free(ref); free(a3); free(c0);
}

static void test_index(void) {
  int64_t R = 50, C = 8, shp[2] = {50, 8};
  float *h = frandv(R * C), *got = malloc(4096 * 4);
  double *ref = malloc(4096 * 8);
  void *d = dev_from(h, R * C * 4), *o = B->alloc(4096 * 4, 0);
  int64_t idx[6] = {3, 1, 50, 3, 7, 20};  /* base 1 */
  int64_t s6[1] = {6};
  void *di = dev_from(idx, 48);
  lt_view vi = mkview(di, LT_DTYPE_I64, 1, s6, NULL), vin = mkview(d, LT_DTYPE_F32, 2, shp, NULL);
  int64_t os[2] = {6, 8};
  lt_view vo = mkview(o, LT_DTYPE_F32, 2, os, NULL);
  OK(B->index_select(&vo, &vin, 0, &vi, 1));
  to_host(got, o, 48 * 4);
  for (int i = 0; i < 6; i++) for (int j = 0; j < C; j++) ref[i * C + j] = h[(idx[i] - 1) * C + j];
  NEARV(got, ref, 48, 0);
  /* index_add: out (50, 8) zero, add src (6, 8) rows at idx, both paths */
  for (int det = 0; det < 2; det++) {
    void (*setdet)(int) = NULL;
    *(void **)&setdet = dlsym(RTLD_DEFAULT, "lt_cuda_set_deterministic");
    if (setdet) setdet(det);
    lt_view vz = mkview(o, LT_DTYPE_F32, 2, shp, NULL);
    OK(B->fill(&vz, 0));
    lt_view vsrc = mkview(d, LT_DTYPE_F32, 2, os, NULL);
    OK(B->index_add(&vz, 0, &vi, &vsrc, 1));
    to_host(got, o, R * C * 4);
    for (int e = 0; e < R * C; e++) ref[e] = 0;
    for (int i = 0; i < 6; i++) for (int j = 0; j < C; j++) ref[(idx[i] - 1) * C + j] += h[i * C + j];
    NEARV(got, ref, R * C, 1e-6);
    if (setdet) setdet(0);
  }
  /* gather along dim 1: out (50, 2) with index (50, 2) in [1, 8] */
  int64_t gi[100], gs[2] = {50, 2};
  for (int i = 0; i < 100; i++) gi[i] = 1 + (i * 7) % 8;
  void *dgi = dev_from(gi, 800);
  lt_view vgi = mkview(dgi, LT_DTYPE_I64, 2, gs, NULL), vgo = mkview(o, LT_DTYPE_F32, 2, gs, NULL);
  OK(B->gather(&vgo, &vin, 1, &vgi, 1));
  to_host(got, o, 400);
  for (int i = 0; i < 50; i++) for (int j = 0; j < 2; j++) ref[i * 2 + j] = h[i * C + gi[i * 2 + j] - 1];
  NEARV(got, ref, 100, 0);
  /* scatter add of value 1 into zeros (50, 8) */
  lt_view vz = mkview(o, LT_DTYPE_F32, 2, shp, NULL);
  OK(B->fill(&vz, 0));
  OK(B->scatter(&vz, 1, &vgi, NULL, 1.0, true, 1));
  to_host(got, o, R * C * 4);
  for (int e = 0; e < R * C; e++) ref[e] = 0;
  for (int i = 0; i < 50; i++) for (int j = 0; j < 2; j++) ref[i * C + gi[i * 2 + j] - 1] += 1;
  NEARV(got, ref, R * C, 0);
  /* check_index: 50 is fine with base 1, 51 is not */
  OK(B->check_index(&vi, 50, 1, false, 0));
  CHECK(B->check_index(&vi, 49, 1, false, 0) == LT_ERR_INDEX && strstr(g_msg, "50"),
        "check_index should name 50");
  idx[2] = -100;
  B->memcpy_(di, false, idx, true, 48, 0);
  OK(B->check_index(&vi, 50, 1, true, -100));
  B->free(d, R * C * 4, 0); B->free(o, 4096 * 4, 0); B->free(di, 48, 0); B->free(dgi, 800, 0);
  free(h); free(got); free(ref);
}

static void test_nn(void) {
  /* softmax rows of n = 10 and n = 3000, and inner = 5 */
  int64_t cfg[3][3] = {{64, 10, 1}, {4, 3000, 1}, {3, 7, 5}};
  for (int c = 0; c < 3; c++) {
    int64_t outer = cfg[c][0], n = cfg[c][1], inner = cfg[c][2], tot = outer * n * inner;
    float *h = frandv(tot), *got = malloc(tot * 4), *dyh = frandv(tot);
    double *ref = malloc(tot * 8), *lref = malloc(tot * 8);
    for (int64_t i = 0; i < tot; i++) h[i] *= 5;
    for (int64_t o = 0; o < outer; o++)
      for (int64_t q = 0; q < inner; q++) {
        double mx = -1e30, s = 0;
        for (int64_t j = 0; j < n; j++) mx = fmax(mx, h[(o * n + j) * inner + q]);
        for (int64_t j = 0; j < n; j++) s += exp(h[(o * n + j) * inner + q] - mx);
        for (int64_t j = 0; j < n; j++) {
          int64_t e = (o * n + j) * inner + q;
          ref[e] = exp(h[e] - mx) / s;
          lref[e] = h[e] - mx - log(s);
        }
      }
    void *d = dev_from(h, tot * 4), *y = B->alloc(tot * 4, 0), *dy = dev_from(dyh, tot * 4),
         *dx = B->alloc(tot * 4, 0);
    OK(B->softmax(y, d, LT_DTYPE_F32, outer, n, inner, false));
    to_host(got, y, tot * 4);
    NEARV(got, ref, tot, 1e-5);
    OK(B->softmax_backward(dx, y, dy, LT_DTYPE_F32, outer, n, inner, false));
    to_host(got, dx, tot * 4);
    double *gref = malloc(tot * 8);
    for (int64_t o = 0; o < outer; o++)
      for (int64_t q = 0; q < inner; q++) {
        double s = 0;
        for (int64_t j = 0; j < n; j++) { int64_t e = (o * n + j) * inner + q; s += dyh[e] * ref[e]; }
        for (int64_t j = 0; j < n; j++) { int64_t e = (o * n + j) * inner + q; gref[e] = ref[e] * (dyh[e] - s); }
      }
    NEARV(got, gref, tot, 1e-5);
    OK(B->softmax(y, d, LT_DTYPE_F32, outer, n, inner, true));
    to_host(got, y, tot * 4);
    NEARV(got, lref, tot, 1e-5);
    B->free(d, tot * 4, 0); B->free(y, tot * 4, 0); B->free(dy, tot * 4, 0); B->free(dx, tot * 4, 0);
    free(h); free(got); free(dyh); free(ref); free(lref); free(gref);
  }
  /* cross entropy with ignore and smoothing */
  int64_t rows = 33, C = 10, tot = rows * C;
  float *x = frandv(tot), *got = malloc(tot * 4);
  double *ref = malloc(tot * 8);
  int64_t tgt[33];
  for (int i = 0; i < rows; i++) tgt[i] = 1 + (i * 3) % C;
  tgt[5] = -100;
  void *dx = dev_from(x, tot * 4), *dt = dev_from(tgt, rows * 8), *loss = B->alloc(rows * 4, 0),
       *lse = B->alloc(rows * 4, 0), *dl = B->alloc(tot * 4, 0);
  double ls = 0.1;
  OK(B->cross_entropy(loss, lse, dx, dt, NULL, LT_DTYPE_F32, rows, C, 1, true, -100, ls));
  to_host(got, loss, rows * 4);
  double *lses = malloc(rows * 8);
  for (int r = 0; r < rows; r++) {
    double mx = -1e30, s = 0, sx = 0;
    for (int c = 0; c < C; c++) mx = fmax(mx, x[r * C + c]);
    for (int c = 0; c < C; c++) { s += exp(x[r * C + c] - mx); sx += x[r * C + c]; }
    double l = mx + log(s);
    lses[r] = l;
    ref[r] = tgt[r] == -100 ? 0 : (1 - ls) * (l - x[r * C + tgt[r] - 1]) + ls / C * (C * l - sx);
  }
  NEARV(got, ref, rows, 1e-5);
  float one = 1.0f;
  void *done = dev_from(&one, 4);
  OK(B->cross_entropy_backward(dl, done, 0, dx, lse, dt, NULL, LT_DTYPE_F32, rows, C, 1, true,
                               -100, ls));
  to_host(got, dl, tot * 4);
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < C; c++)
      ref[r * C + c] = tgt[r] == -100 ? 0
                       : exp(x[r * C + c] - lses[r]) - (c == tgt[r] - 1 ? 1 - ls : 0) - ls / C;
  NEARV(got, ref, tot, 1e-5);
  /* class weights with smoothing: PyTorch's formula, forward and backward */
  {
    float hw[10];
    double W = 0;
    for (int c = 0; c < C; c++) { hw[c] = 0.5f + 0.1f * c; W += hw[c]; }
    void *dw = dev_from(hw, C * 4);
    OK(B->cross_entropy(loss, lse, dx, dt, dw, LT_DTYPE_F32, rows, C, 1, true, -100, ls));
    to_host(got, loss, rows * 4);
    for (int r = 0; r < rows; r++) {
      if (tgt[r] == -100) { ref[r] = 0; continue; }
      int t = (int)tgt[r] - 1;
      double sm = 0;
      for (int c = 0; c < C; c++) sm += hw[c] * (lses[r] - x[r * C + c]);
      ref[r] = (1 - ls) * hw[t] * (lses[r] - x[r * C + t]) + ls / C * sm;
    }
    NEARV(got, ref, rows, 1e-5);
    OK(B->cross_entropy_backward(dl, done, 0, dx, lse, dt, dw, LT_DTYPE_F32, rows, C, 1, true,
                                 -100, ls));
    to_host(got, dl, tot * 4);
    for (int r = 0; r < rows; r++)
      for (int c = 0; c < C; c++) {
        if (tgt[r] == -100) { ref[r * C + c] = 0; continue; }
        int t = (int)tgt[r] - 1;
        double p = exp(x[r * C + c] - lses[r]);
        ref[r * C + c] = (1 - ls) * hw[t] * (p - (c == t)) + ls / C * (W * p - hw[c]);
      }
    NEARV(got, ref, tot, 1e-5);
    B->free(dw, C * 4, 0);
  }
  /* layer norm rows 20 x 300 (+ a long row case 3 x 3000) */
  int64_t lcfg[2][2] = {{20, 300}, {3, 3000}};
  for (int c = 0; c < 2; c++) {
    int64_t R = lcfg[c][0], K = lcfg[c][1], T = R * K;
    float *hx = frandv(T), *hw = frandv(K), *hb = frandv(K), *hdy = frandv(T), *g2 = malloc(T * 4);
    double *yr = malloc(T * 8), *dxr = malloc(T * 8), *dwr = calloc(K, 8), *dbr = calloc(K, 8);
    for (int64_t r = 0; r < R; r++) {
      double m = 0, v = 0;
      for (int64_t j = 0; j < K; j++) m += hx[r * K + j];
      m /= K;
      for (int64_t j = 0; j < K; j++) v += pow(hx[r * K + j] - m, 2);
      v /= K;
      double rstd = 1 / sqrt(v + 1e-5), sg = 0, sgx = 0;
      for (int64_t j = 0; j < K; j++) {
        double xh = (hx[r * K + j] - m) * rstd;
        yr[r * K + j] = xh * hw[j] + hb[j];
        double g = hdy[r * K + j] * hw[j];
        sg += g; sgx += g * xh;
        dwr[j] += hdy[r * K + j] * xh;
        dbr[j] += hdy[r * K + j];
      }
      for (int64_t j = 0; j < K; j++) {
        double xh = (hx[r * K + j] - m) * rstd;
        dxr[r * K + j] = rstd * (hdy[r * K + j] * hw[j] - sg / K - xh * sgx / K);
      }
    }
    void *ex = dev_from(hx, T * 4), *ew = dev_from(hw, K * 4), *eb = dev_from(hb, K * 4),
         *edy = dev_from(hdy, T * 4), *ey = B->alloc(T * 4, 0), *em = B->alloc(R * 4, 0),
         *er = B->alloc(R * 4, 0), *edx = B->alloc(T * 4, 0), *edw = B->alloc(K * 4, 0),
         *edb = B->alloc(K * 4, 0);
    OK(B->layer_norm(ey, em, er, ex, ew, eb, LT_DTYPE_F32, R, K, 1e-5));
    to_host(g2, ey, T * 4);
    NEARV(g2, yr, T, 1e-5);
    int64_t ks[1] = {K};
    lt_view vw = mkview(edw, LT_DTYPE_F32, 1, ks, NULL), vb = mkview(edb, LT_DTYPE_F32, 1, ks, NULL);
    OK(B->fill(&vw, 0));
    OK(B->fill(&vb, 0));
    OK(B->layer_norm_backward(edx, edw, edb, edy, ex, em, er, ew, LT_DTYPE_F32, R, K));
    to_host(g2, edx, T * 4);
    NEARV(g2, dxr, T, 1e-4);
    to_host(g2, edw, K * 4);
    NEARV(g2, dwr, K, 1e-4);
    to_host(g2, edb, K * 4);
    NEARV(g2, dbr, K, 1e-4);
    void *bufs[10] = {ex, ew, eb, edy, ey, em, er, edx, edw, edb};
    size_t sz[10] = {T * 4, K * 4, K * 4, T * 4, T * 4, R * 4, R * 4, T * 4, K * 4, K * 4};
    for (int i = 0; i < 10; i++) B->free(bufs[i], sz[i], 0);
    free(hx); free(hw); free(hb); free(hdy); free(g2); free(yr); free(dxr); free(dwr); free(dbr);
  }
  B->free(dx, tot * 4, 0); B->free(dt, rows * 8, 0); B->free(loss, rows * 4, 0);
  B->free(lse, rows * 4, 0); B->free(dl, tot * 4, 0); B->free(done, 4, 0);
  free(x); free(got); free(ref); free(lses);
}

/* ---------------------------------------------------------------- batch norm */

/* host values (double) <-> device buffers of dt (f32, f64, bf16) */
static size_t bn_isz(lt_dtype dt) { return dt == LT_DTYPE_F64 ? 8 : dt == LT_DTYPE_F32 ? 4 : 2; }
static double bn_round(double v, lt_dtype dt) {
  if (dt == LT_DTYPE_F32) return (float)v;
  if (dt == LT_DTYPE_BF16) return lt_bf16_to_double(lt_float_to_bf16((float)v));
  return v;
}
static void *bn_up(const double *h, int64_t n, lt_dtype dt) {
  size_t sz = bn_isz(dt);
  unsigned char *buf = malloc(n * sz);
  for (int64_t i = 0; i < n; i++) {
    if (dt == LT_DTYPE_F64) memcpy(buf + i * 8, &h[i], 8);
    else if (dt == LT_DTYPE_F32) { float f = (float)h[i]; memcpy(buf + i * 4, &f, 4); }
    else { uint16_t u = lt_float_to_bf16((float)h[i]); memcpy(buf + i * 2, &u, 2); }
  }
  void *d = dev_from(buf, n * sz);
  free(buf);
  return d;
}
static void bn_down(double *h, const void *d, int64_t n, lt_dtype dt) {
  size_t sz = bn_isz(dt);
  unsigned char *buf = malloc(n * sz);
  to_host(buf, d, n * sz);
  for (int64_t i = 0; i < n; i++) {
    if (dt == LT_DTYPE_F64) memcpy(&h[i], buf + i * 8, 8);
    else if (dt == LT_DTYPE_F32) { float f; memcpy(&f, buf + i * 4, 4); h[i] = f; }
    else { uint16_t u; memcpy(&u, buf + i * 2, 2); h[i] = lt_bf16_to_double(u); }
  }
  free(buf);
}
static bool bn_same_bytes(const void *d1, const void *d2, size_t bytes) {
  unsigned char *a = malloc(bytes), *b = malloc(bytes);
  to_host(a, d1, bytes);
  to_host(b, d2, bytes);
  bool same = memcmp(a, b, bytes) == 0;
  free(a); free(b);
  return same;
}
/* device buffer (n of dt) against a double reference */
#define BN_NEAR(dev, ref, n, dt, tol, what)                                                   \
  do {                                                                                       \
    double *g_ = malloc((n) * 8);                                                            \
    bn_down(g_, dev, n, dt);                                                                 \
    double m_ = 0;                                                                           \
    int64_t w_ = 0;                                                                          \
    for (int64_t i_ = 0; i_ < (n); i_++) {                                                   \
      double d_ = fabs(g_[i_] - (ref)[i_]) / (1 + fabs((ref)[i_]));                           \
      if (d_ > m_ || d_ != d_) { m_ = d_ != d_ ? 1e30 : d_; w_ = i_; }                       \
    }                                                                                        \
    CHECK(m_ <= (tol), "batch_norm %s (N %lld C %lld HW %lld dt %d): max rel diff %g at %lld " \
          "(got %g want %g)", what, (long long)N, (long long)C, (long long)HW, (int)dt, m_,   \
          (long long)w_, g_[w_], (ref)[w_]);                                                 \
    free(g_);                                                                                \
  } while (0)

/* reference backward (contract of backend.h) from the reference stats */
static void bn_ref_backward(double *rdx, double *rdw, double *rdb, const double *dy,
                            const double *x, const double *mean, const double *is,
                            const double *w, int64_t N, int64_t C, int64_t HW, bool training) {
  int64_t M = N * HW;
  for (int64_t c = 0; c < C; c++) {
    double s = 0, t = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++) {
        int64_t e = (n * C + c) * HW + i;
        s += dy[e];
        t += dy[e] * (x[e] - mean[c]) * is[c];
      }
    rdb[c] = s;
    rdw[c] = t;
    double wc = w ? w[c] : 1;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++) {
        int64_t e = (n * C + c) * HW + i;
        double xh = (x[e] - mean[c]) * is[c];
        rdx[e] = training ? wc * is[c] * (dy[e] - s / M - xh * t / M) : wc * is[c] * dy[e];
      }
  }
}

/* one shape and dtype: stats (train, with and without running stats, eval),
   forward (with and without w, b), backward (training and eval, dx/dw/db
   NULL combinations), bitwise repeatability. offset shifts x (the shifted
   sums must not lose the variance). */
static void bn_case(int64_t N, int64_t C, int64_t HW, lt_dtype dt, double offset, double tol) {
  const int64_t T = N * C * HW, M = N * HW;
  const lt_dtype sdt = dt == LT_DTYPE_F64 ? LT_DTYPE_F64 : LT_DTYPE_F32;
  const size_t isz = bn_isz(dt), ssz = bn_isz(sdt);
  const double eps = 1e-5, mom = 0.1;
  const double stol = dt == LT_DTYPE_F64 ? 1e-12 : 1e-5;  /* mean/invstd: float32 or f64 */
  double *x = malloc(T * 8), *dy = malloc(T * 8), *w = malloc(C * 8), *b = malloc(C * 8);
  double *rm = malloc(C * 8), *rv = malloc(C * 8), *mean = malloc(C * 8), *is = malloc(C * 8);
  double *rm2 = malloc(C * 8), *rv2 = malloc(C * 8), *y = malloc(T * 8), *rdx = malloc(T * 8);
  double *rdw = malloc(C * 8), *rdb = malloc(C * 8);
  for (int64_t e = 0; e < T; e++) {
    int64_t c = (e / HW) % C;
    x[e] = bn_round(frand() * (1 + 0.5 * (c % 3)) + offset + 0.25 * (c % 5), dt);
    dy[e] = bn_round(frand(), dt);
  }
  for (int64_t c = 0; c < C; c++) {
    w[c] = bn_round(frand() + 1.5, dt);
    b[c] = bn_round(frand(), dt);
    rm[c] = bn_round(frand(), dt);
    rv[c] = bn_round(frand() + 1.5, dt);
  }
  for (int64_t c = 0; c < C; c++) {
    double s = 0, q = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++) s += x[(n * C + c) * HW + i];
    mean[c] = s / M;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++) q += pow(x[(n * C + c) * HW + i] - mean[c], 2);
    is[c] = 1 / sqrt(q / M + eps);
    rm2[c] = (1 - mom) * rm[c] + mom * mean[c];
    rv2[c] = (1 - mom) * rv[c] + mom * q / (M - 1);
  }
  void *ex = bn_up(x, T, dt), *edy = bn_up(dy, T, dt), *ew = bn_up(w, C, dt),
       *eb = bn_up(b, C, dt), *erm = bn_up(rm, C, dt), *erv = bn_up(rv, C, dt);
  void *em = B->alloc(C * ssz, 0), *eis = B->alloc(C * ssz, 0), *ey = B->alloc(T * isz, 0);
  void *edx = B->alloc(T * isz, 0), *edw = B->alloc(C * isz, 0), *edb = B->alloc(C * isz, 0);
  void *edx2 = B->alloc(T * isz, 0), *edw2 = B->alloc(C * isz, 0), *edb2 = B->alloc(C * isz, 0);
  /* training stats without running stats, then with (updated in place) */
  OK(B->batch_norm_stats(em, eis, NULL, NULL, ex, dt, N, C, HW, true, mom, eps));
  BN_NEAR(em, mean, C, sdt, stol, "mean");
  BN_NEAR(eis, is, C, sdt, stol, "invstd");
  OK(B->batch_norm_stats(em, eis, erm, erv, ex, dt, N, C, HW, true, mom, eps));
  BN_NEAR(em, mean, C, sdt, stol, "mean (running)");
  BN_NEAR(eis, is, C, sdt, stol, "invstd (running)");
  BN_NEAR(erm, rm2, C, dt, tol, "running_mean");
  BN_NEAR(erv, rv2, C, dt, tol, "running_var (unbiased)");
  /* forward with and without w, b */
  for (int64_t e = 0; e < T; e++) {
    int64_t c = (e / HW) % C;
    y[e] = (x[e] - mean[c]) * is[c] * w[c] + b[c];
  }
  OK(B->batch_norm_forward(ey, ex, em, eis, ew, eb, dt, N, C, HW));
  BN_NEAR(ey, y, T, dt, tol, "y");
  for (int64_t e = 0; e < T; e++) y[e] = (x[e] - mean[(e / HW) % C]) * is[(e / HW) % C];
  OK(B->batch_norm_forward(ey, ex, em, eis, NULL, NULL, dt, N, C, HW));
  BN_NEAR(ey, y, T, dt, tol, "y (no w, b)");
  /* training backward: all three, then NULL combinations */
  bn_ref_backward(rdx, rdw, rdb, dy, x, mean, is, w, N, C, HW, true);
  OK(B->batch_norm_backward(edx, edw, edb, edy, ex, em, eis, ew, dt, N, C, HW, true));
  BN_NEAR(edx, rdx, T, dt, tol, "dx");
  BN_NEAR(edw, rdw, C, dt, tol, "dw");
  BN_NEAR(edb, rdb, C, dt, tol, "db");
  OK(B->batch_norm_backward(edx2, edw2, edb2, edy, ex, em, eis, ew, dt, N, C, HW, true));
  CHECK(bn_same_bytes(edx, edx2, T * isz) && bn_same_bytes(edw, edw2, C * isz) &&
        bn_same_bytes(edb, edb2, C * isz), "batch_norm_backward not bitwise repeatable "
        "(N %lld C %lld HW %lld)", (long long)N, (long long)C, (long long)HW);
  OK(B->batch_norm_backward(NULL, edw2, edb2, edy, ex, em, eis, ew, dt, N, C, HW, true));
  BN_NEAR(edw2, rdw, C, dt, tol, "dw (dx NULL)");
  BN_NEAR(edb2, rdb, C, dt, tol, "db (dx NULL)");
  OK(B->batch_norm_backward(NULL, NULL, edb2, edy, ex, em, eis, NULL, dt, N, C, HW, true));
  BN_NEAR(edb2, rdb, C, dt, tol, "db alone");
  bn_ref_backward(rdx, rdw, rdb, dy, x, mean, is, NULL, N, C, HW, true);
  OK(B->batch_norm_backward(edx2, NULL, NULL, edy, ex, em, eis, NULL, dt, N, C, HW, true));
  BN_NEAR(edx2, rdx, T, dt, tol, "dx alone (no w)");
  /* eval: the (updated) running stats */
  double *rmq = malloc(C * 8), *rvq = malloc(C * 8);
  bn_down(rmq, erm, C, dt);
  bn_down(rvq, erv, C, dt);
  for (int64_t c = 0; c < C; c++) is[c] = 1 / sqrt(rvq[c] + eps);
  OK(B->batch_norm_stats(em, eis, erm, erv, ex, dt, N, C, HW, false, mom, eps));
  BN_NEAR(em, rmq, C, sdt, stol, "eval mean");
  BN_NEAR(eis, is, C, sdt, stol, "eval invstd");
  BN_NEAR(erm, rmq, C, dt, 0, "running_mean untouched in eval");
  for (int64_t e = 0; e < T; e++) {
    int64_t c = (e / HW) % C;
    y[e] = (x[e] - rmq[c]) * is[c] * w[c] + b[c];
  }
  OK(B->batch_norm_forward(ey, ex, em, eis, ew, eb, dt, N, C, HW));
  BN_NEAR(ey, y, T, dt, tol, "eval y");
  bn_ref_backward(rdx, rdw, rdb, dy, x, rmq, is, w, N, C, HW, false);
  OK(B->batch_norm_backward(edx, edw, edb, edy, ex, em, eis, ew, dt, N, C, HW, false));
  BN_NEAR(edx, rdx, T, dt, tol, "eval dx");
  BN_NEAR(edw, rdw, C, dt, tol, "eval dw");
  BN_NEAR(edb, rdb, C, dt, tol, "eval db");
  OK(B->batch_norm_backward(edx2, NULL, NULL, edy, ex, em, eis, ew, dt, N, C, HW, false));
  BN_NEAR(edx2, rdx, T, dt, tol, "eval dx alone");
  void *bufs[] = {ex, edy, ew, eb, erm, erv, em, eis, ey, edx, edw, edb, edx2, edw2, edb2};
  size_t szs[] = {T * isz, T * isz, C * isz, C * isz, C * isz, C * isz, C * ssz, C * ssz,
                  T * isz, T * isz, C * isz, C * isz, T * isz, C * isz, C * isz};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) B->free(bufs[i], szs[i], 0);
  free(x); free(dy); free(w); free(b); free(rm); free(rv); free(mean); free(is); free(rm2);
  free(rv2); free(y); free(rdx); free(rdw); free(rdb); free(rmq); free(rvq);
}

static void test_batch_norm(void) {
  if (!B->batch_norm_stats || !B->batch_norm_forward || !B->batch_norm_backward) {
    CHECK(0, "batch_norm entries missing");
    return;
  }
  /* plane path (HW >= 32): odd HW, HW % 4 == 0, several chunks per channel;
     column path (HW < 32): tiny N*HW with many channels, many rows;
     shifted data; float64 and bfloat16 */
  bn_case(4, 3, 50, LT_DTYPE_F32, 0, 1e-4);
  bn_case(2, 5, 64, LT_DTYPE_F32, 0, 1e-4);
  bn_case(16, 8, 3136, LT_DTYPE_F32, 0, 1e-4);
  bn_case(2, 1000, 1, LT_DTYPE_F32, 0, 1e-4);
  bn_case(8, 6, 7, LT_DTYPE_F32, 0, 1e-4);
  bn_case(4096, 4, 1, LT_DTYPE_F32, 0, 1e-4);
  bn_case(3, 2, 33, LT_DTYPE_F32, 100, 1e-4);
  bn_case(8, 6, 7, LT_DTYPE_F32, 50, 1e-4);
  bn_case(5, 4, 36, LT_DTYPE_F64, 3, 1e-10);
  bn_case(7, 3, 5, LT_DTYPE_F64, 0, 1e-10);
  bn_case(4, 3, 64, LT_DTYPE_BF16, 0, 2e-2);
  bn_case(16, 5, 3, LT_DTYPE_BF16, 0, 2e-2);
  /* errors, not crashes: eval without running stats, a non-float dtype */
  int64_t C = 3;
  void *m = B->alloc(C * 4, 0), *s = B->alloc(C * 4, 0), *x = B->alloc(C * 8, 0);
  g_msg[0] = 0;
  lt_status st = B->batch_norm_stats(m, s, NULL, NULL, x, LT_DTYPE_F32, 1, C, 1, false, 0.1, 1e-5);
  CHECK(st != LT_OK && strstr(g_msg, "batch_norm"), "eval without running stats: status %d", st);
  g_msg[0] = 0;
  st = B->batch_norm_forward(x, x, m, s, NULL, NULL, LT_DTYPE_I64, 1, C, 1);
  CHECK(st == LT_ERR_DTYPE && strstr(g_msg, "batch_norm"), "int64 batch_norm: status %d", st);
  B->free(m, C * 4, 0); B->free(s, C * 4, 0); B->free(x, C * 8, 0);
}

static void test_conv_pool(void) {
  lt_conv_geom g = {2, 3, 9, 11, 3, 2, 2, 1, 1, 0, 1, 2, 0, 0};
  g.oh = (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.ow = (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  int64_t nx = g.n * g.c * g.h * g.w, K = g.c * g.kh * g.kw, L = g.oh * g.ow, ncol = g.n * K * L;
  float *hx = frandv(nx), *hc = frandv(ncol), *got = malloc(ncol * 4 + nx * 4);
  double *ref = malloc((ncol + nx) * 8);
  void *dx = dev_from(hx, nx * 4), *dcol = B->alloc(ncol * 4, 0), *dc2 = dev_from(hc, ncol * 4),
       *ddx = B->alloc(nx * 4, 0);
  OK(B->im2col(dcol, dx, LT_DTYPE_F32, &g));
  to_host(got, dcol, ncol * 4);
  for (int64_t e = 0; e < nx; e++) ref[ncol + e] = 0;
  for (int64_t b = 0; b < g.n; b++)
    for (int64_t ck = 0; ck < K; ck++)
      for (int64_t p = 0; p < L; p++) {
        int64_t kj = ck % g.kw, ki = (ck / g.kw) % g.kh, ci = ck / (g.kw * g.kh);
        int64_t ih = (p / g.ow) * g.sh - g.ph + ki * g.dh, iw = (p % g.ow) * g.sw - g.pw + kj * g.dw;
        bool in = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
        int64_t xi = ((b * g.c + ci) * g.h + ih) * g.w + iw;
        ref[(b * K + ck) * L + p] = in ? hx[xi] : 0;
        if (in) ref[ncol + xi] += hc[(b * K + ck) * L + p];
      }
  NEARV(got, ref, ncol, 0);
  OK(B->col2im(ddx, dc2, LT_DTYPE_F32, &g));
  to_host(got, ddx, nx * 4);
  NEARV(got, ref + ncol, nx, 1e-5);
  /* max pool 3x3 stride 2 pad 1 on (6, 9, 11) planes, then backward */
  lt_pool_geom p = {6, 9, 11, 0, 0, 3, 3, 2, 2, 1, 1, 1, 1, false, 0};
  p.oh = (p.h + 2 * p.ph - 3) / p.sh + 1;
  p.ow = (p.w + 2 * p.pw - 3) / p.sw + 1;
  int64_t ny = p.nc * p.oh * p.ow;
  void *dy = B->alloc(ny * 4, 0), *didx = B->alloc(ny * 8, 0), *dgy = dev_from(hc, ny * 4);
  OK(B->max_pool2d(dy, didx, dx, LT_DTYPE_F32, &p));
  to_host(got, dy, ny * 4);
  int64_t *hidx = malloc(ny * 8);
  to_host(hidx, didx, ny * 8);
  for (int64_t e = 0; e < nx; e++) ref[ny + e] = 0;
  int bad = 0;
  for (int64_t pl = 0; pl < p.nc; pl++)
    for (int64_t oi = 0; oi < p.oh; oi++)
      for (int64_t oj = 0; oj < p.ow; oj++) {
        double best = -1e30;
        int64_t bi = -1;
        for (int ki = 0; ki < 3; ki++)
          for (int kj = 0; kj < 3; kj++) {
            int64_t ih = oi * 2 - 1 + ki, iw = oj * 2 - 1 + kj;
            if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) continue;
            if (hx[pl * p.h * p.w + ih * p.w + iw] > best) { best = hx[pl * p.h * p.w + ih * p.w + iw]; bi = ih * p.w + iw; }
          }
        int64_t e = (pl * p.oh + oi) * p.ow + oj;
        ref[e] = best;
        if (hidx[e] != bi) bad++;
        ref[ny + pl * p.h * p.w + bi] += hc[e];
      }
  NEARV(got, ref, ny, 0);
  CHECK(bad == 0, "max_pool2d indices: %d wrong", bad);
  OK(B->max_pool2d_backward(ddx, dgy, didx, LT_DTYPE_F32, &p));
  to_host(got, ddx, nx * 4);
  NEARV(got, ref + ny, nx, 1e-6);
  /* avg pool (count_include_pad false) forward and backward */
  OK(B->avg_pool2d(dy, dx, LT_DTYPE_F32, &p));
  to_host(got, dy, ny * 4);
  for (int64_t e = 0; e < nx; e++) ref[ny + e] = 0;
  for (int64_t pl = 0; pl < p.nc; pl++)
    for (int64_t oi = 0; oi < p.oh; oi++)
      for (int64_t oj = 0; oj < p.ow; oj++) {
        double s = 0;
        int cnt = 0;
        for (int ki = 0; ki < 3; ki++)
          for (int kj = 0; kj < 3; kj++) {
            int64_t ih = oi * 2 - 1 + ki, iw = oj * 2 - 1 + kj;
            if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) continue;
            s += hx[pl * p.h * p.w + ih * p.w + iw];
            cnt++;
          }
        int64_t e = (pl * p.oh + oi) * p.ow + oj;
        ref[e] = s / cnt;
        for (int ki = 0; ki < 3; ki++)
          for (int kj = 0; kj < 3; kj++) {
            int64_t ih = oi * 2 - 1 + ki, iw = oj * 2 - 1 + kj;
            if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) continue;
            ref[ny + pl * p.h * p.w + ih * p.w + iw] += hc[e] / cnt;
          }
      }
  NEARV(got, ref, ny, 1e-6);
  OK(B->avg_pool2d_backward(ddx, dgy, LT_DTYPE_F32, &p));
  to_host(got, ddx, nx * 4);
  NEARV(got, ref + ny, nx, 1e-5);
  /* adaptive avg to 4 x 3 */
  lt_pool_geom a = {6, 9, 11, 4, 3, 0, 0, 1, 1, 0, 0, 1, 1, false, 0};
  int64_t na = 6 * 4 * 3;
  OK(B->adaptive_avg_pool2d(dy, dx, LT_DTYPE_F32, &a));
  to_host(got, dy, na * 4);
  for (int64_t e = 0; e < nx; e++) ref[na + e] = 0;
  for (int64_t pl = 0; pl < 6; pl++)
    for (int64_t oi = 0; oi < 4; oi++)
      for (int64_t oj = 0; oj < 3; oj++) {
        int64_t hs = oi * 9 / 4, he = ((oi + 1) * 9 + 3) / 4, ws = oj * 11 / 3, we = ((oj + 1) * 11 + 2) / 3;
        double s = 0;
        for (int64_t ih = hs; ih < he; ih++) for (int64_t iw = ws; iw < we; iw++) s += hx[pl * 99 + ih * 11 + iw];
        int64_t e = (pl * 4 + oi) * 3 + oj;
        double cnt = (double)((he - hs) * (we - ws));
        ref[e] = s / cnt;
        for (int64_t ih = hs; ih < he; ih++) for (int64_t iw = ws; iw < we; iw++) ref[na + pl * 99 + ih * 11 + iw] += hc[e] / cnt;
      }
  NEARV(got, ref, na, 1e-6);
  OK(B->adaptive_avg_pool2d_backward(ddx, dgy, LT_DTYPE_F32, &a));
  to_host(got, ddx, nx * 4);
  NEARV(got, ref + na, nx, 1e-5);
  B->free(dx, nx * 4, 0); B->free(dcol, ncol * 4, 0); B->free(dc2, ncol * 4, 0); B->free(ddx, nx * 4, 0);
  B->free(dy, ny * 4, 0); B->free(didx, ny * 8, 0); B->free(dgy, ny * 4, 0);
  free(hx); free(hc); free(got); free(ref); free(hidx);
}

/* reference Philox4x32-10 (Random123) */
static void philox(const uint32_t c0[4], const uint32_t k0[2], uint32_t out[4]) {
  uint32_t c[4] = {c0[0], c0[1], c0[2], c0[3]}, k[2] = {k0[0], k0[1]};
  for (int r = 0; r < 10; r++) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k[0], n1 = (uint32_t)p1;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k[1], n3 = (uint32_t)p0;
    c[0] = n0; c[1] = n1; c[2] = n2; c[3] = n3;
    k[0] += 0x9E3779B9u; k[1] += 0xBB67AE85u;
  }
  memcpy(out, c, 16);
}

static void test_rng_optim(void) {
  int64_t n = 1003;
  lt_philox_state st = {0x123456789abcull, 77};
  void *d = B->alloc(n * 4, 0);
  float *got = malloc(n * 4);
  OK(B->rng(LT_RNG_UNIFORM, d, LT_DTYPE_F32, n, st, 0, 1));
  to_host(got, d, n * 4);
  int bad = 0;
  double *nref = malloc(n * 8);
  for (int64_t b = 0; b < (n + 3) / 4; b++) {
    uint64_t cc = st.offset + b;
    uint32_t ctr[4] = {(uint32_t)cc, (uint32_t)(cc >> 32), 0, 0};
    uint32_t key[2] = {(uint32_t)st.seed, (uint32_t)(st.seed >> 32)}, r[4];
    philox(ctr, key, r);
    for (int j = 0; j < 4 && b * 4 + j < n; j++) {
      float u = fmaf((float)r[j], 2.3283064e-10f, 2.3283064e-10f / 2);
      if (u == 1.0f) u = 0.0f;
      if (got[b * 4 + j] != u) bad++;
    }
    for (int j = 0; j < 4; j += 2) {
      float u = (float)r[j] * 2.3283064e-10f + 2.3283064e-10f / 2;
      float v = fmaf((float)r[j + 1], 2.3283064e-10f * 6.2831855f, 2.3283064e-10f * 6.2831855f / 2);
      float s = sqrtf(-2.0f * logf(u));
      if (b * 4 + j < n) nref[b * 4 + j] = s * sinf(v);
      if (b * 4 + j + 1 < n) nref[b * 4 + j + 1] = s * cosf(v);
    }
  }
  CHECK(bad == 0, "uniform stream not bit-identical to the CPU formula: %d differ", bad);
  OK(B->rng(LT_RNG_NORMAL, d, LT_DTYPE_F32, n, st, 0, 1));
  to_host(got, d, n * 4);
  NEARV(got, nref, n, 1e-5);
  /* adam: one step from m = v = 0 moves p by ~lr * sign(g) */
  float hp[4] = {1, 2, 3, 4}, hg[4] = {0.5f, -0.25f, 2, -1}, z[4] = {0}, out[4];
  void *p = dev_from(hp, 16), *g = dev_from(hg, 16), *m = dev_from(z, 16), *v = dev_from(z, 16);
  OK(B->adam_step(p, g, m, v, NULL, LT_DTYPE_F32, 4, 0.1, 0.9, 0.999, 1e-8, 0.01, true, false, 1));
  to_host(out, p, 16);
  double ref[4];
  for (int i = 0; i < 4; i++) {
    double pv = hp[i] * (1 - 0.1 * 0.01);
    double mm = 0.1 * hg[i], vv = 0.001 * hg[i] * hg[i];
    ref[i] = pv - 0.1 / 0.1 * mm / (sqrt(vv) / sqrt(0.001) + 1e-8);
  }
  NEARV(out, ref, 4, 1e-6);
  OK(B->sgd_step(p, g, m, LT_DTYPE_F32, 4, 0.1, 0.9, 0, 0, false, false, true));
  float out2[4];
  to_host(out2, p, 16);
  for (int i = 0; i < 4; i++) ref[i] = out[i] - 0.1 * hg[i];
  NEARV(out2, ref, 4, 1e-6);
  OK(B->rmsprop_step(p, g, v, NULL, NULL, LT_DTYPE_F32, 4, 0.01, 0.99, 1e-8, 0, 0, false));
  B->free(d, n * 4, 0); B->free(p, 16, 0); B->free(g, 16, 0); B->free(m, 16, 0); B->free(v, 16, 0);
  free(got); free(nref);
}

static void test_memory_and_timing(void) {
  OK(B->synchronize(0));
  size_t before = B->memory_allocated();
  size_t reserved_after_first = 0;
  int64_t shp[1] = {1000};
  for (int it = 0; it < 50; it++) {
    void *a = B->alloc(4000, 0), *b = B->alloc(4000, 0), *c = B->alloc(3 << 20, 0);
    lt_view va = mkview(a, LT_DTYPE_F32, 1, shp, NULL), vb = mkview(b, LT_DTYPE_F32, 1, shp, NULL);
    B->fill(&va, 1);
    B->binary(LT_BINARY_ADD, &vb, &va, &va, 0, false);
    B->free(a, 4000, 0); B->free(b, 4000, 0); B->free(c, 3 << 20, 0);
    if (it == 0) reserved_after_first = B->memory_reserved();
  }
  CHECK(B->memory_allocated() == before, "allocated %zu vs %zu", B->memory_allocated(), before);
  CHECK(B->memory_reserved() == reserved_after_first, "reserved grew: %zu vs %zu",
        B->memory_reserved(), reserved_after_first);
  CHECK(B->max_memory_allocated() >= before + (3 << 20), "peak %zu", B->max_memory_allocated());
  void *huge = B->alloc((size_t)1 << 50, 0);
  CHECK(huge == NULL, "absurd allocation should fail");
  void *after = B->alloc(1000, 0);
  CHECK(after != NULL, "allocation works after an OOM");
  B->free(after, 1000, 0);
  OK(B->empty_cache());
  /* host overhead per tiny op */
  void *a = B->alloc(4000, 0), *b = B->alloc(4000, 0);
  lt_view va = mkview(a, LT_DTYPE_F32, 1, shp, NULL), vb = mkview(b, LT_DTYPE_F32, 1, shp, NULL);
  B->fill(&va, 1);
  for (int i = 0; i < 1000; i++) B->binary(LT_BINARY_ADD, &vb, &va, &va, 0, false);
  B->synchronize(0);
  int N = 20000;
  double t0 = now();
  for (int i = 0; i < N; i++) B->binary(LT_BINARY_ADD, &vb, &va, &va, 0, false);
  double t1 = now();
  B->synchronize(0);
  double t2 = now();
  printf("timing: binary add (1000 floats): %.2f us/op host, %.2f us/op with drain\n",
         (t1 - t0) / N * 1e6, (t2 - t0) / N * 1e6);
  t0 = now();
  for (int i = 0; i < N; i++) {
    void *x = B->alloc(4000, 0);
    B->free(x, 4000, 0);
  }
  printf("timing: cached alloc+free: %.3f us\n", (now() - t0) / N * 1e6);
  /* matmul 4096 fp32 and tf32 */
  int64_t M = 4096;
  void *ga = B->alloc(M * M * 4, 0), *gb = B->alloc(M * M * 4, 0), *gc = B->alloc(M * M * 4, 0);
  int64_t ms[1] = {M * M};
  lt_view vga = mkview(ga, LT_DTYPE_F32, 1, ms, NULL), vgb = mkview(gb, LT_DTYPE_F32, 1, ms, NULL);
  B->fill(&vga, 0.01); B->fill(&vgb, 0.02);
  void (*settf32)(int) = NULL;
  *(void **)&settf32 = dlsym(RTLD_DEFAULT, "lt_cuda_set_tf32");
  for (int tf = 0; tf < 2; tf++) {
    if (settf32) settf32(tf);
    B->gemm(LT_DTYPE_F32, false, false, M, M, M, 1, ga, M, 0, gb, M, 0, 0, gc, M, 0, 1);
    B->synchronize(0);
    t0 = now();
    for (int i = 0; i < 10; i++)
      B->gemm(LT_DTYPE_F32, false, false, M, M, M, 1, ga, M, 0, gb, M, 0, 0, gc, M, 0, 1);
    OK(B->synchronize(0));
    double dt = (now() - t0) / 10;
    printf("timing: matmul 4096 %s: %.1f TFLOP/s\n", tf ? "tf32" : "fp32", 2.0 * M * M * M / dt / 1e12);
  }
  if (settf32) settf32(0);
  float c0;
  to_host(&c0, gc, 4);
  CHECK(fabs(c0 - 4096 * 0.01f * 0.02f) < 1e-3, "matmul value %g", c0);
  B->free(ga, M * M * 4, 0); B->free(gb, M * M * 4, 0); B->free(gc, M * M * 4, 0);
  B->free(a, 4000, 0); B->free(b, 4000, 0);
}

/* last: a bad pointer poisons the context; the message must name the op */
static void test_error_message(void) {
  int64_t shp[1] = {1 << 20};
  lt_view bad = mkview((void *)(uintptr_t)0x10, LT_DTYPE_F32, 1, shp, NULL);
  lt_status s = B->fill(&bad, 1.0);
  if (s == LT_OK) s = B->synchronize(0);
  CHECK(s == LT_ERR_BACKEND && strstr(g_msg, "cuda"), "bad pointer should give a cuda error");
  printf("error message after a bad pointer: %s\n", g_msg);
}

int main(int argc, char **argv) {
  const char *lib = argc > 1 ? argv[1] : "build/luatrain_cuda.so";
  void *h = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
  if (!h) { printf("check_backend: cannot load %s: %s\n", lib, dlerror()); return 2; }
  lt_cuda_backend_entry get = (lt_cuda_backend_entry)dlsym(h, LT_CUDA_ENTRY_SYMBOL);
  if (!get) { printf("check_backend: no %s\n", LT_CUDA_ENTRY_SYMBOL); return 2; }
  B = get(err_fn);
  if (!B) { printf("check_backend: no GPU (entry returned NULL)\n"); return 0; }
  printf("device: %s (%d)\n", B->device_name(0), B->device_count());
  /* every entry present */
  void *const *slots = (void *const *)&B->alloc;
  int nslots = (int)((sizeof(lt_backend) - offsetof(lt_backend, alloc)) / sizeof(void *)), nulls = 0;
  for (int i = 0; i < nslots; i++) if (!slots[i]) nulls++;
  CHECK(nulls == 0, "%d NULL entries in the table", nulls);
  test_copy_fill();
  test_unary();
  test_binary();
  test_reduce();
  test_gemm();
  test_index();
  test_nn();
  test_conv_pool();
  test_batch_norm();
  test_rng_optim();
  test_memory_and_timing();
  test_error_message();
  printf("check_backend: %d passed, %d failed\n", n_pass, n_fail);
  return n_fail ? 1 : 0;
}
