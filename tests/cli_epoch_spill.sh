#!/usr/bin/env bash
# The per-epoch features of waveform augmentation and VTLP spilled to disk (ser/epoch_spill.h):
# with the feature cache on, each epoch's augmented features go to an unlinked temporary file in
# the cache's folder (two with train.aug_prefetch) and are read back by batch, so memory does not
# grow with the number of training clips. Checks:
#  1. the spilled run trains the model byte for byte as the in-memory path (--feature-cache off),
#     per-speaker normalisation with speed + noise, per-clip normalisation with VTLP and virtual
#     speakers;
#  2. while the run trains, it holds two spill files in the cache's folder, already unlinked; no
#     spill file is left after a run that ends well, one stopped by a backend fault
#     (SER_FAULT_INJECT) or one killed (kill -9);
#  3. a spill write that fails (a file-size limit: EFBIG) stops the run with one line naming the
#     spill file and the reason;
#  4. peak RSS at 4N training clips within a few MB of that at N (the in-memory path grows by
#     2 x 40 KB a clip here).
set -u
. "$(dirname "$0")/lib_cli.sh" cli_epoch_spill

"$SER_BIN" synth --out "$tmp/syn" --per-class 4 --seed 3 >/dev/null || { echo "FAIL: synth"; exit 1; }
"$SER_BIN" split --data "$tmp/syn" --per-folder 0 --val 0.25 --seed 1 --out "$tmp/si" >/dev/null 2>"$tmp/split.err" ||
  { echo "FAIL: split: $(cat "$tmp/split.err")"; exit 1; }
lists=(--train-list "$tmp/si/train.tsv" --val-list "$tmp/si/val.tsv")
sets=(--set model.filters=8 --set model.lstm_units=8 --set features.frames=64 --set train.batch_size=16
      --set train.early_stopping_patience=0 --set train.epochs=3 --set train.precise_bn=off)
wave=(--set features.normalize=2 --set train.aug_speed=0.1 --set train.aug_noise_kind=white
      --set train.aug_noise_prob=0.7 --set train.aug_wave_gain=6)
vtlp=(--set features.normalize=1 --set train.aug_vtlp=0.1 --set train.aug_vtlp_speakers=2)
cache=$SER_FEATURE_CACHE
train() { "$SER_BIN" train "${lists[@]}" "${sets[@]}" --quiet "$@"; }
# spill files anywhere under the cache or the test folder (none may outlive a run)
left() { find "$cache" "$tmp" -name 'spill-*' 2>/dev/null | head -3; }

# 1. spilled == in memory, byte for byte
for kind in wave vtlp; do
  eval "args=(\"\${$kind[@]}\")"
  train --out "$tmp/disk_$kind" "${args[@]}" >/dev/null 2>"$tmp/disk.err" || bad "$kind, spilled: $(tail -2 "$tmp/disk.err")"
  SER_FEATURE_CACHE=off train --out "$tmp/mem_$kind" "${args[@]}" >/dev/null 2>"$tmp/mem.err" ||
    bad "$kind, in memory: $(tail -2 "$tmp/mem.err")"
  check 'cmp -s "$tmp/disk_$kind/model.safetensors" "$tmp/mem_$kind/model.safetensors"' \
    "$kind: the spilled run's model differs from the in-memory run's"
done
l=$(left)
check '[ -z "$l" ]' "spill files left after runs that ended well: $l"

# 2. the running process holds its spill files in the cache's folder, unlinked (polled through
#    /proc while it trains: 2 files with prefetch, for most of the run)
# (ser itself in the background, not a subshell, so that $! is its pid)
"$SER_BIN" train "${lists[@]}" "${sets[@]}" --quiet --out "$tmp/watch" "${wave[@]}" --set train.epochs=12 \
  >/dev/null 2>"$tmp/watch.err" &
pid=$!
seen=0
while kill -0 "$pid" 2>/dev/null; do
  n=$(ls -l "/proc/$pid/fd" 2>/dev/null | grep -c "$cache/.*/spill-.* (deleted)")
  [ "$n" -gt "$seen" ] && seen=$n
  sleep 0.05
done
wait "$pid" || bad "watched run: $(tail -2 "$tmp/watch.err")"
check '[ "$seen" = 2 ]' "the run held $seen unlinked spill files in $cache (expected 2: this epoch's and the prefetched one)"
# stopped by a backend fault at the 5th step (epoch 1)
SER_FAULT_INJECT=step:5 train --out "$tmp/fault" "${wave[@]}" >/dev/null 2>"$tmp/fault.err"
rc=$?
check '[ $rc -ne 0 ] && grep -q "injected fault" "$tmp/fault.err"' "fault injection did not stop the run: $(cat "$tmp/fault.err")"
l=$(left)
check '[ -z "$l" ]' "spill files left after a failed run: $l"
# killed while it trains
"$SER_BIN" train "${lists[@]}" "${sets[@]}" --quiet --out "$tmp/killed" "${wave[@]}" --set train.epochs=50 \
  >/dev/null 2>&1 &
pid=$!
held=0
for _ in $(seq 400); do
  ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "spill-" && { held=1; break; }
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check '[ $held = 1 ]' "the run to kill never held a spill file"
l=$(left)
check '[ -z "$l" ]' "spill files left after kill -9: $l"

# 3. a write to the spill that fails: files limited to 64 KiB (the cache already holds every
#    clip, so the spill, 10 KB a clip, is the first file to pass the limit); SIGXFSZ ignored, so
#    the write fails with EFBIG
(trap '' XFSZ; ulimit -f 64; exec "$SER_BIN" train "${lists[@]}" "${sets[@]}" "${wave[@]}" --out "$tmp/fsize" --quiet) \
  >/dev/null 2>"$tmp/fsize.err"
rc=$?
echo "spill write past a file-size limit: rc $rc: $(cat "$tmp/fsize.err")"
check '[ $rc -ne 0 ]' "file-size limit: exit 0"
check 'grep -q "$cache/.*/spill-" "$tmp/fsize.err" && grep -q "File too large" "$tmp/fsize.err"' \
  "file-size limit: the error names neither the spill file nor the reason: $(cat "$tmp/fsize.err")"
check '[ "$(wc -l <"$tmp/fsize.err")" -eq 1 ]' "file-size limit: more than one error line"
l=$(left)
check '[ -z "$l" ]' "spill files left after a failed write: $l"

# 4. peak RSS against the number of training clips: the training list repeated to N and 4N
#    lines (each line is augmented every epoch), 256 frames (40 KB of features a clip, held
#    twice by the in-memory path with prefetch), decoded-audio cache 0
if [ -n "${SER_TEST_SANITIZED:-}" ] || [ ! -x /usr/bin/time ]; then
  echo "NOTE: peak-RSS check not run (sanitizer build or no GNU time)"
else
  rows() { awk -v n="$1" 'NR == 1 { print; next } { l[m++] = $0 } END { for (i = 0; i < n; i++) print l[i % m] }' \
    "$tmp/si/train.tsv" >"$tmp/train_$1.tsv"; }
  peak() {
    /usr/bin/time -f '%M' -o "$tmp/rss" "$SER_BIN" train --train-list "$tmp/train_$1.tsv" --val-list "$tmp/si/val.tsv" \
      "${sets[@]}" "${wave[@]}" --set train.epochs=2 --set features.frames=256 --set train.audio_cache_mb=0 \
      --out "$tmp/rss_$1" --quiet >/dev/null 2>"$tmp/rss.err" || bad "RSS run at $1 clips: $(tail -2 "$tmp/rss.err")"
    tail -1 "$tmp/rss"
  }
  rows 150 && rows 600
  r1=$(peak 150) r4=$(peak 600)
  echo "peak RSS: $((r1 / 1024)) MiB at 150 training clips, $((r4 / 1024)) MiB at 600 (in memory: +$((450 * 80 / 1024)) MiB)"
  check '[ "$r4" -lt $((r1 + 12 * 1024)) ]' "peak RSS grows with the clips: $r1 KiB at 150, $r4 KiB at 600"
fi

[ "$fail" = 0 ] && echo "cli_epoch_spill: $pass checks passed"
exit "$fail"
