/* The training loop on a small softmax-regression net (defined here): it learns, early
 * stopping and the LR schedule follow Keras's rules, a run split in two (checkpoint state
 * carried over) ends bit-identical to an uninterrupted one, and a non-finite loss stops it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "layers/layers.h"
#include "ser/train.h"

enum { F = 6, C = 3 };

typedef struct toy {
    float state[2 * (F * C + C) + (F * C + C) + 1]; /* params, m, v, t */
    float grad[F * C + C];
    float logits[64 * C], probs[64 * C];
    const float *x;
    const int32_t *y;
    int B;
    int poison; /* forward returns NaN when set */
    int mixed;  /* the last forward had mixup targets (y2, lam) */
    int n_mixed; /* forwards with mixup targets */
    int32_t y2[64];
    float lam[64];
    int steps;  /* Adam steps taken, and the learning rate of each (up to 256) */
    float lrs[256];
} toy;
#define NP (F * C + C)

static int toy_forward(void *impl, const float *x, const int32_t *labels, const ser_mix *mix, int B, int training,
                       uint64_t step, float *loss, const float **probs, ser_error *err) {
    toy *t = impl;
    (void)training, (void)step, (void)err;
    t->mixed = mix != NULL;
    t->n_mixed += mix != NULL;
    if (mix) memcpy(t->y2, mix->labels2, (size_t)B * sizeof *t->y2), memcpy(t->lam, mix->lam, (size_t)B * sizeof *t->lam);
    dense_forward(t->logits, x, t->state, t->state + F * C, B, F, C);
    float l = labels ? softmax_xent_forward(t->probs, t->logits, labels, mix ? t->y2 : NULL, mix ? t->lam : NULL, B, C, 0.0f) : 0.0f;
    if (!labels) softmax_xent_forward(t->probs, t->logits, NULL, NULL, NULL, B, C, 0.0f);
    t->x = x, t->y = labels, t->B = B;
    *probs = t->probs;
    *loss = t->poison ? NAN : l;
    return 0;
}
static int toy_backward(void *impl, ser_error *err) {
    toy *t = impl;
    (void)err;
    float dlogits[64 * C];
    softmax_xent_backward(dlogits, t->probs, t->y, t->mixed ? t->y2 : NULL, t->mixed ? t->lam : NULL, t->B, C, 0.0f);
    memset(t->grad, 0, sizeof t->grad);
    dense_backward(NULL, t->grad, t->grad + F * C, dlogits, t->x, t->state, t->B, F, C);
    return 0;
}
static int toy_step(void *impl, float lr, ser_error *err) {
    toy *t = impl;
    (void)err;
    if (t->steps < 256) t->lrs[t->steps] = lr;
    t->steps++;
    float *tc = t->state + 3 * NP;
    *tc += 1;
    adam_update(t->state, t->state + NP, t->state + 2 * NP, t->grad, NP, lr, 0.9f, 0.999f, 1e-7f, (int)*tc);
    return 0;
}
static size_t toy_state_size(void *impl) { (void)impl; return 3 * NP + 1; }
static size_t toy_param_size(void *impl) { (void)impl; return NP; }
static int toy_get(void *impl, float *out, ser_error *err) {
    (void)err;
    memcpy(out, ((toy *)impl)->state, sizeof ((toy *)impl)->state);
    return 0;
}
static int toy_set(void *impl, const float *in, ser_error *err) {
    (void)err;
    memcpy(((toy *)impl)->state, in, sizeof ((toy *)impl)->state);
    return 0;
}

static ser_net toy_net(toy *t) {
    memset(t, 0, sizeof *t);
    for (int i = 0; i < F * C; i++) t->state[i] = 0.1f * (float)((i * 7) % 5 - 2);
    ser_net n = {t, toy_forward, toy_backward, toy_step, toy_state_size, toy_get, toy_set, toy_param_size, C, F};
    return n;
}

/* The toy net behind a backend that fails: the first call of op made after `after_steps` Adam
 * steps returns -1 with a message naming it, as net.c reports a backend's failure. */
typedef enum fault_op { FAULT_FORWARD, FAULT_BACKWARD, FAULT_STEP, FAULT_STATE_GET, FAULT_STATE_SET } fault_op;
static const char *const fault_names[] = {"forward", "backward", "step", "download_state", "upload_state"};
typedef struct flaky {
    toy t;
    fault_op op;
    int after_steps;
    int fired;        /* the fault has happened */
    int calls_after;  /* net calls made after it (the loop must make none) */
} flaky;

static int flaky_fault(flaky *f, fault_op op, ser_error *err) {
    if (f->fired) f->calls_after++;
    if (f->fired || op != f->op || f->t.steps < f->after_steps) return 0;
    f->fired = 1;
    return ser_fail(err, "backend toy: %s: device lost", fault_names[op]);
}
static int flaky_forward(void *impl, const float *x, const int32_t *labels, const ser_mix *mix, int B, int training,
                         uint64_t step, float *loss, const float **probs, ser_error *err) {
    return flaky_fault(impl, FAULT_FORWARD, err) ? -1 : toy_forward(impl, x, labels, mix, B, training, step, loss, probs, err);
}
static int flaky_backward(void *impl, ser_error *err) {
    return flaky_fault(impl, FAULT_BACKWARD, err) ? -1 : toy_backward(impl, err);
}
static int flaky_step(void *impl, float lr, ser_error *err) {
    return flaky_fault(impl, FAULT_STEP, err) ? -1 : toy_step(impl, lr, err);
}
static int flaky_get(void *impl, float *out, ser_error *err) {
    return flaky_fault(impl, FAULT_STATE_GET, err) ? -1 : toy_get(impl, out, err);
}
static int flaky_set(void *impl, const float *in, ser_error *err) {
    return flaky_fault(impl, FAULT_STATE_SET, err) ? -1 : toy_set(impl, in, err);
}
static ser_net flaky_net(flaky *f, fault_op op, int after_steps) {
    ser_net n = toy_net(&f->t); /* the toy is the struct's first member: impl works for both */
    f->op = op, f->after_steps = after_steps, f->fired = 0, f->calls_after = 0;
    n.forward = flaky_forward, n.backward = flaky_backward, n.step = flaky_step;
    n.state_get = flaky_get, n.state_set = flaky_set;
    return n;
}

/* Three Gaussian-ish blobs from a fixed LCG: class c has mean +2 on feature c. */
static void make_data(float *x, int32_t *y, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        y[i] = (int32_t)(i % C);
        for (int f = 0; f < F; f++) {
            seed = seed * 1664525u + 1013904223u;
            float noise = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 2.0f;
            x[i * F + f] = noise + (f == y[i] ? 2.0f : 0.0f);
        }
    }
}

typedef struct saved {
    ser_net *net;
    ser_train_state st;
    float cur[3 * NP + 1];  /* the net state after the last epoch (what a checkpoint stores) */
    float best[3 * NP + 1];
    int calls;
    int kill_after;         /* > 0: fail (stop the run) after this many epochs, like a kill */
} saved;

static int keep(void *user, const ser_train_state *st, const ser_history_entry *h, const float *best, ser_error *err) {
    saved *s = user;
    (void)h;
    s->st = *st;
    if (s->net->state_get(s->net->impl, s->cur, err) != 0) return -1;
    memcpy(s->best, best, sizeof s->best);
    s->calls++;
    return s->kill_after > 0 && s->calls == s->kill_after ? ser_fail(err, "killed") : 0;
}

/* A fresh toy net trained under cfg from the start (sv: the checkpoint callback's record, or
 * NULL). Returns ser_train_run's result code; the best state is freed. */
static int train_fresh(toy *t, const ser_config *cfg, const ser_loop_data *tr, const ser_loop_data *va, saved *sv,
                       ser_train_state *st) {
    ser_net n = toy_net(t);
    ser_train_result r;
    ser_error e = {{0}};
    if (sv) sv->net = &n;
    ser_train_state_init(st, cfg);
    const int rc = ser_train_run(&n, tr, va, &(ser_train_opts){cfg, NULL, sv ? keep : NULL, sv, 0, 1, NULL, NULL, NULL}, st, NULL,
                                 &r, &e);
    if (rc == 0) free(r.best_state);
    return rc;
}

/* A run of cfg killed after its 5th epoch's checkpoint (the callback fails there), then a
 * fresh net resumed from that checkpoint under the same cfg to the end: *t holds the resumed
 * net, *st its loop state, *first the loop state the checkpoint held. */
static void killed_and_resumed(toy *t, ser_train_state *st, ser_train_state *first, const ser_config *cfg,
                               const ser_loop_data *tr, const ser_loop_data *va) {
    toy killed;
    saved sv;
    memset(&sv, 0, sizeof sv);
    sv.kill_after = 5;
    ser_train_state sk;
    CHECK(train_fresh(&killed, cfg, tr, va, &sv, &sk) != 0 && sv.calls == 5 && sv.st.epoch == 5);
    *first = sv.st;
    ser_net n = toy_net(t);
    CHECK(n.state_set(n.impl, sv.cur, NULL) == 0);
    *st = sv.st;
    ser_train_result r;
    ser_error e = {{0}};
    CHECKF(ser_train_run(&n, tr, va, &(ser_train_opts){cfg, NULL, NULL, NULL, 0, 1, NULL, NULL, NULL}, st, sv.best, &r, &e) == 0,
           "%s", e.msg);
    free(r.best_state);
}

int main(void) {
    static float xt[600 * F], xv[90 * F];
    static int32_t yt[600], yv[90];
    make_data(xt, yt, 600, 1);
    make_data(xv, yv, 90, 2);
    ser_loop_data tr = {xt, yt, 600, NULL, NULL}, va = {xv, yv, 90, NULL, NULL};
    ser_config cfg;
    ser_config_defaults(&cfg);
    cfg.train.epochs = 12;
    cfg.train.learning_rate = 0.01;
    ser_error e = {{0}};
    ser_train_result r;
    double vl, vacc;

    /* It learns: validation accuracy well above chance (1/3); the net ends on the best epoch. */
    toy ta;
    ser_net na = toy_net(&ta);
    ser_train_state sa;
    ser_train_state_init(&sa, &cfg);
    CHECKF(ser_train_run(&na, &tr, &va, &(ser_train_opts){&cfg, NULL, NULL, NULL, 0, 1, NULL, NULL, NULL}, &sa, NULL, &r, &e) == 0,
           "%s", e.msg);
    ser_evaluate(&na, &va, 64, &vl, &vacc, NULL, NULL, &e);
    CHECKF(vacc > 0.9, "validation accuracy %.3f", vacc);
    CHECK(r.epochs_run == 12 && r.best_epoch >= 1 && r.best_epoch <= 12 && !r.stopped_early);
    CHECKF(fabs(vl - r.best_monitor) < 1e-6, "net holds the best epoch's weights: %g vs %g", vl, r.best_monitor);
    free(r.best_state);

    /* Killed after 5 epochs, resumed from the checkpoint: bit-identical to straight. */
    toy tc;
    ser_train_state sc, s5;
    killed_and_resumed(&tc, &sc, &s5, &cfg, &tr, &va);
    CHECK(s5.step == 5 * 10);
    CHECK(memcmp(ta.state, tc.state, sizeof ta.state) == 0);
    CHECK(sc.epoch == 12 && sc.lr == sa.lr && sc.es.best == sa.es.best);

    /* With train.aug_* on (clips of 2 coefficients x 3 frames): the augmentation changes the
     * training, and a run split in two still ends bit-identical (draws keyed by seed, epoch, clip). */
    ser_config ca = cfg;
    ca.features.n_mfcc = 2, ca.features.frames = 3;
    ca.train.aug_time_shift = 1, ca.train.aug_noise = 0.3, ca.train.aug_time_masks = 1, ca.train.aug_time_width = 1;
    toy tg, ti;
    ser_train_state sg, si, s5a;
    CHECK(train_fresh(&tg, &ca, &tr, &va, NULL, &sg) == 0);
    CHECK(memcmp(tg.state, ta.state, sizeof tg.state) != 0);
    killed_and_resumed(&ti, &si, &s5a, &ca, &tr, &va);
    CHECKF(memcmp(tg.state, ti.state, sizeof tg.state) == 0, "augmented run resumed after 5 epochs differs");

    /* Early stopping: lr 0 -> val_loss never improves after epoch 1 -> stop at epoch 11. */
    toy td;
    ser_net nd = toy_net(&td);
    ser_config c0 = cfg;
    c0.train.learning_rate = 0;
    c0.train.epochs = 300;
    ser_train_state sd;
    ser_train_state_init(&sd, &c0);
    CHECK(ser_train_run(&nd, &tr, &va, &(ser_train_opts){&c0, NULL, NULL, NULL, 0, 1, NULL, NULL, NULL}, &sd, NULL, &r, &e) == 0);
    CHECKF(r.stopped_early && r.epochs_run == 11 && r.best_epoch == 1, "ran %d, best %d", r.epochs_run, r.best_epoch);
    /* Killed after the stopping epoch's checkpoint, before the model was written: the resume
     * trains no further epoch and ends on the same best weights. */
    toy tf;
    ser_net nf = toy_net(&tf);
    saved sf;
    memset(&sf, 0, sizeof sf);
    sf.net = &nf;
    ser_train_state sff;
    ser_train_state_init(&sff, &c0);
    ser_train_result rf;
    CHECK(ser_train_run(&nf, &tr, &va, &(ser_train_opts){&c0, NULL, keep, &sf, 0, 1, NULL, NULL, NULL}, &sff, NULL, &rf, &e) == 0);
    free(rf.best_state);
    toy tk;
    ser_net nk = toy_net(&tk);
    CHECK(nk.state_set(nk.impl, sf.cur, NULL) == 0);
    ser_train_state sk = sf.st;
    CHECK(ser_train_run(&nk, &tr, &va, &(ser_train_opts){&c0, NULL, keep, &sf, 0, 1, NULL, NULL, NULL}, &sk, sf.best, &rf, &e) == 0);
    CHECKF(sf.calls == 11 && rf.epochs_run == 11 && rf.stopped_early && sk.epoch == 11,
           "resumed after an early stop: %d checkpoints, %d epochs", sf.calls, rf.epochs_run);
    CHECK(memcmp(td.state, tk.state, sizeof td.state) == 0);
    free(rf.best_state);
    free(r.best_state);

    /* Cosine decay (train.cosine_decay): Keras CosineDecay(1e-3, 100, alpha = 1e-6 / 1e-3) gives
     * 0.001, 0.00099975348, 0.00085369992, 0.00050049997, 1.2464868e-06, 1e-06, 1e-06 at steps
     * 0, 1, 25, 50, 99, 100, 150 (keras 3, float32). */
    ser_train_config tcos = cfg.train;
    tcos.learning_rate = 1e-3, tcos.min_lr = 1e-6;
    const uint64_t at[7] = {0, 1, 25, 50, 99, 100, 150};
    const double keras_cos[7] = {0.001, 0.00099975348, 0.00085369992, 0.00050049997, 1.2464868e-06, 1e-06, 1e-06};
    for (int i = 0; i < 7; i++)
        CHECKF(fabs(ser_cosine_lr(&tcos, at[i], 100) - keras_cos[i]) < 2e-5 * keras_cos[i], /* Keras: float32 */
               "cosine lr at step %d: %.9g", (int)at[i], ser_cosine_lr(&tcos, at[i], 100));
    /* A run under it: step s gets ser_cosine_lr(s, 12 epochs x 10 steps), decreasing; no plateau
     * reduction; killed after epoch 5 and resumed from that checkpoint it ends bit-identical. */
    ser_config cc = cfg;
    cc.train.cosine_decay = 1, cc.train.min_lr = 1e-4, cc.train.lr_patience = 1;
    toy tl, tn;
    ser_train_state sl, sn, s5c;
    CHECK(train_fresh(&tl, &cc, &tr, &va, NULL, &sl) == 0);
    CHECKF(tl.steps == 120 && tl.lrs[0] == (float)cc.train.learning_rate &&
               tl.lrs[119] == (float)ser_cosine_lr(&cc.train, 119, 120) && tl.lrs[60] == (float)ser_cosine_lr(&cc.train, 60, 120),
           "cosine run: %d steps, lr %g .. %g", tl.steps, tl.lrs[0], tl.lrs[119]);
    int falling = 1;
    for (int i = 1; i < 120; i++) falling &= tl.lrs[i] < tl.lrs[i - 1];
    CHECKF(falling && tl.lrs[119] > 1e-4f && tl.lrs[119] < 1.02e-4f, "falling %d, last lr %g", falling, tl.lrs[119]);
    CHECK(memcmp(tl.state, ta.state, sizeof tl.state) != 0);
    killed_and_resumed(&tn, &sn, &s5c, &cc, &tr, &va);
    CHECKF(memcmp(tl.state, tn.state, sizeof tl.state) == 0, "cosine run resumed after 5 epochs differs");

    /* Mixup (train.mixup = 0.4): it still learns, trains otherwise than without, and a run killed
     * after 5 epochs and resumed ends bit-identical (draws keyed by seed, epoch, clip). */
    ser_config cm = cfg;
    cm.train.mixup = 0.4;
    toy tx, ty;
    ser_train_state sx, sy, s5m;
    CHECK(train_fresh(&tx, &cm, &tr, &va, NULL, &sx) == 0);
    CHECKF(tx.n_mixed == 120 && ta.n_mixed == 0 && memcmp(tx.state, ta.state, sizeof tx.state) != 0,
           "mixup: %d mixed training forwards of 120", tx.n_mixed);
    toy tz;
    ser_net nz = toy_net(&tz);
    CHECK(nz.state_set(nz.impl, tx.state, NULL) == 0); /* the best epoch's weights, as the run ended */
    ser_evaluate(&nz, &va, 64, &vl, &vacc, NULL, NULL, &e);
    CHECKF(vacc > 0.9, "mixup: validation accuracy %.3f", vacc);
    killed_and_resumed(&ty, &sy, &s5m, &cm, &tr, &va);
    CHECKF(memcmp(tx.state, ty.state, sizeof tx.state) == 0, "mixup run resumed after 5 epochs differs");

    /* Shuffling: a permutation, different per epoch, the same for the same key. */
    uint32_t o1[100], o2[100], o3[100];
    ser_epoch_order(o1, 100, 42, 0);
    ser_epoch_order(o2, 100, 42, 0);
    ser_epoch_order(o3, 100, 42, 1);
    int seen[100] = {0}, perm = 1;
    for (int i = 0; i < 100; i++) perm &= o1[i] < 100 && !seen[o1[i]]++;
    CHECK(perm && memcmp(o1, o2, sizeof o1) == 0 && memcmp(o1, o3, sizeof o1) != 0);

    /* Class-balanced order: 100 clips of 3 classes (70 / 25 / 5, class 1 absent from 4 labels):
     * each class 33 or 34 times (the first present class gets the extra one), class 2's 5 clips
     * each 6-7 times, class 0 cut to 34 distinct clips, the same for the same key, another per epoch. */
    {
        int32_t yb[100];
        for (int i = 0; i < 100; i++) yb[i] = i < 70 ? 0 : i < 95 ? 3 : 2;
        uint32_t b1[100], b2[100], b3[100], bscratch[100 + 3 * 4];
        ser_epoch_order_balanced(b1, bscratch, yb, 100, 4, 42, 0);
        ser_epoch_order_balanced(b2, bscratch, yb, 100, 4, 42, 0);
        ser_epoch_order_balanced(b3, bscratch, yb, 100, 4, 42, 1);
        int per_class[4] = {0}, uses[100] = {0}, distinct0 = 0, min2 = 100, max2 = 0;
        for (int i = 0; i < 100; i++) per_class[yb[b1[i]]]++, uses[b1[i]]++;
        for (int i = 0; i < 70; i++) distinct0 += uses[i] == 1;
        for (int i = 95; i < 100; i++) min2 = uses[i] < min2 ? uses[i] : min2, max2 = uses[i] > max2 ? uses[i] : max2;
        CHECKF(per_class[0] == 34 && per_class[2] == 33 && per_class[3] == 33 && per_class[1] == 0,
               "balanced: %d %d %d %d per class", per_class[0], per_class[1], per_class[2], per_class[3]);
        CHECKF(distinct0 == 34 && min2 == 6 && max2 == 7, "balanced: class 0 %d distinct, class 2 used %d-%d times",
               distinct0, min2, max2);
        CHECK(memcmp(b1, b2, sizeof b1) == 0 && memcmp(b1, b3, sizeof b1) != 0);
    }

    /* A non-finite loss stops with a message naming the epoch and batch. */
    toy te;
    ser_net ne = toy_net(&te);
    te.poison = 1;
    ser_train_state se;
    ser_train_state_init(&se, &cfg);
    CHECK(ser_train_run(&ne, &tr, &va, &(ser_train_opts){&cfg, NULL, NULL, NULL, 0, 1, NULL, NULL, NULL}, &se, NULL, &r, &e) != 0);
    CHECKF(strstr(e.msg, "non-finite") && strstr(e.msg, "epoch 1, batch 1"), "%s", e.msg);

    /* A backend failure at each call site stops the run at once with the call named: no
     * further net call, no checkpoint (on_epoch) after it, so the last one saved (the 2nd
     * epoch's, for faults in epoch 3) is what the checkpoint callback holds. 10 steps an epoch;
     * after_steps 25: in epoch 3's training; 30: after its training (its validation forward, its
     * state download for the best weights or the checkpoint); 120 (12 epochs): restoring the best
     * weights at the end, after the last checkpoint. */
    toy tref;
    saved sref;
    memset(&sref, 0, sizeof sref);
    sref.kill_after = 2;
    ser_train_state sr;
    CHECK(train_fresh(&tref, &cfg, &tr, &va, &sref, &sr) != 0 && sref.calls == 2);
    const struct {
        fault_op op;
        int after_steps, checkpoints; /* epochs checkpointed before the fault */
        const char *where;
    } faults[] = {{FAULT_FORWARD, 25, 2, "stopped at epoch 3, batch 6"},
                  {FAULT_FORWARD, 30, 2, "stopped at epoch 3: validation"},
                  {FAULT_BACKWARD, 25, 2, "stopped at epoch 3, batch 6"},
                  {FAULT_STEP, 25, 2, "stopped at epoch 3, batch 6"},
                  {FAULT_STATE_GET, 30, 2, "epoch 3"},
                  {FAULT_STATE_GET, 0, 0, "the initial state"},
                  {FAULT_STATE_SET, 0, 12, "restoring the best epoch's state"}};
    for (size_t k = 0; k < sizeof faults / sizeof *faults; k++) {
        flaky f;
        ser_net nfl = flaky_net(&f, faults[k].op, faults[k].after_steps);
        saved sv;
        memset(&sv, 0, sizeof sv);
        sv.net = &nfl;
        ser_train_state sfl;
        ser_train_state_init(&sfl, &cfg);
        ser_error fe = {{0}};
        ser_train_result fr;
        const int rc = ser_train_run(&nfl, &tr, &va, &(ser_train_opts){&cfg, NULL, keep, &sv, 0, 1, NULL, NULL, NULL}, &sfl,
                                     NULL, &fr, &fe);
        const char *op = fault_names[faults[k].op];
        CHECKF(rc == -1 && f.fired && f.calls_after == 0, "%s fault after %d steps: rc %d, fired %d, %d calls after it",
               op, faults[k].after_steps, rc, f.fired, f.calls_after);
        CHECKF(strstr(fe.msg, op) && strstr(fe.msg, "device lost") && strstr(fe.msg, faults[k].where),
               "%s fault: the error names neither the call nor where: %s", op, fe.msg);
        CHECKF(sv.calls == faults[k].checkpoints && sv.st.epoch == faults[k].checkpoints,
               "%s fault after %d steps: %d checkpoints (epoch %d), expected %d", op, faults[k].after_steps, sv.calls,
               sv.st.epoch, faults[k].checkpoints);
        if (faults[k].checkpoints == 2)
            CHECKF(memcmp(sv.cur, sref.cur, sizeof sv.cur) == 0 && memcmp(sv.best, sref.best, sizeof sv.best) == 0,
                   "%s fault: the last checkpoint is not epoch 2's", op);
        if (rc == 0) free(fr.best_state);
    }
    return check_finish("test_train");
}
