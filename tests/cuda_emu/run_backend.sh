#!/usr/bin/env bash
# Runs the WHOLE CUDA backend (kernels/backend_cuda.c, backend_cuda_net.c and ser's kernels,
# kernels/*.cu, as they are) on the CPU against an emulation of the CUDA runtime, cuBLAS and
# ser's cuDNN layer (README.md, "The CUDA backend"), under ASan + UBSan, and compares it with
# the CPU backend: tests/test_cuda_backend.c (CPU vs CUDA tensor by tensor, state transfer,
# graphs on / off), `ser check` on the reference model, and a short `ser train --device cuda`.
# It checks the backend's wiring, not CUDA or cuDNN: those need the ctest suites on a GPU.
#
# usage: tests/cuda_emu/run_backend.sh [WORK_DIR]   (default build-emu/)
#        EMU_QUICK=1: only test_cuda_backend
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
emu=$root/tests/cuda_emu
W=${1:-$root/build-emu}
mkdir -p "$W/backend"
O=$W/backend

if [ ! -f "$W/libhost.a" ]; then
    cmake -S "$root" -B "$W/host" -DCMAKE_BUILD_TYPE=Release -DSER_CUDA=OFF >"$W/cmake.log"
    cmake --build "$W/host" -j2 --target ser_core >"$W/build.log"
    cp "$W/host/libser.a" "$W/libhost.a"
    ar d "$W/libhost.a" cuda_absent.c.o
fi
cmake --build "$W/host" -j2 --target ser >>"$W/build.log" # the CLI's objects

SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1)
INC=(-I"$emu/shim" -I"$root/include" -I"$root/host" -I"$root/kernels" -I"$root/tests" -I"$W/host/generated")
CBLAS_INC=$(sed -n 's/^CBLAS_INCLUDE_DIR:PATH=//p' "$W/host/CMakeCache.txt")
CFLAGS=(-std=c11 -D_POSIX_C_SOURCE=200809L -ffp-contract=off -Wall -Wextra -Werror -Wno-unused-parameter "${SAN[@]}"
        "${INC[@]}" -I"$CBLAS_INC")
CXXFLAGS=(-std=c++20 -ffp-contract=off -Wall "${SAN[@]}" "${INC[@]}" -I"$CBLAS_INC")

# .cu -> C++: `extern __shared__ T a[];` -> the launch's dynamic shared memory; every launch
# `k<<<g, b[, smem], s>>>(args);` (one or more lines) -> emu_launch3(g, b, smem, sync, [=] {
# k(args); }) with sync = 1 for the kernels whose body calls __syncthreads.
xform() {
    perl -0777 -pe '
        my %sync;
        while (/__global__ void(?: __launch_bounds__\([^)]*\))? (\w+)\((.*?)(?=\n(?:static )?__global__|\nextern "C"|\z)/sg) {
            my ($name, $body) = ($1, $2);
            $sync{$name} = 1 if $body =~ /__syncthreads/;
        }
        s/extern __shared__ (\w+) (\w+)\[\];/$1 *$2 = ($1 *)emu_dyn_smem;/g;
        s{(\w+)<<<(.*?)>>>\((.*?)\);}{
            my ($k, $cfg, $args) = ($1, $2, $3);
            my @p = split /,(?![^()]*\))/, $cfg;
            @p = map { s/^\s+|\s+$//gr } @p;
            my $smem = @p == 4 ? $p[2] : "0";
            "emu_launch3($p[0], $p[1], $smem, " . ($sync{$k} ? 1 : 0) . ", [=] { $k($args); });"
        }sge;
    ' "$1" >"$2"
    if grep -q '<<<' "$2"; then echo "cuda_emu: a launch the rewrite missed in $1:"; grep -n '<<<' "$2"; exit 1; fi
}

objs=()
for k in adam attention dropout elementwise l2_loss relu_pool softmax_xent features_kernels; do
    xform "$root/kernels/$k.cu" "$O/$k.emu.cpp"
    g++ "${CXXFLAGS[@]}" -include cuda_runtime.h -Wno-unused-function -c "$O/$k.emu.cpp" -o "$O/k_$k.o"
    objs+=("$O/k_$k.o")
done
for f in emu_backend emu_dnn; do
    g++ "${CXXFLAGS[@]}" -c "$emu/$f.cpp" -o "$O/$f.o"
    objs+=("$O/$f.o")
done
for f in backend_cuda backend_cuda_net cuda_check cuda_device features_gpu features_pipeline; do
    gcc "${CFLAGS[@]}" -c "$root/kernels/$f.c" -o "$O/$f.o"
    objs+=("$O/$f.o")
done
LIBS=($(pkg-config --libs sndfile soxr fftw3f inih libcjson plplot) -lopenblas -lm)
gcc "${CFLAGS[@]}" -fopenmp -c "$root/tests/test_cuda_backend.c" -o "$O/test_cuda_backend.o"
g++ "${SAN[@]}" -fopenmp "$O/test_cuda_backend.o" "${objs[@]}" "$W/libhost.a" "${LIBS[@]}" -o "$O/test_cuda_backend_emu"
cli=$(find "$W/host/CMakeFiles/ser.dir" -name '*.o')
g++ "${SAN[@]}" -fopenmp $cli "${objs[@]}" "$W/libhost.a" "${LIBS[@]}" -o "$O/ser"

export OMP_NUM_THREADS=2 ASAN_OPTIONS=detect_leaks=0:detect_stack_use_after_return=0
echo "== test_cuda_backend (CPU emulation)"
"$O/test_cuda_backend_emu"
[ -n "${EMU_QUICK:-}" ] && exit 0
