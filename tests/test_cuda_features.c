/* The GPU MFCC (kernels/features_gpu.h) and the GPU feature pipeline (ser/cuda.h) against the
 * CPU path (ser_mfcc_compute, ser_features_extract), which test_mfcc holds to librosa.
 *
 *   synthetic clips made here (tones, chirps, noise, silence, bursts; lengths from 1 sample,
 *     under one hop, to past `frames`), three recipes (the reference, test_mfcc's ALT, a
 *     speech-style non-power-of-two FFT): relative L2 per clip <= 1e-5, the padding columns
 *     exactly zero, a second identical call bit-identical, a smaller batch in another order,
 *     and the bad-argument errors;
 *   with ../shared/data: the pipeline on real files (several batches, a broken and a missing
 *     file, the long-clip CPU path) against ser_features_extract: same ok flags, a reason for
 *     each failure, relative L2 <= 1e-5.
 *
 * Exits 77 (SKIPPED, with the reason; a failure under SER_REQUIRE_CUDA=1) without a CUDA device.
 *
 * Benchmark mode (bench/gpu_features.sh): test_cuda_features --bench DIR [BATCH] decodes every
 * audio file under DIR once, then times the MFCC alone on the pre-decoded audio: the CPU
 * (ser_mfcc_compute on every thread) and the GPU (ser_gpu_mfcc_compute, audio resident on the
 * device; and with the host->device and device->host copies of each batch), checks every clip
 * (relative L2 <= 1e-5) and prints clips/s and a JSON line. */
#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cuda_check.h"
#include "cuda_test.h"
#include "test_util.h"
#include "features_gpu.h"
#include "features_pipeline.h"
#include "ser/audio.h"
#include "ser/clock.h"
#include "ser/config.h"
#include "ser/cuda.h"
#include "ser/features.h"
#include "ser/mfcc.h"
#include "ser/rng.h"

static const double TOL = 1e-5;

/* ---- synthetic clips ------------------------------------------------------------------------ */

enum { NCLIPS = 10 };

/* Clip c of the set at rate sr: its length and samples (y has room for max_len). */
static size_t make_clip(int c, double sr, float *y) {
    static const double SECONDS[NCLIPS] = {1.0, 0, 0, 3.0, 0, 1.4, 1.1, 0, 2.05, 0.9};
    /* Lengths in samples where the point is the count: under one hop, exactly one hop at the
     * reference's 512, one sample; past `frames` (80000 > 129 * 512 at 22050 Hz). */
    static const size_t SAMPLES[NCLIPS] = {0, 100, 512, 0, 80000, 0, 0, 1, 0, 0};
    const size_t n = SAMPLES[c] ? SAMPLES[c] : (size_t)(SECONDS[c] * sr);
    ser_rng rng = {0x5eedull + (uint64_t)c};
    const double pi = 3.14159265358979323846;
    for (size_t i = 0; i < n; i++) {
        const double t = i / sr, noise = 2.0 * ser_rng_uniform(&rng) - 1.0;
        double v = 0;
        switch (c) {
        case 0: v = 0.5 * sin(2 * pi * 440 * t); break;                                 /* a tone */
        case 1: v = 0.3 * noise; break;                                                  /* < 1 hop */
        case 2: v = 0.4 * sin(2 * pi * (200 + 3000 * t) * t); break;                     /* 1 hop */
        case 3: v = 0.6 * sin(2 * pi * (100 + 1500 * t) * t) + 0.01 * noise; break;      /* chirp, 130 frames */
        case 4: v = 0.2 * sin(2 * pi * 1234.5 * t) + 0.05 * noise; break;               /* 157 frames */
        case 5: v = 0; break;                                                            /* silence */
        case 6: v = t < 0.1 ? 0.9 * sin(2 * pi * 880 * t) : 1e-6 * noise; break;         /* burst, floor */
        case 7: v = 0.25; break;                                                         /* 1 sample */
        case 8: {                                                                        /* voiced, vibrato */
            const double f0 = 150 + 10 * sin(2 * pi * 5 * t);
            for (int h = 1; h <= 12; h++) v += 0.3 / h * sin(2 * pi * h * f0 * t);
            v *= 0.5 + 0.5 * sin(2 * pi * 2 * t);
            break;
        }
        default: v = 1e-4 * noise; break;                                                /* faint noise */
        }
        y[i] = (float)v;
    }
    return n;
}

/* GPU MFCC of the batch audio_h [nclips, max_len] (lengths len) into out_h [nclips, per_clip]. */
static int gpu_mfcc(ser_gpu_mfcc *g, cudaStream_t s, float *audio_d, float *out_d, const float *audio_h,
                    const size_t *len, int nclips, size_t max_len, float *out_h, size_t per_clip, ser_error *err) {
    SER_CU(cudaMemcpyAsync(audio_d, audio_h, sizeof(float) * nclips * max_len, cudaMemcpyHostToDevice, s));
    if (ser_gpu_mfcc_compute(g, audio_d, len, nclips, out_d, err) != 0) return -1;
    SER_CU(cudaMemcpyAsync(out_h, out_d, sizeof(float) * nclips * per_clip, cudaMemcpyDeviceToHost, s));
    SER_CU(cudaStreamSynchronize(s));
    return 0;
}

static int device_buffers(float **audio_d, size_t audio_n, float **out_d, size_t out_n, cudaStream_t *s,
                          ser_error *err) {
    SER_CU(cudaStreamCreateWithFlags(s, cudaStreamNonBlocking));
    SER_CU(cudaMalloc((void **)audio_d, sizeof(float) * audio_n));
    SER_CU(cudaMalloc((void **)out_d, sizeof(float) * out_n));
    return 0;
}

/* Every synthetic clip at cfg's rate through the GPU and the CPU. */
static void test_synthetic(const char *name, const ser_config *cfg) {
    const double sr = cfg->audio.sample_rate;
    const size_t max_len = (size_t)(3.7 * sr) > 80000 ? (size_t)(3.7 * sr) : 80000;
    const size_t per_clip = ser_features_per_clip(cfg);
    const int frames = cfg->features.frames, n_mfcc = cfg->features.n_mfcc;
    float *audio = calloc((size_t)NCLIPS * max_len, sizeof *audio);
    float *gpu = calloc((size_t)NCLIPS * per_clip, sizeof *gpu), *gpu2 = calloc((size_t)NCLIPS * per_clip, sizeof *gpu2);
    float *cpu = calloc((size_t)NCLIPS * per_clip, sizeof *cpu);
    size_t len[NCLIPS];
    ser_error e = {{0}};
    ser_mfcc *m = ser_mfcc_create(cfg, &e);
    CHECKF(audio && gpu && gpu2 && cpu && m, "setup: %s", e.msg);
    if (!audio || !gpu || !gpu2 || !cpu || !m) goto out;
    for (int c = 0; c < NCLIPS; c++) {
        len[c] = make_clip(c, sr, audio + c * max_len);
        CHECKF(ser_mfcc_compute(m, audio + c * max_len, len[c], cpu + c * per_clip, &e) == 0, "cpu: %s", e.msg);
    }

    cudaStream_t s = 0;
    float *audio_d = NULL, *out_d = NULL;
    ser_gpu_mfcc *g = NULL;
    int ok = device_buffers(&audio_d, NCLIPS * max_len, &out_d, NCLIPS * per_clip, &s, &e) == 0;
    ok = ok && (g = ser_gpu_mfcc_create(cfg, NCLIPS, max_len, s, &e)) != NULL;
    ok = ok && gpu_mfcc(g, s, audio_d, out_d, audio, len, NCLIPS, max_len, gpu, per_clip, &e) == 0;
    CHECKF(ok, "%s: gpu: %s", name, e.msg);
    if (!ok) goto gpu_out;

    double worst = 0;
    for (int c = 0; c < NCLIPS; c++) {
        const float *a = gpu + c * per_clip, *r = cpu + c * per_clip;
        const double d = test_rel_l2(a, r, per_clip);
        worst = d > worst ? d : worst;
        CHECKF(d <= TOL, "%s clip %d (%zu samples): relative L2 %.3g", name, c, len[c], d);
        /* Frames past the clip's own are the reference's zero padding: exactly zero. */
        const size_t T = ser_mfcc_stft_frames(len[c], cfg->features.hop_length);
        size_t nonzero = 0;
        for (int k = 0; k < n_mfcc; k++)
            for (size_t t = T; t < (size_t)frames; t++) nonzero += a[(size_t)k * frames + t] != 0.0f;
        CHECKF(nonzero == 0, "%s clip %d: %zu padding values not zero", name, c, nonzero);
    }
    printf("%s: %d clips, GPU vs CPU relative L2 worst %.3g\n", name, NCLIPS, worst);

    /* The same call again: the same bits (fixed plans, fixed GEMM shapes, no atomics). */
    ok = gpu_mfcc(g, s, audio_d, out_d, audio, len, NCLIPS, max_len, gpu2, per_clip, &e) == 0;
    CHECKF(ok, "%s: second call: %s", name, e.msg);
    CHECKF(ok && !memcmp(gpu, gpu2, sizeof(float) * NCLIPS * per_clip), "%s: second call differs", name);

    /* A smaller batch in another order (the rows past it are stale from the full batch). */
    static const int ORDER[4] = {9, 3, 1, 4};
    float *sub = calloc(4 * max_len, sizeof *sub);
    size_t sub_len[4];
    CHECK(sub != NULL);
    if (sub) {
        for (int j = 0; j < 4; j++) {
            memcpy(sub + j * max_len, audio + ORDER[j] * max_len, sizeof(float) * max_len);
            sub_len[j] = len[ORDER[j]];
        }
        ok = gpu_mfcc(g, s, audio_d, out_d, sub, sub_len, 4, max_len, gpu2, per_clip, &e) == 0;
        CHECKF(ok, "%s: partial batch: %s", name, e.msg);
        for (int j = 0; ok && j < 4; j++) {
            const double d = test_rel_l2(gpu2 + j * per_clip, cpu + ORDER[j] * per_clip, per_clip);
            CHECKF(d <= TOL, "%s: partial batch slot %d (clip %d): relative L2 %.3g", name, j, ORDER[j], d);
        }
        free(sub);
    }

    /* Bad arguments are errors with a reason, not launches. */
    size_t bad[NCLIPS];
    memcpy(bad, len, sizeof bad);
    CHECK(ser_gpu_mfcc_compute(g, audio_d, len, NCLIPS + 1, out_d, &e) != 0 && strstr(e.msg, "clips"));
    CHECK(ser_gpu_mfcc_compute(g, audio_d, len, 0, out_d, &e) != 0);
    bad[2] = 0;
    CHECK(ser_gpu_mfcc_compute(g, audio_d, bad, NCLIPS, out_d, &e) != 0 && strstr(e.msg, "clip 2"));
    bad[2] = max_len + 1;
    CHECK(ser_gpu_mfcc_compute(g, audio_d, bad, NCLIPS, out_d, &e) != 0 && strstr(e.msg, "clip 2"));
    CHECKF(cudaStreamSynchronize(s) == cudaSuccess, "%s: stream after the bad calls", name);

gpu_out:
    ser_gpu_mfcc_free(g);
    cudaFree(audio_d);
    cudaFree(out_d);
    if (s) cudaStreamDestroy(s);
out:
    ser_mfcc_free(m);
    free(audio), free(gpu), free(gpu2), free(cpu);
}

static void test_create_errors(const ser_config *base) {
    ser_error e = {{0}};
    ser_config c = *base;
    c.features.n_mfcc = c.features.n_mels + 1;
    CHECK(ser_gpu_mfcc_create(&c, 4, 1000, 0, &e) == NULL && strstr(e.msg, "n_mfcc"));
    CHECK(ser_gpu_mfcc_create(base, 0, 1000, 0, &e) == NULL && strstr(e.msg, "out of range"));
    CHECK(ser_gpu_mfcc_create(base, 4, 0, 0, &e) == NULL && strstr(e.msg, "out of range"));
}

/* ---- real files: the pipeline against ser_features_extract ---------------------------------- */

static int has_audio_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".wav") || !strcasecmp(dot, ".aif") || !strcasecmp(dot, ".aiff") ||
                   !strcasecmp(dot, ".flac") || !strcasecmp(dot, ".ogg"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct path_list {
    char **v;
    size_t n, cap;
} path_list;

static void push(path_list *l, const char *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    l->v[l->n++] = strdup(s);
}

/* Audio files under dir, recursively, sorted by path; at most `per_dir` from each folder
 * (0: all). */
static void scan(const char *dir, size_t per_dir, path_list *l) {
    DIR *d = opendir(dir);
    if (!d) return;
    path_list here = {0}, sub = {0};
    struct dirent *ent;
    char p[4096];
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, ent->d_name);
        struct stat st;
        if (stat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) push(&sub, p);
        else if (S_ISREG(st.st_mode) && has_audio_ext(ent->d_name)) push(&here, p);
    }
    closedir(d);
    if (here.n) qsort(here.v, here.n, sizeof *here.v, cmp_str);
    if (sub.n) qsort(sub.v, sub.n, sizeof *sub.v, cmp_str);
    for (size_t i = 0; i < here.n; i++) {
        if (!per_dir || i < per_dir) push(l, here.v[i]);
        free(here.v[i]);
    }
    for (size_t i = 0; i < sub.n; i++) {
        scan(sub.v[i], per_dir, l);
        free(sub.v[i]);
    }
    free(here.v), free(sub.v);
}

static void free_list(path_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

/* One pipeline run against the CPU's features. */
static void compare_pipeline(const char *what, const ser_config *cfg, path_list *files, int batch, size_t max_samples,
                             const float *cpu, const unsigned char *cpu_ok) {
    const size_t n = files->n, per_clip = ser_features_per_clip(cfg);
    float *gpu = malloc(sizeof(float) * n * per_clip);
    unsigned char *ok = malloc(n);
    char **why = calloc(n, sizeof *why);
    ser_error e = {{0}};
    CHECK(gpu && ok && why);
    if (!gpu || !ok || !why) return;
    const int rc = batch < 0 ? ser_features_extract_cuda(cfg, files->v, n, 2, gpu, ok, why, &e)
                             : ser_features_extract_cuda_sized(cfg, files->v, n, 2, batch, max_samples, gpu, ok, why, &e);
    CHECKF(rc == 0, "%s: %s", what, e.msg);
    double worst = 0;
    size_t n_ok = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        CHECKF(ok[i] == cpu_ok[i], "%s: %s: ok %d on the GPU path, %d on the CPU", what, files->v[i], ok[i], cpu_ok[i]);
        if (!ok[i]) {
            CHECKF(why[i] && strstr(why[i], files->v[i]), "%s: no reason naming %s", what, files->v[i]);
            continue;
        }
        n_ok++;
        const double d = test_rel_l2(gpu + i * per_clip, cpu + i * per_clip, per_clip);
        worst = d > worst ? d : worst;
        CHECKF(d <= TOL, "%s: %s: relative L2 %.3g", what, files->v[i], d);
    }
    printf("%s: %zu files, %zu ok, relative L2 worst %.3g\n", what, n, n_ok, worst);
    for (size_t i = 0; i < n; i++) free(why[i]);
    free(gpu), free(ok), free(why);
}

static void test_pipeline(const char *data, const ser_config *cfg) {
    char dir[4096], broken[] = "/tmp/ser_cuda_features_XXXXXX"; /* decoded by content, not name */
    path_list files = {0};
    snprintf(dir, sizeof dir, "%s/tess", data);
    scan(dir, 2, &files); /* the first two of each folder: 28 clips */
    snprintf(dir, sizeof dir, "%s/tess/YAF_angry/YAF_germ_angry.wav", data); /* AIFF inside */
    push(&files, dir);
    snprintf(dir, sizeof dir, "%s/tess/OAF_fear/OAF_food_fear.wav", data); /* 96 kHz */
    push(&files, dir);
    snprintf(dir, sizeof dir, "%s/ravdess", data);
    scan(dir, 4, &files);
    const int fd = mkstemp(broken);
    if (fd >= 0) {
        const char junk[] = "not audio at all";
        CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
        close(fd);
        push(&files, broken);
    }
    push(&files, "/nonexistent/ser_cuda_features.wav");

    const size_t n = files.n, per_clip = ser_features_per_clip(cfg);
    float *cpu = malloc(sizeof(float) * n * per_clip);
    unsigned char *cpu_ok = malloc(n);
    ser_error e = {{0}};
    CHECK(cpu && cpu_ok);
    if (cpu && cpu_ok && ser_features_extract(cfg, files.v, n, 2, cpu, cpu_ok, NULL, &e) == 0) {
        size_t failed = 0;
        for (size_t i = 0; i < n; i++) failed += !cpu_ok[i];
        CHECKF(failed == (fd >= 0 ? 2u : 1u), "CPU path: %zu files failed", failed);
        compare_pipeline("pipeline (public call)", cfg, &files, -1, 0, cpu, cpu_ok);
        compare_pipeline("pipeline (batches of 5)", cfg, &files, 5, 0, cpu, cpu_ok);
        /* 2 s slots: the longer clips take the CPU path inside the pipeline. */
        compare_pipeline("pipeline (2 s slots)", cfg, &files, 4, (size_t)(2.0 * cfg->audio.sample_rate), cpu, cpu_ok);
    } else {
        CHECKF(0, "CPU features: %s", e.msg);
    }
    if (fd >= 0) unlink(broken);
    free(cpu), free(cpu_ok);
    free_list(&files);
}

/* ---- benchmark mode -------------------------------------------------------------------------- */

static int bench_gpu(ser_gpu_mfcc *g, cudaStream_t s, const float *audio_d, const size_t *len, size_t n, size_t ms,
                     int batch, float *out_d, size_t per_clip, int repeat, double *best, ser_error *err) {
    cudaEvent_t a, b;
    SER_CU(cudaEventCreate(&a));
    SER_CU(cudaEventCreate(&b));
    *best = 1e30;
    for (int r = 0; r < repeat; r++) {
        SER_CU(cudaEventRecord(a, s));
        for (size_t i = 0; i < n; i += (size_t)batch) {
            const int nc = n - i < (size_t)batch ? (int)(n - i) : batch;
            if (ser_gpu_mfcc_compute(g, audio_d + i * ms, len + i, nc, out_d + i * per_clip, err) != 0) return -1;
        }
        SER_CU(cudaEventRecord(b, s));
        SER_CU(cudaEventSynchronize(b));
        float ms_elapsed = 0;
        SER_CU(cudaEventElapsedTime(&ms_elapsed, a, b));
        if (ms_elapsed * 1e-3 < *best) *best = ms_elapsed * 1e-3;
    }
    SER_CU(cudaEventDestroy(a));
    SER_CU(cudaEventDestroy(b));
    return 0;
}

/* Per batch: pinned host -> device, compute, device -> pinned host, on one stream (no overlap:
 * the pipeline overlaps the copies; this is their cost). */
static int bench_gpu_copies(ser_gpu_mfcc *g, cudaStream_t s, const float *audio_h, const size_t *len, size_t n,
                            size_t ms, int batch, float *audio_d, float *out_d, float *out_h, size_t per_clip,
                            double *seconds, ser_error *err) {
    SER_CU(cudaStreamSynchronize(s));
    const double t0 = ser_now_s();
    for (size_t i = 0; i < n; i += (size_t)batch) {
        const int nc = n - i < (size_t)batch ? (int)(n - i) : batch;
        SER_CU(cudaMemcpyAsync(audio_d, audio_h + i * ms, sizeof(float) * nc * ms, cudaMemcpyHostToDevice, s));
        if (ser_gpu_mfcc_compute(g, audio_d, len + i, nc, out_d, err) != 0) return -1;
        SER_CU(cudaMemcpyAsync(out_h + i * per_clip, out_d, sizeof(float) * nc * per_clip, cudaMemcpyDeviceToHost, s));
    }
    SER_CU(cudaStreamSynchronize(s));
    *seconds = ser_now_s() - t0;
    return 0;
}

static int bench(const char *dir, int batch) {
    ser_config cfg;
    ser_config_defaults(&cfg);
    path_list files = {0};
    scan(dir, 0, &files);
    if (files.n == 0) {
        fprintf(stderr, "bench: no audio files under %s\n", dir);
        return 1;
    }
    const size_t n = files.n, per_clip = ser_features_per_clip(&cfg);
    const size_t ms = (size_t)ceil(cfg.audio.duration * cfg.audio.sample_rate) + 1;
    float *audio_h = NULL, *out_h = NULL;
    ser_error e = {{0}};
    if (cudaHostAlloc((void **)&audio_h, sizeof(float) * n * ms, cudaHostAllocDefault) != cudaSuccess ||
        cudaHostAlloc((void **)&out_h, sizeof(float) * n * per_clip, cudaHostAllocDefault) != cudaSuccess) {
        fprintf(stderr, "bench: cudaHostAlloc of %zu clips failed\n", n);
        return 1;
    }
    size_t *len = calloc(n, sizeof *len);
    float *cpu = malloc(sizeof(float) * n * per_clip);
    if (!len || !cpu) return 1;
    const int threads = omp_get_max_threads();

    /* Decode + resample (the pipeline's CPU side), timed; a failed or too long clip becomes a
     * 1-sample stand-in (counted). */
    size_t skipped = 0;
    double t0 = ser_now_s();
#pragma omp parallel reduction(+ : skipped)
    {
        ser_audio_buf buf = {0};
        ser_error te = {{0}};
#pragma omp for schedule(dynamic, 4)
        for (size_t i = 0; i < n; i++) {
            float *slot = audio_h + i * ms;
            if (ser_audio_load(files.v[i], &cfg.audio, &buf, &te) == 0 && buf.n <= ms) {
                memcpy(slot, buf.samples, sizeof(float) * buf.n);
                len[i] = buf.n;
            } else {
                slot[0] = 0;
                len[i] = 1;
                skipped++;
            }
        }
        ser_audio_buf_free(&buf);
    }
    const double t_decode = ser_now_s() - t0;

    /* CPU MFCC on every thread, best of 3. */
    double t_cpu = 1e30;
    for (int r = 0; r < 3; r++) {
        t0 = ser_now_s();
#pragma omp parallel
        {
            ser_error te = {{0}};
            ser_mfcc *m = ser_mfcc_create(&cfg, &te);
#pragma omp for schedule(dynamic, 8)
            for (size_t i = 0; i < n; i++)
                if (m) ser_mfcc_compute(m, audio_h + i * ms, len[i], cpu + i * per_clip, &te);
            ser_mfcc_free(m);
        }
        const double t = ser_now_s() - t0;
        t_cpu = t < t_cpu ? t : t_cpu;
    }

    /* GPU: all audio resident, then with per-batch copies. */
    cudaStream_t s = 0;
    float *audio_d = NULL, *out_d = NULL;
    ser_gpu_mfcc *g = NULL;
    double t_gpu = 0, t_copies = 0;
    int rc = device_buffers(&audio_d, n * ms, &out_d, n * per_clip, &s, &e);
    if (rc == 0) rc = (g = ser_gpu_mfcc_create(&cfg, batch, ms, s, &e)) ? 0 : -1;
    if (rc == 0 && cudaMemcpy(audio_d, audio_h, sizeof(float) * n * ms, cudaMemcpyHostToDevice) != cudaSuccess)
        rc = ser_fail(&e, "bench: upload of the audio failed");
    if (rc == 0) rc = bench_gpu(g, s, audio_d, len, n, ms, batch, out_d, per_clip, 1, &t_gpu, &e); /* warm-up */
    if (rc == 0) rc = bench_gpu(g, s, audio_d, len, n, ms, batch, out_d, per_clip, 5, &t_gpu, &e);
    if (rc == 0)
        rc = bench_gpu_copies(g, s, audio_h, len, n, ms, batch, audio_d, out_d, out_h, per_clip, &t_copies, &e);
    CHECKF(rc == 0, "bench: %s", e.msg);
    if (rc == 0) {
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            const double d = test_rel_l2(out_h + i * per_clip, cpu + i * per_clip, per_clip);
            worst = d > worst ? d : worst;
            CHECKF(d <= TOL, "bench: %s: relative L2 %.3g", files.v[i], d);
        }
        char desc[256];
        ser_cuda_devices(desc, sizeof desc);
        printf("device: %s\n", desc);
        printf("%zu clips (%zu stand-ins for failed/long files), batch %d, %d CPU threads\n", n, skipped, batch,
               threads);
        printf("  decode + resample (CPU, %d threads)  %8.3f s  %10.1f clips/s\n", threads, t_decode, n / t_decode);
        printf("  MFCC on the CPU (%d threads)         %8.3f s  %10.1f clips/s\n", threads, t_cpu, n / t_cpu);
        printf("  MFCC on the GPU (audio resident)      %8.3f s  %10.1f clips/s  %.1fx the CPU\n", t_gpu, n / t_gpu,
               t_cpu / t_gpu);
        printf("  MFCC on the GPU + copies per batch    %8.3f s  %10.1f clips/s  %.1fx the CPU\n", t_copies,
               n / t_copies, t_cpu / t_copies);
        printf("  GPU vs CPU relative L2 worst %.3g\n", worst);
        printf("{\"bench\": \"gpu_features_compute\", \"clips\": %zu, \"batch\": %d, \"threads\": %d, "
               "\"decode_clips_per_s\": %.1f, \"cpu_mfcc_clips_per_s\": %.1f, \"gpu_mfcc_clips_per_s\": %.1f, "
               "\"gpu_mfcc_copies_clips_per_s\": %.1f, \"rel_l2_worst\": %.3g}\n",
               n, batch, threads, n / t_decode, n / t_cpu, n / t_gpu, n / t_copies, worst);
    }
    ser_gpu_mfcc_free(g);
    cudaFree(audio_d);
    cudaFree(out_d);
    if (s) cudaStreamDestroy(s);
    cudaFreeHost(audio_h);
    cudaFreeHost(out_h);
    free(len), free(cpu);
    free_list(&files);
    return check_finish("test_cuda_features --bench");
}

int main(int argc, char **argv) {
    char desc[256];
    const int devices = ser_cuda_devices(desc, sizeof desc);
    if (argc >= 3 && !strcmp(argv[1], "--bench")) {
        if (devices < 1) {
            fprintf(stderr, "bench: %s\n", desc);
            return 2;
        }
        const int batch = argc >= 4 ? atoi(argv[3]) : SER_GPU_FEATURES_BATCH;
        return bench(argv[2], batch > 0 ? batch : SER_GPU_FEATURES_BATCH);
    }
    if (devices < 1) cuda_test_skip("test_cuda_features", desc);
    cuda_test_start("test_cuda_features", 0, desc, sizeof desc);

    ser_config cfg;
    ser_config_defaults(&cfg);
    test_synthetic("reference recipe", &cfg);

    ser_config alt = cfg; /* test_mfcc's ALT */
    alt.audio.sample_rate = 16000;
    alt.features.n_fft = 1024;
    alt.features.hop_length = 256;
    alt.features.n_mels = 64;
    alt.features.fmin = 50;
    alt.features.fmax = 7000;
    alt.features.top_db = 60;
    alt.features.n_mfcc = 20;
    alt.features.frames = 100;
    test_synthetic("alt recipe", &alt);

    ser_config speech = cfg; /* 25 ms / 10 ms frames at 16 kHz: a 400-point FFT */
    speech.audio.sample_rate = 16000;
    speech.features.n_fft = 400;
    speech.features.hop_length = 160;
    speech.features.n_mels = 40;
    speech.features.n_mfcc = 13;
    speech.features.frames = 300;
    test_synthetic("speech recipe", &speech);

    test_create_errors(&cfg);

    const char *data = check_shared_data();
    if (data) test_pipeline(data, &cfg);
    else printf("pipeline on real files: skipped (no ../shared/data)\n");
    return check_finish("test_cuda_features");
}
