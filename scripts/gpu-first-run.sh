#!/usr/bin/env bash
# The CUDA backend's first run on a real GPU, as one prepared script (issue 14; docs/gpu.md).
#
#   bash scripts/gpu-first-run.sh OUTDIR        (from anywhere; BUILD=build-gpu by default)
#
# Every GPU suite runs with SER_REQUIRE_CUDA=1, so nothing can pass by skipping. Each step writes
# OUTDIR/NN-name.log; OUTDIR/summary.txt gets one line per step (status, seconds); the script
# stops at the first failure and names the step. Also written: OUTDIR/nvidia-smi.txt and
# OUTDIR/versions.txt (driver, toolkit, runtime, cuDNN, cuBLAS, NVRTC). Steps, in order:
#   01 build (if needed: `make build`, deps included, this GPU's architecture only)
#   02 test_cuda_lstm   03 test_cuda_cudnn (SER_CUDNN_VERBOSE=1)   04 test_cuda_kernels
#   05 test_cuda_backend   06 the other CUDA suites (features, versions, LSTM layout)
#   07 ser check (SER_CUDNN_VERBOSE=1: the path each op took)
#   08 ser train --device cuda vs --device cpu, 3 epochs, on ../shared/data/tess when it is
#      there (else a `ser synth` corpus): the epoch losses compared (relative LOSS_RTOL, 2e-3)
#   09 bench/gpu.sh (features, epoch timings, the precise-BN pass alone and its share of an epoch, bias-gradient reduction)
# Without a GPU it prints one line and exits 2. Budget: well under 8 minutes on an H100.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ne 1 ]; then
    echo "usage: scripts/gpu-first-run.sh OUTDIR" >&2
    exit 2
fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1 ||
   [ -z "$(nvidia-smi -L 2>/dev/null | grep -i '^GPU ')" ]; then
    echo "gpu-first-run: no GPU on this machine (nvidia-smi finds none): nothing run" >&2
    exit 2
fi
mkdir -p "$1" || exit 2
out=$(cd "$1" && pwd)
build=${BUILD:-build-gpu}
case $build in /*) ;; *) build=$root/$build ;; esac
jobs=$(nproc 2>/dev/null || echo 4)
rtol=${LOSS_RTOL:-2e-3}
export SER_REQUIRE_CUDA=1
summary=$out/summary.txt
: >"$summary"
start_all=$(date +%s)
cd "$root" || exit 2

note() { echo "$*" | tee -a "$summary"; }

# step NN NAME TIMEOUT_S COMMAND...: runs it with its output in NN-NAME.log; stops the script on
# failure (or timeout), naming the step. COMMAND is a program (timeout runs it): the functions
# below are exported and run through `bash -c`.
step() {
    local nn=$1 name=$2 limit=$3
    shift 3
    local log=$out/$nn-$name.log t0 rc
    t0=$(date +%s)
    echo "== $nn $name (limit ${limit}s): $*" | tee "$log"
    timeout --foreground --kill-after=10 "$limit" "$@" >>"$log" 2>&1
    rc=$?
    local dt=$(($(date +%s) - t0))
    if [ $rc -eq 0 ]; then
        note "PASS  $nn $name  ${dt}s"
        return 0
    fi
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        note "FAIL  $nn $name  ${dt}s: timed out after ${limit}s"
    else
        note "FAIL  $nn $name  ${dt}s: exit $rc"
    fi
    echo "--- last lines of $log:" >&2
    tail -25 "$log" >&2
    note "gpu-first-run: stopped at step $nn $name (log: $log); total $(($(date +%s) - start_all))s"
    exit 1
}

# ---- what machine, which versions -------------------------------------------------------------
{
    date -u +"%Y-%m-%d %H:%M:%S UTC"
    nvidia-smi
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
} >"$out/nvidia-smi.txt" 2>&1
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
{
    echo "date: $(date -u +%Y-%m-%d)"
    echo "gpu: $gpu"
    echo "driver: $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)"
    echo "toolkit: $(nvcc --version 2>/dev/null | tail -2 | tr '\n' ' ')"
    echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null) $(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo '(+ local changes)')"
} >"$out/versions.txt"
note "gpu-first-run: $gpu, into $out"

# ---- 01 build ----------------------------------------------------------------------------------
# A build of its own: configured on this machine, CMake compiles for this GPU only ("native").
step 01 build 420 make build BUILD="$build" JOBS="$jobs"
if ! "$build/ser" --version | grep -q ' cuda'; then
    note "FAIL  01 build: $build/ser has no CUDA backend (nvcc not found at configure time)"
    exit 1
fi
echo "loaded: $("$build/test_cuda_versions" --print 2>&1)" >>"$out/versions.txt"

# ---- 02..06 the GPU suites ---------------------------------------------------------------------
# ctest -V: every line of the suite in the log, pass or fail (the environment ctest gives it:
# fixtures, shared data, SER_REQUIRE_CUDA from here)
suite() { ctest --test-dir "$build" -R "^($1)\$" -V --timeout "$2" --no-tests=error; }
export build rtol
export -f suite
step 02 test_cuda_lstm 120 bash -c 'suite test_cuda_lstm 110'
step 03 test_cuda_cudnn 240 env SER_CUDNN_VERBOSE=1 ctest --test-dir "$build" -R '^test_cuda_cudnn$' -V --timeout 230 --no-tests=error
step 04 test_cuda_kernels 120 bash -c 'suite test_cuda_kernels 110'
step 05 test_cuda_backend 180 bash -c 'suite test_cuda_backend 170'
step 06 cuda_suites_other 240 bash -c "suite 'test_cuda_features|test_cuda_versions|test_cuda_lstm_layout' 230"

# ---- 07 ser check ------------------------------------------------------------------------------
step 07 ser_check 180 env SER_CUDNN_VERBOSE=1 "$build/ser" check --steps 5

# ---- 08 training, cuda vs cpu ------------------------------------------------------------------
data=$root/../shared/data/tess
train=$out/train
if [ ! -d "$data" ]; then
    data=$train/synth
    step 08a synth 120 "$build/ser" synth --out "$data" --per-class 20 --speakers 2 --seed 1
fi
compare_losses() { # history.jsonl of cpu and cuda: loss and val_loss of each epoch within rtol
    python3 - "$1/history.jsonl" "$2/history.jsonl" "$rtol" <<'EOF'
import json, sys
cpu = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
gpu = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
rtol = float(sys.argv[3])
bad = len(cpu) != len(gpu) or not cpu
print("epoch  loss cpu / cuda  val_loss cpu / cuda  max rel diff")
for c, g in zip(cpu, gpu):
    d = max(abs(c[k] - g[k]) / max(abs(c[k]), 1e-12) for k in ("loss", "val_loss"))
    print(f"{c['epoch']:5}  {c['loss']:.6f} / {g['loss']:.6f}  {c['val_loss']:.6f} / {g['val_loss']:.6f}  {d:.2e}")
    bad |= not d <= rtol
print(f"{len(cpu)} / {len(gpu)} epochs; tolerance {rtol:g}: {'FAIL' if bad else 'ok'}")
sys.exit(1 if bad else 0)
EOF
}
train_both() {
    rm -rf "$train/cuda" "$train/cpu"
    local sets=(--set train.epochs=3 --quiet)
    "$build/ser" train --data "$data" --out "$train/cuda" "${sets[@]}" --device cuda &&
        "$build/ser" train --data "$data" --out "$train/cpu" "${sets[@]}" --device cpu &&
        compare_losses "$train/cpu" "$train/cuda"
}
export data train
export -f compare_losses train_both
step 08 train_cuda_vs_cpu 300 bash -c train_both

# ---- 09 bench/gpu ------------------------------------------------------------------------------
if python3 -c 'import numpy' >/dev/null 2>&1; then
    step 09 bench_gpu 420 env EPOCHS=2 bash "$root/bench/gpu.sh" "$build"
else # bench_gpu.py needs numpy; the machine may have no network to install it
    note "09 bench_gpu: python3 has no numpy: only the bias-gradient bench runs (install python3-numpy for the table)"
    step 09 bench_bias_grad 120 "$build/test_cuda_kernels" --bench-bias-grad
fi

note "gpu-first-run: all steps passed on $gpu in $(($(date +%s) - start_all))s"
