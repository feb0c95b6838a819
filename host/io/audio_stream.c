/* ser_audio_load's chain, block by block (see ser/audio_stream.h). */
#include "ser/audio_stream.h"

#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ser/audio.h"

/* Frames decoded per block: 64 k frames (~1.5 s at 44.1 kHz) keeps the buffers a few hundred
 * kB for any channel count up to 8 while making the per-call overheads negligible. */
#define BLOCK_FRAMES 65536

struct ser_audio_stream {
    char *path;
    SNDFILE *sf;
    SF_INFO info;
    int rate;             /* target rate */
    double ratio;         /* rate / info.samplerate, as librosa computes it */
    soxr_t soxr;          /* NULL when the rates match */
    float *frames;        /* (BLOCK_FRAMES, channels) interleaved, as decoded */
    float *out;           /* resampled (or mono) samples not yet handed out: out[pos .. n) */
    size_t out_cap, out_n, out_pos;
    size_t in_total;      /* frames decoded so far */
    size_t out_total;     /* samples put into out so far */
    int eof;              /* the decoder has no more frames */
    int done;             /* eof and the resampler flushed and the length fixed */
};

ser_audio_stream *ser_audio_stream_open(const char *path, int target_rate, ser_error *err) {
    if (target_rate <= 0) {
        ser_fail(err, "%s: target sample rate %d <= 0", path, target_rate);
        return NULL;
    }
    int fd = ser_audio_open_regular(path, err);
    if (fd < 0) return NULL;
    ser_audio_stream *s = ser_calloc(1, sizeof *s, "audio stream", err);
    if (!s) {
        close(fd);
        return NULL;
    }
    s->sf = sf_open_fd(fd, SFM_READ, &s->info, SF_TRUE); /* owns fd from here, on failure too */
    if (!s->sf) {
        ser_fail(err, "%s: not a recognised audio file (libsndfile: %s)", path, sf_strerror(NULL));
        free(s);
        return NULL;
    }
    s->rate = target_rate;
    if (s->info.samplerate <= 0 || s->info.channels <= 0) {
        ser_fail(err, "%s: not a recognised audio file (sample rate %d, %d channels)", path, s->info.samplerate,
                 s->info.channels);
        goto fail;
    }
    if (s->info.frames <= 0) {
        ser_fail(err, "%s: no audio frames (header with no data)", path);
        goto fail;
    }
    if (!(s->path = strdup(path))) {
        ser_fail(err, "%s: out of memory", path);
        goto fail;
    }
    s->ratio = (double)target_rate / (double)s->info.samplerate;
    if (s->info.samplerate != target_rate) {
        soxr_error_t e = NULL;
        const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_S, SOXR_FLOAT32_S);
        const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        s->soxr = soxr_create((double)s->info.samplerate, (double)target_rate, 1, &e, &io, &q, NULL);
        if (e) {
            s->soxr = NULL;
            ser_fail(err, "%s: resampler error %d -> %d Hz: %s", path, s->info.samplerate, target_rate, e);
            goto fail;
        }
    }
    /* out holds one block's output plus what the resampler held back from earlier blocks */
    s->out_cap = (size_t)ceil(BLOCK_FRAMES * (s->ratio > 1 ? s->ratio : 1.0)) * 2 + 4096;
    s->frames = ser_malloc((size_t)BLOCK_FRAMES * (size_t)s->info.channels * sizeof(float), "decoded audio", err);
    s->out = ser_malloc(s->out_cap * sizeof(float), "resampled audio", err);
    if (!s->frames || !s->out) {
        ser_fail_wrap(err, "%s", path);
        goto fail;
    }
    return s;
fail:
    ser_audio_stream_close(s);
    return NULL;
}

/* The samples the whole file gives at the target rate: librosa's fix_length to ceil(n * ratio). */
static size_t fixed_length(const ser_audio_stream *s, size_t frames) {
    return s->soxr ? (size_t)ceil((double)frames * s->ratio) : frames;
}

/* Decodes one block into out (mono, resampled), or flushes the resampler at the end. */
static int fill(ser_audio_stream *s, ser_error *err) {
    s->out_n = s->out_pos = 0;
    const int ch = s->info.channels;
    if (!s->eof) {
        sf_count_t n = sf_readf_float(s->sf, s->frames, BLOCK_FRAMES);
        if (n < 0 || (n < BLOCK_FRAMES && sf_error(s->sf) != SF_ERR_NO_ERROR))
            return ser_fail(err, "%s: read error after %zu frames (libsndfile: %s)", s->path, s->in_total,
                            sf_strerror(s->sf));
        if (n == 0) {
            s->eof = 1;
        } else {
            float *x = s->frames;
            if (!ser_audio_all_finite(x, (size_t)n * (size_t)ch)) {
                size_t i = 0;
                while (isfinite(x[i])) i++;
                return ser_fail(err, "%s: non-finite sample (%s) at frame %zu", s->path, isnan(x[i]) ? "NaN" : "Inf",
                                s->in_total + i / (size_t)ch);
            }
            if (ch > 1) { /* np.mean over the channels in float32, in place (see audio.c) */
                const float fch = (float)ch;
                for (sf_count_t i = 0; i < n; i++) {
                    const float *f = x + i * ch;
                    float sum = f[0];
                    for (int c = 1; c < ch; c++) sum += f[c];
                    x[i] = sum / fch;
                }
            }
            s->in_total += (size_t)n;
            if (!s->soxr) {
                memcpy(s->out, x, (size_t)n * sizeof(float));
                s->out_n = (size_t)n;
            } else {
                /* SOXR_FLOAT32_S: split channels, so the buffers are passed as arrays of channel pointers */
                const float *ip = x;
                float *op = s->out;
                size_t idone = 0, odone = 0;
                soxr_error_t e = soxr_process(s->soxr, &ip, (size_t)n, &idone, &op, s->out_cap, &odone);
                if (e || idone != (size_t)n)
                    return ser_fail(err, "%s: resampler error %d -> %d Hz: %s", s->path, s->info.samplerate, s->rate,
                                    e ? e : "input not consumed");
                s->out_n = odone;
            }
        }
    }
    if (s->eof && !s->done) {
        if (!s->soxr) {
            s->done = 1;
        } else {
            float *op = s->out;
            size_t odone = 0;
            soxr_error_t e = soxr_process(s->soxr, NULL, 0, NULL, &op, s->out_cap, &odone);
            if (e)
                return ser_fail(err, "%s: resampler error %d -> %d Hz: %s", s->path, s->info.samplerate, s->rate, e);
            s->out_n = odone;
            if (odone == 0) s->done = 1;
        }
    }
    /* fix_length: never past ceil(n * ratio); zero padding up to it once everything is out */
    const size_t limit = s->eof ? fixed_length(s, s->in_total) : SIZE_MAX;
    if (s->out_total + s->out_n > limit) s->out_n = limit > s->out_total ? limit - s->out_total : 0;
    if (s->done && s->out_total + s->out_n < limit) {
        size_t pad = limit - s->out_total - s->out_n;
        if (pad > s->out_cap - s->out_n) pad = s->out_cap - s->out_n;
        memset(s->out + s->out_n, 0, pad * sizeof(float));
        s->out_n += pad;
        if (s->out_total + s->out_n < limit) s->done = 0; /* more padding next call */
    }
    if (!ser_audio_all_finite(s->out, s->out_n))
        return ser_fail(err, "%s: samples overflow to Inf/NaN after the mono mixdown or resampling (values near the "
                             "float limit)", s->path);
    s->out_total += s->out_n;
    return 0;
}

int ser_audio_stream_read(ser_audio_stream *s, float *out, size_t max, size_t *got, ser_error *err) {
    *got = 0;
    while (*got < max) {
        if (s->out_pos == s->out_n) {
            if (s->done && s->eof) break;
            if (fill(s, err)) return -1;
            if (s->out_n == 0 && s->done) break;
            continue;
        }
        size_t k = s->out_n - s->out_pos;
        if (k > max - *got) k = max - *got;
        memcpy(out + *got, s->out + s->out_pos, k * sizeof(float));
        s->out_pos += k;
        *got += k;
    }
    return 0;
}

int ser_audio_stream_source_rate(const ser_audio_stream *s) { return s->info.samplerate; }
int ser_audio_stream_source_channels(const ser_audio_stream *s) { return s->info.channels; }
size_t ser_audio_stream_expected(const ser_audio_stream *s) { return fixed_length(s, (size_t)s->info.frames); }

void ser_audio_stream_close(ser_audio_stream *s) {
    if (!s) return;
    if (s->sf) sf_close(s->sf);
    if (s->soxr) soxr_delete(s->soxr);
    free(s->frames);
    free(s->out);
    free(s->path);
    free(s);
}
