#!/usr/bin/env bash
# The pipeline's stages include one way only (docs/architecture.md):
#   common < io < corpus < features < model < train < export < kernels (the CUDA backend) < cli
# A file of host/STAGE/ or kernels/ may include the public header ser/X.h only when X belongs to
# its own stage or an earlier one, and a public header only headers of its stage or earlier.
# The stage of ser/X.h is the folder of host/*/X.c, or the table below for headers with no .c
# of that name. A header that belongs to no stage fails the test: give it one. Inside a stage the
# modules (X.c, X.h, ser/X.h together) must not include each other in a cycle.
set -euo pipefail
# usage: tests/layering.sh [ROOT]   (default: this checkout; tests/layering_selftest.sh passes a copy)
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$root"

order=(common io corpus features model train export kernels cli)
rank_of() { local i; for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo -1; }

declare -A header_stage=(
  [hd]=common [rng]=common          # host/device qualifiers; the splitmix64 generator
  [mfcc]=features                   # host/features/mfcc_cpu.c, mel_filters.c
  [backend]=model                   # the backend vtable
  [cuda]=kernels                    # the CUDA backend: kernels/, or kernels/cuda_absent.c's stubs
)
for c in host/*/*.c; do
  stage=${c#host/}; stage=${stage%%/*}
  [ "$stage" = cli ] && continue
  header_stage[$(basename "$c" .c)]=$stage
done

failures=0
fail() { echo "layering: $*"; failures=$((failures + 1)); }

# Inside a stage, includes must not go round in a circle either. A module is X.c, X.h, ser/X.h
# (and X.cu) together; "a b" in $edges/STAGE: module a includes a header of module b.
edges=$(mktemp -d)
trap 'rm -rf "$edges"' EXIT

# check FILE STAGE: every "ser/X.h" and "layers/X.h" FILE includes is of STAGE or earlier
check() {
  local file=$1 stage=$2 rank inc name owner module
  rank=$(rank_of "$stage")
  module=$(basename "$file"); module=${module%.*}
  while IFS= read -r inc; do
    name=$(basename "$inc" .h)
    case $inc in
      ser/*.h)
        owner=${header_stage[$name]:-}
        [ -n "$owner" ] || { fail "$file includes $inc, which belongs to no stage (add it to tests/layering.sh)"; continue; } ;;
      layers/*.h) owner=model ;;
      */*) continue ;;
      *.h) owner=$stage ;;       # a header beside the file: its own stage
      *) continue ;;
    esac
    if [ "$(rank_of "$owner")" -gt "$rank" ]; then
      fail "$file ($stage) includes $inc ($owner, a later stage)"
    elif [ "$owner" = "$stage" ] && [ "$name" != "$module" ]; then
      echo "$module $name" >>"$edges/$stage"
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
}

n=0
while IFS= read -r f; do
  stage=${f#host/}; stage=${stage%%/*}
  [ "$(rank_of "$stage")" -ge 0 ] || { fail "$f: host/$stage is not a stage"; continue; }
  check "$f" "$stage"; n=$((n + 1))
done < <(find host -name '*.[ch]' | sort)
while IFS= read -r f; do check "$f" kernels; n=$((n + 1)); done < <(find kernels -name '*.[ch]' -o -name '*.cu' -o -name '*.cuh' | sort)
while IFS= read -r f; do
  name=$(basename "$f" .h)
  owner=${header_stage[$name]:-}
  [ -n "$owner" ] || { fail "include/ser/$name.h belongs to no stage (add it to tests/layering.sh)"; continue; }
  check "$f" "$owner"; n=$((n + 1))
done < <(find include/ser -name '*.h' | sort)

# tsort names the modules of each loop it finds ("tsort: -: input contains a loop:", then one
# module a line)
for stage in "${order[@]}"; do
  [ -s "$edges/$stage" ] || continue
  loops=()
  while IFS= read -r line; do
    case $line in
      *"input contains a loop"*) loops+=("") ;;
      "tsort: "*) loops[-1]="${loops[-1]:+${loops[-1]}, }${line#tsort: }" ;;
    esac
  done < <(sort -u "$edges/$stage" | tsort 2>&1 >/dev/null)
  for loop in "${loops[@]}"; do
    fail "include cycle inside $stage among the modules $loop (a module: X.c, X.h and ser/X.h together)"
  done
done

if [ "$failures" -gt 0 ]; then
  echo "layering: $failures include(s) against the stage order ${order[*]} or in a cycle inside a stage"
  exit 1
fi
echo "layering: $n files include only their own or earlier stages (${order[*]}), no cycle inside a stage"
