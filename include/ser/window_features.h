/* The features of windows of a longer recording (`ser predict --window`): for each window's
 * samples, exactly what `ser predict` computes for the same samples given as a standalone clip
 * (ser_audio_load's output): the MFCC (ser_mfcc_compute: the clip's own dB floor, zero padding
 * or cut to features.frames), the pitch rows when features.f0_rows > 0, then
 * features.normalize. The global scaler is the caller's (ser_scaler_apply), as in prediction.
 *
 * A window is one clip of its own: features.normalize = 2 (per speaker) normalises it as
 * `ser predict` normalises a lone file of speaker "" (the same as per clip). Models trained with
 * features.vtln are refused: VTLN searches a speaker's warp over all of its clips by decoding
 * them again, which a stream of windows cannot do.
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

/* Windows i = 0..n: y[i][0 .. len[i]) (len[i] >= 1) -> out (n, ser_features_per_clip) unscaled. */
int ser_window_features_compute(ser_window_features *w, const float *const *y, const size_t *len, size_t n,
                                float *out, ser_error *err);

/* RMS level of y[0..n) in dBFS (20 log10 rms, full scale 1.0); -inf for digital silence. */
double ser_rms_dbfs(const float *y, size_t n);

#ifdef __cplusplus
}
#endif

#endif
