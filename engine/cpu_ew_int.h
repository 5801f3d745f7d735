/*
** cpu_ew_int.h - template of the integer row loops of cpu_elementwise.c
** (unary, binary), included once per integer dtype (int64, int32, uint8,
** bool) with EW_N, EW_T, EW_CT (= int64_t), EW_LD, EW_ST. Arithmetic wraps
** like PyTorch's; float-only ops are rejected before these run.
*/

static void EW_FN(unary_row)(void *vc, int64_t n, char **p, const int64_t *st) {
  const ew_unary_ctx *c = vc;
  EW_T *o = (EW_T *)p[0];
  uint8_t *ob = (uint8_t *)p[0];
  const EW_T *a = (const EW_T *)p[1];
  const int64_t so = st[0], sa = st[1];
  switch (c->op) {
    case LT_UNARY_NEG: U_LOOP(ew_wsub(0, x)); break;
    case LT_UNARY_ABS: U_LOOP(x < 0 ? ew_wsub(0, x) : x); break;
    case LT_UNARY_SIGN: U_LOOP((int64_t)((x > 0) - (x < 0))); break;
    case LT_UNARY_SQUARE: U_LOOP(ew_wmul(x, x)); break;
    case LT_UNARY_RELU: U_LOOP(x < 0 ? 0 : x); break;
    case LT_UNARY_FLOOR: case LT_UNARY_CEIL: case LT_UNARY_ROUND: case LT_UNARY_TRUNC:
      U_LOOP(x);
      break;
    case LT_UNARY_LOGICAL_NOT: UB_LOOP(x == 0); break;
    case LT_UNARY_ISNAN: case LT_UNARY_ISINF: UB_LOOP(ew_false(x)); break;
    case LT_UNARY_CLAMP: {
      const bool has_lo = !isnan(c->p0), has_hi = !isnan(c->p1);
      const int64_t lo = has_lo ? lt_cpu_d2i(ceil(c->p0)) : INT64_MIN;
      const int64_t hi = has_hi ? lt_cpu_d2i(floor(c->p1)) : INT64_MAX;
      U_LOOP((x < lo ? lo : x) > hi ? hi : (x < lo ? lo : x));  /* min > max gives max */
      break;
    }
    case LT_UNARY_POW_SCALAR: {
      const int64_t e = (int64_t)c->p0;
      U_LOOP(ew_ipow(x, e));
      break;
    }
    default: break;
  }
}

static void EW_FN(binary_row)(void *vc, int64_t n, char **p, const int64_t *st) {
  ew_binary_ctx *c = vc;
  EW_T *o = (EW_T *)p[0];
  uint8_t *ob = (uint8_t *)p[0];
  const int64_t so = st[0];
  const EW_T *pa = (const EW_T *)p[1], *pb;
  int64_t sa = st[1], sb;
  int64_t ka = 0, kb = 0;
  int mode, bad = 0;
  if (!c->has_b) {
    if (c->reverse) { mode = 2; ka = lt_cpu_d2i(c->s); pb = pa; sb = sa; }
    else { mode = 1; kb = lt_cpu_d2i(c->s); pb = pa; sb = 0; }
  } else {
    pb = (const EW_T *)p[2];
    sb = st[2];
    if (sb == 0) { mode = 1; kb = EW_LD(pb[0]); }
    else if (sa == 0) { mode = 2; ka = EW_LD(pa[0]); }
    else mode = 0;
  }
  switch (c->op) {
    case LT_BINARY_ADD: B_LOOP(ew_wadd(a, b)); break;
    case LT_BINARY_SUB: B_LOOP(ew_wsub(a, b)); break;
    case LT_BINARY_MUL: B_LOOP(ew_wmul(a, b)); break;
    case LT_BINARY_POW: B_LOOP(ew_ipow(a, b)); break;
    case LT_BINARY_MAXIMUM: B_LOOP(a > b ? a : b); break;
    case LT_BINARY_MINIMUM: B_LOOP(a < b ? a : b); break;
    case LT_BINARY_FMOD: B_LOOP(ew_ifmod(a, b, &bad)); break;
    case LT_BINARY_REMAINDER: B_LOOP(ew_irem(a, b, &bad)); break;
    case LT_BINARY_FLOOR_DIVIDE: B_LOOP(ew_ifloordiv(a, b, &bad)); break;
    case LT_BINARY_EQ: BB_LOOP(a == b); break;
    case LT_BINARY_NE: BB_LOOP(a != b); break;
    case LT_BINARY_LT: BB_LOOP(a < b); break;
    case LT_BINARY_LE: BB_LOOP(a <= b); break;
    case LT_BINARY_GT: BB_LOOP(a > b); break;
    case LT_BINARY_GE: BB_LOOP(a >= b); break;
    case LT_BINARY_LOGICAL_AND: BB_LOOP(a != 0 && b != 0); break;
    case LT_BINARY_LOGICAL_OR: BB_LOOP(a != 0 || b != 0); break;
    case LT_BINARY_LOGICAL_XOR: BB_LOOP((a != 0) != (b != 0)); break;
    default: break;
  }
  if (bad) {
#pragma omp atomic write
    c->bad = 1;
  }
}
