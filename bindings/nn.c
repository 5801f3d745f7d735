/*
** nn.c - neural-network ops on `lt` (softmax, losses, dropout, conv/pool,
** norms, embedding, attention) and the fused optimizer kernels on `lt._C`.
** Parses option tables and 1-based class ids/dims; the math is the
** engine's. Module classes live in lua/luatrain/nn, not here.
*/
#include <math.h>
#include <string.h>

#include "ltl.h"

static int f_softmax(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int d = lua_isnoneornil(L, 2) ? (t->ndim > 0 ? t->ndim - 1 : 0) : ltL_checkdim(L, 2, t->ndim);
  bool logsm = lua_toboolean(L, lua_upvalueindex(1));
  ltL_pushtensor(L, logsm ? lt_log_softmax(t, d) : lt_softmax(t, d));
  return 1;
}

static const char *check_reduction(lua_State *L, const char *fname, int opts) {
  const char *r = ltL_optstr(L, opts, fname, "reduction", "mean");
  if (strcmp(r, "mean") && strcmp(r, "sum") && strcmp(r, "none"))
    luaL_error(L, "%s: reduction must be \"mean\", \"sum\" or \"none\", got '%s'", fname, r);
  return r;
}

static const char *const ce_keys[] = {"weight", "ignore_index", "label_smoothing", "reduction", NULL};

static int f_cross_entropy(lua_State *L) {
  lt_tensor *x = ltL_checktensor(L, 1), *y = ltL_checktensor(L, 2);
  ltL_checkopts(L, 3, "cross_entropy", ce_keys);
  lt_tensor *w = ltL_opttensor(L, 3, "cross_entropy", "weight");
  lua_Integer ig = ltL_optint(L, 3, "cross_entropy", "ignore_index", -100);
  double ls = ltL_optnum(L, 3, "cross_entropy", "label_smoothing", 0);
  if (ls < 0 || ls > 1) return luaL_error(L, "cross_entropy: label_smoothing must be in [0, 1], got %f", ls);
  const char *red = check_reduction(L, "cross_entropy", 3);
  ltL_pushtensor(L, lt_cross_entropy(x, y, w, ig, ls, red, 1));
  return 1;
}

static const char *const nll_keys[] = {"weight", "ignore_index", "reduction", NULL};

static int f_nll_loss(lua_State *L) {
  lt_tensor *x = ltL_checktensor(L, 1), *y = ltL_checktensor(L, 2);
  ltL_checkopts(L, 3, "nll_loss", nll_keys);
  lt_tensor *w = ltL_opttensor(L, 3, "nll_loss", "weight");
  lua_Integer ig = ltL_optint(L, 3, "nll_loss", "ignore_index", -100);
  const char *red = check_reduction(L, "nll_loss", 3);
  ltL_pushtensor(L, lt_nll_loss(x, y, w, ig, red, 1));
  return 1;
}

static int f_dropout(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  double p = luaL_optnumber(L, 2, 0.5);
  if (p < 0 || p > 1) return luaL_argerror(L, 2, "dropout probability must be in [0, 1]");
  bool training = lua_isnoneornil(L, 3) ? true : lua_toboolean(L, 3);
  ltL_pushtensor(L, lt_dropout(t, p, training));
  return 1;
}

/* number or {h, w} option -> pair */
static void opt_pair(lua_State *L, int opts, const char *fname, const char *key, int *out, int def) {
  out[0] = out[1] = def;
  if (!lua_istable(L, opts)) return;
  int ty = lua_getfield(L, opts, key);
  if (ty == LUA_TNUMBER) {
    if (!lua_isinteger(L, -1)) luaL_error(L, "%s: option '%s' must be an integer", fname, key);
    out[0] = out[1] = (int)lua_tointeger(L, -1);
  } else if (ty == LUA_TTABLE) {
    for (int i = 0; i < 2; i++) {
      lua_rawgeti(L, -1 - i, i + 1);
      if (!lua_isinteger(L, -1)) luaL_error(L, "%s: option '%s' must be an integer or a pair {h, w}", fname, key);
      out[i] = (int)lua_tointeger(L, -1);
    }
    lua_pop(L, 2);
  } else if (ty != LUA_TNIL) {
    luaL_error(L, "%s: option '%s' must be an integer or a pair {h, w}, got %s", fname, key, luaL_typename(L, -1));
  }
  lua_pop(L, 1);
}

static void arg_pair(lua_State *L, int arg, int *out) {
  if (lua_istable(L, arg)) {
    for (int i = 0; i < 2; i++) {
      lua_rawgeti(L, arg, i + 1);
      if (!lua_isinteger(L, -1)) luaL_argerror(L, arg, "integer or pair {h, w} expected");
      out[i] = (int)lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
  } else {
    out[0] = out[1] = (int)luaL_checkinteger(L, arg);
  }
}

static const char *const conv_keys[] = {"stride", "padding", "dilation", "groups", NULL};

static int f_conv2d(lua_State *L) {
  lt_tensor *x = ltL_checktensor(L, 1), *w = ltL_checktensor(L, 2);
  lt_tensor *b = lua_isnoneornil(L, 3) ? NULL : ltL_checktensor(L, 3);
  ltL_checkopts(L, 4, "conv2d", conv_keys);
  lt_conv2d_opts o;
  opt_pair(L, 4, "conv2d", "stride", o.stride, 1);
  opt_pair(L, 4, "conv2d", "padding", o.padding, 0);
  opt_pair(L, 4, "conv2d", "dilation", o.dilation, 1);
  o.groups = (int)ltL_optint(L, 4, "conv2d", "groups", 1);
  ltL_pushtensor(L, lt_conv2d(x, w, b, &o));
  return 1;
}

static const char *const maxpool_keys[] = {"stride", "padding", "dilation", "ceil_mode", "return_indices", NULL};
static const char *const avgpool_keys[] = {"stride", "padding", "ceil_mode", "count_include_pad",
                                           "divisor_override", NULL};

static int f_max_pool2d(lua_State *L) {
  lt_tensor *x = ltL_checktensor(L, 1);
  lt_pool2d_opts o;
  memset(&o, 0, sizeof o);
  arg_pair(L, 2, o.kernel);
  ltL_checkopts(L, 3, "max_pool2d", maxpool_keys);
  opt_pair(L, 3, "max_pool2d", "stride", o.stride, 0);
  if (o.stride[0] == 0) { o.stride[0] = o.kernel[0]; o.stride[1] = o.kernel[1]; }
  opt_pair(L, 3, "max_pool2d", "padding", o.padding, 0);
  opt_pair(L, 3, "max_pool2d", "dilation", o.dilation, 1);
  o.ceil_mode = ltL_optbool(L, 3, "max_pool2d", "ceil_mode", false);
  bool ri = ltL_optbool(L, 3, "max_pool2d", "return_indices", false);
  lt_tensor *idx = NULL;
  lt_tensor *r = lt_max_pool2d(x, &o, ri ? &idx : NULL);
  if (!r) { lt_tensor_release(idx); return ltL_engineerror(L); }
  ltL_pushtensor(L, r);
  if (!ri) return 1;
  if (idx) ltL_pushtensor(L, idx);
  else lua_pushnil(L);
  return 2;
}

static int f_avg_pool2d(lua_State *L) {
  lt_tensor *x = ltL_checktensor(L, 1);
  lt_pool2d_opts o;
  memset(&o, 0, sizeof o);
  arg_pair(L, 2, o.kernel);
  ltL_checkopts(L, 3, "avg_pool2d", avgpool_keys);
  opt_pair(L, 3, "avg_pool2d", "stride", o.stride, 0);
  if (o.stride[0] == 0) { o.stride[0] = o.kernel[0]; o.stride[1] = o.kernel[1]; }
  opt_pair(L, 3, "avg_pool2d", "padding", o.padding, 0);
  o.dilation[0] = o.dilation[1] = 1;
  o.ceil_mode = ltL_optbool(L, 3, "avg_pool2d", "ceil_mode", false);
  o.count_include_pad = ltL_optbool(L, 3, "avg_pool2d", "count_include_pad", true);
  o.divisor_override = (int)ltL_optint(L, 3, "avg_pool2d", "divisor_override", 0);
  ltL_pushtensor(L, lt_avg_pool2d(x, &o));
  return 1;
}

static int f_adaptive_avg_pool2d(lua_State *L) {
  lt_tensor *x = ltL_checktensor(L, 1);
  int s[2];
  arg_pair(L, 2, s);
  ltL_pushtensor(L, lt_adaptive_avg_pool2d(x, s[0], s[1]));
  return 1;
}

static lt_tensor *opt_tensor_arg(lua_State *L, int arg) {
  return lua_isnoneornil(L, arg) ? NULL : ltL_checktensor(L, arg);
}

static int f_batch_norm(lua_State *L) {
  lt_tensor *x = ltL_checktensor(L, 1);
  lt_tensor *rm = opt_tensor_arg(L, 2), *rv = opt_tensor_arg(L, 3);
  lt_tensor *w = opt_tensor_arg(L, 4), *b = opt_tensor_arg(L, 5);
  bool training = lua_toboolean(L, 6);
  double momentum = luaL_optnumber(L, 7, 0.1), eps = luaL_optnumber(L, 8, 1e-5);
  ltL_pushtensor(L, lt_batch_norm(x, rm, rv, w, b, training, momentum, eps));
  return 1;
}

static int f_layer_norm(lua_State *L) {
  lt_tensor *x = ltL_checktensor(L, 1);
  int64_t shape[LT_MAX_DIMS];
  int n;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    shape[0] = luaL_checkinteger(L, 2);
    n = 1;
  } else {
    n = ltL_checkshape(L, 2, shape, NULL, false);
  }
  if (n > x->ndim) return luaL_argerror(L, 2, "normalized_shape has more dims than the input");
  for (int i = 0; i < n; i++)
    if (shape[i] != x->shape[x->ndim - n + i]) {
      char a[128], b[128];
      return luaL_error(L, "layer_norm: normalized_shape %s does not match the last dims of input %s",
                        lt_shape_str_raw(shape, n, a), lt_shape_str(x, b));
    }
  lt_tensor *w = opt_tensor_arg(L, 3), *b = opt_tensor_arg(L, 4);
  double eps = luaL_optnumber(L, 5, 1e-5);
  ltL_pushtensor(L, lt_layer_norm(x, n, w, b, eps));
  return 1;
}

static int f_embedding(lua_State *L) {
  lt_tensor *ids = ltL_checktensor(L, 1), *w = ltL_checktensor(L, 2);
  int64_t pad = -1;
  if (!lua_isnoneornil(L, 3)) {
    lua_Integer p = luaL_checkinteger(L, 3);
    if (w->ndim < 1) return luaL_argerror(L, 2, "weight must be 2-D");
    int64_t n = w->shape[0];
    lua_Integer k = p > 0 ? p - 1 : n + p;
    if (p == 0 || k < 0 || k >= n)
      return luaL_argerror(L, 3, lua_pushfstring(L, "padding_idx %I out of range for %I embeddings",
                                                 (LUAI_UACINT)p, (LUAI_UACINT)n));
    pad = k;
  }
  ltL_pushtensor(L, lt_embedding(w, ids, pad, 1));
  return 1;
}

static const char *const sdpa_keys[] = {"attn_mask", "dropout_p", "is_causal", "scale", NULL};

static int f_sdpa(lua_State *L) {
  lt_tensor *q = ltL_checktensor(L, 1), *k = ltL_checktensor(L, 2), *v = ltL_checktensor(L, 3);
  const char *fn = "scaled_dot_product_attention";
  ltL_checkopts(L, 4, fn, sdpa_keys);
  lt_tensor *m = ltL_opttensor(L, 4, fn, "attn_mask");
  double dp = ltL_optnum(L, 4, fn, "dropout_p", 0);
  bool causal = ltL_optbool(L, 4, fn, "is_causal", false);
  double scale = ltL_optnum(L, 4, fn, "scale", 0);
  ltL_pushtensor(L, lt_scaled_dot_product_attention(q, k, v, m, dp, causal, scale));
  return 1;
}

/* ---------------------------------------------------------------- optimizer kernels */

static lt_tensor *opt_t(lua_State *L, int arg) { return lua_isnoneornil(L, arg) ? NULL : ltL_checktensor(L, arg); }

static int c_sgd_step(lua_State *L) {
  ltL_check(L, lt_sgd_step(ltL_checktensor(L, 1), ltL_checktensor(L, 2), opt_t(L, 3),
                           luaL_checknumber(L, 4), luaL_optnumber(L, 5, 0), luaL_optnumber(L, 6, 0),
                           luaL_optnumber(L, 7, 0), lua_toboolean(L, 8), lua_toboolean(L, 9),
                           lua_toboolean(L, 10)));
  return 0;
}

static int c_adam_step(lua_State *L) {
  ltL_check(L, lt_adam_step(ltL_checktensor(L, 1), ltL_checktensor(L, 2), ltL_checktensor(L, 3),
                            ltL_checktensor(L, 4), opt_t(L, 5), luaL_checknumber(L, 6),
                            luaL_checknumber(L, 7), luaL_checknumber(L, 8), luaL_checknumber(L, 9),
                            luaL_optnumber(L, 10, 0), lua_toboolean(L, 11), lua_toboolean(L, 12),
                            luaL_checkinteger(L, 13)));
  return 0;
}

static int c_rmsprop_step(lua_State *L) {
  ltL_check(L, lt_rmsprop_step(ltL_checktensor(L, 1), ltL_checktensor(L, 2), ltL_checktensor(L, 3),
                               opt_t(L, 4), opt_t(L, 5), luaL_checknumber(L, 6),
                               luaL_checknumber(L, 7), luaL_checknumber(L, 8),
                               luaL_optnumber(L, 9, 0), luaL_optnumber(L, 10, 0),
                               lua_toboolean(L, 11)));
  return 0;
}

static int tensors_of(lua_State *L, int arg, lt_tensor ***out) {
  luaL_checktype(L, arg, LUA_TTABLE);
  int n = (int)lua_rawlen(L, arg);
  lt_tensor **ts = lua_newuserdatauv(L, sizeof(lt_tensor *) * (n > 0 ? n : 1), 0);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, arg, i + 1);
    ltL_Tensor *u = luaL_testudata(L, -1, LTL_TENSOR_MT);
    if (!u || !u->t)
      luaL_argerror(L, arg, lua_pushfstring(L, "element %d is not a live tensor", i + 1));
    ts[i] = u->t;
    lua_pop(L, 1);
  }
  *out = ts;
  return n;
}

static int c_total_norm(lua_State *L) {
  lt_tensor **ts;
  double p = luaL_optnumber(L, 2, 2);
  int n = tensors_of(L, 1, &ts);
  double out = 0;
  if (n > 0) ltL_check(L, lt_total_norm(ts, n, p, &out));
  lua_pushnumber(L, out);
  return 1;
}

static int c_scale_(lua_State *L) {
  lt_tensor **ts;
  double s = luaL_checknumber(L, 2);
  int n = tensors_of(L, 1, &ts);
  if (n > 0) ltL_check(L, lt_scale_(ts, n, s));
  return 0;
}

static int c_add_scaled_(lua_State *L) {
  ltL_check(L, lt_add_scaled_(ltL_checktensor(L, 1), ltL_checktensor(L, 2), luaL_checknumber(L, 3)));
  lua_settop(L, 1);
  return 1;
}

static int c_sum_to(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int64_t shape[LT_MAX_DIMS];
  int nd = ltL_checkshape(L, 2, shape, NULL, false);
  ltL_pushtensor(L, lt_sum_to(t, shape, nd));
  return 1;
}

/* _C.set_autocast(dtype_name_or_nil) -> previous (name or nil); the
** lt.autocast guard (lua/luatrain/amp.lua) is built on it. */
static int c_set_autocast(lua_State *L) {
  int prev = lt_autocast_dtype();
  int dt = lua_isnoneornil(L, 1) ? -1 : (int)ltL_checkdtype(L, 1);
  ltL_check(L, lt_set_autocast(dt));
  if (prev < 0) lua_pushnil(L);
  else lua_pushstring(L, lt_dtype_name((lt_dtype)prev));
  return 1;
}

static int c_autocast_dtype(lua_State *L) {
  int dt = lt_autocast_dtype();
  if (dt < 0) lua_pushnil(L);
  else lua_pushstring(L, lt_dtype_name((lt_dtype)dt));
  return 1;
}

static const luaL_Reg nn_funcs[] = {
  {"cross_entropy", f_cross_entropy}, {"nll_loss", f_nll_loss}, {"dropout", f_dropout},
  {"conv2d", f_conv2d}, {"max_pool2d", f_max_pool2d}, {"avg_pool2d", f_avg_pool2d},
  {"adaptive_avg_pool2d", f_adaptive_avg_pool2d}, {"batch_norm", f_batch_norm},
  {"layer_norm", f_layer_norm}, {"embedding", f_embedding},
  {"scaled_dot_product_attention", f_sdpa},
  {NULL, NULL}
};

static const luaL_Reg c_funcs[] = {
  {"sgd_step", c_sgd_step}, {"adam_step", c_adam_step}, {"rmsprop_step", c_rmsprop_step},
  {"total_norm", c_total_norm}, {"scale_", c_scale_}, {"add_scaled_", c_add_scaled_},
  {"sum_to", c_sum_to}, {"set_autocast", c_set_autocast}, {"autocast_dtype", c_autocast_dtype},
  {NULL, NULL}
};

void ltL_open_nn(lua_State *L, int lt, int methods) {
  lua_pushvalue(L, lt);
  luaL_setfuncs(L, nn_funcs, 0);
  lua_pop(L, 1);
  for (int logsm = 0; logsm < 2; logsm++) {
    const char *name = logsm ? "log_softmax" : "softmax";
    lua_pushboolean(L, logsm);
    lua_pushcclosure(L, f_softmax, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, lt, name);
    lua_setfield(L, methods, name);
  }
  lua_pushcfunction(L, f_dropout);
  lua_setfield(L, methods, "dropout");
  lua_newtable(L);
  luaL_setfuncs(L, c_funcs, 0);
  lua_setfield(L, lt, "_C");
}
