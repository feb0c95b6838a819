/* MFCC on the CPU: librosa.feature.mfcc(y, sr, n_mfcc) + pad/cut, with FFTW (one float plan
 * per object) and cblas for the DCT. The stages, per clip of n samples, T = 1 + n / hop:
 *
 *   frame t = y[t hop - n_fft/2, + n_fft) with zeros outside y (center=True, "constant")
 *   -> * Hann -> rfft -> |X|^2 [n_bins]            one frame at a time, stays in L1/L2
 *      (the real FFT as a complex FFT of half the size + a vectorised split, see split_power)
 *   -> mel (banded: each filter touches ~2 % of the bins) -> melspec [T, n_mels]
 *      (measured for a 130-frame clip: dense cblas_sgemm 128 x 1025 x 130 264 us, banded ~17 us)
 *   -> 10 log10(max(amin, .)), floor at (max over the whole clip) - top_db
 *   -> DCT [n_mfcc, n_mels] x melspec^T -> out [n_mfcc, frames] (first min(T, frames) columns,
 *      the rest zero).
 *
 * librosa computes the windowed FFT in float64 and rounds the spectrum to complex64; the rest
 * is float32. Here everything is float32: measured relative L2 against librosa ~1e-6 (<= 1.4e-6
 * on the golden clips). A 3 s clip (130 frames) takes ~260 us on one core. */
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
 * bin loop with strided gathers instead of the lanes. vfbu: the same, unaligned. */
typedef float vfb __attribute__((vector_size(FB * sizeof(float))));
typedef float vfbu __attribute__((vector_size(FB * sizeof(float)), aligned(4)));
typedef int vfbi __attribute__((vector_size(FB * sizeof(int))));
#if defined(__clang__)
#define ZIP_LO(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define ZIP_HI(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#else
#define ZIP_LO(a, b) __builtin_shuffle(a, b, (vfbi){0, 8, 1, 9, 2, 10, 3, 11})
#define ZIP_HI(a, b) __builtin_shuffle(a, b, (vfbi){4, 12, 5, 13, 6, 14, 7, 15})
#endif

struct ser_mfcc {
    int n_fft, hop, n_bins, n_mels, n_mfcc, frames;
    double sr, fmin, fmax;   /* of the mel bank */
    double alpha, f_hi;      /* its VTLP warp (alpha 1: none) */
    float top_db;
    float *window;        /* [n_fft] periodic Hann */
    float *mel;           /* [n_mels, n_bins] mel filter bank (Slaney) */
    int *mel_lo, *mel_hi; /* [n_mels] nonzero bin range of each filter */
    float *dct;           /* [n_mfcc, n_mels] DCT-II ortho rows */
    float *frame;         /* [n_fft] windowed frame = [half] complex z[j] = x[2j] + i x[2j+1] */
    fftwf_complex *spec;  /* [half] Z = DFT_half(z) (plan output) */
    float *zre, *zim;     /* [half + 1] Z deinterleaved, Z[half] = Z[0] */
    float *twr, *twi;     /* [half + 1] exp(-2 pi i k / n_fft) */
    float *rows;          /* [FB, row] |X|^2 of a batch of FB frames, row = n_bins rounded up to FB */
    int row;
    float *pb;            /* [n_bins, FB] the same, transposed: the lanes of bin k together */
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
    free(m->zre);
    free(m->zim);
    free(m->twr);
    free(m->twi);
    fftwf_free(m->rows);
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
    if (f->n_fft % 2) {
        ser_fail(err, "mfcc: features.n_fft = %d must be even", f->n_fft);
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
    m->sr = sr, m->fmin = f->fmin, m->fmax = fmax, m->alpha = 1.0, m->f_hi = 0.0;
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
    const int half = m->n_fft / 2;
    m->zre = ser_malloc(sizeof(float) * (half + 1), "mfcc split", err);
    m->zim = ser_malloc(sizeof(float) * (half + 1), "mfcc split", err);
    m->twr = ser_malloc(sizeof(float) * (half + 1), "mfcc twiddles", err);
    m->twi = ser_malloc(sizeof(float) * (half + 1), "mfcc twiddles", err);
    m->row = (m->n_bins + FB - 1) / FB * FB;
    m->rows = fftwf_malloc(sizeof(float) * m->row * FB);
    if (!m->window || !m->mel || !m->mel_lo || !m->mel_hi || !m->dct || !m->pb || !m->frame || !m->spec ||
        !m->zre || !m->zim || !m->twr || !m->twi || !m->rows) {
        if (!m->frame || !m->spec || !m->pb) ser_fail(err, "mfcc: fftwf_malloc of %d floats failed", m->n_fft * FB);
        ser_mfcc_free(m);
        return NULL;
    }
    ser_hann_periodic(m->n_fft, m->window);
    ser_mel_filters(sr, m->n_fft, m->n_mels, f->fmin, fmax, m->mel);
    ser_mel_filter_ranges(m->mel, m->n_mels, m->n_bins, m->mel_lo, m->mel_hi);
    ser_feature_rows_matrix(f, m->dct);
    for (int k = 0; k <= half; k++) {
        const double ang = 2.0 * 3.14159265358979323846 * k / m->n_fft;
        m->twr[k] = (float)cos(ang);
        m->twi[k] = (float)-sin(ang);
    }
    /* Measured per 2048-point frame, FFT + |X|^2: r2c FFTW_ESTIMATE 2.1 us, r2c FFTW_MEASURE
     * 1.5 us (but ~150 ms of serial planning per process), complex 1024 FFTW_ESTIMATE +
     * split 1.0 us. */
#pragma omp critical(ser_fftw_planner)
    {
        m->plan = fftwf_plan_dft_1d(half, (fftwf_complex *)m->frame, m->spec, FFTW_FORWARD, FFTW_ESTIMATE);
    }
    if (!m->plan) {
        ser_fail(err, "mfcc: fftwf_plan_dft_1d(%d) failed", half);
        ser_mfcc_free(m);
        return NULL;
    }
    return m;
}

void ser_mfcc_set_warp(ser_mfcc *m, double alpha, double f_hi) {
    if (alpha == m->alpha && (alpha == 1.0 || f_hi == m->f_hi)) return;
    ser_mel_filters_warped(m->sr, m->n_fft, m->n_mels, m->fmin, m->fmax, alpha, f_hi, m->mel, m->mel_lo, m->mel_hi);
    m->alpha = alpha, m->f_hi = f_hi;
}

/* |X[k]|^2, k = 0..half, of the real frame x from Z = DFT_half(z), z[j] = x[2j] + i x[2j+1]:
 * with W = exp(-2 pi i / n_fft) and Z[half] = Z[0],
 *   E[k] = (Z[k] + conj Z[half-k]) / 2       (DFT of the even samples)
 *   O[k] = (Z[k] - conj Z[half-k]) / (2 i)   (DFT of the odd samples)
 *   X[k] = E[k] + W^k O[k].
 * Deinterleaving first lets the compiler vectorise the reversed access Z[half - k]. */
static void split_power(ser_mfcc *m, float *restrict p) {
    const int half = m->n_fft / 2;
    /* Interleaved (re, im) pairs: fftwf_complex is float[2] or float _Complex depending on
     * whether <complex.h> came first (OpenBLAS's cblas.h includes it). */
    const float *z = (const float *)m->spec;
    float *restrict zre = m->zre, *restrict zim = m->zim;
    const float *restrict twr = m->twr, *restrict twi = m->twi;
    for (int k = 0; k < half; k++) {
        zre[k] = z[2 * k];
        zim[k] = z[2 * k + 1];
    }
    zre[half] = zre[0];
    zim[half] = zim[0];
    for (int k = 0; k <= half; k++) {
        const float ar = zre[k], ai = zim[k], br = zre[half - k], bi = -zim[half - k];
        const float er = 0.5f * (ar + br), ei = 0.5f * (ai + bi);
        const float or_ = 0.5f * (ai - bi), oi = -0.5f * (ar - br);
        const float xr = er + twr[k] * or_ - twi[k] * oi;
        const float xi = ei + twr[k] * oi + twi[k] * or_;
        p[k] = xr * xr + xi * xi;
    }
}

/* Windowed frame t of y, FFT, |X|^2 into row `lane` of rows [FB, row]. */
static void frame_power(ser_mfcc *m, const float *y, size_t n, size_t t, int lane) {
    const int n_fft = m->n_fft;
    /* Frame t covers padded samples [t hop, t hop + n_fft) = y[start, start + n_fft). */
    const long long start = (long long)t * m->hop - n_fft / 2;
    long long a = start < 0 ? -start : 0;                                      /* first in y */
    long long b = start + n_fft > (long long)n ? (long long)n - start : n_fft; /* end in y */
    if (b < a) b = a;
    float *restrict frame = m->frame;
    const float *restrict win = m->window, *restrict ys = y + start;
    for (long long i = 0; i < a; i++) frame[i] = 0.0f;
    for (long long i = a; i < b; i++) frame[i] = win[i] * ys[i];
    for (long long i = b; i < n_fft; i++) frame[i] = 0.0f;
    fftwf_execute(m->plan);
    split_power(m, m->rows + (size_t)lane * m->row);
}

/* rows [FB, row] -> pb [n_bins, FB], 8 x 8 blocks transposed in registers by three rounds of
 * zips (a strided store per element was 17 % of the time). */
static void transpose_rows(ser_mfcc *m) {
    _Static_assert(FB == 8, "the zip masks are written for 8 lanes");
    vfb *pb = (vfb *)m->pb;
    int k0 = 0;
    for (; k0 + FB <= m->n_bins; k0 += FB) {
        vfb r[FB], q[FB];
        for (int l = 0; l < FB; l++) r[l] = *(const vfbu *)(m->rows + (size_t)l * m->row + k0);
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < FB / 2; i++) {
                q[2 * i] = ZIP_LO(r[i], r[i + FB / 2]);
                q[2 * i + 1] = ZIP_HI(r[i], r[i + FB / 2]);
            }
            for (int l = 0; l < FB; l++) r[l] = q[l];
        }
        for (int i = 0; i < FB; i++) pb[k0 + i] = r[i];
    }
    for (int k = k0; k < m->n_bins; k++)
        for (int l = 0; l < FB; l++) m->pb[(size_t)k * FB + l] = m->rows[(size_t)l * m->row + k];
}

/* melspec[T, n_mels] of the centred, windowed frames of y. */
static void mel_power(ser_mfcc *m, const float *y, size_t n, size_t T) {
    for (size_t t0 = 0; t0 < T; t0 += FB) {
        const int nb = T - t0 < FB ? (int)(T - t0) : FB;
        for (int l = 0; l < nb; l++) frame_power(m, y, n, t0 + l, l);
        for (int l = nb; l < FB; l++) /* unused lanes of the last batch */
            memset(m->rows + (size_t)l * m->row, 0, sizeof(float) * m->row);
        transpose_rows(m);
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

const float *ser_mfcc_db(const ser_mfcc *m) { return m->melspec; }
