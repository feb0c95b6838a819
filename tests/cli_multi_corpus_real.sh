#!/usr/bin/env bash
# Several corpora on the real copies (file names only: ser scan and split, no training):
# ../shared/data/tess and ../shared/data/ravdess/Actor_01 side by side in one parent folder
# (symbolic links, no audio copied) are detected subfolder by subfolder with nothing skipped;
# --label-map calm=neutral --labels (the six common labels) drops exactly the surprise clips
# (and nothing else) per corpus. When ../corpora/ravdess and ../corpora/cremad are there (being
# restored: their sizes are not relied on), RAVDESS + CREMA-D in one run: each keeps its own
# kind and speakers, and a speaker-independent split on qualified speakers holds only them.
set -u
DATA=${SER_SHARED_DATA:-}
[ -n "$DATA" ] && [ -d "$DATA/tess" ] && [ -d "$DATA/ravdess/Actor_01" ] ||
  { echo "SKIPPED: ../shared/data/tess and ../shared/data/ravdess/Actor_01 are needed"; exit 77; }
. "$(dirname "$0")/lib_cli.sh" cli_multi_corpus_real
SER=$SER_BIN
SIX=angry,disgust,fear,happy,neutral,sad

mkdir -p "$tmp/parent/ravdess"
ln -s "$DATA/tess" "$tmp/parent/tess"
ln -s "$DATA/ravdess/Actor_01" "$tmp/parent/ravdess/Actor_01"
n_tess=$("$SER" scan "$DATA/tess" 2>/dev/null | grep -vc "^#")
n_rav=$("$SER" scan "$DATA/ravdess/Actor_01" 2>/dev/null | grep -vc "^#")
"$SER" scan "$tmp/parent" >"$tmp/p.tsv" 2>"$tmp/p.err"
rc=$?
check '[ $rc -eq 0 ]' "scan of the parent failed: $(cat "$tmp/p.err")"
check 'grep -q "(tess): $n_tess clips of $n_tess audio files" "$tmp/p.err"' "tess not found whole: $(grep "^corpus" "$tmp/p.err")"
check 'grep -q "(ravdess): $n_rav clips of $n_rav audio files" "$tmp/p.err"' "ravdess not found whole: $(grep "^corpus" "$tmp/p.err")"
check '[ "$(grep -vc "^#" "$tmp/p.tsv")" -eq $((n_tess + n_rav)) ]' "manifest should list $((n_tess + n_rav)) clips"
count() { grep -v "^#" "$1" | awk -F'\t' -v c="$2" -v l="$3" '$5 == c && (l == "" || $2 == l)' | wc -l; }
sur_t=$(count "$tmp/p.tsv" tess surprise) sur_r=$(count "$tmp/p.tsv" ravdess surprise) calm=$(count "$tmp/p.tsv" ravdess calm)
"$SER" scan --data "$tmp/parent" --label-map calm=neutral --labels $SIX >"$tmp/l.tsv" 2>"$tmp/l.err"
rc=$?
check '[ $rc -eq 0 ]' "scan --labels failed: $(cat "$tmp/l.err")"
check '[ "$(grep -vc "^#" "$tmp/l.tsv")" -eq $((n_tess + n_rav - sur_t - sur_r)) ]' "--labels should drop the $sur_t + $sur_r surprise clips only"
check 'grep -Eq "tess +surprise +$sur_t\$" "$tmp/l.err" && grep -Eq "ravdess +surprise +$sur_r\$" "$tmp/l.err"' "dropped counts: $(cat "$tmp/l.err")"
check '[ "$(count "$tmp/l.tsv" ravdess calm)" -eq 0 ] && [ "$calm" -gt 0 ]' "calm clips left after calm=neutral"

CORPORA=${SER_CORPORA:-$DATA/../../corpora}
if [ -d "$CORPORA/ravdess/Actor_01" ] && [ -n "$(ls "$CORPORA/cremad" 2>/dev/null | head -1)" ]; then
  "$SER" scan --data "$CORPORA/ravdess" --data "$CORPORA/cremad" --labels $SIX --label-map calm=neutral \
    >"$tmp/rc.tsv" 2>"$tmp/rc.err"
  rc=$?
  check '[ $rc -eq 0 ]' "scan of ravdess + cremad failed: $(tail -3 "$tmp/rc.err")"
  check 'grep -q "(ravdess):" "$tmp/rc.err" && grep -q "(cremad):" "$tmp/rc.err"' "kinds: $(grep "^corpus" "$tmp/rc.err")"
  spk_r=$(grep -v "^#" "$tmp/rc.tsv" | awk -F'\t' '$5 == "ravdess" {print $3}' | sort -u | wc -l)
  check '[ "$spk_r" -ge 1 ] && [ "$spk_r" -le 24 ]' "ravdess speakers: $spk_r"
  check '! grep -v "^#" "$tmp/rc.tsv" | awk -F"\t" "\$5 == \"cremad\" && \$3 !~ /^10[0-9][0-9]\$/" | grep -q .' "cremad speakers not 1001..1091"
  "$SER" split --data "$CORPORA/ravdess" --data "$CORPORA/cremad" --labels $SIX --label-map calm=neutral \
    --test-speakers ravdess:01,cremad:1001 --out "$tmp/si" >/dev/null 2>"$tmp/si.err"
  rc=$?
  check '[ $rc -eq 0 ]' "split on qualified speakers failed: $(tail -2 "$tmp/si.err")"
  check '[ "$(grep -v "^#" "$tmp/si/test.tsv" | cut -f3,5 | sort -u | tr "\t\n" ": ")" = "01:ravdess 1001:cremad " ]' \
    "test speakers: $(grep -v "^#" "$tmp/si/test.tsv" | cut -f3,5 | sort -u | tr "\n" " ")"
else
  echo "note: $CORPORA/ravdess or cremad absent (being restored): the RAVDESS + CREMA-D part is not run"
fi
echo "cli_multi_corpus_real: $pass passed, $fail failed"
exit $fail
