#!/usr/bin/env bash
# The CPU matrix (issue 17, docs/portability.md): the suites whose results go through OpenBLAS,
# oneDNN or OpenMP threads, run again under the kernel sets and thread counts of other CPUs, so
# that a change which breaks another CPU fails here too. OpenBLAS and oneDNN pick their kernels at
# run time from these variables, so one machine can check what a Haswell/Zen or an AVX2-only CPU
# would compute (only kernel sets this CPU can execute; an AVX-512 machine runs every one below).
#
# usage: scripts/cpu-matrix.sh [BUILD_DIR]   (default build/, already built; `make test` first)
#        CPU_MATRIX_FULL=1: every ctest suite in every cell (the issue's "done when"; ~15 min),
#        not only the subset
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)

# The ctest suites that reach BLAS, oneDNN or OpenMP: the layers, the model (Keras parity, the
# CPU-vs-CPU backend check), training, and the features (librosa parity, the extractor's
# threads, VTLN / VTLP). The CLI suites train through the same code and take minutes each: they
# run in the full matrix (CPU_MATRIX_FULL=1) and once in `make test`.
suites='^(test_layers_cnn|test_layers_first_block|test_layers_fused|test_layers_rnn|test_permute|test_model|test_model_keras|test_bn_adapt|test_backend_check|test_train|test_mfcc|test_pitch|test_speaker_warp|test_vtlp|test_augment|cli_check)$'
[ "${CPU_MATRIX_FULL:-0}" = 1 ] && suites='.'

# One cell = one environment. OpenBLAS kernel sets: Haswell is what OpenBLAS picks on most AMD
# (Zen is the same kernels under another name) and on Intel CPUs it has no name for; SkylakeX
# the AVX-512 one; Sandybridge (AVX) and Prescott (SSE3) the older ones. oneDNN: its AVX2 code
# and its AVX-512 code. Thread counts 1 to 4 (the default is 2; 3 splits nothing evenly).
cells=(
    "OPENBLAS_CORETYPE=Haswell"
    "OPENBLAS_CORETYPE=Zen"
    "OPENBLAS_CORETYPE=SkylakeX"
    "OPENBLAS_CORETYPE=Sandybridge"
    "OPENBLAS_CORETYPE=Prescott"
    "ONEDNN_MAX_CPU_ISA=AVX2"
    "ONEDNN_MAX_CPU_ISA=AVX512_CORE"
    "OMP_NUM_THREADS=1"
    "OMP_NUM_THREADS=3"
    "OMP_NUM_THREADS=4"
    "OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=3"
)
[ -n "${CPU_MATRIX_CELLS:-}" ] && mapfile -t cells <<<"$CPU_MATRIX_CELLS"

failed=()
for cell in "${cells[@]}"; do
    t0=$SECONDS
    rm -f "$build/Testing/Temporary/LastTest.log" # read below: never the previous cell's
    # `env -u`: a variable the workplace sets (OPENBLAS_CORETYPE on CPUs OpenBLAS does not know)
    # must not leak into the cells that do not name it
    if (cd "$build" && env -u OPENBLAS_CORETYPE -u ONEDNN_MAX_CPU_ISA -u OMP_NUM_THREADS $cell \
            ctest -j2 -R "$suites" --output-on-failure >"$build/cpu-matrix.log" 2>&1); then
        verdict=ok
    else
        verdict=FAILED
        failed+=("$cell")
        tail -n 60 "$build/cpu-matrix.log"
    fi
    # the cell's settings must have reached the suites: test_layers_cnn prints the thread count,
    # OpenBLAS's core and oneDNN's implementations it saw
    log=$build/Testing/Temporary/LastTest.log
    saw=$(grep -h -m1 '^OpenMP threads' "$log" 2>/dev/null || true)
    isa=$(grep -h -m1 '^conv2d through oneDNN:' "$log" 2>/dev/null | sed 's/.*fwd \([^,]*\),.*/\1/' || true)
    want() { local v=; case "$cell" in *"$1="*) v=${cell##*"$1"=}; v=${v%% *} ;; esac; echo "${v,,}"; }
    want_threads=$(want OMP_NUM_THREADS) want_core=$(want OPENBLAS_CORETYPE) want_isa=$(want ONEDNN_MAX_CPU_ISA)
    if [[ -n "$saw" ]] && { [[ "$saw" != "OpenMP threads ${want_threads:-2},"* ]] ||
                            [[ -n "$want_core" && "${saw,,}" != *"openblas $want_core" ]] ||
                            [[ -n "$want_isa" && -n "$isa" && "$isa" != *"$want_isa" ]]; }; then
        verdict="FAILED (ctest: ${verdict,,}; the cell's settings did not reach the suites)"
        [ "${failed[-1]:-}" = "$cell" ] || failed+=("$cell")
    fi
    printf '== cpu-matrix %-62s %s, %d s  [%s; oneDNN fwd %s]\n' "$cell" "$verdict" $((SECONDS - t0)) \
        "${saw:-test_layers_cnn not in this run}" "${isa:-none}"
done
if [ ${#failed[@]} -gt 0 ]; then
    printf 'cpu-matrix: failed under: %s\n' "${failed[@]}"
    exit 1
fi
echo "cpu-matrix: all ${#cells[@]} cells passed"
