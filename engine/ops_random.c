/*
** ops_random.c - the engine's random numbers: the Philox generator state
** (one per device type, seeded together) and the random front-ends (rand,
** randn, randint, randperm, bernoulli, uniform_/normal_, multinomial).
** Every number comes from the stream defined in backend.h, so CPU and CUDA
** agree. Not here: the Philox block function (cpu_random.c) and kernels.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* PyTorch's default seed (default_rng_seed_val), so an unseeded run is
** reproducible too. */
#define LT_DEFAULT_SEED UINT64_C(67280421310721)

static uint64_t rng_initial_seed = LT_DEFAULT_SEED;
static lt_philox_state rng_state[2] = {{LT_DEFAULT_SEED, 0}, {LT_DEFAULT_SEED, 0}};

static int rng_slot(lt_device dev) { return dev.type == LT_DEVICE_CUDA ? 1 : 0; }

void lt_manual_seed(uint64_t seed) {
  rng_initial_seed = seed;
  for (int k = 0; k < 2; k++) {
    rng_state[k].seed = seed;
    rng_state[k].offset = 0;
  }
}

uint64_t lt_initial_seed(void) { return rng_initial_seed; }

/* The public state is the CPU stream's; setting it sets both streams (the
** CUDA stream then continues from the same point, as after a seed). */
void lt_rng_get_state(uint64_t *seed, uint64_t *offset) {
  if (seed) *seed = rng_state[0].seed;
  if (offset) *offset = rng_state[0].offset;
}

void lt_rng_set_state(uint64_t seed, uint64_t offset) {
  rng_initial_seed = seed;
  for (int k = 0; k < 2; k++) {
    rng_state[k].seed = seed;
    rng_state[k].offset = offset;
  }
}

lt_philox_state lt_rng_take(lt_device dev, int64_t n) {
  lt_philox_state *s = &rng_state[rng_slot(dev)];
  lt_philox_state st = *s;
  if (n > 0) s->offset += (uint64_t)((n + 3) / 4);
  return st;
}

/* Host-side words of the stream: word i of a request that started at st. */
static uint32_t philox_word(lt_philox_state st, int64_t i) {
  uint64_t b = st.offset + (uint64_t)(i / 4);
  uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), 0, 0};
  uint32_t key[2] = {(uint32_t)st.seed, (uint32_t)(st.seed >> 32)};
  uint32_t out[4];
  lt_philox4x32_10(ctr, key, out);
  return out[i % 4];
}

/* Same conversion as the kernels' uniform: r * 2^-32 + 2^-33 in float32. */
static float philox_uniform(uint32_t r) {
  return (float)r * 2.3283064365386963e-10f + 1.1641532182693481e-10f;
}

/* ---------------------------------------------------------------- fills */

/* Fills contiguous t (n elements) from the stream of t's device. */
static lt_status rng_fill_contig(const char *op, lt_tensor *t, lt_rng_kind kind, double a,
                                 double b) {
  const lt_backend *be = lt_backend_of(op, t);
  if (!be) return lt_errcode();
  if (!be->rng) return lt_err_not_impl(op, lt_tensor_device(t));
  int64_t n = lt_numel(t);
  if (n == 0) return LT_OK;
  lt_philox_state st = lt_rng_take(lt_tensor_device(t), n);
  return be->rng(kind, lt_tensor_data(t), t->dtype, n, st, a, b);
}

static lt_tensor *rng_new(const char *op, lt_rng_kind kind, const int64_t *shape, int ndim,
                          lt_dtype dt, lt_device dev, double a, double b) {
  lt_tensor *t = lt_tensor_alloc(shape, ndim, dt, dev);
  if (!t) return NULL;
  if (rng_fill_contig(op, t, kind, a, b)) {
    lt_tensor_release(t);
    return NULL;
  }
  return t;
}

static lt_status check_float_dtype(const char *op, lt_dtype dt) {
  if ((unsigned)dt >= LT_DTYPE_COUNT)
    return lt_error(LT_ERR_DTYPE, "%s: invalid dtype %d", op, (int)dt);
  if (!lt_dtype_is_float(dt))
    return lt_error(LT_ERR_DTYPE, "%s: expected a floating point dtype, got %s", op,
                    lt_dtype_name(dt));
  return LT_OK;
}

lt_tensor *lt_rand(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev) {
  if (check_float_dtype("rand", dt)) return NULL;
  return rng_new("rand", LT_RNG_UNIFORM, shape, ndim, dt, dev, 0.0, 1.0);
}

lt_tensor *lt_randn(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev) {
  if (check_float_dtype("randn", dt)) return NULL;
  return rng_new("randn", LT_RNG_NORMAL, shape, ndim, dt, dev, 0.0, 1.0);
}

lt_tensor *lt_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, lt_dtype dt,
                      lt_device dev) {
  if (high <= low) {
    lt_error(LT_ERR_ARG,
             "randint: expected 'low' to be less than 'high', but got low=%lld >= high=%lld",
             (long long)low, (long long)high);
    return NULL;
  }
  if ((uint64_t)(high - low) > UINT64_C(0xFFFFFFFF)) {
    lt_error(LT_ERR_ARG, "randint: range high - low = %llu is too large (at most 2^32)",
             (unsigned long long)(high - low));
    return NULL;
  }
  return rng_new("randint", LT_RNG_RANDINT, shape, ndim, dt, dev, (double)low, (double)high);
}

/* Fisher-Yates on the host: step i (n-1 down to 1) swaps i with
** j = word[i] mod (i + 1), word[i] the i-th word of the request's stream. */
lt_tensor *lt_randperm(int64_t n, lt_dtype dt, lt_device dev, int64_t base) {
  if (n < 0) {
    lt_error(LT_ERR_ARG, "randperm: n must be non-negative, got %lld", (long long)n);
    return NULL;
  }
  if (n > INT64_C(0xFFFFFFFF)) {
    lt_error(LT_ERR_ARG, "randperm: n = %lld is too large", (long long)n);
    return NULL;
  }
  if (dev.type == LT_DEVICE_CUDA && !lt_backend_for(dev)) return NULL;
  int64_t *perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
  if (!perm) {
    lt_error(LT_ERR_MEMORY, "randperm: out of memory for %lld elements", (long long)n);
    return NULL;
  }
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  lt_philox_state st = lt_rng_take(dev, n);
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(philox_word(st, i) % (uint64_t)(i + 1));
    int64_t tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
  for (int64_t i = 0; i < n; i++) perm[i] += base;
  int64_t shape[1] = {n};
  lt_tensor *t = lt_from_data(perm, LT_DTYPE_I64, shape, 1, dt, dev);
  free(perm);
  return t;
}

/* out = (u <= p) in p's dtype, u uniform in (0, 1] of the float32 stream. */
lt_tensor *lt_bernoulli(lt_tensor *p) {
  if (!p) {
    lt_error(LT_ERR_ARG, "bernoulli: p is NULL");
    return NULL;
  }
  if (lt_check_float("bernoulli", p, "p")) return NULL;
  lt_tensor *u = lt_rand(p->shape, p->ndim, LT_DTYPE_F32, lt_tensor_device(p));
  if (!u) return NULL;
  bool g = lt_grad_enabled();
  lt_set_grad_enabled(false);
  lt_tensor *pd = lt_detach(p);
  lt_tensor *keep = pd ? lt_binary(LT_BINARY_LE, u, pd) : NULL;
  lt_tensor *out = keep ? lt_cast_nograd(keep, p->dtype) : NULL;
  lt_set_grad_enabled(g);
  lt_tensor_release(keep);
  lt_tensor_release(pd);
  lt_tensor_release(u);
  return out;
}

lt_tensor *lt_bernoulli_p(const int64_t *shape, int ndim, double p, lt_dtype dt,
                          lt_device dev) {
  if (!(p >= 0.0 && p <= 1.0)) {
    lt_error(LT_ERR_ARG, "bernoulli: expected p in [0, 1], but got p=%g", p);
    return NULL;
  }
  lt_tensor *u = lt_rand(shape, ndim, LT_DTYPE_F32, dev);
  if (!u) return NULL;
  lt_tensor *keep = lt_binary_scalar(LT_BINARY_LE, u, p, false);
  lt_tensor_release(u);
  if (!keep) return NULL;
  lt_tensor *out = lt_cast_nograd(keep, dt);
  lt_tensor_release(keep);
  return out;
}

/* In-place fill of t (any strides): contiguous targets directly, others
** through a contiguous temporary and lt_copy_. */
static lt_status rng_fill_inplace(const char *op, lt_tensor *t, lt_rng_kind kind, double a,
                                  double b) {
  if (!t) return lt_error(LT_ERR_ARG, "%s: tensor is NULL", op);
  if (lt_check_float(op, t, "self")) return lt_errcode();
  if (lt_is_contiguous(t)) {
    lt_status st = lt_prepare_inplace(op, t);
    if (st) return st;
    return rng_fill_contig(op, t, kind, a, b);
  }
  lt_tensor *tmp = lt_tensor_alloc(t->shape, t->ndim, t->dtype, lt_tensor_device(t));
  if (!tmp) return lt_errcode();
  lt_status st = rng_fill_contig(op, tmp, kind, a, b);
  if (!st) st = lt_copy_(t, tmp);
  lt_tensor_release(tmp);
  return st;
}

lt_status lt_uniform_(lt_tensor *t, double a, double b) {
  if (!(a <= b))
    return lt_error(LT_ERR_ARG,
                    "uniform_: expects to return a [from, to) range, but found from=%g > to=%g",
                    a, b);
  return rng_fill_inplace("uniform_", t, LT_RNG_UNIFORM, a, b);
}

lt_status lt_normal_(lt_tensor *t, double mean, double std) {
  if (!(std >= 0.0))
    return lt_error(LT_ERR_ARG, "normal_: expects std >= 0.0, but found std %g", std);
  return rng_fill_inplace("normal_", t, LT_RNG_NORMAL, mean, std);
}

/* Host inverse-CDF sampling with replacement: draw k of row r uses word
** r * n + k of the request; the category is the first c whose cumulative
** probability reaches u * total (u in (0, 1], so zero-probability
** categories are never drawn). */
lt_tensor *lt_multinomial(lt_tensor *probs, int64_t n, int64_t base) {
  if (!probs) {
    lt_error(LT_ERR_ARG, "multinomial: probs is NULL");
    return NULL;
  }
  char sb[128];
  if (probs->ndim != 1 && probs->ndim != 2) {
    lt_error(LT_ERR_SHAPE, "multinomial: probs must be 1 or 2 dimensional, got shape %s",
             lt_shape_str(probs, sb));
    return NULL;
  }
  if (lt_check_float("multinomial", probs, "probs")) return NULL;
  if (n <= 0) {
    lt_error(LT_ERR_ARG, "multinomial: cannot sample n=%lld <= 0 samples", (long long)n);
    return NULL;
  }
  int64_t rows = probs->ndim == 2 ? probs->shape[0] : 1;
  int64_t C = probs->shape[probs->ndim - 1];
  if (C == 0) {
    lt_error(LT_ERR_ARG, "multinomial: number of categories cannot be zero");
    return NULL;
  }
  int64_t total_el = rows * C, nout;
  /* the byte counts below must not wrap: n can be anything a caller passes */
  if (__builtin_mul_overflow(rows, n, &nout) || nout > INT64_MAX / 16 ||
      total_el > INT64_MAX / 16) {
    lt_error(LT_ERR_MEMORY, "multinomial: %lld samples from %lld rows of %lld categories is too large",
             (long long)n, (long long)rows, (long long)C);
    return NULL;
  }
  double *p = malloc((size_t)(total_el ? total_el : 1) * sizeof *p);
  int64_t *out = malloc((size_t)(nout > 0 ? nout : 1) * sizeof *out);
  if (!p || !out) {
    free(p);
    free(out);
    lt_error(LT_ERR_MEMORY, "multinomial: out of host memory");
    return NULL;
  }
  if (lt_to_host(probs, p, LT_DTYPE_F64)) {
    free(p);
    free(out);
    return NULL;
  }
  for (int64_t r = 0; r < rows; r++) {
    double *row = p + r * C, acc = 0.0;
    for (int64_t c = 0; c < C; c++) {
      if (!(row[c] >= 0.0) || isinf(row[c])) {
        free(p);
        free(out);
        lt_error(LT_ERR_ARG, "multinomial: probability tensor contains either inf, nan or "
                             "element < 0");
        return NULL;
      }
      acc += row[c];
      row[c] = acc;  /* cumulative */
    }
    if (!(acc > 0.0)) {
      free(p);
      free(out);
      lt_error(LT_ERR_ARG, "multinomial: invalid multinomial distribution (sum of "
                           "probabilities <= 0) in row %lld", (long long)r);
      return NULL;
    }
  }
  lt_philox_state st = lt_rng_take(lt_tensor_device(probs), rows * n);
  for (int64_t r = 0; r < rows; r++) {
    const double *cdf = p + r * C;
    double total = cdf[C - 1];
    for (int64_t k = 0; k < n; k++) {
      double target = (double)philox_uniform(philox_word(st, r * n + k)) * total;
      int64_t lo = 0, hi = C - 1;  /* first c with cdf[c] >= target */
      while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] >= target) hi = mid;
        else lo = mid + 1;
      }
      out[r * n + k] = lo + base;
    }
  }
  free(p);
  int64_t shape[2] = {rows, n};
  lt_tensor *t;
  if (probs->ndim == 2) t = lt_from_data(out, LT_DTYPE_I64, shape, 2, LT_DTYPE_I64,
                                         lt_tensor_device(probs));
  else t = lt_from_data(out, LT_DTYPE_I64, shape + 1, 1, LT_DTYPE_I64, lt_tensor_device(probs));
  free(out);
  return t;
}
