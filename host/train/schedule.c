/* EarlyStopping and ReduceLROnPlateau with Keras 3's exact rules (keras/src/callbacks/). */
#include "ser/schedule.h"

#include <math.h>

void ser_early_stop_init(ser_early_stop *es, int patience) {
    es->patience = patience;
    es->best = INFINITY;
    es->best_epoch = -1;
    es->wait = 0;
}

int ser_early_stop_update(ser_early_stop *es, int epoch, double val_loss, int *improved) {
    /* Keras: wait += 1; if monitor_op(current - min_delta, best): best = current, wait = 0,
     * keep weights; elif wait >= patience and epoch > 0: stop and restore the best weights.
     * A NaN val_loss never improves. */
    *improved = 0;
    es->wait++;
    if (val_loss < es->best) {
        es->best = val_loss;
        es->best_epoch = epoch;
        es->wait = 0;
        *improved = 1;
        return 0;
    }
    return es->patience > 0 && es->wait >= es->patience && epoch > 0;
}

void ser_lr_plateau_init(ser_lr_plateau *p, int patience, double factor, double min_lr) {
    p->patience = patience;
    p->factor = factor;
    p->min_lr = min_lr;
    p->min_delta = 1e-4; /* Keras default */
    p->best = INFINITY;
    p->wait = 0;
}

double ser_lr_plateau_update(ser_lr_plateau *p, double val_loss, double lr) {
    if (val_loss < p->best - p->min_delta) {
        p->best = val_loss;
        p->wait = 0;
        return lr;
    }
    if (p->patience <= 0) return lr;
    if (++p->wait >= p->patience) {
        p->wait = 0;
        /* Keras compares and computes in float32 (the optimizer variable). */
        if ((float)lr > (float)p->min_lr) {
            double next = lr * p->factor;
            return next > p->min_lr ? next : p->min_lr;
        }
    }
    return lr;
}
