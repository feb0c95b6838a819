/* The training loop of the reference recipe (Keras Model.fit with EarlyStopping and
 * ReduceLROnPlateau on val_loss, or a per-step cosine decay with train.cosine_decay),
 * backend-agnostic: it only calls the ser_net vtable. */
#include "ser/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ser/augment.h"
#include "ser/metrics.h"
#include "ser/philox.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

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

int ser_evaluate(ser_net *net, const ser_split_data *data, int batch, double *loss, double *accuracy,
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
    const double el = now_s() - t0, eta = done ? el * (double)(total - done) / (double)done : 0.0;
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

int ser_train_run(ser_net *net, const ser_split_data *train, const ser_split_data *val, const ser_train_opts *opts,
                  ser_train_state *st, const float *best_state_in, ser_train_result *res, ser_error *err) {
    const ser_config *cfg = opts->cfg;
    const int C = net->n_classes, batch = cfg->train.batch_size, epochs = cfg->train.epochs;
    const size_t F = net->clip_size, nstate = net->state_size(net->impl);
    memset(res, 0, sizeof *res);
    if (train->n == 0) return ser_fail(err, "training set is empty");
    if (val->n == 0) return ser_fail(err, "validation set is empty (val_loss drives early stopping)");

    uint32_t *order = ser_malloc(train->n * sizeof *order, "shuffle order", err);
    float *xb = ser_malloc((size_t)batch * F * sizeof *xb, "batch features", err);
    int32_t *yb = ser_malloc((size_t)batch * sizeof *yb, "batch labels", err);
    float *best = ser_malloc(nstate * sizeof *best, "best weights", err);
    const int H = ser_config_rows(cfg), W = cfg->features.frames, augment = ser_augment_enabled(&cfg->train);
    SER_ASSERT(!augment || (size_t)H * W == F);
    float *scratch = ser_malloc((size_t)W * sizeof *scratch, "augmentation row", err);
    const double mixup = cfg->train.mixup;
    float *xmix = mixup > 0 ? ser_malloc((size_t)batch * F * sizeof *xmix, "mixup batch", err) : NULL;
    float *lam = mixup > 0 ? ser_malloc((size_t)batch * sizeof *lam, "mixup weights", err) : NULL;
    int32_t *y2 = mixup > 0 ? ser_malloc((size_t)batch * sizeof *y2, "mixup labels", err) : NULL;
    int32_t *vpred = ser_malloc(val->n * sizeof *vpred, "validation predictions", err);
    const int balanced = cfg->train.balanced_batches;
    uint32_t *class_scratch = balanced ? ser_malloc((train->n + 3 * (size_t)C) * sizeof *class_scratch, "class-balanced order", err) : NULL;
    const int monitor = cfg->train.monitor;
    int rc = -1;
    if (!order || !xb || !yb || !best || !scratch || !vpred || (balanced && !class_scratch) ||
        (mixup > 0 && (!xmix || !lam || !y2)))
        goto done;
    if (best_state_in) memcpy(best, best_state_in, nstate * sizeof *best);
    else if (net->state_get(net->impl, best, err) != 0) {
        ser_fail_wrap(err, "the initial state");
        goto done;
    }

    /* A run that stopped early and was killed before writing its model resumes as stopped
     * (the checkpoint holds the callback state that made it stop; same test as the update's). */
    int stop = st->epoch > 1 && st->es.patience > 0 && st->es.wait >= st->es.patience;
    res->stopped_early = stop;
    const int cosine = cfg->train.cosine_decay;
    const uint64_t total_steps = (uint64_t)epochs * (uint64_t)((train->n + (size_t)batch - 1) / (size_t)batch);
    while (!stop && st->epoch < epochs) {
        const int e = st->epoch; /* 0-based epoch being run */
        const double t0 = now_s();
        if (balanced)
            ser_epoch_order_balanced(order, class_scratch, train->y, train->n, C, (uint64_t)cfg->train.seed, e);
        else
            ser_epoch_order(order, train->n, (uint64_t)cfg->train.seed, e);
        /* where this epoch's batches come from: train->x, train's fill, or the epoch's own */
        const float *tx = train->x;
        int (*fill)(void *, const uint32_t *, int, float *, ser_error *) = train->fill;
        void *source = train->source;
        if (opts->epoch_begin) {
            SER_ASSERT(opts->epoch_fill);
            if (opts->epoch_begin(opts->user, e, err) != 0) goto done;
            tx = NULL, fill = opts->epoch_fill, source = opts->user;
        }
        double lsum = 0.0;
        size_t correct = 0, seen = 0;
        for (size_t s = 0; s < train->n; s += (size_t)batch) {
            const int B = (int)(train->n - s < (size_t)batch ? train->n - s : (size_t)batch);
            if (!tx && fill(source, order + s, B, xb, err) != 0) goto done;
            for (int b = 0; b < B; b++) {
                const size_t i = order[s + b];
                if (tx) memcpy(xb + (size_t)b * F, tx + i * F, F * sizeof *xb);
                /* keyed by (seed, epoch, clip): a resume draws the same */
                if (augment)
                    ser_augment_clip(xb + (size_t)b * F, H, W, &cfg->train, (uint64_t)cfg->train.seed, e, (uint32_t)i,
                                     scratch);
                yb[b] = train->y[i];
            }
            const ser_mix mix = {y2, lam};
            if (mixup > 0)
                ser_mixup_batch(xb, xmix, yb, order + s, B, F, mixup, (uint64_t)cfg->train.seed, e, y2, lam);
            const float *probs = NULL;
            float l = 0.0f;
            /* a failed call ends the run here, before any checkpoint of this epoch */
            if (net->forward(net->impl, xb, yb, mixup > 0 ? &mix : NULL, B, 1, st->step, &l, &probs, err) != 0) {
                fail_at(err, e + 1, s / (size_t)batch + 1);
                goto done;
            }
            if (!isfinite(l)) {
                ser_fail(err, "non-finite training loss (%g) at epoch %d, batch %zu: stopped; the last good "
                              "checkpoint is kept", (double)l, e + 1, s / (size_t)batch + 1);
                goto done;
            }
            if (net->backward(net->impl, err) != 0) {
                fail_at(err, e + 1, s / (size_t)batch + 1);
                goto done;
            }
            /* from the step count alone: a resume continues the same curve */
            if (cosine) st->lr = ser_cosine_lr(&cfg->train, st->step, total_steps);
            if (net->step(net->impl, (float)st->lr, err) != 0) {
                fail_at(err, e + 1, s / (size_t)batch + 1);
                goto done;
            }
            st->step++;
            lsum += (double)l * B;
            for (int b = 0; b < B; b++) correct += argmax(probs + (size_t)b * C, C) == yb[b];
            seen += (size_t)B;
            if (opts->progress && !opts->quiet)
                progress_bar(e + 1, epochs, seen, train->n, lsum / seen, (double)correct / seen, t0);
        }
        double vloss = NAN, vacc = NAN;
        if (opts->before_validation && opts->before_validation(opts->user, e, err) != 0) goto done;
        if (ser_evaluate(net, val, batch, &vloss, &vacc, vpred, NULL, err) != 0) {
            ser_fail_wrap(err, "stopped at epoch %d: validation", e + 1);
            goto done;
        }
        if (!isfinite(vloss)) {
            ser_fail(err, "non-finite validation loss at epoch %d: stopped; the last good checkpoint is kept", e + 1);
            goto done;
        }
        const double vuar = ser_metrics_uar(val->y, vpred, val->n, C);
        if (vuar < 0) {
            ser_fail(err, "epoch %d: validation UA: a label outside [0, %d) or out of memory", e + 1, C);
            goto done;
        }
        ser_history_entry h = {e + 1, lsum / (double)seen, (double)correct / (double)seen, vloss, vacc, st->lr,
                               now_s() - t0, vuar};
        const double watched = monitor_to_min(monitor, ser_monitor_value(monitor, &h));
        int improved = 0;
        stop = ser_early_stop_update(&st->es, e, watched, &improved);
        if (improved && net->state_get(net->impl, best, err) != 0) {
            ser_fail_wrap(err, "stopped at epoch %d: keeping its state as the best", e + 1);
            goto done;
        }
        if (!cosine) st->lr = ser_lr_plateau_update(&st->plateau, watched, st->lr);
        st->epoch = e + 1;
        if (!opts->quiet) {
            if (opts->progress) fputc('\r', stderr);
            fprintf(stderr,
                    "epoch %3d/%d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  val_uar %.4f  lr %.3g  %.1fs%s%s   \n",
                    h.epoch, epochs, h.loss, h.accuracy, h.val_loss, h.val_accuracy, h.val_uar, h.lr, h.seconds,
                    improved ? "  *best" : "", !cosine && st->lr != h.lr ? "  (lr reduced)" : "");
        }
        if (opts->history_path && ser_history_append(opts->history_path, &h, err) != 0) goto done;
        /* the best state travels with the checkpoint so that a resume restores the same one */
        if (opts->on_epoch && opts->on_epoch(opts->user, st, &h, best, err) != 0) {
            ser_fail_wrap(err, "stopped at epoch %d", e + 1);
            goto done;
        }
        res->stopped_early = stop;
    }
    /* EarlyStopping(restore_best_weights=True): the net ends holding the best epoch's weights. */
    if (net->state_set(net->impl, best, err) != 0) {
        ser_fail_wrap(err, "restoring the best epoch's state");
        goto done;
    }
    res->epochs_run = st->epoch;
    res->best_epoch = st->es.best_epoch + 1;
    res->best_monitor = monitor_to_min(monitor, st->es.best); /* back to its own sign */
    res->best_state = best;
    best = NULL;
    rc = 0;
done:
    free(order);
    free(xb);
    free(yb);
    free(best);
    free(scratch);
    free(xmix);
    free(lam);
    free(y2);
    free(vpred);
    free(class_scratch);
    return rc;
}
