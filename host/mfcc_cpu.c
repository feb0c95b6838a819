/* MFCC on the CPU: librosa.feature.mfcc(y, sr, n_mfcc) + pad/cut, with FFTW (float r2c, one
 * plan per object) and cblas for the DCT. The stages, per clip of n samples, T = 1 + n / hop:
 *
 *   frame t = y[t hop - n_fft/2, + n_fft) with zeros outside y (center=True, "constant")
 *   -> * Hann -> rfft -> |X|^2 [n_bins]            one frame at a time, stays in L1/L2
 *   -> mel (banded: each filter touches ~2 % of the bins) -> melspec [T, n_mels]
 *   -> 10 log10(max(amin, .)), floor at (max over the whole clip) - top_db
 *   -> DCT [n_mfcc, n_mels] x melspec^T -> out [n_mfcc, frames] (first min(T, frames) columns,
 *      the rest zero).
 *
 * librosa computes the windowed FFT in float64 and rounds the spectrum to complex64; the rest
 * is float32. Here everything is float32: measured relative L2 against librosa ~1e-6. */
#include <float.h>
#include <stdlib.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>
#include <fftw3.h>

#include "ser/mfcc.h"

/* power_to_db(amin=1e-10, ref=1.0): librosa's defaults, not configurable in the reference. */
static const float AMIN = 1e-10f;

/* Frames per mel batch: the power spectra of FB frames are stored interleaved, pb[k][FB],
 * so the banded mel product is FB-wide vector multiply-adds with no horizontal sums. */
enum { FB = 8 };
/* FB lanes as one vector (GCC/Clang vector extension): the compiler otherwise vectorises the
 * bin loop with strided gathers instead of the lanes. */
typedef float vfb __attribute__((vector_size(FB * sizeof(float))));

struct ser_mfcc {
    int n_fft, hop, n_bins, n_mels, n_mfcc, frames;
    float top_db;
    float *window;        /* [n_fft] periodic Hann */
    float *mel;           /* [n_mels, n_bins] mel filter bank (Slaney) */
    int *mel_lo, *mel_hi; /* [n_mels] nonzero bin range of each filter */
    float *dct;           /* [n_mfcc, n_mels] DCT-II ortho rows */
    float *frame;         /* [n_fft] windowed frame, FFTW-aligned (plan input) */
    fftwf_complex *spec;  /* [n_bins] spectrum (plan output) */
    float *pb;            /* [n_bins, FB] |X|^2 of a batch of FB frames */
    float *melspec;       /* [cap_frames, n_mels] mel power, then dB */
    size_t cap_frames;
    fftwf_plan plan;
};

size_t ser_mfcc_stft_frames(size_t n, int hop_length) { return 1 + n / (size_t)hop_length; }

size_t ser_mfcc_out_size(const ser_mfcc *m) { return (size_t)m->n_mfcc * (size_t)m->frames; }

void ser_mfcc_free(ser_mfcc *m) {
    if (!m) return;
    /* The FFTW planner (plan creation and destruction) is not thread-safe. */
#pragma omp critical(ser_fftw_planner)
    {
        if (m->plan) fftwf_destroy_plan(m->plan);
    }
    fftwf_free(m->frame);
    fftwf_free(m->spec);
    free(m->window);
    free(m->mel);
    free(m->mel_lo);
    free(m->mel_hi);
    free(m->dct);
    fftwf_free(m->pb);
    free(m->melspec);
    free(m);
}

ser_mfcc *ser_mfcc_create(const ser_config *cfg, ser_error *err) {
    const ser_feature_config *f = &cfg->features;
    const double sr = cfg->audio.sample_rate, fmax = ser_config_fmax(cfg);
    if (f->n_fft < 2 || f->hop_length < 1 || f->n_mels < 1 || f->n_mfcc < 1 || f->frames < 1) {
        ser_fail(err, "mfcc: need n_fft >= 2, hop_length >= 1, n_mels >= 1, n_mfcc >= 1, frames >= 1 "
                      "(got %d, %d, %d, %d, %d)", f->n_fft, f->hop_length, f->n_mels, f->n_mfcc, f->frames);
        return NULL;
    }
    if (f->n_mfcc > f->n_mels) {
        ser_fail(err, "mfcc: features.n_mfcc = %d exceeds features.n_mels = %d", f->n_mfcc, f->n_mels);
        return NULL;
    }
    if (!(sr > 0) || !(f->fmin >= 0) || !(fmax > f->fmin) || fmax > sr / 2) {
        ser_fail(err, "mfcc: need 0 <= fmin < fmax <= sample_rate / 2 (got fmin %g, fmax %g, rate %g)",
                 f->fmin, fmax, sr);
        return NULL;
    }
    ser_mfcc *m = ser_calloc(1, sizeof *m, "mfcc state", err);
    if (!m) return NULL;
    m->n_fft = f->n_fft;
    m->hop = f->hop_length;
    m->n_bins = f->n_fft / 2 + 1;
    m->n_mels = f->n_mels;
    m->n_mfcc = f->n_mfcc;
    m->frames = f->frames;
    m->top_db = (float)f->top_db;
    m->window = ser_malloc(sizeof(float) * m->n_fft, "mfcc window", err);
    m->mel = ser_malloc(sizeof(float) * m->n_mels * m->n_bins, "mel filter bank", err);
    m->mel_lo = ser_malloc(sizeof(int) * m->n_mels, "mel ranges", err);
    m->mel_hi = ser_malloc(sizeof(int) * m->n_mels, "mel ranges", err);
    m->dct = ser_malloc(sizeof(float) * m->n_mfcc * m->n_mels, "dct matrix", err);
    m->pb = fftwf_malloc(sizeof(float) * m->n_bins * FB); /* vector-aligned */
    m->frame = fftwf_malloc(sizeof(float) * m->n_fft);
    m->spec = fftwf_malloc(sizeof(fftwf_complex) * m->n_bins);
    if (!m->window || !m->mel || !m->mel_lo || !m->mel_hi || !m->dct || !m->pb || !m->frame || !m->spec) {
        if (!m->frame || !m->spec || !m->pb) ser_fail(err, "mfcc: fftwf_malloc of %d floats failed", m->n_fft * FB);
        ser_mfcc_free(m);
        return NULL;
    }
    ser_hann_periodic(m->n_fft, m->window);
    ser_mel_filters(sr, m->n_fft, m->n_mels, f->fmin, fmax, m->mel);
    ser_mel_filter_ranges(m->mel, m->n_mels, m->n_bins, m->mel_lo, m->mel_hi);
    ser_dct2_ortho_matrix(m->n_mfcc, m->n_mels, m->dct);
    /* FFTW_ESTIMATE, measured: its plan runs 2.1 us per 2048-point frame against 1.5 us for
     * FFTW_MEASURE's, but MEASURE spends ~150 ms planning (serially, in the critical
     * section), which only pays back after ~250k frames (~4500 TESS clips x 2 threads); a
     * corpus run is below that and a training run computes its features once. */
#pragma omp critical(ser_fftw_planner)
    {
        m->plan = fftwf_plan_dft_r2c_1d(m->n_fft, m->frame, m->spec, FFTW_ESTIMATE);
    }
    if (!m->plan) {
        ser_fail(err, "mfcc: fftwf_plan_dft_r2c_1d(%d) failed", m->n_fft);
        ser_mfcc_free(m);
        return NULL;
    }
    return m;
}

/* Windowed frame t of y, FFT, |X|^2 into lane `lane` of pb [n_bins][FB]. */
static void frame_power(ser_mfcc *m, const float *y, size_t n, size_t t, int lane) {
    const int n_fft = m->n_fft;
    /* Frame t covers padded samples [t hop, t hop + n_fft) = y[start, start + n_fft). */
    const long long start = (long long)t * m->hop - n_fft / 2;
    long long a = start < 0 ? -start : 0;                                      /* first in y */
    long long b = start + n_fft > (long long)n ? (long long)n - start : n_fft; /* end in y */
    if (b < a) b = a;
    for (long long i = 0; i < a; i++) m->frame[i] = 0.0f;
    for (long long i = a; i < b; i++) m->frame[i] = m->window[i] * y[start + i];
    for (long long i = b; i < n_fft; i++) m->frame[i] = 0.0f;
    fftwf_execute(m->plan);
    /* Interleaved (re, im) pairs: fftwf_complex is float[2] or float _Complex depending on
     * whether <complex.h> came first (OpenBLAS's cblas.h includes it). */
    const float *spec = (const float *)m->spec;
    for (int k = 0; k < m->n_bins; k++) {
        const float re = spec[2 * k], im = spec[2 * k + 1];
        m->pb[(size_t)k * FB + lane] = re * re + im * im;
    }
}

/* melspec[T, n_mels] of the centred, windowed frames of y. */
static void mel_power(ser_mfcc *m, const float *y, size_t n, size_t T) {
    for (size_t t0 = 0; t0 < T; t0 += FB) {
        const int nb = T - t0 < FB ? (int)(T - t0) : FB;
        for (int l = 0; l < nb; l++) frame_power(m, y, n, t0 + l, l);
        for (int l = nb; l < FB; l++) /* unused lanes of the last batch */
            for (int k = 0; k < m->n_bins; k++) m->pb[(size_t)k * FB + l] = 0.0f;
        const vfb *pb = (const vfb *)m->pb;
        for (int j = 0; j < m->n_mels; j++) {
            const float *w = m->mel + (size_t)j * m->n_bins;
            vfb acc = {0};
            for (int k = m->mel_lo[j]; k < m->mel_hi[j]; k++) acc += w[k] * pb[k];
            for (int l = 0; l < nb; l++) m->melspec[(t0 + l) * m->n_mels + j] = acc[l];
        }
    }
}

/* 10 log10(x) in place for x >= amin > 0 (normal floats): the Cephes logf polynomial, which
 * vectorises (libm's log10f per element was 8 % of the time); within 2 ulp of log10f. */
static void db_in_place(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &x[i], sizeof b);
        int e = (int)(b >> 23) - 126; /* x = f 2^e, f in [0.5, 1) */
        b = (b & 0x007fffffu) | 0x3f000000u;
        float f;
        memcpy(&f, &b, sizeof f);
        const int small = f < 0.70710678f; /* f in [sqrt(1/2), sqrt(2)) after the shift */
        e -= small;
        f = small ? f + f - 1.0f : f - 1.0f;
        const float z = f * f;
        float p = 7.0376836292e-2f;
        p = p * f - 1.1514610310e-1f;
        p = p * f + 1.1676998740e-1f;
        p = p * f - 1.2420140846e-1f;
        p = p * f + 1.4249322787e-1f;
        p = p * f - 1.6668057665e-1f;
        p = p * f + 2.0000714765e-1f;
        p = p * f - 2.4999993993e-1f;
        p = p * f + 3.3333331174e-1f;
        p = p * f * z;
        const float fe = (float)e;
        p += -2.12194440e-4f * fe;
        p += -0.5f * z;
        const float ln = f + p + 0.693359375f * fe;
        x[i] = 10.0f * (ln * 0.43429448190325182765f); /* 10 * log10(e) * ln */
    }
}

/* True when no sample is inf or NaN (exponent bits all ones). A branch-free OR over the bits
 * vectorises; isfinite() per sample in a loop with an early exit does not (15 % of the time). */
static int all_finite(const float *y, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &y[i], sizeof b);
        bad |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u);
    }
    return !bad;
}

int ser_mfcc_compute(ser_mfcc *m, const float *y, size_t n, float *out, ser_error *err) {
    if (n == 0) return ser_fail(err, "mfcc: empty signal (0 samples)");
    if (!all_finite(y, n))
        for (size_t i = 0; i < n; i++)
            if (!isfinite(y[i])) return ser_fail(err, "mfcc: sample %zu is not finite", i);
    const size_t T = ser_mfcc_stft_frames(n, m->hop);
    if (T > m->cap_frames) {
        float *p = realloc(m->melspec, sizeof(float) * T * m->n_mels);
        if (!p) return ser_fail(err, "mfcc: out of memory for %zu frames x %d mel bands", T, m->n_mels);
        m->melspec = p;
        m->cap_frames = T;
    }
    mel_power(m, y, n, T);

    /* power_to_db: 10 log10(max(amin, S)) - 10 log10(max(amin, ref = 1)) (= 0), then the
     * floor at the clip's maximum - top_db, over every frame (before any cut). */
    const size_t count = T * (size_t)m->n_mels;
    float *db = m->melspec, peak = -FLT_MAX;
    for (size_t i = 0; i < count; i++) db[i] = db[i] > AMIN ? db[i] : AMIN;
    db_in_place(db, count);
    for (size_t i = 0; i < count; i++) peak = db[i] > peak ? db[i] : peak;
    if (m->top_db >= 0) {
        const float floor_db = peak - m->top_db;
        for (size_t i = 0; i < count; i++)
            if (db[i] < floor_db) db[i] = floor_db;
    }

    /* out[:, :cols] = dct [n_mfcc, n_mels] x db[:cols]^T; the remaining columns are the zero
     * padding the reference adds in MFCC space. */
    const int cols = T < (size_t)m->frames ? (int)T : m->frames;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m->n_mfcc, cols, m->n_mels, 1.0f, m->dct, m->n_mels,
                db, m->n_mels, 0.0f, out, m->frames);
    if (cols < m->frames)
        for (int r = 0; r < m->n_mfcc; r++)
            memset(out + (size_t)r * m->frames + cols, 0, sizeof(float) * (size_t)(m->frames - cols));
    return 0;
}
