#!/usr/bin/env bash
# Runs every libFuzzer target of a SER_FUZZ build for a bounded time:
#   scripts/fuzz.sh BUILD SECONDS
# Each target starts from its committed corpus (tests/fuzz/corpus/<parser>/, read only) and
# keeps what it learns in BUILD/fuzz-corpus/<parser>/ (reused by the next run). A crash, leak,
# UB report or timeout leaves the input in BUILD/fuzz-crashes/<parser>/ and fails the run:
# fix the bug, then commit the input as tests/fuzz/corpus/<parser>/crash_<what> so that the
# ctest fuzz_<parser>_corpus replays it in every build from then on.
set -uo pipefail
build=${1:?usage: scripts/fuzz.sh BUILD SECONDS}
secs=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMP_NUM_THREADS=1
shopt -s nullglob
targets=("$build"/fuzz_*)
targets=("${targets[@]/*_replay/}")
failed=()
for t in "${targets[@]}"; do
  [ -n "$t" ] && [ -x "$t" ] || continue
  parser=${t##*/fuzz_}
  work=$build/fuzz-corpus/$parser crashes=$build/fuzz-crashes/$parser
  mkdir -p "$work" "$crashes"
  log=$build/fuzz-$parser.log
  # -timeout: one input taking over 10 s is a finding; -rss_limit_mb: so is 2 GB of memory
  "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$crashes/" "$work" "$root/tests/fuzz/corpus/$parser" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz_$parser: ${secs} s, ${runs:-?} inputs, $cov, no findings"
  else
    echo "fuzz_$parser: FINDING (rc $rc), input(s) in $crashes/, log $log:"
    grep -E 'ERROR|SUMMARY|fuzz: ' "$log" | head -5 | sed 's/^/  /'
    failed+=("$parser")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: findings in: ${failed[*]}"; exit 1; }
