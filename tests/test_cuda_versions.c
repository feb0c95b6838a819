/* kernels/cuda_versions.h's start-up check, on the CPU (no device needed): versions made up
 * around this build's own, each too-old library refused with a line naming it, every current
 * one accepted. With --print: the loaded libraries' versions, one line (scripts/gpu-first-run.sh
 * records it). Named test_cuda_* because the check is part of the CUDA backend's sources. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cuda_versions.h"

/* have refused, and the line names `what` */
static void refused(const ser_cuda_versions *have, const ser_cuda_versions *built, const char *what, const char *case_) {
    char why[512] = "";
    const int rc = ser_cuda_versions_check(have, built, why, sizeof why);
    CHECKF(rc == -1 && strstr(why, what), "%s: rc %d, line \"%s\" does not name %s", case_, rc, why, what);
    printf("  refused %-28s %s\n", case_, why);
}

int main(int argc, char **argv) {
    ser_cuda_versions have, built;
    char line[512], why[512];
    ser_cuda_versions_query(&have);
    ser_cuda_versions_format(&have, line, sizeof line);
    if (argc > 1 && !strcmp(argv[1], "--print")) {
        printf("%s\n", line);
        return 0;
    }
    printf("loaded: %s\n", line);
    ser_cuda_versions_built(&built);
    ser_cuda_versions_format(&built, line, sizeof line);
    printf("built:  %s\n", line);

    /* what this build was made with passes; so do newer minor versions and a missing NVRTC
     * (cuDNN's runtime-compiled engines then fail and ser uses its own kernels) */
    ser_cuda_versions ok = built;
    CHECKF(ser_cuda_versions_check(&ok, &built, why, sizeof why) == 0, "built-against versions refused: %s", why);
    ok.driver += 20, ok.runtime += 10, ok.cudnn += 100, ok.nvrtc = -1;
    CHECKF(ser_cuda_versions_check(&ok, &built, why, sizeof why) == 0, "newer minors refused: %s", why);
    ok = built;
    ok.cudnn = SER_CUDNN_MIN;
    CHECKF(ser_cuda_versions_check(&ok, &built, why, sizeof why) == 0, "cuDNN at the minimum refused: %s", why);

    const int major = built.runtime / 1000;
    ser_cuda_versions v = built;
    v.driver = 0;
    refused(&v, &built, "no NVIDIA driver", "no driver");
    v = built, v.driver = (major - 1) * 1000 + 80;
    refused(&v, &built, "driver too old", "driver of the previous CUDA");
    v = built, v.runtime = (major - 1) * 1000 + 80;
    refused(&v, &built, "CUDA runtime", "runtime of the previous CUDA");
    v = built, v.cudnn = 80907;
    refused(&v, &built, "cuDNN 8.9.7", "cuDNN 8");
    v = built, v.cudnn = SER_CUDNN_MIN - 1;
    refused(&v, &built, "cuDNN", "cuDNN below the minimum");
    v = built, v.cudnn_cudart = (size_t)(major - 1) * 1000 + 90;
    refused(&v, &built, "built for CUDA", "cuDNN for another CUDA");
    v = built, v.cublas = (built.cublas / 10000 - 1) * 10000 + 904;
    refused(&v, &built, "cuBLAS", "cuBLAS of the previous CUDA");
    v = built, v.nvrtc = (major - 1) * 1000 + 80;
    refused(&v, &built, "NVRTC", "NVRTC of the previous CUDA");
    return check_finish("test_cuda_versions");
}
