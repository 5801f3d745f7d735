/*
** cpu_attention_tmpl.h - body of cpu_attention.c's kernels for one float
** type, included once per type with T (element and accumulation type), SUF
** (name suffix), EXPT and LOGT defined. Not a header of its own: no guard.
*/
#define ATT_(a, b) a##_##b
#define ATT2(a, b) ATT_(a, b)
#define ATT(name) ATT2(name, SUF)

static T ATT(dot)(const T *a, const T *b, int64_t n) {
  T s = 0;
  for (int64_t d = 0; d < n; d++) s += a[d] * b[d];
  return s;
}

/* Forward, one query row per iteration: q (bh, L, E), k (bh, S, E),
** v (bh, S, Ev) -> out (bh, L, Ev), lse (bh, L). Keys stream in tiles of
** LT_ATT_BC; the running max m, the running sum l and the unnormalised
** accumulator acc are rescaled by exp(m_old - m_new) when a tile raises
** the max (online softmax), so only one tile of scores exists at a time. */
static void ATT(sdpa_fwd)(T *out, T *lse, const T *q, const T *k, const T *v, int64_t bh,
                          int64_t L, int64_t S, int64_t E, int64_t Ev, T scale, bool causal) {
  int64_t rows = bh * L;
#pragma omp parallel for if (rows * S * (E + Ev) > LT_CPU_PARALLEL_GRAIN)
  for (int64_t r = 0; r < rows; r++) {
    T s[LT_ATT_BC], acc[LT_SDPA_MAX_HEAD_DIM];
    int64_t b = r / L, i = r % L;
    const T *qi = q + r * E, *kb = k + b * S * E, *vb = v + b * S * Ev;
    int64_t jend = causal ? (i + 1 < S ? i + 1 : S) : S;
    T m = -INFINITY, l = 0;
    for (int64_t d = 0; d < Ev; d++) acc[d] = 0;
    for (int64_t j0 = 0; j0 < jend; j0 += LT_ATT_BC) {
      int64_t nc = jend - j0 < LT_ATT_BC ? jend - j0 : LT_ATT_BC;
      T mx = m;
      for (int64_t c = 0; c < nc; c++) {
        s[c] = scale * ATT(dot)(qi, kb + (j0 + c) * E, E);
        if (s[c] > mx) mx = s[c];
      }
      T corr = m == mx ? (T)1 : EXPT(m - mx);  /* m = -inf on the first tile: 0 */
      l *= corr;
      for (int64_t d = 0; d < Ev; d++) acc[d] *= corr;
      for (int64_t c = 0; c < nc; c++) {
        T p = EXPT(s[c] - mx);
        const T *vc = vb + (j0 + c) * Ev;
        l += p;
        for (int64_t d = 0; d < Ev; d++) acc[d] += p * vc[d];
      }
      m = mx;
    }
    T inv = (T)1 / l;
    T *o = out + r * Ev;
    for (int64_t d = 0; d < Ev; d++) o[d] = acc[d] * inv;
    lse[r] = m + LOGT(l);
  }
}

/* Backward without the (L, S) matrix and without races: with
**   p_ij = exp(scale q_i.k_j - lse_i),  dp_ij = dout_i.v_j,
**   D_i = dout_i.out_i = sum_j p_ij dp_ij,  ds_ij = p_ij (dp_ij - D_i):
**   dq_i = scale sum_j ds_ij k_j     (pass 1, one query row per iteration)
**   dk_j = scale sum_i ds_ij q_i,  dv_j = sum_i p_ij dout_i
**                                    (pass 2, one key row per iteration)
** Each pass recomputes p from lse; D (bh * L) is the only scratch. */
static void ATT(sdpa_bwd)(T *dq, T *dk, T *dv, T *D, const T *dout, const T *q, const T *k,
                          const T *v, const T *out, const T *lse, int64_t bh, int64_t L,
                          int64_t S, int64_t E, int64_t Ev, T scale, bool causal) {
  int64_t rows = bh * L, keys = bh * S;
  bool par = bh * L * S * (E + Ev) > LT_CPU_PARALLEL_GRAIN;
#pragma omp parallel for if (par)
  for (int64_t r = 0; r < rows; r++) {
    T acc[LT_SDPA_MAX_HEAD_DIM];
    int64_t b = r / L, i = r % L;
    const T *qi = q + r * E, *doi = dout + r * Ev, *kb = k + b * S * E, *vb = v + b * S * Ev;
    T Di = ATT(dot)(doi, out + r * Ev, Ev);
    D[r] = Di;
    int64_t jend = causal ? (i + 1 < S ? i + 1 : S) : S;
    for (int64_t d = 0; d < E; d++) acc[d] = 0;
    for (int64_t j = 0; j < jend; j++) {
      const T *kj = kb + j * E;
      T p = EXPT(scale * ATT(dot)(qi, kj, E) - lse[r]);
      T ds = p * (ATT(dot)(doi, vb + j * Ev, Ev) - Di);
      for (int64_t d = 0; d < E; d++) acc[d] += ds * kj[d];
    }
    for (int64_t d = 0; d < E; d++) dq[r * E + d] = scale * acc[d];
  }
#pragma omp parallel for if (par)
  for (int64_t kr = 0; kr < keys; kr++) {
    T ak[LT_SDPA_MAX_HEAD_DIM], av[LT_SDPA_MAX_HEAD_DIM];
    int64_t b = kr / S, j = kr % S;
    const T *kj = k + kr * E, *vj = v + kr * Ev;
    for (int64_t d = 0; d < E; d++) ak[d] = 0;
    for (int64_t d = 0; d < Ev; d++) av[d] = 0;
    for (int64_t i = causal ? j : 0; i < L; i++) {
      int64_t r = b * L + i;
      const T *qi = q + r * E, *doi = dout + r * Ev;
      T p = EXPT(scale * ATT(dot)(qi, kj, E) - lse[r]);
      T ds = p * (ATT(dot)(doi, vj, Ev) - D[r]);
      for (int64_t d = 0; d < E; d++) ak[d] += ds * qi[d];
      for (int64_t d = 0; d < Ev; d++) av[d] += p * doi[d];
    }
    for (int64_t d = 0; d < E; d++) dk[kr * E + d] = scale * ak[d];
    for (int64_t d = 0; d < Ev; d++) dv[kr * Ev + d] = av[d];
  }
}

#undef ATT_
#undef ATT2
#undef ATT
