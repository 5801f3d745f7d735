/*
** autocast.c - the autocast state (thread-local, like grad mode) and the
** argument casts the op front-ends apply under it (autocast.h). Which op
** follows which policy is decided in the front-ends, not here.
*/
#include "autocast.h"

static _Thread_local int autocast_dt = -1;

lt_status lt_set_autocast(int dt) {
  if (dt != -1 && dt != LT_DTYPE_BF16 && dt != LT_DTYPE_F16)
    return lt_error(LT_ERR_DTYPE,
                    "autocast: dtype must be bfloat16 or float16 (or -1 to turn it off), got %s",
                    dt >= 0 && dt < LT_DTYPE_COUNT ? lt_dtype_name((lt_dtype)dt) : "?");
  autocast_dt = dt;
  return LT_OK;
}

int lt_autocast_dtype(void) { return autocast_dt; }

/* The dtype t should have under `policy`, or -1 when it stays as it is. */
static int target_of(lt_autocast_policy policy, const lt_tensor *t) {
  if (!t) return -1;
  if (policy == LT_AUTOCAST_LOW) {
    if (!lt_dtype_is_float(t->dtype) || t->dtype == LT_DTYPE_F64 ||
        (int)t->dtype == autocast_dt)
      return -1;
    return autocast_dt;
  }
  return t->dtype == LT_DTYPE_BF16 || t->dtype == LT_DTYPE_F16 ? LT_DTYPE_F32 : -1;
}

int lt_autocast_args(lt_autocast_policy policy, lt_tensor *const *in, lt_tensor **out, int n) {
  for (int i = 0; i < n; i++) out[i] = NULL;
  if (autocast_dt < 0) return 0;
  bool any = false;
  for (int i = 0; i < n && !any; i++) any = target_of(policy, in[i]) >= 0;
  if (!any) return 0;
  for (int i = 0; i < n; i++) {
    if (!in[i]) continue;
    int dt = target_of(policy, in[i]);
    out[i] = dt < 0 ? (lt_tensor_retain(in[i]), in[i])
                    : lt_to(in[i], (lt_dtype)dt, lt_tensor_device(in[i]));
    if (!out[i]) {
      lt_release_all(out, n);
      return -1;
    }
  }
  return 1;
}
