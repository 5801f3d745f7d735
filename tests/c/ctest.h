/*
** ctest.h - a tiny C test harness for the engine: CHECK(cond, fmt...) records
** a failure without stopping; main returns the failure count. Each test file
** prints "ctest <file>: N passed, M failed" for scripts/run-ctests.sh.
*/
#ifndef LT_CTEST_H
#define LT_CTEST_H
#include <math.h>
#include <stdio.h>
#include "luatrain.h"

static int ctest_passed, ctest_failed;
#define CHECK(cond, ...)                                                        \
  do {                                                                          \
    if (cond) ctest_passed++;                                                   \
    else {                                                                      \
      ctest_failed++;                                                           \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
      fprintf(stderr, __VA_ARGS__);                                             \
      fprintf(stderr, " [%s]\n", lt_errmsg());                                  \
    }                                                                           \
  } while (0)
#define CHECK_NEAR(a, b, tol) \
  CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%.9g vs %.9g", (double)(a), (double)(b))
#define CTEST_END()                                                              \
  do {                                                                           \
    printf("ctest %s: %d passed, %d failed\n", __FILE__, ctest_passed, ctest_failed); \
    return ctest_failed ? 1 : 0;                                                 \
  } while (0)
#endif
