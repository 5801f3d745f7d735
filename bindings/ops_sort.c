/*
** ops_sort.c - Lua bindings of the sort family and the scans: sort,
** argsort, topk, kthvalue, median, cumsum, cumprod as functions on `lt`
** and methods on tensors. Dims are 1-based (negative from the end,
** default the last one) and returned indices 1-based, like max/argmax.
** Argument parsing only; the engine (engine/ops_sort.c) does the work.
*/
#include "ltl.h"

/* The trailing options table (after `first`), or 0. */
static int st_opts(lua_State *L, int first, const char *fname, const char *const *keys) {
  int top = lua_gettop(L);
  if (top < first || !lua_istable(L, top) || ltL_testtensor(L, top)) return 0;
  ltL_checkopts(L, top, fname, keys);
  return top;
}

/* Positional argument `arg` (before the options) or opts[key]; nil/none
** means absent. Returns true when present and leaves the value on top. */
static bool st_arg(lua_State *L, int arg, int opts, const char *key) {
  if ((opts == 0 || arg < opts) && !lua_isnoneornil(L, arg)) {
    lua_pushvalue(L, arg);
    return true;
  }
  if (opts) {
    if (lua_getfield(L, opts, key) != LUA_TNIL) return true;
    lua_pop(L, 1);
  }
  return false;
}

/* dim at `arg` or opts.dim (default: the last dim); 0-based. */
static int st_dim(lua_State *L, int arg, int opts, lt_tensor *t, bool *given) {
  if (given) *given = false;
  if (!st_arg(L, arg, opts, "dim")) return t->ndim > 0 ? t->ndim - 1 : 0;
  if (given) *given = true;
  int isint = 0;
  lua_Integer d = lua_tointegerx(L, -1, &isint);
  if (!isint) {
    if (lua_type(L, -1) == LUA_TNUMBER) luaL_argerror(L, arg, "dim must be an integer");
    luaL_typeerror(L, arg, "integer dim");
  }
  lua_pop(L, 1);
  return ltL_todim(L, arg, d, t->ndim);
}

static bool st_bool(lua_State *L, int arg, int opts, const char *key, bool def) {
  if (!st_arg(L, arg, opts, key)) return def;
  if (!lua_isboolean(L, -1))
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a boolean, got %s", key,
                                          luaL_typename(L, -1)));
  bool b = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return b;
}

static int64_t st_k(lua_State *L, int arg) {
  int isint = 0;
  lua_Integer k = lua_tointegerx(L, arg, &isint);
  if (!isint) {
    if (lua_type(L, arg) == LUA_TNUMBER) luaL_argerror(L, arg, "k must be an integer");
    luaL_typeerror(L, arg, "integer k");
  }
  return (int64_t)k;
}

/* Pushes values and indices (or only indices). */
static int st_push2(lua_State *L, lt_tensor *v, lt_tensor *i, bool only_indices) {
  if (!v) {
    lt_tensor_release(i);
    return ltL_engineerror(L);
  }
  if (only_indices) {
    lt_tensor_release(v);
    ltL_pushtensor(L, i);
    return 1;
  }
  ltL_pushtensor(L, v);
  ltL_pushtensor(L, i);
  return 2;
}

/* sort(x, dim, descending, {dim=, descending=, stable=}); argsort likewise */
static int sort_common(lua_State *L, const char *fname, bool only_indices) {
  static const char *const keys[] = {"dim", "descending", "stable", NULL};
  lt_tensor *t = ltL_checktensor(L, 1);
  int opts = st_opts(L, 2, fname, keys);
  int dim = st_dim(L, 2, opts, t, NULL);
  bool desc = st_bool(L, 3, opts, "descending", false);
  if (opts) (void)st_bool(L, opts, opts, "stable", true);  /* checked; always stable */
  lt_tensor *idx = NULL;
  lt_tensor *v = lt_sort(t, dim, desc, &idx, 1);
  return st_push2(L, v, idx, only_indices);
}

static int f_sort(lua_State *L) { return sort_common(L, "sort", false); }
static int f_argsort(lua_State *L) { return sort_common(L, "argsort", true); }

/* topk(x, k, dim, largest, sorted, {dim=, largest=, sorted=}) */
static int f_topk(lua_State *L) {
  static const char *const keys[] = {"dim", "largest", "sorted", NULL};
  lt_tensor *t = ltL_checktensor(L, 1);
  int opts = st_opts(L, 3, "topk", keys);
  int64_t k = st_k(L, 2);
  int dim = st_dim(L, 3, opts, t, NULL);
  bool largest = st_bool(L, 4, opts, "largest", true);
  (void)st_bool(L, 5, opts, "sorted", true);  /* results are always sorted */
  lt_tensor *idx = NULL;
  lt_tensor *v = lt_topk(t, k, dim, largest, &idx, 1);
  return st_push2(L, v, idx, false);
}

/* kthvalue(x, k, dim, keepdim, {dim=, keepdim=}) */
static int f_kthvalue(lua_State *L) {
  static const char *const keys[] = {"dim", "keepdim", NULL};
  lt_tensor *t = ltL_checktensor(L, 1);
  int opts = st_opts(L, 3, "kthvalue", keys);
  int64_t k = st_k(L, 2);
  int dim = st_dim(L, 3, opts, t, NULL);
  bool keepdim = st_bool(L, 4, opts, "keepdim", false);
  lt_tensor *idx = NULL;
  lt_tensor *v = lt_kthvalue(t, k, dim, keepdim, &idx, 1);
  return st_push2(L, v, idx, false);
}

/* median(x) -> 0-d value; median(x, dim, keepdim, {dim=, keepdim=}) -> values, indices */
static int f_median(lua_State *L) {
  static const char *const keys[] = {"dim", "keepdim", NULL};
  lt_tensor *t = ltL_checktensor(L, 1);
  int opts = st_opts(L, 2, "median", keys);
  bool given;
  int dim = st_dim(L, 2, opts, t, &given);
  bool keepdim = st_bool(L, 3, opts, "keepdim", false);
  if (!given) {
    if (keepdim) return luaL_argerror(L, 3, "keepdim needs a dim");
    ltL_pushtensor(L, lt_median_all(t));
    return 1;
  }
  lt_tensor *idx = NULL;
  lt_tensor *v = lt_median(t, dim, keepdim, &idx, 1);
  return st_push2(L, v, idx, false);
}

/* cumsum(x, dim) / cumprod(x, dim): dim is required, as in PyTorch */
static int cum_common(lua_State *L, bool prod) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int dim = ltL_checkdim(L, 2, t->ndim);
  ltL_pushtensor(L, prod ? lt_cumprod(t, dim) : lt_cumsum(t, dim));
  return 1;
}

static int f_cumsum(lua_State *L) { return cum_common(L, false); }
static int f_cumprod(lua_State *L) { return cum_common(L, true); }

void ltL_open_sort(lua_State *L, int lt, int methods) {
  static const luaL_Reg fns[] = {
    {"sort", f_sort}, {"argsort", f_argsort}, {"topk", f_topk}, {"kthvalue", f_kthvalue},
    {"median", f_median}, {"cumsum", f_cumsum}, {"cumprod", f_cumprod},
    {NULL, NULL}
  };
  for (const luaL_Reg *r = fns; r->name; r++) {
    lua_pushcfunction(L, r->func);
    lua_pushvalue(L, -1);
    lua_setfield(L, lt, r->name);
    lua_setfield(L, methods, r->name);
  }
}
