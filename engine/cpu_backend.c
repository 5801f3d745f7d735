/*
** cpu_backend.c - the CPU backend table: host memory, OpenMP/OpenBLAS
** kernels from cpu_*.c. Holds no kernels itself.
*/
#include "cpu_kernels.h"

static lt_status cpu_synchronize(int device_index) { (void)device_index; return LT_OK; }
static int cpu_device_count(void) { return 1; }
static const char *cpu_device_name(int index) { (void)index; return "cpu"; }

const lt_backend lt_cpu_backend = {
  .name = "cpu",
  .alloc = lt_cpu_alloc,
  .free = lt_cpu_free,
  .empty_cache = lt_cpu_empty_cache,
  .memcpy_ = lt_cpu_memcpy,
  .synchronize = cpu_synchronize,
  .device_count = cpu_device_count,
  .device_name = cpu_device_name,
  .copy = lt_cpu_copy,
  .fill = lt_cpu_fill,
  .unary = lt_cpu_unary,
  .unary_backward = lt_cpu_unary_backward,
  .binary = lt_cpu_binary,
  .where = lt_cpu_where,
  .reduce = lt_cpu_reduce,
  .gemm = lt_cpu_gemm,
  .index_select = lt_cpu_index_select,
  .index_add = lt_cpu_index_add,
  .gather = lt_cpu_gather,
  .scatter = lt_cpu_scatter,
  .check_index = lt_cpu_check_index,
  .softmax = lt_cpu_softmax,
  .softmax_backward = lt_cpu_softmax_backward,
  .cross_entropy = lt_cpu_cross_entropy,
  .cross_entropy_backward = lt_cpu_cross_entropy_backward,
  .layer_norm = lt_cpu_layer_norm,
  .layer_norm_backward = lt_cpu_layer_norm_backward,
  .im2col = lt_cpu_im2col,
  .col2im = lt_cpu_col2im,
  .max_pool2d = lt_cpu_max_pool2d,
  .max_pool2d_backward = lt_cpu_max_pool2d_backward,
  .avg_pool2d = lt_cpu_avg_pool2d,
  .avg_pool2d_backward = lt_cpu_avg_pool2d_backward,
  .adaptive_avg_pool2d = lt_cpu_adaptive_avg_pool2d,
  .adaptive_avg_pool2d_backward = lt_cpu_adaptive_avg_pool2d_backward,
  .rng = lt_cpu_rng,
  .sgd_step = lt_cpu_sgd_step,
  .adam_step = lt_cpu_adam_step,
  .rmsprop_step = lt_cpu_rmsprop_step,
  .sdpa_forward = lt_cpu_sdpa_forward,
  .sdpa_backward = lt_cpu_sdpa_backward,
  .batch_norm_stats = lt_cpu_batch_norm_stats,
  .batch_norm_forward = lt_cpu_batch_norm_forward,
  .batch_norm_backward = lt_cpu_batch_norm_backward,
  .sort_rows = lt_cpu_sort_rows,
  .cumulative = lt_cpu_cumulative,
  .lstm_cell = lt_cpu_lstm_cell,
  .lstm_cell_backward = lt_cpu_lstm_cell_backward,
  .gru_cell = lt_cpu_gru_cell,
  .gru_cell_backward = lt_cpu_gru_cell_backward,
};
