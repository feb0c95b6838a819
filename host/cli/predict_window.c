/* `ser predict --window`: stream -> windows -> features -> batched network -> one record per
 * window, in order (see predict_window.h and docs/predict-window.md).
 *
 * Memory: the samples of the current window and what the next block read brought (a linear
 * buffer of window + one block, the consumed start moved down as the windows advance), the
 * samples of one batch of windows (batch x window), and for --png the envelope (one float per
 * ~1/2000 of the file) and every window's probabilities. Nothing grows with the file except
 * those last two, a few bytes per window. */
#include "predict_window.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "loaded_model.h"
#include "ser/audio_stream.h"
#include "ser/features.h"
#include "ser/plot.h"
#include "ser/window_features.h"

#define READ_BLOCK 65536  /* samples pulled from the stream at a time */
#define ENV_BINS 2000     /* envelope points over the whole file for --png */

typedef struct pw_rec {
    double start, end, rms_db;
    int silent;
} pw_rec;

typedef struct pw {
    const predict_window_opts *o;
    loaded_model lm;
    int C;
    size_t per_clip, W;
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

static int grow(void **p, size_t *cap, size_t need, size_t elem, ser_error *err) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap * 2 : 1024;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return ser_fail(err, "out of memory (%zu bytes)", c * elem);
    *p = q, *cap = c;
    return 0;
}

/* The waveform envelope for --png: peak |x| per env_bin samples, folded in as samples arrive. */
static int envelope_add(pw *s, const float *x, size_t n, ser_error *err) {
    for (size_t i = 0; i < n; i++) {
        const float a = fabsf(x[i]);
        if (a > s->env_peak) s->env_peak = a;
        if (++s->env_fill == s->env_bin) {
            if (grow((void **)&s->env, &s->env_cap, s->nenv + 1, sizeof *s->env, err)) return -1;
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

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
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
    if (s->nslot) {
        const double t0 = now_s();
        if (ser_window_features_compute(s->wf, s->wptr, s->wlen, s->nslot, s->x, err)) return -1;
        ser_scaler_apply(&s->lm.meta.scaler, s->x, s->nslot * s->per_clip);
        const double t1 = now_s();
        ser_split_data d = {s->x, NULL, s->nslot, NULL, NULL};
        if (ser_evaluate(&s->lm.net, &d, s->lm.meta.cfg.train.batch_size, NULL, NULL, s->pred, s->probs, err))
            return -1;
        s->t_features += t1 - t0, s->t_network += now_s() - t1;
    }
    size_t slot = 0;
    for (size_t i = 0; i < s->nrec; i++) {
        const pw_rec *r = &s->recs[i];
        const float *p = r->silent ? NULL : s->probs + slot * (size_t)s->C;
        print_record(s, r, p, r->silent ? -1 : s->pred[slot]);
        if (s->o->png) {
            if (grow((void **)&s->ps, &s->pcap, s->np + 1, sizeof *s->ps, err)) return -1;
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

/* The window [start, start + n) whose samples are the buffer's first n. */
static int add_window(pw *s, size_t start, size_t n, ser_error *err) {
    if (grow((void **)&s->recs, &s->rec_cap, s->nrec + 1, sizeof *s->recs, err)) return -1;
    pw_rec *r = &s->recs[s->nrec++];
    r->start = (double)start / s->sr;
    r->end = (double)(start + n) / s->sr;
    r->rms_db = ser_rms_dbfs(s->ring, n);
    r->silent = !(r->rms_db >= s->o->silence_db);
    s->n_windows++;
    if (r->silent) {
        s->n_silent++;
    } else {
        float *dst = s->samples + s->nslot * s->W;
        memcpy(dst, s->ring, n * sizeof *dst);
        s->wptr[s->nslot] = dst, s->wlen[s->nslot] = n;
        s->nslot++;
    }
    /* a long silent stretch must not hold records back for ever */
    if ((int)s->nslot == s->B || s->nrec >= 16 * (size_t)s->B) return flush(s, err);
    return 0;
}

static int setup(pw *s, ser_error *err) {
    const predict_window_opts *o = s->o;
    const ser_config *cfg = &s->lm.meta.cfg;
    s->sr = cfg->audio.sample_rate;
    const double window = o->window > 0 ? o->window : cfg->audio.duration;
    if (!(window > 0))
        return ser_fail(err, "--window: the model reads whole files (audio.duration = %g), so give the window length "
                             "in seconds", cfg->audio.duration);
    const double hop = o->hop > 0 ? o->hop : window / 2;
    const double W = floor(window * s->sr + 0.5);
    if (W < 1 || W > 1e9) return ser_fail(err, "--window %g s: not 1 .. 1e9 samples at %g Hz", window, s->sr);
    if (hop * s->sr < 1 || hop * s->sr > 1e12) return ser_fail(err, "--hop %g s: not 1 .. 1e12 samples at %g Hz", hop, s->sr);
    s->W = (size_t)W, s->hop = hop * s->sr;
    s->C = (int)s->lm.meta.n_labels;
    s->per_clip = ser_features_per_clip(cfg);
    s->B = o->batch > 0 ? o->batch : 2 * cfg->train.batch_size;
    if (!(s->wf = ser_window_features_create(cfg, cfg->train.threads, err))) return ser_fail_wrap(err, "%s", o->model);
    if (!(s->in = ser_audio_stream_open(o->path, cfg->audio.sample_rate, err))) return -1;
    s->ring_cap = s->W + 1 + READ_BLOCK;
    s->ring = ser_malloc(s->ring_cap * sizeof *s->ring, "window buffer", err);
    s->samples = ser_malloc((size_t)s->B * s->W * sizeof *s->samples, "batch samples", err);
    s->wlen = ser_malloc((size_t)s->B * sizeof *s->wlen, "window lengths", err);
    s->wptr = ser_malloc((size_t)s->B * sizeof *s->wptr, "window pointers", err);
    s->x = ser_malloc((size_t)s->B * s->per_clip * sizeof *s->x, "window features", err);
    s->probs = ser_malloc((size_t)s->B * (size_t)s->C * sizeof *s->probs, "probabilities", err);
    s->pred = ser_malloc((size_t)s->B * sizeof *s->pred, "labels", err);
    if (!s->ring || !s->samples || !s->wlen || !s->wptr || !s->x || !s->probs || !s->pred) return -1;
    const size_t expect = ser_audio_stream_expected(s->in);
    s->env_bin = expect / ENV_BINS > 0 ? expect / ENV_BINS : 1;
    return 0;
}

static void free_state(pw *s) {
    ser_audio_stream_close(s->in);
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
    const double t0 = now_s();
    if (o->format == PW_TEXT)
        printf("# %s: windows of %g s every %g s; silent below %g dBFS%s\n", o->path, (double)s.W / s.sr,
               s.hop / s.sr, o->silence_db, o->silence_default ? " (default; --silence-db)" : "");
    else if (o->format == PW_CSV) {
        printf("start,end,label,silent,rms_dbfs");
        for (int c = 0; c < s.C; c++) printf(",%s", s.lm.meta.labels[c]);
        printf("\n");
    }
    /* window k covers [round(k hop), + W); the last is the first that reaches the end of the
     * audio (shorter when the audio ends inside it: padded like a short clip) */
    for (size_t k = 0;; k++) {
        const size_t start = (size_t)floor((double)k * s.hop + 0.5);
        if (advance(&s, start, &err) || pull(&s, s.W + 1, &err)) goto done;
        if (s.base < start || s.len == 0) break; /* the audio ended before this window */
        const size_t n = s.len < s.W ? s.len : s.W;
        if (add_window(&s, start, n, &err)) goto done;
        if (s.len <= s.W) break; /* nothing after this window */
    }
    if (flush(&s, &err)) goto done;
    if (s.n_windows == 0) {
        ser_fail(&err, "%s: no audio samples", o->path);
        goto done;
    }
    const double secs = (double)(s.base + s.len) / s.sr, wall = now_s() - t0;
    fprintf(stderr,
            "ser predict: %s: %.1f s of audio, %zu windows of %g s every %g s, %zu silent (RMS below %g dBFS%s); "
            "%.2f s (%.0f x real time; features %.2f s, network %.2f s)\n",
            o->path, secs, s.n_windows, (double)s.W / s.sr, s.hop / s.sr, s.n_silent, o->silence_db,
            o->silence_default ? ", the default" : "", wall, wall > 0 ? secs / wall : 0.0, s.t_features, s.t_network);
    if (o->png) {
        if (s.env_fill) { /* the last partial envelope bin */
            if (grow((void **)&s.env, &s.env_cap, s.nenv + 1, sizeof *s.env, &err)) goto done;
            s.env[s.nenv++] = s.env_peak;
        }
        const char *slash = strrchr(o->path, '/');
        char title[512];
        snprintf(title, sizeof title, "%s: emotion over time (windows of %g s every %g s)", slash ? slash + 1 : o->path,
                 (double)s.W / s.sr, s.hop / s.sr);
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
