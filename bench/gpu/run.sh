#!/bin/sh
# bench/gpu/run.sh - the GPU benchmarks, luatrain against PyTorch on the same
# card in one run: ops.lua / ops_torch.py (tiny-op overhead, matmul 4096,
# MLP epoch), cnn_epoch (TensorFlow-tutorial CNN, one Fashion-MNIST epoch),
# gpt_char (GPT-char training iteration in fp32, tf32, bf16; torch.compile
# when time is left), then one table: benchmark | luatrain | torch | ratio.
# Each step has a time cap, and all together stay within BENCH_BUDGET seconds
# (default 150); a step that fails or runs out of time says so and the table
# shows n/a. It does not build anything and does not check results.
# Usage: BUILD=build sh bench/gpu/run.sh     (PYTHON= picks the interpreter)
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
BUDGET=${BENCH_BUDGET:-150}
OUT=${TMPDIR:-/tmp}/lt-gpu-bench.$$
mkdir -p "$OUT"
: > "$OUT/lt.txt"
: > "$OUT/torch.txt"
# PYTHON, else python3 when it has torch (the GPU machine's), else bench/.venv's
PY=${PYTHON:-python3}
if [ -z "${PYTHON:-}" ] && [ -x bench/.venv/bin/python ] &&
   ! python3 -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is None)" 2>/dev/null; then
  PY=bench/.venv/bin/python
fi
export PYTHONUNBUFFERED=1
LTBIN=$BUILD/luatrain
LINEBUF="io.stdout:setvbuf('line')"   # run first (-e): a luatrain killed by its cap keeps its lines
START=$(date +%s)
FAILED=0

# step NAME CAP FILE CMD... : runs CMD for at most min(CAP, budget left)
# seconds, shows its output and appends it to FILE (lt.txt or torch.txt)
step() {
  name=$1; cap=$2; file=$3; shift 3
  left=$((BUDGET - ($(date +%s) - START) - 2))
  [ "$cap" -gt "$left" ] && cap=$left
  if [ "$cap" -lt 5 ]; then
    echo "$name: skipped (bench budget of ${BUDGET}s spent)" | tee -a "$file"
    return
  fi
  echo "--- $name (at most ${cap}s)"
  t0=$(date +%s)
  timeout -k 3 "$cap" "$@" > "$OUT/step.txt" 2>&1
  rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    echo "$name: TIMEOUT after ${cap}s" >> "$OUT/step.txt"
  elif [ $rc -ne 0 ]; then
    echo "$name: FAILED (exit status $rc)" >> "$OUT/step.txt"
  fi
  [ $rc -ne 0 ] && FAILED=$((FAILED + 1))
  echo "($name: $(( $(date +%s) - t0 ))s)" >> "$OUT/step.txt"
  cat "$OUT/step.txt"
  cat "$OUT/step.txt" >> "$file"
}

echo "=== GPU: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)"
if [ -x "$LTBIN" ]; then HAVE_LT=1; else HAVE_LT=""; echo "no $LTBIN: luatrain steps skipped"; fi

[ -n "$HAVE_LT" ] && step ops.lua 30 "$OUT/lt.txt" "$LTBIN" -e "$LINEBUF" bench/gpu/ops.lua
step ops_torch.py 35 "$OUT/torch.txt" "$PY" bench/gpu/ops_torch.py

# CNN: time up to 12 s of the epoch; torch then times as many batches as luatrain did
[ -n "$HAVE_LT" ] && step cnn_epoch.lua 30 "$OUT/lt.txt" "$LTBIN" -e "$LINEBUF" bench/gpu/cnn_epoch.lua --time-limit 12
NB=$(awk '$1 == "RESULT" && $2 == "cnn_batches" { print $3 }' "$OUT/lt.txt" | tail -n 1)
CNN_ARGS="--time-limit 12"
[ -n "$NB" ] && [ "$NB" -lt 600 ] && CNN_ARGS="$CNN_ARGS --max-batches $NB"
# shellcheck disable=SC2086 # CNN_ARGS is a list of words
step cnn_epoch_torch.py 30 "$OUT/torch.txt" "$PY" bench/gpu/cnn_epoch_torch.py $CNN_ARGS

# GPT-char: 2 warm-up + up to 10 timed iterations (at most 4 s) per precision
[ -n "$HAVE_LT" ] && step gpt_char.lua 35 "$OUT/lt.txt" "$LTBIN" -e "$LINEBUF" bench/gpu/gpt_char.lua --iters 10 --warmup 2 --time-limit 4
step gpt_char_torch.py 35 "$OUT/torch.txt" "$PY" bench/gpu/gpt_char_torch.py --iters 10 --warmup 2 --time-limit 4

# torch.compile (bf16 autocast) with what is left of the budget
left=$((BUDGET - ($(date +%s) - START) - 2))
if [ "$left" -ge 30 ]; then
  step torch.compile "$left" "$OUT/torch.txt" "$PY" bench/gpu/gpt_char_torch.py --modes compile \
    --iters 10 --warmup 2 --time-limit 4 --compile-timeout $((left - 10))
else
  echo "compile: skipped (${left}s of the bench budget left, 30 needed)" | tee -a "$OUT/torch.txt"
fi

echo
echo "=== luatrain vs torch on $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1) ($(( $(date +%s) - START ))s)"
echo "ratio = luatrain / torch; for TFLOP/s rows it is torch / luatrain (= luatrain time / torch time),"
echo "so above 1 means luatrain is slower (or, for memory, uses more); n/a: no result (see above)"
printf '%-44s | %10s | %10s | %6s\n' benchmark luatrain torch ratio
printf '%-44s-|-%10s-|-%10s-|-%6s\n' -------------------------------------------- ---------- ---------- ------
awk -F'|' -v LTF="$OUT/lt.txt" -v THF="$OUT/torch.txt" '
  BEGIN {
    while ((getline line < LTF) > 0) { split(line, f, " "); if (f[1] == "RESULT") lt[f[2]] = f[3] }
    while ((getline line < THF) > 0) { split(line, f, " "); if (f[1] == "RESULT") th[f[2]] = f[3] }
  }
  # key | label | ratio (time: lt/th, rate: th/lt) | luatrain key when it differs
  {
    lk = ($4 != "") ? $4 : $1
    a = (lk in lt) ? lt[lk] : ""; b = ($1 in th) ? th[$1] : ""
    r = "-"
    if (a != "" && b != "" && a + 0 != 0 && b + 0 != 0) r = sprintf("%.2f", $3 == "rate" ? b / a : a / b)
    printf "%-44s | %10s | %10s | %6s\n", $2, (a == "" ? "n/a" : a), (b == "" ? "n/a" : b), r
  }' <<'EOF'
add_us|tiny op x + x (us/op)|time
add_inplace_us|tiny op x:add_(0) (us/op)|time
relu_us|tiny op relu (us/op)|time
sum_us|tiny op sum (us/op)|time
matmul4096_fp32_tflops|matmul 4096 fp32 (TFLOP/s)|rate
matmul4096_tf32_tflops|matmul 4096 tf32 (TFLOP/s)|rate
mlp_epoch_s|MLP epoch, batch 128 (s)|time
cnn_epoch_s|CNN epoch, batch 100 (s)|time
cnn_test_acc|CNN test accuracy after the epoch|time
cnn_peak_mib|CNN peak memory (MiB)|time
gpt_fp32_ms|GPT-char fp32 (ms/iter)|time
gpt_tf32_ms|GPT-char tf32 (ms/iter)|time
gpt_bf16_ms|GPT-char bf16 autocast (ms/iter)|time
gpt_compile_ms|GPT-char bf16, torch.compile (ms/iter)|time|gpt_bf16_ms
gpt_fp32_peak_mib|GPT-char fp32 peak memory (MiB)|time
gpt_tf32_peak_mib|GPT-char tf32 peak memory (MiB)|time
gpt_bf16_peak_mib|GPT-char bf16 peak memory (MiB)|time
EOF
NOTES='^info: cnn_epoch (timed|accuracy on)|^(bf16|fp32|tf32|compile): |: (TIMEOUT|FAILED|skipped)'
grep -E "$NOTES" "$OUT/lt.txt" | sed 's/^/note (luatrain): /'
grep -E "$NOTES" "$OUT/torch.txt" | sed 's/^/note (torch): /'
echo "steps failed or timed out: $FAILED"
rm -rf "$OUT"
exit "$FAILED"
