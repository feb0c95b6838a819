/* Pitch (F0) feature rows, appended below the MFCCs when features.f0_rows > 0.
 *
 * Per frame of the MFCC grid (centred frames: frame t covers samples t*hop - n_fft/2 ..
 * t*hop + n_fft/2, zero outside the clip), aubio's YIN ("yinfast": YIN computed with FFTs;
 * de Cheveigne & Kawahara 2002) over that window gives an F0 candidate and a confidence
 * (1 - the aperiodicity). A frame is voiced when the confidence is at least
 * SER_PITCH_MIN_CONFIDENCE and F0 lies in [SER_PITCH_FMIN, SER_PITCH_FMAX]. The row holds
 * log2(F0 / Hz) of the voiced frames; unvoiced frames between two voiced ones get the linear
 * interpolation of theirs, those before the first (after the last) voiced frame its value, a
 * clip with no voiced frame log2(SER_PITCH_FMIN). Frames past the clip's own are zero (the
 * padding of the MFCC rows), frames past `frames` are dropped. Every one of the f0_rows rows
 * holds the same values: several rows give the 3 x 3 convolutions a band of pitch to read
 * instead of one edge row.
 *
 * Why: emotions differ in pitch *relative to the speaker* (TESS: happy ~ +0.13 octave over a
 * speaker's mean in both voices, fear ~ +0.4), while MFCCs carry absolute pitch in their fine
 * structure; with features.normalize = 2 these rows become each speaker's standardised log F0.
 *
 * One ser_pitch per thread (aubio's objects are not shared). */
#ifndef SER_PITCH_H
#define SER_PITCH_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/config.h"
#include "ser/error.h"

#define SER_PITCH_FMIN 60.0
#define SER_PITCH_FMAX 1100.0
#define SER_PITCH_MIN_CONFIDENCE 0.8

typedef struct ser_pitch ser_pitch;

/* For cfg->audio.sample_rate, features.n_fft (the YIN window), hop_length, frames, f0_rows.
 * Fails when aubio cannot build the detector for these sizes. */
ser_pitch *ser_pitch_create(const ser_config *cfg, ser_error *err);
void ser_pitch_free(ser_pitch *p);

/* y: n mono samples at the configured rate. out: [f0_rows, frames] row-major as above.
 * voiced (may be NULL): per frame 1 when voiced, 0 otherwise ([frames]; 0 past the clip).
 * Returns the number of voiced frames, or -1 (n == 0). */
int ser_pitch_compute(ser_pitch *p, const float *y, size_t n, float *out, unsigned char *voiced, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
