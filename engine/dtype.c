/*
** dtype.c - dtype names, sizes and PyTorch's type promotion lattice.
** No conversion kernels here (cpu_elementwise.c does those).
*/
#include <string.h>

#include "luatrain.h"

static const struct {
  const char *name;
  size_t size;
} dtypes[LT_DTYPE_COUNT] = {
  [LT_DTYPE_F32] = {"float32", 4}, [LT_DTYPE_F64] = {"float64", 8},
  [LT_DTYPE_BF16] = {"bfloat16", 2}, [LT_DTYPE_F16] = {"float16", 2},
  [LT_DTYPE_I64] = {"int64", 8},   [LT_DTYPE_I32] = {"int32", 4},
  [LT_DTYPE_U8] = {"uint8", 1},    [LT_DTYPE_BOOL] = {"bool", 1},
};

static lt_dtype default_dtype = LT_DTYPE_F32;

const char *lt_dtype_name(lt_dtype dt) {
  return (unsigned)dt < LT_DTYPE_COUNT ? dtypes[dt].name : "?";
}

size_t lt_dtype_size(lt_dtype dt) { return (unsigned)dt < LT_DTYPE_COUNT ? dtypes[dt].size : 0; }

int lt_dtype_from_name(const char *name) {
  static const struct { const char *alias; lt_dtype dt; } aliases[] = {
    {"float", LT_DTYPE_F32}, {"double", LT_DTYPE_F64}, {"half", LT_DTYPE_F16},
    {"bf16", LT_DTYPE_BF16}, {"fp32", LT_DTYPE_F32}, {"fp16", LT_DTYPE_F16},
    {"long", LT_DTYPE_I64}, {"int", LT_DTYPE_I32}, {"byte", LT_DTYPE_U8},
    {"boolean", LT_DTYPE_BOOL},
  };
  if (!name) return -1;
  for (int i = 0; i < LT_DTYPE_COUNT; i++)
    if (strcmp(name, dtypes[i].name) == 0) return i;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(name, aliases[i].alias) == 0) return (int)aliases[i].dt;
  return -1;
}

bool lt_dtype_is_float(lt_dtype dt) {
  return dt == LT_DTYPE_F32 || dt == LT_DTYPE_F64 || dt == LT_DTYPE_BF16 || dt == LT_DTYPE_F16;
}

/* Category rank: bool < integers < floats. Within integers the wider wins
** (uint8 with int32 -> int32); within floats: f16 with bf16 -> f32, else
** the wider. */
lt_dtype lt_promote_types(lt_dtype a, lt_dtype b) {
  if (a == b) return a;
  if (a == LT_DTYPE_BOOL) return b;
  if (b == LT_DTYPE_BOOL) return a;
  bool fa = lt_dtype_is_float(a), fb = lt_dtype_is_float(b);
  if (fa && !fb) return a;
  if (fb && !fa) return b;
  if (fa && fb) {
    if (a == LT_DTYPE_F64 || b == LT_DTYPE_F64) return LT_DTYPE_F64;
    return LT_DTYPE_F32;  /* f32 with anything, or bf16 with f16 */
  }
  /* both integers */
  if (a == LT_DTYPE_I64 || b == LT_DTYPE_I64) return LT_DTYPE_I64;
  if (a == LT_DTYPE_I32 || b == LT_DTYPE_I32) return LT_DTYPE_I32;
  return LT_DTYPE_U8;
}

lt_dtype lt_default_dtype(void) { return default_dtype; }
void lt_set_default_dtype(lt_dtype dt) {
  if (lt_dtype_is_float(dt)) default_dtype = dt;
}
