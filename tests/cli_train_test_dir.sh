#!/usr/bin/env bash
# `ser train --test-dir DIR`: a held-out folder evaluated at the end of training.
#   - its clips, and only they, are RUN/test.tsv; none is trained or validated on;
#   - report.json's "test" is what `ser eval` of the saved model on DIR reports (accuracy, UA,
#     confusion matrix, clips), and confusion_matrix_test.png is written;
#   - refused with --test-list, and with --resume.
# And RUN/checkpoint.safetensors has the layout docs/file-formats.md documents (parameters,
# Adam m and v in the padded slice layout, then two counters: tests/python/checkpoint_layout.py).
set -u
. "$(dirname "$0")/lib_cli.sh" cli_train_test_dir
here=$(cd "$(dirname "$0")" && pwd)

"$SER_BIN" synth --out "$tmp/syn" --per-class 4 --seed 5 >/dev/null || { echo "FAIL: synth"; exit 1; }
"$SER_BIN" synth --out "$tmp/held" --per-class 2 --seed 9 >/dev/null || { echo "FAIL: synth (held out)"; exit 1; }
sets=(--set train.epochs=2 --set train.batch_size=16 --set model.filters=16 --set model.lstm_units=16
      --set features.frames=64)
"$SER_BIN" train --data "$tmp/syn" --test-dir "$tmp/held" "${sets[@]}" --device cpu --quiet --out "$tmp/run" \
  >/dev/null 2>"$tmp/train.err"
rc=$?
check '[ $rc -eq 0 ]' "ser train --test-dir failed: $(tail -3 "$tmp/train.err")"

# the test split is the held-out folder, all of it, and nothing else
held_files=$(find "$tmp/held" -name '*.wav' | sort)
test_files=$(grep -v '^#' "$tmp/run/test.tsv" | cut -f1 | sort)
check '[ -n "$held_files" ] && [ "$held_files" = "$test_files" ]' \
  "test.tsv should list the $(wc -l <<<"$held_files") files of --test-dir: $(head -3 "$tmp/run/test.tsv")"
check '! grep -q "$tmp/held" "$tmp/run/train.tsv" "$tmp/run/val.tsv"' "a held-out clip is in train.tsv or val.tsv"
check '[ -s "$tmp/run/confusion_matrix_test.png" ]' "no confusion_matrix_test.png"

# the end-of-run evaluation is ser eval's
"$SER_BIN" eval --model "$tmp/run/model.safetensors" --data "$tmp/held" --device cpu --json --png "$tmp/eval.png" \
  >"$tmp/eval.json" 2>"$tmp/eval.err"
rc=$?
check '[ $rc -eq 0 ]' "ser eval failed: $(tail -3 "$tmp/eval.err")"
cmp_out=$(python3 - "$tmp/run/report.json" "$tmp/eval.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1])).get("test")
e = json.load(open(sys.argv[2]))
if t is None:
    print("report.json has no test section")
else:
    for k in ("accuracy", "uar", "macro_f1", "confusion", "clips", "labels"):
        if t.get(k) != e.get(k):
            print(f"{k}: train's report {t.get(k)}, ser eval {e.get(k)}")
PY
)
check '[ -z "$cmp_out" ]' "report.json's test section differs from ser eval: $cmp_out"
check '[ "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"test\"][\"clips\"])" "$tmp/run/report.json")" = "$(wc -l <<<"$held_files")" ]' \
  "report.json's test clips is not the held-out folder's count"

# the checkpoint's documented layout
train_clips=$(grep -vc '^#' "$tmp/run/train.tsv")
python3 "$here/python/checkpoint_layout.py" "$tmp/run" $(((train_clips + 15) / 16)) >"$tmp/layout.out" 2>&1
rc=$?
check '[ $rc -eq 0 ]' "checkpoint layout: $(cat "$tmp/layout.out")"

# refused combinations, each with one line naming the options
"$SER_BIN" train --data "$tmp/syn" --test-dir "$tmp/held" --test-list "$tmp/run/test.tsv" "${sets[@]}" --device cpu \
  --quiet --out "$tmp/both" >/dev/null 2>"$tmp/both.err"
rc=$?
check '[ $rc -ne 0 ] && grep -q -- "--test-dir and --test-list" "$tmp/both.err"' "--test-dir with --test-list: rc $rc, $(head -1 "$tmp/both.err")"
"$SER_BIN" train --resume "$tmp/run" --test-dir "$tmp/held" --device cpu --quiet >/dev/null 2>"$tmp/resume.err"
rc=$?
check '[ $rc -ne 0 ] && grep -q -- "--test-dir" "$tmp/resume.err"' "--resume with --test-dir: rc $rc, $(head -1 "$tmp/resume.err")"

[ "$fail" -eq 0 ] && echo "cli_train_test_dir: $pass checks passed"
exit "$fail"
