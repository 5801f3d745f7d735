/*
** autograd.c - define-by-run graph: nodes, saved tensors with version
** checks, the backward walk (one pass in C, reverse topological order by
** creation sequence), gradient accumulation into leaves, grad mode and
** user-defined (Lua) functions. Backward formulas live with their ops.
** No double backward: backward formulas run with grad mode off.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static _Thread_local bool grad_disabled;
static int64_t node_seq;

bool lt_grad_enabled(void) { return !grad_disabled; }
void lt_set_grad_enabled(bool on) { grad_disabled = !on; }

bool lt_any_requires_grad(lt_tensor *const *inputs, int n) {
  if (grad_disabled) return false;
  for (int i = 0; i < n; i++)
    if (inputs[i] && inputs[i]->requires_grad) return true;
  return false;
}

/* ---------------------------------------------------------------- nodes */

lt_node *lt_node_new(const char *name, lt_backward_fn fn, lt_tensor *const *inputs, int n_inputs,
                     int n_outputs) {
  if (!lt_any_requires_grad(inputs, n_inputs)) return NULL;
  lt_node *n = calloc(1, sizeof *n);
  if (!n) goto oom;
  n->refcount = 1;
  n->name = name;
  n->backward = fn;
  n->n_inputs = n_inputs;
  n->n_outputs = n_outputs < 1 ? 1 : n_outputs;
  n->seq = ++node_seq;
  if (n_inputs <= LT_NODE_MAX_INPUTS) {
    n->next = n->next_small;
    n->meta = n->meta_small;
  } else {
    n->next = calloc((size_t)n_inputs, sizeof *n->next);
    n->meta = calloc((size_t)n_inputs, sizeof *n->meta);
    if (!n->next || !n->meta) {
      free(n->next);
      free(n->meta);
      free(n);
      goto oom;
    }
  }
  if (n->n_outputs <= 2) n->gbuf = n->gbuf_small;
  else if (!(n->gbuf = calloc((size_t)n->n_outputs, sizeof *n->gbuf))) {
    n->n_outputs = 0;
    lt_node_release(n);
    goto oom;
  }
  for (int i = 0; i < n_inputs; i++) {
    lt_tensor *t = inputs[i];
    if (!t) continue;
    lt_meta *m = &n->meta[i];
    m->ndim = t->ndim;
    memcpy(m->shape, t->shape, sizeof m->shape);
    m->dtype = t->dtype;
    m->device = t->storage->device;
    if (!t->requires_grad) continue;
    if (t->grad_fn) {
      n->next[i].fn = t->grad_fn;
      n->next[i].output_nr = t->output_nr;
      lt_node_retain(t->grad_fn);
    } else {
      n->next[i].leaf = t;
      lt_tensor_retain(t);
    }
  }
  return n;
oom:
  lt_error(LT_ERR_MEMORY, "autograd: out of host memory creating a node");
  return NULL;
}

void lt_node_retain(lt_node *n) {
  if (n) n->refcount++;
}

static void node_free_saved(lt_node *n) {
  for (int i = 0; i < n->n_saved; i++) {
    lt_tensor_release(n->saved[i]);
    n->saved[i] = NULL;
  }
  if (n->ctx_free && n->ctx) n->ctx_free(n->ctx);
  n->ctx = NULL;
  n->ctx_free = NULL;
  if (n->destroy) n->destroy(n);
  n->destroy = NULL;
}

/* Releasing a long chain recursively could overflow the C stack, so nodes
** whose count drops to zero go on an explicit work list. */
void lt_node_release(lt_node *n) {
  if (!n || --n->refcount > 0) return;
  lt_node **stack = NULL;
  size_t len = 0, cap = 0;
  lt_node *cur = n;
  for (;;) {
    node_free_saved(cur);
    for (int i = 0; i < cur->n_inputs; i++) {
      lt_tensor_release(cur->next[i].leaf);
      lt_node *child = cur->next[i].fn;
      if (child && --child->refcount == 0) {
        if (len == cap) {
          size_t nc = cap ? cap * 2 : 16;
          lt_node **ns = realloc(stack, nc * sizeof *ns);
          if (!ns) { child->refcount = 1; continue; }  /* leak rather than crash */
          stack = ns;
          cap = nc;
        }
        stack[len++] = child;
      }
    }
    for (int k = 0; k < cur->n_outputs; k++)
      if (cur->gbuf) lt_tensor_release(cur->gbuf[k]);
    if (cur->retained) {
      for (int k = 0; k < cur->n_outputs; k++)
        if (cur->retained[k]) cur->retained[k]->retains_grad = false;
      free(cur->retained);
    }
    if (cur->gbuf && cur->gbuf != cur->gbuf_small) free(cur->gbuf);
    if (cur->next != cur->next_small) free(cur->next);
    if (cur->meta != cur->meta_small) free(cur->meta);
    free(cur);
    if (!len) break;
    cur = stack[--len];
  }
  free(stack);
}

void lt_node_save(lt_node *n, int slot, lt_tensor *t) {
  if (slot < 0 || slot >= LT_NODE_MAX_SAVED) return;
  lt_tensor_release(n->saved[slot]);
  n->saved[slot] = NULL;
  if (!t) return;
  /* A detached alias: saving an output must not create a cycle
  ** (output -> node -> output) and backward needs values only. */
  n->saved[slot] = lt_detach(t);
  n->saved_version[slot] = t->storage->version;
  if (slot >= n->n_saved) n->n_saved = slot + 1;
}

lt_tensor *lt_node_saved(lt_node *n, int slot) {
  if (n->released) {
    lt_error(LT_ERR_AUTOGRAD,
             "backward: trying to backward through the graph a second time (or directly "
             "access saved tensors after they have already been freed); pass "
             "{retain_graph = true} to the first backward");
    return NULL;
  }
  lt_tensor *t = n->saved[slot];
  if (!t) return NULL;
  if (t->storage->version != n->saved_version[slot]) {
    char b[128];
    lt_error(LT_ERR_AUTOGRAD,
             "backward: one of the tensors needed for gradient computation (shape %s, saved by "
             "%s) has been modified by an inplace operation: it is at version %llu, expected "
             "version %llu",
             lt_shape_str(t, b), n->name, (unsigned long long)t->storage->version,
             (unsigned long long)n->saved_version[slot]);
    return NULL;
  }
  return t;
}

void lt_node_set_output(lt_node *n, lt_tensor *out, int output_nr) {
  lt_node_retain(n);
  lt_node *old = out->grad_fn;
  if (old && out->retains_grad && old->retained) old->retained[out->output_nr] = NULL;
  out->retains_grad = false;
  out->grad_fn = n;
  out->output_nr = output_nr;
  out->requires_grad = true;
  lt_node_release(old);
}

lt_node *lt_record(const char *name, lt_backward_fn fn, lt_tensor *const *inputs, int n_inputs,
                   lt_tensor *out) {
  lt_node *n = lt_node_new(name, fn, inputs, n_inputs, 1);
  if (!n) return NULL;
  lt_node_set_output(n, out, 0);
  lt_node_release(n);  /* out owns it now */
  return n;
}

const char *lt_node_name(const lt_node *n) { return n ? n->name : NULL; }

/* ---------------------------------------------------------------- flags on tensors */

bool lt_is_leaf(const lt_tensor *t) { return t->grad_fn == NULL; }

lt_status lt_tensor_set_requires_grad(lt_tensor *t, bool on) {
  if (t->grad_fn) {
    if (on) return LT_OK;
    return lt_error(LT_ERR_AUTOGRAD,
                    "requires_grad_: you can only change requires_grad flags of leaf tensors; "
                    "use detach() to get a tensor without history");
  }
  if (on && !lt_dtype_is_float(t->dtype))
    return lt_error(LT_ERR_DTYPE,
                    "requires_grad_: only floating point tensors can require gradients (got %s)",
                    lt_dtype_name(t->dtype));
  t->requires_grad = on;
  return LT_OK;
}

lt_status lt_retain_grad(lt_tensor *t) {
  if (!t->requires_grad)
    return lt_error(LT_ERR_AUTOGRAD, "retain_grad: can't retain_grad on a tensor that has "
                                     "requires_grad = false");
  if (!t->grad_fn || t->retains_grad) return LT_OK;  /* leaves keep grads anyway */
  lt_node *n = t->grad_fn;
  if (!n->retained) {
    n->retained = calloc((size_t)n->n_outputs, sizeof *n->retained);
    if (!n->retained) return lt_error(LT_ERR_MEMORY, "retain_grad: out of host memory");
  }
  n->retained[t->output_nr] = t;
  t->retains_grad = true;
  return LT_OK;
}

/* ---------------------------------------------------------------- accumulation */

static lt_status check_grad_meta(const char *what, lt_tensor *g, int ndim, const int64_t *shape) {
  if (g->ndim == ndim && memcmp(g->shape, shape, sizeof(int64_t) * (size_t)ndim) == 0)
    return LT_OK;
  char b1[128], b2[128];
  return lt_error(LT_ERR_SHAPE, "backward: %s got a gradient of shape %s, expected %s", what,
                  lt_shape_str(g, b1), lt_shape_str_raw(shape, ndim, b2));
}

lt_status lt_accumulate_grad(lt_tensor *t, lt_tensor *g) {
  if (check_grad_meta("accumulate", g, t->ndim, t->shape)) return lt_errcode();
  bool saved = lt_grad_enabled();
  lt_set_grad_enabled(false);
  lt_status st = LT_OK;
  lt_tensor *gg = NULL;
  if (g->dtype != t->dtype || !lt_device_eq(g->storage->device, t->storage->device)) {
    gg = lt_to(g, t->dtype, t->storage->device);
    if (!gg) { st = lt_errcode(); goto done; }
  } else {
    gg = g;
    lt_tensor_retain(gg);
  }
  if (!t->grad) {
    /* Own a private contiguous copy unless nobody else can see gg: every
    ** caller holds one reference to g, and the retain above adds ours, so
    ** an unshared g has two (a converted gg is ours alone). Adopting it
    ** saves a copy of every parameter's gradient at every step. */
    int own_refs = gg == g ? 2 : 1;
    if (gg->refcount > own_refs || gg->storage->refcount > 1 || !lt_is_contiguous(gg)) {
      t->grad = lt_clone(gg);
      if (!t->grad) st = lt_errcode();
    } else {
      t->grad = gg;
      lt_tensor_retain(gg);
    }
  } else if (!lt_is_contiguous(t->grad)) {
    /* a user-assigned grad may be expanded (stride 0) or strided: adding in
    ** place would write overlapping memory, so make a fresh sum */
    lt_tensor *sum = lt_binary(LT_BINARY_ADD, t->grad, gg);
    if (!sum) {
      st = lt_errcode();
    } else {
      lt_tensor_release(t->grad);
      t->grad = sum;
    }
  } else {
    st = lt_binary_(LT_BINARY_ADD, t->grad, gg);
  }
done:
  lt_tensor_release(gg);
  lt_set_grad_enabled(saved);
  return st;
}

/* ---------------------------------------------------------------- the walk */

typedef struct {
  lt_node **v;
  size_t len, cap;
} node_vec;

static bool vec_push(node_vec *a, lt_node *n) {
  if (a->len == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 64;
    lt_node **nv = realloc(a->v, nc * sizeof *nv);
    if (!nv) return false;
    a->v = nv;
    a->cap = nc;
  }
  a->v[a->len++] = n;
  return true;
}

/* max-heap on seq: the most recently created ready node runs first */
static void heap_push(node_vec *h, lt_node *n) {
  size_t i = h->len - 1;
  (void)n;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (h->v[p]->seq >= h->v[i]->seq) break;
    lt_node *tmp = h->v[p];
    h->v[p] = h->v[i];
    h->v[i] = tmp;
    i = p;
  }
}

static lt_node *heap_pop(node_vec *h) {
  lt_node *top = h->v[0];
  h->v[0] = h->v[--h->len];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < h->len && h->v[l]->seq > h->v[m]->seq) m = l;
    if (r < h->len && h->v[r]->seq > h->v[m]->seq) m = r;
    if (m == i) break;
    lt_node *tmp = h->v[m];
    h->v[m] = h->v[i];
    h->v[i] = tmp;
    i = m;
  }
  return top;
}

static lt_status add_into(lt_tensor **slot, lt_tensor *g) {
  if (!*slot) {
    lt_tensor_retain(g);
    *slot = g;
    return LT_OK;
  }
  lt_tensor *sum = lt_binary(LT_BINARY_ADD, *slot, g);
  if (!sum) return lt_errcode();
  lt_tensor_release(*slot);
  *slot = sum;
  return LT_OK;
}

lt_status lt_backward(lt_tensor *root, lt_tensor *grad, bool retain_graph) {
  if (!root->requires_grad)
    return lt_error(LT_ERR_AUTOGRAD, "backward: element 0 of tensors does not require grad and "
                                     "does not have a grad_fn");
  lt_tensor *g0 = NULL;
  if (grad) {
    if (check_grad_meta("the root", grad, root->ndim, root->shape)) return lt_errcode();
    g0 = grad;
    lt_tensor_retain(g0);
  } else {
    if (lt_numel(root) != 1) {
      char b[128];
      return lt_error(LT_ERR_AUTOGRAD,
                      "backward: grad can be implicitly created only for scalar outputs (got "
                      "shape %s); pass a gradient tensor",
                      lt_shape_str(root, b));
    }
    g0 = lt_ones(root->shape, root->ndim, root->dtype, root->storage->device);
    if (!g0) return lt_errcode();
  }
  if (!root->grad_fn) {  /* a leaf */
    lt_status st = lt_accumulate_grad(root, g0);
    lt_tensor_release(g0);
    return st;
  }

  bool saved_mode = lt_grad_enabled();
  lt_set_grad_enabled(false);
  int saved_autocast = lt_autocast_dtype();  /* backward runs in the forward's dtypes */
  lt_set_autocast(-1);
  lt_status st = LT_OK;
  node_vec all = {0}, stack = {0}, ready = {0};

  /* 1. collect the graph and count dependencies */
  lt_node *r = root->grad_fn;
  r->visited = 1;
  if (!vec_push(&all, r) || !vec_push(&stack, r)) goto oom;
  while (stack.len) {
    lt_node *n = stack.v[--stack.len];
    for (int i = 0; i < n->n_inputs; i++) {
      lt_node *c = n->next[i].fn;
      if (!c) continue;
      c->dependencies++;
      if (!c->visited) {
        c->visited = 1;
        if (!vec_push(&all, c) || !vec_push(&stack, c)) goto oom;
      }
    }
  }

  /* 2. run nodes whose dependencies are satisfied, newest first */
  r->gbuf[root->output_nr] = g0;
  g0 = NULL;
  if (!vec_push(&ready, r)) goto oom;
  while (ready.len) {
    lt_node *n = heap_pop(&ready);
    if ((st = lt_check_interrupt())) break;
    lt_tensor *gin_small[LT_NODE_MAX_INPUTS] = {0};
    lt_tensor **gin = gin_small;
    if (n->n_inputs > LT_NODE_MAX_INPUTS) {
      gin = calloc((size_t)n->n_inputs, sizeof *gin);
      if (!gin) goto oom;
    }
    /* retained non-leaf grads */
    if (n->retained)
      for (int k = 0; k < n->n_outputs; k++)
        if (n->retained[k] && n->gbuf[k] && !st)
          st = lt_accumulate_grad(n->retained[k], n->gbuf[k]);
    bool any_grad = false;
    for (int k = 0; k < n->n_outputs; k++) any_grad |= n->gbuf[k] != NULL;
    if (!st && any_grad) {
      if (n->released) {
        st = lt_node_saved(n, 0) ? LT_OK : lt_errcode();  /* sets the second-backward error */
        if (!st) st = lt_error(LT_ERR_AUTOGRAD, "backward: graph already freed");
      } else {
        st = n->backward(n, n->gbuf, gin);
      }
    }
    for (int k = 0; k < n->n_outputs; k++) {
      lt_tensor_release(n->gbuf[k]);
      n->gbuf[k] = NULL;
    }
    for (int i = 0; i < n->n_inputs && !st; i++) {
      lt_tensor *g = gin[i];
      if (!g || !lt_node_needs_grad(n, i)) continue;
      const lt_meta *m = &n->meta[i];
      char what[96];
      snprintf(what, sizeof what, "%s (input %d)", n->name, i + 1);
      if ((st = check_grad_meta(what, g, m->ndim, m->shape))) break;
      if (n->next[i].leaf) {
        st = lt_accumulate_grad(n->next[i].leaf, g);
      } else {
        lt_node *c = n->next[i].fn;
        st = add_into(&c->gbuf[n->next[i].output_nr], g);
      }
    }
    for (int i = 0; i < n->n_inputs; i++) {
      lt_tensor_release(gin[i]);
      lt_node *c = n->next[i].fn;
      if (c && --c->dependencies == 0 && !st) {
        if (!vec_push(&ready, c)) { st = lt_error(LT_ERR_MEMORY, "backward: out of memory"); }
        else heap_push(&ready, c);
      }
    }
    if (gin != gin_small) free(gin);
    if (!retain_graph) {
      node_free_saved(n);
      n->released = true;
    }
    if (st) break;
  }
  goto cleanup;
oom:
  st = lt_error(LT_ERR_MEMORY, "backward: out of host memory");
cleanup:
  for (size_t i = 0; i < all.len; i++) {
    lt_node *n = all.v[i];
    n->visited = 0;
    n->dependencies = 0;
    for (int k = 0; k < n->n_outputs; k++) {
      lt_tensor_release(n->gbuf[k]);
      n->gbuf[k] = NULL;
    }
  }
  lt_tensor_release(g0);
  free(all.v);
  free(stack.v);
  free(ready.v);
  lt_set_grad_enabled(saved_mode);
  lt_set_autocast(saved_autocast);
  return st;
}

/* ---------------------------------------------------------------- custom functions */

typedef struct {
  lt_custom_backward_fn fn;
  void *ctx;
  void (*ctx_free)(void *ctx);
} custom_ctx;

static void custom_ctx_free(void *p) {
  custom_ctx *c = p;
  if (c->ctx_free) c->ctx_free(c->ctx);
  free(c);
}

static lt_status custom_backward(lt_node *n, lt_tensor **gout, lt_tensor **gin) {
  custom_ctx *c = n->ctx;
  lt_status st = c->fn(c->ctx, gout, n->n_outputs, gin, n->n_inputs);
  if (st) return st;
  /* Validate what user code returned: shapes and devices/dtypes. */
  for (int i = 0; i < n->n_inputs; i++) {
    if (!gin[i]) continue;
    if (!lt_node_needs_grad(n, i)) {
      lt_tensor_release(gin[i]);
      gin[i] = NULL;
      continue;
    }
    const lt_meta *m = &n->meta[i];
    if (gin[i]->ndim != m->ndim ||
        memcmp(gin[i]->shape, m->shape, sizeof(int64_t) * (size_t)m->ndim) != 0) {
      char b1[128], b2[128];
      return lt_error(LT_ERR_SHAPE,
                      "%s.backward: gradient %d has shape %s but input %d has shape %s", n->name,
                      i + 1, lt_shape_str(gin[i], b1), i + 1,
                      lt_shape_str_raw(m->shape, m->ndim, b2));
    }
    if (gin[i]->dtype != m->dtype || !lt_device_eq(gin[i]->storage->device, m->device)) {
      lt_tensor *c2 = lt_to(gin[i], m->dtype, m->device);
      if (!c2) return lt_errcode();
      lt_tensor_release(gin[i]);
      gin[i] = c2;
    }
  }
  return LT_OK;
}

lt_status lt_custom_function_attach(const char *name, lt_tensor **inputs, int n_inputs,
                                    lt_tensor **outputs, int n_outputs,
                                    lt_custom_backward_fn fn, void *ctx,
                                    void (*ctx_free)(void *ctx)) {
  lt_clearerr();
  lt_node *n = lt_node_new(name, custom_backward, inputs, n_inputs, n_outputs);
  if (!n) {
    if (ctx_free) ctx_free(ctx);
    return lt_errcode() == LT_ERR_MEMORY ? LT_ERR_MEMORY : LT_OK;
  }
  custom_ctx *c = malloc(sizeof *c);
  if (!c) {
    if (ctx_free) ctx_free(ctx);
    lt_node_release(n);
    return lt_error(LT_ERR_MEMORY, "autograd.Function: out of host memory");
  }
  c->fn = fn;
  c->ctx = ctx;
  c->ctx_free = ctx_free;
  n->ctx = c;
  n->ctx_free = custom_ctx_free;
  for (int k = 0; k < n_outputs; k++)
    if (outputs[k] && lt_dtype_is_float(outputs[k]->dtype)) lt_node_set_output(n, outputs[k], k);
  lt_node_release(n);
  return LT_OK;
}
