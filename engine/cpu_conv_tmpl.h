/*
** cpu_conv_tmpl.h - body of cpu_conv.c's arithmetic kernels (col2im and the
** pools) for one float type, included once per type with T and SUF
** defined. Not a header of its own: no guard.
*/
#define FN_(a, b) a##_##b
#define FN2(a, b) FN_(a, b)
#define FN(name) FN2(name, SUF)

/* dx (n, c, h, w) = 0, then += every col entry at its input position;
   parallel over (image, channel) planes, each written by one thread. */
static void FN(col2im)(T *dx, const T *col, const lt_conv_geom *g) {
  int64_t planes = g->n * g->c, hw = g->h * g->w, ohw = g->oh * g->ow, kk = g->kh * g->kw;
#pragma omp parallel for schedule(static) if (planes * kk * ohw > LT_CPU_PARALLEL_GRAIN)
  for (int64_t p = 0; p < planes; p++) {
    T *d = dx + p * hw;
    for (int64_t e = 0; e < hw; e++) d[e] = 0;
    const T *cb = col + p * kk * ohw;
    for (int64_t i = 0; i < g->kh; i++)
      for (int64_t j = 0; j < g->kw; j++) {
        const T *cr = cb + (i * g->kw + j) * ohw;
        int64_t lo, hi, off = j * g->dw - g->pw;
        conv_valid_cols(g, j, &lo, &hi);
        for (int64_t oy = 0; oy < g->oh; oy++) {
          int64_t iy = oy * g->sh - g->ph + i * g->dh;
          if (iy < 0 || iy >= g->h) continue;
          const int64_t r = iy * g->w + off;  /* d[r + ox * sw]: in range for ox in [lo, hi) */
          const T *co = cr + oy * g->ow;
          if (g->sw == 1) {
#pragma omp simd
            for (int64_t ox = lo; ox < hi; ox++) d[r + ox] += co[ox];
          } else {
            for (int64_t ox = lo; ox < hi; ox++) d[r + ox * g->sw] += co[ox];
          }
        }
      }
  }
}

/* max_pool2d's common case: 2x2 windows, stride 2, no padding or
   dilation, every window inside the input. Same scan order and rules as
   the general loop below, without branches (idx not NULL). */
static void FN(max_pool2d_2x2)(T *y, int64_t *idx, const T *x, const lt_pool_geom *g) {
  int64_t hw = g->h * g->w, ohw = g->oh * g->ow, W = g->w;
#pragma omp parallel for schedule(static) if (g->nc * ohw * 4 > LT_CPU_PARALLEL_GRAIN)
  for (int64_t p = 0; p < g->nc; p++) {
    const T *xp = x + p * hw;
    T *yp = y + p * ohw;
    int64_t *ip = idx + p * ohw;
    for (int64_t oy = 0; oy < g->oh; oy++) {
      const int64_t r0 = 2 * oy * W;
      T *yr = yp + oy * g->ow;
      int64_t *ir = ip + oy * g->ow;
#ifdef LT_POOL2X2_ROW_F32
      if (g->ow >= 4 && hw < ((int64_t)1 << 31)) {
        LT_POOL2X2_ROW_F32(xp + r0, xp + r0 + W, yr, ir, g->ow, r0, W);
        continue;
      }
#endif
      for (int64_t ox = 0; ox < g->ow; ox++) {
        const int64_t k = r0 + 2 * ox;
        const T a = xp[k], b = xp[k + 1], c = xp[k + W], d = xp[k + W + 1];
        T mx = a;
        int w = 0;  /* which of the four: bit 0 column, bit 1 row */
        if (b > mx || b != b) { mx = b; w = 1; }
        if (c > mx || c != c) { mx = c; w = 2; }
        if (d > mx || d != d) { mx = d; w = 3; }
        const int64_t mi = k + (w & 1) + (int64_t)(w >> 1) * W;
        yr[ox] = mx;
        ir[ox] = mi;
      }
    }
  }
}

/* PyTorch's max pool: padding acts as -inf, NaN wins, ties keep the first. */
static void FN(max_pool2d)(T *y, int64_t *idx, const T *x, const lt_pool_geom *g) {
  int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
  if (idx && g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 &&
      g->dh == 1 && g->dw == 1 && 2 * g->oh <= g->h && 2 * g->ow <= g->w) {
    FN(max_pool2d_2x2)(y, idx, x, g);
    return;
  }
#pragma omp parallel for if (g->nc * ohw * g->kh * g->kw > LT_CPU_PARALLEL_GRAIN)
  for (int64_t p = 0; p < g->nc; p++) {
    const T *xp = x + p * hw;
    for (int64_t oy = 0; oy < g->oh; oy++)
      for (int64_t ox = 0; ox < g->ow; ox++) {
        int64_t y0 = oy * g->sh - g->ph, x0 = ox * g->sw - g->pw;
        T mx = -INFINITY;
        int64_t mi = -1;
        for (int64_t i = 0; i < g->kh; i++) {
          int64_t iy = y0 + i * g->dh;
          if (iy < 0 || iy >= g->h) continue;
          for (int64_t j = 0; j < g->kw; j++) {
            int64_t ix = x0 + j * g->dw;
            if (ix < 0 || ix >= g->w) continue;
            T v = xp[iy * g->w + ix];
            if (mi < 0) mi = iy * g->w + ix;
            if (v > mx || isnan(v)) { mx = v; mi = iy * g->w + ix; }
          }
        }
        y[p * ohw + oy * g->ow + ox] = mx;
        if (idx) idx[p * ohw + oy * g->ow + ox] = mi < 0 ? 0 : mi;
      }
  }
}

static void FN(max_pool2d_backward)(T *dx, const T *dy, const int64_t *idx, const lt_pool_geom *g) {
  int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
#pragma omp parallel for if (g->nc * (hw + ohw) > LT_CPU_PARALLEL_GRAIN)
  for (int64_t p = 0; p < g->nc; p++) {
    T *d = dx + p * hw;
    for (int64_t e = 0; e < hw; e++) d[e] = 0;
    for (int64_t o = 0; o < ohw; o++) {
      int64_t k = idx[p * ohw + o];
      if (k >= 0 && k < hw) d[k] += dy[p * ohw + o];
    }
  }
}

/* The window of output (oy, ox) clipped to the input, and its divisor
   (PyTorch: the pool size counts padding but not the ceil_mode overhang). */
static inline bool FN(avg_window)(const lt_pool_geom *g, int64_t oy, int64_t ox, int64_t *y0,
                                  int64_t *y1, int64_t *x0, int64_t *x1, double *div) {
  int64_t a0 = oy * g->sh - g->ph, b0 = ox * g->sw - g->pw;
  int64_t a1 = a0 + g->kh, b1 = b0 + g->kw;
  if (a1 > g->h + g->ph) a1 = g->h + g->ph;
  if (b1 > g->w + g->pw) b1 = g->w + g->pw;
  int64_t pool = (a1 - a0) * (b1 - b0);
  if (a0 < 0) a0 = 0;
  if (b0 < 0) b0 = 0;
  if (a1 > g->h) a1 = g->h;
  if (b1 > g->w) b1 = g->w;
  *y0 = a0; *y1 = a1; *x0 = b0; *x1 = b1;
  if (a0 >= a1 || b0 >= b1) return false;
  if (g->divisor_override) *div = (double)g->divisor_override;
  else if (g->count_include_pad) *div = (double)pool;
  else *div = (double)((a1 - a0) * (b1 - b0));
  return true;
}

static void FN(avg_pool2d)(T *y, const T *x, const lt_pool_geom *g) {
  int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
#pragma omp parallel for if (g->nc * ohw * g->kh * g->kw > LT_CPU_PARALLEL_GRAIN)
  for (int64_t p = 0; p < g->nc; p++) {
    const T *xp = x + p * hw;
    for (int64_t oy = 0; oy < g->oh; oy++)
      for (int64_t ox = 0; ox < g->ow; ox++) {
        int64_t y0, y1, x0, x1;
        double div = 1, s = 0;
        if (FN(avg_window)(g, oy, ox, &y0, &y1, &x0, &x1, &div)) {
          for (int64_t iy = y0; iy < y1; iy++)
            for (int64_t ix = x0; ix < x1; ix++) s += xp[iy * g->w + ix];
          s /= div;
        }
        y[p * ohw + oy * g->ow + ox] = (T)s;
      }
  }
}

static void FN(avg_pool2d_backward)(T *dx, const T *dy, const lt_pool_geom *g) {
  int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
#pragma omp parallel for if (g->nc * ohw * g->kh * g->kw > LT_CPU_PARALLEL_GRAIN)
  for (int64_t p = 0; p < g->nc; p++) {
    T *d = dx + p * hw;
    for (int64_t e = 0; e < hw; e++) d[e] = 0;
    for (int64_t oy = 0; oy < g->oh; oy++)
      for (int64_t ox = 0; ox < g->ow; ox++) {
        int64_t y0, y1, x0, x1;
        double div = 1;
        if (!FN(avg_window)(g, oy, ox, &y0, &y1, &x0, &x1, &div)) continue;
        T v = (T)(dy[p * ohw + oy * g->ow + ox] / div);
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) d[iy * g->w + ix] += v;
      }
  }
}

/* PyTorch's adaptive windows: [floor(i*h/oh), ceil((i+1)*h/oh)) */
static inline int64_t FN(ad_start)(int64_t i, int64_t out, int64_t in) { return (i * in) / out; }
static inline int64_t FN(ad_end)(int64_t i, int64_t out, int64_t in) {
  return ((i + 1) * in + out - 1) / out;
}

static void FN(adaptive_avg_pool2d)(T *y, const T *x, const lt_pool_geom *g) {
  int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
#pragma omp parallel for if (g->nc * (hw + ohw) > LT_CPU_PARALLEL_GRAIN)
  for (int64_t p = 0; p < g->nc; p++) {
    const T *xp = x + p * hw;
    for (int64_t oy = 0; oy < g->oh; oy++) {
      int64_t y0 = FN(ad_start)(oy, g->oh, g->h), y1 = FN(ad_end)(oy, g->oh, g->h);
      for (int64_t ox = 0; ox < g->ow; ox++) {
        int64_t x0 = FN(ad_start)(ox, g->ow, g->w), x1 = FN(ad_end)(ox, g->ow, g->w);
        double s = 0;
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) s += xp[iy * g->w + ix];
        int64_t area = (y1 - y0) * (x1 - x0);
        y[p * ohw + oy * g->ow + ox] = (T)(area ? s / (double)area : 0);
      }
    }
  }
}

static void FN(adaptive_avg_pool2d_backward)(T *dx, const T *dy, const lt_pool_geom *g) {
  int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
#pragma omp parallel for if (g->nc * (hw + ohw) > LT_CPU_PARALLEL_GRAIN)
  for (int64_t p = 0; p < g->nc; p++) {
    T *d = dx + p * hw;
    for (int64_t e = 0; e < hw; e++) d[e] = 0;
    for (int64_t oy = 0; oy < g->oh; oy++) {
      int64_t y0 = FN(ad_start)(oy, g->oh, g->h), y1 = FN(ad_end)(oy, g->oh, g->h);
      for (int64_t ox = 0; ox < g->ow; ox++) {
        int64_t x0 = FN(ad_start)(ox, g->ow, g->w), x1 = FN(ad_end)(ox, g->ow, g->w);
        int64_t area = (y1 - y0) * (x1 - x0);
        if (!area) continue;
        T v = (T)(dy[p * ohw + oy * g->ow + ox] / (double)area);
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) d[iy * g->w + ix] += v;
      }
    }
  }
}

#undef FN
#undef FN2
#undef FN_
