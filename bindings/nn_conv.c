/*
** nn_conv.c - Lua bindings of the convolution-family engine ops that
** bindings/nn.c does not hold: lt.conv_transpose2d. Parses the options
** table ({h, w} pairs or numbers); shapes and math are the engine's.
** Modules and 1-D forms live in lua/luatrain/nn (conv.lua, functional_conv.lua).
*/
#include "ltl.h"

/* number or {h, w} option -> pair (absent: def) */
static void opt_pair(lua_State *L, int opts, const char *fname, const char *key, int *out,
                     int def) {
  out[0] = out[1] = def;
  if (!lua_istable(L, opts)) return;
  int ty = lua_getfield(L, opts, key);
  if (ty == LUA_TNUMBER) {
    if (!lua_isinteger(L, -1)) luaL_error(L, "%s: option '%s' must be an integer", fname, key);
    out[0] = out[1] = (int)lua_tointeger(L, -1);
  } else if (ty == LUA_TTABLE) {
    for (int i = 0; i < 2; i++) {
      lua_rawgeti(L, -1 - i, i + 1);
      if (!lua_isinteger(L, -1))
        luaL_error(L, "%s: option '%s' must be an integer or a pair {h, w}", fname, key);
      out[i] = (int)lua_tointeger(L, -1);
    }
    lua_pop(L, 2);
  } else if (ty != LUA_TNIL) {
    luaL_error(L, "%s: option '%s' must be an integer or a pair {h, w}, got %s", fname, key,
               luaL_typename(L, -1));
  }
  lua_pop(L, 1);
}

static const char *const convt_keys[] = {"stride", "padding", "output_padding", "dilation",
                                         "groups", NULL};

/* lt.conv_transpose2d(x, w, b_or_nil, {stride=, padding=, output_padding=, dilation=, groups=}) */
static int f_conv_transpose2d(lua_State *L) {
  const char *fn = "conv_transpose2d";
  lt_tensor *x = ltL_checktensor(L, 1), *w = ltL_checktensor(L, 2);
  lt_tensor *b = lua_isnoneornil(L, 3) ? NULL : ltL_checktensor(L, 3);
  ltL_checkopts(L, 4, fn, convt_keys);
  lt_conv_transpose2d_opts o;
  opt_pair(L, 4, fn, "stride", o.stride, 1);
  opt_pair(L, 4, fn, "padding", o.padding, 0);
  opt_pair(L, 4, fn, "output_padding", o.output_padding, 0);
  opt_pair(L, 4, fn, "dilation", o.dilation, 1);
  o.groups = (int)ltL_optint(L, 4, fn, "groups", 1);
  ltL_pushtensor(L, lt_conv_transpose2d(x, w, b, &o));
  return 1;
}

static const luaL_Reg nn_conv_funcs[] = {
  {"conv_transpose2d", f_conv_transpose2d},
  {NULL, NULL}
};

void ltL_open_nn_conv(lua_State *L, int lt, int methods) {
  (void)methods;
  lua_pushvalue(L, lt);
  luaL_setfuncs(L, nn_conv_funcs, 0);
  lua_pop(L, 1);
}
