/*
** autocast.h - engine-internal helpers for autocast (mixed precision): the
** per-argument cast policies the op front-ends apply at their entry. The
** state itself is lt_set_autocast / lt_autocast_dtype (luatrain.h). No
** kernels here, and no per-op lists: each front-end picks its policy.
*/
#ifndef LT_AUTOCAST_H
#define LT_AUTOCAST_H

#include "internal.h"

typedef enum {
  LT_AUTOCAST_LOW = 0,  /* float inputs other than float64 -> the autocast dtype */
  LT_AUTOCAST_F32       /* bf16/f16 inputs -> float32 */
} lt_autocast_policy;

/* When autocast is on and one of the n inputs (NULL entries allowed) would
** change under `policy`, fills out[i] with new references to the cast
** inputs (lt_to, so recorded by autograd; NULL for NULL inputs) and
** returns 1; the caller reruns the op on out[] and releases them. Returns
** 0 (out[] all NULL) when nothing changes, -1 on error (out[] all NULL). */
int lt_autocast_args(lt_autocast_policy policy, lt_tensor *const *in, lt_tensor **out, int n);

#endif
