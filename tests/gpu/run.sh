#!/bin/sh
# tests/gpu/run.sh - everything to run on a GPU machine in one go (about
# 6 minutes): build, the standalone backend check, C tests, the CUDA spec and
# the whole busted suite, the examples on --device cuda (short), the GPU
# benchmarks, then a summary. Every step runs even if an earlier one fails.
# Usage: sh tests/gpu/run.sh            (from the repository root)
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
LOG=${LOG:-$BUILD/gpu-logs}
mkdir -p "$LOG"
SUMMARY=""
FAILED=0

# step NAME SECONDS CMD... : runs with a timeout, logs, records pass/fail
step() {
  name=$1; secs=$2; shift 2
  echo "=== $name"
  start=$(date +%s)
  timeout -k 5 "$secs" sh -c "$*" > "$LOG/$name.log" 2>&1
  rc=$?
  tail -n 25 "$LOG/$name.log"
  dur=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then res=PASS; else res="FAIL(rc=$rc)"; FAILED=$((FAILED + 1)); fi
  [ $rc -eq 124 ] && res="TIMEOUT(${secs}s)"
  SUMMARY="$SUMMARY
$(printf '%-14s %-14s %4ss  %s' "$name" "$res" "$dur" "$(grep -Eo '[0-9]+ (passed|successes?)[^\n]*' "$LOG/$name.log" | tail -n 1)")"
}

echo "=== GPU"; nvidia-smi -L 2>&1 || echo "nvidia-smi failed"

if [ -z "${SKIP_BUILD:-}" ]; then
  step build 240 "make -j16 BUILD=$BUILD all; test -f $BUILD/luatrain_cuda.so"
fi
step check_backend 90 "cc -O1 -std=c11 -Iengine tests/gpu/check_backend.c -o $BUILD/check_backend -ldl -lm && $BUILD/check_backend $BUILD/luatrain_cuda.so"
step ctests 60 "ok=0; for t in $BUILD/tests/test_*; do [ -x \"\$t\" ] || continue; \"\$t\" || ok=1; done; exit \$ok"
if [ -x "$BUILD/luatrain" ]; then
  if command -v busted >/dev/null 2>&1; then
    step cuda_spec 90 "busted --lua=$BUILD/luatrain -o TAP tests/cuda_spec.lua"
  else  # no busted on the GPU box: the tiny stand-in runs the same spec
    step cuda_spec 90 "$BUILD/luatrain tests/gpu/mini_busted.lua tests/cuda_spec.lua"
  fi
  if [ -f scripts/run-tests.sh ]; then
    step suite 150 "BUILD=$BUILD sh scripts/run-tests.sh"
  else
    step suite 150 "busted --lua=$BUILD/luatrain tests"
  fi
  step examples 90 "ok=0; for f in examples/*.lua; do [ -f \"\$f\" ] || continue; echo \"--- \$f\"; a=''; grep -q epochs \"\$f\" && a='--epochs 1'; (cd examples && timeout 30 ../$BUILD/luatrain --device cuda \$(basename \$f) \$a) || { echo \"FAILED \$f\"; ok=1; }; done; exit \$ok"
  step bench 160 "BUILD=$BUILD sh bench/gpu/run.sh"
else
  echo "no $BUILD/luatrain: skipping specs, examples, benchmarks"
  FAILED=$((FAILED + 1))
fi

echo
echo "=== summary (logs in $LOG)"
echo "$SUMMARY"
echo "steps failed: $FAILED"
exit $FAILED
