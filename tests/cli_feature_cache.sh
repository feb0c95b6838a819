#!/usr/bin/env bash
# The on-disk feature cache end to end (docs/config.md#memory): `ser cv` computes every clip's
# features once, before the folds, and no fold computes any; a run through the cache ends
# bit-identical to the in-memory path (SER_FEATURE_CACHE=off), per-speaker normalisation
# included; a corrupted and a truncated segment are rebuilt, and the run still ends identical.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_feature_cache
export SER_FEATURE_CACHE="$tmp/fc"
"$SER_BIN" synth --out "$tmp/syn" --per-class 4 --speakers 4 --seed 3 >/dev/null || bad "synth failed"
n=$(find "$tmp/syn" -name '*.wav' | wc -l)

"$SER_BIN" cv --data "$tmp/syn" --out "$tmp/cv" --folds 2 --set train.epochs=1 --set train.batch_size=16 \
    >/dev/null 2>"$tmp/cv.err"
check '[ $? -eq 0 ]' "ser cv failed: $(tail -3 "$tmp/cv.err")"
check 'grep -q "feature cache: $n clips computed" "$tmp/cv.err"' "ser cv did not compute the $n clips once: $(grep cache "$tmp/cv.err")"
for k in 1 2; do
  check 'grep -q "feature cache: 0 clips computed" "$tmp/cv/fold_$k/train.log"' \
    "fold $k computed features: $(grep 'feature cache' "$tmp/cv/fold_$k/train.log")"
done
# a second ser cv on the same clips and feature keys computes nothing
"$SER_BIN" cv --data "$tmp/syn" --out "$tmp/cv2" --folds 2 --set train.epochs=1 --set train.batch_size=32 \
    >/dev/null 2>"$tmp/cv2.err"
check 'grep -q "feature cache: 0 clips computed" "$tmp/cv2.err"' "the second ser cv computed features again"

# the same run in memory and through the cache: the same model, bit for bit
sets=(--set train.epochs=2 --set train.batch_size=16 --set features.normalize=2)
SER_FEATURE_CACHE=off "$SER_BIN" train --data "$tmp/syn" --out "$tmp/mem" "${sets[@]}" --quiet >/dev/null 2>"$tmp/mem.err" ||
  bad "in-memory train failed: $(tail -2 "$tmp/mem.err")"
"$SER_BIN" train --data "$tmp/syn" --out "$tmp/disk" "${sets[@]}" --quiet >/dev/null 2>"$tmp/disk.err" ||
  bad "cached train failed: $(tail -2 "$tmp/disk.err")"
check 'cmp -s "$tmp/mem/model.safetensors" "$tmp/disk/model.safetensors"' "the cached run's model differs from the in-memory run's"

# damage: a byte flipped inside the records of the (one, ser cv's) segment; then the end cut
# off a segment: each time the segment is deleted and its clips computed again, and the run
# still ends identical
damaged_run() { # NAME: trains into $tmp/NAME, checks the report and the model
  local name=$1
  "$SER_BIN" train --data "$tmp/syn" --out "$tmp/$name" "${sets[@]}" >/dev/null 2>"$tmp/$name.err" ||
    bad "train after damage ($name) failed: $(tail -2 "$tmp/$name.err")"
  check 'grep -q "damaged" "$tmp/$name.err"' "$name: the damaged segment was not reported: $(grep cache "$tmp/$name.err")"
  check '! grep -q "feature cache: 0 clips computed" "$tmp/$name.err"' "$name: nothing was computed again"
  check 'cmp -s "$tmp/mem/model.safetensors" "$tmp/$name/model.safetensors"' "$name: the run after damage differs"
}
segs=("$tmp"/fc/*/*.seg)
check '[ ${#segs[@]} -eq 1 ]' "expected ser cv's one segment, found ${#segs[@]}"
printf '\x7f\x7f\x7f\x7f' | dd of="${segs[0]}" bs=1 seek=2000 conv=notrunc 2>/dev/null
damaged_run flipped
segs=("$tmp"/fc/*/*.seg)
truncate -s -7 "${segs[0]}"
damaged_run truncated

[ $fail -eq 0 ] && echo "cli_feature_cache: $pass checks passed"
exit $fail
