/*
** ops_ext.c - the few C helpers of lua/luatrain/tensor_ext.lua that a Lua
** composition cannot do fast: lt._C.nonzero (indices of the non-zero
** elements, the count needs a host sync as in PyTorch). Everything else of
** tensor_ext (tril, einsum, roll, ...) is composed in Lua; no math here.
*/
#include <stdlib.h>

#include "ltl.h"

/* lt._C.nonzero(t) -> int64 tensor (n, ndim) of 1-based indices, row-major
** order, on t's device. Reads t on the host (one copy and sync on CUDA). */
static int c_nonzero(lua_State *L) {
  lt_tensor *t = ltL_checktensor(L, 1);
  int64_t n = lt_numel(t);
  int nd = t->ndim;
  uint8_t *flags = malloc(n > 0 ? (size_t)n : 1);
  if (!flags) return luaL_error(L, "nonzero: out of host memory (%I elements)", (LUAI_UACINT)n);
  lt_status st = lt_to_host(t, flags, LT_DTYPE_BOOL);
  if (st != LT_OK) {
    free(flags);
    return ltL_engineerror(L);
  }
  int64_t count = 0;
  for (int64_t i = 0; i < n; i++) count += flags[i] != 0;
  int64_t *idx = malloc(count * nd > 0 ? (size_t)(count * nd) * sizeof(int64_t) : sizeof(int64_t));
  if (!idx) {
    free(flags);
    return luaL_error(L, "nonzero: out of host memory (%I indices)", (LUAI_UACINT)count);
  }
  int64_t pos[LT_MAX_DIMS] = {0};
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++) {
    if (flags[i]) {
      for (int d = 0; d < nd; d++) idx[k * nd + d] = pos[d] + 1;
      k++;
    }
    for (int d = nd - 1; d >= 0; d--) {  /* row-major odometer */
      if (++pos[d] < t->shape[d]) break;
      pos[d] = 0;
    }
  }
  free(flags);
  int64_t shape[2] = {count, nd};
  lt_tensor *r = lt_from_data(idx, LT_DTYPE_I64, shape, 2, LT_DTYPE_I64, lt_tensor_device(t));
  free(idx);
  ltL_pushtensor(L, r);
  return 1;
}

void ltL_open_ops_ext(lua_State *L, int lt, int methods) {
  (void)methods;
  ltL_push_C(L, lt);
  lua_pushcfunction(L, c_nonzero);
  lua_setfield(L, -2, "nonzero");
  lua_pop(L, 1);
}
