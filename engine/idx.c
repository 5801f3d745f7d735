/*
** idx.c - reader of IDX files (the MNIST format: 0x00 0x00 type ndims,
** big-endian uint32 dims, big-endian data), plain or gzip-compressed (zlib).
** uint8 stays uint8; int8/int16/int32 become int32; float32/float64 keep
** their type. Sizes are checked against the declared dims; errors name the
** file. No writer: luatrain saves tensors as safetensors.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "luatrain.h"

/* Upper bound on decompressed data (the largest real IDX files are ~50 MB). */
#define LT_IDX_MAX_BYTES ((uint64_t)1 << 34)

/* ---------------------------------------------------------------- plain bytes */

static lt_tensor *idx_from_bytes(const unsigned char *p, size_t len, const char *name) {
  if (len < 4) {
    lt_error(LT_ERR_FORMAT, "read_idx: %s: file is too short (%zu bytes) for an IDX header",
             name, len);
    return NULL;
  }
  if (p[0] != 0 || p[1] != 0) {
    lt_error(LT_ERR_FORMAT, "read_idx: %s: bad magic 0x%02x%02x (an IDX file starts 0x0000)",
             name, p[0], p[1]);
    return NULL;
  }
  int type = p[2], nd = p[3];
  lt_dtype dt;
  size_t isz;
  switch (type) {
    case 0x08: dt = LT_DTYPE_U8; isz = 1; break;
    case 0x09: dt = LT_DTYPE_I32; isz = 1; break;
    case 0x0B: dt = LT_DTYPE_I32; isz = 2; break;
    case 0x0C: dt = LT_DTYPE_I32; isz = 4; break;
    case 0x0D: dt = LT_DTYPE_F32; isz = 4; break;
    case 0x0E: dt = LT_DTYPE_F64; isz = 8; break;
    default:
      lt_error(LT_ERR_FORMAT, "read_idx: %s: unknown data type code 0x%02x", name, type);
      return NULL;
  }
  if (nd < 1 || nd > LT_MAX_DIMS) {
    lt_error(LT_ERR_FORMAT, "read_idx: %s: %d dimensions (expected 1 to %d)", name, nd,
             LT_MAX_DIMS);
    return NULL;
  }
  size_t hdr = 4 + 4 * (size_t)nd;
  if (len < hdr) {
    lt_error(LT_ERR_FORMAT, "read_idx: %s: file ends inside the header (%zu of %zu bytes)", name,
             len, hdr);
    return NULL;
  }
  int64_t shape[LT_MAX_DIMS];
  uint64_t numel = 1;
  bool zero = false, big = false;
  for (int d = 0; d < nd; d++) {
    const unsigned char *q = p + 4 + 4 * d;
    uint64_t s = (uint64_t)q[0] << 24 | (uint64_t)q[1] << 16 | (uint64_t)q[2] << 8 | q[3];
    shape[d] = (int64_t)s;
    if (s == 0) zero = true;
    else if (numel > LT_IDX_MAX_BYTES / s) big = true;
    else numel *= s;
  }
  char sbuf[128];
  /* the nonzero dims alone must fit too (strides of an empty tensor) */
  if (big || numel * isz > LT_IDX_MAX_BYTES) {
    lt_error(LT_ERR_FORMAT, "read_idx: %s: shape %s is too large", name,
             lt_shape_str_raw(shape, nd, sbuf));
    return NULL;
  }
  if (zero) numel = 0;
  uint64_t need = numel * isz, have = len - hdr;
  if (have != need) {
    lt_error(LT_ERR_FORMAT,
             "read_idx: %s: shape %s needs %llu bytes of data but the file has %llu", name,
             lt_shape_str_raw(shape, nd, sbuf), (unsigned long long)need,
             (unsigned long long)have);
    return NULL;
  }
  const unsigned char *src = p + hdr;
  if (dt == LT_DTYPE_U8) return lt_from_data(src, LT_DTYPE_U8, shape, nd, LT_DTYPE_U8, lt_cpu());
  /* big-endian (or signed bytes) -> host values */
  size_t osz = dt == LT_DTYPE_F64 ? 8 : 4;
  void *buf = malloc(numel ? (size_t)numel * osz : 1);
  if (!buf) {
    lt_error(LT_ERR_MEMORY, "read_idx: %s: out of memory (%llu elements)", name,
             (unsigned long long)numel);
    return NULL;
  }
  for (uint64_t i = 0; i < numel; i++) {
    const unsigned char *q = src + i * isz;
    uint64_t u = 0;
    for (size_t b = 0; b < isz; b++) u = u << 8 | q[b];
    switch (type) {
      case 0x09: ((int32_t *)buf)[i] = (int8_t)(uint8_t)u; break;
      case 0x0B: ((int32_t *)buf)[i] = (int16_t)(uint16_t)u; break;
      case 0x0C: ((int32_t *)buf)[i] = (int32_t)(uint32_t)u; break;
      case 0x0D: { uint32_t w = (uint32_t)u; memcpy((float *)buf + i, &w, 4); break; }
      default: memcpy((double *)buf + i, &u, 8); break;
    }
  }
  lt_tensor *t = lt_from_data(buf, dt, shape, nd, dt, lt_cpu());
  free(buf);
  return t;
}

/* ---------------------------------------------------------------- gzip */

static bool is_gzip(const unsigned char *p, size_t len) {
  return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Inflates a whole gzip buffer (concatenated members too) into *out. */
static lt_status gunzip(const unsigned char *p, size_t len, const char *name,
                        unsigned char **out, size_t *olen) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    return lt_error(LT_ERR_MEMORY, "read_idx: %s: zlib initialisation failed", name);
  size_t cap = len * 4 + 1024, n = 0;
  unsigned char *buf = malloc(cap);
  lt_status st = LT_OK;
  if (!buf) {
    inflateEnd(&zs);
    return lt_error(LT_ERR_MEMORY, "read_idx: %s: out of memory", name);
  }
  size_t in_left = len;
  zs.next_in = (unsigned char *)p;
  for (;;) {
    if (n == cap) {
      if (cap >= LT_IDX_MAX_BYTES) {
        st = lt_error(LT_ERR_FORMAT, "read_idx: %s: decompressed data is too large", name);
        break;
      }
      unsigned char *nb = realloc(buf, cap * 2);
      if (!nb) {
        st = lt_error(LT_ERR_MEMORY, "read_idx: %s: out of memory", name);
        break;
      }
      buf = nb;
      cap *= 2;
    }
    if (zs.avail_in == 0 && in_left) {
      zs.avail_in = in_left > 0x40000000u ? 0x40000000u : (uInt)in_left;
      in_left -= zs.avail_in;
    }
    size_t room = cap - n;
    zs.next_out = buf + n;
    zs.avail_out = room > 0x40000000u ? 0x40000000u : (uInt)room;
    uInt before = zs.avail_out;
    int rc = inflate(&zs, Z_NO_FLUSH);
    n += before - zs.avail_out;
    if (rc == Z_STREAM_END) {
      /* another gzip member may follow (as gzip -c a b > c makes) */
      if (zs.avail_in == 0 && in_left == 0) break;
      if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
        if (inflateReset(&zs) != Z_OK) {
          st = lt_error(LT_ERR_FORMAT, "read_idx: %s: corrupt gzip data", name);
          break;
        }
        continue;
      }
      break;  /* trailing garbage after the stream is ignored, as gzip does */
    }
    if (rc == Z_BUF_ERROR && zs.avail_out != 0) {
      st = lt_error(LT_ERR_FORMAT, "read_idx: %s: gzip data is truncated", name);
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      st = lt_error(LT_ERR_FORMAT, "read_idx: %s: corrupt gzip data (%s)", name,
                    zs.msg ? zs.msg : "inflate failed");
      break;
    }
  }
  inflateEnd(&zs);
  if (st) {
    free(buf);
    return st;
  }
  *out = buf;
  *olen = n;
  return LT_OK;
}

lt_tensor *lt_idx_parse(const void *buf, size_t len, const char *name) {
  if (!name) name = "<buffer>";
  const unsigned char *p = buf;
  if (!is_gzip(p, len)) return idx_from_bytes(p, len, name);
  unsigned char *raw = NULL;
  size_t rlen = 0;
  if (gunzip(p, len, name, &raw, &rlen)) return NULL;
  lt_tensor *t = idx_from_bytes(raw, rlen, name);
  free(raw);
  return t;
}

lt_tensor *lt_idx_load(const char *path) {
  gzFile gz = gzopen(path, "rb");  /* reads plain files unchanged */
  if (!gz) {
    lt_error(LT_ERR_IO, "read_idx: %s: %s", path, errno ? strerror(errno) : "cannot open");
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = malloc(cap);
  if (!buf) {
    gzclose(gz);
    lt_error(LT_ERR_MEMORY, "read_idx: %s: out of memory", path);
    return NULL;
  }
  for (;;) {
    if (n == cap) {
      unsigned char *nb = cap < LT_IDX_MAX_BYTES ? realloc(buf, cap * 2) : NULL;
      if (!nb) {
        free(buf);
        gzclose(gz);
        lt_error(LT_ERR_MEMORY, "read_idx: %s: file too large or out of memory", path);
        return NULL;
      }
      buf = nb;
      cap *= 2;
    }
    size_t want = cap - n > 0x40000000u ? 0x40000000u : cap - n;
    int got = gzread(gz, buf + n, (unsigned)want);
    if (got < 0) {
      int err;
      const char *m = gzerror(gz, &err);
      lt_error(err == Z_ERRNO ? LT_ERR_IO : LT_ERR_FORMAT, "read_idx: %s: %s", path,
               err == Z_ERRNO ? strerror(errno) : m);
      free(buf);
      gzclose(gz);
      return NULL;
    }
    if (got == 0) break;
    n += (size_t)got;
  }
  /* gzread returns what it could of a truncated stream: check for the error */
  int err = Z_OK;
  const char *m = gzerror(gz, &err);
  if (err != Z_OK && err != Z_STREAM_END) {
    lt_error(LT_ERR_FORMAT, "read_idx: %s: %s", path, m);
    free(buf);
    gzclose(gz);
    return NULL;
  }
  gzclose(gz);
  lt_tensor *t = idx_from_bytes(buf, n, path);
  free(buf);
  return t;
}
