/* One epoch's per-clip features on disk (an unlinked temporary file) or in memory
 * (contract in ser/epoch_spill.h). */
#include "ser/epoch_spill.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Clips whose sums seal reads with one pread. */
enum { SEAL_CHUNK = 1024 };

static size_t sums_len(const ser_epoch_spill *s) { return 2 * (size_t)s->H + 1; }

/* Where the per-clip sums start: after the n clips' features. */
static off_t sums_offset(const ser_epoch_spill *s, size_t i) {
    return (off_t)(s->n * s->F * sizeof(float) + i * sums_len(s) * sizeof(double));
}

int ser_epoch_spill_open(ser_epoch_spill *s, const char *dir, size_t n, int H, int W, int mode, ser_error *err) {
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->n = n, s->F = (size_t)H * W, s->H = H, s->W = W, s->mode = mode;
    if (mode != SER_NORM_NONE && mode != SER_NORM_CLIP && mode != SER_NORM_SPEAKER)
        return ser_fail(err, "features.normalize = %d: must be 0 (none), 1 (per clip) or 2 (per speaker)", mode);
    if (!dir) {
        s->x = ser_malloc((n ? n : 1) * s->F * sizeof *s->x, "epoch features (in memory)", err);
        return s->x ? 0 : -1;
    }
    /* reads need 2 H sums (per clip); seal a chunk of clips' sums (per speaker) */
    s->scratch_len = mode == SER_NORM_SPEAKER ? SEAL_CHUNK * sums_len(s) : 2 * (size_t)H;
    const size_t len = strlen(dir) + sizeof "/spill-XXXXXX";
    s->path = ser_malloc(len, "spill file name", err);
    s->scratch = ser_malloc(s->scratch_len * sizeof *s->scratch, "spill read buffer", err);
    if (!s->path || !s->scratch) goto fail;
    snprintf(s->path, len, "%s/spill-XXXXXX", dir);
    if ((s->fd = mkstemp(s->path)) < 0) {
        ser_fail(err, "%s: cannot create the per-epoch feature spill file: %s", s->path, strerror(errno));
        goto fail;
    }
    /* unlinked at once: the space is freed when the file is closed, whatever ends the process */
    if (unlink(s->path) != 0) {
        ser_fail(err, "%s: cannot unlink the per-epoch feature spill file: %s", s->path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    ser_epoch_spill_close(s);
    return -1;
}

void ser_epoch_spill_close(ser_epoch_spill *s) {
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    free(s->path), free(s->x), free(s->scratch);
    ser_norm_stats_free(&s->speakers);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

size_t ser_epoch_spill_put_scratch(const ser_epoch_spill *s) { return sums_len(s); }

/* The whole of buf at off, or an error naming the file, the clip and the reason. */
static int write_at(const ser_epoch_spill *s, const void *buf, size_t bytes, off_t off, size_t clip,
                    ser_error *err) {
    const char *p = buf;
    while (bytes) {
        const ssize_t w = pwrite(s->fd, p, bytes, off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            return ser_fail(err, "%s (per-epoch feature spill file, unlinked): writing clip %zu: %s", s->path, clip,
                            w < 0 ? strerror(errno) : "nothing written");
        p += w, bytes -= (size_t)w, off += w;
    }
    return 0;
}

static int read_at(const ser_epoch_spill *s, void *buf, size_t bytes, off_t off, size_t clip, ser_error *err) {
    char *p = buf;
    while (bytes) {
        const ssize_t r = pread(s->fd, p, bytes, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return ser_fail(err, "%s (per-epoch feature spill file, unlinked): reading clip %zu: %s", s->path, clip,
                            r < 0 ? strerror(errno) : "short read (the file is shorter than the epoch)");
        p += r, bytes -= (size_t)r, off += r;
    }
    return 0;
}

int ser_epoch_spill_put(const ser_epoch_spill *s, size_t i, const float *x, double *scratch, ser_error *err) {
    SER_ASSERT(i < s->n);
    if (s->fd < 0) {
        memcpy(s->x + i * s->F, x, s->F * sizeof *x);
        return 0;
    }
    if (write_at(s, x, s->F * sizeof *x, (off_t)(i * s->F * sizeof *x), i, err) != 0) return -1;
    if (s->mode != SER_NORM_SPEAKER) return 0;
    /* the clip's own sums: seal adds them into its speaker's in clip order, as
     * ser_norm_stats_add would (0 + s is s, so the totals are the same bits) */
    const size_t H = (size_t)s->H;
    memset(scratch, 0, sums_len(s) * sizeof *scratch);
    ser_norm_accumulate(x, s->H, s->W, scratch, scratch + H, scratch + 2 * H);
    return write_at(s, scratch, sums_len(s) * sizeof *scratch, sums_offset(s, i), i, err);
}

int ser_epoch_spill_seal(ser_epoch_spill *s, const ser_clip *clips, const ser_scaler *scaler, ser_error *err) {
    if (s->fd < 0) {
        /* the path before the spill: the whole epoch normalised, then scaled */
        if (ser_normalize(s->mode, s->x, s->n, clips, s->H, s->W, err) != 0) return -1;
        ser_scaler_apply(scaler, s->x, s->n * s->F);
        return 0;
    }
    s->scaler = *scaler;
    if (s->mode != SER_NORM_SPEAKER) return 0;
    ser_norm_stats_free(&s->speakers);
    if (ser_norm_stats_init(&s->speakers, clips, s->n, s->H, err) != 0) return -1;
    const size_t H = (size_t)s->H, L = sums_len(s);
    for (size_t i0 = 0; i0 < s->n; i0 += SEAL_CHUNK) {
        const size_t m = s->n - i0 < SEAL_CHUNK ? s->n - i0 : SEAL_CHUNK;
        if (read_at(s, s->scratch, m * L * sizeof *s->scratch, sums_offset(s, i0), i0, err) != 0) return -1;
        for (size_t j = 0; j < m; j++) {
            const double *c = s->scratch + j * L;
            const size_t g = s->speakers.group[i0 + j];
            double *sum = s->speakers.sum + 2 * g * H, *sq = sum + H;
            for (size_t r = 0; r < H; r++) sum[r] += c[r], sq[r] += c[H + r];
            s->speakers.count[g] += c[2 * H];
        }
    }
    ser_norm_stats_finish(&s->speakers);
    return 0;
}

int ser_epoch_spill_fill(ser_epoch_spill *s, const uint32_t *idx, int B, float *out, ser_error *err) {
    for (int b = 0; b < B; b++) {
        const size_t i = idx[b];
        float *o = out + (size_t)b * s->F;
        SER_ASSERT(i < s->n);
        if (s->fd < 0) {
            memcpy(o, s->x + i * s->F, s->F * sizeof *o);
            continue;
        }
        if (read_at(s, o, s->F * sizeof *o, (off_t)(i * s->F * sizeof *o), i, err) != 0) return -1;
        if (s->mode == SER_NORM_SPEAKER) {
            ser_norm_stats_apply(&s->speakers, i, o, s->W);
        } else if (s->mode == SER_NORM_CLIP) { /* ser_normalize's per-clip arithmetic */
            double *sum = s->scratch, *sq = sum + s->H, count = 0.0;
            memset(sum, 0, 2 * (size_t)s->H * sizeof *sum);
            ser_norm_accumulate(o, s->H, s->W, sum, sq, &count);
            ser_norm_finish(sum, sq, count, s->H);
            ser_norm_apply(o, s->H, s->W, sum, sq);
        }
        ser_scaler_apply(&s->scaler, o, s->F);
    }
    return 0;
}
