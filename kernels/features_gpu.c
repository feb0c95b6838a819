/* MFCC on the GPU (contract in features_gpu.h): host/features/mfcc_cpu.c's function on a batch of clips.
 *
 *   audio [nclips, max_samples]
 *   -> frames   [rows, n_fft]     centred, zero-padded, Hann-windowed (ser_k_mfcc_frames)
 *   -> spec     [rows, n_bins]    ONE batched cuFFT R2C over every frame of the batch
 *   -> power    [rows, n_bins]    |X|^2 (ser_k_mfcc_power), written over `frames`, which the
 *                                 FFT has consumed
 *   -> melspec  [rows, n_mels]    cuBLAS SGEMM with the mel filter bank
 *   -> dB       in place          power_to_db, each clip's own floor (ser_k_mfcc_db)
 *   -> dct_out  [n_mfcc, rows]    cuBLAS SGEMM with the DCT-II ortho rows
 *   -> out      [nclips, n_mfcc, frames]   pad/cut per clip (ser_k_mfcc_gather)
 *
 * rows = nclips * max_frames: clip c owns rows [c max_frames, (c + 1) max_frames), of which
 * its first T_c = 1 + len_c / hop are real frames (max_frames = 1 + max_samples / hop).
 *
 * The dense mel SGEMM multiplies ~98 % zeros (the CPU skips them, banded); on the GPU one
 * GEMM over the whole batch is still a small part of the time and needs no kernel of ours.
 * Math mode: CUBLAS_DEFAULT_MATH (true FP32, no TF32), so the sums round as float sums. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "features_gpu.h"
#include "features_kernels.h"
#include "ser/mfcc.h"

/* power_to_db(amin=1e-10): librosa's default, as host/features/mfcc_cpu.c. */
static const float AMIN = 1e-10f;

struct ser_gpu_mfcc {
    int n_fft, hop, n_bins, n_mels, n_mfcc, frames;
    float top_db;
    int max_clips, max_frames;
    size_t max_samples;
    cudaStream_t s;
    cufftHandle plan;
    int have_plan;
    cublasHandle_t blas;
    float *window;          /* [n_fft] periodic Hann */
    float *mel;             /* [n_mels, n_bins] */
    float *dct;             /* [n_mfcc, n_mels] */
    float *frames_d;        /* [rows_max, n_fft] frames, then [rows, n_bins] |X|^2 */
    cufftComplex *spec;     /* [rows_max, n_bins] */
    float *melspec;         /* [rows_max, n_mels] mel power, then dB */
    float *dct_out;         /* [n_mfcc, rows] */
    int *len_d;             /* [2 max_clips]: samples per clip, then frames per clip (T_c) */
    int *len_h[2];          /* pinned staging of len_d, alternating between calls */
    cudaEvent_t len_ev[2];  /* the copy out of len_h[i] is done */
    int have_ev[2];
    int slot;
};

void ser_gpu_mfcc_free(ser_gpu_mfcc *g) {
    if (!g) return;
    /* Work still queued on the stream may use these buffers; errors are of no use here. */
    (void)cudaStreamSynchronize(g->s);
    if (g->have_plan) (void)cufftDestroy(g->plan);
    if (g->blas) (void)cublasDestroy(g->blas);
    for (int i = 0; i < 2; i++) {
        if (g->have_ev[i]) (void)cudaEventDestroy(g->len_ev[i]);
        if (g->len_h[i]) (void)cudaFreeHost(g->len_h[i]);
    }
    (void)cudaFree(g->window);
    (void)cudaFree(g->mel);
    (void)cudaFree(g->dct);
    (void)cudaFree(g->frames_d);
    (void)cudaFree(g->spec);
    (void)cudaFree(g->melspec);
    (void)cudaFree(g->dct_out);
    (void)cudaFree(g->len_d);
    free(g);
}

/* Host tables [window | mel | dct] -> device, through the stream (a plain cudaMemcpy from
 * pageable memory may return before its DMA is done, unordered with a non-blocking stream). */
static int copy_tables(ser_gpu_mfcc *g, const float *host, size_t nw, size_t nm, size_t nd, ser_error *err) {
    SER_CU(cudaMemcpyAsync(g->window, host, sizeof(float) * nw, cudaMemcpyHostToDevice, g->s));
    SER_CU(cudaMemcpyAsync(g->mel, host + nw, sizeof(float) * nm, cudaMemcpyHostToDevice, g->s));
    SER_CU(cudaMemcpyAsync(g->dct, host + nw + nm, sizeof(float) * nd, cudaMemcpyHostToDevice, g->s));
    SER_CU(cudaStreamSynchronize(g->s));
    return 0;
}

static int upload_tables(ser_gpu_mfcc *g, const ser_config *cfg, ser_error *err) {
    const size_t nw = (size_t)g->n_fft, nm = (size_t)g->n_mels * g->n_bins, nd = (size_t)g->n_mfcc * g->n_mels;
    float *host = ser_malloc(sizeof(float) * (nw + nm + nd), "gpu mfcc host tables", err);
    if (!host) return -1;
    ser_hann_periodic(g->n_fft, host);
    ser_mel_filters(cfg->audio.sample_rate, g->n_fft, g->n_mels, cfg->features.fmin, ser_config_fmax(cfg), host + nw);
    ser_feature_rows_matrix(&cfg->features, host + nw + nm);
    const int rc = copy_tables(g, host, nw, nm, nd, err);
    free(host); /* after the stream synchronised: the copies have read it */
    return rc;
}

static int setup(ser_gpu_mfcc *g, const ser_config *cfg, ser_error *err) {
    const size_t rows = (size_t)g->max_clips * g->max_frames;
    SER_CU(cudaMalloc((void **)&g->window, sizeof(float) * g->n_fft));
    SER_CU(cudaMalloc((void **)&g->mel, sizeof(float) * g->n_mels * g->n_bins));
    SER_CU(cudaMalloc((void **)&g->dct, sizeof(float) * g->n_mfcc * g->n_mels));
    SER_CU(cudaMalloc((void **)&g->frames_d, sizeof(float) * rows * g->n_fft));
    SER_CU(cudaMalloc((void **)&g->spec, sizeof(cufftComplex) * rows * g->n_bins));
    SER_CU(cudaMalloc((void **)&g->melspec, sizeof(float) * rows * g->n_mels));
    SER_CU(cudaMalloc((void **)&g->dct_out, sizeof(float) * rows * g->n_mfcc));
    SER_CU(cudaMalloc((void **)&g->len_d, sizeof(int) * 2 * g->max_clips));
    for (int i = 0; i < 2; i++) {
        SER_CU(cudaHostAlloc((void **)&g->len_h[i], sizeof(int) * 2 * g->max_clips, cudaHostAllocDefault));
        SER_CU(cudaEventCreateWithFlags(&g->len_ev[i], cudaEventDisableTiming));
        g->have_ev[i] = 1;
    }
    /* The rows a partial batch leaves out still go through the FFT: keep them finite. */
    SER_CU(cudaMemsetAsync(g->frames_d, 0, sizeof(float) * rows * g->n_fft, g->s));
    if (upload_tables(g, cfg, err) != 0) return -1;

    /* One R2C plan over every frame of a full batch: rows transforms of n_fft real samples
     * (distance n_fft) into n_bins complex values (distance n_bins). */
    SER_CUFFT(cufftCreate(&g->plan));
    g->have_plan = 1;
    long long n[1] = {g->n_fft}, inembed[1] = {g->n_fft}, onembed[1] = {g->n_bins};
    size_t work = 0;
    SER_CUFFT(cufftMakePlanMany64(g->plan, 1, n, inembed, 1, g->n_fft, onembed, 1, g->n_bins, CUFFT_R2C,
                                  (long long)rows, &work));
    SER_CUFFT(cufftSetStream(g->plan, g->s));

    SER_CUBLAS(cublasCreate(&g->blas));
    SER_CUBLAS(cublasSetStream(g->blas, g->s));
    SER_CUBLAS(cublasSetMathMode(g->blas, CUBLAS_DEFAULT_MATH));
    return 0;
}

ser_gpu_mfcc *ser_gpu_mfcc_create(const ser_config *cfg, int max_clips, size_t max_samples, cudaStream_t s,
                                  ser_error *err) {
    /* The CPU constructor validates the recipe: the same parameters fail with the same line. */
    ser_mfcc *probe = ser_mfcc_create(cfg, err);
    if (!probe) return NULL;
    ser_mfcc_free(probe);
    const ser_feature_config *f = &cfg->features;
    const size_t max_frames = ser_mfcc_stft_frames(max_samples, f->hop_length);
    if (max_clips < 1 || max_samples < 1 || max_samples > INT_MAX ||
        (size_t)max_clips * max_frames > (size_t)INT_MAX) {
        ser_fail(err, "gpu mfcc: a batch of %d clips of up to %zu samples is out of range (need >= 1 of each, "
                      "at most %d samples a clip and %d frames a batch)", max_clips, max_samples, INT_MAX, INT_MAX);
        return NULL;
    }
    ser_gpu_mfcc *g = ser_calloc(1, sizeof *g, "gpu mfcc state", err);
    if (!g) return NULL;
    g->n_fft = f->n_fft;
    g->hop = f->hop_length;
    g->n_bins = f->n_fft / 2 + 1;
    g->n_mels = f->n_mels;
    g->n_mfcc = f->n_mfcc;
    g->frames = f->frames;
    g->top_db = (float)f->top_db;
    g->max_clips = max_clips;
    g->max_frames = (int)max_frames;
    g->max_samples = max_samples;
    g->s = s;
    if (setup(g, cfg, err) != 0) {
        ser_fail_wrap(err, "gpu mfcc setup (%d clips x %zu samples)", max_clips, max_samples);
        ser_gpu_mfcc_free(g);
        return NULL;
    }
    return g;
}

int ser_gpu_mfcc_compute(ser_gpu_mfcc *g, const float *audio, const size_t *lengths, int nclips, float *out,
                         ser_error *err) {
    if (nclips < 1 || nclips > g->max_clips)
        return ser_fail(err, "gpu mfcc: %d clips in a batch made for 1..%d", nclips, g->max_clips);
    for (int c = 0; c < nclips; c++)
        if (lengths[c] < 1 || lengths[c] > g->max_samples)
            return ser_fail(err, "gpu mfcc: clip %d has %zu samples (this batch takes 1..%zu)", c, lengths[c],
                            g->max_samples);

    /* Lengths and frame counts to the device through pinned memory; the staging half used
     * two calls ago must have been copied out before it is rewritten. */
    const int slot = g->slot;
    g->slot ^= 1;
    SER_CU(cudaEventSynchronize(g->len_ev[slot]));
    int *lh = g->len_h[slot];
    for (int c = 0; c < nclips; c++) {
        lh[c] = (int)lengths[c];
        lh[g->max_clips + c] = (int)ser_mfcc_stft_frames(lengths[c], g->hop);
    }
    SER_CU(cudaMemcpyAsync(g->len_d, lh, sizeof(int) * 2 * g->max_clips, cudaMemcpyHostToDevice, g->s));
    SER_CU(cudaEventRecord(g->len_ev[slot], g->s));
    const int *len_d = g->len_d, *T_d = g->len_d + g->max_clips;

    const int rows = nclips * g->max_frames; /* <= max_clips * max_frames <= INT_MAX */
    const float one = 1.0f, zero = 0.0f;
    SER_CU(ser_k_mfcc_frames(g->frames_d, audio, g->max_samples, len_d, g->window, nclips, g->max_frames, g->n_fft,
                             g->hop, g->s));
    /* The plan covers a full batch; the rows past this batch's are computed and ignored. */
    SER_CUFFT(cufftExecR2C(g->plan, g->frames_d, g->spec));
    float *power = g->frames_d; /* [rows, n_bins] over the consumed frames */
    SER_CU(ser_k_mfcc_power(power, g->spec, (size_t)rows * g->n_bins, g->s));
    /* melspec (rows, n_mels) row-major = column-major (n_mels, rows) = mel (n_mels, n_bins) x power^T;
     * mel row-major is column-major (n_bins, n_mels), hence OP_T; power column-major is (n_bins, rows). */
    SER_CUBLAS(cublasSgemm(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, g->n_mels, rows, g->n_bins, &one, g->mel, g->n_bins,
                           power, g->n_bins, &zero, g->melspec, g->n_mels));
    SER_CU(ser_k_mfcc_db(g->melspec, T_d, nclips, g->max_frames, g->n_mels, AMIN, g->top_db, g->s));
    /* dct_out (n_mfcc, rows) row-major = column-major (rows, n_mfcc) = dB (rows, n_mels) x dct^T:
     * dB row-major is column-major (n_mels, rows), hence OP_T; dct row-major is column-major
     * (n_mels, n_mfcc) = dct^T. */
    SER_CUBLAS(cublasSgemm(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, rows, g->n_mfcc, g->n_mels, &one, g->melspec,
                           g->n_mels, g->dct, g->n_mels, &zero, g->dct_out, rows));
    SER_CU(ser_k_mfcc_gather(out, g->dct_out, T_d, nclips, g->max_frames, g->n_mfcc, g->frames, g->s));
    return 0;
}
