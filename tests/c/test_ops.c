/*
** test_ops.c - the op front-ends (views, elementwise, reductions, linalg,
** indexing): hand-computed forward values, broadcasting, dtype promotion,
** error messages, float64 gradient checks of every differentiable op, and
** autograd's in-place detection and retain_graph.
*/
#include <stdlib.h>
#include <string.h>

#include "ctest.h"
#include "gradcheck.h"

#define SH(...) ((const int64_t[]){__VA_ARGS__})
#define VALS(...) ((const double[]){__VA_ARGS__})
#define NV(...) ((int)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double)))

static lt_tensor *mk(const double *v, const int64_t *shape, int nd, lt_dtype dt) {
  return lt_from_data(v, LT_DTYPE_F64, shape, nd, dt, lt_cpu());
}

/* Compares t's values (row-major) with v[0..n). */
static int same(lt_tensor *t, const double *v, int n, double tol) {
  if (!t || lt_numel(t) != n) return 0;
  double *buf = malloc(sizeof(double) * (size_t)(n ? n : 1));
  int ok = lt_to_host(t, buf, LT_DTYPE_F64) == LT_OK;
  for (int k = 0; ok && k < n; k++)
    if (!(fabs(buf[k] - v[k]) <= tol) && !(isnan(buf[k]) && isnan(v[k]))) {
      fprintf(stderr, "  element %d: got %.9g expected %.9g\n", k, buf[k], v[k]);
      ok = 0;
    }
  free(buf);
  return ok;
}

static int has_shape(lt_tensor *t, const int64_t *s, int nd) {
  if (!t || t->ndim != nd) return 0;
  for (int d = 0; d < nd; d++)
    if (t->shape[d] != s[d]) return 0;
  return 1;
}

static int err_has(const char *s) { return strstr(lt_errmsg(), s) != NULL; }

#define R(t) lt_tensor_release(t)

/* ---------------------------------------------------------------- forward: views */

static void test_views(void) {
  lt_tensor *a = mk(VALS(0, 1, 2, 3, 4, 5), SH(2, 3), 2, LT_DTYPE_F32);
  lt_tensor *t = lt_transpose(a, 0, 1);
  CHECK(t && t->is_view && has_shape(t, SH(3, 2), 2) && same(t, VALS(0, 3, 1, 4, 2, 5), 6, 0),
        "transpose");
  lt_tensor *v = lt_tensor_view(t, SH(6), 1);
  CHECK(!v && err_has("view: size {6} is not compatible") && err_has("use reshape"),
        "view of a transpose errors");
  lt_tensor *r = lt_reshape(t, SH(-1), 1);
  CHECK(r && same(r, VALS(0, 3, 1, 4, 2, 5), 6, 0), "reshape copies");
  lt_tensor *v2 = lt_tensor_view(a, SH(3, -1), 2);
  CHECK(v2 && has_shape(v2, SH(3, 2), 2) && v2->storage == a->storage, "view shares storage");
  lt_tensor *bad = lt_tensor_view(a, SH(4, -1), 2);
  CHECK(!bad && err_has("invalid for input of size 6"), "view size mismatch");
  lt_tensor *n = lt_narrow(a, 1, 1, 2);
  CHECK(n && same(n, VALS(1, 2, 4, 5), 4, 0), "narrow");
  lt_tensor *s = lt_select(a, 1, 2);
  CHECK(s && has_shape(s, SH(2), 1) && same(s, VALS(2, 5), 2, 0), "select");
  lt_tensor *u = lt_unsqueeze(a, 1);
  CHECK(u && has_shape(u, SH(2, 1, 3), 3), "unsqueeze");
  lt_tensor *q = u ? lt_squeeze(u, LT_ALL_DIMS) : NULL;
  CHECK(q && has_shape(q, SH(2, 3), 2), "squeeze all");
  lt_tensor *q2 = u ? lt_squeeze(u, 0) : NULL;
  CHECK(q2 && has_shape(q2, SH(2, 1, 3), 3), "squeeze of a non-1 dim is a no-op");
  lt_tensor *p = lt_permute(u, (int[]){2, 0, 1}, 3);
  CHECK(p && has_shape(p, SH(3, 2, 1), 3) && same(p, VALS(0, 3, 1, 4, 2, 5), 6, 0), "permute");
  lt_tensor *p2 = lt_permute(u, (int[]){0, 0, 1}, 3);
  CHECK(!p2 && err_has("repeated dim"), "permute repeated dim");
  lt_tensor *row = mk(VALS(1, 2, 3), SH(1, 3), 2, LT_DTYPE_F32);
  lt_tensor *e = lt_expand(row, SH(2, -1), 2);
  CHECK(e && same(e, VALS(1, 2, 3, 1, 2, 3), 6, 0) && e->stride[0] == 0, "expand");
  lt_tensor *e2 = lt_expand(a, SH(2, 4), 2);
  CHECK(!e2 && err_has("must match the existing size (3)"), "expand error");
  lt_tensor *f = lt_flatten(u, 0, -1);
  CHECK(f && has_shape(f, SH(6), 1), "flatten");
  lt_tensor *as = lt_as_strided(a, SH(2, 2), SH(1, 2), 2, 1);
  CHECK(as && same(as, VALS(1, 3, 2, 4), 4, 0), "as_strided");
  lt_tensor *as2 = lt_as_strided(a, SH(2, 2), SH(3, 3), 2, 2);
  CHECK(!as2 && err_has("out of bounds"), "as_strided bounds");
  int64_t bs[8];
  int bn;
  CHECK(lt_broadcast_shape(SH(2, 1, 3), 3, SH(4, 1), 2, bs, &bn) == LT_OK && bn == 3 &&
            bs[0] == 2 && bs[1] == 4 && bs[2] == 3,
        "broadcast_shape");
  CHECK(lt_broadcast_shape(SH(2, 3), 2, SH(4), 1, bs, &bn) == LT_ERR_SHAPE, "broadcast error");
  R(a); R(t); R(r); R(v2); R(n); R(s); R(u); R(q); R(q2); R(p); R(row); R(e); R(f); R(as);
}

/* ---------------------------------------------------------------- forward: elementwise */

static void test_elementwise(void) {
  lt_tensor *a = mk(VALS(1, 2, 3, 4, 5, 6), SH(2, 3), 2, LT_DTYPE_F32);
  lt_tensor *b = mk(VALS(10, 20, 30), SH(3), 1, LT_DTYPE_F32);
  lt_tensor *c = lt_binary(LT_BINARY_ADD, a, b);
  CHECK(c && c->dtype == LT_DTYPE_F32 && same(c, VALS(11, 22, 33, 14, 25, 36), 6, 0),
        "broadcast add");
  lt_tensor *bad = mk(VALS(1, 2), SH(2), 1, LT_DTYPE_F32);
  lt_tensor *c2 = lt_binary(LT_BINARY_MUL, a, bad);
  CHECK(!c2 && err_has("mul:") && err_has("{2, 3}") && err_has("{2}"), "shape error names op and shapes");
  lt_tensor *i = mk(VALS(1, 2, 3), SH(3), 1, LT_DTYPE_I64);
  lt_tensor *i2 = lt_binary_scalar(LT_BINARY_ADD, i, 2, false);
  CHECK(i2 && i2->dtype == LT_DTYPE_I64 && same(i2, VALS(3, 4, 5), 3, 0), "int + 2 stays int64");
  lt_tensor *i3 = lt_binary_scalar(LT_BINARY_ADD, i, 0.5, false);
  CHECK(i3 && i3->dtype == LT_DTYPE_F32 && same(i3, VALS(1.5, 2.5, 3.5), 3, 0), "int + 0.5 -> float32");
  lt_tensor *bo = mk(VALS(1, 0, 1), SH(3), 1, LT_DTYPE_BOOL);
  lt_tensor *b1 = lt_binary_scalar(LT_BINARY_ADD, bo, 1, false);
  CHECK(b1 && b1->dtype == LT_DTYPE_I64 && same(b1, VALS(2, 1, 2), 3, 0), "bool + 1 -> int64");
  lt_tensor *ie = lt_unary(LT_UNARY_EXP, i);
  CHECK(ie && ie->dtype == LT_DTYPE_F32 && same(ie, VALS(exp(1), exp(2), exp(3)), 3, 1e-5),
        "exp(int) -> float32");
  lt_tensor *id = lt_binary(LT_BINARY_DIV, i, i2);
  CHECK(id && id->dtype == LT_DTYPE_F32 && same(id, VALS(1.0 / 3, 0.5, 0.6), 3, 1e-6),
        "int / int -> float");
  lt_tensor *d64 = mk(VALS(1, 1, 1), SH(3), 1, LT_DTYPE_F64);
  lt_tensor *mix = lt_binary(LT_BINARY_ADD, b, d64);
  CHECK(mix && mix->dtype == LT_DTYPE_F64, "float32 + float64 -> float64");
  lt_tensor *z64 = lt_scalar(2, LT_DTYPE_F64, lt_cpu());
  lt_tensor *mz = lt_binary(LT_BINARY_MUL, b, z64);
  CHECK(mz && mz->dtype == LT_DTYPE_F32 && same(mz, VALS(20, 40, 60), 3, 0),
        "0-dim float64 does not promote a float32 tensor");
  lt_tensor *iz = lt_binary(LT_BINARY_MUL, i, z64);
  CHECK(iz && iz->dtype == LT_DTYPE_F64, "int tensor * 0-dim float64 -> float64");
  lt_tensor *cmp = lt_binary(LT_BINARY_GT, a, b);
  CHECK(cmp && cmp->dtype == LT_DTYPE_BOOL && same(cmp, VALS(0, 0, 0, 0, 0, 0), 6, 0), "gt");
  lt_tensor *cmp2 = lt_binary_scalar(LT_BINARY_GE, a, 3, false);
  CHECK(cmp2 && same(cmp2, VALS(0, 0, 1, 1, 1, 1), 6, 0), "ge scalar");
  lt_tensor *rs = lt_binary_scalar(LT_BINARY_SUB, b, 1, true);
  CHECK(rs && same(rs, VALS(-9, -19, -29), 3, 0), "1 - b");
  lt_tensor *pw = lt_binary_scalar(LT_BINARY_POW, b, 2, false);
  CHECK(pw && same(pw, VALS(100, 400, 900), 3, 1e-4), "b ^ 2");
  lt_tensor *cl = lt_unary_p(LT_UNARY_CLAMP, a, 2, NAN);
  CHECK(cl && same(cl, VALS(2, 2, 3, 4, 5, 6), 6, 0), "clamp min only");
  lt_tensor *mx = lt_binary(LT_BINARY_MAXIMUM, a, b);
  CHECK(mx && same(mx, VALS(10, 20, 30, 10, 20, 30), 6, 0), "maximum");
  lt_tensor *nb = lt_unary(LT_UNARY_NEG, bo);
  CHECK(!nb && lt_errcode() == LT_ERR_DTYPE, "neg of bool is an error");
  /* where / masked_fill */
  lt_tensor *m = mk(VALS(1, 0, 1), SH(3), 1, LT_DTYPE_BOOL);
  lt_tensor *w = lt_where(m, a, b);
  CHECK(w && same(w, VALS(1, 20, 3, 4, 20, 6), 6, 0), "where broadcast");
  lt_tensor *w2 = lt_where(b, a, b);
  CHECK(!w2 && err_has("bool"), "where needs a bool condition");
  lt_tensor *mf = lt_masked_fill(a, m, -1);
  CHECK(mf && same(mf, VALS(-1, 2, -1, -1, 5, -1), 6, 0), "masked_fill");
  /* in place */
  lt_tensor *x = mk(VALS(1, 2, 3), SH(3), 1, LT_DTYPE_F32);
  CHECK(lt_binary_(LT_BINARY_MUL, x, b) == LT_OK && same(x, VALS(10, 40, 90), 3, 0), "mul_");
  CHECK(lt_binary_scalar_(LT_BINARY_ADD, x, 1) == LT_OK && same(x, VALS(11, 41, 91), 3, 0), "add_ scalar");
  CHECK(lt_add_scaled_(x, b, -1) == LT_OK && same(x, VALS(1, 21, 61), 3, 0), "add_scaled_");
  CHECK(lt_unary_(LT_UNARY_SQRT, x, NAN, NAN) == LT_OK && same(x, VALS(1, sqrt(21), sqrt(61)), 3, 1e-5),
        "sqrt_");
  CHECK(lt_masked_fill_(x, m, 0) == LT_OK && same(x, VALS(0, sqrt(21), 0), 3, 1e-5), "masked_fill_");
  CHECK(lt_binary_scalar_(LT_BINARY_ADD, i, 0.5) == LT_ERR_DTYPE && err_has("can't be cast"),
        "int += 0.5 is an error");
  CHECK(lt_binary_(LT_BINARY_ADD, b, a) == LT_ERR_SHAPE && err_has("doesn't match the broadcast shape"),
        "in-place output shape");
  CHECK(strcmp(lt_unary_name(LT_UNARY_SIGMOID), "sigmoid") == 0 &&
            strcmp(lt_binary_name(LT_BINARY_FLOOR_DIVIDE), "floor_divide") == 0,
        "names");
  R(a); R(b); R(c); R(bad); R(i); R(i2); R(i3); R(bo); R(b1); R(ie); R(id); R(d64); R(mix);
  R(z64); R(mz); R(iz); R(cmp); R(cmp2); R(rs); R(pw); R(cl); R(mx); R(m); R(w); R(mf); R(x);
}

/* ---------------------------------------------------------------- forward: reductions */

static void test_reduce(void) {
  lt_tensor *a = mk(VALS(1, 5, 3, 4, 2, 6), SH(2, 3), 2, LT_DTYPE_F32);
  lt_tensor *s = lt_reduce(LT_REDUCE_SUM, a, NULL, 0, false, 0, NULL, 0);
  CHECK(s && s->ndim == 0 && same(s, VALS(21), 1, 0), "sum all");
  lt_tensor *s1 = lt_reduce(LT_REDUCE_SUM, a, (int[]){1}, 1, true, 0, NULL, 0);
  CHECK(s1 && has_shape(s1, SH(2, 1), 2) && same(s1, VALS(9, 12), 2, 0), "sum dim keepdim");
  lt_tensor *mn = lt_reduce(LT_REDUCE_MEAN, a, (int[]){0}, 1, false, 0, NULL, 0);
  CHECK(mn && same(mn, VALS(2.5, 3.5, 4.5), 3, 1e-6), "mean dim 0");
  lt_tensor *idx = NULL;
  lt_tensor *mx = lt_reduce(LT_REDUCE_MAX, a, (int[]){1}, 1, false, 0, &idx, 1);
  CHECK(mx && same(mx, VALS(5, 6), 2, 0) && idx && idx->dtype == LT_DTYPE_I64 &&
            same(idx, VALS(2, 3), 2, 0),
        "max with 1-based indices");
  lt_tensor *am = lt_reduce(LT_REDUCE_ARGMAX, a, NULL, 0, false, 0, NULL, 0);
  CHECK(am && am->ndim == 0 && same(am, VALS(5), 1, 0), "argmax flat");
  lt_tensor *am1 = lt_reduce(LT_REDUCE_ARGMIN, a, (int[]){-1}, 1, false, 0, NULL, 1);
  CHECK(am1 && same(am1, VALS(1, 2), 2, 0), "argmin dim, base 1");
  lt_tensor *v = lt_reduce(LT_REDUCE_VAR, a, (int[]){1}, 1, false, 1, NULL, 0);
  CHECK(v && same(v, VALS(4, 4), 2, 1e-6), "var unbiased");
  lt_tensor *nm = lt_reduce(LT_REDUCE_NORM, a, NULL, 0, false, 1, NULL, 0);
  CHECK(nm && same(nm, VALS(21), 1, 1e-5), "1-norm");
  lt_tensor *pr = lt_reduce(LT_REDUCE_PROD, a, (int[]){0}, 1, false, 0, NULL, 0);
  CHECK(pr && same(pr, VALS(4, 10, 18), 3, 0), "prod");
  lt_tensor *i = mk(VALS(1, 2, 3), SH(3), 1, LT_DTYPE_I32);
  lt_tensor *si = lt_reduce(LT_REDUCE_SUM, i, NULL, 0, false, 0, NULL, 0);
  CHECK(si && si->dtype == LT_DTYPE_I64 && same(si, VALS(6), 1, 0), "sum of int -> int64");
  lt_tensor *mi = lt_reduce(LT_REDUCE_MEAN, i, NULL, 0, false, 0, NULL, 0);
  CHECK(mi && mi->dtype == LT_DTYPE_F32 && same(mi, VALS(2), 1, 1e-6), "mean of int -> float");
  lt_tensor *bo = mk(VALS(1, 0, 1), SH(3), 1, LT_DTYPE_BOOL);
  lt_tensor *sb = lt_reduce(LT_REDUCE_SUM, bo, NULL, 0, false, 0, NULL, 0);
  CHECK(sb && sb->dtype == LT_DTYPE_I64 && same(sb, VALS(2), 1, 0), "sum of bool -> int64");
  lt_tensor *an = lt_reduce(LT_REDUCE_ANY, bo, NULL, 0, false, 0, NULL, 0);
  CHECK(an && an->dtype == LT_DTYPE_BOOL && same(an, VALS(1), 1, 0), "any");
  lt_tensor *dup = lt_reduce(LT_REDUCE_SUM, a, (int[]){1, -1}, 2, false, 0, NULL, 0);
  CHECK(!dup && err_has("multiple times"), "duplicate dims");
  lt_tensor *oor = lt_reduce(LT_REDUCE_SUM, a, (int[]){2}, 1, false, 0, NULL, 0);
  CHECK(!oor && lt_errcode() == LT_ERR_INDEX, "dim out of range");
  lt_tensor *lse = lt_reduce(LT_REDUCE_LOGSUMEXP, a, (int[]){1}, 1, false, 0, NULL, 0);
  CHECK(lse && same(lse, VALS(log(exp(1) + exp(5) + exp(3)), log(exp(4) + exp(2) + exp(6))), 2, 1e-5),
        "logsumexp");
  lt_tensor *st = lt_sum_to(a, SH(1, 3), 2);
  CHECK(st && has_shape(st, SH(1, 3), 2) && same(st, VALS(5, 7, 9), 3, 0), "sum_to");
  lt_tensor *st2 = lt_sum_to(a, SH(3), 1);
  CHECK(st2 && has_shape(st2, SH(3), 1) && same(st2, VALS(5, 7, 9), 3, 0), "sum_to drops leading");
  CHECK(strcmp(lt_reduce_name(LT_REDUCE_LOGSUMEXP), "logsumexp") == 0, "reduce name");
  R(a); R(s); R(s1); R(mn); R(idx); R(mx); R(am); R(am1); R(v); R(nm); R(pr); R(i); R(si); R(mi);
  R(bo); R(sb); R(an); R(lse); R(st); R(st2);
}

/* ---------------------------------------------------------------- forward: linalg */

static void test_linalg(void) {
  lt_tensor *a = mk(VALS(1, 2, 3, 4, 5, 6), SH(2, 3), 2, LT_DTYPE_F32);
  lt_tensor *b = mk(VALS(1, 0, 0, 1, 1, 1), SH(3, 2), 2, LT_DTYPE_F32);
  lt_tensor *c = lt_matmul(a, b);
  CHECK(c && has_shape(c, SH(2, 2), 2) && same(c, VALS(4, 5, 10, 11), 4, 1e-6), "mm");
  lt_tensor *at = lt_transpose(b, 0, 1);  /* (2, 3) stored transposed */
  lt_tensor *tmp = lt_transpose(at, 0, 1);
  lt_tensor *c2 = lt_matmul(a, tmp);
  CHECK(c2 && same(c2, VALS(4, 5, 10, 11), 4, 1e-6), "mm with a transposed operand");
  lt_tensor *v = mk(VALS(1, 1, 1), SH(3), 1, LT_DTYPE_F32);
  lt_tensor *dot = lt_matmul(v, v);
  CHECK(dot && dot->ndim == 0 && same(dot, VALS(3), 1, 0), "dot");
  lt_tensor *mv = lt_matmul(a, v);
  CHECK(mv && has_shape(mv, SH(2), 1) && same(mv, VALS(6, 15), 2, 0), "matrix @ vector");
  lt_tensor *vm = lt_matmul(v, b);
  CHECK(vm && has_shape(vm, SH(2), 1) && same(vm, VALS(2, 2), 2, 0), "vector @ matrix");
  lt_tensor *x3 = lt_zeros(SH(4, 1, 2, 3), 4, LT_DTYPE_F32, lt_cpu());
  lt_tensor *y3 = lt_ones(SH(5, 3, 2), 3, LT_DTYPE_F32, lt_cpu());
  lt_tensor *bm = lt_matmul(x3, y3);
  CHECK(bm && has_shape(bm, SH(4, 5, 2, 2), 4), "batched broadcast matmul");
  lt_tensor *fold = lt_matmul(x3, b);
  CHECK(fold && has_shape(fold, SH(4, 1, 2, 2), 4), "batched @ 2-D");
  lt_tensor *e1 = lt_zeros(SH(4, 5), 2, LT_DTYPE_F32, lt_cpu());
  lt_tensor *bad = lt_matmul(a, e1);
  CHECK(!bad && strcmp(lt_errmsg(), "matmul: shapes {2, 3} and {4, 5} cannot be multiplied (3 != 4)") == 0,
        "matmul error message");
  lt_tensor *i64 = lt_zeros(SH(3, 2), 2, LT_DTYPE_F64, lt_cpu());
  lt_tensor *bad2 = lt_mm(a, i64);
  CHECK(!bad2 && lt_errcode() == LT_ERR_DTYPE, "mm dtype mismatch");
  lt_tensor *bb = lt_bmm(x3, y3);
  CHECK(!bb && err_has("3-D"), "bmm needs 3-D");
  lt_tensor *w = mk(VALS(1, 0, 1, 0, 1, 0), SH(2, 3), 2, LT_DTYPE_F32);
  lt_tensor *bias = mk(VALS(10, 20), SH(2), 1, LT_DTYPE_F32);
  lt_tensor *lin = lt_linear(a, w, bias);
  CHECK(lin && same(lin, VALS(14, 22, 20, 25), 4, 1e-6), "linear with bias");
  lt_tensor *lin2 = lt_linear(a, at, NULL);  /* at = b^T is (2, 3), stored transposed */
  CHECK(lin2 && same(lin2, VALS(4, 5, 10, 11), 4, 1e-6), "linear without bias, transposed weight");
  R(a); R(b); R(c); R(at); R(tmp); R(c2); R(v); R(dot); R(mv); R(vm); R(x3); R(y3); R(bm); R(fold);
  R(e1); R(i64); R(w); R(bias); R(lin); R(lin2);
}

/* ---------------------------------------------------------------- forward: index */

static void test_index(void) {
  lt_tensor *a = mk(VALS(0, 1, 2, 3, 4, 10, 11, 12, 13, 14), SH(2, 5), 2, LT_DTYPE_F32);
  lt_tensor *ix = mk(VALS(5, 1, 5), SH(3), 1, LT_DTYPE_I64);
  lt_tensor *s = lt_index_select(a, 1, ix, 1);
  CHECK(s && same(s, VALS(4, 0, 4, 14, 10, 14), 6, 0), "index_select base 1");
  lt_tensor *bad = mk(VALS(7), SH(1), 1, LT_DTYPE_I64);
  lt_tensor *s2 = lt_index_select(a, 1, bad, 1);
  CHECK(!s2 && strcmp(lt_errmsg(), "index_select: index 7 is out of range for dim 2 with size 5") == 0,
        "index_select range error in the user's base");
  lt_tensor *fi = mk(VALS(1), SH(1), 1, LT_DTYPE_F32);
  lt_tensor *s3 = lt_index_select(a, 1, fi, 0);
  CHECK(!s3 && err_has("index") && err_has("int64"), "index dtype error");
  lt_tensor *gi = mk(VALS(0, 4, 1, 1), SH(2, 2), 2, LT_DTYPE_I64);
  lt_tensor *g = lt_gather(a, 1, gi, 0);
  CHECK(g && same(g, VALS(0, 4, 11, 11), 4, 0), "gather");
  lt_tensor *src = mk(VALS(7, 8, 9, 6), SH(2, 2), 2, LT_DTYPE_F32);
  lt_tensor *sc = lt_scatter(a, 1, gi, src, 0, NULL, 0);
  CHECK(sc && same(sc, VALS(7, 1, 2, 3, 8, 10, 6, 12, 13, 14), 10, 0), "scatter");
  lt_tensor *sa = lt_scatter(a, 1, gi, src, 0, "add", 0);
  CHECK(sa && same(sa, VALS(7, 1, 2, 3, 12, 10, 26, 12, 13, 14), 10, 0), "scatter add");
  lt_tensor *sr = lt_scatter(a, 1, gi, src, 0, "mul", 0);
  CHECK(!sr && err_has("reduce"), "scatter reduce option");
  lt_tensor *ia = mk(VALS(1, 0), SH(2), 1, LT_DTYPE_I64);
  lt_tensor *src2 = mk(VALS(1, 1, 1, 1, 1, 2, 2, 2, 2, 2), SH(2, 5), 2, LT_DTYPE_F32);
  lt_tensor *iad = lt_index_add(a, 0, ia, src2, 0);
  CHECK(iad && same(iad, VALS(2, 3, 4, 5, 6, 11, 12, 13, 14, 15), 10, 0), "index_add");
  lt_tensor *parts[2] = {a, src2};
  lt_tensor *ct = lt_cat(parts, 2, 0);
  CHECK(ct && has_shape(ct, SH(4, 5), 2) && same(ct, VALS(0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2), 20, 0),
        "cat");
  lt_tensor *parts2[2] = {a, ix};
  lt_tensor *ct2 = lt_cat(parts2, 2, 0);
  CHECK(!ct2 && err_has("sizes of tensors must match"), "cat shape error");
  lt_tensor *stk = lt_stack(parts, 2, 2);
  CHECK(stk && has_shape(stk, SH(2, 5, 2), 3) && same(stk, VALS(0, 1, 1, 1, 2, 1, 3, 1, 4, 1, 10, 2, 11, 2, 12, 2, 13, 2, 14, 2), 20, 0),
        "stack last dim");
  lt_tensor *oh = lt_one_hot(ia, 3, 0);
  CHECK(oh && oh->dtype == LT_DTYPE_I64 && same(oh, VALS(0, 1, 0, 1, 0, 0), 6, 0), "one_hot");
  lt_tensor *v = mk(VALS(1, 2, 3), SH(3), 1, LT_DTYPE_F32);
  lt_tensor *pc = lt_pad(v, SH(2, -1), 2, "constant", 9);
  CHECK(pc && same(pc, VALS(9, 9, 1, 2), 4, 0), "constant pad with a crop");
  lt_tensor *pr = lt_pad(v, SH(2, 1), 2, "reflect", 0);
  CHECK(pr && same(pr, VALS(3, 2, 1, 2, 3, 2), 6, 0), "reflect pad");
  lt_tensor *pp = lt_pad(v, SH(1, 2), 2, "replicate", 0);
  CHECK(pp && same(pp, VALS(1, 1, 2, 3, 3, 3), 6, 0), "replicate pad");
  lt_tensor *p2 = lt_pad(a, SH(0, 0, 1, 0), 4, "constant", 0);
  CHECK(p2 && has_shape(p2, SH(3, 5), 2) && same(p2, VALS(0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 10, 11, 12, 13, 14), 15, 0),
        "pad of the second-last dim");
  lt_tensor *pb = lt_pad(v, SH(3, 0), 2, "reflect", 0);
  CHECK(!pb && err_has("reflect"), "reflect pad too large");
  R(a); R(ix); R(s); R(bad); R(fi); R(gi); R(g); R(src); R(sc); R(sa); R(ia); R(src2); R(iad);
  R(ct); R(stk); R(oh); R(v); R(pc); R(pr); R(pp); R(p2);
}

/* ---------------------------------------------------------------- gradient checks */

typedef struct { int op; double p0, p1; int dim; int extra; } gc_ud;

static lt_tensor *f_unary(lt_tensor **in, void *ud) {
  gc_ud *u = ud;
  return lt_unary_p((lt_unary_op)u->op, in[0], u->p0, u->p1);
}
static lt_tensor *f_binary(lt_tensor **in, void *ud) {
  return lt_binary((lt_binary_op)((gc_ud *)ud)->op, in[0], in[1]);
}
static lt_tensor *f_binary_scalar(lt_tensor **in, void *ud) {
  gc_ud *u = ud;
  return lt_binary_scalar((lt_binary_op)u->op, in[0], u->p0, u->extra != 0);
}
static lt_tensor *f_reduce(lt_tensor **in, void *ud) {
  gc_ud *u = ud;
  int dims[2] = {u->dim, u->extra};
  int nd = u->dim < -100 ? 0 : (u->extra < -100 ? 1 : 2);
  return lt_reduce((lt_reduce_op)u->op, in[0], dims, nd, u->p1 != 0, u->p0, NULL, 0);
}
static lt_tensor *f_where(lt_tensor **in, void *ud) {
  (void)ud;
  lt_tensor *c = lt_binary_scalar(LT_BINARY_GT, in[0], 0.5, false);
  lt_tensor *r = lt_where(c, in[1], in[2]);
  R(c);
  return r;
}
static lt_tensor *f_masked_fill(lt_tensor **in, void *ud) {
  (void)ud;
  lt_tensor *c = lt_binary_scalar(LT_BINARY_GT, in[0], 0.5, false);
  lt_tensor *r = lt_masked_fill(in[0], c, 3.0);
  R(c);
  return r;
}
/* in-place chains: clone, then modify the clone */
static lt_tensor *f_inplace(lt_tensor **in, void *ud) {
  gc_ud *u = ud;
  lt_tensor *x = lt_binary_scalar(LT_BINARY_MUL, in[0], 1.0, false);
  if (!x) return NULL;
  lt_status st;
  switch (u->op) {
    case 0: st = lt_unary_(LT_UNARY_EXP, x, NAN, NAN); break;
    case 1: st = lt_unary_(LT_UNARY_SIN, x, NAN, NAN); break;
    case 2: st = lt_binary_(LT_BINARY_MUL, x, in[1]); break;
    case 3: st = lt_binary_(LT_BINARY_DIV, x, in[1]); break;
    case 4: st = lt_binary_scalar_(LT_BINARY_POW, x, 3.0); break;
    case 5: st = lt_binary_(LT_BINARY_MUL, x, x); break;
    case 6: st = lt_add_scaled_(x, in[1], -2.0); break;
    default: {
      lt_tensor *m = lt_binary_scalar(LT_BINARY_GT, in[0], 0.5, false);
      st = lt_masked_fill_(x, m, 0.0);
      R(m);
    }
  }
  if (st) { R(x); return NULL; }
  return x;
}
static lt_tensor *f_view_chain(lt_tensor **in, void *ud) {
  (void)ud;  /* (2, 3, 4) -> permute -> narrow -> select -> transpose -> reshape -> expand */
  lt_tensor *t[8] = {0};
  t[0] = lt_permute(in[0], (int[]){2, 0, 1}, 3);                 /* (4, 2, 3) */
  t[1] = t[0] ? lt_narrow(t[0], 0, 1, 2) : NULL;                  /* (2, 2, 3) */
  t[2] = t[1] ? lt_select(t[1], 1, 1) : NULL;                     /* (2, 3) */
  t[3] = t[2] ? lt_transpose(t[2], 0, 1) : NULL;                  /* (3, 2) */
  t[4] = t[3] ? lt_reshape(t[3], SH(6), 1) : NULL;                /* copy */
  t[5] = t[4] ? lt_unsqueeze(t[4], 0) : NULL;                     /* (1, 6) */
  t[6] = t[5] ? lt_expand(t[5], SH(3, 6), 2) : NULL;              /* (3, 6) */
  lt_tensor *r = t[6] ? lt_flatten(t[6], 0, 1) : NULL;
  for (int k = 0; k < 8; k++) R(t[k]);
  return r;
}
static lt_tensor *f_view_squeeze(lt_tensor **in, void *ud) {
  (void)ud;
  lt_tensor *a = lt_tensor_view(in[0], SH(2, 1, 3), 3);
  lt_tensor *b = a ? lt_squeeze(a, 1) : NULL;
  lt_tensor *c = b ? lt_as_strided(b, SH(2), SH(1), 1, 0) : NULL;  /* not recorded */
  R(a); R(c);
  return b;
}
static lt_tensor *f_sum_to(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_sum_to(in[0], SH(3, 1), 2);
}
static lt_tensor *f_matmul(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_matmul(in[0], in[1]);
}
static lt_tensor *f_mm_t(lt_tensor **in, void *ud) {
  (void)ud;  /* a^T @ b^T through trans flags */
  lt_tensor *at = lt_transpose(in[0], 0, 1), *bt = lt_transpose(in[1], 0, 1);
  lt_tensor *r = lt_mm(at, bt);
  R(at); R(bt);
  return r;
}
static lt_tensor *f_bmm(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_bmm(in[0], in[1]);
}
static lt_tensor *f_linear(lt_tensor **in, void *ud) {
  gc_ud *u = ud;
  return lt_linear(in[0], in[1], u->extra ? in[2] : NULL);
}
static lt_tensor *f_index_select(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_index_select(in[0], 1, in[1], 0);
}
static lt_tensor *f_gather(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_gather(in[0], 1, in[1], 0);
}
static lt_tensor *f_scatter(lt_tensor **in, void *ud) {
  gc_ud *u = ud;
  return lt_scatter(in[0], 1, in[1], in[2], 0, u->extra ? "add" : NULL, 0);
}
static lt_tensor *f_scatter_(lt_tensor **in, void *ud) {
  (void)ud;
  lt_tensor *x = lt_binary_scalar(LT_BINARY_MUL, in[0], 2.0, false);
  if (x && lt_scatter_(x, 1, in[1], in[2], 0, NULL, 0)) { R(x); return NULL; }
  return x;
}
static lt_tensor *f_index_add(lt_tensor **in, void *ud) {
  (void)ud;
  return lt_index_add(in[0], 0, in[1], in[2], 0);
}
static lt_tensor *f_cat(lt_tensor **in, void *ud) {
  gc_ud *u = ud;
  return u->extra ? lt_stack(in, 2, 1) : lt_cat(in, 2, 1);
}
static lt_tensor *f_pad(lt_tensor **in, void *ud) {
  gc_ud *u = ud;
  const char *modes[3] = {"constant", "reflect", "replicate"};
  return lt_pad(in[0], SH(2, -1, 1, 1), 4, modes[u->op], 0.5);
}

static void test_gradcheck(void) {
  lt_tensor *x = gradcheck_input(SH(2, 3), 2, 0.2, 1.5, 1);   /* positive */
  lt_tensor *y = gradcheck_input(SH(3), 1, 0.3, 1.2, 2);
  lt_tensor *xs = gradcheck_input(SH(2, 3), 2, -1.5, 1.5, 3);  /* signed */
  /* unary */
  static const int un[] = {LT_UNARY_NEG, LT_UNARY_ABS, LT_UNARY_EXP, LT_UNARY_LOG, LT_UNARY_LOG1P,
                           LT_UNARY_EXPM1, LT_UNARY_SQRT, LT_UNARY_RSQRT, LT_UNARY_RECIPROCAL,
                           LT_UNARY_SQUARE, LT_UNARY_SIN, LT_UNARY_COS, LT_UNARY_TANH,
                           LT_UNARY_SIGMOID, LT_UNARY_RELU, LT_UNARY_GELU, LT_UNARY_GELU_TANH,
                           LT_UNARY_SILU, LT_UNARY_ERF, LT_UNARY_SIGN, LT_UNARY_FLOOR};
  for (size_t k = 0; k < sizeof un / sizeof un[0]; k++) {
    gc_ud u = {un[k], NAN, NAN, 0, 0};
    bool pos = un[k] == LT_UNARY_LOG || un[k] == LT_UNARY_LOG1P || un[k] == LT_UNARY_SQRT || un[k] == LT_UNARY_RSQRT ||
               un[k] == LT_UNARY_RECIPROCAL;
    CHECK(gradcheck(lt_unary_name(un[k]), f_unary, &u, pos ? &x : &xs, 1) == 0, "%s",
          lt_unary_name(un[k]));
  }
  gc_ud uc = {LT_UNARY_CLAMP, -0.5, 0.7, 0, 0};
  CHECK(gradcheck("clamp", f_unary, &uc, &xs, 1) == 0, "clamp");
  gc_ud ul = {LT_UNARY_LEAKY_RELU, 0.1, NAN, 0, 0};
  CHECK(gradcheck("leaky_relu", f_unary, &ul, &xs, 1) == 0, "leaky_relu");
  gc_ud up = {LT_UNARY_POW_SCALAR, 2.5, NAN, 0, 0};
  CHECK(gradcheck("pow scalar", f_unary, &up, &x, 1) == 0, "pow scalar");
  gc_ud ur = {LT_UNARY_RPOW_SCALAR, 1.7, NAN, 0, 0};
  CHECK(gradcheck("rpow scalar", f_unary, &ur, &xs, 1) == 0, "rpow scalar");
  /* binary, broadcast (2,3) op (3) */
  static const int bn[] = {LT_BINARY_ADD, LT_BINARY_SUB, LT_BINARY_MUL, LT_BINARY_DIV,
                           LT_BINARY_POW, LT_BINARY_MAXIMUM, LT_BINARY_MINIMUM,
                           LT_BINARY_ATAN2, LT_BINARY_FMOD, LT_BINARY_REMAINDER};
  for (size_t k = 0; k < sizeof bn / sizeof bn[0]; k++) {
    gc_ud u = {bn[k], 0, 0, 0, 0};
    lt_tensor *in[2] = {x, y};
    CHECK(gradcheck(lt_binary_name(bn[k]), f_binary, &u, in, 2) == 0, "%s", lt_binary_name(bn[k]));
  }
  {  /* maximum with ties: half/half */
    lt_tensor *t1 = mk(VALS(1, 2, 3), SH(3), 1, LT_DTYPE_F64), *t2 = mk(VALS(1, 0, 5), SH(3), 1, LT_DTYPE_F64);
    lt_tensor_set_requires_grad(t1, true);
    lt_tensor_set_requires_grad(t2, true);
    lt_tensor *m = lt_binary(LT_BINARY_MAXIMUM, t1, t2);
    lt_tensor *s = m ? lt_reduce(LT_REDUCE_SUM, m, NULL, 0, false, 0, NULL, 0) : NULL;
    CHECK(s && lt_backward(s, NULL, false) == LT_OK && same(t1->grad, VALS(0.5, 1, 0), 3, 0) &&
              same(t2->grad, VALS(0.5, 0, 1), 3, 0),
          "maximum ties split the gradient");
    R(m); R(s); R(t1); R(t2);
  }
  {  /* pow: exponent gradient masked where a <= 0 */
    lt_tensor *t1 = mk(VALS(0, 2), SH(2), 1, LT_DTYPE_F64), *t2 = mk(VALS(2, 3), SH(2), 1, LT_DTYPE_F64);
    lt_tensor_set_requires_grad(t2, true);
    lt_tensor *p = lt_binary(LT_BINARY_POW, t1, t2);
    lt_tensor *s = p ? lt_reduce(LT_REDUCE_SUM, p, NULL, 0, false, 0, NULL, 0) : NULL;
    CHECK(s && lt_backward(s, NULL, false) == LT_OK && same(t2->grad, VALS(0, 8 * log(2)), 2, 1e-12),
          "pow exponent grad at base 0");
    R(p); R(s); R(t1); R(t2);
  }
  static const int bs[] = {LT_BINARY_ADD, LT_BINARY_SUB, LT_BINARY_MUL, LT_BINARY_DIV,
                           LT_BINARY_POW, LT_BINARY_MAXIMUM, LT_BINARY_ATAN2};
  for (size_t k = 0; k < sizeof bs / sizeof bs[0]; k++)
    for (int rev = 0; rev < 2; rev++) {
      gc_ud u = {bs[k], 0.7, 0, 0, rev};
      char nm[64];
      snprintf(nm, sizeof nm, "%s scalar%s", lt_binary_name(bs[k]), rev ? " reversed" : "");
      CHECK(gradcheck(nm, f_binary_scalar, &u, &x, 1) == 0, "%s", nm);
    }
  {
    lt_tensor *in[3] = {x, xs, y};
    CHECK(gradcheck("where", f_where, NULL, in, 3) == 0, "where");
    CHECK(gradcheck("masked_fill", f_masked_fill, NULL, &x, 1) == 0, "masked_fill");
  }
  for (int k = 0; k < 8; k++) {
    gc_ud u = {k, 0, 0, 0, 0};
    lt_tensor *in[2] = {x, y};
    char nm[32];
    snprintf(nm, sizeof nm, "in-place chain %d", k);
    CHECK(gradcheck(nm, f_inplace, &u, in, 2) == 0, "%s", nm);
  }
  /* views */
  lt_tensor *x3 = gradcheck_input(SH(2, 3, 4), 3, -1, 1, 4);
  CHECK(gradcheck("view chain", f_view_chain, NULL, &x3, 1) == 0, "view chain");
  CHECK(gradcheck("view/squeeze", f_view_squeeze, NULL, &x, 1) == 0, "view/squeeze");
  lt_tensor *x31 = gradcheck_input(SH(2, 3, 4), 3, -1, 1, 5);
  CHECK(gradcheck("sum_to", f_sum_to, NULL, &x31, 1) == 0, "sum_to");
  /* reductions (dim < -100: all dims; extra < -100: one dim) */
  struct { int op; double p; int d0, d1, keep; lt_tensor *in; } rs[] = {
    {LT_REDUCE_SUM, 0, 1, -1000, 0, x3}, {LT_REDUCE_SUM, 0, 0, 2, 1, x3},
    {LT_REDUCE_MEAN, 0, -1000, 0, 0, x3}, {LT_REDUCE_MEAN, 0, 2, -1000, 1, x3},
    {LT_REDUCE_PROD, 0, 1, -1000, 0, x3}, {LT_REDUCE_PROD, 0, -1000, 0, 0, x},
    {LT_REDUCE_MAX, 0, 1, -1000, 0, x3}, {LT_REDUCE_MIN, 0, -1000, 0, 0, x3},
    {LT_REDUCE_MAX, 0, 0, 1, 1, x3}, {LT_REDUCE_VAR, 1, 2, -1000, 0, x3},
    {LT_REDUCE_VAR, 0, -1000, 0, 0, x3}, {LT_REDUCE_STD, 1, 0, 2, 0, x3},
    {LT_REDUCE_NORM, 2, 1, -1000, 0, x3}, {LT_REDUCE_NORM, 1, -1000, 0, 0, x3},
    {LT_REDUCE_NORM, INFINITY, 2, -1000, 0, x3}, {LT_REDUCE_NORM, 3, 2, -1000, 1, x3},
    {LT_REDUCE_LOGSUMEXP, 0, 1, -1000, 0, x3}, {LT_REDUCE_LOGSUMEXP, 0, -1000, 0, 0, x3},
  };
  for (size_t k = 0; k < sizeof rs / sizeof rs[0]; k++) {
    gc_ud u = {rs[k].op, rs[k].p, rs[k].keep, rs[k].d0, rs[k].d1};
    char nm[64];
    snprintf(nm, sizeof nm, "%s #%zu", lt_reduce_name(rs[k].op), k);
    CHECK(gradcheck(nm, f_reduce, &u, &rs[k].in, 1) == 0, "%s", nm);
  }
  {  /* prod with one zero and with two zeros in a row */
    lt_tensor *z = mk(VALS(0, 2, 3, 0, 0, 4), SH(2, 3), 2, LT_DTYPE_F64);
    gc_ud u = {LT_REDUCE_PROD, 0, 0, 1, -1000};
    CHECK(gradcheck("prod with zeros", f_reduce, &u, &z, 1) == 0, "prod with zeros");
    R(z);
  }
  {  /* max over all with ties splits evenly */
    lt_tensor *t = mk(VALS(3, 1, 3), SH(3), 1, LT_DTYPE_F64);
    lt_tensor_set_requires_grad(t, true);
    lt_tensor *m = lt_reduce(LT_REDUCE_MAX, t, NULL, 0, false, 0, NULL, 0);
    CHECK(m && lt_backward(m, NULL, false) == LT_OK && same(t->grad, VALS(0.5, 0, 0.5), 3, 0),
          "max ties");
    R(m); R(t);
  }
  /* linalg */
  lt_tensor *a23 = gradcheck_input(SH(2, 3), 2, -1, 1, 6), *b34 = gradcheck_input(SH(3, 4), 2, -1, 1, 7);
  lt_tensor *v3 = gradcheck_input(SH(3), 1, -1, 1, 8), *b32 = gradcheck_input(SH(3, 2), 2, -1, 1, 9);
  lt_tensor *a4 = gradcheck_input(SH(2, 1, 2, 3), 4, -1, 1, 10), *b4 = gradcheck_input(SH(3, 3, 2), 3, -1, 1, 11);
  struct { lt_tensor *a, *b; const char *nm; } mm[] = {
    {a23, b34, "mm"}, {v3, v3, "dot"}, {a23, v3, "mv"}, {v3, b34, "vm"}, {a4, b4, "batched"},
    {a4, b32, "fold"}, {v3, b4, "vector @ batch"}, {a4, v3, "batch @ vector"}};
  for (size_t k = 0; k < sizeof mm / sizeof mm[0]; k++) {
    lt_tensor *in[2] = {mm[k].a, mm[k].b};
    CHECK(gradcheck(mm[k].nm, f_matmul, NULL, in, 2) == 0, "matmul %s", mm[k].nm);
  }
  {
    lt_tensor *p = gradcheck_input(SH(4, 3), 2, -1, 1, 12);
    lt_tensor *in[2] = {b32, p};  /* (3,2)^T @ (4,3)^T = (2,3) @ (3,4) */
    CHECK(gradcheck("mm transposed", f_mm_t, NULL, in, 2) == 0, "mm with trans flags");
    R(p);
    lt_tensor *ba = gradcheck_input(SH(2, 2, 3), 3, -1, 1, 13), *bb = gradcheck_input(SH(2, 3, 2), 3, -1, 1, 14);
    lt_tensor *bin[2] = {ba, bb};
    CHECK(gradcheck("bmm", f_bmm, NULL, bin, 2) == 0, "bmm");
    R(ba); R(bb);
    lt_tensor *lx = gradcheck_input(SH(2, 2, 3), 3, -1, 1, 15), *lw = gradcheck_input(SH(4, 3), 2, -1, 1, 16);
    lt_tensor *lb = gradcheck_input(SH(4), 1, -1, 1, 17);
    lt_tensor *lin[3] = {lx, lw, lb};
    gc_ud u1 = {0, 0, 0, 0, 1}, u0 = {0, 0, 0, 0, 0};
    CHECK(gradcheck("linear", f_linear, &u1, lin, 3) == 0, "linear");
    CHECK(gradcheck("linear no bias", f_linear, &u0, lin, 2) == 0, "linear no bias");
    R(lx); R(lw); R(lb);
  }
  /* indexing */
  lt_tensor *i1 = mk(VALS(2, 0, 2, 1), SH(4), 1, LT_DTYPE_I64);
  lt_tensor *gi = mk(VALS(0, 2, 2, 1, 0, 0), SH(2, 3), 2, LT_DTYPE_I64);
  lt_tensor *si = mk(VALS(0, 2, 1, 2), SH(2, 2), 2, LT_DTYPE_I64);
  lt_tensor *src = gradcheck_input(SH(2, 3), 2, -1, 1, 18);
  lt_tensor *rows = gradcheck_input(SH(4, 3), 2, -1, 1, 19);
  {
    lt_tensor *in[2] = {x, i1};
    CHECK(gradcheck("index_select", f_index_select, NULL, in, 2) == 0, "index_select");
    lt_tensor *g2[2] = {x, gi};
    CHECK(gradcheck("gather", f_gather, NULL, g2, 2) == 0, "gather");
    lt_tensor *s3[3] = {x, si, src};
    gc_ud u0 = {0, 0, 0, 0, 0}, u1 = {0, 0, 0, 0, 1};
    CHECK(gradcheck("scatter", f_scatter, &u0, s3, 3) == 0, "scatter");
    CHECK(gradcheck("scatter add", f_scatter, &u1, s3, 3) == 0, "scatter add");
    CHECK(gradcheck("scatter_", f_scatter_, NULL, s3, 3) == 0, "scatter_");
    lt_tensor *ia[3] = {xs, i1, rows};
    lt_tensor *big = gradcheck_input(SH(3, 3), 2, -1, 1, 20);
    ia[0] = big;
    CHECK(gradcheck("index_add", f_index_add, NULL, ia, 3) == 0, "index_add");
    R(big);
    lt_tensor *c2[2] = {x, xs};
    gc_ud uc = {0, 0, 0, 0, 0}, us = {0, 0, 0, 0, 1};
    CHECK(gradcheck("cat", f_cat, &uc, c2, 2) == 0, "cat");
    CHECK(gradcheck("stack", f_cat, &us, c2, 2) == 0, "stack");
    for (int m = 0; m < 3; m++) {
      gc_ud up = {m, 0, 0, 0, 0};
      lt_tensor *px = gradcheck_input(SH(2, 3, 4), 3, -1, 1, 21);
      CHECK(gradcheck("pad", f_pad, &up, &px, 1) == 0, "pad mode %d", m);
      R(px);
    }
  }
  R(x); R(y); R(xs); R(x3); R(x31); R(a23); R(b34); R(v3); R(b32); R(a4); R(b4);
  R(i1); R(gi); R(si); R(src); R(rows);
}

/* ---------------------------------------------------------------- autograd rules */

static void test_autograd_rules(void) {
  lt_tensor *x = gradcheck_input(SH(3), 1, 0.5, 1, 30);
  lt_tensor_set_requires_grad(x, true);
  /* a saved input modified in place: backward must fail */
  lt_tensor *y = lt_binary_scalar(LT_BINARY_ADD, x, 1, false);
  lt_tensor *z = lt_binary(LT_BINARY_MUL, y, y);   /* saves y */
  CHECK(lt_binary_scalar_(LT_BINARY_MUL, y, 2) == LT_OK, "mul_ on a non-leaf");
  lt_tensor *s = lt_reduce(LT_REDUCE_SUM, z, NULL, 0, false, 0, NULL, 0);
  CHECK(s && lt_backward(s, NULL, false) != LT_OK && err_has("modified by an inplace operation"),
        "in-place modification detected");
  R(y); R(z); R(s);
  /* in place on a leaf that requires grad */
  CHECK(lt_unary_(LT_UNARY_EXP, x, NAN, NAN) == LT_ERR_AUTOGRAD, "in-place on a leaf");
  lt_set_grad_enabled(false);
  lt_tensor *xc = lt_clone(x);
  lt_set_grad_enabled(true);
  /* in place on a view with history */
  lt_tensor *e = lt_unary(LT_UNARY_EXP, x);
  lt_tensor *v = lt_narrow(e, 0, 0, 2);
  CHECK(lt_binary_scalar_(LT_BINARY_ADD, v, 1) == LT_ERR_AUTOGRAD &&
            err_has("in-place operation on a view of a tensor that requires grad"),
        "in-place on a view with history");
  lt_set_grad_enabled(false);
  CHECK(lt_binary_scalar_(LT_BINARY_ADD, v, 1) == LT_OK, "allowed under no_grad");
  lt_set_grad_enabled(true);
  R(v); R(e);
  /* rebase: y = 2x; y.exp_(); grad = 2 exp(2x) */
  lt_tensor *y2 = lt_binary_scalar(LT_BINARY_MUL, x, 2, false);
  CHECK(y2 && lt_unary_(LT_UNARY_EXP, y2, NAN, NAN) == LT_OK && y2->grad_fn &&
            strcmp(lt_node_name(y2->grad_fn), "ExpBackward") == 0,
        "in-place rebases the history");
  lt_tensor *s2 = lt_reduce(LT_REDUCE_SUM, y2, NULL, 0, false, 0, NULL, 0);
  double xv[3];
  lt_to_host(x, xv, LT_DTYPE_F64);
  CHECK(s2 && lt_backward(s2, NULL, true) == LT_OK &&
            same(x->grad, VALS(2 * exp(2 * xv[0]), 2 * exp(2 * xv[1]), 2 * exp(2 * xv[2])), 3, 1e-9),
        "gradient through the rebased in-place op");
  /* retain_graph: a second backward accumulates */
  CHECK(lt_backward(s2, NULL, false) == LT_OK &&
            same(x->grad, VALS(4 * exp(2 * xv[0]), 4 * exp(2 * xv[1]), 4 * exp(2 * xv[2])), 3, 1e-9),
        "retain_graph allows a second backward");
  CHECK(lt_backward(s2, NULL, false) != LT_OK && err_has("second time"),
        "a third backward without retain_graph fails");
  R(y2); R(s2); R(xc); R(x);
  /* integer inputs get no gradient and int ops record nothing */
  lt_tensor *i = mk(VALS(1, 2), SH(2), 1, LT_DTYPE_I64);
  lt_tensor *f = gradcheck_input(SH(2), 1, 0, 1, 31);
  lt_tensor_set_requires_grad(f, true);
  lt_tensor *p = lt_binary(LT_BINARY_MUL, f, i);
  lt_tensor *ps = p ? lt_reduce(LT_REDUCE_SUM, p, NULL, 0, false, 0, NULL, 0) : NULL;
  CHECK(ps && lt_backward(ps, NULL, false) == LT_OK && same(f->grad, VALS(1, 2), 2, 0) && !i->grad,
        "float * int: gradient for the float input only");
  lt_tensor *am = lt_reduce(LT_REDUCE_ARGMAX, f, NULL, 0, false, 0, NULL, 0);
  CHECK(am && !am->requires_grad, "argmax is not differentiable");
  R(i); R(f); R(p); R(ps); R(am);
}

int main(void) {
  test_views();
  test_elementwise();
  test_reduce();
  test_linalg();
  test_index();
  test_gradcheck();
  test_autograd_rules();
  CTEST_END();
}
