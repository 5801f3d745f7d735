/*
** internal.h - what the engine's own files share and nothing outside sees:
** the autograd node layout and its helpers, tensor/view helpers for op
** front-ends, and checking helpers that write uniform messages.
** Not for bindings/ or host/ (they use luatrain.h only).
*/
#ifndef LT_INTERNAL_H
#define LT_INTERNAL_H

#include "backend.h"
#include "luatrain.h"

/* ---------------------------------------------------------------- autograd nodes */

#define LT_NODE_MAX_SAVED 8
#define LT_NODE_MAX_INPUTS 4   /* more inputs (cat, stack, custom) use `extra_next` */

typedef struct {
  lt_node *fn;      /* producer of the input (NULL for a leaf or no-grad input) */
  lt_tensor *leaf;  /* leaf that requires grad (retained), else NULL */
  int output_nr;    /* which output of fn */
} lt_edge;

typedef struct {
  int ndim;
  int64_t shape[LT_MAX_DIMS];
  lt_dtype dtype;
  lt_device device;
} lt_meta;

/*
** backward(n, gout, gin): gout[k] is the gradient w.r.t. output k (never
** NULL for a single-output node; may be NULL for unused outputs of
** multi-output nodes). It fills gin[i] with a NEW reference (or NULL) for
** each input i with lt_node_needs_grad(n, i). Gradients must have the
** input's shape (use lt_sum_to for broadcasting) and dtype/device.
** It runs with grad mode off. Return LT_OK or an error code set through
** lt_error.
*/
typedef lt_status (*lt_backward_fn)(lt_node *n, lt_tensor **gout, lt_tensor **gin);

struct lt_node {
  int refcount;
  const char *name;            /* "MulBackward" */
  lt_backward_fn backward;
  void (*destroy)(lt_node *n); /* optional: frees ctx-like fields */
  int n_inputs;
  lt_edge next_small[LT_NODE_MAX_INPUTS];
  lt_edge *next;               /* points to next_small or a heap array */
  lt_meta meta_small[LT_NODE_MAX_INPUTS];
  lt_meta *meta;               /* shape/dtype/device of each input */
  int n_outputs;
  int n_saved;
  lt_tensor *saved[LT_NODE_MAX_SAVED];
  uint64_t saved_version[LT_NODE_MAX_SAVED];
  bool released;               /* graph freed after backward */
  /* op parameters, free for each op to use */
  double d[4];
  int64_t i[2 * LT_MAX_DIMS + 8];
  void *ctx;
  void (*ctx_free)(void *ctx);
  /* bookkeeping for the backward walk */
  int dependencies;
  int visited;
  int64_t seq;                 /* creation order, for deterministic walks */
  lt_tensor *gbuf_small[2];    /* gradients arriving for each output */
  lt_tensor **gbuf;
  lt_tensor **retained;        /* weak refs to outputs with retain_grad, or NULL */
};

/* True when grad mode is on and one of inputs (NULL entries allowed)
** requires grad. */
bool lt_any_requires_grad(lt_tensor *const *inputs, int n);

/* Creates a node for an op with these inputs (NULL entries allowed, they
** get no gradient), recording their meta. Returns NULL WITHOUT an error
** when no input requires grad or grad mode is off; the caller then skips
** recording. On allocation failure returns NULL with an error set (check
** lt_errcode() != LT_OK only if you care; front-ends usually call
** lt_any_requires_grad first). */
lt_node *lt_node_new(const char *name, lt_backward_fn fn, lt_tensor *const *inputs,
                     int n_inputs, int n_outputs);
void lt_node_retain(lt_node *n);
void lt_node_release(lt_node *n);
/* Saves t (retained) in slot; its storage version is checked on use. */
void lt_node_save(lt_node *n, int slot, lt_tensor *t);
/* Returns the saved tensor (borrowed), or NULL with LT_ERR_AUTOGRAD when it
** was modified in place since it was saved, or the graph was freed. */
lt_tensor *lt_node_saved(lt_node *n, int slot);
/* Makes `out` an output of n: out->grad_fn = n (retained), requires_grad. */
void lt_node_set_output(lt_node *n, lt_tensor *out, int output_nr);
static inline bool lt_node_needs_grad(const lt_node *n, int i) {
  return n->next[i].fn != NULL || n->next[i].leaf != NULL;
}

/* Convenience: the whole "maybe record a node" step for single-output ops.
** If recording is needed, makes the node, saves nothing, sets out's grad_fn
** and returns the node (borrowed: owned by out) so the caller can save
** tensors and fill d[]/i[]; else returns NULL. On failure (allocation)
** returns NULL and sets *st. */
lt_node *lt_record(const char *name, lt_backward_fn fn, lt_tensor *const *inputs, int n_inputs,
                   lt_tensor *out);

/* ---------------------------------------------------------------- tensors and views */

/* New tensor with fresh storage (uninitialised), contiguous. */
lt_tensor *lt_tensor_alloc(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev);
/* New tensor header sharing t's storage with the given geometry (a view);
** no autograd recorded. */
lt_tensor *lt_tensor_view_of(lt_tensor *t, const int64_t *shape, const int64_t *stride,
                             int ndim, int64_t offset);
/* The kernel view of t. */
lt_view lt_view_of(const lt_tensor *t);
/* The kernel view of t broadcast to shape (stride 0 on broadcast dims);
** the caller has checked broadcastability. */
lt_view lt_view_broadcast(const lt_tensor *t, const int64_t *shape, int ndim);
/* Backend for t's device, or NULL with LT_ERR_DEVICE naming `op`. */
const lt_backend *lt_backend_of(const char *op, const lt_tensor *t);
/* Error helper for a NULL kernel entry: "op: not implemented on cuda". */
lt_status lt_err_not_impl(const char *op, lt_device dev);

/* Checks: each returns LT_OK or sets a message naming op and argument. */
lt_status lt_check_same_device(const char *op, const lt_tensor *a, const char *aname,
                               const lt_tensor *b, const char *bname);
lt_status lt_check_float(const char *op, const lt_tensor *a, const char *aname);
lt_status lt_check_dtype(const char *op, const lt_tensor *a, const char *aname, lt_dtype dt);
lt_status lt_check_dim(const char *op, const lt_tensor *a, const char *aname, int ndim_min,
                       int ndim_max);
/* Normalises dim (negative from the end) into [0, ndim); error if out of range. */
lt_status lt_norm_dim(const char *op, int *dim, int ndim);

/* In-place write bookkeeping: checks the autograd rules for writing into t
** (leaf requiring grad under grad mode -> error) and bumps the version. */
lt_status lt_prepare_inplace(const char *op, lt_tensor *t);
static inline void lt_bump_version(lt_tensor *t) { t->storage->version++; }

/* Casts t to dtype dt (new ref; t itself retained when already dt).
** Not recorded by autograd (use lt_to for that). */
lt_tensor *lt_cast_nograd(lt_tensor *t, lt_dtype dt);

/* ---------------------------------------------------------------- misc */

/* Poll the interrupt flag: returns LT_ERR_INTERRUPT with a message. */
lt_status lt_check_interrupt(void);

/* Generator for device type: the CPU and CUDA streams are separate states
** seeded together by lt_manual_seed. Returns the state to use and advances
** it by ceil(n/4) blocks. */
lt_philox_state lt_rng_take(lt_device dev, int64_t n);

/* Register a tensor as released-on-error temp: small RAII-ish helper for
** front-ends: lt_tensor *tmp[4] = {0}; ... lt_release_all(tmp, 4); */
static inline void lt_release_all(lt_tensor **ts, int n) {
  for (int k = 0; k < n; k++) { lt_tensor_release(ts[k]); ts[k] = NULL; }
}

#endif
