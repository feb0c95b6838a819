/* Conv2D forward / backward-data / backward-filter through the cuDNN graph API
 * (kernels/cudnn_ops.h): NHWC float32, stride 1, dilation 1, padding same (odd K),
 * cross-correlation (what Keras computes).
 *
 * Layouts in cuDNN's logical (N, C, H, W) order with strides:
 *   x  (B, Cin, H, W)    strides (H W Cin, 1, W Cin, Cin)   = NHWC
 *   y  (B, Cout, H, W)   strides (H W Cout, 1, W Cout, Cout)
 *   w  (Cout, Cin, K, K) strides (K K Cin, 1, K Cin, Cin)   = KRSC, cuDNN's "NHWC filter"
 * Keras keeps the kernel as HWIO (K, K, Cin, Cout): strides (1, Cout, K Cin Cout, Cin Cout) in
 * the same logical order, which cuDNN's NHWC engines do not take (the filter must share the
 * image's channels-last layout). So every op copies the kernel to KRSC in the context's scratch
 * (36,864 floats for 3x3x64x64: a few microseconds) and the weight gradient comes back the same
 * way.
 *
 * Cin = 1 (the first conv): the NHWC strides above are the packed ones cuDNN's own frontend
 * writes for a channels-last tensor with one channel ((H W, 1, W, 1)); the data is the same bytes
 * as NCHW, and the descriptor is legal.
 *
 * Fallback: when cuDNN refuses a shape's graph or offers no engine for it (Cin = 1 is the
 * likeliest), the op runs im2col + cuBLAS GEMM (kernels/conv_gemm.c) for good, with one stderr
 * line naming the refusal; ser_cudnn_describe lists it. ser_cudnn_force_conv_fallback makes every
 * new shape take it (tests).
 *
 * Math: the convolution's compute type is FLOAT; TF32 is avoided by refusing engine configs with
 * the TENSOR_CORE / DOWN_CONVERT_INPUTS numerical notes unless ser_cudnn_create allowed TF32
 * (kernels/cudnn_graph.c, note_refused). */
#include <stdint.h>

#include <stdio.h>

#include "conv_gemm.h"
#include "cuda_check.h"
#include "cudnn_graph.h"
#include "cudnn_ops_kernels.h"

#define CONV_BLAS_WS_BYTES ((size_t)4 << 20) /* the fallback's cuBLAS workspace: capturable GEMMs */

enum { UID_X = 1, UID_W = 2, UID_Y = 3 };

static void nhwc(int64_t dims[4], int64_t str[4], int B, int C, int H, int W) {
    dims[0] = B, dims[1] = C, dims[2] = H, dims[3] = W;
    str[0] = (int64_t)H * W * C, str[1] = 1, str[2] = (int64_t)W * C, str[3] = C;
}

/* Builds the plan of one conv op: tensors in variant-pack order x, w, y (x = dx, y = dy, w = dw
 * as the op reads or writes them). */
static int conv_plan(ser_cudnn *c, ser_cg_plan *p, int op, const char *what, ser_error *err) {
    const int B = p->shape[0], H = p->shape[1], W = p->shape[2], Cin = p->shape[3], Cout = p->shape[4],
              K = p->shape[5];
    int64_t dx[4], sx[4], dw[4], sw[4], dy[4], sy[4];
    nhwc(dx, sx, B, Cin, H, W);
    nhwc(dy, sy, B, Cout, H, W);
    nhwc(dw, sw, Cout, Cin, K, K); /* KRSC */
    cudnnBackendDescriptor_t tx, tw, ty, conv, o;
    if (ser_cg_tensor(p, &tx, UID_X, dx, sx, NULL, err) || ser_cg_tensor(p, &tw, UID_W, dw, sw, NULL, err) ||
        ser_cg_tensor(p, &ty, UID_Y, dy, sy, NULL, err))
        return -1;

    if (ser_cg_desc(p, CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, &conv, err)) return -1;
    const int64_t nsp = 2, pad = (K - 1) / 2;
    const int64_t ones[2] = {1, 1}, pads[2] = {pad, pad};
    const cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    SER_CUDNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &nsp));
    SER_CUDNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp));
    SER_CUDNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode));
    SER_CUDNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, ones));
    SER_CUDNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, ones));
    SER_CUDNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pads));
    SER_CUDNN(cudnnBackendSetAttribute(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pads));
    SER_CUDNN(cudnnBackendFinalize(conv));

    const float alpha = 1.0f, beta = 0.0f; /* outputs overwritten */
    if (op == SER_CG_CONV_FWD) {
        if (ser_cg_desc(p, CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, &o, err)) return -1;
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tx));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tw));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &ty));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta));
    } else if (op == SER_CG_CONV_BWD_DATA) {
        if (ser_cg_desc(p, CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR, &o, err)) return -1;
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tx));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tw));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &ty));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA, CUDNN_TYPE_FLOAT, 1, &beta));
    } else {
        if (ser_cg_desc(p, CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR, &o, err)) return -1;
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tx));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tw));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &ty));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha));
        SER_CUDNN(cudnnBackendSetAttribute(o, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA, CUDNN_TYPE_FLOAT, 1, &beta));
    }
    SER_CUDNN(cudnnBackendFinalize(o));
    return ser_cg_build(c, p, o, what, err) == 0 ? 0 : -1; /* 1 (no engine) too: the caller falls back */
}

/* The fallback's cuBLAS handle on the context's stream (made once) and its im2col matrix. */
static int fallback_ready(ser_cudnn *c, const ser_cg_plan *p, const char *what, ser_error *err) {
    if (!c->blas) {
        SER_CU(cudaMalloc(&c->blas_ws, CONV_BLAS_WS_BYTES));
        SER_CUBLAS(cublasCreate(&c->blas));
        SER_CUBLAS(cublasSetStream(c->blas, c->stream));
        SER_CUBLAS(cublasSetWorkspace(c->blas, c->blas_ws, CONV_BLAS_WS_BYTES));
        /* FP32 GEMMs stay off TF32 unless the context allows it, as the cuDNN engines do */
        SER_CUBLAS(cublasSetMathMode(c->blas, c->allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    }
    const int *s = p->shape;
    return ser_cg_cols(c, ser_conv_gemm_cols(s[0], s[1], s[2], s[3], s[5]), what, err);
}

/* The cached plan of (op, shape), built on first use; the KRSC scratch sized for it. */
static int conv_get(ser_cudnn *c, int op, int B, int H, int W, int Cin, int Cout, int K, const char *what,
                    ser_cg_plan **out, ser_error *err) {
    if (B < 1 || H < 1 || W < 1 || Cin < 1 || Cout < 1 || K < 1 || K % 2 == 0)
        return ser_fail(err, "cuDNN %s: bad shape B=%d H=%d W=%d Cin=%d Cout=%d K=%d (K must be odd)", what, B, H, W,
                        Cin, Cout, K);
    const int shape[SER_CG_SHAPE] = {B, H, W, Cin, Cout, K};
    ser_cg_plan *p = ser_cg_find(c, op, shape);
    if (!p) {
        if (ser_cg_new(c, op, shape, &p, err)) return -1;
        if (ser_cg_scratch(c, (size_t)K * K * Cin * Cout, what, err)) {
            ser_cg_drop(c, p);
            return -1;
        }
        if (c->force_conv_fallback) {
            p->fallback = 1;
            snprintf(p->why, sizeof p->why, "forced");
        } else if (conv_plan(c, p, op, what, err)) {
            p->fallback = 1;
            snprintf(p->why, sizeof p->why, "no cuDNN engine: %.200s", err->msg);
            err->msg[0] = '\0';
            fprintf(stderr, "ser cuDNN: %s B=%d H=%d W=%d Cin=%d Cout=%d K=%d: %s; using im2col + cuBLAS GEMM\n", what,
                    B, H, W, Cin, Cout, K, p->why);
            if (p->plan) {
                cudnnBackendDestroyDescriptor(p->plan);
                p->plan = NULL;
            }
        }
        if (p->fallback && fallback_ready(c, p, what, err)) {
            ser_cg_drop(c, p);
            return -1;
        }
        if (c->verbose && p->fallback)
            fprintf(stderr, "ser cuDNN: %s B=%d H=%d W=%d Cin=%d Cout=%d K=%d: im2col + cuBLAS GEMM (%s)\n", what, B,
                    H, W, Cin, Cout, K, p->why);
    }
    *out = p;
    return 0;
}

int ser_conv_fwd(ser_cudnn *c, float *y, const float *x, const float *w, int B, int H, int W, int Cin, int Cout,
                 int K, ser_error *err) {
    ser_cg_plan *p = NULL;
    if (conv_get(c, SER_CG_CONV_FWD, B, H, W, Cin, Cout, K, "conv forward", &p, err)) return -1;
    if (p->fallback) return ser_conv_gemm_fwd(c->blas, c->stream, c->cols, y, x, w, B, H, W, Cin, Cout, K, err);
    SER_CU(ser_k_hwio_to_krsc(c->scratch, w, K, Cin, Cout, c->stream));
    void *ptrs[3] = {(void *)x, c->scratch, y};
    return ser_cg_execute(c, p, ptrs, "conv forward", err);
}

int ser_conv_bwd_data(ser_cudnn *c, float *dx, const float *dy, const float *w, int B, int H, int W, int Cin,
                      int Cout, int K, ser_error *err) {
    ser_cg_plan *p = NULL;
    if (conv_get(c, SER_CG_CONV_BWD_DATA, B, H, W, Cin, Cout, K, "conv backward data", &p, err)) return -1;
    if (p->fallback) return ser_conv_gemm_bwd_data(c->blas, c->stream, c->cols, dx, dy, w, B, H, W, Cin, Cout, K, err);
    SER_CU(ser_k_hwio_to_krsc(c->scratch, w, K, Cin, Cout, c->stream));
    void *ptrs[3] = {dx, c->scratch, (void *)dy};
    return ser_cg_execute(c, p, ptrs, "conv backward data", err);
}

int ser_conv_bwd_filter(ser_cudnn *c, float *dw, const float *x, const float *dy, int B, int H, int W, int Cin,
                        int Cout, int K, ser_error *err) {
    ser_cg_plan *p = NULL;
    if (conv_get(c, SER_CG_CONV_BWD_FILTER, B, H, W, Cin, Cout, K, "conv backward filter", &p, err)) return -1;
    if (p->fallback) return ser_conv_gemm_bwd_filter(c->blas, c->stream, c->cols, dw, x, dy, B, H, W, Cin, Cout, K, err);
    void *ptrs[3] = {(void *)x, c->scratch, (void *)dy};
    if (ser_cg_execute(c, p, ptrs, "conv backward filter", err)) return -1;
    SER_CU(ser_k_krsc_to_hwio(dw, c->scratch, K, Cin, Cout, c->stream));
    return 0;
}
