/* The network's wiring on the GPU (kernels/backend_cuda_net.h): the arena layout and the three
 * phases of a step, the CUDA counterpart of host/model/model.c (shapes in ser/model.h). Enqueue only:
 * no allocation, no synchronisation, so that kernels/backend_cuda.c can capture each phase into
 * a CUDA graph. */
#include <stdio.h>
#include <string.h>

#include "backend_cuda_net.h"

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

static size_t slice_off(const ser_model *m, const char *fmt, int i) {
    char name[40];
    snprintf(name, sizeof name, fmt, i);
    const ser_slice *s = ser_model_slice(m, name);
    SER_ASSERT(s != NULL);
    return s->offset;
}

void ser_cuda_resolve_slices(const ser_model *m, slices *o) {
    memset(o, 0, sizeof *o);
    for (int i = 0; i < m->blocks; i++) {
        o->kernel[i] = slice_off(m, "conv%d.kernel", i + 1);
        o->bias[i] = slice_off(m, "conv%d.bias", i + 1);
        o->gamma[i] = slice_off(m, "bn%d.gamma", i + 1);
        o->beta[i] = slice_off(m, "bn%d.beta", i + 1);
        o->mmean[i] = slice_off(m, "bn%d.moving_mean", i + 1);
        o->mvar[i] = slice_off(m, "bn%d.moving_variance", i + 1);
    }
    o->l1k = slice_off(m, "lstm1.kernel", 0);
    o->l1r = slice_off(m, "lstm1.recurrent_kernel", 0);
    o->l1b = slice_off(m, "lstm1.bias", 0);
    if (m->cfg.attention) {
        o->aW = slice_off(m, "attention.W", 0);
        o->ab = slice_off(m, "attention.b", 0);
        o->aU = slice_off(m, "attention.U", 0);
    }
    o->l2k = slice_off(m, "lstm2.kernel", 0);
    o->l2r = slice_off(m, "lstm2.recurrent_kernel", 0);
    o->l2b = slice_off(m, "lstm2.bias", 0);
    o->dk = slice_off(m, "dense.kernel", 0);
    o->db = slice_off(m, "dense.bias", 0);
}

/* Carves the arena (base NULL: only counts). Returns the bytes. */
size_t ser_cuda_layout_arena(const ser_model *m, dacts *a, char *base, int B) {
    size_t off = align_up(4 * m->nparams_padded * sizeof(float), SER_CUDA_ARENA_ALIGN);
#define TAKE(ptr, type, count)                                                                         \
    do {                                                                                               \
        (ptr) = base ? (type *)(void *)(base + off) : NULL;                                            \
        off += align_up((size_t)(count) * sizeof(type), SER_CUDA_ARENA_ALIGN);                         \
    } while (0)
    const size_t b = (size_t)B;
    const int F = m->F, U = m->U, C = m->classes;
    size_t gmax = b * m->T * m->D;
    TAKE(a->x, float, b * m->H * m->W);
    for (int i = 0; i < m->blocks; i++) {
        const ser_block_shape *s = &m->blk[i];
        const size_t n = b * s->H * s->W * F, no = b * s->Ho * s->Wo * F;
        TAKE(a->conv[i], float, n);
        TAKE(a->bn[i], float, n);
        TAKE(a->mean[i], float, F);
        TAKE(a->rstd[i], float, F);
        TAKE(a->pool[i], float, no);
        TAKE(a->argmax[i], int32_t, no);
        TAKE(a->drop[i], float, no);
        TAKE(a->mask[i], uint8_t, no);
        if (n > gmax) gmax = n;
    }
    TAKE(a->h1, float, b * m->T * U);
    TAKE(a->att, float, b * U);
    TAKE(a->att_u, float, b * m->T * U);
    TAKE(a->att_a, float, b * m->T);
    const size_t sp = m->cfg.stats_pool ? b : 0; /* statistics pooling: nothing when off */
    TAKE(a->stats, float, sp * 2 * U);
    TAKE(a->x2cat, float, sp * 3 * U);
    TAKE(a->h2, float, b * m->T2 * U);
    TAKE(a->h2last, float, b * U);
    TAKE(a->logits, float, b * C);
    TAKE(a->probs, float, b * C);
    TAKE(a->labels, int32_t, 3 * b); /* labels | labels2 | lam */
    if (a->labels) {
        a->labels2 = a->labels + b;
        a->lam = (float *)(void *)(a->labels + 2 * b);
    }
    TAKE(a->xent, float, 1);
    TAKE(a->terms, float, m->blocks);
    TAKE(a->loss, float, 1);
    TAKE(a->sc_fwd, ser_step_scalars, 1);
    TAKE(a->sc_adam, ser_step_scalars, 1);
    for (int k = 0; k < 3; k++) TAKE(a->g[k], float, gmax);
    TAKE(a->dlogits, float, b * C);
    TAKE(a->dh2last, float, b * U);
    TAKE(a->dh2, float, b * m->T2 * U);
    TAKE(a->dx2, float, b * m->T2 * m->I2);
    TAKE(a->datt, float, sp * U);
    TAKE(a->dstats, float, sp * 2 * U);
    TAKE(a->dh1, float, b * m->T * U);
    TAKE(a->att_scratch, float, m->cfg.attention ? ser_k_attention_scratch(B, m->T, U, U) : 1);
    size_t bg = ser_k_bias_grad_partials(b, C); /* the dense bias, then every conv block's */
    for (int i = 0; i < m->blocks; i++) {
        const size_t need = ser_k_bias_grad_partials(b * m->blk[i].H * m->blk[i].W, F);
        if (need > bg) bg = need;
    }
    TAKE(a->bg_partials, double, bg);
    size_t bp = 1;
    for (int i = 0; i < m->blocks; i++) {
        const size_t need = ser_k_bn_stats_partials(b * m->blk[i].H * m->blk[i].W, F);
        if (need > bp) bp = need;
    }
    TAKE(a->bns_acc, double, (size_t)m->blocks * 3 * F);
    TAKE(a->bns_partials, double, bp);
    TAKE(a->bns_mean, float, F);
    TAKE(a->bns_var, float, F);
    TAKE(a->blas_ws, char, SER_CUDA_CUBLAS_WS_BYTES);
#undef TAKE
    return off;
}


/* Dense, row-major: logits (B,C) = h (B,U) @ kernel (U,C) + bias. cuBLAS is column-major: a
 * row-major (r,c) matrix is its column-major transpose, so logits^T (C,B) = kernel^T (C,U) @
 * h^T (U,B) with kernel read as the column-major (C,U) matrix it is. */
static int dense_fwd(ser_cuda_net *net, int B, ser_error *err) {
    const ser_model *m = net->m;
    const int U = m->U, C = m->classes;
    const float one = 1.0f, zero = 0.0f;
    SER_CUBLAS(cublasSgemm(net->blas, CUBLAS_OP_N, CUBLAS_OP_N, C, B, U, &one, net->params + net->o.dk, C, net->a.h2last,
                           U, &zero, net->a.logits, C));
    SER_CU(ser_k_bias_add_rows(net->a.logits, net->params + net->o.db, (size_t)B, C, net->s));
    return 0;
}

/* dkernel (U,C) = h^T dlogits: column-major dkernel^T (C,U) = dlogits^T (C,B) @ h (B,U), h read
 * as the column-major (U,B) matrix transposed. dh (B,U) = dlogits kernel^T: column-major
 * dh^T (U,B) = kernel (U,C) @ dlogits^T (C,B), kernel read as column-major (C,U) transposed.
 * Both overwrite (beta 0). */
static int dense_bwd(ser_cuda_net *net, int B, ser_error *err) {
    const ser_model *m = net->m;
    const int U = m->U, C = m->classes;
    const float one = 1.0f, zero = 0.0f;
    SER_CUBLAS(cublasSgemm(net->blas, CUBLAS_OP_N, CUBLAS_OP_T, C, U, B, &one, net->a.dlogits, C, net->a.h2last, U,
                           &zero, net->grads + net->o.dk, C));
    SER_CU(ser_k_bias_grad_rows(net->grads + net->o.db, net->a.bg_partials, net->a.dlogits, (size_t)B, C, net->s));
    SER_CUBLAS(cublasSgemm(net->blas, CUBLAS_OP_T, CUBLAS_OP_N, U, B, C, &one, net->params + net->o.dk, C, net->a.dlogits,
                           C, &zero, net->a.dh2last, U));
    return 0;
}

int ser_cuda_enq_forward(ser_cuda_net *net, int B, int training, int labelled, ser_error *err) {
    const ser_model *m = net->m;
    dacts *a = &net->a;
    const cudaStream_t s = net->s;
    const int F = m->F, U = m->U, C = m->classes;
    const float rate = (float)m->cfg.dropout, l2 = (float)m->cfg.l2;
    const float eps = (float)m->cfg.bn_epsilon;
    float *w = net->params;
    SER_CU(cudaMemcpyAsync(a->x, net->h_x, (size_t)B * m->H * m->W * sizeof(float), cudaMemcpyHostToDevice, s));
    if (labelled) /* the whole targets block (3 max_B words): labels, mixup partners, weights */
        SER_CU(cudaMemcpyAsync(a->labels, net->h_labels, 3 * (size_t)net->max_B * sizeof(int32_t), cudaMemcpyHostToDevice,
                               s));
    if (training)
        SER_CU(cudaMemcpyAsync(a->sc_fwd, net->h_sc_fwd, sizeof(ser_step_scalars), cudaMemcpyHostToDevice, s));
    const float *in = a->x;
    for (int i = 0; i < m->blocks; i++) {
        const ser_block_shape *b = &m->blk[i];
        const int N = B * b->H * b->W;
        const size_t no = (size_t)B * b->Ho * b->Wo * F;
        const float *kernel = w + net->o.kernel[i];
        TRY(ser_conv_fwd(net->dnn, a->conv[i], in, kernel, B, b->H, b->W, b->Cin, F, m->K, err));
        SER_CU(ser_k_bias_add_rows(a->conv[i], w + net->o.bias[i], (size_t)N, F, s));
        if (training)
            TRY(ser_bn_fwd_train(net->dnn, a->bn[i], a->mean[i], a->rstd[i], w + net->o.mmean[i], w + net->o.mvar[i],
                                 a->conv[i], w + net->o.gamma[i], w + net->o.beta[i], N, F, ser_model_bn_momentum(m, i), eps, err));
        else
            TRY(ser_bn_fwd_infer(net->dnn, a->bn[i], a->conv[i], w + net->o.gamma[i], w + net->o.beta[i],
                                 w + net->o.mmean[i], w + net->o.mvar[i], N, F, eps, err));
        SER_CU(ser_k_relu_pool_fwd(a->pool[i], a->argmax[i], a->bn[i], B, b->H, b->W, F, m->P, s));
        in = a->pool[i];
        if (training && rate > 0.0f) {
            SER_CU(ser_k_dropout_fwd(a->drop[i], a->mask[i], a->pool[i], no, rate, m->seed, a->sc_fwd, (uint32_t)i, s));
            in = a->drop[i];
        }
        if (labelled) SER_CU(ser_k_l2_term(a->terms + i, kernel, (size_t)m->K * m->K * b->Cin * F, l2, s));
    }
    /* the last block's (B, Ho, Wo, F) output is the (B, T, D) sequence: no copy */
    TRY(ser_lstm_fwd(net->lstm1, a->h1, in, B, training, err));
    const float *x2 = a->h1;
    if (m->cfg.attention) {
        SER_CU(ser_k_attention_fwd(a->att, a->att_u, a->att_a, a->h1, w + net->o.aW, w + net->o.ab, w + net->o.aU, B,
                                   m->T, U, U, s));
        x2 = a->att;
    }
    if (m->cfg.stats_pool) { /* LSTM2's step = [attention | mean | std] (B, 3U) */
        SER_CU(ser_k_stats_pool_fwd(a->stats, a->h1, B, m->T, U, SER_STATS_POOL_EPS, s));
        SER_CU(ser_k_concat_cols(a->x2cat, a->att, U, a->stats, 2 * U, B, s));
        x2 = a->x2cat;
    }
    TRY(ser_lstm_fwd(net->lstm2, a->h2, x2, B, training, err));
    SER_CU(ser_k_gather_step(a->h2last, a->h2, B, m->T2, U, m->T2 - 1, s));
    TRY(dense_fwd(net, B, err));
    SER_CU(ser_k_softmax_xent_fwd(a->probs, a->xent, a->logits, labelled ? a->labels : NULL,
                                      labelled ? a->labels2 : NULL, labelled ? a->lam : NULL, B, C,
                                      m->label_smoothing, s));
    if (labelled) {
        SER_CU(ser_k_loss_total(a->loss, a->xent, a->terms, m->blocks, s));
        SER_CU(cudaMemcpyAsync(net->h_loss, a->loss, sizeof(float), cudaMemcpyDeviceToHost, s));
    }
    SER_CU(cudaMemcpyAsync(net->h_probs, a->probs, (size_t)B * C * sizeof(float), cudaMemcpyDeviceToHost, s));
    return 0;
}

/* Gradients of the last training forward (B samples). Every op overwrites its gradients
 * (kernels/kernels.h), so nothing is zeroed; ser_k_l2_grad adds to the conv weight gradient. */
int ser_cuda_enq_backward(ser_cuda_net *net, int B, ser_error *err) {
    const ser_model *m = net->m;
    dacts *a = &net->a;
    const cudaStream_t s = net->s;
    const int F = m->F, U = m->U, C = m->classes;
    const float rate = (float)m->cfg.dropout, l2 = (float)m->cfg.l2, eps = (float)m->cfg.bn_epsilon;
    const int dropped = rate > 0.0f;
    float *w = net->params, *g = net->grads;
    SER_CU(ser_k_softmax_xent_bwd(a->dlogits, a->probs, a->labels, a->labels2, a->lam, B, C, m->label_smoothing, s));
    TRY(dense_bwd(net, B, err));
    /* LSTM2 returns only its last step: dh is zero elsewhere */
    SER_CU(ser_k_scatter_step(a->dh2, a->dh2last, B, m->T2, U, m->T2 - 1, s));
    const float *x2 = m->cfg.stats_pool ? a->x2cat : m->cfg.attention ? a->att : a->h1;
    float *dx2 = m->cfg.attention ? a->dx2 : a->dh1;
    TRY(ser_lstm_bwd(net->lstm2, dx2, a->dh2, x2, a->h2, B, err));
    TRY(ser_lstm_unpack_grads(net->lstm2, g + net->o.l2k, g + net->o.l2r, g + net->o.l2b, err));
    const float *datt = a->dx2;
    if (m->cfg.stats_pool) { /* d[attention | mean | std] -> d(attention) (B,U), d(stats) (B,2U) */
        SER_CU(ser_k_split_cols(a->datt, U, a->dstats, 2 * U, a->dx2, B, s));
        datt = a->datt;
    }
    if (m->cfg.attention) /* writes dh1 */
        SER_CU(ser_k_attention_bwd(a->dh1, g + net->o.aW, g + net->o.ab, g + net->o.aU, a->att_scratch, datt, a->h1,
                                   a->att_u, a->att_a, w + net->o.aW, w + net->o.aU, B, m->T, U, U, s));
    if (m->cfg.stats_pool) /* adds to dh1: LSTM1's outputs feed both */
        SER_CU(ser_k_stats_pool_bwd(a->dh1, a->dstats, a->stats, a->h1, B, m->T, U, s));
    const int last = m->blocks - 1;
    const float *seq = dropped ? a->drop[last] : a->pool[last];
    /* three buffers rotate: cur = d(block output); per block dpool, dy (BN output), dconv, din */
    int cur = 0;
    TRY(ser_lstm_bwd(net->lstm1, a->g[cur], a->dh1, seq, a->h1, B, err));
    TRY(ser_lstm_unpack_grads(net->lstm1, g + net->o.l1k, g + net->o.l1r, g + net->o.l1b, err));
    for (int i = last; i >= 0; i--) {
        const ser_block_shape *b = &m->blk[i];
        const int N = B * b->H * b->W;
        const size_t no = (size_t)B * b->Ho * b->Wo * F;
        const int other = (cur + 1) % 3, third = (cur + 2) % 3;
        float *dpool = a->g[cur];
        if (dropped) {
            SER_CU(ser_k_dropout_bwd(a->g[other], a->g[cur], a->mask[i], no, rate, s));
            dpool = a->g[other];
        }
        float *dy = a->g[third], *dconv = a->g[cur]; /* d(block output) is consumed above */
        SER_CU(ser_k_relu_pool_bwd(dy, dpool, a->pool[i], a->argmax[i], B, b->H, b->W, F, m->P, s));
        TRY(ser_bn_bwd(net->dnn, dconv, g + net->o.gamma[i], g + net->o.beta[i], dy, a->conv[i], a->mean[i], a->rstd[i],
                       w + net->o.gamma[i], N, F, eps, err));
        SER_CU(ser_k_bias_grad_rows(g + net->o.bias[i], a->bg_partials, dconv, (size_t)N, F, s));
        const float *in = i == 0 ? a->x : (dropped ? a->drop[i - 1] : a->pool[i - 1]);
        const float *kernel = w + net->o.kernel[i];
        TRY(ser_conv_bwd_filter(net->dnn, g + net->o.kernel[i], in, dconv, B, b->H, b->W, b->Cin, F, m->K, err));
        SER_CU(ser_k_l2_grad(g + net->o.kernel[i], kernel, (size_t)m->K * m->K * b->Cin * F, l2, s));
        if (i > 0) {
            TRY(ser_conv_bwd_data(net->dnn, a->g[third], dconv, kernel, B, b->H, b->W, b->Cin, F, m->K, err));
            cur = third;
        }
    }
    return 0;
}

int ser_cuda_enq_bn_stats_begin(ser_cuda_net *net, ser_error *err) {
    SER_CU(cudaMemsetAsync(net->a.bns_acc, 0, (size_t)net->m->blocks * 3 * net->m->F * sizeof(double), net->s));
    return 0;
}

int ser_cuda_enq_bn_stats_add(ser_cuda_net *net, int B, ser_error *err) {
    const ser_model *m = net->m;
    dacts *a = &net->a;
    const cudaStream_t s = net->s;
    const int F = m->F, last = m->blocks - 1;
    const float eps = (float)m->cfg.bn_epsilon;
    const float *w = net->params;
    SER_CU(cudaMemcpyAsync(a->x, net->h_x, (size_t)B * m->H * m->W * sizeof(float), cudaMemcpyHostToDevice, s));
    const float *in = a->x;
    for (int i = 0; i <= last; i++) {
        const ser_block_shape *b = &m->blk[i];
        const int N = B * b->H * b->W;
        TRY(ser_conv_fwd(net->dnn, a->conv[i], in, w + net->o.kernel[i], B, b->H, b->W, b->Cin, F, m->K, err));
        SER_CU(ser_k_bias_add_rows(a->conv[i], w + net->o.bias[i], (size_t)N, F, s));
        SER_CU(ser_k_bn_stats_add(a->bns_mean, a->bns_var, a->bns_acc + (size_t)i * 3 * F, a->bns_partials, a->conv[i],
                                  (size_t)N, F, s));
        if (i == last) break; /* nothing after the last batch norm's input changes a statistic */
        /* the training forward's normalisation: the batch's own mean and variance */
        TRY(ser_bn_fwd_infer(net->dnn, a->bn[i], a->conv[i], w + net->o.gamma[i], w + net->o.beta[i], a->bns_mean,
                             a->bns_var, N, F, eps, err));
        SER_CU(ser_k_relu_pool_fwd(a->pool[i], a->argmax[i], a->bn[i], B, b->H, b->W, F, m->P, s));
        in = a->pool[i];
    }
    return 0;
}

int ser_cuda_enq_bn_stats_end(ser_cuda_net *net, ser_error *err) {
    const int F = net->m->F;
    /* blocks that train.freeze keeps (i < bn_frozen) keep their moving statistics */
    for (int i = net->m->bn_frozen; i < net->m->blocks; i++)
        SER_CU(ser_k_bn_stats_write(net->params + net->o.mmean[i], net->params + net->o.mvar[i],
                                    net->a.bns_acc + (size_t)i * 3 * F, F, net->s));
    return 0;
}

/* Keras layout -> cuDNN weight spaces: after every parameter change. */
int ser_cuda_enq_pack(ser_cuda_net *net, ser_error *err) {
    const float *w = net->params;
    TRY(ser_lstm_pack(net->lstm1, w + net->o.l1k, w + net->o.l1r, w + net->o.l1b, err));
    TRY(ser_lstm_pack(net->lstm2, w + net->o.l2k, w + net->o.l2r, w + net->o.l2b, err));
    return 0;
}

int ser_cuda_enq_adam(ser_cuda_net *net, float eps, ser_error *err) {
    SER_CU(cudaMemcpyAsync(net->a.sc_adam, net->h_sc_adam, sizeof(ser_step_scalars), cudaMemcpyHostToDevice, net->s));
    /* the trainable slices are one range [0, n_trainable_padded): one launch; a frozen prefix
     * (train.freeze: [0, train_begin)) is left out */
    const size_t b = net->m->train_begin;
    SER_CU(ser_k_adam(net->params + b, net->adam_m + b, net->adam_v + b, net->grads + b, net->m->n_trainable_padded - b,
                      net->a.sc_adam, net->one_b1, net->one_b2, eps, net->s));
    return ser_cuda_enq_pack(net, err);
}
