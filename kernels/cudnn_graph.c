/* The cuDNN graph (backend) API plumbing shared by kernels/cudnn_conv.c and kernels/cudnn_bn.c:
 * the context, tensor descriptors, engine choice, the plan cache, the one workspace and
 * execution (see kernels/cudnn_graph.h for the contracts). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "cudnn_graph.h"

static const char *const op_names[SER_CG_NOPS] = {"conv_fwd", "conv_bwd_data", "conv_bwd_filter",
                                                  "bn_fwd_train", "bn_fwd_infer", "bn_bwd"};

static int shape_text(char *buf, size_t n, int op, const int *s) {
    if (op <= SER_CG_CONV_BWD_FILTER)
        return snprintf(buf, n, "%s B=%d H=%d W=%d Cin=%d Cout=%d K=%d", op_names[op], s[0], s[1], s[2], s[3],
                        s[4], s[5]);
    return snprintf(buf, n, "%s N=%d C=%d", op_names[op], s[0], s[1]);
}

/* ---- context ------------------------------------------------------------------------------ */

/* The device description heuristics and plans are made for (graphs carry no handle). Made from
 * the handle and the device id, as cuDNN's frontend does; with the id alone if that is refused. */
static int make_devprop(ser_cudnn *c, int with_handle, ser_error *err) {
    int dev = 0;
    SER_CU(cudaGetDevice(&dev));
    const int32_t dev32 = dev;
    SER_CUDNN(cudnnBackendCreateDescriptor(CUDNN_BACKEND_DEVICEPROP_DESCRIPTOR, &c->devprop));
    if (with_handle)
        SER_CUDNN(cudnnBackendSetAttribute(c->devprop, CUDNN_ATTR_DEVICEPROP_HANDLE, CUDNN_TYPE_HANDLE, 1, &c->handle));
    SER_CUDNN(cudnnBackendSetAttribute(c->devprop, CUDNN_ATTR_DEVICEPROP_DEVICE_ID, CUDNN_TYPE_INT32, 1, &dev32));
    SER_CUDNN(cudnnBackendFinalize(c->devprop));
    return 0;
}

/* The parts of a context that can fail, checked with the macros; the caller frees on failure. */
static int create_parts(ser_cudnn *c, ser_error *err) {
    /* device property descriptors (and graphs without a handle) came with cuDNN 9.8 */
    if (cudnnGetVersion() < 90800)
        return ser_fail(err, "cuDNN %zu is loaded; ser's graph-API ops need cuDNN >= 9.8 (built against %d.%d.%d)",
                        cudnnGetVersion(), CUDNN_MAJOR, CUDNN_MINOR, CUDNN_PATCHLEVEL);
    SER_CUDNN(cudnnCreate(&c->handle));
    SER_CUDNN(cudnnSetStream(c->handle, c->stream));
    if (make_devprop(c, 1, err)) {
        if (c->devprop) cudnnBackendDestroyDescriptor(c->devprop);
        c->devprop = NULL;
        if (make_devprop(c, 0, err)) return -1;
    }
    return 0;
}

int ser_cudnn_create(ser_cudnn **out, cudaStream_t stream, int allow_tf32, ser_error *err) {
    *out = NULL;
    ser_cudnn *c = ser_calloc(1, sizeof *c, "cuDNN context", err);
    if (!c) return -1;
    c->stream = stream;
    c->allow_tf32 = allow_tf32 != 0;
    const char *v = getenv("SER_CUDNN_VERBOSE");
    c->verbose = v && *v && strcmp(v, "0") != 0;
    if (create_parts(c, err)) {
        ser_cudnn_destroy(c);
        return -1;
    }
    *out = c;
    return 0;
}

static void plan_free(ser_cg_plan *p) {
    if (p->vpack) cudnnBackendDestroyDescriptor(p->vpack);
    if (p->plan) cudnnBackendDestroyDescriptor(p->plan);
    for (int i = p->n_desc - 1; i >= 0; i--) cudnnBackendDestroyDescriptor(p->desc[i]);
    free(p);
}

void ser_cudnn_destroy(ser_cudnn *c) {
    if (!c) return;
    /* queued work may still read the workspace and the plans */
    cudaStreamSynchronize(c->stream);
    for (int i = 0; i < c->n_plans; i++) plan_free(c->plans[i]);
    free(c->plans);
    if (c->devprop) cudnnBackendDestroyDescriptor(c->devprop);
    cudaFree(c->workspace);
    cudaFree(c->scratch);
    cudaFree(c->partials);
    cudaFree(c->cols);
    cudaFree(c->blas_ws);
    if (c->blas) cublasDestroy(c->blas);
    if (c->handle) cudnnDestroy(c->handle);
    free(c);
}

cudnnHandle_t ser_cudnn_handle(ser_cudnn *c) { return c->handle; }

/* Every device buffer of the context counts: any of them is reallocated only by growing, so a
 * change of this sum is how a caller holding a captured CUDA graph learns its pointers went stale. */
size_t ser_cudnn_workspace_bytes(const ser_cudnn *c) {
    return c->ws_bytes + c->scratch_floats * sizeof(float) + c->partial_doubles * sizeof(double) +
           c->cols_floats * sizeof(float);
}

void ser_cudnn_force_bn_fallback(ser_cudnn *c, int on) { c->force_fallback = on != 0; }
void ser_cudnn_force_conv_fallback(ser_cudnn *c, int on) { c->force_conv_fallback = on != 0; }
void ser_cudnn_inject_bn_fault(ser_cudnn *c, int on) { c->inject_bn_fault = on != 0; }

void ser_cg_path(const ser_cg_plan *p, char *buf, size_t n) {
    const int conv = p->op <= SER_CG_CONV_BWD_FILTER;
    if (p->fallback) {
        snprintf(buf, n, "%s (%s)", conv ? "im2col + cuBLAS GEMM" : "ser kernels", p->why);
        return;
    }
    char chk[96] = "";
    if (!conv)
        snprintf(chk, sizeof chk, "; %s", p->checked ? "its first run agreed with ser's kernels" : "first run not checked yet");
    snprintf(buf, n, "cuDNN engine %lld (heuristics %s, %s), workspace %lld B%s", (long long)p->engine,
             p->heur_mode == CUDNN_HEUR_MODE_A ? "A" : "FALLBACK",
             p->strict ? "deterministic, no FFT/Winograd" : "relaxed: non-deterministic/FFT/Winograd",
             (long long)p->workspace, chk);
}

void ser_cudnn_describe(const ser_cudnn *c, char *buf, size_t n) {
    size_t used = 0;
    if (n) buf[0] = '\0';
    for (int i = 0; i < c->n_plans && used + 1 < n; i++) {
        const ser_cg_plan *p = c->plans[i];
        char sh[128], path[512];
        shape_text(sh, sizeof sh, p->op, p->shape);
        ser_cg_path(p, path, sizeof path);
        const int k = snprintf(buf + used, n - used, "%s: %s\n", sh, path);
        if (k < 0) break;
        used += (size_t)k < n - used ? (size_t)k : n - used - 1;
    }
}

/* ---- device memory growth (plan-building time only) ----------------------------------------- */

/* cudaMalloc/cudaFree are illegal while the stream is being captured: a plan built then is a
 * missing warm-up step, said plainly. */
static int check_not_capturing(ser_cudnn *c, const char *what, ser_error *err) {
    enum cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    SER_CU(cudaStreamIsCapturing(c->stream, &st));
    if (st != cudaStreamCaptureStatusNone)
        return ser_fail(err, "cuDNN %s: needs device memory while the stream is being captured "
                             "(run one uncaptured warm-up step with the same shapes first)", what);
    return 0;
}

/* Device memory, so not ser_grow (ser/grow.h, host realloc): cudaMalloc cannot keep contents or
 * run during a capture, and a plan asks for its exact size once, so there is no doubling. */
static int grow_device(ser_cudnn *c, void **buf, size_t *have, size_t need, size_t elem, const char *what,
                       ser_error *err) {
    if (need <= *have) return 0;
    if (check_not_capturing(c, what, err)) return -1;
    /* cudaFree waits for the device, so queued work using the old buffer has finished */
    SER_CU(cudaFree(*buf));
    *buf = NULL;
    *have = 0;
    SER_CU(cudaMalloc(buf, need * elem));
    *have = need;
    return 0;
}

int ser_cg_scratch(ser_cudnn *c, size_t floats, const char *what, ser_error *err) {
    void *b = c->scratch;
    int rc = grow_device(c, &b, &c->scratch_floats, floats, sizeof(float), what, err);
    c->scratch = b;
    return rc;
}

int ser_cg_cols(ser_cudnn *c, size_t floats, const char *what, ser_error *err) {
    void *b = c->cols;
    int rc = grow_device(c, &b, &c->cols_floats, floats, sizeof(float), what, err);
    c->cols = b;
    return rc;
}

int ser_cg_partials(ser_cudnn *c, size_t doubles, const char *what, ser_error *err) {
    void *b = c->partials;
    int rc = grow_device(c, &b, &c->partial_doubles, doubles, sizeof(double), what, err);
    c->partials = b;
    return rc;
}

/* ---- plan cache ----------------------------------------------------------------------------- */

ser_cg_plan *ser_cg_find(ser_cudnn *c, int op, const int shape[SER_CG_SHAPE]) {
    for (int i = 0; i < c->n_plans; i++) {
        ser_cg_plan *p = c->plans[i];
        if (p->op == op && memcmp(p->shape, shape, sizeof p->shape) == 0) return p;
    }
    return NULL;
}

int ser_cg_new(ser_cudnn *c, int op, const int shape[SER_CG_SHAPE], ser_cg_plan **out, ser_error *err) {
    *out = NULL;
    /* building a plan may allocate (ours and cuDNN's): never while capturing */
    if (check_not_capturing(c, op_names[op], err)) return -1;
    if (c->n_plans == c->cap_plans) {
        const int cap = c->cap_plans ? 2 * c->cap_plans : 16;
        ser_cg_plan **np = realloc(c->plans, (size_t)cap * sizeof *np);
        if (!np) return ser_fail(err, "cuDNN plan cache: out of host memory (%d plans)", cap);
        c->plans = np;
        c->cap_plans = cap;
    }
    ser_cg_plan *p = ser_calloc(1, sizeof *p, "cuDNN plan", err);
    if (!p) return -1;
    p->op = op;
    memcpy(p->shape, shape, sizeof p->shape);
    c->plans[c->n_plans++] = p;
    *out = p;
    return 0;
}

void ser_cg_drop(ser_cudnn *c, ser_cg_plan *p) {
    for (int i = 0; i < c->n_plans; i++)
        if (c->plans[i] == p) {
            c->plans[i] = c->plans[--c->n_plans];
            plan_free(p);
            return;
        }
}

/* ---- descriptors ---------------------------------------------------------------------------- */

int ser_cg_desc(ser_cg_plan *p, cudnnBackendDescriptorType_t type, cudnnBackendDescriptor_t *out, ser_error *err) {
    SER_ASSERT(p->n_desc < SER_CG_MAX_DESC);
    *out = NULL;
    SER_CUDNN(cudnnBackendCreateDescriptor(type, out));
    p->desc[p->n_desc++] = *out;
    return 0;
}

int ser_cg_tensor(ser_cg_plan *p, cudnnBackendDescriptor_t *out, int64_t uid, const int64_t dims[4],
                  const int64_t strides[4], const float *by_value, ser_error *err) {
    SER_ASSERT(p->n_uids < SER_CG_MAX_UIDS);
    cudnnBackendDescriptor_t t;
    if (ser_cg_desc(p, CUDNN_BACKEND_TENSOR_DESCRIPTOR, &t, err)) return -1;
    const cudnnDataType_t dt = CUDNN_DATA_FLOAT;
    /* by-value scalars live on the host (p->by_value): declare only float alignment */
    const int64_t align = by_value ? (int64_t)sizeof(float) : 16;
    const bool is_virtual = false, is_by_value = by_value != NULL;
    SER_CUDNN(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt));
    SER_CUDNN(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims));
    SER_CUDNN(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides));
    SER_CUDNN(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid));
    SER_CUDNN(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align));
    SER_CUDNN(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual));
    if (is_by_value)
        SER_CUDNN(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &is_by_value));
    SER_CUDNN(cudnnBackendFinalize(t));
    p->is_by_value[p->n_uids] = is_by_value;
    p->by_value[p->n_uids] = is_by_value ? *by_value : 0.0f;
    p->uids[p->n_uids++] = uid;
    *out = t;
    return 0;
}

/* ---- engine choice -------------------------------------------------------------------------- */

/* Numerical notes that change float32 results: refused in every pass (TF32 ones unless allowed). */
static int note_refused(const ser_cudnn *c, cudnnBackendNumericalNote_t n) {
    switch (n) {
    case CUDNN_NUMERICAL_NOTE_TENSOR_CORE:         /* fp32 on tensor cores is TF32 */
    case CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS: return !c->allow_tf32;
    case CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION: return 1;
    default: return 0;
    }
}

/* Notes refused in the strict first pass only: run-to-run differences and larger rounding. */
static int note_relaxed_only(cudnnBackendNumericalNote_t n) {
    switch (n) {
    case CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC:
    case CUDNN_NUMERICAL_NOTE_FFT:
    case CUDNN_NUMERICAL_NOTE_WINOGRAD:
    case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4:
    case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_6x6:
    case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_13x13: return 1;
    default: return 0;
    }
}

/* Grade of the engine behind a config: 0 refused, 1 relaxed pass only, 2 strict pass. */
static int engine_grade(const ser_cudnn *c, cudnnBackendDescriptor_t cfg, cudnnBackendDescriptor_t eng,
                        int64_t *engine_index, int *grade, ser_error *err) {
    int64_t got = 0;
    SER_CUDNN(cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &got,
                                       &eng));
    SER_CUDNN(cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &got, engine_index));
    cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
    int64_t nn = 0;
    SER_CUDNN(cudnnBackendGetAttribute(eng, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                       CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &nn, notes));
    if (nn > CUDNN_NUMERICAL_NOTE_TYPE_COUNT) nn = CUDNN_NUMERICAL_NOTE_TYPE_COUNT;
    *grade = 2;
    for (int64_t i = 0; i < nn; i++) {
        if (note_refused(c, notes[i])) {
            *grade = 0;
            return 0;
        }
        if (note_relaxed_only(notes[i])) *grade = 1;
    }
    return 0;
}

/* The same with a query descriptor of its own (destroyed on every path). */
static int config_grade(const ser_cudnn *c, cudnnBackendDescriptor_t cfg, int64_t *engine_index, int *grade,
                        ser_error *err) {
    cudnnBackendDescriptor_t eng = NULL;
    SER_CUDNN(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &eng));
    const int rc = engine_grade(c, cfg, eng, engine_index, grade, err);
    cudnnBackendDestroyDescriptor(eng);
    return rc;
}

#define SER_CG_MAX_CFG 64

/* The engine configs heuristics `mode` ranks for graph, best first, into cfgs (created here,
 * *made counts them for the caller's cleanup). A mode that cannot rank the graph gives none. */
static int heur_configs(ser_cudnn *c, ser_cg_plan *p, cudnnBackendDescriptor_t graph, cudnnBackendHeurMode_t mode,
                        cudnnBackendDescriptor_t *cfgs, int *made, int64_t *n, cudnnStatus_t *last, ser_error *err) {
    *n = 0;
    cudnnBackendDescriptor_t heur;
    if (ser_cg_desc(p, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &heur, err)) return -1;
    SER_CUDNN(cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                       &graph));
    SER_CUDNN(cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode));
    SER_CUDNN(cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_DEVICEPROP, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                       &c->devprop));
    const cudnnStatus_t s = cudnnBackendFinalize(heur);
    if (s != CUDNN_STATUS_SUCCESS) {
        *last = s;
        return 0;
    }
    int64_t count = 0;
    SER_CUDNN(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count,
                                       NULL));
    if (count > SER_CG_MAX_CFG) count = SER_CG_MAX_CFG;
    /* the backend fills descriptors we create */
    for (; *made < count; (*made)++)
        SER_CUDNN(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfgs[*made]));
    if (count > 0)
        SER_CUDNN(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                                           n, cfgs));
    if (*n > count) *n = count;
    return 0;
}

/* Tries cfg: 1 with p->plan set and its workspace, 0 when the config does not finalize. */
static int try_config(ser_cudnn *c, ser_cg_plan *p, cudnnBackendDescriptor_t cfg, cudnnStatus_t *last,
                      ser_error *err) {
    cudnnBackendDescriptor_t plan = NULL;
    SER_CUDNN(cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan));
    cudnnStatus_t s = cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                                               CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_DEVICEPROP, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                     &c->devprop);
    if (s == CUDNN_STATUS_SUCCESS) s = cudnnBackendFinalize(plan);
    int64_t ws = 0, got = 0;
    if (s == CUDNN_STATUS_SUCCESS) {
        const cudnnStatus_t sw = cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                                          CUDNN_TYPE_INT64, 1, &got, &ws);
        if (sw != CUDNN_STATUS_SUCCESS) {
            cudnnBackendDestroyDescriptor(plan);
            return ser_cuda_fail(err, "cuDNN", (int)sw, cudnnGetErrorString(sw),
                                 "cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE)", __FILE__,
                                 __LINE__);
        }
    }
    if (s != CUDNN_STATUS_SUCCESS) { /* this config does not take the shape: the caller tries the next */
        cudnnBackendDestroyDescriptor(plan);
        *last = s;
        return 0;
    }
    p->plan = plan;
    p->workspace = ws;
    return 1;
}

/* Picks the config (see ser_cg_build); cfgs[m][i] chosen is moved into p (set to NULL here). */
static int choose(ser_cudnn *c, ser_cg_plan *p, cudnnBackendDescriptor_t graph, const char *what, const char *sh,
                  cudnnBackendDescriptor_t cfgs[2][SER_CG_MAX_CFG], int made[2], ser_error *err) {
    const cudnnBackendHeurMode_t modes[2] = {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK};
    int64_t ncfg[2] = {0, 0};
    cudnnStatus_t last = CUDNN_STATUS_SUCCESS;
    for (int m = 0; m < 2; m++)
        if (heur_configs(c, p, graph, modes[m], cfgs[m], &made[m], &ncfg[m], &last, err)) return -1;
    int grade[2][SER_CG_MAX_CFG];
    int64_t engine[2][SER_CG_MAX_CFG];
    int refused = 0;
    for (int m = 0; m < 2; m++)
        for (int64_t i = 0; i < ncfg[m]; i++) {
            if (config_grade(c, cfgs[m][i], &engine[m][i], &grade[m][i], err)) return -1;
            refused += grade[m][i] == 0;
        }
    for (int pass = 2; pass >= 1; pass--) /* strict configs first, then relaxed ones */
        for (int m = 0; m < 2; m++)
            for (int64_t i = 0; i < ncfg[m]; i++) {
                if (grade[m][i] != pass) continue;
                const int got = try_config(c, p, cfgs[m][i], &last, err);
                if (got < 0) return -1;
                if (!got) continue;
                SER_ASSERT(p->n_desc < SER_CG_MAX_DESC);
                p->desc[p->n_desc++] = cfgs[m][i]; /* the plan's config lives as long as the plan */
                cfgs[m][i] = NULL;
                p->engine = engine[m][i];
                p->strict = pass == 2;
                p->heur_mode = modes[m];
                void *wsb = c->workspace;
                const int rc = grow_device(c, &wsb, &c->ws_bytes, (size_t)p->workspace, 1, what, err);
                c->workspace = wsb;
                if (rc) return -1;
                if (c->verbose)
                    fprintf(stderr, "ser cuDNN: %s: engine %lld (heuristics %s, %s), workspace %lld B\n", sh,
                            (long long)p->engine, m == 0 ? "A" : "FALLBACK", pass == 2 ? "strict" : "relaxed",
                            (long long)p->workspace);
                return 0;
            }
    ser_fail(err,
             "cuDNN %s (%s): no engine: heuristics A offered %lld configs, FALLBACK %lld, %d refused for "
             "TF32/reduced precision (allow_tf32=%d); last cuDNN status: %s (%d)",
             what, sh, (long long)ncfg[0], (long long)ncfg[1], refused, c->allow_tf32,
             last == CUDNN_STATUS_SUCCESS ? "none" : cudnnGetErrorString(last), (int)last);
    return 1;
}

int ser_cg_build(ser_cudnn *c, ser_cg_plan *p, cudnnBackendDescriptor_t op, const char *what, ser_error *err) {
    char sh[128];
    shape_text(sh, sizeof sh, p->op, p->shape);
    cudnnBackendDescriptor_t graph;
    if (ser_cg_desc(p, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, &graph, err)) return -1;
    SER_CUDNN(cudnnBackendSetAttribute(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op));
    const cudnnStatus_t s = cudnnBackendFinalize(graph);
    if (s != CUDNN_STATUS_SUCCESS) {
        ser_fail(err, "cuDNN %s (%s): the operation graph does not finalize: %s (%d)", what, sh,
                 cudnnGetErrorString(s), (int)s);
        /* the NOT_SUPPORTED family: no engine for this graph, not a mistake of ours */
        return CUDNN_STATUS_CATEGORY(s) == CUDNN_STATUS_NOT_SUPPORTED ? 1 : -1;
    }
    cudnnBackendDescriptor_t cfgs[2][SER_CG_MAX_CFG];
    int made[2] = {0, 0};
    const int rc = choose(c, p, graph, what, sh, cfgs, made, err);
    for (int m = 0; m < 2; m++) /* the configs not chosen */
        for (int i = 0; i < made[m]; i++)
            if (cfgs[m][i]) cudnnBackendDestroyDescriptor(cfgs[m][i]);
    return rc;
}

/* ---- execution ------------------------------------------------------------------------------ */

int ser_cg_execute(ser_cudnn *c, ser_cg_plan *p, void *const *dev_ptrs, const char *what, ser_error *err) {
    SER_ASSERT(p->plan && !p->fallback);
    void *ptrs[SER_CG_MAX_UIDS];
    int same = p->vpack != NULL && p->vp_ws == c->workspace;
    for (int i = 0; i < p->n_uids; i++) {
        ptrs[i] = p->is_by_value[i] ? (void *)&p->by_value[i] : dev_ptrs[i];
        if (ptrs[i] == NULL)
            return ser_fail(err, "cuDNN %s: tensor %lld has a NULL pointer", what, (long long)p->uids[i]);
        if (!p->is_by_value[i] && ((uintptr_t)ptrs[i] & 15u) != 0)
            return ser_fail(err, "cuDNN %s: tensor %lld pointer %p is not 16-byte aligned (the descriptors promise 16)",
                            what, (long long)p->uids[i], ptrs[i]);
        same = same && p->vp_ptrs[i] == ptrs[i];
    }
    if (!same) {
        if (p->vpack) {
            SER_CUDNN(cudnnBackendDestroyDescriptor(p->vpack));
            p->vpack = NULL;
        }
        SER_CUDNN(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &p->vpack));
        void *ws = c->workspace;
        SER_CUDNN(cudnnBackendSetAttribute(p->vpack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, p->n_uids,
                                           p->uids));
        SER_CUDNN(cudnnBackendSetAttribute(p->vpack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR,
                                           p->n_uids, ptrs));
        SER_CUDNN(cudnnBackendSetAttribute(p->vpack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws));
        SER_CUDNN(cudnnBackendFinalize(p->vpack));
        memcpy(p->vp_ptrs, ptrs, (size_t)p->n_uids * sizeof *ptrs);
        p->vp_ws = ws;
    }
    cudnnStatus_t s = cudnnBackendExecute(c->handle, p->plan, p->vpack);
    if (s != CUDNN_STATUS_SUCCESS) {
        char sh[128];
        shape_text(sh, sizeof sh, p->op, p->shape);
        return ser_fail(err, "cuDNN %s (%s): cudnnBackendExecute failed with engine %lld: %s (%d)", what, sh,
                        (long long)p->engine, cudnnGetErrorString(s), (int)s);
    }
    return 0;
}
