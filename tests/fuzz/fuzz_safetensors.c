/*
** fuzz_safetensors.c - libFuzzer harness for lt_safetensors_parse: any input
** must give LT_OK or a clean error (no crash, leak or UB under ASan/UBSan),
** and an error must leave the dict empty. An input starting with '{' is
** also tried as "JSON header up to the last '}', then data" with the length
** prefix added, so mutations of the JSON keep a consistent header length.
** Built by tests/fuzz/run.sh.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "luatrain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_one(const uint8_t *data, size_t size) {
  lt_tensor_dict d;
  lt_status st = lt_safetensors_parse(data, size, "fuzz.safetensors", &d);
  if (st != LT_OK) {
    if (d.n || d.names || d.tensors || d.n_meta || d.meta_keys) abort();
    return;
  }
  /* read every loaded element so bad sizes show up under ASan */
  volatile unsigned char sink = 0;
  for (int i = 0; i < d.n; i++) {
    const unsigned char *p = lt_tensor_data(d.tensors[i]);
    size_t nb = (size_t)lt_numel(d.tensors[i]) * lt_dtype_size(d.tensors[i]->dtype);
    for (size_t k = 0; k < nb; k++) sink ^= p[k];
    if (!d.names[i]) abort();
  }
  for (int i = 0; i < d.n_meta; i++)
    if (!d.meta_keys[i] || !d.meta_values[i]) abort();
  (void)sink;
  lt_tensor_dict_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  parse_one(data, size);
  if (size > 0 && data[0] == '{') {
    size_t h = size;
    while (h > 0 && data[h - 1] != '}') h--;
    uint8_t *buf = malloc(size + 8);
    if (!buf) return 0;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, data, size);
    parse_one(buf, size + 8);
    free(buf);
  }
  return 0;
}
