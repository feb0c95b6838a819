#!/usr/bin/env bash
# `ser predict --window --hop` (emotion over time) end to end:
#   - a small model is trained on one synthetic corpus (`ser synth`, clip indices 0..29, the four
#     classes of the field's 4-class setup: angry happy neutral sad), recipe configs/demo.ini with
#     whole 1.5 s clips (audio.offset 0, audio.duration 1.5, 65 frames) and time-shift augmentation;
#   - a long recording is made of OTHER clips (indices 1000.., never trained on, both speakers)
#     joined by 2 s silences (`ser synth --sequence`), at 24414 Hz so the stream is resampled;
#   - windows fully inside a clip must get that clip's label (at least 95 % of them: a tiny model
#     misses the odd hard clip; the count is printed) and none be called silent; windows fully
#     inside a silence must all be reported silent;
#   - the first window's probabilities equal `ser predict` on the same file (a 22050 Hz file, so
#     both read the same samples: the model reads [0, 1.5 s) of a clip);
#   - --csv, --png, --window other than the model's, and bad input (missing or undecodable file,
#     window or hop <= 0 or not a number) with errors that name the file or option and the reason.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_predict_window

if [ -n "${SER_TEST_QUICK:-}" ]; then per_class=6 epochs=3; else per_class=30 epochs=30; fi
"$SER_BIN" synth --out "$tmp/train" --per-class $per_class --seed 1 >/dev/null || bad "synth failed"
rm -rf "$tmp"/train/*_disgust "$tmp"/train/*_fear "$tmp"/train/*_ps
"$SER_BIN" train --config "$(dirname "$0")/../configs/demo.ini" --data "$tmp/train" --out "$tmp/run" \
    --set audio.offset=0 --set audio.duration=1.5 --set features.frames=65 --set train.epochs=$epochs \
    --set train.early_stopping_patience=100 --set train.aug_time_shift=16 --quiet >/dev/null 2>"$tmp/train.err"
check '[ $? -eq 0 ]' "ser train failed: $(tail -3 "$tmp/train.err")"
model="$tmp/run/model.safetensors"

# 24 held-out clips: 6 rounds of the 4 emotions, rounds alternating speakers
"$SER_BIN" synth --sequence "$tmp/long.wav" --emotions angry,happy,neutral,sad --count 24 --first-index 1000 \
    --gap 2 >"$tmp/segments.tsv" || bad "synth --sequence failed"
"$SER_BIN" predict --model "$model" --hop 0.1 --json "$tmp/long.wav" >"$tmp/win.jsonl" 2>"$tmp/win.err"
check '[ $? -eq 0 ]' "predict --window failed: $(cat "$tmp/win.err")"
check 'grep -q "silent (RMS below -50 dBFS, the default)" "$tmp/win.err"' "the default silence threshold is not reported"
# one line per window: start end label (or "silent")
sed -E 's/.*"start":([-0-9.e]+),"end":([-0-9.e]+).*/\1 \2/' "$tmp/win.jsonl" >"$tmp/times"
sed -E 's/.*"label":"([a-z]+)".*/\1/; s/.*"silent":true.*/silent/' "$tmp/win.jsonl" >"$tmp/labels"
paste -d' ' "$tmp/times" "$tmp/labels" >"$tmp/windows"
read -r inside right silent_inside gaps gaps_silent <<<"$(awk '
  BEGIN { n = 0 }
  NR == FNR { if (FNR > 1) { cs[n] = $1; ce[n] = $2; em[n] = $3; n++ } next }
  { s = $1; e = $2; lab = $3; clip = -1; overlap = 0
    for (i = 0; i < n; i++) {
      if (s >= cs[i] - 1e-6 && e <= ce[i] + 1e-6) clip = i
      if (e > cs[i] && s < ce[i]) overlap = 1
    }
    if (clip >= 0) { inside++; if (lab == em[clip]) right++; if (lab == "silent") sil++ }
    if (!overlap) { gaps++; if (lab == "silent") gsil++ } }
  END { print inside + 0, right + 0, sil + 0, gaps + 0, gsil + 0 }' "$tmp/segments.tsv" "$tmp/windows")"
echo "windows inside a clip: $right of $inside labelled right; windows inside a silence: $gaps_silent of $gaps silent"
check '[ "$inside" -ge 30 ] && [ "$gaps" -ge 30 ]' "too few windows to judge ($inside inside clips, $gaps in silences)"
check '[ "$silent_inside" -eq 0 ]' "$silent_inside windows inside clips were called silent"
check '[ "$gaps_silent" -eq "$gaps" ]' "only $gaps_silent of $gaps windows inside silences were called silent"
if [ -n "${SER_TEST_QUICK:-}" ]; then
  echo "quick mode: labels not checked"
else
  check '[ $((right * 100)) -ge $((inside * 95)) ]' "only $right of $inside windows inside clips got the clip's label"
fi

# the first window = what `ser predict` computes for the same samples (same rate: no resampling)
"$SER_BIN" synth --sequence "$tmp/same.wav" --emotions sad,angry --gap 0 --rate 22050 >/dev/null || bad "synth same.wav"
"$SER_BIN" predict --model "$model" --json "$tmp/same.wav" 2>/dev/null | grep -o '"probs":{[^}]*}' >"$tmp/clip.p"
"$SER_BIN" predict --model "$model" --json --window 1.5 --hop 100 "$tmp/same.wav" 2>/dev/null | head -1 |
    grep -o '"probs":{[^}]*}' >"$tmp/win.p"
check '[ -s "$tmp/clip.p" ] && [ -s "$tmp/win.p" ]' "no probabilities from predict on same.wav"
maxdiff=$(paste -d' ' <(grep -o '[0-9.e-]*[0-9]' "$tmp/clip.p") <(grep -o '[0-9.e-]*[0-9]' "$tmp/win.p") |
          awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%g", m + 0 }')
echo "first window vs ser predict on the same samples: max |p difference| $maxdiff"
check 'awk -v d="$maxdiff" "BEGIN { exit !(d <= 1e-5) }"' "window probabilities differ from ser predict's by $maxdiff"

# --csv (header + one row per window), --png, text, a window other than the model's
"$SER_BIN" predict --model "$model" --hop 0.1 --csv --png "$tmp/timeline.png" "$tmp/long.wav" >"$tmp/win.csv" 2>/dev/null
check '[ $? -eq 0 ]' "predict --csv --png failed"
check '[ "$(head -1 "$tmp/win.csv")" = "start,end,label,silent,rms_dbfs,angry,happy,neutral,sad" ]' "CSV header: $(head -1 "$tmp/win.csv")"
check '[ $(($(wc -l <"$tmp/win.csv") - 1)) -eq "$(wc -l <"$tmp/win.jsonl")" ]' "CSV and JSON window counts differ"
check '[ "$(head -c 8 "$tmp/timeline.png" | od -An -tx1 | tr -d " ")" = 89504e470d0a1a0a ]' "timeline is not a PNG"
"$SER_BIN" predict --model "$model" --window 1 --hop 0.5 --silence-db -40 "$tmp/long.wav" >"$tmp/win.txt" 2>/dev/null
check '[ $? -eq 0 ] && head -1 "$tmp/win.txt" | grep -q "windows of 1 s every 0.5 s; silent below -40 dBFS$"' \
    "text output header: $(head -1 "$tmp/win.txt")"
check 'grep -qP "^2\.000\t3\.000\t(angry|happy|neutral|sad)\tangry=" "$tmp/win.txt"' "text window line: $(sed -n 6p "$tmp/win.txt")"

# bad input: clear errors naming the file or the option, and the reason
expect() { # expect RC NEEDLE ARGS...
  local want=$1 needle=$2
  shift 2
  "$SER_BIN" predict --model "$model" "$@" >/dev/null 2>"$tmp/err"
  local rc=$?
  check '[ $rc -eq $want ] && grep -qF -- "$needle" "$tmp/err"' "predict $* gave rc $rc and: $(cat "$tmp/err")"
}
head -c 5000 /dev/urandom >"$tmp/junk.wav"
expect 1 "$tmp/nope.wav: cannot open" --window 1.5 "$tmp/nope.wav"
expect 1 "$tmp/junk.wav: not a recognised audio file" --window 1.5 "$tmp/junk.wav"
expect 1 "$tmp: is a directory" --hop 1 "$tmp"
expect 2 "--window 0: must be a positive number of seconds" --window 0 "$tmp/long.wav"
expect 2 "--hop -1: must be a positive number of seconds" --hop -1 "$tmp/long.wav"
expect 2 "--hop: 'x' is not a number" --hop x "$tmp/long.wav"
expect 2 "--window takes exactly one FILE" --window 1 "$tmp/long.wav" "$tmp/same.wav"
expect 2 "work with --window / --hop" --csv "$tmp/long.wav"

[ $fail -eq 0 ] && echo "cli_predict_window: $pass checks passed"
exit $fail
