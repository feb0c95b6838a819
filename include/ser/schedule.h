/* Keras's EarlyStopping and ReduceLROnPlateau on val_loss, as the reference uses them:
 *   EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)   (min_delta 0)
 *   ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=5, min_lr=1e-6)   (min_delta 1e-4,
 *   cooldown 0)
 * Both are plain state machines fed one val_loss per epoch, so a resumed run restores them
 * from the checkpoint state and continues exactly. */
#ifndef SER_SCHEDULE_H
#define SER_SCHEDULE_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ser_early_stop {
    int patience;        /* 0: never stop */
    double best;         /* best val_loss so far (+inf before the first epoch) */
    int best_epoch;      /* epoch (0-based) of best, -1 before the first epoch */
    int wait;            /* epochs since the last improvement */
} ser_early_stop;

typedef struct ser_lr_plateau {
    int patience;        /* 0: never reduce */
    double factor, min_lr, min_delta;
    double best;
    int wait;
} ser_lr_plateau;

void ser_early_stop_init(ser_early_stop *es, int patience);
/* Feeds one epoch's val_loss. Sets *improved when this epoch is the new best (the caller
 * keeps its weights). Returns 1 when training should stop after this epoch. */
int ser_early_stop_update(ser_early_stop *es, int epoch, double val_loss, int *improved);

void ser_lr_plateau_init(ser_lr_plateau *p, int patience, double factor, double min_lr);
/* Feeds one epoch's val_loss; returns the learning rate for the next epoch. */
double ser_lr_plateau_update(ser_lr_plateau *p, double val_loss, double lr);

#ifdef __cplusplus
}
#endif

#endif
