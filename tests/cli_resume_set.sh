#!/usr/bin/env bash
# `ser train --resume RUN` with --set: the keys a resume may change (docs/reliability.md) take
# effect and are recorded in RUN/config.ini, the others are refused, and so are --config, --data
# and the clip lists (a resume trains on what the run recorded):
#   - 2 epochs, then --resume --set train.epochs=3, then --resume --set train.epochs=4: the
#     model is byte-identical to a straight 4-epoch run's;
#   - a resume stopped by a fault (SER_FAULT_INJECT) after raising the epochs, continued by a
#     plain --resume, ends at the raised count (config.ini recorded it), byte-identical too;
#   - an early-stopped run stays stopped on a plain --resume and goes on when
#     train.early_stopping_patience is raised;
#   - refused with one error naming the key: model.filters, train.seed, features.n_mfcc, and
#     train.epochs under train.cosine_decay; config.ini and the checkpoint stay as they were.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_resume_set

"$SER_BIN" synth --out "$tmp/syn" --per-class 4 --seed 5 >/dev/null || { echo "FAIL: synth"; exit 1; }
sets=(--set train.batch_size=16 --set model.filters=16 --set model.lstm_units=16 --set features.frames=64
      --set train.early_stopping_patience=0)
train() { "$SER_BIN" train --data "$tmp/syn" "${sets[@]}" --device cpu --quiet "$@"; }
resume() { "$SER_BIN" train --resume "$@" --device cpu --quiet; }
epochs_of() { sed -n 's/^epochs = //p' "$1/config.ini"; }
lines() { wc -l <"$1"; }

train --out "$tmp/ref" --set train.epochs=4 >/dev/null 2>"$tmp/ref.err" || { echo "FAIL: reference run: $(tail -2 "$tmp/ref.err")"; exit 1; }

# --- allowed: train.epochs, twice ---
train --out "$tmp/run" --set train.epochs=2 >/dev/null 2>"$tmp/e" || bad "2-epoch run: $(tail -2 "$tmp/e")"
resume "$tmp/run" --set train.epochs=3 >/dev/null 2>"$tmp/e"
check '[ $? -eq 0 ]' "--resume --set train.epochs=3 failed: $(tail -2 "$tmp/e")"
check '[ "$(epochs_of "$tmp/run")" = 3 ] && [ "$(lines "$tmp/run/history.jsonl")" -eq 3 ]' \
  "after --set train.epochs=3: config.ini epochs $(epochs_of "$tmp/run"), $(lines "$tmp/run/history.jsonl") history lines"
resume "$tmp/run" --set train.epochs=4 >/dev/null 2>"$tmp/e"
check '[ $? -eq 0 ]' "--resume --set train.epochs=4 failed: $(tail -2 "$tmp/e")"
check 'cmp -s "$tmp/run/model.safetensors" "$tmp/ref/model.safetensors"' \
  "2 epochs + --set train.epochs=3 + --set train.epochs=4: model differs from the straight 4-epoch run's"
# the other allowed keys (how to run, not what): accepted and recorded (the model file keeps the
# config, so it is compared no more)
resume "$tmp/run" --set train.threads=1 --set train.aug_prefetch=false --set train.audio_cache_mb=64 \
  --set cuda.device=0 >/dev/null 2>"$tmp/e"
check '[ $? -eq 0 ] && grep -q "^threads = 1" "$tmp/run/config.ini" && grep -q "^aug_prefetch = false" "$tmp/run/config.ini"' \
  "--resume with the run-time keys: $(tail -2 "$tmp/e")"

# --- the raised count is recorded: a resume stopped by a fault, then a plain --resume ---
train --out "$tmp/rec" --set train.epochs=2 >/dev/null 2>"$tmp/e" || bad "2-epoch run: $(tail -2 "$tmp/e")"
n_train=$(grep -vc '^#' "$tmp/rec/train.tsv")
steps=$(( (n_train + 15) / 16 ))
# the fault at the first step of epoch 4 (epoch 3 is checkpointed)
SER_FAULT_INJECT=step:$((steps + 1)) resume "$tmp/rec" --set train.epochs=4 >/dev/null 2>"$tmp/e"; rc=$?
check '[ $rc -ne 0 ] && grep -q "epoch 4, batch 1: backend cpu: step" "$tmp/e"' \
  "the injected fault did not stop epoch 4: rc $rc, $(tail -2 "$tmp/e")"
check '[ "$(epochs_of "$tmp/rec")" = 4 ] && [ "$(lines "$tmp/rec/history.jsonl")" -eq 3 ]' \
  "after the stopped resume: config.ini epochs $(epochs_of "$tmp/rec"), $(lines "$tmp/rec/history.jsonl") history lines"
resume "$tmp/rec" >/dev/null 2>"$tmp/e"
check '[ $? -eq 0 ] && [ "$(lines "$tmp/rec/history.jsonl")" -eq 4 ]' \
  "a plain --resume did not go on to the recorded 4 epochs: $(tail -2 "$tmp/e")"
check 'cmp -s "$tmp/rec/model.safetensors" "$tmp/ref/model.safetensors"' \
  "the resume to the recorded epochs: model differs from the straight 4-epoch run's"

# --- allowed: train.early_stopping_patience (learning rate 0: val_loss never improves) ---
train --out "$tmp/es" --set train.epochs=10 --set train.learning_rate=0 --set train.early_stopping_patience=1 \
  >/dev/null 2>"$tmp/e" || bad "early-stopping run: $(tail -2 "$tmp/e")"
check '[ "$(lines "$tmp/es/history.jsonl")" -eq 2 ]' "patience 1 should stop after 2 epochs: $(lines "$tmp/es/history.jsonl")"
resume "$tmp/es" >/dev/null 2>"$tmp/e"
check '[ $? -eq 0 ] && [ "$(lines "$tmp/es/history.jsonl")" -eq 2 ]' "a plain resume of a stopped run trained on: $(tail -2 "$tmp/e")"
resume "$tmp/es" --set train.early_stopping_patience=3 >/dev/null 2>"$tmp/e"
check '[ $? -eq 0 ] && [ "$(lines "$tmp/es/history.jsonl")" -eq 4 ]' \
  "patience raised to 3: expected 4 epochs, $(lines "$tmp/es/history.jsonl") ($(tail -2 "$tmp/e"))"
check 'grep -q "^early_stopping_patience = 3" "$tmp/es/config.ini"' "config.ini does not record the new patience"

# --- refused: keys that change what is computed, --config, --data, the lists ---
h_cfg=$(sha256sum <"$tmp/run/config.ini"); h_ck=$(sha256sum <"$tmp/run/checkpoint.safetensors")
for kv in model.filters=8 train.seed=7 features.n_mfcc=20 train.learning_rate=0.1; do
  resume "$tmp/run" --set "$kv" >/dev/null 2>"$tmp/e"; rc=$?
  check '[ $rc -ne 0 ] && [ "$(wc -l <"$tmp/e")" -eq 1 ] && grep -q "${kv%%=*} cannot change on a resume" "$tmp/e"' \
    "--resume --set $kv: rc $rc, $(cat "$tmp/e")"
done
printf '[train]\nepochs = 9\n' >"$tmp/other.ini"
for args in "--config $tmp/other.ini" "--data $tmp/syn" "--train-list $tmp/run/train.tsv --val-list $tmp/run/val.tsv" \
            "--test-list $tmp/run/val.tsv" "--test-dir $tmp/syn"; do
  # shellcheck disable=SC2086
  "$SER_BIN" train --resume "$tmp/run" $args --quiet >/dev/null 2>"$tmp/e"; rc=$?
  check '[ $rc -eq 2 ] && grep -q "^ser train: --resume t" "$tmp/e"' "--resume with $args: rc $rc, $(head -2 "$tmp/e")"
done
check '[ "$(sha256sum <"$tmp/run/config.ini")" = "$h_cfg" ] && [ "$(sha256sum <"$tmp/run/checkpoint.safetensors")" = "$h_ck" ]' \
  "a refused resume changed config.ini or the checkpoint"

# --- refused: train.epochs under train.cosine_decay (its curve spans the recorded epochs) ---
train --out "$tmp/cos" --set train.epochs=2 --set train.cosine_decay=true >/dev/null 2>"$tmp/e" || bad "cosine run: $(tail -2 "$tmp/e")"
resume "$tmp/cos" --set train.epochs=4 >/dev/null 2>"$tmp/e"; rc=$?
check '[ $rc -ne 0 ] && grep -q "cosine_decay" "$tmp/e" && [ "$(epochs_of "$tmp/cos")" = 2 ]' \
  "--set train.epochs under cosine_decay: rc $rc, config epochs $(epochs_of "$tmp/cos"), $(cat "$tmp/e")"

if [ $fail -ne 0 ]; then
  echo "cli_resume_set: $pass passed, $fail failed"
  exit 1
fi
echo "cli_resume_set: $pass passed"
