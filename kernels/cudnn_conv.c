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
 * as NCHW, and the descriptor is legal. If no engine takes it the error names the shape.
 *
 * Math: the convolution's compute type is FLOAT; TF32 is avoided by refusing engine configs with
 * the TENSOR_CORE / DOWN_CONVERT_INPUTS numerical notes unless ser_cudnn_create allowed TF32
 * (kernels/cudnn_graph.c, note_refused). */
#include <stdint.h>

#include "cuda_check.h"
#include "cudnn_graph.h"
#include "cudnn_ops_kernels.h"

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
    const int rc = ser_cg_build(c, p, o, what, err);
    return rc == 0 ? 0 : -1; /* no engine is an error for convolutions: no fallback */
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
        if (ser_cg_scratch(c, (size_t)K * K * Cin * Cout, what, err) || conv_plan(c, p, op, what, err)) {
            ser_cg_drop(c, p);
            return -1;
        }
    }
    *out = p;
    return 0;
}

int ser_conv_fwd(ser_cudnn *c, float *y, const float *x, const float *w, int B, int H, int W, int Cin, int Cout,
                 int K, ser_error *err) {
    ser_cg_plan *p = NULL;
    if (conv_get(c, SER_CG_CONV_FWD, B, H, W, Cin, Cout, K, "conv forward", &p, err)) return -1;
    SER_CU(ser_k_hwio_to_krsc(c->scratch, w, K, Cin, Cout, c->stream));
    void *ptrs[3] = {(void *)x, c->scratch, y};
    return ser_cg_execute(c, p, ptrs, "conv forward", err);
}

int ser_conv_bwd_data(ser_cudnn *c, float *dx, const float *dy, const float *w, int B, int H, int W, int Cin,
                      int Cout, int K, ser_error *err) {
    ser_cg_plan *p = NULL;
    if (conv_get(c, SER_CG_CONV_BWD_DATA, B, H, W, Cin, Cout, K, "conv backward data", &p, err)) return -1;
    SER_CU(ser_k_hwio_to_krsc(c->scratch, w, K, Cin, Cout, c->stream));
    void *ptrs[3] = {dx, c->scratch, (void *)dy};
    return ser_cg_execute(c, p, ptrs, "conv backward data", err);
}

int ser_conv_bwd_filter(ser_cudnn *c, float *dw, const float *x, const float *dy, int B, int H, int W, int Cin,
                        int Cout, int K, ser_error *err) {
    ser_cg_plan *p = NULL;
    if (conv_get(c, SER_CG_CONV_BWD_FILTER, B, H, W, Cin, Cout, K, "conv backward filter", &p, err)) return -1;
    void *ptrs[3] = {(void *)x, c->scratch, (void *)dy};
    if (ser_cg_execute(c, p, ptrs, "conv backward filter", err)) return -1;
    SER_CU(ser_k_krsc_to_hwio(dw, c->scratch, K, Cin, Cout, c->stream));
    return 0;
}
