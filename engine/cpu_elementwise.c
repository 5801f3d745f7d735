/*
** cpu_elementwise.c - the CPU backend's elementwise kernels: copy (any dtype
** pair), fill, unary, unary_backward, binary and where over strided views.
** A small iterator merges contiguous dims and hands 1-d rows to per-dtype
** loops generated from cpu_ew_float.h / cpu_ew_int.h. No broadcasting
** logic (views arrive pre-broadcast) and no type promotion (front-ends).
*/
#include <stdio.h>
#include <stdlib.h>
#include <tgmath.h>
#include "cpu_util.h"
#include "cpu_fastmath.h"

/* ---------------------------------------------------------------- iterator */

static const char *ew_shape_str(const lt_view *v, char *buf, size_t cap) {
  size_t k = (size_t)snprintf(buf, cap, "{");
  for (int d = 0; d < v->ndim && k < cap; d++)
    k += (size_t)snprintf(buf + k, cap - k, d ? ", %lld" : "%lld", (long long)v->shape[d]);
  if (k < cap) snprintf(buf + k, cap - k, "}");
  return buf;
}

lt_status lt_cpu_iter_init(lt_cpu_iter *it, const char *op, int nv, const lt_view *const *v) {
  const lt_view *o = v[0];
  if (o->ndim < 0 || o->ndim > LT_MAX_DIMS)
    return lt_error(LT_ERR_SHAPE, "%s: view has %d dims (at most %d)", op, o->ndim, LT_MAX_DIMS);
  for (int k = 1; k < nv; k++) {
    bool same = v[k]->ndim == o->ndim;
    for (int d = 0; same && d < o->ndim; d++) same = v[k]->shape[d] == o->shape[d];
    if (!same) {
      char b1[160], b2[160];
      return lt_error(LT_ERR_SHAPE, "%s: operand %d has shape %s but the output has %s", op, k,
                      ew_shape_str(v[k], b1, sizeof b1), ew_shape_str(o, b2, sizeof b2));
    }
  }
  it->nv = nv;
  it->numel = 1;
  int nd = 0;
  for (int d = 0; d < o->ndim; d++) {
    it->numel *= o->shape[d];
    if (o->shape[d] == 1) continue;
    it->shape[nd] = o->shape[d];
    for (int k = 0; k < nv; k++) it->stride[k][nd] = v[k]->stride[d];
    nd++;
  }
  if (nd == 0) {
    nd = 1;
    it->shape[0] = 1;
    for (int k = 0; k < nv; k++) it->stride[k][0] = 0;
  }
  /* merge dim i into the previous kept dim j when every operand steps through
     them as one: stride[j] == stride[i] * shape[i] */
  int j = 0;
  for (int i = 1; i < nd; i++) {
    bool merge = true;
    for (int k = 0; k < nv && merge; k++)
      merge = it->stride[k][j] == it->stride[k][i] * it->shape[i];
    if (merge) {
      it->shape[j] *= it->shape[i];
      for (int k = 0; k < nv; k++) it->stride[k][j] = it->stride[k][i];
    } else {
      j++;
      it->shape[j] = it->shape[i];
      for (int k = 0; k < nv; k++) it->stride[k][j] = it->stride[k][i];
    }
  }
  it->ndim = j + 1;
  for (int k = 0; k < nv; k++) {
    it->data[k] = (char *)v[k]->data;
    it->esize[k] = (int64_t)lt_cpu_esize(v[k]->dtype);
  }
  return LT_OK;
}

/* Rows covering flat elements [start, end) in row-major order. */
static void iter_range(const lt_cpu_iter *it, int64_t start, int64_t end, lt_cpu_row_fn fn,
                       void *ctx) {
  const int nd = it->ndim, nv = it->nv;
  int64_t idx[LT_MAX_DIMS], off[LT_CPU_MAX_OPERANDS], inner[LT_CPU_MAX_OPERANDS];
  char *ptr[LT_CPU_MAX_OPERANDS];
  int64_t rem = start;
  for (int d = nd - 1; d >= 0; d--) {
    idx[d] = rem % it->shape[d];
    rem /= it->shape[d];
  }
  for (int k = 0; k < nv; k++) {
    off[k] = 0;
    for (int d = 0; d < nd; d++) off[k] += idx[d] * it->stride[k][d];
    inner[k] = it->stride[k][nd - 1];
  }
  const int64_t last = it->shape[nd - 1];
  while (start < end) {
    int64_t n = last - idx[nd - 1];
    if (n > end - start) n = end - start;
    for (int k = 0; k < nv; k++) ptr[k] = it->data[k] + off[k] * it->esize[k];
    fn(ctx, n, ptr, inner);
    start += n;
    if (start >= end) break;
    idx[nd - 1] += n;
    for (int k = 0; k < nv; k++) off[k] += n * inner[k];
    for (int d = nd - 1; d > 0 && idx[d] == it->shape[d]; d--) {
      idx[d] = 0;
      idx[d - 1]++;
      for (int k = 0; k < nv; k++)
        off[k] += it->stride[k][d - 1] - it->shape[d] * it->stride[k][d];
    }
  }
}

/* Some operand walks the last two dims "transposed" (its faster dim is the
** second-to-last): visit them in TILE x TILE tiles so both sides stay in cache. */
#define EW_TILE 32
static bool iter_wants_tiles(const lt_cpu_iter *it) {
  const int nd = it->ndim;
  if (nd < 2 || it->shape[nd - 1] < EW_TILE || it->shape[nd - 2] < EW_TILE) return false;
  for (int k = 0; k < it->nv; k++) {
    int64_t si = it->stride[k][nd - 1], so = it->stride[k][nd - 2];
    if (si >= EW_TILE && so < si) return true;
  }
  return false;
}

static void iter_tiles(const lt_cpu_iter *it, lt_cpu_row_fn fn, void *ctx) {
  const int nd = it->ndim, nv = it->nv;
  const int64_t rows = it->shape[nd - 2], cols = it->shape[nd - 1];
  const int64_t trows = (rows + EW_TILE - 1) / EW_TILE;
  const int64_t ntask = it->numel / (rows * cols) * trows;
#pragma omp parallel for schedule(static) if (it->numel > LT_CPU_PARALLEL_GRAIN)
  for (int64_t t = 0; t < ntask; t++) {
    int64_t o = t / trows, i0 = (t % trows) * EW_TILE;
    int64_t i1 = i0 + EW_TILE < rows ? i0 + EW_TILE : rows;
    int64_t base[LT_CPU_MAX_OPERANDS], inner[LT_CPU_MAX_OPERANDS];
    char *ptr[LT_CPU_MAX_OPERANDS];
    for (int k = 0; k < nv; k++) {
      base[k] = 0;
      inner[k] = it->stride[k][nd - 1];
    }
    for (int d = nd - 3; d >= 0; d--) {
      int64_t i = o % it->shape[d];
      o /= it->shape[d];
      for (int k = 0; k < nv; k++) base[k] += i * it->stride[k][d];
    }
    for (int64_t j0 = 0; j0 < cols; j0 += EW_TILE) {
      int64_t n = cols - j0 < EW_TILE ? cols - j0 : EW_TILE;
      for (int64_t i = i0; i < i1; i++) {
        for (int k = 0; k < nv; k++)
          ptr[k] = it->data[k] +
                   (base[k] + i * it->stride[k][nd - 2] + j0 * inner[k]) * it->esize[k];
        fn(ctx, n, ptr, inner);
      }
    }
  }
}

void lt_cpu_iter_run(const lt_cpu_iter *it, lt_cpu_row_fn fn, void *ctx) {
  const int64_t total = it->numel;
  if (total <= 0) return;
  if (total > 4096 && iter_wants_tiles(it)) {
    iter_tiles(it, fn, ctx);
    return;
  }
  if (total <= LT_CPU_PARALLEL_GRAIN) {
    iter_range(it, 0, total, fn, ctx);
    return;
  }
#pragma omp parallel
  {
    int nt = 1, t = 0;
#ifdef _OPENMP
    nt = omp_get_num_threads();
    t = omp_get_thread_num();
#endif
    int64_t chunk = (total + nt - 1) / nt;
    chunk = (chunk + 63) & ~(int64_t)63;  /* whole cache lines per thread */
    int64_t s = (int64_t)t * chunk, e = s + chunk < total ? s + chunk : total;
    if (s < e) iter_range(it, s, e, fn, ctx);
  }
}

/* ---------------------------------------------------------------- per-dtype access */

static inline float ew_ld_f32(float v) { return v; }
static inline float ew_st_f32(float v) { return v; }
static inline double ew_ld_f64(double v) { return v; }
static inline double ew_st_f64(double v) { return v; }
static inline float ew_ld_bf16(uint16_t v) { return lt_cpu_bf2f(v); }
static inline uint16_t ew_st_bf16(float v) { return lt_cpu_f2bf(v); }
static inline float ew_ld_f16(uint16_t v) { return lt_cpu_h2f(v); }
static inline uint16_t ew_st_f16(float v) { return lt_cpu_f2h(v); }
static inline int64_t ew_ld_i64(int64_t v) { return v; }
static inline int64_t ew_st_i64(int64_t v) { return v; }
static inline int64_t ew_ld_i32(int32_t v) { return v; }
static inline int32_t ew_st_i32(int64_t v) { return (int32_t)v; }
static inline int64_t ew_ld_u8(uint8_t v) { return v; }
static inline uint8_t ew_st_u8(int64_t v) { return (uint8_t)v; }
static inline int64_t ew_ld_b8(uint8_t v) { return v != 0; }
static inline uint8_t ew_st_b8(int64_t v) { return v != 0; }

/* ---------------------------------------------------------------- scalar helpers */

#define EW_SQRT1_2 0.70710678118654752440
#define EW_2_SQRTPI 1.12837916709551257390
#define EW_INV_SQRT_2PI 0.39894228040143267794
#define EW_GELU_BETA 0.79788456080286535588 /* sqrt(2/pi) */
#define EW_GELU_KAPPA 0.044715

/* wrapping integer arithmetic (no signed-overflow UB) */
static inline int64_t ew_wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t ew_wsub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t ew_wmul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }
static inline bool ew_false(int64_t a) { (void)a; return false; }

static inline int64_t ew_ipow(int64_t a, int64_t b) {
  if (b < 0) return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
  uint64_t r = 1, base = (uint64_t)a;
  while (b) {
    if (b & 1) r *= base;
    base *= base;
    b >>= 1;
  }
  return (int64_t)r;
}
static inline int64_t ew_ifmod(int64_t a, int64_t b, int *bad) {  /* sign of the dividend */
  if (b == 0) { *bad = 1; return 0; }
  if (b == -1) return 0;
  return a % b;
}
static inline int64_t ew_irem(int64_t a, int64_t b, int *bad) {   /* sign of the divisor */
  int64_t r = ew_ifmod(a, b, bad);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}
static inline int64_t ew_ifloordiv(int64_t a, int64_t b, int *bad) {
  if (b == 0) { *bad = 1; return 0; }
  if (b == -1) return ew_wsub(0, a);
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

/* Python/PyTorch remainder and floor division for floats */
#define EW_DEF_PYOPS(T, SUF)                                                 \
  static inline T ew_pyrem_##SUF(T a, T b) {                                 \
    T m = fmod(a, b);                                                        \
    if (m != 0 && ((b < 0) != (m < 0))) m += b;                              \
    return m;                                                                \
  }                                                                          \
  static inline T ew_pyfloordiv_##SUF(T a, T b) {                            \
    if (b == 0) return a / b;                                                \
    T m = fmod(a, b);                                                        \
    T div = (a - m) / b;                                                     \
    if (m != 0 && ((b < 0) != (m < 0))) div -= (T)1;                         \
    if (div == 0) return copysign((T)0, a / b);                              \
    T fl = floor(div);                                                       \
    if (div - fl > (T)0.5) fl += (T)1;                                       \
    return fl;                                                               \
  }
EW_DEF_PYOPS(float, f)
EW_DEF_PYOPS(double, d)
#define EW_PYREM(a, b) _Generic((a), float: ew_pyrem_f, default: ew_pyrem_d)(a, b)
#define EW_PYFLOORDIV(a, b) _Generic((a), float: ew_pyfloordiv_f, default: ew_pyfloordiv_d)(a, b)

/* ---------------------------------------------------------------- loop templates */

typedef struct {
  lt_unary_op op;
  double p0, p1;
} ew_unary_ctx;

typedef struct {
  lt_binary_op op;
  double s;
  bool has_b, reverse;
  int bad;  /* integer division by zero seen */
} ew_binary_ctx;

#define EW_CAT_(a, b) a##_##b
#define EW_CAT(a, b) EW_CAT_(a, b)
#define EW_FN(name) EW_CAT(name, EW_N)
#define EW_STB(v) ((uint8_t)(v))

/* Contiguous loops carry `omp simd` (gcc -O2 does not vectorise loops that
** need alias checks) when the output is the same array as the input or does
** not overlap it: a partial overlap keeps the plain sequential loop. */
#define EW_SAFE(OUT, IN, n) \
  ((const void *)(OUT) == (const void *)(IN) || (const char *)((OUT) + (n)) <= (const char *)(IN) || \
   (const char *)((IN) + (n)) <= (const char *)(OUT))
#define EW_SIMD_FOR(cond, ...)                                                   \
  do {                                                                           \
    if (cond) {                                                                  \
      _Pragma("omp simd") for (int64_t i = 0; i < n; i++) { __VA_ARGS__ }        \
    } else {                                                                     \
      for (int64_t i = 0; i < n; i++) { __VA_ARGS__ }                            \
    }                                                                            \
  } while (0)

/* out = EXPR(x): a contiguous loop the compiler can vectorise, and a strided one */
#define U_LOOP_GEN(OUT, STORE, ...)                                              \
  do {                                                                           \
    if (so == 1 && sa == 1) {                                                    \
      EW_SIMD_FOR(EW_SAFE(OUT, a, n), const EW_CT x = EW_LD(a[i]);               \
                  OUT[i] = STORE(__VA_ARGS__););                                 \
    } else {                                                                     \
      for (int64_t i = 0; i < n; i++) {                                          \
        const EW_CT x = EW_LD(a[i * sa]);                                        \
        OUT[i * so] = STORE(__VA_ARGS__);                                        \
      }                                                                          \
    }                                                                            \
  } while (0)
#define U_LOOP(...) U_LOOP_GEN(o, EW_ST, __VA_ARGS__)
#define UB_LOOP(...) U_LOOP_GEN(ob, EW_STB, __VA_ARGS__)

/* backward: BG, BX, BY read dy, x, y lazily (x or y may be absent) */
/* The operands are loaded before the expression, unconditionally: a load
** inside one arm of ?: (relu's `x <= 0 ? 0 : dy`) kept GCC from
** if-converting, and relu backward ran as a scalar loop with a
** mispredicted branch per element (6 ns each). Unused loads are dropped. */
#define BG bg_
#define BX bx_
#define BY by_
#define BW_STORE(v) (o[ko_] = EW_ST(v))
#define BW_LOAD_()                                                               \
  const EW_CT bg_ = EW_LD(dy[kg_]), bx_ = EW_LD(xs[kx_]), by_ = EW_LD(ys[ky_]); \
  (void)bg_; (void)bx_; (void)by_
#define BW_LOOP_S(...)                                                           \
  do {                                                                           \
    if (so == 1 && sg == 1 && sx == 1 && sy == 1) {                              \
      EW_SIMD_FOR(EW_SAFE(o, dy, n) && (!xs || EW_SAFE(o, xs, n)) &&             \
                      (!ys || EW_SAFE(o, ys, n)),                                \
                  const int64_t ko_ = i, kg_ = i, kx_ = i, ky_ = i;              \
                  BW_LOAD_(); __VA_ARGS__);                                      \
    } else {                                                                     \
      for (int64_t i = 0; i < n; i++) {                                          \
        const int64_t ko_ = i * so, kg_ = i * sg, kx_ = i * sx, ky_ = i * sy;    \
        BW_LOAD_();                                                              \
        __VA_ARGS__                                                              \
      }                                                                          \
    }                                                                            \
  } while (0)
#define BW_LOOP(...) BW_LOOP_S(BW_STORE(__VA_ARGS__);)

/* binary: mode 0 both tensors, 1 b constant, 2 a constant */
#define B_LOOP_GEN(OUT, STORE, ...)                                              \
  do {                                                                           \
    if (mode == 0) {                                                             \
      if (so == 1 && sa == 1 && sb == 1) {                                       \
        EW_SIMD_FOR(EW_SAFE(OUT, pa, n) && EW_SAFE(OUT, pb, n),                  \
                    const EW_CT a = EW_LD(pa[i]), b = EW_LD(pb[i]);              \
                    OUT[i] = STORE(__VA_ARGS__););                               \
      } else if (so == 1 && sa == 1 && sb == 0) { /* b broadcast along the row */ \
        const EW_CT b = EW_LD(pb[0]);                                            \
        EW_SIMD_FOR(EW_SAFE(OUT, pa, n) && EW_SAFE(OUT, pb, 1),                  \
                    const EW_CT a = EW_LD(pa[i]); OUT[i] = STORE(__VA_ARGS__););  \
      } else if (so == 1 && sa == 0 && sb == 1) { /* a broadcast along the row */ \
        const EW_CT a = EW_LD(pa[0]);                                            \
        EW_SIMD_FOR(EW_SAFE(OUT, pa, 1) && EW_SAFE(OUT, pb, n),                  \
                    const EW_CT b = EW_LD(pb[i]); OUT[i] = STORE(__VA_ARGS__););  \
      } else {                                                                   \
        for (int64_t i = 0; i < n; i++) {                                        \
          const EW_CT a = EW_LD(pa[i * sa]), b = EW_LD(pb[i * sb]);              \
          OUT[i * so] = STORE(__VA_ARGS__);                                      \
        }                                                                        \
      }                                                                          \
    } else if (mode == 1) {                                                      \
      const EW_CT b = kb;                                                        \
      if (so == 1 && sa == 1) {                                                  \
        EW_SIMD_FOR(EW_SAFE(OUT, pa, n), const EW_CT a = EW_LD(pa[i]);           \
                    OUT[i] = STORE(__VA_ARGS__););                               \
      } else {                                                                   \
        for (int64_t i = 0; i < n; i++) {                                        \
          const EW_CT a = EW_LD(pa[i * sa]);                                     \
          OUT[i * so] = STORE(__VA_ARGS__);                                      \
        }                                                                        \
      }                                                                          \
    } else {                                                                     \
      const EW_CT a = ka;                                                        \
      if (so == 1 && sb == 1) {                                                  \
        EW_SIMD_FOR(EW_SAFE(OUT, pb, n), const EW_CT b = EW_LD(pb[i]);           \
                    OUT[i] = STORE(__VA_ARGS__););                               \
      } else {                                                                   \
        for (int64_t i = 0; i < n; i++) {                                        \
          const EW_CT b = EW_LD(pb[i * sb]);                                     \
          OUT[i * so] = STORE(__VA_ARGS__);                                      \
        }                                                                        \
      }                                                                          \
    }                                                                            \
  } while (0)
#define B_LOOP(...) B_LOOP_GEN(o, EW_ST, __VA_ARGS__)
#define BB_LOOP(...) B_LOOP_GEN(ob, EW_STB, __VA_ARGS__)

/* exp, tanh, sigmoid by compute type: float -> cpu_fastmath.h (vectorizes),
** double -> libm */
static inline double ew_exp_d(double x) { return exp(x); }
static inline double ew_tanh_d(double x) { return tanh(x); }
static inline double ew_sigmoid_d(double x) {
  return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}
#define EW_EXP(x) _Generic((x), float: lt_fast_expf, default: ew_exp_d)(x)
#define EW_TANH(x) _Generic((x), float: lt_fast_tanhf, default: ew_tanh_d)(x)
#define EW_SIGMOID(x) _Generic((x), float: lt_fast_sigmoidf, default: ew_sigmoid_d)(x)

#define EW_N f32
#define EW_T float
#define EW_CT float
#define EW_LD ew_ld_f32
#define EW_ST ew_st_f32
#define EW_CLONES LT_SIMD_CLONES  /* exp/tanh/sigmoid/gelu: 2-3x with AVX2/AVX-512 */
#include "cpu_ew_float.h"
#undef EW_CLONES
#define EW_CLONES
#undef EW_N
#undef EW_T
#undef EW_CT
#undef EW_LD
#undef EW_ST
#define EW_N f64
#define EW_T double
#define EW_CT double
#define EW_LD ew_ld_f64
#define EW_ST ew_st_f64
#include "cpu_ew_float.h"
#undef EW_N
#undef EW_T
#undef EW_CT
#undef EW_LD
#undef EW_ST
#define EW_N bf16
#define EW_T uint16_t
#define EW_CT float
#define EW_LD ew_ld_bf16
#define EW_ST ew_st_bf16
#include "cpu_ew_float.h"
#undef EW_N
#undef EW_T
#undef EW_CT
#undef EW_LD
#undef EW_ST
#define EW_N f16
#define EW_T uint16_t
#define EW_CT float
#define EW_LD ew_ld_f16
#define EW_ST ew_st_f16
#include "cpu_ew_float.h"
#undef EW_N
#undef EW_T
#undef EW_CT
#undef EW_LD
#undef EW_ST

#define EW_CT int64_t
#define EW_N i64
#define EW_T int64_t
#define EW_LD ew_ld_i64
#define EW_ST ew_st_i64
#include "cpu_ew_int.h"
#undef EW_N
#undef EW_T
#undef EW_LD
#undef EW_ST
#define EW_N i32
#define EW_T int32_t
#define EW_LD ew_ld_i32
#define EW_ST ew_st_i32
#include "cpu_ew_int.h"
#undef EW_N
#undef EW_T
#undef EW_LD
#undef EW_ST
#define EW_N u8
#define EW_T uint8_t
#define EW_LD ew_ld_u8
#define EW_ST ew_st_u8
#include "cpu_ew_int.h"
#undef EW_N
#undef EW_T
#undef EW_LD
#undef EW_ST
#define EW_N b8
#define EW_T uint8_t
#define EW_LD ew_ld_b8
#define EW_ST ew_st_b8
#include "cpu_ew_int.h"
#undef EW_N
#undef EW_T
#undef EW_LD
#undef EW_ST
#undef EW_CT

/* row functions indexed by lt_dtype (enum order F32 F64 BF16 F16 I64 I32 U8 BOOL) */
static const lt_cpu_row_fn ew_unary_rows[LT_DTYPE_COUNT] = {
  unary_row_f32, unary_row_f64, unary_row_bf16, unary_row_f16,
  unary_row_i64, unary_row_i32, unary_row_u8, unary_row_b8,
};
static const lt_cpu_row_fn ew_unary_bw_rows[4] = {
  unary_bw_row_f32, unary_bw_row_f64, unary_bw_row_bf16, unary_bw_row_f16,
};
static const lt_cpu_row_fn ew_binary_rows[LT_DTYPE_COUNT] = {
  binary_row_f32, binary_row_f64, binary_row_bf16, binary_row_f16,
  binary_row_i64, binary_row_i32, binary_row_u8, binary_row_b8,
};

/* ---------------------------------------------------------------- copy */

typedef float ew_t_f32;
typedef double ew_t_f64;
typedef uint16_t ew_t_bf16;
typedef uint16_t ew_t_f16;
typedef int64_t ew_t_i64;
typedef int32_t ew_t_i32;
typedef uint8_t ew_t_u8;
typedef uint8_t ew_t_b8;

/* load as the natural wide type, then convert with C casts (float -> int
   through int64 so negative -> uint8 wraps as in PyTorch; bool is != 0) */
static inline float ew_cl_f32(float v) { return v; }
static inline double ew_cl_f64(double v) { return v; }
static inline float ew_cl_bf16(uint16_t v) { return lt_cpu_bf2f(v); }
static inline float ew_cl_f16(uint16_t v) { return lt_cpu_h2f(v); }
static inline int64_t ew_cl_i64(int64_t v) { return v; }
static inline int32_t ew_cl_i32(int32_t v) { return v; }
static inline uint8_t ew_cl_u8(uint8_t v) { return v; }
static inline uint8_t ew_cl_b8(uint8_t v) { return v != 0; }
#define EW_CV_f32(v) ((float)(v))
#define EW_CV_f64(v) ((double)(v))
#define EW_CV_bf16(v) lt_cpu_f2bf((float)(v))
#define EW_CV_f16(v) lt_cpu_f2h((float)(v))
#define EW_CV_i64(v) ((int64_t)(v))
#define EW_CV_i32(v) ((int32_t)(int64_t)(v))
#define EW_CV_u8(v) ((uint8_t)(int64_t)(v))
#define EW_CV_b8(v) ((uint8_t)((v) != 0))

#define EW_ALL_TYPES(X, A) X(A, f32) X(A, f64) X(A, bf16) X(A, f16) X(A, i64) X(A, i32) X(A, u8) X(A, b8)
#define EW_COPY_ROW(D, S)                                                        \
  static void copy_##D##_##S(void *c, int64_t n, char **p, const int64_t *st) {  \
    (void)c;                                                                     \
    ew_t_##D *o = (ew_t_##D *)p[0];                                              \
    const ew_t_##S *a = (const ew_t_##S *)p[1];                                  \
    const int64_t so = st[0], sa = st[1];                                        \
    if (so == 1 && sa == 1)                                                      \
      for (int64_t i = 0; i < n; i++) o[i] = EW_CV_##D(ew_cl_##S(a[i]));          \
    else                                                                         \
      for (int64_t i = 0; i < n; i++) o[i * so] = EW_CV_##D(ew_cl_##S(a[i * sa])); \
  }
#define EW_COPY_ROWS(D) EW_ALL_TYPES(EW_COPY_ROW, D)
EW_COPY_ROWS(f32)
EW_COPY_ROWS(f64)
EW_COPY_ROWS(bf16)
EW_COPY_ROWS(f16)
EW_COPY_ROWS(i64)
EW_COPY_ROWS(i32)
EW_COPY_ROWS(u8)
EW_COPY_ROWS(b8)
#define EW_COPY_ENTRY(D, S) copy_##D##_##S,
#define EW_COPY_TABLE_ROW(D) {EW_ALL_TYPES(EW_COPY_ENTRY, D)},
static const lt_cpu_row_fn ew_copy_rows[LT_DTYPE_COUNT][LT_DTYPE_COUNT] = {
  EW_COPY_TABLE_ROW(f32) EW_COPY_TABLE_ROW(f64) EW_COPY_TABLE_ROW(bf16) EW_COPY_TABLE_ROW(f16)
  EW_COPY_TABLE_ROW(i64) EW_COPY_TABLE_ROW(i32) EW_COPY_TABLE_ROW(u8) EW_COPY_TABLE_ROW(b8)
};

/* same-dtype copies, fills and where move raw elements by size */
#define EW_RAW_ROWS(BITS)                                                        \
  static void copy_raw##BITS(void *c, int64_t n, char **p, const int64_t *st) {  \
    (void)c;                                                                     \
    uint##BITS##_t *o = (uint##BITS##_t *)p[0];                                  \
    const uint##BITS##_t *a = (const uint##BITS##_t *)p[1];                      \
    const int64_t so = st[0], sa = st[1];                                        \
    for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa];                       \
  }                                                                              \
  static void fill_raw##BITS(void *c, int64_t n, char **p, const int64_t *st) {  \
    uint##BITS##_t v;                                                            \
    memcpy(&v, c, sizeof v);                                                     \
    uint##BITS##_t *o = (uint##BITS##_t *)p[0];                                  \
    const int64_t so = st[0];                                                    \
    if (so == 1)                                                                 \
      for (int64_t i = 0; i < n; i++) o[i] = v;                                  \
    else                                                                         \
      for (int64_t i = 0; i < n; i++) o[i * so] = v;                             \
  }                                                                              \
  static void where_raw##BITS(void *c, int64_t n, char **p, const int64_t *st) {  \
    const ew_where_ctx *w = c;                                                   \
    uint##BITS##_t *o = (uint##BITS##_t *)p[0];                                  \
    const uint8_t *cd = (const uint8_t *)p[1];                                   \
    const uint##BITS##_t *a = (const uint##BITS##_t *)p[2];                      \
    const int64_t so = st[0], sc = st[1], sa = st[2];                            \
    if (w->has_b) {                                                              \
      const uint##BITS##_t *b = (const uint##BITS##_t *)p[3];                    \
      const int64_t sb = st[3];                                                  \
      for (int64_t i = 0; i < n; i++) o[i * so] = cd[i * sc] ? a[i * sa] : b[i * sb]; \
    } else {                                                                     \
      uint##BITS##_t k;                                                          \
      memcpy(&k, w->s, sizeof k);                                                \
      for (int64_t i = 0; i < n; i++) o[i * so] = cd[i * sc] ? a[i * sa] : k;   \
    }                                                                            \
  }

typedef struct {
  _Alignas(8) unsigned char s[8];  /* scalar b in the output dtype */
  bool has_b;
} ew_where_ctx;

EW_RAW_ROWS(8)
EW_RAW_ROWS(16)
EW_RAW_ROWS(32)
EW_RAW_ROWS(64)

static lt_cpu_row_fn ew_raw_pick(size_t es, lt_cpu_row_fn f8, lt_cpu_row_fn f16,
                                 lt_cpu_row_fn f32, lt_cpu_row_fn f64) {
  return es == 8 ? f64 : es == 4 ? f32 : es == 2 ? f16 : f8;
}

static lt_status ew_check_dtype(const char *op, const char *arg, lt_dtype dt) {
  if ((unsigned)dt >= LT_DTYPE_COUNT)
    return lt_error(LT_ERR_DTYPE, "%s: %s has an unknown dtype %d", op, arg, (int)dt);
  return LT_OK;
}

lt_status lt_cpu_copy(const lt_view *dst, const lt_view *src) {
  lt_status st;
  if ((st = ew_check_dtype("copy", "dst", dst->dtype)) || (st = ew_check_dtype("copy", "src", src->dtype)))
    return st;
  const lt_view *v[2] = {dst, src};
  lt_cpu_iter it;
  if ((st = lt_cpu_iter_init(&it, "copy", 2, v))) return st;
  if (it.numel == 0) return LT_OK;
  if (dst->dtype == src->dtype) {
    const int64_t es = it.esize[0];
    if (it.ndim == 1 && it.stride[0][0] == 1 && it.stride[1][0] == 1) {
      const int64_t nbytes = it.numel * es;
      const int64_t block = 1 << 20;  /* 1 MiB pieces */
      const int64_t nblk = (nbytes + block - 1) / block;
#pragma omp parallel for schedule(static) if (it.numel > LT_CPU_PARALLEL_GRAIN && nblk > 1)
      for (int64_t b = 0; b < nblk; b++) {
        int64_t o = b * block, len = nbytes - o < block ? nbytes - o : block;
        memcpy(it.data[0] + o, it.data[1] + o, (size_t)len);
      }
      return LT_OK;
    }
    lt_cpu_iter_run(&it, ew_raw_pick((size_t)es, copy_raw8, copy_raw16, copy_raw32, copy_raw64),
                    NULL);
    return LT_OK;
  }
  lt_cpu_iter_run(&it, ew_copy_rows[dst->dtype][src->dtype], NULL);
  return LT_OK;
}

lt_status lt_cpu_fill(const lt_view *dst, double value) {
  lt_status st;
  if ((st = ew_check_dtype("fill", "dst", dst->dtype))) return st;
  const lt_view *v[1] = {dst};
  lt_cpu_iter it;
  if ((st = lt_cpu_iter_init(&it, "fill", 1, v))) return st;
  _Alignas(8) unsigned char pat[8] = {0};
  lt_cpu_store_d(pat, dst->dtype, value);
  size_t es = lt_cpu_esize(dst->dtype);
  lt_cpu_iter_run(&it, ew_raw_pick(es, fill_raw8, fill_raw16, fill_raw32, fill_raw64), pat);
  return LT_OK;
}

/* ---------------------------------------------------------------- unary */

static const char *const ew_unary_names[LT_UNARY_COUNT] = {
  "neg", "abs", "sign", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "reciprocal",
  "square", "sin", "cos", "tanh", "sigmoid", "relu", "gelu", "gelu_tanh", "silu", "erf",
  "floor", "ceil", "round", "trunc", "logical_not", "isnan", "isinf", "clamp", "leaky_relu",
  "pow", "rpow",
};

static bool ew_unary_int_ok(lt_unary_op op) {
  switch (op) {
    case LT_UNARY_NEG: case LT_UNARY_ABS: case LT_UNARY_SIGN: case LT_UNARY_SQUARE:
    case LT_UNARY_RELU: case LT_UNARY_FLOOR: case LT_UNARY_CEIL: case LT_UNARY_ROUND:
    case LT_UNARY_TRUNC: case LT_UNARY_LOGICAL_NOT: case LT_UNARY_ISNAN: case LT_UNARY_ISINF:
    case LT_UNARY_CLAMP: case LT_UNARY_POW_SCALAR:
      return true;
    default:
      return false;
  }
}

static bool ew_unary_has_params(lt_unary_op op) {
  return op == LT_UNARY_CLAMP || op == LT_UNARY_LEAKY_RELU || op == LT_UNARY_POW_SCALAR ||
         op == LT_UNARY_RPOW_SCALAR;
}

lt_status lt_cpu_unary(lt_unary_op op, const lt_view *out, const lt_view *in, const double *p) {
  lt_status st;
  if ((unsigned)op >= LT_UNARY_COUNT) return lt_error(LT_ERR_ARG, "unary: unknown op %d", (int)op);
  const char *name = ew_unary_names[op];
  if ((st = ew_check_dtype(name, "input", in->dtype))) return st;
  const bool bool_out = op == LT_UNARY_LOGICAL_NOT || op == LT_UNARY_ISNAN || op == LT_UNARY_ISINF;
  if (bool_out ? out->dtype != LT_DTYPE_BOOL : out->dtype != in->dtype)
    return lt_error(LT_ERR_DTYPE, "%s: output dtype %s, expected %s", name,
                    lt_dtype_name(out->dtype), bool_out ? "bool" : lt_dtype_name(in->dtype));
  if (ew_unary_has_params(op) && !p)
    return lt_error(LT_ERR_ARG, "%s: missing parameters", name);
  ew_unary_ctx c = {op, p ? p[0] : 0, p && op == LT_UNARY_CLAMP ? p[1] : 0};
  if (!lt_cpu_is_float(in->dtype)) {
    if (!ew_unary_int_ok(op))
      return lt_error(LT_ERR_DTYPE, "%s: not defined for %s input", name, lt_dtype_name(in->dtype));
    if (op == LT_UNARY_POW_SCALAR && (c.p0 != floor(c.p0) || c.p0 < 0))
      return lt_error(LT_ERR_DTYPE, "pow: %s input needs a non-negative integer exponent, got %g",
                      lt_dtype_name(in->dtype), c.p0);
  }
  const lt_view *v[2] = {out, in};
  lt_cpu_iter it;
  if ((st = lt_cpu_iter_init(&it, name, 2, v))) return st;
  lt_cpu_iter_run(&it, ew_unary_rows[in->dtype], &c);
  return LT_OK;
}

static bool ew_backward_reads_y(lt_unary_op op) {
  switch (op) {
    case LT_UNARY_EXP: case LT_UNARY_SQRT: case LT_UNARY_RSQRT: case LT_UNARY_TANH:
    case LT_UNARY_SIGMOID: case LT_UNARY_RECIPROCAL: case LT_UNARY_EXPM1:
    case LT_UNARY_RPOW_SCALAR:
      return true;
    default:
      return false;
  }
}

lt_status lt_cpu_unary_backward(lt_unary_op op, const lt_view *dx, const lt_view *dy,
                                const lt_view *x, const lt_view *y, const double *p) {
  lt_status st;
  if ((unsigned)op >= LT_UNARY_COUNT)
    return lt_error(LT_ERR_ARG, "unary_backward: unknown op %d", (int)op);
  const char *name = ew_unary_names[op];
  if ((st = ew_check_dtype(name, "grad", dy->dtype))) return st;
  if (!lt_cpu_is_float(dy->dtype) || dx->dtype != dy->dtype)
    return lt_error(LT_ERR_DTYPE, "%s backward: needs float gradients of one dtype, got dx %s, dy %s",
                    name, lt_dtype_name(dx->dtype), lt_dtype_name(dy->dtype));
  if (ew_unary_has_params(op) && !p)
    return lt_error(LT_ERR_ARG, "%s backward: missing parameters", name);
  const bool need_y = ew_backward_reads_y(op);
  const bool need_x = !need_y || (op == LT_UNARY_RPOW_SCALAR && p[0] == 0);
  const bool have_x = x && x->data, have_y = y && y->data;
  if ((need_x && !have_x) || (need_y && !have_y))
    return lt_error(LT_ERR_ARG, "%s backward: the saved %s is missing", name,
                    need_x && !have_x ? "input" : "output");
  if ((have_x && x->dtype != dy->dtype) || (have_y && y->dtype != dy->dtype))
    return lt_error(LT_ERR_DTYPE, "%s backward: saved tensors must have dtype %s", name,
                    lt_dtype_name(dy->dtype));
  ew_unary_ctx c = {op, p ? p[0] : 0, p && op == LT_UNARY_CLAMP ? p[1] : 0};
  /* an absent operand is replaced by dy (never read) */
  const lt_view *v[4] = {dx, dy, have_x ? x : dy, have_y ? y : dy};
  lt_cpu_iter it;
  if ((st = lt_cpu_iter_init(&it, name, 4, v))) return st;
  lt_cpu_iter_run(&it, ew_unary_bw_rows[dy->dtype], &c);
  return LT_OK;
}

/* ---------------------------------------------------------------- binary, where */

static const char *const ew_binary_names[LT_BINARY_COUNT] = {
  "add", "sub", "mul", "div", "pow", "maximum", "minimum", "fmod", "remainder",
  "floor_divide", "atan2", "eq", "ne", "lt", "le", "gt", "ge", "logical_and",
  "logical_or", "logical_xor",
};

lt_status lt_cpu_binary(lt_binary_op op, const lt_view *out, const lt_view *a, const lt_view *b,
                        double s, bool reverse) {
  lt_status st;
  if ((unsigned)op >= LT_BINARY_COUNT) return lt_error(LT_ERR_ARG, "binary: unknown op %d", (int)op);
  const char *name = ew_binary_names[op];
  if ((st = ew_check_dtype(name, "a", a->dtype))) return st;
  if (b && b->dtype != a->dtype)
    return lt_error(LT_ERR_DTYPE, "%s: operands have dtypes %s and %s", name,
                    lt_dtype_name(a->dtype), lt_dtype_name(b->dtype));
  const bool bool_out = op >= LT_BINARY_EQ;
  if (bool_out ? out->dtype != LT_DTYPE_BOOL : out->dtype != a->dtype)
    return lt_error(LT_ERR_DTYPE, "%s: output dtype %s, expected %s", name,
                    lt_dtype_name(out->dtype), bool_out ? "bool" : lt_dtype_name(a->dtype));
  if (!lt_cpu_is_float(a->dtype) && (op == LT_BINARY_DIV || op == LT_BINARY_ATAN2))
    return lt_error(LT_ERR_DTYPE, "%s: not defined for %s operands", name, lt_dtype_name(a->dtype));
  ew_binary_ctx c = {op, s, b != NULL, reverse, 0};
  const lt_view *v[3] = {out, a, b};
  lt_cpu_iter it;
  if ((st = lt_cpu_iter_init(&it, name, b ? 3 : 2, v))) return st;
  lt_cpu_iter_run(&it, ew_binary_rows[a->dtype], &c);
  if (c.bad) return lt_error(LT_ERR_ARG, "%s: integer division by zero", name);
  return LT_OK;
}

lt_status lt_cpu_where(const lt_view *out, const lt_view *cond, const lt_view *a,
                       const lt_view *b, double s) {
  lt_status st;
  if ((st = ew_check_dtype("where", "a", a->dtype))) return st;
  if (cond->dtype != LT_DTYPE_BOOL && cond->dtype != LT_DTYPE_U8)
    return lt_error(LT_ERR_DTYPE, "where: condition must be bool, got %s", lt_dtype_name(cond->dtype));
  if (out->dtype != a->dtype || (b && b->dtype != a->dtype))
    return lt_error(LT_ERR_DTYPE, "where: out %s, a %s and b %s must have one dtype",
                    lt_dtype_name(out->dtype), lt_dtype_name(a->dtype),
                    b ? lt_dtype_name(b->dtype) : "(scalar)");
  ew_where_ctx c = {{0}, b != NULL};
  if (!b) lt_cpu_store_d(c.s, a->dtype, s);
  const lt_view *v[4] = {out, cond, a, b};
  lt_cpu_iter it;
  if ((st = lt_cpu_iter_init(&it, "where", b ? 4 : 3, v))) return st;
  size_t es = lt_cpu_esize(out->dtype);
  lt_cpu_iter_run(&it, ew_raw_pick(es, where_raw8, where_raw16, where_raw32, where_raw64), &c);
  return LT_OK;
}
