/*
** device.c - devices and backends: parsing "cuda:1", finding the backend
** table of a device, loading the CUDA backend with dlopen at run time (so
** the binary links no CUDA library), and the global switches (determinism,
** tf32, threads, interrupt). It launches no kernels itself.
*/
#include <dlfcn.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

static const lt_backend *cuda_backend;
static bool cuda_tried;
static bool deterministic;
static bool allow_tf32;
static int sdpa_mode = LT_SDPA_AUTO;
static bool benchmark_on;
static volatile int interrupt_flag;
static void (*cuda_set_tf32)(int);
static void (*cuda_set_deterministic)(int);

lt_status lt_device_parse(const char *s, lt_device *out) {
  if (!s) return lt_error(LT_ERR_DEVICE, "device: expected a device string, got nothing");
  if (strcmp(s, "cpu") == 0) { *out = lt_cpu(); return LT_OK; }
  if (strncmp(s, "cuda", 4) == 0) {
    if (s[4] == '\0') { *out = lt_cuda(0); return LT_OK; }
    if (s[4] == ':') {
      char *end;
      long i = strtol(s + 5, &end, 10);
      if (end != s + 5 && *end == '\0' && i >= 0 && i < 64) {
        *out = lt_cuda((int)i);
        return LT_OK;
      }
    }
  }
  return lt_error(LT_ERR_DEVICE,
                  "device: unknown device '%s' (expected \"cpu\", \"cuda\" or \"cuda:N\")", s);
}

const char *lt_device_str(lt_device d, char *buf) {
  if (d.type == LT_DEVICE_CPU) strcpy(buf, "cpu");
  else snprintf(buf, 16, "cuda:%d", d.index);
  return buf;
}

/* Directory of the file that holds this function (luatrain or luatrain.so). */
static bool self_dir(char *buf, size_t n) {
  Dl_info info;
  if (dladdr((void *)self_dir, &info) && info.dli_fname && strchr(info.dli_fname, '/')) {
    char *real = realpath(info.dli_fname, NULL);
    if (real) {
      snprintf(buf, n, "%s", real);
      free(real);
      char *slash = strrchr(buf, '/');
      if (slash) { *slash = '\0'; return true; }
    }
  }
  ssize_t len = readlink("/proc/self/exe", buf, n - 1);
  if (len <= 0) return false;
  buf[len] = '\0';
  char *slash = strrchr(buf, '/');
  if (!slash) return false;
  *slash = '\0';
  return true;
}

static void *try_open(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  return h;
}

bool lt_cuda_init(void) {
  if (cuda_tried) return cuda_backend != NULL;
  cuda_tried = true;
  if (getenv("LUATRAIN_NO_CUDA")) return false;
  void *h = NULL;
  const char *env = getenv("LUATRAIN_CUDA_LIB");
  if (env && *env) h = try_open(env);
  if (!h) {
    char dir[PATH_MAX], path[PATH_MAX + 32];
    if (self_dir(dir, sizeof dir)) {
      snprintf(path, sizeof path, "%s/luatrain_cuda.so", dir);
      if (access(path, R_OK) == 0) h = try_open(path);
    }
  }
  if (!h) return false;
  lt_cuda_backend_entry entry = (lt_cuda_backend_entry)dlsym(h, LT_CUDA_ENTRY_SYMBOL);
  if (!entry) { dlclose(h); return false; }
  cuda_backend = entry(lt_error);
  lt_clearerr();
  if (!cuda_backend) return false;  /* keep the library loaded: harmless */
  cuda_set_tf32 = (void (*)(int))dlsym(h, "lt_cuda_set_tf32");
  cuda_set_deterministic = (void (*)(int))dlsym(h, "lt_cuda_set_deterministic");
  if (cuda_set_tf32) cuda_set_tf32(allow_tf32);
  if (cuda_set_deterministic) cuda_set_deterministic(deterministic);
  return true;
}

bool lt_cuda_is_available(void) { return lt_cuda_init(); }

int lt_cuda_device_count(void) {
  return lt_cuda_init() && cuda_backend->device_count ? cuda_backend->device_count() : 0;
}

const char *lt_cuda_device_name(int index) {
  if (!lt_cuda_init() || !cuda_backend->device_name) return NULL;
  return cuda_backend->device_name(index);
}

lt_status lt_cuda_synchronize(void) {
  if (!lt_cuda_init()) return LT_OK;
  return cuda_backend->synchronize ? cuda_backend->synchronize(0) : LT_OK;
}
lt_status lt_cuda_empty_cache(void) {
  if (!lt_cuda_init()) return LT_OK;
  return cuda_backend->empty_cache ? cuda_backend->empty_cache() : LT_OK;
}
#define CUDA_STAT(fn, field)                                                        \
  size_t fn(void) {                                                                 \
    return lt_cuda_init() && cuda_backend->field ? cuda_backend->field() : 0;       \
  }
CUDA_STAT(lt_cuda_memory_allocated, memory_allocated)
CUDA_STAT(lt_cuda_max_memory_allocated, max_memory_allocated)
CUDA_STAT(lt_cuda_memory_reserved, memory_reserved)
void lt_cuda_reset_peak_memory_stats(void) {
  if (lt_cuda_init() && cuda_backend->reset_peak) cuda_backend->reset_peak();
}

const lt_backend *lt_backend_for(lt_device dev) {
  if (dev.type == LT_DEVICE_CPU) return &lt_cpu_backend;
  if (dev.type == LT_DEVICE_CUDA) {
    if (!lt_cuda_init()) {
      lt_error(LT_ERR_DEVICE,
               "cuda: no CUDA device is available (no GPU, no driver, or "
               "luatrain_cuda.so was not built)");
      return NULL;
    }
    int n = cuda_backend->device_count ? cuda_backend->device_count() : 1;
    if (dev.index >= n) {
      lt_error(LT_ERR_DEVICE, "cuda: device cuda:%d does not exist (%d device%s)", dev.index,
               n, n == 1 ? "" : "s");
      return NULL;
    }
    return cuda_backend;
  }
  lt_error(LT_ERR_DEVICE, "device: unknown device type %d", dev.type);
  return NULL;
}

void lt_set_deterministic(bool on) {
  deterministic = on;
  if (cuda_set_deterministic) cuda_set_deterministic(on);
}
bool lt_deterministic(void) { return deterministic; }
void lt_set_allow_tf32(bool on) {
  allow_tf32 = on;
  if (cuda_set_tf32) cuda_set_tf32(on);
}
bool lt_allow_tf32(void) { return allow_tf32; }
void lt_set_sdpa_fused_mode(int mode) {
  sdpa_mode = mode < 0 ? LT_SDPA_AUTO : (mode ? LT_SDPA_ALWAYS : LT_SDPA_NEVER);
}
int lt_sdpa_fused_mode(void) { return sdpa_mode; }
void lt_set_benchmark(bool on) { benchmark_on = on; }
bool lt_benchmark(void) { return benchmark_on; }
void lt_set_num_threads(int n) {
  if (n < 1) n = 1;
  omp_set_num_threads(n);
}
int lt_get_num_threads(void) { return omp_get_max_threads(); }

static volatile int interrupt_deferred;
void lt_set_interrupt(int on) { interrupt_flag = on; }
int lt_interrupted(void) { return interrupt_flag; }
void lt_set_interrupt_deferred(int on) { interrupt_deferred = on; }
int lt_interrupt_deferred(void) { return interrupt_deferred; }
lt_status lt_check_interrupt(void) {
  if (interrupt_flag && !interrupt_deferred) return lt_error(LT_ERR_INTERRUPT, "interrupted");
  return LT_OK;
}
