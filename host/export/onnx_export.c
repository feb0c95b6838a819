/* The network of ser/model.h as an ONNX graph (opset 17), the scaler in front (ser/onnx_export.h).
 *
 * ser computes in Keras's NHWC; the graph computes in ONNX's NCHW and converts only where the
 * layout is visible: the conv kernels (Keras [K,K,Cin,F] -> ONNX [F,Cin,K,K]) and the flatten
 * into a sequence (a Transpose back to NHWC order, then Reshape), so every weight after the conv
 * blocks is used in ser's own order except the LSTM gates (Keras i,f,c,o -> ONNX i,o,f,c).
 *
 *   features (N,H,W) -Sub mean, Mul 1/std-> Unsqueeze (N,1,H,W)
 *   per block: Conv KxK pads K/2 -> Mul scale, Add shift (inference BN folded in double as
 *              ser does) -> Relu -> MaxPool PxP stride P with TF "same" pads (before = total/2)
 *              [dropout: identity at inference]
 *   (N,F,Hn,Wn) -Transpose-> (N,Hn,Wn,F) [time_axis: (N,Wn,Hn,F)] -Reshape-> (N,T,D)
 *   -Transpose-> (T,N,D) -LSTM-> Y (T,1,N,U) -Squeeze-> (T,N,U)
 *   attention: u = Tanh(x W + b), s = u U (T,N,1), a = Softmax over T, sum_t a x -> (1,N,U)
 *   [stats_pool: mean = ReduceMean over T, std = Sqrt(ReduceMean((x - mean)^2) + eps), each
 *    (1,N,U); Concat [attention, mean, std] -> (1,N,3U)]
 *   -LSTM-> Y_h (1,N,U) -Squeeze-> (N,U) -MatMul, Add-> logits (N,C) -Softmax-> probabilities */
#include "ser/onnx_export.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_info.h"
#include "onnx_graph.h"

#define ONNX_OPSET 17
#define ONNX_IR_VERSION 8   /* the IR version of opset 17 (ONNX 1.12) */

static const float *param(const ser_model *m, const char *name) {
    const ser_slice *s = ser_model_slice(m, name);
    SER_ASSERT(s != NULL);
    return m->params + s->offset;
}

/* The configs the graph cannot express, refused naming the key. */
static int check_exportable(const ser_config *cfg, ser_error *err) {
    if (cfg->features.normalize != 0)
        return ser_fail(err, "features.normalize = %d: %s normalisation is computed outside the network (over %s) "
                        "and is not in the ONNX graph; export a model trained with features.normalize = 0",
                        cfg->features.normalize, cfg->features.normalize == 1 ? "per-clip" : "per-speaker",
                        cfg->features.normalize == 1 ? "each clip's real frames" : "all clips of a speaker");
    if (cfg->features.vtln > 0)
        return ser_fail(err, "features.vtln = %g: per-speaker VTLN searches a warp over all clips of a speaker and "
                        "is not in the ONNX graph; export a model trained with features.vtln = 0",
                        cfg->features.vtln);
    return 0;
}

/* Conv -> BN (folded) -> Relu -> MaxPool of block i (0-based); returns its output name. */
static const char *conv_block(onnx_graph *g, const ser_model *m, int i, const char *in) {
    const ser_block_shape *b = &m->blk[i];
    const int K = m->K, F = m->F, Cin = b->Cin, P = m->P;
    char name[64];
    /* kernel: Keras (ky,kx,ci,f) -> ONNX (f,ci,ky,kx) */
    const float *kk = param(m, (snprintf(name, sizeof name, "conv%d.kernel", i + 1), name));
    float *w = onnx_graph_alloc(g, (size_t)F * Cin * K * K * sizeof *w);
    if (!w) return in;
    for (int ky = 0; ky < K; ky++)
        for (int kx = 0; kx < K; kx++)
            for (int ci = 0; ci < Cin; ci++)
                for (int f = 0; f < F; f++)
                    w[(((size_t)f * Cin + ci) * K + ky) * K + kx] = kk[(((size_t)ky * K + kx) * Cin + ci) * F + f];
    const int64_t wd[4] = {F, Cin, K, K}, bd[1] = {F}, cd[3] = {F, 1, 1};
    snprintf(name, sizeof name, "conv%d.kernel", i + 1);
    const char *wn = onnx_graph_f32(g, name, w, 4, wd);
    snprintf(name, sizeof name, "conv%d.bias", i + 1);
    const char *bn = onnx_graph_f32(g, name, param(m, name), 1, bd);
    snprintf(name, sizeof name, "conv%d", i + 1);
    const char *x = onnx_graph_op(g, "Conv", name, 3, in, wn, bn);
    const int64_t ks[2] = {K, K}, pads[4] = {K / 2, K / 2, K / 2, K / 2};
    onnx_graph_attr_ints(g, "kernel_shape", ks, 2);
    onnx_graph_attr_ints(g, "pads", pads, 4);

    /* inference BN as ser computes it (batchnorm_affine_infer): scale = gamma / sqrt(var + eps)
     * and shift = beta - mean * scale in double, rounded to float */
    SER_ASSERT(F <= 1024); /* model.filters' range */
    float sc[1024], sh[1024];
    const float *gamma, *beta, *mean, *var;
    snprintf(name, sizeof name, "bn%d.gamma", i + 1), gamma = param(m, name);
    snprintf(name, sizeof name, "bn%d.beta", i + 1), beta = param(m, name);
    snprintf(name, sizeof name, "bn%d.moving_mean", i + 1), mean = param(m, name);
    snprintf(name, sizeof name, "bn%d.moving_variance", i + 1), var = param(m, name);
    for (int c = 0; c < F; c++) {
        const double inv = gamma[c] / sqrt((double)var[c] + (double)(float)m->cfg.bn_epsilon);
        sc[c] = (float)inv;
        sh[c] = (float)(beta[c] - mean[c] * inv);
    }
    snprintf(name, sizeof name, "bn%d.scale", i + 1);
    const char *scn = onnx_graph_f32(g, name, sc, 3, cd);
    snprintf(name, sizeof name, "bn%d.shift", i + 1);
    const char *shn = onnx_graph_f32(g, name, sh, 3, cd);
    snprintf(name, sizeof name, "bn%d_scaled", i + 1);
    x = onnx_graph_op(g, "Mul", name, 2, x, scn);
    snprintf(name, sizeof name, "bn%d", i + 1);
    x = onnx_graph_op(g, "Add", name, 2, x, shn);
    snprintf(name, sizeof name, "relu%d", i + 1);
    x = onnx_graph_op(g, "Relu", name, 1, x);

    /* MaxPool, TF "same": ceil(n / P) windows, total padding ceil(n / P) P - n, half of it (rounded
     * down) before (layers/pool_window.h); ONNX MaxPool's padding never wins the max either */
    const int th = b->Ho * P - b->H, tw = b->Wo * P - b->W;
    const int64_t ps[2] = {P, P}, ppads[4] = {th / 2, tw / 2, th - th / 2, tw - tw / 2};
    snprintf(name, sizeof name, "pool%d", i + 1);
    x = onnx_graph_op(g, "MaxPool", name, 1, x);
    onnx_graph_attr_ints(g, "kernel_shape", ps, 2);
    onnx_graph_attr_ints(g, "strides", ps, 2);
    onnx_graph_attr_ints(g, "pads", ppads, 4);
    return x;
}

/* Keras LSTM weights (gates i,f,c,o) as ONNX's W [1,4U,I], R [1,4U,U], B [1,8U] (gates i,o,f,c;
 * the recurrent bias half zero), then the node. X (T,N,I); y / y_h: output names ("" = unused). */
static void lstm(onnx_graph *g, const ser_model *m, const char *layer, const char *X, int I, const char *y,
                 const char *y_h) {
    static const int keras_gate[4] = {0, 3, 1, 2}; /* ONNX i, o, f, c -> Keras index */
    const int U = m->U, G = 4 * U;
    char name[64];
    snprintf(name, sizeof name, "%s.kernel", layer);
    const float *k = param(m, name);
    snprintf(name, sizeof name, "%s.recurrent_kernel", layer);
    const float *r = param(m, name);
    snprintf(name, sizeof name, "%s.bias", layer);
    const float *bias = param(m, name);
    float *W = onnx_graph_alloc(g, (size_t)G * I * sizeof *W), *R = onnx_graph_alloc(g, (size_t)G * U * sizeof *R),
          *B = onnx_graph_alloc(g, (size_t)2 * G * sizeof *B);
    if (!W || !R || !B) return;
    for (int go = 0; go < 4; go++)
        for (int u = 0; u < U; u++) {
            const int row = go * U + u, col = keras_gate[go] * U + u;
            for (int d = 0; d < I; d++) W[(size_t)row * I + d] = k[(size_t)d * G + col];
            for (int j = 0; j < U; j++) R[(size_t)row * U + j] = r[(size_t)j * G + col];
            B[row] = bias[col];
        }
    const int64_t wd[3] = {1, G, I}, rd[3] = {1, G, U}, bd[2] = {1, 2 * G};
    snprintf(name, sizeof name, "%s.W", layer);
    const char *wn = onnx_graph_f32(g, name, W, 3, wd);
    snprintf(name, sizeof name, "%s.R", layer);
    const char *rn = onnx_graph_f32(g, name, R, 3, rd);
    snprintf(name, sizeof name, "%s.B", layer);
    const char *bn = onnx_graph_f32(g, name, B, 2, bd);
    onnx_graph_op2(g, "LSTM", y, y_h, 4, X, wn, rn, bn);
    onnx_graph_attr_int(g, "hidden_size", U);
}

static const char *i64_const(onnx_graph *g, const char *name, const int64_t *v, int n) {
    const int64_t d[1] = {n};
    return onnx_graph_i64(g, name, v, 1, d);
}

/* The whole network into g (a failure sets g->failed). */
static void build_graph(onnx_graph *g, const ser_model *m, const ser_model_meta *meta) {
    const int64_t io_in[3] = {-1, m->H, m->W}, io_out[2] = {-1, m->classes};
    onnx_graph_io(g, 0, "features", 3, io_in, "N");
    onnx_graph_io(g, 1, "probabilities", 2, io_out, "N");

    /* the scaler as ser_scaler_apply computes it: (x - (float)mean) * (float)(1 / std) */
    const float mean = (float)meta->scaler.mean, inv = (float)(1.0 / meta->scaler.std);
    const char *x = onnx_graph_op(g, "Sub", "centred", 2, "features", onnx_graph_f32(g, "scaler.mean", &mean, 0, NULL));
    x = onnx_graph_op(g, "Mul", "scaled", 2, x, onnx_graph_f32(g, "scaler.inv_std", &inv, 0, NULL));
    const int64_t ax1[1] = {1}, ax0[1] = {0};
    const char *axes1 = i64_const(g, "axes_1", ax1, 1), *axes0 = i64_const(g, "axes_0", ax0, 1);
    x = onnx_graph_op(g, "Unsqueeze", "image", 2, x, axes1);

    for (int i = 0; i < m->blocks; i++) x = conv_block(g, m, i, x);

    /* (N,F,Hn,Wn) -> Keras's (N,Hn,Wn,F) [time_axis: its Permute((2,1,3)): (N,Wn,Hn,F)] -> (N,T,D) */
    const int64_t perm_nhwc[4] = {0, 2, 3, 1}, perm_nwhc[4] = {0, 3, 2, 1};
    x = onnx_graph_op(g, "Transpose", "conv_nhwc", 1, x);
    onnx_graph_attr_ints(g, "perm", m->cfg.time_axis ? perm_nwhc : perm_nhwc, 4);
    const int64_t seq_shape[3] = {-1, m->T, m->D}, tn[3] = {1, 0, 2};
    x = onnx_graph_op(g, "Reshape", "sequence", 2, x, i64_const(g, "sequence_shape", seq_shape, 3));
    x = onnx_graph_op(g, "Transpose", "sequence_tnd", 1, x);
    onnx_graph_attr_ints(g, "perm", tn, 3);

    lstm(g, m, "lstm1", x, m->D, "lstm1_y", "");
    x = onnx_graph_op(g, "Squeeze", "lstm1_out", 2, "lstm1_y", axes1); /* (T,N,U) */
    const char *h1 = x;
    if (m->cfg.attention) {
        const int64_t wd[2] = {m->U, m->U}, bd[1] = {m->U}, ud[2] = {m->U, 1};
        const char *u = onnx_graph_op(g, "MatMul", "att_xw", 2, x, onnx_graph_f32(g, "attention.W", param(m, "attention.W"), 2, wd));
        u = onnx_graph_op(g, "Add", "att_xwb", 2, u, onnx_graph_f32(g, "attention.b", param(m, "attention.b"), 1, bd));
        u = onnx_graph_op(g, "Tanh", "att_u", 1, u);
        const char *s = onnx_graph_op(g, "MatMul", "att_score", 2, u, onnx_graph_f32(g, "attention.U", param(m, "attention.U"), 2, ud));
        const char *a = onnx_graph_op(g, "Softmax", "att_weights", 1, s); /* (T,N,1) over T */
        onnx_graph_attr_int(g, "axis", 0);
        const char *ax = onnx_graph_op(g, "Mul", "att_weighted", 2, x, a);
        x = onnx_graph_op(g, "ReduceSum", "attention", 2, ax, axes0); /* (1,N,U): one step */
        onnx_graph_attr_int(g, "keepdims", 1);
    }
    if (m->cfg.stats_pool) { /* host/model/layers/stats_pool.c: biased variance, two passes */
        const float eps = SER_STATS_POOL_EPS;
        const int64_t t_axis[1] = {0};
        const char *avg = onnx_graph_op(g, "ReduceMean", "stats_mean", 1, h1); /* (1,N,U) */
        onnx_graph_attr_ints(g, "axes", t_axis, 1);
        onnx_graph_attr_int(g, "keepdims", 1);
        const char *d = onnx_graph_op(g, "Sub", "stats_centred", 2, h1, avg);
        d = onnx_graph_op(g, "Mul", "stats_squared", 2, d, d);
        const char *var = onnx_graph_op(g, "ReduceMean", "stats_var", 1, d);
        onnx_graph_attr_ints(g, "axes", t_axis, 1);
        onnx_graph_attr_int(g, "keepdims", 1);
        var = onnx_graph_op(g, "Add", "stats_var_eps", 2, var, onnx_graph_f32(g, "stats_pool.eps", &eps, 0, NULL));
        const char *sd = onnx_graph_op(g, "Sqrt", "stats_std", 1, var);
        x = onnx_graph_op(g, "Concat", "lstm2_in", 3, x, avg, sd); /* (1,N,3U) */
        onnx_graph_attr_int(g, "axis", 2);
    }
    lstm(g, m, "lstm2", x, m->I2, "", "lstm2_h");
    x = onnx_graph_op(g, "Squeeze", "lstm2_out", 2, "lstm2_h", axes0); /* (N,U) */

    const int64_t dd[2] = {m->U, m->classes}, db[1] = {m->classes};
    x = onnx_graph_op(g, "MatMul", "dense_xw", 2, x, onnx_graph_f32(g, "dense.kernel", param(m, "dense.kernel"), 2, dd));
    x = onnx_graph_op(g, "Add", "logits", 2, x, onnx_graph_f32(g, "dense.bias", param(m, "dense.bias"), 1, db));
    onnx_graph_op(g, "Softmax", "probabilities", 1, x);
    onnx_graph_attr_int(g, "axis", 1);
}

/* metadata_props: key/value strings from the arena */
static void add_meta(onnx_graph *g, Onnx__ModelProto *model, const char *key, const char *value) {
    Onnx__StringStringEntryProto *e = onnx_graph_alloc(g, sizeof *e);
    if (!e || !value) {
        if (!value && !g->failed) snprintf(g->why, sizeof g->why, "out of memory (metadata %s)", key), g->failed = 1;
        return;
    }
    onnx__string_string_entry_proto__init(e);
    e->key = onnx_graph_strdup(g, key);
    e->value = onnx_graph_strdup(g, value);
    model->metadata_props[model->n_metadata_props++] = e;
}

static int write_file(const char *path, const uint8_t *buf, size_t n, ser_error *err) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return ser_fail(err, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return ser_fail(err, "%s: cannot create: %s", tmp, strerror(errno));
    int ok = fwrite(buf, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) ok = 0, e = errno;
    if (!ok || rename(tmp, path) != 0) {
        if (ok) e = errno;
        unlink(tmp);
        return ser_fail(err, "%s: write failed: %s", path, strerror(e));
    }
    return 0;
}

int ser_onnx_export(const char *path, const ser_model *m, const ser_model_meta *meta, ser_error *err) {
    if (check_exportable(&meta->cfg, err) != 0) return -1;
    if ((size_t)m->classes != meta->n_labels)
        return ser_fail(err, "%s: the model has %d classes but %zu labels", path, m->classes, meta->n_labels);
    onnx_graph g;
    onnx_graph_init(&g, "ser");
    build_graph(&g, m, meta);

    Onnx__ModelProto model;
    onnx__model_proto__init(&model);
    Onnx__OperatorSetIdProto opset;
    onnx__operator_set_id_proto__init(&opset);
    opset.domain = "";
    opset.has_version = 1;
    opset.version = ONNX_OPSET;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    model.has_ir_version = 1;
    model.ir_version = ONNX_IR_VERSION;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.producer_name = "ser";
    model.producer_version = SER_VERSION_STRING;
    model.doc_string = "ser: speech emotion recognition (MFCC -> CNN + LSTM + attention); input: the features of "
                       "`ser mfcc` for ser.features, unscaled; output: class probabilities in ser.labels order";
    model.graph = &g.graph;

    /* metadata: the same strings as model.safetensors's, plus the input in words */
    Onnx__StringStringEntryProto *props[10];
    model.metadata_props = props;
    cJSON *labels = cJSON_CreateArray();
    for (size_t i = 0; labels && i < meta->n_labels; i++) cJSON_AddItemToArray(labels, cJSON_CreateString(meta->labels[i]));
    char *labels_s = labels ? cJSON_PrintUnformatted(labels) : NULL;
    cJSON_Delete(labels);
    char *config_s = ser_config_to_json(&meta->cfg), *features_s = NULL;
    cJSON *all = config_s ? cJSON_Parse(config_s) : NULL, *feat = cJSON_CreateObject();
    if (all && feat) {
        cJSON_AddItemToObject(feat, "audio", cJSON_DetachItemFromObject(all, "audio"));
        cJSON_AddItemToObject(feat, "features", cJSON_DetachItemFromObject(all, "features"));
        features_s = cJSON_PrintUnformatted(feat);
    }
    cJSON_Delete(all);
    cJSON_Delete(feat);
    char mean_s[32], std_s[32], input_s[400];
    snprintf(mean_s, sizeof mean_s, "%.17g", meta->scaler.mean);
    snprintf(std_s, sizeof std_s, "%.17g", meta->scaler.std);
    snprintf(input_s, sizeof input_s,
             "features: float32 [N, %d, %d] = [clips, n_mfcc %d + f0_rows %d, frames %d], as `ser mfcc` writes them "
             "for ser.features (librosa-exact MFCC, log2 F0 rows below them), unscaled: the scaler "
             "(x - ser.scaler_mean) / ser.scaler_std is the graph's first step",
             m->H, m->W, meta->cfg.features.n_mfcc, meta->cfg.features.f0_rows, m->W);
    add_meta(&g, &model, "ser.labels", labels_s);
    add_meta(&g, &model, "ser.config", config_s);
    add_meta(&g, &model, "ser.features", features_s);
    add_meta(&g, &model, "ser.scaler_mean", mean_s);
    add_meta(&g, &model, "ser.scaler_std", std_s);
    add_meta(&g, &model, "ser.version", SER_VERSION_STRING);
    add_meta(&g, &model, "ser.commit", SER_GIT_COMMIT);
    add_meta(&g, &model, "ser.input", input_s);
    free(labels_s), free(config_s), free(features_s);

    int rc = -1;
    uint8_t *buf = NULL;
    if (g.failed) {
        ser_fail(err, "%s: building the ONNX graph: %s", path, g.why);
        goto done;
    }
    const size_t n = onnx__model_proto__get_packed_size(&model);
    if (!(buf = ser_malloc(n, "ONNX model", err))) goto done;
    if (onnx__model_proto__pack(&model, buf) != n) {
        ser_fail(err, "%s: protobuf-c packed a different size than it announced", path);
        goto done;
    }
    rc = write_file(path, buf, n, err);
done:
    free(buf);
    onnx_graph_free(&g);
    return rc;
}
