/* The training loop of the reference recipe (Keras Model.fit with EarlyStopping and
 * ReduceLROnPlateau on val_loss, or a per-step cosine decay with train.cosine_decay),
 * backend-agnostic: it only calls the ser_net vtable. */
#include "ser/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser/augment.h"
#include "ser/clock.h"
#include "ser/metrics.h"
#include "ser/philox.h"

/* Fisher-Yates over order[0..n) with Philox words: counter (i / 4, epoch, tag, 0), key = seed. */
static void philox_shuffle(uint32_t *order, size_t n, uint64_t seed, int epoch, uint32_t tag) {
    philox4x32_key k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr out = {{0, 0, 0, 0}};
    for (size_t i = n; i > 1; i--) {
        const size_t j = n - i; /* word index */
        if (j % 4 == 0) {
            philox4x32_ctr c = {{(uint32_t)(j / 4), (uint32_t)epoch, tag, 0}};
            out = philox4x32_10(c, k);
        }
        const uint32_t w = out.v[j % 4];
        const size_t r = (size_t)(((uint64_t)w * (uint64_t)i) >> 32); /* uniform in [0, i) */
        const uint32_t t = order[i - 1];
        order[i - 1] = order[r];
        order[r] = t;
    }
}

void ser_epoch_order(uint32_t *order, size_t n, uint64_t seed, int epoch) {
    for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
    philox_shuffle(order, n, seed, epoch, 0x5e5u);
}

void ser_epoch_order_balanced(uint32_t *order, uint32_t *scratch, const int32_t *y, size_t n, int C, uint64_t seed,
                              int epoch) {
    /* the epoch's shuffle, then its clips grouped by class (stable): class c's clips in
     * scratch[start[c] .. start[c] + count[c]) in shuffled order */
    ser_epoch_order(order, n, seed, epoch);
    uint32_t *count = scratch + n, *start = count + C, *fill = start + C;
    size_t present = 0;
    memset(count, 0, (size_t)C * sizeof *count);
    for (size_t i = 0; i < n; i++) count[y[i]]++;
    start[0] = 0;
    for (int c = 1; c < C; c++) start[c] = start[c - 1] + count[c - 1];
    memcpy(fill, start, (size_t)C * sizeof *fill);
    for (size_t i = 0; i < n; i++) scratch[fill[y[order[i]]]++] = order[i];
    for (int c = 0; c < C; c++) present += count[c] > 0;
    /* n slots dealt equally over the present classes (the first n % present classes in class
     * order get one more); a class with fewer clips than its quota cycles through them again */
    size_t k = 0, seen = 0;
    for (int c = 0; c < C; c++) {
        if (!count[c]) continue;
        const size_t quota = n / present + (seen++ < n % present);
        for (size_t q = 0; q < quota; q++) order[k++] = scratch[start[c] + q % count[c]];
    }
    philox_shuffle(order, n, seed, epoch, 0x5e6u);
}

void ser_train_state_init(ser_train_state *st, const ser_config *cfg) {
    memset(st, 0, sizeof *st);
    st->lr = cfg->train.learning_rate;
    ser_early_stop_init(&st->es, cfg->train.early_stopping_patience);
    ser_lr_plateau_init(&st->plateau, cfg->train.lr_patience, cfg->train.lr_factor, cfg->train.min_lr);
}

double ser_cosine_lr(const ser_train_config *tc, uint64_t step, uint64_t total_steps) {
    /* Keras CosineDecay(initial_learning_rate = learning_rate, decay_steps = total_steps,
     * alpha = min_lr / learning_rate): lr0 ((1 - alpha) (1 + cos(pi t)) / 2 + alpha), t = step /
     * decay_steps capped at 1. */
    const double lr0 = tc->learning_rate;
    double alpha = lr0 > 0.0 ? tc->min_lr / lr0 : 0.0;
    if (alpha > 1.0) alpha = 1.0;
    const double t = total_steps && step < total_steps ? (double)step / (double)total_steps : 1.0;
    return lr0 * ((1.0 - alpha) * 0.5 * (1.0 + cos(3.14159265358979323846 * t)) + alpha);
}

static int argmax(const float *p, int C) {
    int best = 0;
    for (int c = 1; c < C; c++)
        if (p[c] > p[best]) best = c;
    return best;
}

int ser_evaluate(ser_net *net, const ser_loop_data *data, int batch, double *loss, double *accuracy,
                 int32_t *pred, float *probs_out, ser_error *err) {
    const int C = net->n_classes;
    double lsum = 0.0;
    size_t correct = 0;
    /* features read by batch (data->fill): one batch buffer and its clip indices */
    float *xb = data->x ? NULL : ser_malloc((size_t)batch * net->clip_size * sizeof *xb, "evaluation batch", err);
    uint32_t *ib = data->x ? NULL : ser_malloc((size_t)batch * sizeof *ib, "evaluation batch clips", err);
    if (!data->x && (!xb || !ib)) {
        free(xb), free(ib);
        return -1;
    }
    for (size_t s = 0; s < data->n; s += (size_t)batch) {
        const int B = (int)(data->n - s < (size_t)batch ? data->n - s : (size_t)batch);
        const float *probs = NULL;
        for (int b = 0; xb && b < B; b++) ib[b] = (uint32_t)(s + b);
        if (xb && data->fill(data->source, ib, B, xb, err) != 0) {
            free(xb), free(ib);
            return -1;
        }
        float l = 0.0f;
        if (net->forward(net->impl, xb ? xb : data->x + s * net->clip_size, data->y ? data->y + s : NULL, NULL, B, 0, 0,
                         &l, &probs, err) != 0) {
            free(xb), free(ib);
            return ser_fail_wrap(err, "evaluation: clips %zu..%zu", s, s + B - 1);
        }
        if (data->y && !isfinite(l)) {
            free(xb), free(ib);
            return ser_fail(err, "evaluation: non-finite loss at clips %zu..%zu", s, s + B - 1);
        }
        lsum += (double)l * B;
        for (int b = 0; b < B; b++) {
            const int p = argmax(probs + (size_t)b * C, C);
            if (pred) pred[s + b] = p;
            if (data->y && p == data->y[s + b]) correct++;
        }
        if (probs_out) memcpy(probs_out + s * C, probs, (size_t)B * C * sizeof(float));
    }
    free(xb), free(ib);
    if (loss) *loss = data->n ? lsum / (double)data->n : NAN;
    if (accuracy) *accuracy = data->n ? (double)correct / (double)data->n : NAN;
    return 0;
}

const char *ser_monitor_name(int monitor) {
    switch (monitor) {
    case SER_MONITOR_VAL_ACCURACY: return "val_accuracy";
    case SER_MONITOR_VAL_UAR: return "val_uar";
    default: return "val_loss";
    }
}

double ser_monitor_value(int monitor, const ser_history_entry *h) {
    switch (monitor) {
    case SER_MONITOR_VAL_ACCURACY: return h->val_accuracy;
    case SER_MONITOR_VAL_UAR: return h->val_uar;
    default: return h->val_loss;
    }
}

/* The callbacks minimise: a quantity where higher is better enters negated (Keras's mode="max":
 * improved when current - min_delta > best, i.e. -current + min_delta < -best). */
static double monitor_to_min(int monitor, double v) { return monitor == SER_MONITOR_VAL_LOSS ? v : -v; }

/* One line a batch on a terminal (carriage return), or nothing. */
static void progress_bar(int epoch, int epochs, size_t done, size_t total, double loss, double acc, double t0) {
    const int width = 24;
    const int fill = (int)(width * done / (total ? total : 1));
    const double el = ser_now_s() - t0, eta = done ? el * (double)(total - done) / (double)done : 0.0;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : '.');
    bar[width] = 0;
    fprintf(stderr, "\repoch %d/%d [%s] %zu/%zu loss %.4f acc %.4f ETA %.0fs   ", epoch, epochs, bar, done, total,
            loss, acc, eta);
    fflush(stderr);
}

/* A failed net call inside a training step: stop, saying where (err names the call). */
static void fail_at(ser_error *err, int epoch, size_t batch) {
    ser_fail_wrap(err, "stopped at epoch %d, batch %zu", epoch, batch);
}

/* The loop's working buffers: ONE allocation (the arena), sliced at 64-byte steps; the slices
 * of an option that is off are NULL. */
typedef struct train_bufs {
    void *arena;
    uint32_t *order;         /* (n) the epoch's clip order */
    uint32_t *class_scratch; /* (n + 3 C) train.balanced_batches */
    float *xb;               /* (B, F) the batch's features */
    int32_t *yb;             /* (B) its labels */
    float *row;              /* (W) ser_augment_clip's scratch */
    float *xmix;             /* (B, F) train.mixup: the mixed batch, */
    float *lam;              /* (B) its weights */
    int32_t *y2;             /* (B) and its second labels */
    int32_t *vpred;          /* (validation n) predicted classes */
} train_bufs;

/* Reserves bytes (0: none) at *off; returns the slice's offset, or SIZE_MAX for none. */
static size_t slice(size_t *off, size_t bytes) {
    if (!bytes) return SIZE_MAX;
    const size_t at = *off;
    *off += (bytes + 63) & ~(size_t)63;
    return at;
}

static void *at(void *arena, size_t off) { return off == SIZE_MAX ? NULL : (char *)arena + off; }

static int bufs_alloc(train_bufs *b, size_t n, size_t n_val, int C, int B, size_t F, int W, int balanced, int mixup,
                      ser_error *err) {
    size_t off = 0;
    const size_t order = slice(&off, n * sizeof *b->order),
                 cls = slice(&off, balanced ? (n + 3 * (size_t)C) * sizeof *b->class_scratch : 0),
                 xb = slice(&off, (size_t)B * F * sizeof *b->xb), yb = slice(&off, (size_t)B * sizeof *b->yb),
                 row = slice(&off, (size_t)W * sizeof *b->row),
                 xmix = slice(&off, mixup ? (size_t)B * F * sizeof *b->xmix : 0),
                 lam = slice(&off, mixup ? (size_t)B * sizeof *b->lam : 0),
                 y2 = slice(&off, mixup ? (size_t)B * sizeof *b->y2 : 0),
                 vpred = slice(&off, n_val * sizeof *b->vpred);
    memset(b, 0, sizeof *b);
    if (!(b->arena = ser_malloc(off, "training buffers", err))) return -1;
    b->order = at(b->arena, order), b->class_scratch = at(b->arena, cls), b->xb = at(b->arena, xb);
    b->yb = at(b->arena, yb), b->row = at(b->arena, row), b->xmix = at(b->arena, xmix), b->lam = at(b->arena, lam);
    b->y2 = at(b->arena, y2), b->vpred = at(b->arena, vpred);
    return 0;
}

/* What one run of the loop works with. */
typedef struct loop {
    ser_net *net;
    const ser_config *cfg;
    const ser_train_opts *opts;
    const ser_loop_data *train, *val;
    ser_train_state *st;
    train_bufs b;
    float *best;             /* the best epoch's net state so far */
    size_t F;                /* values a clip */
    int C, batch, epochs, H, W, augment, cosine, monitor;
    uint64_t total_steps;    /* train.cosine_decay: the curve's length */
    /* where this epoch's batches come from: tx (train->x), else fill(source, ...) */
    const float *tx;
    int (*fill)(void *source, const uint32_t *idx, int B, float *out, ser_error *err);
    void *source;
} loop;

/* Epoch e's order and its features: train's, or the epoch's own (opts->epoch_begin). */
static int epoch_start(loop *L, int e, ser_error *err) {
    const uint64_t seed = (uint64_t)L->cfg->train.seed;
    if (L->cfg->train.balanced_batches)
        ser_epoch_order_balanced(L->b.order, L->b.class_scratch, L->train->y, L->train->n, L->C, seed, e);
    else
        ser_epoch_order(L->b.order, L->train->n, seed, e);
    L->tx = L->train->x, L->fill = L->train->fill, L->source = L->train->source;
    if (!L->opts->epoch_begin) return 0;
    SER_ASSERT(L->opts->epoch_fill);
    L->tx = NULL, L->fill = L->opts->epoch_fill, L->source = L->opts->user;
    return L->opts->epoch_begin(L->opts->user, e, err);
}

/* One training step on the B clips order[s..s+B) of epoch e; *lsum, *correct: the epoch's sums. */
static int train_batch(loop *L, int e, size_t s, int B, double *lsum, size_t *correct, ser_error *err) {
    const ser_train_config *tc = &L->cfg->train;
    const uint32_t *idx = L->b.order + s;
    const size_t F = L->F, nb = s / (size_t)L->batch + 1; /* 1-based batch, for messages */
    float *xb = L->b.xb;
    ser_train_state *st = L->st;
    if (!L->tx && L->fill(L->source, idx, B, xb, err) != 0) return -1;
    for (int b = 0; b < B; b++) {
        if (L->tx) memcpy(xb + (size_t)b * F, L->tx + idx[b] * F, F * sizeof *xb);
        /* keyed by (seed, epoch, clip): a resume draws the same */
        if (L->augment) ser_augment_clip(xb + (size_t)b * F, L->H, L->W, tc, (uint64_t)tc->seed, e, idx[b], L->b.row);
        L->b.yb[b] = L->train->y[idx[b]];
    }
    const ser_mix mix = {L->b.y2, L->b.lam};
    if (tc->mixup > 0)
        ser_mixup_batch(xb, L->b.xmix, L->b.yb, idx, B, F, tc->mixup, (uint64_t)tc->seed, e, L->b.y2, L->b.lam);
    const float *probs = NULL;
    float l = 0.0f;
    /* a failed call ends the run here, before any checkpoint of this epoch */
    if (L->net->forward(L->net->impl, xb, L->b.yb, tc->mixup > 0 ? &mix : NULL, B, 1, st->step, &l, &probs, err) != 0) {
        fail_at(err, e + 1, nb);
        return -1;
    }
    if (!isfinite(l))
        return ser_fail(err, "non-finite training loss (%g) at epoch %d, batch %zu: stopped; the last good "
                             "checkpoint is kept", (double)l, e + 1, nb);
    if (L->net->backward(L->net->impl, err) != 0) {
        fail_at(err, e + 1, nb);
        return -1;
    }
    /* from the step count alone: a resume continues the same curve */
    if (L->cosine) st->lr = ser_cosine_lr(tc, st->step, L->total_steps);
    if (L->net->step(L->net->impl, (float)st->lr, err) != 0) {
        fail_at(err, e + 1, nb);
        return -1;
    }
    st->step++;
    *lsum += (double)l * B;
    for (int b = 0; b < B; b++) *correct += argmax(probs + (size_t)b * L->C, L->C) == L->b.yb[b];
    return 0;
}

/* After epoch e's steps: validation, the callbacks, the best state, the log line, history and
 * on_epoch. *stop: EarlyStopping's verdict. */
static int epoch_end(loop *L, int e, double t0, double lsum, size_t correct, size_t seen, int *stop, ser_error *err) {
    const ser_train_opts *opts = L->opts;
    ser_train_state *st = L->st;
    double vloss = NAN, vacc = NAN;
    if (opts->before_validation && opts->before_validation(opts->user, e, err) != 0) return -1;
    if (ser_evaluate(L->net, L->val, L->batch, &vloss, &vacc, L->b.vpred, NULL, err) != 0)
        return ser_fail_wrap(err, "stopped at epoch %d: validation", e + 1);
    if (!isfinite(vloss))
        return ser_fail(err, "non-finite validation loss at epoch %d: stopped; the last good checkpoint is kept",
                        e + 1);
    const double vuar = ser_metrics_uar(L->val->y, L->b.vpred, L->val->n, L->C);
    if (vuar < 0)
        return ser_fail(err, "epoch %d: validation UA: a label outside [0, %d) or out of memory", e + 1, L->C);
    ser_history_entry h = {e + 1, lsum / (double)seen, (double)correct / (double)seen, vloss, vacc, st->lr,
                           ser_now_s() - t0, vuar};
    const double watched = monitor_to_min(L->monitor, ser_monitor_value(L->monitor, &h));
    int improved = 0;
    *stop = ser_early_stop_update(&st->es, e, watched, &improved);
    if (improved && L->net->state_get(L->net->impl, L->best, err) != 0)
        return ser_fail_wrap(err, "stopped at epoch %d: keeping its state as the best", e + 1);
    if (!L->cosine) st->lr = ser_lr_plateau_update(&st->plateau, watched, st->lr);
    st->epoch = e + 1;
    if (!opts->quiet) {
        if (opts->progress) fputc('\r', stderr);
        fprintf(stderr,
                "epoch %3d/%d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  val_uar %.4f  lr %.3g  %.1fs%s%s   \n",
                h.epoch, L->epochs, h.loss, h.accuracy, h.val_loss, h.val_accuracy, h.val_uar, h.lr, h.seconds,
                improved ? "  *best" : "", !L->cosine && st->lr != h.lr ? "  (lr reduced)" : "");
    }
    if (opts->history_path && ser_history_append(opts->history_path, &h, err) != 0) return -1;
    /* the best state travels with the checkpoint so that a resume restores the same one */
    if (opts->on_epoch && opts->on_epoch(opts->user, st, &h, L->best, err) != 0)
        return ser_fail_wrap(err, "stopped at epoch %d", e + 1);
    return 0;
}

int ser_train_run(ser_net *net, const ser_loop_data *train, const ser_loop_data *val, const ser_train_opts *opts,
                  ser_train_state *st, const float *best_state_in, ser_train_result *res, ser_error *err) {
    const ser_config *cfg = opts->cfg;
    const ser_train_config *tc = &cfg->train;
    memset(res, 0, sizeof *res);
    if (train->n == 0) return ser_fail(err, "training set is empty");
    if (val->n == 0) return ser_fail(err, "validation set is empty (val_loss drives early stopping)");
    loop L = {.net = net, .cfg = cfg, .opts = opts, .train = train, .val = val, .st = st, .F = net->clip_size,
              .C = net->n_classes, .batch = tc->batch_size, .epochs = tc->epochs, .H = ser_config_rows(cfg),
              .W = cfg->features.frames, .augment = ser_augment_enabled(tc), .cosine = tc->cosine_decay,
              .monitor = tc->monitor};
    SER_ASSERT(!L.augment || (size_t)L.H * L.W == L.F);
    L.total_steps = (uint64_t)L.epochs * (uint64_t)((train->n + (size_t)L.batch - 1) / (size_t)L.batch);
    const size_t nstate = net->state_size(net->impl);
    int rc = -1;
    if (bufs_alloc(&L.b, train->n, val->n, L.C, L.batch, L.F, L.W, tc->balanced_batches, tc->mixup > 0, err) != 0 ||
        !(L.best = ser_malloc(nstate * sizeof *L.best, "best weights", err)))
        goto done;
    if (best_state_in) memcpy(L.best, best_state_in, nstate * sizeof *L.best);
    else if (net->state_get(net->impl, L.best, err) != 0) {
        ser_fail_wrap(err, "the initial state");
        goto done;
    }
    /* A run that stopped early and was killed before writing its model resumes as stopped
     * (the checkpoint holds the callback state that made it stop; same test as the update's). */
    int stop = st->epoch > 1 && st->es.patience > 0 && st->es.wait >= st->es.patience;
    res->stopped_early = stop;
    while (!stop && st->epoch < L.epochs) {
        const int e = st->epoch; /* 0-based epoch being run */
        const double t0 = ser_now_s();
        double lsum = 0.0;
        size_t correct = 0, seen = 0;
        if (epoch_start(&L, e, err) != 0) goto done;
        for (size_t s = 0; s < train->n; s += (size_t)L.batch) {
            const int B = (int)(train->n - s < (size_t)L.batch ? train->n - s : (size_t)L.batch);
            if (train_batch(&L, e, s, B, &lsum, &correct, err) != 0) goto done;
            seen += (size_t)B;
            if (opts->progress && !opts->quiet)
                progress_bar(e + 1, L.epochs, seen, train->n, lsum / seen, (double)correct / seen, t0);
        }
        if (epoch_end(&L, e, t0, lsum, correct, seen, &stop, err) != 0) goto done;
        res->stopped_early = stop;
    }
    /* EarlyStopping(restore_best_weights=True): the net ends holding the best epoch's weights. */
    if (net->state_set(net->impl, L.best, err) != 0) {
        ser_fail_wrap(err, "restoring the best epoch's state");
        goto done;
    }
    res->epochs_run = st->epoch;
    res->best_epoch = st->es.best_epoch + 1;
    res->best_monitor = monitor_to_min(L.monitor, st->es.best); /* back to its own sign */
    res->best_state = L.best;
    L.best = NULL;
    rc = 0;
done:
    free(L.b.arena);
    free(L.best);
    return rc;
}
