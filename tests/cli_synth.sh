#!/usr/bin/env bash
# `ser synth`: the same seed twice gives byte-identical corpora, the TESS layout and names,
# every file a valid 16-bit mono PCM WAV (header fields checked here, without ser), a
# different seed gives different audio, and bad options fail with a message.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_synth

# u16 / u32 little-endian at a byte offset.
u16() { od -An -tu2 -j "$2" -N2 "$1" | tr -d ' '; }
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }

"$SER_BIN" synth --out "$tmp/a" --per-class 3 --seed 7 >/dev/null || bad "synth a failed"
"$SER_BIN" synth --out "$tmp/b" --per-class 3 --seed 7 >/dev/null || bad "synth b failed"
"$SER_BIN" synth --out "$tmp/c" --per-class 3 --seed 8 --speakers 1 >/dev/null || bad "synth c failed"
diff -r "$tmp/a" "$tmp/b" >/dev/null || bad "same seed gave different files"

n=$(find "$tmp/a" -name '*.wav' | wc -l)
[ "$n" -eq 42 ] || bad "want 2 speakers x 7 emotions x 3 = 42 files, got $n"
[ "$(find "$tmp/c" -name '*.wav' | wc -l)" -eq 21 ] || bad "--speakers 1 should give 21 files"
for spk in SPA SPB; do
  for emo in angry disgust fear happy neutral ps sad; do
    d="$tmp/a/${spk}_${emo}"
    [ -d "$d" ] || { bad "missing folder $d"; continue; }
    for w in back bar base; do
      f="$d/${spk}_${w}_${emo}.wav"
      [ -f "$f" ] || { bad "missing $f"; continue; }
      size=$(stat -c %s "$f")
      [ "$(head -c4 "$f")" = RIFF ] && [ "$(dd if="$f" bs=1 skip=8 count=8 2>/dev/null)" = "WAVEfmt " ] ||
        bad "$f: not a RIFF/WAVE file"
      [ "$(u32 "$f" 4)" -eq $((size - 8)) ] || bad "$f: RIFF size does not match the file"
      [ "$(u16 "$f" 20)" -eq 1 ] || bad "$f: not PCM"
      [ "$(u16 "$f" 22)" -eq 1 ] || bad "$f: not mono"
      [ "$(u32 "$f" 24)" -eq 24414 ] || bad "$f: rate is not 24414"
      [ "$(u16 "$f" 34)" -eq 16 ] || bad "$f: not 16-bit"
      [ "$(dd if="$f" bs=1 skip=36 count=4 2>/dev/null)" = data ] || bad "$f: no data chunk at 36"
      frames=$(( $(u32 "$f" 40) / 2 ))
      # 1.5 s to 3.0 s at 24414 Hz.
      { [ "$frames" -ge 36620 ] && [ "$frames" -le 73243 ]; } || bad "$f: $frames frames is not 1.5-3.0 s"
    done
  done
done
cmp -s "$tmp/a/SPA_angry/SPA_back_angry.wav" "$tmp/c/SPA_angry/SPA_back_angry.wav" &&
  bad "a different seed gave the same audio"

"$SER_BIN" synth --help | grep -q -- "--per-class" || bad "--help lacks --per-class"
"$SER_BIN" synth --per-class 3 2>/dev/null; [ $? -eq 2 ] || bad "missing --out should exit 2"
msg=$("$SER_BIN" synth --out "$tmp/d" --speakers 99 2>&1); rc=$?
{ [ $rc -eq 2 ] && echo "$msg" | grep -q -- "--speakers"; } || bad "bad --speakers: rc $rc, '$msg'"
msg=$("$SER_BIN" synth --out "$tmp/a/SPA_angry/SPA_back_angry.wav" --per-class 1 2>&1); rc=$?
{ [ $rc -eq 1 ] && echo "$msg" | grep -q "not a folder"; } || bad "output under a file: rc $rc, '$msg'"

[ $fail -eq 0 ] && echo "cli_synth: ok"
exit $fail
