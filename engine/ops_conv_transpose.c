/*
** ops_conv_transpose.c - conv_transpose2d (the adjoint of conv2d) on the
** backend's gemm/im2col/col2im: forward col = W^T @ x per group, y =
** col2im(col) + b; backward dx = W @ im2col(dy), dW += x @ im2col(dy)^T,
** db = sum(dy). Chunked over images like conv2d. Not here: 1-D/3-D forms
** (nn.functional lowers 1-D onto this op), output_size resolution (Lua).
*/
#include <stddef.h>
#include <string.h>

#include "autocast.h"
#include "ops_util.h"

/* Geometry packed in a node's i[]: the "conv view" of the op is a conv2d
** from y (N, O, OH, OW) to x (N, C, H, W) with the same weight. */
typedef struct {
  int64_t N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, groups, OH, OW;
} ct_shape;

static void *dptr(const lt_tensor *t) { return lt_tensor_data(t); }

static char *cptr(const lt_tensor *t, int64_t elems) {
  return (char *)lt_tensor_data(t) + (size_t)elems * lt_dtype_size(t->dtype);
}

/* im2col/col2im geometry of `n` images: input y-sized, output x-sized. */
static lt_conv_geom ct_geom(const ct_shape *s, int64_t n) {
  lt_conv_geom g = {n, s->O, s->OH, s->OW, s->kh, s->kw, s->sh, s->sw,
                    s->ph, s->pw, s->dh, s->dw, s->H, s->W};
  return g;
}

/* 1x1 kernel, stride 1, no padding, same size: col is y itself. */
static bool ct_direct(const ct_shape *s) {
  return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->ph == 0 && s->pw == 0 &&
         s->OH == s->H && s->OW == s->W;
}

/* Images per col chunk: keeps the col buffer near 16M elements. */
static int64_t ct_chunk(const ct_shape *s) {
  int64_t per = s->O * s->kh * s->kw * s->H * s->W;
  int64_t nb = per > 0 ? ((int64_t)1 << 24) / per : s->N;
  if (nb < 1) nb = 1;
  if (nb > s->N) nb = s->N;
  return nb;
}

static lt_tensor *grad_contig(lt_tensor *g, lt_dtype dt) {
  lt_tensor *c = lt_cast_nograd(g, dt);
  if (!c) return NULL;
  lt_tensor *r = lt_contiguous(c);
  lt_tensor_release(c);
  return r;
}

/* y (N, O, OH, OW) = col2im(W^T @ x) + b; x, w contiguous. */
static lt_status ct_forward(const lt_backend *be, lt_tensor *y, lt_tensor *x, lt_tensor *w,
                            lt_tensor *b, const ct_shape *s) {
  lt_dtype dt = x->dtype;
  int64_t G = s->groups, Cg = s->C / G, Og = s->O / G, kk = s->kh * s->kw, K = Og * kk;
  int64_t L = s->H * s->W, CKL = s->O * kk * L, OHW = s->OH * s->OW;
  bool direct = ct_direct(s);
  int64_t nb = ct_chunk(s);
  lt_tensor *col = NULL;
  if (!direct) {
    int64_t cs[3] = {nb, s->O * kk, L};
    col = lt_tensor_alloc(cs, 3, dt, lt_tensor_device(x));
    if (!col) return lt_errcode();
  }
  lt_status st = LT_OK;
  for (int64_t n0 = 0; n0 < s->N && !st; n0 += nb) {
    int64_t cnt = s->N - n0 < nb ? s->N - n0 : nb;
    char *dst = direct ? cptr(y, n0 * s->O * OHW) : dptr(col);
    /* per group, batched over images: col_g (K, L) = W_g^T (K, Cg) @ x_g (Cg, L) */
    for (int64_t gi = 0; gi < G && !st; gi++)
      st = be->gemm(dt, true, false, K, L, Cg, 1.0, cptr(w, gi * Cg * K), K, 0,
                    cptr(x, (n0 * s->C + gi * Cg) * L), L, s->C * L, 0.0,
                    dst + (size_t)(gi * K * L) * lt_dtype_size(dt), L, CKL, cnt);
    if (!st && !direct) {
      lt_conv_geom g = ct_geom(s, cnt);
      st = be->col2im(cptr(y, n0 * s->O * OHW), dptr(col), dt, &g);
    }
    if (!st) st = lt_check_interrupt();
  }
  lt_tensor_release(col);
  if (!st && b) {  /* y += b broadcast over (N, OH, OW) */
    lt_view yv = lt_view_of(y), bv = lt_view_of(y);
    bv.data = dptr(b);
    bv.dtype = b->dtype;
    bv.stride[0] = bv.stride[2] = bv.stride[3] = 0;
    bv.stride[1] = b->stride[0];
    st = be->binary(LT_BINARY_ADD, &yv, &yv, &bv, 0, false);
  }
  return st;
}

/* saved: x, w (contiguous); i = ct_shape. */
static lt_status conv_transpose2d_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  ct_shape s;
  memcpy(&s, n->i, sizeof s);
  lt_tensor *x = lt_node_saved(n, 0), *w = lt_node_saved(n, 1);
  if (!x || !w) return lt_errcode();
  const char *op = "conv_transpose2d_backward";
  const lt_backend *be = lt_backend_of(op, x);
  if (!be) return lt_errcode();
  if (!be->gemm || !be->im2col || !be->fill) return lt_err_not_impl(op, lt_tensor_device(x));
  lt_dtype dt = x->dtype;
  size_t sz = lt_dtype_size(dt);
  bool nx = lt_node_needs_grad(n, 0), nw = lt_node_needs_grad(n, 1);
  bool nb_ = n->n_inputs > 2 && lt_node_needs_grad(n, 2);
  lt_tensor *dy = grad_contig(gout[0], dt);
  if (!dy) return lt_errcode();
  lt_tensor *dx = NULL, *dw = NULL, *db = NULL, *col = NULL;
  lt_status st = LT_OK;
  if (nb_) {
    int dims[3] = {0, 2, 3};
    db = lt_reduce(LT_REDUCE_SUM, dy, dims, 3, false, 0, NULL, 0);
    if (!db) st = lt_errcode();
  }
  int64_t G = s.groups, Cg = s.C / G, Og = s.O / G, kk = s.kh * s.kw, K = Og * kk;
  int64_t L = s.H * s.W, CKL = s.O * kk * L, OHW = s.OH * s.OW, CL = s.C * L;
  bool direct = ct_direct(&s);
  int64_t nbat = ct_chunk(&s);
  if (!st && nw) {
    dw = lt_tensor_alloc(w->shape, 4, dt, lt_tensor_device(w));
    if (!dw) st = lt_errcode();
    else {
      lt_view v = lt_view_of(dw);
      st = be->fill(&v, 0);
    }
  }
  if (!st && nx) {
    dx = lt_tensor_alloc(x->shape, 4, dt, lt_tensor_device(x));
    if (!dx) st = lt_errcode();
  }
  if (!st && !direct && (nx || nw)) {
    int64_t cs[3] = {nbat, s.O * kk, L};
    col = lt_tensor_alloc(cs, 3, dt, lt_tensor_device(x));
    if (!col) st = lt_errcode();
  }
  for (int64_t n0 = 0; n0 < s.N && !st && (nx || nw); n0 += nbat) {
    int64_t cnt = s.N - n0 < nbat ? s.N - n0 : nbat;
    const char *src = cptr(dy, n0 * s.O * OHW);
    if (!direct) {
      lt_conv_geom g = ct_geom(&s, cnt);
      if ((st = be->im2col(dptr(col), src, dt, &g))) break;
      src = dptr(col);
    }
    if (nx)  /* per group, batched over images: dx_g (Cg, L) = W_g (Cg, K) @ col_g (K, L) */
      for (int64_t gi = 0; gi < G && !st; gi++)
        st = be->gemm(dt, false, false, Cg, L, K, 1.0, cptr(w, gi * Cg * K), K, 0,
                      src + (size_t)(gi * K * L) * sz, L, CKL, 0.0,
                      cptr(dx, (n0 * s.C + gi * Cg) * L), L, CL, cnt);
    if (nw)  /* per image, batched over groups: dW_g (Cg, K) += x_g (Cg, L) @ col_g^T (L, K) */
      for (int64_t i = 0; i < cnt && !st; i++)
        st = be->gemm(dt, false, true, Cg, K, L, 1.0, cptr(x, (n0 + i) * CL), L, Cg * L,
                      src + (size_t)(i * CKL) * sz, L, K * L, 1.0, dptr(dw), K, Cg * K, G);
    if (!st) st = lt_check_interrupt();
  }
  lt_tensor_release(col);
  lt_tensor_release(dy);
  if (st) {
    lt_tensor_release(dx);
    lt_tensor_release(dw);
    lt_tensor_release(db);
    return st;
  }
  gin[0] = dx;
  gin[1] = dw;
  if (n->n_inputs > 2) gin[2] = db;
  else lt_tensor_release(db);
  return LT_OK;
}

/* Checks arguments and fills the geometry; LT_OK or an error naming them. */
static lt_status ct_setup(const char *op, lt_tensor *x, lt_tensor *w, lt_tensor *b,
                          const lt_conv_transpose2d_opts *o, ct_shape *out) {
  char sa[128], sb[128];
  if (lt_check_float(op, x, "input") || lt_check_same_device(op, x, "input", w, "weight"))
    return lt_errcode();
  if (w->dtype != x->dtype)
    return lt_error(LT_ERR_DTYPE, "%s: input type (%s) and weight type (%s) should be the same",
                    op, lt_dtype_name(x->dtype), lt_dtype_name(w->dtype));
  if (w->ndim != 4)
    return lt_error(LT_ERR_SHAPE,
                    "%s: expected 4-dimensional weight (C_in, C_out/groups, kh, kw), got %s", op,
                    lt_shape_str(w, sa));
  for (int k = 0; k < 2; k++) {
    if (o->stride[k] <= 0) return lt_error(LT_ERR_ARG, "%s: non-positive stride is not supported", op);
    if (o->padding[k] < 0) return lt_error(LT_ERR_ARG, "%s: negative padding is not supported", op);
    if (o->dilation[k] <= 0)
      return lt_error(LT_ERR_ARG, "%s: dilation should be greater than zero", op);
    if (o->output_padding[k] < 0)
      return lt_error(LT_ERR_ARG, "%s: negative output_padding is not supported", op);
  }
  if (o->groups <= 0) return lt_error(LT_ERR_ARG, "%s: non-positive groups is not supported", op);
  for (int k = 0; k < 2; k++)
    if (o->output_padding[k] >= o->stride[k] && o->output_padding[k] >= o->dilation[k])
      return lt_error(LT_ERR_ARG,
                      "%s: output padding must be smaller than either stride or dilation, but "
                      "got output_padding (%d, %d), stride (%d, %d), dilation (%d, %d)",
                      op, o->output_padding[0], o->output_padding[1], o->stride[0],
                      o->stride[1], o->dilation[0], o->dilation[1]);
  ct_shape s = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[1] * o->groups,
                w->shape[2], w->shape[3], o->stride[0], o->stride[1], o->padding[0],
                o->padding[1], o->dilation[0], o->dilation[1], o->groups, 0, 0};
  if (w->shape[0] % o->groups != 0)
    return lt_error(LT_ERR_SHAPE,
                    "%s: given groups=%d, expected weight to be divisible by %d at dimension 0, "
                    "but got weight of size %s instead",
                    op, o->groups, o->groups, lt_shape_str(w, sa));
  if (w->shape[0] != s.C)
    return lt_error(LT_ERR_SHAPE,
                    "%s: given transposed=1, weight of size %s, expected input%s to have %lld "
                    "channels, but got %lld channels instead",
                    op, lt_shape_str(w, sa), lt_shape_str(x, sb), (long long)w->shape[0],
                    (long long)s.C);
  if (b) {
    if (lt_check_same_device(op, x, "input", b, "bias")) return lt_errcode();
    if (b->ndim != 1 || b->shape[0] != s.O)
      return lt_error(LT_ERR_SHAPE,
                      "%s: given transposed=1, weight of size %s, expected bias to be "
                      "1-dimensional with %lld elements, but got bias of size %s instead",
                      op, lt_shape_str(w, sa), (long long)s.O, lt_shape_str(b, sb));
    if (b->dtype != x->dtype)
      return lt_error(LT_ERR_DTYPE, "%s: input type (%s) and bias type (%s) should be the same",
                      op, lt_dtype_name(x->dtype), lt_dtype_name(b->dtype));
  }
  s.OH = (s.H - 1) * s.sh - 2 * s.ph + s.dh * (s.kh - 1) + o->output_padding[0] + 1;
  s.OW = (s.W - 1) * s.sw - 2 * s.pw + s.dw * (s.kw - 1) + o->output_padding[1] + 1;
  if (s.H < 1 || s.W < 1 || s.OH < 1 || s.OW < 1)
    return lt_error(LT_ERR_SHAPE,
                    "%s: given input size per channel: (%lld x %lld). Calculated output size "
                    "per channel: (%lld x %lld). Output size is too small",
                    op, (long long)s.H, (long long)s.W, (long long)s.OH, (long long)s.OW);
  *out = s;
  return LT_OK;
}

lt_tensor *lt_conv_transpose2d(lt_tensor *x, lt_tensor *w, lt_tensor *b,
                               const lt_conv_transpose2d_opts *o) {
  const char *op = "conv_transpose2d";
  char sa[128];
  if (!x || !w) {
    lt_error(LT_ERR_ARG, "%s: %s is NULL", op, x ? "weight" : "input");
    return NULL;
  }
  {  /* autocast: as conv2d */
    lt_tensor *ac[3];
    int cast = lt_autocast_args(LT_AUTOCAST_LOW, (lt_tensor *[]){x, w, b}, ac, 3);
    if (cast) {
      lt_tensor *r = cast > 0 ? lt_conv_transpose2d(ac[0], ac[1], ac[2], o) : NULL;
      lt_release_all(ac, 3);
      return r;
    }
  }
  lt_conv_transpose2d_opts def = {{1, 1}, {0, 0}, {0, 0}, {1, 1}, 1};
  if (!o) o = &def;
  if (x->ndim != 3 && x->ndim != 4) {
    lt_error(LT_ERR_SHAPE,
             "%s: expected 3D (unbatched) or 4D (batched) input, but got input of size: %s", op,
             lt_shape_str(x, sa));
    return NULL;
  }
  if (x->ndim == 3) {  /* unbatched: add and drop a batch dim */
    lt_tensor *xb = lt_unsqueeze(x, 0);
    if (!xb) return NULL;
    lt_tensor *yb = lt_conv_transpose2d(xb, w, b, o);
    lt_tensor_release(xb);
    if (!yb) return NULL;
    lt_tensor *y = lt_squeeze(yb, 0);
    lt_tensor_release(yb);
    return y;
  }
  ct_shape s;
  if (ct_setup(op, x, w, b, o, &s)) return NULL;
  const lt_backend *be = lt_backend_of(op, x);
  if (!be) return NULL;
  if (!be->gemm || !be->col2im || !be->binary) {
    lt_err_not_impl(op, lt_tensor_device(x));
    return NULL;
  }
  lt_tensor *xc = lt_contiguous(x), *wc = xc ? lt_contiguous(w) : NULL;
  int64_t ys[4] = {s.N, s.O, s.OH, s.OW};
  lt_tensor *y = wc ? lt_tensor_alloc(ys, 4, x->dtype, lt_tensor_device(x)) : NULL;
  lt_status st = y ? LT_OK : lt_errcode();
  if (!st && lt_numel(y) > 0) st = ct_forward(be, y, xc, wc, b, &s);
  if (!st) {
    lt_tensor *ins[3] = {xc, wc, b};
    int nin = b ? 3 : 2;
    if (lt_any_requires_grad(ins, nin)) {
      lt_node *n = lt_record("ConvTranspose2dBackward", conv_transpose2d_backward, ins, nin, y);
      if (!n) st = lt_errcode() ? lt_errcode() : LT_ERR_MEMORY;
      else {
        memcpy(n->i, &s, sizeof s);
        lt_node_save(n, 0, xc);
        lt_node_save(n, 1, wc);
      }
    }
  }
  lt_tensor_release(xc);
  lt_tensor_release(wc);
  if (st) {
    lt_tensor_release(y);
    return NULL;
  }
  return y;
}
