/* Waveform augmentation and VTLP: the per-epoch engine (contract in ser/wave_augment.h; the
 * per-clip signal processing is wave_dsp.c, the features feature_loop.c).
 * Memory: the clip cache (train.audio_cache_mb; 3 s at 22.05 kHz is 265 KB a clip as float), the
 * noise files as int16, per thread two clip-sized scratch buffers and one clip's features; the
 * epoch's features in a spill (ser/epoch_spill.h: an unlinked file, or (n, F) in memory), two
 * with prefetch. */
#include "ser/wave_augment.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser/audio.h"
#include "ser/epoch_spill.h"
#include "ser/feature_loop.h"
#include "ser/grow.h"
#include "ser/vtlp_draw.h"

int ser_wave_aug_changes_audio(const ser_train_config *tc) {
    return tc->aug_speed > 0 || tc->aug_wave_shift > 0 || tc->aug_wave_gain > 0 ||
           (tc->aug_noise_kind != SER_NOISE_OFF && tc->aug_noise_prob > 0);
}

int ser_wave_aug_recomputes_features(const ser_train_config *tc) {
    return ser_wave_aug_changes_audio(tc) || tc->aug_vtlp > 0;
}

/* ---- the per-epoch features ---- */

typedef struct worker {
    ser_audio_buf buf;     /* decoding (and its resampler) */
    float *a, *b;          /* clip-sized scratch */
    size_t cap_a, cap_b;
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
    ser_feature_loop *loop; /* decode -> MFCC (+ pitch) per clip, its threads */
    worker *wk;            /* one per loop thread */
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
        ser_audio_buf_free(&w->wk[t].buf);
        free(w->wk[t].a), free(w->wk[t].b), free(w->wk[t].sums);
        ser_wave_speed_free(&w->wk[t].soxr[0]), ser_wave_speed_free(&w->wk[t].soxr[1]);
    }
    for (size_t i = 0; w->cache && i < w->clips->n; i++) free(w->cache[i]);
    for (size_t i = 0; w->noise && i < w->n_noise; i++) free(w->noise[i].q);
    for (size_t i = 0; w->vnames && i < w->clips->n; i++) free(w->vnames[i]);
    free(w->vnames), free(w->vclips), free(w->vgroup);
    ser_epoch_spill_close(&w->spill[0]), ser_epoch_spill_close(&w->spill[1]);
    ser_feature_loop_free(w->loop);
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
    if (!(w->loop = ser_feature_loop_create(cfg, w->threads, err))) goto fail;
    for (int t = 0; t < w->threads; t++) /* (2 rows + 1) sums: ser_epoch_spill_put_scratch */
        if (!(w->wk[t].sums = ser_malloc((2 * (size_t)ser_config_rows(cfg) + 1) * sizeof *w->wk[t].sums,
                                         "wave augmentation sums", err)))
            goto fail;
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
    if (ser_grow((void **)&k->a, &k->cap_a, n, sizeof *k->a, "augmented clip", err) ||
        ser_grow((void **)&k->b, &k->cap_b, n, sizeof *k->b, "augmented clip", err))
        return -1;
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

/* One epoch's run of the feature loop: what its callbacks need. */
typedef struct epoch_run {
    ser_wave_aug *w;
    uint64_t seed;
    int epoch;
    ser_epoch_spill *sp;
} epoch_run;

/* Clip i's samples for the loop: decoded (or cached), changed by this epoch's draws, and its
 * VTLP warp (one per virtual-speaker group with aug_vtlp_speakers, keyed 0x80000000 + group). */
static int epoch_samples(void *ctx, int thread, size_t i, ser_clip_audio *out, ser_error *err) {
    const epoch_run *r = ctx;
    ser_wave_aug *w = r->w;
    if (atomic_load(&w->cancel)) return ser_fail(err, "cancelled");
    worker *k = &w->wk[thread];
    const float *s;
    size_t ns;
    if (clip_samples(w, k, i, &s, &ns, err) != 0) return -1;
    if (w->wave && clip_wave(w, k, i, r->seed, r->epoch, s, ns, &s, &ns, err) != 0) return -1;
    out->y = s, out->n = ns;
    const ser_train_config *tc = &w->cfg.train;
    if (tc->aug_vtlp > 0) {
        const uint32_t key = tc->aug_vtlp_speakers > 0 ? 0x80000000u + w->vgroup[i] : (uint32_t)i;
        out->warp = ser_vtlp_alpha(tc->aug_vtlp, r->seed, r->epoch, key), out->warp_fhi = tc->aug_vtlp_fhi;
    }
    return 0;
}

static int epoch_store(void *ctx, int thread, size_t i, float *x, ser_error *err) {
    const epoch_run *r = ctx;
    return ser_epoch_spill_put(r->sp, i, x, r->w->wk[thread].sums, err);
}

/* Every clip's unnormalised features of this epoch into sp, then sealed: the normalisation over
 * the epoch's set and the scaler. */
static int compute_epoch(ser_wave_aug *w, uint64_t seed, int epoch, const ser_scaler *scaler, ser_epoch_spill *sp,
                         ser_error *err) {
    const size_t n = w->clips->n;
    const int K = w->cfg.train.aug_vtlp_speakers;
    /* virtual speakers: clip i joins group g of its speaker; group g's warp is shared by the real
     * speakers (epoch_samples) */
    for (size_t i = 0; K > 0 && i < n; i++) {
        w->vgroup[i] = ser_vtlp_group(K, seed, epoch, (uint32_t)i);
        snprintf(w->vnames[i], strlen(w->clips->v[i].speaker) + 16, "%s#%u", w->clips->v[i].speaker, w->vgroup[i]);
    }
    epoch_run r = {w, seed, epoch, sp};
    const ser_feature_loop_calls calls = {epoch_samples, epoch_store, NULL, &r, 4};
    if (ser_feature_loop_run(w->loop, n, &calls, err) != 0)
        return ser_fail_wrap(err, "augmented features, epoch %d", epoch + 1);
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
    const int rows = ser_config_rows(&w->cfg);
    if (ser_epoch_spill_open(&w->spill[k], w->spill_dir, w->clips->n, rows, w->cfg.features.frames,
                             w->cfg.features.normalize, err) != 0)
        return -1;
    SER_ASSERT(w->spill[k].F == ser_feature_loop_per_clip(w->loop));
    SER_ASSERT(ser_epoch_spill_put_scratch(&w->spill[k]) == 2 * (size_t)rows + 1);
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
        /* (the feature loop pins OpenBLAS to one thread while it runs) */
        if (spill_ready(w, w->cur, err) != 0 || compute_epoch(w, seed, epoch, scaler, &w->spill[w->cur], err) != 0)
            return -1;
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
    const size_t n = w->clips->n, F = ser_feature_loop_per_clip(w->loop);
    if (ser_wave_aug_begin(w, seed, epoch, scaler, err) != 0) return -1;
    uint32_t idx[256];
    for (size_t s = 0; s < n; s += 256) {
        const int B = (int)(n - s < 256 ? n - s : 256);
        for (int b = 0; b < B; b++) idx[b] = (uint32_t)(s + (size_t)b);
        if (ser_wave_aug_fill(w, idx, B, x + s * F, err) != 0) return -1;
    }
    return 0;
}
