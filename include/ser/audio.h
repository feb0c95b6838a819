/* Audio decoding: librosa.load(path, sr, offset, duration) in C. libsndfile decodes by content
 * (WAV, AIFF, FLAC, OGG... whatever the name says), only the offset/duration window is read
 * (seek, not a full decode), channels are averaged to mono, libsoxr resamples with the HQ
 * recipe that librosa's default res_type (soxr_hq) uses, through python-soxr's exact calls
 * (split-channel float32 I/O, SOXR_HQ, default runtime spec, 48000 * in / out input chunks,
 * output capped at n * out / in + 1), then librosa's fix_length to ceil(n * out / in).
 *
 * Matches librosa 0.11 + python-soxr 1.1 bit for bit on the files we test (see tests/test_audio.c).
 * Deliberate differences from librosa, all on input librosa would not load usefully:
 *   - an offset at or past the end fails ("shorter than the offset"), where soundfile fails its
 *     seek and librosa falls back to audioread (or returns an empty array when the offset is
 *     exactly the length);
 *   - a window with no frames fails ("no audio frames") instead of returning an empty array.
 * As soundfile does, a file whose header claims more data than it holds (truncated, or a lying
 * data-chunk size) loads the frames that are there: libsndfile clamps the frame count to the
 * bytes present. */
#ifndef SER_AUDIO_H
#define SER_AUDIO_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/config.h"
#include "ser/error.h"

/* A growable sample buffer reused across files (one per thread: it also caches the resampler).
 * Zero-initialise it (`ser_audio_buf b = {0};`) before the first load; free with
 * ser_audio_buf_free. */
typedef struct ser_audio_buf {
    float *samples;       /* mono samples at the target rate, n of them */
    size_t n;
    size_t cap;
    float *scratch;       /* decoded frames at the file's own rate (interleaved), reused */
    size_t scratch_cap;
    int source_rate;      /* the file's own rate */
    int source_channels;
    void *resampler;      /* soxr_t for (resampler_in -> resampler_out), cleared between clips */
    int resampler_in, resampler_out;
} ser_audio_buf;

/* Loads one clip as librosa.load(path, sr=cfg->sample_rate, offset=cfg->offset,
 * duration=cfg->duration) does; on success buf->samples[0 .. buf->n) holds it. Fails with one
 * line naming the file and the reason (cannot open, is a directory, empty file, not a
 * recognised audio file, no audio frames, shorter than the offset, non-finite sample, read
 * error, resampler error). */
int ser_audio_load(const char *path, const ser_audio_config *cfg, ser_audio_buf *buf, ser_error *err);

void ser_audio_buf_free(ser_audio_buf *buf);

/* Opens path read-only and checks that it is a non-empty regular file (not a directory, FIFO
 * or empty file). Returns the fd, or -1 with "PATH: reason". Shared with ser/audio_stream.h. */
int ser_audio_open_regular(const char *path, ser_error *err);

/* 1 when no x[i] is NaN or Inf (a decoder's output is checked with it before any use). */
int ser_audio_all_finite(const float *x, size_t n);

#ifdef __cplusplus
}
#endif

#endif
