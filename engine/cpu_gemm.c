/*
** cpu_gemm.c - the CPU backend's matrix product: row-major (batched)
** C = alpha * op(A) @ op(B) + beta * C through OpenBLAS, with a plain loop
** for tiny products and layouts BLAS refuses (ld smaller than a row).
** bf16/f16 go through float32 staging. Integer dtypes are not handled.
** Before the first product it upgrades OpenBLAS's kernel when its CPU
** detection fell back to an old core (see blas_pick_core).
*/
#include <cblas.h>
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdlib.h>
#include <string.h>
#include "cpu_kernels.h"
#include "cpu_stage.h"

/* Below this many multiply-adds a product skips BLAS (call overhead). */
#define LT_GEMM_SMALL 4096

typedef struct {
  bool ta, tb;
  int64_t m, n, k, lda, ldb, ldc;
  double alpha, beta;
} gemm_args;

/* C = beta*C (k == 0 or alpha == 0); beta == 0 writes exact zeros. */
#define DEFINE_SCALE(SUF, T)                                                  \
  static void scale_##SUF(T *c, const gemm_args *g) {                         \
    for (int64_t i = 0; i < g->m; i++)                                        \
      for (int64_t j = 0; j < g->n; j++)                                      \
        c[i * g->ldc + j] = g->beta == 0 ? (T)0 : (T)(g->beta * c[i * g->ldc + j]); \
  }

/* Reference loop, any ld (also 0 or overlapping). Accumulates in double. */
#define DEFINE_NAIVE(SUF, T)                                                  \
  static void naive_##SUF(const T *a, const T *b, T *c, const gemm_args *g) { \
    for (int64_t i = 0; i < g->m; i++)                                        \
      for (int64_t j = 0; j < g->n; j++) {                                    \
        double s = 0;                                                         \
        for (int64_t p = 0; p < g->k; p++) {                                  \
          double av = g->ta ? a[p * g->lda + i] : a[i * g->lda + p];          \
          double bv = g->tb ? b[j * g->ldb + p] : b[p * g->ldb + j];          \
          s += av * bv;                                                       \
        }                                                                     \
        T *cp = &c[i * g->ldc + j];                                           \
        *cp = (T)(g->alpha * s + (g->beta == 0 ? 0.0 : g->beta * (double)*cp)); \
      }                                                                       \
  }

DEFINE_SCALE(f32, float)
DEFINE_SCALE(f64, double)
DEFINE_NAIVE(f32, float)
DEFINE_NAIVE(f64, double)

/* Can BLAS take these leading dimensions? Fixes ld of single-row matrices. */
static bool blas_ok(gemm_args *g) {
  int64_t ar = g->ta ? g->k : g->m, ac = g->ta ? g->m : g->k;
  int64_t br = g->tb ? g->n : g->k, bc = g->tb ? g->k : g->n;
  if (ar <= 1 && g->lda < ac) g->lda = ac > 1 ? ac : 1;
  if (br <= 1 && g->ldb < bc) g->ldb = bc > 1 ? bc : 1;
  if (g->m <= 1 && g->ldc < g->n) g->ldc = g->n > 1 ? g->n : 1;
  if (g->lda < (ac > 1 ? ac : 1) || g->ldb < (bc > 1 ? bc : 1) || g->ldc < (g->n > 1 ? g->n : 1))
    return false;
  return g->m <= INT_MAX && g->n <= INT_MAX && g->k <= INT_MAX && g->lda <= INT_MAX &&
         g->ldb <= INT_MAX && g->ldc <= INT_MAX;
}

/*
** OpenBLAS built with DYNAMIC_ARCH picks its kernels from cpuid when it is
** loaded; a CPU model newer than the library (e.g. Emerald Rapids with
** OpenBLAS 0.3.21) falls back to "Prescott" (SSE3), several times slower
** than the AVX-512 kernels the CPU runs. When OPENBLAS_CORETYPE is not set
** and the chosen core is weaker than what the CPU supports, pick SkylakeX
** (AVX-512) or Haswell (AVX2+FMA) and re-run OpenBLAS's dynamic init, as
** OPENBLAS_CORETYPE would have at load time. Nothing changes when the user
** set OPENBLAS_CORETYPE, or the library is not a DYNAMIC_ARCH build (weak
** symbols absent).
*/
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static int core_rank(const char *name) {
  static const struct { const char *name; int rank; } known[] = {
    {"katmai", 1}, {"coppermine", 1}, {"northwood", 1}, {"prescott", 1}, {"banias", 1},
    {"atom", 1}, {"core2", 1}, {"penryn", 1}, {"dunnington", 1}, {"nehalem", 2},
    {"sandybridge", 3}, {"haswell", 4}, {"zen", 4}, {"skylakex", 5}, {"cooperlake", 5},
    {"sapphirerapids", 5}};
  char low[32];
  size_t i = 0;
  for (; name && name[i] && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)name[i]);
  low[i] = 0;
  for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
    if (strcmp(low, known[k].name) == 0) return known[k].rank;
  return 4;  /* unknown names: assume a modern core, leave it alone */
}

static void blas_pick_core(void) {
  if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || getenv("OPENBLAS_CORETYPE")) return;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  const char *want = NULL;
  int want_rank = 0;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    want = "SkylakeX";
    want_rank = 5;
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    want = "Haswell";
    want_rank = 4;
  }
  if (!want || core_rank(openblas_get_corename()) >= want_rank) return;
  setenv("OPENBLAS_CORETYPE", want, 0);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
#endif
}

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* luatrain threads products itself (below) and OpenBLAS must run each call
** on one thread. Its OpenMP build follows omp_get_max_threads() at every
** call (1 inside a parallel region), so a lone call is made with the
** calling thread's OpenMP thread count set to 1 for its duration (a
** per-thread setting); a pthreads build is set to one thread once here. */
static bool blas_follows_omp;
static void blas_init(void) {
  blas_pick_core();
  blas_follows_omp = openblas_get_parallel() == 2;
  if (!blas_follows_omp) openblas_set_num_threads(1);
}

/*
** Threading products ourselves. OpenBLAS's own threaded GEMM splits the
** work finely and waits for its partner at every block in sched_yield
** loops; on 2 cores with the mid-sized products of a training step (an MLP's
** 128x784x256) that waiting was a quarter of the process's CPU time. So
** OpenBLAS runs single-threaded, and here
**  - a batch of products (bmm, a convolution's per-image products) runs its
**    items in parallel, one thread per item;
**  - a single product of at least LT_GEMM_SPLIT multiply-adds is cut into
**    one slab of C per thread, along the longer of m and n, at multiples of
**    16, and each thread multiplies its slab: one barrier per product.
*/
#define LT_GEMM_SPLIT ((int64_t)1 << 20)
#define LT_GEMM_ALIGN 16

/* The part [lo, hi) of slab t of `threads` over `len`, at LT_GEMM_ALIGN. */
static void gemm_slab(int64_t len, int t, int threads, int64_t *lo, int64_t *hi) {
  int64_t units = (len + LT_GEMM_ALIGN - 1) / LT_GEMM_ALIGN;
  int64_t u0 = units * t / threads, u1 = units * (t + 1) / threads;
  *lo = u0 * LT_GEMM_ALIGN < len ? u0 * LT_GEMM_ALIGN : len;
  *hi = u1 * LT_GEMM_ALIGN < len ? u1 * LT_GEMM_ALIGN : len;
}

static int gemm_threads(const gemm_args *g) {
#ifdef _OPENMP
  if (omp_in_parallel()) return 1;
  int64_t len = g->m > g->n ? g->m : g->n;
  int64_t t = omp_get_max_threads(), by_len = len / (2 * LT_GEMM_ALIGN);
  int64_t by_work = 2 * g->m * g->n * g->k / LT_GEMM_SPLIT;  /* >= SPLIT/2 each */
  if (t > by_len) t = by_len;
  if (t > by_work) t = by_work;
  return t > 1 ? (int)t : 1;
#else
  (void)g;
  return 1;
#endif
}

#ifdef _OPENMP
static inline int team_rank(void) { return omp_get_thread_num(); }
static inline int team_size(void) { return omp_get_num_threads(); }
#define BLAS_ONE_THREAD_BEGIN                                                      \
  const int saved_threads_ = blas_follows_omp && !omp_in_parallel() ? omp_get_max_threads() : 1; \
  if (saved_threads_ > 1) omp_set_num_threads(1);
#define BLAS_ONE_THREAD_END if (saved_threads_ > 1) omp_set_num_threads(saved_threads_);
#else
static inline int team_rank(void) { return 0; }
static inline int team_size(void) { return 1; }
#define BLAS_ONE_THREAD_BEGIN
#define BLAS_ONE_THREAD_END
#endif

#define DEFINE_ONE(SUF, T, CBLAS)                                                  \
  static void blas_##SUF(const T *a, const T *b, T *c, const gemm_args *g) {       \
    BLAS_ONE_THREAD_BEGIN                                                          \
    CBLAS(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,                        \
          g->tb ? CblasTrans : CblasNoTrans, (blasint)g->m, (blasint)g->n,         \
          (blasint)g->k, (T)g->alpha, a, (blasint)g->lda, b, (blasint)g->ldb,      \
          (T)g->beta, c, (blasint)g->ldc);                                         \
    BLAS_ONE_THREAD_END                                                            \
  }                                                                                \
  static void one_##SUF(const T *a, const T *b, T *c, gemm_args g) {               \
    if (g.k == 0 || g.alpha == 0) { scale_##SUF(c, &g); return; }                  \
    if (g.m * g.n * g.k <= LT_GEMM_SMALL || !blas_ok(&g)) {                        \
      naive_##SUF(a, b, c, &g);                                                    \
      return;                                                                      \
    }                                                                              \
    int threads = gemm_threads(&g);                                                \
    if (threads == 1) { blas_##SUF(a, b, c, &g); return; }                         \
    const bool by_rows = g.m >= g.n;                                               \
    _Pragma("omp parallel num_threads(threads)")                                   \
    {                                                                              \
      int64_t lo, hi; /* the team may be smaller than asked: use its size */      \
      gemm_slab(by_rows ? g.m : g.n, team_rank(), team_size(), &lo, &hi);          \
      if (hi > lo) {                                                               \
        gemm_args s = g;                                                           \
        if (by_rows) {                                                             \
          s.m = hi - lo;                                                           \
          blas_##SUF(a + (g.ta ? lo : lo * g.lda), b, c + lo * g.ldc, &s);         \
        } else {                                                                   \
          s.n = hi - lo;                                                           \
          blas_##SUF(a, b + (g.tb ? lo * g.ldb : lo), c + lo, &s);                 \
        }                                                                          \
      }                                                                            \
    }                                                                              \
  }

DEFINE_ONE(f32, float, cblas_sgemm)
DEFINE_ONE(f64, double, cblas_dgemm)

/* Packs a rows x cols matrix with row stride ld (bf16/f16) into float32. */
static void pack_half(float *dst, const uint16_t *src, lt_dtype dt, int64_t rows, int64_t cols,
                      int64_t ld) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) {
      uint16_t h = src[r * ld + c];
      dst[r * cols + c] = dt == LT_DTYPE_BF16 ? (float)lt_bf16_to_double(h) : lt_half_to_float(h);
    }
}

static lt_status gemm_half(lt_dtype dt, const gemm_args *g0, const uint16_t *a, int64_t sa,
                           const uint16_t *b, int64_t sb, uint16_t *c, int64_t sc,
                           int64_t batch) {
  int64_t ar = g0->ta ? g0->k : g0->m, ac = g0->ta ? g0->m : g0->k;
  int64_t br = g0->tb ? g0->n : g0->k, bc = g0->tb ? g0->k : g0->n;
  float *fa = malloc((size_t)(ar * ac + 1) * sizeof(float));
  float *fb = malloc((size_t)(br * bc + 1) * sizeof(float));
  float *fc = malloc((size_t)(g0->m * g0->n + 1) * sizeof(float));
  if (!fa || !fb || !fc) {
    free(fa); free(fb); free(fc);
    return lt_error(LT_ERR_MEMORY, "gemm: out of memory staging %s operands",
                    lt_dtype_name(dt));
  }
  gemm_args g = *g0;
  g.lda = ac; g.ldb = bc; g.ldc = g.n;
  for (int64_t i = 0; i < batch; i++) {
    pack_half(fa, a + i * sa, dt, ar, ac, g0->lda);
    pack_half(fb, b + i * sb, dt, br, bc, g0->ldb);
    uint16_t *ci = c + i * sc;
    if (g.beta != 0) pack_half(fc, ci, dt, g.m, g.n, g0->ldc);
    one_f32(fa, fb, fc, g);
    for (int64_t r = 0; r < g.m; r++)
      for (int64_t j = 0; j < g.n; j++) {
        float v = fc[r * g.n + j];
        ci[r * g0->ldc + j] = dt == LT_DTYPE_BF16 ? lt_float_to_bf16(v) : lt_float_to_half(v);
      }
  }
  free(fa); free(fb); free(fc);
  return LT_OK;
}

lt_status lt_cpu_gemm(lt_dtype dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                      double alpha, const void *a, int64_t lda, int64_t stride_a, const void *b,
                      int64_t ldb, int64_t stride_b, double beta, void *c, int64_t ldc,
                      int64_t stride_c, int64_t batch) {
  if (m < 0 || n < 0 || k < 0 || batch < 0)
    return lt_error(LT_ERR_ARG, "gemm: negative size (m %lld, n %lld, k %lld, batch %lld)",
                    (long long)m, (long long)n, (long long)k, (long long)batch);
  if (m == 0 || n == 0 || batch == 0) return LT_OK;
  pthread_once(&blas_once, blas_init);
  gemm_args g = {trans_a, trans_b, m, n, k, lda, ldb, ldc, alpha, beta};
  /* items in parallel when their outputs are disjoint and there are enough
     of them to share (else each item is split, or runs alone) */
  int64_t cspan = (m - 1) * ldc + n;
  bool par_items = batch > 1 && (stride_c >= cspan || -stride_c >= cspan) &&
                   batch * (m * n * k + m * n) > LT_CPU_PARALLEL_GRAIN &&
                   (batch >= 4 || m * n * k < LT_GEMM_SPLIT);
  switch (dt) {
    case LT_DTYPE_F32: {
      const float *pa = a, *pb = b;
      float *pc = c;
      if (par_items) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < batch; i++)
          one_f32(pa + i * stride_a, pb + i * stride_b, pc + i * stride_c, g);
      } else {
        for (int64_t i = 0; i < batch; i++)
          one_f32(pa + i * stride_a, pb + i * stride_b, pc + i * stride_c, g);
      }
      return LT_OK;
    }
    case LT_DTYPE_F64: {
      const double *pa = a, *pb = b;
      double *pc = c;
      if (par_items) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < batch; i++)
          one_f64(pa + i * stride_a, pb + i * stride_b, pc + i * stride_c, g);
      } else {
        for (int64_t i = 0; i < batch; i++)
          one_f64(pa + i * stride_a, pb + i * stride_b, pc + i * stride_c, g);
      }
      return LT_OK;
    }
    case LT_DTYPE_BF16:
    case LT_DTYPE_F16:
      return gemm_half(dt, &g, a, stride_a, b, stride_b, c, stride_c, batch);
    default:
      return lt_error(LT_ERR_DTYPE, "gemm: dtype %s not supported on cpu", lt_dtype_name(dt));
  }
}
