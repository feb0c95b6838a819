#!/usr/bin/env bash
# `ser export --onnx` end to end: train three small models on `ser synth` clips (configs/demo.ini,
# and a variant exercising every shape path: f0 rows, odd sizes, pool 3 with padding before,
# kernel 5, time_axis, no attention) and one with statistics pooling, export them, then check
# each with onnx.checker and run it in onnxruntime on `ser mfcc` features of real clips (synth;
# ../shared/data/tess when present):
# every probability within 1e-5 of `ser predict --json` (tests/python/onnx_check.py). Also: a
# model whose config the graph cannot express is refused naming the key.
# onnx + onnxruntime come from PyPI into BUILD/pyenv (tests/lib_pyenv.sh): SKIPPED without them.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_onnx_export
here=$(cd "$(dirname "$0")" && pwd)
tol=1e-5

"$SER_BIN" synth --out "$tmp/syn" --per-class 10 --seed 5 >/dev/null || bad "synth failed"
# name, then the --set overrides over configs/demo.ini
variants=(
  "demo|--set train.epochs=2"
  "shapes|--set train.epochs=1 --set features.n_mfcc=20 --set features.f0_rows=1 --set features.frames=99 --set model.pool=3 --set model.kernel=5 --set model.conv_blocks=3 --set model.filters=8 --set model.time_axis=1 --set model.attention=0"
  "statspool|--set train.epochs=1 --set model.stats_pool=1"
)
for v in "${variants[@]}"; do
  name=${v%%|*}
  # shellcheck disable=SC2086
  "$SER_BIN" train --config "$here/../configs/demo.ini" --data "$tmp/syn" --out "$tmp/$name" --device cpu --quiet \
    ${v#*|} >"$tmp/$name.train" 2>&1 || { bad "$name: ser train failed: $(tail -3 "$tmp/$name.train")"; continue; }
  "$SER_BIN" export --onnx "$tmp/$name.onnx" --model "$tmp/$name/model.safetensors" 2>"$tmp/$name.export"
  check '[ $? -eq 0 ] && [ -s "$tmp/$name.onnx" ]' "$name: ser export failed: $(cat "$tmp/$name.export")"
done

# Not expressible: per-clip normalisation (features.normalize) is refused, naming the key.
"$SER_BIN" train --config "$here/../configs/demo.ini" --data "$tmp/syn" --out "$tmp/norm" --device cpu --quiet \
  --set train.epochs=1 --set features.normalize=1 >"$tmp/norm.train" 2>&1 || bad "normalize: ser train failed"
"$SER_BIN" export --onnx "$tmp/norm.onnx" --model "$tmp/norm/model.safetensors" 2>"$tmp/norm.export"; rc=$?
check '[ $rc -ne 0 ] && grep -q "features.normalize" "$tmp/norm.export" && [ ! -e "$tmp/norm.onnx" ]' \
  "features.normalize = 1 should be refused naming the key: rc $rc, $(cat "$tmp/norm.export")"
"$SER_BIN" export --onnx "$tmp/x.onnx" 2>"$tmp/usage.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q -- "--model" "$tmp/usage.err"' "missing --model: rc $rc, $(cat "$tmp/usage.err")"

if [ $fail -ne 0 ]; then
  echo "cli_onnx_export: $pass passed, $fail failed"
  exit 1
fi

# Real clips: every 10th synth clip, every 50th TESS clip when the corpus is there.
mapfile -t clips < <(find "$tmp/syn" -name '*.wav' | sort | awk 'NR % 10 == 1')
tess=${SER_SHARED_DATA:-}/tess
if [ -n "${SER_SHARED_DATA:-}" ] && [ -d "$tess" ]; then
  mapfile -t -O ${#clips[@]} clips < <(find "$tess" -type f \( -iname '*.wav' -o -iname '*.aif*' \) | sort | awk 'NR % 50 == 1')
else
  echo "cli_onnx_export: no $tess: synth clips only"
fi

. "$here/lib_pyenv.sh"
pyenv_need numpy=numpy onnx=onnx onnxruntime=onnxruntime
for v in "${variants[@]}"; do
  name=${v%%|*}
  "$SER_BIN" mfcc --config "$tmp/$name/config.ini" --device cpu --strict --out "$tmp/$name.npy" "${clips[@]}" \
    >/dev/null 2>"$tmp/$name.mfcc" || { bad "$name: ser mfcc failed: $(tail -2 "$tmp/$name.mfcc")"; continue; }
  "$SER_BIN" predict --json --device cpu --model "$tmp/$name/model.safetensors" "${clips[@]}" \
    >"$tmp/$name.jsonl" 2>"$tmp/$name.predict" || { bad "$name: ser predict failed: $(tail -2 "$tmp/$name.predict")"; continue; }
  "$py" "$here/python/onnx_check.py" "$tmp/$name.onnx" "$tmp/$name.npy" "$tmp/$name.txt" "$tmp/$name.jsonl" $tol
  check '[ $? -eq 0 ]' "$name: ONNX model differs from ser predict (above)"
done

echo "cli_onnx_export: $pass passed, $fail failed (${#clips[@]} clips)"
[ $fail -eq 0 ]
