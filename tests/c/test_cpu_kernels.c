/*
** test_cpu_kernels.c - the group A CPU kernels (cpu_memory/elementwise/
** reduce/random/optim.c) called directly through lt_cpu_backend: small
** hand-computed cases on strided and broadcast views of every dtype family,
** reductions over several dim sets, NaN rules, Philox known answers and
** one-step optimizer updates worked out by hand.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_fastmath.h"
#include "cpu_util.h"
#include "ctest.h"

static const lt_backend *B = &lt_cpu_backend;

/* view over data; stride NULL = contiguous */
static lt_view vw(void *data, lt_dtype dt, int nd, const int64_t *shape, const int64_t *stride) {
  lt_view v = {.data = data, .dtype = dt, .ndim = nd};
  int64_t s = 1;
  for (int d = nd - 1; d >= 0; d--) {
    v.shape[d] = shape[d];
    v.stride[d] = stride ? stride[d] : s;
    s *= shape[d];
  }
  return v;
}
static lt_view vec(void *data, lt_dtype dt, int64_t n) { return vw(data, dt, 1, &n, NULL); }

/* ---------------------------------------------------------------- memory, halves */

static void test_memory(void) {
  void *p = B->alloc(100, 0);
  CHECK(p && ((uintptr_t)p % 64) == 0, "alloc aligned");
  char src[100];
  for (int i = 0; i < 100; i++) src[i] = (char)i;
  CHECK(B->memcpy_(p, false, src, true, 100, 0) == LT_OK, "memcpy");
  CHECK(memcmp(p, src, 100) == 0, "memcpy content");
  B->free(p, 100, 0);
  void *z = B->alloc(0, 0);
  CHECK(z != NULL, "alloc 0 bytes gives a pointer");
  B->free(z, 0, 0);
  /* big blocks: 2 MiB aligned (huge-page candidates), writable to the end */
  size_t big_n = ((size_t)6 << 20) + 123;
  char *hp = B->alloc(big_n, 0);
  CHECK(hp && ((uintptr_t)hp % ((uintptr_t)2 << 20)) == 0, "6 MiB block aligned to 2 MiB");
  if (hp) {
    memset(hp, 7, big_n);
    CHECK(hp[0] == 7 && hp[big_n - 1] == 7, "6 MiB block writable");
    B->free(hp, big_n, 0);
  }
#if !defined(__SANITIZE_ADDRESS__)
  /* the block cache (256 MiB) full of blocks of one size class freed once
     (four 60 MB blocks, untouched): a later freed block of another class
     evicts them, least recently used first, and is handed out again */
  B->empty_cache();
  void *big[4];
  for (int i = 0; i < 4; i++) big[i] = B->alloc((size_t)60 << 20, 0);
  for (int i = 0; i < 4; i++) B->free(big[i], (size_t)60 << 20, 0);
  void *a = B->alloc((size_t)1 << 20, 0);
  CHECK(a != NULL, "alloc 1 MiB");
  B->free(a, (size_t)1 << 20, 0);
  void *b = B->alloc((size_t)1 << 20, 0);
  CHECK(b == a, "a freed block is cached and reused although the cache was full");
  B->free(b, (size_t)1 << 20, 0);
  B->empty_cache();
#endif
}

static void test_halves(void) {
  CHECK(lt_float_to_half(1.0f) == 0x3c00, "1 -> %04x", lt_float_to_half(1.0f));
  CHECK(lt_float_to_half(-2.0f) == 0xc000, "-2");
  CHECK(lt_float_to_half(65504.0f) == 0x7bff, "max half");
  CHECK(lt_float_to_half(65520.0f) == 0x7c00, "rounds to inf");
  CHECK(lt_float_to_half(0x1p-24f) == 0x0001, "smallest subnormal");
  CHECK(lt_float_to_half(0x1p-25f) == 0x0000, "half of it ties to even 0");
  CHECK(lt_float_to_half(3 * 0x1p-25f) == 0x0002, "1.5 ulp ties to even 2");
  CHECK(lt_float_to_half(1.0f + 0x1p-11f) == 0x3c00, "tie to even at 1");
  CHECK(lt_float_to_half(1.0f + 3 * 0x1p-11f) == 0x3c02, "tie to even up");
  CHECK(lt_float_to_half(NAN) == 0x7e00, "NaN");
  CHECK(lt_half_to_float(0x0001) == 0x1p-24f, "subnormal back");
  CHECK(isinf(lt_half_to_float(0xfc00)) && lt_half_to_float(0xfc00) < 0, "-inf");
  int bad = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = lt_half_to_float((uint16_t)h);
    if (isnan(f)) continue;
    if (lt_float_to_half(f) != h) bad++;
  }
  CHECK(bad == 0, "%d halves do not round-trip", bad);
  CHECK(lt_float_to_bf16(1.0f) == 0x3f80 && lt_cpu_bf2f(0x4049) == 3.140625f, "bf16");
}

/* ---------------------------------------------------------------- copy, fill */

static void test_copy(void) {
  /* every dtype pair carries 3 (and bool carries 1) */
  _Alignas(8) unsigned char src[8], dst[8];
  int bad = 0;
  for (int s = 0; s < LT_DTYPE_COUNT; s++)
    for (int d = 0; d < LT_DTYPE_COUNT; d++) {
      lt_cpu_store_d(src, (lt_dtype)s, 3.0);
      memset(dst, 0xAB, 8);
      lt_view vd = vec(dst, (lt_dtype)d, 1), vs = vec(src, (lt_dtype)s, 1);
      if (B->copy(&vd, &vs) != LT_OK) { bad++; continue; }
      double want = (s == LT_DTYPE_BOOL || d == LT_DTYPE_BOOL) ? 1 : 3;
      if (lt_cpu_load_d(dst, (lt_dtype)d) != want) bad++;
    }
  CHECK(bad == 0, "%d dtype pairs failed", bad);

  float f[4] = {-1.5f, 2.7f, -0.0f, 300.0f};
  int32_t i32[4];
  uint8_t u8[4];
  lt_view vf = vec(f, LT_DTYPE_F32, 4), vi = vec(i32, LT_DTYPE_I32, 4), vu = vec(u8, LT_DTYPE_U8, 4);
  CHECK(B->copy(&vi, &vf) == LT_OK && i32[0] == -1 && i32[1] == 2 && i32[3] == 300, "f32->i32 truncates");
  CHECK(B->copy(&vu, &vf) == LT_OK && u8[0] == 255 && u8[1] == 2 && u8[3] == 44, "f32->u8 wraps");
  uint8_t braw[3] = {0, 2, 1};  /* a non-canonical bool still reads as 1 */
  int64_t i64[3];
  lt_view vb = vec(braw, LT_DTYPE_BOOL, 3), vl = vec(i64, LT_DTYPE_I64, 3);
  CHECK(B->copy(&vl, &vb) == LT_OK && i64[0] == 0 && i64[1] == 1 && i64[2] == 1, "bool normalises");
  double dd[2] = {0.25, 0.0};
  uint8_t bo[2];
  lt_view vdd = vec(dd, LT_DTYPE_F64, 2), vbo = vec(bo, LT_DTYPE_BOOL, 2);
  CHECK(B->copy(&vbo, &vdd) == LT_OK && bo[0] == 1 && bo[1] == 0, "f64->bool");
  uint16_t h[2];
  int64_t li[2] = {2049, -3};
  lt_view vh = vec(h, LT_DTYPE_F16, 2), vli = vec(li, LT_DTYPE_I64, 2);
  CHECK(B->copy(&vh, &vli) == LT_OK && lt_half_to_float(h[0]) == 2048.0f && lt_half_to_float(h[1]) == -3.0f,
        "i64->f16 rounds");

  /* transpose: dst (3, 2) contiguous <- src (2, 3) viewed transposed */
  double a[6] = {1, 2, 3, 4, 5, 6}, t[6];
  int64_t sh[2] = {3, 2}, st_t[2] = {1, 3};
  lt_view vt = vw(t, LT_DTYPE_F64, 2, sh, NULL), va = vw(a, LT_DTYPE_F64, 2, sh, st_t);
  CHECK(B->copy(&vt, &va) == LT_OK && t[0] == 1 && t[1] == 4 && t[2] == 2 && t[5] == 6, "transpose copy");
  float tf[6];
  lt_view vtf = vw(tf, LT_DTYPE_F32, 2, sh, NULL);
  CHECK(B->copy(&vtf, &va) == LT_OK && tf[1] == 4.0f && tf[4] == 3.0f, "transpose + convert");
  /* broadcast: every row of (3, 2) gets src row {7, 8} */
  double row[2] = {7, 8};
  int64_t st_b[2] = {0, 1};
  lt_view vr = vw(row, LT_DTYPE_F64, 2, sh, st_b);
  CHECK(B->copy(&vt, &vr) == LT_OK && t[0] == 7 && t[3] == 8 && t[4] == 7, "broadcast copy");
  /* big contiguous copy (parallel memcpy path) and a big strided one */
  int64_t n = 200000;
  float *big = malloc(n * 4), *big2 = malloc(n * 4);
  for (int64_t i = 0; i < n; i++) big[i] = (float)i;
  lt_view vb1 = vec(big, LT_DTYPE_F32, n), vb2 = vec(big2, LT_DTYPE_F32, n);
  CHECK(B->copy(&vb2, &vb1) == LT_OK && big2[n - 1] == (float)(n - 1) && big2[12345] == 12345.0f, "big copy");
  int64_t sh2[2] = {400, 500}, sT[2] = {1, 400};
  lt_view vT = vw(big, LT_DTYPE_F32, 2, sh2, sT), vO = vw(big2, LT_DTYPE_F32, 2, sh2, NULL);
  CHECK(B->copy(&vO, &vT) == LT_OK && big2[1] == 400.0f && big2[500 * 399 + 499] == (float)(499 * 400 + 399),
        "big strided copy");
  /* 3-d permuted source (tiled walk): dst[b][i][j] = src[b][j][i] */
  int64_t sh3[3] = {2, 40, 50}, st3[3] = {2000, 1, 40};
  lt_view v3s = vw(big, LT_DTYPE_F32, 3, sh3, st3), v3d = vw(big2, LT_DTYPE_F32, 3, sh3, NULL);
  int bad3 = B->copy(&v3d, &v3s) != LT_OK;
  for (int64_t b = 0; b < 2; b++)
    for (int64_t i = 0; i < 40; i++)
      for (int64_t j = 0; j < 50; j++)
        bad3 += big2[b * 2000 + i * 50 + j] != big[b * 2000 + j * 40 + i];
  CHECK(bad3 == 0, "%d permuted 3-d copy mismatches", bad3);
  free(big);
  free(big2);
}

static void test_fill(void) {
  int32_t x[6] = {0};
  int64_t sh[1] = {3}, st[1] = {2};
  lt_view v = vw(x, LT_DTYPE_I32, 1, sh, st);
  CHECK(B->fill(&v, 7) == LT_OK && x[0] == 7 && x[1] == 0 && x[4] == 7 && x[5] == 0, "strided fill");
  uint16_t b[3];
  lt_view vb = vec(b, LT_DTYPE_BF16, 3);
  CHECK(B->fill(&vb, 0.1) == LT_OK && b[2] == lt_float_to_bf16(0.1f), "bf16 fill");
  float s;
  lt_view v0 = vw(&s, LT_DTYPE_F32, 0, NULL, NULL);
  CHECK(B->fill(&v0, -2.5) == LT_OK && s == -2.5f, "0-dim fill");
}

/* ---------------------------------------------------------------- unary */

static double un_f64(lt_unary_op op, double x, const double *p) {
  double out;
  lt_view vo = vec(&out, LT_DTYPE_F64, 1), vi = vec(&x, LT_DTYPE_F64, 1);
  if (B->unary(op, &vo, &vi, p) != LT_OK) return -12345;
  return out;
}
static float un_f32(lt_unary_op op, float x, const double *p) {
  float out;
  lt_view vo = vec(&out, LT_DTYPE_F32, 1), vi = vec(&x, LT_DTYPE_F32, 1);
  if (B->unary(op, &vo, &vi, p) != LT_OK) return -12345;
  return out;
}

static void test_unary(void) {
  const double nan_ = NAN;
  CHECK_NEAR(un_f64(LT_UNARY_EXP, 1, NULL), exp(1), 1e-15);
  CHECK_NEAR(un_f32(LT_UNARY_LOG1P, 1e-8f, NULL), 1e-8, 1e-15);
  CHECK_NEAR(un_f64(LT_UNARY_RSQRT, 4, NULL), 0.5, 0);
  CHECK_NEAR(un_f64(LT_UNARY_GELU, 1, NULL), 0.8413447460685429, 1e-15);
  CHECK_NEAR(un_f64(LT_UNARY_GELU_TANH, 1, NULL), 0.8411919906082768, 1e-15);
  CHECK_NEAR(un_f32(LT_UNARY_GELU, -3.0f, NULL), -0.0040496, 1e-6);
  CHECK_NEAR(un_f64(LT_UNARY_SILU, 2, NULL), 2 / (1 + exp(-2)), 1e-15);
  CHECK_NEAR(un_f64(LT_UNARY_SIGMOID, -800, NULL), 0, 0);
  CHECK_NEAR(un_f64(LT_UNARY_SIGMOID, 800, NULL), 1, 0);
  CHECK_NEAR(un_f32(LT_UNARY_SIGMOID, -100.0f, NULL), 3.7200760e-44, 1e-45);
  CHECK(un_f64(LT_UNARY_ROUND, 2.5, NULL) == 2 && un_f64(LT_UNARY_ROUND, 1.5, NULL) == 2 &&
        un_f64(LT_UNARY_ROUND, -0.5, NULL) == 0 && un_f64(LT_UNARY_ROUND, 0.6, NULL) == 1,
        "round half to even");
  CHECK(un_f64(LT_UNARY_SIGN, -3, NULL) == -1 && un_f64(LT_UNARY_SIGN, 0, NULL) == 0, "sign");
  CHECK(un_f64(LT_UNARY_RELU, -1, NULL) == 0 && isnan(un_f64(LT_UNARY_RELU, NAN, NULL)), "relu");
  double cl[2] = {-1, 1};
  CHECK(un_f64(LT_UNARY_CLAMP, 5, cl) == 1 && un_f64(LT_UNARY_CLAMP, -5, cl) == -1 &&
        isnan(un_f64(LT_UNARY_CLAMP, NAN, cl)), "clamp");
  double cl_lo[2] = {0, nan_}, cl_bad[2] = {2, 1};
  CHECK(un_f64(LT_UNARY_CLAMP, 1e30, cl_lo) == 1e30 && un_f64(LT_UNARY_CLAMP, -3, cl_lo) == 0, "clamp min only");
  CHECK(un_f64(LT_UNARY_CLAMP, 0, cl_bad) == 1, "clamp min > max gives max");
  double sl[1] = {0.1}, p3[1] = {3}, p25[1] = {2.5}, b2[1] = {2};
  CHECK_NEAR(un_f64(LT_UNARY_LEAKY_RELU, -2, sl), -0.2, 1e-16);
  CHECK_NEAR(un_f64(LT_UNARY_POW_SCALAR, -2, p3), -8, 0);
  CHECK_NEAR(un_f64(LT_UNARY_POW_SCALAR, 4, p25), 32, 1e-13);
  CHECK_NEAR(un_f64(LT_UNARY_RPOW_SCALAR, 10, b2), 1024, 0);

  /* bool outputs */
  float xs[4] = {NAN, INFINITY, 0.0f, -1.0f};
  uint8_t bo[4];
  lt_view vx = vec(xs, LT_DTYPE_F32, 4), vb = vec(bo, LT_DTYPE_BOOL, 4);
  CHECK(B->unary(LT_UNARY_ISNAN, &vb, &vx, NULL) == LT_OK && bo[0] == 1 && bo[1] == 0 && bo[3] == 0, "isnan");
  CHECK(B->unary(LT_UNARY_ISINF, &vb, &vx, NULL) == LT_OK && bo[0] == 0 && bo[1] == 1, "isinf");
  CHECK(B->unary(LT_UNARY_LOGICAL_NOT, &vb, &vx, NULL) == LT_OK && bo[2] == 1 && bo[3] == 0 && bo[0] == 0,
        "logical_not");
  CHECK(B->unary(LT_UNARY_EXP, &vb, &vx, NULL) == LT_ERR_DTYPE, "exp into bool refused");

  /* integers */
  int32_t iv[4] = {-5, 0, 7, INT32_MIN}, io[4];
  lt_view vi = vec(iv, LT_DTYPE_I32, 4), vio = vec(io, LT_DTYPE_I32, 4);
  CHECK(B->unary(LT_UNARY_NEG, &vio, &vi, NULL) == LT_OK && io[0] == 5 && io[2] == -7 && io[3] == INT32_MIN,
        "int neg wraps");
  CHECK(B->unary(LT_UNARY_ABS, &vio, &vi, NULL) == LT_OK && io[0] == 5 && io[2] == 7, "int abs");
  CHECK(B->unary(LT_UNARY_SIGN, &vio, &vi, NULL) == LT_OK && io[0] == -1 && io[1] == 0 && io[2] == 1, "int sign");
  double icl[2] = {-2, 3};
  CHECK(B->unary(LT_UNARY_CLAMP, &vio, &vi, icl) == LT_OK && io[0] == -2 && io[1] == 0 && io[2] == 3, "int clamp");
  CHECK(B->unary(LT_UNARY_SQUARE, &vio, &vi, NULL) == LT_OK && io[0] == 25 && io[2] == 49, "int square");
  CHECK(B->unary(LT_UNARY_EXP, &vio, &vi, NULL) == LT_ERR_DTYPE, "int exp refused");
  uint8_t u[2] = {3, 200}, uo[2];
  double two[1] = {2};
  lt_view vu = vec(u, LT_DTYPE_U8, 2), vuo = vec(uo, LT_DTYPE_U8, 2);
  CHECK(B->unary(LT_UNARY_POW_SCALAR, &vuo, &vu, two) == LT_OK && uo[0] == 9 && uo[1] == (uint8_t)(200 * 200),
        "u8 pow wraps");

  /* bf16 and f16 compute in float, strided in and out */
  uint16_t hb[6], ho[6];
  for (int i = 0; i < 6; i++) hb[i] = lt_float_to_bf16((float)i * 0.5f);
  int64_t sh[2] = {2, 3}, sT[2] = {1, 2};  /* in viewed transposed */
  lt_view vhb = vw(hb, LT_DTYPE_BF16, 2, sh, sT), vho = vw(ho, LT_DTYPE_BF16, 2, sh, NULL);
  CHECK(B->unary(LT_UNARY_EXP, &vho, &vhb, NULL) == LT_OK, "bf16 exp");
  CHECK(ho[1] == lt_float_to_bf16(expf(1.0f)) && ho[3] == lt_float_to_bf16(expf(0.5f)), "bf16 exp values");
  for (int i = 0; i < 6; i++) hb[i] = lt_float_to_half((float)i - 2.5f);
  lt_view vh = vec(hb, LT_DTYPE_F16, 6), vh2 = vec(ho, LT_DTYPE_F16, 6);
  CHECK(B->unary(LT_UNARY_ABS, &vh2, &vh, NULL) == LT_OK && lt_half_to_float(ho[0]) == 2.5f &&
        lt_half_to_float(ho[5]) == 2.5f, "f16 abs");

  /* a big strided unary (threads) equals the contiguous one */
  int64_t n = 300 * 301;
  float *a = malloc(n * 4), *o1 = malloc(n * 4), *o2 = malloc(n * 4);
  for (int64_t i = 0; i < n; i++) a[i] = (float)((i * 37) % 1001) / 100.0f - 5.0f;
  int64_t shb[2] = {300, 301}, stT[2] = {1, 300};
  lt_view va = vw(a, LT_DTYPE_F32, 2, shb, stT), vo1 = vw(o1, LT_DTYPE_F32, 2, shb, NULL);
  CHECK(B->unary(LT_UNARY_TANH, &vo1, &va, NULL) == LT_OK, "big tanh");
  int bad = 0;
  for (int64_t r = 0; r < 300; r++)
    for (int64_t c = 0; c < 301; c++)
      if (o1[r * 301 + c] != lt_fast_tanhf(a[c * 300 + r])) bad++;
  CHECK(bad == 0, "%d big strided tanh mismatches", bad);
  (void)o2;
  free(a);
  free(o1);
  free(o2);
}

/* finite differences in float64 for every differentiable op */
static void test_unary_backward(void) {
  static const struct { lt_unary_op op; double x; double p0, p1; } cases[] = {
    {LT_UNARY_NEG, 0.3, 0, 0}, {LT_UNARY_ABS, -0.7, 0, 0}, {LT_UNARY_EXP, 0.4, 0, 0},
    {LT_UNARY_LOG, 1.7, 0, 0}, {LT_UNARY_LOG1P, 0.2, 0, 0}, {LT_UNARY_EXPM1, -0.3, 0, 0},
    {LT_UNARY_SQRT, 2.2, 0, 0}, {LT_UNARY_RSQRT, 1.3, 0, 0}, {LT_UNARY_RECIPROCAL, -1.9, 0, 0},
    {LT_UNARY_SQUARE, 0.8, 0, 0}, {LT_UNARY_SIN, 0.9, 0, 0}, {LT_UNARY_COS, 0.9, 0, 0},
    {LT_UNARY_TANH, 0.6, 0, 0}, {LT_UNARY_SIGMOID, -0.4, 0, 0}, {LT_UNARY_RELU, 0.5, 0, 0},
    {LT_UNARY_GELU, -0.8, 0, 0}, {LT_UNARY_GELU_TANH, 1.1, 0, 0}, {LT_UNARY_SILU, 0.7, 0, 0},
    {LT_UNARY_ERF, 0.3, 0, 0}, {LT_UNARY_CLAMP, 0.2, -1, 1}, {LT_UNARY_LEAKY_RELU, -0.5, 0.1, 0},
    {LT_UNARY_POW_SCALAR, 1.4, 2.5, 0}, {LT_UNARY_RPOW_SCALAR, 0.6, 3, 0},
    {LT_UNARY_FLOOR, 0.6, 0, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    double p[2] = {cases[k].p0, cases[k].p1}, x = cases[k].x, h = 1e-6;
    double y = un_f64(cases[k].op, x, p);
    double fd = (un_f64(cases[k].op, x + h, p) - un_f64(cases[k].op, x - h, p)) / (2 * h);
    double dy = 1.5, dx = -1;
    lt_view vdx = vec(&dx, LT_DTYPE_F64, 1), vdy = vec(&dy, LT_DTYPE_F64, 1);
    lt_view vx = vec(&x, LT_DTYPE_F64, 1), vy = vec(&y, LT_DTYPE_F64, 1);
    lt_status st = B->unary_backward(cases[k].op, &vdx, &vdy, &vx, &vy, p);
    CHECK(st == LT_OK && fabs(dx - 1.5 * fd) < 1e-7, "op %d: dx %.10g, fd %.10g", (int)cases[k].op, dx,
          1.5 * fd);
  }
  /* kinks: clamp passes at the bounds, relu is 0 at 0, abs gives 0 at 0 */
  double xs[5] = {-1, 1, 1.5, 0, -2}, dys[5] = {1, 1, 1, 1, 1}, dxs[5];
  double cl[2] = {-1, 1};
  lt_view vx = vec(xs, LT_DTYPE_F64, 5), vdy = vec(dys, LT_DTYPE_F64, 5), vdx = vec(dxs, LT_DTYPE_F64, 5);
  lt_view none = {0};
  CHECK(B->unary_backward(LT_UNARY_CLAMP, &vdx, &vdy, &vx, &none, cl) == LT_OK && dxs[0] == 1 &&
        dxs[1] == 1 && dxs[2] == 0 && dxs[4] == 0, "clamp boundary gradient");
  CHECK(B->unary_backward(LT_UNARY_RELU, &vdx, &vdy, &vx, NULL, NULL) == LT_OK && dxs[3] == 0 &&
        dxs[1] == 1, "relu at 0");
  CHECK(B->unary_backward(LT_UNARY_EXP, &vdx, &vdy, &vx, NULL, NULL) == LT_ERR_ARG, "exp needs y");
  /* float32 sigmoid backward with broadcast dy (stride 0) */
  float y32[3] = {0.5f, 0.25f, 0.75f}, g32 = 2.0f, d32[3];
  int64_t n3 = 3, s0 = 0;
  lt_view vy = vec(y32, LT_DTYPE_F32, 3), vg = vw(&g32, LT_DTYPE_F32, 1, &n3, &s0), vd = vec(d32, LT_DTYPE_F32, 3);
  CHECK(B->unary_backward(LT_UNARY_SIGMOID, &vd, &vg, NULL, &vy, NULL) == LT_OK && d32[0] == 0.5f &&
        d32[1] == 0.375f, "sigmoid backward f32");
}

/* ---------------------------------------------------------------- binary, where */

static double bin_f64(lt_binary_op op, double a, double b) {
  double o;
  lt_view vo = vec(&o, LT_DTYPE_F64, 1), va = vec(&a, LT_DTYPE_F64, 1), vb = vec(&b, LT_DTYPE_F64, 1);
  if (B->binary(op, &vo, &va, &vb, 0, false) != LT_OK) return -12345;
  return o;
}
static int64_t bin_i64(lt_binary_op op, int64_t a, int64_t b) {
  int64_t o;
  lt_view vo = vec(&o, LT_DTYPE_I64, 1), va = vec(&a, LT_DTYPE_I64, 1), vb = vec(&b, LT_DTYPE_I64, 1);
  if (B->binary(op, &vo, &va, &vb, 0, false) != LT_OK) return -12345;
  return o;
}

static void test_binary(void) {
  /* (2, 3) + (1, 3) broadcast as stride 0, and (2, 3) * (2, 1) */
  float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {10, 20, 30}, c[2] = {2, -1}, o[6];
  int64_t sh[2] = {2, 3}, sb[2] = {0, 1}, sc[2] = {1, 0};
  lt_view va = vw(a, LT_DTYPE_F32, 2, sh, NULL), vb = vw(b, LT_DTYPE_F32, 2, sh, sb);
  lt_view vc = vw(c, LT_DTYPE_F32, 2, sh, sc), vo = vw(o, LT_DTYPE_F32, 2, sh, NULL);
  CHECK(B->binary(LT_BINARY_ADD, &vo, &va, &vb, 0, false) == LT_OK && o[0] == 11 && o[5] == 36, "row broadcast");
  CHECK(B->binary(LT_BINARY_MUL, &vo, &va, &vc, 0, false) == LT_OK && o[2] == 6 && o[3] == -4, "column broadcast");
  CHECK(B->binary(LT_BINARY_SUB, &vo, &va, NULL, 1.5, true) == LT_OK && o[0] == 0.5f && o[5] == -4.5f,
        "scalar reverse");
  CHECK(B->binary(LT_BINARY_DIV, &vo, &va, NULL, 4, false) == LT_OK && o[1] == 0.5f, "scalar div");
  /* out written through a transposed view */
  int64_t shT[2] = {3, 2}, stT[2] = {1, 3};
  lt_view voT = vw(o, LT_DTYPE_F32, 2, shT, stT), vaT = vw(a, LT_DTYPE_F32, 2, shT, NULL);
  CHECK(B->binary(LT_BINARY_MUL, &voT, &vaT, NULL, 2, false) == LT_OK && o[1] == 6 && o[3] == 4, "strided out");

  CHECK(bin_f64(LT_BINARY_REMAINDER, -3, 2) == 1 && bin_f64(LT_BINARY_REMAINDER, 3, -2) == -1, "remainder");
  CHECK(bin_f64(LT_BINARY_FMOD, -3, 2) == -1 && bin_f64(LT_BINARY_FMOD, 3, -2) == 1, "fmod");
  CHECK(bin_f64(LT_BINARY_FLOOR_DIVIDE, -7, 2) == -4 && bin_f64(LT_BINARY_FLOOR_DIVIDE, 7, -2) == -4 &&
        bin_f64(LT_BINARY_FLOOR_DIVIDE, 7.5, 2) == 3, "float floor_divide");
  CHECK(isinf(bin_f64(LT_BINARY_FLOOR_DIVIDE, 1, 0)), "floor_divide by 0 is inf");
  CHECK(isnan(bin_f64(LT_BINARY_MAXIMUM, NAN, 1)) && isnan(bin_f64(LT_BINARY_MINIMUM, 1, NAN)) &&
        bin_f64(LT_BINARY_MAXIMUM, -1, 2) == 2, "maximum/minimum NaN");
  CHECK_NEAR(bin_f64(LT_BINARY_ATAN2, 1, 1), atan(1), 1e-15);
  CHECK_NEAR(bin_f64(LT_BINARY_POW, 2, 0.5), sqrt(2), 1e-15);
  CHECK(bin_i64(LT_BINARY_FLOOR_DIVIDE, -7, 2) == -4 && bin_i64(LT_BINARY_FLOOR_DIVIDE, 7, 2) == 3, "int floordiv");
  CHECK(bin_i64(LT_BINARY_REMAINDER, -7, 3) == 2 && bin_i64(LT_BINARY_REMAINDER, 7, -3) == -2, "int remainder");
  CHECK(bin_i64(LT_BINARY_FMOD, -7, 3) == -1, "int fmod");
  CHECK(bin_i64(LT_BINARY_POW, 3, 4) == 81 && bin_i64(LT_BINARY_POW, -2, 3) == -8, "int pow");
  CHECK(bin_i64(LT_BINARY_FLOOR_DIVIDE, INT64_MIN, -1) == INT64_MIN, "INT64_MIN // -1 wraps");
  int64_t z = 0, one = 1, oz;
  lt_view vz = vec(&z, LT_DTYPE_I64, 1), v1 = vec(&one, LT_DTYPE_I64, 1), voz = vec(&oz, LT_DTYPE_I64, 1);
  CHECK(B->binary(LT_BINARY_REMAINDER, &voz, &v1, &vz, 0, false) == LT_ERR_ARG, "int division by zero");
  CHECK(B->binary(LT_BINARY_DIV, &voz, &v1, &vz, 0, false) == LT_ERR_DTYPE, "int div refused");
  uint8_t u[2] = {250, 3}, uo[2];
  lt_view vu = vec(u, LT_DTYPE_U8, 2), vuo = vec(uo, LT_DTYPE_U8, 2);
  CHECK(B->binary(LT_BINARY_ADD, &vuo, &vu, NULL, 10, false) == LT_OK && uo[0] == 4 && uo[1] == 13, "u8 wraps");

  /* comparisons and logic -> bool */
  double x[4] = {1, NAN, 3, 0}, y[4] = {1, NAN, 2, 5};
  uint8_t bo[4];
  lt_view vx = vec(x, LT_DTYPE_F64, 4), vy = vec(y, LT_DTYPE_F64, 4), vbo = vec(bo, LT_DTYPE_BOOL, 4);
  CHECK(B->binary(LT_BINARY_EQ, &vbo, &vx, &vy, 0, false) == LT_OK && bo[0] == 1 && bo[1] == 0 && bo[2] == 0, "eq");
  CHECK(B->binary(LT_BINARY_GT, &vbo, &vx, &vy, 0, false) == LT_OK && bo[2] == 1 && bo[3] == 0, "gt");
  CHECK(B->binary(LT_BINARY_LT, &vbo, &vx, NULL, 2, true) == LT_OK && bo[0] == 0 && bo[2] == 1, "2 < x");
  CHECK(B->binary(LT_BINARY_LOGICAL_AND, &vbo, &vx, &vy, 0, false) == LT_OK && bo[0] == 1 && bo[3] == 0, "and");
  CHECK(B->binary(LT_BINARY_LOGICAL_XOR, &vbo, &vx, &vy, 0, false) == LT_OK && bo[3] == 1 && bo[0] == 0, "xor");
  int32_t i1[3] = {1, 5, -2}, i2[3] = {1, 4, 7};
  lt_view vi1 = vec(i1, LT_DTYPE_I32, 3), vi2 = vec(i2, LT_DTYPE_I32, 3), vb3 = vec(bo, LT_DTYPE_BOOL, 3);
  CHECK(B->binary(LT_BINARY_GE, &vb3, &vi1, &vi2, 0, false) == LT_OK && bo[0] == 1 && bo[1] == 1 && bo[2] == 0,
        "int ge");
  /* bf16 scalar stays in float: bf16(1) * 0.1 rounds once */
  uint16_t hb = lt_float_to_bf16(3.0f), hr;
  lt_view vh = vec(&hb, LT_DTYPE_BF16, 1), vhr = vec(&hr, LT_DTYPE_BF16, 1);
  CHECK(B->binary(LT_BINARY_MUL, &vhr, &vh, NULL, 0.1, false) == LT_OK && hr == lt_float_to_bf16(3.0f * 0.1f),
        "bf16 scalar mul");

  /* where: tensor and scalar b, broadcast condition */
  uint8_t cond[3] = {1, 0, 1};
  double wa[3] = {1, 2, 3}, wb[3] = {-1, -2, -3}, wo[3];
  lt_view vcnd = vec(cond, LT_DTYPE_BOOL, 3), vwa = vec(wa, LT_DTYPE_F64, 3), vwb = vec(wb, LT_DTYPE_F64, 3);
  lt_view vwo = vec(wo, LT_DTYPE_F64, 3);
  CHECK(B->where(&vwo, &vcnd, &vwa, &vwb, 0) == LT_OK && wo[0] == 1 && wo[1] == -2 && wo[2] == 3, "where");
  CHECK(B->where(&vwo, &vcnd, &vwa, NULL, 9) == LT_OK && wo[1] == 9, "where scalar");
  int64_t s0 = 0, n3 = 3;
  uint8_t c1 = 0;
  lt_view vc1 = vw(&c1, LT_DTYPE_BOOL, 1, &n3, &s0);
  CHECK(B->where(&vwo, &vc1, &vwa, &vwb, 0) == LT_OK && wo[0] == -1 && wo[2] == -3, "where broadcast cond");
}

/* ---------------------------------------------------------------- reduce */

static void test_reduce(void) {
  /* x (2, 3) = {{1, 2, 3}, {4, 5, 6}} */
  double x[6] = {1, 2, 3, 4, 5, 6}, o[3];
  int64_t sh[2] = {2, 3}, s21[2] = {2, 1}, s13[2] = {1, 3}, s11[2] = {1, 1};
  lt_view vx = vw(x, LT_DTYPE_F64, 2, sh, NULL);
  lt_view vrow = vw(o, LT_DTYPE_F64, 2, s21, NULL), vcol = vw(o, LT_DTYPE_F64, 2, s13, NULL);
  lt_view vall = vw(o, LT_DTYPE_F64, 2, s11, NULL);
  CHECK(B->reduce(LT_REDUCE_SUM, &vrow, NULL, &vx, 2, 0, 0) == LT_OK && o[0] == 6 && o[1] == 15, "sum dim 1");
  CHECK(B->reduce(LT_REDUCE_SUM, &vcol, NULL, &vx, 1, 0, 0) == LT_OK && o[0] == 5 && o[2] == 9, "sum dim 0");
  CHECK(B->reduce(LT_REDUCE_SUM, &vall, NULL, &vx, 3, 0, 0) == LT_OK && o[0] == 21, "sum all");
  CHECK(B->reduce(LT_REDUCE_MEAN, &vrow, NULL, &vx, 2, 0, 0) == LT_OK && o[0] == 2 && o[1] == 5, "mean");
  CHECK(B->reduce(LT_REDUCE_PROD, &vall, NULL, &vx, 3, 0, 0) == LT_OK && o[0] == 720, "prod");
  CHECK(B->reduce(LT_REDUCE_VAR, &vrow, NULL, &vx, 2, 1, 0) == LT_OK && o[0] == 1 && o[1] == 1, "var");
  CHECK(B->reduce(LT_REDUCE_VAR, &vall, NULL, &vx, 3, 0, 0) == LT_OK && fabs(o[0] - 35.0 / 12) < 1e-14, "var biased");
  CHECK(B->reduce(LT_REDUCE_STD, &vcol, NULL, &vx, 1, 1, 0) == LT_OK && fabs(o[1] - sqrt(4.5)) < 1e-14, "std dim 0");
  CHECK(B->reduce(LT_REDUCE_NORM, &vall, NULL, &vx, 3, 2, 0) == LT_OK && fabs(o[0] - sqrt(91)) < 1e-13, "norm 2");
  CHECK(B->reduce(LT_REDUCE_NORM, &vall, NULL, &vx, 3, 1, 0) == LT_OK && o[0] == 21, "norm 1");
  CHECK(B->reduce(LT_REDUCE_NORM, &vall, NULL, &vx, 3, INFINITY, 0) == LT_OK && o[0] == 6, "norm inf");
  CHECK(B->reduce(LT_REDUCE_NORM, &vall, NULL, &vx, 3, -INFINITY, 0) == LT_OK && o[0] == 1, "norm -inf");
  CHECK(B->reduce(LT_REDUCE_NORM, &vall, NULL, &vx, 3, 0, 0) == LT_OK && o[0] == 6, "norm 0");
  CHECK(B->reduce(LT_REDUCE_NORM, &vall, NULL, &vx, 3, 3, 0) == LT_OK && fabs(o[0] - cbrt(441)) < 1e-12, "norm 3");
  CHECK(B->reduce(LT_REDUCE_LOGSUMEXP, &vrow, NULL, &vx, 2, 0, 0) == LT_OK &&
        fabs(o[0] - log(exp(1) + exp(2) + exp(3))) < 1e-14, "logsumexp");
  /* transposed input: sum over what is memory's outer dim */
  lt_view vxT = vw(x, LT_DTYPE_F64, 2, (int64_t[]){3, 2}, (int64_t[]){1, 3});
  lt_view vT1 = vw(o, LT_DTYPE_F64, 2, (int64_t[]){3, 1}, NULL);
  CHECK(B->reduce(LT_REDUCE_SUM, &vT1, NULL, &vxT, 2, 0, 0) == LT_OK && o[0] == 5 && o[2] == 9, "sum transposed");

  /* stable logsumexp and its edge cases */
  double big[2] = {1000, 1000}, ninf[2] = {-INFINITY, -INFINITY}, pinf[2] = {INFINITY, 1}, r;
  lt_view vr = vw(&r, LT_DTYPE_F64, 1, (int64_t[]){1}, NULL);
  lt_view vbig = vec(big, LT_DTYPE_F64, 2), vni = vec(ninf, LT_DTYPE_F64, 2), vpi = vec(pinf, LT_DTYPE_F64, 2);
  CHECK(B->reduce(LT_REDUCE_LOGSUMEXP, &vr, NULL, &vbig, 1, 0, 0) == LT_OK && fabs(r - 1000 - log(2)) < 1e-12, "lse big");
  CHECK(B->reduce(LT_REDUCE_LOGSUMEXP, &vr, NULL, &vni, 1, 0, 0) == LT_OK && r == -INFINITY, "lse -inf");
  CHECK(B->reduce(LT_REDUCE_LOGSUMEXP, &vr, NULL, &vpi, 1, 0, 0) == LT_OK && r == INFINITY, "lse inf");

  /* max/min with indices: ties keep the first, NaN wins and sticks */
  float m[8] = {3, 7, 7, 1, 2, NAN, 9, NAN};
  float mv[2];
  int64_t mi[2];
  lt_view vm = vw(m, LT_DTYPE_F32, 2, (int64_t[]){2, 4}, NULL);
  lt_view vmv = vw(mv, LT_DTYPE_F32, 2, (int64_t[]){2, 1}, NULL), vmi = vw(mi, LT_DTYPE_I64, 2, (int64_t[]){2, 1}, NULL);
  CHECK(B->reduce(LT_REDUCE_MAX, &vmv, &vmi, &vm, 2, 0, 1) == LT_OK && mv[0] == 7 && mi[0] == 2 && isnan(mv[1]) &&
        mi[1] == 2, "max: first tie, first NaN (base 1)");
  CHECK(B->reduce(LT_REDUCE_MIN, &vmv, &vmi, &vm, 2, 0, 0) == LT_OK && mv[0] == 1 && mi[0] == 3 && mi[1] == 1,
        "min");
  int64_t am[2];
  lt_view vam = vw(am, LT_DTYPE_I64, 2, (int64_t[]){2, 1}, NULL);
  CHECK(B->reduce(LT_REDUCE_ARGMAX, &vam, NULL, &vm, 2, 0, 0) == LT_OK && am[0] == 1, "argmax");

  /* argmax over dims 1 and 2 of (2, 3, 4): flat index inside the reduced dims */
  double t[24];
  for (int i = 0; i < 24; i++) t[i] = (double)((i * 7) % 24);
  lt_view vt = vw(t, LT_DTYPE_F64, 3, (int64_t[]){2, 3, 4}, NULL);
  lt_view vta = vw(am, LT_DTYPE_I64, 3, (int64_t[]){2, 1, 1}, NULL);
  int64_t e0 = 0, e1 = 0;
  for (int i = 0; i < 12; i++) {
    if (t[i] > t[e0]) e0 = i;
    if (t[12 + i] > t[12 + e1]) e1 = i;
  }
  CHECK(B->reduce(LT_REDUCE_ARGMAX, &vta, NULL, &vt, 6, 0, 0) == LT_OK && am[0] == e0 && am[1] == e1,
        "argmax dims 1,2: %lld %lld vs %lld %lld", (long long)am[0], (long long)am[1], (long long)e0, (long long)e1);
  /* sum over dims 0 and 2 (not adjacent) */
  double s3[3];
  lt_view vs3 = vw(s3, LT_DTYPE_F64, 3, (int64_t[]){1, 3, 1}, NULL);
  double w0 = 0;
  for (int a = 0; a < 2; a++) for (int c = 0; c < 4; c++) w0 += t[a * 12 + 0 * 4 + c];
  CHECK(B->reduce(LT_REDUCE_SUM, &vs3, NULL, &vt, 5, 0, 0) == LT_OK && s3[0] == w0, "sum dims 0,2");

  /* column path: (N, C) f32 with C >= 8, sum/max over dim 0, strided out */
  enum { N = 50, C = 20 };
  float g[N * C];
  for (int i = 0; i < N; i++)
    for (int j = 0; j < C; j++) g[i * C + j] = (float)((i * 13 + j * 5) % 17) - 8.0f;
  float cs[C * 2];
  int64_t ci[C];
  lt_view vg = vw(g, LT_DTYPE_F32, 2, (int64_t[]){N, C}, NULL);
  lt_view vcs = vw(cs, LT_DTYPE_F32, 2, (int64_t[]){1, C}, (int64_t[]){C * 2, 2});
  lt_view vci = vw(ci, LT_DTYPE_I64, 2, (int64_t[]){1, C}, NULL);
  CHECK(B->reduce(LT_REDUCE_SUM, &vcs, NULL, &vg, 1, 0, 0) == LT_OK, "column sum");
  int bad = 0;
  for (int j = 0; j < C; j++) {
    double s = 0;
    for (int i = 0; i < N; i++) s += g[i * C + j];
    if (cs[2 * j] != (float)s) bad++;
  }
  CHECK(bad == 0, "%d column sums wrong", bad);
  CHECK(B->reduce(LT_REDUCE_MAX, &vcs, &vci, &vg, 1, 0, 0) == LT_OK, "column max");
  bad = 0;
  for (int j = 0; j < C; j++) {
    int64_t bi = 0;
    for (int i = 1; i < N; i++) if (g[i * C + j] > g[bi * C + j]) bi = i;
    if (ci[j] != bi || cs[2 * j] != g[bi * C + j]) bad++;
  }
  CHECK(bad == 0, "%d column maxima wrong", bad);
  CHECK(B->reduce(LT_REDUCE_VAR, &vcs, NULL, &vg, 1, 1, 0) == LT_OK, "column var");
  {
    double s = 0, q = 0;
    for (int i = 0; i < N; i++) s += g[i * C + 3];
    for (int i = 0; i < N; i++) q += (g[i * C + 3] - s / N) * (g[i * C + 3] - s / N);
    CHECK_NEAR(cs[6], q / (N - 1), 1e-5);
  }

  /* full reductions over many blocks: exact integer sum, accurate float mean */
  int64_t n = 1000003;
  float *f = malloc(n * 4);
  int32_t *iv = malloc(n * 4);
  for (int64_t i = 0; i < n; i++) { f[i] = 0.1f; iv[i] = (int32_t)(i % 1000) - 500; }
  float fm;
  int64_t isum, ism = 0;
  for (int64_t i = 0; i < n; i++) ism += iv[i];
  lt_view vf = vec(f, LT_DTYPE_F32, n), vi = vec(iv, LT_DTYPE_I32, n);
  lt_view vfm = vec(&fm, LT_DTYPE_F32, 1), vis = vec(&isum, LT_DTYPE_I64, 1);
  CHECK(B->reduce(LT_REDUCE_MEAN, &vfm, NULL, &vf, 1, 0, 0) == LT_OK && fm == 0.1f, "mean of 1M x 0.1f: %.9g", fm);
  CHECK(B->reduce(LT_REDUCE_SUM, &vis, NULL, &vi, 1, 0, 0) == LT_OK && isum == ism, "int32 sum -> int64");
  f[777777] = NAN;
  int64_t fi;
  lt_view vfi = vec(&fi, LT_DTYPE_I64, 1);
  CHECK(B->reduce(LT_REDUCE_MAX, &vfm, &vfi, &vf, 1, 0, 0) == LT_OK && isnan(fm) && fi == 777777, "NaN max index");
  free(f);
  free(iv);
  int64_t l2[2] = {(1LL << 53) + 1, 2};
  lt_view vl2 = vec(l2, LT_DTYPE_I64, 2);
  CHECK(B->reduce(LT_REDUCE_SUM, &vis, NULL, &vl2, 1, 0, 0) == LT_OK && isum == (1LL << 53) + 3, "int64 sum exact");

  /* any / all on bool and int */
  uint8_t bb[4] = {0, 1, 0, 0}, ba[2];
  lt_view vbb = vw(bb, LT_DTYPE_BOOL, 2, (int64_t[]){2, 2}, NULL);
  lt_view vba = vw(ba, LT_DTYPE_BOOL, 2, (int64_t[]){2, 1}, NULL);
  CHECK(B->reduce(LT_REDUCE_ANY, &vba, NULL, &vbb, 2, 0, 0) == LT_OK && ba[0] == 1 && ba[1] == 0, "any");
  CHECK(B->reduce(LT_REDUCE_ALL, &vba, NULL, &vbb, 2, 0, 0) == LT_OK && ba[0] == 0 && ba[1] == 0, "all");
  /* empty reductions */
  double empty = 0;
  lt_view ve = vw(&empty, LT_DTYPE_F64, 1, (int64_t[]){0}, NULL);
  CHECK(B->reduce(LT_REDUCE_SUM, &vr, NULL, &ve, 1, 0, 0) == LT_OK && r == 0, "empty sum");
  CHECK(B->reduce(LT_REDUCE_MAX, &vr, NULL, &ve, 1, 0, 0) == LT_ERR_SHAPE, "empty max refused");
  CHECK(B->reduce(LT_REDUCE_SUM, &vrow, NULL, &vx, 1, 0, 0) == LT_ERR_SHAPE, "bad out shape refused");
}

/* ---------------------------------------------------------------- rng */

static void test_rng(void) {
  static const uint32_t kat[3][10] = {  /* Random123 kat_vectors: ctr, key, out */
    {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
    {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
     0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
    {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
     0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
  };
  for (int k = 0; k < 3; k++) {
    uint32_t out[4];
    lt_philox4x32_10(kat[k], kat[k] + 4, out);
    CHECK(memcmp(out, kat[k] + 6, 16) == 0, "philox KAT %d: %08x %08x %08x %08x", k, out[0], out[1], out[2], out[3]);
  }
  /* uniform = word * 2^-32 + 2^-33 of block (offset + b) under key = seed */
  lt_philox_state st = {0x123456789abcdefull, 5};
  float u[10];
  CHECK(B->rng(LT_RNG_UNIFORM, u, LT_DTYPE_F32, 10, st, 0, 1) == LT_OK, "uniform");
  uint32_t ctr[4] = {7, 0, 0, 0}, key[2] = {0x89abcdef, 0x1234567}, w[4];
  lt_philox4x32_10(ctr, key, w);
  CHECK(u[9] == (float)w[1] * 0x1p-32f + 0x1p-33f, "uniform element 9 is block 2 word 1");
  float u2[3];
  lt_philox_state st2 = {st.seed, 6};
  CHECK(B->rng(LT_RNG_UNIFORM, u2, LT_DTYPE_F32, 3, st2, 0, 1) == LT_OK && u2[0] == u[4] && u2[2] == u[6],
        "stream is counter based");
  double ud[10];
  CHECK(B->rng(LT_RNG_UNIFORM, ud, LT_DTYPE_F64, 10, st, -2, 2) == LT_OK && ud[3] == (double)(u[3] * 4.0f - 2.0f),
        "f64 uniform is the float32 value");
  /* normal: Box-Muller of word pairs */
  float z[4];
  lt_philox_state s0 = {42, 0};
  CHECK(B->rng(LT_RNG_NORMAL, z, LT_DTYPE_F32, 4, s0, 0, 1) == LT_OK, "normal");
  uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {42, 0};
  lt_philox4x32_10(c0, k0, w);
  float uu = (float)w[0] * 0x1p-32f + 0x1p-33f;
  float vv = fmaf((float)w[1], 0x1p-32f * 6.2831855f, 0x1p-32f * 6.2831855f / 2);
  CHECK(z[0] == sinf(vv) * sqrtf(-2.0f * logf(uu)) && z[1] == cosf(vv) * sqrtf(-2.0f * logf(uu)), "box-muller");
  int64_t n = 200001;
  float *big = malloc(n * 4);
  CHECK(B->rng(LT_RNG_NORMAL, big, LT_DTYPE_F32, n, s0, 3, 2) == LT_OK, "big normal");
  double m = 0, q = 0;
  for (int64_t i = 0; i < n; i++) m += big[i];
  m /= n;
  for (int64_t i = 0; i < n; i++) q += (big[i] - m) * (big[i] - m);
  CHECK(fabs(m - 3) < 0.02 && fabs(sqrt(q / n) - 2) < 0.02, "normal mean %g std %g", m, sqrt(q / n));
  CHECK(B->rng(LT_RNG_UNIFORM, big, LT_DTYPE_F32, n, s0, -1, 1) == LT_OK, "big uniform");
  int out_of = 0;
  for (int64_t i = 0; i < n; i++) out_of += big[i] < -1 || big[i] >= 1;
  CHECK(out_of == 0, "%d uniforms outside [-1, 1)", out_of);
  free(big);
  int64_t ri[1000];
  CHECK(B->rng(LT_RNG_RANDINT, ri, LT_DTYPE_I64, 1000, s0, -3, 4) == LT_OK, "randint");
  int seen[7] = {0}, bad = 0;
  for (int i = 0; i < 1000; i++) {
    if (ri[i] < -3 || ri[i] >= 4) bad++;
    else seen[ri[i] + 3]++;
  }
  CHECK(bad == 0 && seen[0] > 80 && seen[6] > 80, "randint range");
  lt_philox4x32_10(c0, k0, w);
  CHECK(ri[2] == -3 + (int64_t)(w[2] % 7), "randint uses r mod range");
  int64_t wide[4];
  CHECK(B->rng(LT_RNG_RANDINT, wide, LT_DTYPE_I64, 4, s0, 0, 1e15) == LT_OK && wide[0] >= 0 && wide[0] < 1000000000000000LL,
        "wide randint");
  CHECK(B->rng(LT_RNG_RANDINT, ri, LT_DTYPE_I64, 4, s0, 3, 3) == LT_ERR_ARG, "empty randint range refused");
}

/* ---------------------------------------------------------------- optim */

/* The float32 Adam fast path (16-wide AVX-512 when the CPU has it, 4-wide
** SSE, scalar tail) against the scalar form of the same arithmetic, bit for
** bit, on 1031 elements (every path), AdamW and Adam with L2, step 3. */
static void test_adam_lanes(void) {
  enum { N = 1031 };
  static float p[N], g[N], m[N], v[N], ep[N], em[N], ev[N];
  for (int dec = 0; dec < 2; dec++) {
    for (int i = 0; i < N; i++) {
      p[i] = (float)((i * 37) % 101 - 50) / 25.0f;
      g[i] = (float)((i * 53) % 97 - 48) / 40.0f;
      m[i] = g[i] * 0.3f;
      v[i] = g[i] * g[i] * 0.01f + 1e-4f * (float)(i % 5);
    }
    const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
    const int64_t step = 3;
    const double bc1 = 1 - pow(b1, (double)step), bc2 = 1 - pow(b2, (double)step);
    const float nstep = (float)(-(lr / bc1)), bc2s = (float)sqrt(bc2), epsf = (float)eps;
    const float w1 = (float)(1 - b1), b2f = (float)b2, omb2 = (float)(1 - b2);
    const float wdf = (float)wd, decay = (float)(1 - lr * wd);
    for (int i = 0; i < N; i++) {
      float gv = g[i] * 1.0f, pv = p[i];
      if (dec) pv = pv * decay;
      else gv = gv + wdf * pv;
      const float mo = m[i], mv = mo + w1 * (gv - mo);
      float vv = v[i] * b2f;
      vv = vv + omb2 * gv * gv;
      em[i] = mv;
      ev[i] = vv;
      ep[i] = pv + nstep * mv / (sqrtf(vv) / bc2s + epsf);
    }
    CHECK(B->adam_step(p, g, m, v, NULL, LT_DTYPE_F32, N, lr, b1, b2, eps, wd, dec, false, step) ==
              LT_OK, "adam lanes");
    CHECK(memcmp(p, ep, sizeof p) == 0 && memcmp(m, em, sizeof m) == 0 &&
              memcmp(v, ev, sizeof v) == 0,
          "%s fast path equals the scalar arithmetic bit for bit", dec ? "AdamW" : "Adam (L2)");
  }
}

static void test_optim(void) {
  /* Adam, step 1: m = 0.05, v = 0.00025, step_size = 0.1/0.1 = 1,
     denom = sqrt(0.00025)/sqrt(0.001) + 1e-8 = 0.50000001, p = 1 - 0.05/denom */
  float p = 1, g = 0.5f, m = 0, v = 0;
  CHECK(B->adam_step(&p, &g, &m, &v, NULL, LT_DTYPE_F32, 1, 0.1, 0.9, 0.999, 1e-8, 0, false, false, 1) == LT_OK,
        "adam");
  CHECK_NEAR(m, 0.05, 1e-9);
  CHECK_NEAR(v, 0.00025, 1e-10);
  CHECK_NEAR(p, 0.9, 1e-7);
  /* step 2 with g = -1 in float64, by the formulas */
  double pd = 0.9, gd = -1, md = 0.05, vd = 0.00025, vm = 0;
  CHECK(B->adam_step(&pd, &gd, &md, &vd, &vm, LT_DTYPE_F64, 1, 0.1, 0.9, 0.999, 1e-8, 0, false, false, 2) == LT_OK,
        "adam amsgrad f64");
  double em = 0.05 + (-1 - 0.05) * 0.1, ev = 0.00025 * 0.999 + 0.001;
  double ep = 0.9 - (0.1 / (1 - 0.81)) * em / (sqrt(ev) / sqrt(1 - 0.999 * 0.999) + 1e-8);
  CHECK(fabs(md - em) < 1e-15 && fabs(vd - ev) < 1e-15 && vm == vd, "adam moments");
  CHECK_NEAR(pd, ep, 1e-14);
  /* AdamW decays first: p * (1 - lr*wd); Adam adds wd*p to g */
  float pw = 1, gw = 0.5f, mw = 0, vw_ = 0;
  CHECK(B->adam_step(&pw, &gw, &mw, &vw_, NULL, LT_DTYPE_F32, 1, 0.1, 0.9, 0.999, 1e-8, 0.5, true, false, 1) == LT_OK,
        "adamw");
  CHECK_NEAR(pw, 0.95 - 0.1, 1e-6);
  float pa = 1, ga = 0.5f, ma = 0, va = 0;
  CHECK(B->adam_step(&pa, &ga, &ma, &va, NULL, LT_DTYPE_F32, 1, 0.1, 0.9, 0.999, 1e-8, 0.5, false, true, 1) == LT_OK,
        "adam wd maximize");
  CHECK_NEAR(ma, 0.1 * (-0.5 + 0.5), 1e-9);

  /* SGD momentum 0.9, dampening 0.1, two steps: buf = g, then 0.9*buf + 0.9*g */
  float ps = 1, gs = 1, bs = 0;
  CHECK(B->sgd_step(&ps, &gs, &bs, LT_DTYPE_F32, 1, 0.1, 0.9, 0.1, 0, false, false, true) == LT_OK &&
        bs == 1 && fabs(ps - 0.9f) < 1e-7, "sgd step 1");
  CHECK(B->sgd_step(&ps, &gs, &bs, LT_DTYPE_F32, 1, 0.1, 0.9, 0.1, 0, false, false, false) == LT_OK &&
        fabs(bs - 1.8f) < 1e-6 && fabs(ps - 0.72f) < 1e-6, "sgd step 2: buf %g p %g", bs, ps);
  double pn = 1, gn = 1, bn = 0;  /* nesterov, wd 0.1: g' = 1.1, buf = 1.1, step = 1.1 + 0.9*1.1 */
  CHECK(B->sgd_step(&pn, &gn, &bn, LT_DTYPE_F64, 1, 0.1, 0.9, 0, 0.1, true, false, true) == LT_OK &&
        fabs(pn - (1 - 0.1 * 1.1 * 1.9)) < 1e-15, "sgd nesterov wd");
  uint16_t ph = lt_float_to_bf16(1.0f), gh = lt_float_to_bf16(1.0f);
  CHECK(B->sgd_step(&ph, &gh, NULL, LT_DTYPE_BF16, 1, 0.5, 0, 0, 0, false, false, true) == LT_OK &&
        lt_cpu_bf2f(ph) == 0.5f, "sgd bf16");

  /* RMSprop alpha 0.99: sq = 0.01 * 0.25, avg = 0.05 + eps, p = 1 - 0.01 * 0.5 / avg */
  double pr = 1, gr = 0.5, sq = 0;
  CHECK(B->rmsprop_step(&pr, &gr, &sq, NULL, NULL, LT_DTYPE_F64, 1, 0.01, 0.99, 1e-8, 0, 0, false) == LT_OK,
        "rmsprop");
  CHECK(fabs(sq - 0.0025) < 1e-17 && fabs(pr - (1 - 0.01 * 0.5 / (0.05 + 1e-8))) < 1e-15, "rmsprop values");
  double pc = 1, gc = 0.5, sqc = 0, bc = 0, gac = 0;  /* centered + momentum */
  CHECK(B->rmsprop_step(&pc, &gc, &sqc, &bc, &gac, LT_DTYPE_F64, 1, 0.01, 0.99, 1e-8, 0, 0.9, false) == LT_OK,
        "rmsprop centered");
  double ega = 0.005, eavg = sqrt(0.0025 - ega * ega) + 1e-8;
  CHECK(fabs(gac - ega) < 1e-17 && fabs(bc - 0.5 / eavg) < 1e-12 && fabs(pc - (1 - 0.01 * bc)) < 1e-15,
        "rmsprop centered values");

  /* a big step runs in parallel and matches the small one */
  int64_t n = 100000;
  float *P = malloc(n * 4), *G = malloc(n * 4), *M = calloc(n, 4), *V = calloc(n, 4);
  for (int64_t i = 0; i < n; i++) { P[i] = 1; G[i] = 0.5f; }
  CHECK(B->adam_step(P, G, M, V, NULL, LT_DTYPE_F32, n, 0.1, 0.9, 0.999, 1e-8, 0, false, false, 1) == LT_OK &&
        P[0] == p && P[n - 1] == p, "big adam");
  free(P);
  free(G);
  free(M);
  free(V);
}

/* ---------------------------------------------------------------- fast float math */

/* relative error of a float result against the double reference, with
** denormal-range results judged on an absolute scale of the smallest normal */
static double fm_err(float got, double want) {
  if (isinf((float)want)) want = (float)want;  /* overflows in float: inf is right */
  if (isnan(want)) return isnan(got) ? 0 : INFINITY;
  if (isinf(want)) return (isinf(got) && (got > 0) == (want > 0)) ? 0 : INFINITY;
  double scale = fabs(want) > 1.1754943508222875e-38 ? fabs(want) : 1.1754943508222875e-38;
  return fabs((double)got - want) / scale;
}

static void test_fastmath(void) {
  double e_exp = 0, e_tanh = 0, e_sig = 0;
  float worst_exp = 0, worst_tanh = 0, worst_sig = 0;
  /* every 97th float bit pattern between -110 and 110, plus a dense sweep near 0 */
  for (uint32_t b = 0; b < 0xFFFFFFFFu - 97; b += 97) {
    float x;
    memcpy(&x, &b, sizeof x);
    if (!(fabsf(x) <= 110.0f)) continue;
    double xd = x;
    double e = fm_err(lt_fast_expf(x), exp(xd));
    if (e > e_exp) { e_exp = e; worst_exp = x; }
    e = fm_err(lt_fast_tanhf(x), tanh(xd));
    if (e > e_tanh) { e_tanh = e; worst_tanh = x; }
    e = fm_err(lt_fast_sigmoidf(x), 1.0 / (1.0 + exp(-xd)));
    if (e > e_sig) { e_sig = e; worst_sig = x; }
  }
  CHECK(e_exp < 4e-7, "fast expf: max relative error %.3g at %.9g", e_exp, worst_exp);
  CHECK(e_tanh < 4e-7, "fast tanhf: max relative error %.3g at %.9g", e_tanh, worst_tanh);
  CHECK(e_sig < 4e-7, "fast sigmoidf: max relative error %.3g at %.9g", e_sig, worst_sig);
  /* special values as libm */
  CHECK(isnan(lt_fast_expf(NAN)) && isnan(lt_fast_tanhf(NAN)) && isnan(lt_fast_sigmoidf(NAN)),
        "NaN propagates");
  CHECK(isinf(lt_fast_expf(INFINITY)) && lt_fast_expf(-INFINITY) == 0.0f, "exp(+-inf)");
  CHECK(isinf(lt_fast_expf(88.8f)) && lt_fast_expf(88.7f) > 3.3e38f, "exp overflows at 88.72");
  CHECK(lt_fast_expf(-103.5f) > 0 && lt_fast_expf(-104.5f) == 0.0f, "exp underflows gradually");
  CHECK(lt_fast_expf(0.0f) == 1.0f, "exp(0) = 1");
  CHECK(lt_fast_tanhf(INFINITY) == 1.0f && lt_fast_tanhf(-INFINITY) == -1.0f, "tanh(+-inf)");
  CHECK(lt_fast_tanhf(20.0f) == 1.0f && lt_fast_tanhf(-20.0f) == -1.0f, "tanh saturates");
  CHECK(signbit(lt_fast_tanhf(-0.0f)) && lt_fast_tanhf(-0.0f) == 0.0f, "tanh(-0) = -0");
  CHECK(lt_fast_sigmoidf(INFINITY) == 1.0f && lt_fast_sigmoidf(-INFINITY) == 0.0f, "sigmoid(+-inf)");
  CHECK(lt_fast_sigmoidf(0.0f) == 0.5f, "sigmoid(0) = 0.5");
}

/* The float32 unary rows are compiled per instruction set (LT_SIMD_CLONES):
** whichever clone this CPU runs must give the scalar baseline's bits, on a
** vector long enough for the SIMD body and its tail, forward and backward. */
static void test_unary_clones(void) {
  enum { N = 4099 };
  static float x[N], y[N], g[N], dx[N];
  for (int i = 0; i < N; i++) {
    x[i] = (float)((i * 7919) % 4001 - 2000) / 97.0f;
    g[i] = (float)((i * 104729) % 1999 - 999) / 333.0f;
  }
  x[5] = NAN; x[6] = INFINITY; x[7] = -INFINITY; x[8] = -0.0f;
  const lt_unary_op ops[4] = {LT_UNARY_EXP, LT_UNARY_TANH, LT_UNARY_SIGMOID, LT_UNARY_SILU};
  const char *names[4] = {"exp", "tanh", "sigmoid", "silu"};
  for (int k = 0; k < 4; k++) {
    lt_view vo = vec(y, LT_DTYPE_F32, N), vi = vec(x, LT_DTYPE_F32, N);
    CHECK(B->unary(ops[k], &vo, &vi, NULL) == LT_OK, "%s rows", names[k]);
    int bad = 0;
    for (int i = 0; i < N; i++) {
      float r = k == 0 ? lt_fast_expf(x[i]) : k == 1 ? lt_fast_tanhf(x[i])
              : k == 2 ? lt_fast_sigmoidf(x[i]) : x[i] * lt_fast_sigmoidf(x[i]);
      if (memcmp(&r, &y[i], sizeof r) != 0 && !(isnan(r) && isnan(y[i]))) bad++;
    }
    CHECK(bad == 0, "%s: %d of %d elements differ from the scalar baseline", names[k], bad, N);
  }
  /* tanh backward reads the output: dx = dy * (1 - y*y) */
  lt_view vy = vec(y, LT_DTYPE_F32, N), vx = vec(x, LT_DTYPE_F32, N);
  lt_view vg = vec(g, LT_DTYPE_F32, N), vd = vec(dx, LT_DTYPE_F32, N);
  CHECK(B->unary(LT_UNARY_TANH, &vy, &vx, NULL) == LT_OK, "tanh rows");
  CHECK(B->unary_backward(LT_UNARY_TANH, &vd, &vg, &vx, &vy, NULL) == LT_OK, "tanh backward rows");
  int bad = 0;
  for (int i = 0; i < N; i++) {
    float r = g[i] * (1.0f - y[i] * y[i]);
    if (memcmp(&r, &dx[i], sizeof r) != 0 && !(isnan(r) && isnan(dx[i]))) bad++;
  }
  CHECK(bad == 0, "tanh backward: %d elements differ", bad);
}

int main(void) {
  test_memory();
  test_halves();
  test_copy();
  test_fill();
  test_fastmath();
  test_unary_clones();
  test_unary();
  test_unary_backward();
  test_binary();
  test_reduce();
  test_rng();
  test_optim();
  test_adam_lanes();
  CTEST_END();
}
