/* The voice-activity segmenter of `ser predict --segments` (ser/speech_segments.h) and the clip
 * placement it hands segments to (ser_window_clip_placement), on constructed signals whose
 * speech boundaries are known to the sample:
 *   1. spans cover the stream in order without gaps; speech starts at the first loud frame and
 *      ends at the end of the last frame above the lower threshold (hysteresis);
 *   2. a pause shorter than min_gap stays inside a segment, a longer one splits it;
 *   3. a click shorter than min_speech is silence; silences carry their RMS level;
 *   4. a long segment is cut into round(L / piece) equal pieces, first/last flags at the edges,
 *      and the samples held (keep_from) stay bounded during long speech;
 *   5. the result does not depend on how the stream is split into pushes;
 *   6. placement: trim_db's onset, offset and duration as ser_audio_load applies them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ser/config.h"
#include "ser/speech_segments.h"
#include "ser/window_features.h"

#define RATE 1000.0 /* 10-sample frames */
#define MAXS 64

typedef struct got {
    ser_span s[MAXS];
    int n;
} got;

static int collect(void *ctx, const ser_span *sp, ser_error *err) {
    (void)err;
    got *g = ctx;
    if (g->n < MAXS) g->s[g->n] = *sp;
    g->n++;
    return 0;
}

/* x[a, b) = a sine of amplitude amp (level 20 log10(amp / sqrt 2) dBFS) */
static void tone(float *x, size_t a, size_t b, double amp) {
    for (size_t i = a; i < b; i++) x[i] = (float)(amp * sin(0.9 * (double)i));
}

static ser_segmenter_config cfg_default(void) {
    ser_segmenter_config c = {.rate = RATE, .frame_s = 0.01, .on_db = -50, .off_db = -60, .min_gap_s = 0.5,
                              .min_speech_s = 0.1, .piece_s = 3.0};
    return c;
}

static void run(const ser_segmenter_config *c, const float *x, size_t n, size_t chunk, got *g, size_t *max_held) {
    memset(g, 0, sizeof *g);
    ser_error err = {{0}};
    ser_segmenter *s = ser_segmenter_create(c, &err);
    SER_ASSERT(s);
    *max_held = 0;
    for (size_t at = 0; at < n; at += chunk) {
        const size_t m = n - at < chunk ? n - at : chunk;
        CHECK(ser_segmenter_push(s, x + at, m, collect, g, &err) == 0);
        const size_t held = at + m - ser_segmenter_keep_from(s);
        if (held > *max_held) *max_held = held;
    }
    CHECK(ser_segmenter_finish(s, collect, g, &err) == 0);
    ser_segmenter_free(s);
}

static int covers(const got *g, size_t n) {
    size_t at = 0;
    for (int i = 0; i < g->n && i < MAXS; i++) {
        if (g->s[i].start != at || g->s[i].end <= g->s[i].start) return 0;
        at = g->s[i].end;
    }
    return at == n;
}

int main(void) {
    const ser_segmenter_config c = cfg_default();
    const double loud = 0.1, mid = 0.002; /* -23 dBFS; -57 dBFS: between off and on */
    size_t held;
    got g;

    /* 1-3: silence 1 s | speech 1.00-2.00 s, a 0.3 s pause (1.40-1.70) | a 0.5 s tail at -57 dB
     * (2.00-2.50: above off, below on) | silence | click 4.00-4.05 | silence | speech 5.00-5.50,
     * pause 0.8 s, speech 6.30-6.80 | silence to 8 s, with quiet noise */
    const size_t n = 8000;
    float *x = calloc(n, sizeof *x);
    SER_ASSERT(x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(1e-5 * sin(0.3 * (double)i));
    tone(x, 1000, 1400, loud), tone(x, 1700, 2000, loud), tone(x, 2000, 2500, mid);
    tone(x, 4000, 4050, loud);
    tone(x, 5000, 5500, loud), tone(x, 6300, 6800, loud);
    for (size_t chunk = 7; chunk <= 8000; chunk *= 9) { /* 5: the same spans however it is pushed */
        run(&c, x, n, chunk, &g, &held);
        CHECKF(covers(&g, n), "chunk %zu: spans do not cover the stream", chunk);
        CHECKF(g.n == 7, "chunk %zu: %d spans (want silence, speech, silence, speech, silence, speech, silence)",
               chunk, g.n);
        if (g.n != 7) continue;
        CHECK(!g.s[0].speech && g.s[0].end == 1000);
        CHECKF(g.s[1].speech && g.s[1].start == 1000 && g.s[1].end == 2500, "speech 1: [%zu, %zu)", g.s[1].start,
               g.s[1].end);
        CHECK(g.s[1].first && g.s[1].last);
        CHECK(!g.s[2].speech && g.s[2].start == 2500 && g.s[2].end == 5000); /* the click is silence */
        CHECKF(g.s[2].rms_db > -80 && g.s[2].rms_db < -40, "silence with a click: %g dBFS", g.s[2].rms_db);
        CHECK(g.s[3].speech && g.s[3].start == 5000 && g.s[3].end == 5500);
        CHECK(!g.s[4].speech && g.s[4].start == 5500 && g.s[4].end == 6300);
        CHECKF(fabs(g.s[4].rms_db - 20 * log10(1e-5 / sqrt(2))) < 0.5, "pause level %g dBFS", g.s[4].rms_db);
        CHECK(g.s[5].speech && g.s[5].start == 6300 && g.s[5].end == 6800);
        CHECK(!g.s[6].speech && g.s[6].end == n);
    }
    free(x);

    /* 4: 20 s of speech after 1 s of silence: pieces of about 3 s, bounded holding */
    const size_t m = 22000;
    float *y = calloc(m, sizeof *y);
    SER_ASSERT(y);
    tone(y, 1000, 21000, loud);
    run(&c, y, m, 256, &g, &held);
    CHECK(covers(&g, m));
    int pieces = 0, firsts = 0, lasts = 0;
    for (int i = 0; i < g.n && i < MAXS; i++)
        if (g.s[i].speech) {
            pieces++, firsts += g.s[i].first, lasts += g.s[i].last;
            const size_t len = g.s[i].end - g.s[i].start;
            CHECKF(len >= 2000 && len <= 4500, "piece [%zu, %zu): not about 3 s", g.s[i].start, g.s[i].end);
        }
    CHECKF(pieces == 7, "%d pieces of 20 s (want round(20 / 3) = 7)", pieces);
    CHECK(firsts == 1 && lasts == 1);
    CHECK(g.s[1].speech && g.s[1].first && g.s[1].start == 1000);
    CHECKF(held <= 3 * 3000 + 500 + 256 + 20, "held %zu samples during long speech", held);

    /* a 3.4 s segment stays one piece (round(3.4 / 3) = 1); 4.6 s gives two equal ones */
    memset(y, 0, m * sizeof *y);
    tone(y, 1000, 4400, loud), tone(y, 6000, 10600, loud);
    run(&c, y, m, 1000, &g, &held);
    CHECK(covers(&g, m));
    CHECKF(g.n == 6 && g.s[1].end - g.s[1].start == 3400 && g.s[3].end - g.s[3].start == 2300 &&
               g.s[4].start == 8300 && g.s[4].end == 10600 && g.s[3].first && !g.s[3].last && g.s[4].last,
           "3.4 s and 4.6 s segments: %d spans", g.n);
    free(y);

    /* bad settings are refused */
    ser_segmenter_config bad = c;
    bad.on_db = -70;
    ser_error err = {{0}};
    CHECK(ser_segmenter_create(&bad, &err) == NULL && strstr(err.msg, "on -70 dB"));

    /* 6: placement, at 1000 Hz (20 ms blocks = 20 samples): silence then sound from sample 105 */
    float z[600] = {0};
    for (int i = 105; i < 600; i++) z[i] = 0.5f;
    ser_audio_config a = {.sample_rate = 1000, .offset = 0.1, .duration = 0.3, .trim_db = 40};
    size_t first = 0, count = ser_window_clip_placement(&a, 1000, z, 600, &first);
    CHECKF(first == 100 + 100 && count == 300, "trim: start %zu count %zu (block 100 holds the onset)", first, count);
    a.trim_db = 0;
    count = ser_window_clip_placement(&a, 1000, z, 600, &first);
    CHECK(first == 100 && count == 300);
    a.offset = 0.9; /* past the end: read from the onset */
    count = ser_window_clip_placement(&a, 1000, z, 600, &first);
    CHECK(first == 0 && count == 300);
    a.offset = 0, a.duration = 0;
    count = ser_window_clip_placement(&a, 1000, z, 600, &first);
    CHECK(first == 0 && count == 600);
    return check_finish("test_speech_segments");
}
