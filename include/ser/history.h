/* Training history as JSON Lines: one object per epoch,
 *   {"epoch":1,"loss":..,"accuracy":..,"val_loss":..,"val_accuracy":..,"val_uar":..,"lr":..,"seconds":..}
 * appended and fsync'd after every epoch (so a crash loses at most the epoch in flight), and
 * read back for --resume and for re-plotting. A missing value (no validation set) is written
 * as null and read as NAN. */
#ifndef SER_HISTORY_H
#define SER_HISTORY_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/error.h"

typedef struct ser_history_entry {
    int epoch; /* 1-based */
    double loss, accuracy, val_loss, val_accuracy, lr, seconds;
    double val_uar;  /* validation UA (mean per-class recall); NAN in histories written before it */
} ser_history_entry;

/* Appends one line to path (created when missing), then fsyncs it. */
int ser_history_append(const char *path, const ser_history_entry *e, ser_error *err);

/* Replaces path with exactly these n entries, atomically (temporary file, fsync, rename):
 * for --resume, to drop the epochs after the checkpoint being resumed. */
int ser_history_write(const char *path, const ser_history_entry *entries, size_t n, ser_error *err);

/* Reads every line of path into a malloc'd array (*entries, *n; free() it). A last line
 * without its newline (a write cut by a crash) is ignored; any other malformed line fails
 * naming the file and the line number. A missing file fails ("cannot open"). */
int ser_history_read(const char *path, ser_history_entry **entries, size_t *n, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
