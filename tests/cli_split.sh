#!/usr/bin/env bash
# ser scan / ser split end to end on a synthetic TESS-like tree of empty files: manifests,
# determinism per seed, --copy, speaker-independent splits, errors and --help.
set -u
SER=${SER_BIN:?SER_BIN must point at the ser binary}
T=$(mktemp -d /tmp/ser_cli_split.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { fails=$((fails + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$1"; fi; }

# 2 speakers x 3 emotions x 12 words, plus a typo prefix, a bad name and non-audio.
for spk in OAF YAF; do
  for emo in angry fear ps; do
    d="$T/data/${spk}_$emo"; mkdir -p "$d"
    for w in $(seq -w 1 12); do : > "$d/${spk}_w${w}_$emo.wav"; done
  done
done
: > "$T/data/OAF_angry/OA_typo_angry.wav"
: > "$T/data/YAF_fear/YAF_w99_feer.wav"
: > "$T/data/YAF_fear/README.txt"

# scan: manifest on stdout, summary on stderr.
"$SER" scan "$T/data" > "$T/scan.tsv" 2> "$T/scan.err"; rc=$?
check '[ $rc -eq 0 ]'
check '[ "$(head -1 "$T/scan.tsv")" = "# path	label	speaker	group	corpus" ]'
check '[ $(grep -vc "^#" "$T/scan.tsv") -eq 73 ]'
check 'grep -q "/OAF_angry/OA_typo_angry.wav	angry	OAF	OAF_angry	tess$" "$T/scan.tsv"'
check 'grep -q "/YAF_ps/YAF_w01_ps.wav	surprise	YAF	YAF_ps	tess$" "$T/scan.tsv"'
check 'cmp -s <(grep -v "^#" "$T/scan.tsv" | cut -f1) <(grep -v "^#" "$T/scan.tsv" | cut -f1 | LC_ALL=C sort)'
check 'grep -Eq "^  YAF +36$" "$T/scan.err"'
check 'grep -q "skipped 1" "$T/scan.err" && grep -q "YAF_w99_feer.wav: name carries no known label" "$T/scan.err"'
check '! grep -q README "$T/scan.tsv" "$T/scan.err"'
check 'grep -Eq "^  surprise +24$" "$T/scan.err"'
"$SER" scan --strict "$T/data" > /dev/null 2> "$T/strict.err"; rc=$?
check '[ $rc -ne 0 ] && grep -q "YAF_w99_feer.wav" "$T/strict.err"'
"$SER" scan --corpus ravdess "$T/data" > /dev/null 2> "$T/forced.err"; rc=$?
check '[ $rc -ne 0 ] && grep -q "none of the 74 audio files" "$T/forced.err"'

# split: per-folder test set, sizes, determinism, different seed.
"$SER" split --data "$T/data" --per-folder 3 --seed 42 --out "$T/s1" 2> "$T/s1.err"; rc=$?
check '[ $rc -eq 0 ]'
n() { grep -vc '^#' "$1"; }
check '[ $(n "$T/s1/test.tsv") -eq 18 ] && [ $(n "$T/s1/val.tsv") -eq 7 ] && [ $(n "$T/s1/train.tsv") -eq 48 ]'
check '[ $(cat "$T/s1"/*.tsv | grep -v "^#" | cut -f1 | sort -u | wc -l) -eq 73 ]'
check '[ $(grep -c "/OAF_fear/" "$T/s1/test.tsv") -eq 3 ]'
check '[ "$(grep -v "^#" "$T/s1/test.tsv" | cut -f4 | sort | uniq -c | awk "{print \$1}" | sort -u)" = 3 ]'
check 'cmp -s <(cat "$T/s1"/*.tsv | grep -v "^#" | sort) <(grep -v "^#" "$T/scan.tsv" | sort)'
"$SER" split --data "$T/data" --per-folder 3 --seed 42 --out "$T/s2" 2> /dev/null
check 'cmp -s "$T/s1/train.tsv" "$T/s2/train.tsv" && cmp -s "$T/s1/val.tsv" "$T/s2/val.tsv" && cmp -s "$T/s1/test.tsv" "$T/s2/test.tsv"'
"$SER" split --data "$T/data" --per-folder=3 --seed=7 --out="$T/s3" 2> /dev/null
check '! cmp -s "$T/s1/test.tsv" "$T/s3/test.tsv" && ! cmp -s "$T/s1/val.tsv" "$T/s3/val.tsv"'

# --copy: test clips linked into OUTDIR/test/<group>/; a second run refuses to mix into it.
"$SER" split --data "$T/data" --per-folder 3 --seed 42 --out "$T/s4" --copy 2> /dev/null; rc=$?
check '[ $rc -eq 0 ] && [ $(find "$T/s4/test" -type f | wc -l) -eq 18 ] && [ $(ls "$T/s4/test/YAF_ps" | wc -l) -eq 3 ]'
check 'cmp -s "$T/s1/test.tsv" "$T/s4/test.tsv"'
f=$(grep -v '^#' "$T/s4/test.tsv" | head -1 | cut -f1)
check '[ -f "$T/s4/test/OAF_angry/$(basename "$f")" ]'
check 'cmp -s <(cd "$T/s4/test" && find . -type f | sed "s|^\./||" | sort) <(grep -v "^#" "$T/s4/test.tsv" | awk -F"\t" "{n = split(\$1, a, \"/\"); print \$4 \"/\" a[n]}" | sort)'
"$SER" split --data "$T/data" --per-folder 3 --seed 42 --out "$T/s4" --copy 2> "$T/s4b.err"; rc=$?
check '[ $rc -ne 0 ] && grep -q "already exists" "$T/s4b.err"'

# speaker-independent: YAF only in test, OAF only in train/val.
"$SER" split --data "$T/data" --test-speakers YAF --seed 42 --out "$T/s5" 2> /dev/null; rc=$?
check '[ $rc -eq 0 ] && [ $(n "$T/s5/test.tsv") -eq 36 ]'
check '! cut -f3 "$T/s5/train.tsv" "$T/s5/val.tsv" | grep -q YAF && ! grep -v "^#" "$T/s5/test.tsv" | cut -f3 | grep -qv YAF'
check '[ $(n "$T/s5/val.tsv") -eq 5 ]'   # ceil(0.125 * 37)

# no --seed: the reference's 42.
"$SER" split --data "$T/data" --per-folder 3 --out "$T/s6" 2> /dev/null; rc=$?
check '[ $rc -eq 0 ] && cmp -s "$T/s1/test.tsv" "$T/s6/test.tsv" && cmp -s "$T/s1/val.tsv" "$T/s6/val.tsv"'

# errors: missing folder, empty folder, missing --out, bad values, unknown speaker.
"$SER" split --data "$T/nope" --seed 1 --out "$T/x" 2> "$T/e1"; rc=$?
check '[ $rc -ne 0 ] && grep -q "$T/nope" "$T/e1"'
mkdir -p "$T/empty"; : > "$T/empty/notes.txt"
"$SER" scan "$T/empty" > /dev/null 2> "$T/e2"; rc=$?
check '[ $rc -ne 0 ] && grep -q "no audio files" "$T/e2"'
"$SER" split --data "$T/data" 2> "$T/e3"; rc=$?
check '[ $rc -eq 2 ] && grep -q "out" "$T/e3"'
"$SER" split --data "$T/data" --seed 1 --val 1.5 --out "$T/x" 2> /dev/null; rc=$?
check '[ $rc -eq 2 ]'
"$SER" split --data "$T/data" --seed -3 --out "$T/x" 2> /dev/null; rc=$?
check '[ $rc -eq 2 ]'
"$SER" split --data "$T/data" --seed 1 --test-speakers ZZZ --out "$T/x" 2> "$T/e4"; rc=$?
check '[ $rc -ne 0 ] && grep -q "ZZZ" "$T/e4"'
"$SER" split --data "$T/data" --seed 1 --per-folder 12 --out "$T/x" 2> "$T/e5"; rc=$?
check '[ $rc -ne 0 ] && grep -q "leave none to train" "$T/e5"'
"$SER" scan --bogus "$T/data" > /dev/null 2>&1; rc=$?
check '[ $rc -eq 2 ]'

# The real TESS copy: the reference protocol's counts.
if [ -n "${SER_SHARED_DATA:-}" ] && [ -d "$SER_SHARED_DATA/tess" ]; then
  "$SER" split --data "$SER_SHARED_DATA/tess" --out "$T/tess" 2> "$T/tess.err"; rc=$?
  check '[ $rc -eq 0 ] && grep -q "train 1468, val 210, test 560" "$T/tess.err"'
  check '[ "$(grep -v "^#" "$T/tess/test.tsv" | cut -f4 | sort | uniq -c | awk "{print \$1}" | sort -u)" = 40 ]'
else
  echo "note: ../shared/data absent, the real TESS split is not run"
fi

# --help on both.
check '"$SER" scan --help | grep -q "usage: ser scan"'
check '"$SER" split --help | grep -q "usage: ser split"'

echo "cli_split: $passes passed, $fails failed"
[ $fails -eq 0 ]
