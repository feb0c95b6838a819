/* kernels/conv_gemm.h. Shapes: R = B H W image rows, KC = K K Cin; cols (R, KC), w (KC, Cout),
 * y / dy (R, Cout), all row-major. */
#include <limits.h>

#include "conv_gemm.h"
#include "cuda_check.h"
#include "cudnn_ops_kernels.h"

size_t ser_conv_gemm_cols(int B, int H, int W, int Cin, int K) { return (size_t)B * H * W * K * K * Cin; }

/* cuBLAS takes int sizes: R and KC must fit (they do for any shape of the network: R = 332,800). */
static int sizes(int B, int H, int W, int Cin, int K, int *R, int *KC, const char *what, ser_error *err) {
    const long long r = (long long)B * H * W, kc = (long long)K * K * Cin;
    if (B < 1 || H < 1 || W < 1 || Cin < 1 || K < 1 || K % 2 == 0 || r > INT_MAX || kc > INT_MAX)
        return ser_fail(err, "%s: shape B=%d H=%d W=%d Cin=%d K=%d is out of the im2col fallback's range", what, B,
                        H, W, Cin, K);
    *R = (int)r, *KC = (int)kc;
    return 0;
}

int ser_conv_gemm_fwd(cublasHandle_t h, cudaStream_t s, float *cols, float *y, const float *x, const float *w, int B,
                      int H, int W, int Cin, int Cout, int K, ser_error *err) {
    int R, KC;
    if (sizes(B, H, W, Cin, K, &R, &KC, "conv forward (im2col)", err)) return -1;
    const float one = 1.0f, zero = 0.0f;
    SER_CU(ser_k_im2col(cols, x, B, H, W, Cin, K, s));
    /* y^T (Cout, R) = w^T (Cout, KC) cols^T (KC, R) */
    SER_CUBLAS(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, Cout, R, KC, &one, w, Cout, cols, KC, &zero, y, Cout));
    return 0;
}

int ser_conv_gemm_bwd_data(cublasHandle_t h, cudaStream_t s, float *cols, float *dx, const float *dy, const float *w,
                           int B, int H, int W, int Cin, int Cout, int K, ser_error *err) {
    int R, KC;
    if (sizes(B, H, W, Cin, K, &R, &KC, "conv backward data (im2col)", err)) return -1;
    const float one = 1.0f, zero = 0.0f;
    /* dcols (R, KC) = dy (R, Cout) w^T (Cout, KC): dcols^T (KC, R) = w (KC, Cout) dy^T (Cout, R) */
    SER_CUBLAS(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, KC, R, Cout, &one, w, Cout, dy, Cout, &zero, cols, KC));
    SER_CU(ser_k_col2im(dx, cols, B, H, W, Cin, K, s));
    return 0;
}

int ser_conv_gemm_bwd_filter(cublasHandle_t h, cudaStream_t s, float *cols, float *dw, const float *x,
                             const float *dy, int B, int H, int W, int Cin, int Cout, int K, ser_error *err) {
    int R, KC;
    if (sizes(B, H, W, Cin, K, &R, &KC, "conv backward filter (im2col)", err)) return -1;
    const float one = 1.0f, zero = 0.0f;
    SER_CU(ser_k_im2col(cols, x, B, H, W, Cin, K, s));
    /* dw (KC, Cout) = cols^T (KC, R) dy (R, Cout): dw^T (Cout, KC) = dy^T (Cout, R) cols (R, KC) */
    SER_CUBLAS(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, Cout, KC, R, &one, dy, Cout, cols, KC, &zero, dw, Cout));
    return 0;
}
