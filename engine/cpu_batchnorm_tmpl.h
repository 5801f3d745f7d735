/*
** cpu_batchnorm_tmpl.h - body of cpu_batchnorm.c's kernels for one float
** type, included once per type with T (element and statistics type) and
** SUF (name suffix) defined. Not a header of its own: no guard.
*/
#define FN_(a, b) a##_##b
#define FN2(a, b) FN_(a, b)
#define FN(name) FN2(name, SUF)

/* sum of p[0..n) in T (vectorised), returned as double */
static inline double FN(bn_sum)(const T *p, int64_t n) {
  T a = 0;
#pragma omp simd reduction(+ : a)
  for (int64_t i = 0; i < n; i++) a += p[i];
  return a;
}

/* sum of (p[i] - m)^2 */
static inline double FN(bn_sumsq)(const T *p, int64_t n, T m) {
  T a = 0;
#pragma omp simd reduction(+ : a)
  for (int64_t i = 0; i < n; i++) a += (p[i] - m) * (p[i] - m);
  return a;
}

/* adds sum of q[i] to *sq and sum of q[i] * (p[i] - m) to *sqp */
static inline void FN(bn_sum2)(const T *q, const T *p, int64_t n, T m, double *sq, double *sqp) {
  T a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t i = 0; i < n; i++) {
    a += q[i];
    b += q[i] * (p[i] - m);
  }
  *sq += a;
  *sqp += b;
}

/* x (N, C, HW) -> mean, invstd (C); see backend.h for the running stats.
   Per channel: a sum pass and a centred sum of squares pass (each plane
   summed in T with vector lanes, plane results added in double). */
static void FN(bn_stats)(T *mean, T *invstd, T *rmean, T *rvar, const T *x, int64_t N, int64_t C,
                         int64_t HW, bool training, double momentum, double eps) {
  if (!training) {
    for (int64_t c = 0; c < C; c++) {
      mean[c] = rmean[c];
      invstd[c] = (T)(1.0 / sqrt((double)rvar[c] + eps));
    }
    return;
  }
  const int64_t M = N * HW;
#pragma omp parallel for schedule(static) if (N * C * HW > LT_CPU_PARALLEL_GRAIN)
  for (int64_t c = 0; c < C; c++) {
    double s = 0;
    for (int64_t n = 0; n < N; n++) s += FN(bn_sum)(x + (n * C + c) * HW, HW);
    double mu = s / (double)M;
    double q = 0;
    for (int64_t n = 0; n < N; n++) q += FN(bn_sumsq)(x + (n * C + c) * HW, HW, (T)mu);
    /* the centring used T(mu); correct the sum of squares for mu - T(mu) */
    double dm = mu - (double)(T)mu;
    q -= (double)M * dm * dm;
    if (q < 0) q = 0;
    double var = q / (double)M;
    mean[c] = (T)mu;
    invstd[c] = (T)(1.0 / sqrt(var + eps));
    if (rmean) rmean[c] = (T)((1.0 - momentum) * (double)rmean[c] + momentum * mu);
    if (rvar)
      rvar[c] = (T)((1.0 - momentum) * (double)rvar[c] +
                    momentum * (M > 1 ? q / (double)(M - 1) : var));
  }
}

/* y = x * scale + shift per channel, scale = invstd * w, shift = b - mean * scale */
static void FN(bn_forward)(T *y, const T *x, const T *mean, const T *invstd, const T *w,
                           const T *b, int64_t N, int64_t C, int64_t HW) {
#pragma omp parallel for schedule(static) if (N * C * HW > LT_CPU_PARALLEL_GRAIN)
  for (int64_t p = 0; p < N * C; p++) {
    int64_t c = p % C;
    double sc = (double)invstd[c] * (w ? (double)w[c] : 1.0);
    T scale = (T)sc, shift = (T)((b ? (double)b[c] : 0.0) - (double)mean[c] * sc);
    const T *xp = x + p * HW;
    T *yp = y + p * HW;
#pragma omp simd
    for (int64_t i = 0; i < HW; i++) yp[i] = xp[i] * scale + shift;
  }
}

/* db = sum dy, dw = sum dy * xhat; dx = w * invstd * (dy - db/M - xhat * dw/M)
   (training) or w * invstd * dy (eval), written as dx = dy*k1 + (x - mean)*k2 + k3. */
static void FN(bn_backward)(T *dx, T *dw, T *db, const T *dy, const T *x, const T *mean,
                            const T *invstd, const T *w, int64_t N, int64_t C, int64_t HW,
                            bool training, double *ssum /* 2C scratch */) {
  const int64_t M = N * HW;
  const bool sums = dw || db || (dx && training);
  if (sums) {
#pragma omp parallel for schedule(static) if (N * C * HW > LT_CPU_PARALLEL_GRAIN)
    for (int64_t c = 0; c < C; c++) {
      double s = 0, t = 0;
      for (int64_t n = 0; n < N; n++)
        FN(bn_sum2)(dy + (n * C + c) * HW, x + (n * C + c) * HW, HW, mean[c], &s, &t);
      ssum[c] = s;
      ssum[C + c] = t * (double)invstd[c];  /* sum dy * xhat */
      if (db) db[c] = (T)s;
      if (dw) dw[c] = (T)ssum[C + c];
    }
  }
  if (!dx) return;
#pragma omp parallel for schedule(static) if (N * C * HW > LT_CPU_PARALLEL_GRAIN)
  for (int64_t p = 0; p < N * C; p++) {
    int64_t c = p % C;
    double is = (double)invstd[c], wc = w ? (double)w[c] : 1.0;
    double k1 = wc * is, k2 = 0, k3 = 0;
    if (training) {
      double mdy = ssum[c] / (double)M, mdyx = ssum[C + c] / (double)M;
      k2 = -k1 * is * mdyx;
      k3 = -k1 * mdy;
    }
    T a = (T)k1, bb = (T)k2, cc = (T)k3, m = mean[c];
    const T *dyp = dy + p * HW, *xp = x + p * HW;
    T *dxp = dx + p * HW;
    if (training) {
#pragma omp simd
      for (int64_t i = 0; i < HW; i++) dxp[i] = dyp[i] * a + (xp[i] - m) * bb + cc;
    } else {
#pragma omp simd
      for (int64_t i = 0; i < HW; i++) dxp[i] = dyp[i] * a;
    }
  }
}

#undef FN
#undef FN2
#undef FN_
