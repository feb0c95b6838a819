#!/usr/bin/env bash
# ser train --init MODEL (fine-tuning) on two synthetic corpora made with different seeds:
# 1. started from a model trained on corpus A, training on corpus B reaches the target validation
#    accuracy in fewer epochs than the same recipe from scratch;
# 2. train.freeze = block2 keeps conv blocks 1-2 (kernels, biases, BN gamma/beta and moving
#    statistics) bit-identical to the model it started from, and the rest trains;
# 3. the run records what it started from (report.json and the model's ser.init: path, SHA-256);
# 4. another label set starts the output layer afresh and says so;
# 5. an architecture mismatch is refused naming the tensor, before the run folder is made; --init
#    with --resume is refused.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_finetune

if [ -n "${SER_TEST_QUICK:-}" ]; then pre=6 epochs=3; else pre=12 epochs=6; fi
S=(--set model.filters=16 --set model.lstm_units=16 --set train.learning_rate=3e-3 --set train.batch_size=32
   --set model.bn_momentum=0.9)
"$SER_BIN" synth --out "$tmp/A" --seed 1 >/dev/null || bad "synth A failed"
"$SER_BIN" synth --out "$tmp/B" --seed 5 >/dev/null || bad "synth B failed"
"$SER_BIN" train --data "$tmp/A" --out "$tmp/pre" --set train.epochs=$pre "${S[@]}" --quiet >/dev/null 2>"$tmp/pre.err" ||
  bad "pretraining on A failed: $(tail -2 "$tmp/pre.err")"
model="$tmp/pre/model.safetensors"

"$SER_BIN" train --data "$tmp/B" --out "$tmp/scratch" --set train.epochs=$epochs "${S[@]}" --quiet >/dev/null 2>&1 ||
  bad "scratch on B failed"
"$SER_BIN" train --data "$tmp/B" --out "$tmp/ft" --init "$model" --set train.epochs=$epochs "${S[@]}" >/dev/null \
  2>"$tmp/ft.err" || bad "fine-tuning on B failed: $(tail -2 "$tmp/ft.err")"
grep -q "initialised from $model" "$tmp/ft.err" || bad "fine-tuning does not say what it started from"

# 1. epochs to reach the target (99: never within the budget)
target=0.5
first_epoch() {
  grep -o '"val_accuracy":[0-9.e-]*' "$1/history.jsonl" | cut -d: -f2 |
    awk -v t=$target 'NR == 1 {e = 99} $1 >= t && e == 99 {e = NR} END {print e}'
}
e_ft=$(first_epoch "$tmp/ft") e_sc=$(first_epoch "$tmp/scratch")
echo "epochs to validation accuracy $target on B: from A's model $e_ft, from scratch $e_sc (99: not within $epochs)"
if [ -n "${SER_TEST_QUICK:-}" ]; then
  echo "quick mode: the learning comparison is not checked"
else
  check '[ "$e_ft" -lt "$e_sc" ]' "fine-tuning took $e_ft epochs to reach $target, scratch $e_sc: no faster"
fi

# 3. what it started from
sha=$(sha256sum "$model" | cut -d' ' -f1)
check 'grep -q "\"sha256\":[[:space:]]*\"$sha\"" "$tmp/ft/report.json"' "report.json lacks the init model's SHA-256 $sha"
check 'grep -q "\"path\":[[:space:]]*\"$model\"" "$tmp/ft/report.json"' "report.json lacks the init model's path"
check 'head -c 65536 "$tmp/ft/model.safetensors" | grep -aq "ser.init"' "the fine-tuned model file has no ser.init"
check '! head -c 65536 "$tmp/scratch/model.safetensors" | grep -aq "ser.init"' "a model trained from scratch has ser.init"

# 3b. train.init_scaler = keep (the default) keeps the init model's scaler, through the feature
#     cache (lib_cli.sh's default) and in memory; refit fits this run's
scaler() { # MODEL: "mean std" from the safetensors header
  python3 -c 'import json,struct,sys; f=open(sys.argv[1],"rb"); n=struct.unpack("<Q",f.read(8))[0]; m=json.loads(f.read(n))["__metadata__"]; print(m["ser.scaler_mean"], m["ser.scaler_std"])' "$1"
}
if command -v python3 >/dev/null; then
  s_pre=$(scaler "$model") s_ft=$(scaler "$tmp/ft/model.safetensors") s_sc=$(scaler "$tmp/scratch/model.safetensors")
  check '[ -n "$s_pre" ] && [ "$s_ft" = "$s_pre" ] && [ "$s_sc" != "$s_pre" ]' \
    "init_scaler=keep through the cache: fine-tuned scaler '$s_ft', init model's '$s_pre', scratch '$s_sc'"
  SER_FEATURE_CACHE=off "$SER_BIN" train --data "$tmp/B" --out "$tmp/ft_mem" --init "$model" --set train.epochs=1 "${S[@]}" \
    --quiet >/dev/null 2>&1 || bad "fine-tuning in memory failed"
  check '[ "$(scaler "$tmp/ft_mem/model.safetensors")" = "$s_pre" ]' "init_scaler=keep in memory did not keep the scaler"
  "$SER_BIN" train --data "$tmp/B" --out "$tmp/ft_refit" --init "$model" --set train.epochs=1 --set train.init_scaler=refit \
    "${S[@]}" --quiet >/dev/null 2>&1 || bad "fine-tuning with refit failed"
  check '[ "$(scaler "$tmp/ft_refit/model.safetensors")" = "$s_sc" ]' "init_scaler=refit did not fit this run's scaler"
fi

# bytes of one tensor of a safetensors file (header: 8-byte little-endian length, JSON with
# "name":{"dtype":..,"shape":[..],"data_offsets":[a,b]}, then the data)
tensor_sha() {
  local f=$1 name=$2 hlen off a b
  hlen=$(od -An -t u8 -N 8 "$f" | tr -d ' ')
  off=$(head -c $((8 + hlen)) "$f" | tail -c "$hlen" | grep -o "\"$name\":{[^}]*}" | grep -o '"data_offsets":\[[0-9]*,[0-9]*\]' |
        grep -o '[0-9][0-9]*,[0-9]*')
  [ -n "$off" ] || { echo missing; return; }
  a=${off%,*} b=${off#*,}
  tail -c +$((8 + hlen + a + 1)) "$f" | head -c $((b - a)) | sha256sum | cut -d' ' -f1
}
# 2. freeze the first two of the four conv blocks
"$SER_BIN" train --data "$tmp/B" --out "$tmp/frozen" --init "$model" --set train.freeze=block2 \
  --set train.epochs=2 "${S[@]}" --quiet >/dev/null 2>"$tmp/frozen.err" || bad "freeze=block2 failed: $(tail -2 "$tmp/frozen.err")"
for t in conv1.kernel conv1.bias bn1.gamma bn1.beta bn1.moving_mean bn1.moving_variance \
         conv2.kernel conv2.bias bn2.gamma bn2.beta bn2.moving_mean bn2.moving_variance; do
  a=$(tensor_sha "$model" $t) b=$(tensor_sha "$tmp/frozen/model.safetensors" $t)
  check '[ "$a" != missing ] && [ "$a" = "$b" ]' "freeze=block2: $t changed (or is missing)"
done
for t in conv3.kernel bn3.moving_mean lstm1.kernel dense.kernel; do
  a=$(tensor_sha "$model" $t) b=$(tensor_sha "$tmp/frozen/model.safetensors" $t)
  check '[ "$a" != missing ] && [ "$a" != "$b" ]' "freeze=block2: $t did not train"
done

# 4. four of the seven classes: a new output layer, the rest from the model
"$SER_BIN" train --data "$tmp/B" --labels angry,happy,neutral,sad --out "$tmp/four" --init "$model" \
  --set train.epochs=1 "${S[@]}" >/dev/null 2>"$tmp/four.err" || bad "fine-tuning on 4 classes failed: $(tail -2 "$tmp/four.err")"
check 'grep -q "the output layer (dense.kernel, dense.bias) starts from its seeded initialisation" "$tmp/four.err"' \
  "another label set: no word that the output layer starts afresh"
check 'grep -q "\"output_layer_reset\":[[:space:]]*true" "$tmp/four/report.json"' "report.json: output_layer_reset is not true"

# 5. mismatches and misuse
"$SER_BIN" train --data "$tmp/B" --out "$tmp/wide" --init "$model" --set model.filters=8 --set model.lstm_units=16 \
  >/dev/null 2>"$tmp/wide.err"
rc=$?
check '[ $rc -ne 0 ] && grep -q "conv1.kernel is \[3,3,1,16\] in the model, \[3,3,1,8\] in this recipe" "$tmp/wide.err"' \
  "a filter-count mismatch: rc $rc, $(tail -1 "$tmp/wide.err")"
check '[ ! -e "$tmp/wide" ]' "a refused --init left a run folder behind"
"$SER_BIN" train --resume "$tmp/ft" --init "$model" >/dev/null 2>"$tmp/resume.err"
rc=$?
check '[ $rc -ne 0 ] && grep -q "\-\-init starts a fresh run" "$tmp/resume.err"' "--resume with --init: rc $rc"
"$SER_BIN" train --data "$tmp/B" --out "$tmp/nofile" --init "$tmp/none.safetensors" >/dev/null 2>"$tmp/nofile.err"
check '[ $? -ne 0 ] && grep -q "none.safetensors" "$tmp/nofile.err"' "a missing --init file is not named"

echo "cli_finetune: $pass passed, $fail failed"
exit $fail
