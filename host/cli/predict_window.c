/* `ser predict --segments` / `--window`: stream -> voice-activity segments or fixed windows ->
 * features -> batched network -> one record per segment, silence or window, in order (see
 * predict_window.h and docs/predict-window.md).
 *
 * With features.normalize = 2 the file is read twice: the first pass cuts the same segments and
 * only sums their features into the recording's speaker statistics (ser/window_features.h).
 *
 * Memory: a linear buffer of the samples still needed (the current window, or the segment in
 * progress: at most ~3 pieces plus the pauses around them) and one block, the consumed start
 * moved down as the stream advances; the samples of one batch of clips; and for --png the
 * envelope (one float per ~1/2000 of the file) and every record's probabilities. Nothing grows
 * with the file except those last two, a few bytes per record. */
#include "predict_window.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loaded_model.h"
#include "ser/audio_stream.h"
#include "ser/clock.h"
#include "ser/features.h"
#include "ser/grow.h"
#include "ser/normalize.h"
#include "ser/plot.h"
#include "ser/speech_segments.h"
#include "ser/window_features.h"

#define READ_BLOCK 65536  /* samples pulled from the stream at a time */
#define ENV_BINS 2000     /* envelope points over the whole file for --png */

/* The segmenter's settings besides --silence-db (docs/predict-window.md). */
#define SEG_FRAME_S 0.01     /* level frames */
#define SEG_OFF_DB 10.0      /* speech goes on down to --silence-db minus this */
#define SEG_MIN_GAP_S 0.5    /* pauses shorter than this stay inside a segment */
#define SEG_MIN_SPEECH_S 0.1 /* louder stretches shorter than this are silence */

typedef struct pw_rec {
    double start, end, rms_db;
    double clip_start, clip_end; /* segments: the samples the model read, in seconds */
    int silent;
} pw_rec;

typedef struct pw {
    const predict_window_opts *o;
    loaded_model lm;
    int C;
    int pass;               /* 1: the speaker statistics pass (features only); 2: the output pass */
    size_t per_clip, W;     /* W: samples of one batch slot */
    size_t win;             /* --window: samples of a window */
    double piece_s, pad_s;  /* --segments: piece length and padding in seconds */
    ser_segmenter *seg;
    size_t used_until;      /* end of the samples the last speech clip may have used */
    double sr, hop;         /* hop in samples (fractional: window k starts at round(k hop)) */
    ser_audio_stream *in;
    int eof;
    float *ring;            /* samples [base, base + len) of the stream */
    size_t ring_cap, base, len;
    ser_window_features *wf;
    int B;                  /* non-silent windows per batch */
    float *samples;         /* (B, W) the batch's windows */
    size_t *wlen;
    const float **wptr;
    float *x, *probs;       /* (B, per_clip) features; (B, C) */
    int32_t *pred;
    pw_rec *recs;           /* the windows since the last flush, in order */
    size_t nrec, rec_cap, nslot;
    size_t n_windows, n_silent;
    double t_features, t_network; /* seconds spent in each, for the summary line */
    /* --png */
    double *ps, *pe;
    unsigned char *psil;
    float *pprob;
    size_t np, pcap;
    float *env;
    size_t nenv, env_cap, env_bin, env_fill;
    float env_peak;
} pw;

/* The waveform envelope for --png: peak |x| per env_bin samples, folded in as samples arrive. */
static int envelope_add(pw *s, const float *x, size_t n, ser_error *err) {
    for (size_t i = 0; i < n; i++) {
        const float a = fabsf(x[i]);
        if (a > s->env_peak) s->env_peak = a;
        if (++s->env_fill == s->env_bin) {
            if (ser_grow((void **)&s->env, &s->env_cap, s->nenv + 1, sizeof *s->env, "the waveform envelope", err)) return -1;
            s->env[s->nenv++] = s->env_peak;
            s->env_peak = 0, s->env_fill = 0;
        }
    }
    return 0;
}

/* Reads until the buffer holds at least `want` samples or the stream ends. */
static int pull(pw *s, size_t want, ser_error *err) {
    while (!s->eof && s->len < want) {
        size_t room = s->ring_cap - s->len, got = 0;
        if (room > READ_BLOCK) room = READ_BLOCK;
        if (ser_audio_stream_read(s->in, s->ring + s->len, room, &got, err)) return -1;
        if (s->o->png && envelope_add(s, s->ring + s->len, got, err)) return -1;
        if (got == 0) s->eof = 1;
        s->len += got;
    }
    return 0;
}

/* Drops the samples before stream position `to` (reading past them when they are not read yet). */
static int advance(pw *s, size_t to, ser_error *err) {
    while (s->base < to) {
        size_t drop = to - s->base;
        if (drop >= s->len) {
            s->base += s->len, s->len = 0;
            if (s->base == to) break;
            if (pull(s, to - s->base < s->ring_cap ? to - s->base : s->ring_cap, err)) return -1;
            if (s->len == 0) return 0; /* the stream ended before `to` */
            continue;
        }
        memmove(s->ring, s->ring + drop, (s->len - drop) * sizeof *s->ring);
        s->base += drop, s->len -= drop;
    }
    return 0;
}


static void print_record(pw *s, const pw_rec *r, const float *p, int label) {
    const loaded_model *lm = &s->lm;
    const int C = s->C;
    if (s->o->format == PW_JSON) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "start", r->start);
        cJSON_AddNumberToObject(o, "end", r->end);
        if (isfinite(r->rms_db)) cJSON_AddNumberToObject(o, "rms_dbfs", r->rms_db);
        else cJSON_AddNullToObject(o, "rms_dbfs");
        if (r->silent) {
            cJSON_AddTrueToObject(o, "silent");
        } else {
            cJSON *ps = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "label", lm->meta.labels[label]);
            for (int c = 0; c < C; c++) cJSON_AddNumberToObject(ps, lm->meta.labels[c], p[c]);
            cJSON_AddItemToObject(o, "probs", ps);
            if (s->o->segments) {
                cJSON *c = cJSON_AddArrayToObject(o, "clip");
                cJSON_AddItemToArray(c, cJSON_CreateNumber(r->clip_start));
                cJSON_AddItemToArray(c, cJSON_CreateNumber(r->clip_end));
            }
        }
        char *t = cJSON_PrintUnformatted(o);
        printf("%s\n", t ? t : "{}");
        free(t);
        cJSON_Delete(o);
    } else if (s->o->format == PW_CSV) {
        printf("%.3f,%.3f,%s,%d,%.2f", r->start, r->end, r->silent ? "" : lm->meta.labels[label], r->silent, r->rms_db);
        for (int c = 0; c < C; c++) r->silent ? printf(",") : printf(",%.6f", p[c]);
        printf("\n");
    } else {
        printf("%.3f\t%.3f\t%s", r->start, r->end, r->silent ? "silent" : lm->meta.labels[label]);
        if (r->silent) printf("\trms=%.1f dBFS", isfinite(r->rms_db) ? r->rms_db : -INFINITY);
        else
            for (int c = 0; c < C; c++) printf("\t%s=%.4f", lm->meta.labels[c], p[c]);
        printf("\n");
    }
}

/* Features + network for the batch's windows, then every record since the last flush, in order. */
static int flush(pw *s, ser_error *err) {
    if (s->pass == 1) { /* the speaker statistics: features only */
        const double t0 = ser_now_s();
        if (ser_window_features_compute(s->wf, s->wptr, s->wlen, s->nslot, 0, s->x, err)) return -1;
        ser_window_features_accumulate(s->wf, s->x, s->nslot);
        s->t_features += ser_now_s() - t0;
        s->nrec = 0, s->nslot = 0;
        return 0;
    }
    if (s->nslot) {
        const double t0 = ser_now_s();
        if (ser_window_features_compute(s->wf, s->wptr, s->wlen, s->nslot, 1, s->x, err)) return -1;
        ser_scaler_apply(&s->lm.meta.scaler, s->x, s->nslot * s->per_clip);
        const double t1 = ser_now_s();
        ser_loop_data d = {s->x, NULL, s->nslot, NULL, NULL};
        if (ser_evaluate(&s->lm.net, &d, s->lm.meta.cfg.train.batch_size, NULL, NULL, s->pred, s->probs, err))
            return -1;
        s->t_features += t1 - t0, s->t_network += ser_now_s() - t1;
    }
    size_t slot = 0;
    for (size_t i = 0; i < s->nrec; i++) {
        const pw_rec *r = &s->recs[i];
        const float *p = r->silent ? NULL : s->probs + slot * (size_t)s->C;
        print_record(s, r, p, r->silent ? -1 : s->pred[slot]);
        if (s->o->png) {
            if (ser_grow((void **)&s->ps, &s->pcap, s->np + 1, sizeof *s->ps, "the --png segments", err)) return -1;
            size_t cap = s->pcap;
            void *q1 = realloc(s->pe, cap * sizeof *s->pe), *q2 = q1 ? realloc(s->psil, cap) : NULL;
            if (q1) s->pe = q1;
            if (q2) s->psil = q2;
            void *q3 = q2 ? realloc(s->pprob, cap * (size_t)s->C * sizeof *s->pprob) : NULL;
            if (!q3) return ser_fail(err, "out of memory (timeline of %zu windows)", s->np + 1);
            s->pprob = q3;
            s->ps[s->np] = r->start, s->pe[s->np] = r->end, s->psil[s->np] = (unsigned char)r->silent;
            for (int c = 0; c < s->C; c++) s->pprob[s->np * (size_t)s->C + (size_t)c] = p ? p[c] : 0.0f;
            s->np++;
        }
        if (!r->silent) slot++;
    }
    fflush(stdout);
    s->nrec = 0, s->nslot = 0;
    return 0;
}

/* One record [start, end) (samples); clip: its n samples for the network, or NULL when silent. */
static int add_record(pw *s, size_t start, size_t end, double rms_db, const float *clip, size_t n, size_t clip_start,
                      ser_error *err) {
    if (s->pass == 2) {
        if (ser_grow((void **)&s->recs, &s->rec_cap, s->nrec + 1, sizeof *s->recs, "the records", err)) return -1;
        pw_rec *r = &s->recs[s->nrec++];
        r->start = (double)start / s->sr, r->end = (double)end / s->sr;
        r->clip_start = (double)clip_start / s->sr, r->clip_end = (double)(clip_start + n) / s->sr;
        r->rms_db = rms_db;
        r->silent = clip == NULL;
        s->n_windows++;
        if (r->silent) s->n_silent++;
    }
    if (clip) {
        SER_ASSERT(n >= 1 && n <= s->W);
        float *dst = s->samples + s->nslot * s->W;
        memcpy(dst, clip, n * sizeof *dst);
        s->wptr[s->nslot] = dst, s->wlen[s->nslot] = n;
        s->nslot++;
    }
    /* a long silent stretch must not hold records back for ever */
    if ((int)s->nslot == s->B || s->nrec >= 16 * (size_t)s->B) return flush(s, err);
    return 0;
}

/* The window [start, start + n) whose samples are the buffer's first n. */
static int add_window(pw *s, size_t start, size_t n, ser_error *err) {
    const double rms = ser_rms_dbfs(s->ring, n);
    const int silent = !(rms >= s->o->silence_db);
    return add_record(s, start, start + n, rms, silent ? NULL : s->ring, n, start, err);
}

/* A span of the segmenter (ser/speech_segments.h): a silence, or a speech piece read as
 * `ser predict` reads a file holding it and the padding around it (at a speech/silence edge:
 * up to pad_s seconds, not reaching into the previous clip's samples, nor past what was read). */
static int on_span(void *ctx, const ser_span *sp, ser_error *err) {
    pw *s = ctx;
    if (!sp->speech) return add_record(s, sp->start, sp->end, sp->rms_db, NULL, 0, 0, err);
    const size_t pad = (size_t)llround(s->pad_s * s->sr), have = s->base + s->len;
    size_t a = sp->start, b = sp->end;
    if (sp->first) {
        const size_t room = sp->start > s->used_until ? sp->start - s->used_until : 0;
        a = sp->start - (room < pad ? room : pad);
    }
    if (a < s->base) a = s->base; /* only at the start of the stream */
    if (sp->last) b = have - sp->end < pad ? have : sp->end + pad;
    SER_ASSERT(a >= s->base && b <= have && a < b);
    /* the padding stops at digital silence (a frame of exact zeros: no microphone made it, and
     * the model saw none around its clips: its MFCC frames sit at the dB floor) */
    const size_t zrun = (size_t)llround(SEG_FRAME_S * s->sr);
    for (size_t i = sp->start, run = 0; i > a; i--) {
        run = s->ring[i - 1 - s->base] == 0.0f ? run + 1 : 0;
        if (run >= zrun) {
            a = i - 1 + run;
            break;
        }
    }
    for (size_t i = sp->end, run = 0; i < b; i++) {
        run = s->ring[i - s->base] == 0.0f ? run + 1 : 0;
        if (run >= zrun) {
            b = i + 1 - run;
            break;
        }
    }
    s->used_until = b;
    const float *y = s->ring + (a - s->base);
    size_t first = 0;
    const size_t n = ser_window_clip_placement(&s->lm.meta.cfg.audio, s->sr, y, b - a, &first);
    const double rms = ser_rms_dbfs(s->ring + (sp->start - s->base), sp->end - sp->start);
    return add_record(s, sp->start, sp->end, rms, y + first, n, a + first, err);
}

/* The buffer: reads one block after what it holds, first dropping the samples before `keep`. */
static int read_block(pw *s, size_t keep, ser_error *err) {
    if (keep > s->base) {
        const size_t drop = keep - s->base < s->len ? keep - s->base : s->len;
        memmove(s->ring, s->ring + drop, (s->len - drop) * sizeof *s->ring);
        s->base += drop, s->len -= drop;
    }
    if (s->ring_cap - s->len < READ_BLOCK)
        return ser_fail(err, "%s: segment buffer full (%zu samples held)", s->o->path, s->len);
    size_t got = 0;
    if (ser_audio_stream_read(s->in, s->ring + s->len, READ_BLOCK, &got, err)) return -1;
    if (s->pass == 2 && s->o->png && envelope_add(s, s->ring + s->len, got, err)) return -1;
    if (got == 0) s->eof = 1;
    s->len += got;
    return 0;
}

/* One pass of voice-activity segments over the stream. */
static int run_segments(pw *s, ser_error *err) {
    while (!s->eof) {
        const size_t keep = ser_segmenter_keep_from(s->seg), pad = (size_t)llround(s->pad_s * s->sr);
        const size_t old_end = s->base + s->len;
        if (read_block(s, keep > pad ? keep - pad : 0, err)) return -1;
        const size_t fresh = s->base + s->len - old_end;
        if (ser_segmenter_push(s->seg, s->ring + (old_end - s->base), fresh, on_span, s, err)) return -1;
    }
    if (ser_segmenter_finish(s->seg, on_span, s, err)) return -1;
    return flush(s, err);
}

/* Fixed windows: window k covers [round(k hop), + win); the last is the first that reaches the
 * end of the audio (shorter when the audio ends inside it: padded like a short clip). */
static int run_windows(pw *s, ser_error *err) {
    for (size_t k = 0;; k++) {
        const size_t start = (size_t)floor((double)k * s->hop + 0.5);
        if (advance(s, start, err) || pull(s, s->win + 1, err)) return -1;
        if (s->base < start || s->len == 0) break; /* the audio ended before this window */
        const size_t n = s->len < s->win ? s->len : s->win;
        if (add_window(s, start, n, err)) return -1;
        if (s->len <= s->win) break; /* nothing after this window */
    }
    return flush(s, err);
}

/* (Re)opens the stream and the segmenter at the start of the file. */
static int rewind_stream(pw *s, ser_error *err) {
    ser_audio_stream_close(s->in);
    ser_segmenter_free(s->seg);
    s->in = NULL, s->seg = NULL;
    s->base = s->len = 0, s->eof = 0, s->used_until = 0;
    if (!(s->in = ser_audio_stream_open(s->o->path, s->lm.meta.cfg.audio.sample_rate, err))) return -1;
    const ser_segmenter_config sc = {.rate = s->sr,
                                     .frame_s = SEG_FRAME_S,
                                     .on_db = s->o->silence_db,
                                     .off_db = s->o->silence_db - SEG_OFF_DB,
                                     .min_gap_s = SEG_MIN_GAP_S,
                                     .min_speech_s = SEG_MIN_SPEECH_S,
                                     .piece_s = s->piece_s};
    if (!(s->seg = ser_segmenter_create(&sc, err))) return -1;
    return 0;
}

static int setup(pw *s, ser_error *err) {
    const predict_window_opts *o = s->o;
    const ser_config *cfg = &s->lm.meta.cfg;
    s->sr = cfg->audio.sample_rate;
    const double span = cfg->audio.duration > 0 ? cfg->audio.offset + cfg->audio.duration : 0;
    /* segments: pieces of --window, default what the model reads of a file */
    s->piece_s = o->segments && o->window > 0 ? o->window : span > 0 ? span : 3.0;
    s->pad_s = o->pad >= 0 ? o->pad : PW_PAD_DEFAULT;
    if (o->segments && !(o->window > 0) && !(span > 0))
        return ser_fail(err, "--segments: the model reads whole files (audio.duration = %g), so give --window, the "
                             "longest piece in seconds", cfg->audio.duration);
    if (!(s->piece_s >= SEG_MIN_GAP_S) || s->piece_s > 3600)
        return ser_fail(err, "--window %g s: segments are cut into pieces of %g .. 3600 s", s->piece_s, SEG_MIN_GAP_S);
    if (!(s->pad_s <= 60)) return ser_fail(err, "--pad %g s: not 0 .. 60 s", s->pad_s);
    /* the largest clip of a segment: the model's duration, or (whole files) 1.5 pieces + padding */
    const double seg_clip = cfg->audio.duration > 0 ? floor(cfg->audio.duration * s->sr) + 1
                                                    : ceil((1.5 * s->piece_s + 2 * s->pad_s + 2 * SEG_FRAME_S) * s->sr);
    if (!o->segments) {
        const double window = o->window > 0 ? o->window : cfg->audio.duration;
        if (!(window > 0))
            return ser_fail(err, "--window: the model reads whole files (audio.duration = %g), so give the window "
                                 "length in seconds", cfg->audio.duration);
        const double hop = o->hop > 0 ? o->hop : window / 2;
        const double W = floor(window * s->sr + 0.5);
        if (W < 1 || W > 1e9) return ser_fail(err, "--window %g s: not 1 .. 1e9 samples at %g Hz", window, s->sr);
        if (hop * s->sr < 1 || hop * s->sr > 1e12)
            return ser_fail(err, "--hop %g s: not 1 .. 1e12 samples at %g Hz", hop, s->sr);
        s->win = (size_t)W, s->hop = hop * s->sr;
    }
    /* a slot holds a window, or (segments, and the statistics pass) a segment's clip */
    const int speaker_pass = cfg->features.normalize == SER_NORM_SPEAKER;
    s->W = o->segments || speaker_pass ? (size_t)seg_clip : 0;
    if (s->win > s->W) s->W = s->win;
    s->C = (int)s->lm.meta.n_labels;
    s->per_clip = ser_features_per_clip(cfg);
    s->B = o->batch > 0 ? o->batch : 2 * cfg->train.batch_size;
    if (!(s->wf = ser_window_features_create(cfg, cfg->train.threads, err))) return ser_fail_wrap(err, "%s", o->model);
    /* the buffer: a window, or a segment in progress (under 3 pieces + a pause + padding) */
    const double seg_held = o->segments || speaker_pass
                                ? ceil((3 * s->piece_s + SEG_MIN_GAP_S + 2 * s->pad_s + 4 * SEG_FRAME_S) * s->sr)
                                : 0;
    s->ring_cap = (s->win > (size_t)seg_held ? s->win : (size_t)seg_held) + 1 + 2 * READ_BLOCK;
    s->ring = ser_malloc(s->ring_cap * sizeof *s->ring, "window buffer", err);
    s->samples = ser_malloc((size_t)s->B * s->W * sizeof *s->samples, "batch samples", err);
    s->wlen = ser_malloc((size_t)s->B * sizeof *s->wlen, "window lengths", err);
    s->wptr = ser_malloc((size_t)s->B * sizeof *s->wptr, "window pointers", err);
    s->x = ser_malloc((size_t)s->B * s->per_clip * sizeof *s->x, "window features", err);
    s->probs = ser_malloc((size_t)s->B * (size_t)s->C * sizeof *s->probs, "probabilities", err);
    s->pred = ser_malloc((size_t)s->B * sizeof *s->pred, "labels", err);
    if (!s->ring || !s->samples || !s->wlen || !s->wptr || !s->x || !s->probs || !s->pred) return -1;
    if (rewind_stream(s, err)) return -1;
    const size_t expect = ser_audio_stream_expected(s->in);
    s->env_bin = expect / ENV_BINS > 0 ? expect / ENV_BINS : 1;
    return 0;
}

static void free_state(pw *s) {
    ser_audio_stream_close(s->in);
    ser_segmenter_free(s->seg);
    ser_window_features_free(s->wf);
    free(s->ring), free(s->samples), free(s->wlen), free(s->wptr), free(s->x), free(s->probs), free(s->pred);
    free(s->recs), free(s->ps), free(s->pe), free(s->psil), free(s->pprob), free(s->env);
    loaded_model_close(&s->lm);
}

int predict_window_run(const predict_window_opts *o) {
    pw s;
    memset(&s, 0, sizeof s);
    s.o = o;
    ser_error err = {{0}};
    int rc = 1;
    if (loaded_model_open(&s.lm, o->model, o->device, "ser predict", &err) || setup(&s, &err)) goto done;
    const double t0 = ser_now_s();
    /* per-speaker normalisation: a first pass gathers the recording's statistics */
    if (s.lm.meta.cfg.features.normalize == SER_NORM_SPEAKER) {
        s.pass = 1;
        if (run_segments(&s, &err)) goto done;
        ser_window_features_speaker_done(s.wf);
        if (rewind_stream(&s, &err)) goto done;
    }
    s.pass = 2;
    char what[160];
    if (o->segments)
        snprintf(what, sizeof what, "voice-activity segments (pieces up to %g s, %g s padding)", s.piece_s, s.pad_s);
    else
        snprintf(what, sizeof what, "windows of %g s every %g s", (double)s.win / s.sr, s.hop / s.sr);
    if (o->format == PW_TEXT)
        printf("# %s: %s; silent below %g dBFS%s\n", o->path, what, o->silence_db,
               o->silence_default ? " (default; --silence-db)" : "");
    else if (o->format == PW_CSV) {
        printf("start,end,label,silent,rms_dbfs");
        for (int c = 0; c < s.C; c++) printf(",%s", s.lm.meta.labels[c]);
        printf("\n");
    }
    if (o->segments ? run_segments(&s, &err) : run_windows(&s, &err)) goto done;
    if (s.n_windows == 0) {
        ser_fail(&err, "%s: no audio samples", o->path);
        goto done;
    }
    const double secs = (double)(s.base + s.len) / s.sr, wall = ser_now_s() - t0;
    const char *twice = s.lm.meta.cfg.features.normalize == SER_NORM_SPEAKER ? "; read twice (per-speaker statistics)" : "";
    if (o->segments)
        fprintf(stderr,
                "ser predict: %s: %.1f s of audio, %zu speech segments, %zu silences (speech from %g dBFS%s)%s; "
                "%.2f s (%.0f x real time; features %.2f s, network %.2f s)\n",
                o->path, secs, s.n_windows - s.n_silent, s.n_silent, o->silence_db,
                o->silence_default ? ", the default" : "", twice, wall, wall > 0 ? secs / wall : 0.0, s.t_features,
                s.t_network);
    else
        fprintf(stderr,
                "ser predict: %s: %.1f s of audio, %zu %s, %zu silent (RMS below %g dBFS%s)%s; "
                "%.2f s (%.0f x real time; features %.2f s, network %.2f s)\n",
                o->path, secs, s.n_windows, what, s.n_silent, o->silence_db,
                o->silence_default ? ", the default" : "", twice, wall, wall > 0 ? secs / wall : 0.0, s.t_features,
                s.t_network);
    if (!o->segments && !(s.lm.meta.cfg.train.aug_wave_shift > 0))
        fprintf(stderr, "ser predict: note: fixed windows put an utterance anywhere in a window, and this model was "
                        "trained without train.aug_wave_shift; --segments reads each utterance as the model read its "
                        "clips (docs/predict-window.md)\n");
    if (o->png) {
        if (s.env_fill) { /* the last partial envelope bin */
            if (ser_grow((void **)&s.env, &s.env_cap, s.nenv + 1, sizeof *s.env, "the waveform envelope", &err)) goto done;
            s.env[s.nenv++] = s.env_peak;
        }
        const char *slash = strrchr(o->path, '/');
        char title[512];
        snprintf(title, sizeof title, "%s: emotion over time (%s)", slash ? slash + 1 : o->path,
                 o->segments ? "voice-activity segments" : what);
        if (ser_plot_timeline(o->png, title, (int)s.np, s.ps, s.pe, s.psil, s.pprob, s.C,
                              (const char *const *)s.lm.meta.labels, (int)s.nenv, s.env, (double)s.env_bin / s.sr, secs,
                              &err))
            goto done;
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "ser predict: %s\n", err.msg);
    free_state(&s);
    return rc;
}
