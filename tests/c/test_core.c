/*
** test_core.c - the tensor core and the autograd walk: refcounts, views of
** storage, copies across layouts and dtypes, backward through shared
** subgraphs, accumulation, retain_graph, version checks, custom functions.
*/
#include <stdlib.h>
#include <string.h>

#include "ctest.h"
#include "internal.h"

static lt_tensor *vec(const double *v, int64_t n) {
  return lt_from_data(v, LT_DTYPE_F64, &n, 1, LT_DTYPE_F64, lt_cpu());
}

static int calls;
static lt_status twice_backward(void *ctx, lt_tensor **gout, int nout, lt_tensor **gin, int nin) {
  (void)ctx; (void)nout; (void)nin;
  calls++;
  gin[0] = lt_binary_scalar(LT_BINARY_MUL, gout[0], 2.0, false);
  return gin[0] ? LT_OK : lt_errcode();
}

int main(void) {
  double xs[3] = {1, 2, 3};
  lt_tensor *x = vec(xs, 3);
  CHECK(x && x->refcount == 1, "created");
  CHECK(lt_tensor_set_requires_grad(x, true) == LT_OK, "requires_grad");

  /* y = sum(exp(x) * x): dy/dx = exp(x) * (x + 1) */
  lt_tensor *e = lt_unary(LT_UNARY_EXP, x);
  lt_tensor *p = lt_binary(LT_BINARY_MUL, e, x);
  lt_tensor *s = lt_reduce(LT_REDUCE_SUM, p, NULL, 0, false, 0, NULL, 0);
  CHECK(s && s->grad_fn, "has history");
  CHECK(lt_backward(s, NULL, true) == LT_OK, "backward");
  for (int i = 0; i < 3; i++) {
    double g;
    lt_get_flat(x->grad, i, &g);
    CHECK_NEAR(g, exp(xs[i]) * (xs[i] + 1), 1e-12);
  }
  /* retained graph: a second backward accumulates */
  CHECK(lt_backward(s, NULL, false) == LT_OK, "second backward");
  double g0;
  lt_get_flat(x->grad, 0, &g0);
  CHECK_NEAR(g0, 2 * exp(1.0) * 2, 1e-12);
  /* a third one fails: the graph is freed */
  CHECK(lt_backward(s, NULL, false) != LT_OK, "third backward must fail");
  CHECK(strstr(lt_errmsg(), "second time") != NULL, "message: %s", lt_errmsg());
  lt_tensor_release(s); lt_tensor_release(p); lt_tensor_release(e);

  /* in-place change of a saved tensor is caught */
  lt_tensor *y = lt_binary_scalar(LT_BINARY_MUL, x, 1.0, false);
  lt_tensor *z = lt_unary(LT_UNARY_EXP, y);        /* saves its output */
  lt_tensor *w = lt_reduce(LT_REDUCE_SUM, z, NULL, 0, false, 0, NULL, 0);
  lt_set_grad_enabled(false);
  lt_binary_scalar_(LT_BINARY_ADD, z, 1.0);
  lt_set_grad_enabled(true);
  CHECK(lt_backward(w, NULL, false) != LT_OK, "modified saved tensor");
  CHECK(strstr(lt_errmsg(), "inplace") != NULL, "message: %s", lt_errmsg());
  lt_tensor_release(w); lt_tensor_release(z); lt_tensor_release(y);

  /* leaf in-place under grad mode is refused */
  CHECK(lt_binary_scalar_(LT_BINARY_ADD, x, 1.0) != LT_OK, "leaf in-place");

  /* diamond: x used twice through different paths, one shared node */
  lt_tensor_release(x->grad); x->grad = NULL;
  lt_tensor *a = lt_binary_scalar(LT_BINARY_MUL, x, 3.0, false);
  lt_tensor *b1 = lt_binary(LT_BINARY_MUL, a, a);   /* 9x^2 */
  lt_tensor *b2 = lt_binary(LT_BINARY_ADD, a, x);   /* 4x */
  lt_tensor *c = lt_binary(LT_BINARY_ADD, b1, b2);
  lt_tensor *sc = lt_reduce(LT_REDUCE_SUM, c, NULL, 0, false, 0, NULL, 0);
  CHECK(lt_backward(sc, NULL, false) == LT_OK, "diamond backward");
  for (int i = 0; i < 3; i++) {
    double g;
    lt_get_flat(x->grad, i, &g);
    CHECK_NEAR(g, 18 * xs[i] + 4, 1e-12);
  }
  lt_tensor_release(sc); lt_tensor_release(c); lt_tensor_release(b2);
  lt_tensor_release(b1); lt_tensor_release(a);

  /* custom function: forward computed detached, backward from C */
  lt_tensor_release(x->grad); x->grad = NULL;
  lt_set_grad_enabled(false);
  lt_tensor *out = lt_binary_scalar(LT_BINARY_MUL, x, 2.0, false);
  lt_set_grad_enabled(true);
  CHECK(out && !out->requires_grad, "detached forward");
  CHECK(lt_custom_function_attach("TwiceBackward", &x, 1, &out, 1, twice_backward, NULL, NULL) ==
            LT_OK, "attach");
  lt_tensor *so = lt_reduce(LT_REDUCE_SUM, out, NULL, 0, false, 0, NULL, 0);
  CHECK(lt_backward(so, NULL, false) == LT_OK, "custom backward");
  CHECK(calls == 1, "callback ran once");
  lt_get_flat(x->grad, 2, &g0);
  CHECK_NEAR(g0, 2.0, 0);
  lt_tensor_release(so); lt_tensor_release(out);

  /* copies across dtypes and layouts */
  int64_t shp[2] = {2, 3};
  double m[6] = {1, 2, 3, 4, 5, 6};
  lt_tensor *mat = lt_from_data(m, LT_DTYPE_F64, shp, 2, LT_DTYPE_F32, lt_cpu());
  lt_tensor *mt = lt_transpose(mat, 0, 1);
  CHECK(mt && !lt_is_contiguous(mt), "transpose is a view");
  lt_tensor *mc = lt_contiguous(mt);
  double v;
  lt_get_flat(mc, 1, &v);
  CHECK_NEAR(v, 4, 0);
  int32_t host[6];
  CHECK(lt_to_host(mt, host, LT_DTYPE_I32) == LT_OK, "to_host");
  CHECK(host[0] == 1 && host[1] == 4 && host[5] == 6, "to_host order %d %d %d", host[0], host[1], host[5]);
  CHECK(mat->storage->refcount == 2, "view shares storage");
  lt_tensor_release(mc); lt_tensor_release(mt);
  CHECK(mat->storage->refcount == 1, "view released");
  lt_tensor_release(mat);

  /* errors */
  int64_t bad[1] = {-1};
  CHECK(lt_zeros(bad, 1, LT_DTYPE_F32, lt_cpu()) == NULL, "negative dim");
  CHECK(strstr(lt_errmsg(), "negative dimension") != NULL, "msg %s", lt_errmsg());
  lt_device d;
  CHECK(lt_device_parse("gpu", &d) != LT_OK, "bad device");
  CHECK(lt_device_parse("cuda:1", &d) == LT_OK && d.index == 1, "cuda:1");
  lt_tensor_release(x);
  CTEST_END();
}
