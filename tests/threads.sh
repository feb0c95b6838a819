#!/bin/sh
# ctest starts every suite through this. OpenMP's thread count is the caller's OMP_NUM_THREADS
# when it is set (`OMP_NUM_THREADS=3 make test`, scripts/cpu-matrix.sh), else 2, so that a plain
# `make test` runs alike on every machine. OpenBLAS (pthreads build) reads the same variable.
: "${OMP_NUM_THREADS:=2}"
export OMP_NUM_THREADS
exec "$@"
