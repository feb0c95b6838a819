#!/usr/bin/env bash
# Runs test_cuda_features on the CPU against an EMULATION of the CUDA runtime, cuFFT and
# cuBLAS (tests/cuda_emu/README.md): for machines without a GPU, to check the host logic, the
# kernels' indexing and the cuFFT/cuBLAS layouts. It does NOT test CUDA itself (real
# asynchrony, the real libraries, device limits): that needs test_cuda_features on a GPU.
#
# usage: tests/cuda_emu/run.sh [WORK_DIR]   (default build-emu/; SER_SHARED_DATA for the
#        pipeline part, default ../shared/data)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
emu=$root/tests/cuda_emu
W=${1:-$root/build-emu}
mkdir -p "$W"
export SER_SHARED_DATA=${SER_SHARED_DATA:-$root/../shared/data}

# The host library without the CUDA backend, minus its "no CUDA" stubs (the emulated backend
# provides ser_cuda_devices and ser_features_extract_cuda).
cmake -S "$root" -B "$W/host" -DCMAKE_BUILD_TYPE=Release -DSER_CUDA=OFF >"$W/cmake.log"
cmake --build "$W/host" -j2 --target ser_core >"$W/build.log"
cp "$W/host/libser.a" "$W/libhost.a"
ar d "$W/libhost.a" cuda_absent.c.o

SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1)
INC=(-I"$emu/shim" -I"$root/include" -I"$root/host/model" -I"$root/kernels" -I"$root/tests" -I"$W/host/generated")
CBLAS_INC=$(sed -n 's/^CBLAS_INCLUDE_DIR:PATH=//p' "$W/host/CMakeCache.txt")

# Kernel launches `k<<<grid, block, 0, s>>>(args);` become calls of the emulator's launch
# (db_kernel, which synchronises its block, gets one host thread per CUDA thread).
sed -e 's/db_kernel<<<\(.*\), \(.*\), 0, s>>>(\(.*\));/emu_launch_sync(\1, \2, [\&] { db_kernel(\3); });/' \
    -e 's/\([a-z_]*\)<<<\(.*\), \(.*\), 0, s>>>(\(.*\));/emu_launch(\2, \3, [\&] { \1(\4); });/' \
    "$root/kernels/features_kernels.cu" >"$W/features_kernels_emu.cpp"
if grep -q '<<<' "$W/features_kernels_emu.cpp"; then
    echo "cuda_emu: a kernel launch the rewrite does not know:"; grep -n '<<<' "$W/features_kernels_emu.cpp"; exit 1
fi

# -ffp-contract=off everywhere: the device code's __fmul_rn / __fadd_rn round each operation.
g++ -std=c++20 -ffp-contract=off -Wall "${SAN[@]}" -I"$emu/shim" -I"$root/kernels" \
    -c "$W/features_kernels_emu.cpp" -o "$W/features_kernels_emu.o"
g++ -std=c++20 -Wall "${SAN[@]}" -I"$emu/shim" -I"$CBLAS_INC" -c "$emu/emu.cpp" -o "$W/emu.o"
objs=()
for f in cuda_check cuda_device cuda_versions features_gpu features_pipeline; do
    gcc -std=c11 -D_POSIX_C_SOURCE=200809L -ffp-contract=off -Wall -Wextra -Werror -Wno-unused-parameter "${SAN[@]}" \
        "${INC[@]}" -I"$CBLAS_INC" -c "$root/kernels/$f.c" -o "$W/$f.o"
    objs+=("$W/$f.o")
done
gcc -std=c11 -D_POSIX_C_SOURCE=200809L -fopenmp -Wall -Wextra -Werror -Wno-unused-parameter "${SAN[@]}" "${INC[@]}" \
    -I"$CBLAS_INC" -c "$root/tests/test_cuda_features.c" -o "$W/test_cuda_features.o"
g++ "${SAN[@]}" -fopenmp "$W/test_cuda_features.o" "${objs[@]}" "$W/features_kernels_emu.o" "$W/emu.o" "$W/libhost.a" \
    $(sed -n 's/.* libser\.a //p' "$W/host/CMakeFiles/ser.dir/link.txt") -o "$W/test_cuda_features_emu"

OMP_NUM_THREADS=2 "$W/test_cuda_features_emu"
