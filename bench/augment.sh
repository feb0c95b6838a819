#!/usr/bin/env bash
# Waveform augmentation (ser/wave_augment.h) cost (bench/README.md):
#  1. epoch time, augmented vs plain, on the same data and cores: a `ser synth` corpus of ~1000
#     clips (24414 Hz, resampled to 22050) and, when ../corpora/ravdess exists, RAVDESS (48 kHz);
#     the reference network (configs/demo.ini), train.threads=2, EPOCHS epochs. Augmented: speed
#     0.9/1/1.1 + shift 0.1 s + gain 6 dB + white noise at 5..30 dB on half the clips, with the
#     prefetch thread and without it (RAVDESS also without the audio cache: decoded every epoch). Printed: the mean epoch seconds (history.jsonl, features
#     included) of epochs 2.. (epoch 1 of a run has nothing prefetched), the whole run's wall and
#     CPU seconds, and each as a ratio to plain. On a shared machine the wall clock moves with the
#     others' load; the CPU seconds much less.
#  2. peak RSS at two corpus sizes (SIZES, default "10000 100000" clips): a manifest repeating the
#     synth corpus's files (no extra files on disk), a small network (the features keep the
#     reference's 40 x 130 size, which is what grows with the corpus), 2 epochs (so that the
#     prefetch buffer exists), plain and augmented.
# usage: bench/augment.sh [BUILD_DIR]    env: EPOCHS=4 SIZES="10000 100000" SKIP_RSS=1 SKIP_EPOCH=1
#                                             NO_PLAIN_RSS=1 (part 2 without the plain runs)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$root/build}
EPOCHS=${EPOCHS:-4}
SIZES=${SIZES:-10000 100000}
SER=$BUILD/ser
[ -x "$SER" ] || { echo "no $SER: build first (make build)"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
AUG=(--set train.aug_speed=0.1 --set train.aug_wave_shift=0.1 --set train.aug_wave_gain=6
     --set train.aug_noise_kind=white --set train.aug_noise_prob=0.5 --set train.aug_noise_snr_min=5
     --set train.aug_noise_snr_max=30)
COMMON=(--config "$root/configs/demo.ini" --set train.early_stopping_patience=0 --set train.threads=2 --quiet)

"$SER" synth --out "$T/syn" --per-class 72 --seed 5 >/dev/null   # 2 speakers x 7 emotions x 72 = 1008 clips

# run LABEL OUT ARGS...: trains, prints one row; PLAIN_* hold the plain run's numbers for the ratios
run() {
    local label=$1 out=$2
    shift 2
    /usr/bin/time -f "%e %U %S %M" -o "$T/time" "$SER" train --out "$out" "${COMMON[@]}" "$@" >/dev/null 2>"$T/err" ||
        { cat "$T/err"; exit 1; }
    read -r wall user sys kb <"$T/time"
    local cpu ep
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
    ep=$(grep -o '"seconds":[0-9.e+-]*' "$out/history.jsonl" | cut -d: -f2 |
        awk 'NR > 1 { s += $1; n++ } END { print n ? s / n : 0 }')
    if [ -z "${PLAIN_EP:-}" ]; then PLAIN_EP=$ep PLAIN_WALL=$wall PLAIN_CPU=$cpu; fi
    printf "%-34s %9.2f %6.2fx %8.1f %6.2fx %8.1f %6.2fx %8.0f\n" "$label" "$ep" "$(awk -v a="$ep" -v b="$PLAIN_EP" 'BEGIN { print a / b }')" \
        "$wall" "$(awk -v a="$wall" -v b="$PLAIN_WALL" 'BEGIN { print a / b }')" "$cpu" \
        "$(awk -v a="$cpu" -v b="$PLAIN_CPU" 'BEGIN { print a / b }')" "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')"
}
header() {
    echo "== $1"
    printf "%-34s %9s %7s %8s %7s %8s %7s %8s\n" "" "epoch s" "ratio" "wall s" "ratio" "CPU s" "ratio" "RSS MB"
}

if [ -z "${SKIP_EPOCH:-}" ]; then
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $EPOCHS epochs; epoch s = mean of epochs 2..$EPOCHS"
    header "synth, 1008 clips (882 training), 24414 -> 22050 Hz"
    unset PLAIN_EP
    run "plain" "$T/p" --data "$T/syn" --set train.epochs="$EPOCHS"
    run "augmented, prefetch" "$T/a" --data "$T/syn" --set train.epochs="$EPOCHS" "${AUG[@]}"
    run "augmented, no prefetch" "$T/s" --data "$T/syn" --set train.epochs="$EPOCHS" "${AUG[@]}" --set train.aug_prefetch=false
    rav=$root/../corpora/ravdess
    if [ -d "$rav" ]; then
        header "RAVDESS, 1440 clips (1260 training), 48000 -> 22050 Hz"
        unset PLAIN_EP
        run "plain" "$T/rp" --data "$rav" --corpus ravdess --set train.epochs="$EPOCHS"
        run "augmented, prefetch" "$T/ra" --data "$rav" --corpus ravdess --set train.epochs="$EPOCHS" "${AUG[@]}"
        run "augmented, no prefetch" "$T/rs" --data "$rav" --corpus ravdess --set train.epochs="$EPOCHS" "${AUG[@]}" \
            --set train.aug_prefetch=false
        run "augmented, prefetch, no cache" "$T/rc" --data "$rav" --corpus ravdess --set train.epochs="$EPOCHS" "${AUG[@]}" \
            --set train.audio_cache_mb=0
    else
        echo "(no $rav: RAVDESS skipped)"
    fi
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

if [ -z "${SKIP_RSS:-}" ]; then
    "$SER" split --data "$T/syn" --seed 1 --out "$T/si" >/dev/null 2>&1
    SMALL=(--set model.filters=8 --set model.conv_blocks=2 --set model.lstm_units=8 --set train.batch_size=256
           --set train.epochs=2 --set train.precise_bn=off)
    for n in $SIZES; do
        # the training manifest: the split's training clips over and over, n lines
        awk -v n="$n" 'NR == 1 { print; next } { l[m++] = $0 } END { for (i = 0; i < n; i++) print l[i % m] }' \
            "$T/si/train.tsv" >"$T/train_$n.tsv"
        header "peak RSS, $n training clips (40 x 130 features: $(awk -v n="$n" 'BEGIN { printf "%.2f", n * 5200 * 4 / 2^30 }') GiB a copy), 2 epochs"
        unset PLAIN_EP
        [ -n "${NO_PLAIN_RSS:-}" ] && PLAIN_EP=1 PLAIN_WALL=1 PLAIN_CPU=1 # ratios then meaningless: absolute only
        [ -z "${NO_PLAIN_RSS:-}" ] && run "plain" "$T/m$n" --train-list "$T/train_$n.tsv" --val-list "$T/si/val.tsv" "${SMALL[@]}"
        run "augmented, prefetch" "$T/ma$n" --train-list "$T/train_$n.tsv" --val-list "$T/si/val.tsv" "${SMALL[@]}" "${AUG[@]}"
        rm -rf "$T/m$n" "$T/ma$n"
    done
fi
