#!/usr/bin/env bash
# Features on the GPU vs the CPU, same run, same machine (bench/README.md):
#   1. end to end: `ser mfcc --device cuda` and `--device cpu` over ../shared/data/tess
#      (decode + resample on the CPU threads in both; best of REPEAT), clips/s and the ratio;
#   2. the MFCC alone on pre-decoded audio: `test_cuda_features --bench` (CPU on every thread
#      vs GPU with the audio resident and with per-batch copies; checks every clip against the
#      CPU, relative L2 <= 1e-5).
# usage: bench/gpu_features.sh [BUILD_DIR]   (env: REPEAT=3, BATCH=256, SER_SHARED_DATA)
# Needs a build with the CUDA backend and a CUDA device; exits 77 without one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$root/build}
DATA=${SER_SHARED_DATA:-$root/../shared/data}
REPEAT=${REPEAT:-3}
BATCH=${BATCH:-256}
SER=$BUILD/ser
[ -x "$SER" ] || { echo "no $SER: build first (cmake --build build)"; exit 1; }
[ -d "$DATA/tess" ] || { echo "SKIPPED: no $DATA/tess"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# Refuse to time a "cuda" run that is not one.
if ! "$SER" mfcc --device cuda --out "$T/probe.npy" "$DATA/tess/OAF_fear/OAF_food_fear.wav" \
        "$DATA/tess/YAF_angry/YAF_germ_angry.wav" 2>"$T/err"; then
    echo "SKIPPED: $(tail -1 "$T/err")"
    exit 77
fi

# best_of DEVICE: prints "clips features_s features_clips_per_s total_s total_clips_per_s" of
# the run with the shortest feature time.
best_of() {
    local device=$1 best="" line
    for ((r = 0; r < REPEAT; r++)); do
        "$SER" mfcc --device "$device" --out "$T/$device.npy" "$DATA/tess" 2>"$T/err" || { cat "$T/err"; exit 1; }
        line=$(sed -n 's/^ser mfcc: \([0-9]*\) clips, features in \([0-9.]*\) s (\([0-9.]*\) clips\/s, [a-z]*, [0-9]* threads), \([0-9.]*\) s in all (\([0-9.]*\) clips\/s).*/\1 \2 \3 \4 \5/p' "$T/err")
        [ -n "$line" ] || { echo "cannot read the summary of ser mfcc --device $device:"; cat "$T/err"; exit 1; }
        if [ -z "$best" ] || awk -v a="$line" -v b="$best" 'BEGIN { split(a, x, " "); split(b, y, " "); exit !(x[2] < y[2]) }'; then
            best=$line
        fi
    done
    echo "$best"
}

echo "device: $(grep -o 'MFCC on cuda ([^)]*)' "$T/err" | head -1)"
echo "threads: ${OMP_NUM_THREADS:-all cores}   corpus: $DATA/tess   best of $REPEAT"
cuda=$(best_of cuda)
cpu=$(best_of cpu)
printf '%-34s %7s %9s %11s %9s %11s\n' "" clips "feat. s" "feat. c/s" "all s" "all c/s"
printf '%-34s %7s %9s %11s %9s %11s\n' "ser mfcc --device cuda" $cuda
printf '%-34s %7s %9s %11s %9s %11s\n' "ser mfcc --device cpu" $cpu
awk -v a="$cuda" -v b="$cpu" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "speed-up cuda / cpu: %.2fx (features), %.2fx (end to end)\n", x[3] / y[3], x[5] / y[5];
    printf "{\"bench\": \"gpu_features_end_to_end\", \"clips\": %d, \"cuda_clips_per_s\": %s, \"cpu_clips_per_s\": %s, \"ratio\": %.3f}\n", x[1], x[3], y[3], x[3] / y[3] }'
cmp -s "$T/cuda.txt" "$T/cpu.txt" || { echo "the cuda and cpu runs kept different files"; exit 1; }

echo
echo "MFCC alone on pre-decoded audio (test_cuda_features --bench, batch $BATCH):"
"$BUILD/test_cuda_features" --bench "$DATA/tess" "$BATCH"
