#!/usr/bin/env bash
# `ser eval` ensembles match their members' clips by path, not by row number (issue: two models
# that kept different clips summed the probabilities of different clips). Two models whose
# audio windows differ (A reads 0-1 s of each clip, B 1-2 s):
#   - a list with two clips whose NaN sample falls in one model's window only (X at 0.5 s: A
#     skips it; Y at 1.2 s: B skips it): both keep the same NUMBER of clips but not the same
#     clips; the ensemble is refused with an error naming one of the two, in either model order;
#   - the same clips listed in another order: the ensemble gives each clip the same (mean)
#     probabilities and the same report as in the first order;
#   - an ensemble equals the mean of its members' probabilities clip by clip.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_eval_ensemble_align

"$SER_BIN" synth --out "$tmp/syn" --per-class 4 --seed 5 >/dev/null || { echo "FAIL: synth"; exit 1; }
sets=(--set train.epochs=2 --set train.batch_size=16 --set model.filters=8 --set model.lstm_units=8
      --set features.frames=32 --set audio.duration=1.0)
"$SER_BIN" train --data "$tmp/syn" "${sets[@]}" --set audio.offset=0 --out "$tmp/A" --quiet >/dev/null 2>"$tmp/e" ||
  { echo "FAIL: model A: $(tail -2 "$tmp/e")"; exit 1; }
"$SER_BIN" train --data "$tmp/syn" "${sets[@]}" --set audio.offset=1.0 --out "$tmp/B" --quiet >/dev/null 2>"$tmp/e" ||
  { echo "FAIL: model B: $(tail -2 "$tmp/e")"; exit 1; }
A="$tmp/A/model.safetensors" B="$tmp/B/model.safetensors"

# The validation clips as the evaluated list, and two float copies of its first clips with a
# NaN sample at 0.5 s (X) and at 1.2 s (Y).
grep -v '^#' "$tmp/A/val.tsv" >"$tmp/clips.tsv"
python3 - "$tmp/clips.tsv" "$tmp" >"$tmp/nan_rows.tsv" <<'PY' || { echo "FAIL: could not write the NaN clips"; exit 1; }
import struct, sys, wave
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
for (name, at), row in zip((("X", 0.5), ("Y", 1.2)), rows):
    w = wave.open(row[0], "rb")
    rate, n = w.getframerate(), w.getnframes()
    assert w.getnchannels() == 1 and w.getsampwidth() == 2
    x = [v / 32768.0 for v in struct.unpack("<%dh" % n, w.readframes(n))]
    x[int(at * rate)] = float("nan")
    data = struct.pack("<%df" % n, *x)
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)  # WAVE_FORMAT_IEEE_FLOAT, mono
    path = "%s/%s_%s.wav" % (sys.argv[2], name, row[1])
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data)
    print("\t".join([path] + row[1:]))
PY
{ echo "# path	label	speaker	group	corpus"; cat "$tmp/clips.tsv" "$tmp/nan_rows.tsv"; } >"$tmp/nan.tsv"

# 1. Same count, different clips: refused in either order, naming X or Y.
n_total=$(grep -vc '^#' "$tmp/nan.tsv")
for order in "$A $B" "$B $A"; do
  # shellcheck disable=SC2086
  set -- $order
  "$SER_BIN" eval --model "$1" --model "$2" --list "$tmp/nan.tsv" --device cpu --png "$tmp/cm.png" >"$tmp/out" 2>"$tmp/e"; rc=$?
  check '[ $rc -ne 0 ] && tail -1 "$tmp/e" | grep -q "clip .*\(X\|Y\)_.*\.wav.* skipped" && [ ! -s "$tmp/out" ]' \
    "ensemble over different clips (each model skips one of $n_total): rc $rc, $(tail -1 "$tmp/e")"
done
check '[ "$(grep -c "skipped .*X_" "$tmp/e")" -ge 1 ] && [ "$(grep -c "skipped .*Y_" "$tmp/e")" -ge 1 ]' \
  "each model should skip one NaN clip: $(grep skipped "$tmp/e")"

# 2. The same clips in reverse order: the same probabilities per clip and the same report.
{ echo "# path	label	speaker	group	corpus"; tac "$tmp/clips.tsv"; } >"$tmp/rev.tsv"
{ echo "# path	label	speaker	group	corpus"; cat "$tmp/clips.tsv"; } >"$tmp/fwd.tsv"
ev() { "$SER_BIN" eval --model "$A" --model "$B" --device cpu --png "$tmp/cm.png" --json "$@" 2>>"$tmp/e"; }
ev --list "$tmp/fwd.tsv" --probs "$tmp/p_fwd.tsv" >"$tmp/j_fwd" && ev --list "$tmp/rev.tsv" --probs "$tmp/p_rev.tsv" >"$tmp/j_rev"
check '[ $? -eq 0 ]' "ensemble over the same clips failed: $(tail -2 "$tmp/e")"
check 'diff <(tail -n +2 "$tmp/p_fwd.tsv" | sort) <(tail -n +2 "$tmp/p_rev.tsv" | sort) >/dev/null' \
  "reversed list: the clips' ensemble probabilities differ"
check 'cmp -s "$tmp/j_fwd" "$tmp/j_rev"' "reversed list: the report differs"

# 3. The ensemble's probabilities are the mean of its members', clip by clip (matched by path).
"$SER_BIN" eval --model "$A" --list "$tmp/rev.tsv" --device cpu --png "$tmp/cm.png" --probs "$tmp/p_a.tsv" >/dev/null 2>>"$tmp/e" &&
  "$SER_BIN" eval --model "$B" --list "$tmp/fwd.tsv" --device cpu --png "$tmp/cm.png" --probs "$tmp/p_b.tsv" >/dev/null 2>>"$tmp/e"
check '[ $? -eq 0 ]' "single-model evals failed: $(tail -2 "$tmp/e")"
bad_rows=$(python3 - "$tmp/p_fwd.tsv" "$tmp/p_a.tsv" "$tmp/p_b.tsv" <<'PY'
import sys
def load(p):
    return {r[0]: [float(v) for v in r[2:]] for r in (l.rstrip("\n").split("\t") for l in open(p)) if not r[0].startswith("#")}
ens, a, b = (load(p) for p in sys.argv[1:])
bad = [k for k in ens if set(ens) != set(a) or any(abs(e - (x + y) / 2) > 2e-6 for e, x, y in zip(ens[k], a[k], b[k]))]
print(len(bad) if set(ens) == set(a) == set(b) else "clip sets differ")
PY
)
check '[ "$bad_rows" = 0 ]' "ensemble probabilities are not the members' mean clip by clip: $bad_rows"

if [ $fail -ne 0 ]; then
  echo "cli_eval_ensemble_align: $pass passed, $fail failed"
  exit 1
fi
echo "cli_eval_ensemble_align: $pass passed"
