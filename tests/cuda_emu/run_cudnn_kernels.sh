#!/usr/bin/env bash
# Runs tests/cuda_emu/cudnn_kernels_emu.c: kernels/cudnn_ops_kernels.cu (ser's fallback batch norm,
# the Keras moving-average update, the filter transposes, im2col / col2im) and the convolution
# fallback kernels/conv_gemm.c (with the emulated cuBLAS) on the CPU against the emulated CUDA
# runtime (README.md), compared with host/model/layers/batchnorm.c, under ASan + UBSan. cuDNN itself
# is not emulated: test_cuda_cudnn checks the graph-API ops on a GPU.
#
# usage: tests/cuda_emu/run_cudnn_kernels.sh [WORK_DIR]   (default build-emu/)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
emu=$root/tests/cuda_emu
W=${1:-$root/build-emu}
mkdir -p "$W"

if [ ! -f "$W/libhost.a" ]; then
    cmake -S "$root" -B "$W/host" -DCMAKE_BUILD_TYPE=Release -DSER_CUDA=OFF >"$W/cmake.log"
    cmake --build "$W/host" -j2 --target ser_core >"$W/build.log"
    cp "$W/host/libser.a" "$W/libhost.a"
    ar d "$W/libhost.a" cuda_absent.c.o
fi

SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1)
CBLAS_INC=$(sed -n 's/^CBLAS_INCLUDE_DIR:PATH=//p' "$W/host/CMakeCache.txt")

sed -e 's/\([a-z_]*\)<<<\(.*\), \(.*\), 0, s>>>(\(.*\));/emu_launch(\2, \3, [\&] { \1(\4); });/' \
    "$root/kernels/cudnn_ops_kernels.cu" >"$W/cudnn_ops_kernels_emu.cpp"
if grep -q '<<<' "$W/cudnn_ops_kernels_emu.cpp"; then
    echo "cuda_emu: a kernel launch the rewrite does not know:"; grep -n '<<<' "$W/cudnn_ops_kernels_emu.cpp"; exit 1
fi

g++ -std=c++20 -ffp-contract=off -Wall "${SAN[@]}" -I"$emu/shim" -I"$root/kernels" -include cuda_runtime.h \
    -c "$W/cudnn_ops_kernels_emu.cpp" -o "$W/cudnn_ops_kernels_emu.o"
g++ -std=c++20 -Wall "${SAN[@]}" -I"$emu/shim" -I"$CBLAS_INC" -c "$emu/emu.cpp" -o "$W/emu.o"
for f in "$emu/cudnn_kernels_emu.c" "$root/kernels/conv_gemm.c" "$root/kernels/cuda_check.c"; do
    gcc -std=c11 -D_POSIX_C_SOURCE=200809L -ffp-contract=off -Wall -Wextra -Werror "${SAN[@]}" -I"$emu/shim" \
        -I"$root/include" -I"$root/host/model" -I"$root/kernels" -I"$CBLAS_INC" -c "$f" -o "$W/$(basename "$f" .c).o"
done
g++ "${SAN[@]}" -fopenmp "$W/cudnn_kernels_emu.o" "$W/conv_gemm.o" "$W/cuda_check.o" "$W/cudnn_ops_kernels_emu.o" \
    "$W/emu.o" "$W/libhost.a" \
    $(sed -n 's/.* libser\.a //p' "$W/host/CMakeFiles/ser.dir/link.txt") -o "$W/cudnn_kernels_emu"

OMP_NUM_THREADS=2 "$W/cudnn_kernels_emu"
