#!/usr/bin/env bash
# features.vtln (each speaker's mel warp) through the on-disk feature cache: the same warps and a
# model byte-identical to the in-memory path (SER_FEATURE_CACHE=off); the warped records are
# cached, so a second run computes nothing; ser eval through the cache equals ser eval in memory.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_vtln_cache
export SER_FEATURE_CACHE="$tmp/fc"
"$SER_BIN" synth --out "$tmp/syn" --per-class 4 --speakers 4 --seed 3 >/dev/null || bad "synth failed"
sets=(--set train.epochs=2 --set train.batch_size=16 --set features.normalize=speaker --set features.vtln=0.1)

SER_FEATURE_CACHE=off "$SER_BIN" train --data "$tmp/syn" --out "$tmp/mem" "${sets[@]}" >/dev/null 2>"$tmp/mem.err"
check '[ $? -eq 0 ]' "in-memory train failed: $(tail -2 "$tmp/mem.err")"
"$SER_BIN" train --data "$tmp/syn" --out "$tmp/disk" "${sets[@]}" >/dev/null 2>"$tmp/disk.err"
check '[ $? -eq 0 ]' "cached train failed: $(tail -2 "$tmp/disk.err")"
check 'grep -q "feature cache $tmp/fc" "$tmp/disk.err"' "the vtln run did not use the feature cache: $(grep -i cache "$tmp/disk.err")"
grep 'vtln warp' "$tmp/mem.err" >"$tmp/mem.warps"
grep 'vtln warp' "$tmp/disk.err" >"$tmp/disk.warps"
check '[ -s "$tmp/mem.warps" ] && cmp -s "$tmp/mem.warps" "$tmp/disk.warps"' \
  "the warps differ: $(diff "$tmp/mem.warps" "$tmp/disk.warps" | head -4)"
check 'grep -v "vtln warp 1.00" "$tmp/disk.warps" | grep -q .' "no speaker was warped: the test exercises nothing ($(cat "$tmp/disk.warps"))"
check 'cmp -s "$tmp/mem/model.safetensors" "$tmp/disk/model.safetensors"' "the cached vtln run's model differs from the in-memory run's"

# the warped records are cached: a second run computes no clip
"$SER_BIN" train --data "$tmp/syn" --out "$tmp/disk2" "${sets[@]}" >/dev/null 2>"$tmp/disk2.err"
check '[ $? -eq 0 ] && grep -q "feature cache: 0 clips computed" "$tmp/disk2.err"' \
  "the second vtln run computed features: $(grep 'clips computed' "$tmp/disk2.err")"
check 'cmp -s "$tmp/mem/model.safetensors" "$tmp/disk2/model.safetensors"' "the second cached vtln run's model differs"

# ser eval (the model's reference statistics choose the warps) through the cache and in memory
SER_FEATURE_CACHE=off "$SER_BIN" eval --model "$tmp/mem/model.safetensors" --data "$tmp/syn" >"$tmp/eval_mem.out" 2>"$tmp/eval_mem.err"
check '[ $? -eq 0 ]' "in-memory eval failed: $(tail -2 "$tmp/eval_mem.err")"
"$SER_BIN" eval --model "$tmp/mem/model.safetensors" --data "$tmp/syn" >"$tmp/eval_disk.out" 2>"$tmp/eval_disk.err"
check '[ $? -eq 0 ]' "cached eval failed: $(tail -2 "$tmp/eval_disk.err")"
check 'cmp -s "$tmp/eval_mem.out" "$tmp/eval_disk.out"' "ser eval differs: $(diff "$tmp/eval_mem.out" "$tmp/eval_disk.out" | head -4)"

[ $fail -eq 0 ] && echo "cli_vtln_cache: $pass checks passed"
exit $fail
