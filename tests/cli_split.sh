#!/usr/bin/env bash
# `ser scan` and `ser split` end to end on a TESS-shaped tree of EMPTY files (the parsers only
# read names): manifest on stdout, summary and skips on stderr, --strict, the three manifests,
# per-folder counts, determinism, --copy, speaker-independent splits, --help and usage errors;
# then the real TESS folder when ../shared/data is present.
set -u
: "${SER_BIN:?SER_BIN not set}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
check() { # check "what" command...
    local what=$1; shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
body() { grep -v '^#' "$1"; } # manifest lines without the header

# 4 folders x 6 clips, 2 speakers; one bad name, one typo prefix, non-audio files.
D="$T/tess"
for spk in OAF YAF; do
    for emo in angry sad; do
        mkdir -p "$D/${spk}_$emo"
        for w in back bar base bath bean beg; do : >"$D/${spk}_$emo/${spk}_${w}_$emo.wav"; done
    done
done
mv "$D/YAF_sad/YAF_beg_sad.wav" "$D/YAF_sad/YFA_beg_sad.wav"   # typo prefix: still YAF
: >"$D/OAF_angry/OAF_bad_angyr.wav"                            # no known label: skipped
: >"$D/OAF_angry/notes.txt"
: >"$D/YAF_sad/cover.jpg"

# ---- scan -------------------------------------------------------------------------------------
"$SER_BIN" scan "$D" >"$T/scan.tsv" 2>"$T/err"
check "scan: exit 0 with a skipped file" [ $? -eq 0 ]
check "scan: header" [ "$(head -1 "$T/scan.tsv")" = "$(printf '# path\tlabel\tspeaker\tgroup')" ]
check "scan: 24 clips" [ "$(body "$T/scan.tsv" | wc -l)" -eq 24 ]
check "scan: sorted by path" cmp -s <(body "$T/scan.tsv" | cut -f1) <(body "$T/scan.tsv" | cut -f1 | LC_ALL=C sort)
check "scan: first line" [ "$(body "$T/scan.tsv" | head -1)" = "$(printf '%s\tangry\tOAF\tOAF_angry' "$(realpath "$D")/OAF_angry/OAF_back_angry.wav")" ]
check "scan: typo prefix -> folder speaker" grep -qP 'YFA_beg_sad\.wav\tsad\tYAF\tYAF_sad$' "$T/scan.tsv"
check "scan: non-audio ignored" bash -c "! grep -q 'notes.txt\|cover.jpg' '$T/scan.tsv' '$T/err'"
check "scan: summary kind" grep -q "(tess): 24 clips of 25 audio files" "$T/err"
check "scan: summary per label" grep -qE '^  angry +12$' "$T/err"
check "scan: summary per speaker" grep -qE '^  YAF +12$' "$T/err"
check "scan: skip counted" grep -q "skipped 1:" "$T/err"
check "scan: skip named with reason" grep -q "OAF_bad_angyr.wav: .*angyr" "$T/err"
"$SER_BIN" scan --corpus folders "$D" >"$T/folders.tsv" 2>/dev/null
check "scan --corpus folders: label = folder" grep -qP 'OAF_bad_angyr\.wav\tOAF_angry\t\tOAF_angry$' "$T/folders.tsv"
"$SER_BIN" scan --strict "$D" >"$T/strict.tsv" 2>"$T/err"
check "scan --strict: exit non-zero" [ $? -ne 0 ]
check "scan --strict: names the file" grep -q "OAF_bad_angyr.wav" "$T/err"
check "scan --strict: nothing on stdout" [ ! -s "$T/strict.tsv" ]
"$SER_BIN" scan "$T/missing" >/dev/null 2>"$T/err"
check "scan missing folder: exit 1" [ $? -eq 1 ]
check "scan missing folder: named" grep -q "$T/missing" "$T/err"
mkdir "$T/empty" && : >"$T/empty/readme.txt"
"$SER_BIN" scan "$T/empty" >/dev/null 2>"$T/err"
check "scan empty folder: exit 1" [ $? -eq 1 ]
check "scan empty folder: named, no audio" grep -q "$T/empty: no audio" "$T/err"
"$SER_BIN" scan --corpus emodb "$D" >/dev/null 2>"$T/err"
rc=$?
check "scan bad --corpus: exit 2" [ $rc -eq 2 ]
check "scan bad --corpus: exit 2: message" grep -q "emodb" "$T/err"
"$SER_BIN" scan >/dev/null 2>&1
check "scan no folder: exit 2" [ $? -eq 2 ]
"$SER_BIN" scan --help | grep -q "usage: ser scan"
check "scan --help" [ $? -eq 0 ]

# ---- split (reference protocol) ---------------------------------------------------------------
"$SER_BIN" split --data "$D" --per-folder 2 --val 0.25 --seed 7 --out "$T/s1" --copy 2>"$T/err"
check "split: exit 0" [ $? -eq 0 ]
check "split: three manifests" test -f "$T/s1/train.tsv" -a -f "$T/s1/val.tsv" -a -f "$T/s1/test.tsv"
check "split: test = 2 per folder" [ "$(body "$T/s1/test.tsv" | cut -f4 | sort | uniq -c | awk '{print $1}' | sort -u)" = 2 ]
check "split: test has 4 folders" [ "$(body "$T/s1/test.tsv" | cut -f4 | sort -u | wc -l)" -eq 4 ]
check "split: val = ceil(0.25 * 16) = 4" [ "$(body "$T/s1/val.tsv" | wc -l)" -eq 4 ]
check "split: train = 12" [ "$(body "$T/s1/train.tsv" | wc -l)" -eq 12 ]
check "split: union = scan, no overlap" cmp -s <(cat "$T/s1"/{train,val,test}.tsv | grep -v '^#' | sort) <(body "$T/scan.tsv" | sort)
check "split: summary line" grep -q "train 12, val 4, test 8" "$T/err"
check "split --copy: 8 test clips in test/<group>/" [ "$(find "$T/s1/test" -type f | wc -l)" -eq 8 ]
check "split --copy: layout" cmp -s <(cd "$T/s1/test" && find . -type f | sed 's|^\./||' | sort) \
    <(body "$T/s1/test.tsv" | awk -F'\t' '{n = split($1, a, "/"); print $4 "/" a[n]}' | sort)
"$SER_BIN" split --data "$D" --per-folder 2 --val 0.25 --seed 7 --out "$T/s2" 2>/dev/null
check "split: same seed, same manifests" cmp -s <(cat "$T/s1"/{train,val,test}.tsv) <(cat "$T/s2"/{train,val,test}.tsv)
check "split: no --copy, no test/" [ ! -e "$T/s2/test" ]
"$SER_BIN" split --data "$D" --per-folder 2 --val 0.25 --seed 8 --out "$T/s3" 2>/dev/null
check "split: other seed, other test set" bash -c "! cmp -s '$T/s1/test.tsv' '$T/s3/test.tsv'"
"$SER_BIN" split --data "$D" --per-folder 2 --val 0.25 --seed 7 --out "$T/s1" --copy 2>"$T/err"
rc=$?
check "split --copy twice: refused" [ $rc -ne 0 ]
check "split --copy twice: refused: test/ named" grep -q "$T/s1/test" "$T/err"

# ---- split (speaker-independent) --------------------------------------------------------------
"$SER_BIN" split --data "$D" --test-speakers YAF --val 0.125 --out "$T/si" 2>/dev/null
check "split speakers: exit 0" [ $? -eq 0 ]
check "split speakers: test = all YAF" [ "$(body "$T/si/test.tsv" | cut -f3 | sort -u)" = YAF ]
check "split speakers: 12 test clips" [ "$(body "$T/si/test.tsv" | wc -l)" -eq 12 ]
check "split speakers: train+val = OAF only" [ "$(cat "$T/si"/{train,val}.tsv | grep -v '^#' | cut -f3 | sort -u)" = OAF ]
check "split speakers: val = ceil(0.125 * 12) = 2" [ "$(body "$T/si/val.tsv" | wc -l)" -eq 2 ]
"$SER_BIN" split --data "$D" --test-speakers ZZZ --out "$T/sz" 2>"$T/err"
rc=$?
check "split unknown speaker: exit 1" [ $rc -eq 1 ]
check "split unknown speaker: exit 1: message" grep -q "ZZZ" "$T/err"

# ---- usage errors -----------------------------------------------------------------------------
"$SER_BIN" split --data "$D" 2>"$T/err"
check "split no --out: exit 2" [ $? -eq 2 ]
"$SER_BIN" split --data "$D" --out "$T/x" --val 1.5 2>"$T/err"
rc=$?
check "split --val 1.5: exit 2" [ $rc -eq 2 ]
check "split --val 1.5: exit 2: message" grep -q -- "--val" "$T/err"
"$SER_BIN" split --data "$D" --out "$T/x" --seed -1 2>"$T/err"
check "split --seed -1: exit 2" [ $? -eq 2 ]
"$SER_BIN" split --data "$D" --out "$T/x" --per-folder 7 2>"$T/err"
rc=$?
check "split --per-folder too big: exit 1" [ $rc -eq 1 ]
check "split --per-folder too big: exit 1: folder named" grep -q "has 6 clips" "$T/err"
"$SER_BIN" split --data "$T/missing" --out "$T/x" 2>"$T/err"
rc=$?
check "split missing data: exit 1" [ $rc -eq 1 ]
check "split missing data: exit 1: message" grep -q "$T/missing" "$T/err"
"$SER_BIN" split --data "$D" --out "$T/x" --bogus 2>"$T/err"
check "split unknown option: exit 2" [ $? -eq 2 ]
"$SER_BIN" split --help | grep -q "usage: ser split"
check "split --help" [ $? -eq 0 ]

# ---- the real TESS folder (reference protocol counts) ----------------------------------------
DATA=${SER_SHARED_DATA:-}
if [ -n "$DATA" ] && [ -d "$DATA/tess" ]; then
    "$SER_BIN" split --data "$DATA/tess" --out "$T/tess" 2>"$T/err"
    check "tess split: exit 0" [ $? -eq 0 ]
    check "tess split: 1468 / 210 / 560" grep -q "train 1468, val 210, test 560" "$T/err"
    check "tess split: 40 per folder" [ "$(body "$T/tess/test.tsv" | cut -f4 | sort | uniq -c | awk '{print $1}' | sort -u)" = 40 ]
else
    echo "SKIPPED part: no ../shared/data, the real TESS split is not run"
fi

echo "cli_split: $fails failed"
[ "$fails" -eq 0 ]
