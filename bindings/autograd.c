/*
** autograd.c - backward(), grad-mode guards (to-be-closed userdata and the
** function form that restores the mode on error), and lt.autograd.Function:
** a Lua forward run without recording, attached to the graph through
** lt_custom_function_attach, with the Lua backward called under lua_pcall
** inside the engine callback (its errors become engine errors).
*/
#include <stdlib.h>
#include <string.h>

#include "ltl.h"

#define GUARD_MT "luatrain.GradMode"

/* ---------------------------------------------------------------- backward */

static const char *const backward_keys[] = {"retain_graph", NULL};

static int m_backward(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  lt_tensor *g = NULL;
  int oi = 2;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    /* a number as the gradient of a one-element tensor */
    g = lt_full(t->shape, t->ndim, lua_tonumber(L, 2), t->dtype, lt_tensor_device(t));
    if (!g) return ltL_engineerror(L);
    ltL_pushtensor(L, g);
    lua_replace(L, 2);
    oi = 3;
  } else if ((g = ltL_testtensor(L, 2)) != NULL) {
    oi = 3;
  } else if (lua_isnil(L, 2)) {
    oi = 3;
  }
  ltL_checkopts(L, oi, "backward", backward_keys);
  bool retain = ltL_optbool(L, oi, "backward", "retain_graph", false);
  ltL_Context *c = ltL_getcontext(L);
  lua_State *prev = c->curL;
  c->curL = L;
  lt_status st = lt_backward(t, g, retain);
  c->curL = prev;
  ltL_check(L, st);
  return 0;
}

/* ---------------------------------------------------------------- grad mode */

typedef struct {
  int prev;  /* -1 once restored */
} guard;

static int guard_close(lua_State *L) {
  guard *g = luaL_checkudata(L, 1, GUARD_MT);
  if (g->prev >= 0) {
    lt_set_grad_enabled(g->prev != 0);
    g->prev = -1;
  }
  return 0;
}

static int set_mode_run(lua_State *L, bool on) {
  if (lua_isnoneornil(L, 1)) {
    guard *g = lua_newuserdatauv(L, sizeof(guard), 0);
    g->prev = -1;
    luaL_setmetatable(L, GUARD_MT);
    g->prev = lt_grad_enabled();
    lt_set_grad_enabled(on);
    return 1;
  }
  luaL_checktype(L, 1, LUA_TFUNCTION);
  int n = lua_gettop(L);
  bool prev = lt_grad_enabled();
  lt_set_grad_enabled(on);
  int st = lua_pcall(L, n - 1, LUA_MULTRET, 0);
  lt_set_grad_enabled(prev);
  if (st != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

static int f_no_grad(lua_State *L) { return set_mode_run(L, false); }
static int f_enable_grad(lua_State *L) { return set_mode_run(L, true); }

static int f_is_grad_enabled(lua_State *L) {
  lua_pushboolean(L, lt_grad_enabled());
  return 1;
}

static int f_set_grad_enabled(lua_State *L) {
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  bool prev = lt_grad_enabled();
  lt_set_grad_enabled(lua_toboolean(L, 1));
  lua_pushboolean(L, prev);
  return 1;
}

/* ---------------------------------------------------------------- custom functions */

typedef struct {
  ltL_handle *h;
  int ctx_ref;       /* the ctx table */
  int bwd_ref;       /* the backward function */
  int n_args;        /* forward arguments after ctx */
  int n_inputs;
  int argpos[64];    /* forward arg position (1-based) of tensor input i */
  int n_outputs;
  struct { int ndim; int64_t shape[LT_MAX_DIMS]; lt_dtype dt; lt_device dev; } out[16];
  char name[64];
} custom_ctx;

static void custom_free(void *p) {
  custom_ctx *c = p;
  if (c->h->alive) {
    luaL_unref(c->h->L, LUA_REGISTRYINDEX, c->ctx_ref);
    luaL_unref(c->h->L, LUA_REGISTRYINDEX, c->bwd_ref);
  }
  if (--c->h->refcount == 0) free(c->h);
  free(c);
}

static int traceback_handler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static lt_status custom_backward(void *p, lt_tensor **gout, int n_out, lt_tensor **gin, int n_in) {
  custom_ctx *c = p;
  if (!c->h->alive) return lt_error(LT_ERR_AUTOGRAD, "%s: backward after the Lua state closed", c->name);
  /* the thread that called backward(): set by m_backward */
  lua_State *L = c->h->ctx->curL ? c->h->ctx->curL : c->h->L;
  if (!lua_checkstack(L, n_out + 8)) return lt_error(LT_ERR_MEMORY, "%s: Lua stack overflow", c->name);
  int base = lua_gettop(L);
  lua_pushcfunction(L, traceback_handler);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->bwd_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->ctx_ref);
  for (int k = 0; k < n_out; k++) {
    lt_tensor *g = gout[k];
    if (g) {
      lt_tensor_retain(g);
    } else {
      g = lt_zeros(c->out[k].shape, c->out[k].ndim, c->out[k].dt, c->out[k].dev);
      if (!g) { lua_settop(L, base); return lt_errcode(); }
    }
    ltL_Tensor *u = lua_newuserdatauv(L, sizeof(*u), 0);
    u->t = g;
    luaL_setmetatable(L, LTL_TENSOR_MT);
  }
  int st = lua_pcall(L, 1 + n_out, LUA_MULTRET, base + 1);
  if (st != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    lt_status r = lt_error(LT_ERR_AUTOGRAD, "%s.backward: %s", c->name, msg ? msg : "(non-string error)");
    lua_settop(L, base);
    return r;
  }
  int nres = lua_gettop(L) - (base + 1);
  for (int i = 0; i < n_in; i++) gin[i] = NULL;
  for (int i = 0; i < n_in && i < c->n_inputs; i++) {
    int pos = c->argpos[i];
    /* results map to forward arguments; when exactly one per tensor input
    ** was returned, they map to the tensor inputs */
    int ri = nres == c->n_inputs && nres != c->n_args ? i + 1 : pos;
    if (ri > nres) continue;
    int idx = base + 1 + ri;
    if (lua_isnil(L, idx)) continue;
    ltL_Tensor *u = luaL_testudata(L, idx, LTL_TENSOR_MT);
    if (!u || !u->t) {
      for (int j = 0; j < i; j++) { lt_tensor_release(gin[j]); gin[j] = NULL; }
      lt_status r = lt_error(LT_ERR_AUTOGRAD, "%s.backward: result %d must be a tensor or nil, got %s",
                             c->name, ri, luaL_typename(L, idx));
      lua_settop(L, base);
      return r;
    }
    lt_tensor_retain(u->t);
    gin[i] = u->t;
  }
  lua_settop(L, base);
  return LT_OK;
}

/* ctx:save_for_backward(...) stores tensors in ctx.saved_tensors */
static int ctx_save_for_backward(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int n = lua_gettop(L) - 1;
  lua_createtable(L, n, 0);
  for (int i = 1; i <= n; i++) {
    if (!lua_isnil(L, i + 1)) ltL_checktensor(L, i + 1);
    lua_pushvalue(L, i + 1);
    lua_rawseti(L, -2, i);
  }
  lua_setfield(L, 1, "saved_tensors");
  return 0;
}

/* __call of a Function object: upvalues none; self table holds forward,
** backward and name. */
static int function_call(lua_State *L) {
  int nargs = lua_gettop(L) - 1;  /* after self */
  lua_getfield(L, 1, "forward");
  lua_getfield(L, 1, "backward");
  lua_getfield(L, 1, "name");
  int fwd = nargs + 2, bwd = nargs + 3, nm = nargs + 4;
  const char *name = lua_isstring(L, nm) ? lua_tostring(L, nm) : "CustomFunction";
  /* ctx */
  lua_newtable(L);
  int ctx = lua_gettop(L);
  lua_pushcfunction(L, ctx_save_for_backward);
  lua_setfield(L, ctx, "save_for_backward");
  lua_newtable(L);
  lua_setfield(L, ctx, "saved_tensors");
  lt_tensor *inputs[64];
  int argpos[64];
  int n_in = 0;
  bool any_req = false;
  lua_createtable(L, nargs, 0);
  for (int i = 1; i <= nargs; i++) {
    lt_tensor *t = ltL_testtensor(L, i + 1);
    lua_pushboolean(L, t && t->requires_grad);
    lua_rawseti(L, -2, i);
    if (t) {
      if (n_in >= 64) return luaL_error(L, "%s: too many tensor inputs (max 64)", name);
      inputs[n_in] = t;
      argpos[n_in++] = i;
      if (t->requires_grad) any_req = true;
    }
  }
  lua_setfield(L, ctx, "needs_input_grad");
  /* forward with recording off (restored on error) */
  int top = lua_gettop(L);
  lua_pushvalue(L, fwd);
  lua_pushvalue(L, ctx);
  for (int i = 1; i <= nargs; i++) lua_pushvalue(L, i + 1);
  bool prev = lt_grad_enabled();
  lt_set_grad_enabled(false);
  int st = lua_pcall(L, nargs + 1, LUA_MULTRET, 0);
  lt_set_grad_enabled(prev);
  if (st != LUA_OK) return lua_error(L);
  int nres = lua_gettop(L) - top;
  if (!(prev && any_req)) return nres;
  if (nres > 16) return luaL_error(L, "%s: too many outputs (max 16)", name);
  /* outputs: detached aliases that become the results */
  lt_tensor *outs[16];
  int n_out = 0;
  custom_ctx *cc = malloc(sizeof *cc);
  if (!cc) return luaL_error(L, "%s: out of memory", name);
  memset(cc, 0, sizeof *cc);
  for (int k = 1; k <= nres; k++) {
    int idx = top + k;
    lt_tensor *o = ltL_testtensor(L, idx);
    if (!o) continue;
    lt_tensor *d = lt_detach(o);
    if (!d) { free(cc); return ltL_engineerror(L); }
    ltL_pushtensor(L, d);
    lua_replace(L, idx);
    outs[n_out] = d;
    cc->out[n_out].ndim = d->ndim;
    memcpy(cc->out[n_out].shape, d->shape, sizeof(d->shape));
    cc->out[n_out].dt = d->dtype;
    cc->out[n_out].dev = lt_tensor_device(d);
    n_out++;
  }
  if (n_out == 0) { free(cc); return nres; }
  ltL_Context *cx = ltL_getcontext(L);
  cc->h = cx->handle;
  cc->h->refcount++;
  lua_pushvalue(L, ctx);
  cc->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, bwd);
  cc->bwd_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  cc->n_args = nargs;
  cc->n_inputs = n_in;
  memcpy(cc->argpos, argpos, sizeof(int) * n_in);
  cc->n_outputs = n_out;
  snprintf(cc->name, sizeof cc->name, "%s", name);
  /* on failure the engine has already called custom_free */
  lt_status as = lt_custom_function_attach(cc->name, inputs, n_in, outs, n_out, custom_backward, cc,
                                           custom_free);
  if (as != LT_OK) return ltL_engineerror(L);
  return nres;
}

static int function_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "forward");
  if (!lua_isfunction(L, -1)) return luaL_error(L, "autograd.Function: 'forward' must be a function");
  lua_getfield(L, 1, "backward");
  if (!lua_isfunction(L, -1)) return luaL_error(L, "autograd.Function: 'backward' must be a function");
  lua_pop(L, 2);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, -4);
  }
  lua_getfield(L, -1, "name");
  if (lua_isnil(L, -1)) {
    lua_pushliteral(L, "CustomFunctionBackward");
    lua_setfield(L, -3, "name");
  }
  lua_pop(L, 1);
  luaL_setmetatable(L, "luatrain.Function");
  return 1;
}

static const luaL_Reg ag_funcs[] = {
  {"no_grad", f_no_grad}, {"enable_grad", f_enable_grad},
  {"is_grad_enabled", f_is_grad_enabled}, {"set_grad_enabled", f_set_grad_enabled},
  {"backward", m_backward},
  {NULL, NULL}
};

void ltL_open_autograd(lua_State *L, int lt, int methods) {
  luaL_newmetatable(L, GUARD_MT);
  lua_pushcfunction(L, guard_close);
  lua_setfield(L, -2, "__close");
  /* no __gc: an unclosed guard must not flip the mode at a random time */
  lua_pop(L, 1);
  luaL_newmetatable(L, "luatrain.Function");
  lua_pushcfunction(L, function_call);
  lua_setfield(L, -2, "__call");
  lua_pop(L, 1);
  lua_pushvalue(L, lt);
  luaL_setfuncs(L, ag_funcs, 0);
  lua_pop(L, 1);
  lua_pushcfunction(L, m_backward);
  lua_setfield(L, methods, "backward");
  lua_pushcfunction(L, function_new);
  lua_setfield(L, lt, "_Function");
}
