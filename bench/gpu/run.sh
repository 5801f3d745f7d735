#!/bin/sh
# bench/gpu/run.sh - runs bench/gpu/ops.lua (luatrain) and ops_torch.py
# (PyTorch, when installed) on the same GPU and prints both numbers and the
# ratio luatrain/torch for each RESULT key (for times lower is better, for
# TFLOP/s higher is better). Usage: BUILD=build sh bench/gpu/run.sh
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
OUT=${TMPDIR:-/tmp}/lt-gpu-bench.$$
mkdir -p "$OUT"
PY=${PYTHON:-python3}
[ -x bench/.venv/bin/python ] && PY=bench/.venv/bin/python
timeout 150 "$BUILD/luatrain" bench/gpu/ops.lua | tee "$OUT/lt.txt"
rc=$?
timeout 150 "$PY" bench/gpu/ops_torch.py | tee "$OUT/torch.txt"
echo
printf '%-26s %12s %12s %8s\n' key luatrain torch ratio
awk '
  FNR == NR { if ($1 == "RESULT") lt[$2] = $3; next }
  $1 == "RESULT" { th[$2] = $3 }
  END {
    for (k in lt) {
      t = (k in th) ? th[k] : ""
      r = (t != "" && t + 0 != 0) ? sprintf("%.2f", lt[k] / t) : "-"
      printf "%-26s %12s %12s %8s\n", k, lt[k], t, r
    }
  }' "$OUT/lt.txt" "$OUT/torch.txt" | sort
rm -rf "$OUT"
exit $rc
