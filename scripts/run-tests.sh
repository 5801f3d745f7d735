#!/bin/sh
# run-tests.sh - runs every test: the engine's C tests, then the busted specs
# (inside the host; the examples are run by tests/examples_spec.lua), and
# prints "N passed, N failed" as its last line. BUILD selects the build dir.
BUILD=${BUILD:-build}
export LUATRAIN_BUILD="$BUILD"
passed=0
failed=0
skipped=0
log=$(mktemp)
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  if "$t" >"$log" 2>&1; then :; fi
  line=$(grep -E '^ctest .*: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    echo "CRASH $t"; cat "$log"; failed=$((failed + 1)); continue
  fi
  p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/')
  f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/')
  echo "$line"
  [ "$f" -gt 0 ] && grep FAIL "$log" | head -n 20
  passed=$((passed + p)); failed=$((failed + f))
done
# busted, inside the host
busted --lua="$BUILD/luatrain" -o utfTerminal --exclude-tags=manual "$@" >"$log" 2>&1
rc=$?
cat "$log"
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors?' | tail -n 1)
if [ -z "$summary" ]; then
  echo "busted did not report a summary (exit $rc)"; failed=$((failed + 1))
else
  s=$(echo "$summary" | sed -E 's/^[^0-9]*([0-9]+) success.*/\1/')
  fl=$(echo "$summary" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
  er=$(echo "$summary" | sed -E 's/.* ([0-9]+) errors?.*/\1/')
  pe=$(echo "$summary" | sed -E 's/.* ([0-9]+) pending.*/\1/')
  passed=$((passed + s)); failed=$((failed + fl + er)); skipped=$((skipped + pe))
fi
rm -f "$log"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
