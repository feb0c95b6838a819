#!/usr/bin/env bash
# tests/layering.sh can fail: on copies of host/, include/ and kernels/ with one bad include
# injected at a time, it must exit non-zero and name that include (or cycle) - whatever it
# says about the tree as it is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
bad() { echo "layering_selftest: $*"; failures=$((failures + 1)); }

# expect NAME EXPECTED-LINE FILE:INCLUDE...: the copy with each FILE given #include "INCLUDE"
expect() {
  local name=$1 want=$2 pair file inc out rc
  shift 2
  rm -rf "$tmp/tree" && mkdir "$tmp/tree"
  cp -r "$root/host" "$root/include" "$root/kernels" "$tmp/tree/"
  for pair in "$@"; do
    file=${pair%%:*} inc=${pair#*:}
    [ -f "$tmp/tree/$file" ] || { bad "$name: $file is not in the tree"; return; }
    printf '#include "%s"\n' "$inc" >>"$tmp/tree/$file"
  done
  set +e
  out=$(bash "$root/tests/layering.sh" "$tmp/tree" 2>&1)
  rc=$?
  set -e
  if [ "$rc" -eq 0 ] || ! grep -qF -- "$want" <<<"$out"; then
    bad "$name: expected a failure naming '$want', got rc $rc:"$'\n'"$out"
  else
    echo "layering_selftest: $name: caught ($want)"
  fi
}

# a stage including a later one: the model stage, the CUDA backend's header (kernels/)
expect "model includes kernels" "host/model/model.c (model) includes ser/cuda.h (kernels, a later stage)" \
  host/model/model.c:ser/cuda.h
# a public header including a later stage
expect "header includes a later stage" "include/ser/model.h (model) includes ser/train.h (train, a later stage)" \
  include/ser/model.h:ser/train.h
# a header of no stage
expect "header of no stage" "includes ser/nowhere.h, which belongs to no stage" host/io/npy.c:ser/nowhere.h
# a cycle inside one stage: two modules, then three (through a public header)
expect "two-module cycle" "include cycle inside io among the modules" \
  host/io/npy.c:ser/safetensors.h host/io/safetensors.c:ser/npy.h
expect "three-module cycle" "include cycle inside corpus among the modules" \
  host/corpus/folds.c:ser/manifest.h host/corpus/manifest.c:ser/split.h include/ser/split.h:ser/folds.h

if [ "$failures" -gt 0 ]; then
  echo "layering_selftest: $failures injected fault(s) not caught"
  exit 1
fi
echo "layering_selftest: every injected fault caught"
