/* ser/cuda.h's device queries in a build with the CUDA backend. A missing driver or device is
 * not an error of the call: it is "0 devices" and a line saying why. */
#include <stdio.h>

#include <cuda_runtime.h>

#include "ser/cuda.h"

int ser_cuda_built(void) { return 1; }

int ser_cuda_devices(char *desc, size_t n) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count < 1) {
        if (desc && n)
            snprintf(desc, n, "no CUDA device: %s",
                     e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports none");
        (void)cudaGetLastError(); /* clear the sticky error of a failed query */
        return 0;
    }
    struct cudaDeviceProp p;
    if (desc && n) {
        if (cudaGetDeviceProperties(&p, 0) == cudaSuccess)
            snprintf(desc, n, "%s (sm_%d%d, %.1f GiB, %d SMs)", p.name, p.major, p.minor,
                     (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), p.multiProcessorCount);
        else
            snprintf(desc, n, "CUDA device 0 (properties unavailable)");
    }
    return count;
}
