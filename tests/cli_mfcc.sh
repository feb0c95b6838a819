#!/usr/bin/env bash
# `ser mfcc` end to end on real files: the .npy header and size, the .txt lines, folder
# scanning (recursive, sorted, extensions in any case, hidden entries skipped, links to folders
# followed, a link loop walked once), a bad file skipped (or fatal with
# --strict), --set, --help and usage errors. The values are checked by test_mfcc.
set -u
DATA=${SER_SHARED_DATA:-}
[ -n "$DATA" ] && [ -d "$DATA/tess" ] || { echo "SKIPPED: no shared data"; exit 77; }
: "${SER_BIN:?SER_BIN not set}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
check() { # check "what" command...
    local what=$1; shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
# header_of FILE: the .npy header dict (after the 10-byte preamble).
header_of() { head -c 128 "$1" | tail -c +11 | tr -d '\n'; }

A="$DATA/tess/YAF_angry/YAF_germ_angry.wav"   # AIFF inside
B="$DATA/ravdess/Actor_01/03-01-01-01-01-01-01.wav"

# Two explicit files, order kept.
"$SER_BIN" mfcc --out "$T/two.npy" "$B" "$A" 2>"$T/err"
check "two files: exit 0" [ $? -eq 0 ]
check "two files: npy magic" [ "$(head -c 6 "$T/two.npy" | tail -c 5)" = "NUMPY" ]
check "two files: header" grep -q "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 40, 130), }" <(header_of "$T/two.npy")
check "two files: size" [ "$(stat -c %s "$T/two.npy")" -eq $((128 + 2 * 40 * 130 * 4)) ]
check "two files: txt" [ "$(cat "$T/two.txt")" = "$(printf '%s\n%s' "$B" "$A")" ]
check "two files: summary on stderr" grep -q "2 clips, features in" "$T/err"

# A folder: recursive, sorted by path, audio extensions in any case, other files ignored; a
# file that does not decode is reported by name and skipped.
mkdir -p "$T/in/sub"
ln -s "$A" "$T/in/b.wav"
ln -s "$B" "$T/in/sub/c.WAV"
ln -s "$DATA/tess/OAF_fear/OAF_food_fear.wav" "$T/in/a.Wav"
echo "not audio" >"$T/in/notes.txt"
echo "not audio either" >"$T/in/broken.wav"
"$SER_BIN" mfcc --out "$T/dir.npy" "$T/in" 2>"$T/err"
check "folder: exit 0 with a skipped file" [ $? -eq 0 ]
check "folder: sorted, recursive, broken left out" [ "$(cat "$T/dir.txt")" = "$(printf '%s\n%s\n%s' "$T/in/a.Wav" "$T/in/b.wav" "$T/in/sub/c.WAV")" ]
check "folder: header" grep -q "'shape': (3, 40, 130)" <(header_of "$T/dir.npy")
check "folder: broken file named on stderr" grep -q "broken.wav" "$T/err"
check "folder: skipped count" grep -q "1 files skipped" "$T/err"

# --strict: the same failure is fatal and nothing is written.
"$SER_BIN" mfcc --strict --out "$T/strict.npy" "$T/in" 2>"$T/err"
check "strict: exit non-zero" [ $? -ne 0 ]
check "strict: no .npy written" [ ! -e "$T/strict.npy" ]
check "strict: no .txt written" [ ! -e "$T/strict.txt" ]
check "strict: broken file named" grep -q "broken.wav" "$T/err"

# The walker's rules (ser/dir_walk.h, the same as the corpus scan's): hidden files and folders
# skipped, a link to a folder followed, a link loop walked once.
mkdir -p "$T/rules/sub" "$T/rules/.cache"
ln -s "$A" "$T/rules/a.wav"
ln -s "$B" "$T/rules/sub/b.wav"
ln -s "$A" "$T/rules/.hidden.wav"
ln -s "$B" "$T/rules/.cache/c.wav"
ln -s "$T/rules/sub" "$T/rules/zlink"
ln -s .. "$T/rules/sub/up"
"$SER_BIN" mfcc --out "$T/rules.npy" "$T/rules" 2>"$T/err"
check "rules: exit 0" [ $? -eq 0 ]
check "rules: hidden skipped, link followed, loop once" [ "$(cat "$T/rules.txt")" = "$(printf '%s\n%s\n%s' "$T/rules/a.wav" "$T/rules/sub/b.wav" "$T/rules/zlink/b.wav")" ]

# --set reaches the features.
"$SER_BIN" mfcc --set features.n_mfcc=20 --set features.frames=100 --out "$T/set.npy" "$A" 2>/dev/null
check "--set: shape (1, 20, 100)" grep -q "'shape': (1, 20, 100)" <(header_of "$T/set.npy")
"$SER_BIN" mfcc --set features.n_mfc=20 --out "$T/bad.npy" "$A" 2>"$T/err"
check "--set unknown key: exit non-zero" [ $? -ne 0 ]
check "--set unknown key: named" grep -q "features.n_mfc" "$T/err"

# --device: cpu always works; auto says which backend computes; cuda works with a device and
# is a one-line error (exit 2) without one. Values of the cuda path: test_cuda_features.
"$SER_BIN" mfcc --device cpu --out "$T/cpu.npy" "$B" "$A" 2>"$T/err"
check "--device cpu: exit 0" [ $? -eq 0 ]
check "--device cpu: backend named" grep -q "MFCC on cpu" "$T/err"
"$SER_BIN" mfcc --out "$T/auto.npy" "$A" 2>"$T/err"
check "--device auto: backend named" grep -q "MFCC on c[pu][ud]" "$T/err"
if grep -q "MFCC on cpu" "$T/err"; then
    check "--device cpu: the same bytes as auto on cpu" cmp -s "$T/cpu.npy" "$T/two.npy"
    "$SER_BIN" mfcc --device cuda --out "$T/cuda.npy" "$A" 2>"$T/err"
    check "--device cuda without a device: exit 2" [ $? -eq 2 ]
    check "--device cuda without a device: one line" [ "$(wc -l <"$T/err")" -eq 1 ]
    check "--device cuda without a device: says so" grep -q "^ser mfcc: --device cuda: " "$T/err"
    check "--device cuda without a device: nothing written" [ ! -e "$T/cuda.npy" ]
else
    "$SER_BIN" mfcc --device cuda --out "$T/cuda.npy" "$B" "$A" 2>"$T/err"
    check "--device cuda: exit 0" [ $? -eq 0 ]
    check "--device cuda: backend named" grep -q "MFCC on cuda" "$T/err"
    check "--device cuda: header" grep -q "'shape': (2, 40, 130)" <(header_of "$T/cuda.npy")
    check "--device cuda: txt" cmp -s "$T/cuda.txt" "$T/two.txt"
fi
"$SER_BIN" mfcc --device gpu --out "$T/x.npy" "$A" 2>"$T/err"
check "--device gpu: exit 2" [ $? -eq 2 ]
check "--device gpu: named" grep -q "\-\-device gpu" "$T/err"

# Help and usage errors.
"$SER_BIN" mfcc --help | grep -q "usage: ser mfcc"
check "--help" [ $? -eq 0 ]
"$SER_BIN" mfcc "$A" 2>/dev/null
check "no --out: exit 2" [ $? -eq 2 ]
"$SER_BIN" mfcc --out "$T/x.npy" "$T/nonexistent.wav" 2>"$T/err"
check "missing input: exit non-zero" [ $? -ne 0 ]
check "missing input: named" grep -q "nonexistent.wav" "$T/err"

echo "cli_mfcc: $fails failed"
[ "$fails" -eq 0 ]
