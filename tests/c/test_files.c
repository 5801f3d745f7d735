/*
** test_files.c - safetensors and IDX readers/writers (engine/safetensors.c,
** engine/idx.c): round trips of every dtype with metadata, the header
** layout, atomic overwrite, corrupt inputs giving clean LT_ERR_FORMAT
** errors, IDX plain and gzip files, and the real Fashion-MNIST labels.
*/
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "ctest.h"

static char tmpdir[256];

static void path_in_tmp(char *buf, size_t n, const char *leaf) {
  snprintf(buf, n, "%s/%s", tmpdir, leaf);
}

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
  *len = fread(b, 1, (size_t)n, f);
  fclose(f);
  return b;
}

static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(p, 1, n, f);
  fclose(f);
}

static bool exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* all values of t as doubles (caller frees) */
static double *values(lt_tensor *t) {
  int64_t n = lt_numel(t);
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  if (lt_to_host(t, v, LT_DTYPE_F64)) {
    free(v);
    return NULL;
  }
  return v;
}

/* ---------------------------------------------------------------- safetensors */

static void test_roundtrip(void) {
  char path[512];
  path_in_tmp(path, sizeof path, "model.safetensors");
  double src[12] = {1, -2.5, 3, 0, 1, 0, 7, 8.25, -9, 10, 1, 0};
  int64_t s23[] = {2, 3}, s0[] = {0, 3}, s4[] = {4}, s322[] = {3, 2, 2};
  const char *names[] = {"f32", "f64", "bf16", "f16", "i64", "i32", "u8", "bool",
                         "scalar", "empty", "fc1.weight.T"};
  lt_tensor *ts[11];
  ts[0] = lt_from_data(src, LT_DTYPE_F64, s23, 2, LT_DTYPE_F32, lt_cpu());
  ts[1] = lt_from_data(src, LT_DTYPE_F64, s322, 3, LT_DTYPE_F64, lt_cpu());
  ts[2] = lt_from_data(src, LT_DTYPE_F64, s4, 1, LT_DTYPE_BF16, lt_cpu());
  ts[3] = lt_from_data(src, LT_DTYPE_F64, s23, 2, LT_DTYPE_F16, lt_cpu());
  ts[4] = lt_from_data(src, LT_DTYPE_F64, s4, 1, LT_DTYPE_I64, lt_cpu());
  ts[5] = lt_from_data(src, LT_DTYPE_F64, s23, 2, LT_DTYPE_I32, lt_cpu());
  double u8src[4] = {0, 255, 17, 3}, bsrc[4] = {1, 0, 0, 1};
  ts[6] = lt_from_data(u8src, LT_DTYPE_F64, s4, 1, LT_DTYPE_U8, lt_cpu());
  ts[7] = lt_from_data(bsrc, LT_DTYPE_F64, s4, 1, LT_DTYPE_BOOL, lt_cpu());
  ts[8] = lt_scalar(42.5, LT_DTYPE_F32, lt_cpu());
  ts[9] = lt_empty(s0, 2, LT_DTYPE_F32, lt_cpu());
  ts[10] = ts[0] ? lt_transpose(ts[0], 0, 1) : NULL;  /* non-contiguous */
  for (int i = 0; i < 11; i++) CHECK(ts[i] != NULL, "make tensor %d", i);
  if (!ts[10]) return;
  CHECK(!lt_is_contiguous(ts[10]), "transposed view is not contiguous");
  char *mk[] = {"format", "note"}, *mv[] = {"pt", "luatrain \"quoted\" \xc3\xa9"};
  lt_tensor_dict d = {11, (char **)names, ts, 2, mk, mv};
  CHECK(lt_safetensors_save(path, &d) == LT_OK, "save");

  /* header layout: length multiple of 8, JSON padded with spaces, metadata first */
  size_t len = 0;
  unsigned char *raw = read_file(path, &len);
  CHECK(raw && len > 8, "file written");
  if (raw && len > 8) {
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--) h = h << 8 | raw[i];
    CHECK(h % 8 == 0 && h + 8 <= len, "header length %llu", (unsigned long long)h);
    CHECK(memcmp(raw + 8, "{\"__metadata__\"", 15) == 0, "metadata first: %.40s", raw + 8);
    /* data size = sum of tensor sizes */
    size_t data = 4 * 6 + 8 * 12 + 2 * 4 + 2 * 6 + 8 * 4 + 4 * 6 + 4 + 4 + 4 + 0 + 4 * 6;
    CHECK(len - 8 - h == data, "data area %zu vs %zu", (size_t)(len - 8 - h), data);
    /* the reference order: 8-byte dtypes first: f64 data starts the area */
    double first;
    memcpy(&first, raw + 8 + h, 8);
    CHECK(first == 1, "f64 first in data (%g)", first);
  }
  free(raw);

  lt_tensor_dict in;
  CHECK(lt_safetensors_load(path, &in) == LT_OK, "load");
  CHECK(in.n == 11, "n %d", in.n);
  for (int i = 0; i < 11; i++) {
    int j = -1;
    for (int k = 0; k < in.n; k++)
      if (strcmp(in.names[k], names[i]) == 0) j = k;
    CHECK(j >= 0, "tensor %s loaded", names[i]);
    if (j < 0) continue;
    lt_tensor *a = ts[i], *b = in.tensors[j];
    CHECK(a->dtype == b->dtype && a->ndim == b->ndim, "%s dtype/ndim", names[i]);
    bool same_shape = a->ndim == b->ndim;
    for (int dd = 0; same_shape && dd < a->ndim; dd++) same_shape = a->shape[dd] == b->shape[dd];
    CHECK(same_shape, "%s shape", names[i]);
    CHECK(lt_tensor_device(b).type == LT_DEVICE_CPU, "loaded on cpu");
    double *va = values(a), *vb = values(b);
    bool eq = va && vb;
    for (int64_t e = 0; eq && e < lt_numel(a); e++) eq = va[e] == vb[e];
    CHECK(eq, "%s values", names[i]);
    free(va);
    free(vb);
  }
  CHECK(in.n_meta == 2, "n_meta %d", in.n_meta);
  for (int k = 0; k < in.n_meta; k++) {
    if (strcmp(in.meta_keys[k], "note") == 0)
      CHECK(strcmp(in.meta_values[k], mv[1]) == 0, "meta value %s", in.meta_values[k]);
    else
      CHECK(strcmp(in.meta_keys[k], "format") == 0 && strcmp(in.meta_values[k], "pt") == 0,
            "meta %s", in.meta_keys[k]);
  }
  lt_tensor_dict_free(&in);
  CHECK(in.n == 0 && in.names == NULL, "dict_free clears");

  /* a failing save leaves the old file intact and no temporary behind */
  size_t before_len = 0, after_len = 0;
  unsigned char *before = read_file(path, &before_len);
  const char *dup[] = {"a", "a"};
  lt_tensor *two[] = {ts[0], ts[1]};
  lt_tensor_dict bad = {2, (char **)dup, two, 0, NULL, NULL};
  CHECK(lt_safetensors_save(path, &bad) == LT_ERR_ARG, "duplicate names refused");
  CHECK(strstr(lt_errmsg(), "appears twice") != NULL, "msg %s", lt_errmsg());
  char nodir[600];
  snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.safetensors", tmpdir);
  CHECK(lt_safetensors_save(nodir, &d) == LT_ERR_IO, "unwritable path");
  unsigned char *after = read_file(path, &after_len);
  CHECK(before && after && before_len == after_len && memcmp(before, after, before_len) == 0,
        "old file intact");
  free(before);
  free(after);
  char tmpname[600];
  snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", path, (long)getpid());
  CHECK(!exists(tmpname), "no temp file left");

  /* an empty dict round-trips */
  lt_tensor_dict none = {0};
  CHECK(lt_safetensors_save(path, &none) == LT_OK, "save empty");
  CHECK(lt_safetensors_load(path, &in) == LT_OK && in.n == 0, "load empty");
  lt_tensor_dict_free(&in);
  unlink(path);
  for (int i = 0; i < 11; i++) lt_tensor_release(ts[i]);
}

/* A safetensors buffer from header JSON and data bytes (header length as
** given when hlen_override != 0). */
static unsigned char *make_st(const char *json, size_t dlen, uint64_t hlen_override,
                              size_t *len) {
  size_t h = strlen(json);
  *len = 8 + h + dlen;
  unsigned char *b = calloc(*len + 1, 1);
  uint64_t hl = hlen_override ? hlen_override : h;
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hl >> (8 * i));
  memcpy(b + 8, json, h);
  for (size_t i = 0; i < dlen; i++) b[8 + h + i] = (unsigned char)i;
  return b;
}

static void expect_bad(const char *json, size_t dlen, uint64_t hlen, const char *want) {
  size_t len;
  unsigned char *b = make_st(json, dlen, hlen, &len);
  lt_tensor_dict d;
  lt_status st = lt_safetensors_parse(b, len, "model.safetensors", &d);
  CHECK(st == LT_ERR_FORMAT, "corrupt header accepted: %s", json);
  CHECK(strstr(lt_errmsg(), "model.safetensors") && strstr(lt_errmsg(), want),
        "message for %s lacks '%s'", json, want);
  CHECK(d.n == 0 && d.tensors == NULL, "nothing returned");
  free(b);
}

static void test_corrupt(void) {
  const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
  size_t len;
  unsigned char *b = make_st(ok, 24, 0, &len);
  lt_tensor_dict d;
  CHECK(lt_safetensors_parse(b, len, "model.safetensors", &d) == LT_OK, "valid buffer");
  CHECK(d.n == 1 && d.tensors[0]->shape[1] == 3, "parsed");
  lt_tensor_dict_free(&d);
  /* every truncation of a valid buffer is a clean error */
  for (size_t cut = 0; cut < len; cut++) {
    lt_status st = lt_safetensors_parse(b, cut, "model.safetensors", &d);
    CHECK(st == LT_ERR_FORMAT, "truncated at %zu", cut);
  }
  free(b);
  expect_bad(ok, 24, 1ull << 40, "header length");
  expect_bad(ok, 24, 200, "runs past the end");
  expect_bad("{\"a\": [1, 2", 0, 0, "not valid JSON");
  expect_bad("[1, 2]", 0, 0, "not a JSON object");
  expect_bad("{\"a\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, 0,
             "unsupported dtype 'I8'");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, 0,
             "shape entry 0");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,12]}}", 12, 0,
             "tensor 'a': data_offsets [0, 12] do not match shape {2, 3} of F32 (24 bytes)");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, 0,
             "run past the end");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, 0,
             "do not match");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
             12, 0, "overlap");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, 0, "gap");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, 0,
             "cover 4 bytes of data but the file holds 8");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],"
             "\"data_offsets\":[0,8]}}", 8, 0, "too large");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
             4, 0, "dimensions");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, 0,
             "data_offsets");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}", 4, 0,
             "data_offsets");
  expect_bad("{\"a\":3}", 0, 0, "not a JSON object");
  expect_bad("{\"__metadata__\":{\"k\":1}}", 0, 0, "metadata 'k' is not a string");
  expect_bad("{\"__metadata__\":[]}", 0, 0, "'__metadata__' is not a JSON object");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
             4, 0, "not valid JSON");
  lt_status st = lt_safetensors_parse("abc", 3, "model.safetensors", &d);
  CHECK(st == LT_ERR_FORMAT && strstr(lt_errmsg(), "too short"), "short buffer");
  /* zero-size tensors may share offsets; bool bytes are normalised */
  const char *z = "{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                  "\"f\":{\"dtype\":\"I64\",\"shape\":[0,5],\"data_offsets\":[0,0]},"
                  "\"g\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}";
  b = make_st(z, 3, 0, &len);
  b[len - 3] = 0; b[len - 2] = 7; b[len - 1] = 1;
  CHECK(lt_safetensors_parse(b, len, "z", &d) == LT_OK && d.n == 3, "zero-size entries");
  for (int k = 0; k < d.n; k++)
    if (strcmp(d.names[k], "g") == 0) {
      const unsigned char *gv = lt_tensor_data(d.tensors[k]);
      CHECK(gv[0] == 0 && gv[1] == 1 && gv[2] == 1, "bool normalised");
    }
  lt_tensor_dict_free(&d);
  free(b);
  CHECK(lt_safetensors_load("/nonexistent/x.safetensors", &d) == LT_ERR_IO, "missing file");
  CHECK(strstr(lt_errmsg(), "/nonexistent/x.safetensors") != NULL, "msg %s", lt_errmsg());
}

/* ---------------------------------------------------------------- IDX */

static size_t make_idx(unsigned char *b, int type, int nd, const uint32_t *dims,
                       const void *data, size_t dlen) {
  b[0] = b[1] = 0;
  b[2] = (unsigned char)type;
  b[3] = (unsigned char)nd;
  for (int d = 0; d < nd; d++)
    for (int k = 0; k < 4; k++) b[4 + 4 * d + k] = (unsigned char)(dims[d] >> (24 - 8 * k));
  memcpy(b + 4 + 4 * nd, data, dlen);
  return 4 + 4 * (size_t)nd + dlen;
}

static void test_idx(void) {
  unsigned char buf[256];
  unsigned char u8[6] = {0, 1, 2, 250, 4, 5};
  size_t n = make_idx(buf, 0x08, 2, (uint32_t[]){2, 3}, u8, 6);
  char plain[512], gz[512];
  path_in_tmp(plain, sizeof plain, "small-idx2-ubyte");
  path_in_tmp(gz, sizeof gz, "small-idx2-ubyte.gz");
  write_file(plain, buf, n);
  gzFile g = gzopen(gz, "wb");
  gzwrite(g, buf, (unsigned)n);
  gzclose(g);
  const char *paths[] = {plain, gz};
  for (int k = 0; k < 2; k++) {
    lt_tensor *t = lt_idx_load(paths[k]);
    CHECK(t && t->dtype == LT_DTYPE_U8 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3,
          "idx %s", paths[k]);
    if (t) {
      double *v = values(t);
      CHECK(v && v[3] == 250 && v[5] == 5, "idx values");
      free(v);
    }
    lt_tensor_release(t);
  }
  /* in-memory gzip */
  size_t glen;
  unsigned char *gbuf = read_file(gz, &glen);
  lt_tensor *t = lt_idx_parse(gbuf, glen, "mem.gz");
  CHECK(t && t->shape[1] == 3, "idx_parse gzip");
  lt_tensor_release(t);
  /* truncated gzip is an error, in memory and from a file */
  CHECK(lt_idx_parse(gbuf, glen - 6, "mem.gz") == NULL && lt_errcode() == LT_ERR_FORMAT,
        "truncated gzip");
  write_file(gz, gbuf, glen / 2);
  CHECK(lt_idx_load(gz) == NULL && strstr(lt_errmsg(), gz) != NULL, "truncated gz file: %s",
        lt_errmsg());
  free(gbuf);
  /* int16 (big-endian, signed) -> int32; float32 */
  unsigned char i16[4] = {0xff, 0xfe, 0x01, 0x00};  /* -2, 256 */
  n = make_idx(buf, 0x0B, 1, (uint32_t[]){2}, i16, 4);
  t = lt_idx_parse(buf, n, "i16");
  CHECK(t && t->dtype == LT_DTYPE_I32, "int16 -> int32");
  if (t) {
    double *v = values(t);
    CHECK(v && v[0] == -2 && v[1] == 256, "int16 values");
    free(v);
  }
  lt_tensor_release(t);
  unsigned char f32[4] = {0x3f, 0xc0, 0x00, 0x00};  /* 1.5 */
  n = make_idx(buf, 0x0D, 1, (uint32_t[]){1}, f32, 4);
  t = lt_idx_parse(buf, n, "f32");
  double one = 0;
  CHECK(t && t->dtype == LT_DTYPE_F32 && lt_item(t, &one) == LT_OK && one == 1.5, "float32 %g",
        one);
  lt_tensor_release(t);
  unsigned char i8[2] = {0x80, 0x7f};
  n = make_idx(buf, 0x09, 1, (uint32_t[]){2}, i8, 2);
  t = lt_idx_parse(buf, n, "i8");
  if (t) {
    double *v = values(t);
    CHECK(v && v[0] == -128 && v[1] == 127, "int8 values");
    free(v);
  }
  CHECK(t != NULL, "int8 parsed");
  lt_tensor_release(t);
  /* corrupt IDX */
  n = make_idx(buf, 0x08, 2, (uint32_t[]){2, 3}, u8, 5);
  CHECK(lt_idx_parse(buf, n, "short-idx") == NULL && lt_errcode() == LT_ERR_FORMAT &&
            strstr(lt_errmsg(), "short-idx") && strstr(lt_errmsg(), "needs 6 bytes"),
        "size mismatch");
  n = make_idx(buf, 0x08, 2, (uint32_t[]){0xffffffffu, 0xffffffffu}, u8, 6);
  CHECK(lt_idx_parse(buf, n, "huge") == NULL && lt_errcode() == LT_ERR_FORMAT, "huge dims");
  buf[2] = 0x0A;
  CHECK(lt_idx_parse(buf, n, "type") == NULL && strstr(lt_errmsg(), "0x0a"), "bad type");
  buf[0] = 1;
  CHECK(lt_idx_parse(buf, n, "magic") == NULL && strstr(lt_errmsg(), "magic"), "bad magic");
  CHECK(lt_idx_parse(buf, 2, "tiny") == NULL, "tiny");
  CHECK(lt_idx_load("/nonexistent/idx") == NULL && lt_errcode() == LT_ERR_IO, "missing idx");
  unlink(plain);
  unlink(gz);
}

static void test_fashion_mnist(void) {
  const char *p = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  if (!exists(p)) {
    printf("skip: %s not installed\n", p);
    return;
  }
  lt_tensor *t = lt_idx_load(p);
  CHECK(t && t->ndim == 1 && t->shape[0] == 10000 && t->dtype == LT_DTYPE_U8, "labels shape");
  if (!t) return;
  double *v = values(t);
  int count[10] = {0};
  bool in_range = v != NULL;
  for (int i = 0; v && i < 10000; i++) {
    if (v[i] < 0 || v[i] > 9) in_range = false;
    else count[(int)v[i]]++;
  }
  CHECK(in_range, "labels in 0..9");
  CHECK(count[0] == 1000 && count[9] == 1000, "1000 per class (%d, %d)", count[0], count[9]);
  free(v);
  lt_tensor_release(t);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/lt_test_files_%ld", (long)getpid());
  mkdir(tmpdir, 0700);
  test_roundtrip();
  test_corrupt();
  test_idx();
  test_fashion_mnist();
  rmdir(tmpdir);
  CTEST_END();
}
