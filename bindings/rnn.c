/*
** rnn.c - Lua bindings of the fused recurrent cells, in the internal table
** lt._C: lstm_cell(gates, c) -> h1, c1; gru_cell(gx, gh, h) -> h1;
** has_fused_rnn(device[, dtype]) -> boolean. nn.LSTM / GRU (rnn.lua) use
** them; the math, checks and autograd are the engine's (ops_rnn.c).
*/
#include "ltl.h"

static int c_lstm_cell(lua_State *L) {
  lt_tensor *gates = ltL_checktensor(L, 1), *c = ltL_checktensor(L, 2);
  lt_tensor *h1 = NULL, *c1 = NULL;
  ltL_check(L, lt_lstm_cell(gates, c, &h1, &c1));
  ltL_pushtensor(L, h1);
  ltL_pushtensor(L, c1);
  return 2;
}

static int c_gru_cell(lua_State *L) {
  lt_tensor *gx = ltL_checktensor(L, 1), *gh = ltL_checktensor(L, 2), *h = ltL_checktensor(L, 3);
  ltL_pushtensor(L, lt_gru_cell(gx, gh, h));
  return 1;
}

/* has_fused_rnn(device_string[, dtype_name = default dtype]) */
static int c_has_fused_rnn(lua_State *L) {
  lt_device dev = ltL_checkdevice(L, 1);
  lt_dtype dt = lua_isnoneornil(L, 2) ? lt_default_dtype() : ltL_checkdtype(L, 2);
  lua_pushboolean(L, lt_fused_rnn_available(dev, dt));
  return 1;
}

static const luaL_Reg rnn_c_funcs[] = {
  {"lstm_cell", c_lstm_cell}, {"gru_cell", c_gru_cell}, {"has_fused_rnn", c_has_fused_rnn},
  {NULL, NULL}
};

/* after ltL_open_nn, which creates lt._C */
void ltL_open_rnn(lua_State *L, int lt, int methods) {
  (void)methods;
  ltL_push_C(L, lt);
  luaL_setfuncs(L, rnn_c_funcs, 0);
  lua_pop(L, 1);
}
