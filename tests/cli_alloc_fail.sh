#!/usr/bin/env bash
# Every allocation of ser's own code is checked: with the LD_PRELOAD shim tests/alloc_fail_shim.c
# one allocation fails (SER_ALLOC_FAIL=N), for the first allocation of every call site in turn
# (a site: the caller and its caller; the sites and their first indexes come from one counting
# run; a site a command before already covered is not run again). Three commands: a short
# `ser train` with a test folder, `ser train --resume RUN --set train.epochs=2`, and an
# ensemble `ser eval` with --probs. Each failing run must end by itself with exit 0 (a fallback
# that needs no memory) or with an error that says it ran out of memory: never a signal (a
# NULL dereference, an assertion) and never an error that blames something else.
# SKIPPED where the shim is not built (sanitizer builds, non-glibc systems).
set -u
. "$(dirname "$0")/lib_cli.sh" cli_alloc_fail
shim=${SER_ALLOC_SHIM:-}
if [ -z "$shim" ] || [ ! -f "$shim" ]; then echo "SKIPPED: no allocation-failure shim (SER_ALLOC_SHIM)"; exit 77; fi

"$SER_BIN" synth --out "$tmp/syn" --per-class 2 --seed 5 >/dev/null || { echo "FAIL: synth"; exit 1; }
sets=(--set train.epochs=1 --set train.threads=1 --set train.batch_size=8 --set model.filters=8
      --set model.lstm_units=8 --set features.frames=32)
export OMP_NUM_THREADS=1
"$SER_BIN" train --data "$tmp/syn" "${sets[@]}" --quiet --out "$tmp/base" >/dev/null 2>"$tmp/e" ||
  { echo "FAIL: base run: $(tail -2 "$tmp/e")"; exit 1; }
cp -r "$tmp/base" "$tmp/base2"

# $1 a name; the rest: the command, run in $tmp/work (prepared by prep_$1 before every run).
prep_train() { rm -rf "$tmp/work/run"; }
prep_resume() { rm -rf "$tmp/work/run"; cp -r "$tmp/base" "$tmp/work/run"; }
prep_eval() { :; }
sweep() {
  local name=$1; shift
  mkdir -p "$tmp/work"
  "prep_$name"
  (cd "$tmp/work" && SER_ALLOC_SITES="$tmp/sites" LD_PRELOAD="$shim" "$@" >/dev/null 2>"$tmp/e")
  if [ $? -ne 0 ]; then bad "$name: the counting run failed: $(tail -2 "$tmp/e")"; return; fi
  local firsts n_sites=0 n_fail=0
  [ -s "$tmp/covered" ] || echo "#" >"$tmp/covered" # awk: an empty first file would not count as one
  # "first-index site" lines of the sites no earlier sweep covered
  firsts=$(awk 'NR == FNR { seen[$0] = 1; next } !(($2 " " $3) in seen) { print $1 }' "$tmp/covered" "$tmp/sites" | sort -n)
  awk '{ print $2 " " $3 }' "$tmp/sites" >>"$tmp/covered"
  for n in $firsts; do
    n_sites=$((n_sites + 1))
    "prep_$name"
    (cd "$tmp/work" && SER_ALLOC_FAIL=$n LD_PRELOAD="$shim" timeout 120 "$@" >/dev/null 2>"$tmp/e")
    local rc=$?
    if [ $rc -ge 124 ] || { [ $rc -ne 0 ] && ! grep -qi "memory" "$tmp/e"; }; then
      n_fail=$((n_fail + 1))
      bad "$name: allocation $n failing: exit $rc: $(tail -1 "$tmp/e" | cut -c1-300)"
    else ok; fi
  done
  echo "$name: $(wc -l <"$tmp/sites") allocation sites, $n_sites not covered before: $n_fail not handled"
}

sweep train "$SER_BIN" train --data "$tmp/syn" "${sets[@]}" --test-dir "$tmp/syn" --quiet --out run
sweep resume "$SER_BIN" train --resume run --set train.epochs=2 --quiet
sweep eval "$SER_BIN" eval --model "$tmp/base/model.safetensors" --model "$tmp/base2/model.safetensors" \
  --list "$tmp/base/val.tsv" --png cm.png --probs probs.tsv

if [ $fail -ne 0 ]; then
  echo "cli_alloc_fail: $pass passed, $fail failed"
  exit 1
fi
echo "cli_alloc_fail: $pass passed"
