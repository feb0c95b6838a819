#!/usr/bin/env bash
# `ser train --tensorboard` end to end: train 2 epochs on `ser synth` clips (configs/demo.ini),
# then continue the run to 4 epochs with --resume --set train.epochs=4, and read RUN/tb/ with
# TensorBoard's EventAccumulator (tests/python/tensorboard_check.py):
# the scalars equal history.jsonl epoch for epoch (both files together), the confusion matrix image
# is there. Also: the config key is validated like the others, and a run without it writes no tb/.
# tensorboard comes from PyPI into BUILD/pyenv (tests/lib_pyenv.sh): SKIPPED without it.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_tensorboard
here=$(cd "$(dirname "$0")" && pwd)

"$SER_BIN" synth --out "$tmp/syn" --per-class 8 --seed 7 >/dev/null || bad "synth failed"
train() { "$SER_BIN" train --config "$here/../configs/demo.ini" --device cpu --quiet "$@"; }
train --data "$tmp/syn" --out "$tmp/run" --set train.epochs=2 --tensorboard >"$tmp/t1" 2>&1
check '[ $? -eq 0 ]' "ser train --tensorboard failed: $(tail -3 "$tmp/t1")"
check 'grep -q "^tensorboard = true" "$tmp/run/config.ini"' "config.ini does not record train.tensorboard"
check '[ "$(ls "$tmp/run/tb" | grep -c tfevents)" -eq 1 ]' "expected one events file: $(ls "$tmp/run/tb")"
"$SER_BIN" train --resume "$tmp/run" --set train.epochs=4 --device cpu --quiet >"$tmp/t2" 2>&1
check '[ $? -eq 0 ]' "ser train --resume failed: $(tail -3 "$tmp/t2")"
check '[ "$(wc -l <"$tmp/run/history.jsonl")" -eq 4 ]' "history.jsonl should hold 4 epochs after the resume"
check '[ "$(ls "$tmp/run/tb" | grep -c tfevents)" -eq 2 ]' "the resumed run should add a second events file: $(ls "$tmp/run/tb")"

train --data "$tmp/syn" --out "$tmp/plain" --set train.epochs=1 >"$tmp/t3" 2>&1; rc=$?
check '[ $rc -eq 0 ] && [ ! -e "$tmp/plain/tb" ]' "a run without train.tensorboard wrote tb/ (or failed: $(tail -2 "$tmp/t3"))"
train --data "$tmp/syn" --out "$tmp/bad" --set train.tensorboard=maybe >"$tmp/t4" 2>&1; rc=$?
check '[ $rc -ne 0 ] && grep -q "train.tensorboard" "$tmp/t4"' "train.tensorboard=maybe: rc $rc, $(cat "$tmp/t4")"

if [ $fail -ne 0 ]; then
  echo "cli_tensorboard: $pass passed, $fail failed"
  exit 1
fi
. "$here/lib_pyenv.sh"
pyenv_need numpy=numpy tensorboard=tensorboard
"$py" -W ignore "$here/python/tensorboard_check.py" "$tmp/run"
check '[ $? -eq 0 ]' "TensorBoard's reader disagrees with history.jsonl (above)"

echo "cli_tensorboard: $pass passed, $fail failed"
[ $fail -eq 0 ]
