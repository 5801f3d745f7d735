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
# Budgets (seconds) can be shortened for a short lease: T_SPECS, T_SUITE
# (0 skips the CPU suite), T_EXAMPLES, T_CNN (0 skips the CNN accuracy run),
# T_BENCH (passed to bench/gpu/run.sh as BENCH_BUDGET).
T_SPECS=${T_SPECS:-120}; T_SUITE=${T_SUITE:-150}; T_EXAMPLES=${T_EXAMPLES:-90}
T_CNN=${T_CNN:-120}; T_BENCH=${T_BENCH:-160}
if [ -x "$BUILD/luatrain" ]; then
  if command -v busted >/dev/null 2>&1; then
    # every spec tagged cuda, in every spec file (parity, amp, determinism...)
    step cuda_specs "$T_SPECS" "busted --lua=$BUILD/luatrain -o utfTerminal --tags=cuda tests"
  else  # no busted on the GPU box: the tiny stand-in runs the CUDA spec files
    step cuda_specs "$T_SPECS" "$BUILD/luatrain tests/gpu/mini_busted.lua $(grep -l '#cuda' tests/*_spec.lua | tr '\n' ' ')"
  fi
  if [ "$T_SUITE" -gt 0 ]; then
    step suite "$T_SUITE" "BUILD=$BUILD sh scripts/run-tests.sh"
  fi
  step examples "$T_EXAMPLES" "ok=0; for f in examples/*.lua examples/custom_module/train.lua; do [ -f \"\$f\" ] || continue; echo \"--- \$f\"; a=''; grep -q epochs \"\$f\" && a='--epochs 1'; grep -q limit_batches \"\$f\" && a=\"\$a --limit-batches 50\"; (cd \$(dirname \$f) && timeout 40 \$OLDPWD/$BUILD/luatrain --device cuda \$(basename \$f) \$a) || { echo \"FAILED \$f\"; ok=1; }; done; exit \$ok"
  if [ "$T_CNN" -gt 0 ]; then
    # the CNN example's accuracy goal (>= 0.91) on the GPU
    step cnn_accuracy "$T_CNN" "cd examples && ../$BUILD/luatrain fashion_mnist_cnn.lua --device cuda --epochs ${CNN_EPOCHS:-5}"
  fi
  step bench "$T_BENCH" "BENCH_BUDGET=$((T_BENCH - 10)) BUILD=$BUILD sh bench/gpu/run.sh"
else
  echo "no $BUILD/luatrain: skipping specs, examples, benchmarks"
  FAILED=$((FAILED + 1))
fi

echo
echo "=== summary (logs in $LOG)"
echo "$SUMMARY"
echo "steps failed: $FAILED"
exit $FAILED
