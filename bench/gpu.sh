#!/usr/bin/env bash
# The GPU benchmark: build (CUDA backend for this machine's GPU), `ser check` (a backend that
# disagrees with the CPU is not worth timing: stop), the bias-gradient reduction at the conv
# blocks' shapes (test_cuda_kernels --bench-bias-grad), then bench/bench_gpu.py: features of every
# TESS clip on the CPU and the GPU, one training epoch in ser cpu / ser cuda / PyTorch on the
# same GPU, and the precise-BN pass alone (its share of each epoch), one table with ratios.
#
#   bench/gpu.sh [BUILD_DIR]        (default build-gpu; DATA=../shared/data, EPOCHS=3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-gpu}
data=${DATA:-$root/../shared/data}
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$jobs" >/dev/null
ser=$build/ser
"$ser" --version
if ! grep -q " cuda" <("$ser" --version); then
  echo "bench/gpu.sh: this build has no CUDA backend (nvcc not found)" >&2
  exit 2
fi

echo "== ser check"
set +e
"$ser" check --steps 5 >"$build/check.txt" 2>&1
rc=$?
set -e
tail -1 "$build/check.txt"
if [ $rc -ne 0 ]; then
  grep -E "FAIL|error" "$build/check.txt" | head -40 >&2
  echo "bench/gpu.sh: ser check failed (exit $rc; full table in $build/check.txt): not benchmarking" >&2
  exit 1
fi

echo "== bias-gradient reduction (ser_k_bias_grad_rows: row chunks over every SM)"
"$build/test_cuda_kernels" --bench-bias-grad | grep '^bias_grad_rows'

echo "== timings"
python3 "$root/bench/bench_gpu.py" --ser "$ser" --data "$data" --epochs "${EPOCHS:-3}"
