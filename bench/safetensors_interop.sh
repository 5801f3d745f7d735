#!/bin/sh
# bench/safetensors_interop.sh - checkpoints cross between luatrain and
# Python: a file saved by lt.save loads in safetensors.numpy / torch with
# equal values, and a file written by Python's safetensors loads in lt.load
# with equal values. Prints PASS/FAIL per tensor; exit 1 on any FAIL.
# Usage: BUILD=build sh bench/safetensors_interop.sh
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
PY=${PYTHON:-python3}
[ -x bench/.venv/bin/python ] && PY=bench/.venv/bin/python
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rc=0
# luatrain -> python
"$BUILD/luatrain" bench/safetensors_interop.lua save "$TMP" || { echo "FAIL luatrain could not save"; exit 1; }
"$PY" bench/safetensors_interop.py check "$TMP/lua.safetensors" "$TMP/ref.json" || rc=1
# python -> luatrain
"$PY" bench/safetensors_interop.py write "$TMP/py.safetensors" || { echo "FAIL python could not write"; exit 1; }
"$BUILD/luatrain" bench/safetensors_interop.lua load "$TMP/py.safetensors" || rc=1
[ $rc -eq 0 ] && echo "PASS safetensors interop" || echo "FAIL safetensors interop"
exit $rc
