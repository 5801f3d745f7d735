/*
** module.c - luaopen_luatrain: builds the core table ("luatrain.core"),
** the global settings (time, threads, determinism, default device/dtype,
** lt.backends, lt.cuda), installs the package searchers (LUATRAIN_PATH,
** ./?.lua, the stdlib embedded in the binary) and returns
** require("luatrain.lt"). No ops here; no host concerns (argv, signals).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ltl.h"

typedef struct { const char *name; const char *src; size_t len; } lt_embedded_module;
extern const lt_embedded_module lt_embedded_modules[];

/* ---------------------------------------------------------------- searchers */

/* Tries each template of `path` (';'-separated; an entry without '?' is a
** directory meaning dir/?.lua;dir/?/init.lua). Pushes the loader and the
** file name (2 results) or an error string (1 result). */
static int search_path(lua_State *L, const char *name, const char *path) {
  char fname[512], file[2048], tpl[1100], err[4096];
  size_t el = 0;
  snprintf(fname, sizeof fname, "%s", name);
  for (char *c = fname; *c; c++)
    if (*c == '.') *c = '/';
  err[0] = 0;
  for (const char *p = path; *p;) {
    const char *e = strchr(p, ';');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len > 0 && len < 1000) {
      char ent[1000];
      memcpy(ent, p, len);
      ent[len] = 0;
      bool isdir = strchr(ent, '?') == NULL;
      for (int k = 0; k < (isdir ? 2 : 1); k++) {
        if (isdir)
          snprintf(tpl, sizeof tpl, "%s%s%s", ent, ent[len - 1] == '/' ? "" : "/",
                   k == 0 ? "?.lua" : "?/init.lua");
        else
          snprintf(tpl, sizeof tpl, "%s", ent);
        size_t fl = 0;
        for (const char *t = tpl; *t && fl < sizeof file - 1; t++) {
          if (*t == '?') {
            size_t n = strlen(fname);
            if (fl + n >= sizeof file - 1) break;
            memcpy(file + fl, fname, n);
            fl += n;
          } else {
            file[fl++] = *t;
          }
        }
        file[fl] = 0;
        FILE *f = fopen(file, "r");
        if (f) {
          fclose(f);
          if (luaL_loadfilex(L, file, NULL) != LUA_OK)
            return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, file,
                              lua_tostring(L, -1));
          lua_pushstring(L, file);
          return 2;
        }
        if (el < sizeof err - 1)
          el += (size_t)snprintf(err + el, sizeof err - el, "%sno file '%s'", el ? "\n\t" : "", file);
        if (el > sizeof err - 1) el = sizeof err - 1;
      }
    }
    if (!e) break;
    p = e + 1;
  }
  if (el == 0) return 0;
  lua_pushstring(L, err);
  return 1;
}

static int searcher_env(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *path = getenv("LUATRAIN_PATH");
  if (!path || !*path) return 0;
  return search_path(L, name, path);
}

static int searcher_cwd(lua_State *L) {
  return search_path(L, luaL_checkstring(L, 1), "./?.lua;./?/init.lua");
}

static int searcher_embedded(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  for (const lt_embedded_module *m = lt_embedded_modules; m->name; m++) {
    if (strcmp(m->name, name) == 0) {
      lua_pushfstring(L, "=[luatrain]/%s", name);
      if (luaL_loadbufferx(L, m->src, m->len, lua_tostring(L, -1), "t") != LUA_OK)
        return luaL_error(L, "error loading embedded module '%s':\n\t%s", name, lua_tostring(L, -1));
      lua_pushfstring(L, "[luatrain]/%s", name);
      return 2;
    }
  }
  if (strncmp(name, "luatrain.", 9) == 0 || strcmp(name, "luatrain") == 0) {
    lua_pushfstring(L, "no embedded module '%s'", name);
    return 1;
  }
  return 0;
}

static const char ltL_searchers_key = 's';

/* package.searchers: preload, LUATRAIN_PATH, ./?.lua, embedded, then Lua's. */
static void install_searchers(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ltL_searchers_key) != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  lua_pushboolean(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &ltL_searchers_key);
  lua_getglobal(L, "package");
  if (!lua_istable(L, -1)) { lua_pop(L, 1); return; }
  if (lua_getfield(L, -1, "searchers") != LUA_TTABLE) { lua_pop(L, 2); return; }
  int s = lua_gettop(L);
  lua_CFunction add[3] = {searcher_env, searcher_cwd, searcher_embedded};
  int n = (int)lua_rawlen(L, s);
  /* shift entries 2..n up by 3 */
  for (int i = n; i >= 2; i--) {
    lua_rawgeti(L, s, i);
    lua_rawseti(L, s, i + 3);
  }
  for (int k = 0; k < 3; k++) {
    lua_pushcfunction(L, add[k]);
    lua_rawseti(L, s, 2 + k);
  }
  lua_pop(L, 2);
}

/* ---------------------------------------------------------------- settings */

static int f_time(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (double)ts.tv_sec + ts.tv_nsec * 1e-9);
  return 1;
}

static int f_set_deterministic(lua_State *L) {
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  lt_set_deterministic(lua_toboolean(L, 1));
  return 0;
}

static int f_is_deterministic(lua_State *L) {
  lua_pushboolean(L, lt_deterministic());
  return 1;
}

static int f_set_num_threads(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 1) return luaL_argerror(L, 1, "number of threads must be positive");
  lt_set_num_threads((int)n);
  return 0;
}

static int f_get_num_threads(lua_State *L) {
  lua_pushinteger(L, lt_get_num_threads());
  return 1;
}

static int f_interrupted(lua_State *L) {
  lua_pushboolean(L, lt_interrupted());
  return 1;
}

/* lt._C.defer_interrupts(on): see lt_set_interrupt_deferred */
static int f_defer_interrupts(lua_State *L) {
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  lt_set_interrupt_deferred(lua_toboolean(L, 1));
  return 0;
}

static int f_set_default_device(lua_State *L) {
  lt_device d = ltL_checkdevice(L, 1);
  ltL_getcontext(L)->default_device = d;
  return 0;
}

static int f_get_default_device(lua_State *L) {
  char buf[16];
  lua_pushstring(L, lt_device_str(ltL_getcontext(L)->default_device, buf));
  return 1;
}

static int f_set_default_dtype(lua_State *L) {
  lt_dtype dt = ltL_checkdtype(L, 1);
  if (!lt_dtype_is_float(dt)) return luaL_argerror(L, 1, "default dtype must be a floating point type");
  lt_set_default_dtype(dt);
  return 0;
}

static int f_get_default_dtype(lua_State *L) {
  lua_pushstring(L, lt_dtype_name(lt_default_dtype()));
  return 1;
}

/* lt.backends: a proxy whose fields forward to the engine */
static int backends_index(lua_State *L) {
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "allow_tf32") == 0) lua_pushboolean(L, lt_allow_tf32());
  else if (strcmp(k, "benchmark") == 0) lua_pushboolean(L, lt_benchmark());
  else if (strcmp(k, "deterministic") == 0) lua_pushboolean(L, lt_deterministic());
  else if (strcmp(k, "fused_attention") == 0) {
    int m = lt_sdpa_fused_mode();
    lua_pushstring(L, m == LT_SDPA_AUTO ? "auto" : m == LT_SDPA_ALWAYS ? "always" : "never");
  } else lua_pushnil(L);
  return 1;
}

static int backends_newindex(lua_State *L) {
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "fused_attention") == 0) {
    static const char *const modes[] = {"auto", "never", "always", NULL};
    int m = luaL_checkoption(L, 3, NULL, modes);
    lt_set_sdpa_fused_mode(m == 0 ? LT_SDPA_AUTO : m == 1 ? LT_SDPA_NEVER : LT_SDPA_ALWAYS);
    return 0;
  }
  if (strcmp(k, "allow_tf32") && strcmp(k, "benchmark") && strcmp(k, "deterministic"))
    return luaL_error(L,
                      "backends: unknown setting '%s' (allow_tf32, benchmark, deterministic, "
                      "fused_attention)",
                      k);
  if (!lua_isboolean(L, 3))
    return luaL_error(L, "backends: '%s' must be a boolean, got %s", k, luaL_typename(L, 3));
  bool v = lua_toboolean(L, 3);
  if (strcmp(k, "allow_tf32") == 0) lt_set_allow_tf32(v);
  else if (strcmp(k, "benchmark") == 0) lt_set_benchmark(v);
  else lt_set_deterministic(v);
  return 0;
}

/* lt.cuda */
static int cuda_is_available(lua_State *L) {
  lt_cuda_init();
  lua_pushboolean(L, lt_cuda_is_available());
  return 1;
}
static int cuda_device_count(lua_State *L) {
  lt_cuda_init();
  lua_pushinteger(L, lt_cuda_device_count());
  return 1;
}
static int cuda_get_device_name(lua_State *L) {
  lt_cuda_init();
  const char *n = lt_cuda_device_name((int)luaL_optinteger(L, 1, 0));
  if (n) lua_pushstring(L, n);
  else lua_pushnil(L);
  return 1;
}
static int cuda_synchronize(lua_State *L) {
  if (lt_cuda_is_available()) ltL_check(L, lt_cuda_synchronize());
  return 0;
}
static int cuda_empty_cache(lua_State *L) {
  if (lt_cuda_is_available()) ltL_check(L, lt_cuda_empty_cache());
  return 0;
}
static int cuda_memory_allocated(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lt_cuda_memory_allocated());
  return 1;
}
static int cuda_max_memory_allocated(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lt_cuda_max_memory_allocated());
  return 1;
}
static int cuda_memory_reserved(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lt_cuda_memory_reserved());
  return 1;
}
static int cuda_reset_peak(lua_State *L) {
  (void)L;
  lt_cuda_reset_peak_memory_stats();
  return 0;
}

static const luaL_Reg cuda_funcs[] = {
  {"is_available", cuda_is_available}, {"device_count", cuda_device_count},
  {"get_device_name", cuda_get_device_name}, {"synchronize", cuda_synchronize},
  {"empty_cache", cuda_empty_cache}, {"memory_allocated", cuda_memory_allocated},
  {"max_memory_allocated", cuda_max_memory_allocated}, {"memory_reserved", cuda_memory_reserved},
  {"reset_peak_memory_stats", cuda_reset_peak},
  {NULL, NULL}
};

static const luaL_Reg misc_funcs[] = {
  {"time", f_time}, {"set_deterministic", f_set_deterministic},
  {"is_deterministic", f_is_deterministic}, {"set_num_threads", f_set_num_threads},
  {"get_num_threads", f_get_num_threads}, {"interrupted", f_interrupted},
  {"set_default_device", f_set_default_device}, {"get_default_device", f_get_default_device},
  {"set_default_dtype", f_set_default_dtype}, {"get_default_dtype", f_get_default_dtype},
  {NULL, NULL}
};

/* Builds the core table on the stack (cached in package.loaded). */
static int open_core(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, "luatrain.core") == LUA_TTABLE) {
    lua_remove(L, -2);
    return 1;
  }
  lua_pop(L, 1);
  lua_newtable(L);
  int lt = lua_gettop(L);
  lua_newtable(L);
  int methods = lua_gettop(L);
  ltL_open_tensor(L, lt, methods);
  ltL_open_ops(L, lt, methods);
  ltL_open_nn(L, lt, methods);
  ltL_open_nn_conv(L, lt, methods);
  ltL_open_autograd(L, lt, methods);
  ltL_open_io(L, lt, methods);
  ltL_open_sort(L, lt, methods);
  ltL_open_ops_ext(L, lt, methods);
  ltL_open_rnn(L, lt, methods);
  lua_getfield(L, lt, "_C");  /* made by ltL_open_nn */
  lua_pushcfunction(L, f_defer_interrupts);
  lua_setfield(L, -2, "defer_interrupts");
  lua_pop(L, 1);
  lua_pushvalue(L, methods);
  lua_setfield(L, lt, "_methods");
  lua_pop(L, 1);  /* methods */
  luaL_setfuncs(L, misc_funcs, 0);
  lua_pushliteral(L, LT_VERSION);
  lua_setfield(L, lt, "version");
  lua_newtable(L);
  luaL_setfuncs(L, cuda_funcs, 0);
  lua_setfield(L, lt, "cuda");
  lua_newtable(L);  /* backends proxy */
  lua_newtable(L);
  lua_pushcfunction(L, backends_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, backends_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, -2);
  lua_setfield(L, lt, "backends");
  lua_pushvalue(L, lt);
  lua_setfield(L, -3, "luatrain.core");
  lua_remove(L, -2);  /* LOADED */
  return 1;
}

int luaopen_luatrain(lua_State *L) {
  open_core(L);
  lua_pop(L, 1);
  install_searchers(L);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "luatrain.lt");
  lua_call(L, 1, 1);
  return 1;
}

/* `require "luatrain.core"` from a stock interpreter */
int luaopen_luatrain_core(lua_State *L) {
  open_core(L);
  install_searchers(L);
  return 1;
}
