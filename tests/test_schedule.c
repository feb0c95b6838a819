/* EarlyStopping / ReduceLROnPlateau against Keras's rules, epoch by epoch. */
#include <math.h>

#include "check.h"
#include "ser/schedule.h"

int main(void) {
    /* Early stopping, patience 2: improves at 0, 1, then 2 bad epochs -> stop at epoch 3. */
    ser_early_stop es;
    ser_early_stop_init(&es, 2);
    int imp;
    CHECK(ser_early_stop_update(&es, 0, 1.0, &imp) == 0 && imp && es.best_epoch == 0);
    CHECK(ser_early_stop_update(&es, 1, 0.5, &imp) == 0 && imp && es.best_epoch == 1);
    CHECK(ser_early_stop_update(&es, 2, 0.5, &imp) == 0 && !imp); /* equal is no improvement */
    CHECK(ser_early_stop_update(&es, 3, 0.7, &imp) == 1 && !imp && es.best_epoch == 1);
    /* NaN never improves. */
    ser_early_stop_init(&es, 0);
    CHECK(ser_early_stop_update(&es, 0, NAN, &imp) == 0 && !imp && es.best_epoch == -1);
    for (int e = 1; e < 50; e++) CHECK(ser_early_stop_update(&es, e, 1.0 + e, &imp) == 0); /* patience 0: never */

    /* Plateau, patience 2, factor 0.5, min 0.1: needs an improvement of more than 1e-4. */
    ser_lr_plateau p;
    ser_lr_plateau_init(&p, 2, 0.5, 0.1);
    double lr = 0.8;
    lr = ser_lr_plateau_update(&p, 1.0, lr);
    CHECK(lr == 0.8);
    lr = ser_lr_plateau_update(&p, 0.99995, lr); /* within min_delta: wait 1 */
    CHECK(lr == 0.8 && p.wait == 1);
    lr = ser_lr_plateau_update(&p, 0.99995, lr); /* wait 2 -> reduce */
    CHECK(lr == 0.4 && p.wait == 0);
    lr = ser_lr_plateau_update(&p, 0.5, lr);
    CHECK(lr == 0.4 && p.best == 0.5);
    for (int i = 0; i < 4; i++) lr = ser_lr_plateau_update(&p, 0.6, lr);
    CHECK(fabs(lr - 0.1) < 1e-12); /* 0.4 -> 0.2 -> 0.1 */
    for (int i = 0; i < 4; i++) lr = ser_lr_plateau_update(&p, 0.6, lr);
    CHECK(fabs(lr - 0.1) < 1e-12); /* floor */
    return check_finish("test_schedule");
}
