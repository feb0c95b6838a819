/* Voice-activity segmentation by frame energy with hysteresis (ser/speech_segments.h). Positions
 * are sample indices of the stream; a frame's level is 10 log10(mean square). Sums in double. */
#include "ser/speech_segments.h"

#include <math.h>
#include <stdlib.h>

struct ser_segmenter {
    ser_segmenter_config cfg;
    size_t frame, min_gap, min_speech, piece; /* in samples */
    double carry_sq;   /* the partial frame after pos */
    size_t carry_n;
    size_t pos;        /* end of the last whole frame */
    int speech;        /* inside a segment */
    /* silence: [gap_start, pos) not yet given, its sum of squares */
    size_t gap_start;
    double gap_sq;
    /* speech: the segment began at seg_start, its pieces not yet given start at piece_start;
     * loud_end: end of its last frame at or above off_db; seg_sq: squares [seg_start, loud_end),
     * tail_sq: [loud_end, pos); confirmed: the silence before it was given (a piece went out) */
    size_t seg_start, piece_start, loud_end;
    double seg_sq, tail_sq;
    int confirmed, first_piece;
};

ser_segmenter *ser_segmenter_create(const ser_segmenter_config *c, ser_error *err) {
    if (!(c->rate >= 1 && c->rate <= 1e6) || !(c->frame_s > 0) || !(c->frame_s * c->rate >= 1) ||
        !(c->on_db >= c->off_db) || !isfinite(c->on_db) || !isfinite(c->off_db) || !(c->min_gap_s >= c->frame_s) ||
        !(c->min_speech_s >= 0) || !(c->piece_s >= c->min_gap_s) || !(c->piece_s <= 3600)) {
        ser_fail(err, "speech segmenter: bad settings (rate %g Hz, frame %g s, on %g dB >= off %g dB, min gap %g s >= "
                      "frame, min speech %g s >= 0, piece %g s in min gap .. 3600)",
                 c->rate, c->frame_s, c->on_db, c->off_db, c->min_gap_s, c->min_speech_s, c->piece_s);
        return NULL;
    }
    ser_segmenter *s = ser_calloc(1, sizeof *s, "speech segmenter", err);
    if (!s) return NULL;
    s->cfg = *c;
    s->frame = (size_t)llround(c->frame_s * c->rate);
    s->min_gap = (size_t)llround(c->min_gap_s * c->rate);
    s->min_speech = (size_t)llround(c->min_speech_s * c->rate);
    s->piece = (size_t)llround(c->piece_s * c->rate);
    return s;
}

void ser_segmenter_free(ser_segmenter *s) { free(s); }

size_t ser_segmenter_keep_from(const ser_segmenter *s) { return s->speech ? s->piece_start : s->pos; }

static double level_db(double sq, size_t n) { return n && sq > 0 ? 10.0 * log10(sq / (double)n) : -INFINITY; }

static int give(ser_span_fn emit, void *ctx, size_t a, size_t b, int speech, int first, int last, double sq,
                ser_error *err) {
    if (b <= a) return 0;
    ser_span sp = {a, b, speech, first, last, speech ? NAN : level_db(sq, b - a)};
    return emit(ctx, &sp, err);
}

/* The silence before the current segment, once the segment is known to be speech. */
static int confirm(ser_segmenter *s, ser_span_fn emit, void *ctx, ser_error *err) {
    if (s->confirmed) return 0;
    s->confirmed = 1;
    return give(emit, ctx, s->gap_start, s->seg_start, 0, 0, 0, s->gap_sq, err);
}

/* The segment ends at `end` (the end of its last loud frame): its pieces, or silence when it was
 * too short to be speech. */
static int end_segment(ser_segmenter *s, ser_span_fn emit, void *ctx, ser_error *err) {
    const size_t end = s->loud_end;
    s->speech = 0;
    if (!s->confirmed && end - s->seg_start < s->min_speech) { /* a click: part of the silence */
        s->gap_sq += s->seg_sq + s->tail_sq;
        return 0;
    }
    int rc = confirm(s, emit, ctx, err);
    /* round(L / piece) pieces of equal length, cut at frame boundaries */
    const size_t L = end - s->piece_start;
    size_t n = (size_t)llround((double)L / (double)s->piece);
    if (n < 1) n = 1;
    const double frames = (double)L / (double)s->frame;
    size_t a = s->piece_start;
    for (size_t k = 1; k <= n && rc == 0; k++) {
        const size_t b = k == n ? end : s->piece_start + s->frame * (size_t)llround(frames * (double)k / (double)n);
        rc = give(emit, ctx, a, b, 1, s->first_piece && k == 1, k == n, 0, err);
        a = b;
    }
    s->gap_start = end, s->gap_sq = s->tail_sq;
    return rc;
}

/* One frame [pos, pos + n) with sum of squares sq. */
static int frame_done(ser_segmenter *s, double sq, size_t n, ser_span_fn emit, void *ctx, ser_error *err) {
    const double db = level_db(sq, n);
    const size_t p = s->pos;
    s->pos += n;
    if (!s->speech) {
        if (!(db >= s->cfg.on_db)) {
            s->gap_sq += sq;
            return 0;
        }
        s->speech = 1, s->confirmed = 0, s->first_piece = 1;
        s->seg_start = s->piece_start = p, s->loud_end = s->pos;
        s->seg_sq = sq, s->tail_sq = 0;
        return 0;
    }
    if (db >= s->cfg.off_db) {
        s->loud_end = s->pos;
        s->seg_sq += s->tail_sq + sq, s->tail_sq = 0;
    } else {
        s->tail_sq += sq;
    }
    if (s->pos - s->loud_end >= s->min_gap) return end_segment(s, emit, ctx, err);
    if (s->loud_end - s->piece_start >= 3 * s->piece) { /* long speech: one piece goes out */
        int rc = confirm(s, emit, ctx, err);
        if (rc == 0) rc = give(emit, ctx, s->piece_start, s->piece_start + s->piece, 1, s->first_piece, 0, 0, err);
        s->piece_start += s->piece, s->first_piece = 0;
        return rc;
    }
    return 0;
}

int ser_segmenter_push(ser_segmenter *s, const float *x, size_t n, ser_span_fn emit, void *ctx, ser_error *err) {
    for (size_t i = 0; i < n; i++) {
        s->carry_sq += (double)x[i] * (double)x[i];
        if (++s->carry_n == s->frame) {
            const double sq = s->carry_sq;
            s->carry_sq = 0, s->carry_n = 0;
            int rc = frame_done(s, sq, s->frame, emit, ctx, err);
            if (rc) return rc;
        }
    }
    return 0;
}

int ser_segmenter_finish(ser_segmenter *s, ser_span_fn emit, void *ctx, ser_error *err) {
    int rc = 0;
    if (s->carry_n) rc = frame_done(s, s->carry_sq, s->carry_n, emit, ctx, err);
    s->carry_sq = 0, s->carry_n = 0;
    if (rc == 0 && s->speech) rc = end_segment(s, emit, ctx, err);
    if (rc == 0) rc = give(emit, ctx, s->gap_start, s->pos, 0, 0, 0, s->gap_sq, err);
    s->gap_start = s->pos, s->gap_sq = 0;
    return rc;
}
