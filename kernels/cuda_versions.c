/* kernels/cuda_versions.h. */
#include <dlfcn.h>
#include <stdio.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "cuda_versions.h"

typedef int (*nvrtc_version_fn)(int *major, int *minor);

/* libnvrtc of the runtime's major version, as cuDNN's runtime-compiled engines dlopen it. */
static int nvrtc_version(int runtime) {
    char name[64];
    snprintf(name, sizeof name, "libnvrtc.so.%d", runtime / 1000);
    void *h = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
    if (!h) h = dlopen("libnvrtc.so", RTLD_LAZY | RTLD_LOCAL);
    if (!h) return -1;
    int major = 0, minor = 0, v = -1;
    nvrtc_version_fn f = (nvrtc_version_fn)dlsym(h, "nvrtcVersion");
    if (f && f(&major, &minor) == 0) v = major * 1000 + minor * 10;
    /* not dlclose'd: cuDNN's runtime-compiled engines load the same library anyway, and unloading
     * it leaves its C++ runtime's start-up allocations unreachable (LeakSanitizer reports them) */
    return v;
}

void ser_cuda_versions_query(ser_cuda_versions *v) {
    *v = (ser_cuda_versions){0};
    if (cudaDriverGetVersion(&v->driver) != cudaSuccess) v->driver = 0;
    if (cudaRuntimeGetVersion(&v->runtime) != cudaSuccess) v->runtime = 0;
    (void)cudaGetLastError();
    v->cudnn = cudnnGetVersion();
    v->cudnn_cudart = cudnnGetCudartVersion();
    int ma = 0, mi = 0, pa = 0;
    if (cublasGetProperty(MAJOR_VERSION, &ma) == CUBLAS_STATUS_SUCCESS &&
        cublasGetProperty(MINOR_VERSION, &mi) == CUBLAS_STATUS_SUCCESS &&
        cublasGetProperty(PATCH_LEVEL, &pa) == CUBLAS_STATUS_SUCCESS)
        v->cublas = ma * 10000 + mi * 100 + pa;
    v->nvrtc = nvrtc_version(v->runtime ? v->runtime : CUDART_VERSION);
}

void ser_cuda_versions_built(ser_cuda_versions *v) {
    *v = (ser_cuda_versions){0};
    v->driver = CUDART_VERSION;
    v->runtime = CUDART_VERSION;
    v->cudnn = CUDNN_VERSION;
    v->cudnn_cudart = CUDART_VERSION;
    v->cublas = CUBLAS_VER_MAJOR * 10000 + CUBLAS_VER_MINOR * 100 + CUBLAS_VER_PATCH;
    v->nvrtc = CUDART_VERSION;
}

static void cuda_str(char *b, size_t n, long v) { snprintf(b, n, "%ld.%ld", v / 1000, v % 1000 / 10); }
static void triple_str(char *b, size_t n, long v) { snprintf(b, n, "%ld.%ld.%ld", v / 10000, v % 10000 / 100, v % 100); }

int ser_cuda_versions_check(const ser_cuda_versions *have, const ser_cuda_versions *built, char *why, size_t n) {
    const int major = built->runtime / 1000;
    char a[32], b[32];
    if (have->driver < major * 1000) {
        if (have->driver <= 0) snprintf(why, n, "no NVIDIA driver found (the CUDA %d runtime needs one)", major);
        else {
            cuda_str(a, sizeof a, have->driver);
            snprintf(why, n, "NVIDIA driver too old: it supports CUDA %s, this build needs CUDA %d.0 or newer "
                     "(driver older than the runtime)", a, major);
        }
        return -1;
    }
    if (have->runtime / 1000 != major) {
        cuda_str(a, sizeof a, have->runtime);
        snprintf(why, n, "CUDA runtime %s loaded, this build needs CUDA %d.x", a, major);
        return -1;
    }
    if (have->cudnn / 10000 != built->cudnn / 10000 || have->cudnn < SER_CUDNN_MIN) {
        triple_str(a, sizeof a, (long)have->cudnn), triple_str(b, sizeof b, SER_CUDNN_MIN);
        snprintf(why, n, "cuDNN %s too old or of another major version: this build needs cuDNN %s or a newer 9.x", a, b);
        return -1;
    }
    if ((int)(have->cudnn_cudart / 1000) != major) {
        cuda_str(a, sizeof a, (long)have->cudnn_cudart);
        triple_str(b, sizeof b, (long)have->cudnn);
        snprintf(why, n, "cuDNN %s was built for CUDA %s, this build needs the cuDNN for CUDA %d", b, a, major);
        return -1;
    }
    if (have->cublas / 10000 != built->cublas / 10000) {
        triple_str(a, sizeof a, have->cublas), triple_str(b, sizeof b, built->cublas);
        snprintf(why, n, "cuBLAS %s loaded, this build needs cuBLAS %d.x (built against %s)", a, built->cublas / 10000, b);
        return -1;
    }
    if (have->nvrtc >= 0 && have->nvrtc / 1000 < major) {
        cuda_str(a, sizeof a, have->nvrtc);
        snprintf(why, n, "NVRTC %s too old: cuDNN's runtime-compiled engines need NVRTC %d.x", a, major);
        return -1;
    }
    if (why && n) why[0] = '\0';
    return 0;
}

void ser_cuda_versions_format(const ser_cuda_versions *v, char *buf, size_t n) {
    char d[32], r[32], c[32], cc[32], b[32], nv[32];
    if (v->driver > 0) cuda_str(d, sizeof d, v->driver);
    else snprintf(d, sizeof d, "none");
    cuda_str(r, sizeof r, v->runtime);
    triple_str(c, sizeof c, (long)v->cudnn);
    cuda_str(cc, sizeof cc, (long)v->cudnn_cudart);
    triple_str(b, sizeof b, v->cublas);
    if (v->nvrtc >= 0) cuda_str(nv, sizeof nv, v->nvrtc);
    else snprintf(nv, sizeof nv, "not found");
    snprintf(buf, n, "driver %s (CUDA it supports), runtime %s, cuDNN %s (for CUDA %s), cuBLAS %s, NVRTC %s", d, r, c,
             cc, b, nv);
}

int ser_cuda_versions_ok(char *why, size_t n) {
    ser_cuda_versions have, built;
    ser_cuda_versions_query(&have);
    ser_cuda_versions_built(&built);
    return ser_cuda_versions_check(&have, &built, why, n);
}
