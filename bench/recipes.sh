#!/usr/bin/env bash
# The recipes of configs/ on the corpora they are for, with their peer on the same folds
# (issue 13's targets; bench/README.md):
#   ravdess  configs/ravdess.ini, RAVDESS speech (24 actors, 8 classes), EmoBox's 6 folds
#   cremad   configs/cremad.ini, CREMA-D actors 1001-1060 (6 classes), 5 speaker folds (seed 42)
#   multi    configs/multi.ini, CREMA-D + RAVDESS + TESS on the 6 common labels, leave one
#            corpus out (3 folds: train on two corpora, test on the third)
#   ravdess-ft  RAVDESS's 6 EmoBox folds, each fine-tuned (configs/ravdess.ini) from one model
#            pretrained on CREMA-D + TESS (configs/multi.ini): ser cv --pretrain-data
#   cremad-ft   CREMA-D's 5 folds, each fine-tuned (configs/cremad.ini) from one model
#            pretrained on RAVDESS + TESS (configs/multi.ini)
# (not in the default set: --only ravdess-ft / cremad-ft; the peer sees only the folds' corpus)
# Each is one `ser cv --jobs JOBS` (timed: wall seconds for all folds, and per fold), then
# bench/baseline_egemaps.py (openSMILE eGeMAPS + RBF SVM, a peer that ser never needs) on the
# very manifests that run wrote. Prints one row per recipe: UA and WA mean +- sample std over
# the folds for ser and for the baseline (global and per-speaker z-score variants).
#
# usage: bench/recipes.sh [--only ravdess|cremad|multi|ravdess-ft|cremad-ft]... [--out DIR] [--jobs N]
#                         [--corpora DIR] [--tess DIR] [--emobox DIR] [--no-baseline] [--set K=V]...
#   --corpora  where restore-corpora.sh put ravdess/ and cremad/ (default ../corpora)
#   --tess     TESS (default ../shared/data/tess)
#   --emobox   a checkout of github.com/emo-box/EmoBox (its data/ravdess fold lists)
#   --set      passed to every ser cv (a variant of the recipes)
# A recipe whose data is missing is SKIPPED with the reason. Reruns resume (ser cv keeps
# finished folds; the baseline caches its features).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SER=${SER:-$root/build/ser}
OUT=$root/runs/bench-recipes
JOBS=2
CORPORA=$root/../corpora
TESS=$root/../shared/data/tess
EMOBOX=""
BASELINE=1
ONLY=()
SETS=()
while [ $# -gt 0 ]; do
    case $1 in
        --only) ONLY+=("$2"); shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --jobs) JOBS=$2; shift 2 ;;
        --corpora) CORPORA=$2; shift 2 ;;
        --tess) TESS=$2; shift 2 ;;
        --emobox) EMOBOX=$2; shift 2 ;;
        --no-baseline) BASELINE=0; shift ;;
        --set) SETS+=(--set "$2"); shift 2 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "bench/recipes.sh: unknown option '$1' (--help)" >&2; exit 2 ;;
    esac
done
[ ${#ONLY[@]} -gt 0 ] || ONLY=(ravdess cremad multi)
[ -x "$SER" ] || { echo "bench/recipes.sh: no $SER: build first (make build)" >&2; exit 1; }
mkdir -p "$OUT"
SIX=angry,disgust,fear,happy,neutral,sad
summary=$OUT/summary.tsv
: > "$summary"

# run_cv NAME CV-ARGS...: ser cv into OUT/NAME, timed; then the baseline on its manifests
run_cv() {
    local name=$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    "$SER" cv "$@" --jobs "$JOBS" --out "$OUT/$name" ${SETS[@]+"${SETS[@]}"} > "$OUT/$name.log" 2>&1 || {
        echo "bench/recipes.sh: $name: ser cv failed (log: $OUT/$name.log)" >&2
        tail -5 "$OUT/$name.log" >&2
        return 1
    }
    t1=$(date +%s.%N)
    echo "$t0 $t1" > "$OUT/$name.time"
    if [ $BASELINE = 1 ]; then
        python3 "$root/bench/baseline_egemaps.py" "$OUT/$name" --json "$OUT/$name.baseline.json" \
            > "$OUT/$name.baseline.txt" 2> "$OUT/$name.baseline.err" || {
            echo "bench/recipes.sh: $name: the baseline failed (log: $OUT/$name.baseline.err)" >&2
            return 1
        }
    fi
    printf '%s\t%s\n' "$name" "$OUT/$name" >> "$summary"
}

skip() { echo "$1: SKIPPED ($2)"; }

for r in "${ONLY[@]}"; do
    case $r in
        ravdess)
            if [ ! -d "$CORPORA/ravdess" ]; then skip ravdess "no $CORPORA/ravdess: run ../shared/data/restore-corpora.sh"
            elif [ -z "$EMOBOX" ] || [ ! -d "$EMOBOX/data/ravdess" ]; then skip ravdess "no EmoBox fold lists: --emobox DIR (a checkout of github.com/emo-box/EmoBox)"
            else run_cv ravdess --data "$CORPORA/ravdess" --fold-lists "$EMOBOX/data/ravdess" --config "$root/configs/ravdess.ini"
            fi ;;
        cremad)
            if [ ! -d "$CORPORA/cremad" ]; then skip cremad "no $CORPORA/cremad: run ../shared/data/restore-corpora.sh"
            else run_cv cremad --data "$CORPORA/cremad" --folds 5 --config "$root/configs/cremad.ini"
            fi ;;
        multi)
            if [ ! -d "$CORPORA/cremad" ] || [ ! -d "$CORPORA/ravdess" ] || [ ! -d "$TESS" ]; then
                skip multi "needs $CORPORA/cremad, $CORPORA/ravdess and $TESS"
            else
                # leave one corpus out: one plain speaker list per fold, every speaker of a corpus
                lists=$OUT/multi-lists
                mkdir -p "$lists"
                "$SER" scan --data "$CORPORA/cremad" --corpus cremad --data "$CORPORA/ravdess" --corpus ravdess \
                    --data "$TESS" --corpus tess 2>/dev/null > "$OUT/multi-scan.tsv"
                for c in cremad ravdess tess; do
                    awk -F'\t' -v c=$c '!/^#/ && $5 == c { print c ":" $3 }' "$OUT/multi-scan.tsv" | sort -u > "$lists/$c.txt.tmp"
                    mv "$lists/$c.txt.tmp" "$lists/$c.txt"
                done
                rm -f "$OUT/multi-scan.tsv"
                run_cv multi --data "$CORPORA/cremad" --corpus cremad --data "$CORPORA/ravdess" --corpus ravdess \
                    --data "$TESS" --corpus tess --labels $SIX --fold-lists "$lists" --config "$root/configs/multi.ini"
            fi ;;
        ravdess-ft)
            if [ ! -d "$CORPORA/ravdess" ] || [ ! -d "$CORPORA/cremad" ] || [ ! -d "$TESS" ]; then
                skip ravdess-ft "needs $CORPORA/ravdess, $CORPORA/cremad and $TESS"
            elif [ -z "$EMOBOX" ] || [ ! -d "$EMOBOX/data/ravdess" ]; then skip ravdess-ft "no EmoBox fold lists: --emobox DIR"
            else run_cv ravdess-ft --data "$CORPORA/ravdess" --corpus ravdess --fold-lists "$EMOBOX/data/ravdess" \
                    --pretrain-data "$CORPORA/cremad" --corpus cremad --pretrain-data "$TESS" --corpus tess \
                    --config "$root/configs/ravdess.ini" --pretrain-config "$root/configs/multi.ini"
            fi ;;
        cremad-ft)
            if [ ! -d "$CORPORA/ravdess" ] || [ ! -d "$CORPORA/cremad" ] || [ ! -d "$TESS" ]; then
                skip cremad-ft "needs $CORPORA/ravdess, $CORPORA/cremad and $TESS"
            else run_cv cremad-ft --data "$CORPORA/cremad" --corpus cremad --folds 5 \
                    --pretrain-data "$CORPORA/ravdess" --corpus ravdess --pretrain-data "$TESS" --corpus tess \
                    --config "$root/configs/cremad.ini" --pretrain-config "$root/configs/multi.ini"
            fi ;;
        *) echo "bench/recipes.sh: unknown recipe '$r' (ravdess, cremad, multi, ravdess-ft, cremad-ft)" >&2; exit 2 ;;
    esac
done

[ -s "$summary" ] || exit 0
python3 - "$summary" "$BASELINE" <<'EOF'
import json, os, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
baseline = sys.argv[2] == "1"
def ms(d, k):
    return f"{d['mean'][k]:.3f} ± {d['std_dev'][k]:.3f}" if d['std_dev'][k] is not None else f"{d['mean'][k]:.3f}"
print(f"{'recipe':8s} {'folds':>5s}  {'ser UA':>15s}  {'ser WA':>15s}  {'SVM UA (speaker)':>17s}  {'SVM UA (global)':>16s}  {'wall s':>7s}  {'wall/fold':>9s}")
for name, d in rows:
    cv = json.load(open(os.path.join(d, "cv.json")))
    t0, t1 = map(float, open(d + ".time").read().split())
    n = cv["folds"]
    b = {}
    if baseline:
        bj = json.load(open(d + ".baseline.json"))
        b = {v: f"{bj['mean_std'][v]['uar']['mean']:.3f} ± {bj['mean_std'][v]['uar']['std_dev']:.3f}" for v in ("speaker", "global")}
    print(f"{name:8s} {n:5d}  {ms(cv, 'uar'):>15s}  {ms(cv, 'accuracy'):>15s}  {b.get('speaker', '-'):>17s}  {b.get('global', '-'):>16s}  {t1 - t0:7.0f}  {(t1 - t0) / n:9.0f}")
    print("    per fold UA: " + "  ".join(f"{f['fold']}: {f['uar']:.3f}" for f in cv["per_fold"]))
    if name == "multi":
        print("    (fold N tests on every speaker of one corpus: " + ", ".join(f"{f['fold']} = {f['test_speakers'][0].split(':')[0]}" for f in cv["per_fold"]) + ")")
EOF
