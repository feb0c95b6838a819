#!/usr/bin/env bash
# `ser train` when its output cannot be written: a file-size limit (EFBIG, as a quota or a
# full disk would stop a write part way), a full file system (ENOSPC, a tiny tmpfs) and a
# read-only folder (EROFS). Each time: a non-zero exit with one error line naming the file and
# the reason, the last good checkpoint byte-identical to what it was, no temporary file left,
# the model still loads (ser eval), and a later --resume with room to write ends with the same
# model as an uninterrupted run.
# We run as root in CI, so chmod cannot make a folder read-only; the tmpfs cases use a private
# mount namespace (unshare -rm) and are reported as not run where that is not permitted.
set -u
. "$(dirname "$0")/lib_cli.sh" cli_full

"$SER_BIN" synth --out "$tmp/syn" --per-class 4 --seed 5 >/dev/null || { echo "FAIL: synth"; exit 1; }
sets=(--set train.batch_size=16 --set model.filters=16 --set model.lstm_units=16 --set features.frames=64
      --set train.early_stopping_patience=0)
train() { "$SER_BIN" train --data "$tmp/syn" "${sets[@]}" --quiet "$@" >/dev/null; }
train --out "$tmp/ref" --set train.epochs=8 2>"$tmp/ref.err" || { echo "FAIL: reference run: $(cat "$tmp/ref.err")"; exit 1; }
# A run stopped after 4 of 8 epochs: the state every case below starts from.
train --out "$tmp/half" --set train.epochs=4 2>"$tmp/half.err" || { echo "FAIL: 4-epoch run: $(cat "$tmp/half.err")"; exit 1; }
sed -i 's/^epochs = .*/epochs = 8/' "$tmp/half/config.ini"
ckpt_bytes=$(stat -c %s "$tmp/half/checkpoint.safetensors")

# After a failed resume in $1: the checkpoint as it was, no temp file, the model loads.
intact() {
  local run=$1 what=$2
  check 'cmp -s "$tmp/half/checkpoint.safetensors" "$run/checkpoint.safetensors"' "$what: checkpoint changed"
  local left
  left=$(find "$run" -name '*.tmp*' | head -3)
  check '[ -z "$left" ]' "$what: temporary files left: $left"
  "$SER_BIN" eval --model "$run/model.safetensors" --data "$tmp/syn" >/dev/null 2>"$tmp/eval.err"
  check '[ $? -eq 0 ]' "$what: ser eval on the run's model failed: $(cat "$tmp/eval.err")"
}
# A later resume with room: same model as the uninterrupted run.
resumes() {
  local run=$1 what=$2
  "$SER_BIN" train --resume "$run" --quiet >/dev/null 2>"$tmp/resume.err"
  check '[ $? -eq 0 ]' "$what: the later resume failed: $(cat "$tmp/resume.err")"
  check 'cmp -s "$tmp/ref/model.safetensors" "$run/model.safetensors"' "$what: resumed model differs from the uninterrupted run's"
}

# 1. EFBIG: files limited to 100 KiB; the checkpoint (~$ckpt_bytes bytes) cannot be written.
#    SIGXFSZ ignored, so the write fails with EFBIG instead of killing the process (an ignored
#    signal stays ignored across exec).
cp -a "$tmp/half" "$tmp/fsize"
(trap '' XFSZ; ulimit -f 100; exec "$SER_BIN" train --resume "$tmp/fsize" --quiet) >/dev/null 2>"$tmp/fsize.err"
rc=$?
echo "file-size limit: rc $rc: $(cat "$tmp/fsize.err")"
check '[ $rc -ne 0 ]' "file-size limit: exit 0"
check 'grep -q "checkpoint.safetensors" "$tmp/fsize.err" && grep -q "File too large" "$tmp/fsize.err"' \
  "file-size limit: the error names neither the file nor the reason: $(cat "$tmp/fsize.err")"
check '[ "$(wc -l < "$tmp/fsize.err")" -eq 1 ]' "file-size limit: more than one error line"
intact "$tmp/fsize" "file-size limit"
resumes "$tmp/fsize" "file-size limit"

# 2. and 3. need a tmpfs in a private mount namespace.
if ! unshare -rm sh -c 'mount -t tmpfs -o size=64k tmpfs "$1"' sh "$tmp/syn" 2>/dev/null; then
  echo "NOTE: unshare -rm + tmpfs not permitted here: the full-disk (ENOSPC) and read-only (EROFS) cases were not run"
else
  # ENOSPC: a tmpfs holding the run with less free space than one checkpoint.
  used_k=$(du -sk "$tmp/half" | cut -f1)
  size_k=$((used_k + ckpt_bytes / 1024 / 2))
  mkdir -p "$tmp/mnt"
  SER_BIN=$SER_BIN T=$tmp SIZE=$size_k unshare -rm bash -c '
    mount -t tmpfs -o size=${SIZE}k tmpfs "$T/mnt" || exit 90
    cp -a "$T/half" "$T/mnt/run" || exit 91
    "$SER_BIN" train --resume "$T/mnt/run" --quiet >/dev/null 2>"$T/nospc.err"; echo $? >"$T/nospc.rc"
    # keep what the failed run left for the checks outside the namespace
    cp -a "$T/mnt/run" "$T/nospc" || exit 92
    # EROFS: the same run on a read-only mount, resumed; and a fresh run into it
    umount "$T/mnt" && mount -t tmpfs -o size=4m tmpfs "$T/mnt" && cp -a "$T/half" "$T/mnt/run" &&
      mount -o remount,ro "$T/mnt" || exit 93
    "$SER_BIN" train --resume "$T/mnt/run" --quiet >/dev/null 2>"$T/rofs.err"; echo $? >"$T/rofs.rc"
    "$SER_BIN" train --data "$T/syn" --out "$T/mnt/fresh" --quiet >/dev/null 2>"$T/rofs2.err"; echo $? >"$T/rofs2.rc"
    cp -a "$T/mnt/run" "$T/rofs" || exit 94
  '
  ns=$?
  check '[ $ns -eq 0 ]' "namespace setup failed ($ns)"
  echo "full disk: rc $(cat "$tmp/nospc.rc" 2>/dev/null): $(cat "$tmp/nospc.err" 2>/dev/null)"
  check '[ "$(cat "$tmp/nospc.rc")" != 0 ]' "full disk: exit 0"
  check 'grep -q "checkpoint.safetensors" "$tmp/nospc.err" && grep -q "No space left on device" "$tmp/nospc.err"' \
    "full disk: the error names neither the file nor the reason: $(cat "$tmp/nospc.err")"
  intact "$tmp/nospc" "full disk"
  resumes "$tmp/nospc" "full disk"
  echo "read-only folder: rc $(cat "$tmp/rofs.rc" 2>/dev/null): $(cat "$tmp/rofs.err" 2>/dev/null)"
  echo "read-only folder, fresh run: rc $(cat "$tmp/rofs2.rc" 2>/dev/null): $(cat "$tmp/rofs2.err" 2>/dev/null)"
  check '[ "$(cat "$tmp/rofs.rc")" != 0 ] && grep -q "Read-only file system" "$tmp/rofs.err" && grep -q "mnt/run" "$tmp/rofs.err"' \
    "read-only folder: $(cat "$tmp/rofs.err")"
  check '[ "$(cat "$tmp/rofs2.rc")" != 0 ] && grep -q "Read-only file system" "$tmp/rofs2.err" && grep -q "mnt/fresh" "$tmp/rofs2.err"' \
    "read-only folder, fresh run: $(cat "$tmp/rofs2.err")"
  intact "$tmp/rofs" "read-only folder"
  resumes "$tmp/rofs" "read-only folder"
fi

echo "cli_disk_full: $pass passed, $fail failed"
[ $fail -eq 0 ]
