/*
** ltl.h - shared helpers of the Lua bindings (bindings/ files): the Tensor
** userdata, argument checking (1-based dims, shapes, options tables), the
** single place where engine errors become Lua errors, and the per-state
** context kept in the registry. Uses engine/luatrain.h only.
*/
#ifndef LTL_H
#define LTL_H

#include <lauxlib.h>
#include <lua.h>

#include "luatrain.h"

#define LTL_TENSOR_MT "luatrain.Tensor"

/* The userdata: one engine reference, NULL once freed. */
typedef struct {
  lt_tensor *t;
} ltL_Tensor;

/* Shared with engine callbacks that may outlive the lua_State
** (custom autograd nodes): refcounted, `alive` cleared when the state closes. */
typedef struct ltL_Context ltL_Context;
typedef struct {
  lua_State *L;     /* main thread */
  ltL_Context *ctx;
  int alive;
  int refcount;
} ltL_handle;

/* Per-state context (a userdata in the registry). */
struct ltL_Context {
  lua_State *mainL;
  lua_State *curL;          /* thread running lt_backward (custom functions) */
  ltL_handle *handle;
  long long device_debt;    /* net tensor bytes alive on devices (not the host) */
  long long live_after_gc;  /* all tensor bytes right after the last full collection */
  long long host_debt;      /* net tensor bytes alive in host memory */
  long long host_after_gc;  /* `host_debt` right after the last full collection */
  double gc_end;            /* lt_clock() at the end of the last debt collection */
  double gc_cost;           /* how long that collection took, seconds */
  long long threshold;      /* minimum growth that triggers a collection */
  lt_device default_device;
};

ltL_Context *ltL_getcontext(lua_State *L);
/* Pushes lt._C (the table at index lt), creating it when missing. */
void ltL_push_C(lua_State *L, int lt);

/* ---------------------------------------------------------------- tensors */

/* Validates metatable and liveness; errors name the argument. */
lt_tensor *ltL_checktensor(lua_State *L, int arg);
/* NULL when the value is not a live tensor (freed tensors raise). */
lt_tensor *ltL_testtensor(lua_State *L, int arg);
/* Pushes a userdata owning `t` (a new engine reference). t == NULL raises
** the engine's error. */
void ltL_pushtensor(lua_State *L, lt_tensor *t);
/* Raises the engine's error when status != LT_OK. */
void ltL_check(lua_State *L, lt_status st);
/* Raises the engine's last error. Never returns. */
int ltL_engineerror(lua_State *L);
/* Like pushtensor, but after releasing the given refs on error: for callers
** that hold temporaries (a, b may be NULL). */
void ltL_pushtensor_rel(lua_State *L, lt_tensor *t, lt_tensor *a, lt_tensor *b);

/* ---------------------------------------------------------------- arguments */

/* 1-based Lua dim (negative from the end) -> 0-based. ndim is the number of
** valid positions (ndim + 1 for unsqueeze). */
int ltL_checkdim(lua_State *L, int arg, int ndim);
int ltL_todim(lua_State *L, int arg, lua_Integer d, int ndim);
/* Shape given as numbers from `arg` on (until a non-number) or as one table
** at `arg`. Returns ndim; *next gets the index after the shape. */
int ltL_checkshape(lua_State *L, int arg, int64_t *shape, int *next, bool allow_neg1);
/* Reads a table of integers at `arg` (or numbers from arg on) as dims,
** converted to 0-based against ndim; returns count. */
int ltL_checkdims(lua_State *L, int arg, int ndim, int *dims, int *next);

lt_dtype ltL_checkdtype(lua_State *L, int arg);
lt_device ltL_checkdevice(lua_State *L, int arg);
lt_status ltL_parsedevice(lua_State *L, const char *s, lt_device *out);

/* Options tables: `arg` must be nil/none or a table whose string keys are
** all in `keys` (NULL-terminated); else "fname: unknown option 'k'". */
bool ltL_checkopts(lua_State *L, int arg, const char *fname, const char *const *keys);
/* Getters (absent => default). Errors name the option. */
bool ltL_optbool(lua_State *L, int arg, const char *fname, const char *key, bool def);
double ltL_optnum(lua_State *L, int arg, const char *fname, const char *key, double def);
lua_Integer ltL_optint(lua_State *L, int arg, const char *fname, const char *key, lua_Integer def);
const char *ltL_optstr(lua_State *L, int arg, const char *fname, const char *key, const char *def);
lt_tensor *ltL_opttensor(lua_State *L, int arg, const char *fname, const char *key);

/* Common creation options {dtype=, device=, requires_grad=}. */
typedef struct {
  lt_dtype dtype;
  lt_device device;
  bool requires_grad;
  bool has_dtype, has_device;
} ltL_Create;
void ltL_createopts(lua_State *L, int arg, const char *fname, ltL_Create *o);
/* Applies requires_grad and pushes. */
void ltL_pushcreated(lua_State *L, lt_tensor *t, const ltL_Create *o);

/* Name of the running C function for messages ("?" if unknown). */
const char *ltL_fname(lua_State *L);

/* ---------------------------------------------------------------- registration */

/* Each role file adds functions to the lt table (at index `lt`) and methods
** to the methods table (at index `methods`). */
void ltL_open_tensor(lua_State *L, int lt, int methods);
void ltL_open_ops(lua_State *L, int lt, int methods);
void ltL_open_nn(lua_State *L, int lt, int methods);
void ltL_open_nn_conv(lua_State *L, int lt, int methods);  /* nn_conv.c */
void ltL_open_autograd(lua_State *L, int lt, int methods);
void ltL_open_io(lua_State *L, int lt, int methods);
void ltL_open_sort(lua_State *L, int lt, int methods);  /* ops_sort.c */
void ltL_open_ops_ext(lua_State *L, int lt, int methods);  /* ops_ext.c */
void ltL_open_rnn(lua_State *L, int lt, int methods);  /* rnn.c */

/* String helpers for __tostring (tensor.c). */
void ltL_pushtensorstring(lua_State *L, lt_tensor *t);

#endif
