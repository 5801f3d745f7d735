#!/bin/sh
# bench/startup.sh - time from exec to the first line of a script
# (`print(1)` after `require "luatrain"`), and the same for python+torch.
# Uses hyperfine when installed, else a loop of 20 runs (median).
# Prints "RESULT startup_ms <ms>" for luatrain and "RESULT torch_startup_ms".
# Usage: BUILD=build sh bench/startup.sh
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
PY=${PYTHON:-python3}
[ -x bench/.venv/bin/python ] && PY=bench/.venv/bin/python
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
printf 'local lt = require "luatrain"\nprint(1)\n' > "$TMP/first.lua"
printf 'import torch\nprint(1)\n' > "$TMP/first.py"

median_ms() {  # command... -> median wall ms of 20 runs
  i=0
  while [ $i -lt 20 ]; do
    s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
    i=$((i + 1))
  done | sort -n | awk '{ a[NR] = $1 } END { printf "%.2f\n", a[int((NR + 1) / 2)] / 1000 }'
}

if command -v hyperfine >/dev/null 2>&1; then
  hyperfine -N --warmup 3 --runs 30 --export-json "$TMP/lt.json" "$BUILD/luatrain $TMP/first.lua" >&2
  hyperfine -N --warmup 1 --runs 5 --export-json "$TMP/py.json" "$PY $TMP/first.py" >&2
  lt=$("$PY" -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1e3))' "$TMP/lt.json")
  py=$("$PY" -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1e3))' "$TMP/py.json")
else
  lt=$(median_ms "$BUILD/luatrain" "$TMP/first.lua")
  py=$(median_ms "$PY" "$TMP/first.py")
fi
echo "RESULT startup_ms $lt"
echo "RESULT torch_startup_ms $py"
