/*
** io.c - files and JSON: lt.save / lt.load (safetensors through the
** engine), lt.read_idx, lt.json.encode / lt.json.decode (jansson). The
** parsing and bounds checks are the engine's / jansson's; this file only
** converts between Lua tables and their structures.
*/
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ltl.h"

/* ---------------------------------------------------------------- safetensors */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The dict's arrays live in userdata on the stack (collected on error); the
** names and tensors are borrowed from the Lua tables. */
static int f_save(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *path = luaL_checkstring(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  int n = 0, nm = 0;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      return luaL_error(L, "save: tensor names must be strings (got a %s key)", luaL_typename(L, -2));
    ltL_Tensor *u = luaL_testudata(L, -1, LTL_TENSOR_MT);
    if (!u) return luaL_error(L, "save: value for '%s' is a %s, not a tensor", lua_tostring(L, -2),
                              luaL_typename(L, -1));
    if (!u->t) return luaL_error(L, "save: tensor '%s' has been freed", lua_tostring(L, -2));
    n++;
    lua_pop(L, 1);
  }
  if (lua_istable(L, 3)) {
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      if (lua_type(L, -2) != LUA_TSTRING)
        return luaL_error(L, "save: metadata keys must be strings");
      if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
        return luaL_error(L, "save: metadata value for '%s' must be a string or number, got %s",
                          lua_tostring(L, -2), luaL_typename(L, -1));
      nm++;
      lua_pop(L, 1);
    }
  }
  const char **names = lua_newuserdatauv(L, sizeof(char *) * (n + 1), 0);
  lt_tensor **ts = lua_newuserdatauv(L, sizeof(lt_tensor *) * (n + 1), 0);
  const char **mk = lua_newuserdatauv(L, sizeof(char *) * (nm + 1), 0);
  const char **mv = lua_newuserdatauv(L, sizeof(char *) * (nm + 1), 0);
  int i = 0;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    names[i++] = lua_tostring(L, -2);
    lua_pop(L, 1);
  }
  qsort(names, n, sizeof(char *), cmp_str);
  for (i = 0; i < n; i++) {
    lua_getfield(L, 1, names[i]);
    ts[i] = ((ltL_Tensor *)lua_touserdata(L, -1))->t;
    lua_pop(L, 1);
  }
  if (nm) {
    lua_newtable(L);  /* anchors converted number strings */
    int anchor = lua_gettop(L);
    i = 0;
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      mk[i] = lua_tostring(L, -2);
      lua_pushvalue(L, -1);
      mv[i] = luaL_tolstring(L, -1, NULL);
      lua_rawseti(L, anchor, i + 1);
      lua_pop(L, 2);
      i++;
    }
  }
  lt_tensor_dict d;
  d.n = n;
  d.names = (char **)names;
  d.tensors = ts;
  d.n_meta = nm;
  d.meta_keys = (char **)mk;
  d.meta_values = (char **)mv;
  ltL_check(L, lt_safetensors_save(path, &d));
  return 0;
}

static int f_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lt_tensor_dict d;
  memset(&d, 0, sizeof d);
  if (lt_safetensors_load(path, &d) != LT_OK) {
    lt_tensor_dict_free(&d);
    return ltL_engineerror(L);
  }
  /* move the tensors into userdata one by one; on a Lua memory error the
  ** remaining ones leak, which is acceptable for an out-of-memory state */
  lua_createtable(L, 0, d.n);
  for (int i = 0; i < d.n; i++) {
    lt_tensor *t = d.tensors[i];
    d.tensors[i] = NULL;
    ltL_pushtensor(L, t);
    lua_setfield(L, -2, d.names[i]);
  }
  lua_createtable(L, 0, d.n_meta);
  for (int i = 0; i < d.n_meta; i++) {
    lua_pushstring(L, d.meta_values[i]);
    lua_setfield(L, -2, d.meta_keys[i]);
  }
  lt_tensor_dict_free(&d);
  return 2;
}

static int f_read_idx(lua_State *L) {
  ltL_pushtensor(L, lt_idx_load(luaL_checkstring(L, 1)));
  return 1;
}

/* ---------------------------------------------------------------- JSON */

#define JSON_MAXDEPTH 128

typedef struct {
  bool sort_keys;
  int indent;
} json_opts;

/* lt.json.null is the light userdata NULL */
static void push_null(lua_State *L) {
  lua_pushlightuserdata(L, NULL);
}

static bool is_null(lua_State *L, int idx) {
  push_null(L);
  bool r = lua_rawequal(L, idx, -1);
  lua_pop(L, 1);
  return r;
}

/* Builds a json_t for the value at idx; on error returns NULL with the
** message pushed on the stack (no longjmp while json values are alive). */
static json_t *to_json(lua_State *L, int idx, int depth) {
  idx = lua_absindex(L, idx);
  if (depth > JSON_MAXDEPTH) {
    lua_pushliteral(L, "json.encode: nesting too deep (a cycle?)");
    return NULL;
  }
  if (!lua_checkstack(L, 4)) {
    lua_pushliteral(L, "json.encode: stack overflow");
    return NULL;
  }
  switch (lua_type(L, idx)) {
    case LUA_TNIL: return json_null();
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) return json_integer((json_int_t)lua_tointeger(L, idx));
      else {
        double v = lua_tonumber(L, idx);
        if (!isfinite(v)) {
          lua_pushfstring(L, "json.encode: cannot encode %f (not finite)", v);
          return NULL;
        }
        return json_real(v);
      }
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      json_t *j = json_stringn(s, len);
      if (!j) lua_pushliteral(L, "json.encode: string is not valid UTF-8");
      return j;
    }
    case LUA_TLIGHTUSERDATA:
      if (is_null(L, idx)) return json_null();
      break;
    case LUA_TUSERDATA: {
      ltL_Tensor *u = luaL_testudata(L, idx, LTL_TENSOR_MT);
      if (u && u->t) {
        /* tensors encode as nested lists (tolist) */
        lua_getfield(L, idx, "tolist");
        lua_pushvalue(L, idx);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) return NULL;
        json_t *j = to_json(L, -1, depth + 1);
        if (j) lua_pop(L, 1);
        else lua_remove(L, -2);
        return j;
      }
      break;
    }
    case LUA_TTABLE: {
      lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
      int count = 0;
      bool array = true;
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        count++;
        if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > n) array = false;
        lua_pop(L, 1);
      }
      if (count == 0) return json_object();
      if (array && count == n) {
        json_t *a = json_array();
        for (lua_Integer i = 1; i <= n; i++) {
          lua_rawgeti(L, idx, i);
          json_t *e = to_json(L, -1, depth + 1);
          if (!e) {
            lua_remove(L, -2);
            json_decref(a);
            return NULL;
          }
          lua_pop(L, 1);
          json_array_append_new(a, e);
        }
        return a;
      }
      json_t *o = json_object();
      lua_pushnil(L);
      while (lua_next(L, idx)) {  /* key, value */
        char kbuf[64];
        const char *k;
        if (lua_type(L, -2) == LUA_TSTRING) k = lua_tostring(L, -2);
        else if (lua_isinteger(L, -2)) {
          snprintf(kbuf, sizeof kbuf, "%lld", (long long)lua_tointeger(L, -2));
          k = kbuf;
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
          snprintf(kbuf, sizeof kbuf, "%.17g", lua_tonumber(L, -2));
          k = kbuf;
        } else {
          const char *tn = luaL_typename(L, -2);
          lua_pop(L, 2);
          json_decref(o);
          lua_pushfstring(L, "json.encode: cannot encode a %s key", tn);
          return NULL;
        }
        json_t *e = to_json(L, -1, depth + 1);
        if (!e) {  /* key, value, msg */
          lua_insert(L, -3);
          lua_pop(L, 2);
          json_decref(o);
          return NULL;
        }
        json_object_set_new(o, k, e);
        lua_pop(L, 1);
      }
      return o;
    }
    default: break;
  }
  lua_pushfstring(L, "json.encode: cannot encode a %s value", luaL_typename(L, idx));
  return NULL;
}

static const char *const enc_keys[] = {"indent", "sort_keys", NULL};

static int f_json_encode(lua_State *L) {
  luaL_checkany(L, 1);
  ltL_checkopts(L, 2, "json.encode", enc_keys);
  int indent = (int)ltL_optint(L, 2, "json.encode", "indent", 0);
  bool sort = ltL_optbool(L, 2, "json.encode", "sort_keys", true);
  lua_settop(L, 2);
  json_t *j = to_json(L, 1, 0);
  if (!j) return luaL_error(L, "%s", lua_tostring(L, -1));
  size_t flags = JSON_ENCODE_ANY | JSON_REAL_PRECISION(17);
  if (indent > 0) flags |= JSON_INDENT(indent > 31 ? 31 : indent);
  else flags |= JSON_COMPACT;
  if (sort) flags |= JSON_SORT_KEYS;
  char *s = json_dumps(j, flags);
  json_decref(j);
  if (!s) return luaL_error(L, "json.encode: out of memory");
  lua_pushstring(L, s);
  free(s);
  return 1;
}

static void from_json(lua_State *L, json_t *j) {
  luaL_checkstack(L, 4, "json.decode: nesting too deep");
  switch (json_typeof(j)) {
    case JSON_OBJECT: {
      const char *k;
      json_t *v;
      lua_createtable(L, 0, (int)json_object_size(j));
      json_object_foreach(j, k, v) {
        from_json(L, v);
        lua_setfield(L, -2, k);
      }
      break;
    }
    case JSON_ARRAY: {
      size_t i;
      json_t *v;
      lua_createtable(L, (int)json_array_size(j), 0);
      json_array_foreach(j, i, v) {
        from_json(L, v);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    }
    case JSON_STRING: lua_pushlstring(L, json_string_value(j), json_string_length(j)); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(j)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(j)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    case JSON_NULL: push_null(L); break;
  }
}

/* the parsed tree is freed by this userdata's __gc if conversion errors */
static int jbox_gc(lua_State *L) {
  json_t **b = lua_touserdata(L, 1);
  if (*b) { json_decref(*b); *b = NULL; }
  return 0;
}

static int f_json_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  json_t **box = lua_newuserdatauv(L, sizeof(json_t *), 0);
  *box = NULL;
  lua_newtable(L);
  lua_pushcfunction(L, jbox_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  json_error_t err;
  *box = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  if (!*box)
    return luaL_error(L, "json.decode: %s at line %d, column %d", err.text, err.line, err.column);
  from_json(L, *box);
  json_decref(*box);
  *box = NULL;
  return 1;
}

static const luaL_Reg io_funcs[] = {
  {"save", f_save}, {"load", f_load}, {"read_idx", f_read_idx},
  {NULL, NULL}
};

void ltL_open_io(lua_State *L, int lt, int methods) {
  (void)methods;
  lua_pushvalue(L, lt);
  luaL_setfuncs(L, io_funcs, 0);
  lua_pop(L, 1);
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, f_json_encode);
  lua_setfield(L, -2, "encode");
  lua_pushcfunction(L, f_json_decode);
  lua_setfield(L, -2, "decode");
  push_null(L);
  lua_setfield(L, -2, "null");
  lua_setfield(L, lt, "json");
}
