/*
** cuda_backend.cu - the CUDA backend's entry point (lt_cuda_backend_get),
** its table, the caching allocator (512 B classes up to 1 MiB, 2 MiB
** classes above; freed blocks wait in per-class lists and are reused, so a
** training loop stops calling cudaMalloc after its first step), copies
** (pinned staging ring for host->device), device queries and the exported
** setters lt_cuda_set_tf32 / lt_cuda_set_deterministic. One device (0),
** one non-blocking stream. Never exits: no GPU means a NULL table.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mutex>
#include <unordered_map>
#include <vector>
#include "cuda_kernels.cuh"

lt_error_fn lt_cuda_err;
cudaStream_t lt_cuda_stream;
int lt_cuda_sm_count = 1;
bool lt_cuda_tf32 = false;
bool lt_cuda_determ = false;

static int g_device_count;
static char g_device_name[LT_MAX_DIMS][256];

#define LT_CUDA_EXPORT __attribute__((visibility("default")))

extern "C" LT_CUDA_EXPORT void lt_cuda_set_tf32(int on) { lt_cuda_tf32 = on != 0; }
extern "C" LT_CUDA_EXPORT void lt_cuda_set_deterministic(int on) { lt_cuda_determ = on != 0; }

/* ---------------------------------------------------------------- caching allocator */

#define LT_SMALL_LIMIT (1u << 20)
#define LT_SMALL_ROUND 512u
#define LT_LARGE_ROUND (2u << 20)

static std::mutex g_mu;
static std::unordered_map<size_t, std::vector<void *>> g_free;  /* class -> blocks */
static size_t g_allocated, g_peak, g_reserved, g_cached;

static size_t size_class(size_t n) {
  if (n == 0) n = 1;
  if (n <= LT_SMALL_LIMIT) return (n + LT_SMALL_ROUND - 1) / LT_SMALL_ROUND * LT_SMALL_ROUND;
  return (n + LT_LARGE_ROUND - 1) / LT_LARGE_ROUND * LT_LARGE_ROUND;
}

/* Returns every cached block to the driver (the lock is held). */
static cudaError_t release_cached_locked(void) {
  cudaError_t first = cudaSuccess;
  for (auto &kv : g_free) {
    for (void *p : kv.second) {
      cudaError_t e = cudaFree(p);
      if (e != cudaSuccess && first == cudaSuccess) first = e;
      g_reserved -= kv.first;
    }
  }
  g_free.clear();
  g_cached = 0;
  return first;
}

static void *cuda_alloc(size_t nbytes, int device_index) {
  (void)device_index;
  size_t cls = size_class(nbytes);
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_free.find(cls);
  void *p = NULL;
  if (it != g_free.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    g_cached -= cls;
  } else {
    cudaError_t e = cudaMalloc(&p, cls);
    if (e != cudaSuccess) {  /* out of memory: give the cache back, retry once */
      (void)cudaGetLastError();
      release_cached_locked();
      (void)cudaGetLastError();
      e = cudaMalloc(&p, cls);
      if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return NULL;
      }
    }
    g_reserved += cls;
  }
  g_allocated += cls;
  if (g_allocated > g_peak) g_peak = g_allocated;
  return p;
}

static void cuda_free(void *ptr, size_t nbytes, int device_index) {
  (void)device_index;
  if (!ptr) return;
  size_t cls = size_class(nbytes);
  std::lock_guard<std::mutex> lock(g_mu);
  g_free[cls].push_back(ptr);  /* stream ordered: later kernels queue after */
  g_allocated -= cls;
  g_cached += cls;
}

void *lt_cuda_scratch_alloc(size_t nbytes) { return cuda_alloc(nbytes, 0); }
void lt_cuda_scratch_free(void *p, size_t nbytes) { cuda_free(p, nbytes, 0); }

static lt_status cuda_empty_cache(void) {
  std::lock_guard<std::mutex> lock(g_mu);
  cudaError_t e = release_cached_locked();
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return lt_cuda_err(LT_ERR_BACKEND, "cuda empty_cache: %s", cudaGetErrorString(e));
  }
  return LT_OK;
}
static size_t cuda_memory_allocated(void) {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_allocated;
}
static size_t cuda_max_memory_allocated(void) {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_peak;
}
static size_t cuda_memory_reserved(void) {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_reserved;
}
static void cuda_reset_peak(void) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_peak = g_allocated;
}

/* ---------------------------------------------------------------- copies */

/* Host->device from pageable memory goes through a ring of pinned slots:
** the host copies into a free slot and queues an async copy, so the caller
** returns while the GPU still computes. A slot is reused once its event
** says the previous copy finished. */
#define LT_STAGE_SLOTS 4
#define LT_STAGE_BYTES (4u << 20)
#define LT_STAGE_MAX (64u << 20)  /* bigger copies go straight (synchronous) */
static void *g_stage[LT_STAGE_SLOTS];
static cudaEvent_t g_stage_ev[LT_STAGE_SLOTS];
static bool g_stage_used[LT_STAGE_SLOTS];
static int g_stage_next;
static bool g_stage_ok, g_stage_tried;

static void stage_init(void) {
  g_stage_tried = true;
  for (int i = 0; i < LT_STAGE_SLOTS; i++) {
    if (cudaMallocHost(&g_stage[i], LT_STAGE_BYTES) != cudaSuccess ||
        cudaEventCreateWithFlags(&g_stage_ev[i], cudaEventDisableTiming) != cudaSuccess) {
      (void)cudaGetLastError();
      g_stage[i] = NULL;
      return;  /* g_stage_ok stays false: plain copies */
    }
  }
  g_stage_ok = true;
}

static lt_status h2d_staged(void *dst, const void *src, size_t nbytes) {
  const char *s = (const char *)src;
  char *d = (char *)dst;
  while (nbytes > 0) {
    size_t chunk = nbytes < LT_STAGE_BYTES ? nbytes : LT_STAGE_BYTES;
    int slot = g_stage_next;
    g_stage_next = (g_stage_next + 1) % LT_STAGE_SLOTS;
    if (g_stage_used[slot]) LT_CUDA_CHECK("memcpy h2d", cudaEventSynchronize(g_stage_ev[slot]));
    memcpy(g_stage[slot], s, chunk);
    LT_CUDA_CHECK("memcpy h2d", cudaMemcpyAsync(d, g_stage[slot], chunk,
                                                cudaMemcpyHostToDevice, lt_cuda_stream));
    LT_CUDA_CHECK("memcpy h2d", cudaEventRecord(g_stage_ev[slot], lt_cuda_stream));
    g_stage_used[slot] = true;
    s += chunk;
    d += chunk;
    nbytes -= chunk;
  }
  return LT_OK;
}

static lt_status cuda_memcpy(void *dst, bool dst_host, const void *src, bool src_host,
                             size_t nbytes, int device_index) {
  (void)device_index;
  if (nbytes == 0) return LT_OK;
  if (dst_host && src_host) {
    LT_CUDA_CHECK("memcpy h2h", cudaStreamSynchronize(lt_cuda_stream));
    memmove(dst, src, nbytes);
    return LT_OK;
  }
  if (dst_host) {  /* d2h: synchronous, surfaces earlier kernel errors */
    LT_CUDA_CHECK("memcpy d2h", cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost,
                                                lt_cuda_stream));
    LT_CUDA_CHECK("memcpy d2h", cudaStreamSynchronize(lt_cuda_stream));
    return LT_OK;
  }
  if (src_host) {
    if (!g_stage_tried) stage_init();
    if (g_stage_ok && nbytes <= LT_STAGE_MAX) return h2d_staged(dst, src, nbytes);
    LT_CUDA_CHECK("memcpy h2d", cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice,
                                                lt_cuda_stream));
    /* pageable source: make sure the caller may reuse it right away */
    LT_CUDA_CHECK("memcpy h2d", cudaStreamSynchronize(lt_cuda_stream));
    return LT_OK;
  }
  LT_CUDA_CHECK("memcpy d2d", cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice,
                                              lt_cuda_stream));
  return LT_OK;
}

static lt_status cuda_synchronize(int device_index) {
  (void)device_index;
  LT_CUDA_CHECK("synchronize", cudaStreamSynchronize(lt_cuda_stream));
  return LT_OK;
}

static int cuda_device_count(void) { return g_device_count; }
static const char *cuda_device_name(int index) {
  if (index < 0 || index >= g_device_count || index >= LT_MAX_DIMS) return NULL;
  return g_device_name[index];
}

/* ---------------------------------------------------------------- the table */

static const lt_backend g_cuda_backend = {
  /* name */ "cuda",
  cuda_alloc,
  cuda_free,
  cuda_memcpy,
  cuda_synchronize,
  cuda_empty_cache,
  cuda_memory_allocated,
  cuda_max_memory_allocated,
  cuda_memory_reserved,
  cuda_reset_peak,
  cuda_device_count,
  cuda_device_name,
  lt_cuda_copy,
  lt_cuda_fill,
  lt_cuda_unary,
  lt_cuda_unary_backward,
  lt_cuda_binary,
  lt_cuda_where,
  lt_cuda_reduce,
  lt_cuda_gemm,
  lt_cuda_index_select,
  lt_cuda_index_add,
  lt_cuda_gather,
  lt_cuda_scatter,
  lt_cuda_check_index,
  lt_cuda_softmax,
  lt_cuda_softmax_backward,
  lt_cuda_cross_entropy,
  lt_cuda_cross_entropy_backward,
  lt_cuda_layer_norm,
  lt_cuda_layer_norm_backward,
  lt_cuda_im2col,
  lt_cuda_col2im,
  lt_cuda_max_pool2d,
  lt_cuda_max_pool2d_backward,
  lt_cuda_avg_pool2d,
  lt_cuda_avg_pool2d_backward,
  lt_cuda_adaptive_avg_pool2d,
  lt_cuda_adaptive_avg_pool2d_backward,
  lt_cuda_rng,
  lt_cuda_sgd_step,
  lt_cuda_adam_step,
  lt_cuda_rmsprop_step,
  lt_cuda_sdpa_forward,
  lt_cuda_sdpa_backward,
  lt_cuda_batch_norm_stats,
  lt_cuda_batch_norm_forward,
  lt_cuda_batch_norm_backward,
  lt_cuda_sort_rows,
  lt_cuda_cumulative,
  lt_cuda_lstm_cell,
  lt_cuda_lstm_cell_backward,
  lt_cuda_gru_cell,
  lt_cuda_gru_cell_backward,
};

static lt_status noop_error(lt_status code, const char *fmt, ...) {
  (void)fmt;
  return code;
}

extern "C" LT_CUDA_EXPORT const lt_backend *lt_cuda_backend_get(lt_error_fn error_fn) {
  static bool done, ok;
  lt_cuda_err = error_fn ? error_fn : noop_error;
  if (done) return ok ? &g_cuda_backend : NULL;
  done = true;
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n <= 0) {
    (void)cudaGetLastError();
    return NULL;
  }
  if (cudaSetDevice(0) != cudaSuccess) { (void)cudaGetLastError(); return NULL; }
  g_device_count = n;
  for (int i = 0; i < n && i < LT_MAX_DIMS; i++) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      (void)cudaGetLastError();
      return NULL;
    }
    snprintf(g_device_name[i], sizeof g_device_name[i], "%s", prop.name);
    if (i == 0) lt_cuda_sm_count = prop.multiProcessorCount > 0 ? prop.multiProcessorCount : 1;
  }
  /* creating the stream also creates the context: a failure is "no GPU" */
  if (cudaStreamCreateWithFlags(&lt_cuda_stream, cudaStreamNonBlocking) != cudaSuccess) {
    (void)cudaGetLastError();
    return NULL;
  }
  ok = true;
  return &g_cuda_backend;
}
