#!/usr/bin/env bash
# The CLI's smoke path under valgrind memcheck: synth, scan, mfcc, a tiny train, eval,
# predict, a resume, and the error paths of bad input (junk model, bad audio file, missing
# folder). Any memcheck error or leak (definite, indirect or possible; the suppressions file
# lists, with reasons, the library allocations that are not leaks of ours) fails the test.
# Registered by -DSER_VALGRIND=ON (make valgrind): the build must not use -march=native
# (valgrind does not decode AVX-512).
set -u
: "${SER_BIN:?SER_BIN must point at the ser binary}"
command -v valgrind >/dev/null || { echo "SKIPPED: valgrind not installed"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/ser_valgrind_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
# ser re-executes itself once to set OMP_WAIT_POLICY: set it here so that the process
# valgrind watches is the one that does the work.
export OMP_WAIT_POLICY=passive SER_NO_REEXEC=1
VG=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --suppressions="$here/sanitizers/valgrind.supp"
    --num-callers=40 --gen-suppressions=all)
# vg NAME WANT_RC ser ARGS...: runs ser under memcheck; 99 = memcheck found something
vg() {
  local name=$1 want=$2
  shift 2
  local t0=$SECONDS
  "${VG[@]}" "$SER_BIN" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  local rc=$?
  if [ $rc -eq 99 ]; then
    echo "FAIL: $name: memcheck errors:" >&2; cat "$tmp/$name.err" >&2; fail=1
  elif [ $rc -ne "$want" ]; then
    echo "FAIL: $name: exit $rc, want $want: $(tail -3 "$tmp/$name.err")" >&2; fail=1
  else
    pass=$((pass + 1))
  fi
  echo "$name: rc $rc ($((SECONDS - t0)) s)"
}

# synth is slow under memcheck: a small corpus under it, the working one natively
vg synth 0 synth --out "$tmp/syn1" --per-class 1 --speakers 1
"$SER_BIN" synth --out "$tmp/syn" --per-class 1 --speakers 2 >/dev/null || { echo "FAIL: synth"; exit 1; }
head -c 3000 /dev/urandom >"$tmp/syn/SPA_angry/SPA_zzjunk_angry.wav"
vg scan 0 scan "$tmp/syn"
vg mfcc 0 mfcc --out "$tmp/f.npy" "$tmp/syn"
small=(--set model.filters=8 --set model.lstm_units=8 --set features.frames=32 --set train.batch_size=4
       --set train.validation_split=0.3)
vg train 0 train --data "$tmp/syn" --out "$tmp/run" --set train.epochs=2 "${small[@]}" --quiet
sed -i 's/^epochs = .*/epochs = 3/' "$tmp/run/config.ini"
vg resume 0 train --resume "$tmp/run" --quiet
vg eval 0 eval --model "$tmp/run/model.safetensors" --data "$tmp/syn" --json
vg predict 1 predict --model "$tmp/run/model.safetensors" --json "$tmp"/syn/SPA_angry/*.wav
echo "not a model" >"$tmp/junk.safetensors"
vg predict_junk_model 1 predict --model "$tmp/junk.safetensors" "$tmp"/syn/SPA_angry/SPA_zzjunk_angry.wav
# emotion over time: streamed and resampled (24414 -> 22050 Hz), batched, with the PNG timeline
vg synth_sequence 0 synth --sequence "$tmp/seq.wav" --emotions angry,sad,happy --gap 1
vg predict_window 0 predict --model "$tmp/run/model.safetensors" --window 1 --hop 0.4 --batch 3 --json \
    --png "$tmp/timeline.png" "$tmp/seq.wav"
vg predict_window_junk 1 predict --model "$tmp/run/model.safetensors" --window 1 \
    "$tmp"/syn/SPA_angry/SPA_zzjunk_angry.wav
vg train_missing_data 1 train --data "$tmp/nonexistent" --out "$tmp/x"
vg mfcc_strict 1 mfcc --strict --out "$tmp/g.npy" "$tmp/syn"

echo "valgrind_cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
