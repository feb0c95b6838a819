#!/usr/bin/env bash
# The speaker-independent options end to end on `ser synth` audio (train on speaker SPA, test on
# SPB): VTLP augmentation (train.aug_vtlp) trains, changes the result, and resumes bit-identically
# (its per-epoch features are keyed by seed and epoch); train.test_adapt_bn reports the test set
# after AdaBN, and `ser eval --adapt-bn` on the saved model gives the same accuracy (the model
# file keeps the training statistics: plain `ser eval` gives the other one); an ensemble of one
# model twice equals the model, a folder of runs their ensemble; pitch rows (features.f0_rows) widen the input, travel in the model
# file and are computed again by `ser eval` and `ser mfcc`; mixup with label smoothing changes the
# model and resumes bit-identically; cosine decay lowers the learning rate every epoch.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_speaker_independent

"$SER_BIN" synth --out "$tmp/syn" --per-class 6 --seed 4 >/dev/null || bad "synth failed"
"$SER_BIN" split --data "$tmp/syn" --test-speakers SPB --seed 1 --out "$tmp/si" >/dev/null 2>"$tmp/split.err" ||
  bad "split failed: $(cat "$tmp/split.err")"
lists=(--train-list "$tmp/si/train.tsv" --val-list "$tmp/si/val.tsv" --test-list "$tmp/si/test.tsv")
sets=(--set model.filters=8 --set model.lstm_units=8 --set model.bn_momentum=0.9 --set features.frames=64
      --set features.normalize=2 --set train.batch_size=16 --set train.early_stopping_patience=0)
train() { "$SER_BIN" train "${lists[@]}" "${sets[@]}" --quiet "$@"; }
json_acc() { tr -d ' \t\n' < "$1" | grep -o "\"$2\":{[^}]*" | grep -o '"accuracy":[0-9.e-]*' | head -1 | cut -d: -f2; }

train --out "$tmp/plain" --set train.epochs=6 >/dev/null 2>"$tmp/plain.err" || bad "plain run: $(tail -2 "$tmp/plain.err")"
train --out "$tmp/vtlp" --set train.epochs=6 --set train.aug_vtlp=0.15 --set train.test_adapt_bn=true \
  >/dev/null 2>"$tmp/vtlp.err" || bad "vtlp run: $(tail -2 "$tmp/vtlp.err")"
check '! cmp -s "$tmp/plain/model.safetensors" "$tmp/vtlp/model.safetensors"' "aug_vtlp did not change the model"
check 'grep -q "\"test_adapt_bn\"" "$tmp/vtlp/report.json"' "report.json does not say the test set was adapted"

# the train's adapted test accuracy is ser eval --adapt-bn's on the saved model
t_acc=$(json_acc "$tmp/vtlp/report.json" test)
"$SER_BIN" eval --model "$tmp/vtlp/model.safetensors" --list "$tmp/si/test.tsv" --adapt-bn --json --png "$tmp/a.png" \
  >"$tmp/ea.json" 2>"$tmp/ea.err" || bad "eval --adapt-bn: $(cat "$tmp/ea.err")"
"$SER_BIN" eval --model "$tmp/vtlp/model.safetensors" --list "$tmp/si/test.tsv" --json --png "$tmp/p.png" \
  >"$tmp/ep.json" 2>"$tmp/ep.err" || bad "eval: $(cat "$tmp/ep.err")"
a_acc=$(grep -o '"accuracy":[0-9.e-]*' "$tmp/ea.json" | head -1 | cut -d: -f2)
check '[ -n "$t_acc" ] && awk -v a="$a_acc" -v b="$t_acc" "BEGIN{exit !(a == b)}"' "train's adapted test accuracy $t_acc, eval --adapt-bn $a_acc"
check 'grep -q "\"adapt_bn\":true" "$tmp/ea.json" && grep -q "\"adapt_bn\":false" "$tmp/ep.json"' "eval --json lacks adapt_bn"
check 'grep -q "batch-norm statistics over" "$tmp/ea.err"' "eval --adapt-bn does not say it adapted"
# the adapted probabilities differ from the plain ones (AdaBN did something): compare the losses
check '[ "$(grep -o "\"loss\":[0-9.e-]*" "$tmp/ea.json")" != "$(grep -o "\"loss\":[0-9.e-]*" "$tmp/ep.json")" ]' "adapt-bn left the loss unchanged"

# an ensemble of the same model twice is that model
"$SER_BIN" eval --model "$tmp/vtlp/model.safetensors" --model "$tmp/vtlp/model.safetensors" --list "$tmp/si/test.tsv" \
  --json --png "$tmp/e2.png" >"$tmp/e2.json" 2>"$tmp/e2.err" || bad "ensemble eval: $(cat "$tmp/e2.err")"
check '[ "$(grep -o "\"confusion\":[^a-z]*" "$tmp/e2.json")" = "$(grep -o "\"confusion\":[^a-z]*" "$tmp/ep.json")" ]' "ensemble of one model twice differs from the model"
check 'grep -q "\"models\":2" "$tmp/e2.json"' "ensemble JSON lacks models"
# a folder stands for its runs' models: the folder of vtlp/ and plain/ = --model plain --model vtlp
mkdir -p "$tmp/ens" "$tmp/none"
ln -s "$tmp/vtlp" "$tmp/ens/b" && ln -s "$tmp/plain" "$tmp/ens/a"
"$SER_BIN" eval --model "$tmp/ens" --list "$tmp/si/test.tsv" --json --png "$tmp/ed.png" >"$tmp/ed.json" 2>/dev/null || bad "eval of a folder"
"$SER_BIN" eval --model "$tmp/plain/model.safetensors" --model "$tmp/vtlp/model.safetensors" --list "$tmp/si/test.tsv" \
  --json --png "$tmp/ef.png" >"$tmp/ef.json" 2>/dev/null || bad "eval of two models"
check '[ -s "$tmp/ed.json" ] && cmp -s "$tmp/ed.json" "$tmp/ef.json" && grep -q "\"models\":2" "$tmp/ed.json"' "a folder of two runs differs from the two --model"
"$SER_BIN" eval --model "$tmp/none" --list "$tmp/si/test.tsv" >/dev/null 2>"$tmp/none.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "none.*without any SUB/model.safetensors" "$tmp/none.err"' "empty model folder: rc $rc, $(cat "$tmp/none.err")"
# an ensemble member with other classes is refused
"$SER_BIN" synth --out "$tmp/syn3" --per-class 3 --seed 2 >/dev/null
rm -rf "$tmp/syn3"/*_sad
"$SER_BIN" train --data "$tmp/syn3" --out "$tmp/six" "${sets[@]}" --set train.epochs=1 --quiet >/dev/null 2>&1 || bad "six-class run"
"$SER_BIN" eval --model "$tmp/vtlp/model.safetensors" --model "$tmp/six/model.safetensors" --list "$tmp/si/test.tsv" \
  >/dev/null 2>"$tmp/e3.err"; rc=$?
check '[ $rc -ne 0 ] && grep -q "classes differ" "$tmp/e3.err"' "ensemble with other classes: rc $rc, $(cat "$tmp/e3.err")"

# pseudo-labels: --min-prob 0 keeps every clip, labelled with its prediction; the manifest trains
"$SER_BIN" eval --model "$tmp/vtlp/model.safetensors" --list "$tmp/si/test.tsv" --pseudo-labels "$tmp/pl.tsv" \
  --min-prob 0 --png "$tmp/pl.png" >/dev/null 2>"$tmp/pl.err" || bad "eval --pseudo-labels: $(cat "$tmp/pl.err")"
check '[ "$(wc -l < "$tmp/pl.tsv")" -eq "$(wc -l < "$tmp/si/test.tsv")" ]' "pseudo-label manifest: $(wc -l < "$tmp/pl.tsv") lines"
check 'grep -q "match their label" "$tmp/pl.err"' "eval --pseudo-labels says nothing"
"$SER_BIN" eval --model "$tmp/vtlp/model.safetensors" --list "$tmp/si/test.tsv" --probs "$tmp/probs.tsv" --png "$tmp/pp.png" \
  >/dev/null 2>&1 || bad "eval --probs"
check '[ "$(wc -l < "$tmp/probs.tsv")" -eq "$(wc -l < "$tmp/si/test.tsv")" ] && head -1 "$tmp/probs.tsv" | grep -q "angry"' "--probs file"
check 'awk -F"\t" "NR > 1 { s = 0; for (i = 3; i <= NF; i++) s += \$i; if (s < 0.999 || s > 1.001) bad = 1 } END { exit bad }" "$tmp/probs.tsv"' "--probs rows do not sum to 1"
"$SER_BIN" eval --model "$tmp/vtlp/model.safetensors" --list "$tmp/si/test.tsv" --min-prob 2 >/dev/null 2>&1
check '[ $? -eq 2 ]' "--min-prob 2 accepted"
{ cat "$tmp/si/train.tsv"; tail -n +2 "$tmp/pl.tsv"; } >"$tmp/st.tsv"
"$SER_BIN" train --train-list "$tmp/st.tsv" --val-list "$tmp/si/val.tsv" "${sets[@]}" --set train.epochs=1 --quiet \
  --out "$tmp/st" >/dev/null 2>"$tmp/st.err" || bad "training on the pseudo-labelled manifest: $(tail -2 "$tmp/st.err")"

# VTLP resume: 3 epochs, then --resume to 6, equals the straight 6-epoch run byte for byte
train --out "$tmp/half" --set train.epochs=3 --set train.aug_vtlp=0.15 --set train.test_adapt_bn=true \
  >/dev/null 2>"$tmp/half.err" || bad "half run: $(tail -2 "$tmp/half.err")"
sed -i "s/^epochs = .*/epochs = 6/" "$tmp/half/config.ini"
"$SER_BIN" train --resume "$tmp/half" --quiet >/dev/null 2>"$tmp/resume.err" || bad "resume: $(tail -2 "$tmp/resume.err")"
check 'cmp -s "$tmp/vtlp/model.safetensors" "$tmp/half/model.safetensors"' "resumed VTLP run differs from the straight run"

# mixup + label smoothing: change the model, and 3 epochs resumed to 6 equal the straight 6
mix=(--set train.mixup=0.4 --set train.label_smoothing=0.1)
train --out "$tmp/mix" --set train.epochs=6 "${mix[@]}" >/dev/null 2>"$tmp/mix.err" || bad "mixup run: $(tail -2 "$tmp/mix.err")"
check '! cmp -s "$tmp/plain/model.safetensors" "$tmp/mix/model.safetensors"' "mixup did not change the model"
check 'grep -q "\"mixup\":0.4" "$tmp/mix/report.json" || grep -q "mixup = 0.4" "$tmp/mix/config.ini"' "mixup not in the run's config"
train --out "$tmp/mixh" --set train.epochs=3 "${mix[@]}" >/dev/null 2>"$tmp/mixh.err" || bad "mixup half: $(tail -2 "$tmp/mixh.err")"
sed -i "s/^epochs = .*/epochs = 6/" "$tmp/mixh/config.ini"
"$SER_BIN" train --resume "$tmp/mixh" --quiet >/dev/null 2>"$tmp/mixr.err" || bad "mixup resume: $(tail -2 "$tmp/mixr.err")"
check 'cmp -s "$tmp/mix/model.safetensors" "$tmp/mixh/model.safetensors"' "resumed mixup run differs from the straight run"
# cosine decay: the history's lr falls every epoch from the first (learning_rate's step 0 is
# the first step; an epoch logs its last step's) towards min_lr, never by a plateau's halving
train --out "$tmp/cos" --set train.epochs=5 --set train.cosine_decay=true --set train.lr_patience=1 \
  --set train.learning_rate=0.002 --set train.min_lr=0.0001 >/dev/null 2>"$tmp/cos.err" || bad "cosine run: $(tail -2 "$tmp/cos.err")"
lrs=$(grep -o '"lr":[0-9.e-]*' "$tmp/cos/history.jsonl" | cut -d: -f2 | tr '\n' ' ')
check 'awk -v l="$lrs" "BEGIN { n = split(l, a, \" \"); ok = n == 5 && a[1] < 0.002 && a[5] >= 0.0001 && a[5] < 0.0003; for (i = 2; i <= n; i++) ok = ok && a[i] < a[i - 1]; exit !ok }"' \
  "cosine lrs per epoch: $lrs"

# pitch rows: the input is (n_mfcc + f0_rows) x frames, eval and mfcc compute the same rows
train --out "$tmp/f0" --set train.epochs=2 --set features.f0_rows=3 >/dev/null 2>"$tmp/f0.err" ||
  bad "f0_rows run: $(tail -2 "$tmp/f0.err")"
check 'grep -q "43, 64, 1" "$tmp/f0/model_summary.txt"' "model summary does not show a 43 x 64 input: $(grep -m1 -i input "$tmp/f0/model_summary.txt")"
"$SER_BIN" eval --model "$tmp/f0/model.safetensors" --list "$tmp/si/test.tsv" --json --png "$tmp/f0.png" >"$tmp/f0e.json" \
  2>"$tmp/f0e.err" || bad "eval of the f0 model: $(cat "$tmp/f0e.err")"
check '[ "$(json_acc "$tmp/f0/report.json" test)" = "$(grep -o "\"accuracy\":[0-9.e-]*" "$tmp/f0e.json" | head -1 | cut -d: -f2)" ]' \
  "eval of the f0 model differs from its training report"
"$SER_BIN" mfcc --set features.f0_rows=3 --device cpu --out "$tmp/f0.npy" "$tmp/syn" >/dev/null 2>"$tmp/f0m.err" || bad "mfcc f0_rows"
check 'grep -q "\[[0-9]*, 43, 130\]" "$tmp/f0m.err"' "ser mfcc f0_rows shape: $(cat "$tmp/f0m.err")"
train --out "$tmp/f0v" --set train.epochs=1 --set features.f0_rows=3 --set features.vtln=0.1 >/dev/null 2>"$tmp/f0v.err"; rc=$?
check '[ $rc -ne 0 ] && grep -q "features.f0_rows" "$tmp/f0v.err"' "f0_rows with vtln accepted: $(cat "$tmp/f0v.err")"

echo "cli_speaker_independent: $pass passed, $([ $fail -eq 0 ] && echo 0 || echo some) failed"
exit $fail
