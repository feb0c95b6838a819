/* Audio decoding: librosa.load(path, sr, offset, duration) in C. libsndfile decodes by content
 * (WAV, AIFF, FLAC, OGG... whatever the name says), only the offset/duration window is read
 * (seek, not a full decode), channels are averaged to mono, libsoxr resamples with the HQ
 * recipe that librosa's default res_type (soxr_hq) uses. */
#ifndef SER_AUDIO_H
#define SER_AUDIO_H

#include <stddef.h>

#include "ser/config.h"
#include "ser/error.h"

/* A growable sample buffer reused across files (one per thread). */
typedef struct ser_audio_buf {
    float *samples;       /* mono samples at the target rate, n of them */
    size_t n;
    size_t cap;
    float *scratch;       /* decoded frames at the file's own rate (interleaved), reused */
    size_t scratch_cap;
    int source_rate;      /* the file's own rate */
    int source_channels;
} ser_audio_buf;

/* Loads one clip as librosa.load(path, sr=cfg->sample_rate, offset=cfg->offset,
 * duration=cfg->duration) does. Fails with one line naming the file and the reason (cannot
 * open, not audio, no frames, shorter than the offset, non-finite samples, resampler error). */
int ser_audio_load(const char *path, const ser_audio_config *cfg, ser_audio_buf *buf, ser_error *err);

void ser_audio_buf_free(ser_audio_buf *buf);

#endif
