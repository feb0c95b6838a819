/* Batch normalisation through the cuDNN graph API (kernels/cudnn_ops.h): NORM_FORWARD /
 * NORM_BACKWARD in CUDNN_BATCH_NORM mode, float32, channels last.
 *
 * Shapes: the N = B*H*W rows of C channels are described as (n, C, h, 1) with NHWC strides
 * (C h, 1, C, C), n the largest divisor of N up to 64 (the batch, for the network's shapes) and
 * h = N / n: batch norm reduces over n, h and w alike, and an image-like shape keeps us on the
 * paths cuDNN's engines are tuned for. Per-channel tensors are (1, C, 1, 1), strides (C, 1, C, C);
 * epsilon and the averaging factor are by-value (1, 1, 1, 1) host scalars.
 *
 * Moving statistics: cuDNN's running average uses exp_avg_factor = 1 - Keras's momentum and
 * feeds it the UNBIASED batch variance (N / (N - 1)); Keras 3 feeds the biased one
 * (host/model/layers/batchnorm.c). So cuDNN's running outputs are not used: the graph gets running
 * stats in scratch slots (factor 1, inputs zero, outputs ignored: the pattern every engine
 * supports), and ser_k_bn_moving_update recomputes the biased variance from the inverse std the
 * graph normalised with (var = 1/rstd^2 - eps, in double) and applies Keras's update with
 * keras_one_minus(momentum). Its relative error is about 1e-7 (var + eps) / var: below 1e-6
 * while the batch variance is above eps / 10.
 *
 * Inference: cuDNN's inference phase takes the inverse std, not the variance: ser_k_bn_inv_std
 * computes 1 / sqrt(moving_var + eps) into scratch first.
 *
 * Fallback: when cuDNN offers no engine for a shape (standalone fp32 batch norm has not always
 * had one), the op runs ser's kernels (kernels/cudnn_ops_kernels.cu: the CPU's float expressions,
 * fixed-order double sums) and says so once on stderr; ser_cudnn_describe lists the choice. */
#include <stdint.h>
#include <stdio.h>

#include "cuda_check.h"
#include "cudnn_graph.h"
#include "cudnn_ops_kernels.h"
#include "layers/layers.h"

enum {
    UID_X = 1, UID_SCALE, UID_BIAS, UID_MEAN, UID_INV_VAR, UID_Y, UID_EPS, UID_FACTOR,
    UID_IN_RMEAN, UID_IN_RVAR, UID_OUT_RMEAN, UID_OUT_RVAR,
    UID_DY, UID_DSCALE, UID_DBIAS, UID_DX
};

static void rows_desc(int64_t d[4], int64_t s[4], int N, int C) {
    int n = 1;
    for (int k = 64; k >= 1; k--)
        if (N % k == 0) {
            n = k;
            break;
        }
    const int h = N / n;
    d[0] = n, d[1] = C, d[2] = h, d[3] = 1;
    s[0] = (int64_t)C * h, s[1] = 1, s[2] = C, s[3] = C;
}

/* Floats per running-stat slot in scratch: C rounded up to 4 (16-byte aligned slots). */
static size_t slot_floats(int C) { return ((size_t)C + 3) & ~(size_t)3; }

static void chan_desc(int64_t d[4], int64_t s[4], int C) {
    d[0] = 1, d[1] = C, d[2] = 1, d[3] = 1;
    s[0] = C, s[1] = 1, s[2] = C, s[3] = C;
}

#define SET1(desc, attr, type, ptr) SER_CUDNN(cudnnBackendSetAttribute(desc, attr, type, 1, ptr))
#define SETD(desc, attr, t) SER_CUDNN(cudnnBackendSetAttribute(desc, attr, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &(t)))

/* Graph of one BN op; variant-pack order is the order tensors are made here. */
static int bn_graph(ser_cudnn *c, ser_cg_plan *p, float eps, cudnnBackendDescriptor_t *op, ser_error *err) {
    const int N = p->shape[0], C = p->shape[1];
    int64_t dr[4], sr[4], dc[4], sc[4];
    const int64_t d1[4] = {1, 1, 1, 1}, s1[4] = {1, 1, 1, 1};
    rows_desc(dr, sr, N, C);
    chan_desc(dc, sc, C);
    const cudnnBackendNormMode_t mode = CUDNN_BATCH_NORM;
    cudnnBackendDescriptor_t x, scale, bias, mean, inv, y, o;
    if (p->op == SER_CG_BN_FWD_TRAIN || p->op == SER_CG_BN_FWD_INFER) {
        if (ser_cg_tensor(p, &x, UID_X, dr, sr, NULL, err) || ser_cg_tensor(p, &scale, UID_SCALE, dc, sc, NULL, err) ||
            ser_cg_tensor(p, &bias, UID_BIAS, dc, sc, NULL, err) || ser_cg_tensor(p, &mean, UID_MEAN, dc, sc, NULL, err) ||
            ser_cg_tensor(p, &inv, UID_INV_VAR, dc, sc, NULL, err) || ser_cg_tensor(p, &y, UID_Y, dr, sr, NULL, err))
            return -1;
        if (ser_cg_desc(p, CUDNN_BACKEND_OPERATION_NORM_FORWARD_DESCRIPTOR, &o, err)) return -1;
        const cudnnBackendNormFwdPhase_t phase =
            p->op == SER_CG_BN_FWD_TRAIN ? CUDNN_NORM_FWD_TRAINING : CUDNN_NORM_FWD_INFERENCE;
        SET1(o, CUDNN_ATTR_OPERATION_NORM_FWD_MODE, CUDNN_TYPE_NORM_MODE, &mode);
        SET1(o, CUDNN_ATTR_OPERATION_NORM_FWD_PHASE, CUDNN_TYPE_NORM_FWD_PHASE, &phase);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_FWD_XDESC, x);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_FWD_SCALE_DESC, scale);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_FWD_BIAS_DESC, bias);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_FWD_MEAN_DESC, mean);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_FWD_INV_VARIANCE_DESC, inv);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_FWD_YDESC, y);
        if (p->op == SER_CG_BN_FWD_TRAIN) {
            const float factor = 1.0f; /* running outputs = this batch's statistics (unused) */
            cudnnBackendDescriptor_t te, tf, irm, irv, orm, orv;
            if (ser_cg_tensor(p, &te, UID_EPS, d1, s1, &eps, err) ||
                ser_cg_tensor(p, &tf, UID_FACTOR, d1, s1, &factor, err) ||
                ser_cg_tensor(p, &irm, UID_IN_RMEAN, dc, sc, NULL, err) ||
                ser_cg_tensor(p, &irv, UID_IN_RVAR, dc, sc, NULL, err) ||
                ser_cg_tensor(p, &orm, UID_OUT_RMEAN, dc, sc, NULL, err) ||
                ser_cg_tensor(p, &orv, UID_OUT_RVAR, dc, sc, NULL, err))
                return -1;
            SETD(o, CUDNN_ATTR_OPERATION_NORM_FWD_EPSILON_DESC, te);
            SETD(o, CUDNN_ATTR_OPERATION_NORM_FWD_EXP_AVG_FACTOR_DESC, tf);
            SETD(o, CUDNN_ATTR_OPERATION_NORM_FWD_INPUT_RUNNING_MEAN_DESC, irm);
            SETD(o, CUDNN_ATTR_OPERATION_NORM_FWD_INPUT_RUNNING_VAR_DESC, irv);
            SETD(o, CUDNN_ATTR_OPERATION_NORM_FWD_OUTPUT_RUNNING_MEAN_DESC, orm);
            SETD(o, CUDNN_ATTR_OPERATION_NORM_FWD_OUTPUT_RUNNING_VAR_DESC, orv);
        }
    } else {
        cudnnBackendDescriptor_t dy, dscale, dbias, dx;
        if (ser_cg_tensor(p, &x, UID_X, dr, sr, NULL, err) || ser_cg_tensor(p, &dy, UID_DY, dr, sr, NULL, err) ||
            ser_cg_tensor(p, &scale, UID_SCALE, dc, sc, NULL, err) ||
            ser_cg_tensor(p, &mean, UID_MEAN, dc, sc, NULL, err) ||
            ser_cg_tensor(p, &inv, UID_INV_VAR, dc, sc, NULL, err) ||
            ser_cg_tensor(p, &dscale, UID_DSCALE, dc, sc, NULL, err) ||
            ser_cg_tensor(p, &dbias, UID_DBIAS, dc, sc, NULL, err) || ser_cg_tensor(p, &dx, UID_DX, dr, sr, NULL, err))
            return -1;
        if (ser_cg_desc(p, CUDNN_BACKEND_OPERATION_NORM_BACKWARD_DESCRIPTOR, &o, err)) return -1;
        SET1(o, CUDNN_ATTR_OPERATION_NORM_BWD_MODE, CUDNN_TYPE_NORM_MODE, &mode);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_BWD_XDESC, x);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_BWD_DYDESC, dy);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_BWD_SCALE_DESC, scale);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_BWD_MEAN_DESC, mean);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_BWD_INV_VARIANCE_DESC, inv);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_BWD_DSCALE_DESC, dscale);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_BWD_DBIAS_DESC, dbias);
        SETD(o, CUDNN_ATTR_OPERATION_NORM_BWD_DXDESC, dx);
    }
    SER_CUDNN(cudnnBackendFinalize(o));
    (void)c;
    *op = o;
    return 0;
}

/* The cached plan (or fallback decision) of a BN op, with its scratch. */
static int bn_get(ser_cudnn *c, int op, int N, int C, float eps, const char *what, ser_cg_plan **out,
                  ser_error *err) {
    if (N < 1 || C < 1) return ser_fail(err, "cuDNN %s: bad shape N=%d C=%d", what, N, C);
    const int shape[SER_CG_SHAPE] = {N, C, 0, 0, 0, 0};
    ser_cg_plan *p = ser_cg_find(c, op, shape);
    if (p) {
        *out = p;
        return 0;
    }
    if (ser_cg_new(c, op, shape, &p, err)) return -1;
    /* scratch: running-stat slots (4 slot_floats(C)) / inverse std (C) / fallback coefficients (3 C) */
    if (ser_cg_scratch(c, (size_t)4 * slot_floats(C), what, err)) goto fail;
    int rc = 1;
    if (!c->force_fallback) {
        /* Any refusal while describing or planning the graph (cuDNN's batch-norm support surface
         * has changed between releases) falls back, loudly: the line names the call and status. */
        cudnnBackendDescriptor_t o = NULL;
        rc = bn_graph(c, p, eps, &o, err) ? 1 : ser_cg_build(c, p, o, what, err);
        if (rc != 0) {
            fprintf(stderr, "ser cuDNN: %s: %s; using ser's batch-norm kernels for N=%d C=%d\n", what, err->msg, N, C);
            rc = 1;
            if (p->plan) {
                cudnnBackendDestroyDescriptor(p->plan);
                p->plan = NULL;
            }
        }
    }
    if (rc == 1) {
        p->fallback = 1;
        if (ser_cg_partials(c, (size_t)SER_BN_GROUPS * 2 * C, what, err)) goto fail;
    }
    *out = p;
    return 0;
fail:
    ser_cg_drop(c, p);
    return -1;
}

int ser_bn_fwd_train(ser_cudnn *c, float *y, float *saved_mean, float *saved_rstd, float *moving_mean,
                     float *moving_var, const float *x, const float *gamma, const float *beta, int N, int C,
                     float momentum, float eps, ser_error *err) {
    const char *what = "batch norm forward (training)";
    ser_cg_plan *p = NULL;
    if (bn_get(c, SER_CG_BN_FWD_TRAIN, N, C, eps, what, &p, err)) return -1;
    const float one_m = keras_one_minus(momentum);
    if (p->fallback) {
        SER_CU(ser_k_bn_train_stats(saved_mean, saved_rstd, moving_mean, moving_var, c->scratch, c->partials, x,
                                    gamma, beta, N, C, momentum, one_m, eps, c->stream));
        SER_CU(ser_k_bn_apply(y, x, c->scratch, N, C, c->stream));
        return 0;
    }
    if (p->by_value[6] != eps)
        return ser_fail(err, "cuDNN %s: eps %g differs from the %g the plan for N=%d C=%d was built with", what,
                        (double)eps, (double)p->by_value[6], N, C);
    float *rs = c->scratch; /* in mean, in var (zero), out mean, out var: 16-byte aligned slots */
    const size_t sl = slot_floats(C);
    SER_CU(cudaMemsetAsync(rs, 0, 2 * sl * sizeof(float), c->stream));
    void *ptrs[12] = {(void *)x, (void *)gamma, (void *)beta, saved_mean, saved_rstd, y, NULL, NULL,
                      rs, rs + sl, rs + 2 * sl, rs + 3 * sl};
    if (ser_cg_execute(c, p, ptrs, what, err)) return -1;
    SER_CU(ser_k_bn_moving_update(moving_mean, moving_var, saved_mean, saved_rstd, C, momentum, one_m, eps, c->stream));
    return 0;
}

int ser_bn_fwd_infer(ser_cudnn *c, float *y, const float *x, const float *gamma, const float *beta,
                     const float *moving_mean, const float *moving_var, int N, int C, float eps, ser_error *err) {
    const char *what = "batch norm forward (inference)";
    ser_cg_plan *p = NULL;
    if (bn_get(c, SER_CG_BN_FWD_INFER, N, C, eps, what, &p, err)) return -1;
    if (p->fallback) {
        SER_CU(ser_k_bn_infer_coef(c->scratch, gamma, beta, moving_mean, moving_var, C, eps, c->stream));
        SER_CU(ser_k_bn_apply(y, x, c->scratch, N, C, c->stream));
        return 0;
    }
    SER_CU(ser_k_bn_inv_std(c->scratch, moving_var, C, eps, c->stream));
    void *ptrs[6] = {(void *)x, (void *)gamma, (void *)beta, (void *)moving_mean, c->scratch, y};
    return ser_cg_execute(c, p, ptrs, what, err);
}

int ser_bn_bwd(ser_cudnn *c, float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
               const float *saved_mean, const float *saved_rstd, const float *gamma, int N, int C, float eps,
               ser_error *err) {
    const char *what = "batch norm backward";
    ser_cg_plan *p = NULL;
    if (bn_get(c, SER_CG_BN_BWD, N, C, eps, what, &p, err)) return -1;
    if (p->fallback) {
        SER_CU(ser_k_bn_backward(dx, dgamma, dbeta, c->scratch, c->partials, dy, x, saved_mean, saved_rstd, gamma, N,
                                 C, c->stream));
        return 0;
    }
    void *ptrs[8] = {(void *)x,          (void *)dy, (void *)gamma, (void *)saved_mean, (void *)saved_rstd,
                     dgamma,             dbeta,      dx};
    return ser_cg_execute(c, p, ptrs, what, err);
}
