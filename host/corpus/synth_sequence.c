/* One long recording of synthetic clips in a row with silences between them (ser/synth.h):
 * the test and benchmark input of `ser predict --window`. */
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ser/synth.h"

/* Appends n samples (16-bit, rounded as the corpus files are) or, with x NULL, n zeros. */
static int put(SNDFILE *f, const char *path, const float *x, size_t n, ser_error *err) {
    short buf[4096];
    for (size_t off = 0; off < n; off += 4096) {
        const size_t m = n - off < 4096 ? n - off : 4096;
        for (size_t i = 0; i < m; i++) buf[i] = x ? (short)lrint(x[off + i] * 32767.0) : 0;
        if (sf_write_short(f, buf, (sf_count_t)m) != (sf_count_t)m)
            return ser_fail(err, "%s: write failed: %s", path, sf_strerror(f));
    }
    return 0;
}

int ser_synth_sequence(const char *path, const ser_synth_config *cfg, const int *emotions, int n_emotions, int count,
                       int first_index, double gap_s, FILE *segments, ser_error *err) {
    if (n_emotions < 1 || count < 1) return ser_fail(err, "synth sequence: no clips to write");
    if (!(gap_s >= 0) || gap_s > 3600) return ser_fail(err, "synth sequence: gap %g s not in 0..3600", gap_s);
    if (cfg->speakers < 1 || cfg->speakers > SER_SYNTH_MAX_SPEAKERS)
        return ser_fail(err, "synth: speakers must be in 1..%d (got %d)", SER_SYNTH_MAX_SPEAKERS, cfg->speakers);
    char tmp[4300];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return ser_fail(err, "%s: path too long", path);
    SF_INFO info = {.samplerate = cfg->rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(tmp, SFM_WRITE, &info);
    if (!f) return ser_fail(err, "%s: cannot create: %s", tmp, sf_strerror(NULL));
    const size_t gap = (size_t)llround(gap_s * cfg->rate);
    size_t at = gap; /* the recording starts and ends with a gap */
    int rc = put(f, tmp, NULL, gap, err);
    if (segments) fprintf(segments, "start\tend\temotion\tspeaker\tindex\n");
    for (int j = 0; j < count && rc == 0; j++) {
        const int e = emotions[j % n_emotions], s = (j / n_emotions) % cfg->speakers, index = first_index + j;
        float *x = NULL;
        size_t n = 0;
        if ((rc = ser_synth_clip(cfg, s, e, index, &x, &n, err)) != 0) break;
        rc = put(f, tmp, x, n, err);
        free(x);
        if (rc == 0) rc = put(f, tmp, NULL, gap, err);
        if (rc == 0 && segments)
            fprintf(segments, "%.6f\t%.6f\t%s\t%s\t%d\n", (double)at / cfg->rate, (double)(at + n) / cfg->rate,
                    ser_synth_emotions[e], ser_synth_speaker(s), index);
        at += n + gap;
    }
    if (sf_close(f) != 0 && rc == 0) rc = ser_fail(err, "%s: close failed", tmp);
    if (rc == 0 && rename(tmp, path) != 0) rc = ser_fail(err, "%s: cannot rename into place: %s", path, strerror(errno));
    if (rc) unlink(tmp);
    return rc;
}
