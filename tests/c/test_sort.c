/*
** test_sort.c - the CPU sort_rows / cumulative kernels against naive
** references (qsort on (value, position) with NaN largest; sequential
** sums) over many row lengths, k, directions, dtypes, ties and NaNs, plus
** the engine front-ends' error paths. Not a benchmark.
*/
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "ctest.h"

typedef struct {
  double v;
  int64_t i;
  int desc;
} ref_pair;

static int ref_cmp(const void *pa, const void *pb) {
  const ref_pair *a = pa, *b = pb;
  int an = a->v != a->v, bn = b->v != b->v;
  int c = 0;
  if (an || bn) c = an - bn;          /* NaN largest */
  else if (a->v < b->v) c = -1;
  else if (a->v > b->v) c = 1;
  if (a->desc) c = -c;
  if (c == 0) c = a->i < b->i ? -1 : (a->i > b->i);
  return c;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* value j of a row: few distinct values (ties), some NaN and -0.0 */
static double gen(int mode) {
  uint64_t r = rnd();
  if (mode == 1 && r % 13 == 0) return NAN;
  if (mode == 1 && r % 17 == 0) return -0.0;
  if (mode == 2) return (double)(int)(r % 5);
  return ((double)(r % 2000001) - 1000000.0) / 1000.0;
}

static void check_rows(lt_dtype dt, int64_t rows, int64_t n, int64_t k, bool desc, bool kth,
                       int mode) {
  const lt_backend *be = &lt_cpu_backend;
  size_t es = lt_dtype_size(dt);
  int64_t kout = kth ? 1 : k;
  double *src = malloc((size_t)(rows * n) * sizeof *src);
  void *in = malloc((size_t)(rows * n) * es);
  void *vals = malloc((size_t)(rows * kout) * es + 8);
  int64_t *idx = malloc((size_t)(rows * kout) * sizeof *idx + 8);
  ref_pair *ref = malloc((size_t)n * sizeof *ref);
  for (int64_t j = 0; j < rows * n; j++) {
    double v = gen(dt == LT_DTYPE_I64 ? 2 : mode);
    if (dt == LT_DTYPE_F32) { float f = (float)v; memcpy((char *)in + j * es, &f, 4); v = f; }
    else if (dt == LT_DTYPE_F64) memcpy((char *)in + j * es, &v, 8);
    else { int64_t q = (int64_t)v; memcpy((char *)in + j * es, &q, 8); }
    src[j] = v;
  }
  lt_status st = be->sort_rows(vals, idx, in, dt, rows, n, k, desc, kth, 7);
  CHECK(st == LT_OK, "sort_rows status %d", (int)st);
  int bad = 0;
  for (int64_t r = 0; r < rows && !bad; r++) {
    for (int64_t j = 0; j < n; j++) ref[j] = (ref_pair){src[r * n + j], j, desc};
    qsort(ref, (size_t)n, sizeof *ref, ref_cmp);
    for (int64_t j = 0; j < kout && !bad; j++) {
      int64_t want = ref[kth ? k - 1 : j].i;
      if (idx[r * kout + j] != want + 7) bad = 1;
      if (memcmp((char *)vals + (r * kout + j) * es, (char *)in + (r * n + want) * es, es)) bad = 1;
    }
  }
  CHECK(!bad, "dt %d rows %lld n %lld k %lld desc %d kth %d mode %d", (int)dt, (long long)rows,
        (long long)n, (long long)k, desc, kth, mode);
  free(src); free(in); free(vals); free(idx); free(ref);
}

static void check_cum(int64_t outer, int64_t n, int64_t inner, bool prod, bool reverse) {
  int64_t tot = outer * n * inner;
  double *x = malloc((size_t)tot * sizeof *x), *y = malloc((size_t)tot * sizeof *y);
  int64_t *xi = malloc((size_t)tot * sizeof *xi), *yi = malloc((size_t)tot * sizeof *yi);
  for (int64_t j = 0; j < tot; j++) {
    x[j] = prod ? 1.0 + gen(0) / 4000.0 : gen(0);
    xi[j] = (int64_t)(rnd() % 7) - 3;
  }
  CHECK(lt_cpu_backend.cumulative(y, x, LT_DTYPE_F64, outer, n, inner, prod, reverse) == LT_OK,
        "cumulative f64");
  CHECK(lt_cpu_backend.cumulative(yi, xi, LT_DTYPE_I64, outer, n, inner, prod, reverse) == LT_OK,
        "cumulative i64");
  double maxd = 0;
  int ibad = 0;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      double acc = prod ? 1 : 0;
      int64_t ai = prod ? 1 : 0;
      for (int64_t s = 0; s < n; s++) {
        int64_t j = reverse ? n - 1 - s : s;
        int64_t p = (o * n + j) * inner + i;
        acc = prod ? acc * x[p] : acc + x[p];
        ai = prod ? (int64_t)((uint64_t)ai * (uint64_t)xi[p]) : ai + xi[p];
        double d = fabs(acc - y[p]);
        if (d > maxd) maxd = d;
        if (ai != yi[p]) ibad = 1;
      }
    }
  CHECK(maxd <= 1e-9, "cum outer %lld n %lld inner %lld prod %d rev %d: diff %g",
        (long long)outer, (long long)n, (long long)inner, prod, reverse, maxd);
  CHECK(!ibad, "cum int64 outer %lld n %lld inner %lld prod %d", (long long)outer, (long long)n,
        (long long)inner, prod);
  free(x); free(y); free(xi); free(yi);
}

int main(void) {
  static const int64_t ns[] = {1, 2, 3, 7, 16, 17, 33, 100, 1000, 4099};
  for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++) {
    int64_t n = ns[a];
    int64_t ks[] = {1, 2, n / 16, n / 2, n - 1, n};
    for (int b = 0; b < 6; b++) {
      int64_t k = ks[b];
      if (k < 1 || k > n) continue;
      for (int desc = 0; desc < 2; desc++)
        for (int kth = 0; kth < 2; kth++) {
          check_rows(LT_DTYPE_F32, 3, n, k, desc, kth, 1);
          check_rows(LT_DTYPE_F64, 2, n, k, desc, kth, 2);
          check_rows(LT_DTYPE_I64, 2, n, k, desc, kth, 2);
        }
    }
  }
  check_rows(LT_DTYPE_F32, 64, 3000, 5, true, false, 0);  /* the parallel path */
  check_rows(LT_DTYPE_F64, 40, 2000, 1000, false, true, 2);

  check_cum(1, 1, 1, false, false);
  check_cum(5, 300, 1, false, false);
  check_cum(5, 300, 1, true, true);
  check_cum(3, 17, 300, false, true);
  check_cum(3, 17, 300, true, false);
  check_cum(200, 200, 2, false, false);

  /* front-end errors leave no leaks and name the op */
  int64_t sh[2] = {3, 4};
  lt_tensor *x = lt_randn(sh, 2, LT_DTYPE_F32, lt_cpu());
  lt_tensor *ix = NULL;
  CHECK(lt_topk(x, 5, 1, true, &ix, 1) == NULL && ix == NULL, "topk k > size");
  CHECK(strstr(lt_errmsg(), "topk: k (5) out of range") != NULL, "message");
  CHECK(lt_kthvalue(x, 0, -1, false, &ix, 1) == NULL, "kthvalue k = 0");
  CHECK(lt_sort(x, 2, false, &ix, 1) == NULL, "sort bad dim");
  CHECK(strstr(lt_errmsg(), "sort: dimension 3 out of range") != NULL, "message");
  CHECK(lt_cumsum(x, -3) == NULL, "cumsum bad dim");
  lt_tensor *v = lt_topk(x, 2, 1, true, &ix, 1);
  CHECK(v && ix && v->shape[1] == 2 && ix->dtype == LT_DTYPE_I64, "topk shape");
  lt_tensor_release(v);
  lt_tensor_release(ix);
  lt_tensor_release(x);
  CTEST_END();
}
