#!/usr/bin/env bash
# `ser check`: without a GPU (or without the CUDA backend) it prints one line and exits 2; with
# one it compares the backends on a small model and exits 0. `--against cpu` runs the whole
# comparison and table anywhere on two CPU code paths: the CPU backend's oneDNN convolutions
# against its im2col + OpenBLAS ones (cpu-im2col): every row ok, and some conv activation or
# conv gradient differs by rounding, which shows that two paths ran. With SER_ONEDNN=0 both paths are
# im2col: every difference is exactly 0 (the comparison itself).
set -u
. "$(dirname "$0")/lib_cli.sh" cli_check
small=(--set model.conv_blocks=2 --set model.filters=16 --set features.frames=32 --batch 6 --steps 3)

"$SER_BIN" --version >"$tmp/version"
if grep -q "^cuda device: [^n]" "$tmp/version"; then
  echo "GPU: $(grep '^cuda device' "$tmp/version")"
  "$SER_BIN" check "${small[@]}" >"$tmp/out" 2>"$tmp/err"; rc=$?
  check '[ $rc -eq 0 ]' "ser check on the GPU: exit $rc: $(grep -E 'FAIL|error' "$tmp/out" "$tmp/err" | head -20)"
  check 'grep -q "all [0-9]* comparisons within tolerance" "$tmp/out"' "no verdict line"
else
  "$SER_BIN" check >"$tmp/out" 2>"$tmp/err"; rc=$?
  check '[ $rc -eq 2 ]' "ser check without a GPU should exit 2 (got $rc)"
  check '[ "$(wc -l < "$tmp/err")" -eq 1 ] && [ ! -s "$tmp/out" ]' "expected exactly one line: $(cat "$tmp/out" "$tmp/err")"
  check 'grep -q "^ser check: nothing to compare: " "$tmp/err"' "unclear line: $(cat "$tmp/err")"
  echo "without a GPU: $(cat "$tmp/err")"
fi

"$SER_BIN" check --against cpu "${small[@]}" >"$tmp/self" 2>"$tmp/self.err"; rc=$?
check '[ $rc -eq 0 ]' "check --against cpu: exit $rc: $(cat "$tmp/self.err")"
check 'grep -q "all [0-9]* comparisons within tolerance" "$tmp/self"' "self check verdict"
for what in conv1 pool2 dropout_mask1 lstm1 attention logits probs loss conv1.kernel dense.bias \
            bn2.moving_variance "loss step 3"; do
  check 'grep -q " $what " "$tmp/self"' "self check lacks a row for $what"
done
check '! grep -q FAIL "$tmp/self"' "a FAIL between the oneDNN and the im2col convolutions"
check 'grep -q "^ser check: cpu (.*) vs cpu-im2col (.*convolutions on im2col" "$tmp/self"' "the header does not name cpu-im2col: $(head -1 "$tmp/self")"
# the largest difference (column max|diff|) of the conv activations and the conv gradients
conv_diff() { awk '($1 == "forward" || $1 == "gradient") && $2 ~ /^conv[0-9]+(\.kernel)?$/ && $5 + 0 > m { m = $5 + 0 } END { print m + 0 }' "$1"; }
if grep -q "^convolutions: oneDNN vs im2col" "$tmp/self"; then
  check 'awk "BEGIN { exit !($(conv_diff "$tmp/self") > 0) }"' "oneDNN against im2col: every conv activation and gradient identical: one code path ran twice"
  echo "oneDNN vs im2col: largest conv activation / gradient difference $(conv_diff "$tmp/self")"
else
  echo "this build has no oneDNN: --against cpu compares im2col with itself"
fi
SER_ONEDNN=0 "$SER_BIN" check --against cpu "${small[@]}" >"$tmp/same" 2>"$tmp/same.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "^convolutions: im2col + OpenBLAS vs im2col + OpenBLAS (oneDNN off" "$tmp/same"' \
  "SER_ONEDNN=0 check --against cpu: exit $rc: $(grep '^convolutions' "$tmp/same") $(cat "$tmp/same.err")"
check '[ "$(conv_diff "$tmp/same")" = 0 ]' "one code path twice: conv differences $(conv_diff "$tmp/same"), expected 0"

# the batch from a corpus (--data): clips spread over it, labels from their names, scaled features
"$SER_BIN" synth --out "$tmp/syn" --per-class 2 --seed 5 >/dev/null 2>&1 || bad "synth failed"
"$SER_BIN" check --against cpu --data "$tmp/syn" "${small[@]}" >"$tmp/data" 2>"$tmp/data.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "all [0-9]* comparisons within tolerance" "$tmp/data"' "check --data: exit $rc: $(cat "$tmp/data.err")"
check 'grep -q "data: $tmp/syn" "$tmp/data"' "check --data does not name its data"

"$SER_BIN" check --batch 1 >/dev/null 2>&1; rc=$?
check '[ $rc -eq 2 ]' "--batch 1 is a usage error (exit $rc)"

echo "cli_check: $pass passed, $fail failed"
[ $fail -eq 0 ]
