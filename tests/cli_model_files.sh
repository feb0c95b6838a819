#!/usr/bin/env bash
# Model files from outside: a model whose metadata config asks for a huge network (a few KB
# that once made `ser predict` allocate 5+ GB and spend minutes initialising it before the
# shapes were compared) fails at once, naming the file, in little memory. The other bad
# model files (truncated, junk) are covered by cli_train.sh; random ones by fuzz_safetensors.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib_cli.sh" cli_model
[ -x /usr/bin/time ] || { echo "SKIPPED: /usr/bin/time (GNU time) is needed to measure peak memory"; exit 77; }

"$SER_BIN" synth --out "$tmp/syn" --per-class 1 --speakers 1 >/dev/null || { echo "FAIL: synth"; exit 1; }
wav=$(find "$tmp/syn" -name '*.wav' | head -1)
model=$here/fuzz/corpus/safetensors/crash_huge_config_alloc.safetensors
timeout 60 /usr/bin/time -f '%e %M' -o "$tmp/usage" "$SER_BIN" predict --model "$model" "$wav" >/dev/null 2>"$tmp/err"
rc=$?
read -r secs kib < <(tail -1 "$tmp/usage")
echo "huge-config model: rc $rc, ${secs} s, peak ${kib} KiB: $(cat "$tmp/err")"
if [ $rc -eq 1 ]; then ok; else bad "want exit 1 (124: timed out), got $rc"; fi
if grep -q "crash_huge_config_alloc.safetensors: another architecture" "$tmp/err"; then ok; else bad "error: $(cat "$tmp/err")"; fi
# (ASan's own memory makes the bound loose there, but 5 GB would still show)
if [ "${kib:-999999999}" -lt 409600 ]; then ok; else bad "peak memory ${kib} KiB"; fi

echo "cli_model_files: $pass passed, $fail failed"
[ $fail -eq 0 ]
