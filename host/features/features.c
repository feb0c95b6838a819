/* Parallel feature extraction: files -> librosa.load -> MFCC (+ pitch rows), one clip per task. */
#include "ser/features.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "ser/audio.h"
#include "ser/mfcc.h"
#include "ser/pitch.h"

size_t ser_features_per_clip(const ser_config *cfg) {
    return (size_t)ser_config_rows(cfg) * (size_t)cfg->features.frames;
}

int ser_features_extract(const ser_config *cfg, char *const *paths, size_t n, int threads, float *out,
                         unsigned char *ok, char **why, ser_error *err) {
    return ser_features_extract_warped(cfg, paths, n, threads, 1.0, 0.0, out, ok, why, err);
}

int ser_features_extract_warped(const ser_config *cfg, char *const *paths, size_t n, int threads, double alpha,
                                double f_hi, float *out, unsigned char *ok, char **why, ser_error *err) {
    /* Probe the recipe once on this thread so that a bad one fails before any work. */
    ser_mfcc *probe = ser_mfcc_create(cfg, err);
    if (!probe) return -1;
    const size_t mfcc_size = ser_mfcc_out_size(probe), per_clip = ser_features_per_clip(cfg);
    ser_mfcc_free(probe);
    SER_ASSERT(mfcc_size + (size_t)cfg->features.f0_rows * cfg->features.frames == per_clip);
    memset(ok, 0, n);
    if (why) memset(why, 0, n * sizeof *why);
    if (n == 0) return 0;

    if (threads <= 0) threads = omp_get_max_threads();
    if ((size_t)threads > n) threads = (int)n;
    /* Parallel over clips; the small DCT sgemm inside each clip must not start BLAS threads
     * of its own (OpenMP's and OpenBLAS's idle threads both spin and fight for the cores). */
    const int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    int setup_failed = 0;
    ser_error setup_err = {{0}};
#pragma omp parallel num_threads(threads)
    {
        ser_error terr = {{0}};
        ser_audio_buf buf = {0};
        ser_mfcc *m = ser_mfcc_create(cfg, &terr);
        if (m && alpha != 1.0) ser_mfcc_set_warp(m, alpha, f_hi);
        ser_pitch *p = NULL;
        if (m && cfg->features.f0_rows > 0 && !(p = ser_pitch_create(cfg, &terr))) {
            ser_mfcc_free(m);
            m = NULL;
        }
        if (!m) {
#pragma omp critical(ser_features_setup)
            {
                setup_failed = 1;
                setup_err = terr;
            }
        }
#pragma omp for schedule(dynamic, 4)
        for (size_t i = 0; i < n; i++) {
            if (!m) continue;
            if (ser_audio_load(paths[i], &cfg->audio, &buf, &terr) == 0 &&
                ser_mfcc_compute(m, buf.samples, buf.n, out + i * per_clip, &terr) == 0 &&
                (!p || ser_pitch_compute(p, buf.samples, buf.n, out + i * per_clip + mfcc_size, NULL, &terr) >= 0)) {
                ok[i] = 1;
            } else if (why) {
                if (!strstr(terr.msg, paths[i])) ser_fail_wrap(&terr, "%s", paths[i]);
                why[i] = strdup(terr.msg); /* NULL: the caller names the file alone (ser/features.h) */
            }
        }
        ser_audio_buf_free(&buf);
        ser_mfcc_free(m);
        ser_pitch_free(p);
    }
    openblas_set_num_threads(blas_threads);
    if (setup_failed) {
        if (err) *err = setup_err;
        return ser_fail_wrap(err, "feature worker setup");
    }
    return 0;
}
