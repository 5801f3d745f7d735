/*
** cpu_sort.c - the CPU backend's sort family: per-row stable ordering with
** top-k selection (sort_rows) and inclusive scans (cumulative). Values are
** mapped to order-preserving uint64 keys (NaN largest, -0 == +0, ~key for
** descending) and ordered by (key, position), so any sort gives the stable
** result. Small k uses a bounded heap, larger k introselect + introsort.
** Rows are split across OpenMP threads; one long row stays on one thread.
** It does not move dims or pick dtypes (engine/ops_sort.c does).
*/
#include <stdlib.h>
#include "cpu_util.h"

typedef struct {
  uint64_t key;
  int64_t idx;
} st_pair;

static inline bool st_less(const st_pair *a, const st_pair *b) {
  return a->key < b->key || (a->key == b->key && a->idx < b->idx);
}

static inline void st_swap(st_pair *a, st_pair *b) {
  st_pair t = *a;
  *a = *b;
  *b = t;
}

/* ---------------------------------------------------------------- keys */

static inline uint64_t st_key_f(double v) {
  if (v != v) return UINT64_MAX;
  if (v == 0) v = 0.0;  /* -0.0 sorts with +0.0 */
  uint64_t u;
  memcpy(&u, &v, 8);
  return (u >> 63) ? ~u : (u | (1ull << 63));
}

static inline uint64_t st_key_i(int64_t v) { return (uint64_t)v ^ (1ull << 63); }

#define ST_KEYS_LOOP(T, KEY)                                         \
  do {                                                               \
    const T *x_ = (const T *)src;                                    \
    for (int64_t i = 0; i < n; i++) out[i] = KEY(x_[i]) ^ flip;      \
  } while (0)
#define ST_KF(v) st_key_f((double)(v))
#define ST_KBF(v) st_key_f(lt_cpu_bf2f(v))
#define ST_KH(v) st_key_f(lt_cpu_h2f(v))
#define ST_KI(v) st_key_i((int64_t)(v))
#define ST_KB(v) st_key_i((v) != 0)

/* Keys of n consecutive elements (xor flip: ~key for descending). */
static void st_keys(uint64_t *out, const void *src, lt_dtype dt, int64_t n, uint64_t flip) {
  switch (dt) {
    case LT_DTYPE_F32: ST_KEYS_LOOP(float, ST_KF); break;
    case LT_DTYPE_F64: ST_KEYS_LOOP(double, ST_KF); break;
    case LT_DTYPE_BF16: ST_KEYS_LOOP(uint16_t, ST_KBF); break;
    case LT_DTYPE_F16: ST_KEYS_LOOP(uint16_t, ST_KH); break;
    case LT_DTYPE_I64: ST_KEYS_LOOP(int64_t, ST_KI); break;
    case LT_DTYPE_I32: ST_KEYS_LOOP(int32_t, ST_KI); break;
    case LT_DTYPE_U8: ST_KEYS_LOOP(uint8_t, ST_KI); break;
    case LT_DTYPE_BOOL: ST_KEYS_LOOP(uint8_t, ST_KB); break;
    default: for (int64_t i = 0; i < n; i++) out[i] = 0; break;
  }
}

/* ---------------------------------------------------------------- sorting pairs */

static void st_insertion(st_pair *p, int64_t n) {
  for (int64_t i = 1; i < n; i++) {
    st_pair v = p[i];
    int64_t j = i;
    while (j > 0 && st_less(&v, &p[j - 1])) {
      p[j] = p[j - 1];
      j--;
    }
    p[j] = v;
  }
}

static void st_sift_down(st_pair *p, int64_t n, int64_t i) {  /* max-heap */
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= n) return;
    if (c + 1 < n && st_less(&p[c], &p[c + 1])) c++;
    if (!st_less(&p[i], &p[c])) return;
    st_swap(&p[i], &p[c]);
    i = c;
  }
}

static void st_heapsort(st_pair *p, int64_t n) {
  for (int64_t i = n / 2 - 1; i >= 0; i--) st_sift_down(p, n, i);
  for (int64_t e = n - 1; e > 0; e--) {
    st_swap(&p[0], &p[e]);
    st_sift_down(p, e, 0);
  }
}

/* Median-of-three pivot moved to p[0]; partitions p[1..n) around it
** (keys are distinct with the position, so no equal elements) and returns
** the pivot's final position. */
static int64_t st_partition(st_pair *p, int64_t n) {
  int64_t m = n / 2;
  if (st_less(&p[m], &p[0])) st_swap(&p[m], &p[0]);
  if (st_less(&p[n - 1], &p[0])) st_swap(&p[n - 1], &p[0]);
  if (st_less(&p[n - 1], &p[m])) st_swap(&p[n - 1], &p[m]);
  st_swap(&p[0], &p[m]);  /* median to the front */
  st_pair piv = p[0];
  int64_t i = 1, j = n - 1;
  for (;;) {
    while (i <= j && st_less(&p[i], &piv)) i++;
    while (i <= j && st_less(&piv, &p[j])) j--;
    if (i >= j) break;
    st_swap(&p[i++], &p[j--]);
  }
  st_swap(&p[0], &p[j]);
  return j;
}

static void st_introsort(st_pair *p, int64_t n, int depth) {
  while (n > 16) {
    if (depth-- == 0) {
      st_heapsort(p, n);
      return;
    }
    int64_t q = st_partition(p, n);
    if (q < n - 1 - q) {  /* recurse on the smaller side */
      st_introsort(p, q, depth);
      p += q + 1;
      n -= q + 1;
    } else {
      st_introsort(p + q + 1, n - q - 1, depth);
      n = q;
    }
  }
  st_insertion(p, n);
}

static int st_depth(int64_t n) {
  int d = 0;
  while (n > 1) { n >>= 1; d++; }
  return 2 * d + 4;
}

/* Moves the k smallest pairs to p[0..k) (in any order). */
static void st_select(st_pair *p, int64_t n, int64_t k) {
  int depth = st_depth(n);
  while (n > 16 && k > 0 && k < n) {
    if (depth-- == 0) {
      st_introsort(p, n, st_depth(n));
      return;
    }
    int64_t q = st_partition(p, n);
    if (q == k || q + 1 == k) return;
    if (q > k) {
      n = q;
    } else {
      p += q + 1;
      k -= q + 1;
      n -= q + 1;
    }
  }
  if (k > 0 && k < n) st_insertion(p, n);
}

/* ---------------------------------------------------------------- sort_rows */

#define ST_CHUNK 1024

/* Whether row selection keeps a bounded heap of k (instead of n pairs). */
static inline bool st_use_heap(int64_t n, int64_t k) { return k * 16 <= n; }

/* One row: the k first of the ordered (key, idx) into buf[0..k), sorted;
** with kth_only, buf[0] gets the k-th alone (a selection, no sort). */
static void st_row(st_pair *buf, uint64_t *keys, const char *row, lt_dtype dt, size_t es,
                   int64_t n, int64_t k, bool desc, bool kth_only) {
  uint64_t flip = desc ? UINT64_MAX : 0;
  if (st_use_heap(n, k)) {  /* bounded max-heap of the k best */
    int64_t m = 0;
    for (int64_t c0 = 0; c0 < n; c0 += ST_CHUNK) {
      int64_t cn = n - c0 < ST_CHUNK ? n - c0 : ST_CHUNK;
      st_keys(keys, row + (size_t)c0 * es, dt, cn, flip);
      for (int64_t c = 0; c < cn; c++) {
        uint64_t key = keys[c];
        if (m < k) {
          int64_t h = m++;
          buf[h].key = key;
          buf[h].idx = c0 + c;
          while (h > 0) {  /* sift up */
            int64_t par = (h - 1) / 2;
            if (!st_less(&buf[par], &buf[h])) break;
            st_swap(&buf[par], &buf[h]);
            h = par;
          }
        } else if (key < buf[0].key) {  /* later positions lose ties */
          buf[0].key = key;
          buf[0].idx = c0 + c;
          st_sift_down(buf, k, 0);
        }
      }
    }
    if (kth_only) return;  /* buf[0], the heap's top, is the k-th */
    st_introsort(buf, k, st_depth(k));
    return;
  }
  for (int64_t c0 = 0; c0 < n; c0 += ST_CHUNK) {
    int64_t cn = n - c0 < ST_CHUNK ? n - c0 : ST_CHUNK;
    st_keys(keys, row + (size_t)c0 * es, dt, cn, flip);
    for (int64_t c = 0; c < cn; c++) {
      buf[c0 + c].key = keys[c];
      buf[c0 + c].idx = c0 + c;
    }
  }
  if (k < n) st_select(buf, n, k);
  if (kth_only) {  /* the largest of the k smallest */
    int64_t best = 0;
    for (int64_t j = 1; j < k; j++)
      if (st_less(&buf[best], &buf[j])) best = j;
    buf[0] = buf[best];
    return;
  }
  st_introsort(buf, k, st_depth(k));
}

lt_status lt_cpu_sort_rows(void *values, int64_t *indices, const void *in, lt_dtype dt,
                           int64_t rows, int64_t n, int64_t k, bool descending, bool kth_only,
                           int64_t base) {
  if (dt >= LT_DTYPE_COUNT) return lt_error(LT_ERR_DTYPE, "sort: unsupported dtype %d", (int)dt);
  if (rows <= 0 || k <= 0) return LT_OK;
  if (k > n) return lt_error(LT_ERR_ARG, "sort: k (%lld) exceeds the row length (%lld)",
                             (long long)k, (long long)n);
  size_t es = lt_cpu_esize(dt);
  int64_t bufn = st_use_heap(n, k) ? k : n;
  int64_t kout = kth_only ? 1 : k;
  int failed = 0;
  int64_t work = rows * n;
#pragma omp parallel if (work > LT_CPU_PARALLEL_GRAIN && rows > 1)
  {
    st_pair *buf = malloc((size_t)bufn * sizeof *buf);
    uint64_t *keys = malloc(ST_CHUNK * sizeof *keys);
    if (!buf || !keys) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t r = 0; r < rows; r++) {
      if (!buf || !keys) continue;
      const char *row = (const char *)in + (size_t)(r * n) * es;
      st_row(buf, keys, row, dt, es, n, k, descending, kth_only);
      char *vo = (char *)values + (size_t)(r * kout) * es;
      int64_t *io = indices + r * kout;
      for (int64_t j = 0; j < kout; j++) {
        memcpy(vo + (size_t)j * es, row + (size_t)buf[j].idx * es, es);
        io[j] = buf[j].idx + base;
      }
    }
    free(keys);
    free(buf);
  }
  if (failed)
    return lt_error(LT_ERR_MEMORY, "sort: out of memory for a row of %lld elements",
                    (long long)n);
  return LT_OK;
}

/* ---------------------------------------------------------------- cumulative */

#define CUM_COLS 256

/* One task: rows j = 0..n-1 (or reversed) of columns [c0, c1) of block o,
** accumulating in A with ADD/MUL. */
#define CUM_TASK(T, A, LOAD, STORE, ADD, MUL)                                    \
  do {                                                                           \
    const T *x_ = (const T *)in + o * n * inner;                                 \
    T *y_ = (T *)out + o * n * inner;                                            \
    A acc_[CUM_COLS];                                                            \
    for (int64_t i = c0; i < c1; i++) acc_[i - c0] = prod ? (A)1 : (A)0;         \
    for (int64_t s = 0; s < n; s++) {                                            \
      int64_t j = reverse ? n - 1 - s : s;                                       \
      const T *xr = x_ + j * inner;                                              \
      T *yr = y_ + j * inner;                                                    \
      if (prod)                                                                  \
        for (int64_t i = c0; i < c1; i++) {                                      \
          acc_[i - c0] = MUL(acc_[i - c0], LOAD(xr[i]));                         \
          yr[i] = STORE(acc_[i - c0]);                                           \
        }                                                                        \
      else                                                                       \
        for (int64_t i = c0; i < c1; i++) {                                      \
          acc_[i - c0] = ADD(acc_[i - c0], LOAD(xr[i]));                         \
          yr[i] = STORE(acc_[i - c0]);                                           \
        }                                                                        \
    }                                                                            \
  } while (0)

#define CUM_FADD(a, b) ((a) + (b))
#define CUM_FMUL(a, b) ((a) * (b))
/* int64 wraps (two's complement) instead of overflowing */
#define CUM_IADD(a, b) ((int64_t)((uint64_t)(a) + (uint64_t)(b)))
#define CUM_IMUL(a, b) ((int64_t)((uint64_t)(a) * (uint64_t)(b)))
#define CUM_ID(v) (v)
#define CUM_F32_LOAD(v) ((double)(v))
#define CUM_F32_STORE(v) ((float)(v))
#define CUM_BF_LOAD(v) ((double)lt_cpu_bf2f(v))
#define CUM_BF_STORE(v) lt_cpu_f2bf((float)(v))
#define CUM_H_LOAD(v) ((double)lt_cpu_h2f(v))
#define CUM_H_STORE(v) lt_cpu_f2h((float)(v))

static void cum_task(void *out, const void *in, lt_dtype dt, int64_t o, int64_t n, int64_t inner,
                     int64_t c0, int64_t c1, bool prod, bool reverse) {
  switch (dt) {
    case LT_DTYPE_F32:
      CUM_TASK(float, double, CUM_F32_LOAD, CUM_F32_STORE, CUM_FADD, CUM_FMUL);
      break;
    case LT_DTYPE_F64: CUM_TASK(double, double, CUM_ID, CUM_ID, CUM_FADD, CUM_FMUL); break;
    case LT_DTYPE_BF16:
      CUM_TASK(uint16_t, double, CUM_BF_LOAD, CUM_BF_STORE, CUM_FADD, CUM_FMUL);
      break;
    case LT_DTYPE_F16:
      CUM_TASK(uint16_t, double, CUM_H_LOAD, CUM_H_STORE, CUM_FADD, CUM_FMUL);
      break;
    case LT_DTYPE_I64: CUM_TASK(int64_t, int64_t, CUM_ID, CUM_ID, CUM_IADD, CUM_IMUL); break;
    default: break;
  }
}

/* Row o of contiguous (outer, n) */
#define CUM_ROW(T, A, LOAD, STORE, OP)                                       \
  do {                                                                       \
    const T *x_ = (const T *)in + o * n;                                     \
    T *y_ = (T *)out + o * n;                                                \
    A acc_ = prod ? (A)1 : (A)0;                                             \
    if (reverse)                                                             \
      for (int64_t j = n - 1; j >= 0; j--) {                                 \
        acc_ = OP(acc_, LOAD(x_[j]));                                        \
        y_[j] = STORE(acc_);                                                 \
      }                                                                      \
    else                                                                     \
      for (int64_t j = 0; j < n; j++) {                                      \
        acc_ = OP(acc_, LOAD(x_[j]));                                        \
        y_[j] = STORE(acc_);                                                 \
      }                                                                      \
  } while (0)

static void cum_row(void *out, const void *in, lt_dtype dt, int64_t o, int64_t n, bool prod,
                    bool reverse) {
  switch (dt) {
    case LT_DTYPE_F32:
      if (prod) CUM_ROW(float, double, CUM_F32_LOAD, CUM_F32_STORE, CUM_FMUL);
      else CUM_ROW(float, double, CUM_F32_LOAD, CUM_F32_STORE, CUM_FADD);
      break;
    case LT_DTYPE_F64:
      if (prod) CUM_ROW(double, double, CUM_ID, CUM_ID, CUM_FMUL);
      else CUM_ROW(double, double, CUM_ID, CUM_ID, CUM_FADD);
      break;
    case LT_DTYPE_BF16:
      if (prod) CUM_ROW(uint16_t, double, CUM_BF_LOAD, CUM_BF_STORE, CUM_FMUL);
      else CUM_ROW(uint16_t, double, CUM_BF_LOAD, CUM_BF_STORE, CUM_FADD);
      break;
    case LT_DTYPE_F16:
      if (prod) CUM_ROW(uint16_t, double, CUM_H_LOAD, CUM_H_STORE, CUM_FMUL);
      else CUM_ROW(uint16_t, double, CUM_H_LOAD, CUM_H_STORE, CUM_FADD);
      break;
    case LT_DTYPE_I64:
      if (prod) CUM_ROW(int64_t, int64_t, CUM_ID, CUM_ID, CUM_IMUL);
      else CUM_ROW(int64_t, int64_t, CUM_ID, CUM_ID, CUM_IADD);
      break;
    default: break;
  }
}

lt_status lt_cpu_cumulative(void *out, const void *in, lt_dtype dt, int64_t outer, int64_t n,
                            int64_t inner, bool prod, bool reverse) {
  if (dt != LT_DTYPE_F32 && dt != LT_DTYPE_F64 && dt != LT_DTYPE_BF16 && dt != LT_DTYPE_F16 &&
      dt != LT_DTYPE_I64)
    return lt_error(LT_ERR_DTYPE, "%s: unsupported dtype %d for the scan kernel",
                    prod ? "cumprod" : "cumsum", (int)dt);
  if (outer <= 0 || n <= 0 || inner <= 0) return LT_OK;
  if (inner == 1) {  /* rows: a plain running sum per row */
#pragma omp parallel for schedule(static) if (outer * n > LT_CPU_PARALLEL_GRAIN && outer > 1)
    for (int64_t o = 0; o < outer; o++) cum_row(out, in, dt, o, n, prod, reverse);
    return LT_OK;
  }
  int64_t chunks = (inner + CUM_COLS - 1) / CUM_COLS;
  int64_t tasks = outer * chunks;
  int64_t work = outer * n * inner;
#pragma omp parallel for schedule(static) if (work > LT_CPU_PARALLEL_GRAIN && tasks > 1)
  for (int64_t t = 0; t < tasks; t++) {
    int64_t o = t / chunks, c0 = (t % chunks) * CUM_COLS;
    int64_t c1 = c0 + CUM_COLS < inner ? c0 + CUM_COLS : inner;
    cum_task(out, in, dt, o, n, inner, c0, c1, prod, reverse);
  }
  return LT_OK;
}
