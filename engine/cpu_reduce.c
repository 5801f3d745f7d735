/*
** cpu_reduce.c - the CPU backend's reduction kernel: every lt_reduce_op
** over any set of dims of a strided view, accumulating in double (int64
** for integer sum/prod/max/min). Three walks: one output per thread over
** its reduced elements (row path), row-by-row into a block of outputs
** when the kept dim is the contiguous one (column path), and fixed-size
** blocks merged in order for full reductions (deterministic for any
** thread count). Float32 sums over contiguous runs (e.g. per-channel sums
** of NCHW) skip the conversion buffer. It does not squeeze dims or
** pick dtypes (front-end).
*/
#include <stdlib.h>
#include "cpu_util.h"

#define RD_BUF 256            /* values converted per chunk / columns per task */
#define RD_FULL_BLOCK 16384   /* elements per partial result of a full reduction */

enum { RD_NORM_P, RD_NORM_0, RD_NORM_1, RD_NORM_2, RD_NORM_INF, RD_NORM_NINF };

typedef struct {
  double a, b;   /* sum/prod/max value/mean/lse max ; m2/lse sum */
  int64_t ia;    /* integer accumulator */
  int64_t idx;   /* position of max/min inside the reduced dims, -1 = none yet */
  int64_t n;     /* Welford count */
} rd_state;

typedef struct {
  lt_reduce_op op;
  double p;
  int norm;
  bool ints;
  lt_dtype dt;
  int64_t es;
  int nr;
  int64_t rshape[LT_MAX_DIMS], rstride[LT_MAX_DIMS];
  int64_t count;
} rd_ctx;

static inline int64_t rd_wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t rd_wmul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

/* ---------------------------------------------------------------- loading */

#define RD_LOAD_LOOP(T, EXPR)                                                  \
  do {                                                                         \
    const T *s_ = (const T *)src;                                              \
    if (stride == 1)                                                           \
      for (int64_t i = 0; i < n; i++) { T v = s_[i]; dst[i] = (EXPR); }        \
    else                                                                       \
      for (int64_t i = 0; i < n; i++) { T v = s_[i * stride]; dst[i] = (EXPR); } \
  } while (0)

static void rd_load_d(double *dst, const char *src, lt_dtype dt, int64_t n, int64_t stride) {
  switch (dt) {
    case LT_DTYPE_F32: RD_LOAD_LOOP(float, (double)v); break;
    case LT_DTYPE_F64: RD_LOAD_LOOP(double, v); break;
    case LT_DTYPE_BF16: RD_LOAD_LOOP(uint16_t, (double)lt_cpu_bf2f(v)); break;
    case LT_DTYPE_F16: RD_LOAD_LOOP(uint16_t, (double)lt_cpu_h2f(v)); break;
    case LT_DTYPE_I64: RD_LOAD_LOOP(int64_t, (double)v); break;
    case LT_DTYPE_I32: RD_LOAD_LOOP(int32_t, (double)v); break;
    case LT_DTYPE_U8: RD_LOAD_LOOP(uint8_t, (double)v); break;
    case LT_DTYPE_BOOL: RD_LOAD_LOOP(uint8_t, (double)(v != 0)); break;
    default: break;
  }
}

static void rd_load_i(int64_t *dst, const char *src, lt_dtype dt, int64_t n, int64_t stride) {
  switch (dt) {
    case LT_DTYPE_I64: RD_LOAD_LOOP(int64_t, v); break;
    case LT_DTYPE_I32: RD_LOAD_LOOP(int32_t, (int64_t)v); break;
    case LT_DTYPE_U8: RD_LOAD_LOOP(uint8_t, (int64_t)v); break;
    case LT_DTYPE_BOOL: RD_LOAD_LOOP(uint8_t, (int64_t)(v != 0)); break;
    default: break;
  }
}

/* ---------------------------------------------------------------- state */

static void rd_init(const rd_ctx *c, rd_state *s) {
  s->a = 0;
  s->b = 0;
  s->ia = 0;
  s->idx = -1;
  s->n = 0;
  switch (c->op) {
    case LT_REDUCE_PROD: s->a = 1; s->ia = 1; break;
    case LT_REDUCE_MAX: case LT_REDUCE_ARGMAX: s->a = -INFINITY; s->ia = INT64_MIN; break;
    case LT_REDUCE_MIN: case LT_REDUCE_ARGMIN: s->a = INFINITY; s->ia = INT64_MAX; break;
    case LT_REDUCE_NORM: if (c->norm == RD_NORM_NINF) s->a = INFINITY; break;
    case LT_REDUCE_LOGSUMEXP: s->a = -INFINITY; break;
    case LT_REDUCE_ALL: s->a = 1; break;
    default: break;
  }
}

/* one value x at flat reduced position r (ties keep the first; NaN sticks) */
static inline void rd_upd(const rd_ctx *c, rd_state *s, double x, int64_t r) {
  switch (c->op) {
    case LT_REDUCE_SUM: case LT_REDUCE_MEAN: s->a += x; break;
    case LT_REDUCE_PROD: s->a *= x; break;
    case LT_REDUCE_MAX: case LT_REDUCE_ARGMAX:
      if (!isnan(s->a) && (s->idx < 0 || isnan(x) || x > s->a)) { s->a = x; s->idx = r; }
      break;
    case LT_REDUCE_MIN: case LT_REDUCE_ARGMIN:
      if (!isnan(s->a) && (s->idx < 0 || isnan(x) || x < s->a)) { s->a = x; s->idx = r; }
      break;
    case LT_REDUCE_VAR: case LT_REDUCE_STD: {  /* Welford */
      s->n++;
      double d = x - s->a;
      s->a += d / (double)s->n;
      s->b += d * (x - s->a);
      break;
    }
    case LT_REDUCE_NORM: {
      double ax = fabs(x);
      switch (c->norm) {
        case RD_NORM_0: s->a += x != 0; break;
        case RD_NORM_1: s->a += ax; break;
        case RD_NORM_2: s->a += x * x; break;
        case RD_NORM_INF: if (isnan(ax) || ax > s->a) s->a = ax; break;
        case RD_NORM_NINF: if (isnan(ax) || ax < s->a) s->a = ax; break;
        default: s->a += pow(ax, c->p); break;
      }
      break;
    }
    case LT_REDUCE_LOGSUMEXP:  /* running max a, sum b of exp(x - a) */
      if (isnan(s->a) || x == -INFINITY) break;
      if (isnan(x)) s->a = x;
      else if (x > s->a) { s->b = s->b * exp(s->a - x) + 1; s->a = x; }
      else if (x == s->a) s->b += 1;
      else s->b += exp(x - s->a);
      break;
    case LT_REDUCE_ANY: s->a = (s->a != 0 || x != 0); break;
    case LT_REDUCE_ALL: s->a = (s->a != 0 && x != 0); break;
    default: break;
  }
}

static inline void rd_upd_i(const rd_ctx *c, rd_state *s, int64_t x, int64_t r) {
  switch (c->op) {
    case LT_REDUCE_SUM: s->ia = rd_wadd(s->ia, x); break;
    case LT_REDUCE_PROD: s->ia = rd_wmul(s->ia, x); break;
    case LT_REDUCE_MAX: case LT_REDUCE_ARGMAX:
      if (s->idx < 0 || x > s->ia) { s->ia = x; s->idx = r; }
      break;
    case LT_REDUCE_MIN: case LT_REDUCE_ARGMIN:
      if (s->idx < 0 || x < s->ia) { s->ia = x; s->idx = r; }
      break;
    default: break;
  }
}

/* n consecutive reduced values starting at position r0 into one state */
static void rd_run(const rd_ctx *c, rd_state *s, const double *x, int64_t n, int64_t r0) {
  if (c->op == LT_REDUCE_SUM || c->op == LT_REDUCE_MEAN) {
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      a0 += x[i];
      a1 += x[i + 1];
      a2 += x[i + 2];
      a3 += x[i + 3];
    }
    for (; i < n; i++) a0 += x[i];
    s->a += (a0 + a1) + (a2 + a3);
    return;
  }
  for (int64_t i = 0; i < n; i++) rd_upd(c, s, x[i], r0 + i);
}

static void rd_run_i(const rd_ctx *c, rd_state *s, const int64_t *x, int64_t n, int64_t r0) {
  for (int64_t i = 0; i < n; i++) rd_upd_i(c, s, x[i], r0 + i);
}

/* one reduced position r for m neighbouring outputs (column path) */
static void rd_cols(const rd_ctx *c, rd_state *s, const double *x, int64_t m, int64_t r) {
  if (c->op == LT_REDUCE_SUM || c->op == LT_REDUCE_MEAN) {
    for (int64_t k = 0; k < m; k++) s[k].a += x[k];
    return;
  }
  for (int64_t k = 0; k < m; k++) rd_upd(c, &s[k], x[k], r);
}

static void rd_cols_i(const rd_ctx *c, rd_state *s, const int64_t *x, int64_t m, int64_t r) {
  for (int64_t k = 0; k < m; k++) rd_upd_i(c, &s[k], x[k], r);
}

static inline void rd_take(rd_state *into, const rd_state *from) {
  into->a = from->a;
  into->ia = from->ia;
  into->idx = from->idx;
}

static inline double rd_lse_scale(double s, double m, double to) {
  return m == to ? s : (m == -INFINITY ? 0 : s * exp(m - to));
}

/* into <- into (+) from, where from covers later positions */
static void rd_merge(const rd_ctx *c, rd_state *into, const rd_state *from) {
  switch (c->op) {
    case LT_REDUCE_SUM: case LT_REDUCE_MEAN:
      into->a += from->a;
      into->ia = rd_wadd(into->ia, from->ia);
      break;
    case LT_REDUCE_PROD:
      into->a *= from->a;
      into->ia = rd_wmul(into->ia, from->ia);
      break;
    case LT_REDUCE_MAX: case LT_REDUCE_ARGMAX:
    case LT_REDUCE_MIN: case LT_REDUCE_ARGMIN: {
      if (from->idx < 0) break;
      if (into->idx < 0) { rd_take(into, from); break; }
      const bool mx = c->op == LT_REDUCE_MAX || c->op == LT_REDUCE_ARGMAX;
      if (c->ints) {
        if (mx ? from->ia > into->ia : from->ia < into->ia) rd_take(into, from);
      } else if (!isnan(into->a) &&
                 (isnan(from->a) || (mx ? from->a > into->a : from->a < into->a))) {
        rd_take(into, from);
      }
      break;
    }
    case LT_REDUCE_VAR: case LT_REDUCE_STD: {  /* Chan et al. */
      if (from->n == 0) break;
      if (into->n == 0) { *into = *from; break; }
      double na = (double)into->n, nb = (double)from->n, n = na + nb;
      double d = from->a - into->a;
      into->a += d * nb / n;
      into->b += from->b + d * d * na * nb / n;
      into->n += from->n;
      break;
    }
    case LT_REDUCE_NORM:
      if (c->norm == RD_NORM_INF) {
        if (isnan(from->a) || from->a > into->a) into->a = from->a;
      } else if (c->norm == RD_NORM_NINF) {
        if (isnan(from->a) || from->a < into->a) into->a = from->a;
      } else {
        into->a += from->a;
      }
      break;
    case LT_REDUCE_LOGSUMEXP: {
      if (isnan(into->a) || isnan(from->a)) { into->a = NAN; break; }
      double m = into->a > from->a ? into->a : from->a;
      if (m == -INFINITY) break;
      into->b = rd_lse_scale(into->b, into->a, m) + rd_lse_scale(from->b, from->a, m);
      into->a = m;
      break;
    }
    case LT_REDUCE_ANY: into->a = (into->a != 0 || from->a != 0); break;
    case LT_REDUCE_ALL: into->a = (into->a != 0 && from->a != 0); break;
    default: break;
  }
}

static void rd_store(const rd_ctx *c, const rd_state *s, char *o, lt_dtype odt, int64_t *ip,
                     int64_t base) {
  switch (c->op) {
    case LT_REDUCE_SUM: case LT_REDUCE_PROD:
      if (c->ints) lt_cpu_store_i(o, odt, s->ia);
      else lt_cpu_store_d(o, odt, s->a);
      break;
    case LT_REDUCE_MEAN: lt_cpu_store_d(o, odt, s->a / (double)c->count); break;
    case LT_REDUCE_MAX: case LT_REDUCE_MIN:
      if (c->ints) lt_cpu_store_i(o, odt, s->ia);
      else lt_cpu_store_d(o, odt, s->a);
      if (ip) *ip = s->idx + base;
      break;
    case LT_REDUCE_ARGMAX: case LT_REDUCE_ARGMIN:
      lt_cpu_store_i(o, odt, s->idx + base);
      if (ip) *ip = s->idx + base;
      break;
    case LT_REDUCE_VAR: case LT_REDUCE_STD: {
      double div = (double)s->n - c->p;
      double v = s->b / (div > 0 ? div : 0);
      lt_cpu_store_d(o, odt, c->op == LT_REDUCE_STD ? sqrt(v) : v);
      break;
    }
    case LT_REDUCE_NORM: {
      double v = s->a;
      if (c->norm == RD_NORM_2) v = sqrt(v);
      else if (c->norm == RD_NORM_P) v = pow(v, 1.0 / c->p);
      lt_cpu_store_d(o, odt, v);
      break;
    }
    case LT_REDUCE_LOGSUMEXP: {
      double v = s->a;
      if (!isnan(v) && !isinf(v)) v += log(s->b);
      lt_cpu_store_d(o, odt, v);
      break;
    }
    case LT_REDUCE_ANY: case LT_REDUCE_ALL: lt_cpu_store_i(o, odt, s->a != 0); break;
    default: break;
  }
}

/* ---------------------------------------------------------------- walks */

/* Sum of a contiguous float32 block (at most RD_BUF values) read straight
** into double vector lanes: no conversion buffer, still double accuracy
** (backend.h promises double accumulation; a float32 partial would move
** the mean of a million 0.1f by an ulp). */
static inline double rd_sum_f32(const float *p, int64_t n) {
  double a = 0;
#pragma omp simd reduction(+ : a)
  for (int64_t i = 0; i < n; i++) a += (double)p[i];
  return a;
}

/* Accumulates reduced positions [start, end) (row-major over the reduced
** dims) of the output whose first input element is at `base`. */
static void rd_walk(const rd_ctx *c, rd_state *s, const char *base, int64_t start, int64_t end) {
  if (start >= end) return;
  union { double d[RD_BUF]; int64_t i[RD_BUF]; } buf;
  const int nr = c->nr;
  const int64_t es = c->es;
  int64_t idx[LT_MAX_DIMS], rem = start, off = 0;
  for (int d = nr - 1; d >= 0; d--) {
    idx[d] = rem % c->rshape[d];
    rem /= c->rshape[d];
    off += idx[d] * c->rstride[d];
  }
  const int64_t last = c->rshape[nr - 1], ls = c->rstride[nr - 1];
  while (start < end) {
    int64_t n = last - idx[nr - 1];
    if (n > end - start) n = end - start;
    const char *p = base + off * es;
    for (int64_t j = 0; j < n; j += RD_BUF) {
      int64_t m = n - j < RD_BUF ? n - j : RD_BUF;
      const char *q = p + j * ls * es;
      if (c->ints) {
        rd_load_i(buf.i, q, c->dt, m, ls);
        rd_run_i(c, s, buf.i, m, start + j);
      } else if (c->dt == LT_DTYPE_F32 && ls == 1 &&
                 (c->op == LT_REDUCE_SUM || c->op == LT_REDUCE_MEAN)) {
        s->a += rd_sum_f32((const float *)q, m);  /* e.g. per-channel sums of NCHW */
      } else if (c->dt == LT_DTYPE_F64 && ls == 1) {
        rd_run(c, s, (const double *)q, m, start + j);
      } else {
        rd_load_d(buf.d, q, c->dt, m, ls);
        rd_run(c, s, buf.d, m, start + j);
      }
    }
    start += n;
    if (start >= end) break;
    idx[nr - 1] += n;
    off += n * ls;
    for (int d = nr - 1; d > 0 && idx[d] == c->rshape[d]; d--) {
      idx[d] = 0;
      idx[d - 1]++;
      off += c->rstride[d - 1] - c->rshape[d] * c->rstride[d];
    }
  }
}

static const char *const rd_names[LT_REDUCE_COUNT] = {
  "sum", "mean", "prod", "max", "min", "argmax", "argmin", "var", "std", "norm",
  "logsumexp", "any", "all",
};

lt_status lt_cpu_reduce(lt_reduce_op op, const lt_view *out, const lt_view *idx,
                        const lt_view *in, uint32_t reduce_mask, double param, int64_t base) {
  if ((unsigned)op >= LT_REDUCE_COUNT) return lt_error(LT_ERR_ARG, "reduce: unknown op %d", (int)op);
  const char *name = rd_names[op];
  if ((unsigned)in->dtype >= LT_DTYPE_COUNT || (unsigned)out->dtype >= LT_DTYPE_COUNT)
    return lt_error(LT_ERR_DTYPE, "%s: unknown dtype", name);
  if (in->ndim < 0 || in->ndim > LT_MAX_DIMS || out->ndim != in->ndim)
    return lt_error(LT_ERR_SHAPE, "%s: output has %d dims, input %d", name, out->ndim, in->ndim);
  if (idx && (idx->dtype != LT_DTYPE_I64 || idx->ndim != out->ndim))
    return lt_error(LT_ERR_DTYPE, "%s: indices must be int64 with the output's shape", name);
  for (int d = 0; d < in->ndim; d++) {
    bool red = (reduce_mask >> d) & 1u;
    int64_t want = red ? 1 : in->shape[d];
    if (out->shape[d] != want || (idx && idx->shape[d] != want))
      return lt_error(LT_ERR_SHAPE, "%s: output dim %d has size %lld, expected %lld", name, d,
                      (long long)out->shape[d], (long long)want);
  }

  rd_ctx c;
  memset(&c, 0, sizeof c);
  c.op = op;
  c.p = param;
  c.dt = in->dtype;
  c.es = (int64_t)lt_cpu_esize(in->dtype);
  c.ints = !lt_cpu_is_float(in->dtype) &&
           (op == LT_REDUCE_SUM || op == LT_REDUCE_PROD || op == LT_REDUCE_MAX ||
            op == LT_REDUCE_MIN || op == LT_REDUCE_ARGMAX || op == LT_REDUCE_ARGMIN);
  if (op == LT_REDUCE_NORM) {
    c.norm = param == 0 ? RD_NORM_0 : param == 1 ? RD_NORM_1 : param == 2 ? RD_NORM_2
           : param == INFINITY ? RD_NORM_INF : param == -INFINITY ? RD_NORM_NINF : RD_NORM_P;
  }

  /* kept (k*) and reduced (r*) dims without size-1 dims, each list merged
     where memory allows; flat reduced positions stay row-major */
  int nk = 0, nr = 0;
  int64_t kshape[LT_MAX_DIMS], kin[LT_MAX_DIMS], kout[LT_MAX_DIMS], kidx[LT_MAX_DIMS];
  for (int d = 0; d < in->ndim; d++) {
    if (in->shape[d] == 1) continue;
    if ((reduce_mask >> d) & 1u) {
      if (nr > 0 && c.rstride[nr - 1] == in->stride[d] * in->shape[d]) {
        c.rshape[nr - 1] *= in->shape[d];
        c.rstride[nr - 1] = in->stride[d];
      } else {
        c.rshape[nr] = in->shape[d];
        c.rstride[nr] = in->stride[d];
        nr++;
      }
    } else {
      int64_t xs = idx ? idx->stride[d] : 0;
      if (nk > 0 && kin[nk - 1] == in->stride[d] * in->shape[d] &&
          kout[nk - 1] == out->stride[d] * in->shape[d] && kidx[nk - 1] == xs * in->shape[d]) {
        kshape[nk - 1] *= in->shape[d];
        kin[nk - 1] = in->stride[d];
        kout[nk - 1] = out->stride[d];
        kidx[nk - 1] = xs;
      } else {
        kshape[nk] = in->shape[d];
        kin[nk] = in->stride[d];
        kout[nk] = out->stride[d];
        kidx[nk] = xs;
        nk++;
      }
    }
  }
  c.count = 1;
  for (int d = 0; d < nr; d++) c.count *= c.rshape[d];
  if (nr == 0) {
    nr = 1;
    c.rshape[0] = 1;
    c.rstride[0] = 0;
  }
  c.nr = nr;
  int64_t nout = 1;
  for (int d = 0; d < nk; d++) nout *= kshape[d];
  if (nout == 0) return LT_OK;
  if (c.count == 0 && (op == LT_REDUCE_MAX || op == LT_REDUCE_MIN || op == LT_REDUCE_ARGMAX ||
                       op == LT_REDUCE_ARGMIN))
    return lt_error(LT_ERR_SHAPE, "%s: cannot reduce over an empty dimension", name);

  const char *ind = (const char *)in->data;
  char *outd = (char *)out->data;
  int64_t *idxd = idx ? (int64_t *)idx->data : NULL;
  const int64_t oes = (int64_t)lt_cpu_esize(out->dtype);
  const int64_t work = nout * (c.count > 0 ? c.count : 1);

  if (nk == 0) {  /* full reduction: fixed blocks merged in order */
    rd_state s;
    rd_init(&c, &s);
    int64_t nb = (c.count + RD_FULL_BLOCK - 1) / RD_FULL_BLOCK;
    if (nb <= 1) {
      rd_walk(&c, &s, ind, 0, c.count);
    } else {
      rd_state *parts = malloc((size_t)nb * sizeof *parts);
      if (!parts) return lt_error(LT_ERR_MEMORY, "%s: out of memory for %lld partials", name,
                                  (long long)nb);
#pragma omp parallel for schedule(static) if (work > LT_CPU_PARALLEL_GRAIN)
      for (int64_t b = 0; b < nb; b++) {
        int64_t e = (b + 1) * RD_FULL_BLOCK;
        rd_init(&c, &parts[b]);
        rd_walk(&c, &parts[b], ind, b * RD_FULL_BLOCK, e < c.count ? e : c.count);
      }
      for (int64_t b = 0; b < nb; b++) rd_merge(&c, &s, &parts[b]);
      free(parts);
    }
    rd_store(&c, &s, outd, out->dtype, idxd, base);
    return LT_OK;
  }

  int64_t rmin = INT64_MAX;
  for (int d = 0; d < nr; d++)
    if (c.rshape[d] > 1 && c.rstride[d] < rmin) rmin = c.rstride[d];
  const bool columns = c.count > 1 && kshape[nk - 1] >= 8 && kin[nk - 1] < rmin;

  if (!columns) {  /* row path: each output walks its own reduced elements */
#pragma omp parallel for schedule(static) if (work > LT_CPU_PARALLEL_GRAIN)
    for (int64_t o = 0; o < nout; o++) {
      int64_t rem = o, io = 0, oo = 0, xo = 0;
      for (int d = nk - 1; d >= 0; d--) {
        int64_t i = rem % kshape[d];
        rem /= kshape[d];
        io += i * kin[d];
        oo += i * kout[d];
        xo += i * kidx[d];
      }
      rd_state s;
      rd_init(&c, &s);
      rd_walk(&c, &s, ind + io * c.es, 0, c.count);
      rd_store(&c, &s, outd + oo * oes, out->dtype, idxd ? idxd + xo : NULL, base);
    }
    return LT_OK;
  }

  /* column path: the innermost kept dim is contiguous-ish; each task owns up
     to RD_BUF neighbouring outputs and adds the input one row at a time */
  const int64_t ncol = kshape[nk - 1], sc = kin[nk - 1], oc = kout[nk - 1], ic = kidx[nk - 1];
  const int64_t nch = (ncol + RD_BUF - 1) / RD_BUF;
  int64_t nko = 1;
  for (int d = 0; d < nk - 1; d++) nko *= kshape[d];
  const int64_t ntask = nko * nch;
#pragma omp parallel for schedule(static) if (work > LT_CPU_PARALLEL_GRAIN && ntask > 1)
  for (int64_t t = 0; t < ntask; t++) {
    int64_t ko = t / nch, k0 = (t % nch) * RD_BUF;
    int64_t m = ncol - k0 < RD_BUF ? ncol - k0 : RD_BUF;
    int64_t rem = ko, io = 0, oo = 0, xo = 0;
    for (int d = nk - 2; d >= 0; d--) {
      int64_t i = rem % kshape[d];
      rem /= kshape[d];
      io += i * kin[d];
      oo += i * kout[d];
      xo += i * kidx[d];
    }
    rd_state s[RD_BUF];
    union { double d[RD_BUF]; int64_t i[RD_BUF]; } buf;
    for (int64_t k = 0; k < m; k++) rd_init(&c, &s[k]);
    /* float sums (bias gradients) add straight into a double row */
    const bool fast_sum = !c.ints && (op == LT_REDUCE_SUM || op == LT_REDUCE_MEAN);
    double acc[RD_BUF];
    if (fast_sum)
      for (int64_t k = 0; k < m; k++) acc[k] = 0;
    int64_t ridx[LT_MAX_DIMS] = {0}, roff = 0;
    for (int64_t r = 0; r < c.count; r++) {
      const char *p = ind + (io + k0 * sc + roff) * c.es;
      if (fast_sum) {
        if (c.dt == LT_DTYPE_F32 && sc == 1) {
          const float *pf = (const float *)p;
          for (int64_t k = 0; k < m; k++) acc[k] += pf[k];
        } else if (c.dt == LT_DTYPE_F64 && sc == 1) {
          const double *pd = (const double *)p;
          for (int64_t k = 0; k < m; k++) acc[k] += pd[k];
        } else {
          rd_load_d(buf.d, p, c.dt, m, sc);
          for (int64_t k = 0; k < m; k++) acc[k] += buf.d[k];
        }
      } else if (c.ints) {
        rd_load_i(buf.i, p, c.dt, m, sc);
        rd_cols_i(&c, s, buf.i, m, r);
      } else {
        rd_load_d(buf.d, p, c.dt, m, sc);
        rd_cols(&c, s, buf.d, m, r);
      }
      for (int d = nr - 1; d >= 0; d--) {
        roff += c.rstride[d];
        if (++ridx[d] < c.rshape[d]) break;
        roff -= c.rshape[d] * c.rstride[d];
        ridx[d] = 0;
      }
    }
    if (fast_sum)
      for (int64_t k = 0; k < m; k++) s[k].a = acc[k];
    for (int64_t k = 0; k < m; k++)
      rd_store(&c, &s[k], outd + (oo + (k0 + k) * oc) * oes, out->dtype,
               idxd ? idxd + xo + (k0 + k) * ic : NULL, base);
  }
  return LT_OK;
}
