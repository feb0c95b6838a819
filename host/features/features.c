/* Feature extraction over files: decode (ser_audio_load) -> the per-clip feature loop
 * (ser/feature_loop.h: MFCC + pitch rows), one clip per task, one audio buffer per thread. */
#include "ser/features.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "ser/audio.h"
#include "ser/feature_loop.h"

size_t ser_features_per_clip(const ser_config *cfg) {
    return (size_t)ser_config_rows(cfg) * (size_t)cfg->features.frames;
}

int ser_features_extract(const ser_config *cfg, char *const *paths, size_t n, int threads, float *out,
                         unsigned char *ok, char **why, ser_error *err) {
    return ser_features_extract_warped(cfg, paths, n, threads, 1.0, 0.0, out, ok, why, err);
}

typedef struct files_job {
    const ser_config *cfg;
    char *const *paths;
    double alpha, f_hi;
    ser_audio_buf *buf; /* [threads] */
    size_t per_clip;
    float *out;
    unsigned char *ok;
    char **why;
} files_job;

static int file_samples(void *ctx, int thread, size_t i, ser_clip_audio *a, ser_error *err) {
    files_job *j = ctx;
    ser_audio_buf *b = &j->buf[thread];
    if (ser_audio_load(j->paths[i], &j->cfg->audio, b, err) != 0) return -1;
    a->y = b->samples, a->n = b->n, a->warp = j->alpha, a->warp_fhi = j->f_hi;
    return 0;
}

static int file_store(void *ctx, int thread, size_t i, float *x, ser_error *err) {
    (void)thread, (void)err;
    files_job *j = ctx;
    memcpy(j->out + i * j->per_clip, x, j->per_clip * sizeof *x);
    j->ok[i] = 1;
    return 0;
}

/* A file that fails is not an error of the call: ok[i] stays 0, why[i] names the file. */
static int file_failed(void *ctx, size_t i, ser_error *err) {
    files_job *j = ctx;
    if (j->why) {
        if (!strstr(err->msg, j->paths[i])) ser_fail_wrap(err, "%s", j->paths[i]);
        j->why[i] = strdup(err->msg); /* NULL: the caller names the file alone (ser/features.h) */
    }
    return 0;
}

int ser_features_extract_warped(const ser_config *cfg, char *const *paths, size_t n, int threads, double alpha,
                                double f_hi, float *out, unsigned char *ok, char **why, ser_error *err) {
    memset(ok, 0, n);
    if (why) memset(why, 0, n * sizeof *why);
    if (threads <= 0) threads = omp_get_max_threads();
    if ((size_t)threads > n) threads = n ? (int)n : 1;
    /* the recipe is checked here, before any file is read */
    ser_feature_loop *loop = ser_feature_loop_create(cfg, threads, err);
    if (!loop) return -1;
    files_job job = {.cfg = cfg, .paths = paths, .alpha = alpha, .f_hi = f_hi, .out = out, .ok = ok, .why = why,
                     .per_clip = ser_feature_loop_per_clip(loop)};
    SER_ASSERT(job.per_clip == ser_features_per_clip(cfg));
    int rc = -1;
    if (!(job.buf = ser_calloc((size_t)threads, sizeof *job.buf, "audio buffers", err))) goto out;
    const ser_feature_loop_calls calls = {
        .samples = file_samples, .store = file_store, .failed = file_failed, .ctx = &job, .chunk = 4};
    rc = ser_feature_loop_run(loop, n, &calls, err);
out:
    for (int t = 0; job.buf && t < threads; t++) ser_audio_buf_free(&job.buf[t]);
    free(job.buf);
    ser_feature_loop_free(loop);
    return rc;
}
