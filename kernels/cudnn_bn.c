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
 * Fallback: the op runs ser's kernels (kernels/cudnn_ops_kernels.cu: the CPU's float expressions,
 * fixed-order double sums), with one stderr line naming why, when
 *   - cuDNN refuses the graph or offers no engine for the shape (standalone fp32 batch norm has
 *     not always had one; the engines are compiled at run time by NVRTC, so a missing libnvrtc
 *     shows up here: the line then says so), or
 *   - the engine's FIRST RUN fails or disagrees with ser's kernels: the first call of every shape
 *     that got an engine (an eager call: the backend's warm-up step) runs both paths on its own
 *     data, cuDNN's into the outputs and ser's into temporaries, and compares every output
 *     (relative to each tensor's largest value, BN_CHECK_TOL); on a failure or a difference the
 *     plan switches to the fallback for good and ser's results are copied into the outputs.
 * ser_cudnn_describe / ser_cg_path name the path each op took; SER_CUDNN_VERBOSE=1 prints it as
 * it is decided. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "cuda_versions.h"
#include "cudnn_graph.h"
#include "cudnn_ops_kernels.h"
#include "kernels.h"
#include "layers/layers.h"

/* The first-run check's bound: a working engine differs from ser's kernels by float rounding
 * (about 1e-6 of the largest value); a broken one by far more. */
#define BN_CHECK_TOL 1e-3

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
    /* ser's kernels need their partial sums either way: as the fallback, or to check the engine */
    if (ser_cg_partials(c, (size_t)SER_BN_GROUPS * 2 * C, what, err)) goto fail;
    if (c->force_fallback) {
        p->fallback = 1;
        snprintf(p->why, sizeof p->why, "forced");
    } else {
        /* Any refusal while describing or planning the graph (cuDNN's batch-norm support surface
         * has changed between releases) falls back, loudly: the line names the call and status. */
        cudnnBackendDescriptor_t o = NULL;
        const int rc = bn_graph(c, p, eps, &o, err) ? 1 : ser_cg_build(c, p, o, what, err);
        if (rc != 0) {
            ser_cuda_versions v;
            ser_cuda_versions_query(&v);
            p->fallback = 1;
            snprintf(p->why, sizeof p->why, "no cuDNN engine: %.150s%s", err->msg,
                     v.nvrtc < 0 ? "; libnvrtc not found, so cuDNN cannot compile its runtime engines" : "");
            fprintf(stderr, "ser cuDNN: %s N=%d C=%d: %s; using ser's batch-norm kernels\n", what, N, C, p->why);
            if (p->plan) {
                cudnnBackendDestroyDescriptor(p->plan);
                p->plan = NULL;
            }
        }
    }
    if (c->verbose && p->fallback) fprintf(stderr, "ser cuDNN: %s N=%d C=%d: ser kernels (%s)\n", what, N, C, p->why);
    *out = p;
    return 0;
fail:
    ser_cg_drop(c, p);
    return -1;
}

/* ---- the first run of an engine, checked against ser's kernels --------------------------------- */

/* Largest |got - want| / max |want| over k device tensor pairs (n[i] floats each); +inf when a
 * value is not finite. Synchronises the stream. */
static int bn_diff(ser_cudnn *c, float *const *got, float *const *want, const size_t *n, int k, double *worst,
                   ser_error *err) {
    SER_CU(cudaStreamSynchronize(c->stream));
    *worst = 0.0;
    for (int i = 0; i < k; i++) {
        float *h = malloc(2 * n[i] * sizeof *h);
        if (!h) return ser_fail(err, "cuDNN batch norm check: out of host memory (%zu floats)", 2 * n[i]);
        cudaError_t e = cudaMemcpy(h, got[i], n[i] * sizeof *h, cudaMemcpyDeviceToHost);
        if (e == cudaSuccess) e = cudaMemcpy(h + n[i], want[i], n[i] * sizeof *h, cudaMemcpyDeviceToHost);
        double dmax = 0.0, wmax = 0.0;
        for (size_t j = 0; j < n[i] && e == cudaSuccess; j++) {
            const double d = fabs((double)h[j] - h[n[i] + j]);
            dmax = isfinite(d) && dmax < INFINITY ? (d > dmax ? d : dmax) : INFINITY;
            if (fabs((double)h[n[i] + j]) > wmax) wmax = fabs((double)h[n[i] + j]);
        }
        free(h);
        SER_CU(e);
        const double rel = dmax / (wmax > 1e-12 ? wmax : 1e-12);
        if (!(rel <= *worst)) *worst = rel;
    }
    return 0;
}

/* Settles a checked first run: engine_rc is the engine's run (err holds its failure), out[i] the
 * op's outputs, mine[i] ser's results for them. Keeps the engine when it ran and agrees;
 * otherwise switches the plan to the fallback and copies ser's results into the outputs. */
static int bn_settle(ser_cudnn *c, ser_cg_plan *p, int engine_rc, float *const *out, float *const *mine,
                     const size_t *n, int k, const char *what, ser_error *err) {
    double worst = 0.0;
    if (engine_rc != 0) snprintf(p->why, sizeof p->why, "the engine's first run failed: %.200s", err->msg);
    else if (bn_diff(c, out, mine, n, k, &worst, err)) return -1;
    else if (!(worst <= BN_CHECK_TOL))
        snprintf(p->why, sizeof p->why, "engine %lld gave wrong numbers on its first run: %.2e of the largest value "
                 "off ser's kernels (bound %.0e)", (long long)p->engine, worst, BN_CHECK_TOL);
    if (p->why[0]) {
        err->msg[0] = '\0';
        fprintf(stderr, "ser cuDNN: %s N=%d C=%d: %s; using ser's batch-norm kernels\n", what, p->shape[0],
                p->shape[1], p->why);
        p->fallback = 1;
        for (int i = 0; i < k; i++)
            SER_CU(cudaMemcpyAsync(out[i], mine[i], n[i] * sizeof(float), cudaMemcpyDeviceToDevice, c->stream));
        SER_CU(cudaStreamSynchronize(c->stream));
        return 0;
    }
    p->checked = 1;
    p->check_diff = worst;
    if (c->verbose)
        fprintf(stderr, "ser cuDNN: %s N=%d C=%d: cuDNN engine %lld, its first run within %.1e of ser's kernels\n",
                what, p->shape[0], p->shape[1], (long long)p->engine, worst);
    return 0;
}

/* Whether this call is the engine's checked first run: not yet checked, and not being captured
 * (a new plan is never built during a capture, so its first call is eager). */
static int bn_first_run(ser_cudnn *c, const ser_cg_plan *p) {
    if (p->fallback || p->checked) return 0;
    enum cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    return cudaStreamIsCapturing(c->stream, &st) == cudaSuccess && st == cudaStreamCaptureStatusNone;
}

/* tests (ser_cudnn_inject_bn_fault): the engine's first output row is made wrong */
static int bn_fault(ser_cudnn *c, float *y, int C, ser_error *err) {
    if (c->inject_bn_fault) SER_CU(ser_k_fill(y, 1234.5f, (size_t)C, c->stream));
    return 0;
}

static int bn_fwd_train_engine(ser_cudnn *c, ser_cg_plan *p, float *y, float *saved_mean, float *saved_rstd,
                               float *moving_mean, float *moving_var, const float *x, const float *gamma,
                               const float *beta, int C, float momentum, float eps, const char *what, ser_error *err);

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
    if (!bn_first_run(c, p))
        return bn_fwd_train_engine(c, p, y, saved_mean, saved_rstd, moving_mean, moving_var, x, gamma, beta, C,
                                   momentum, eps, what, err);
    /* checked first run: ser's kernels from the same moving statistics into temporaries */
    const size_t n = (size_t)N * C;
    float *t = NULL;
    SER_CU(cudaMalloc((void **)&t, (n + 4 * (size_t)C) * sizeof *t));
    float *t_mm = t + n + 2 * (size_t)C, *t_mv = t_mm + C;
    int rc = -1;
    if (cudaMemcpyAsync(t_mm, moving_mean, C * sizeof *t, cudaMemcpyDeviceToDevice, c->stream) == cudaSuccess &&
        cudaMemcpyAsync(t_mv, moving_var, C * sizeof *t, cudaMemcpyDeviceToDevice, c->stream) == cudaSuccess) {
        const int erc = bn_fwd_train_engine(c, p, y, saved_mean, saved_rstd, moving_mean, moving_var, x, gamma, beta, C,
                                            momentum, eps, what, err) || bn_fault(c, y, C, err);
        if (ser_k_bn_train_stats(t + n, t + n + C, t_mm, t_mv, c->scratch, c->partials, x, gamma, beta, N, C, momentum,
                                 one_m, eps, c->stream) == cudaSuccess &&
            ser_k_bn_apply(t, x, c->scratch, N, C, c->stream) == cudaSuccess) {
            float *out[5] = {y, saved_mean, saved_rstd, moving_mean, moving_var};
            float *mine[5] = {t, t + n, t + n + C, t_mm, t_mv};
            const size_t sz[5] = {n, (size_t)C, (size_t)C, (size_t)C, (size_t)C};
            rc = bn_settle(c, p, erc, out, mine, sz, 5, what, err);
        } else {
            rc = ser_fail(err, "cuDNN %s: ser's batch-norm kernels failed to launch", what);
        }
    } else {
        rc = ser_fail(err, "cuDNN %s: copying the moving statistics for the first-run check failed", what);
    }
    cudaStreamSynchronize(c->stream);
    cudaFree(t);
    return rc;
}

/* The engine's training forward (+ the Keras moving-statistics update). */
static int bn_fwd_train_engine(ser_cudnn *c, ser_cg_plan *p, float *y, float *saved_mean, float *saved_rstd,
                               float *moving_mean, float *moving_var, const float *x, const float *gamma,
                               const float *beta, int C, float momentum, float eps, const char *what, ser_error *err) {
    const float one_m = keras_one_minus(momentum);
    if (p->by_value[6] != eps)
        return ser_fail(err, "cuDNN %s: eps %g differs from the %g the plan for N=%d C=%d was built with", what,
                        (double)eps, (double)p->by_value[6], p->shape[0], C);
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
    const int first = bn_first_run(c, p);
    int erc = 0;
    {
        SER_CU(ser_k_bn_inv_std(c->scratch, moving_var, C, eps, c->stream));
        void *ptrs[6] = {(void *)x, (void *)gamma, (void *)beta, (void *)moving_mean, c->scratch, y};
        erc = ser_cg_execute(c, p, ptrs, what, err);
        if (!first) return erc;
        if (!erc) erc = bn_fault(c, y, C, err);
    }
    /* checked first run: ser's kernels into a temporary */
    const size_t n = (size_t)N * C;
    float *t = NULL;
    SER_CU(cudaMalloc((void **)&t, n * sizeof *t));
    int rc;
    if (ser_k_bn_infer_coef(c->scratch, gamma, beta, moving_mean, moving_var, C, eps, c->stream) == cudaSuccess &&
        ser_k_bn_apply(t, x, c->scratch, N, C, c->stream) == cudaSuccess) {
        float *out[1] = {y}, *mine[1] = {t};
        rc = bn_settle(c, p, erc, out, mine, &n, 1, what, err);
    } else {
        rc = ser_fail(err, "cuDNN %s: ser's batch-norm kernels failed to launch", what);
    }
    cudaStreamSynchronize(c->stream);
    cudaFree(t);
    return rc;
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
    const int first = bn_first_run(c, p);
    void *ptrs[8] = {(void *)x,          (void *)dy, (void *)gamma, (void *)saved_mean, (void *)saved_rstd,
                     dgamma,             dbeta,      dx};
    int erc = ser_cg_execute(c, p, ptrs, what, err);
    if (!first) return erc;
    if (!erc) erc = bn_fault(c, dx, C, err);
    /* checked first run: ser's kernels into temporaries */
    const size_t n = (size_t)N * C;
    float *t = NULL;
    SER_CU(cudaMalloc((void **)&t, (n + 2 * (size_t)C) * sizeof *t));
    int rc;
    if (ser_k_bn_backward(t, t + n, t + n + C, c->scratch, c->partials, dy, x, saved_mean, saved_rstd, gamma, N, C,
                          c->stream) == cudaSuccess) {
        float *out[3] = {dx, dgamma, dbeta}, *mine[3] = {t, t + n, t + n + C};
        const size_t sz[3] = {n, (size_t)C, (size_t)C};
        rc = bn_settle(c, p, erc, out, mine, sz, 3, what, err);
    } else {
        rc = ser_fail(err, "cuDNN %s: ser's batch-norm kernels failed to launch", what);
    }
    cudaStreamSynchronize(c->stream);
    cudaFree(t);
    return rc;
}
