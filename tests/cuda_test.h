/* For the GPU suites (tests/test_cuda_*.c).
 *
 * cuda_test_start: the suite's first call. Without a usable device it SKIPS (exit 77) with the
 * reason: "no CUDA device: ..." (no driver, or none found), "CUDA driver older than the runtime:
 * ...", or "missing library: ..." (cuDNN's sub-libraries, for the suites that ask for cuDNN).
 * SER_REQUIRE_CUDA=1 turns every such skip into a failure with the same reason, so that a run on
 * a GPU machine can never pass by skipping (scripts/gpu-first-run.sh sets it). Libraries older
 * than this build needs (kernels/cuda_versions.h) are a failure, never a skip.
 *
 * CU: a CUDA runtime call of the test's own plumbing (allocation, copies, streams) that fails
 * ends the suite with the call, place and reason. */
#ifndef SER_TESTS_CUDA_TEST_H
#define SER_TESTS_CUDA_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <cudnn.h>

#include "cuda_versions.h"
#include "ser/cuda.h"

#define CU(call)                                                                                      \
    do {                                                                                              \
        cudaError_t e_ = (call);                                                                      \
        if (e_ != cudaSuccess) {                                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

/* 1 when SER_REQUIRE_CUDA is set to anything but "" or "0". */
static inline int cuda_test_required(void) {
    const char *r = getenv("SER_REQUIRE_CUDA");
    return r && r[0] && strcmp(r, "0") != 0;
}

/* SKIPPED with the reason (exit 77), or FAIL with it under SER_REQUIRE_CUDA=1 (exit 1). */
static inline void cuda_test_skip(const char *suite, const char *why) {
    if (cuda_test_required()) {
        printf("FAIL: %s: %s (SER_REQUIRE_CUDA=1: a GPU suite may not skip)\n", suite, why);
        fflush(stdout);
        exit(1);
    }
    printf("SKIPPED: %s\n", why);
    fflush(stdout);
    exit(77);
}

enum { CUDA_TEST_CUDNN = 1 }; /* cuda_test_start's needs */

/* Device 0's description into desc, the library versions printed; skips or fails as the file
 * comment says. */
static inline void cuda_test_start(const char *suite, unsigned needs, char *desc, size_t n) {
    if (ser_cuda_devices(desc, n) < 1) cuda_test_skip(suite, desc);
    ser_cuda_versions v;
    char line[512], why[512];
    ser_cuda_versions_query(&v);
    ser_cuda_versions_format(&v, line, sizeof line);
    printf("device: %s\nversions: %s\n", desc, line);
    if (ser_cuda_versions_ok(why, sizeof why) != 0) {
        printf("FAIL: %s: %s\n", suite, why);
        exit(1);
    }
    if (needs & CUDA_TEST_CUDNN) {
        cudnnHandle_t h = NULL;
        const cudnnStatus_t s = cudnnCreate(&h);
        if (s != CUDNN_STATUS_SUCCESS) {
            snprintf(why, sizeof why, "missing library: cuDNN (cudnnCreate: %s)", cudnnGetErrorString(s));
            if (s == CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED || s == CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH)
                cuda_test_skip(suite, why);
            printf("FAIL: %s: %s\n", suite, why);
            exit(1);
        }
        cudnnDestroy(h);
    }
    fflush(stdout);
}

#endif
