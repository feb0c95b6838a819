#!/usr/bin/env python3
"""Long recordings from labelled clips, and the utterance-level score of a timeline on them
(bench/timeline_accuracy.sh; docs/predict-window.md). Standard library only.

  build CLIPS.tsv OUTDIR PER_FILE   CLIPS.tsv: path<TAB>label<TAB>group per line (16-bit PCM WAV,
      one rate). Writes OUTDIR/long_NNN.wav: 1 s of silence, then up to PER_FILE clips of one
      group (a speaker) in the list's order, each followed by 2.5 s of silence (digital zeros),
      and OUTDIR/truth.tsv (files that are not RIFF WAV are left out, named on stderr):
      file<TAB>start<TAB>end<TAB>label<TAB>path (seconds; an utterance = one whole clip).
  clips PREDICT.jsonl               UA and accuracy of `ser predict --json` on the clips
      (truth = the label column of CLIPS.tsv, matched by path), from stdin CLIPS.tsv.
  timeline TRUTH.tsv DIR            UA of the timelines DIR/long_NNN.jsonl (`ser predict
      --segments --json` or `--window/--hop --json`): an utterance's label is the argmax of the
      probabilities of the non-silent records that overlap it, weighted by the overlap. Also
      counts the silences: a record wholly outside every utterance must be silent, and the
      seconds of silence (outside every utterance) reported as silent.
"""
import json
import os
import sys
import wave

LEAD_S, GAP_S = 1.0, 2.5


def ua(pairs):
    classes = sorted({t for t, _ in pairs})
    recalls = []
    for c in classes:
        n = sum(1 for t, _ in pairs if t == c)
        recalls.append(sum(1 for t, p in pairs if t == c and p == c) / n)
    acc = sum(1 for t, p in pairs if t == p) / len(pairs)
    return sum(recalls) / len(recalls), acc, len(pairs)


def build(clips_tsv, outdir, per_file):
    rows = [l.rstrip("\n").split("\t") for l in open(clips_tsv) if l.strip()]
    # the wave module reads RIFF WAV only (TESS has two AIFF files named .wav): those are left out
    def riff(path):
        with open(path, "rb") as f:
            return f.read(4) == b"RIFF"
    skipped = [r[0] for r in rows if not riff(r[0])]
    rows = [r for r in rows if riff(r[0])]
    for path in skipped:
        print("left out (not a RIFF WAV file): %s" % path, file=sys.stderr)
    os.makedirs(outdir, exist_ok=True)
    truth = open(os.path.join(outdir, "truth.tsv"), "w")
    chunks, cur = [], []
    for r in rows:
        if cur and (len(cur) == per_file or r[2] != cur[-1][2]):
            chunks.append(cur)
            cur = []
        cur.append(r)
    if cur:
        chunks.append(cur)
    for k, chunk in enumerate(chunks):
        name = "long_%03d" % k
        out, rate, at = None, None, 0
        for path, label, _ in chunk:
            w = wave.open(path)
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                sys.exit("%s: not 16-bit mono PCM" % path)
            if out is None:
                rate = w.getframerate()
                out = wave.open(os.path.join(outdir, name + ".wav"), "wb")
                out.setnchannels(1), out.setsampwidth(2), out.setframerate(rate)
                lead = int(round(LEAD_S * rate))
                out.writeframes(b"\0\0" * lead)
                at = lead
            if w.getframerate() != rate:
                sys.exit("%s: %d Hz, the others %d Hz" % (path, w.getframerate(), rate))
            n = w.getnframes()
            out.writeframes(w.readframes(n))
            truth.write("%s\t%.6f\t%.6f\t%s\t%s\n" % (name, at / rate, (at + n) / rate, label, path))
            gap = int(round(GAP_S * rate))
            out.writeframes(b"\0\0" * gap)
            at += n + gap
        out.close()
    truth.close()


def clips(pred_jsonl):
    truth = dict(l.rstrip("\n").split("\t")[:2] for l in sys.stdin if l.strip())
    pairs = []
    for l in open(pred_jsonl):
        r = json.loads(l)
        pairs.append((truth[r["path"]], r["label"]))
    u, a, n = ua(pairs)
    print("clips %d UA %.4f acc %.4f" % (n, u, a))


def timeline(truth_tsv, d):
    utts = {}
    for l in open(truth_tsv):
        f, s, e, lab = l.rstrip("\n").split("\t")[:4]
        utts.setdefault(f, []).append((float(s), float(e), lab))
    pairs, records, speech_outside, sil_total, sil_silent = [], 0, 0, 0.0, 0.0
    for f, us in sorted(utts.items()):
        recs = [json.loads(l) for l in open(os.path.join(d, f + ".jsonl"))]
        records += len(recs)
        for s, e, lab in us:
            acc = {}
            for r in recs:
                o = min(e, r["end"]) - max(s, r["start"])
                if o > 0 and not r.get("silent"):
                    for c, p in r["probs"].items():
                        acc[c] = acc.get(c, 0.0) + o * p
            pairs.append((lab, max(acc, key=acc.get) if acc else "silent"))
        for r in recs:
            inside = [max(0.0, min(e, r["end"]) - max(s, r["start"])) for s, e, _ in us]
            outside = (r["end"] - r["start"]) - sum(inside)
            sil_total += outside
            if r.get("silent"):
                sil_silent += outside
            elif sum(inside) == 0:
                speech_outside += 1
    u, a, n = ua(pairs)
    print("utterances %d UA %.4f acc %.4f records %d non-silent-records-outside-utterances %d "
          "silence-seconds %.1f reported-silent %.4f" % (n, u, a, records, speech_outside, sil_total,
                                                          sil_silent / sil_total if sil_total else 1.0))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "build" and len(sys.argv) == 5:
        build(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "clips" and len(sys.argv) == 3:
        clips(sys.argv[2])
    elif cmd == "timeline" and len(sys.argv) == 4:
        timeline(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
