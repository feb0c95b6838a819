/* Internals of the cuDNN graph (backend) API ops of kernels/cudnn_ops.h, shared by
 * kernels/cudnn_graph.c (context, tensors, engine choice, plan cache, workspace, execute),
 * kernels/cudnn_conv.c and kernels/cudnn_bn.c. Not a public header: tests include it to see
 * which engine (or fallback) each op got.
 *
 * One plan per (op, shape), built on the first call and kept for the context's life together
 * with every descriptor it refers to (the backend does not promise that a finalized plan
 * survives the destruction of its engine config / operation graph, so none is destroyed early).
 *
 * Device: the operation graph gets no handle (CUDNN_ATTR_OPERATIONGRAPH_HANDLE and
 * CUDNN_ATTR_EXECUTION_PLAN_HANDLE are deprecated in cuDNN 9.19 and the build makes deprecation
 * errors); the heuristics and the plans get a CUDNN_BACKEND_DEVICEPROP_DESCRIPTOR made from the
 * handle (cuDNN >= 9.8), and cudnnBackendExecute gets the handle (hence the stream). */
#ifndef SER_CUDNN_GRAPH_H
#define SER_CUDNN_GRAPH_H

#include <stdint.h>

#include <cublas_v2.h>

#include "cudnn_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SER_CG_CONV_FWD,
    SER_CG_CONV_BWD_DATA,
    SER_CG_CONV_BWD_FILTER,
    SER_CG_BN_FWD_TRAIN,
    SER_CG_BN_FWD_INFER,
    SER_CG_BN_BWD,
    SER_CG_NOPS
} ser_cg_op;

#define SER_CG_MAX_DESC 64 /* descriptors one plan keeps alive */
#define SER_CG_MAX_UIDS 16 /* tensors of one graph */
#define SER_CG_SHAPE 6     /* conv: B, H, W, Cin, Cout, K; BN: N, C */

typedef struct ser_cg_plan {
    int op;                  /* ser_cg_op */
    int shape[SER_CG_SHAPE]; /* the cache key with op */
    int fallback;            /* 1: the op runs ser's own kernels (BN) / im2col + cuBLAS (conv); why says why */
    int checked;             /* BN: the engine's first run agreed with ser's kernels (check_diff) */
    double check_diff;       /* that run's largest difference, relative to each tensor's max |value| */
    char why[256];           /* the fallback's reason (the refusal, the failed run, the wrong numbers) */
    cudnnBackendDescriptor_t plan;
    int64_t workspace; /* bytes the plan needs */
    int64_t engine;    /* global engine index of the chosen config (for messages) */
    int strict;        /* 1: chosen among deterministic, non-FFT/Winograd configs */
    int heur_mode;     /* cudnnBackendHeurMode_t the config came from */
    int n_uids;
    int64_t uids[SER_CG_MAX_UIDS];
    float by_value[SER_CG_MAX_UIDS]; /* host values of by-value scalar tensors (epsilon, factor) */
    unsigned char is_by_value[SER_CG_MAX_UIDS];
    int n_desc;
    cudnnBackendDescriptor_t desc[SER_CG_MAX_DESC];
    /* The variant pack of the last call: rebuilt only when a pointer changes (the backend's
     * arena gives the same pointers every step, so steady state creates no descriptor). */
    cudnnBackendDescriptor_t vpack;
    void *vp_ptrs[SER_CG_MAX_UIDS];
    void *vp_ws;
} ser_cg_plan;

struct ser_cudnn {
    cudnnHandle_t handle;
    cudaStream_t stream;
    int allow_tf32;
    int verbose;        /* SER_CUDNN_VERBOSE=1: one stderr line per plan built */
    int force_fallback; /* tests: BN ops skip cuDNN and use ser's kernels */
    int force_conv_fallback; /* tests: convolutions skip cuDNN and use im2col + cuBLAS GEMM */
    int inject_bn_fault;     /* tests: a cuDNN BN engine's first run gives a wrong output row */
    cublasHandle_t blas;     /* the convolution fallback's GEMMs (made on its first use) */
    void *blas_ws;           /* its workspace (capturable GEMMs) */
    float *cols;             /* the convolution fallback's im2col matrix */
    size_t cols_floats;
    cudnnBackendDescriptor_t devprop;
    ser_cg_plan **plans;
    int n_plans, cap_plans;
    void *workspace;
    size_t ws_bytes;
    float *scratch; /* KRSC filter copies, BN inference inverse std, BN running-stat slots */
    size_t scratch_floats;
    double *partials; /* BN fallback: per-group partial sums */
    size_t partial_doubles;
};

/* Cache lookup (NULL when absent) and a new, empty plan appended to the cache. */
ser_cg_plan *ser_cg_find(ser_cudnn *c, int op, const int shape[SER_CG_SHAPE]);
int ser_cg_new(ser_cudnn *c, int op, const int shape[SER_CG_SHAPE], ser_cg_plan **out, ser_error *err);
/* Removes a plan whose building failed (the next call tries again and reports again). */
void ser_cg_drop(ser_cudnn *c, ser_cg_plan *p);

/* A descriptor owned by plan p (destroyed with the context). */
int ser_cg_desc(ser_cg_plan *p, cudnnBackendDescriptorType_t type, cudnnBackendDescriptor_t *out, ser_error *err);
/* A finalized float32 tensor: 4 dims and strides in cuDNN's logical order (N, C, H, W), 16-byte
 * aligned device data; or, with by_value != NULL, a host scalar (epsilon, factor) whose value is
 * copied into the plan. The uid is appended to p->uids: the variant pack order. */
int ser_cg_tensor(ser_cg_plan *p, cudnnBackendDescriptor_t *out, int64_t uid, const int64_t dims[4],
                  const int64_t strides[4], const float *by_value, ser_error *err);
/* Operation graph of the one op, heuristics (mode A, then FALLBACK), then the first engine
 * config that finalizes into a plan: first among configs with no TF32/down-convert (unless the
 * context allows TF32), no reduced-precision reduction, deterministic, no FFT/Winograd; then
 * among those that are only non-deterministic or FFT/Winograd. Grows the workspace.
 * Returns 0 with p->plan set; 1 when no engine takes the graph (err says which op, shape and the
 * last status); -1 on any other failure. */
int ser_cg_build(ser_cudnn *c, ser_cg_plan *p, cudnnBackendDescriptor_t op, const char *what, ser_error *err);
/* Runs plan p on c's stream; dev_ptrs[i] is the device pointer of p->uids[i] (ignored for
 * by-value tensors: the plan's own copy is used). Device pointers must be 16-byte aligned. */
int ser_cg_execute(ser_cudnn *c, ser_cg_plan *p, void *const *dev_ptrs, const char *what, ser_error *err);
/* Grows c->scratch to at least floats (only while building plans: never during capture). */
int ser_cg_scratch(ser_cudnn *c, size_t floats, const char *what, ser_error *err);
int ser_cg_partials(ser_cudnn *c, size_t doubles, const char *what, ser_error *err);
/* Grows c->cols (the convolution fallback's im2col matrix), same rule. */
int ser_cg_cols(ser_cudnn *c, size_t floats, const char *what, ser_error *err);

/* For tests: route the BN ops to ser's kernels (1) or cuDNN first (0). Set before the first call
 * of a shape: plans already built keep their choice. */
void ser_cudnn_force_bn_fallback(ser_cudnn *c, int on);
/* For tests: the convolutions run im2col + cuBLAS GEMM (1) instead of a cuDNN engine (0); same
 * rule. */
void ser_cudnn_force_conv_fallback(ser_cudnn *c, int on);
/* For tests: the first run of every cuDNN BN engine built from now on writes a wrong first row,
 * which the first-run check must catch (the op then falls back). */
void ser_cudnn_inject_bn_fault(ser_cudnn *c, int on);
/* The path a plan's op takes: "cuDNN engine 12 (...)", "ser kernels (why)" (for messages). */
void ser_cg_path(const ser_cg_plan *p, char *buf, size_t n);

#ifdef __cplusplus
}
#endif

#endif
