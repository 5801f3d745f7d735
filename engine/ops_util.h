/*
** ops_util.h - small helpers shared by the op front-ends (engine/ops_*.c):
** shaping a gradient to its input's meta (unbroadcast + dtype), shape
** equality. Static inline, engine-internal; no kernels, no autograd policy.
*/
#ifndef LT_OPS_UTIL_H
#define LT_OPS_UTIL_H

#include <string.h>
#include "internal.h"

static inline bool lt_shape_eq(const int64_t *a, int na, const int64_t *b, int nb) {
  if (na != nb) return false;
  for (int d = 0; d < na; d++)
    if (a[d] != b[d]) return false;
  return true;
}

static inline int64_t lt_shape_numel(const int64_t *s, int n) {
  int64_t k = 1;
  for (int d = 0; d < n; d++) k *= s[d];
  return k;
}

/* Takes ownership of g: sums it down to input i's shape and casts it to its
** dtype. Returns a new reference, or NULL (error set; g released). */
static inline lt_tensor *lt_grad_for_input(lt_node *n, int i, lt_tensor *g) {
  if (!g) return NULL;
  const lt_meta *m = &n->meta[i];
  if (!lt_shape_eq(g->shape, g->ndim, m->shape, m->ndim)) {
    lt_tensor *s = lt_sum_to(g, m->shape, m->ndim);
    lt_tensor_release(g);
    if (!s) return NULL;
    g = s;
  }
  if (g->dtype != m->dtype) {
    lt_tensor *c = lt_cast_nograd(g, m->dtype);
    lt_tensor_release(g);
    g = c;
  }
  return g;
}

/* A bag of temporaries for backward formulas: keep() registers a result
** (NULL marks the bag failed and keeps the first error message); done()
** releases everything. Arguments that are NULL short-circuit to NULL. */
typedef struct {
  lt_tensor *t[32];
  int n;
  bool failed;
} lt_arena;

static inline lt_tensor *lt_keep(lt_arena *ar, lt_tensor *t) {
  if (!t || ar->n >= 32) {
    if (t) lt_tensor_release(t);
    ar->failed = true;
    return NULL;
  }
  ar->t[ar->n++] = t;
  return t;
}
static inline void lt_arena_done(lt_arena *ar) {
  for (int k = 0; k < ar->n; k++) lt_tensor_release(ar->t[k]);
  ar->n = 0;
}
/* New reference to t (NULL-safe). */
static inline lt_tensor *lt_ref(lt_tensor *t) {
  lt_tensor_retain(t);
  return t;
}

#endif
