/*
** ops_elementwise.c - front-ends of unary, binary, where and masked_fill ops
** and their in-place forms: dtype promotion (PyTorch's result_type rules),
** broadcasting, dispatch to backend->unary/binary/where and autograd
** (backward formulas written with these same front-ends). It has no
** kernels; in-place writes into views of tensors with history are refused.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops_util.h"

/* ---------------------------------------------------------------- names */

static const char *const unary_names[LT_UNARY_COUNT] = {
  "neg", "abs", "sign", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "reciprocal",
  "square", "sin", "cos", "tanh", "sigmoid", "relu", "gelu", "gelu_tanh", "silu", "erf",
  "floor", "ceil", "round", "trunc", "logical_not", "isnan", "isinf", "clamp", "leaky_relu",
  "pow", "rpow"};
static const char *const unary_nodes[LT_UNARY_COUNT] = {
  "NegBackward", "AbsBackward", "SignBackward", "ExpBackward", "LogBackward", "Log1pBackward",
  "Expm1Backward", "SqrtBackward", "RsqrtBackward", "ReciprocalBackward", "SquareBackward",
  "SinBackward", "CosBackward", "TanhBackward", "SigmoidBackward", "ReluBackward",
  "GeluBackward", "GeluBackward", "SiluBackward", "ErfBackward", "FloorBackward",
  "CeilBackward", "RoundBackward", "TruncBackward", "LogicalNotBackward", "IsnanBackward",
  "IsinfBackward", "ClampBackward", "LeakyReluBackward", "PowBackward", "PowBackward"};
static const char *const binary_names[LT_BINARY_COUNT] = {
  "add", "sub", "mul", "div", "pow", "maximum", "minimum", "fmod", "remainder",
  "floor_divide", "atan2", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
  "logical_xor"};
static const char *const binary_nodes[LT_BINARY_COUNT] = {
  "AddBackward", "SubBackward", "MulBackward", "DivBackward", "PowBackward",
  "MaximumBackward", "MinimumBackward", "FmodBackward", "RemainderBackward",
  "FloorDivideBackward", "Atan2Backward"};

const char *lt_unary_name(lt_unary_op op) {
  return (unsigned)op < LT_UNARY_COUNT ? unary_names[op] : "?";
}
const char *lt_binary_name(lt_binary_op op) {
  return (unsigned)op < LT_BINARY_COUNT ? binary_names[op] : "?";
}

/* ---------------------------------------------------------------- dtype rules */

static int dtype_cat(lt_dtype d) {
  return d == LT_DTYPE_BOOL ? 0 : lt_dtype_is_float(d) ? 2 : 1;
}

/* PyTorch's combine_categories(higher-priority, lower-priority). */
static lt_dtype combine(lt_dtype hi, lt_dtype lo) {
  if (lt_dtype_is_float(hi)) return hi;
  if (hi == LT_DTYPE_BOOL || lt_dtype_is_float(lo)) return lt_promote_types(hi, lo);
  return hi;
}

/* result_type(a, b): dimensioned tensors outrank 0-dim ones. */
static lt_dtype result_type(const lt_tensor *a, const lt_tensor *b) {
  bool za = a->ndim == 0, zb = b->ndim == 0;
  if (za == zb) return lt_promote_types(a->dtype, b->dtype);
  return za ? combine(b->dtype, a->dtype) : combine(a->dtype, b->dtype);
}

static bool is_integral(double s) { return isfinite(s) && s == floor(s); }

/* result_type(a, number): a Lua number is a wrapped scalar. */
static lt_dtype result_type_scalar(lt_dtype dt, double s) {
  return combine(dt, is_integral(s) ? LT_DTYPE_I64 : lt_default_dtype());
}

static bool is_cmp_or_logic(lt_binary_op op) { return op >= LT_BINARY_EQ; }

/* The dtype the kernel computes in for a binary op on common type `ct`,
** or -1 with an error. *op may be remapped (bool arithmetic -> logic). */
static int binary_compute_dtype(const char *name, lt_binary_op *op, lt_dtype ct) {
  if (is_cmp_or_logic(*op)) return ct;
  if ((*op == LT_BINARY_DIV || *op == LT_BINARY_ATAN2) && !lt_dtype_is_float(ct))
    return lt_default_dtype();
  if (ct == LT_DTYPE_BOOL) {
    switch (*op) {
      case LT_BINARY_ADD: case LT_BINARY_MAXIMUM: *op = LT_BINARY_LOGICAL_OR; return ct;
      case LT_BINARY_MUL: case LT_BINARY_MINIMUM: *op = LT_BINARY_LOGICAL_AND; return ct;
      case LT_BINARY_POW: return LT_DTYPE_I64;
      default:
        lt_error(LT_ERR_DTYPE, "%s: not supported for bool tensors", name);
        return -1;
    }
  }
  return ct;
}

static bool binary_differentiable(lt_binary_op op) {
  return op <= LT_BINARY_ATAN2 && op != LT_BINARY_FLOOR_DIVIDE;
}

static lt_status check_can_cast(const char *op, lt_dtype from, lt_dtype to) {
  if (dtype_cat(from) > dtype_cat(to))
    return lt_error(LT_ERR_DTYPE, "%s: result type %s can't be cast to the desired output type %s",
                    op, lt_dtype_name(from), lt_dtype_name(to));
  return LT_OK;
}

/* In-place writes into a view with history are not supported (no
** CopySlices); under no_grad they are plain writes. */
static lt_status check_inplace_view(const char *op, const lt_tensor *a, bool other_grad) {
  if (lt_grad_enabled() && a->is_view && (a->requires_grad || other_grad))
    return lt_error(LT_ERR_AUTOGRAD,
                    "%s: in-place operation on a view of a tensor that requires grad is not "
                    "supported",
                    op);
  return LT_OK;
}

/* A copy of t with no history (for saving values an in-place op overwrites). */
static lt_tensor *plain_copy(lt_tensor *t) {
  lt_tensor *d = lt_detach(t);
  if (!d) return NULL;
  lt_tensor *c = lt_clone(d);
  lt_tensor_release(d);
  return c;
}

/* Saves a history-free alias of t (no reference cycle through grad_fn). */
static void save_alias(lt_node *n, int slot, lt_tensor *t) {
  lt_tensor *d = lt_detach(t);
  if (d) {
    lt_node_save(n, slot, d);
    lt_tensor_release(d);
  }
}

/* ---------------------------------------------------------------- unary */

static bool unary_float_only(lt_unary_op op) {
  switch (op) {
    case LT_UNARY_EXP: case LT_UNARY_LOG: case LT_UNARY_LOG1P: case LT_UNARY_EXPM1:
    case LT_UNARY_SQRT: case LT_UNARY_RSQRT: case LT_UNARY_RECIPROCAL: case LT_UNARY_SIN:
    case LT_UNARY_COS: case LT_UNARY_TANH: case LT_UNARY_SIGMOID: case LT_UNARY_GELU:
    case LT_UNARY_GELU_TANH: case LT_UNARY_SILU: case LT_UNARY_ERF: case LT_UNARY_LEAKY_RELU:
      return true;
    default:
      return false;
  }
}

static bool unary_reads_y(lt_unary_op op) {
  switch (op) {
    case LT_UNARY_EXP: case LT_UNARY_SQRT: case LT_UNARY_RSQRT: case LT_UNARY_TANH:
    case LT_UNARY_SIGMOID: case LT_UNARY_RECIPROCAL: case LT_UNARY_EXPM1:
    case LT_UNARY_RPOW_SCALAR:
      return true;
    default:
      return false;
  }
}

/* RPOW's kernel also reads x (when the base is 0). */
static bool unary_reads_x(lt_unary_op op) {
  return !unary_reads_y(op) || op == LT_UNARY_RPOW_SCALAR;
}

static bool unary_bool_out(lt_unary_op op) {
  return op == LT_UNARY_LOGICAL_NOT || op == LT_UNARY_ISNAN || op == LT_UNARY_ISINF;
}

/* Ops whose derivative is zero almost everywhere (PyTorch still records them). */
static bool unary_zero_grad(lt_unary_op op) {
  return op == LT_UNARY_SIGN || op == LT_UNARY_FLOOR || op == LT_UNARY_CEIL ||
         op == LT_UNARY_ROUND || op == LT_UNARY_TRUNC;
}

/* Compute dtype of a unary op on dt, or -1 with an error. */
static int unary_compute_dtype(lt_unary_op op, lt_dtype dt, const double *p) {
  if (unary_bool_out(op) || lt_dtype_is_float(dt)) return dt;
  if (unary_float_only(op)) return lt_default_dtype();
  switch (op) {
    case LT_UNARY_CLAMP:
      if ((!isnan(p[0]) && !is_integral(p[0])) || (!isnan(p[1]) && !is_integral(p[1])))
        return lt_default_dtype();
      break;
    case LT_UNARY_POW_SCALAR:
      if (!is_integral(p[0]) || p[0] < 0) return lt_default_dtype();
      break;
    case LT_UNARY_RPOW_SCALAR:
      if (!is_integral(p[0])) return lt_default_dtype();
      break;
    default:
      break;
  }
  if (dt == LT_DTYPE_BOOL) {
    if (op == LT_UNARY_POW_SCALAR || op == LT_UNARY_RPOW_SCALAR || op == LT_UNARY_FLOOR ||
        op == LT_UNARY_CEIL || op == LT_UNARY_ROUND || op == LT_UNARY_TRUNC)
      return op <= LT_UNARY_TRUNC ? LT_DTYPE_BOOL : LT_DTYPE_I64;
    lt_error(LT_ERR_DTYPE, "%s: not supported for bool tensors%s", unary_names[op],
             op == LT_UNARY_NEG ? " (use logical_not)" : "");
    return -1;
  }
  return dt;
}

/* Runs the unary kernel out = op(in) (same shapes); integer rounding ops
** are copies. */
static lt_status unary_kernel(const char *name, lt_unary_op op, lt_tensor *out, lt_tensor *in,
                              const double *p) {
  if (lt_numel(out) == 0) return LT_OK;
  const lt_backend *be = lt_backend_of(name, in);
  if (!be) return lt_errcode();
  lt_view ov = lt_view_of(out), iv = lt_view_of(in);
  if (!lt_dtype_is_float(in->dtype)) {
    if (op >= LT_UNARY_FLOOR && op <= LT_UNARY_TRUNC) return be->copy(&ov, &iv);
    if (op == LT_UNARY_ISNAN || op == LT_UNARY_ISINF) return be->fill(&ov, 0.0);
  }
  if (!be->unary) return lt_err_not_impl(name, lt_tensor_device(in));
  return be->unary(op, &ov, &iv, p);
}

/* saved: 0 = x (input), 1 = y (output); d[0], d[1] = params; i[0] = op */
static lt_status unary_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_unary_op op = (lt_unary_op)n->i[0];
  lt_tensor *g = gout[0];
  const lt_meta *m = &n->meta[0];
  if (unary_zero_grad(op)) {
    gin[0] = lt_zeros(m->shape, m->ndim, m->dtype, m->device);
    return gin[0] ? LT_OK : lt_errcode();
  }
  bool ry = unary_reads_y(op), rx = unary_reads_x(op);
  lt_tensor *xs = rx ? lt_node_saved(n, 0) : NULL, *ys = ry ? lt_node_saved(n, 1) : NULL;
  if ((rx && !xs) || (ry && !ys)) return lt_errcode();
  lt_tensor *s = ry ? ys : xs;
  const lt_backend *be = lt_backend_of(unary_nodes[op], g);
  if (!be) return lt_errcode();
  if (!be->unary_backward) return lt_err_not_impl(unary_nodes[op], lt_tensor_device(g));
  lt_tensor *gc = lt_cast_nograd(g, s->dtype);
  if (!gc) return lt_errcode();
  lt_tensor *dx = lt_tensor_alloc(s->shape, s->ndim, s->dtype, lt_tensor_device(s));
  lt_status st = dx ? LT_OK : lt_errcode();
  if (!st && lt_numel(dx) > 0) {
    lt_view dxv = lt_view_of(dx), dyv = lt_view_broadcast(gc, s->shape, s->ndim);
    lt_view none = lt_view_of(s);
    none.data = NULL;
    lt_view xv = xs ? lt_view_of(xs) : none, yv = ys ? lt_view_of(ys) : none;
    st = be->unary_backward(op, &dxv, &dyv, &xv, &yv, n->d);
  }
  lt_tensor_release(gc);
  if (st) {
    lt_tensor_release(dx);
    return st;
  }
  gin[0] = lt_grad_for_input(n, 0, dx);
  return gin[0] ? LT_OK : lt_errcode();
}

static bool unary_differentiable(lt_unary_op op) {
  return !unary_bool_out(op);
}

lt_tensor *lt_unary_p(lt_unary_op op, lt_tensor *a, double p0, double p1) {
  if ((unsigned)op >= LT_UNARY_COUNT) {
    lt_error(LT_ERR_ARG, "unary: unknown op %d", (int)op);
    return NULL;
  }
  const char *name = unary_names[op];
  double p[2] = {p0, p1};
  int cdt = unary_compute_dtype(op, a->dtype, p);
  if (cdt < 0) return NULL;
  lt_tensor *x = lt_cast_nograd(a, (lt_dtype)cdt);
  if (!x) return NULL;
  lt_dtype odt = unary_bool_out(op) ? LT_DTYPE_BOOL : (lt_dtype)cdt;
  lt_tensor *out = lt_tensor_alloc(a->shape, a->ndim, odt, lt_tensor_device(a));
  if (!out || unary_kernel(name, op, out, x, p)) goto fail;
  if (unary_differentiable(op) && lt_dtype_is_float(odt) && lt_any_requires_grad(&a, 1)) {
    lt_node *n = lt_record(unary_nodes[op], unary_backward, &a, 1, out);
    if (!n) goto fail;
    n->i[0] = op;
    n->d[0] = p0;
    n->d[1] = p1;
    if (unary_reads_y(op)) save_alias(n, 1, out);
    if (unary_reads_x(op) && !unary_zero_grad(op)) lt_node_save(n, 0, x);
  }
  lt_tensor_release(x);
  return out;
fail:
  lt_tensor_release(x);
  lt_tensor_release(out);
  return NULL;
}

lt_tensor *lt_unary(lt_unary_op op, lt_tensor *a) { return lt_unary_p(op, a, NAN, NAN); }

lt_status lt_unary_(lt_unary_op op, lt_tensor *a, double p0, double p1) {
  if ((unsigned)op >= LT_UNARY_COUNT) return lt_error(LT_ERR_ARG, "unary_: unknown op %d", (int)op);
  char name[48];
  snprintf(name, sizeof name, "%s_", unary_names[op]);
  double p[2] = {p0, p1};
  int cdt = unary_compute_dtype(op, a->dtype, p);
  if (cdt < 0) return lt_errcode();
  lt_dtype odt = unary_bool_out(op) ? LT_DTYPE_BOOL : (lt_dtype)cdt;
  if (check_can_cast(name, odt, a->dtype)) return lt_errcode();
  bool rec = unary_differentiable(op) && lt_dtype_is_float(a->dtype) &&
             lt_any_requires_grad(&a, 1);
  if (check_inplace_view(name, a, false) || lt_prepare_inplace(name, a)) return lt_errcode();
  lt_node *n = NULL;
  lt_tensor *old = NULL;
  if (rec) {
    n = lt_node_new(unary_nodes[op], unary_backward, &a, 1, 1);
    if (!n) return lt_errcode();
    n->i[0] = op;
    n->d[0] = p0;
    n->d[1] = p1;
    if (unary_reads_x(op) && !unary_zero_grad(op)) {
      old = plain_copy(a);
      if (!old) goto fail;
      lt_node_save(n, 0, old);
    }
  }
  lt_status st;
  if (odt == a->dtype && cdt == (int)a->dtype) {
    st = unary_kernel(name, op, a, a, p);
  } else {  /* e.g. logical_not_ on a float tensor: compute, then cast back */
    lt_tensor *r = lt_tensor_alloc(a->shape, a->ndim, odt, lt_tensor_device(a));
    lt_tensor *x = r ? lt_cast_nograd(a, (lt_dtype)cdt) : NULL;
    st = x ? unary_kernel(name, op, r, x, p) : lt_errcode();
    if (!st) {
      lt_view av = lt_view_of(a), rv = lt_view_of(r);
      const lt_backend *be = lt_backend_of(name, a);
      st = !be ? lt_errcode() : lt_numel(a) ? be->copy(&av, &rv) : LT_OK;
    }
    lt_tensor_release(x);
    lt_tensor_release(r);
  }
  if (st) goto fail;
  if (n) {
    if (unary_reads_y(op)) save_alias(n, 1, a);
    lt_node_set_output(n, a, 0);
    lt_node_release(n);
  }
  lt_tensor_release(old);
  return LT_OK;
fail:
  st = lt_errcode();
  lt_tensor_release(old);
  if (n) lt_node_release(n);
  return st;
}

/* ---------------------------------------------------------------- binary */

/* saved: 0 = a, 1 = b, 2 = out. i[0] = op. */
static lt_status binary_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_binary_op op = (lt_binary_op)n->i[0];
  lt_tensor *g = gout[0];
  bool need_a = lt_node_needs_grad(n, 0), need_b = lt_node_needs_grad(n, 1);
  lt_arena ar = {0};
  lt_tensor *ga = NULL, *gb = NULL, *a = NULL, *b = NULL, *y = NULL;
#define K(expr) lt_keep(&ar, (expr))
#define BIN(o, x, z) ((x) && (z) ? K(lt_binary(o, x, z)) : NULL)
#define BSC(o, x, s) ((x) ? K(lt_binary_scalar(o, x, s, false)) : NULL)
#define UN(o, x) ((x) ? K(lt_unary(o, x)) : NULL)
  bool wa = op == LT_BINARY_MUL ? need_b : op >= LT_BINARY_POW;
  bool wb = op == LT_BINARY_MUL ? need_a : op >= LT_BINARY_DIV;
  if (wa && !(a = lt_node_saved(n, 0))) return lt_errcode();
  if (wb && !(b = lt_node_saved(n, 1))) return lt_errcode();
  if ((op == LT_BINARY_DIV && need_b) || (op == LT_BINARY_POW && need_b))
    if (!(y = lt_node_saved(n, 2))) return lt_errcode();
  switch (op) {
    case LT_BINARY_ADD:
      ga = g; gb = g;
      break;
    case LT_BINARY_SUB:
      ga = g;
      if (need_b) gb = UN(LT_UNARY_NEG, g);
      break;
    case LT_BINARY_MUL:
      if (need_a) ga = BIN(LT_BINARY_MUL, g, b);
      if (need_b) gb = BIN(LT_BINARY_MUL, g, a);
      break;
    case LT_BINARY_DIV:  /* d/da = 1/b, d/db = -a/b^2 = -y/b */
      if (need_a) ga = BIN(LT_BINARY_DIV, g, b);
      if (need_b) gb = UN(LT_UNARY_NEG, BIN(LT_BINARY_DIV, BIN(LT_BINARY_MUL, g, y), b));
      break;
    case LT_BINARY_POW: {  /* d/da = b a^(b-1) (0 where b == 0), d/db = y log a (0 where a <= 0) */
      if (need_a) {
        lt_tensor *t = BIN(LT_BINARY_MUL, BIN(LT_BINARY_POW, a, BSC(LT_BINARY_SUB, b, 1.0)), b);
        t = BIN(LT_BINARY_MUL, g, t);
        lt_tensor *z = BSC(LT_BINARY_EQ, b, 0.0);
        ga = z && t ? K(lt_masked_fill(t, z, 0.0)) : NULL;
      }
      if (need_b) {
        lt_tensor *t = BIN(LT_BINARY_MUL, g, BIN(LT_BINARY_MUL, y, UN(LT_UNARY_LOG, a)));
        lt_tensor *z = BSC(LT_BINARY_LE, a, 0.0);
        gb = z && t ? K(lt_masked_fill(t, z, 0.0)) : NULL;
      }
      break;
    }
    case LT_BINARY_MAXIMUM:
    case LT_BINARY_MINIMUM: {  /* grad to the larger (smaller); ties split half/half */
      lt_tensor *win = BIN(op == LT_BINARY_MAXIMUM ? LT_BINARY_GT : LT_BINARY_LT, a, b);
      lt_tensor *tie = BIN(LT_BINARY_EQ, a, b);
      lt_dtype fd = g->dtype;
      lt_tensor *w = win && tie ? BIN(LT_BINARY_ADD, K(lt_cast_nograd(win, fd)),
                                      BSC(LT_BINARY_MUL, K(lt_cast_nograd(tie, fd)), 0.5))
                                : NULL;
      ga = BIN(LT_BINARY_MUL, g, w);
      if (need_b) gb = BIN(LT_BINARY_SUB, g, ga);
      break;
    }
    case LT_BINARY_ATAN2: {  /* d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2) */
      lt_tensor *den = BIN(LT_BINARY_ADD, BIN(LT_BINARY_MUL, a, a), BIN(LT_BINARY_MUL, b, b));
      lt_tensor *gd = BIN(LT_BINARY_DIV, g, den);
      if (need_a) ga = BIN(LT_BINARY_MUL, gd, b);
      if (need_b) gb = UN(LT_UNARY_NEG, BIN(LT_BINARY_MUL, gd, a));
      break;
    }
    case LT_BINARY_FMOD:
    case LT_BINARY_REMAINDER: {  /* d/da = 1, d/db = -q (trunc or floor of a/b) */
      ga = g;
      if (need_b) {
        lt_tensor *q = UN(op == LT_BINARY_FMOD ? LT_UNARY_TRUNC : LT_UNARY_FLOOR,
                          BIN(LT_BINARY_DIV, a, b));
        gb = UN(LT_UNARY_NEG, BIN(LT_BINARY_MUL, g, q));
      }
      break;
    }
    default:
      lt_arena_done(&ar);
      return lt_error(LT_ERR_AUTOGRAD, "%s: not differentiable", binary_names[op]);
  }
#undef K
#undef BIN
#undef BSC
#undef UN
  lt_status st = LT_OK;
  if ((need_a && !ga) || (need_b && !gb) || ar.failed) st = lt_errcode() ? lt_errcode() : LT_ERR_AUTOGRAD;
  if (!st && need_a && !(gin[0] = lt_grad_for_input(n, 0, lt_ref(ga)))) st = lt_errcode();
  if (!st && need_b && !(gin[1] = lt_grad_for_input(n, 1, lt_ref(gb)))) st = lt_errcode();
  lt_arena_done(&ar);
  return st;
}

static bool binary_saves_a(lt_binary_op op) { return op >= LT_BINARY_MUL && op != LT_BINARY_DIV; }
static bool binary_saves_b(lt_binary_op op) { return op >= LT_BINARY_MUL; }
static bool binary_saves_y(lt_binary_op op) { return op == LT_BINARY_DIV || op == LT_BINARY_POW; }

static lt_status binary_kernel(const char *name, lt_binary_op op, lt_tensor *out, lt_tensor *a,
                               lt_tensor *b, double s, bool reverse) {
  if (lt_numel(out) == 0) return LT_OK;
  const lt_backend *be = lt_backend_of(name, out);
  if (!be) return lt_errcode();
  if (!be->binary) return lt_err_not_impl(name, lt_tensor_device(out));
  lt_view ov = lt_view_of(out), av = lt_view_broadcast(a, out->shape, out->ndim);
  if (!b) return be->binary(op, &ov, &av, NULL, s, reverse);
  lt_view bv = lt_view_broadcast(b, out->shape, out->ndim);
  return be->binary(op, &ov, &av, &bv, s, reverse);
}

lt_tensor *lt_binary(lt_binary_op op, lt_tensor *a, lt_tensor *b) {
  if ((unsigned)op >= LT_BINARY_COUNT) {
    lt_error(LT_ERR_ARG, "binary: unknown op %d", (int)op);
    return NULL;
  }
  const char *name = binary_names[op];
  if (lt_check_same_device(name, a, "self", b, "other")) return NULL;
  int64_t shape[LT_MAX_DIMS];
  int nd;
  if (lt_broadcast_shape(a->shape, a->ndim, b->shape, b->ndim, shape, &nd)) {
    lt_error(LT_ERR_SHAPE, "%s: %s", name, lt_errmsg());
    return NULL;
  }
  lt_binary_op kop = op;
  int cdt = binary_compute_dtype(name, &kop, result_type(a, b));
  if (cdt < 0) return NULL;
  lt_dtype odt = is_cmp_or_logic(op) ? LT_DTYPE_BOOL : (lt_dtype)cdt;
  lt_tensor *ac = lt_cast_nograd(a, (lt_dtype)cdt);
  lt_tensor *bc = ac ? lt_cast_nograd(b, (lt_dtype)cdt) : NULL;
  lt_tensor *out = bc ? lt_tensor_alloc(shape, nd, odt, lt_tensor_device(a)) : NULL;
  if (!out || binary_kernel(name, kop, out, ac, bc, 0, false)) goto fail;
  lt_tensor *ins[2] = {a, b};
  if (binary_differentiable(op) && lt_dtype_is_float(odt) && lt_any_requires_grad(ins, 2)) {
    lt_node *n = lt_record(binary_nodes[op], binary_backward, ins, 2, out);
    if (!n) goto fail;
    n->i[0] = op;
    if (binary_saves_a(op)) lt_node_save(n, 0, ac);
    if (binary_saves_b(op)) lt_node_save(n, 1, bc);
    if (binary_saves_y(op)) save_alias(n, 2, out);
  }
  lt_tensor_release(ac);
  lt_tensor_release(bc);
  return out;
fail:
  lt_tensor_release(ac);
  lt_tensor_release(bc);
  lt_tensor_release(out);
  return NULL;
}

lt_status lt_binary_(lt_binary_op op, lt_tensor *a, lt_tensor *b) {
  if ((unsigned)op >= LT_BINARY_COUNT) return lt_error(LT_ERR_ARG, "binary_: unknown op %d", (int)op);
  char name[48], b1[128], b2[128];
  snprintf(name, sizeof name, "%s_", binary_names[op]);
  if (lt_check_same_device(name, a, "self", b, "other")) return lt_errcode();
  int64_t shape[LT_MAX_DIMS];
  int nd;
  if (lt_broadcast_shape(a->shape, a->ndim, b->shape, b->ndim, shape, &nd))
    return lt_error(LT_ERR_SHAPE, "%s: %s", name, lt_errmsg());
  if (!lt_shape_eq(shape, nd, a->shape, a->ndim))
    return lt_error(LT_ERR_SHAPE, "%s: output with shape %s doesn't match the broadcast shape %s",
                    name, lt_shape_str(a, b1), lt_shape_str_raw(shape, nd, b2));
  lt_binary_op kop = op;
  int cdt = binary_compute_dtype(name, &kop, result_type(a, b));
  if (cdt < 0) return lt_errcode();
  lt_dtype odt = is_cmp_or_logic(op) ? LT_DTYPE_BOOL : (lt_dtype)cdt;
  if (check_can_cast(name, odt, a->dtype)) return lt_errcode();
  lt_tensor *ins[2] = {a, b};
  bool rec = binary_differentiable(op) && lt_dtype_is_float(a->dtype) &&
             lt_any_requires_grad(ins, 2);
  if (check_inplace_view(name, a, lt_any_requires_grad(&b, 1)) || lt_prepare_inplace(name, a))
    return lt_errcode();
  lt_node *n = NULL;
  lt_tensor *bc = lt_cast_nograd(b, (lt_dtype)cdt), *old = NULL, *bs = NULL, *r = NULL;
  if (!bc) return lt_errcode();
  if (rec) {
    n = lt_node_new(binary_nodes[op], binary_backward, ins, 2, 1);
    if (!n) goto fail;
    n->i[0] = op;
    if (binary_saves_a(op)) {
      if (!(old = plain_copy(a))) goto fail;
      lt_node_save(n, 0, old);
    }
    if (binary_saves_b(op)) {
      bs = bc->storage == a->storage ? plain_copy(bc) : lt_ref(bc);
      if (!bs) goto fail;
      lt_node_save(n, 1, bs);
    }
  }
  lt_status st;
  if (odt == a->dtype && cdt == (int)a->dtype) {
    st = binary_kernel(name, kop, a, a, bc, 0, false);
  } else {
    lt_tensor *ac = lt_cast_nograd(a, (lt_dtype)cdt);
    r = ac ? lt_tensor_alloc(a->shape, a->ndim, odt, lt_tensor_device(a)) : NULL;
    st = r ? binary_kernel(name, kop, r, ac, bc, 0, false) : lt_errcode();
    lt_tensor_release(ac);
    if (!st && lt_numel(a)) {
      const lt_backend *be = lt_backend_of(name, a);
      lt_view av = lt_view_of(a), rv = lt_view_of(r);
      st = be ? be->copy(&av, &rv) : lt_errcode();
    }
  }
  if (st) goto fail;
  if (n) {
    if (binary_saves_y(op)) save_alias(n, 2, a);
    lt_node_set_output(n, a, 0);
    lt_node_release(n);
  }
  lt_release_all((lt_tensor *[]){bc, old, bs, r}, 4);
  return LT_OK;
fail:
  st = lt_errcode();
  if (n) lt_node_release(n);
  lt_release_all((lt_tensor *[]){bc, old, bs, r}, 4);
  return st;
}

/* ---------------------------------------------------------------- binary with a number */

/* saved: 0 = a, 1 = out. d[0] = s, i[0] = op, i[1] = reverse */
static lt_status scalar_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_binary_op op = (lt_binary_op)n->i[0];
  bool rev = n->i[1] != 0;
  double s = n->d[0];
  lt_tensor *g = gout[0], *r = NULL;
  switch (op) {
    case LT_BINARY_ADD: r = lt_ref(g); break;
    case LT_BINARY_SUB: r = rev ? lt_unary(LT_UNARY_NEG, g) : lt_ref(g); break;
    case LT_BINARY_MUL: r = lt_binary_scalar(LT_BINARY_MUL, g, s, false); break;
    case LT_BINARY_DIV:
      if (!rev) {
        r = lt_binary_scalar(LT_BINARY_DIV, g, s, false);
      } else {  /* y = s / a: dy/da = -y / a */
        lt_tensor *a = lt_node_saved(n, 0), *y = a ? lt_node_saved(n, 1) : NULL;
        if (!y) return lt_errcode();
        lt_tensor *t = lt_binary(LT_BINARY_MUL, g, y);
        lt_tensor *u = t ? lt_binary(LT_BINARY_DIV, t, a) : NULL;
        r = u ? lt_unary(LT_UNARY_NEG, u) : NULL;
        lt_tensor_release(t);
        lt_tensor_release(u);
      }
      break;
    default:
      return lt_error(LT_ERR_AUTOGRAD, "%s: no scalar backward", binary_names[op]);
  }
  if (!r) return lt_errcode();
  gin[0] = lt_grad_for_input(n, 0, r);
  return gin[0] ? LT_OK : lt_errcode();
}

static bool scalar_simple(lt_binary_op op) { return op <= LT_BINARY_DIV; }

lt_tensor *lt_binary_scalar(lt_binary_op op, lt_tensor *a, double s, bool reverse) {
  if ((unsigned)op >= LT_BINARY_COUNT) {
    lt_error(LT_ERR_ARG, "binary: unknown op %d", (int)op);
    return NULL;
  }
  const char *name = binary_names[op];
  lt_binary_op kop = op;
  int cdt = binary_compute_dtype(name, &kop, result_type_scalar(a->dtype, s));
  if (cdt < 0) return NULL;
  lt_dtype odt = is_cmp_or_logic(op) ? LT_DTYPE_BOOL : (lt_dtype)cdt;
  bool rec = binary_differentiable(op) && lt_dtype_is_float(odt) && lt_any_requires_grad(&a, 1);
  if (rec && op == LT_BINARY_POW)
    return reverse ? lt_unary_p(LT_UNARY_RPOW_SCALAR, a, s, NAN)
                   : lt_unary_p(LT_UNARY_POW_SCALAR, a, s, NAN);
  if (rec && !scalar_simple(op)) {  /* rarer ops: through the tensor-tensor path */
    lt_tensor *st = lt_scalar(s, (lt_dtype)cdt, lt_tensor_device(a));
    if (!st) return NULL;
    lt_tensor *out = reverse ? lt_binary(op, st, a) : lt_binary(op, a, st);
    lt_tensor_release(st);
    return out;
  }
  lt_tensor *ac = lt_cast_nograd(a, (lt_dtype)cdt);
  lt_tensor *out = ac ? lt_tensor_alloc(a->shape, a->ndim, odt, lt_tensor_device(a)) : NULL;
  if (!out || binary_kernel(name, kop, out, ac, NULL, s, reverse)) goto fail;
  if (rec) {
    lt_node *n = lt_record(binary_nodes[op], scalar_backward, &a, 1, out);
    if (!n) goto fail;
    n->i[0] = op;
    n->i[1] = reverse;
    n->d[0] = s;
    if (op == LT_BINARY_DIV && reverse) {
      lt_node_save(n, 0, ac);
      save_alias(n, 1, out);
    }
  }
  lt_tensor_release(ac);
  return out;
fail:
  lt_tensor_release(ac);
  lt_tensor_release(out);
  return NULL;
}

lt_status lt_binary_scalar_(lt_binary_op op, lt_tensor *a, double s) {
  if ((unsigned)op >= LT_BINARY_COUNT) return lt_error(LT_ERR_ARG, "binary_: unknown op %d", (int)op);
  char name[48];
  snprintf(name, sizeof name, "%s_", binary_names[op]);
  lt_binary_op kop = op;
  int cdt = binary_compute_dtype(name, &kop, result_type_scalar(a->dtype, s));
  if (cdt < 0) return lt_errcode();
  lt_dtype odt = is_cmp_or_logic(op) ? LT_DTYPE_BOOL : (lt_dtype)cdt;
  if (check_can_cast(name, odt, a->dtype)) return lt_errcode();
  bool rec = binary_differentiable(op) && lt_dtype_is_float(a->dtype) &&
             lt_any_requires_grad(&a, 1);
  if (rec && op == LT_BINARY_POW) return lt_unary_(LT_UNARY_POW_SCALAR, a, s, NAN);
  if (rec && !scalar_simple(op)) {
    lt_tensor *st = lt_scalar(s, a->dtype, lt_tensor_device(a));
    if (!st) return lt_errcode();
    lt_status r = lt_binary_(op, a, st);
    lt_tensor_release(st);
    return r;
  }
  if (check_inplace_view(name, a, false) || lt_prepare_inplace(name, a)) return lt_errcode();
  lt_node *n = NULL;
  if (rec) {
    n = lt_node_new(binary_nodes[op], scalar_backward, &a, 1, 1);
    if (!n) return lt_errcode();
    n->i[0] = op;
    n->i[1] = 0;
    n->d[0] = s;
  }
  lt_status st;
  if (odt == a->dtype && cdt == (int)a->dtype) {
    st = binary_kernel(name, kop, a, a, NULL, s, false);
  } else {
    lt_tensor *ac = lt_cast_nograd(a, (lt_dtype)cdt);
    lt_tensor *r = ac ? lt_tensor_alloc(a->shape, a->ndim, odt, lt_tensor_device(a)) : NULL;
    st = r ? binary_kernel(name, kop, r, ac, NULL, s, false) : lt_errcode();
    if (!st && lt_numel(a)) {
      const lt_backend *be = lt_backend_of(name, a);
      lt_view av = lt_view_of(a), rv = lt_view_of(r);
      st = be ? be->copy(&av, &rv) : lt_errcode();
    }
    lt_tensor_release(ac);
    lt_tensor_release(r);
  }
  if (st) {
    if (n) lt_node_release(n);
    return st;
  }
  if (n) {
    lt_node_set_output(n, a, 0);
    lt_node_release(n);
  }
  return LT_OK;
}

lt_status lt_add_scaled_(lt_tensor *a, lt_tensor *b, double alpha) {
  lt_tensor *t = lt_binary_scalar(LT_BINARY_MUL, b, alpha, false);
  if (!t) return lt_errcode();
  lt_status st = lt_binary_(LT_BINARY_ADD, a, t);
  lt_tensor_release(t);
  return st;
}

/* ---------------------------------------------------------------- where / masked_fill */

/* cond ? g : 0 (invert: cond ? 0 : g), shaped broadcast(cond, g), g's dtype. */
static lt_tensor *keep_where(lt_tensor *cond, lt_tensor *g, bool invert) {
  lt_tensor *c = invert ? lt_unary(LT_UNARY_LOGICAL_NOT, cond) : lt_ref(cond);
  if (!c) return NULL;
  int64_t shape[LT_MAX_DIMS];
  int nd;
  lt_tensor *out = NULL;
  if (lt_broadcast_shape(c->shape, c->ndim, g->shape, g->ndim, shape, &nd)) goto done;
  out = lt_tensor_alloc(shape, nd, g->dtype, lt_tensor_device(g));
  if (out && lt_numel(out)) {
    const lt_backend *be = lt_backend_of("where", g);
    lt_view ov = lt_view_of(out), cv = lt_view_broadcast(c, shape, nd),
            gv = lt_view_broadcast(g, shape, nd);
    lt_status st = !be ? lt_errcode() : !be->where ? lt_err_not_impl("where", lt_tensor_device(g))
                                                    : be->where(&ov, &cv, &gv, NULL, 0.0);
    if (st) {
      lt_tensor_release(out);
      out = NULL;
    }
  }
done:
  lt_tensor_release(c);
  return out;
}

/* saved: 0 = cond (bool). Inputs: a, b. */
static lt_status where_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_tensor *cond = lt_node_saved(n, 0);
  if (!cond) return lt_errcode();
  for (int i = 0; i < 2; i++) {
    if (!lt_node_needs_grad(n, i)) continue;
    lt_tensor *g = keep_where(cond, gout[0], i == 1);
    if (!g || !(gin[i] = lt_grad_for_input(n, i, g))) return lt_errcode();
  }
  return LT_OK;
}

static lt_status check_bool(const char *op, const lt_tensor *t, const char *what) {
  if (t->dtype != LT_DTYPE_BOOL)
    return lt_error(LT_ERR_DTYPE, "%s: expected %s to be a bool tensor, got %s", op, what,
                    lt_dtype_name(t->dtype));
  return LT_OK;
}

lt_tensor *lt_where(lt_tensor *cond, lt_tensor *a, lt_tensor *b) {
  if (check_bool("where", cond, "condition") ||
      lt_check_same_device("where", cond, "condition", a, "self") ||
      lt_check_same_device("where", a, "self", b, "other"))
    return NULL;
  int64_t s1[LT_MAX_DIMS], shape[LT_MAX_DIMS];
  int n1, nd;
  if (lt_broadcast_shape(cond->shape, cond->ndim, a->shape, a->ndim, s1, &n1) ||
      lt_broadcast_shape(s1, n1, b->shape, b->ndim, shape, &nd)) {
    lt_error(LT_ERR_SHAPE, "where: %s", lt_errmsg());
    return NULL;
  }
  lt_dtype dt = result_type(a, b);
  lt_tensor *ac = lt_cast_nograd(a, dt), *bc = ac ? lt_cast_nograd(b, dt) : NULL;
  lt_tensor *out = bc ? lt_tensor_alloc(shape, nd, dt, lt_tensor_device(a)) : NULL;
  if (!out) goto fail;
  if (lt_numel(out)) {
    const lt_backend *be = lt_backend_of("where", a);
    if (!be) goto fail;
    if (!be->where) {
      lt_err_not_impl("where", lt_tensor_device(a));
      goto fail;
    }
    lt_view ov = lt_view_of(out), cv = lt_view_broadcast(cond, shape, nd),
            av = lt_view_broadcast(ac, shape, nd), bv = lt_view_broadcast(bc, shape, nd);
    if (be->where(&ov, &cv, &av, &bv, 0.0)) goto fail;
  }
  lt_tensor *ins[2] = {a, b};
  if (lt_dtype_is_float(dt) && lt_any_requires_grad(ins, 2)) {
    lt_node *n = lt_record("WhereBackward", where_backward, ins, 2, out);
    if (!n) goto fail;
    lt_node_save(n, 0, cond);
  }
  lt_tensor_release(ac);
  lt_tensor_release(bc);
  return out;
fail:
  lt_release_all((lt_tensor *[]){ac, bc, out}, 3);
  return NULL;
}

/* saved: 0 = mask. */
static lt_status masked_fill_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  lt_tensor *mask = lt_node_saved(n, 0);
  if (!mask) return lt_errcode();
  lt_tensor *g = keep_where(mask, gout[0], true);
  if (!g || !(gin[0] = lt_grad_for_input(n, 0, g))) return lt_errcode();
  return LT_OK;
}

/* out = mask ? value : a (out may be a itself). */
static lt_status masked_fill_kernel(const char *op, lt_tensor *out, lt_tensor *a, lt_tensor *mask,
                                    double value) {
  if (lt_numel(out) == 0) return LT_OK;
  const lt_backend *be = lt_backend_of(op, a);
  if (!be) return lt_errcode();
  if (!be->where) return lt_err_not_impl(op, lt_tensor_device(a));
  lt_tensor *nm = lt_unary(LT_UNARY_LOGICAL_NOT, mask);
  if (!nm) return lt_errcode();
  lt_view ov = lt_view_of(out), cv = lt_view_broadcast(nm, out->shape, out->ndim),
          av = lt_view_broadcast(a, out->shape, out->ndim);
  lt_status st = be->where(&ov, &cv, &av, NULL, value);
  lt_tensor_release(nm);
  return st;
}

static lt_status check_mask(const char *op, lt_tensor *a, lt_tensor *mask) {
  if (check_bool(op, mask, "mask") || lt_check_same_device(op, a, "self", mask, "mask"))
    return lt_errcode();
  int64_t shape[LT_MAX_DIMS];
  int nd;
  char b1[128], b2[128];
  if (lt_broadcast_shape(a->shape, a->ndim, mask->shape, mask->ndim, shape, &nd) ||
      !lt_shape_eq(shape, nd, a->shape, a->ndim))
    return lt_error(LT_ERR_SHAPE, "%s: mask of shape %s cannot be broadcast to self's shape %s",
                    op, lt_shape_str(mask, b1), lt_shape_str(a, b2));
  return LT_OK;
}

lt_tensor *lt_masked_fill(lt_tensor *a, lt_tensor *mask, double value) {
  if (check_mask("masked_fill", a, mask)) return NULL;
  lt_tensor *out = lt_tensor_alloc(a->shape, a->ndim, a->dtype, lt_tensor_device(a));
  if (!out || masked_fill_kernel("masked_fill", out, a, mask, value)) goto fail;
  if (lt_dtype_is_float(a->dtype) && lt_any_requires_grad(&a, 1)) {
    lt_node *n = lt_record("MaskedFillBackward", masked_fill_backward, &a, 1, out);
    if (!n) goto fail;
    lt_node_save(n, 0, mask);
  }
  return out;
fail:
  lt_tensor_release(out);
  return NULL;
}

lt_status lt_masked_fill_(lt_tensor *a, lt_tensor *mask, double value) {
  if (check_mask("masked_fill_", a, mask)) return lt_errcode();
  bool rec = lt_dtype_is_float(a->dtype) && lt_any_requires_grad(&a, 1);
  if (check_inplace_view("masked_fill_", a, false) || lt_prepare_inplace("masked_fill_", a))
    return lt_errcode();
  lt_node *n = NULL;
  if (rec) {
    n = lt_node_new("MaskedFillBackward", masked_fill_backward, &a, 1, 1);
    if (!n) return lt_errcode();
    lt_node_save(n, 0, mask);
  }
  lt_status st = masked_fill_kernel("masked_fill_", a, a, mask, value);
  if (n) {
    if (!st) lt_node_set_output(n, a, 0);
    lt_node_release(n);
  }
  return st;
}
