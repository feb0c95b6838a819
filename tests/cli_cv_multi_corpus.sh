#!/usr/bin/env bash
# `ser cv` over two corpora (repeated --data, docs/multi-corpus.md) whose speaker ids collide: two
# `ser synth` corpora of one kind (tess-synA, tess-synB), both with speakers SPA and SPB. A
# speaker is CORPUS:SPEAKER: loso makes 4 folds, one corpus's speaker each (the other corpus's
# speaker of that id trains); k-fold deals the 4 (corpus, speaker) pairs, each tested in exactly
# one fold; --val-speakers holds out whole pairs; the printed and cv.json test speakers are qualified; speaker lists take
# CORPUS:SPEAKER and refuse a plain id found in both corpora; --labels passes through. A
# single-corpus run keeps plain names (tests/cli_cv.sh).
set -u
. "$(dirname "$0")/lib_cli.sh" cli_cv_multi_corpus

"$SER_BIN" synth --out "$tmp/synA" --per-class 3 --speakers 2 --seed 3 >/dev/null || bad "synth A failed"
"$SER_BIN" synth --out "$tmp/synB" --per-class 3 --speakers 2 --seed 4 >/dev/null || bad "synth B failed"
cv() { "$SER_BIN" cv --data "$tmp/synA" --data "$tmp/synB" "$@"; }
# the (corpus:speaker) pairs of a manifest, sorted, one line
pairs() { grep -v '^#' "$1" | awk -F'\t' '{ print $5 ":" $3 }' | sort -u | tr '\n' ' '; }
ALL="tess-synA:SPA tess-synA:SPB tess-synB:SPA tess-synB:SPB "

# loso: one fold per corpus's speaker (the old plain-id key made 2 folds of both halves)
cv --out "$tmp/loso" --folds loso --print-commands >"$tmp/loso.cmds" 2>"$tmp/loso.err"; rc=$?
check '[ $rc -eq 0 ] && [ "$(wc -l <"$tmp/loso.cmds")" -eq 4 ]' "loso over two corpora: rc $rc, $(wc -l <"$tmp/loso.cmds") folds, not 4: $(cat "$tmp/loso.err")"
check 'grep -q "corpus tess-synA (tess): 42 clips" "$tmp/loso.err" && grep -q "corpus tess-synB (tess): 42 clips" "$tmp/loso.err"' "the corpora lines: $(cat "$tmp/loso.err")"
k=0
for want in $ALL; do
  k=$((k + 1))
  f="$tmp/loso/fold_$k"
  check '[ "$(pairs "$f/cv_test.tsv")" = "$want " ]' "loso fold $k tests '$(pairs "$f/cv_test.tsv")', not '$want'"
  check '! echo " $(pairs "$f/cv_train.tsv") $(pairs "$f/cv_val.tsv") " | grep -q " $want "' "loso fold $k: $want also trains"
  # the other corpus's speaker of the same id trains
  other=$(echo "$want" | sed 's/synA/synX/; s/synB/synA/; s/synX/synB/')
  check 'echo " $(pairs "$f/cv_train.tsv") " | grep -q " $other "' "loso fold $k: $other does not train"
done

# k-fold 2: every (corpus, speaker) tested in exactly one fold, both halves of an id dealt alone
cv --out "$tmp/k2" --folds 2 --print-commands >/dev/null 2>"$tmp/k2.err" || bad "k-fold: $(cat "$tmp/k2.err")"
check '[ "$(cat "$tmp/k2/fold_1/cv_test.tsv" "$tmp/k2/fold_2/cv_test.tsv" | grep -v "^#" | wc -l)" -eq 84 ]' "k-fold: the test sets do not hold the 84 clips once"
check '[ "$(echo $(pairs "$tmp/k2/fold_1/cv_test.tsv") $(pairs "$tmp/k2/fold_2/cv_test.tsv") | tr " " "\n" | sort | tr "\n" " ")" = "$ALL" ]' \
  "k-fold: the folds' test pairs: $(pairs "$tmp/k2/fold_1/cv_test.tsv") | $(pairs "$tmp/k2/fold_2/cv_test.tsv")"
for k in 1 2; do
  n=$(pairs "$tmp/k2/fold_$k/cv_test.tsv" | wc -w)
  check '[ "$n" -eq 2 ]' "k-fold fold $k tests $n of the 4 speakers, not 2"
done
# --val-speakers 1: one whole (corpus, speaker) validates
cv --out "$tmp/vs" --folds loso --val-speakers 2 --print-commands >/dev/null 2>"$tmp/vs.err" || bad "--val-speakers: $(cat "$tmp/vs.err")"
check '[ "$(pairs "$tmp/vs/fold_1/cv_val.tsv" | wc -w)" -eq 2 ] && [ "$(pairs "$tmp/vs/fold_1/cv_train.tsv" | wc -w)" -eq 1 ]' \
  "--val-speakers 2: val '$(pairs "$tmp/vs/fold_1/cv_val.tsv")' train '$(pairs "$tmp/vs/fold_1/cv_train.tsv")'"

# speaker lists: CORPUS:SPEAKER, and a plain id found in both corpora is an error
mkdir -p "$tmp/lists"
printf 'tess-synA:SPA\ntess-synB:SPB\n' >"$tmp/lists/1.txt"
printf 'tess-synB:SPA\n' >"$tmp/lists/2.txt"
cv --out "$tmp/pl" --fold-lists "$tmp/lists" --print-commands >/dev/null 2>"$tmp/pl.err" || bad "qualified lists: $(cat "$tmp/pl.err")"
check '[ "$(pairs "$tmp/pl/fold_1/cv_test.tsv")" = "tess-synA:SPA tess-synB:SPB " ] && [ "$(pairs "$tmp/pl/fold_2/cv_test.tsv")" = "tess-synB:SPA " ]' \
  "qualified lists: $(pairs "$tmp/pl/fold_1/cv_test.tsv") | $(pairs "$tmp/pl/fold_2/cv_test.tsv")"
check 'grep -q "21 clips are in no fold" "$tmp/pl.err"' "no note on tess-synA:SPB's untested clips: $(cat "$tmp/pl.err")"
printf 'SPA\n' >"$tmp/lists/2.txt"
cv --out "$tmp/bad" --fold-lists "$tmp/lists" >/dev/null 2>"$tmp/e1"; rc=$?
check '[ $rc -eq 1 ] && grep -q "2.txt:1: speaker .SPA. is in two corpora" "$tmp/e1" && grep -q "tess-synA:SPA" "$tmp/e1"' "a plain id in two corpora: rc $rc, $(cat "$tmp/e1")"

# --labels reaches the folds' manifests
cv --out "$tmp/lab" --folds 2 --labels angry,sad --print-commands >/dev/null 2>"$tmp/lab.err" || bad "--labels: $(cat "$tmp/lab.err")"
check '[ "$(cat "$tmp/lab"/fold_*/cv_*.tsv | grep -v "^#" | cut -f2 | sort -u | tr "\n" " ")" = "angry sad " ]' "--labels angry,sad: labels $(cat "$tmp/lab"/fold_*/cv_*.tsv | grep -v "^#" | cut -f2 | sort -u | tr "\n" " ")"
check 'grep -q "dropped 60 clips" "$tmp/lab.err"' "--labels: no dropped count: $(cat "$tmp/lab.err")"

# a tiny 2-fold run: the printed and cv.json test speakers are qualified
sets=(--set model.filters=8 --set model.lstm_units=8 --set model.conv_blocks=2 --set features.frames=64
      --set train.batch_size=16 --set train.epochs=1 --set train.threads=1)
cv --out "$tmp/run" --folds 2 "${sets[@]}" >"$tmp/run.out" 2>"$tmp/run.err"; rc=$?
check '[ $rc -eq 0 ] && [ -s "$tmp/run/cv.json" ]' "cv run: rc $rc, $(tail -3 "$tmp/run.err")"
t1=$(pairs "$tmp/run/fold_1/cv_test.tsv" | sed 's/ $//; s/ /,/g')
check 'grep -q "fold 1: test speakers ${t1//,/,} (" "$tmp/run.err"' "printed test speakers of fold 1, not '$t1': $(grep 'fold 1: test' "$tmp/run.err")"
got=$(python3 -c 'import json, sys; print(" ".join(" ".join(f["test_speakers"]) for f in json.load(open(sys.argv[1]))["per_fold"]))' "$tmp/run/cv.json" 2>&1)
check '[ "$(echo $got | tr " " "\n" | sort | tr "\n" " ")" = "$ALL" ]' "cv.json test_speakers: '$got'"

echo "cli_cv_multi_corpus: $pass passed, $fail failed"
exit $fail
