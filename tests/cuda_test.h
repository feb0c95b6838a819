/* For the GPU suites (tests/test_cuda_*.c): a CUDA runtime call of the test's own plumbing
 * (allocation, copies, streams) that fails ends the suite with the call, place and reason. */
#ifndef SER_TESTS_CUDA_TEST_H
#define SER_TESTS_CUDA_TEST_H

#include <stdio.h>
#include <stdlib.h>

#include <cuda_runtime.h>

#define CU(call)                                                                                      \
    do {                                                                                              \
        cudaError_t e_ = (call);                                                                      \
        if (e_ != cudaSuccess) {                                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

#endif
