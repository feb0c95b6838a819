#!/usr/bin/env bash
# The emotion timeline on long recordings of speakers the model was not trained on
# (docs/predict-window.md, "Accuracy"): utterance-level UA of `ser predict --segments` and of
# fixed windows (`--hop 0.25`, the placement before segments) against the per-clip UA of
# `ser predict` on the same clips, same model, same run.
#
# For each corpus present:
#   synth   `ser synth --speakers 4`: trained on SPA, SPB; recordings from SPC, SPD
#   tess    TESS_DIR (OAF_* and YAF_* folders): trained on OAF; recordings from YAF
#   cremad  CREMAD_DIR (actors 1001-1060 only): trained on 1001-1024; recordings from 1041-1060
# a model is trained (RECIPE_<corpus>, EPOCHS_<corpus>, extra SET_<corpus> overrides), then the
# held-out speakers' clips are joined into recordings of one speaker each: 1 s of silence, then
# 16 clips (the emotions in turn), each followed by 2.5 s of silence (bench/timeline_accuracy.py).
# Per-clip: `ser predict --json` on each recording's 16 clips in one call (so per-speaker
# normalisation sees the same clips as the recording's). An utterance's timeline label: the
# argmax of the overlap-weighted probabilities of the non-silent records that overlap it.
# Also: the records wholly inside a silence that are not silent, the share of the silences'
# seconds reported silent, and x real time (audio seconds / wall seconds, all recordings).
#
# usage: bench/timeline_accuracy.sh [BUILD_DIR]
# env: CORPORA="synth tess cremad"  TESS_DIR=../shared/data/tess  CREMAD_DIR=../corpora/cremad
#      OUT=DIR (kept; a model already in OUT/<corpus>/run is reused)  TAG (a name for OUT's subfolder)
#      EPOCHS_synth=20 EPOCHS_tess=40 EPOCHS_cremad=20  SET_<corpus>="--set k=v ..."  HOP=0.25
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$root/build}
SER=$BUILD/ser
[ -x "$SER" ] || { echo "no $SER: build first (make build)"; exit 1; }
CORPORA=${CORPORA:-synth tess cremad}
TESS_DIR=${TESS_DIR:-$root/../shared/data/tess}
CREMAD_DIR=${CREMAD_DIR:-$root/../corpora/cremad}
HOP=${HOP:-0.25}
PY="python3 $root/bench/timeline_accuracy.py"
if [ -n "${OUT:-}" ]; then T=$OUT; mkdir -p "$T"; else T=$(mktemp -d); trap 'rm -rf "$T"' EXIT; fi

# corpus_dirs NAME -> $T/NAME/train (symlinks to the training speakers' files) and
# $T/NAME/heldout.tsv (path label speaker of the held-out speakers' clips)
corpus_dirs() {
    local name=$1 d=$T/$1
    mkdir -p "$d/train"
    case $name in
    synth)
        [ -d "$d/all" ] || "$SER" synth --out "$d/all" --speakers 4 --per-class 30 >/dev/null
        ln -sfn "$d"/all/SPA_* "$d"/all/SPB_* "$d/train/"
        "$SER" scan "$d/all" 2>/dev/null | awk -F'\t' '!/^#/ && ($3 == "SPC" || $3 == "SPD") { print $1 "\t" $2 "\t" $3 }' \
            >"$d/heldout.tsv" ;;
    tess)
        ln -sfn "$TESS_DIR"/OAF_* "$d/train/"
        "$SER" scan "$TESS_DIR" 2>/dev/null | awk -F'\t' '!/^#/ && $3 == "YAF" { print $1 "\t" $2 "\t" $3 }' >"$d/heldout.tsv" ;;
    cremad)
        local a
        for a in $(seq 1001 1024); do ln -sf "$CREMAD_DIR/${a}_"*.wav "$d/train/"; done
        "$SER" scan "$CREMAD_DIR" 2>/dev/null |
            awk -F'\t' '!/^#/ && $3 + 0 >= 1041 && $3 + 0 <= 1060 { print $1 "\t" $2 "\t" $3 }' >"$d/heldout.tsv" ;;
    esac
}

recipe_of() { case $1 in cremad) echo "$root/configs/cremad.ini" ;; *) echo "$root/configs/tess.ini" ;; esac; }
epochs_of() { case $1 in synth) echo "${EPOCHS_synth:-20}" ;; tess) echo "${EPOCHS_tess:-40}" ;; *) echo "${EPOCHS_cremad:-20}" ;; esac; }

# wall seconds of a command (stdout to $2)
timed() {
    local out=$1
    shift
    /usr/bin/time -f "%e" -o "$T/wall" "$@" >"$out" 2>"$T/err" || { cat "$T/err"; exit 1; }
    cat "$T/wall"
}

printf "%-10s %-28s %5s %9s %12s %12s %9s %10s %10s %9s\n" corpus model utts clip_UA segments_UA "hop${HOP}_UA" \
    seg_x_rt seg_spurious seg_silent win_x_rt
for name in $CORPORA; do
    case $name in
    tess) [ -d "$TESS_DIR" ] || { echo "$name: no $TESS_DIR: skipped"; continue; } ;;
    cremad) [ -d "$CREMAD_DIR" ] || { echo "$name: no $CREMAD_DIR: skipped"; continue; } ;;
    esac
    sets_var=SET_$name
    sets=${!sets_var:-}
    tag=${TAG:-base}
    d=$T/$name
    corpus_dirs "$name"
    run=$d/run_$tag
    if [ ! -f "$run/model.safetensors" ]; then
        # shellcheck disable=SC2086
        "$SER" train --config "$(recipe_of "$name")" --data "$d/train" --out "$run" --set train.epochs="$(epochs_of "$name")" \
            $sets --quiet >"$d/train_$tag.log" 2>&1 || { tail -5 "$d/train_$tag.log"; exit 1; }
    fi
    M=$run/model.safetensors
    # the emotions in turn within each speaker: rank of a clip within (speaker, label), then label
    awk -F'\t' '{ r = ++n[$3 FS $2]; print $3 "\t" r "\t" $2 "\t" $1 }' "$d/heldout.tsv" | sort -t$'\t' -k1,1 -k2,2n -k3,3 |
        awk -F'\t' '{ print $4 "\t" $3 "\t" $1 }' >"$d/ordered.tsv"
    [ -f "$d/long/truth.tsv" ] || $PY build "$d/ordered.tsv" "$d/long" 16
    rm -f "$d/clips_$tag.jsonl"
    audio=0 seg_wall=0 win_wall=0
    mkdir -p "$d/seg_$tag" "$d/win_$tag"
    for f in $(cut -f1 "$d/long/truth.tsv" | sort -u); do
        # shellcheck disable=SC2046
        "$SER" predict --model "$M" --json $(awk -F'\t' -v f="$f" '$1 == f { print $5 }' "$d/long/truth.tsv") \
            >>"$d/clips_$tag.jsonl" 2>/dev/null
        w=$(timed "$d/seg_$tag/$f.jsonl" "$SER" predict --model "$M" --segments --json "$d/long/$f.wav")
        seg_wall=$(awk -v a="$seg_wall" -v b="$w" 'BEGIN { print a + b }')
        w=$(timed "$d/win_$tag/$f.jsonl" "$SER" predict --model "$M" --hop "$HOP" --json "$d/long/$f.wav")
        win_wall=$(awk -v a="$win_wall" -v b="$w" 'BEGIN { print a + b }')
        audio=$(awk -v a="$audio" -v b="$(tail -1 "$d/seg_$tag/$f.jsonl" | sed -E 's/.*"end":([0-9.e+-]+).*/\1/')" \
            'BEGIN { print a + b }')
    done
    clip=$(awk -F'\t' '{ print $5 "\t" $4 }' "$d/long/truth.tsv" | $PY clips "$d/clips_$tag.jsonl")
    seg=$($PY timeline "$d/long/truth.tsv" "$d/seg_$tag")
    win=$($PY timeline "$d/long/truth.tsv" "$d/win_$tag")
    echo "$name $tag: per-clip: $clip" >>"$d/details.txt"
    echo "$name $tag: segments: $seg" >>"$d/details.txt"
    echo "$name $tag: hop $HOP: $win" >>"$d/details.txt"
    field() { echo "$2" | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
    printf "%-10s %-28s %5s %9.3f %12.3f %12.3f %9.0f %12s %10.3f %9.0f\n" "$name" "$(basename "$(recipe_of "$name")" .ini)${sets:+ $tag}" \
        "$(field utterances "$seg")" "$(field UA "$clip")" "$(field UA "$seg")" "$(field UA "$win")" \
        "$(awk -v a="$audio" -v w="$seg_wall" 'BEGIN { print a / w }')" \
        "$(field non-silent-records-outside-utterances "$seg")" "$(field reported-silent "$seg")" \
        "$(awk -v a="$audio" -v w="$win_wall" 'BEGIN { print a / w }')"
done
echo "details: per corpus in OUT/<corpus>/details.txt (utterance accuracy, record counts, silence seconds)"
