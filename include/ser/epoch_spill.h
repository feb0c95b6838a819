/* One epoch's per-clip training features (waveform augmentation and VTLP, ser/wave_augment.h):
 * written clip by clip from many threads, then read back by batch, normalised and scaled.
 *
 * Two kinds, the same bits out of both:
 *  - on disk (a folder given): a temporary file made by mkstemp in that folder and unlinked at
 *    once, so nothing is left however the process ends. It holds each clip's UNNORMALISED
 *    features (F floats at offset i F 4) and, with features.normalize = 2 (per speaker), each
 *    clip's per-coefficient sums after them ((2 H + 1) doubles at n F 4 + i (2 H + 1) 8:
 *    sum[H], sum of squares[H], real frames). Sealing adds those sums into the speakers'
 *    statistics in clip order, which is the order and the arithmetic of ser_normalize; a batch
 *    read normalises each clip (per clip or with its speaker's statistics) and applies the
 *    global scaler. Memory: the speaker group of each clip (4 bytes), 2 H doubles a speaker.
 *  - in memory (no folder): the (n, F) array, normalised over the whole epoch by ser_normalize
 *    and scaled at seal; a read copies. Memory: n F 4 bytes (`--feature-cache off`).
 *
 * Read and write failures (a full disk, a file-size limit, a short read) are errors naming the
 * file and the reason. */
#ifndef SER_EPOCH_SPILL_H
#define SER_EPOCH_SPILL_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/corpus.h"
#include "ser/error.h"
#include "ser/normalize.h"
#include "ser/scaler.h"

typedef struct ser_epoch_spill {
    int fd;                  /* the unlinked file; -1 in memory */
    char *path;              /* the name the file had (for messages) */
    float *x;                /* in memory: (n, F), normalised and scaled once sealed */
    size_t n, F;
    int H, W, mode;          /* rows, frames, features.normalize */
    ser_norm_stats speakers; /* on disk, per speaker: this epoch's statistics (sealed) */
    double *scratch;         /* on disk: 2 H sums of a per-clip read; seal's chunk of clip sums */
    size_t scratch_len;      /* doubles */
    ser_scaler scaler;
} ser_epoch_spill;

/* Opens a spill for n clips of H x W features: in the folder dir, or in memory when dir is
 * NULL. Fails naming the folder (mkstemp, unlink) or what could not be allocated. */
int ser_epoch_spill_open(ser_epoch_spill *s, const char *dir, size_t n, int H, int W, int mode, ser_error *err);
/* Closes the file (its space is freed then) and frees everything; a zeroed or failed s is fine. */
void ser_epoch_spill_close(ser_epoch_spill *s);

/* Doubles of scratch a writing thread passes to put: 2 H + 1. */
size_t ser_epoch_spill_put_scratch(const ser_epoch_spill *s);
/* Clip i's unnormalised features x (F values); any thread, any order, each clip once per
 * epoch (a clip written again replaces its record). */
int ser_epoch_spill_put(const ser_epoch_spill *s, size_t i, const float *x, double *scratch, ser_error *err);
/* After every clip is put: per-speaker statistics over clips (their speakers group them:
 * ser_speaker_groups) summed in clip order; scaler applies to every read. */
int ser_epoch_spill_seal(ser_epoch_spill *s, const ser_clip *clips, const ser_scaler *scaler, ser_error *err);
/* The normalised, scaled features of clips idx[0..B) into out (B, F): one reader at a time. */
int ser_epoch_spill_fill(ser_epoch_spill *s, const uint32_t *idx, int B, float *out, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
