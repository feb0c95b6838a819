/* The features of windows of a longer recording (`ser predict --window`): for each window's
 * samples, exactly what `ser predict` computes for the same samples given as a standalone clip
 * (ser_audio_load's output): the MFCC (ser_mfcc_compute: the clip's own dB floor, zero padding
 * or cut to features.frames), the pitch rows when features.f0_rows > 0, then
 * features.normalize. The global scaler is the caller's (ser_scaler_apply), as in prediction.
 *
 * features.normalize = 2 (per speaker): the recording is one speaker. Its statistics are
 * gathered over the clips of a first pass (ser_window_features_accumulate on unnormalised
 * features, then ser_window_features_speaker_done), as `ser predict` gathers them over all the
 * files it is given; until then a window is normalised alone (as a lone file). Models trained
 * with features.vtln are refused: VTLN searches a speaker's warp over all of its clips by
 * decoding them again, which a stream of windows cannot do.
 *
 * Parallel over the windows of a batch (OpenMP), one MFCC and pitch state per thread. */
#ifndef SER_WINDOW_FEATURES_H
#define SER_WINDOW_FEATURES_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/config.h"
#include "ser/error.h"

typedef struct ser_window_features ser_window_features;

/* threads <= 0: all cores. Fails on a recipe that cannot work or features.vtln > 0. */
ser_window_features *ser_window_features_create(const ser_config *cfg, int threads, ser_error *err);
void ser_window_features_free(ser_window_features *w);

/* Windows i = 0..n: y[i][0 .. len[i]) (len[i] >= 1) -> out (n, ser_features_per_clip) unscaled.
 * normalized = 0: features.normalize is not applied (a first pass's features for
 * ser_window_features_accumulate). */
int ser_window_features_compute(ser_window_features *w, const float *const *y, const size_t *len, size_t n,
                                int normalized, float *out, ser_error *err);

/* features.normalize = 2: adds the real frames of n unnormalised clips out (n, per_clip) to the
 * recording's speaker statistics; _speaker_done turns them into the mean and 1/std every later
 * ser_window_features_compute uses (the coefficients of normalize.c: the padding frames do not
 * count, a constant coefficient is only centred). No-ops for the other modes. */
void ser_window_features_accumulate(ser_window_features *w, const float *x, size_t n);
void ser_window_features_speaker_done(ser_window_features *w);

/* Where `ser predict` would read a file holding y[0 .. n) at the model's rate: audio.trim_db's
 * onset (the first 20 ms block within trim_db dB of the loudest, blocks from the file's start;
 * at the model's rate here, at the file's own rate in ser_audio_load), plus audio.offset, then
 * audio.duration samples (or to the end). A file shorter than the offset would be refused; a
 * clip cut from a recording is read from its onset instead. Returns the count, *start the first
 * sample. */
size_t ser_window_clip_placement(const ser_audio_config *a, double rate, const float *y, size_t n, size_t *start);

/* RMS level of y[0..n) in dBFS (20 log10 rms, full scale 1.0); -inf for digital silence. */
double ser_rms_dbfs(const float *y, size_t n);

#ifdef __cplusplus
}
#endif

#endif
