#!/usr/bin/env bash
# End to end on audio ser makes itself: `ser synth` -> `ser train` -> the run folder's files ->
# `ser eval` / `ser predict` on the model file. Asserts that the network learns (validation
# accuracy at least 0.4, ~3x the 1/7 chance level), that the outputs are complete and well formed,
# that an interrupted run resumed from its checkpoint ends bit-identical to an uninterrupted
# one, and that bad input gets clear errors.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_train

# SER_TEST_QUICK (sanitizer builds, ~10x slower): fewer clips and epochs; the learning check
# needs the full size and is skipped, everything else is checked the same.
if [ -n "${SER_TEST_QUICK:-}" ]; then per_class=6 epochs=4 half=2; else per_class=20 epochs=14 half=6; fi
"$SER_BIN" synth --out "$tmp/syn" --per-class $per_class --seed 3 >/dev/null || bad "synth failed"
# One bad file among the good ones: random bytes under a valid name. Training uses the rest
# and lists it.
head -c 3000 /dev/urandom >"$tmp/syn/SPA_angry/SPA_zzjunk_angry.wav"
# A small corpus learns faster with a quicker batch-norm average (0.9 instead of 0.99).
sets=(--set model.bn_momentum=0.9 --set train.epochs=$epochs --set train.batch_size=32)
"$SER_BIN" train --data "$tmp/syn" --out "$tmp/run" "${sets[@]}" --quiet >"$tmp/train.out" 2>"$tmp/train.err"
check '[ $? -eq 0 ]' "ser train failed: $(tail -3 "$tmp/train.err")"
check 'grep -q "SPA_zzjunk_angry.wav" "$tmp/train.err"' "the bad file is not listed: $(cat "$tmp/train.err")"
for f in model.safetensors history.jsonl training_history.png confusion_matrix_validation.png model_summary.txt \
         report.txt report.json config.ini train.tsv val.tsv checkpoint.safetensors; do
  check '[ -s "$tmp/run/$f" ]' "missing or empty $f"
done
check '[ "$(head -c 8 "$tmp/run/training_history.png" | od -An -tx1 | tr -d " ")" = 89504e470d0a1a0a ]' "history plot is not a PNG"
check '[ "$(wc -l < "$tmp/run/history.jsonl")" -eq $epochs ]' "history.jsonl should hold $epochs epochs"
check 'grep -q "\"val_accuracy\"" "$tmp/run/history.jsonl"' "history lacks val_accuracy"
check '[ "$(grep -c "\"val_uar\":0\.[0-9]" "$tmp/run/history.jsonl")" -eq $epochs ]' "history lacks val_uar in some epoch"
check 'grep -q "UA (unweighted average recall) 0\.[0-9]" "$tmp/run/report.txt"' "report.txt lacks the UA line"
check 'tr -d " \t\n" < "$tmp/run/report.json" | grep -q "\"monitor\":\"val_loss\""' "report.json lacks monitor val_loss"
check 'grep -q "Total params: 200,*039\|Total params: 200039" "$tmp/run/model_summary.txt"' "summary total params"
# Learning: validation accuracy from report.json well above chance (1/7 = 0.14).
acc=$(tr -d ' \t\n' < "$tmp/run/report.json" | grep -o '"validation":{[^}]*' | grep -o '"accuracy":[0-9.e-]*' | head -1 | cut -d: -f2)
if [ -n "${SER_TEST_QUICK:-}" ]; then
  echo "validation accuracy after $epochs epochs: $acc (quick mode: not checked)"
else
  check 'awk -v a="$acc" "BEGIN{exit !(a >= 0.4)}"' "validation accuracy $acc is not well above chance"
  echo "validation accuracy after $epochs epochs: $acc"
fi

# eval on the whole synthetic corpus, JSON
"$SER_BIN" eval --model "$tmp/run/model.safetensors" --data "$tmp/syn" --json >"$tmp/eval.json" 2>"$tmp/eval.err"
check '[ $? -eq 0 ]' "ser eval failed: $(cat "$tmp/eval.err")"
for k in accuracy uar macro_f1 weighted_f1 labels per_class confusion; do
  check 'grep -q "\"$k\"" "$tmp/eval.json"' "eval --json lacks $k"
done
check '[ -s "$tmp/run/confusion_matrix_test.png" ]' "eval wrote no confusion matrix"

# train.monitor = val_uar: the kept epoch is the first with the highest validation UA, and the
# report names the monitor and its value there.
"$SER_BIN" train --data "$tmp/syn" --out "$tmp/uar" --set model.bn_momentum=0.9 --set train.epochs=$half \
    --set train.batch_size=32 --set train.monitor=val_uar --quiet >/dev/null 2>"$tmp/uar.err"
rc=$?
check '[ $rc -eq 0 ]' "train with monitor val_uar failed: $(tail -2 "$tmp/uar.err")"
want=$(awk -F'"val_uar":' '{split($2, a, ","); if (NR == 1 || a[1] > best) {best = a[1]; ep = NR}} END {print ep, best}' "$tmp/uar/history.jsonl")
got=$(tr -d ' \t\n' < "$tmp/uar/report.json" | sed -n 's/.*"best_epoch":\([0-9]*\).*"monitor":"val_uar","best_monitor":\([0-9.e-]*\).*/\1 \2/p')
check '[ -n "$got" ] && awk -v w="$want" -v g="$got" "BEGIN{split(w, a, \" \"); split(g, b, \" \"); exit !(a[1] == b[1] && (a[2] - b[2])^2 < 1e-12)}"' \
  "monitor val_uar: history's best (epoch, UA) $want, report's $got"
"$SER_BIN" train --data "$tmp/syn" --out "$tmp/bad" --set train.monitor=val_f1 --quiet >/dev/null 2>"$tmp/bad.err"
rc=$?
check '[ $rc -ne 0 ] && grep -q "train.monitor.*val_f1.*val_loss, val_accuracy, val_uar" "$tmp/bad.err"' "a bad monitor name: $(cat "$tmp/bad.err")"

# predict: one JSON line per file with every class's probability
# (the folder also holds the junk file: it is reported, the good files are predicted, exit 1)
"$SER_BIN" predict --model "$tmp/run/model.safetensors" --json "$tmp"/syn/SPA_angry/*.wav >"$tmp/pred.jsonl" 2>"$tmp/pred.err"
rc=$?
check '[ $rc -eq 1 ] && [ "$(wc -l < "$tmp/pred.jsonl")" -eq $per_class ]' "predict should print $per_class lines and exit 1 (rc $rc)"
check 'grep -q "SPA_zzjunk_angry.wav" "$tmp/pred.err"' "predict does not name the bad file"
"$SER_BIN" predict --model "$tmp/run/model.safetensors" "$tmp"/syn/SPB_sad/SPB_back_sad.wav >"$tmp/pred1.txt" 2>/dev/null
check '[ $? -eq 0 ] && grep -q "sad=" "$tmp/pred1.txt"' "predict on one good file"
check 'grep -q "\"probs\":{\"angry\":" "$tmp/pred.jsonl"' "predict JSON lacks probs"

# Resume: a shorter run, then --resume with its epochs raised (edit the run's config) must end
# with the same weights as the straight run above.
"$SER_BIN" train --data "$tmp/syn" --out "$tmp/half" --set model.bn_momentum=0.9 --set train.epochs=$half \
    --set train.batch_size=32 --quiet >/dev/null 2>"$tmp/half.err" || bad "$half-epoch run failed: $(tail -2 "$tmp/half.err")"
sed -i "s/^epochs = .*/epochs = $epochs/" "$tmp/half/config.ini"
"$SER_BIN" train --resume "$tmp/half" --quiet >/dev/null 2>"$tmp/resume.err"
check '[ $? -eq 0 ]' "resume failed: $(tail -2 "$tmp/resume.err")"
# Same config and same weights -> byte-identical model files.
check 'cmp -s "$tmp/run/model.safetensors" "$tmp/half/model.safetensors"' "resumed run's model differs from the uninterrupted run's"
check '[ "$(wc -l < "$tmp/half/history.jsonl")" -eq $epochs ]' "resumed history should hold $epochs epochs"

# Bad input: clear errors, non-zero exits.
"$SER_BIN" train --data "$tmp/nonexistent" --out "$tmp/x" 2>"$tmp/e1"; rc=$?
check '[ $rc -ne 0 ] && grep -q "nonexistent" "$tmp/e1"' "missing data folder: $(cat "$tmp/e1")"
mkdir -p "$tmp/empty"
"$SER_BIN" train --data "$tmp/empty" --out "$tmp/x" 2>"$tmp/e2"; rc=$?
check '[ $rc -ne 0 ] && grep -q "empty" "$tmp/e2"' "empty data folder: $(cat "$tmp/e2")"
"$SER_BIN" train --data "$tmp/syn" --out "$tmp/x" --set train.epoch=3 2>"$tmp/e3"; rc=$?
check '[ $rc -ne 0 ] && grep -q "train.epoch" "$tmp/e3"' "unknown key: $(cat "$tmp/e3")"
head -c 1000 "$tmp/run/model.safetensors" >"$tmp/trunc.safetensors"
"$SER_BIN" eval --model "$tmp/trunc.safetensors" --data "$tmp/syn" 2>"$tmp/e4"; rc=$?
check '[ $rc -ne 0 ] && grep -q "trunc.safetensors" "$tmp/e4"' "truncated model: $(cat "$tmp/e4")"
echo "not a model" >"$tmp/junk.safetensors"
"$SER_BIN" predict --model "$tmp/junk.safetensors" "$tmp"/syn/SPA_angry/SPA_back_angry.wav 2>"$tmp/e5"; rc=$?
check '[ $rc -ne 0 ] && grep -q "junk.safetensors" "$tmp/e5"' "junk model: $(cat "$tmp/e5")"

echo "cli_train: $pass passed, $fail failed"
[ $fail -eq 0 ]
