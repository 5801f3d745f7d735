/*
** tensor.c - the Tensor userdata: metatable "luatrain.Tensor", metamethods
** (arithmetic, __index/__newindex, __len, __tostring, __gc/__close),
** attributes, conversions; the argument helpers of ltl.h and the per-state
** context with the allocation/OOM hooks that feed Lua's collector.
** Op methods live in ops.c / nn.c; this file does no math itself.
*/
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ltl.h"

static const char ltL_ctxkey = 'c';

/* ---------------------------------------------------------------- context */

static void alloc_hook(void *ud, lt_device dev, ptrdiff_t delta) {
  ltL_Context *c = ud;
  /* engine threads may allocate too: atomic, one counter per event */
  _Atomic long long *d = (_Atomic long long *)(dev.type == LT_DEVICE_CPU ? &c->host_debt
                                                                          : &c->device_debt);
  long long v = atomic_fetch_add(d, (long long)delta) + delta;
  if (v < 0) atomic_store(d, 0);
}

static void oom_hook(void *ud, lt_device dev, size_t nbytes) {
  ltL_Context *c = ud;
  (void)dev; (void)nbytes;
  if (c->handle && c->handle->alive) lua_gc(c->mainL, LUA_GCCOLLECT);
}

static int context_gc(lua_State *L) {
  ltL_Context *c = lua_touserdata(L, 1);
  if (c->handle) {
    c->handle->alive = 0;
    if (--c->handle->refcount == 0) free(c->handle);
    c->handle = NULL;
    lt_set_alloc_hook(NULL, NULL);
    lt_set_oom_hook(NULL, NULL);
  }
  return 0;
}

ltL_Context *ltL_getcontext(lua_State *L) {
  ltL_Context *c;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ltL_ctxkey) == LUA_TUSERDATA) {
    c = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return c;
  }
  lua_pop(L, 1);
  c = lua_newuserdatauv(L, sizeof(*c), 0);
  memset(c, 0, sizeof(*c));
  lua_newtable(L);
  lua_pushcfunction(L, context_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &ltL_ctxkey);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  c->mainL = lua_tothread(L, -1);
  lua_pop(L, 1);
  c->curL = c->mainL;
  c->handle = malloc(sizeof(*c->handle));
  if (!c->handle) luaL_error(L, "luatrain: out of memory");
  c->handle->L = c->mainL;
  c->handle->ctx = c;
  c->handle->alive = 1;
  c->handle->refcount = 1;
  c->threshold = 64ll << 20;
  c->default_device = lt_cpu();
  lt_set_alloc_hook(alloc_hook, c);
  lt_set_oom_hook(oom_hook, c);
  return c;
}

/* Lua's collector sees only the small userdata, not the tensor bytes behind
** them, and in generational mode tensors that survive one minor cycle are
** only freed by a major one. So, at safe points (pushing a new tensor), when
** the tensor bytes alive grew by more than max(threshold, what was alive
** after the last full collection), run a full collection: memory stays
** within about twice the live set, and a loop's memory is flat.
** Host memory has a tighter rule: the CPU backend recycles freed blocks
** through a 256 MiB cache (cpu_memory.c), so host garbage is collected
** once it passes LT_HOST_GARBAGE, a quarter of that cache, whatever the
** live set. With a large live set (a dataset in memory) the looser rule
** let a few hundred MiB of garbage pile up between collections; it did not
** fit the cache, and every step wrote its tensors into fresh, page-faulting
** memory (95 page faults per MLP step, 8% of its time; 4 with this rule,
** 22 with a 128 MiB limit). Earlier, from LT_HOST_GARBAGE_MIN, when the
** collections are cheap: the time since the last one is over 50 times
** what it took (a full collection walks every Lua object, so a script with
** a big Lua heap collects less often). Blocks then come back sooner, while
** still in cache, and a loop's first steps fault fewer fresh pages. */
#define LT_HOST_GARBAGE (64ll << 20)
#define LT_HOST_GARBAGE_MIN (16ll << 20)

static double mono_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void gc_debt_step(lua_State *L) {
  ltL_Context *c;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ltL_ctxkey) != LUA_TUSERDATA) {
    lua_pop(L, 1);
    return;
  }
  c = lua_touserdata(L, -1);
  lua_pop(L, 1);
  _Atomic long long *d = (_Atomic long long *)&c->device_debt;
  _Atomic long long *h = (_Atomic long long *)&c->host_debt;
  long long hv = atomic_load(h), v = hv + atomic_load(d);
  long long limit = c->live_after_gc > c->threshold ? c->live_after_gc : c->threshold;
  long long hg = hv - c->host_after_gc;
  bool go = v - c->live_after_gc > limit || hg > LT_HOST_GARBAGE;
  double now = 0;
  if (!go && hg > LT_HOST_GARBAGE_MIN) {
    now = mono_seconds();
    go = now - c->gc_end > 50 * c->gc_cost;
  }
  if (go) {
    double t0 = now > 0 ? now : mono_seconds();
    lua_gc(L, LUA_GCCOLLECT);
    c->host_after_gc = atomic_load(h);
    c->live_after_gc = c->host_after_gc + atomic_load(d);
    c->gc_end = mono_seconds();
    c->gc_cost = c->gc_end - t0;
  }
}

void ltL_push_C(lua_State *L, int lt) {
  lt = lua_absindex(L, lt);
  if (lua_getfield(L, lt, "_C") != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, lt, "_C");
  }
}

/* ---------------------------------------------------------------- errors */

int ltL_engineerror(lua_State *L) {
  const char *m = lt_errmsg();
  if (!m || !*m) m = "unknown engine error";
  return luaL_error(L, "%s", m);
}

void ltL_check(lua_State *L, lt_status st) {
  if (st != LT_OK) ltL_engineerror(L);
}

const char *ltL_fname(lua_State *L) {
  lua_Debug ar;
  if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name) return ar.name;
  return "?";
}

/* ---------------------------------------------------------------- userdata */

/* The Tensor metatable under a pointer key of the registry. luaL_testudata
** and luaL_setmetatable find it by name, and Lua's API string cache
** compares that name with strcmp on every lookup: three per tiny op, 4% of
** its time. Cached once the module has made the metatable. */
static const char ltL_mtkey = 'm';

static void push_tensor_mt(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ltL_mtkey) == LUA_TTABLE) return;
  lua_pop(L, 1);
  if (luaL_getmetatable(L, LTL_TENSOR_MT) == LUA_TTABLE) {
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ltL_mtkey);
  }
}

/* luaL_testudata(L, arg, LTL_TENSOR_MT), by the cached metatable */
static ltL_Tensor *test_tensor_ud(lua_State *L, int arg) {
  void *p = lua_touserdata(L, arg);
  if (!p || !lua_getmetatable(L, arg)) return NULL;
  push_tensor_mt(L);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same ? p : NULL;
}

/* luaL_checkudata(L, arg, LTL_TENSOR_MT): luaL's own error when it is not */
static ltL_Tensor *check_tensor_ud(lua_State *L, int arg) {
  ltL_Tensor *u = test_tensor_ud(L, arg);
  return u ? u : luaL_checkudata(L, arg, LTL_TENSOR_MT);
}

lt_tensor *ltL_testtensor(lua_State *L, int arg) {
  ltL_Tensor *u = test_tensor_ud(L, arg);
  if (!u) return NULL;
  if (!u->t) luaL_argerror(L, arg, "tensor has been freed");
  return u->t;
}

lt_tensor *ltL_checktensor(lua_State *L, int arg) {
  ltL_Tensor *u = test_tensor_ud(L, arg);
  if (!u) {
    const char *got = luaL_typename(L, arg);
    if (luaL_getmetafield(L, arg, "__name") == LUA_TSTRING) got = lua_tostring(L, -1);
    luaL_argerror(L, arg, lua_pushfstring(L, "tensor expected, got %s", got));
  }
  if (!u->t) luaL_argerror(L, arg, "tensor has been freed");
  return u->t;
}

static ltL_Tensor *checkud(lua_State *L, int arg) {
  ltL_Tensor *u = check_tensor_ud(L, arg);
  if (!u->t) luaL_argerror(L, arg, "tensor has been freed");
  return u;
}

void ltL_pushtensor(lua_State *L, lt_tensor *t) {
  if (!t) ltL_engineerror(L);
  /* liolib style: the owning userdata exists before we keep anything */
  ltL_Tensor *u = lua_newuserdatauv(L, sizeof(*u), 0);
  u->t = NULL;
  push_tensor_mt(L);
  lua_setmetatable(L, -2);
  u->t = t;
  gc_debt_step(L);
}

void ltL_pushtensor_rel(lua_State *L, lt_tensor *t, lt_tensor *a, lt_tensor *b) {
  /* releasing does not touch the engine's error message */
  lt_tensor_release(a);
  lt_tensor_release(b);
  ltL_pushtensor(L, t);
}

static int t_gc(lua_State *L) {
  ltL_Tensor *u = check_tensor_ud(L, 1);
  if (u->t) {
    lt_tensor *t = u->t;
    u->t = NULL;
    lt_tensor_release(t);
  }
  return 0;
}

/* ---------------------------------------------------------------- arguments */

int ltL_todim(lua_State *L, int arg, lua_Integer d, int ndim) {
  int n = ndim < 1 ? 1 : ndim;
  if (d >= 1 && d <= n) return (int)(d - 1);
  if (d < 0 && d >= -n) return (int)(n + d);
  return luaL_argerror(L, arg, lua_pushfstring(L, "dim %I out of range for tensor of dimension %d",
                                               (LUAI_UACINT)d, ndim));
}

int ltL_checkdim(lua_State *L, int arg, int ndim) {
  if (!lua_isinteger(L, arg)) {
    if (lua_type(L, arg) == LUA_TNUMBER)
      luaL_argerror(L, arg, "dim must be an integer");
    luaL_typeerror(L, arg, "integer dim");
  }
  return ltL_todim(L, arg, lua_tointeger(L, arg), ndim);
}

static int64_t shape_entry(lua_State *L, int arg, int idx, bool allow_neg1) {
  int isint = 0;
  lua_Integer v = lua_tointegerx(L, -1, &isint);
  if (!isint)
    luaL_argerror(L, arg, lua_pushfstring(L, "size at position %d must be an integer, got %s",
                                          idx, luaL_typename(L, -1)));
  if (v < 0 && !(allow_neg1 && v == -1))
    luaL_argerror(L, arg, lua_pushfstring(L, "negative size %I at position %d",
                                          (LUAI_UACINT)v, idx));
  return (int64_t)v;
}

int ltL_checkshape(lua_State *L, int arg, int64_t *shape, int *next, bool allow_neg1) {
  int n = 0;
  if (lua_istable(L, arg) && !luaL_testudata(L, arg, LTL_TENSOR_MT)) {
    int len = (int)luaL_len(L, arg);
    if (len > LT_MAX_DIMS)
      luaL_argerror(L, arg, lua_pushfstring(L, "too many dimensions (%d > %d)", len, LT_MAX_DIMS));
    for (int i = 1; i <= len; i++) {
      lua_geti(L, arg, i);
      shape[n++] = shape_entry(L, arg, i, allow_neg1);
      lua_pop(L, 1);
    }
    if (next) *next = arg + 1;
    return n;
  }
  int i = arg;
  while (lua_type(L, i) == LUA_TNUMBER) {
    if (n >= LT_MAX_DIMS)
      luaL_argerror(L, i, lua_pushfstring(L, "too many dimensions (max %d)", LT_MAX_DIMS));
    lua_pushvalue(L, i);
    shape[n] = shape_entry(L, i, n + 1, allow_neg1);
    n++;
    lua_pop(L, 1);
    i++;
  }
  if (next) *next = i;
  return n;
}

int ltL_checkdims(lua_State *L, int arg, int ndim, int *dims, int *next) {
  int n = 0;
  if (lua_istable(L, arg)) {
    int len = (int)luaL_len(L, arg);
    if (len > LT_MAX_DIMS) luaL_argerror(L, arg, "too many dims");
    for (int i = 1; i <= len; i++) {
      lua_geti(L, arg, i);
      int isint;
      lua_Integer d = lua_tointegerx(L, -1, &isint);
      if (!isint) luaL_argerror(L, arg, "dims must be integers");
      lua_pop(L, 1);
      dims[n++] = ltL_todim(L, arg, d, ndim);
    }
    if (next) *next = arg + 1;
    return n;
  }
  int i = arg;
  while (lua_type(L, i) == LUA_TNUMBER) {
    if (n >= LT_MAX_DIMS) luaL_argerror(L, i, "too many dims");
    dims[n++] = ltL_checkdim(L, i, ndim);
    i++;
  }
  if (next) *next = i;
  return n;
}

lt_dtype ltL_checkdtype(lua_State *L, int arg) {
  const char *s = luaL_checkstring(L, arg);
  int dt = lt_dtype_from_name(s);
  if (dt < 0) luaL_argerror(L, arg, lua_pushfstring(L, "unknown dtype '%s'", s));
  return (lt_dtype)dt;
}

lt_status ltL_parsedevice(lua_State *L, const char *s, lt_device *out) {
  (void)L;
  lt_status st = lt_device_parse(s, out);
  if (st == LT_OK && out->type == LT_DEVICE_CUDA) lt_cuda_init();
  return st;
}

lt_device ltL_checkdevice(lua_State *L, int arg) {
  const char *s = luaL_checkstring(L, arg);
  lt_device d;
  if (ltL_parsedevice(L, s, &d) != LT_OK)
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown device '%s' (expected \"cpu\", \"cuda\" or \"cuda:N\")", s));
  return d;
}

bool ltL_checkopts(lua_State *L, int arg, const char *fname, const char *const *keys) {
  if (lua_isnoneornil(L, arg)) return false;
  if (!lua_istable(L, arg) || luaL_testudata(L, arg, LTL_TENSOR_MT))
    luaL_argerror(L, arg, lua_pushfstring(L, "options table expected, got %s", luaL_typename(L, arg)));
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "%s: options must have string keys (got %s key)", fname, luaL_typename(L, -1));
    const char *k = lua_tostring(L, -1);
    bool ok = false;
    for (int i = 0; keys[i]; i++)
      if (strcmp(keys[i], k) == 0) { ok = true; break; }
    if (!ok) luaL_error(L, "%s: unknown option '%s'", fname, k);
  }
  return true;
}

static int optget(lua_State *L, int arg, const char *key) {
  if (!lua_istable(L, arg)) { lua_pushnil(L); return LUA_TNIL; }
  return lua_getfield(L, arg, key);
}

bool ltL_optbool(lua_State *L, int arg, const char *fname, const char *key, bool def) {
  int ty = optget(L, arg, key);
  bool v = def;
  if (ty == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
  else if (ty != LUA_TNIL)
    luaL_error(L, "%s: option '%s' must be a boolean, got %s", fname, key, luaL_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

double ltL_optnum(lua_State *L, int arg, const char *fname, const char *key, double def) {
  int ty = optget(L, arg, key);
  double v = def;
  if (ty == LUA_TNUMBER) v = lua_tonumber(L, -1);
  else if (ty != LUA_TNIL)
    luaL_error(L, "%s: option '%s' must be a number, got %s", fname, key, luaL_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

lua_Integer ltL_optint(lua_State *L, int arg, const char *fname, const char *key, lua_Integer def) {
  int ty = optget(L, arg, key);
  lua_Integer v = def;
  if (ty != LUA_TNIL) {
    int isint;
    v = lua_tointegerx(L, -1, &isint);
    if (!isint)
      luaL_error(L, "%s: option '%s' must be an integer, got %s", fname, key, luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  return v;
}

/* The string stays valid: it is anchored in the options table. */
const char *ltL_optstr(lua_State *L, int arg, const char *fname, const char *key, const char *def) {
  int ty = optget(L, arg, key);
  const char *v = def;
  if (ty == LUA_TSTRING) v = lua_tostring(L, -1);
  else if (ty != LUA_TNIL)
    luaL_error(L, "%s: option '%s' must be a string, got %s", fname, key, luaL_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

lt_tensor *ltL_opttensor(lua_State *L, int arg, const char *fname, const char *key) {
  int ty = optget(L, arg, key);
  lt_tensor *t = NULL;
  if (ty != LUA_TNIL) {
    ltL_Tensor *u = luaL_testudata(L, -1, LTL_TENSOR_MT);
    if (!u) luaL_error(L, "%s: option '%s' must be a tensor, got %s", fname, key, luaL_typename(L, -1));
    if (!u->t) luaL_error(L, "%s: option '%s': tensor has been freed", fname, key);
    t = u->t;
  }
  lua_pop(L, 1);
  return t;
}

static const char *const create_keys[] = {"dtype", "device", "requires_grad", NULL};

void ltL_createopts(lua_State *L, int arg, const char *fname, ltL_Create *o) {
  o->dtype = lt_default_dtype();
  o->device = ltL_getcontext(L)->default_device;
  o->requires_grad = false;
  o->has_dtype = o->has_device = false;
  if (!ltL_checkopts(L, arg, fname, create_keys)) return;
  const char *s = ltL_optstr(L, arg, fname, "dtype", NULL);
  if (s) {
    int dt = lt_dtype_from_name(s);
    if (dt < 0) luaL_error(L, "%s: unknown dtype '%s'", fname, s);
    o->dtype = (lt_dtype)dt;
    o->has_dtype = true;
  }
  s = ltL_optstr(L, arg, fname, "device", NULL);
  if (s) {
    if (ltL_parsedevice(L, s, &o->device) != LT_OK)
      luaL_error(L, "%s: unknown device '%s' (expected \"cpu\", \"cuda\" or \"cuda:N\")", fname, s);
    o->has_device = true;
  }
  o->requires_grad = ltL_optbool(L, arg, fname, "requires_grad", false);
}

void ltL_pushcreated(lua_State *L, lt_tensor *t, const ltL_Create *o) {
  ltL_pushtensor(L, t);
  if (o->requires_grad) ltL_check(L, lt_tensor_set_requires_grad(t, true));
}

/* ---------------------------------------------------------------- printing */

typedef struct {
  luaL_Buffer *b;
  const double *f;
  const int64_t *iv;
  lt_tensor *t;
  bool summarize, sci, isbool, isint;
  int width;
  int prec;
} printer;

static int fmt_elem(const printer *p, int64_t k, char *buf, size_t n) {
  if (p->isbool) return snprintf(buf, n, "%s", p->iv[k] ? "true" : "false");
  if (p->isint) return snprintf(buf, n, "%lld", (long long)p->iv[k]);
  double v = p->f[k];
  if (isnan(v)) return snprintf(buf, n, "nan");
  if (isinf(v)) return snprintf(buf, n, v > 0 ? "inf" : "-inf");
  if (p->sci) return snprintf(buf, n, "%.*e", p->prec, v);
  return snprintf(buf, n, "%.*f", p->prec, v);
}

#define EDGE 3

static bool shown(const printer *p, int64_t i, int64_t n) {
  return !p->summarize || n <= 2 * EDGE || i < EDGE || i >= n - EDGE;
}

static void print_rec(const printer *p, int dim, int64_t base, int indent) {
  lt_tensor *t = p->t;
  luaL_Buffer *b = p->b;
  int64_t n = t->shape[dim];
  int64_t inner = 1;
  for (int d = dim + 1; d < t->ndim; d++) inner *= t->shape[d];
  luaL_addchar(b, '[');
  bool dots = false;
  for (int64_t i = 0; i < n; i++) {
    if (!shown(p, i, n)) {
      if (!dots) {
        dots = true;
        if (dim == t->ndim - 1) luaL_addstring(b, " ...,");
        else {
          luaL_addstring(b, "\n");
          for (int s = 0; s < indent + 1; s++) luaL_addchar(b, ' ');
          luaL_addstring(b, "...,");
        }
      }
      continue;
    }
    if (i > 0 || dots) {
      if (dim == t->ndim - 1) luaL_addchar(b, ' ');
      else {
        for (int k = 0; k < t->ndim - 1 - dim; k++) luaL_addchar(b, '\n');
        for (int s = 0; s < indent + 1; s++) luaL_addchar(b, ' ');
      }
    }
    if (dim == t->ndim - 1) {
      char buf[64];
      int len = fmt_elem(p, base + i, buf, sizeof buf);
      for (int s = len; s < p->width; s++) luaL_addchar(b, ' ');
      luaL_addstring(b, buf);
    } else {
      print_rec(p, dim + 1, base + i * inner, indent + 1);
    }
    if (i < n - 1) luaL_addchar(b, ',');
  }
  luaL_addchar(b, ']');
}

void ltL_pushtensorstring(lua_State *L, lt_tensor *t) {
  int64_t n = lt_numel(t);
  lt_dtype dt = t->dtype;
  printer p;
  memset(&p, 0, sizeof p);
  p.t = t;
  p.isbool = dt == LT_DTYPE_BOOL;
  p.isint = !p.isbool && !lt_dtype_is_float(dt);
  p.prec = 4;
  p.summarize = n > 1000;
  void *data = NULL;
  if (n > 0) {
    size_t sz = (size_t)n * 8;
    data = malloc(sz);
    if (!data) luaL_error(L, "tostring: out of memory");
    lt_status st = lt_to_host(t, data, (p.isbool || p.isint) ? LT_DTYPE_I64 : LT_DTYPE_F64);
    if (st != LT_OK) { free(data); ltL_engineerror(L); }
  }
  p.f = data;
  p.iv = data;
  /* formatting over the shown elements: fixed unless the range is wide */
  if (!p.isbool && !p.isint && n > 0) {
    double amax = 0, amin = INFINITY;
    for (int64_t k = 0; k < n; k++) {
      double v = fabs(p.f[k]);
      if (!isfinite(v)) continue;
      if (v > amax) amax = v;
      if (v > 0 && v < amin) amin = v;
    }
    /* PyTorch's rule: a wide range or extreme magnitudes switch to %e */
    if (amax >= 1e8 || (amin < 1e-4 && amin > 0) || (amin < INFINITY && amax / amin > 1000))
      p.sci = true;
  }
  for (int64_t k = 0; k < n; k++) {
    char buf[64];
    int len = fmt_elem(&p, k, buf, sizeof buf);
    if (len > p.width) p.width = len;
  }
  luaL_Buffer b;
  /* the buffer sits on the stack: keep `data` freed before any error */
  luaL_buffinit(L, &b);
  p.b = &b;
  luaL_addstring(&b, "tensor(");
  if (t->ndim == 0) {
    char buf[64];
    p.width = 0;
    fmt_elem(&p, 0, buf, sizeof buf);
    luaL_addstring(&b, buf);
  } else if (n == 0) {
    luaL_addstring(&b, "[]");
  } else {
    print_rec(&p, 0, 0, 7);
  }
  free(data);
  bool show_dtype = !(dt == LT_DTYPE_F32 || dt == LT_DTYPE_I64 || dt == LT_DTYPE_BOOL);
  if (n == 0 && t->ndim > 1) {
    char sb[128];
    luaL_addstring(&b, ", size=");
    luaL_addstring(&b, lt_shape_str(t, sb));
  }
  if (lt_tensor_device(t).type != LT_DEVICE_CPU) {
    char db[16];
    luaL_addstring(&b, ", device='");
    luaL_addstring(&b, lt_device_str(lt_tensor_device(t), db));
    luaL_addchar(&b, '\'');
  }
  if (show_dtype) {
    luaL_addstring(&b, ", dtype=");
    luaL_addstring(&b, lt_dtype_name(dt));
  }
  if (t->grad_fn) {
    luaL_addstring(&b, ", grad_fn=<");
    luaL_addstring(&b, lt_node_name(t->grad_fn));
    luaL_addchar(&b, '>');
  } else if (t->requires_grad) {
    luaL_addstring(&b, ", requires_grad=true");
  }
  luaL_addchar(&b, ')');
  luaL_pushresult(&b);
}

static int t_tostring(lua_State *L) {
  ltL_Tensor *u = check_tensor_ud(L, 1);
  if (!u->t) {
    lua_pushliteral(L, "tensor(<freed>)");
    return 1;
  }
  ltL_pushtensorstring(L, u->t);
  return 1;
}

/* ---------------------------------------------------------------- arithmetic */

static int arith(lua_State *L, lt_binary_op op) {
  lt_tensor *a = ltL_testtensor(L, 1), *b = ltL_testtensor(L, 2);
  if (a && b) ltL_pushtensor(L, lt_binary(op, a, b));
  else if (a && lua_type(L, 2) == LUA_TNUMBER)
    ltL_pushtensor(L, lt_binary_scalar(op, a, lua_tonumber(L, 2), false));
  else if (b && lua_type(L, 1) == LUA_TNUMBER)
    ltL_pushtensor(L, lt_binary_scalar(op, b, lua_tonumber(L, 1), true));
  else {
    int bad = a ? 2 : 1;
    return luaL_argerror(L, bad, lua_pushfstring(L, "tensor or number expected, got %s",
                                                 luaL_typename(L, bad)));
  }
  return 1;
}

static int t_add(lua_State *L) { return arith(L, LT_BINARY_ADD); }
static int t_sub(lua_State *L) { return arith(L, LT_BINARY_SUB); }
static int t_mul(lua_State *L) { return arith(L, LT_BINARY_MUL); }
static int t_div(lua_State *L) { return arith(L, LT_BINARY_DIV); }
static int t_pow(lua_State *L) { return arith(L, LT_BINARY_POW); }
static int t_mod(lua_State *L) { return arith(L, LT_BINARY_REMAINDER); }
static int t_idiv(lua_State *L) { return arith(L, LT_BINARY_FLOOR_DIVIDE); }
static int t_unm(lua_State *L) {
  ltL_pushtensor(L, lt_unary(LT_UNARY_NEG, ltL_checktensor(L, 1)));
  return 1;
}

static int t_len(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  if (t->ndim == 0) return luaL_error(L, "len() of a 0-d tensor");
  lua_pushinteger(L, t->shape[0]);
  return 1;
}

/* ---------------------------------------------------------------- attributes */

static void pushshape(lua_State *L, lt_tensor *t) {
  lua_createtable(L, t->ndim, 0);
  for (int i = 0; i < t->ndim; i++) {
    lua_pushinteger(L, t->shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static lt_tensor *reverse_dims(lt_tensor *t) {
  int dims[LT_MAX_DIMS];
  for (int i = 0; i < t->ndim; i++) dims[i] = t->ndim - 1 - i;
  return lt_permute(t, dims, t->ndim);
}

/* t[i] along dim 1: a view, or a number for 1-D */
static lt_tensor *index_view(lua_State *L, lt_tensor *t, lua_Integer i, int arg) {
  if (t->ndim == 0) luaL_error(L, "cannot index a 0-d tensor (use item())");
  int64_t n = t->shape[0];
  lua_Integer k = i > 0 ? i - 1 : n + i;
  if (i == 0 || k < 0 || k >= n)
    luaL_argerror(L, arg, lua_pushfstring(L, "index %I out of range for dimension 1 of size %I",
                                          (LUAI_UACINT)i, (LUAI_UACINT)n));
  return lt_select(t, 0, (int64_t)k);
}

/* Pushes the single element of t as a Lua value (int64 read exactly). */
static void push_element(lua_State *L, lt_tensor *t) {
  if (t->dtype == LT_DTYPE_I64 || t->dtype == LT_DTYPE_I32 || t->dtype == LT_DTYPE_U8) {
    int64_t v;
    ltL_check(L, lt_to_host(t, &v, LT_DTYPE_I64));
    lua_pushinteger(L, v);
    return;
  }
  double v;
  ltL_check(L, lt_item(t, &v));
  if (t->dtype == LT_DTYPE_BOOL) lua_pushboolean(L, v != 0);
  else lua_pushnumber(L, v);
}


static int t_index(lua_State *L) {
  ltL_Tensor *u;
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    /* checked after the method lookup, which stays fast; the metamethod can
    ** be called directly (getmetatable(t).__index("x", "shape")) */
    u = check_tensor_ud(L, 1);
    const char *k = lua_tostring(L, 2);
    lt_tensor *t = u->t;
    if (!t) return luaL_error(L, "attempt to read field '%s' of a freed tensor", k);
    char buf[16];
    switch (k[0]) {
      case 's':
        if (strcmp(k, "shape") == 0) { pushshape(L, t); return 1; }
        break;
      case 'd':
        if (strcmp(k, "dtype") == 0) { lua_pushstring(L, lt_dtype_name(t->dtype)); return 1; }
        if (strcmp(k, "device") == 0) { lua_pushstring(L, lt_device_str(lt_tensor_device(t), buf)); return 1; }
        if (strcmp(k, "data") == 0) { ltL_pushtensor(L, lt_detach(t)); return 1; }
        break;
      case 'r':
        if (strcmp(k, "requires_grad") == 0) { lua_pushboolean(L, t->requires_grad); return 1; }
        break;
      case 'g':
        if (strcmp(k, "grad") == 0) {
          if (!t->grad) lua_pushnil(L);
          else { lt_tensor_retain(t->grad); ltL_pushtensor(L, t->grad); }
          return 1;
        }
        if (strcmp(k, "grad_fn") == 0) {
          if (t->grad_fn) lua_pushstring(L, lt_node_name(t->grad_fn));
          else lua_pushnil(L);
          return 1;
        }
        break;
      case 'i':
        if (strcmp(k, "is_leaf") == 0) { lua_pushboolean(L, lt_is_leaf(t)); return 1; }
        break;
      case 'n':
        if (strcmp(k, "ndim") == 0) { lua_pushinteger(L, t->ndim); return 1; }
        break;
      case 'T':
        if (k[1] == 0) { ltL_pushtensor(L, reverse_dims(t)); return 1; }
        break;
    }
    lua_pushnil(L);
    return 1;
  }
  if (lua_isinteger(L, 2)) {
    u = check_tensor_ud(L, 1);
    lt_tensor *t = u->t;
    if (!t) return luaL_error(L, "attempt to index a freed tensor");
    lt_tensor *v = index_view(L, t, lua_tointeger(L, 2), 2);
    if (!v) return ltL_engineerror(L);
    if (v->ndim == 0) {
      ltL_pushtensor(L, v);  /* owned by the stack while reading */
      push_element(L, v);
      return 1;
    }
    ltL_pushtensor(L, v);
    return 1;
  }
  if (lua_type(L, 2) == LUA_TNUMBER)
    return luaL_error(L, "tensor index must be an integer, got %s", lua_tostring(L, 2));
  lua_pushnil(L);
  return 1;
}

static int t_newindex(lua_State *L) {
  ltL_Tensor *u = check_tensor_ud(L, 1);
  lt_tensor *t = u->t;
  if (!t) return luaL_error(L, "attempt to assign into a freed tensor");
  if (lua_isinteger(L, 2)) {
    lt_tensor *v = index_view(L, t, lua_tointeger(L, 2), 2);
    if (!v) return ltL_engineerror(L);
    lt_status st;
    if (lua_type(L, 3) == LUA_TNUMBER) st = lt_fill_(v, lua_tonumber(L, 3));
    else if (lua_type(L, 3) == LUA_TBOOLEAN) st = lt_fill_(v, lua_toboolean(L, 3));
    else {
      lt_tensor *src = ltL_testtensor(L, 3);
      if (!src) {
        lt_tensor_release(v);
        return luaL_argerror(L, 3, lua_pushfstring(L, "number or tensor expected, got %s",
                                                   luaL_typename(L, 3)));
      }
      st = lt_copy_(v, src);
    }
    lt_tensor_release(v);
    ltL_check(L, st);
    return 0;
  }
  const char *k = lua_tostring(L, 2);
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(k, "requires_grad") == 0) {
    luaL_checktype(L, 3, LUA_TBOOLEAN);
    ltL_check(L, lt_tensor_set_requires_grad(t, lua_toboolean(L, 3)));
    return 0;
  }
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(k, "grad") == 0) {
    lt_tensor *g = NULL;
    if (!lua_isnil(L, 3)) {
      g = ltL_checktensor(L, 3);
      if (g == t)  /* would be a reference cycle, and backward would add into t itself */
        return luaL_error(L, "grad: a tensor cannot be assigned as its own gradient");
      if (g->ndim != t->ndim || memcmp(g->shape, t->shape, sizeof(int64_t) * t->ndim) != 0) {
        char a[128], b[128];
        return luaL_error(L, "grad: assigned gradient has shape %s but the tensor has shape %s",
                          lt_shape_str(g, a), lt_shape_str(t, b));
      }
      if (g->dtype != t->dtype)
        return luaL_error(L, "grad: assigned gradient has dtype %s but the tensor has dtype %s",
                          lt_dtype_name(g->dtype), lt_dtype_name(t->dtype));
      if (!lt_device_eq(lt_tensor_device(g), lt_tensor_device(t))) {
        char a[16], b[16];
        return luaL_error(L, "grad: assigned gradient is on %s but the tensor is on %s",
                          lt_device_str(lt_tensor_device(g), a), lt_device_str(lt_tensor_device(t), b));
      }
      lt_tensor_retain(g);
    }
    lt_tensor *old = t->grad;
    t->grad = g;
    lt_tensor_release(old);
    return 0;
  }
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(k, "data") == 0) {
    ltL_check(L, lt_tensor_set_(t, ltL_checktensor(L, 3)));
    return 0;
  }
  return luaL_error(L, "cannot assign field '%s' of a tensor (only requires_grad, grad, data and integer indices)",
                    k ? k : luaL_typename(L, 2));
}

/* ---------------------------------------------------------------- methods */

static int m_size(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  if (lua_isnoneornil(L, 2)) { pushshape(L, t); return 1; }
  int d = ltL_checkdim(L, 2, t->ndim);
  if (t->ndim == 0) return luaL_argerror(L, 2, "0-d tensor has no dimensions");
  lua_pushinteger(L, t->shape[d]);
  return 1;
}

static int m_stride(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  if (lua_isnoneornil(L, 2)) {
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
      lua_pushinteger(L, t->stride[i]);
      lua_rawseti(L, -2, i + 1);
    }
    return 1;
  }
  int d = ltL_checkdim(L, 2, t->ndim);
  if (t->ndim == 0) return luaL_argerror(L, 2, "0-d tensor has no dimensions");
  lua_pushinteger(L, t->stride[d]);
  return 1;
}

static int m_dim(lua_State *L) { lua_pushinteger(L, ltL_checktensor(L, 1)->ndim); return 1; }
static int m_numel(lua_State *L) { lua_pushinteger(L, lt_numel(ltL_checktensor(L, 1))); return 1; }
static int m_is_contiguous(lua_State *L) {
  lua_pushboolean(L, lt_is_contiguous(ltL_checktensor(L, 1)));
  return 1;
}
static int m_element_size(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lt_dtype_size(ltL_checktensor(L, 1)->dtype));
  return 1;
}
static int m_is_cuda(lua_State *L) {
  lua_pushboolean(L, lt_tensor_device(ltL_checktensor(L, 1)).type == LT_DEVICE_CUDA);
  return 1;
}
static int m_is_floating_point(lua_State *L) {
  lua_pushboolean(L, lt_dtype_is_float(ltL_checktensor(L, 1)->dtype));
  return 1;
}

static int m_item(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int64_t n = lt_numel(t);
  if (n != 1) {
    char b[128];
    return luaL_error(L, "item: tensor with %d elements (shape %s) cannot be converted to a number",
                      (int)n, lt_shape_str(t, b));
  }
  push_element(L, t);
  return 1;
}

static void tolist_rec(lua_State *L, lt_tensor *t, const void *data, bool isf, int dim,
                       int64_t base) {
  int64_t n = t->shape[dim], inner = 1;
  for (int d = dim + 1; d < t->ndim; d++) inner *= t->shape[d];
  lua_createtable(L, (int)n, 0);
  for (int64_t i = 0; i < n; i++) {
    if (dim == t->ndim - 1) {
      int64_t k = base + i;
      if (isf) lua_pushnumber(L, ((const double *)data)[k]);
      else if (t->dtype == LT_DTYPE_BOOL) lua_pushboolean(L, ((const int64_t *)data)[k] != 0);
      else lua_pushinteger(L, ((const int64_t *)data)[k]);
    } else {
      tolist_rec(L, t, data, isf, dim + 1, base + i * inner);
    }
    lua_rawseti(L, -2, i + 1);
  }
}

static int m_tolist(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  if (t->ndim == 0) return m_item(L);
  int64_t n = lt_numel(t);
  bool isf = lt_dtype_is_float(t->dtype);
  /* a userdata buffer: freed by the collector if an error longjmps */
  void *data = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * 8, 0);
  if (n > 0) ltL_check(L, lt_to_host(t, data, isf ? LT_DTYPE_F64 : LT_DTYPE_I64));
  luaL_checkstack(L, t->ndim + 4, "tolist");
  tolist_rec(L, t, data, isf, 0, 0);
  return 1;
}

static int m_free(lua_State *L) {
  return t_gc(L);  /* idempotent */
}

static int m_type(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  if (lua_isnoneornil(L, 2)) { lua_pushstring(L, lt_dtype_name(t->dtype)); return 1; }
  lt_dtype dt = ltL_checkdtype(L, 2);
  ltL_pushtensor(L, lt_to(t, dt, lt_tensor_device(t)));
  return 1;
}

static const char *const to_keys[] = {"dtype", "device", "copy", NULL};

static int m_to(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  lt_dtype dt = t->dtype;
  lt_device dev = lt_tensor_device(t);
  bool copy = false;
  lt_tensor *o;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *s = lua_tostring(L, 2);
    int d = lt_dtype_from_name(s);
    if (d >= 0) dt = (lt_dtype)d;
    else if (ltL_parsedevice(L, s, &dev) != LT_OK)
      return luaL_argerror(L, 2, lua_pushfstring(L, "unknown device or dtype '%s'", s));
    if (lua_type(L, 3) == LUA_TSTRING) {
      int d2 = lt_dtype_from_name(lua_tostring(L, 3));
      if (d2 < 0) return luaL_argerror(L, 3, lua_pushfstring(L, "unknown dtype '%s'", lua_tostring(L, 3)));
      dt = (lt_dtype)d2;
    }
  } else if ((o = ltL_testtensor(L, 2)) != NULL) {
    dt = o->dtype;
    dev = lt_tensor_device(o);
  } else if (lua_istable(L, 2)) {
    ltL_checkopts(L, 2, "to", to_keys);
    const char *s = ltL_optstr(L, 2, "to", "dtype", NULL);
    if (s) {
      int d = lt_dtype_from_name(s);
      if (d < 0) return luaL_error(L, "to: unknown dtype '%s'", s);
      dt = (lt_dtype)d;
    }
    s = ltL_optstr(L, 2, "to", "device", NULL);
    if (s && ltL_parsedevice(L, s, &dev) != LT_OK)
      return luaL_error(L, "to: unknown device '%s'", s);
    copy = ltL_optbool(L, 2, "to", "copy", false);
  } else {
    return luaL_argerror(L, 2, lua_pushfstring(L, "device, dtype, tensor or options table expected, got %s",
                                               luaL_typename(L, 2)));
  }
  lt_tensor *r = lt_to(t, dt, dev);
  if (r == t && copy) {
    lt_tensor_release(r);
    r = lt_clone(t);
  }
  ltL_pushtensor(L, r);
  return 1;
}

static int conv_dtype(lua_State *L, lt_dtype dt) {
  lt_tensor *t = ltL_checktensor(L, 1);
  ltL_pushtensor(L, lt_to(t, dt, lt_tensor_device(t)));
  return 1;
}
static int m_float(lua_State *L) { return conv_dtype(L, LT_DTYPE_F32); }
static int m_double(lua_State *L) { return conv_dtype(L, LT_DTYPE_F64); }
static int m_long(lua_State *L) { return conv_dtype(L, LT_DTYPE_I64); }
static int m_int(lua_State *L) { return conv_dtype(L, LT_DTYPE_I32); }
static int m_bool(lua_State *L) { return conv_dtype(L, LT_DTYPE_BOOL); }
static int m_byte(lua_State *L) { return conv_dtype(L, LT_DTYPE_U8); }
static int m_half(lua_State *L) { return conv_dtype(L, LT_DTYPE_F16); }
static int m_bfloat16(lua_State *L) { return conv_dtype(L, LT_DTYPE_BF16); }

static int m_cpu(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  ltL_pushtensor(L, lt_to(t, t->dtype, lt_cpu()));
  return 1;
}

static int m_cuda(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int idx = (int)luaL_optinteger(L, 2, 0);
  lt_cuda_init();
  ltL_pushtensor(L, lt_to(t, t->dtype, lt_cuda(idx)));
  return 1;
}

static int m_detach(lua_State *L) {
  ltL_pushtensor(L, lt_detach(ltL_checktensor(L, 1)));
  return 1;
}

/* Replaces the userdata's ref by a detached alias (same storage). */
static int m_detach_(lua_State *L) {
  ltL_Tensor *u = checkud(L, 1);
  lt_tensor *d = lt_detach(u->t);
  if (!d) return ltL_engineerror(L);
  lt_tensor *old = u->t;
  u->t = d;
  lt_tensor_release(old);
  lua_settop(L, 1);
  return 1;
}

static int m_clone(lua_State *L) {
  ltL_pushtensor(L, lt_clone(ltL_checktensor(L, 1)));
  return 1;
}

static int m_contiguous(lua_State *L) {
  ltL_pushtensor(L, lt_contiguous(ltL_checktensor(L, 1)));
  return 1;
}

static int m_requires_grad_(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  bool on = lua_isnoneornil(L, 2) ? true : (luaL_checktype(L, 2, LUA_TBOOLEAN), lua_toboolean(L, 2));
  ltL_check(L, lt_tensor_set_requires_grad(t, on));
  lua_settop(L, 1);
  return 1;
}

static int m_retain_grad(lua_State *L) {
  ltL_check(L, lt_retain_grad(ltL_checktensor(L, 1)));
  lua_settop(L, 1);
  return 1;
}

static int m_copy_(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  ltL_check(L, lt_copy_(t, ltL_checktensor(L, 2)));
  lua_settop(L, 1);
  return 1;
}

static int m_set_(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  ltL_check(L, lt_tensor_set_(t, ltL_checktensor(L, 2)));
  lua_settop(L, 1);
  return 1;
}

static int m_fill_(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  double v = lua_type(L, 2) == LUA_TBOOLEAN ? lua_toboolean(L, 2) : luaL_checknumber(L, 2);
  ltL_check(L, lt_fill_(t, v));
  lua_settop(L, 1);
  return 1;
}

static int m_zero_(lua_State *L) {
  ltL_check(L, lt_zero_(ltL_checktensor(L, 1)));
  lua_settop(L, 1);
  return 1;
}

static int m_uniform_(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  ltL_check(L, lt_uniform_(t, luaL_optnumber(L, 2, 0), luaL_optnumber(L, 3, 1)));
  lua_settop(L, 1);
  return 1;
}

static int m_normal_(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  ltL_check(L, lt_normal_(t, luaL_optnumber(L, 2, 0), luaL_optnumber(L, 3, 1)));
  lua_settop(L, 1);
  return 1;
}

static int f_is_tensor(lua_State *L) {
  ltL_Tensor *u = luaL_testudata(L, 1, LTL_TENSOR_MT);
  lua_pushboolean(L, u != NULL);
  return 1;
}

static const luaL_Reg meta[] = {
  {"__add", t_add}, {"__sub", t_sub}, {"__mul", t_mul}, {"__div", t_div},
  {"__pow", t_pow}, {"__mod", t_mod}, {"__idiv", t_idiv}, {"__unm", t_unm},
  {"__len", t_len}, {"__tostring", t_tostring}, {"__gc", t_gc}, {"__close", t_gc},
  {"__newindex", t_newindex},
  {NULL, NULL}
};

static const luaL_Reg methods[] = {
  {"size", m_size}, {"stride", m_stride}, {"dim", m_dim}, {"numel", m_numel},
  {"nelement", m_numel},
  {"is_contiguous", m_is_contiguous}, {"element_size", m_element_size},
  {"is_cuda", m_is_cuda}, {"is_floating_point", m_is_floating_point},
  {"item", m_item}, {"tolist", m_tolist}, {"free", m_free}, {"type", m_type},
  {"to", m_to}, {"float", m_float}, {"double", m_double}, {"long", m_long},
  {"int", m_int}, {"bool", m_bool}, {"byte", m_byte}, {"half", m_half},
  {"bfloat16", m_bfloat16}, {"cpu", m_cpu}, {"cuda", m_cuda},
  {"detach", m_detach}, {"detach_", m_detach_}, {"clone", m_clone},
  {"contiguous", m_contiguous}, {"requires_grad_", m_requires_grad_},
  {"retain_grad", m_retain_grad}, {"copy_", m_copy_}, {"set_", m_set_}, {"fill_", m_fill_},
  {"zero_", m_zero_}, {"uniform_", m_uniform_}, {"normal_", m_normal_},
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"is_tensor", f_is_tensor}, {"clone", m_clone}, {"detach", m_detach},
  {"contiguous", m_contiguous},
  {NULL, NULL}
};

void ltL_open_tensor(lua_State *L, int lt, int mtab) {
  ltL_getcontext(L);
  luaL_newmetatable(L, LTL_TENSOR_MT);  /* sets __name */
  luaL_setfuncs(L, meta, 0);
  lua_pushvalue(L, mtab);
  lua_pushcclosure(L, t_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, mtab);
  lua_setfield(L, -2, "methods");
  lua_pop(L, 1);
  lua_pushvalue(L, mtab);
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 1);
  lua_pushvalue(L, lt);
  luaL_setfuncs(L, functions, 0);
  lua_pop(L, 1);
}
