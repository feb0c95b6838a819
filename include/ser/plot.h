/* Training plots as PNG through PLplot's pngcairo device (Debian: plplot-driver-cairo):
 * the training history (accuracy and loss, train and validation, per epoch) and a confusion
 * matrix. Each file is drawn to a temporary name in the destination folder, fsync'd and
 * renamed. PLplot keeps global state: call these from one thread at a time. */
#ifndef SER_PLOT_H
#define SER_PLOT_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stdint.h>

#include "ser/error.h"

/* Two panels side by side, x = epoch 1..n: accuracy (acc, val_acc, and the validation UA
 * val_uar) and loss (loss, val_loss). val_acc / val_uar / val_loss may be NULL (no validation
 * set; a history without UA); NAN points are skipped. */
int ser_plot_history(const char *path, int n, const double *acc, const double *val_acc, const double *val_uar,
                     const double *loss, const double *val_loss, ser_error *err);

/* A (nclass, nclass) confusion matrix, row = true class, column = predicted: cells coloured by
 * the fraction of their row (so classes of any size compare), annotated with the count;
 * labels[c] on both axes; title on top (e.g. "Confusion matrix (validation)"). */
int ser_plot_confusion(const char *path, const char *title, const int64_t *confusion, int nclass,
                       const char *const *labels, ser_error *err);

/* Emotion over time (`ser predict --window --png`), two panels sharing the time axis (s):
 * above, the waveform's envelope env[0..n_env) (peak |sample| per env_step seconds, drawn
 * mirrored); below, the class probabilities of each window as stacked coloured bands at the
 * window's centre, one colour per class (labels[c] in the legend), gaps where windows are
 * silent (silent[i] != 0) with the silent spans shaded. probs: (n, nclass); start / end: the
 * windows' times. */
int ser_plot_timeline(const char *path, const char *title, int n, const double *start, const double *end,
                      const unsigned char *silent, const float *probs, int nclass, const char *const *labels,
                      int n_env, const float *env, double env_step, double total_s, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
