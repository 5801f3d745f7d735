/*
** error.c - the engine's error channel: a thread-local status and message
** that failing functions set and the bindings turn into Lua errors. It does
** not print, exit or longjmp.
*/
#include <stdarg.h>
#include <stdio.h>

#include "luatrain.h"

static _Thread_local lt_status err_code = LT_OK;
static _Thread_local char err_msg[1024];

lt_status lt_error(lt_status code, const char *fmt, ...) {
  va_list ap;
  char tmp[sizeof err_msg];
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);  /* fmt may reference err_msg */
  va_end(ap);
  snprintf(err_msg, sizeof err_msg, "%s", tmp);
  err_code = code;
  return code;
}

lt_status lt_errcode(void) { return err_code; }
const char *lt_errmsg(void) { return err_msg; }
void lt_clearerr(void) {
  err_code = LT_OK;
  err_msg[0] = '\0';
}
