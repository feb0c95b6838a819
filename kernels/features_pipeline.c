/* Feature extraction over many files with the MFCC on the GPU: ser_features_extract's contract
 * (ser/features.h) and output, ser/cuda.h's ser_features_extract_cuda.
 *
 * Two batches of `nb` clips alternate (double buffering). For batch k, in buffer k % 2:
 *   CPU threads decode + resample its clips (ser_audio_load) into the pinned slots audio_h
 *     [nb, ms], while the GPU still computes batch k - 1;
 *   the copy stream waits until batch k - 2's compute has read audio_d, then copies
 *     audio_h -> audio_d and records `copied`;
 *   the compute stream waits for `copied`, runs ser_gpu_mfcc_compute into out_d, records
 *     `computed`, copies out_d -> out_h (pinned) and records `done`;
 *   the host takes batch k's rows from out_h after `done`, before it decodes batch k + 2
 *     into the same buffer (or at the end).
 * Every buffer is allocated once, before the first batch.
 *
 * Slot j of a batch is always path first + j: a clip that fails to decode keeps its slot as a
 * 1-sample silent stand-in whose output is ignored, and a clip longer than a slot (ms
 * samples: the configured window, or 30 s when audio.duration reads to the end; at most 60 s)
 * is computed on the CPU by the thread that decoded it, straight into its output row. */
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "cuda_versions.h"
#include "features_gpu.h"
#include "features_pipeline.h"
#include "ser/audio.h"
#include "ser/cuda.h"
#include "ser/features.h"
#include "ser/mfcc.h"

/* Device memory the batches may take (the MFCC state's buffers + two audio slots): keeps a
 * long configured window from asking for more than a GPU has. */
static const double DEVICE_BUDGET = 4.0 * 1024 * 1024 * 1024;

typedef struct batch_buf {
    size_t first, count;    /* paths [first, first + count) */
    float *audio_h;         /* pinned [nb, ms]: slot j = clip first + j */
    float *out_h;           /* pinned [nb, per_clip] */
    size_t *lengths;        /* [nb] samples in slot j (>= 1) */
    unsigned char *on_gpu;  /* [nb] 1: slot j's features come from this batch's GPU output */
    float *audio_d;         /* [nb, ms] */
    cudaEvent_t copied, computed, done;
    int have_events;
    int pending;            /* queued on the GPU, rows not taken yet */
} batch_buf;

typedef struct worker {
    ser_audio_buf buf;      /* reused across clips (it caches the resampler) */
    ser_mfcc *cpu;          /* made on the first clip longer than a slot */
} worker;

typedef struct worker_arg {
    struct pipeline *p;
    worker *w;
} worker_arg;

typedef struct pipeline {
    const ser_config *cfg;
    char *const *paths;
    float *out;
    unsigned char *ok;
    char **why;
    size_t per_clip, ms;
    int nb, nthreads;
    worker *workers;        /* [nthreads] */
    pthread_t *tid;         /* [nthreads] (0 unused: the calling thread is worker 0) */
    struct worker_arg *args; /* [nthreads] */
    unsigned char *started; /* [nthreads] */
    batch_buf b[2];
    float *out_d;           /* [nb, per_clip] */
    cudaStream_t compute, copy;
    int have_compute, have_copy;
    ser_gpu_mfcc *g;
    batch_buf *cur;         /* the batch being decoded */
    atomic_size_t next;     /* its next slot to decode */
} pipeline;

/* ---- decoding (CPU threads) ---------------------------------------------------------------- */

static void decode_one(pipeline *p, worker *w, size_t j) {
    batch_buf *b = p->cur;
    const size_t i = b->first + j;
    float *slot = b->audio_h + j * p->ms;
    ser_error e = {{0}};
    b->on_gpu[j] = 0;
    b->lengths[j] = 1;
    slot[0] = 0.0f;
    if (ser_audio_load(p->paths[i], &p->cfg->audio, &w->buf, &e) == 0) {
        if (w->buf.n <= p->ms) {
            memcpy(slot, w->buf.samples, sizeof(float) * w->buf.n);
            b->lengths[j] = w->buf.n;
            b->on_gpu[j] = 1;
            return;
        }
        if (!w->cpu) w->cpu = ser_mfcc_create(p->cfg, &e);
        if (w->cpu && ser_mfcc_compute(w->cpu, w->buf.samples, w->buf.n, p->out + i * p->per_clip, &e) == 0) {
            p->ok[i] = 1;
            return;
        }
    }
    if (p->why) {
        if (!strstr(e.msg, p->paths[i])) ser_fail_wrap(&e, "%s", p->paths[i]);
        p->why[i] = strdup(e.msg); /* NULL: the caller names the file alone (ser/features.h) */
    }
}

static void *decode_worker(void *arg) {
    const worker_arg *a = arg;
    for (;;) {
        const size_t j = atomic_fetch_add(&a->p->next, 1);
        if (j >= a->p->cur->count) break;
        decode_one(a->p, a->w, j);
    }
    return NULL;
}

/* Decodes p->cur on nthreads threads (this one included). A thread that cannot be started
 * leaves its share to the others. */
static void decode_batch(pipeline *p) {
    atomic_store(&p->next, 0);
    for (int t = 0; t < p->nthreads; t++) {
        p->args[t] = (worker_arg){p, &p->workers[t]};
        p->started[t] = t > 0 && pthread_create(&p->tid[t], NULL, decode_worker, &p->args[t]) == 0;
    }
    decode_worker(&p->args[0]);
    for (int t = 1; t < p->nthreads; t++)
        if (p->started[t]) pthread_join(p->tid[t], NULL);
}

/* ---- the GPU side ------------------------------------------------------------------------- */

/* Batch b's rows from out_h into out, once its copy back is done. */
static int take_rows(pipeline *p, batch_buf *b, ser_error *err) {
    SER_CU(cudaEventSynchronize(b->done));
    b->pending = 0;
    for (size_t j = 0; j < b->count; j++) {
        if (!b->on_gpu[j]) continue;
        const size_t i = b->first + j;
        memcpy(p->out + i * p->per_clip, b->out_h + j * p->per_clip, sizeof(float) * p->per_clip);
        p->ok[i] = 1;
    }
    return 0;
}

static int alloc_all(pipeline *p, ser_error *err) {
    SER_CU(cudaStreamCreateWithFlags(&p->compute, cudaStreamNonBlocking));
    p->have_compute = 1;
    SER_CU(cudaStreamCreateWithFlags(&p->copy, cudaStreamNonBlocking));
    p->have_copy = 1;
    const size_t nb = (size_t)p->nb;
    SER_CU(cudaMalloc((void **)&p->out_d, sizeof(float) * nb * p->per_clip));
    for (int k = 0; k < 2; k++) {
        batch_buf *b = &p->b[k];
        SER_CU(cudaHostAlloc((void **)&b->audio_h, sizeof(float) * nb * p->ms, cudaHostAllocDefault));
        SER_CU(cudaHostAlloc((void **)&b->out_h, sizeof(float) * nb * p->per_clip, cudaHostAllocDefault));
        SER_CU(cudaMalloc((void **)&b->audio_d, sizeof(float) * nb * p->ms));
        b->lengths = ser_calloc(nb, sizeof *b->lengths, "batch lengths", err);
        b->on_gpu = ser_calloc(nb, 1, "batch flags", err);
        if (!b->lengths || !b->on_gpu) return -1;
        SER_CU(cudaEventCreateWithFlags(&b->copied, cudaEventDisableTiming));
        SER_CU(cudaEventCreateWithFlags(&b->computed, cudaEventDisableTiming));
        SER_CU(cudaEventCreateWithFlags(&b->done, cudaEventDisableTiming));
        b->have_events = 1;
    }
    p->workers = ser_calloc((size_t)p->nthreads, sizeof *p->workers, "feature workers", err);
    p->tid = ser_calloc((size_t)p->nthreads, sizeof *p->tid, "feature threads", err);
    p->args = ser_calloc((size_t)p->nthreads, sizeof *p->args, "feature threads", err);
    p->started = ser_calloc((size_t)p->nthreads, 1, "feature threads", err);
    if (!p->workers || !p->tid || !p->args || !p->started) return -1;
    p->g = ser_gpu_mfcc_create(p->cfg, p->nb, p->ms, p->compute, err);
    return p->g ? 0 : -1;
}

static void free_all(pipeline *p) {
    /* Nothing may still be reading or writing the buffers below (after an error mid-run). */
    if (p->have_compute) (void)cudaStreamSynchronize(p->compute);
    if (p->have_copy) (void)cudaStreamSynchronize(p->copy);
    ser_gpu_mfcc_free(p->g);
    for (int k = 0; k < 2; k++) {
        batch_buf *b = &p->b[k];
        if (b->audio_h) (void)cudaFreeHost(b->audio_h);
        if (b->out_h) (void)cudaFreeHost(b->out_h);
        (void)cudaFree(b->audio_d);
        free(b->lengths);
        free(b->on_gpu);
        if (b->have_events) {
            (void)cudaEventDestroy(b->copied);
            (void)cudaEventDestroy(b->computed);
            (void)cudaEventDestroy(b->done);
        }
    }
    (void)cudaFree(p->out_d);
    if (p->workers)
        for (int t = 0; t < p->nthreads; t++) {
            ser_audio_buf_free(&p->workers[t].buf);
            ser_mfcc_free(p->workers[t].cpu);
        }
    free(p->workers);
    free(p->tid);
    free(p->args);
    free(p->started);
    if (p->have_compute) (void)cudaStreamDestroy(p->compute);
    if (p->have_copy) (void)cudaStreamDestroy(p->copy);
}

static int run(pipeline *p, size_t n, ser_error *err) {
    const size_t nb = (size_t)p->nb, nbatches = (n + nb - 1) / nb;
    for (size_t k = 0; k < nbatches; k++) {
        batch_buf *b = &p->b[k & 1];
        if (b->pending && take_rows(p, b, err) != 0) return -1;
        b->first = k * nb;
        b->count = n - b->first < nb ? n - b->first : nb;
        p->cur = b;
        decode_batch(p); /* the GPU computes batch k - 1 meanwhile */
        /* audio_d was last read by batch k - 2's compute (an event never recorded is a no-op wait). */
        SER_CU(cudaStreamWaitEvent(p->copy, b->computed, 0));
        SER_CU(cudaMemcpyAsync(b->audio_d, b->audio_h, sizeof(float) * b->count * p->ms, cudaMemcpyHostToDevice,
                               p->copy));
        SER_CU(cudaEventRecord(b->copied, p->copy));
        SER_CU(cudaStreamWaitEvent(p->compute, b->copied, 0));
        if (ser_gpu_mfcc_compute(p->g, b->audio_d, b->lengths, (int)b->count, p->out_d, err) != 0) return -1;
        SER_CU(cudaEventRecord(b->computed, p->compute));
        SER_CU(cudaMemcpyAsync(b->out_h, p->out_d, sizeof(float) * b->count * p->per_clip, cudaMemcpyDeviceToHost,
                               p->compute));
        SER_CU(cudaEventRecord(b->done, p->compute));
        b->pending = 1;
    }
    for (size_t k = nbatches; k < nbatches + 2; k++) /* the last two, oldest first */
        if (p->b[k & 1].pending && take_rows(p, &p->b[k & 1], err) != 0) return -1;
    return 0;
}

/* Samples of a GPU slot for the configured window: librosa's fix_length gives
 * ceil(int(duration * rate_in) * rate / rate_in) <= ceil(duration * rate) (+ 1 for the
 * rounding of the ratio). */
static size_t default_slot(const ser_config *cfg) {
    const double rate = cfg->audio.sample_rate, window = cfg->audio.duration > 0 ? cfg->audio.duration : 30.0;
    const double s = ceil((window < 60.0 ? window : 60.0) * rate) + 1.0;
    return (size_t)s;
}

/* Clips per batch: the requested count, at most n, and what DEVICE_BUDGET holds. */
static int batch_size(const ser_config *cfg, int want, size_t ms, size_t n) {
    const ser_feature_config *f = &cfg->features;
    const double frames = (double)ser_mfcc_stft_frames(ms, f->hop_length);
    const double per_clip = 4.0 * (frames * (f->n_fft + 2.0 * (f->n_fft / 2 + 1) + f->n_mels + f->n_mfcc) +
                                   2.0 * ms + (double)f->n_mfcc * f->frames);
    double fit = floor(DEVICE_BUDGET / per_clip);
    int nb = want > 0 ? want : SER_GPU_FEATURES_BATCH;
    if (fit < nb) nb = fit < 1 ? 1 : (int)fit;
    if ((size_t)nb > n) nb = (int)n;
    return nb;
}

int ser_features_extract_cuda_sized(const ser_config *cfg, char *const *paths, size_t n, int threads, int batch,
                                    size_t max_samples, float *out, unsigned char *ok, char **why, ser_error *err) {
    /* Pitch rows (features.f0_rows) come from aubio on the CPU: such a recipe is extracted
     * there whole (the GPU pipeline writes MFCC rows only). */
    if (cfg->features.f0_rows > 0) return ser_features_extract(cfg, paths, n, threads, out, ok, why, err);
    /* The recipe first, as ser_features_extract: a bad one fails before any work. */
    ser_mfcc *probe = ser_mfcc_create(cfg, err);
    if (!probe) return -1;
    ser_mfcc_free(probe);
    memset(ok, 0, n);
    if (why) memset(why, 0, n * sizeof *why);
    if (n == 0) return 0;
    char desc[512];
    if (ser_cuda_devices(desc, sizeof desc) < 1) return ser_fail(err, "cuda features: %s", desc);
    if (ser_cuda_versions_ok(desc, sizeof desc) != 0) return ser_fail(err, "cuda features: %s", desc);

    pipeline p = {0};
    p.cfg = cfg;
    p.paths = paths;
    p.out = out;
    p.ok = ok;
    p.why = why;
    p.per_clip = ser_features_per_clip(cfg);
    p.ms = max_samples ? max_samples : default_slot(cfg);
    p.nb = batch_size(cfg, batch, p.ms, n);
    p.nthreads = threads > 0 ? threads : omp_get_max_threads();
    if (p.nthreads < 1) p.nthreads = 1;
    if (p.nthreads > p.nb) p.nthreads = p.nb; /* no more threads than slots in a batch */
    int rc = alloc_all(&p, err);
    if (rc == 0) rc = run(&p, n, err);
    free_all(&p);
    return rc == 0 ? 0 : ser_fail_wrap(err, "cuda features");
}

int ser_features_extract_cuda(const ser_config *cfg, char *const *paths, size_t n, int threads, float *out,
                              unsigned char *ok, char **why, ser_error *err) {
    return ser_features_extract_cuda_sized(cfg, paths, n, threads, 0, 0, out, ok, why, err);
}
