/*
** ops.c - tensor creation, elementwise ops, reductions, views, indexing,
** joining and matrix products, as functions on `lt` and methods on tensors
** (the same C function serves both: self is argument 1). Converts 1-based
** Lua dims/indices to the engine's 0-based ones; no math happens here.
*/
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ltl.h"

#define OPCODE(L) ((int)lua_tointeger(L, lua_upvalueindex(1)))
#define INPLACE(L) lua_toboolean(L, lua_upvalueindex(2))

/* Index of the first table argument at or after `from` that is not a
** tensor (the options), or 0. */
static int find_opts(lua_State *L, int from) {
  int top = lua_gettop(L);
  for (int i = from; i <= top; i++)
    if (lua_type(L, i) == LUA_TTABLE) return i;
  return 0;
}

/* ---------------------------------------------------------------- creation */

typedef lt_tensor *(*shape_ctor)(const int64_t *, int, lt_dtype, lt_device);

static int create_shape(lua_State *L, shape_ctor fn, const char *name) {
  int64_t shape[LT_MAX_DIMS];
  int next;
  int nd = ltL_checkshape(L, 1, shape, &next, false);
  if (!lua_isnoneornil(L, next) && !lua_istable(L, next))
    return luaL_argerror(L, next, lua_pushfstring(L, "size or options table expected, got %s",
                                                  luaL_typename(L, next)));
  if (!lua_isnoneornil(L, next + 1))
    return luaL_argerror(L, next + 1, "unexpected argument after the options table");
  ltL_Create o;
  ltL_createopts(L, next, name, &o);
  ltL_pushcreated(L, fn(shape, nd, o.dtype, o.device), &o);
  return 1;
}

static int f_zeros(lua_State *L) { return create_shape(L, lt_zeros, "zeros"); }
static int f_ones(lua_State *L) { return create_shape(L, lt_ones, "ones"); }
static int f_empty(lua_State *L) { return create_shape(L, lt_empty, "empty"); }
static int f_rand(lua_State *L) { return create_shape(L, lt_rand, "rand"); }
static int f_randn(lua_State *L) { return create_shape(L, lt_randn, "randn"); }

static int f_full(lua_State *L) {
  int64_t shape[LT_MAX_DIMS];
  int nd;
  if (lua_istable(L, 1)) nd = ltL_checkshape(L, 1, shape, NULL, false);
  else {
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 0) return luaL_argerror(L, 1, "negative size");
    shape[0] = n;
    nd = 1;
  }
  double v = lua_type(L, 2) == LUA_TBOOLEAN ? lua_toboolean(L, 2) : luaL_checknumber(L, 2);
  ltL_Create o;
  ltL_createopts(L, 3, "full", &o);
  if (!o.has_dtype && lua_type(L, 2) == LUA_TBOOLEAN) o.dtype = LT_DTYPE_BOOL;
  else if (!o.has_dtype && lua_isinteger(L, 2)) o.dtype = LT_DTYPE_I64;
  ltL_pushcreated(L, lt_full(shape, nd, v, o.dtype, o.device), &o);
  return 1;
}

/* lt.tensor: nested tables -> shape, dtype, flat buffer */
typedef struct {
  int ndim;
  int64_t shape[LT_MAX_DIMS];
  bool any_float, any_bool, any_num;
} tinfo;

static void tensor_shape(lua_State *L, int idx, int depth, tinfo *ti) {
  if (lua_type(L, idx) != LUA_TTABLE) {
    if (depth != ti->ndim) luaL_error(L, "tensor: inconsistent nesting depth (a number at depth %d, expected %d)", depth + 1, ti->ndim + 1);
    return;
  }
  if (luaL_testudata(L, idx, LTL_TENSOR_MT)) luaL_error(L, "tensor: nested tensors are not supported (use lt.stack)");
  int64_t n = (int64_t)lua_rawlen(L, idx);
  if (depth >= LT_MAX_DIMS) luaL_error(L, "tensor: too many dimensions (max %d)", LT_MAX_DIMS);
  if (depth == ti->ndim) {
    if (ti->any_num) luaL_error(L, "tensor: inconsistent nesting depth at dim %d", depth + 1);
    ti->shape[depth] = n;
    ti->ndim = depth + 1;
  } else if (depth > ti->ndim || ti->shape[depth] != n) {
    luaL_error(L, "tensor: inconsistent sizes at dim %d: expected %d, got %d", depth + 1,
               depth < ti->ndim ? (int)ti->shape[depth] : 0, (int)n);
  }
  luaL_checkstack(L, 4, "tensor");
  for (int64_t i = 1; i <= n; i++) {
    int ty = lua_rawgeti(L, idx, i);
    if (ty == LUA_TTABLE) tensor_shape(L, lua_gettop(L), depth + 1, ti);
    else if (ty == LUA_TNUMBER || ty == LUA_TBOOLEAN) {
      if (depth + 1 != ti->ndim) luaL_error(L, "tensor: inconsistent nesting depth at dim %d", depth + 2);
      ti->any_num = true;
      if (ty == LUA_TBOOLEAN) ti->any_bool = true;
      else if (!lua_isinteger(L, -1)) ti->any_float = true;
    } else {
      luaL_error(L, "tensor: element %d at dim %d is a %s (numbers, booleans or tables expected)",
                 (int)i, depth + 1, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
  }
}

static void tensor_fill(lua_State *L, int idx, int depth, const tinfo *ti, void *buf,
                        bool ints, int64_t *pos) {
  int64_t n = ti->shape[depth];
  for (int64_t i = 1; i <= n; i++) {
    int ty = lua_rawgeti(L, idx, i);
    if (ty == LUA_TTABLE) tensor_fill(L, lua_gettop(L), depth + 1, ti, buf, ints, pos);
    else if (ints) ((int64_t *)buf)[(*pos)++] = (int64_t)lua_tointeger(L, -1);
    else ((double *)buf)[(*pos)++] = ty == LUA_TBOOLEAN ? (double)lua_toboolean(L, -1) : lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
}

static int f_tensor(lua_State *L) {
  ltL_Create o;
  ltL_createopts(L, 2, "tensor", &o);
  lt_tensor *src = ltL_testtensor(L, 1);
  if (src) {
    lt_tensor *d = lt_detach(src);
    if (!d) return ltL_engineerror(L);
    lt_tensor *r = lt_to(d, o.has_dtype ? o.dtype : src->dtype,
                         o.has_device ? o.device : lt_tensor_device(src));
    if (r == d) { lt_tensor_release(r); r = lt_clone(d); }
    lt_tensor_release(d);
    ltL_pushcreated(L, r, &o);
    return 1;
  }
  if (lua_type(L, 1) == LUA_TNUMBER || lua_type(L, 1) == LUA_TBOOLEAN) {
    lt_dtype dt = o.has_dtype ? o.dtype
                : lua_type(L, 1) == LUA_TBOOLEAN ? LT_DTYPE_BOOL
                : lua_isinteger(L, 1) ? LT_DTYPE_I64 : lt_default_dtype();
    if (lua_isinteger(L, 1)) {
      int64_t v = lua_tointeger(L, 1);
      ltL_pushcreated(L, lt_from_data(&v, LT_DTYPE_I64, NULL, 0, dt, o.device), &o);
    } else {
      double v = lua_type(L, 1) == LUA_TBOOLEAN ? lua_toboolean(L, 1) : lua_tonumber(L, 1);
      ltL_pushcreated(L, lt_from_data(&v, LT_DTYPE_F64, NULL, 0, dt, o.device), &o);
    }
    return 1;
  }
  if (!lua_istable(L, 1))
    return luaL_argerror(L, 1, lua_pushfstring(L, "number, boolean, table or tensor expected, got %s",
                                               luaL_typename(L, 1)));
  tinfo ti;
  memset(&ti, 0, sizeof ti);
  tensor_shape(L, 1, 0, &ti);
  int64_t n = 1;
  for (int i = 0; i < ti.ndim; i++) n *= ti.shape[i];
  lt_dtype dt = o.has_dtype ? o.dtype
              : ti.any_float ? lt_default_dtype()
              : ti.any_bool ? LT_DTYPE_BOOL
              : ti.any_num ? LT_DTYPE_I64 : lt_default_dtype();
  bool ints = !ti.any_float && !ti.any_bool && ti.any_num;
  void *buf = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * 8, 0);  /* collected on error */
  int64_t pos = 0;
  tensor_fill(L, 1, 0, &ti, buf, ints, &pos);
  lt_tensor *t = lt_from_data(buf, ints ? LT_DTYPE_I64 : LT_DTYPE_F64, ti.shape, ti.ndim, dt, o.device);
  ltL_pushcreated(L, t, &o);
  return 1;
}

static int like(lua_State *L, int kind, const char *name) {
  lt_tensor *s = ltL_checktensor(L, 1);
  int oi = 2;
  double v = 0;
  if (kind == 2) {
    v = lua_type(L, 2) == LUA_TBOOLEAN ? lua_toboolean(L, 2) : luaL_checknumber(L, 2);
    oi = 3;
  }
  ltL_Create o;
  ltL_createopts(L, oi, name, &o);
  lt_dtype dt = o.has_dtype ? o.dtype : s->dtype;
  lt_device dev = o.has_device ? o.device : lt_tensor_device(s);
  lt_tensor *r = NULL;
  switch (kind) {
    case 0: r = lt_zeros(s->shape, s->ndim, dt, dev); break;
    case 1: r = lt_ones(s->shape, s->ndim, dt, dev); break;
    case 2: r = lt_full(s->shape, s->ndim, v, dt, dev); break;
    case 3: r = lt_empty(s->shape, s->ndim, dt, dev); break;
    case 4: r = lt_rand(s->shape, s->ndim, dt, dev); break;
    case 5: r = lt_randn(s->shape, s->ndim, dt, dev); break;
  }
  ltL_pushcreated(L, r, &o);
  return 1;
}
static int f_zeros_like(lua_State *L) { return like(L, 0, "zeros_like"); }
static int f_ones_like(lua_State *L) { return like(L, 1, "ones_like"); }
static int f_full_like(lua_State *L) { return like(L, 2, "full_like"); }
static int f_empty_like(lua_State *L) { return like(L, 3, "empty_like"); }
static int f_rand_like(lua_State *L) { return like(L, 4, "rand_like"); }
static int f_randn_like(lua_State *L) { return like(L, 5, "randn_like"); }

static int f_randint(lua_State *L) {
  lua_Integer low = 0, high;
  int sarg;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    low = luaL_checkinteger(L, 1);
    high = luaL_checkinteger(L, 2);
    sarg = 3;
  } else {
    high = luaL_checkinteger(L, 1);
    sarg = 2;
  }
  int64_t shape[LT_MAX_DIMS];
  int nd;
  if (lua_istable(L, sarg)) nd = ltL_checkshape(L, sarg, shape, NULL, false);
  else {
    lua_Integer n = luaL_checkinteger(L, sarg);
    if (n < 0) return luaL_argerror(L, sarg, "negative size");
    shape[0] = n;
    nd = 1;
  }
  if (high <= low)
    return luaL_error(L, "randint: high (%I) must be greater than low (%I)", (LUAI_UACINT)high,
                      (LUAI_UACINT)low);
  ltL_Create o;
  ltL_createopts(L, sarg + 1, "randint", &o);
  if (!o.has_dtype) o.dtype = LT_DTYPE_I64;
  ltL_pushcreated(L, lt_randint(low, high, shape, nd, o.dtype, o.device), &o);
  return 1;
}

static int f_randperm(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 0) return luaL_argerror(L, 1, "n must be non-negative");
  ltL_Create o;
  ltL_createopts(L, 2, "randperm", &o);
  if (!o.has_dtype) o.dtype = LT_DTYPE_I64;
  ltL_pushcreated(L, lt_randperm(n, o.dtype, o.device, 1), &o);
  return 1;
}

static int f_arange(lua_State *L) {
  int oi = find_opts(L, 1);
  int nargs = oi ? oi - 1 : lua_gettop(L);
  if (!oi) oi = nargs + 1;
  double start = 0, end, step = 1;
  bool ints = true;
  for (int i = 1; i <= nargs; i++) {
    luaL_checknumber(L, i);
    if (!lua_isinteger(L, i)) ints = false;
  }
  if (nargs == 0) return luaL_argerror(L, 1, "number expected, got no value");
  if (nargs == 1) end = lua_tonumber(L, 1);
  else {
    start = lua_tonumber(L, 1);
    end = lua_tonumber(L, 2);
    if (nargs >= 3) step = lua_tonumber(L, 3);
  }
  if (step == 0) return luaL_argerror(L, 3, "step must be non-zero");
  ltL_Create o;
  ltL_createopts(L, oi, "arange", &o);
  if (!o.has_dtype && ints) o.dtype = LT_DTYPE_I64;
  ltL_pushcreated(L, lt_arange(start, end, step, o.dtype, o.device), &o);
  return 1;
}

static int f_linspace(lua_State *L) {
  double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
  lua_Integer steps = luaL_checkinteger(L, 3);
  if (steps < 0) return luaL_argerror(L, 3, "steps must be non-negative");
  ltL_Create o;
  ltL_createopts(L, 4, "linspace", &o);
  ltL_pushcreated(L, lt_linspace(a, b, steps, o.dtype, o.device), &o);
  return 1;
}

static int f_eye(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1), m = n;
  int oi = 2;
  if (lua_type(L, 2) == LUA_TNUMBER) { m = luaL_checkinteger(L, 2); oi = 3; }
  if (n < 0 || m < 0) return luaL_error(L, "eye: sizes must be non-negative");
  ltL_Create o;
  ltL_createopts(L, oi, "eye", &o);
  ltL_pushcreated(L, lt_eye(n, m, o.dtype, o.device), &o);
  return 1;
}

static int f_bernoulli(lua_State *L) {
  lt_tensor *p = ltL_testtensor(L, 1);
  if (p) { ltL_pushtensor(L, lt_bernoulli(p)); return 1; }
  double pr = luaL_checknumber(L, 1);
  int64_t shape[LT_MAX_DIMS];
  int next;
  int nd = ltL_checkshape(L, 2, shape, &next, false);
  ltL_Create o;
  ltL_createopts(L, next, "bernoulli", &o);
  ltL_pushcreated(L, lt_bernoulli_p(shape, nd, pr, o.dtype, o.device), &o);
  return 1;
}

static int f_multinomial(lua_State *L) {
  lt_tensor *p = ltL_checktensor(L, 1);
  lua_Integer n = luaL_optinteger(L, 2, 1);
  if (p->ndim == 1) {
    int64_t s2[2] = {1, p->shape[0]};
    lt_tensor *v = lt_tensor_view(p, s2, 2);
    if (!v) return ltL_engineerror(L);
    lt_tensor *r = lt_multinomial(v, n, 1);
    lt_tensor_release(v);
    if (!r) return ltL_engineerror(L);
    int64_t s1[1] = {n};
    lt_tensor *rv = lt_tensor_view(r, s1, 1);
    ltL_pushtensor_rel(L, rv, r, NULL);
    return 1;
  }
  ltL_pushtensor(L, lt_multinomial(p, n, 1));
  return 1;
}

/* ---------------------------------------------------------------- elementwise */

static int op_unary(lua_State *L) {
  lt_unary_op op = (lt_unary_op)OPCODE(L);
  lt_tensor *t = ltL_checktensor(L, 1);
  if (INPLACE(L)) {
    ltL_check(L, lt_unary_(op, t, 0, 0));
    lua_settop(L, 1);
    return 1;
  }
  ltL_pushtensor(L, lt_unary(op, t));
  return 1;
}

static const char *const gelu_keys[] = {"approximate", NULL};

static int op_gelu(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  lt_unary_op op = LT_UNARY_GELU;
  if (lua_type(L, 2) == LUA_TSTRING) lua_pushvalue(L, 2);
  else {
    ltL_checkopts(L, 2, "gelu", gelu_keys);
    lua_pushstring(L, ltL_optstr(L, 2, "gelu", "approximate", "none"));
  }
  const char *ap = lua_tostring(L, -1);
  if (strcmp(ap, "tanh") == 0) op = LT_UNARY_GELU_TANH;
  else if (strcmp(ap, "none") != 0)
    return luaL_error(L, "gelu: approximate must be \"none\" or \"tanh\", got '%s'", ap);
  if (INPLACE(L)) {
    ltL_check(L, lt_unary_(op, t, 0, 0));
    lua_settop(L, 1);
    return 1;
  }
  ltL_pushtensor(L, lt_unary(op, t));
  return 1;
}

static double optbound(lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return NAN;
  if (lua_type(L, arg) != LUA_TNUMBER)
    luaL_argerror(L, arg, lua_pushfstring(L, "number or nil expected, got %s", luaL_typename(L, arg)));
  return lua_tonumber(L, arg);
}

static int op_clamp(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  double lo, hi;
  if (lua_istable(L, 2) && !ltL_testtensor(L, 2)) {
    static const char *const keys[] = {"min", "max", NULL};
    ltL_checkopts(L, 2, "clamp", keys);
    lo = ltL_optnum(L, 2, "clamp", "min", NAN);
    hi = ltL_optnum(L, 2, "clamp", "max", NAN);
  } else {
    lo = optbound(L, 2);
    hi = optbound(L, 3);
  }
  if (isnan(lo) && isnan(hi)) return luaL_error(L, "clamp: at least one of min and max must be given");
  if (INPLACE(L)) {
    ltL_check(L, lt_unary_(LT_UNARY_CLAMP, t, lo, hi));
    lua_settop(L, 1);
    return 1;
  }
  ltL_pushtensor(L, lt_unary_p(LT_UNARY_CLAMP, t, lo, hi));
  return 1;
}

static int op_leaky_relu(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  double s = luaL_optnumber(L, 2, 0.01);
  if (INPLACE(L)) {
    ltL_check(L, lt_unary_(LT_UNARY_LEAKY_RELU, t, s, 0));
    lua_settop(L, 1);
    return 1;
  }
  ltL_pushtensor(L, lt_unary_p(LT_UNARY_LEAKY_RELU, t, s, 0));
  return 1;
}

static const char *const alpha_keys[] = {"alpha", NULL};

static int op_binary(lua_State *L) {
  lt_binary_op op = (lt_binary_op)OPCODE(L);
  bool inplace = INPLACE(L);
  lt_tensor *a = ltL_testtensor(L, 1);
  lt_tensor *b = ltL_testtensor(L, 2);
  double alpha = 1;
  if ((op == LT_BINARY_ADD || op == LT_BINARY_SUB) && !lua_isnoneornil(L, 3)) {
    if (lua_type(L, 3) == LUA_TNUMBER) alpha = lua_tonumber(L, 3);
    else {
      const char *fn = op == LT_BINARY_ADD ? (inplace ? "add_" : "add") : (inplace ? "sub_" : "sub");
      ltL_checkopts(L, 3, fn, alpha_keys);
      alpha = ltL_optnum(L, 3, fn, "alpha", 1);
    }
  }
  if (!a) {
    if (!inplace && b && lua_type(L, 1) == LUA_TNUMBER && alpha == 1) {
      ltL_pushtensor(L, lt_binary_scalar(op, b, lua_tonumber(L, 1), true));
      return 1;
    }
    ltL_checktensor(L, 1);
  }
  if (!b) {
    if (lua_type(L, 2) == LUA_TNUMBER || lua_type(L, 2) == LUA_TBOOLEAN) {
      double s = lua_type(L, 2) == LUA_TBOOLEAN ? lua_toboolean(L, 2) : lua_tonumber(L, 2) * alpha;
      if (inplace) {
        ltL_check(L, lt_binary_scalar_(op, a, s));
        lua_settop(L, 1);
        return 1;
      }
      ltL_pushtensor(L, lt_binary_scalar(op, a, s, false));
      return 1;
    }
    return luaL_argerror(L, 2, lua_pushfstring(L, "tensor or number expected, got %s", luaL_typename(L, 2)));
  }
  lt_tensor *bs = NULL;
  if (alpha != 1) {
    bs = lt_binary_scalar(LT_BINARY_MUL, b, alpha, false);
    if (!bs) return ltL_engineerror(L);
    b = bs;
  }
  if (inplace) {
    lt_status st = lt_binary_(op, a, b);
    lt_tensor_release(bs);
    ltL_check(L, st);
    lua_settop(L, 1);
    return 1;
  }
  ltL_pushtensor_rel(L, lt_binary(op, a, b), bs, NULL);
  return 1;
}

/* where(cond, a, b): a, b tensors or numbers */
static lt_tensor *tensor_or_scalar(lua_State *L, int arg, lt_tensor *like, lt_tensor *cond) {
  lt_tensor *t = ltL_testtensor(L, arg);
  if (t) { lt_tensor_retain(t); return t; }
  if (lua_type(L, arg) != LUA_TNUMBER && lua_type(L, arg) != LUA_TBOOLEAN)
    luaL_argerror(L, arg, lua_pushfstring(L, "tensor or number expected, got %s", luaL_typename(L, arg)));
  double v = lua_type(L, arg) == LUA_TBOOLEAN ? lua_toboolean(L, arg) : lua_tonumber(L, arg);
  lt_dtype dt = like ? like->dtype
              : lua_isinteger(L, arg) ? LT_DTYPE_I64 : lt_default_dtype();
  if (like && !lt_dtype_is_float(dt) && !lua_isinteger(L, arg) && lua_type(L, arg) == LUA_TNUMBER)
    dt = lt_default_dtype();
  return lt_scalar(v, dt, lt_tensor_device(like ? like : cond));
}

static int f_where(lua_State *L) {
  lt_tensor *c = ltL_checktensor(L, 1);
  lt_tensor *a0 = ltL_testtensor(L, 2), *b0 = ltL_testtensor(L, 3);
  lt_tensor *a = tensor_or_scalar(L, 2, b0, c);
  if (!a) return ltL_engineerror(L);
  if (!b0 && !ltL_testtensor(L, 3) && lua_type(L, 3) != LUA_TNUMBER && lua_type(L, 3) != LUA_TBOOLEAN) {
    lt_tensor_release(a);
    return luaL_argerror(L, 3, lua_pushfstring(L, "tensor or number expected, got %s", luaL_typename(L, 3)));
  }
  lt_tensor *b = tensor_or_scalar(L, 3, a0 ? a0 : a, c);
  if (!b) { lt_tensor_release(a); return ltL_engineerror(L); }
  ltL_pushtensor_rel(L, lt_where(c, a, b), a, b);
  return 1;
}

static int op_masked_fill(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  lt_tensor *m = ltL_checktensor(L, 2);
  double v = lua_type(L, 3) == LUA_TBOOLEAN ? lua_toboolean(L, 3) : luaL_checknumber(L, 3);
  if (INPLACE(L)) {
    ltL_check(L, lt_masked_fill_(t, m, v));
    lua_settop(L, 1);
    return 1;
  }
  ltL_pushtensor(L, lt_masked_fill(t, m, v));
  return 1;
}

/* ---------------------------------------------------------------- reductions */

static const char *const red_keys[] = {"keepdim", NULL};
static const char *const var_keys[] = {"keepdim", "correction", "unbiased", NULL};

/* Parses (dims?, keepdim?, opts?) from `arg`; returns ndims (0 = all). */
static int reduce_args(lua_State *L, int arg, lt_tensor *t, int *dims, bool *keepdim,
                       double *param, lt_reduce_op op, const char *name) {
  int nd = 0;
  if (lua_type(L, arg) == LUA_TNUMBER) {
    dims[0] = ltL_checkdim(L, arg, t->ndim);
    nd = 1;
    arg++;
  } else if (lua_istable(L, arg) && lua_rawlen(L, arg) > 0) {
    nd = ltL_checkdims(L, arg, t->ndim, dims, NULL);
    arg++;
  } else if (lua_isnil(L, arg) && !lua_isnone(L, arg + 1)) {
    arg++;
  }
  if (lua_type(L, arg) == LUA_TBOOLEAN) {
    *keepdim = lua_toboolean(L, arg);
    arg++;
  }
  bool isvar = op == LT_REDUCE_VAR || op == LT_REDUCE_STD;
  if (!lua_isnoneornil(L, arg)) {
    ltL_checkopts(L, arg, name, isvar ? var_keys : red_keys);
    *keepdim = ltL_optbool(L, arg, name, "keepdim", *keepdim);
    if (isvar) {
      lua_getfield(L, arg, "unbiased");
      if (!lua_isnil(L, -1)) *param = lua_toboolean(L, -1) ? 1 : 0;
      lua_pop(L, 1);
      *param = ltL_optnum(L, arg, name, "correction", *param);
    }
  }
  return nd;
}

static int op_reduce(lua_State *L) {
  lt_reduce_op op = (lt_reduce_op)OPCODE(L);
  lt_tensor *t = ltL_checktensor(L, 1);
  int dims[LT_MAX_DIMS];
  bool keepdim = false;
  double param = (op == LT_REDUCE_VAR || op == LT_REDUCE_STD) ? 1 : 0;
  const char *name = lt_reduce_name(op);
  int nd = reduce_args(L, 2, t, dims, &keepdim, &param, op, name);
  ltL_pushtensor(L, lt_reduce(op, t, dims, nd, keepdim, param, NULL, 0));
  return 1;
}

static int op_norm(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  double p = 2;
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *s = lua_tostring(L, 2);
    if (strcmp(s, "fro") == 0) p = 2;
    else if (strcmp(s, "inf") == 0) p = INFINITY;
    else return luaL_argerror(L, 2, lua_pushfstring(L, "unknown norm '%s'", s));
  } else if (!lua_isnoneornil(L, 2)) {
    p = luaL_checknumber(L, 2);
  }
  int dims[LT_MAX_DIMS];
  bool keepdim = false;
  double dummy = 0;
  int nd = reduce_args(L, 3, t, dims, &keepdim, &dummy, LT_REDUCE_NORM, "norm");
  ltL_pushtensor(L, lt_reduce(LT_REDUCE_NORM, t, dims, nd, keepdim, p, NULL, 0));
  return 1;
}

/* max/min: (other tensor) -> elementwise; () -> value; (dim) -> values, indices */
static int op_maxmin(lua_State *L) {
  lt_reduce_op op = (lt_reduce_op)OPCODE(L);
  lt_tensor *t = ltL_checktensor(L, 1);
  lt_tensor *o = ltL_testtensor(L, 2);
  if (o) {
    ltL_pushtensor(L, lt_binary(op == LT_REDUCE_MAX ? LT_BINARY_MAXIMUM : LT_BINARY_MINIMUM, t, o));
    return 1;
  }
  int dims[LT_MAX_DIMS];
  bool keepdim = false;
  double param = 0;
  const char *name = op == LT_REDUCE_MAX ? "max" : "min";
  int nd = reduce_args(L, 2, t, dims, &keepdim, &param, op, name);
  if (nd != 1) {
    ltL_pushtensor(L, lt_reduce(op, t, dims, nd, keepdim, 0, NULL, 0));
    return 1;
  }
  lt_tensor *idx = NULL;
  lt_tensor *v = lt_reduce(op, t, dims, 1, keepdim, 0, &idx, 1);
  if (!v) { lt_tensor_release(idx); return ltL_engineerror(L); }
  ltL_pushtensor(L, v);
  if (idx) ltL_pushtensor(L, idx);
  else lua_pushnil(L);
  return 2;
}

static int op_argmax(lua_State *L) {
  lt_reduce_op op = (lt_reduce_op)OPCODE(L);
  lt_tensor *t = ltL_checktensor(L, 1);
  int dims[LT_MAX_DIMS];
  bool keepdim = false;
  double param = 0;
  int nd = reduce_args(L, 2, t, dims, &keepdim, &param, op, lt_reduce_name(op));
  if (nd > 1) return luaL_argerror(L, 2, "argmax/argmin take one dim or none");
  ltL_pushtensor(L, lt_reduce(op, t, dims, nd, keepdim, 0, NULL, 1));
  return 1;
}

/* ---------------------------------------------------------------- views */

static int m_view(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int64_t shape[LT_MAX_DIMS];
  int next;
  if (lua_type(L, 2) != LUA_TNUMBER && !lua_istable(L, 2))
    return luaL_argerror(L, 2, lua_pushfstring(L, "number or table expected, got %s", luaL_typename(L, 2)));
  int nd = ltL_checkshape(L, 2, shape, &next, true);
  ltL_pushtensor(L, OPCODE(L) ? lt_reshape(t, shape, nd) : lt_tensor_view(t, shape, nd));
  return 1;
}

static int m_view_as(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1), *o = ltL_checktensor(L, 2);
  ltL_pushtensor(L, OPCODE(L) ? lt_reshape(t, o->shape, o->ndim) : lt_tensor_view(t, o->shape, o->ndim));
  return 1;
}

static int m_transpose(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int d0 = ltL_checkdim(L, 2, t->ndim), d1 = ltL_checkdim(L, 3, t->ndim);
  ltL_pushtensor(L, lt_transpose(t, d0, d1));
  return 1;
}

static int m_t(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  if (t->ndim > 2) return luaL_error(L, "t: expects a tensor with <= 2 dimensions, got %d (use transpose or permute)", t->ndim);
  if (t->ndim < 2) { lua_settop(L, 1); return 1; }
  ltL_pushtensor(L, lt_transpose(t, 0, 1));
  return 1;
}

static int m_permute(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int dims[LT_MAX_DIMS];
  int nd = ltL_checkdims(L, 2, t->ndim, dims, NULL);
  if (nd != t->ndim)
    return luaL_error(L, "permute: expected %d dims for a tensor of dimension %d, got %d", t->ndim, t->ndim, nd);
  ltL_pushtensor(L, lt_permute(t, dims, nd));
  return 1;
}

static int m_squeeze(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int d = lua_isnoneornil(L, 2) ? LT_ALL_DIMS : ltL_checkdim(L, 2, t->ndim);
  ltL_pushtensor(L, lt_squeeze(t, d));
  return 1;
}

static int m_unsqueeze(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int d = ltL_checkdim(L, 2, t->ndim + 1);
  ltL_pushtensor(L, lt_unsqueeze(t, d));
  return 1;
}

static int m_expand(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int64_t shape[LT_MAX_DIMS];
  int nd = ltL_checkshape(L, 2, shape, NULL, true);
  ltL_pushtensor(L, lt_expand(t, shape, nd));
  return 1;
}

static int m_expand_as(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1), *o = ltL_checktensor(L, 2);
  ltL_pushtensor(L, lt_expand(t, o->shape, o->ndim));
  return 1;
}

static int m_flatten(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int s = lua_isnoneornil(L, 2) ? 0 : ltL_checkdim(L, 2, t->ndim);
  int e = lua_isnoneornil(L, 3) ? (t->ndim > 0 ? t->ndim - 1 : 0) : ltL_checkdim(L, 3, t->ndim);
  ltL_pushtensor(L, lt_flatten(t, s, e));
  return 1;
}

static int64_t check_pos(lua_State *L, int arg, int64_t size, const char *what) {
  lua_Integer i = luaL_checkinteger(L, arg);
  lua_Integer k = i > 0 ? i - 1 : size + i;
  if (i == 0 || k < 0 || k >= size)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s %I out of range for a dimension of size %I", what,
                                          (LUAI_UACINT)i, (LUAI_UACINT)size));
  return (int64_t)k;
}

static int m_narrow(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int d = ltL_checkdim(L, 2, t->ndim);
  if (t->ndim == 0) return luaL_error(L, "narrow: cannot narrow a 0-d tensor");
  lua_Integer start = luaL_checkinteger(L, 3);
  lua_Integer len = luaL_checkinteger(L, 4);
  int64_t n = t->shape[d];
  lua_Integer k = start > 0 ? start - 1 : n + start;
  if (start == 0 || k < 0 || k > n || (k == n && len > 0))
    return luaL_argerror(L, 3, lua_pushfstring(L, "start %I out of range for a dimension of size %I",
                                               (LUAI_UACINT)start, (LUAI_UACINT)n));
  if (len < 0 || k + len > n)
    return luaL_argerror(L, 4, lua_pushfstring(L, "length %I out of range (start %I, size %I)",
                                               (LUAI_UACINT)len, (LUAI_UACINT)start, (LUAI_UACINT)n));
  ltL_pushtensor(L, lt_narrow(t, d, k, len));
  return 1;
}

static int m_select(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  if (t->ndim == 0) return luaL_error(L, "select: cannot select from a 0-d tensor");
  int d = ltL_checkdim(L, 2, t->ndim);
  int64_t i = check_pos(L, 3, t->shape[d], "index");
  ltL_pushtensor(L, lt_select(t, d, i));
  return 1;
}

static int m_index_select(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int d = ltL_checkdim(L, 2, t->ndim);
  ltL_pushtensor(L, lt_index_select(t, d, ltL_checktensor(L, 3), 1));
  return 1;
}

static int m_gather(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int d = ltL_checkdim(L, 2, t->ndim);
  ltL_pushtensor(L, lt_gather(t, d, ltL_checktensor(L, 3), 1));
  return 1;
}

static const char *const scatter_keys[] = {"reduce", NULL};

static int m_scatter(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int d = ltL_checkdim(L, 2, t->ndim);
  lt_tensor *idx = ltL_checktensor(L, 3);
  lt_tensor *src = ltL_testtensor(L, 4);
  double v = 0;
  if (!src) {
    if (lua_type(L, 4) != LUA_TNUMBER)
      return luaL_argerror(L, 4, lua_pushfstring(L, "tensor or number expected, got %s", luaL_typename(L, 4)));
    v = lua_tonumber(L, 4);
  }
  const char *fn = INPLACE(L) ? "scatter_" : "scatter";
  ltL_checkopts(L, 5, fn, scatter_keys);
  const char *red = ltL_optstr(L, 5, fn, "reduce", NULL);
  if (red && strcmp(red, "add") != 0)
    return luaL_error(L, "%s: reduce must be \"add\", got '%s'", fn, red);
  if (INPLACE(L)) {
    ltL_check(L, lt_scatter_(t, d, idx, src, v, red, 1));
    lua_settop(L, 1);
    return 1;
  }
  ltL_pushtensor(L, lt_scatter(t, d, idx, src, v, red, 1));
  return 1;
}

static int m_index_add(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int d = ltL_checkdim(L, 2, t->ndim);
  ltL_pushtensor(L, lt_index_add(t, d, ltL_checktensor(L, 3), ltL_checktensor(L, 4), 1));
  return 1;
}

/* pushes a table of narrowed views of sizes[] along d */
static int push_pieces(lua_State *L, lt_tensor *t, int d, const int64_t *sizes, int n) {
  lua_createtable(L, n, 0);
  int64_t at = 0;
  for (int i = 0; i < n; i++) {
    ltL_pushtensor(L, lt_narrow(t, d, at, sizes[i]));
    lua_rawseti(L, -2, i + 1);
    at += sizes[i];
  }
  return 1;
}

static int m_chunk(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  if (n <= 0) return luaL_argerror(L, 2, "number of chunks must be positive");
  int d = lua_isnoneornil(L, 3) ? 0 : ltL_checkdim(L, 3, t->ndim);
  if (t->ndim == 0) return luaL_error(L, "chunk: cannot chunk a 0-d tensor");
  /* (size - 1) / n + 1 rather than (size + n - 1) / n: n may be near INT64_MAX */
  int64_t size = t->shape[d], each = size == 0 ? 1 : (size - 1) / n + 1;
  int64_t cnt64 = size == 0 ? 0 : (size - 1) / each + 1;
  if (cnt64 > INT_MAX) return luaL_error(L, "chunk: %I chunks is too many", (LUAI_UACINT)cnt64);
  int cnt = (int)cnt64;
  int64_t *sz = lua_newuserdatauv(L, sizeof(int64_t) * (cnt > 0 ? cnt : 1), 0);
  for (int i = 0; i < cnt; i++) sz[i] = (i + 1) * each <= size ? each : size - i * each;
  return push_pieces(L, t, d, sz, cnt);
}

static int m_split(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int d = lua_isnoneornil(L, 3) ? 0 : ltL_checkdim(L, 3, t->ndim);
  if (t->ndim == 0) return luaL_error(L, "split: cannot split a 0-d tensor");
  int64_t size = t->shape[d];
  if (lua_istable(L, 2)) {
    int n = (int)lua_rawlen(L, 2);
    int64_t *sz = lua_newuserdatauv(L, sizeof(int64_t) * (n > 0 ? n : 1), 0);
    int64_t tot = 0;
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, 2, i + 1);
      int isint;
      sz[i] = lua_tointegerx(L, -1, &isint);
      lua_pop(L, 1);
      if (!isint || sz[i] < 0) return luaL_argerror(L, 2, "split sizes must be non-negative integers");
      if (sz[i] > INT64_MAX - tot)
        return luaL_argerror(L, 2, "split sizes sum to more than the dimension's size");
      tot += sz[i];
    }
    if (tot != size)
      return luaL_argerror(L, 2, lua_pushfstring(L, "split sizes sum to %I but the dimension has size %I",
                                                 (LUAI_UACINT)tot, (LUAI_UACINT)size));
    return push_pieces(L, t, d, sz, n);
  }
  lua_Integer each = luaL_checkinteger(L, 2);
  if (each <= 0) return luaL_argerror(L, 2, "split size must be positive");
  int64_t cnt64 = size == 0 ? 0 : (size - 1) / each + 1;  /* no overflow for huge `each` */
  if (cnt64 > INT_MAX) return luaL_error(L, "split: %I pieces is too many", (LUAI_UACINT)cnt64);
  int cnt = (int)cnt64;
  int64_t *sz = lua_newuserdatauv(L, sizeof(int64_t) * (cnt > 0 ? cnt : 1), 0);
  for (int i = 0; i < cnt; i++) sz[i] = (i + 1) * each <= size ? each : size - i * each;
  return push_pieces(L, t, d, sz, cnt);
}

static int m_unbind(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int d = lua_isnoneornil(L, 2) ? 0 : ltL_checkdim(L, 2, t->ndim);
  if (t->ndim == 0) return luaL_error(L, "unbind: cannot unbind a 0-d tensor");
  int64_t n = t->shape[d];
  if (n > INT_MAX) return luaL_error(L, "unbind: %I pieces is too many", (LUAI_UACINT)n);
  lua_createtable(L, (int)n, 0);
  for (int64_t i = 0; i < n; i++) {
    ltL_pushtensor(L, lt_select(t, d, i));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* flip through index_select with reversed indices (differentiable) */
static int m_flip(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int dims[LT_MAX_DIMS];
  int nd = ltL_checkdims(L, 2, t->ndim, dims, NULL);
  if (t->ndim == 0) {  /* nothing to reverse: a copy, as in PyTorch */
    lt_tensor *c = lt_clone(t);
    if (!c) return ltL_engineerror(L);
    ltL_pushtensor(L, c);
    return 1;
  }
  lt_tensor_retain(t);
  lt_tensor *cur = t;
  for (int i = 0; i < nd; i++) {
    int64_t n = t->shape[dims[i]];
    lt_tensor *idx = lt_arange((double)(n - 1), -1, -1, LT_DTYPE_I64, lt_tensor_device(t));
    if (!idx) { lt_tensor_release(cur); return ltL_engineerror(L); }
    lt_tensor *nx = lt_index_select(cur, dims[i], idx, 0);
    lt_tensor_release(idx);
    lt_tensor_release(cur);
    if (!nx) return ltL_engineerror(L);
    cur = nx;
  }
  ltL_pushtensor(L, cur);
  return 1;
}

/* ---------------------------------------------------------------- joining */

static int tensor_list(lua_State *L, int arg, lt_tensor ***out) {
  luaL_checktype(L, arg, LUA_TTABLE);
  int n = (int)lua_rawlen(L, arg);
  if (n == 0) luaL_argerror(L, arg, "expected a non-empty list of tensors");
  lt_tensor **ts = lua_newuserdatauv(L, sizeof(lt_tensor *) * n, 0);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, arg, i + 1);
    ltL_Tensor *u = luaL_testudata(L, -1, LTL_TENSOR_MT);
    if (!u) luaL_argerror(L, arg, lua_pushfstring(L, "element %d is a %s, not a tensor", i + 1, luaL_typename(L, -1)));
    if (!u->t) luaL_argerror(L, arg, lua_pushfstring(L, "element %d: tensor has been freed", i + 1));
    ts[i] = u->t;
    lua_pop(L, 1);  /* still anchored by the list */
  }
  *out = ts;
  return n;
}

static int f_cat(lua_State *L) {
  lt_tensor **ts;
  lua_Integer dl = luaL_optinteger(L, 2, 1);
  int n = tensor_list(L, 1, &ts);
  int d = ltL_todim(L, 2, dl, ts[0]->ndim);
  ltL_pushtensor(L, lt_cat(ts, n, d));
  return 1;
}

static int f_stack(lua_State *L) {
  lt_tensor **ts;
  lua_Integer dl = luaL_optinteger(L, 2, 1);
  int n = tensor_list(L, 1, &ts);
  int d = ltL_todim(L, 2, dl, ts[0]->ndim + 1);
  ltL_pushtensor(L, lt_stack(ts, n, d));
  return 1;
}

static int f_one_hot(lua_State *L) {
  lt_tensor *idx = ltL_checktensor(L, 1);
  lua_Integer n = luaL_optinteger(L, 2, -1);
  if (n < 0) {
    if (lt_numel(idx) == 0) return luaL_error(L, "one_hot: cannot infer the number of classes of an empty tensor");
    lt_tensor *m = lt_reduce(LT_REDUCE_MAX, idx, NULL, 0, false, 0, NULL, 0);
    double v;
    if (!m) return ltL_engineerror(L);
    lt_status st = lt_item(m, &v);
    lt_tensor_release(m);
    ltL_check(L, st);
    n = (lua_Integer)v;  /* 1-based: the largest class id is the count */
  }
  ltL_pushtensor(L, lt_one_hot(idx, n, 1));
  return 1;
}

static const char *const pad_keys[] = {"mode", "value", NULL};

static int f_pad(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int n = (int)lua_rawlen(L, 2);
  if (n == 0 || n % 2 || n > 2 * LT_MAX_DIMS)
    return luaL_argerror(L, 2, "pads must be a list of an even number of integers");
  int64_t pads[2 * LT_MAX_DIMS];
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 2, i + 1);
    int isint;
    pads[i] = lua_tointegerx(L, -1, &isint);
    lua_pop(L, 1);
    if (!isint) return luaL_argerror(L, 2, "pads must be integers");
  }
  ltL_checkopts(L, 3, "pad", pad_keys);
  const char *mode = ltL_optstr(L, 3, "pad", "mode", "constant");
  double v = ltL_optnum(L, 3, "pad", "value", 0);
  ltL_pushtensor(L, lt_pad(t, pads, n, mode, v));
  return 1;
}

/* ---------------------------------------------------------------- linear algebra */

static int m_matmul(lua_State *L) {
  lt_tensor *a = ltL_checktensor(L, 1), *b = ltL_checktensor(L, 2);
  switch (OPCODE(L)) {
    case 0: ltL_pushtensor(L, lt_matmul(a, b)); break;
    case 1: ltL_pushtensor(L, lt_mm(a, b)); break;
    default: ltL_pushtensor(L, lt_bmm(a, b)); break;
  }
  return 1;
}

static int f_linear(lua_State *L) {
  lt_tensor *x = ltL_checktensor(L, 1), *w = ltL_checktensor(L, 2);
  lt_tensor *b = lua_isnoneornil(L, 3) ? NULL : ltL_checktensor(L, 3);
  ltL_pushtensor(L, lt_linear(x, w, b));
  return 1;
}

/* ---------------------------------------------------------------- comparisons of whole tensors */

static bool all_true(lua_State *L, lt_tensor *b) {
  lt_tensor *r = lt_reduce(LT_REDUCE_ALL, b, NULL, 0, false, 0, NULL, 0);
  lt_tensor_release(b);
  if (!r) ltL_engineerror(L);
  double v;
  lt_status st = lt_item(r, &v);
  lt_tensor_release(r);
  ltL_check(L, st);
  return v != 0;
}

static int m_equal(lua_State *L) {
  lt_tensor *a = ltL_checktensor(L, 1), *b = ltL_checktensor(L, 2);
  if (a->ndim != b->ndim || memcmp(a->shape, b->shape, sizeof(int64_t) * a->ndim) != 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lt_tensor *e = lt_binary(LT_BINARY_EQ, a, b);
  if (!e) return ltL_engineerror(L);
  lua_pushboolean(L, all_true(L, e));
  return 1;
}

/* |a - b| <= atol + rtol * |b| everywhere (NaNs unequal) */
static int m_allclose(lua_State *L) {
  lt_tensor *a = ltL_checktensor(L, 1), *b = ltL_checktensor(L, 2);
  double rtol = luaL_optnumber(L, 3, 1e-5), atol = luaL_optnumber(L, 4, 1e-8);
  lt_tensor *d = lt_binary(LT_BINARY_SUB, a, b);
  if (!d) return ltL_engineerror(L);
  lt_tensor *ad = lt_unary(LT_UNARY_ABS, d);
  lt_tensor_release(d);
  if (!ad) return ltL_engineerror(L);
  lt_tensor *ab = lt_unary(LT_UNARY_ABS, b);
  if (!ab) { lt_tensor_release(ad); return ltL_engineerror(L); }
  lt_tensor *tol = lt_binary_scalar(LT_BINARY_MUL, ab, rtol, false);
  lt_tensor_release(ab);
  if (!tol) { lt_tensor_release(ad); return ltL_engineerror(L); }
  lt_tensor *tol2 = lt_binary_scalar(LT_BINARY_ADD, tol, atol, false);
  lt_tensor_release(tol);
  if (!tol2) { lt_tensor_release(ad); return ltL_engineerror(L); }
  lt_tensor *c = lt_binary(LT_BINARY_LE, ad, tol2);
  lt_tensor_release(ad);
  lt_tensor_release(tol2);
  if (!c) return ltL_engineerror(L);
  lua_pushboolean(L, all_true(L, c));
  return 1;
}

/* ---------------------------------------------------------------- random state */

static int f_manual_seed(lua_State *L) {
  lt_manual_seed((uint64_t)luaL_checkinteger(L, 1));
  return 0;
}

static int f_initial_seed(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lt_initial_seed());
  return 1;
}

static int f_get_rng_state(lua_State *L) {
  uint64_t seed, off;
  lt_rng_get_state(&seed, &off);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)seed);
  lua_setfield(L, -2, "seed");
  lua_pushinteger(L, (lua_Integer)off);
  lua_setfield(L, -2, "offset");
  return 1;
}

static int f_set_rng_state(lua_State *L) {
  static const char *const keys[] = {"seed", "offset", "cuda_offset", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  ltL_checkopts(L, 1, "set_rng_state", keys);
  lua_Integer seed = ltL_optint(L, 1, "set_rng_state", "seed", (lua_Integer)lt_initial_seed());
  lua_Integer off = ltL_optint(L, 1, "set_rng_state", "offset", 0);
  lt_rng_set_state((uint64_t)seed, (uint64_t)off);
  return 0;
}

/* ---------------------------------------------------------------- registration */

typedef struct { const char *name; int code; } opname;

static const opname unary_ops[] = {
  {"neg", LT_UNARY_NEG}, {"abs", LT_UNARY_ABS}, {"sign", LT_UNARY_SIGN},
  {"exp", LT_UNARY_EXP}, {"log", LT_UNARY_LOG}, {"log1p", LT_UNARY_LOG1P},
  {"expm1", LT_UNARY_EXPM1}, {"sqrt", LT_UNARY_SQRT}, {"rsqrt", LT_UNARY_RSQRT},
  {"reciprocal", LT_UNARY_RECIPROCAL}, {"square", LT_UNARY_SQUARE},
  {"sin", LT_UNARY_SIN}, {"cos", LT_UNARY_COS}, {"tanh", LT_UNARY_TANH},
  {"sigmoid", LT_UNARY_SIGMOID}, {"relu", LT_UNARY_RELU}, {"silu", LT_UNARY_SILU},
  {"erf", LT_UNARY_ERF}, {"floor", LT_UNARY_FLOOR}, {"ceil", LT_UNARY_CEIL},
  {"round", LT_UNARY_ROUND}, {"trunc", LT_UNARY_TRUNC},
  {"logical_not", LT_UNARY_LOGICAL_NOT}, {"isnan", LT_UNARY_ISNAN}, {"isinf", LT_UNARY_ISINF},
  {NULL, 0}
};

static const opname binary_ops[] = {
  {"add", LT_BINARY_ADD}, {"sub", LT_BINARY_SUB}, {"mul", LT_BINARY_MUL},
  {"div", LT_BINARY_DIV}, {"pow", LT_BINARY_POW}, {"maximum", LT_BINARY_MAXIMUM},
  {"minimum", LT_BINARY_MINIMUM}, {"fmod", LT_BINARY_FMOD},
  {"remainder", LT_BINARY_REMAINDER}, {"floor_divide", LT_BINARY_FLOOR_DIVIDE},
  {"atan2", LT_BINARY_ATAN2}, {"eq", LT_BINARY_EQ}, {"ne", LT_BINARY_NE},
  {"lt", LT_BINARY_LT}, {"le", LT_BINARY_LE}, {"gt", LT_BINARY_GT}, {"ge", LT_BINARY_GE},
  {"logical_and", LT_BINARY_LOGICAL_AND}, {"logical_or", LT_BINARY_LOGICAL_OR},
  {"logical_xor", LT_BINARY_LOGICAL_XOR},
  {NULL, 0}
};

static const opname reduce_ops[] = {
  {"sum", LT_REDUCE_SUM}, {"mean", LT_REDUCE_MEAN}, {"prod", LT_REDUCE_PROD},
  {"var", LT_REDUCE_VAR}, {"std", LT_REDUCE_STD}, {"logsumexp", LT_REDUCE_LOGSUMEXP},
  {"any", LT_REDUCE_ANY}, {"all", LT_REDUCE_ALL}, {"amax", LT_REDUCE_MAX},
  {"amin", LT_REDUCE_MIN},
  {NULL, 0}
};

/* Sets both lt[name] and methods[name] to the closure on top; pops it. */
static void set_both(lua_State *L, int lt, int methods, const char *name, bool on_lt, bool on_m) {
  if (on_lt) { lua_pushvalue(L, -1); lua_setfield(L, lt, name); }
  if (on_m) { lua_pushvalue(L, -1); lua_setfield(L, methods, name); }
  lua_pop(L, 1);
}

static void reg(lua_State *L, int lt, int methods, const char *name, lua_CFunction f, int code,
                int inplace, bool on_lt, bool on_m) {
  lua_pushinteger(L, code);
  lua_pushboolean(L, inplace);
  lua_pushcclosure(L, f, 2);
  set_both(L, lt, methods, name, on_lt, on_m);
}

/* name and name_ (in place, method only) */
static void reg_pair(lua_State *L, int lt, int methods, const char *name, lua_CFunction f, int code) {
  char buf[64];
  reg(L, lt, methods, name, f, code, 0, true, true);
  snprintf(buf, sizeof buf, "%s_", name);
  reg(L, lt, methods, buf, f, code, 1, false, true);
}

static const luaL_Reg creators[] = {
  {"tensor", f_tensor}, {"zeros", f_zeros}, {"ones", f_ones}, {"empty", f_empty},
  {"full", f_full}, {"rand", f_rand}, {"randn", f_randn}, {"randint", f_randint},
  {"randperm", f_randperm}, {"arange", f_arange}, {"linspace", f_linspace}, {"eye", f_eye},
  {"zeros_like", f_zeros_like}, {"ones_like", f_ones_like}, {"full_like", f_full_like},
  {"empty_like", f_empty_like}, {"rand_like", f_rand_like}, {"randn_like", f_randn_like},
  {"where", f_where}, {"cat", f_cat}, {"stack", f_stack}, {"one_hot", f_one_hot},
  {"pad", f_pad}, {"linear", f_linear}, {"manual_seed", f_manual_seed},
  {"initial_seed", f_initial_seed}, {"get_rng_state", f_get_rng_state},
  {"set_rng_state", f_set_rng_state},
  {NULL, NULL}
};

void ltL_open_ops(lua_State *L, int lt, int methods) {
  lua_pushvalue(L, lt);
  luaL_setfuncs(L, creators, 0);
  lua_pop(L, 1);
  for (const opname *o = unary_ops; o->name; o++) reg_pair(L, lt, methods, o->name, op_unary, o->code);
  for (const opname *o = binary_ops; o->name; o++) reg_pair(L, lt, methods, o->name, op_binary, o->code);
  for (const opname *o = reduce_ops; o->name; o++) reg(L, lt, methods, o->name, op_reduce, o->code, 0, true, true);
  reg_pair(L, lt, methods, "gelu", op_gelu, 0);
  reg_pair(L, lt, methods, "clamp", op_clamp, 0);
  reg_pair(L, lt, methods, "clip", op_clamp, 0);
  reg_pair(L, lt, methods, "leaky_relu", op_leaky_relu, 0);
  reg_pair(L, lt, methods, "masked_fill", op_masked_fill, 0);
  reg_pair(L, lt, methods, "scatter", m_scatter, 0);
  reg(L, lt, methods, "norm", op_norm, 0, 0, true, true);
  reg(L, lt, methods, "max", op_maxmin, LT_REDUCE_MAX, 0, true, true);
  reg(L, lt, methods, "min", op_maxmin, LT_REDUCE_MIN, 0, true, true);
  reg(L, lt, methods, "argmax", op_argmax, LT_REDUCE_ARGMAX, 0, true, true);
  reg(L, lt, methods, "argmin", op_argmax, LT_REDUCE_ARGMIN, 0, true, true);
  reg(L, lt, methods, "view", m_view, 0, 0, false, true);
  reg(L, lt, methods, "reshape", m_view, 1, 0, true, true);
  reg(L, lt, methods, "view_as", m_view_as, 0, 0, false, true);
  reg(L, lt, methods, "reshape_as", m_view_as, 1, 0, false, true);
  reg(L, lt, methods, "matmul", m_matmul, 0, 0, true, true);
  reg(L, lt, methods, "mm", m_matmul, 1, 0, true, true);
  reg(L, lt, methods, "bmm", m_matmul, 2, 0, true, true);
  static const luaL_Reg views[] = {
    {"transpose", m_transpose}, {"t", m_t}, {"permute", m_permute}, {"squeeze", m_squeeze},
    {"unsqueeze", m_unsqueeze}, {"expand", m_expand}, {"expand_as", m_expand_as},
    {"flatten", m_flatten}, {"narrow", m_narrow}, {"select", m_select},
    {"index_select", m_index_select}, {"gather", m_gather}, {"index_add", m_index_add},
    {"chunk", m_chunk}, {"split", m_split}, {"unbind", m_unbind}, {"flip", m_flip},
    {"equal", m_equal}, {"allclose", m_allclose},
    {NULL, NULL}
  };
  for (const luaL_Reg *r = views; r->name; r++) reg(L, lt, methods, r->name, r->func, 0, 0, true, true);
  reg(L, lt, methods, "bernoulli", f_bernoulli, 0, 0, true, true);
  reg(L, lt, methods, "multinomial", f_multinomial, 0, 0, true, true);
}
