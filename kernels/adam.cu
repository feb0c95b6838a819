/* Adam over n floats (host/model/layers/adam.c, kernels.h): layers/adam_elem.h's element update, the
 * same function the CPU runs, with alpha read from device memory (ser_step_scalars) so that a
 * captured graph replays each step with the host's new value. */
#include "kernels.h"
#include "launch.cuh"
#include "layers/adam_elem.h"

static __global__ void k_adam(float *p, float *m, float *v, const float *g, size_t n, const ser_step_scalars *sc,
                              float one_b1, float one_b2, float eps) {
    const float alpha = sc->adam_alpha;
    SER_GRID_LOOP(i, n) adam_elem(&p[i], &m[i], &v[i], g[i], alpha, one_b1, one_b2, eps);
}

extern "C" cudaError_t ser_k_adam(float *p, float *m, float *v, const float *g, size_t n, const ser_step_scalars *sc,
                                  float one_b1, float one_b2, float eps, cudaStream_t s) {
    k_adam<<<ser_grid(n), SER_BLOCK, 0, s>>>(p, m, v, g, n, sc, one_b1, one_b2, eps);
    return cudaGetLastError();
}
