/* TEMPORARY: LSTM and attention layers of host/layers/layers.h, written by the model helper so
 * that the model links and its whole-network tests run before the `rnn` branch lands. Delete
 * this file when merging `rnn` (its host/layers/lstm.c and attention.c define the same symbols,
 * so the link fails loudly until this file goes). Plain loops + cblas, single pass, no threads.
 * lstm scratch: dz (B,T,4U) + dh_next (B,U) + dc_next (B,U). */
#include <cblas.h>
#undef I
#include <math.h>
#include <string.h>

#include "layers/layers.h"
#include "ser/error.h"

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

size_t lstm_scratch_size(int B, int T, int I, int U) {
    (void)I;
    return (size_t)B * T * 4 * U + 2 * (size_t)B * U;
}

void lstm_forward(float *h, float *c, float *gates, const float *x, const float *kernel, const float *rk,
                  const float *bias, int B, int T, int I, int U) {
    const int G = 4 * U;
    /* gates (B*T, 4U) = x (B*T, I) @ kernel (I, 4U) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B * T, G, I, 1.0f, x, I, kernel, G, 0.0f, gates, G);
    for (int t = 0; t < T; t++) {
        if (t > 0)   /* += h_{t-1} (B, U) @ rk (U, 4U) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, G, U, 1.0f, h + (size_t)(t - 1) * U, T * U, rk, G,
                        1.0f, gates + (size_t)t * G, T * G);
        for (int b = 0; b < B; b++) {
            float *z = gates + ((size_t)b * T + t) * G;
            float *ct = c + ((size_t)b * T + t) * U, *ht = h + ((size_t)b * T + t) * U;
            const float *cp = t > 0 ? ct - U : NULL;
            for (int j = 0; j < U; j++) {
                const float ig = sigm(z[j] + bias[j]), fg = sigm(z[U + j] + bias[U + j]);
                const float gg = tanhf(z[2 * U + j] + bias[2 * U + j]), og = sigm(z[3 * U + j] + bias[3 * U + j]);
                z[j] = ig, z[U + j] = fg, z[2 * U + j] = gg, z[3 * U + j] = og;
                ct[j] = (cp ? fg * cp[j] : 0.0f) + ig * gg;
                ht[j] = og * tanhf(ct[j]);
            }
        }
    }
}

void lstm_backward(float *dx, float *dkernel, float *drk, float *dbias, float *scratch, const float *dh_in,
                   const float *x, const float *h, const float *c, const float *gates, const float *kernel,
                   const float *rk, int B, int T, int I, int U) {
    const int G = 4 * U;
    float *dz = scratch, *dhn = scratch + (size_t)B * T * G, *dcn = dhn + (size_t)B * U;
    memset(dhn, 0, 2 * (size_t)B * U * sizeof(float));
    for (int t = T - 1; t >= 0; t--) {
        for (int b = 0; b < B; b++) {
            const float *z = gates + ((size_t)b * T + t) * G;
            const float *ct = c + ((size_t)b * T + t) * U, *dht = dh_in + ((size_t)b * T + t) * U;
            float *d = dz + ((size_t)b * T + t) * G, *dhb = dhn + (size_t)b * U, *dcb = dcn + (size_t)b * U;
            for (int j = 0; j < U; j++) {
                const float ig = z[j], fg = z[U + j], gg = z[2 * U + j], og = z[3 * U + j];
                const float tc = tanhf(ct[j]), dh = dht[j] + dhb[j];
                const float dc = dh * og * (1.0f - tc * tc) + dcb[j];
                const float cp = t > 0 ? ct[j - U] : 0.0f;
                d[j] = dc * gg * ig * (1.0f - ig);
                d[U + j] = dc * cp * fg * (1.0f - fg);
                d[2 * U + j] = dc * ig * (1.0f - gg * gg);
                d[3 * U + j] = dh * tc * og * (1.0f - og);
                dcb[j] = dc * fg;
            }
        }
        /* dh_{t-1} (B, U) = dz_t (B, 4U) @ rk^T */
        if (t > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, U, G, 1.0f, dz + (size_t)t * G, T * G, rk, G, 0.0f,
                        dhn, U);
    }
    for (int t = 1; t < T; t++)   /* drk += h_{t-1}^T dz_t */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, U, G, B, 1.0f, h + (size_t)(t - 1) * U, T * U,
                    dz + (size_t)t * G, T * G, 1.0f, drk, G);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, I, G, B * T, 1.0f, x, I, dz, G, 1.0f, dkernel, G);
    for (size_t r = 0; r < (size_t)B * T; r++)
        for (int j = 0; j < G; j++) dbias[j] += dz[r * G + j];
    if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B * T, I, G, 1.0f, dz, G, kernel, G, 0.0f, dx, I);
}

void attention_forward(float *out, float *u, float *a, const float *x, const float *W, const float *b,
                       const float *Uv, int B, int T, int D, int A) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B * T, A, D, 1.0f, x, D, W, A, 0.0f, u, A);
    for (int s = 0; s < B; s++) {
        float *as = a + (size_t)s * T, mx = -INFINITY, sum = 0.0f;
        for (int t = 0; t < T; t++) {
            float *ut = u + ((size_t)s * T + t) * A, sc = 0.0f;
            for (int k = 0; k < A; k++) {
                ut[k] = tanhf(ut[k] + b[k]);
                sc += ut[k] * Uv[k];
            }
            as[t] = sc;
            if (sc > mx) mx = sc;
        }
        for (int t = 0; t < T; t++) sum += (as[t] = expf(as[t] - mx));
        for (int t = 0; t < T; t++) as[t] /= sum;
        float *o = out + (size_t)s * D;
        memset(o, 0, (size_t)D * sizeof(float));
        for (int t = 0; t < T; t++)
            for (int k = 0; k < D; k++) o[k] += as[t] * x[((size_t)s * T + t) * D + k];
    }
}

void attention_backward(float *dx, float *dW, float *db, float *dU, const float *dout, const float *x,
                        const float *u, const float *a, const float *W, const float *Uv, int B, int T, int D, int A) {
    float dz[64 * 64];   /* (T, A) of one sample; asserted small */
    SER_ASSERT((size_t)T * A <= sizeof dz / sizeof dz[0] && T <= 64);
    for (int s = 0; s < B; s++) {
        const float *as = a + (size_t)s * T, *dos = dout + (size_t)s * D;
        float da[64], dot = 0.0f;
        for (int t = 0; t < T; t++) {
            float v = 0.0f;
            for (int k = 0; k < D; k++) v += dos[k] * x[((size_t)s * T + t) * D + k];
            da[t] = v;
            dot += as[t] * v;
        }
        for (int t = 0; t < T; t++) {
            const float ds = as[t] * (da[t] - dot);
            const float *ut = u + ((size_t)s * T + t) * A;
            for (int k = 0; k < A; k++) {
                dU[k] += ut[k] * ds;
                dz[t * A + k] = ds * Uv[k] * (1.0f - ut[k] * ut[k]);
                db[k] += dz[t * A + k];
            }
            float *dxt = dx + ((size_t)s * T + t) * D;
            const float *xt = x + ((size_t)s * T + t) * D;
            for (int i = 0; i < D; i++) {
                float v = as[t] * dos[i];
                for (int k = 0; k < A; k++) {
                    v += dz[t * A + k] * W[(size_t)i * A + k];
                    dW[(size_t)i * A + k] += xt[i] * dz[t * A + k];
                }
                dxt[i] = v;
            }
        }
    }
}
