/* Voice-activity segmentation of a stream (`ser predict --segments`, docs/predict-window.md):
 * the samples are cut into frames of frame_s seconds and each frame's RMS level (dBFS) decides,
 * with hysteresis, where speech is:
 *   - speech starts at the first frame at or above on_db;
 *   - it goes on while frames reach off_db (below on_db) and ends at the end of the last such
 *     frame once min_gap_s seconds have stayed below off_db (shorter pauses stay inside);
 *   - a stretch of speech shorter than min_speech_s (a click, a breath) counts as silence;
 *   - a segment longer than piece_s is cut into round(length / piece_s) pieces of equal length
 *     (frame boundaries), so that each piece is about one clip of the model; a segment that
 *     goes on past 3 piece_s gives up a piece of piece_s at a time, so what is held stays
 *     bounded however long the speech lasts.
 * The spans come out in order and cover the stream without a gap: silences (with their RMS
 * level) and speech pieces (the caller holds their samples: ser_segmenter_keep_from says from
 * where). A speech piece is given once min_gap_s of silence after it has been read (or the
 * stream ended), so the caller has some audio after it too. */
#ifndef SER_SPEECH_SEGMENTS_H
#define SER_SPEECH_SEGMENTS_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/error.h"

typedef struct ser_segmenter_config {
    double rate;         /* samples per second */
    double frame_s;      /* frame length (0.01) */
    double on_db;        /* a frame at or above this level starts speech */
    double off_db;       /* speech goes on while frames reach this level (<= on_db) */
    double min_gap_s;    /* pauses shorter than this stay inside a segment */
    double min_speech_s; /* speech shorter than this is silence */
    double piece_s;      /* long segments are cut into pieces of about this length */
} ser_segmenter_config;

/* One span of the stream, samples [start, end). rms_db: a silence's level (-inf: digital
 * silence); not computed for speech (the caller has its samples). first/last: the piece begins
 * or ends its segment (speech/silence edge), not a cut inside long speech. */
typedef struct ser_span {
    size_t start, end;
    int speech, first, last;
    double rms_db;
} ser_span;

/* Called for every span, in order; non-zero stops the push (its value is returned). */
typedef int (*ser_span_fn)(void *ctx, const ser_span *span, ser_error *err);

typedef struct ser_segmenter ser_segmenter;

/* Fails on a config out of range (rate, frame, on_db < off_db, piece shorter than min_gap ...). */
ser_segmenter *ser_segmenter_create(const ser_segmenter_config *cfg, ser_error *err);
void ser_segmenter_free(ser_segmenter *s);

/* The next n samples of the stream. */
int ser_segmenter_push(ser_segmenter *s, const float *x, size_t n, ser_span_fn emit, void *ctx, ser_error *err);
/* The stream ended: the last spans. */
int ser_segmenter_finish(ser_segmenter *s, ser_span_fn emit, void *ctx, ser_error *err);

/* The first sample a span not yet given can start at: samples before it are no longer needed. */
size_t ser_segmenter_keep_from(const ser_segmenter *s);

#ifdef __cplusplus
}
#endif

#endif
