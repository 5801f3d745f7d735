/*
** cpu_nn_tmpl.h - body of cpu_nn.c's kernels for one float type, included
** once per type with T (element type), SUF (name suffix) and EXPT
** (exp of that precision) defined. Not a header of its own: no guard.
*/
#define FN_(a, b) a##_##b
#define FN2(a, b) FN_(a, b)
#define FN(name) FN2(name, SUF)

/* softmax over n for each (o, i) of the outer x n x inner layout.
   out = exp(x - max) / sum, or x - max - log(sum) (log). */
static void FN(softmax)(T *out, const T *in, int64_t outer, int64_t n, int64_t inner, bool is_log) {
  int64_t lines = outer * inner;
#pragma omp parallel for if (lines * n > LT_CPU_PARALLEL_GRAIN)
  for (int64_t l = 0; l < lines; l++) {
    int64_t o = l / inner, i = l % inner;
    const T *x = in + o * n * inner + i;
    T *y = out + o * n * inner + i;
    T mx = -INFINITY;
    for (int64_t j = 0; j < n; j++)
      if (x[j * inner] > mx || isnan(x[j * inner])) mx = x[j * inner];
    if (isinf(mx) && mx < 0) mx = 0;  /* all -inf: avoid -inf - -inf */
    double s = 0;
    if (is_log) {
      for (int64_t j = 0; j < n; j++) s += EXPT(x[j * inner] - mx);
      T lse = (T)((double)mx + log(s));
      for (int64_t j = 0; j < n; j++) y[j * inner] = x[j * inner] - lse;
    } else {
      for (int64_t j = 0; j < n; j++) {
        T e = EXPT(x[j * inner] - mx);
        y[j * inner] = e;
        s += e;
      }
      T r = (T)(1.0 / s);
      for (int64_t j = 0; j < n; j++) y[j * inner] *= r;
    }
  }
}

/* dx = y * (dy - sum(dy * y))  or (log)  dx = dy - exp(y) * sum(dy) */
static void FN(softmax_backward)(T *dx, const T *y, const T *dy, int64_t outer, int64_t n,
                                 int64_t inner, bool is_log) {
  int64_t lines = outer * inner;
#pragma omp parallel for if (lines * n > LT_CPU_PARALLEL_GRAIN)
  for (int64_t l = 0; l < lines; l++) {
    int64_t o = l / inner, i = l % inner, b = o * n * inner + i;
    double s = 0;
    if (is_log) {
      for (int64_t j = 0; j < n; j++) s += dy[b + j * inner];
      for (int64_t j = 0; j < n; j++)
        dx[b + j * inner] = (T)(dy[b + j * inner] - EXPT(y[b + j * inner]) * s);
    } else {
      for (int64_t j = 0; j < n; j++) s += (double)dy[b + j * inner] * y[b + j * inner];
      for (int64_t j = 0; j < n; j++)
        dx[b + j * inner] = (T)(y[b + j * inner] * (dy[b + j * inner] - s));
    }
  }
}

/* Row loss of cross entropy with label smoothing ls and class weights w
   (PyTorch): (1-ls) * w[t] * (lse - x[t]) + ls/C * sum_c w[c] * (lse - x[c]).
   Targets were checked by the caller. */
static void FN(cross_entropy)(T *loss, T *lse_out, const T *logits, const int64_t *target,
                              const T *w, int64_t rows, int64_t C, int64_t base, bool has_ignore,
                              int64_t ignore, double ls) {
#pragma omp parallel for if (rows * C > LT_CPU_PARALLEL_GRAIN)
  for (int64_t r = 0; r < rows; r++) {
    const T *x = logits + r * C;
    double mx = -INFINITY;
    for (int64_t c = 0; c < C; c++)
      if (x[c] > mx || isnan(x[c])) mx = x[c];
    if (isinf(mx) && mx < 0) mx = 0;
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += (double)EXPT((T)((double)x[c] - mx));  /* expf for f32 */
    double lse = mx + log(s);
    if (lse_out) lse_out[r] = (T)lse;
    if (has_ignore && target[r] == ignore) { loss[r] = 0; continue; }
    int64_t t = target[r] - base;
    double wt = w ? (double)w[t] : 1.0;
    double l = (1 - ls) * wt * (lse - x[t]);
    if (ls != 0) {
      double sm = 0;
      for (int64_t c = 0; c < C; c++) sm += (w ? (double)w[c] : 1.0) * (lse - x[c]);
      l += ls / (double)C * sm;
    }
    loss[r] = (T)l;
  }
}

/* d loss[r] / d x[r, c] = (1-ls) * w[t] * (p_c - [c == t]) + ls/C * (W p_c - w[c]),
   W = sum_c w[c] (= C without weights, giving p_c - (1-ls)[c == t] - ls/C). */
static void FN(cross_entropy_backward)(T *dlogits, const T *dloss, int64_t dloss_stride,
                                       const T *logits, const T *lse, const int64_t *target,
                                       const T *w, int64_t rows, int64_t C, int64_t base,
                                       bool has_ignore, int64_t ignore, double ls) {
  double W = (double)C;
  if (w) {
    W = 0;
    for (int64_t c = 0; c < C; c++) W += w[c];
  }
#pragma omp parallel for if (rows * C > LT_CPU_PARALLEL_GRAIN)
  for (int64_t r = 0; r < rows; r++) {
    T *dx = dlogits + r * C;
    const T *x = logits + r * C;
    if (has_ignore && target[r] == ignore) {
      for (int64_t c = 0; c < C; c++) dx[c] = 0;
      continue;
    }
    int64_t t = target[r] - base;
    double g = dloss[r * dloss_stride];
    double wt = w ? (double)w[t] : 1.0, l = lse[r];
    double a = (1 - ls) * wt, b = ls / (double)C;
    for (int64_t c = 0; c < C; c++) {
      double p = (double)EXPT((T)((double)x[c] - l));
      double wc = w ? (double)w[c] : 1.0;
      double d = a * (p - (c == t)) + b * (W * p - wc);
      dx[c] = (T)(g * d);
    }
  }
}

/* y = (x - mean) * rstd * w + b over rows of `cols`; biased variance. */
static void FN(layer_norm)(T *y, T *mean, T *rstd, const T *x, const T *w, const T *b,
                           int64_t rows, int64_t cols, double eps) {
#pragma omp parallel for if (rows * cols > LT_CPU_PARALLEL_GRAIN)
  for (int64_t r = 0; r < rows; r++) {
    const T *xr = x + r * cols;
    T *yr = y + r * cols;
    double m = 0, v = 0;
    for (int64_t c = 0; c < cols; c++) m += xr[c];
    m = cols ? m / (double)cols : 0;
    for (int64_t c = 0; c < cols; c++) v += ((double)xr[c] - m) * ((double)xr[c] - m);
    v = cols ? v / (double)cols : 0;
    double rs = 1.0 / sqrt(v + eps);
    if (mean) mean[r] = (T)m;
    if (rstd) rstd[r] = (T)rs;
    for (int64_t c = 0; c < cols; c++) {
      double h = ((double)xr[c] - m) * rs;
      if (w) h *= w[c];
      if (b) h += b[c];
      yr[c] = (T)h;
    }
  }
}

/* xhat = (x - mean) * rstd, g = dy * w:
   dx = rstd * (g - mean(g) - xhat * mean(g * xhat));
   dw += sum_rows dy * xhat; db += sum_rows dy. */
static void FN(layer_norm_backward)(T *dx, T *dw, T *db, const T *dy, const T *x, const T *mean,
                                    const T *rstd, const T *w, int64_t rows, int64_t cols) {
  if (dx) {
#pragma omp parallel for if (rows * cols > LT_CPU_PARALLEL_GRAIN)
    for (int64_t r = 0; r < rows; r++) {
      const T *xr = x + r * cols, *gr = dy + r * cols;
      double m = mean[r], rs = rstd[r], sg = 0, sgx = 0;
      for (int64_t c = 0; c < cols; c++) {
        double g = w ? (double)gr[c] * w[c] : gr[c];
        sg += g;
        sgx += g * ((double)xr[c] - m) * rs;
      }
      sg /= (double)cols;
      sgx /= (double)cols;
      for (int64_t c = 0; c < cols; c++) {
        double g = w ? (double)gr[c] * w[c] : gr[c];
        double h = ((double)xr[c] - m) * rs;
        dx[r * cols + c] = (T)(rs * (g - sg - h * sgx));
      }
    }
  }
  if (!dw && !db) return;
  /* columns in blocks: each block's sums walk the rows in order */
  int64_t nblk = (cols + 63) / 64;
#pragma omp parallel for if (rows * cols > LT_CPU_PARALLEL_GRAIN)
  for (int64_t bk = 0; bk < nblk; bk++) {
    int64_t c0 = bk * 64, c1 = c0 + 64 < cols ? c0 + 64 : cols;
    double sw[64] = {0}, sb[64] = {0};
    for (int64_t r = 0; r < rows; r++) {
      const T *xr = x + r * cols, *gr = dy + r * cols;
      double m = mean[r], rs = rstd[r];
      for (int64_t c = c0; c < c1; c++) {
        sw[c - c0] += (double)gr[c] * (((double)xr[c] - m) * rs);
        sb[c - c0] += gr[c];
      }
    }
    for (int64_t c = c0; c < c1; c++) {
      if (dw) dw[c] = (T)(dw[c] + sw[c - c0]);
      if (db) db[c] = (T)(db[c] + sb[c - c0]);
    }
  }
}

#undef FN
#undef FN2
#undef FN_
