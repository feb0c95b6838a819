/* VTLP: per-epoch warped training features (contract in ser/vtlp.h). Memory: the decoded audio
 * of the training set (3 s at 22.05 kHz: 265 KB a clip, ~260 MB for TESS's 979 OAF clips). */
#include "ser/vtlp.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ser/audio.h"
#include "ser/mfcc.h"
#include "ser/normalize.h"
#include "ser/philox.h"

struct ser_vtlp {
    ser_config cfg;
    const ser_clips *clips;
    float *samples;      /* every clip's samples, back to back */
    size_t *off, *len;   /* (n) where clip i starts in samples, and its length */
    int threads;
    ser_mfcc **mfcc;     /* one per thread */
    /* aug_vtlp_speakers: this epoch's virtual speakers, as clips whose speaker is "name#v" */
    ser_clip *vclips;
    char **vnames;
    uint32_t *vgroup;    /* (n) each clip's virtual speaker index this epoch */
};

void ser_vtlp_free(ser_vtlp *v) {
    if (!v) return;
    for (int t = 0; v->mfcc && t < v->threads; t++) ser_mfcc_free(v->mfcc[t]);
    for (size_t i = 0; v->vnames && i < v->clips->n; i++) free(v->vnames[i]);
    free(v->vnames), free(v->vclips), free(v->vgroup);
    free(v->mfcc), free(v->samples), free(v->off), free(v->len), free(v);
}

ser_vtlp *ser_vtlp_create(const ser_config *cfg, const ser_clips *clips, int threads, ser_error *err) {
    const size_t n = clips->n;
    if (n == 0) {
        ser_fail(err, "vtlp: no training clips");
        return NULL;
    }
    ser_vtlp *v = ser_calloc(1, sizeof *v, "vtlp", err);
    if (!v) return NULL;
    v->cfg = *cfg;
    v->clips = clips;
    v->threads = threads > 0 ? threads : omp_get_max_threads();
    v->off = ser_malloc(n * sizeof *v->off, "vtlp offsets", err);
    v->len = ser_malloc(n * sizeof *v->len, "vtlp lengths", err);
    v->mfcc = ser_calloc((size_t)v->threads, sizeof *v->mfcc, "vtlp mfcc states", err);
    if (!v->off || !v->len || !v->mfcc) goto fail;
    for (int t = 0; t < v->threads; t++)
        if (!(v->mfcc[t] = ser_mfcc_create(cfg, err))) goto fail;
    if (cfg->train.aug_vtlp_speakers > 0) {
        v->vclips = ser_malloc(n * sizeof *v->vclips, "vtlp virtual speakers", err);
        v->vnames = ser_calloc(n, sizeof *v->vnames, "vtlp virtual speakers", err);
        v->vgroup = ser_malloc(n * sizeof *v->vgroup, "vtlp virtual speakers", err);
        if (!v->vclips || !v->vnames || !v->vgroup) goto fail;
        for (size_t i = 0; i < n; i++) {
            v->vclips[i] = clips->v[i];
            const size_t len = strlen(clips->v[i].speaker) + 16;
            if (!(v->vnames[i] = ser_malloc(len, "vtlp virtual speaker", err))) goto fail;
            v->vclips[i].speaker = v->vnames[i];
        }
    }
    /* decode serially into one growing buffer (once per run; the features pass already
     * decoded these clips in parallel, so a clip that fails here is an I/O change) */
    ser_audio_buf buf = {0};
    size_t used = 0, cap = 0;
    for (size_t i = 0; i < n; i++) {
        if (ser_audio_load(clips->v[i].path, &cfg->audio, &buf, err) != 0) {
            ser_audio_buf_free(&buf);
            ser_fail_wrap(err, "vtlp: %s", clips->v[i].path);
            goto fail;
        }
        if (used + buf.n > cap) {
            size_t nc = cap ? cap : (size_t)1 << 20;
            while (nc < used + buf.n) nc *= 2;
            float *p = realloc(v->samples, nc * sizeof *p);
            if (!p) {
                ser_audio_buf_free(&buf);
                ser_fail(err, "vtlp: out of memory for %zu samples", nc);
                goto fail;
            }
            v->samples = p, cap = nc;
        }
        memcpy(v->samples + used, buf.samples, buf.n * sizeof *buf.samples);
        v->off[i] = used, v->len[i] = buf.n;
        used += buf.n;
    }
    ser_audio_buf_free(&buf);
    return v;
fail:
    ser_vtlp_free(v);
    return NULL;
}

double ser_vtlp_alpha(double a, uint64_t seed, int epoch, uint32_t clip) {
    philox4x32_key k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr c = {{clip, (uint32_t)epoch, 0x7f1u, 0}};
    const double u = ((double)philox4x32_10(c, k).v[0] + 0.5) * 0x1p-32;
    return 1.0 + a * (2.0 * u - 1.0);
}

uint32_t ser_vtlp_group(int groups, uint64_t seed, int epoch, uint32_t clip) {
    philox4x32_key k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr c = {{clip, (uint32_t)epoch, 0x7f2u, 0}};
    return (uint32_t)(((uint64_t)philox4x32_10(c, k).v[0] * (uint64_t)groups) >> 32);
}

int ser_vtlp_epoch(ser_vtlp *v, uint64_t seed, int epoch, const ser_scaler *scaler, float *x, ser_error *err) {
    const size_t n = v->clips->n, F = ser_mfcc_out_size(v->mfcc[0]);
    const double a = v->cfg.train.aug_vtlp, f_hi = v->cfg.train.aug_vtlp_fhi;
    const int K = v->cfg.train.aug_vtlp_speakers;
    /* virtual speakers: clip i joins group g of its speaker; group g's warp is the alpha keyed
     * by 0x80000000 + g (one per group and epoch, shared by the real speakers) */
    for (size_t i = 0; K > 0 && i < n; i++) {
        v->vgroup[i] = ser_vtlp_group(K, seed, epoch, (uint32_t)i);
        snprintf(v->vnames[i], strlen(v->clips->v[i].speaker) + 16, "%s#%u", v->clips->v[i].speaker, v->vgroup[i]);
    }
    int failed = 0;
    ser_error ferr = {{0}};
    const int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1); /* the per-clip DCT sgemm runs inside our threads */
#pragma omp parallel num_threads(v->threads)
    {
        ser_mfcc *m = v->mfcc[omp_get_thread_num()];
        ser_error terr = {{0}};
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) {
            const uint32_t key = K > 0 ? 0x80000000u + v->vgroup[i] : (uint32_t)i;
            ser_mfcc_set_warp(m, ser_vtlp_alpha(a, seed, epoch, key), f_hi);
            if (ser_mfcc_compute(m, v->samples + v->off[i], v->len[i], x + i * F, &terr) != 0) {
#pragma omp critical(ser_vtlp_fail)
                {
                    failed = 1;
                    ferr = terr;
                }
            }
        }
    }
    openblas_set_num_threads(blas_threads);
    if (failed) {
        if (err) *err = ferr;
        return ser_fail_wrap(err, "vtlp: epoch %d", epoch + 1);
    }
    if (ser_normalize(v->cfg.features.normalize, x, n, K > 0 ? v->vclips : v->clips->v, v->cfg.features.n_mfcc,
                      v->cfg.features.frames, err) != 0)
        return -1;
    ser_scaler_apply(scaler, x, n * F);
    return 0;
}
