#!/bin/sh
# bench/run.sh - runs every CPU benchmark of bench/ (luatrain and PyTorch on
# the same machine, same run) and prints one table: key, luatrain, torch,
# ratio luatrain/torch (lower is better for times). Each epoch benchmark
# runs BENCH_REPEAT times, alternating the two sides, and reports medians.
# Environment:
#   BUILD=build            the luatrain build directory
#   BENCH_BATCHES=0        timed batches per epoch run (0 = the whole epoch)
#   BENCH_REPEAT=3         runs per epoch benchmark (median)
#   BENCH_OPS_N=200000     iterations per tiny op
#   BENCH_CORETYPES=""     extra OPENBLAS_CORETYPE values to rerun luatrain's
#                          epochs with (e.g. "Prescott"); OPENBLAS_CORETYPE
#                          itself is left as the caller set it
#   BENCH_SKIP="cnn"       space-separated parts to skip: ops startup mlp cnn lstm interop
# Usage: BUILD=build sh bench/run.sh   (make bench)
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
LT="$BUILD/luatrain"
PY=${PYTHON:-python3}
[ -x bench/.venv/bin/python ] && PY=bench/.venv/bin/python
REPEAT=${BENCH_REPEAT:-3}
BATCHES=${BENCH_BATCHES:-0}
OPS_N=${BENCH_OPS_N:-200000}
SKIP=" ${BENCH_SKIP:-} "
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x "$LT" ] || { echo "bench: $LT not found (make BUILD=$BUILD)"; exit 1; }
"$PY" -c 'import torch' 2>/dev/null || { echo "bench: torch not importable by $PY"; exit 1; }
skip() { case "$SKIP" in *" $1 "*) return 0 ;; esac; return 1; }

# which OpenBLAS kernel runs: OPENBLAS_VERBOSE=2 prints "Core: X" at each (re)init
core=$(OPENBLAS_VERBOSE=2 "$LT" -e 'local _ = lt.mm(lt.ones(64, 64), lt.ones(64, 64))' 2>&1 |
       sed -n 's/^.*Core: *//p' | tail -n 1)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>}  OpenBLAS kernel used by luatrain: ${core:-unknown}"
echo "torch: $("$PY" -c 'import torch; print(torch.__version__, torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends.cpu, "get_cpu_capability") else "")')"

# run NAME CMD... : appends the RESULT lines of one run to $OUT/NAME
run() { name=$1; shift; "$@" 2>&1 | tee -a "$OUT/log" | grep '^RESULT' >> "$OUT/$name"; }

if ! skip ops; then
  echo "== tiny ops"
  run lt "$LT" bench/op_overhead.lua "$OPS_N"
  run th "$PY" bench/op_overhead.py "$OPS_N"
fi
if ! skip startup; then
  echo "== startup"
  BUILD=$BUILD sh bench/startup.sh 2>/dev/null > "$OUT/startup"
  grep 'startup_ms' "$OUT/startup" | grep -v torch >> "$OUT/lt"
  sed -n 's/RESULT torch_startup_ms/RESULT startup_ms/p' "$OUT/startup" >> "$OUT/th"
fi
for b in mlp cnn; do
  skip $b && continue
  echo "== ${b}_epoch x$REPEAT (batches: ${BATCHES})"
  i=0
  while [ $i -lt "$REPEAT" ]; do
    run lt "$LT" bench/${b}_epoch.lua --batches "$BATCHES"
    run th "$PY" bench/${b}_epoch.py --batches "$BATCHES"
    for ct in ${BENCH_CORETYPES:-}; do
      OPENBLAS_CORETYPE=$ct "$LT" bench/${b}_epoch.lua --batches "$BATCHES" 2>&1 |
        sed -n "s/^RESULT \([^ ]*\) /RESULT \1@$ct /p" >> "$OUT/lt"
    done
    i=$((i + 1))
  done
done
if ! skip lstm; then
  echo "== lstm_step x$REPEAT"
  i=0
  while [ $i -lt "$REPEAT" ]; do
    run lt "$LT" bench/lstm_step.lua
    run th "$PY" bench/lstm_step.py
    i=$((i + 1))
  done
fi

echo
printf '%-28s %12s %12s %8s\n' key luatrain torch ratio
awk '
  function median(s,   n, a, i, j, t) {
    n = split(s, a, " ")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  FNR == 1 { side++ }
  $1 == "RESULT" { v[side, $2] = v[side, $2] " " $3; keys[$2] = 1 }
  END {
    for (k in keys) {
      l = ((1, k) in v) ? median(v[1, k]) : ""
      base = k; sub(/@.*/, "", base)
      t = ((2, base) in v) ? median(v[2, base]) : ""
      r = (l != "" && t != "" && t + 0 != 0) ? sprintf("%.2f", l / t) : "-"
      printf "%-28s %12s %12s %8s\n", k, l, t, r
    }
  }' "$OUT/lt" "$OUT/th" | sort

if ! skip interop; then
  echo
  BUILD=$BUILD sh bench/safetensors_interop.sh | tail -n 1
fi
