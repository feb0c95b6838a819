#!/usr/bin/env bash
# `ser cv` end to end on `ser synth` audio (4 speakers): k-fold, loso, plain speaker lists and
# EmoBox jsonl lists (lines in EmoBox's real format) give the folds they should; a 2-fold run
# trains both folds and cv.json's mean and sample std equal the ones recomputed here from the
# folds' report.json; a rerun after deleting one fold retrains only that fold (the other's
# files keep their mtimes) and one after deleting a report resumes; --print-commands lines run
# as they are (ser cv --fold K) and --collect gives the same cv.json; --jobs 2 gives bit-identical folds with a
# fixed train.threads; bad input fails naming the reason.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_cv

"$SER_BIN" synth --out "$tmp/syn" --per-class 3 --speakers 4 --seed 3 >/dev/null || bad "synth failed"
sets=(--set model.filters=8 --set model.lstm_units=8 --set model.conv_blocks=2 --set features.frames=64
      --set train.batch_size=16 --set train.epochs=2 --set train.threads=1)
cv() { "$SER_BIN" cv --data "$tmp/syn" "$@"; }
speakers() { cut -f3 "$1" | grep -v '^speaker$' | grep -v '^#' | sort -u | tr '\n' ' '; }

# ---- folds ----------------------------------------------------------------------------------
cv --out "$tmp/k2" --folds 2 --print-commands >"$tmp/k2.cmds" 2>"$tmp/k2.err"; rc=$?
check '[ $rc -eq 0 ] && [ "$(wc -l <"$tmp/k2.cmds")" -eq 2 ]' "--print-commands: rc $rc, $(cat "$tmp/k2.err")"
all=""
for k in 1 2; do
  t=$(speakers "$tmp/k2/fold_$k/cv_test.tsv"); tr_=$(speakers "$tmp/k2/fold_$k/cv_train.tsv"); v=$(speakers "$tmp/k2/fold_$k/cv_val.tsv")
  all="$all$t"
  check '[ "$(echo $t | wc -w)" -eq 2 ] && [ "$(wc -l <"$tmp/k2/fold_$k/cv_test.tsv")" -eq 43 ]' "fold $k test speakers '$t' (4 equal speakers: 2 each)"
  for s in $t; do check '! echo " $tr_ $v " | grep -q " $s "' "fold $k: test speaker $s also trains or validates"; done
  for s in $v; do check 'echo " $tr_ " | grep -q " $s "' "fold $k: validation speaker $s is not a training speaker"; done
done
check '[ "$(echo $all | tr " " "\n" | sort | tr "\n" " ")" = "SPA SPB SPC SPD " ]' "k-fold: every speaker in exactly one test fold: '$all'"
# seeded and deterministic: the same again into another folder, and another seed may deal otherwise
cv --out "$tmp/k2b" --folds 2 --print-commands >/dev/null 2>&1
check 'cmp -s "$tmp/k2/fold_1/cv_test.tsv" "$tmp/k2b/fold_1/cv_test.tsv" && cmp -s "$tmp/k2/fold_2/cv_val.tsv" "$tmp/k2b/fold_2/cv_val.tsv"' "k-fold not deterministic"
differs=0
for seed in 1 2 3 4 5 6; do
  cv --out "$tmp/ks$seed" --folds 2 --set train.seed=$seed --print-commands >/dev/null 2>&1 || bad "seed $seed"
  [ "$(speakers "$tmp/ks$seed/fold_1/cv_test.tsv")" != "$(speakers "$tmp/k2/fold_1/cv_test.tsv")" ] && differs=1
done
check '[ $differs -eq 1 ]' "train.seed does not change the k-fold deal"

cv --out "$tmp/loso" --folds loso --print-commands >"$tmp/loso.cmds" 2>/dev/null || bad "loso failed"
check '[ "$(wc -l <"$tmp/loso.cmds")" -eq 4 ] && [ "$(speakers "$tmp/loso/fold_3/cv_test.tsv")" = "SPC " ] && [ ! -e "$tmp/loso/fold_5" ]' "loso: $(cat "$tmp/loso.cmds")"

# --val-speakers 1: one whole training speaker validates, never a test speaker
cv --out "$tmp/vs" --folds loso --val-speakers 1 --print-commands >/dev/null 2>"$tmp/vs.err" || bad "--val-speakers: $(cat "$tmp/vs.err")"
for k in 1 2 3 4; do
  t=$(speakers "$tmp/vs/fold_$k/cv_test.tsv"); tr_=$(speakers "$tmp/vs/fold_$k/cv_train.tsv"); v=$(speakers "$tmp/vs/fold_$k/cv_val.tsv")
  check '[ "$(echo $v | wc -w)" -eq 1 ] && [ "$(echo $tr_ | wc -w)" -eq 2 ] && [ "$(echo "$t $tr_ $v" | tr " " "\n" | grep . | sort -u | wc -l)" -eq 4 ]' "--val-speakers fold $k: test '$t' train '$tr_' val '$v'"
done
cv --out "$tmp/vs2" --folds 2 --val-speakers 2 >/dev/null 2>"$tmp/vs2.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "val-speakers 2: the fold has 2 training speakers" "$tmp/vs2.err"' "--val-speakers 2 of 2: rc $rc, $(cat "$tmp/vs2.err")"

mkdir -p "$tmp/plain"
printf 'SPD\n# a comment\n\nSPA\n' >"$tmp/plain/1.txt"
printf 'SPB\n' >"$tmp/plain/2.txt"
cv --out "$tmp/pl" --fold-lists "$tmp/plain" --print-commands >/dev/null 2>"$tmp/pl.err" || bad "plain lists: $(cat "$tmp/pl.err")"
check '[ "$(speakers "$tmp/pl/fold_1/cv_test.tsv")" = "SPA SPD " ] && [ "$(speakers "$tmp/pl/fold_2/cv_test.tsv")" = "SPB " ]' "plain lists: the wrong test speakers"
check 'grep -q "21 clips are in no fold" "$tmp/pl.err"' "no note on SPC's untested clips: $(cat "$tmp/pl.err")"

# EmoBox: OUT/fold_N/NAME_test_fold_N.jsonl, clips matched by file name (their paths differ)
emobox_line() { # clip path -> one line in EmoBox's format (data/ravdess/fold_1/ravdess_test_fold_1.jsonl)
  local b; b=$(basename "$1" .wav)
  printf '{"key": "syn-%s", "dataset": "syn", "wav": "downloads/syn/audio/%s/%s.wav", "type": "raw", "sample_rate": 24414, "num_frame": 48828.0, "task": "category", "length": 2.0, "emo": "Angry", "channel": 1}\n' \
    "$b" "$(basename "$(dirname "$1")")" "$b"
}
for k in 1 2; do
  mkdir -p "$tmp/emobox/fold_$k"
  spk=$([ $k -eq 1 ] && echo "SPA SPB" || echo "SPC SPD")
  for s in $spk; do for f in "$tmp"/syn/${s}_*/*.wav; do emobox_line "$f"; done; done >"$tmp/emobox/fold_$k/syn_test_fold_$k.jsonl"
  echo '{"not": "read"}' >"$tmp/emobox/fold_$k/syn_train_fold_$k.jsonl"
done
cv --out "$tmp/eb" --fold-lists "$tmp/emobox" --print-commands >/dev/null 2>"$tmp/eb.err" || bad "EmoBox lists: $(cat "$tmp/eb.err")"
check '[ "$(speakers "$tmp/eb/fold_1/cv_test.tsv")" = "SPA SPB " ] && [ "$(speakers "$tmp/eb/fold_2/cv_test.tsv")" = "SPC SPD " ]' "EmoBox lists: the wrong folds"
check '[ "$(wc -l <"$tmp/eb/fold_2/cv_test.tsv")" -eq 43 ]' "EmoBox fold 2 has $(wc -l <"$tmp/eb/fold_2/cv_test.tsv") lines, not 42 clips + header"

# ---- bad input ------------------------------------------------------------------------------
cv --out "$tmp/bad" --folds 5 >/dev/null 2>"$tmp/e1"; rc=$?
check '[ $rc -eq 1 ] && grep -q "folds 5: the corpus has only 4 speakers" "$tmp/e1"' "K > speakers: rc $rc, $(cat "$tmp/e1")"
printf 'SPA\nSPX\n' >"$tmp/plain/2.txt"
cv --out "$tmp/bad" --fold-lists "$tmp/plain" >/dev/null 2>"$tmp/e2"; rc=$?
check '[ $rc -eq 1 ] && grep -q "2.txt:2: speaker .SPX. has no clips" "$tmp/e2"' "unknown speaker: rc $rc, $(cat "$tmp/e2")"
printf 'SPA\n' >"$tmp/plain/2.txt"
cv --out "$tmp/bad" --fold-lists "$tmp/plain" >/dev/null 2>"$tmp/e3"; rc=$?
check '[ $rc -eq 1 ] && grep -q "is a test clip of 2 folds" "$tmp/e3"' "a speaker in two lists: rc $rc, $(cat "$tmp/e3")"
emobox_line "$tmp/syn/SPA_angry/SPA_nope_angry.wav" >>"$tmp/emobox/fold_2/syn_test_fold_2.jsonl"
cv --out "$tmp/bad" --fold-lists "$tmp/emobox" >/dev/null 2>"$tmp/e4"; rc=$?
check '[ $rc -eq 1 ] && grep -q "syn_test_fold_2.jsonl:43: clip .SPA_nope_angry.wav. is not in the corpus" "$tmp/e4"' "unknown EmoBox clip: rc $rc, $(cat "$tmp/e4")"
cv --out "$tmp/bad" >/dev/null 2>"$tmp/e5"; rc=$?
check '[ $rc -eq 2 ] && grep -q "give one of --folds" "$tmp/e5"' "no fold option: rc $rc"
cv --out "$tmp/bad" --folds two >/dev/null 2>"$tmp/e6"; rc=$?
check '[ $rc -eq 1 ] && grep -q "folds .two.: expected a count >= 2 or loso" "$tmp/e6"' "--folds two: rc $rc, $(cat "$tmp/e6")"
cv --out "$tmp/bad" --folds 2 --set train.nope=1 >/dev/null 2>"$tmp/e7"; rc=$?
check '[ $rc -eq 1 ] && grep -q "set train.nope=1" "$tmp/e7"' "bad --set: rc $rc, $(cat "$tmp/e7")"
"$SER_BIN" cv --collect "$tmp/k2" >/dev/null 2>"$tmp/e8"; rc=$?
check '[ $rc -eq 1 ] && grep -q "fold 1 is not finished" "$tmp/e8"' "collect of unfinished folds: rc $rc, $(cat "$tmp/e8")"
mkdir -p "$tmp/bad/fold_1"; printf 'SPA\n' >"$tmp/bad/fold_1/cv_test.tsv"
cv --out "$tmp/bad" --folds 2 >/dev/null 2>"$tmp/e9"; rc=$?
check '[ $rc -eq 1 ] && grep -q "cv_test.tsv differs from what this command makes" "$tmp/e9"' "a foreign OUT reused: rc $rc, $(cat "$tmp/e9")"

# ---- a 2-fold run -----------------------------------------------------------------------------
cv --out "$tmp/run" --folds 2 "${sets[@]}" >"$tmp/run.out" 2>"$tmp/run.err"; rc=$?
check '[ $rc -eq 0 ] && [ -s "$tmp/run/cv.json" ] && [ -s "$tmp/run/confusion_matrix_cv.png" ]' "cv run: rc $rc, $(tail -3 "$tmp/run.err")"
for k in 1 2; do
  check '[ -s "$tmp/run/fold_$k/model.safetensors" ] && [ -s "$tmp/run/fold_$k/confusion_matrix_test.png" ] && grep -q "\"test\":" "$tmp/run/fold_$k/report.json"' "fold $k: no run folder with a test report"
done
# the test section's first value of KEY in a report.json, and cv.json's numbers
rep() { tr -d ' \t\n' <"$1" | sed 's/.*"test":{//' | grep -o "\"$2\":[^,}]*" | head -1 | cut -d: -f2; }
cvj() { tr -d ' \t\n' <"$tmp/run/cv.json" | grep -o "\"$1\":{[^}]*" | grep -o "\"$2\":[^,}]*" | cut -d: -f2; }
for key in accuracy uar macro_f1; do
  a=$(rep "$tmp/run/fold_1/report.json" $key); b=$(rep "$tmp/run/fold_2/report.json" $key)
  m=$(cvj mean $key); s=$(cvj std_dev $key)
  check 'awk -v a="$a" -v b="$b" -v m="$m" -v s="$s" "BEGIN { mu = (a + b) / 2; sd = sqrt(((a - mu)^2 + (b - mu)^2) / 1);
         exit !(a != \"\" && m != \"\" && (m - mu)^2 <= 1e-24 && (s - sd)^2 <= 1e-24) }"' "$key: folds $a $b, cv.json mean $m std $s"
  check 'grep -q "\"$key\":[[:space:]]*$a,\?\$" "$tmp/run/cv.json"' "cv.json lacks fold 1's $key $a"
done
check 'grep -q "^mean +- sample std over 2 folds:  WA" "$tmp/run.out" && grep -q "^pooled over the 84 test clips" "$tmp/run.out"' "summary lines: $(cat "$tmp/run.out")"
# the pooled confusion matrix sums to every clip once
conf_sum=$(tr -d ' \t\n' <"$tmp/run/cv.json" | sed 's/.*"confusion":\[\[//; s/\]\].*//' | tr -c '0-9' '\n' | awk '{ s += $1 } END { print s + 0 }')
check '[ "$conf_sum" -eq 84 ]' "pooled confusion sums to $conf_sum clips, not 84"

# resume: fold 2 deleted -> only fold 2 trains again; fold 1's files are untouched
cp "$tmp/run/cv.json" "$tmp/cv1.json"
m1=$(stat -c %y "$tmp/run/fold_1/model.safetensors" "$tmp/run/fold_1/report.json" "$tmp/run/fold_1/history.jsonl")
sleep 1
rm -rf "$tmp/run/fold_2"
cv --out "$tmp/run" --folds 2 "${sets[@]}" >/dev/null 2>"$tmp/r2.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "fold 1: finished earlier, kept" "$tmp/r2.err" && grep -q "fold 2: training" "$tmp/r2.err"' "rerun: rc $rc, $(cat "$tmp/r2.err")"
check '[ "$m1" = "$(stat -c %y "$tmp/run/fold_1/model.safetensors" "$tmp/run/fold_1/report.json" "$tmp/run/fold_1/history.jsonl")" ]' "fold 1 was touched by the rerun"
check 'cmp -s "$tmp/cv1.json" "$tmp/run/cv.json"' "the retrained fold 2 gave another cv.json (threads fixed: it should be bit-identical)"
# an interrupted fold (no report yet) resumes from its checkpoint
rm "$tmp/run/fold_1/report.json"
cv --out "$tmp/run" --folds 2 "${sets[@]}" >/dev/null 2>"$tmp/r3.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "fold 1: resuming" "$tmp/r3.err" && grep -q "fold 2: finished earlier" "$tmp/r3.err"' "resume: rc $rc, $(cat "$tmp/r3.err")"
check 'cmp -s "$tmp/cv1.json" "$tmp/run/cv.json"' "the resumed fold gave another cv.json"
# another recipe into the same OUT is refused
cv --out "$tmp/run" --folds 2 "${sets[@]}" --set train.epochs=3 >/dev/null 2>"$tmp/r4.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "cv_recipe.json differs" "$tmp/r4.err"' "another recipe into the same OUT: rc $rc, $(cat "$tmp/r4.err")"

# --print-commands: the lines run by themselves, --collect makes the same cv.json
cv --out "$tmp/pc" --folds 2 "${sets[@]}" --print-commands >"$tmp/pc.cmds" 2>/dev/null || bad "print-commands"
check 'grep -q " cv --data .* --out [^ ]*/pc .*--fold 1$" "$tmp/pc.cmds"' "printed command: $(head -1 "$tmp/pc.cmds")"
(cd / && bash "$tmp/pc.cmds" >/dev/null 2>"$tmp/pc.err") || bad "the printed commands failed: $(tail -2 "$tmp/pc.err")"
"$SER_BIN" cv --collect "$tmp/pc" >/dev/null 2>"$tmp/col.err"; rc=$?
check '[ $rc -eq 0 ] && cmp -s "$tmp/pc/cv.json" "$tmp/cv1.json"' "--collect: rc $rc, $(cat "$tmp/col.err"); cv.json differs from ser cv's"

# --jobs 2 with train.threads fixed: every fold's files bit-identical to --jobs 1
cv --out "$tmp/j2" --folds 2 "${sets[@]}" --jobs 2 >/dev/null 2>"$tmp/j2.err"; rc=$?
check '[ $rc -eq 0 ] && cmp -s "$tmp/j2/cv.json" "$tmp/cv1.json"' "--jobs 2: rc $rc, cv.json differs"
for k in 1 2; do
  for f in report.json model.safetensors checkpoint.safetensors; do
    check 'cmp -s "$tmp/j2/fold_$k/$f" "$tmp/pc/fold_$k/$f"' "--jobs 2: fold $k $f differs from --jobs 1"
  done
  # history.jsonl: the same but for each epoch's wall time
  check '[ "$(sed "s/,\"seconds\":[^}]*//" "$tmp/j2/fold_$k/history.jsonl")" = "$(sed "s/,\"seconds\":[^}]*//" "$tmp/pc/fold_$k/history.jsonl")" ]' "--jobs 2: fold $k history differs"
done
# (the threads of --jobs and of each fold's task: tests/cli_cv_tasks.sh)

"$SER_BIN" cv --help | grep -q -- "--fold-lists" || bad "ser cv --help lacks --fold-lists"
"$SER_BIN" --help | grep -q "^  cv " || bad "ser --help lacks cv"

echo "cli_cv: $pass passed, $fail failed"
exit $fail
