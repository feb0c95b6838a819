/* LSTM as Keras computes it: z = x W + h_prev R + b, gates in the order i, f, c, o;
 * i, f, o = sigmoid (Keras's recurrent_activation), g = tanh; c = f c_prev + i g;
 * h = o tanh(c); zero initial state. kernel W (I, 4U), recurrent_kernel R (U, 4U), bias (4U).
 *
 * Forward: the input projection of every timestep is one sgemm ((B*T, I) x (I, 4U)) straight
 * into `gates`; each step adds h_prev R (a (B, U) x (U, 4U) sgemm reading h_prev in place with
 * leading dimension T*U) and activates in place, so `gates` ends holding the activated
 * i, f, g, o that backward needs.
 * Backward (BPTT): per step in reverse the pre-activation gradients dz go into `dgates`
 * (B, T, 4U); dh flowing to the previous step is dz R^T; then dx = dgates W^T and
 * dW += x^T dgates are one sgemm each over all steps. Sizes here are small (T = 3, U = 32),
 * so single-threaded BLAS; the model sets the BLAS thread count. */
#include <cblas.h>
/* OpenBLAS's cblas.h pulls in <complex.h>, whose macro I would break the (B, T, I, U) names. */
#undef I
#include <math.h>
#include <string.h>

#include "layers/layers.h"

static inline float sigmoidf(float z) { return 1.0f / (1.0f + expf(-z)); }

void lstm_forward(float *h, float *c, float *gates, const float *x, const float *kernel,
                  const float *recurrent_kernel, const float *bias, int B, int T, int I, int U) {
    const int G = 4 * U;
    const size_t rows = (size_t)B * T;
    /* gates (B*T, 4U) = bias, then += x W */
    for (size_t r = 0; r < rows; r++) memcpy(gates + r * G, bias, (size_t)G * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, G, I, 1.0f, x, I, kernel, G, 1.0f,
                gates, G);
    for (int t = 0; t < T; t++) {
        float *z = gates + (size_t)t * G; /* row b at z + b*T*G */
        if (t > 0)                        /* z += h_{t-1} R; h_{t-1} row b at h + (b*T + t-1)*U */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, G, U, 1.0f, h + (size_t)(t - 1) * U,
                        T * U, recurrent_kernel, G, 1.0f, z, T * G);
        for (int b = 0; b < B; b++) {
            float *zb = z + (size_t)b * T * G;
            const size_t o = ((size_t)b * T + t) * U;
            const float *cp = t > 0 ? c + o - U : NULL;
            for (int u = 0; u < U; u++) {
                const float ig = sigmoidf(zb[u]);
                const float fg = sigmoidf(zb[U + u]);
                const float gg = tanhf(zb[2 * U + u]);
                const float og = sigmoidf(zb[3 * U + u]);
                const float cv = (cp ? fg * cp[u] : 0.0f) + ig * gg;
                zb[u] = ig, zb[U + u] = fg, zb[2 * U + u] = gg, zb[3 * U + u] = og;
                c[o + u] = cv;
                h[o + u] = og * tanhf(cv);
            }
        }
    }
}

/* scratch: dgates (B*T*4U), dh_carry (B*U), dc_carry (B*U). */
size_t lstm_scratch_size(int B, int T, int I, int U) {
    (void)I;
    return (size_t)B * T * 4 * U + 2 * (size_t)B * U;
}

void lstm_backward(float *dx, float *dkernel, float *drecurrent_kernel, float *dbias, float *scratch,
                   const float *dh, const float *x, const float *h, const float *c, const float *gates,
                   const float *kernel, const float *recurrent_kernel, int B, int T, int I, int U) {
    const int G = 4 * U;
    const size_t rows = (size_t)B * T;
    float *dgates = scratch;                       /* (B, T, 4U) pre-activation gradients */
    float *dh_carry = dgates + rows * G;           /* (B, U): dL/dh_t from step t+1 */
    float *dc_carry = dh_carry + (size_t)B * U;    /* (B, U): dL/dc_t from step t+1 */
    memset(dh_carry, 0, 2 * (size_t)B * U * sizeof(float));

    for (int t = T - 1; t >= 0; t--) {
        for (int b = 0; b < B; b++) {
            const size_t o = ((size_t)b * T + t) * U;
            const float *gb = gates + ((size_t)b * T + t) * G;
            float *dz = dgates + ((size_t)b * T + t) * G;
            float *dhc = dh_carry + (size_t)b * U, *dcc = dc_carry + (size_t)b * U;
            for (int u = 0; u < U; u++) {
                const float ig = gb[u], fg = gb[U + u], gg = gb[2 * U + u], og = gb[3 * U + u];
                const float tc = tanhf(c[o + u]);
                const float dht = dh[o + u] + dhc[u];
                const float dct = dcc[u] + dht * og * (1.0f - tc * tc);
                const float cprev = t > 0 ? c[o - U + u] : 0.0f;
                dz[u] = dct * gg * ig * (1.0f - ig);
                dz[U + u] = dct * cprev * fg * (1.0f - fg);
                dz[2 * U + u] = dct * ig * (1.0f - gg * gg);
                dz[3 * U + u] = dht * tc * og * (1.0f - og);
                dcc[u] = dct * fg;
            }
        }
        if (t > 0) {
            /* dh_{t-1} = dz_t R^T; dR += h_{t-1}^T dz_t */
            const float *dzt = dgates + (size_t)t * G;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, U, G, 1.0f, dzt, T * G, recurrent_kernel,
                        G, 0.0f, dh_carry, U);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, U, G, B, 1.0f, h + (size_t)(t - 1) * U, T * U,
                        dzt, T * G, 1.0f, drecurrent_kernel, G);
        }
    }
    /* dW += x^T dgates; db += column sums; dx = dgates W^T */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, I, G, (int)rows, 1.0f, x, I, dgates, G, 1.0f,
                dkernel, G);
    for (int g = 0; g < G; g++) {
        double s = 0.0;
        for (size_t r = 0; r < rows; r++) s += dgates[r * G + g];
        dbias[g] += (float)s;
    }
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, I, G, 1.0f, dgates, G, kernel, G, 0.0f,
                    dx, I);
}
