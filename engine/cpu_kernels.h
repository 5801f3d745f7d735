/*
** cpu_kernels.h - the CPU backend's kernels, one prototype per entry of
** lt_backend (backend.h). cpu_backend.c assembles them into lt_cpu_backend.
** Files: cpu_memory.c cpu_elementwise.c cpu_reduce.c cpu_random.c cpu_optim.c
** (group A), cpu_gemm.c cpu_index.c cpu_nn.c cpu_conv.c (group B),
** cpu_attention.c, cpu_batchnorm.c.
*/
#ifndef LT_CPU_KERNELS_H
#define LT_CPU_KERNELS_H

#include "backend.h"

/* Work below this many elements stays on one thread (OpenMP `if` clause). */
#define LT_CPU_PARALLEL_GRAIN 32768

/* group A */
void *lt_cpu_alloc(size_t nbytes, int device_index);
void lt_cpu_free(void *ptr, size_t nbytes, int device_index);
lt_status lt_cpu_empty_cache(void);  /* frees the blocks cpu_memory.c keeps */
lt_status lt_cpu_memcpy(void *dst, bool dst_host, const void *src, bool src_host, size_t nbytes,
                        int device_index);
lt_status lt_cpu_copy(const lt_view *dst, const lt_view *src);
lt_status lt_cpu_fill(const lt_view *dst, double value);
lt_status lt_cpu_unary(lt_unary_op op, const lt_view *out, const lt_view *in, const double *p);
lt_status lt_cpu_unary_backward(lt_unary_op op, const lt_view *dx, const lt_view *dy,
                                const lt_view *x, const lt_view *y, const double *p);
lt_status lt_cpu_binary(lt_binary_op op, const lt_view *out, const lt_view *a, const lt_view *b,
                        double s, bool reverse);
lt_status lt_cpu_where(const lt_view *out, const lt_view *cond, const lt_view *a,
                       const lt_view *b, double s);
lt_status lt_cpu_reduce(lt_reduce_op op, const lt_view *out, const lt_view *idx,
                        const lt_view *in, uint32_t reduce_mask, double param, int64_t base);
lt_status lt_cpu_rng(lt_rng_kind kind, void *out, lt_dtype dt, int64_t n, lt_philox_state st,
                     double a, double b);
lt_status lt_cpu_sgd_step(void *p, const void *g, void *buf, lt_dtype dt, int64_t n, double lr,
                          double momentum, double dampening, double wd, bool nesterov,
                          bool maximize, bool first);
lt_status lt_cpu_adam_step(void *p, const void *g, void *m, void *v, void *vmax, lt_dtype dt,
                           int64_t n, double lr, double beta1, double beta2, double eps,
                           double wd, bool decoupled, bool maximize, int64_t step);
lt_status lt_cpu_rmsprop_step(void *p, const void *g, void *sq, void *buf, void *gavg,
                              lt_dtype dt, int64_t n, double lr, double alpha, double eps,
                              double wd, double momentum, bool maximize);

/* group B */
lt_status lt_cpu_gemm(lt_dtype dt, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                      double alpha, const void *a, int64_t lda, int64_t stride_a, const void *b,
                      int64_t ldb, int64_t stride_b, double beta, void *c, int64_t ldc,
                      int64_t stride_c, int64_t batch);
lt_status lt_cpu_index_select(const lt_view *out, const lt_view *in, int dim,
                              const lt_view *index, int64_t base);
lt_status lt_cpu_index_add(const lt_view *out, int dim, const lt_view *index, const lt_view *src,
                           int64_t base);
lt_status lt_cpu_gather(const lt_view *out, const lt_view *in, int dim, const lt_view *index,
                        int64_t base);
lt_status lt_cpu_scatter(const lt_view *out, int dim, const lt_view *index, const lt_view *src,
                         double value, bool accumulate, int64_t base);
lt_status lt_cpu_check_index(const lt_view *index, int64_t size, int64_t base, bool has_ignore,
                             int64_t ignore);
lt_status lt_cpu_softmax(void *out, const void *in, lt_dtype dt, int64_t outer, int64_t n,
                         int64_t inner, bool log);
lt_status lt_cpu_softmax_backward(void *dx, const void *y, const void *dy, lt_dtype dt,
                                  int64_t outer, int64_t n, int64_t inner, bool log);
lt_status lt_cpu_cross_entropy(void *loss, void *lse, const void *logits, const int64_t *target,
                               const void *weight, lt_dtype dt, int64_t rows, int64_t classes,
                               int64_t base, bool has_ignore, int64_t ignore, double smoothing);
lt_status lt_cpu_cross_entropy_backward(void *dlogits, const void *dloss, int64_t dloss_stride,
                                        const void *logits, const void *lse,
                                        const int64_t *target, const void *weight, lt_dtype dt,
                                        int64_t rows, int64_t classes, int64_t base,
                                        bool has_ignore, int64_t ignore, double smoothing);
lt_status lt_cpu_layer_norm(void *y, void *mean, void *rstd, const void *x, const void *w,
                            const void *b, lt_dtype dt, int64_t rows, int64_t cols, double eps);
lt_status lt_cpu_layer_norm_backward(void *dx, void *dw, void *db, const void *dy, const void *x,
                                     const void *mean, const void *rstd, const void *w,
                                     lt_dtype dt, int64_t rows, int64_t cols);
lt_status lt_cpu_im2col(void *col, const void *x, lt_dtype dt, const lt_conv_geom *g);
lt_status lt_cpu_col2im(void *dx, const void *col, lt_dtype dt, const lt_conv_geom *g);
lt_status lt_cpu_max_pool2d(void *y, int64_t *idx, const void *x, lt_dtype dt,
                            const lt_pool_geom *g);
lt_status lt_cpu_max_pool2d_backward(void *dx, const void *dy, const int64_t *idx, lt_dtype dt,
                                     const lt_pool_geom *g);
lt_status lt_cpu_avg_pool2d(void *y, const void *x, lt_dtype dt, const lt_pool_geom *g);
lt_status lt_cpu_avg_pool2d_backward(void *dx, const void *dy, lt_dtype dt,
                                     const lt_pool_geom *g);
lt_status lt_cpu_adaptive_avg_pool2d(void *y, const void *x, lt_dtype dt, const lt_pool_geom *g);
lt_status lt_cpu_adaptive_avg_pool2d_backward(void *dx, const void *dy, lt_dtype dt,
                                              const lt_pool_geom *g);

/* cpu_attention.c */
lt_status lt_cpu_sdpa_forward(void *out, void *lse, const void *q, const void *k, const void *v,
                              lt_dtype dt, int64_t bh, int64_t L, int64_t S, int64_t E,
                              int64_t Ev, double scale, bool causal);
lt_status lt_cpu_sdpa_backward(void *dq, void *dk, void *dv, const void *dout, const void *q,
                               const void *k, const void *v, const void *out, const void *lse,
                               lt_dtype dt, int64_t bh, int64_t L, int64_t S, int64_t E,
                               int64_t Ev, double scale, bool causal);

/* cpu_batchnorm.c */
lt_status lt_cpu_batch_norm_stats(void *mean, void *invstd, void *running_mean,
                                  void *running_var, const void *x, lt_dtype dt, int64_t N,
                                  int64_t C, int64_t HW, bool training, double momentum,
                                  double eps);
lt_status lt_cpu_batch_norm_forward(void *y, const void *x, const void *mean, const void *invstd,
                                    const void *w, const void *b, lt_dtype dt, int64_t N,
                                    int64_t C, int64_t HW);
lt_status lt_cpu_batch_norm_backward(void *dx, void *dw, void *db, const void *dy, const void *x,
                                     const void *mean, const void *invstd, const void *w,
                                     lt_dtype dt, int64_t N, int64_t C, int64_t HW,
                                     bool training);

/* cpu_sort.c */
lt_status lt_cpu_sort_rows(void *values, int64_t *indices, const void *in, lt_dtype dt,
                           int64_t rows, int64_t n, int64_t k, bool descending, bool kth_only,
                           int64_t base);
lt_status lt_cpu_cumulative(void *out, const void *in, lt_dtype dt, int64_t outer, int64_t n,
                            int64_t inner, bool prod, bool reverse);

/* cpu_rnn.c */
lt_status lt_cpu_lstm_cell(void *h1, void *c1, void *act, void *tc, const void *gates,
                           const void *c, lt_dtype dt, int64_t N, int64_t H);
lt_status lt_cpu_lstm_cell_backward(void *dgates, void *dc, const void *dh1, const void *dc1,
                                    const void *act, const void *tc, const void *c, lt_dtype dt,
                                    int64_t N, int64_t H);
lt_status lt_cpu_gru_cell(void *h1, void *act, const void *gx, const void *gh, const void *h,
                          lt_dtype dt, int64_t N, int64_t H);
lt_status lt_cpu_gru_cell_backward(void *dgx, void *dgh, void *dh, const void *dh1,
                                   const void *act, const void *gh, const void *h, lt_dtype dt,
                                   int64_t N, int64_t H);

#endif
