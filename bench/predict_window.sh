#!/usr/bin/env bash
# `ser predict --window` throughput on the CPU (bench/README.md): audio seconds per wall second
# for a 10-minute recording of synthetic clips (`ser synth --sequence`, 24414 Hz like TESS, so
# the stream is resampled to 22050 Hz), with the reference network (configs/demo.ini: 40 x 130
# MFCC, 4 conv blocks of 64, two LSTMs of 32 + attention; weights from a 1-epoch run: speed does
# not depend on them), windows of 3 s at several hops; peak RSS of each run (and of a 1-minute
# file, to show that memory does not grow with the length); and the peer: `ser predict` on the
# same audio cut into one file per window (hop = window), same run. Also `--segments` (voice-
# activity segments, docs/predict-window.md), with the same model and with a twin trained with
# features.normalize = 2, which reads the file twice (the per-speaker statistics first).
# usage: bench/predict_window.sh [BUILD_DIR]     env: REPEAT=3 MINUTES=10 HOPS="3 1.5 1 0.5"
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$root/build}
REPEAT=${REPEAT:-3}
MINUTES=${MINUTES:-10}
HOPS=${HOPS:-3 1.5 1 0.5}
SER=$BUILD/ser
[ -x "$SER" ] || { echo "no $SER: build first (make build)"; exit 1; }
command -v python3 >/dev/null || { echo "needs python3 (the peer's window files are cut with its wave module)"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$SER" synth --out "$T/train" --per-class 4 >/dev/null
"$SER" train --config "$root/configs/demo.ini" --data "$T/train" --out "$T/run" --set train.epochs=1 --quiet \
    >/dev/null 2>&1
M=$T/run/model.safetensors
"$SER" train --config "$root/configs/demo.ini" --data "$T/train" --out "$T/run2" --set train.epochs=1 \
    --set features.normalize=2 --quiet >/dev/null 2>&1
M2=$T/run2/model.safetensors
# clips average ~1.8 s + 0.5 s gaps: enough clips for MINUTES minutes, then the true length
count=$((MINUTES * 60 * 100 / 230 + 1))
"$SER" synth --sequence "$T/long.wav" --emotions angry,disgust,fear,happy,neutral,ps,sad --count $count --gap 0.5 \
    >/dev/null
"$SER" synth --sequence "$T/short.wav" --emotions angry,disgust,fear,happy,neutral,ps,sad --count 22 --gap 0.5 \
    >/dev/null
secs=$(python3 -c "import wave,sys; w=wave.open(sys.argv[1]); print(w.getnframes()/w.getframerate())" "$T/long.wav")

# run_best LABEL AUDIO_SECONDS CMD...: best wall of REPEAT runs (process start to end, model load
# included) with its CPU seconds (user + sys) and peak RSS; prints one row. On a shared machine
# the wall time depends on the others' load; the CPU seconds much less: audio_s / cpu_s is
# what one core would do unshared.
run_best() {
    local label=$1 audio=$2 best="" cpu="" rss="" i
    shift 2
    for i in $(seq "$REPEAT"); do
        /usr/bin/time -f "%e %U %S %M" -o "$T/time" "$@" >"$T/out" 2>"$T/err" || { cat "$T/err"; exit 1; }
        read -r wall user sys kb <"$T/time"
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$wall rss=$kb cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
        fi
    done
    printf "%-40s %8.1f %7.2f %10.0f %6.2f %11.0f %9.1f\n" "$label" "$audio" "$best" \
        "$(awk -v a="$audio" -v w="$best" 'BEGIN { print a / w }')" "$cpu" \
        "$(awk -v a="$audio" -v c="$cpu" 'BEGIN { print a / c }')" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
    echo "$best" >"$T/last_wall"
}

/usr/bin/time -f "%M" -o "$T/time" "$SER" --version >/dev/null
echo "process baseline (ser --version: the linked libraries): $(awk '{ printf "%.1f", $1 / 1024 }' "$T/time") MiB peak RSS"
echo "ser predict --window on $(nproc) CPU threads, $(printf %.1f "$secs") s of audio (best of $REPEAT; load $(cut -d' ' -f1 /proc/loadavg))"
printf "%-40s %8s %7s %10s %6s %11s %9s\n" "run" "audio_s" "wall_s" "x_realtime" "cpu_s" "audio/cpu_s" "peak_MiB"
for hop in $HOPS; do
    run_best "--window 3 --hop $hop" "$secs" "$SER" predict --model "$M" --window 3 --hop "$hop" "$T/long.wav"
    [ "$hop" = 3 ] && cp "$T/last_wall" "$T/window_wall"
done
run_best "--segments" "$secs" "$SER" predict --model "$M" --segments "$T/long.wav"
run_best "--segments, features.normalize=2" "$secs" "$SER" predict --model "$M2" --segments "$T/long.wav"
short=$(python3 -c "import wave,sys; w=wave.open(sys.argv[1]); print(w.getnframes()/w.getframerate())" "$T/short.wav")
run_best "--window 3 --hop 1.5, 1-minute file" "$short" "$SER" predict --model "$M" --window 3 --hop 1.5 "$T/short.wav"

# the peer: one file per 3 s window (hop 3), each starting 0.5 s early so that `ser predict`
# (audio.offset 0.5, duration 3) reads exactly the window's 3 s
python3 - "$T/long.wav" "$T/cut" <<'EOF'
import os, sys, wave
src = wave.open(sys.argv[1]); rate = src.getframerate(); n = src.getnframes()
data = src.readframes(n); width = src.getsampwidth(); os.makedirs(sys.argv[2])
win, pre = 3 * rate, rate // 2
for k, start in enumerate(range(0, n, win)):
    a = start - pre
    chunk = (b"\0" * (-a * width) + data[:(start + win) * width]) if a < 0 else data[a * width:(start + win) * width]
    with wave.open(f"{sys.argv[2]}/w{k:05d}.wav", "wb") as o:
        o.setnchannels(1); o.setsampwidth(width); o.setframerate(rate); o.writeframes(chunk)
EOF
nfiles=$(ls "$T/cut" | wc -l)
run_best "peer: ser predict on $nfiles window files" "$secs" "$SER" predict --model "$M" "$T"/cut/*.wav
peer=$(cat "$T/last_wall")
echo "ratio (same 3 s windows, hop 3): ser predict --window is $(awk -v p="$peer" -v w="$(cat "$T/window_wall")" \
    'BEGIN { printf "%.2f", p / w }')x the speed of ser predict on window files"
