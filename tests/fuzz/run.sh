#!/bin/sh
# tests/fuzz/run.sh [seconds] - builds the libFuzzer harnesses
# (fuzz_safetensors, fuzz_idx) with clang -fsanitize=fuzzer,address,undefined
# against the engine sources, writes a small seed corpus, and runs each
# harness for `seconds` (default 60). Crashes land in $FUZZ_OUT/crashes.
# Env: CLANG (clang), FUZZ_OUT (build-fuzz), FUZZ_EXTRA (extra .c files),
#      FUZZ_ONLY (run one harness: safetensors or idx).
set -eu
SECS=${1:-60}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${FUZZ_OUT:-$ROOT/build-fuzz}
CC=${CLANG:-clang}
cd "$ROOT"
mkdir -p "$OUT/obj" "$OUT/seeds/safetensors" "$OUT/seeds/idx" "$OUT/corpus/safetensors" \
  "$OUT/corpus/idx" "$OUT/crashes"

CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fopenmp -Iengine \
  $(pkg-config --cflags jansson zlib openblas 2>/dev/null)"
LIBS="$(pkg-config --libs jansson zlib openblas 2>/dev/null) -fopenmp -lm -ldl -lpthread"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"

# engine objects, rebuilt when a source or header is newer
OBJS=""
for src in engine/*.c ${FUZZ_EXTRA:-}; do
  obj="$OUT/obj/$(echo "$src" | tr '/' '_').o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find engine -name '*.h' -newer "$obj")" ]; then
    $CC $CFLAGS $SAN -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
  fi
  OBJS="$OBJS $obj"
done
for h in safetensors idx; do
  $CC $CFLAGS $SAN -fsanitize=fuzzer -o "$OUT/fuzz_$h" "tests/fuzz/fuzz_$h.c" $OBJS $LIBS
done

# seeds: a few valid and near-valid inputs
seed_st() {  # seed_st file json data-bytes
  json=$2
  n=${#json}
  {
    printf "\\$(printf %03o $((n & 255)))\\$(printf %03o $(((n >> 8) & 255)))"
    printf '\000\000\000\000\000\000'
    printf '%s' "$json"
    printf "$3"
  } > "$OUT/seeds/safetensors/$1"
}
seed_st empty '{}' ''
seed_st meta '{"__metadata__":{"format":"pt"}}' ''
seed_st f32 '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' '\000\000\200\077\000\000\000\100'
seed_st two '{"__metadata__":{"k":"v"},"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"U8","shape":[2,1],"data_offsets":[8,10]}}' '\001\000\000\000\000\000\000\000\007\011'
seed_st zero '{"z":{"dtype":"BF16","shape":[0,3],"data_offsets":[0,0]},"b":{"dtype":"BOOL","shape":[],"data_offsets":[0,1]}}' '\001'
printf '{"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"__metadata__":{"x":"y"}}\001\002\003\004\005\006\007\010' > "$OUT/seeds/safetensors/json_only"
seed_st bad '{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,4]}}' '\000\000\000\000'

printf '\000\000\010\001\000\000\000\003\001\002\003' > "$OUT/seeds/idx/u8"
printf '\000\000\010\002\000\000\000\002\000\000\000\002\001\002\003\004' > "$OUT/seeds/idx/u8_2d"
printf '\000\000\013\001\000\000\000\002\377\376\001\000' > "$OUT/seeds/idx/i16"
printf '\000\000\015\001\000\000\000\001\077\300\000\000' > "$OUT/seeds/idx/f32"
printf '\000\000\016\001\000\000\000\001\077\370\000\000\000\000\000\000' > "$OUT/seeds/idx/f64"
gzip -c "$OUT/seeds/idx/u8_2d" > "$OUT/seeds/idx/u8_2d.gz"
gzip -c "$OUT/seeds/idx/f32" > "$OUT/seeds/idx/f32.gz"

status=0
for h in safetensors idx; do
  if [ -n "${FUZZ_ONLY:-}" ] && [ "$FUZZ_ONLY" != "$h" ]; then continue; fi
  dict=""
  [ -f "tests/fuzz/$h.dict" ] && dict="-dict=tests/fuzz/$h.dict"
  echo "== fuzz_$h for ${SECS}s"
  if ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "$OUT/fuzz_$h" -max_total_time="$SECS" -max_len=4096 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$OUT/crashes/$h-" $dict \
       "$OUT/corpus/$h" "$OUT/seeds/$h" > "$OUT/fuzz_$h.log" 2>&1; then
    tail -n 12 "$OUT/fuzz_$h.log"
  else
    tail -n 60 "$OUT/fuzz_$h.log"
    echo "fuzz_$h FAILED (log: $OUT/fuzz_$h.log)"
    status=1
  fi
done
exit $status
