#!/bin/sh
# run-ctests.sh BUILD - runs only the engine's C tests.
BUILD=${1:-build}
rc=0
for t in "$BUILD"/tests/test_*; do [ -x "$t" ] && { "$t" || rc=1; }; done
exit $rc
