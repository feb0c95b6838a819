/* ser/cuda.h's device queries in a build with the CUDA backend. A missing driver or device is
 * not an error of the call: it is "0 devices" and a line saying why. The line starts with the
 * reason's kind, which the GPU test suites print when they skip (tests/cuda_test.h):
 *   "no CUDA device: ..."                    no driver installed, or the driver reports none
 *   "CUDA driver older than the runtime: ..." a driver that cannot run this build's runtime */
#include <stdio.h>

#include <cuda_runtime.h>

#include "ser/cuda.h"

int ser_cuda_built(void) { return 1; }

/* Why cudaGetDeviceCount failed (e) or found none. cudart answers "insufficient driver" both when
 * libcuda is absent and when it is older than the runtime: the driver version tells them apart
 * (0 when no driver is loaded). */
static void no_device_reason(char *desc, size_t n, cudaError_t e) {
    int driver = 0, runtime = 0;
    if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
    if (cudaRuntimeGetVersion(&runtime) != cudaSuccess) runtime = CUDART_VERSION;
    if (e == cudaSuccess) snprintf(desc, n, "no CUDA device: the driver reports none");
    else if (driver <= 0) snprintf(desc, n, "no CUDA device: no NVIDIA driver loaded (libcuda not found)");
    else if (driver < runtime)
        snprintf(desc, n, "CUDA driver older than the runtime: the driver supports CUDA %d.%d, the runtime is %d.%d (%s)",
                 driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10, cudaGetErrorString(e));
    else snprintf(desc, n, "no CUDA device: %s", cudaGetErrorString(e));
}

int ser_cuda_devices(char *desc, size_t n) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count < 1) {
        if (desc && n) no_device_reason(desc, n, e);
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
