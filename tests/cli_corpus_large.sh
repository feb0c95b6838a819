#!/usr/bin/env bash
# A corpus of thousands of files, some of them bad: `ser mfcc` and `ser train` use every good
# clip, list every bad file by name, and their memory grows with the features they keep
# (n_mfcc x frames floats = 20.8 KB a clip), not with the decoded audio (a 3 s clip at 22050 Hz
# is 265 KB of floats): clips are decoded one at a time per thread into reused buffers.
# The clips are hard links to a few `ser synth` clips (thousands of paths, little disk).
set -u
. "$(dirname "$0")/lib_cli.sh" cli_large
[ -x /usr/bin/time ] || { echo "SKIPPED: /usr/bin/time (GNU time) is needed to measure peak memory"; exit 77; }

"$SER_BIN" synth --out "$tmp/base" --per-class 2 --seed 9 >/dev/null || { echo "FAIL: synth"; exit 1; }
# corpus DIR K: K copies of the base corpus as hard links (DIR/cNNN/{SPK}_{emotion}/...wav:
# one cp a copy; the scan recurses and labels by the TESS file names)
make_corpus() {
  local dir=$1 k=$2
  mkdir -p "$dir"
  for i in $(seq -w 1 "$k"); do cp -al "$tmp/base" "$dir/c$i"; done
}
# SER_TEST_QUICK (sanitizer builds): 1120 clips instead of 3080
if [ -n "${SER_TEST_QUICK:-}" ]; then k=40; else k=110; fi
make_corpus "$tmp/big" $k
make_corpus "$tmp/half" $((k / 2))
n_good=$(find "$tmp/big" -name '*.wav' | wc -l)
n_half=$(find "$tmp/half" -name '*.wav' | wc -l)
# The bad ones, with well-formed names so that only their content is wrong.
one=$(find "$tmp/base" -name '*.wav' | sort | head -1)
b1=$(ls -d "$tmp"/big/c* | head -1)
printf '' >"$b1/SPA_angry/SPA_emptyx1_angry.wav"                                 # 0 bytes
head -c 5000 /dev/urandom >"$b1/SPA_sad/SPA_noisex1_sad.wav"                     # not audio
head -c 20 "$one" >"$b1/SPB_fear/SPB_cutx1_fear.wav"                             # header cut
head -c 44 "$one" >"$b1/SPB_happy/SPB_hdrx1_happy.wav"                           # no data
head -c 2000 "$one" >"$b1/SPA_neutral/SPA_shortx1_neutral.wav"                   # < the 0.5 s offset
echo "not a wav file" >"$b1/SPB_disgust/SPB_textx1_disgust.wav"                  # text
bad_files=(SPA_emptyx1_angry SPA_noisex1_sad SPB_cutx1_fear SPB_hdrx1_happy SPA_shortx1_neutral SPB_textx1_disgust)
echo "corpus: $n_good good clips + ${#bad_files[@]} bad files (and a half-size corpus of $n_half)"

# peak resident memory (KiB) of a command, its stderr in $tmp/err
peak() { /usr/bin/time -f '%M' -o "$tmp/rss" "$@" >/dev/null 2>"$tmp/err"; local rc=$?; cat "$tmp/rss" | tail -1; return $rc; }

# 1. ser mfcc over the folder: one row per good clip, every bad one named.
rss_big=$(peak "$SER_BIN" mfcc --out "$tmp/big.npy" "$tmp/big")
check '[ $? -eq 0 ]' "ser mfcc failed: $(tail -3 "$tmp/err")"
cp "$tmp/err" "$tmp/mfcc.err"
check '[ "$(wc -l < "$tmp/big.txt")" -eq "$n_good" ]' "ser mfcc kept $(wc -l < "$tmp/big.txt") clips, want $n_good"
for b in "${bad_files[@]}"; do
  check 'grep -q "$b" "$tmp/mfcc.err"' "ser mfcc does not list the bad file $b"
  check '! grep -q "$b" "$tmp/big.txt"' "ser mfcc kept the bad file $b"
done
rss_half=$(peak "$SER_BIN" mfcc --out "$tmp/half.npy" "$tmp/half")
per_clip=$(( (rss_big - rss_half) * 1024 / (n_good - n_half) ))
echo "ser mfcc peak RSS: $((rss_half / 1024)) MiB for $n_half clips, $((rss_big / 1024)) MiB for $n_good: $per_clip bytes a clip"
# features (20800 B) + path and bookkeeping; all audio decoded at once would be >= 265000
# (sanitizer builds: ASan's shadow memory and quarantine are not the program's; not checked)
[ -n "${SER_TEST_SANITIZED:-}" ] || check '[ "$per_clip" -lt 60000 ]' "ser mfcc memory grows by $per_clip bytes a clip (features are 20800)"

# 2. ser train on it (one epoch, a small network): every good clip used, every bad one listed.
rss_train=$(peak "$SER_BIN" train --data "$tmp/big" --out "$tmp/run" --set train.epochs=1 --set model.filters=4 \
  --set model.lstm_units=4 --set train.batch_size=64)
check '[ $? -eq 0 ]' "ser train failed: $(tail -3 "$tmp/err")"
cp "$tmp/err" "$tmp/train.err"
listed=$(grep -c "^ser: .*: skipped " "$tmp/train.err")
for b in "${bad_files[@]}"; do check 'grep -q "skipped .*$b" "$tmp/train.err"' "ser train does not list the bad file $b"; done
check '[ "$listed" -eq ${#bad_files[@]} ]' "ser train listed $listed skipped files, want ${#bad_files[@]}"
# used = clips of both splits minus the skipped ones
total=$(($(grep -vc '^#' "$tmp/run/train.tsv") + $(grep -vc '^#' "$tmp/run/val.tsv")))
check '[ $((total - listed)) -eq "$n_good" ]' "ser train used $((total - listed)) clips, want $n_good"
echo "ser train peak RSS: $((rss_train / 1024)) MiB for $n_good clips (their features: $((n_good * 20800 / 1048576)) MiB)"
# the features, a copy per split at most, the network and the libraries; decoding everything
# at once would need $((n_good * 265000 / 1048576)) MiB
[ -n "${SER_TEST_SANITIZED:-}" ] || check '[ "$rss_train" -lt $((n_good * 60 + 300 * 1024)) ]' "ser train peak RSS $rss_train KiB"

echo "cli_corpus_large: $pass passed, $fail failed"
[ $fail -eq 0 ]
