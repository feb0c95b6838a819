/* Waveform augmentation and VTLP: per-epoch training features (contract in ser/wave_augment.h).
 * Memory: the clip cache (train.audio_cache_mb; 3 s at 22.05 kHz is 265 KB a clip as float), the
 * noise files as int16, per thread two clip-sized scratch buffers and one clip's features; the
 * epoch's features in a spill (ser/epoch_spill.h: an unlinked file, or (n, F) in memory), two
 * with prefetch. */
#include "ser/wave_augment.h"

#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <soxr.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ser/audio.h"
#include "ser/epoch_spill.h"
#include "ser/mfcc.h"
#include "ser/philox.h"
#include "ser/vtlp_draw.h"

int ser_wave_aug_changes_audio(const ser_train_config *tc) {
    return tc->aug_speed > 0 || tc->aug_wave_shift > 0 || tc->aug_wave_gain > 0 ||
           (tc->aug_noise_kind != SER_NOISE_OFF && tc->aug_noise_prob > 0);
}

int ser_wave_aug_recomputes_features(const ser_train_config *tc) {
    return ser_wave_aug_changes_audio(tc) || tc->aug_vtlp > 0;
}

static philox4x32_ctr draw4(uint64_t seed, int epoch, uint32_t clip, uint32_t tag, uint32_t j) {
    philox4x32_key k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr c = {{clip, (uint32_t)epoch, tag, j}};
    return philox4x32_10(c, k);
}

static double unit(uint32_t w) { return ((double)w + 0.5) * 0x1p-32; } /* (0, 1) */

void ser_wave_draw_make(const ser_train_config *tc, int sample_rate, uint64_t seed, int epoch, uint32_t clip,
                        size_t n_noise, ser_wave_draw *d) {
    const philox4x32_ctr a = draw4(seed, epoch, clip, 0x7a1u, 0), b = draw4(seed, epoch, clip, 0x7a2u, 0);
    memset(d, 0, sizeof *d);
    const int s3 = (int)(((uint64_t)a.v[0] * 3u) >> 32); /* 0, 1, 2 */
    d->speed = tc->aug_speed > 0 ? 1.0 + tc->aug_speed * (s3 - 1) : 1.0;
    const long smax = (long)floor(tc->aug_wave_shift * sample_rate);
    d->shift = smax > 0 ? (long)(((uint64_t)a.v[1] * (uint64_t)(2 * smax + 1)) >> 32) - smax : 0;
    d->gain_db = tc->aug_wave_gain * (2.0 * unit(a.v[2]) - 1.0);
    d->noise = tc->aug_noise_kind != SER_NOISE_OFF && unit(a.v[3]) < tc->aug_noise_prob;
    d->snr_db = tc->aug_noise_snr_min + (tc->aug_noise_snr_max - tc->aug_noise_snr_min) * unit(b.v[0]);
    d->noise_file = n_noise ? (uint32_t)(((uint64_t)b.v[1] * (uint64_t)n_noise) >> 32) : 0;
    d->noise_pos = unit(b.v[2]) - 0.5 * 0x1p-32; /* [0, 1) */
}

size_t ser_wave_speed_len(size_t n, double factor) {
    return factor == 1.0 ? n : (size_t)ceil((double)n / factor);
}

void ser_wave_speed_free(void **cache) {
    if (cache && *cache) soxr_delete((soxr_t)*cache);
    if (cache) *cache = NULL;
}

int ser_wave_speed(const float *x, size_t n, double factor, float *y, void **cache, double *cache_factor,
                   ser_error *err) {
    const size_t ny = ser_wave_speed_len(n, factor);
    if (factor == 1.0) {
        memcpy(y, x, n * sizeof *y);
        return 0;
    }
    soxr_error_t e = NULL;
    soxr_t s = cache ? (soxr_t)*cache : NULL;
    if (s && *cache_factor == factor) {
        e = soxr_clear(s); /* the same output as a fresh state (ser/audio.h relies on it too) */
    } else {
        if (cache) ser_wave_speed_free(cache);
        const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        /* input "rate" factor, output 1: n / factor samples of the same content */
        s = soxr_create(factor, 1.0, 1, &e, &io, &q, NULL);
        if (!e && cache) *cache = s, *cache_factor = factor;
    }
    if (e) return ser_fail(err, "speed perturbation %g: soxr: %s", factor, e);
    size_t ip = 0, op = 0;
    while (!e && ip < n && op < ny) {
        size_t id = 0, od = 0;
        e = soxr_process(s, x + ip, n - ip, &id, y + op, ny - op, &od);
        ip += id, op += od;
        if (!id && !od) break;
    }
    while (!e && op < ny) { /* flush the filter's delay */
        size_t od = 0;
        e = soxr_process(s, NULL, 0, NULL, y + op, ny - op, &od);
        op += od;
        if (!od) break;
    }
    if (!cache) soxr_delete(s);
    if (e) return ser_fail(err, "speed perturbation %g: soxr: %s", factor, e);
    if (op < ny) memset(y + op, 0, (ny - op) * sizeof *y);
    return 0;
}

void ser_wave_noise(int kind, uint64_t seed, int epoch, uint32_t clip, float *z, size_t n) {
    /* Box-Muller on pairs of Philox words, in float (the double version cost as much as the
     * MFCC): 4 gaussians per counter */
    for (size_t j = 0; j < n; j += 4) {
        const philox4x32_ctr r = draw4(seed, epoch, clip, 0x7a3u, (uint32_t)(j / 4));
        for (int p = 0; p < 2; p++) {
            const float u = ((float)(r.v[2 * p] >> 8) + 0.5f) * 0x1p-24f, v = (float)(r.v[2 * p + 1] >> 8) * 0x1p-24f;
            const float rad = sqrtf(-2.0f * logf(u)), th = 6.28318530718f * v;
            if (j + 2 * p < n) z[j + 2 * p] = rad * cosf(th);
            if (j + 2 * p + 1 < n) z[j + 2 * p + 1] = rad * sinf(th);
        }
    }
    if (kind != SER_NOISE_PINK) return;
    /* Paul Kellett's refined pink filter: -3 dB / octave within 0.05 dB above ~9 Hz at 44.1 kHz */
    double b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
    for (size_t i = 0; i < n; i++) {
        const double w = z[i];
        b0 = 0.99886 * b0 + w * 0.0555179;
        b1 = 0.99332 * b1 + w * 0.0750759;
        b2 = 0.96900 * b2 + w * 0.1538520;
        b3 = 0.86650 * b3 + w * 0.3104856;
        b4 = 0.55000 * b4 + w * 0.5329522;
        b5 = -0.7616 * b5 - w * 0.0168980;
        z[i] = (float)(b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362);
        b6 = w * 0.115926;
    }
}

void ser_wave_mix_snr(float *x, const float *z, size_t n, double snr_db) {
    double px = 0, pz = 0;
    for (size_t i = 0; i < n; i++) px += (double)x[i] * x[i], pz += (double)z[i] * z[i];
    if (px <= 0 || pz <= 0) return;
    const double a = sqrt(px / (pz * pow(10.0, snr_db / 10.0)));
    for (size_t i = 0; i < n; i++) x[i] = (float)(x[i] + a * z[i]);
}

/* ---- noise folder ---- */

typedef struct strvec {
    char **v;
    size_t n, cap;
} strvec;

static int push(strvec *s, const char *p, ser_error *err) {
    if (s->n == s->cap) {
        const size_t nc = s->cap ? 2 * s->cap : 64;
        char **v = realloc(s->v, nc * sizeof *v);
        if (!v) return ser_fail(err, "noise folder: out of memory");
        s->v = v, s->cap = nc;
    }
    if (!(s->v[s->n] = strdup(p))) return ser_fail(err, "noise folder: out of memory");
    s->n++;
    return 0;
}

static int walk(const char *dir, strvec *out, int depth, ser_error *err) {
    if (depth > 64) return ser_fail(err, "%s: noise folder nested too deep (a link loop?)", dir);
    DIR *d = opendir(dir);
    if (!d) return ser_fail(err, "%s: cannot read the noise folder: %s", dir, strerror(errno));
    int rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        const size_t l = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(l);
        if (!p) {
            rc = ser_fail(err, "noise folder: out of memory");
            break;
        }
        snprintf(p, l, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0) rc = ser_fail(err, "%s: %s", p, strerror(errno));
        else if (S_ISDIR(st.st_mode)) rc = walk(p, out, depth + 1, err);
        else if (S_ISREG(st.st_mode) && strlen(e->d_name) > 4 && !strcasecmp(e->d_name + strlen(e->d_name) - 4, ".wav"))
            rc = push(out, p, err);
        free(p);
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void ser_noise_list_free(char **paths, size_t n) {
    for (size_t i = 0; paths && i < n; i++) free(paths[i]);
    free(paths);
}

int ser_noise_list(const char *dir, char ***paths, size_t *n, ser_error *err) {
    strvec s = {0};
    *paths = NULL, *n = 0;
    if (walk(dir, &s, 0, err) != 0) {
        ser_noise_list_free(s.v, s.n);
        return -1;
    }
    if (!s.n) {
        free(s.v);
        return ser_fail(err, "%s: noise folder holds no .wav files", dir);
    }
    qsort(s.v, s.n, sizeof *s.v, cmp_str);
    *paths = s.v, *n = s.n;
    return 0;
}

/* ---- the per-epoch features ---- */

typedef struct worker {
    ser_mfcc *mfcc;
    ser_audio_buf buf;     /* decoding (and its resampler) */
    float *a, *b;          /* clip-sized scratch */
    size_t cap_a, cap_b;
    float *feat;           /* (F) the clip's features, on their way to the spill */
    double *sums;          /* the spill's per-clip scratch */
    void *soxr[2];         /* speed perturbation states for the factors soxr_f (below 1, above 1) */
    double soxr_f[2];
} worker;

typedef struct noise_file {
    int16_t *q;            /* samples at the target rate / scale */
    size_t n;
    float scale;
} noise_file;

struct ser_wave_aug {
    ser_config cfg;
    const ser_clips *clips;
    int threads, wave;
    worker *wk;            /* one per thread */
    /* the clip cache: float samples, bit for bit a fresh decode; cache[i] NULL: decode */
    float **cache;
    size_t *cache_len;
    atomic_size_t cached;  /* bytes held */
    size_t budget;
    noise_file *noise;
    size_t n_noise;
    /* aug_vtlp_speakers: this epoch's virtual speakers, as clips whose speaker is "name#v" */
    ser_clip *vclips;
    char **vnames;
    uint32_t *vgroup;
    /* the epoch's features: spill[cur] is read by the epoch that trains, spill[!cur] is
     * written by the prefetch thread meanwhile; each opened at its first use */
    char *spill_dir;       /* NULL: in memory */
    ser_epoch_spill spill[2];
    int spill_open[2], cur;
    int ready;             /* spill[cur] holds the epoch of the last successful begin */
    /* prefetch */
    int prefetch, pending, next_epoch, next_rc;
    uint64_t next_seed;
    ser_scaler next_scaler;
    ser_error next_err;
    pthread_t thread;
    atomic_int cancel;
    int blas_saved;        /* OpenBLAS's thread count before create (prefetch: 1 meanwhile) */
};

static int grow(float **p, size_t *cap, size_t n, ser_error *err) {
    if (n <= *cap) return 0;
    float *q = realloc(*p, n * sizeof *q);
    if (!q) return ser_fail(err, "wave augmentation: out of memory for %zu samples", n);
    *p = q, *cap = n;
    return 0;
}

size_t ser_wave_aug_cached_bytes(const ser_wave_aug *w) { return atomic_load(&((ser_wave_aug *)w)->cached); }

static void join_pending(ser_wave_aug *w) {
    if (!w->pending) return;
    pthread_join(w->thread, NULL);
    w->pending = 0;
}

void ser_wave_aug_free(ser_wave_aug *w) {
    if (!w) return;
    atomic_store(&w->cancel, 1);
    join_pending(w);
    if (w->blas_saved > 0) openblas_set_num_threads(w->blas_saved);
    for (int t = 0; w->wk && t < w->threads; t++) {
        ser_mfcc_free(w->wk[t].mfcc);
        ser_audio_buf_free(&w->wk[t].buf);
        free(w->wk[t].a), free(w->wk[t].b), free(w->wk[t].feat), free(w->wk[t].sums);
        ser_wave_speed_free(&w->wk[t].soxr[0]), ser_wave_speed_free(&w->wk[t].soxr[1]);
    }
    for (size_t i = 0; w->cache && i < w->clips->n; i++) free(w->cache[i]);
    for (size_t i = 0; w->noise && i < w->n_noise; i++) free(w->noise[i].q);
    for (size_t i = 0; w->vnames && i < w->clips->n; i++) free(w->vnames[i]);
    free(w->vnames), free(w->vclips), free(w->vgroup);
    ser_epoch_spill_close(&w->spill[0]), ser_epoch_spill_close(&w->spill[1]);
    free(w->spill_dir), free(w->noise), free(w->cache), free(w->cache_len), free(w->wk), free(w);
}

static int load_noise(ser_wave_aug *w, const char *const *paths, size_t n, ser_error *err) {
    w->noise = ser_calloc(n, sizeof *w->noise, "noise files", err);
    if (!w->noise) return -1;
    w->n_noise = n;
    ser_audio_config ac = w->cfg.audio;
    ac.offset = 0, ac.duration = 0; /* the whole file */
    ser_audio_buf buf = {0};
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (ser_audio_load(paths[i], &ac, &buf, err) != 0) {
            rc = ser_fail_wrap(err, "noise file");
            break;
        }
        float peak = 0;
        for (size_t j = 0; j < buf.n; j++) peak = fmaxf(peak, fabsf(buf.samples[j]));
        if (peak == 0) {
            rc = ser_fail(err, "%s: noise file is silent (every sample is 0)", paths[i]);
            break;
        }
        noise_file *f = &w->noise[i];
        f->scale = peak / 32767.0f;
        f->n = buf.n;
        if (!(f->q = ser_malloc(buf.n * sizeof *f->q, "noise samples", err))) rc = -1;
        for (size_t j = 0; f->q && j < buf.n; j++) f->q[j] = (int16_t)lrintf(buf.samples[j] / f->scale);
    }
    ser_audio_buf_free(&buf);
    return rc;
}

ser_wave_aug *ser_wave_aug_create(const ser_config *cfg, const ser_clips *clips, const char *const *noise,
                                  size_t n_noise, int threads, int prefetch, ser_error *err) {
    const size_t n = clips->n;
    if (n == 0) {
        ser_fail(err, "wave augmentation: no training clips");
        return NULL;
    }
    if (cfg->train.aug_noise_kind == SER_NOISE_FOLDER && cfg->train.aug_noise_prob > 0 && n_noise == 0) {
        ser_fail(err, "train.aug_noise_kind = folder needs noise files (ser train --noise-dir DIR)");
        return NULL;
    }
    if (cfg->train.aug_noise_snr_min > cfg->train.aug_noise_snr_max) {
        ser_fail(err, "train.aug_noise_snr_min (%g) must not exceed train.aug_noise_snr_max (%g)",
                 cfg->train.aug_noise_snr_min, cfg->train.aug_noise_snr_max);
        return NULL;
    }
    ser_wave_aug *w = ser_calloc(1, sizeof *w, "wave augmentation", err);
    if (!w) return NULL;
    w->cfg = *cfg;
    w->clips = clips;
    w->threads = threads > 0 ? threads : omp_get_max_threads();
    w->wave = ser_wave_aug_changes_audio(&cfg->train);
    w->prefetch = prefetch;
    if (prefetch) {
        /* OpenBLAS's thread count is process-wide, and a threaded sgemm may round differently from
         * a single-threaded one: with the per-clip DCT running on the background thread, it stays
         * 1 while w lives (the CLI runs OpenBLAS so anyway: host/cli/main.c) */
        w->blas_saved = openblas_get_num_threads();
        openblas_set_num_threads(1);
    }
    w->budget = (size_t)cfg->train.audio_cache_mb << 20;
    atomic_init(&w->cached, 0);
    atomic_init(&w->cancel, 0);
    w->wk = ser_calloc((size_t)w->threads, sizeof *w->wk, "wave augmentation threads", err);
    w->cache = ser_calloc(n, sizeof *w->cache, "audio cache", err);
    w->cache_len = ser_calloc(n, sizeof *w->cache_len, "audio cache", err);
    if (!w->wk || !w->cache || !w->cache_len) goto fail;
    for (int t = 0; t < w->threads; t++) {
        worker *k = &w->wk[t];
        if (!(k->mfcc = ser_mfcc_create(cfg, err))) goto fail;
        const size_t F = ser_mfcc_out_size(k->mfcc);
        k->feat = ser_malloc(F * sizeof *k->feat, "wave augmentation features", err);
        /* (2 H + 1) sums: ser_epoch_spill_put_scratch */
        k->sums = ser_malloc((2 * (size_t)cfg->features.n_mfcc + 1) * sizeof *k->sums, "wave augmentation sums", err);
        if (!k->feat || !k->sums) goto fail;
    }
    if (cfg->train.aug_vtlp_speakers > 0) {
        w->vclips = ser_malloc(n * sizeof *w->vclips, "vtlp virtual speakers", err);
        w->vnames = ser_calloc(n, sizeof *w->vnames, "vtlp virtual speakers", err);
        w->vgroup = ser_malloc(n * sizeof *w->vgroup, "vtlp virtual speakers", err);
        if (!w->vclips || !w->vnames || !w->vgroup) goto fail;
        for (size_t i = 0; i < n; i++) {
            w->vclips[i] = clips->v[i];
            const size_t len = strlen(clips->v[i].speaker) + 16;
            if (!(w->vnames[i] = ser_malloc(len, "vtlp virtual speaker", err))) goto fail;
            w->vclips[i].speaker = w->vnames[i];
        }
    }
    if (cfg->train.aug_noise_kind == SER_NOISE_FOLDER && n_noise && load_noise(w, noise, n_noise, err) != 0) goto fail;
    return w;
fail:
    ser_wave_aug_free(w);
    return NULL;
}

/* Clip i's decoded samples: from the cache, or decoded (and kept while the budget allows). */
static int clip_samples(ser_wave_aug *w, worker *k, size_t i, const float **x, size_t *nx, ser_error *err) {
    if (w->cache[i]) {
        *x = w->cache[i], *nx = w->cache_len[i];
        return 0;
    }
    if (ser_audio_load(w->clips->v[i].path, &w->cfg.audio, &k->buf, err) != 0) return -1;
    *x = k->buf.samples, *nx = k->buf.n;
    const size_t bytes = k->buf.n * sizeof(float);
    size_t held = atomic_load(&w->cached);
    while (held + bytes <= w->budget && !atomic_compare_exchange_weak(&w->cached, &held, held + bytes)) {
    }
    if (held + bytes <= w->budget) {
        float *c = malloc(bytes ? bytes : 1);
        if (!c) { /* no cache then: the clip is decoded again next epoch */
            atomic_fetch_sub(&w->cached, bytes);
            return 0;
        }
        memcpy(c, k->buf.samples, bytes);
        w->cache[i] = c, w->cache_len[i] = k->buf.n;
    }
    return 0;
}

/* Clip i's augmented samples for this epoch into k->b (returns them and their count). */
static int clip_wave(ser_wave_aug *w, worker *k, size_t i, uint64_t seed, int epoch, const float *x, size_t nx,
                     const float **y, size_t *ny, ser_error *err) {
    const ser_train_config *tc = &w->cfg.train;
    ser_wave_draw d;
    ser_wave_draw_make(tc, w->cfg.audio.sample_rate, seed, epoch, (uint32_t)i, w->n_noise, &d);
    const size_t n = ser_wave_speed_len(nx, d.speed);
    if (grow(&k->a, &k->cap_a, n, err) || grow(&k->b, &k->cap_b, n, err)) return -1;
    const int slot = d.speed > 1.0;
    if (ser_wave_speed(x, nx, d.speed, k->a, &k->soxr[slot], &k->soxr_f[slot], err) != 0)
        return ser_fail_wrap(err, "%s", w->clips->v[i].path);
    float *o = k->b;
    const float g = (float)pow(10.0, d.gain_db / 20.0);
    for (size_t t = 0; t < n; t++) {
        const long s = (long)t + d.shift;
        o[t] = s >= 0 && (size_t)s < n ? k->a[s] * g : 0.0f;
    }
    if (d.noise) {
        float *z = k->a; /* free again */
        if (tc->aug_noise_kind == SER_NOISE_FOLDER) {
            const noise_file *f = &w->noise[d.noise_file];
            size_t p = (size_t)(d.noise_pos * (double)f->n);
            for (size_t t = 0; t < n; t++, p = p + 1 < f->n ? p + 1 : 0) z[t] = (float)f->q[p] * f->scale;
        } else {
            ser_wave_noise(tc->aug_noise_kind, seed, epoch, (uint32_t)i, z, n);
        }
        ser_wave_mix_snr(o, z, n, d.snr_db);
    }
    *y = o, *ny = n;
    return 0;
}

/* Every clip's unnormalised features of this epoch into sp, then sealed: the normalisation over
 * the epoch's set and the scaler. */
static int compute_epoch(ser_wave_aug *w, uint64_t seed, int epoch, const ser_scaler *scaler, ser_epoch_spill *sp,
                         ser_error *err) {
    const size_t n = w->clips->n;
    const double a = w->cfg.train.aug_vtlp, f_hi = w->cfg.train.aug_vtlp_fhi;
    const int K = w->cfg.train.aug_vtlp_speakers;
    /* virtual speakers: clip i joins group g of its speaker; group g's warp is the alpha keyed
     * by 0x80000000 + g (one per group and epoch, shared by the real speakers) */
    for (size_t i = 0; K > 0 && i < n; i++) {
        w->vgroup[i] = ser_vtlp_group(K, seed, epoch, (uint32_t)i);
        snprintf(w->vnames[i], strlen(w->clips->v[i].speaker) + 16, "%s#%u", w->clips->v[i].speaker, w->vgroup[i]);
    }
    atomic_int failed;
    atomic_init(&failed, 0);
    ser_error ferr = {{0}};
#pragma omp parallel num_threads(w->threads)
    {
        worker *k = &w->wk[omp_get_thread_num()];
        ser_error terr = {{0}};
#pragma omp for schedule(dynamic, 4)
        for (size_t i = 0; i < n; i++) {
            if (atomic_load(&failed) || atomic_load(&w->cancel)) continue;
            const uint32_t key = K > 0 ? 0x80000000u + w->vgroup[i] : (uint32_t)i;
            const float *s;
            size_t ns;
            int rc = clip_samples(w, k, i, &s, &ns, &terr);
            if (!rc && w->wave) rc = clip_wave(w, k, i, seed, epoch, s, ns, &s, &ns, &terr);
            if (!rc) {
                ser_mfcc_set_warp(k->mfcc, a > 0 ? ser_vtlp_alpha(a, seed, epoch, key) : 1.0, f_hi);
                rc = ser_mfcc_compute(k->mfcc, s, ns, k->feat, &terr);
            }
            if (!rc) rc = ser_epoch_spill_put(sp, i, k->feat, k->sums, &terr);
            if (rc) {
#pragma omp critical(ser_wave_aug_fail)
                {
                    if (!atomic_load(&failed)) ferr = terr;
                    atomic_store(&failed, 1);
                }
            }
        }
    }
    if (atomic_load(&failed)) {
        if (err) *err = ferr;
        return ser_fail_wrap(err, "augmented features, epoch %d", epoch + 1);
    }
    if (atomic_load(&w->cancel)) return ser_fail(err, "augmented features, epoch %d: cancelled", epoch + 1);
    if (ser_epoch_spill_seal(sp, K > 0 ? w->vclips : w->clips->v, scaler, err) != 0)
        return ser_fail_wrap(err, "augmented features, epoch %d", epoch + 1);
    return 0;
}

static void *prefetch_main(void *arg) {
    ser_wave_aug *w = arg;
    /* OpenBLAS runs single-threaded meanwhile (set in create) */
    w->next_rc = compute_epoch(w, w->next_seed, w->next_epoch, &w->next_scaler, &w->spill[!w->cur], &w->next_err);
    return NULL;
}

int ser_wave_aug_spill_to(ser_wave_aug *w, const char *dir, ser_error *err) {
    SER_ASSERT(!w->spill_open[0] && !w->spill_open[1]); /* before the first epoch */
    free(w->spill_dir);
    w->spill_dir = NULL;
    if (dir && !(w->spill_dir = strdup(dir))) return ser_fail(err, "spill folder %s: out of memory", dir);
    return 0;
}

/* spill[k], opened at its first use. */
static int spill_ready(ser_wave_aug *w, int k, ser_error *err) {
    if (w->spill_open[k]) return 0;
    if (ser_epoch_spill_open(&w->spill[k], w->spill_dir, w->clips->n, w->cfg.features.n_mfcc, w->cfg.features.frames,
                             w->cfg.features.normalize, err) != 0)
        return -1;
    SER_ASSERT(w->spill[k].F == ser_mfcc_out_size(w->wk[0].mfcc));
    SER_ASSERT(ser_epoch_spill_put_scratch(&w->spill[k]) == 2 * (size_t)w->cfg.features.n_mfcc + 1);
    w->spill_open[k] = 1;
    return 0;
}

int ser_wave_aug_begin(ser_wave_aug *w, uint64_t seed, int epoch, const ser_scaler *scaler, ser_error *err) {
    int have = 0;
    w->ready = 0;
    if (w->pending) {
        join_pending(w);
        if (w->next_epoch == epoch && w->next_seed == seed && !memcmp(&w->next_scaler, scaler, sizeof *scaler)) {
            if (w->next_rc != 0) {
                if (err) *err = w->next_err;
                return -1;
            }
            w->cur = !w->cur; /* the prefetched spill becomes the one read */
            have = 1;
        }
    }
    if (!have) {
        if (spill_ready(w, w->cur, err) != 0) return -1;
        /* the per-clip DCT sgemm runs inside our threads (no training runs meanwhile) */
        const int blas_threads = openblas_get_num_threads();
        openblas_set_num_threads(1);
        const int rc = compute_epoch(w, seed, epoch, scaler, &w->spill[w->cur], err);
        openblas_set_num_threads(blas_threads);
        if (rc) return -1;
    }
    w->ready = 1;
    if (w->prefetch && epoch + 1 < w->cfg.train.epochs) {
        if (spill_ready(w, !w->cur, err) != 0) return -1;
        /* without the thread, the next epoch is computed in its call (same bits) */
        w->next_epoch = epoch + 1, w->next_seed = seed, w->next_scaler = *scaler, w->next_rc = -1;
        w->pending = pthread_create(&w->thread, NULL, prefetch_main, w) == 0;
    }
    return 0;
}

int ser_wave_aug_fill(ser_wave_aug *w, const uint32_t *idx, int B, float *out, ser_error *err) {
    SER_ASSERT(w->ready); /* after a successful ser_wave_aug_begin */
    return ser_epoch_spill_fill(&w->spill[w->cur], idx, B, out, err);
}

int ser_wave_aug_epoch(ser_wave_aug *w, uint64_t seed, int epoch, const ser_scaler *scaler, float *x, ser_error *err) {
    const size_t n = w->clips->n, F = ser_mfcc_out_size(w->wk[0].mfcc);
    if (ser_wave_aug_begin(w, seed, epoch, scaler, err) != 0) return -1;
    uint32_t idx[256];
    for (size_t s = 0; s < n; s += 256) {
        const int B = (int)(n - s < 256 ? n - s : 256);
        for (int b = 0; b < B; b++) idx[b] = (uint32_t)(s + (size_t)b);
        if (ser_wave_aug_fill(w, idx, B, x + s * F, err) != 0) return -1;
    }
    return 0;
}
