/*
** fuzz_idx.c - libFuzzer harness for lt_idx_parse (plain and gzip IDX):
** any input gives a tensor whose size matches its shape, or a clean error.
** Built by tests/fuzz/run.sh.
*/
#include <stdint.h>
#include <stdlib.h>
#include "luatrain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lt_clearerr();
  lt_tensor *t = lt_idx_parse(data, size, "fuzz-idx");
  if (!t) {
    if (lt_errcode() == LT_OK) abort();  /* NULL must come with an error */
    return 0;
  }
  volatile unsigned char sink = 0;
  const unsigned char *p = lt_tensor_data(t);
  size_t nb = (size_t)lt_numel(t) * lt_dtype_size(t->dtype);
  for (size_t k = 0; k < nb; k++) sink ^= p[k];
  (void)sink;
  lt_tensor_release(t);
  return 0;
}
