/*
** backend.h - the table of kernels a device provides (CPU in engine/cpu_*.c,
** CUDA in cuda/). Kernels see raw strided views, never lt_tensor or
** autograd: the op front-ends (engine/ops_*.c) check shapes, dtypes and
** devices, allocate outputs, broadcast (stride 0) and record autograd.
** A NULL entry means "not on this device": the front-end reports it.
*/
#ifndef LT_BACKEND_H
#define LT_BACKEND_H

#include "luatrain.h"

/* A strided view of device memory. `data` points at element 0 (storage
** data + offset * itemsize). Strides are in elements and may be 0
** (broadcast) or negative-free (the engine never makes negative strides). */
typedef struct {
  void *data;
  lt_dtype dtype;
  int ndim;
  int64_t shape[LT_MAX_DIMS];
  int64_t stride[LT_MAX_DIMS];
} lt_view;

/* Convolution geometry for im2col/col2im (one batch of images). */
typedef struct {
  int64_t n, c, h, w;       /* input */
  int64_t kh, kw;           /* kernel */
  int64_t sh, sw, ph, pw, dh, dw;
  int64_t oh, ow;           /* output spatial size */
} lt_conv_geom;

/* Pooling geometry (max/avg): input (n*c planes of h x w). */
typedef struct {
  int64_t nc, h, w, oh, ow;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  bool count_include_pad;
  int64_t divisor_override;  /* 0 = none */
} lt_pool_geom;

/*
** Philox4x32-10 stream shared by CPU and CUDA (DESIGN §5).
** For a request of n numbers with generator state (seed, offset):
**   key     = (uint32)seed, (uint32)(seed >> 32)
**   block b = 0 .. ceil(n/4)-1 uses counter (lo64 = offset + b, hi64 = 0),
**             i.e. ctr = {(uint32)(offset+b), (uint32)((offset+b)>>32), 0, 0}
**   words   = philox4x32_10(ctr, key) -> r[0..3]; element i = 4b + j uses r[j].
** (This is cuRAND's curand_init(seed, 0, 4*(offset+b), &s); curand4(&s).)
** Conversions (float32 arithmetic, as cuRAND does):
**   uniform: u = r * 2^-32 + 2^-33          (in (0, 1])
**            float64: (r0 ^ (r1 << 32)... not used; float64 uses the float32
**            value widened, so both devices agree)
**   normal:  pairs (r[0], r[1]) and (r[2], r[3]) by Box-Muller:
**            u = r0 * 2^-32 + 2^-33; v = r1 * 2^-32*2pi + 2^-32*pi;
**            s = sqrtf(-2 logf(u)); out0 = s * sinf(v); out1 = s * cosf(v)
**   randint: low + (r mod (high - low)) for ranges < 2^32
** The front-end then advances offset by ceil(n/4).
*/
typedef struct {
  uint64_t seed;
  uint64_t offset;
} lt_philox_state;

typedef enum { LT_RNG_UNIFORM = 0, LT_RNG_NORMAL, LT_RNG_RANDINT } lt_rng_kind;

typedef struct lt_backend {
  const char *name;  /* "cpu", "cuda" */

  /* --- memory */
  void *(*alloc)(size_t nbytes, int device_index);  /* NULL on failure (no lt_error) */
  void (*free)(void *ptr, size_t nbytes, int device_index);
  /* dst/src on this device unless the *_host flags say the host side. */
  lt_status (*memcpy_)(void *dst, bool dst_host, const void *src, bool src_host,
                       size_t nbytes, int device_index);
  lt_status (*synchronize)(int device_index);
  lt_status (*empty_cache)(void);
  size_t (*memory_allocated)(void);
  size_t (*max_memory_allocated)(void);
  size_t (*memory_reserved)(void);
  void (*reset_peak)(void);
  int (*device_count)(void);
  const char *(*device_name)(int index);

  /* --- elementwise: all views share out's ndim/shape (inputs pre-broadcast) */
  /* dst <- src with dtype conversion (any dtype pair) and any strides. */
  lt_status (*copy)(const lt_view *dst, const lt_view *src);
  lt_status (*fill)(const lt_view *dst, double value);
  /* out = op(in); out dtype = in dtype except ISNAN/ISINF/LOGICAL_NOT -> bool.
     Float ops are only given float dtypes. p: params (see lt_unary_op). */
  lt_status (*unary)(lt_unary_op op, const lt_view *out, const lt_view *in, const double *p);
  /* dx = dy * d op(x)/dx. x is the op's input, y its output; kernels read what
     they need: EXP SQRT RSQRT TANH SIGMOID RECIPROCAL EXPM1 read y; the
     others read x. Unused views may have data == NULL. */
  lt_status (*unary_backward)(lt_unary_op op, const lt_view *dx, const lt_view *dy,
                              const lt_view *x, const lt_view *y, const double *p);
  /* out = a op b (b == NULL: b is the scalar s; reverse: s op a).
     a and b have the same dtype; out has it too, or bool for comparisons
     and logic ops. */
  lt_status (*binary)(lt_binary_op op, const lt_view *out, const lt_view *a,
                      const lt_view *b, double s, bool reverse);
  /* out = cond ? a : b (cond bool; a, b, out same dtype; b == NULL -> scalar s) */
  lt_status (*where)(const lt_view *out, const lt_view *cond, const lt_view *a,
                     const lt_view *b, double s);

  /* --- reductions. out has in's ndim with size 1 at reduced dims
     (reduce_mask bit d set). idx (int64, may be NULL) receives the index
     along the single reduced dim for MAX/MIN/ARGMAX/ARGMIN, plus base.
     For ARGMAX/ARGMIN over several dims the index is the row-major flat
     index within the reduced dims. MEAN/VAR/STD/NORM/LOGSUMEXP accumulate
     in double on the CPU (float on CUDA with pairwise/tree order). */
  lt_status (*reduce)(lt_reduce_op op, const lt_view *out, const lt_view *idx,
                      const lt_view *in, uint32_t reduce_mask, double param, int64_t base);

  /* --- matrix products, row-major: for each batch i,
     C_i = alpha * op(A_i) @ op(B_i) + beta * C_i, op(A) is m x k,
     op(B) k x n; lda/ldb/ldc are row strides (in elements) of the stored
     matrices; stride_* step between batches (0 = shared). f32/f64 (and
     bf16/f16 on CUDA). */
  lt_status (*gemm)(lt_dtype dt, bool trans_a, bool trans_b, int64_t m, int64_t n,
                    int64_t k, double alpha, const void *a, int64_t lda, int64_t stride_a,
                    const void *b, int64_t ldb, int64_t stride_b, double beta, void *c,
                    int64_t ldc, int64_t stride_c, int64_t batch);

  /* --- indexing (index: int64 view, values - base are positions) */
  /* out = in.index_select(dim, index); out shape = in shape with dim -> len(index) */
  lt_status (*index_select)(const lt_view *out, const lt_view *in, int dim,
                            const lt_view *index, int64_t base);
  /* out.index_add_(dim, index, src) (accumulates; deterministic order on CPU) */
  lt_status (*index_add)(const lt_view *out, int dim, const lt_view *index,
                         const lt_view *src, int64_t base);
  /* out = in.gather(dim, index); out/index same shape */
  lt_status (*gather)(const lt_view *out, const lt_view *in, int dim, const lt_view *index,
                      int64_t base);
  /* out.scatter_(dim, index, src) (src == NULL: value); accumulate: add */
  lt_status (*scatter)(const lt_view *out, int dim, const lt_view *index, const lt_view *src,
                       double value, bool accumulate, int64_t base);
  /* Checks that every index - base is in [0, size) (an error naming the
     first bad value otherwise); ignore (when has_ignore) is allowed. */
  lt_status (*check_index)(const lt_view *index, int64_t size, int64_t base,
                           bool has_ignore, int64_t ignore);

  /* --- nn kernels (contiguous inputs: outer x n x inner layout) */
  lt_status (*softmax)(void *out, const void *in, lt_dtype dt, int64_t outer, int64_t n,
                       int64_t inner, bool log);
  /* dx = y * (dy - sum(dy*y)) (softmax) or dy - exp(y) * sum(dy) (log) */
  lt_status (*softmax_backward)(void *dx, const void *y, const void *dy, lt_dtype dt,
                                int64_t outer, int64_t n, int64_t inner, bool log);
  /* Cross entropy rows: logits (rows, C) contiguous, target int64 (rows).
     loss[r] = (1-ls) * (lse - x[t]) + ls/C * sum_c (lse - x[c]), 0 when
     target == ignore (has_ignore). lse (rows) is saved for backward.
     weight (C) or NULL multiplies row r by weight[t]. */
  lt_status (*cross_entropy)(void *loss, void *lse, const void *logits, const int64_t *target,
                             const void *weight, lt_dtype dt, int64_t rows, int64_t classes,
                             int64_t base, bool has_ignore, int64_t ignore, double smoothing);
  /* dlogits[r,c] = dloss[r] * w_t * (softmax - (1-ls)*onehot - ls/C); dloss
     has `dloss_stride` (0 = one scalar for every row). */
  lt_status (*cross_entropy_backward)(void *dlogits, const void *dloss, int64_t dloss_stride,
                                      const void *logits, const void *lse, const int64_t *target,
                                      const void *weight, lt_dtype dt, int64_t rows,
                                      int64_t classes, int64_t base, bool has_ignore,
                                      int64_t ignore, double smoothing);
  /* Rows of `cols` elements: y = (x - mean) * rstd * w + b (w, b may be NULL).
     mean, rstd (rows) are float32 for f32/bf16/f16 inputs, else dtype. */
  lt_status (*layer_norm)(void *y, void *mean, void *rstd, const void *x, const void *w,
                          const void *b, lt_dtype dt, int64_t rows, int64_t cols, double eps);
  /* dx (rows, cols); dw, db (cols) ACCUMULATED (+=) if non-NULL. */
  lt_status (*layer_norm_backward)(void *dx, void *dw, void *db, const void *dy, const void *x,
                                   const void *mean, const void *rstd, const void *w,
                                   lt_dtype dt, int64_t rows, int64_t cols);
  /* col (n, c*kh*kw, oh*ow) from x (n, c, h, w), both contiguous */
  lt_status (*im2col)(void *col, const void *x, lt_dtype dt, const lt_conv_geom *g);
  /* dx (n, c, h, w) = sum of col entries (dx is zeroed first) */
  lt_status (*col2im)(void *dx, const void *col, lt_dtype dt, const lt_conv_geom *g);
  /* y (nc, oh, ow), idx int64 flat index into h*w of each max (no base) */
  lt_status (*max_pool2d)(void *y, int64_t *idx, const void *x, lt_dtype dt,
                          const lt_pool_geom *g);
  /* dx zeroed then dx[plane, idx] += dy */
  lt_status (*max_pool2d_backward)(void *dx, const void *dy, const int64_t *idx, lt_dtype dt,
                                   const lt_pool_geom *g);
  lt_status (*avg_pool2d)(void *y, const void *x, lt_dtype dt, const lt_pool_geom *g);
  lt_status (*avg_pool2d_backward)(void *dx, const void *dy, lt_dtype dt,
                                   const lt_pool_geom *g);
  /* adaptive: geometry uses h, w, oh, ow only (PyTorch's start/end rule) */
  lt_status (*adaptive_avg_pool2d)(void *y, const void *x, lt_dtype dt, const lt_pool_geom *g);
  lt_status (*adaptive_avg_pool2d_backward)(void *dx, const void *dy, lt_dtype dt,
                                            const lt_pool_geom *g);

  /* --- random: contiguous out of n elements, stream of the comment above */
  lt_status (*rng)(lt_rng_kind kind, void *out, lt_dtype dt, int64_t n, lt_philox_state st,
                   double a, double b);  /* uniform: [a,b); normal: mean a, std b;
                                            randint: [a, b) */

  /* --- optimizers (contiguous, same dtype; see luatrain.h) */
  lt_status (*sgd_step)(void *p, const void *g, void *buf, lt_dtype dt, int64_t n, double lr,
                        double momentum, double dampening, double wd, bool nesterov,
                        bool maximize, bool first);
  lt_status (*adam_step)(void *p, const void *g, void *m, void *v, void *vmax, lt_dtype dt,
                         int64_t n, double lr, double beta1, double beta2, double eps,
                         double wd, bool decoupled, bool maximize, int64_t step);
  lt_status (*rmsprop_step)(void *p, const void *g, void *sq, void *buf, void *gavg,
                            lt_dtype dt, int64_t n, double lr, double alpha, double eps,
                            double wd, double momentum, bool maximize);

  /* --- fused scaled dot-product attention (optional: NULL entries make the
     engine compose matmul + softmax). All buffers contiguous, row-major:
     q (bh, L, E), k (bh, S, E), v (bh, S, Ev), out (bh, L, Ev) of dtype dt
     (f32/f64/bf16/f16); lse (bh, L) float32 (float64 when dt is f64) gets
     the logsumexp of each row of the scaled scores. causal keeps key j <= i
     (top-left aligned). Accumulation in float32 (float64 for f64); no
     (L, S) matrix is stored. Called with L, S >= 1 and
     E, Ev <= LT_SDPA_MAX_HEAD_DIM; no float atomics (deterministic). */
  lt_status (*sdpa_forward)(void *out, void *lse, const void *q, const void *k, const void *v,
                            lt_dtype dt, int64_t bh, int64_t L, int64_t S, int64_t E,
                            int64_t Ev, double scale, bool causal);
  /* dq, dk, dv (shapes of q, k, v; dtype dt; overwritten) from dout
     (bh, L, Ev) and the forward's q, k, v, out, lse; the probabilities are
     recomputed tile by tile from lse. */
  lt_status (*sdpa_backward)(void *dq, void *dk, void *dv, const void *dout, const void *q,
                             const void *k, const void *v, const void *out, const void *lse,
                             lt_dtype dt, int64_t bh, int64_t L, int64_t S, int64_t E,
                             int64_t Ev, double scale, bool causal);

  /* --- fused batch norm (optional: with any of the three NULL the engine
     composes batch_norm from reductions and elementwise ops). x, y, dy, dx
     are contiguous (N, C, HW) of dtype dt (f32/f64/bf16/f16); w, b,
     running_mean, running_var are contiguous (C) of dtype dt, NULL meaning
     w = 1, b = 0, no running stats; mean, invstd are (C) float32 (float64
     when dt is f64). M = N * HW values per channel; sums in double.
     stats, training: mean = sum(x) / M, var = sum((x - mean)^2) / M (biased),
       invstd = 1 / sqrt(var + eps); then, when given, in place:
       running_mean = (1 - momentum) * running_mean + momentum * mean,
       running_var = (1 - momentum) * running_var + momentum * var * M / (M - 1).
     stats, eval: mean = running_mean, invstd = 1 / sqrt(running_var + eps). */
  lt_status (*batch_norm_stats)(void *mean, void *invstd, void *running_mean, void *running_var,
                                const void *x, lt_dtype dt, int64_t N, int64_t C, int64_t HW,
                                bool training, double momentum, double eps);
  /* y = (x - mean) * invstd * w + b, per channel */
  lt_status (*batch_norm_forward)(void *y, const void *x, const void *mean, const void *invstd,
                                  const void *w, const void *b, lt_dtype dt, int64_t N,
                                  int64_t C, int64_t HW);
  /* xhat = (x - mean) * invstd. db = sum(dy), dw = sum(dy * xhat) per channel
     (overwritten; either may be NULL); dx (may be NULL) =
     w * invstd * (dy - db / M - xhat * dw / M) when training (the batch
     stats depend on x), w * invstd * dy in eval. */
  lt_status (*batch_norm_backward)(void *dx, void *dw, void *db, const void *dy, const void *x,
                                   const void *mean, const void *invstd, const void *w,
                                   lt_dtype dt, int64_t N, int64_t C, int64_t HW, bool training);

  /* --- sort family (optional: NULL makes sort/argsort/topk/kthvalue/median
     or cumsum/cumprod raise "not implemented on <device>").
     sort_rows: `in` holds `rows` contiguous rows of n elements of dtype dt
     (any dtype). Each row is ordered stably (ties keep index order),
     ascending or descending, NaN above every number (first when
     descending), -0.0 equal to 0.0; the first k (0 < k <= n) entries go to
     values (rows, k; dtype dt) and their positions in the row, plus base,
     to indices (rows, k; int64). kth_only: only the k-th entry is wanted
     (kthvalue/median): values and indices are (rows, 1). Small k should
     not cost a full sort, nor should kth_only. */
  lt_status (*sort_rows)(void *values, int64_t *indices, const void *in, lt_dtype dt,
                         int64_t rows, int64_t n, int64_t k, bool descending, bool kth_only,
                         int64_t base);
  /* Inclusive scan along the middle dim of contiguous (outer, n, inner):
     out = cumsum (prod false) or cumprod (prod true) of in, from the end of
     the dim when reverse. dt is f32/f64/bf16/f16/i64 (in and out share it;
     int64 wraps). out may not alias in. */
  lt_status (*cumulative)(void *out, const void *in, lt_dtype dt, int64_t outer, int64_t n,
                          int64_t inner, bool prod, bool reverse);

  /* --- fused recurrent cells (optional: with any of the four NULL,
     lt_lstm_cell / lt_gru_cell raise "not implemented on <device>" and
     nn.LSTM / GRU compose the step). Every buffer is contiguous row-major
     of dtype dt, f32 or f64 only (the engine sends no other); N rows,
     hidden size H, N * H > 0. f32 may use fast exp/tanh (a few ulp), f64
     uses exact libm-grade math.
     lstm_cell: gates (N, 4H) pre-activations in the order i, f, g, o and
     c (N, H): i, f, o = sigmoid, g = tanh; c1 = f * c + i * g,
     h1 = o * tanh(c1). act (N, 4H) gets the activated i, f, g, o and
     tc (N, H) tanh(c1), for the backward; both NULL when none follows. */
  lt_status (*lstm_cell)(void *h1, void *c1, void *act, void *tc, const void *gates,
                         const void *c, lt_dtype dt, int64_t N, int64_t H);
  /* From dh1, dc1 (N, H; either NULL = zero) and the forward's act, tc, c:
     dct = dc1 + dh1 * o * (1 - tc^2); dgates (N, 4H) = (dct * g * i(1-i),
     dct * c * f(1-f), dct * i * (1-g^2), dh1 * tc * o(1-o)); dc (N, H;
     may be NULL) = dct * f. Overwrites. */
  lt_status (*lstm_cell_backward)(void *dgates, void *dc, const void *dh1, const void *dc1,
                                  const void *act, const void *tc, const void *c, lt_dtype dt,
                                  int64_t N, int64_t H);
  /* gru_cell: gx, gh (N, 3H) in the order r, z, n, h (N, H):
     r = sigmoid(gx_r + gh_r), z = sigmoid(gx_z + gh_z),
     n = tanh(gx_n + r * gh_n), h1 = n + z * (h - n). act (N, 3H) gets
     r, z, n (NULL when no backward follows). */
  lt_status (*gru_cell)(void *h1, void *act, const void *gx, const void *gh, const void *h,
                        lt_dtype dt, int64_t N, int64_t H);
  /* From dh1 (N, H), act, gh, h: an = dh1 * (1-z) * (1-n^2),
     ar = an * gh_n * r(1-r), az = dh1 * (h-n) * z(1-z); dgx (N, 3H) =
     (ar, az, an), dgh (N, 3H) = (ar, az, an * r), dh (N, H) = dh1 * z.
     Any of dgx, dgh, dh may be NULL. Overwrites. */
  lt_status (*gru_cell_backward)(void *dgx, void *dgh, void *dh, const void *dh1,
                                 const void *act, const void *gh, const void *h, lt_dtype dt,
                                 int64_t N, int64_t H);
} lt_backend;

#define LT_SDPA_MAX_HEAD_DIM 128

/* The engine's backends: lt_backend_for(device) returns NULL (and sets an
** error naming the device) when the device's backend is not loaded. */
const lt_backend *lt_backend_for(lt_device dev);
extern const lt_backend lt_cpu_backend;

/* The CUDA shared object exports this symbol (C linkage); the engine
** dlopens it and passes its error setter (the .so must not call engine
** symbols directly: it may be loaded from luatrain.so with RTLD_LOCAL).
** Returns NULL when no GPU answers (never exits). */
typedef lt_status (*lt_error_fn)(lt_status code, const char *fmt, ...);
typedef const lt_backend *(*lt_cuda_backend_entry)(lt_error_fn error_fn);
#define LT_CUDA_ENTRY_SYMBOL "lt_cuda_backend_get"

/* Philox4x32-10 block function (CPU reference, used by the CPU backend). */
void lt_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Helpers for kernels on host memory. */
static inline double lt_bf16_to_double(uint16_t h);
static inline uint16_t lt_float_to_bf16(float f);
float lt_half_to_float(uint16_t h);
uint16_t lt_float_to_half(float f);

#include <string.h>
static inline double lt_bf16_to_double(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static inline uint16_t lt_float_to_bf16(float f) {  /* round to nearest even */
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

#endif
