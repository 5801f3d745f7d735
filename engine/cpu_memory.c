/*
** cpu_memory.c - host memory for the CPU backend (64-byte aligned
** allocations with a small cache of freed blocks, free, memcpy) and the
** exported half-precision conversions of backend.h. The cache is bounded
** (LT_CPU_CACHE_BYTES) and keeps no statistics: the engine counts bytes
** itself. Off under AddressSanitizer.
*/
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "cpu_util.h"

/*
** Training loops allocate the same sizes every step; posix_memalign and
** free of those blocks (malloc's memalign path, consolidation, mmap and
** page faults for large ones) cost more than a tiny op itself. Freed
** blocks up to LT_CPU_CACHE_MAX bytes go to a free list per size class
** (multiples of 64 up to 1 KiB, then 4 classes per power of two) and are
** handed out again; at most LT_CPU_CACHE_BYTES stay cached in all. When a
** freed block does not fit, the size classes used least recently give
** their blocks back to the system first: blocks a script freed once (a
** dataset's staging buffers) must not fill the cache for good and turn
** every later step's blocks into fresh, page-faulting memory.
*/
#if defined(__SANITIZE_ADDRESS__)
#define LT_CPU_CACHE_BYTES 0
#else
#define LT_CPU_CACHE_BYTES ((size_t)256 << 20)
#endif
#define LT_CPU_CACHE_MAX ((size_t)64 << 20)
#define LT_CPU_NCLASS (16 + 4 * 27)

typedef struct cached_block { struct cached_block *next; } cached_block;
static cached_block *cache_list[LT_CPU_NCLASS];
static size_t cache_count[LT_CPU_NCLASS];     /* blocks in each list */
static unsigned long long cache_used[LT_CPU_NCLASS];  /* tick of the last use */
static unsigned long long cache_tick;
static size_t cache_bytes;
static atomic_flag cache_flag = ATOMIC_FLAG_INIT;

/* The lock is held for a few instructions: spin. */
static void cache_lock(void) {
  while (atomic_flag_test_and_set_explicit(&cache_flag, memory_order_acquire)) {
  }
}
static void cache_unlock(void) { atomic_flag_clear_explicit(&cache_flag, memory_order_release); }

/* Size class of a request of n bytes (n > 0, multiple of 64, <= CACHE_MAX)
** and the block size that class allocates. */
static int size_class(size_t n, size_t *block) {
  if (n <= 1024) {
    *block = n;
    return (int)(n / 64) - 1;
  }
  int b = 63 - __builtin_clzll((unsigned long long)(n - 1));  /* 2^b < n <= 2^(b+1) */
  size_t step = (size_t)1 << (b - 2);                        /* 2^b / 4 */
  size_t q = (n + step - 1) / step;                          /* 5 .. 8 */
  *block = q * step;
  return 16 + (b - 10) * 4 + (int)(q - 5);
}

/* Bytes of one block of class c (the inverse of size_class). */
static size_t class_block(int c) {
  if (c < 16) return (size_t)(c + 1) * 64;
  int b = (c - 16) / 4 + 10, q = (c - 16) % 4 + 5;
  return (size_t)q << (b - 2);
}

/* Blocks of LT_CPU_HUGE bytes or more are aligned to 2 MiB and marked
** MADV_HUGEPAGE (Linux's transparent huge pages are usually opt-in,
** "madvise"): one page fault per 2 MiB instead of 512 when a big tensor is
** first written, and one TLB entry per 2 MiB when rows are read at random
** from a dataset in memory. */
#define LT_CPU_HUGE ((size_t)4 << 20)
#define LT_CPU_HUGE_ALIGN ((size_t)2 << 20)

static void *aligned_alloc64(size_t n) {
  void *p = NULL;
#if defined(MADV_HUGEPAGE)
  if (n >= LT_CPU_HUGE) {
    size_t m = (n + LT_CPU_HUGE_ALIGN - 1) & ~(LT_CPU_HUGE_ALIGN - 1);
    if (m >= n && posix_memalign(&p, LT_CPU_HUGE_ALIGN, m) == 0) {
      (void)madvise(p, m, MADV_HUGEPAGE);  /* advice only: failure is harmless */
      return p;
    }
    p = NULL;
  }
#endif
  if (posix_memalign(&p, 64, n) != 0) return NULL;
  return p;
}

void *lt_cpu_alloc(size_t nbytes, int device_index) {
  (void)device_index;
  /* round up so the block always ends on a 64-byte boundary (SIMD tails) */
  size_t n = nbytes ? (nbytes + 63) & ~(size_t)63 : 64;
  if (n < nbytes) return NULL;  /* overflow */
  if (LT_CPU_CACHE_BYTES == 0 || n > LT_CPU_CACHE_MAX) return aligned_alloc64(n);
  size_t block;
  int c = size_class(n, &block);
  cache_lock();
  cache_used[c] = ++cache_tick;
  cached_block *h = cache_list[c];
  if (h) {
    cache_list[c] = h->next;
    cache_count[c]--;
    cache_bytes -= block;
  }
  cache_unlock();
  return h ? (void *)h : aligned_alloc64(block);
}

/* With the lock held: unlinks the blocks of the least recently used classes
** other than keep until need more bytes fit, and returns them as one list
** for the caller to free after unlocking. */
static cached_block *evict_locked(size_t need, int keep) {
  cached_block *out = NULL;
  while (cache_bytes + need > LT_CPU_CACHE_BYTES) {
    int victim = -1;
    for (int c = 0; c < LT_CPU_NCLASS; c++)
      if (c != keep && cache_list[c] && (victim < 0 || cache_used[c] < cache_used[victim]))
        victim = c;
    if (victim < 0) break;
    cached_block *h = cache_list[victim];
    while (h->next) h = h->next;
    h->next = out;
    out = cache_list[victim];
    cache_bytes -= cache_count[victim] * class_block(victim);
    cache_list[victim] = NULL;
    cache_count[victim] = 0;
  }
  return out;
}

static void free_list(cached_block *h) {
  while (h) {
    cached_block *next = h->next;
    free(h);
    h = next;
  }
}

void lt_cpu_free(void *ptr, size_t nbytes, int device_index) {
  (void)device_index;
  if (!ptr) return;
  size_t n = nbytes ? (nbytes + 63) & ~(size_t)63 : 64;
  if (LT_CPU_CACHE_BYTES == 0 || n > LT_CPU_CACHE_MAX) {
    free(ptr);
    return;
  }
  size_t block;
  int c = size_class(n, &block);
  cached_block *evicted = NULL;
  cache_lock();
  cache_used[c] = ++cache_tick;
  if (cache_bytes + block > LT_CPU_CACHE_BYTES) evicted = evict_locked(block, c);
  if (cache_bytes + block <= LT_CPU_CACHE_BYTES) {
    cached_block *h = ptr;
    h->next = cache_list[c];
    cache_list[c] = h;
    cache_count[c]++;
    cache_bytes += block;
    ptr = NULL;
  }
  cache_unlock();
  free_list(evicted);
  free(ptr);
}

/* Returns every cached block to the system (empty_cache, OOM retry). */
lt_status lt_cpu_empty_cache(void) {
  cached_block *all = NULL;
  cache_lock();
  for (int c = 0; c < LT_CPU_NCLASS; c++) {
    cached_block *h = cache_list[c];
    while (h) {
      cached_block *next = h->next;
      h->next = all;
      all = h;
      h = next;
    }
    cache_list[c] = NULL;
    cache_count[c] = 0;
  }
  cache_bytes = 0;
  cache_unlock();
  free_list(all);
  return LT_OK;
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
