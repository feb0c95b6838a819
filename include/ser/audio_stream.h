/* Streaming audio decoding for files of any length (`ser predict --window`): the chain of
 * ser_audio_load (libsndfile by content -> every sample finite -> mono as np.mean in float32 ->
 * libsoxr HQ to the target rate) run block by block, so memory stays bounded whatever the
 * file's length: one block of decoded frames and its resampled output.
 *
 * Same rate: the samples are bit for bit those of ser_audio_load(path, offset 0, duration 0).
 * Other rates: libsoxr in streaming mode, fed in blocks, then flushed; the total is cut or
 * zero-padded to ceil(n * out / in) as librosa's fix_length does. libsoxr's output does not
 * depend on how its input is split, so the samples equal the whole-file load's (checked by
 * tests/test_audio_stream.c). */
#ifndef SER_AUDIO_STREAM_H
#define SER_AUDIO_STREAM_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/error.h"

typedef struct ser_audio_stream ser_audio_stream;

/* Opens path for streaming at target_rate Hz. Fails with "PATH: reason" (cannot open, is a
 * directory, empty file, not a recognised audio file, no audio frames). */
ser_audio_stream *ser_audio_stream_open(const char *path, int target_rate, ser_error *err);

/* Reads up to max mono samples at the target rate into out; *got = 0 means the end. Fails with
 * "PATH: reason" (read error, non-finite sample, resampler error). */
int ser_audio_stream_read(ser_audio_stream *s, float *out, size_t max, size_t *got, ser_error *err);

/* The file's own rate and channels, and the samples at the target rate the whole file gives
 * (from the header's frame count: ceil(frames * target / source)). */
int ser_audio_stream_source_rate(const ser_audio_stream *s);
int ser_audio_stream_source_channels(const ser_audio_stream *s);
size_t ser_audio_stream_expected(const ser_audio_stream *s);

void ser_audio_stream_close(ser_audio_stream *s);

#ifdef __cplusplus
}
#endif

#endif
