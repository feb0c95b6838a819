#!/usr/bin/env bash
# ser cache list / prune and $SER_FEATURE_CACHE_MAX_MB (docs/config.md#memory): whole key
# folders go by age, by build and least recently used first by size; a folder a run holds is
# never removed; a pruned recipe is simply computed again; bad options are refused.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_cache
export SER_FEATURE_CACHE="$tmp/fc"
"$SER_BIN" synth --out "$tmp/syn" --per-class 2 --speakers 2 --seed 5 >/dev/null || bad "synth failed"
train() { # NAME HOP [env...]: one tiny epoch filling the folder of recipe hop_length=HOP
  local name=$1 hop=$2
  "$SER_BIN" train --data "$tmp/syn" --out "$tmp/$name" --set train.epochs=1 --set train.batch_size=16 \
    --set features.hop_length="$hop" --quiet >/dev/null 2>"$tmp/$name.err"
}
folder_of() { grep -l "features.hop_length $1\$" "$tmp"/fc/*/key.txt | head -1 | xargs dirname; }

train a 512; check '[ $? -eq 0 ]' "train a failed: $(tail -2 "$tmp/a.err")"
train b 256; check '[ $? -eq 0 ]' "train b failed: $(tail -2 "$tmp/b.err")"
A=$(folder_of 512) B=$(folder_of 256)
check '[ -n "$A" ] && [ -n "$B" ] && [ "$A" != "$B" ]' "expected two key folders, got '$A' '$B'"
check '[ -f "$A/lock" ]' "the open run left no lock file in $A"
# an old folder (last used 10 days ago) and one of another build, made from copies of A
O=$tmp/fc/0123456789abcdef0123456789abcdef X=$tmp/fc/fedcba9876543210fedcba9876543210
cp -r "$A" "$O" && touch -d '10 days ago' "$O/lock"
cp -r "$A" "$X" && sed -i 's/^extractor .*/extractor cpu 0.0.0 0000000other/' "$X/key.txt"
mkdir -p "$tmp/fc/not-a-key" && touch "$tmp/fc/not-a-key/keep.seg"

"$SER_BIN" cache list >"$tmp/list.out" 2>"$tmp/list.err"
check '[ $? -eq 0 ]' "ser cache list failed: $(cat "$tmp/list.err")"
check '[ "$(grep -c "^[0-9a-f]\{32\} " "$tmp/list.out")" -eq 4 ]' "list should show 4 folders: $(cat "$tmp/list.out")"
check 'head -2 "$tmp/list.out" | tail -1 | grep -q "^0123456789abcdef"' "the least recently used folder is not listed first: $(cat "$tmp/list.out")"
check '! grep -q not-a-key "$tmp/list.out"' "a folder not named like a key was listed"

"$SER_BIN" cache prune --older-than-days 5 --dry-run >"$tmp/dry.out" 2>&1
check '[ $? -eq 0 ] && grep -q "would remove 0123456789abcdef" "$tmp/dry.out" && [ -d "$O" ]' \
  "--dry-run removed or did not name the old folder: $(cat "$tmp/dry.out")"
"$SER_BIN" cache prune --older-than-days 5 >"$tmp/age.out" 2>&1
check '[ $? -eq 0 ] && [ ! -e "$O" ] && [ -d "$A" ] && [ -d "$B" ] && [ -d "$X" ]' \
  "--older-than-days 5 should remove exactly the old folder: $(cat "$tmp/age.out")"
"$SER_BIN" cache prune --other-builds >"$tmp/build.out" 2>&1
check '[ $? -eq 0 ] && [ ! -e "$X" ] && [ -d "$A" ] && [ -d "$B" ]' \
  "--other-builds should remove exactly the other build's folder: $(cat "$tmp/build.out")"

# a folder in use (a shared lock, as a running ser holds it) survives --max-mb 0
exec 8<"$B/lock"
flock -s 8
"$SER_BIN" cache prune --max-mb 0 >"$tmp/size.out" 2>&1
check '[ $? -eq 0 ] && [ ! -e "$A" ] && [ -d "$B" ] && [ -f "$B/lock" ]' \
  "--max-mb 0 should remove A and keep B (in use): $(cat "$tmp/size.out")"
check '[ -f "$tmp/fc/not-a-key/keep.seg" ]' "prune touched a folder that is not a key folder"
exec 8<&-

# the pruned recipe is computed again; SER_FEATURE_CACHE_MAX_MB=0 then prunes B at the start
# of the run, never the run's own folder
SER_FEATURE_CACHE_MAX_MB=0 train a2 512
check '[ $? -eq 0 ] && grep -q "pruned" "$tmp/a2.err"' "train with SER_FEATURE_CACHE_MAX_MB=0 failed or did not prune: $(tail -3 "$tmp/a2.err")"
check '[ -d "$A" ] && ! grep -q "0 clips computed" "$tmp/a2.err" && [ ! -e "$B" ]' \
  "after the budget run: own folder $A should exist (recomputed) and B be gone"
check 'cmp -s "$tmp/a/model.safetensors" "$tmp/a2/model.safetensors"' "the recomputed recipe trained a different model"

# a run waiting for the lock while prune removes its folder makes the folder again
flock -x "$A/lock" sh -c "sleep 1; rm -rf '$A'" &
sleep 0.3
train a3 512; rc=$?
wait
check '[ $rc -eq 0 ] && [ -f "$A/lock" ] && ls "$A"/*.seg >/dev/null 2>&1' \
  "a run whose folder was removed while it waited failed or left no folder: $(tail -2 "$tmp/a3.err")"
check 'cmp -s "$tmp/a/model.safetensors" "$tmp/a3/model.safetensors"' "the run after the removal trained a different model"

# refusals
"$SER_BIN" cache prune >/dev/null 2>"$tmp/e1.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "max-mb" "$tmp/e1.err"' "prune with no rule: rc $rc, $(cat "$tmp/e1.err")"
"$SER_BIN" cache prune --max-mb lots >/dev/null 2>"$tmp/e2.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "lots" "$tmp/e2.err"' "--max-mb lots: rc $rc, $(cat "$tmp/e2.err")"
"$SER_BIN" cache tidy >/dev/null 2>"$tmp/e3.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "tidy" "$tmp/e3.err"' "unknown action: rc $rc, $(cat "$tmp/e3.err")"
SER_FEATURE_CACHE_MAX_MB=much train e4 512; rc=$?
check '[ $rc -ne 0 ] && grep -q "SER_FEATURE_CACHE_MAX_MB" "$tmp/e4.err"' "a bad budget was not refused: rc $rc, $(tail -2 "$tmp/e4.err")"

[ $fail -eq 0 ] && echo "cli_cache: $pass checks passed"
exit $fail
