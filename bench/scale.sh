#!/usr/bin/env bash
# Memory and epoch time against corpus size (bench/README.md, issue 22): peak RSS and the
# epoch time of one `ser train` epoch at SIZES training clips (default 10k, 100k, 1M), reading
# features by batch from the on-disk feature cache, against today's in-memory path
# (SER_FEATURE_CACHE=off) at the first size, in the same run on the same data.
#  - data: a `ser synth` corpus (8 speakers x 7 emotions x 179 = 10024 clips, 8 kHz); the
#    training manifest at size n repeats the split's 6811 training clips to n lines (the
#    cache holds each distinct clip once; the per-clip state of a run grows with n);
#    validation: the split's 973 validation clips.
#  - a small recipe (20 x 32 features, a 2-block 8-filter network, batch 256, 1 epoch,
#    precise BN off: the epoch alone is timed).
#  - the cache is filled by a first run (not timed); each row is then a run that finds every
#    clip in it. RSS: /usr/bin/time's maximum resident set; epoch s: history.jsonl's seconds
#    (training + validation), summed over the run's epochs; per clip: epoch s / (n x epochs).
#  - waveform augmentation (AUG_SIZES, default 10k and 100k; "" skips it): the same recipe for
#    2 epochs (so the prefetch of epoch 2 runs during epoch 1) with white noise (probability
#    0.5) and speed perturbation (+-10 %), train.aug_prefetch on, train.audio_cache_mb = 0 (the
#    decoded audio is a separate, user-set budget). Rows: the epoch features spilled to the
#    cache's folder at every size, against the in-memory path (--feature-cache off) at the first
#    size; with BEFORE=path/to/ser (a build of the code before the spill: it held the epoch's
#    features in memory, twice with prefetch) also that binary at every size.
# usage: bench/scale.sh [BUILD_DIR]
# env: SIZES="10000 100000 1000000" AUG_SIZES="10000 100000" BEFORE=SER KEEP=DIR (keep the data)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$root/build}
SIZES=${SIZES-10000 100000 1000000}
AUG_SIZES=${AUG_SIZES-10000 100000}
BEFORE=${BEFORE:-}
SER=$BUILD/ser
[ -x "$SER" ] || { echo "no $SER: build first (make build)"; exit 1; }
T=${KEEP:-$(mktemp -d)}
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
mkdir -p "$T"
[ -d "$T/syn" ] || "$SER" synth --out "$T/syn" --per-class 179 --speakers 8 --rate 8000 --seed 5 >/dev/null
[ -f "$T/si/train.tsv" ] || "$SER" split --data "$T/syn" --seed 1 --out "$T/si" >/dev/null 2>&1
SMALL=(--set audio.sample_rate=8000 --set features.n_fft=256 --set features.hop_length=128 --set features.n_mels=40
       --set features.n_mfcc=20 --set features.frames=32 --set model.filters=8 --set model.conv_blocks=2
       --set model.lstm_units=8 --set train.batch_size=256 --set train.epochs=1 --set train.precise_bn=off
       --set train.threads=2 --quiet)
export SER_FEATURE_CACHE=$T/cache

# run LABEL N BIN [ARGS]: BIN trains on the N-line manifest; prints a row (BASE_*: the
# section's first row)
run() {
    local label=$1 n=$2 bin=$3
    shift 3
    /usr/bin/time -f "%e %M" -o "$T/time" "$bin" train --train-list "$T/train_$n.tsv" --val-list "$T/si/val.tsv" \
        --out "$T/run" "${SMALL[@]}" "$@" >/dev/null 2>"$T/err" || { cat "$T/err"; exit 1; }
    local wall kb ep epochs
    read -r wall kb <"$T/time"
    ep=$(grep -o '"seconds":[0-9.e+-]*' "$T/run/history.jsonl" | cut -d: -f2 | awk '{ s += $1 } END { print s }')
    epochs=$(wc -l <"$T/run/history.jsonl")
    local mb per
    mb=$(awk -v k="$kb" 'BEGIN { printf "%.0f", k / 1024 }')
    per=$(awk -v e="$ep" -v n="$n" -v k="$epochs" 'BEGIN { printf "%.4f", 1000 * e / (n * k) }')
    [ -z "${BASE_MB:-}" ] && BASE_MB=$mb BASE_PER=$per
    printf "%-32s %9s %8s %+9s %10.2f %9s %7.2fx %8.1f\n" "$label" "$n" "$mb" "$((mb - BASE_MB))" "$ep" "$per" \
        "$(awk -v a="$per" -v b="$BASE_PER" 'BEGIN { print a / b }')" "$wall"
    rm -rf "$T/run"
}

for n in $SIZES $AUG_SIZES; do
    [ -f "$T/train_$n.tsv" ] && continue
    awk -v n="$n" 'NR == 1 { print; next } { l[m++] = $0 } END { for (i = 0; i < n; i++) print l[i % m] }' \
        "$T/si/train.tsv" >"$T/train_$n.tsv"
done
# the cache filled once per binary (features of the 7784 distinct clips; the key holds the
# build), not timed
for bin in "$SER" $BEFORE; do
    "$bin" train --train-list "$T/si/train.tsv" --val-list "$T/si/val.tsv" --out "$T/run" "${SMALL[@]}" >/dev/null 2>&1
    rm -rf "$T/run"
done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; commit $(git -C "$root" rev-parse --short HEAD)"
header() { printf "%-32s %9s %8s %9s %10s %9s %8s %8s\n" "$1" "clips" "RSS MB" "vs first" "epoch s" "ms/clip" "ratio" "wall s"; }
if [ -n "$SIZES" ]; then
    first=${SIZES%% *}
    header "1 epoch"
    BASE_MB='' BASE_PER=''
    SER_FEATURE_CACHE=off run "in memory (today's path)" "$first" "$SER"
    for n in $SIZES; do run "feature cache" "$n" "$SER"; done
fi
if [ -n "$AUG_SIZES" ]; then
    first=${AUG_SIZES%% *}
    AUG=(--set train.epochs=2 --set train.aug_noise_kind=white --set train.aug_noise_prob=0.5 --set train.aug_speed=0.1
         --set train.aug_prefetch=true --set train.audio_cache_mb=0)
    header "waveform augmentation, 2 epochs"
    BASE_MB='' BASE_PER=''
    SER_FEATURE_CACHE=off run "epoch features in memory" "$first" "$SER" "${AUG[@]}"
    for n in $AUG_SIZES; do run "epoch features spilled" "$n" "$SER" "${AUG[@]}"; done
    for n in $AUG_SIZES; do [ -z "$BEFORE" ] || run "before (BEFORE=)" "$n" "$BEFORE" "${AUG[@]}"; done
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
