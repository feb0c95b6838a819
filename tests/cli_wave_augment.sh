#!/usr/bin/env bash
# Waveform augmentation end to end on `ser synth` audio: speed + shift + gain + noise from a
# folder (--noise-dir, recorded in RUN/noise.txt and report.json) trains and changes the model;
# 2 epochs resumed to 4 equal the straight 4-epoch run byte for byte (model and history, less
# the timings), and so does the run without the prefetch thread (train.aug_prefetch=false);
# bad noise options fail naming the folder or the key; ser cv passes --noise-dir to its folds.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_wave_augment

"$SER_BIN" synth --out "$tmp/syn" --per-class 4 --seed 3 >/dev/null || bad "synth failed"
"$SER_BIN" synth --out "$tmp/noise" --per-class 1 --seed 9 >/dev/null || bad "synth (noise) failed"
"$SER_BIN" split --data "$tmp/syn" --test-speakers SPB --seed 1 --out "$tmp/si" >/dev/null 2>"$tmp/split.err" ||
  bad "split failed: $(cat "$tmp/split.err")"
lists=(--train-list "$tmp/si/train.tsv" --val-list "$tmp/si/val.tsv")
sets=(--set model.filters=8 --set model.lstm_units=8 --set features.frames=64 --set train.batch_size=16
      --set train.early_stopping_patience=0)
aug=(--set train.aug_speed=0.1 --set train.aug_wave_shift=0.2 --set train.aug_wave_gain=6
     --set train.aug_noise_kind=folder --set train.aug_noise_prob=0.7 --set train.aug_noise_snr_min=5
     --set train.aug_noise_snr_max=20 --noise-dir "$tmp/noise")
train() { "$SER_BIN" train "${lists[@]}" "${sets[@]}" --quiet "$@"; }
nots() { sed 's/"seconds":[0-9.e+-]*//' "$1"; } # history.jsonl without the timings

train --out "$tmp/plain" --set train.epochs=4 >/dev/null 2>"$tmp/plain.err" || bad "plain run: $(tail -2 "$tmp/plain.err")"
train --out "$tmp/aug" --set train.epochs=4 "${aug[@]}" >/dev/null 2>"$tmp/aug.err" || bad "augmented run: $(tail -2 "$tmp/aug.err")"
check '[ -s "$tmp/aug/model.safetensors" ] && ! cmp -s "$tmp/plain/model.safetensors" "$tmp/aug/model.safetensors"' \
  "waveform augmentation did not change the model"
nfiles=$(find "$tmp/noise" -name '*.wav' | wc -l)
check '[ "$(grep -vc "^#" "$tmp/aug/noise.txt")" = "$nfiles" ] && grep -q "^# noise folder: $tmp/noise$" "$tmp/aug/noise.txt"' \
  "noise.txt does not list the $nfiles noise files: $(head -2 "$tmp/aug/noise.txt" 2>&1)"
check 'grep -q "\"noise_dir\"" "$tmp/aug/report.json" && grep -q "aug_noise_kind = folder" "$tmp/aug/config.ini"' \
  "the run does not record its noise folder / kind"

# resume: 2 epochs, then --resume to 4 (the first resumed epoch is computed without prefetch)
train --out "$tmp/half" --set train.epochs=2 "${aug[@]}" >/dev/null 2>"$tmp/half.err" || bad "half run: $(tail -2 "$tmp/half.err")"
sed -i "s/^epochs = .*/epochs = 4/" "$tmp/half/config.ini"
"$SER_BIN" train --resume "$tmp/half" --quiet >/dev/null 2>"$tmp/resume.err" || bad "resume: $(tail -2 "$tmp/resume.err")"
check 'cmp -s "$tmp/aug/model.safetensors" "$tmp/half/model.safetensors"' "resumed augmented run's model differs from the straight run"
check '[ "$(nots "$tmp/aug/history.jsonl")" = "$(nots "$tmp/half/history.jsonl")" ]' \
  "resumed augmented run's history differs: $(diff <(nots "$tmp/aug/history.jsonl") <(nots "$tmp/half/history.jsonl") | head -4)"
# no prefetch thread, no audio cache: the same run
train --out "$tmp/serial" --set train.epochs=4 "${aug[@]}" --set train.aug_prefetch=false --set train.audio_cache_mb=0 \
  >/dev/null 2>"$tmp/serial.err" || bad "serial run: $(tail -2 "$tmp/serial.err")"
# (the model files differ in the config they record: compare the histories, every loss to 17 digits)
check '[ "$(nots "$tmp/aug/history.jsonl")" = "$(nots "$tmp/serial/history.jsonl")" ]' \
  "prefetch/cache on and off train differently: $(diff <(nots "$tmp/aug/history.jsonl") <(nots "$tmp/serial/history.jsonl") | head -4)"
# white and pink noise train too
train --out "$tmp/pink" --set train.epochs=1 --set train.aug_noise_kind=pink >/dev/null 2>"$tmp/pink.err" ||
  bad "pink noise run: $(tail -2 "$tmp/pink.err")"

# bad options
mkdir -p "$tmp/empty/sub"
err_of() { train --out "$tmp/bad" --set train.epochs=1 "$@" >/dev/null 2>"$tmp/bad.err" && echo "(succeeded)"; cat "$tmp/bad.err"; }
e=$(err_of --set train.aug_noise_kind=folder --noise-dir "$tmp/empty")
check '[[ $e == *"$tmp/empty"*"no .wav files"* ]]' "empty noise folder: $e"
e=$(err_of --set train.aug_noise_kind=folder)
check '[[ $e == *"--noise-dir"* ]]' "folder noise without --noise-dir: $e"
e=$(err_of --noise-dir "$tmp/noise")
check '[[ $e == *"aug_noise_kind=folder"* ]]' "--noise-dir without the folder kind: $e"
printf 'not audio' > "$tmp/empty/sub/broken.wav"
e=$(err_of --set train.aug_noise_kind=folder --noise-dir "$tmp/empty")
check '[[ $e == *"broken.wav"* ]]' "unreadable noise file: $e"
e=$(err_of --set train.aug_noise_kind=white --set train.aug_noise_snr_min=30 --set train.aug_noise_snr_max=20)
check '[[ $e == *"aug_noise_snr_min"* ]]' "SNR range upside down: $e"

# ser cv forwards --noise-dir (absolute) to every fold
"$SER_BIN" cv --data "$tmp/syn" --folds 2 --out "$tmp/cv" --set train.aug_noise_kind=folder --noise-dir "$tmp/noise" \
  --print-commands >"$tmp/cv.out" 2>"$tmp/cv.err" || bad "ser cv --print-commands: $(tail -2 "$tmp/cv.err")"
check '[ "$(grep -c -- "--noise-dir $tmp/noise" "$tmp/cv.out")" = 2 ]' "ser cv fold commands: $(head -c 400 "$tmp/cv.out")"

[ "$fail" = 0 ] && echo "cli_wave_augment: $pass checks passed"
exit "$fail"
