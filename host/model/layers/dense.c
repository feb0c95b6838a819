/* Dense: out (B,O) = in (B,I) @ kernel (I,O) + bias (O); kernel row-major as Keras stores it. */
#include <cblas.h>
/* OpenBLAS's cblas.h pulls in <complex.h>, whose macro I would break the (B, I, O) names. */
#undef I

#include "layers/layers.h"

void dense_forward(float *out, const float *in, const float *kernel, const float *bias, int B, int I, int O) {
    for (int b = 0; b < B; b++)
        for (int o = 0; o < O; o++) out[(size_t)b * O + o] = bias ? bias[o] : 0.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, O, I, 1.0f, in, I, kernel, O, 1.0f, out, O);
}

/* dkernel (I,O) += in^T dout; dbias (O) += sum_b dout; din (B,I) = dout kernel^T. */
void dense_backward(float *din, float *dkernel, float *dbias, const float *dout, const float *in,
                    const float *kernel, int B, int I, int O) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, I, O, B, 1.0f, in, I, dout, O, 1.0f, dkernel, O);
    if (dbias) {
        for (int o = 0; o < O; o++) {
            double s = 0.0;
            for (int b = 0; b < B; b++) s += dout[(size_t)b * O + o];
            dbias[o] += (float)s;
        }
    }
    if (din) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, I, O, 1.0f, dout, O, kernel, O, 0.0f, din, I);
}
