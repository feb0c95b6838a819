#!/usr/bin/env bash
# ser cv with more data than the folds' corpus: --extra-data joins every fold's training set
# (never its validation or test set), --pretrain-data trains one model first that every fold
# fine-tunes from (OUT/pretrain), --init MODEL makes every fold start from MODEL; and the
# misuses are refused by name.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_cv_extra

S=(--set model.filters=8 --set model.lstm_units=8 --set train.batch_size=32 --set train.epochs=1)
"$SER_BIN" synth --out "$tmp/T" --speakers 4 --per-class 4 --seed 9 >/dev/null || bad "synth T failed"
"$SER_BIN" synth --out "$tmp/X" --speakers 2 --per-class 5 --seed 3 >/dev/null || bad "synth X failed"
nx=$(find "$tmp/X" -name '*.wav' | wc -l)

# --extra-data: the extra clips in every fold's training list and nowhere else
"$SER_BIN" cv --data "$tmp/T" --extra-data "$tmp/X" --folds 2 --out "$tmp/cvx" "${S[@]}" >"$tmp/cvx.out" 2>"$tmp/cvx.err"
rc=$?
check '[ $rc -eq 0 ]' "cv --extra-data failed: $(tail -2 "$tmp/cvx.err")"
for k in 1 2; do
  got=$(grep -c "^$tmp/X/" "$tmp/cvx/fold_$k/cv_train.tsv")
  check '[ "$got" -eq "$nx" ]' "fold $k: $got of the $nx extra clips in cv_train.tsv"
  check '! grep -q "^$tmp/X/" "$tmp/cvx/fold_$k/cv_val.tsv" "$tmp/cvx/fold_$k/cv_test.tsv"' "fold $k: an extra clip validates or tests"
  check '[ "$(grep -c "^$tmp/T/" "$tmp/cvx/fold_$k/cv_test.tsv")" -gt 0 ]' "fold $k: no test clip of the folds' corpus"
done
check 'grep -q "more train in every fold" "$tmp/cvx.err"' "cv --extra-data does not say what it adds"

# --pretrain-data: one pretraining run, then the folds start from its model
"$SER_BIN" cv --data "$tmp/T" --pretrain-data "$tmp/X" --folds 2 --out "$tmp/cvp" "${S[@]}" --set train.freeze=block1 \
  --pretrain-set model.filters=8 --pretrain-set model.lstm_units=8 --pretrain-set train.epochs=2 >/dev/null 2>"$tmp/cvp.err"
rc=$?
check '[ $rc -eq 0 ]' "cv --pretrain-data failed: $(tail -2 "$tmp/cvp.err")"
check '[ -s "$tmp/cvp/pretrain/model.safetensors" ] && [ "$(grep -c "\"epoch\"" "$tmp/cvp/pretrain/history.jsonl")" -eq 2 ]' \
  "no pretrained model with its own recipe (2 epochs) in OUT/pretrain"
check '! grep -q "^$tmp/T/" "$tmp/cvp/pretrain/cv_train.tsv" "$tmp/cvp/pretrain/cv_val.tsv"' "a fold corpus clip pretrains"
for k in 1 2; do
  check 'grep -q "\"path\":[[:space:]]*\"$tmp/cvp/pretrain/model.safetensors\"" "$tmp/cvp/fold_$k/report.json"' \
    "fold $k does not record the pretrained model as its init"
  check '! grep -q "^$tmp/X/" "$tmp/cvp/fold_$k/cv_train.tsv"' "fold $k trains on the pretraining corpus"
done
# a rerun keeps the pretrained model and the folds
before=$(sha256sum "$tmp/cvp/pretrain/model.safetensors")
"$SER_BIN" cv --data "$tmp/T" --pretrain-data "$tmp/X" --folds 2 --out "$tmp/cvp" "${S[@]}" --set train.freeze=block1 \
  --pretrain-set model.filters=8 --pretrain-set model.lstm_units=8 --pretrain-set train.epochs=2 >/dev/null 2>"$tmp/cvp2.err"
check 'grep -q "pretraining: finished earlier, kept" "$tmp/cvp2.err" && [ "$before" = "$(sha256sum "$tmp/cvp/pretrain/model.safetensors")" ]' \
  "a rerun did not keep the pretrained model"

# --init MODEL: every fold starts from it
"$SER_BIN" cv --data "$tmp/T" --init "$tmp/cvp/pretrain/model.safetensors" --folds 2 --out "$tmp/cvi" "${S[@]}" \
  --print-commands >"$tmp/cvi.out" 2>/dev/null
check '[ "$(grep -c -- "--init $tmp/cvp/pretrain/model.safetensors" "$tmp/cvi.out")" -eq 2 ]' "cv --init: the fold commands lack --init"

# refusals
"$SER_BIN" cv --data "$tmp/T" --init "$tmp/cvp/pretrain/model.safetensors" --pretrain-data "$tmp/X" --folds 2 \
  --out "$tmp/bad1" >/dev/null 2>"$tmp/bad1.err"
check '[ $? -ne 0 ] && grep -q "exclude each other" "$tmp/bad1.err"' "--init with --pretrain-data is not refused"
"$SER_BIN" cv --data "$tmp/T" --extra-data "$tmp/T" --folds 2 --out "$tmp/bad2" >/dev/null 2>"$tmp/bad2.err"
rc=$?
check '[ $rc -ne 0 ] && grep -q "the same folder given twice" "$tmp/bad2.err"' \
  "the same folder as --data and --extra-data: $(tail -1 "$tmp/bad2.err")"
"$SER_BIN" cv --data "$tmp/T" --pretrain-set train.epochs=2 --folds 2 --out "$tmp/bad3" >/dev/null 2>"$tmp/bad3.err"
check '[ $? -ne 0 ] && grep -q "need --pretrain-data" "$tmp/bad3.err"' "--pretrain-set without --pretrain-data is not refused"

echo "cli_cv_extra: $pass passed, $fail failed"
exit $fail
