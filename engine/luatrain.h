/*
** luatrain.h - the whole public surface of the luatrain engine (no Lua).
** Tensors with refcounted storage, dtypes, devices, define-by-run autograd
** and the op front-ends. The engine never exits or longjmps: functions that
** can fail return NULL (or a non-zero lt_status) and keep a message that
** lt_errmsg() returns, naming the op, the argument and the shapes.
**
** Tutorial:
**   lt_tensor *a = lt_randn((int64_t[]){2, 3}, 2, LT_DTYPE_F32, lt_cpu());
**   lt_tensor_set_requires_grad(a, true);
**   lt_tensor *b = lt_unary(LT_UNARY_EXP, a);          // records a node
**   lt_tensor *s = lt_reduce(LT_REDUCE_SUM, b, NULL, 0, false, 0, NULL);
**   if (!s || lt_backward(s, NULL, false)) puts(lt_errmsg());
**   ... a->grad now holds exp(a) ...
**   lt_tensor_release(s); lt_tensor_release(b); lt_tensor_release(a);
**
** Conventions
** - Every function returning lt_tensor* returns a NEW reference owned by the
**   caller (release it with lt_tensor_release). Tensor arguments are
**   borrowed. NULL means error; see lt_errmsg().
** - Dimensions are 0-based here (the bindings translate Lua's 1-based ones).
**   Index tensors (index_select, gather, scatter, embedding, targets) are
**   int64 and their values are shifted by `base`: an element v denotes
**   position v - base (the bindings pass base = 1). Index results (argmax,
**   max indices) are returned with `base` added.
** - Ops record autograd nodes when grad mode is on and an input requires
**   grad. Backward formulas are written with these same front-ends, so a
**   backend only supplies forward kernels plus the few *_backward kernels of
**   backend.h.
*/
#ifndef LUATRAIN_H
#define LUATRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LT_VERSION "0.1.0"
#define LT_MAX_DIMS 8

/* ---------------------------------------------------------------- errors */

typedef enum {
  LT_OK = 0,
  LT_ERR_ARG,       /* bad argument value / option */
  LT_ERR_SHAPE,     /* incompatible shapes */
  LT_ERR_DTYPE,     /* unsupported or mismatched dtype */
  LT_ERR_DEVICE,    /* mixed devices, no such device, op missing on device */
  LT_ERR_INDEX,     /* index or dim out of range */
  LT_ERR_MEMORY,    /* allocation failed (host or device) */
  LT_ERR_IO,        /* file could not be opened/read/written */
  LT_ERR_FORMAT,    /* corrupt or unsupported file content */
  LT_ERR_AUTOGRAD,  /* autograd misuse (in-place on saved tensor, ...) */
  LT_ERR_BACKEND,   /* a backend (CUDA, BLAS) call failed */
  LT_ERR_INTERRUPT  /* interrupted (SIGINT) */
} lt_status;

/* Sets the thread's error (printf-style) and returns `code`. */
lt_status lt_error(lt_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
lt_status lt_errcode(void);   /* status of the last error */
const char *lt_errmsg(void);  /* message of the last error ("" if none) */
void lt_clearerr(void);

/* ---------------------------------------------------------------- dtypes */

typedef enum {
  LT_DTYPE_F32 = 0,
  LT_DTYPE_F64,
  LT_DTYPE_BF16,
  LT_DTYPE_F16,
  LT_DTYPE_I64,
  LT_DTYPE_I32,
  LT_DTYPE_U8,
  LT_DTYPE_BOOL,
  LT_DTYPE_COUNT
} lt_dtype;

const char *lt_dtype_name(lt_dtype dt);          /* "float32", ... */
int lt_dtype_from_name(const char *name);        /* -1 if unknown; accepts
                                                    "float"/"double"/"long"/
                                                    "int"/"half" aliases */
size_t lt_dtype_size(lt_dtype dt);
bool lt_dtype_is_float(lt_dtype dt);             /* f32 f64 bf16 f16 */
lt_dtype lt_promote_types(lt_dtype a, lt_dtype b); /* PyTorch's rules */
lt_dtype lt_default_dtype(void);                 /* float32 unless set */
void lt_set_default_dtype(lt_dtype dt);

/* ---------------------------------------------------------------- devices */

typedef enum { LT_DEVICE_CPU = 0, LT_DEVICE_CUDA = 1 } lt_device_type;

typedef struct {
  int8_t type;   /* lt_device_type */
  int8_t index;  /* 0 for cpu */
} lt_device;

static inline lt_device lt_cpu(void) { lt_device d = {LT_DEVICE_CPU, 0}; return d; }
static inline lt_device lt_cuda(int i) { lt_device d = {LT_DEVICE_CUDA, (int8_t)i}; return d; }
static inline bool lt_device_eq(lt_device a, lt_device b) {
  return a.type == b.type && a.index == b.index;
}
/* Parses "cpu", "cuda", "cuda:N"; returns LT_OK or LT_ERR_DEVICE. */
lt_status lt_device_parse(const char *s, lt_device *out);
/* Writes "cpu" / "cuda:0" into buf (at least 16 bytes); returns buf. */
const char *lt_device_str(lt_device d, char *buf);

/* Loads the CUDA backend (dlopen of luatrain_cuda.so beside the executable
** or on LUATRAIN_CUDA_LIB). Safe to call more than once; returns true when a
** GPU answered. Never exits: any CUDA error means "no GPU". */
bool lt_cuda_init(void);
bool lt_cuda_is_available(void);
int lt_cuda_device_count(void);
const char *lt_cuda_device_name(int index);   /* NULL if none */
lt_status lt_cuda_synchronize(void);
lt_status lt_cuda_empty_cache(void);
size_t lt_cuda_memory_allocated(void);
size_t lt_cuda_max_memory_allocated(void);
size_t lt_cuda_memory_reserved(void);
void lt_cuda_reset_peak_memory_stats(void);

/* ---------------------------------------------------------------- storage */

typedef struct lt_storage {
  int refcount;
  void *data;          /* host or device pointer; NULL for 0 bytes */
  size_t nbytes;
  lt_device device;
  uint64_t version;    /* bumped by every in-place write */
  bool owns_data;      /* false for storages wrapping foreign memory */
  void (*deleter)(void *ctx, void *data); /* for foreign memory, may be NULL */
  void *deleter_ctx;
} lt_storage;

/* Called when storage is allocated/freed: the bindings hook this to feed
** Lua's collector (delta > 0 allocations, < 0 frees). */
typedef void (*lt_alloc_hook)(void *ud, lt_device dev, ptrdiff_t delta);
void lt_set_alloc_hook(lt_alloc_hook hook, void *ud);
/* Called when a device allocation fails, before the single retry (the
** bindings run a full Lua collection). */
typedef void (*lt_oom_hook)(void *ud, lt_device dev, size_t nbytes);
void lt_set_oom_hook(lt_oom_hook hook, void *ud);

/* ---------------------------------------------------------------- tensors */

typedef struct lt_node lt_node;
typedef struct lt_tensor lt_tensor;

struct lt_tensor {
  int refcount;
  lt_storage *storage;
  int64_t offset;                 /* in elements */
  int ndim;
  int64_t shape[LT_MAX_DIMS];
  int64_t stride[LT_MAX_DIMS];    /* in elements */
  lt_dtype dtype;
  /* autograd */
  bool requires_grad;   /* leaf flag or "has history" */
  bool retains_grad;    /* non-leaf that keeps .grad (retain_grad) */
  bool is_view;         /* shares storage with a base tensor */
  lt_node *grad_fn;     /* node that produced it (NULL for leaves) */
  int output_nr;        /* which output of grad_fn */
  lt_tensor *grad;      /* accumulated gradient (leaves / retains_grad) */
  lt_tensor *view_base; /* for views that have history: the base, else NULL */
};

void lt_tensor_retain(lt_tensor *t);
void lt_tensor_release(lt_tensor *t);   /* NULL-safe */

int64_t lt_numel(const lt_tensor *t);
bool lt_is_contiguous(const lt_tensor *t);
static inline lt_device lt_tensor_device(const lt_tensor *t) { return t->storage->device; }
/* Pointer to element 0 (host pointer only for CPU tensors). */
void *lt_tensor_data(const lt_tensor *t);
/* Writes "{2, 3}" into buf (at least 128 bytes); returns buf. For messages. */
const char *lt_shape_str(const lt_tensor *t, char *buf);
const char *lt_shape_str_raw(const int64_t *shape, int ndim, char *buf);

/* Creation. `shape` has `ndim` entries (ndim 0 = scalar tensor). */
lt_tensor *lt_empty(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev);
lt_tensor *lt_zeros(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev);
lt_tensor *lt_ones(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev);
lt_tensor *lt_full(const int64_t *shape, int ndim, double value, lt_dtype dt, lt_device dev);
lt_tensor *lt_scalar(double value, lt_dtype dt, lt_device dev);   /* 0-dim */
/* Copies `n` host values of dtype `src_dt` from `data` (row-major, n must
** equal the numel of shape) into a new tensor of dtype `dt` on `dev`. */
lt_tensor *lt_from_data(const void *data, lt_dtype src_dt, const int64_t *shape,
                        int ndim, lt_dtype dt, lt_device dev);
/* Wraps foreign host memory without copying; deleter runs at the end. */
lt_tensor *lt_from_blob(void *data, lt_dtype dt, const int64_t *shape, int ndim,
                        void (*deleter)(void *ctx, void *data), void *ctx);
lt_tensor *lt_arange(double start, double end, double step, lt_dtype dt, lt_device dev);
lt_tensor *lt_linspace(double start, double end, int64_t steps, lt_dtype dt, lt_device dev);
lt_tensor *lt_eye(int64_t n, int64_t m, lt_dtype dt, lt_device dev);

/* Conversions and copies. */
lt_tensor *lt_contiguous(lt_tensor *t);                  /* new ref; t itself if contiguous */
lt_tensor *lt_to(lt_tensor *t, lt_dtype dt, lt_device dev); /* differentiable; t itself if same */
lt_tensor *lt_clone(lt_tensor *t);                       /* differentiable copy */
lt_tensor *lt_detach(lt_tensor *t);                      /* shares storage, no history */
lt_status lt_copy_(lt_tensor *dst, lt_tensor *src);      /* broadcast src into dst, any devices */
lt_status lt_fill_(lt_tensor *t, double value);
lt_status lt_zero_(lt_tensor *t);
/* t takes src's storage, geometry and dtype (PyTorch's `t.data = src`,
** used by Module:to to move parameters in place keeping their identity);
** t's autograd flags and .grad are kept (grad is dropped if its shape or
** device no longer match). */
lt_status lt_tensor_set_(lt_tensor *t, lt_tensor *src);
/* Reads element at linear row-major position `i` (synchronizes). */
lt_status lt_item(lt_tensor *t, double *out);           /* numel must be 1 */
lt_status lt_get_flat(lt_tensor *t, int64_t i, double *out);
/* Copies all elements (row-major) into host buffer `out` as dtype `dt`. */
lt_status lt_to_host(lt_tensor *t, void *out, lt_dtype dt);

/* Views (share storage; differentiable). dims are 0-based, negative allowed
** where noted by the bindings (the engine wants them normalised). */
/* t.view(shape) (named lt_tensor_view: lt_view is the kernel view type of backend.h) */
lt_tensor *lt_tensor_view(lt_tensor *t, const int64_t *shape, int ndim); /* one -1 allowed */
lt_tensor *lt_reshape(lt_tensor *t, const int64_t *shape, int ndim);   /* view or copy */
lt_tensor *lt_transpose(lt_tensor *t, int d0, int d1);
lt_tensor *lt_permute(lt_tensor *t, const int *dims, int ndim);
lt_tensor *lt_narrow(lt_tensor *t, int dim, int64_t start, int64_t length);
lt_tensor *lt_select(lt_tensor *t, int dim, int64_t index);           /* drops dim */
lt_tensor *lt_squeeze(lt_tensor *t, int dim);                         /* dim -1 => all size-1 dims;
                                                                         pass LT_ALL_DIMS */
lt_tensor *lt_unsqueeze(lt_tensor *t, int dim);
lt_tensor *lt_expand(lt_tensor *t, const int64_t *shape, int ndim);   /* -1 keeps a size */
lt_tensor *lt_flatten(lt_tensor *t, int start_dim, int end_dim);
lt_tensor *lt_as_strided(lt_tensor *t, const int64_t *shape, const int64_t *stride,
                         int ndim, int64_t offset);                   /* not differentiable */
#define LT_ALL_DIMS (-1000)

/* Broadcasting helper: result shape of a and b (PyTorch rules). */
lt_status lt_broadcast_shape(const int64_t *a, int na, const int64_t *b, int nb,
                             int64_t *out, int *nout);

/* ---------------------------------------------------------------- elementwise */

typedef enum {
  LT_UNARY_NEG = 0, LT_UNARY_ABS, LT_UNARY_SIGN,
  LT_UNARY_EXP, LT_UNARY_LOG, LT_UNARY_LOG1P, LT_UNARY_EXPM1,
  LT_UNARY_SQRT, LT_UNARY_RSQRT, LT_UNARY_RECIPROCAL, LT_UNARY_SQUARE,
  LT_UNARY_SIN, LT_UNARY_COS, LT_UNARY_TANH, LT_UNARY_SIGMOID,
  LT_UNARY_RELU, LT_UNARY_GELU, LT_UNARY_GELU_TANH, LT_UNARY_SILU, LT_UNARY_ERF,
  LT_UNARY_FLOOR, LT_UNARY_CEIL, LT_UNARY_ROUND, LT_UNARY_TRUNC,
  LT_UNARY_LOGICAL_NOT, LT_UNARY_ISNAN, LT_UNARY_ISINF,
  /* parameterised: p[0], p[1] */
  LT_UNARY_CLAMP,       /* p[0] = min, p[1] = max; NaN = no bound */
  LT_UNARY_LEAKY_RELU,  /* p[0] = negative slope */
  LT_UNARY_POW_SCALAR,  /* x ^ p[0] */
  LT_UNARY_RPOW_SCALAR, /* p[0] ^ x */
  LT_UNARY_COUNT
} lt_unary_op;

typedef enum {
  LT_BINARY_ADD = 0, LT_BINARY_SUB, LT_BINARY_MUL, LT_BINARY_DIV,
  LT_BINARY_POW, LT_BINARY_MAXIMUM, LT_BINARY_MINIMUM,
  LT_BINARY_FMOD, LT_BINARY_REMAINDER, LT_BINARY_FLOOR_DIVIDE, LT_BINARY_ATAN2,
  /* comparisons and logic: result is bool */
  LT_BINARY_EQ, LT_BINARY_NE, LT_BINARY_LT, LT_BINARY_LE, LT_BINARY_GT, LT_BINARY_GE,
  LT_BINARY_LOGICAL_AND, LT_BINARY_LOGICAL_OR, LT_BINARY_LOGICAL_XOR,
  LT_BINARY_COUNT
} lt_binary_op;

const char *lt_unary_name(lt_unary_op op);    /* "exp", ... */
const char *lt_binary_name(lt_binary_op op);  /* "add", ... */

/* Out-of-place. Integer inputs of float-only ops (exp, sqrt, div...)
** promote to the default float dtype as in PyTorch. */
lt_tensor *lt_unary(lt_unary_op op, lt_tensor *a);
lt_tensor *lt_unary_p(lt_unary_op op, lt_tensor *a, double p0, double p1);
lt_tensor *lt_binary(lt_binary_op op, lt_tensor *a, lt_tensor *b);
/* a op s (reverse=false) or s op a (reverse=true); a Lua number does not
** change a's dtype category (int tensor + 0.5 -> default float). */
lt_tensor *lt_binary_scalar(lt_binary_op op, lt_tensor *a, double s, bool reverse);
lt_tensor *lt_where(lt_tensor *cond, lt_tensor *a, lt_tensor *b);
lt_tensor *lt_masked_fill(lt_tensor *a, lt_tensor *mask, double value);
/* In place on a (a's dtype is kept; error if the result dtype would not
** fit, e.g. float into int). Bumps the storage version. Autograd: allowed
** on non-leaf tensors (history is rebased), an error on leaves that
** require grad while grad mode is on. */
lt_status lt_unary_(lt_unary_op op, lt_tensor *a, double p0, double p1);
lt_status lt_binary_(lt_binary_op op, lt_tensor *a, lt_tensor *b);
lt_status lt_binary_scalar_(lt_binary_op op, lt_tensor *a, double s);
lt_status lt_masked_fill_(lt_tensor *a, lt_tensor *mask, double value);
/* a += alpha * b (in place), the optimizers' axpy */
lt_status lt_add_scaled_(lt_tensor *a, lt_tensor *b, double alpha);

/* ---------------------------------------------------------------- reductions */

typedef enum {
  LT_REDUCE_SUM = 0, LT_REDUCE_MEAN, LT_REDUCE_PROD,
  LT_REDUCE_MAX, LT_REDUCE_MIN,        /* with indices when one dim */
  LT_REDUCE_ARGMAX, LT_REDUCE_ARGMIN,  /* int64 result, + base */
  LT_REDUCE_VAR, LT_REDUCE_STD,        /* param = correction (1 = unbiased) */
  LT_REDUCE_NORM,                      /* param = p (2, 1, inf...) */
  LT_REDUCE_LOGSUMEXP,
  LT_REDUCE_ANY, LT_REDUCE_ALL,        /* bool result */
  LT_REDUCE_COUNT
} lt_reduce_op;

const char *lt_reduce_name(lt_reduce_op op);

/* Reduces `a` over `dims` (ndims = 0: over all dims). MAX/MIN over a single
** dim also return the indices (int64, with `base` added) in *indices when
** indices != NULL; ARGMAX/ARGMIN need exactly one dim or all dims (flat
** index). `index_base` is added to indices. */
lt_tensor *lt_reduce(lt_reduce_op op, lt_tensor *a, const int *dims, int ndims,
                     bool keepdim, double param, lt_tensor **indices, int64_t index_base);

/* Sums `a` down to `shape` (the unbroadcast of broadcasting's gradient). */
lt_tensor *lt_sum_to(lt_tensor *a, const int64_t *shape, int ndim);

/* ---------------------------------------------------------------- sorting and scans */

/* Cumulative sum / product along dim; integer and bool inputs give int64
** (PyTorch). Differentiable for float inputs (cumprod's gradient is exact
** with zeros too). */
lt_tensor *lt_cumsum(lt_tensor *a, int dim);
lt_tensor *lt_cumprod(lt_tensor *a, int dim);
/* Stable sort along dim (ties keep index order, NaN largest); the values
** are returned, the int64 positions (+ base) in *indices when not NULL. */
lt_tensor *lt_sort(lt_tensor *a, int dim, bool descending, lt_tensor **indices, int64_t base);
/* The k largest (or smallest) along dim, sorted, ties by lowest index;
** 0 <= k <= size of dim. */
lt_tensor *lt_topk(lt_tensor *a, int64_t k, int dim, bool largest, lt_tensor **indices,
                   int64_t base);
/* k-th smallest (1 <= k <= size) along dim: the k-th entry of the stable
** ascending order (so among ties the index is deterministic, though not
** always the one PyTorch's quickselect reports). */
lt_tensor *lt_kthvalue(lt_tensor *a, int64_t k, int dim, bool keepdim, lt_tensor **indices,
                       int64_t base);
/* Lower median along dim, i.e. kthvalue((n + 1) / 2) (NaN when the row
** holds a NaN, with the first NaN's index). lt_median_all: of all
** elements, a 0-d tensor (NaN when empty), its gradient shared evenly by
** the elements equal to it (PyTorch's rule). */
lt_tensor *lt_median(lt_tensor *a, int dim, bool keepdim, lt_tensor **indices, int64_t base);
lt_tensor *lt_median_all(lt_tensor *a);

/* ---------------------------------------------------------------- linear algebra */

lt_tensor *lt_matmul(lt_tensor *a, lt_tensor *b);  /* numpy/PyTorch semantics */
lt_tensor *lt_mm(lt_tensor *a, lt_tensor *b);      /* 2-D only */
lt_tensor *lt_bmm(lt_tensor *a, lt_tensor *b);     /* 3-D only */
/* y = x @ w^T + b, x (..., in), w (out, in), b (out) or NULL. Fused. */
lt_tensor *lt_linear(lt_tensor *x, lt_tensor *w, lt_tensor *b);

/* ---------------------------------------------------------------- indexing / joining */

lt_tensor *lt_index_select(lt_tensor *a, int dim, lt_tensor *index, int64_t base);
lt_tensor *lt_gather(lt_tensor *a, int dim, lt_tensor *index, int64_t base);
/* out-of-place scatter: copy of a with src scattered along dim. reduce:
** NULL (replace) or "add". src may be NULL with `value` used instead. */
lt_tensor *lt_scatter(lt_tensor *a, int dim, lt_tensor *index, lt_tensor *src,
                      double value, const char *reduce, int64_t base);
lt_status lt_scatter_(lt_tensor *a, int dim, lt_tensor *index, lt_tensor *src,
                      double value, const char *reduce, int64_t base);
/* out-of-place index_add: copy of a with src rows added at index along dim */
lt_tensor *lt_index_add(lt_tensor *a, int dim, lt_tensor *index, lt_tensor *src, int64_t base);
lt_tensor *lt_cat(lt_tensor **ts, int n, int dim);
lt_tensor *lt_stack(lt_tensor **ts, int n, int dim);
lt_tensor *lt_one_hot(lt_tensor *index, int64_t num_classes, int64_t base); /* int64 out */
/* Constant padding of the last dims: pads = {left_last, right_last,
** left_second_last, right_second_last, ...} as in torch.nn.functional.pad;
** negative pads crop. mode: "constant" (value), "reflect", "replicate". */
lt_tensor *lt_pad(lt_tensor *a, const int64_t *pads, int npads, const char *mode, double value);

/* ---------------------------------------------------------------- nn ops */

lt_tensor *lt_softmax(lt_tensor *a, int dim);
lt_tensor *lt_log_softmax(lt_tensor *a, int dim);
/* Cross entropy of logits (N, C) or (N, C, d1...) against int64 targets (N)
** or (N, d1...) (values + base in [0, C), or ignore_index), or against
** class probabilities of the logits' shape. reduction: "mean", "sum",
** "none". `weight` (C) may be NULL. */
lt_tensor *lt_cross_entropy(lt_tensor *logits, lt_tensor *target, lt_tensor *weight,
                            int64_t ignore_index, double label_smoothing,
                            const char *reduction, int64_t base);
lt_tensor *lt_nll_loss(lt_tensor *logp, lt_tensor *target, lt_tensor *weight,
                       int64_t ignore_index, const char *reduction, int64_t base);
lt_tensor *lt_dropout(lt_tensor *a, double p, bool training);

typedef struct {
  int stride[2], padding[2], dilation[2], groups;
} lt_conv2d_opts;
/* x (N, C, H, W), w (O, C/groups, kh, kw), b (O) or NULL */
lt_tensor *lt_conv2d(lt_tensor *x, lt_tensor *w, lt_tensor *b, const lt_conv2d_opts *o);

typedef struct {
  int stride[2], padding[2], output_padding[2], dilation[2], groups;
} lt_conv_transpose2d_opts;
/* x (N, C, H, W) or (C, H, W), w (C, O/groups, kh, kw) as PyTorch, b (O) or
** NULL; output (N, O, (H-1)*sh - 2*ph + dh*(kh-1) + oph + 1, ...likewise W) */
lt_tensor *lt_conv_transpose2d(lt_tensor *x, lt_tensor *w, lt_tensor *b,
                               const lt_conv_transpose2d_opts *o);

typedef struct {
  int kernel[2], stride[2], padding[2], dilation[2];
  bool ceil_mode, count_include_pad;
  int divisor_override;  /* 0 = none */
} lt_pool2d_opts;
lt_tensor *lt_max_pool2d(lt_tensor *x, const lt_pool2d_opts *o, lt_tensor **indices);
lt_tensor *lt_avg_pool2d(lt_tensor *x, const lt_pool2d_opts *o);
lt_tensor *lt_adaptive_avg_pool2d(lt_tensor *x, int64_t oh, int64_t ow);

/* x (N, C, ...): training uses batch statistics and updates running stats
** (unbiased variance, momentum) when they are given; eval uses them. */
lt_tensor *lt_batch_norm(lt_tensor *x, lt_tensor *running_mean, lt_tensor *running_var,
                         lt_tensor *weight, lt_tensor *bias, bool training,
                         double momentum, double eps);
/* normalises over the last `nnorm` dims; weight/bias of that shape or NULL */
lt_tensor *lt_layer_norm(lt_tensor *x, int nnorm, lt_tensor *weight, lt_tensor *bias,
                         double eps);
lt_tensor *lt_embedding(lt_tensor *weight, lt_tensor *ids, int64_t padding_idx,
                        int64_t base);  /* padding_idx < 0: none (already 0-based) */
/* Fused recurrent cells (ops_rnn.c), one autograd node each; 2-D float32 /
** float64 inputs of one dtype and device (any strides). lt_lstm_cell: gates
** (N, 4H) = x W_ih^T + b_ih + h W_hh^T + b_hh in the order i, f, g, o, c (N, H):
** *c1 = f c + i tanh(g), *h1 = o tanh(c1) (i, f, o = sigmoid). lt_gru_cell:
** gx = x W_ih^T + b_ih, gh = h W_hh^T + b_hh (N, 3H, order r, z, n), h (N, H):
** n = tanh(gx_n + r gh_n), returns n + z (h - n). Both fail with "not
** implemented on <device>" when its backend lacks the kernels;
** lt_fused_rnn_available says beforehand (false for other dtypes, no error). */
lt_status lt_lstm_cell(lt_tensor *gates, lt_tensor *c, lt_tensor **h1, lt_tensor **c1);
lt_tensor *lt_gru_cell(lt_tensor *gx, lt_tensor *gh, lt_tensor *h);
bool lt_fused_rnn_available(lt_device dev, lt_dtype dt);
/* q (..., L, E), k (..., S, E), v (..., S, Ev); mask bool (True = keep) or
** float (added), broadcastable to (..., L, S), or NULL. scale <= 0: 1/sqrt(E). */
lt_tensor *lt_scaled_dot_product_attention(lt_tensor *q, lt_tensor *k, lt_tensor *v,
                                           lt_tensor *mask, double dropout_p,
                                           bool is_causal, double scale);

/* ---------------------------------------------------------------- random */

/* One Philox4x32-10 generator per device type (seeded together). The
** stream is defined in backend.h so CPU and CUDA produce the same numbers. */
void lt_manual_seed(uint64_t seed);
uint64_t lt_initial_seed(void);
/* State = (seed, offset); offset counts 4-word Philox blocks used. */
void lt_rng_get_state(uint64_t *seed, uint64_t *offset);
void lt_rng_set_state(uint64_t seed, uint64_t offset);

lt_tensor *lt_rand(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev);
lt_tensor *lt_randn(const int64_t *shape, int ndim, lt_dtype dt, lt_device dev);
/* integers uniformly in [low, high) */
lt_tensor *lt_randint(int64_t low, int64_t high, const int64_t *shape, int ndim,
                      lt_dtype dt, lt_device dev);
lt_tensor *lt_randperm(int64_t n, lt_dtype dt, lt_device dev, int64_t base);
lt_tensor *lt_bernoulli(lt_tensor *p);                /* same shape as p */
lt_tensor *lt_bernoulli_p(const int64_t *shape, int ndim, double p, lt_dtype dt, lt_device dev);
/* In-place fills (nn.init): uniform in [a, b), normal(mean, std). */
lt_status lt_uniform_(lt_tensor *t, double a, double b);
lt_status lt_normal_(lt_tensor *t, double mean, double std);
/* Multinomial sampling without replacement=false: one draw per row of probs
** (rows, C) -> int64 (rows, n) with base added. */
lt_tensor *lt_multinomial(lt_tensor *probs, int64_t n, int64_t base);

/* ---------------------------------------------------------------- optimizers */

/* Fused per-parameter updates, numerically PyTorch's (single-tensor
** implementation, float32 arithmetic with double-precision scalars).
** They write param and the state buffers in place, outside autograd. */
lt_status lt_sgd_step(lt_tensor *param, lt_tensor *grad, lt_tensor *momentum_buf,
                      double lr, double momentum, double dampening, double weight_decay,
                      bool nesterov, bool maximize, bool first_step);
lt_status lt_adam_step(lt_tensor *param, lt_tensor *grad, lt_tensor *exp_avg,
                       lt_tensor *exp_avg_sq, lt_tensor *max_exp_avg_sq /* amsgrad or NULL */,
                       double lr, double beta1, double beta2, double eps,
                       double weight_decay, bool decoupled /* AdamW */,
                       bool maximize, int64_t step);
lt_status lt_rmsprop_step(lt_tensor *param, lt_tensor *grad, lt_tensor *square_avg,
                          lt_tensor *momentum_buf /* or NULL */, lt_tensor *grad_avg /* centered or NULL */,
                          double lr, double alpha, double eps, double weight_decay,
                          double momentum, bool maximize);
/* Total p-norm of several tensors (clip_grad_norm_), as a float64 number. */
lt_status lt_total_norm(lt_tensor **ts, int n, double p, double *out);
/* Multiplies each tensor in place by `scale` (outside autograd). */
lt_status lt_scale_(lt_tensor **ts, int n, double scale);

/* ---------------------------------------------------------------- autograd */

bool lt_grad_enabled(void);
void lt_set_grad_enabled(bool on);       /* thread-local */
lt_status lt_tensor_set_requires_grad(lt_tensor *t, bool on); /* leaves only */
bool lt_is_leaf(const lt_tensor *t);
lt_status lt_retain_grad(lt_tensor *t);
/* Backpropagates from `root`. grad may be NULL when root has one element.
** Frees the graph unless retain_graph. */
lt_status lt_backward(lt_tensor *root, lt_tensor *grad, bool retain_graph);
/* Accumulates g into t->grad (creating it), outside autograd. */
lt_status lt_accumulate_grad(lt_tensor *t, lt_tensor *g);
const char *lt_node_name(const lt_node *n);   /* "AddBackward", ... */

/* User-defined functions (lt.autograd.Function). The callback receives the
** gradients of the outputs (NULL entries for outputs that got none; it may
** treat them as zeros) and must fill grad_inputs[i] with NEW references
** (or NULL for no gradient). Return LT_OK or an error (set lt_error). */
typedef lt_status (*lt_custom_backward_fn)(void *ctx, lt_tensor **grad_outputs, int n_outputs,
                                           lt_tensor **grad_inputs, int n_inputs);
/* Creates the node, connects it to `inputs`, and makes it the grad_fn of
** each tensor in `outputs` (which must not already have history; they are
** detached results of the forward). ctx_free(ctx) runs when the node dies. */
lt_status lt_custom_function_attach(const char *name, lt_tensor **inputs, int n_inputs,
                                    lt_tensor **outputs, int n_outputs,
                                    lt_custom_backward_fn fn, void *ctx,
                                    void (*ctx_free)(void *ctx));

/* Interrupt flag polled by long loops (backward, data loading): the host's
** SIGINT handler sets it; a polled site fails with LT_ERR_INTERRUPT. */
void lt_set_interrupt(int on);
int lt_interrupted(void);
/* Deferred (a training guard is open): the flag is only recorded; polled
** sites go on and the host raises no error, so the loop stops at a step
** boundary (guard:check) with a consistent model, optimizer and step. */
void lt_set_interrupt_deferred(int on);
int lt_interrupt_deferred(void);

/* Autocast (mixed precision), thread-local like grad mode: dt is
** LT_DTYPE_BF16 or LT_DTYPE_F16, or -1 for off (other dtypes: LT_ERR_DTYPE).
** While on, matmul/mm/bmm/linear/conv2d/scaled_dot_product_attention cast
** their float inputs (not float64) to dt and return dt; reductions (sum,
** mean, prod, var, std, norm, logsumexp), softmax/log_softmax, layer_norm,
** batch_norm, cross_entropy and nll_loss cast bf16/f16 inputs to float32.
** The casts are recorded by autograd; lt_backward runs with autocast off. */
lt_status lt_set_autocast(int dt);
int lt_autocast_dtype(void);   /* -1 when off */

/* Deterministic algorithms (no float atomics on the GPU). */
void lt_set_deterministic(bool on);
bool lt_deterministic(void);
void lt_set_allow_tf32(bool on);
bool lt_allow_tf32(void);
/* Fused (flash-style) attention: LT_SDPA_AUTO uses the fused kernels once
** the composed path's score matrix would pass LT_SDPA_AUTO_BYTES (float32
** bytes), LT_SDPA_ALWAYS / LT_SDPA_NEVER force the choice. */
enum { LT_SDPA_AUTO = -1, LT_SDPA_NEVER = 0, LT_SDPA_ALWAYS = 1 };
#define LT_SDPA_AUTO_BYTES (256.0 * 1048576.0)
void lt_set_sdpa_fused_mode(int mode);
/* lt.backends.benchmark: for shapes seen repeatedly, time the candidate
** algorithms once (fused vs composed attention in auto mode) and cache the
** fastest, like cudnn.benchmark. */
void lt_set_benchmark(bool on);
bool lt_benchmark(void);
int lt_sdpa_fused_mode(void);
void lt_set_num_threads(int n);
int lt_get_num_threads(void);

/* ---------------------------------------------------------------- files */

/* safetensors: a named list of tensors plus string metadata. */
typedef struct {
  int n;
  char **names;
  lt_tensor **tensors;
  int n_meta;
  char **meta_keys;
  char **meta_values;
} lt_tensor_dict;

void lt_tensor_dict_free(lt_tensor_dict *d);   /* frees contents, not d */
/* Writes atomically (temporary file, fsync, rename). Tensors on any device. */
lt_status lt_safetensors_save(const char *path, const lt_tensor_dict *d);
/* Parses with full bounds checks. Tensors are created on the CPU. */
lt_status lt_safetensors_load(const char *path, lt_tensor_dict *out);
lt_status lt_safetensors_parse(const void *buf, size_t len, const char *name,
                               lt_tensor_dict *out);   /* for fuzzing/tests */
/* IDX (MNIST) files, gzip-compressed or not -> uint8 (or the file's dtype)
** tensor of the file's shape. */
lt_tensor *lt_idx_load(const char *path);
lt_tensor *lt_idx_parse(const void *buf, size_t len, const char *name);

#endif
