/*
** safetensors.c - reader and writer of the safetensors format (8-byte
** little-endian header length, JSON header, raw little-endian data), with
** every field bounds-checked: a corrupt file is an LT_ERR_FORMAT naming
** the file and the key, never a crash. Writes are atomic (temp file, fsync,
** rename, fsync of the directory). Assumes a little-endian host; dtypes
** outside luatrain's eight (I8, U16, F8...) are refused.
*/
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "luatrain.h"

#define LT_ST_MAX_HEADER (100u * 1024u * 1024u)

static const struct { const char *name; lt_dtype dt; } st_dtypes[] = {
    {"F32", LT_DTYPE_F32}, {"F64", LT_DTYPE_F64}, {"BF16", LT_DTYPE_BF16},
    {"F16", LT_DTYPE_F16}, {"I64", LT_DTYPE_I64}, {"I32", LT_DTYPE_I32},
    {"U8", LT_DTYPE_U8},   {"BOOL", LT_DTYPE_BOOL},
};

static const char *st_dtype_name(lt_dtype dt) {
  for (size_t i = 0; i < sizeof st_dtypes / sizeof *st_dtypes; i++)
    if (st_dtypes[i].dt == dt) return st_dtypes[i].name;
  return NULL;
}

static int st_dtype_parse(const char *s) {
  for (size_t i = 0; i < sizeof st_dtypes / sizeof *st_dtypes; i++)
    if (strcmp(st_dtypes[i].name, s) == 0) return (int)st_dtypes[i].dt;
  return -1;
}

void lt_tensor_dict_free(lt_tensor_dict *d) {
  if (!d) return;
  for (int i = 0; i < d->n; i++) {
    if (d->names) free(d->names[i]);
    if (d->tensors) lt_tensor_release(d->tensors[i]);
  }
  for (int i = 0; i < d->n_meta; i++) {
    if (d->meta_keys) free(d->meta_keys[i]);
    if (d->meta_values) free(d->meta_values[i]);
  }
  free(d->names);
  free(d->tensors);
  free(d->meta_keys);
  free(d->meta_values);
  memset(d, 0, sizeof *d);
}

/* ---------------------------------------------------------------- parse */

typedef struct {
  const char *key;
  lt_dtype dt;
  int ndim;
  int64_t shape[LT_MAX_DIMS];
  uint64_t begin, end;
} st_entry;

static int entry_cmp(const void *a, const void *b) {
  const st_entry *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return strcmp(x->key, y->key);
}

/* Non-negative JSON integer into *out. */
static bool json_uint(const json_t *v, uint64_t *out) {
  if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
  *out = (uint64_t)json_integer_value(v);
  return true;
}

#define KEYF "%.200s"  /* keys may be long or odd: cap them in messages */

static lt_status parse_entry(const char *name, const char *key, json_t *obj, st_entry *e) {
  e->key = key;
  if (!json_is_object(obj))
    return lt_error(LT_ERR_FORMAT, "load: %s: tensor '" KEYF "': entry is not a JSON object",
                    name, key);
  json_t *jd = json_object_get(obj, "dtype"), *js = json_object_get(obj, "shape");
  json_t *jo = json_object_get(obj, "data_offsets");
  if (!json_is_string(jd))
    return lt_error(LT_ERR_FORMAT, "load: %s: tensor '" KEYF "': missing or non-string 'dtype'",
                    name, key);
  int dt = st_dtype_parse(json_string_value(jd));
  if (dt < 0)
    return lt_error(LT_ERR_FORMAT, "load: %s: tensor '" KEYF "': unsupported dtype '%.32s'", name,
                    key, json_string_value(jd));
  e->dt = (lt_dtype)dt;
  if (!json_is_array(js))
    return lt_error(LT_ERR_FORMAT, "load: %s: tensor '" KEYF "': missing or non-array 'shape'",
                    name, key);
  size_t nd = json_array_size(js);
  if (nd > LT_MAX_DIMS)
    return lt_error(LT_ERR_FORMAT, "load: %s: tensor '" KEYF "': %zu dimensions (at most %d)",
                    name, key, nd, LT_MAX_DIMS);
  e->ndim = (int)nd;
  uint64_t numel = 1;
  bool overflow = false;
  for (size_t d = 0; d < nd; d++) {
    uint64_t s;
    if (!json_uint(json_array_get(js, d), &s))
      return lt_error(LT_ERR_FORMAT,
                      "load: %s: tensor '" KEYF "': shape entry %zu is not a non-negative integer",
                      name, key, d);
    e->shape[d] = (int64_t)s;
    /* zero dims count as 1 here: strides of an empty tensor must fit too */
    if (s > 1 && numel > (uint64_t)INT64_MAX / s) overflow = true;
    else if (s > 1) numel *= s;
  }
  size_t isz = lt_dtype_size(e->dt);
  if (!overflow && numel > (uint64_t)INT64_MAX / isz) overflow = true;
  for (size_t d = 0; d < nd; d++)
    if (e->shape[d] == 0) numel = 0;
  char sbuf[128];
  if (overflow)
    return lt_error(LT_ERR_FORMAT, "load: %s: tensor '" KEYF "': shape %s is too large", name,
                    key, lt_shape_str_raw(e->shape, e->ndim, sbuf));
  if (!json_is_array(jo) || json_array_size(jo) != 2 ||
      !json_uint(json_array_get(jo, 0), &e->begin) || !json_uint(json_array_get(jo, 1), &e->end))
    return lt_error(LT_ERR_FORMAT,
                    "load: %s: tensor '" KEYF "': 'data_offsets' must be two non-negative "
                    "integers [begin, end]",
                    name, key);
  uint64_t nbytes = numel * isz;
  if (e->begin > e->end || e->end - e->begin != nbytes)
    return lt_error(LT_ERR_FORMAT,
                    "load: %s: tensor '" KEYF "': data_offsets [%llu, %llu] do not match shape "
                    "%s of %s (%llu bytes)",
                    name, key, (unsigned long long)e->begin, (unsigned long long)e->end,
                    lt_shape_str_raw(e->shape, e->ndim, sbuf), st_dtype_name(e->dt),
                    (unsigned long long)nbytes);
  return LT_OK;
}

static lt_status parse_metadata(const char *name, json_t *meta, lt_tensor_dict *out) {
  if (!json_is_object(meta))
    return lt_error(LT_ERR_FORMAT, "load: %s: '__metadata__' is not a JSON object", name);
  size_t n = json_object_size(meta);
  out->meta_keys = calloc(n ? n : 1, sizeof(char *));
  out->meta_values = calloc(n ? n : 1, sizeof(char *));
  if (!out->meta_keys || !out->meta_values)
    return lt_error(LT_ERR_MEMORY, "load: %s: out of memory", name);
  const char *k;
  json_t *v;
  json_object_foreach(meta, k, v) {
    if (!json_is_string(v))
      return lt_error(LT_ERR_FORMAT, "load: %s: metadata '" KEYF "' is not a string", name, k);
    char *ks = strdup(k), *vs = malloc(json_string_length(v) + 1);
    if (!ks || !vs) {
      free(ks);
      free(vs);
      return lt_error(LT_ERR_MEMORY, "load: %s: out of memory", name);
    }
    memcpy(vs, json_string_value(v), json_string_length(v) + 1);
    out->meta_keys[out->n_meta] = ks;
    out->meta_values[out->n_meta] = vs;
    out->n_meta++;
  }
  return LT_OK;
}

static lt_status parse_json(const unsigned char *hdr, size_t hlen, const unsigned char *data,
                            uint64_t dlen, const char *name, lt_tensor_dict *out) {
  json_error_t jerr;
  json_t *root = json_loadb((const char *)hdr, hlen, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return lt_error(LT_ERR_FORMAT, "load: %s: header is not valid JSON (%s at byte %d)", name,
                    jerr.text, jerr.position);
  lt_status st = LT_OK;
  st_entry *ents = NULL;
  if (!json_is_object(root)) {
    st = lt_error(LT_ERR_FORMAT, "load: %s: header is not a JSON object", name);
    goto done;
  }
  size_t n = json_object_size(root);
  ents = calloc(n ? n : 1, sizeof *ents);
  if (!ents) {
    st = lt_error(LT_ERR_MEMORY, "load: %s: out of memory", name);
    goto done;
  }
  size_t ne = 0;
  const char *k;
  json_t *v;
  json_object_foreach(root, k, v) {
    if (strcmp(k, "__metadata__") == 0) {
      if ((st = parse_metadata(name, v, out))) goto done;
      continue;
    }
    if ((st = parse_entry(name, k, v, &ents[ne]))) goto done;
    ne++;
  }
  /* the data area must be covered exactly: no gaps, no overlaps */
  qsort(ents, ne, sizeof *ents, entry_cmp);
  uint64_t pos = 0;
  for (size_t i = 0; i < ne; i++) {
    if (ents[i].begin != pos) {
      if (ents[i].begin < pos)
        st = lt_error(LT_ERR_FORMAT,
                      "load: %s: tensor '" KEYF "': data_offsets [%llu, %llu] overlap another "
                      "tensor (previous one ends at %llu)",
                      name, ents[i].key, (unsigned long long)ents[i].begin,
                      (unsigned long long)ents[i].end, (unsigned long long)pos);
      else
        st = lt_error(LT_ERR_FORMAT,
                      "load: %s: tensor '" KEYF "': data_offsets [%llu, %llu] leave a gap "
                      "(previous data ends at %llu)",
                      name, ents[i].key, (unsigned long long)ents[i].begin,
                      (unsigned long long)ents[i].end, (unsigned long long)pos);
      goto done;
    }
    if (ents[i].end > dlen) {
      st = lt_error(LT_ERR_FORMAT,
                    "load: %s: tensor '" KEYF "': data_offsets [%llu, %llu] run past the end of "
                    "the data (%llu bytes)",
                    name, ents[i].key, (unsigned long long)ents[i].begin,
                    (unsigned long long)ents[i].end, (unsigned long long)dlen);
      goto done;
    }
    pos = ents[i].end;
  }
  if (pos != dlen) {
    st = lt_error(LT_ERR_FORMAT,
                  "load: %s: the tensors cover %llu bytes of data but the file holds %llu",
                  name, (unsigned long long)pos, (unsigned long long)dlen);
    goto done;
  }
  out->names = calloc(ne ? ne : 1, sizeof(char *));
  out->tensors = calloc(ne ? ne : 1, sizeof(lt_tensor *));
  if (!out->names || !out->tensors) {
    st = lt_error(LT_ERR_MEMORY, "load: %s: out of memory", name);
    goto done;
  }
  for (size_t i = 0; i < ne; i++) {
    st_entry *e = &ents[i];
    char *nm = strdup(e->key);
    lt_tensor *t = nm ? lt_empty(e->shape, e->ndim, e->dt, lt_cpu()) : NULL;
    if (!t) {
      free(nm);
      st = nm ? lt_errcode() : lt_error(LT_ERR_MEMORY, "load: %s: out of memory", name);
      if (st == LT_OK) st = LT_ERR_MEMORY;
      goto done;
    }
    size_t nb = (size_t)(e->end - e->begin);
    if (nb) {
      unsigned char *dst = lt_tensor_data(t);
      memcpy(dst, data + e->begin, nb);
      if (e->dt == LT_DTYPE_BOOL)
        for (size_t b = 0; b < nb; b++) dst[b] = dst[b] != 0;
    }
    out->names[out->n] = nm;
    out->tensors[out->n] = t;
    out->n++;
  }
done:
  free(ents);
  json_decref(root);
  return st;
}

lt_status lt_safetensors_parse(const void *buf, size_t len, const char *name,
                               lt_tensor_dict *out) {
  memset(out, 0, sizeof *out);
  if (!name) name = "<buffer>";
  const unsigned char *p = buf;
  if (len < 8)
    return lt_error(LT_ERR_FORMAT,
                    "load: %s: file is too short (%zu bytes) to hold a safetensors header", name,
                    len);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
  if (hlen > LT_ST_MAX_HEADER)
    return lt_error(LT_ERR_FORMAT, "load: %s: header length %llu exceeds the %u-byte limit", name,
                    (unsigned long long)hlen, LT_ST_MAX_HEADER);
  if (hlen > len - 8)
    return lt_error(LT_ERR_FORMAT,
                    "load: %s: header length %llu runs past the end of the file (%zu bytes)",
                    name, (unsigned long long)hlen, len);
  if (hlen < 2)
    return lt_error(LT_ERR_FORMAT, "load: %s: header length %llu is too small", name,
                    (unsigned long long)hlen);
  lt_status st = parse_json(p + 8, (size_t)hlen, p + 8 + hlen, len - 8 - hlen, name, out);
  if (st) {
    /* keep the message: dict_free releases tensors only */
    lt_tensor_dict_free(out);
  }
  return st;
}

lt_status lt_safetensors_load(const char *path, lt_tensor_dict *out) {
  memset(out, 0, sizeof *out);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lt_error(LT_ERR_IO, "load: %s: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int e = errno;
    close(fd);
    return lt_error(LT_ERR_IO, "load: %s: %s", path, strerror(e));
  }
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    return lt_error(LT_ERR_IO, "load: %s: not a regular file", path);
  }
  size_t len = (size_t)sb.st_size;
  if (len == 0) {
    close(fd);
    return lt_safetensors_parse("", 0, path, out);
  }
  void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return lt_error(LT_ERR_IO, "load: %s: %s", path, strerror(errno));
  lt_status st = lt_safetensors_parse(map, len, path, out);
  munmap(map, len);
  return st;
}

/* ---------------------------------------------------------------- save */

typedef struct {
  int i;
  const char *name;
  size_t align;
} st_order;

/* The reference writer's order: larger dtypes first, then by name. */
static int order_cmp(const void *a, const void *b) {
  const st_order *x = a, *y = b;
  if (x->align != y->align) return x->align > y->align ? -1 : 1;
  return strcmp(x->name, y->name);
}

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static lt_status write_all(FILE *f, const void *p, size_t n, const char *path) {
  if (n && fwrite(p, 1, n, f) != n)
    return lt_error(LT_ERR_IO, "save: %s: write failed: %s", path, strerror(errno));
  return LT_OK;
}

/* Builds the padded header text; order[] receives the write order. */
static lt_status build_header(const char *path, const lt_tensor_dict *d, st_order *order,
                              char **text, size_t *tlen) {
  json_t *root = json_object();
  if (!root) return lt_error(LT_ERR_MEMORY, "save: %s: out of memory", path);
  lt_status st = LT_OK;
  if (d->n_meta > 0) {
    json_t *meta = json_object();
    if (!meta || json_object_set_new(root, "__metadata__", meta)) {
      st = lt_error(LT_ERR_MEMORY, "save: %s: out of memory", path);
      goto fail;
    }
    for (int i = 0; i < d->n_meta; i++) {
      json_t *s = d->meta_values[i] ? json_string(d->meta_values[i]) : NULL;
      if (!d->meta_keys[i] || !s || json_object_set_new(meta, d->meta_keys[i], s)) {
        st = lt_error(LT_ERR_ARG, "save: %s: metadata entry %d is missing or not valid UTF-8",
                      path, i + 1);
        goto fail;
      }
    }
  }
  uint64_t off = 0;
  for (int k = 0; k < d->n; k++) {
    lt_tensor *t = d->tensors[order[k].i];
    const char *nm = order[k].name;
    int64_t nb = lt_numel(t) * (int64_t)lt_dtype_size(t->dtype);
    json_t *e = json_object(), *shape = json_array(), *offs = json_array();
    int bad = !e || !shape || !offs;
    bad |= e ? json_object_set_new(e, "dtype", json_string(st_dtype_name(t->dtype))) : 1;
    for (int dd = 0; !bad && dd < t->ndim; dd++)
      bad |= json_array_append_new(shape, json_integer(t->shape[dd]));
    bad |= offs ? json_array_append_new(offs, json_integer((json_int_t)off)) : 1;
    bad |= offs ? json_array_append_new(offs, json_integer((json_int_t)(off + (uint64_t)nb))) : 1;
    if (!bad) {
      bad |= json_object_set_new(e, "shape", shape);
      shape = NULL;
      bad |= json_object_set_new(e, "data_offsets", offs);
      offs = NULL;
    }
    json_decref(shape);
    json_decref(offs);
    if (bad || json_object_set_new(root, nm, e)) {
      if (bad) json_decref(e);
      st = lt_error(LT_ERR_ARG, "save: %s: tensor name '" KEYF "' is not valid UTF-8", path, nm);
      goto fail;
    }
    off += (uint64_t)nb;
  }
  char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (!s) {
    st = lt_error(LT_ERR_MEMORY, "save: %s: out of memory", path);
    goto fail;
  }
  size_t n = strlen(s), padded = (n + 7) / 8 * 8;
  char *p = realloc(s, padded + 1);
  if (!p) {
    free(s);
    st = lt_error(LT_ERR_MEMORY, "save: %s: out of memory", path);
    goto fail;
  }
  memset(p + n, ' ', padded - n);
  p[padded] = '\0';
  *text = p;
  *tlen = padded;
fail:
  json_decref(root);
  return st;
}

static lt_status check_dict(const char *path, const lt_tensor_dict *d, st_order *order) {
  for (int i = 0; i < d->n; i++) {
    if (!d->names || !d->names[i] || !d->tensors || !d->tensors[i])
      return lt_error(LT_ERR_ARG, "save: %s: entry %d has no name or no tensor", path, i + 1);
    if (strcmp(d->names[i], "__metadata__") == 0)
      return lt_error(LT_ERR_ARG, "save: %s: '__metadata__' cannot name a tensor", path);
    if (!st_dtype_name(d->tensors[i]->dtype))
      return lt_error(LT_ERR_DTYPE, "save: %s: tensor '" KEYF "' has an unsupported dtype", path,
                      d->names[i]);
    order[i] = (st_order){i, d->names[i], lt_dtype_size(d->tensors[i]->dtype)};
  }
  if (d->n_meta > 0 && (!d->meta_keys || !d->meta_values))
    return lt_error(LT_ERR_ARG, "save: %s: metadata arrays missing", path);
  /* duplicate names: sort the names alone and compare neighbours */
  const char **nm = malloc(((size_t)d->n + 1) * sizeof *nm);
  if (!nm) return lt_error(LT_ERR_MEMORY, "save: %s: out of memory", path);
  for (int i = 0; i < d->n; i++) nm[i] = d->names[i];
  qsort(nm, (size_t)d->n, sizeof *nm, str_cmp);
  for (int k = 1; k < d->n; k++)
    if (strcmp(nm[k], nm[k - 1]) == 0) {
      lt_status st = lt_error(LT_ERR_ARG, "save: %s: tensor name '" KEYF "' appears twice", path,
                              nm[k]);
      free(nm);
      return st;
    }
  free(nm);
  qsort(order, (size_t)d->n, sizeof *order, order_cmp);
  return LT_OK;
}

static void fsync_dir(const char *path) {
  char *dup = strdup(path);
  if (!dup) return;
  char *slash = strrchr(dup, '/');
  const char *dir = ".";
  if (slash == dup) dir = "/";
  else if (slash) { *slash = '\0'; dir = dup; }
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);  /* best effort: some filesystems refuse directory fsync */
    close(fd);
  }
  free(dup);
}

lt_status lt_safetensors_save(const char *path, const lt_tensor_dict *d) {
  st_order *order = malloc(((size_t)d->n + 1) * sizeof *order);
  if (!order) return lt_error(LT_ERR_MEMORY, "save: %s: out of memory", path);
  lt_status st = check_dict(path, d, order);
  char *hdr = NULL;
  size_t hlen = 0;
  if (!st) st = build_header(path, d, order, &hdr, &hlen);
  if (st) {
    free(order);
    return st;
  }
  size_t tlen = strlen(path) + 32;
  char *tmp = malloc(tlen);
  FILE *f = NULL;
  if (!tmp) {
    st = lt_error(LT_ERR_MEMORY, "save: %s: out of memory", path);
    goto out;
  }
  snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0 || !(f = fdopen(fd, "wb"))) {
    st = lt_error(LT_ERR_IO, "save: %s: cannot create %s: %s", path, tmp, strerror(errno));
    if (fd >= 0) close(fd);
    free(tmp);
    tmp = NULL;  /* nothing to remove */
    goto out;
  }
  unsigned char le[8];
  for (int i = 0; i < 8; i++) le[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
  if ((st = write_all(f, le, 8, path)) || (st = write_all(f, hdr, hlen, path))) goto out;
  for (int k = 0; k < d->n; k++) {
    lt_tensor *t = d->tensors[order[k].i];
    size_t nb = (size_t)lt_numel(t) * lt_dtype_size(t->dtype);
    if (!nb) continue;
    void *buf = malloc(nb);
    if (!buf) {
      st = lt_error(LT_ERR_MEMORY, "save: %s: out of memory copying tensor '" KEYF "'", path,
                    order[k].name);
      goto out;
    }
    st = lt_to_host(t, buf, t->dtype);
    if (!st) st = write_all(f, buf, nb, path);
    free(buf);
    if (st) goto out;
  }
  if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
    st = lt_error(LT_ERR_IO, "save: %s: %s", path, strerror(errno));
    goto out;
  }
  int rc = fclose(f);
  f = NULL;
  if (rc != 0) {
    st = lt_error(LT_ERR_IO, "save: %s: %s", path, strerror(errno));
    goto out;
  }
  if (rename(tmp, path) != 0) {
    st = lt_error(LT_ERR_IO, "save: %s: rename from %s failed: %s", path, tmp, strerror(errno));
    goto out;
  }
  fsync_dir(path);
out:
  if (f) fclose(f);
  if (st && tmp) unlink(tmp);
  free(tmp);
  free(hdr);
  free(order);
  return st;
}
