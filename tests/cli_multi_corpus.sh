#!/usr/bin/env bash
# Several corpora in one run (docs/multi-corpus.md) on `ser synth` audio: a TESS-layout corpus
# and a second one renamed into RAVDESS file naming (its neutral clips as "calm"), side by side
# in one parent folder. Checks: the parent is scanned subfolder by subfolder, each with its kind;
# the manifest's corpus column and prefixed groups; --label-map then --labels, the dropped clips
# counted per corpus and label; --corpus pairing and its ambiguity errors; bad label words;
# speaker ids colliding across two corpora of one kind (CORPUS:SPEAKER); a multi-corpus ser
# train whose report.json / report.txt break WA and UA down by corpus; and ser eval --json's
# by_corpus numbers against a hand computation from its --probs file.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_multi_corpus
SER=$SER_BIN

"$SER" synth --out "$tmp/parent/tess" --per-class 6 --seed 4 >/dev/null || bad "synth tess failed"
"$SER" synth --out "$tmp/b" --per-class 6 --seed 5 >/dev/null || bad "synth b failed"
# RAVDESS naming: 03-01-EE-II-SS-RR-AA.wav in Actor_AA/; EE 01 neutral 02 calm 03 happy 04 sad
# 05 angry 06 fear 07 disgust 08 surprise; the 6 clips of an emotion and speaker get distinct
# (II, SS, RR). Neutral clips become calm (02), so that --label-map calm=neutral has work.
declare -A EMO=([neutral]=02 [happy]=03 [sad]=04 [angry]=05 [fear]=06 [disgust]=07 [ps]=08)
for d in "$tmp/b"/*_*; do
  spk=${d##*/}; spk=${spk%%_*}; emo=${d##*_}
  actor=$([ "$spk" = SPA ] && echo 01 || echo 02)
  mkdir -p "$tmp/parent/ravdess/Actor_$actor"
  k=0
  for f in "$d"/*.wav; do
    i=$((k / 4 + 1)) s=$((k / 2 % 2 + 1)) r=$((k % 2 + 1))
    ln "$f" "$tmp/parent/ravdess/Actor_$actor/03-01-${EMO[$emo]}-0$i-0$s-0$r-$actor.wav" || bad "link $f"
    k=$((k + 1))
  done
done
check '[ "$(find "$tmp/parent/ravdess" -name "*.wav" | wc -l)" -eq 84 ]' "the RAVDESS copy should hold 84 clips"

# 1. A parent of two corpora: each subfolder gets its own kind.
"$SER" scan "$tmp/parent" >"$tmp/p.tsv" 2>"$tmp/p.err"; rc=$?
check '[ $rc -eq 0 ]' "scan of the parent failed: $(cat "$tmp/p.err")"
check 'grep -q "corpus .*/parent/ravdess (ravdess): 84 clips of 84" "$tmp/p.err"' "ravdess subfolder not detected: $(cat "$tmp/p.err")"
check 'grep -q "corpus .*/parent/tess (tess): 84 clips of 84" "$tmp/p.err"' "tess subfolder not detected: $(cat "$tmp/p.err")"
check '! grep -q "skipped" "$tmp/p.err"' "files were skipped: $(grep skipped "$tmp/p.err")"
check '[ "$(head -1 "$tmp/p.tsv")" = "# path	label	speaker	group	corpus" ]' "manifest header"
check '[ "$(grep -v "^#" "$tmp/p.tsv" | cut -f5 | sort | uniq -c | awk "{printf \"%s %s;\", \$1, \$2}")" = "84 ravdess;84 tess;" ]' \
  "corpus column counts: $(grep -v "^#" "$tmp/p.tsv" | cut -f5 | sort | uniq -c)"
check 'grep -q "/Actor_01/03-01-02-01-01-01-01.wav	calm	01	ravdess/Actor_01	ravdess$" "$tmp/p.tsv"' "a ravdess line"
check 'grep -q "/SPA_angry/SPA_[a-z]*_angry.wav	angry	SPA	tess/SPA_angry	tess$" "$tmp/p.tsv"' "a tess line"

# 2. --label-map then --labels over two --data; the dropped clips per corpus and label.
"$SER" scan --data "$tmp/parent/tess" --data "$tmp/parent/ravdess" --corpus ravdess --label-map calm=neutral \
  --labels angry,disgust,fear,happy,neutral,sad >"$tmp/l.tsv" 2>"$tmp/l.err"; rc=$?
check '[ $rc -eq 0 ]' "scan --labels failed: $(cat "$tmp/l.err")"
lab() { grep -v "^#" "$tmp/l.tsv" | awk -F'\t' -v c="$1" -v l="$2" '$5 == c && $2 == l' | wc -l; }
check '[ "$(lab ravdess neutral)" -eq 12 ] && [ "$(lab ravdess calm)" -eq 0 ]' "calm=neutral: ravdess neutral $(lab ravdess neutral), calm $(lab ravdess calm)"
check '[ "$(lab tess surprise)" -eq 0 ] && [ "$(lab ravdess surprise)" -eq 0 ]' "--labels kept surprise"
check '[ "$(grep -vc "^#" "$tmp/l.tsv")" -eq 144 ]' "expected 144 = 2 x 72 clips kept, got $(grep -vc "^#" "$tmp/l.tsv")"
check 'grep -q "dropped 24 clips" "$tmp/l.err" && grep -Eq "ravdess +surprise +12" "$tmp/l.err" && grep -Eq "tess +surprise +12" "$tmp/l.err"' \
  "dropped counts per corpus and label: $(cat "$tmp/l.err")"
# old order --corpus K --data DIR still pairs (one --data)
"$SER" scan --corpus tess --data "$tmp/parent/tess" >/dev/null 2>"$tmp/o.err"
rc=$?
check '[ $rc -eq 0 ] && grep -q "(tess): 84 clips" "$tmp/o.err"' "--corpus before the only --data: $(cat "$tmp/o.err")"

# 3. Errors: each names the word or the option.
"$SER" scan --data "$tmp/parent" --labels angry,grumpy >/dev/null 2>"$tmp/e1"; rc=$?
check '[ $rc -eq 2 ] && grep -q "grumpy" "$tmp/e1"' "bad --labels word (rc $rc): $(cat "$tmp/e1")"
"$SER" scan --data "$tmp/parent" --label-map calm >/dev/null 2>"$tmp/e2"; rc=$?
check '[ $rc -eq 2 ] && grep -q "FROM=TO" "$tmp/e2"' "--label-map without = (rc $rc): $(cat "$tmp/e2")"
"$SER" scan --data "$tmp/parent" --label-map calm=serene >/dev/null 2>"$tmp/e3"; rc=$?
check '[ $rc -eq 2 ] && grep -q "serene" "$tmp/e3"' "bad --label-map word (rc $rc): $(cat "$tmp/e3")"
"$SER" scan --corpus tess --data "$tmp/parent/tess" --data "$tmp/parent/ravdess" >/dev/null 2>"$tmp/e4"; rc=$?
check '[ $rc -eq 2 ] && grep -q "ambiguous" "$tmp/e4"' "leading --corpus with two --data (rc $rc): $(cat "$tmp/e4")"
"$SER" scan --data "$tmp/parent/tess" --corpus tess --corpus ravdess >/dev/null 2>"$tmp/e5"; rc=$?
check '[ $rc -eq 2 ] && grep -q "already has a --corpus" "$tmp/e5"' "two --corpus for one --data (rc $rc): $(cat "$tmp/e5")"

# 4. Two corpora of one kind: names qualified by folder, speaker ids collide.
"$SER" synth --out "$tmp/synC" --per-class 3 --seed 6 >/dev/null || bad "synth C failed"
"$SER" split --data "$tmp/parent/tess" --data "$tmp/synC" --test-speakers SPA --out "$tmp/s1" >/dev/null 2>"$tmp/s1.err"; rc=$?
check '[ $rc -ne 0 ] && grep -q "SPA.* is in two corpora" "$tmp/s1.err"' "a speaker id in two corpora (rc $rc): $(tail -1 "$tmp/s1.err")"
"$SER" split --data "$tmp/parent/tess" --data "$tmp/synC" --test-speakers tess-synC:SPA --out "$tmp/s2" >/dev/null 2>"$tmp/s2.err"; rc=$?
check '[ $rc -eq 0 ]' "split --test-speakers tess-synC:SPA: $(cat "$tmp/s2.err")"
check '[ "$(grep -v "^#" "$tmp/s2/test.tsv" | cut -f3,5 | sort -u)" = "SPA	tess-synC" ]' "test.tsv: $(cut -f3,5 "$tmp/s2/test.tsv" | sort -u)"
check 'grep -q "	SPA	tess-tess/SPA_angry	tess-tess$" "$tmp/s2/train.tsv"' "the other corpus's SPA trains"
# an old 4-column manifest (no corpus column) is still read
grep -v "^#" "$tmp/s2/test.tsv" | cut -f1-4 >"$tmp/old4.tsv"

# 5. A multi-corpus train run with --label-map and --labels; by-corpus reports.
sets=(--set model.filters=8 --set model.lstm_units=8 --set model.bn_momentum=0.9 --set features.frames=64
      --set train.batch_size=16 --set train.epochs=3 --set train.validation_split=0.25)
"$SER" train --data "$tmp/parent/tess" --data "$tmp/parent/ravdess" --corpus ravdess --label-map calm=neutral \
  --labels angry,disgust,fear,happy,neutral,sad --out "$tmp/run" "${sets[@]}" --quiet >/dev/null 2>"$tmp/t.err"; rc=$?
check '[ $rc -eq 0 ]' "multi-corpus train failed: $(tail -3 "$tmp/t.err")"
check 'grep -Eq "ravdess +surprise +12" "$tmp/t.err"' "train does not report the dropped clips: $(cat "$tmp/t.err")"
check '[ "$(grep -v "^#" "$tmp/run/train.tsv" "$tmp/run/val.tsv" | cut -f2 | sort -u | tr "\n" " ")" = "angry disgust fear happy neutral sad " ]' \
  "the run's labels: $(cut -f2 "$tmp/run/train.tsv" | sort -u | tr "\n" " ")"
# report.json: validation.by_corpus = {ravdess, tess}, clips adding up to the validation clips (36 = 0.25 x 144)
read -r ok_by n_val <<<"$(python3 - "$tmp/run/report.json" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))["validation"]
b = v.get("by_corpus", {})
ok = sorted(b) == ["ravdess", "tess"] and sum(x["clips"] for x in b.values()) == v["clips"]
ok = ok and all(0 <= x["accuracy"] <= 1 and 0 <= x["uar"] <= 1 for x in b.values())
# WA of the whole is the clip-weighted mean of the corpora's WA
ok = ok and abs(sum(x["accuracy"] * x["clips"] for x in b.values()) / v["clips"] - v["accuracy"]) < 1e-9
print(int(ok), v["clips"])
EOF
)"
check '[ "$ok_by" = 1 ] && [ "$n_val" = 36 ]' "report.json validation.by_corpus wrong ($ok_by, $n_val clips): $(cat "$tmp/run/report.json")"
check '[ "$(grep -c "^corpus \(ravdess\|tess\): [0-9]* clips, WA 0\.[0-9]*, UA [01]\.[0-9]*$" "$tmp/run/report.txt")" -eq 2 ]' \
  "report.txt lacks the per-corpus lines: $(grep ^corpus "$tmp/run/report.txt")"

# 6. ser eval --json by_corpus against a hand computation from --probs.
"$SER" eval --model "$tmp/run/model.safetensors" --data "$tmp/parent" --label-map calm=neutral \
  --labels angry,disgust,fear,happy,neutral,sad --json --probs "$tmp/probs.tsv" --png "$tmp/e.png" >"$tmp/e.json" 2>"$tmp/e.err"
rc=$?
check '[ $rc -eq 0 ]' "eval failed: $(tail -3 "$tmp/e.err")"
hand=$(python3 - "$tmp/e.json" "$tmp/probs.tsv" <<'EOF'
import json, sys
rep = json.load(open(sys.argv[1]))
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
head, rows = rows[0], rows[1:]
classes = head[2:]
per = {}
for r in rows:
    corpus = "ravdess" if "/parent/ravdess/" in r[0] else "tess"
    p = [float(x) for x in r[2:]]
    pred = classes[max(range(len(p)), key=lambda i: (p[i], -i))]
    per.setdefault(corpus, []).append((r[1], pred))
bad = []
for c, pairs in per.items():
    wa = sum(t == p for t, p in pairs) / len(pairs)
    rec = [sum(1 for t, p in pairs if t == k and p == k) / n for k in classes if (n := sum(1 for t, _ in pairs if t == k))]
    ua = sum(rec) / len(rec)
    got = rep["by_corpus"][c]
    if got["clips"] != len(pairs) or abs(got["accuracy"] - wa) > 1e-9 or abs(got["uar"] - ua) > 1e-9:
        bad.append(f"{c}: report {got}, hand wa {wa} ua {ua} clips {len(pairs)}")
if sorted(per) != sorted(rep["by_corpus"]): bad.append(f"corpora {sorted(per)} vs {sorted(rep['by_corpus'])}")
print("ok" if not bad else "; ".join(bad))
EOF
)
check '[ "$hand" = ok ]' "eval by_corpus differs from the hand computation: $hand"
"$SER" eval --model "$tmp/run/model.safetensors" --data "$tmp/parent" --label-map calm=neutral \
  --labels angry,disgust,fear,happy,neutral,sad --png "$tmp/e.png" >"$tmp/e.txt" 2>/dev/null
check '[ "$(grep -c "^corpus \(ravdess\|tess\): 72 clips, WA" "$tmp/e.txt")" -eq 2 ]' "eval text lacks the per-corpus lines: $(cat "$tmp/e.txt")"
# the old 4-column manifest: evaluated, no by_corpus (its clips name no corpus)
"$SER" eval --model "$tmp/run/model.safetensors" --list "$tmp/old4.tsv" --json --png "$tmp/e.png" >"$tmp/o.json" 2>"$tmp/o.err"
rc=$?
check '[ $rc -eq 0 ] && ! grep -q by_corpus "$tmp/o.json"' "eval of an old manifest: $(cat "$tmp/o.err") $(cat "$tmp/o.json")"
"$SER" eval --model "$tmp/run/model.safetensors" --list "$tmp/old4.tsv" --labels angry >/dev/null 2>"$tmp/o2.err"
rc=$?
check '[ $rc -eq 2 ] && grep -q "need --data" "$tmp/o2.err"' "--labels with --list: $(cat "$tmp/o2.err")"

echo "cli_multi_corpus: $pass passed, $fail failed"
exit $fail
