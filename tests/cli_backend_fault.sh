#!/usr/bin/env bash
# A backend failure stops `ser train` loudly (issue: a failed call was printed and training went
# on, checkpointing stale host parameters). With the test hook SER_FAULT_INJECT=OP:N
# (host/train/net.c, docs/reliability.md) the N-th call of a backend operation fails as a device
# error would. For each of the operations the training run calls (forward, download_probs,
# backward, step, download_state, upload_state), on a resume of a 2-epoch run raised to 4:
#   - exit status 1 and one line on stderr (--quiet), naming the backend and the operation;
#   - checkpoint.safetensors byte-identical to before (the last good one), no model.safetensors;
# then the same folder resumed without the fault ends byte-identical to a straight 4-epoch run.
# And a fresh run failing in epoch 3 keeps epoch 2's checkpoint and resumes to the same model.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_backend_fault

"$SER_BIN" synth --out "$tmp/syn" --per-class 4 --seed 5 >/dev/null || { echo "FAIL: synth"; exit 1; }
sets=(--set train.batch_size=16 --set model.filters=16 --set model.lstm_units=16 --set features.frames=64
      --set train.early_stopping_patience=0)
train() { "$SER_BIN" train --data "$tmp/syn" "${sets[@]}" --device cpu --quiet "$@"; }
hash() { sha256sum <"$1" | cut -d' ' -f1; }

train --out "$tmp/ref" --set train.epochs=4 >/dev/null 2>"$tmp/e" || { echo "FAIL: reference run: $(tail -2 "$tmp/e")"; exit 1; }
train --out "$tmp/base" --set train.epochs=2 >/dev/null 2>"$tmp/e" || { echo "FAIL: 2-epoch run: $(tail -2 "$tmp/e")"; exit 1; }
rm "$tmp/base/model.safetensors"
h_base=$(hash "$tmp/base/checkpoint.safetensors")

for op in forward download_probs backward step download_state upload_state; do
  run="$tmp/run_$op"
  cp -r "$tmp/base" "$run"
  SER_FAULT_INJECT=$op:1 "$SER_BIN" train --resume "$run" --set train.epochs=4 --device cpu --quiet >/dev/null 2>"$tmp/e"
  rc=$?
  check '[ $rc -eq 1 ]' "$op fault: exit status $rc (expected 1): $(tail -2 "$tmp/e")"
  check '[ "$(wc -l <"$tmp/e")" -eq 1 ] && grep -q "^ser train: .*backend cpu: $op: injected fault" "$tmp/e"' \
    "$op fault: expected one line naming the operation, got: $(head -5 "$tmp/e")"
  check '[ "$(hash "$run/checkpoint.safetensors")" = "$h_base" ] && [ ! -e "$run/model.safetensors" ]' \
    "$op fault: the checkpoint changed or a model was written"
  "$SER_BIN" train --resume "$run" --device cpu --quiet >/dev/null 2>"$tmp/e"
  check '[ $? -eq 0 ] && cmp -s "$run/model.safetensors" "$tmp/ref/model.safetensors"' \
    "$op fault, then a resume without it: the model differs from the straight run's ($(tail -2 "$tmp/e"))"
done

# A fresh run failing at the first step of epoch 3: the checkpoint says 2 epochs, and the run
# resumed from it ends like the straight one.
n_train=$(grep -vc '^#' "$tmp/base/train.tsv")
steps=$(( (n_train + 15) / 16 ))
SER_FAULT_INJECT=step:$((2 * steps + 1)) train --out "$tmp/fresh" --set train.epochs=4 >/dev/null 2>"$tmp/e"; rc=$?
check '[ $rc -eq 1 ] && [ "$(grep -c "injected fault" "$tmp/e")" -eq 1 ] && grep -q "stopped at epoch 3, batch 1: backend cpu: step" "$tmp/e"' \
  "fresh run, step fault in epoch 3: rc $rc, $(cat "$tmp/e")"
check '[ "$(wc -l <"$tmp/fresh/history.jsonl")" -eq 2 ] && [ ! -e "$tmp/fresh/model.safetensors" ]' \
  "fresh run, step fault in epoch 3: $(wc -l <"$tmp/fresh/history.jsonl") history lines, model present: $(ls "$tmp/fresh")"
"$SER_BIN" train --resume "$tmp/fresh" --device cpu --quiet >/dev/null 2>"$tmp/e"
check '[ $? -eq 0 ] && cmp -s "$tmp/fresh/model.safetensors" "$tmp/ref/model.safetensors"' \
  "fresh run failed in epoch 3, resumed: the model differs from the straight run's ($(tail -2 "$tmp/e"))"

# A malformed hook value is refused, naming the variable (never silently no fault).
SER_FAULT_INJECT=stpe:1 train --out "$tmp/bad" --set train.epochs=1 >/dev/null 2>"$tmp/e"; rc=$?
check '[ $rc -ne 0 ] && grep -q "SER_FAULT_INJECT=stpe:1" "$tmp/e"' "SER_FAULT_INJECT=stpe:1: rc $rc, $(cat "$tmp/e")"

if [ $fail -ne 0 ]; then
  echo "cli_backend_fault: $pass passed, $fail failed"
  exit 1
fi
echo "cli_backend_fault: $pass passed"
