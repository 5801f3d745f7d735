/*
** cpu_memory.c - host memory for the CPU backend (64-byte aligned
** allocations, free, memcpy) and the exported half-precision conversions
** of backend.h. No caching allocator and no statistics: the engine counts
** bytes itself.
*/
#include <stdlib.h>
#include <string.h>
#include "cpu_util.h"

void *lt_cpu_alloc(size_t nbytes, int device_index) {
  (void)device_index;
  void *p = NULL;
  /* round up so the block always ends on a 64-byte boundary (SIMD tails) */
  size_t n = nbytes ? (nbytes + 63) & ~(size_t)63 : 64;
  if (n < nbytes) return NULL;  /* overflow */
  if (posix_memalign(&p, 64, n) != 0) return NULL;
  return p;
}

void lt_cpu_free(void *ptr, size_t nbytes, int device_index) {
  (void)nbytes;
  (void)device_index;
  free(ptr);
}

lt_status lt_cpu_memcpy(void *dst, bool dst_host, const void *src, bool src_host, size_t nbytes,
                        int device_index) {
  (void)dst_host;  /* host and "device" are the same memory on the CPU */
  (void)src_host;
  (void)device_index;
  if (nbytes == 0 || dst == src) return LT_OK;
  if (!dst || !src) return lt_error(LT_ERR_ARG, "memcpy: NULL %s pointer for %zu bytes",
                                    dst ? "source" : "destination", nbytes);
  memcpy(dst, src, nbytes);
  return LT_OK;
}

float lt_half_to_float(uint16_t h) { return lt_cpu_h2f(h); }
uint16_t lt_float_to_half(float f) { return lt_cpu_f2h(f); }
