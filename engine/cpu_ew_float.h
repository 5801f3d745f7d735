/*
** cpu_ew_float.h - template of the float row loops of cpu_elementwise.c
** (unary, unary backward, binary), included once per float dtype with
** EW_N (name suffix), EW_T (storage type), EW_CT (compute type: float for
** f32/bf16/f16, double for f64), EW_LD/EW_ST (storage <-> compute).
** Not a header for anything else; math is <tgmath.h> so float stays float,
** and exp/tanh/sigmoid go through EW_EXP/EW_TANH/EW_SIGMOID (the vectorizable
** cpu_fastmath.h forms for float compute, libm for double). EW_CLONES
** (LT_SIMD_CLONES for float32, empty otherwise) prefixes the unary rows.
*/

EW_CLONES static void EW_FN(unary_row)(void *vc, int64_t n, char **p, const int64_t *st) {
  const ew_unary_ctx *c = vc;
  EW_T *o = (EW_T *)p[0];
  uint8_t *ob = (uint8_t *)p[0];
  const EW_T *a = (const EW_T *)p[1];
  const int64_t so = st[0], sa = st[1];
  const EW_CT one = 1, zero = 0, half = 0.5;
  const EW_CT p0 = (EW_CT)c->p0;
  switch (c->op) {
    case LT_UNARY_NEG: U_LOOP(-x); break;
    case LT_UNARY_ABS: U_LOOP(fabs(x)); break;
    case LT_UNARY_SIGN: U_LOOP((EW_CT)((x > zero) - (x < zero))); break;
    case LT_UNARY_EXP: U_LOOP(EW_EXP(x)); break;
    case LT_UNARY_LOG: U_LOOP(log(x)); break;
    case LT_UNARY_LOG1P: U_LOOP(log1p(x)); break;
    case LT_UNARY_EXPM1: U_LOOP(expm1(x)); break;
    case LT_UNARY_SQRT: U_LOOP(sqrt(x)); break;
    case LT_UNARY_RSQRT: U_LOOP(one / sqrt(x)); break;
    case LT_UNARY_RECIPROCAL: U_LOOP(one / x); break;
    case LT_UNARY_SQUARE: U_LOOP(x * x); break;
    case LT_UNARY_SIN: U_LOOP(sin(x)); break;
    case LT_UNARY_COS: U_LOOP(cos(x)); break;
    case LT_UNARY_TANH: U_LOOP(EW_TANH(x)); break;
    case LT_UNARY_SIGMOID:
      U_LOOP(EW_SIGMOID(x));
      break;
    case LT_UNARY_RELU: U_LOOP(x <= zero ? zero : x); break;
    case LT_UNARY_GELU: U_LOOP(half * x * (one + erf(x * (EW_CT)EW_SQRT1_2))); break;
    case LT_UNARY_GELU_TANH:
      U_LOOP(half * x * (one + EW_TANH((EW_CT)EW_GELU_BETA * (x + (EW_CT)EW_GELU_KAPPA * x * x * x))));
      break;
    case LT_UNARY_SILU: U_LOOP(x * EW_SIGMOID(x)); break;
    case LT_UNARY_ERF: U_LOOP(erf(x)); break;
    case LT_UNARY_FLOOR: U_LOOP(floor(x)); break;
    case LT_UNARY_CEIL: U_LOOP(ceil(x)); break;
    case LT_UNARY_ROUND: U_LOOP(nearbyint(x)); break;  /* half to even */
    case LT_UNARY_TRUNC: U_LOOP(trunc(x)); break;
    case LT_UNARY_LOGICAL_NOT: UB_LOOP(x == zero); break;
    case LT_UNARY_ISNAN: UB_LOOP(isnan(x)); break;
    case LT_UNARY_ISINF: UB_LOOP(isinf(x)); break;
    case LT_UNARY_CLAMP: {
      const bool has_lo = !isnan(c->p0), has_hi = !isnan(c->p1);
      const EW_CT lo = (EW_CT)(has_lo ? c->p0 : 0), hi = (EW_CT)(has_hi ? c->p1 : 0);
      if (has_lo && has_hi) U_LOOP((x < lo ? lo : x) > hi ? hi : (x < lo ? lo : x));
      else if (has_lo) U_LOOP(x < lo ? lo : x);
      else if (has_hi) U_LOOP(x > hi ? hi : x);
      else U_LOOP(x);
      break;
    }
    case LT_UNARY_LEAKY_RELU: U_LOOP(x > zero ? x : x * p0); break;
    case LT_UNARY_POW_SCALAR:  /* PyTorch's special exponents */
      if (c->p0 == 2) U_LOOP(x * x);
      else if (c->p0 == 3) U_LOOP(x * x * x);
      else if (c->p0 == 0.5) U_LOOP(sqrt(x));
      else if (c->p0 == -0.5) U_LOOP(one / sqrt(x));
      else if (c->p0 == -1) U_LOOP(one / x);
      else if (c->p0 == -2) U_LOOP(one / (x * x));
      else if (c->p0 == 1) U_LOOP(x);
      else U_LOOP(pow(x, p0));
      break;
    case LT_UNARY_RPOW_SCALAR: U_LOOP(pow(p0, x)); break;
    default: break;
  }
}

/* dx = dy * f'(.) ; g is dy, x the input, y the output */
EW_CLONES static void EW_FN(unary_bw_row)(void *vc, int64_t n, char **p, const int64_t *st) {
  const ew_unary_ctx *c = vc;
  EW_T *o = (EW_T *)p[0];
  const EW_T *dy = (const EW_T *)p[1], *xs = (const EW_T *)p[2], *ys = (const EW_T *)p[3];
  const int64_t so = st[0], sg = st[1], sx = st[2], sy = st[3];
  const EW_CT one = 1, zero = 0, half = 0.5, two = 2;
  const EW_CT p0 = (EW_CT)c->p0;
  switch (c->op) {
    case LT_UNARY_NEG: BW_LOOP(-BG); break;
    case LT_UNARY_ABS: BW_LOOP(BG * (EW_CT)((BX > zero) - (BX < zero))); break;
    case LT_UNARY_EXP: BW_LOOP(BG * BY); break;
    case LT_UNARY_LOG: BW_LOOP(BG / BX); break;
    case LT_UNARY_LOG1P: BW_LOOP(BG / (BX + one)); break;
    case LT_UNARY_EXPM1: BW_LOOP(BG * (BY + one)); break;
    case LT_UNARY_SQRT: BW_LOOP(BG / (two * BY)); break;
    case LT_UNARY_RSQRT: BW_LOOP(-half * BG * BY * BY * BY); break;
    case LT_UNARY_RECIPROCAL: BW_LOOP(-BG * BY * BY); break;
    case LT_UNARY_SQUARE: BW_LOOP(two * BX * BG); break;
    case LT_UNARY_SIN: BW_LOOP(BG * cos(BX)); break;
    case LT_UNARY_COS: BW_LOOP(-BG * sin(BX)); break;
    case LT_UNARY_TANH: BW_LOOP(BG * (one - BY * BY)); break;
    case LT_UNARY_SIGMOID: BW_LOOP(BG * (one - BY) * BY); break;
    case LT_UNARY_RELU: BW_LOOP(BX <= zero ? zero : BG); break;
    case LT_UNARY_GELU:
      BW_LOOP(BG * (half * (one + erf(BX * (EW_CT)EW_SQRT1_2)) +
                   BX * (EW_CT)EW_INV_SQRT_2PI * EW_EXP(-half * BX * BX)));
      break;
    case LT_UNARY_GELU_TANH: {
      const EW_CT beta = (EW_CT)EW_GELU_BETA, kappa = (EW_CT)EW_GELU_KAPPA, three = 3;
      BW_LOOP_S(
        const EW_CT xv = BX;
        const EW_CT th = EW_TANH(beta * (xv + kappa * xv * xv * xv));
        const EW_CT left = half * xv, right = one + th;
        const EW_CT dinner = beta * (one + three * kappa * xv * xv);
        BW_STORE(BG * (half * right + left * (one - th * th) * dinner));
      );
      break;
    }
    case LT_UNARY_SILU: {
      BW_LOOP_S(
        const EW_CT xv = BX;
        const EW_CT s = EW_SIGMOID(xv);
        BW_STORE(BG * s * (one + xv * (one - s)));
      );
      break;
    }
    case LT_UNARY_ERF: BW_LOOP(BG * (EW_CT)EW_2_SQRTPI * EW_EXP(-BX * BX)); break;
    case LT_UNARY_SIGN: case LT_UNARY_FLOOR: case LT_UNARY_CEIL: case LT_UNARY_ROUND:
    case LT_UNARY_TRUNC: case LT_UNARY_LOGICAL_NOT: case LT_UNARY_ISNAN: case LT_UNARY_ISINF:
      BW_LOOP(zero);
      break;
    case LT_UNARY_CLAMP: {  /* gradient passes where min <= x <= max */
      const bool has_lo = !isnan(c->p0), has_hi = !isnan(c->p1);
      const EW_CT lo = (EW_CT)(has_lo ? c->p0 : 0), hi = (EW_CT)(has_hi ? c->p1 : 0);
      BW_LOOP(((!has_lo || BX >= lo) && (!has_hi || BX <= hi)) ? BG : zero);
      break;
    }
    case LT_UNARY_LEAKY_RELU: BW_LOOP(BX > zero ? BG : BG * p0); break;
    case LT_UNARY_POW_SCALAR:
      if (c->p0 == 0) BW_LOOP(zero);
      else if (c->p0 == 2) BW_LOOP(two * BX * BG);
      else BW_LOOP(BG * (p0 * pow(BX, p0 - one)));
      break;
    case LT_UNARY_RPOW_SCALAR: {
      const EW_CT lg = log(p0);
      if (c->p0 == 0) BW_LOOP(BX >= zero ? zero : BG * (BY * lg));
      else BW_LOOP(BG * (BY * lg));
      break;
    }
    default: break;
  }
}

EW_CLONES static void EW_FN(binary_row)(void *vc, int64_t n, char **p, const int64_t *st) {
  ew_binary_ctx *c = vc;
  EW_T *o = (EW_T *)p[0];
  uint8_t *ob = (uint8_t *)p[0];
  const int64_t so = st[0];
  /* mode: 0 both tensors, 1 b constant, 2 a constant (tensor read through pb) */
  const EW_T *pa = (const EW_T *)p[1], *pb;
  int64_t sa = st[1], sb;
  EW_CT ka = 0, kb = 0;
  int mode;
  if (!c->has_b) {
    if (c->reverse) { mode = 2; ka = (EW_CT)c->s; pb = pa; sb = sa; }
    else { mode = 1; kb = (EW_CT)c->s; pb = pa; sb = 0; }
  } else {
    pb = (const EW_T *)p[2];
    sb = st[2];
    if (sb == 0) { mode = 1; kb = EW_LD(pb[0]); }
    else if (sa == 0) { mode = 2; ka = EW_LD(pa[0]); }
    else mode = 0;
  }
  const EW_CT zero = 0;
  switch (c->op) {
    case LT_BINARY_ADD: B_LOOP(a + b); break;
    case LT_BINARY_SUB: B_LOOP(a - b); break;
    case LT_BINARY_MUL: B_LOOP(a * b); break;
    case LT_BINARY_DIV: B_LOOP(a / b); break;
    case LT_BINARY_POW: B_LOOP(pow(a, b)); break;
    case LT_BINARY_MAXIMUM: B_LOOP((isnan(a) || isnan(b)) ? a + b : (a > b ? a : b)); break;
    case LT_BINARY_MINIMUM: B_LOOP((isnan(a) || isnan(b)) ? a + b : (a < b ? a : b)); break;
    case LT_BINARY_FMOD: B_LOOP(fmod(a, b)); break;
    case LT_BINARY_REMAINDER: B_LOOP(EW_PYREM(a, b)); break;
    case LT_BINARY_FLOOR_DIVIDE: B_LOOP(EW_PYFLOORDIV(a, b)); break;
    case LT_BINARY_ATAN2: B_LOOP(atan2(a, b)); break;
    case LT_BINARY_EQ: BB_LOOP(a == b); break;
    case LT_BINARY_NE: BB_LOOP(a != b); break;
    case LT_BINARY_LT: BB_LOOP(a < b); break;
    case LT_BINARY_LE: BB_LOOP(a <= b); break;
    case LT_BINARY_GT: BB_LOOP(a > b); break;
    case LT_BINARY_GE: BB_LOOP(a >= b); break;
    case LT_BINARY_LOGICAL_AND: BB_LOOP(a != zero && b != zero); break;
    case LT_BINARY_LOGICAL_OR: BB_LOOP(a != zero || b != zero); break;
    case LT_BINARY_LOGICAL_XOR: BB_LOOP((a != zero) != (b != zero)); break;
    default: break;
  }
}
