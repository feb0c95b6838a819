/* The fixed tables of the MFCC: Hann window, Slaney mel filter bank, DCT-II ortho matrix.
 * Each follows the numpy / scipy code librosa 0.11 runs, operation by operation in double,
 * rounded to float32 where librosa rounds (the mel weights are float32 in librosa), so the
 * tables match librosa's to the last bit or one ulp. Shared with the CUDA backend. */
#include <math.h>
#include <string.h>

#include "ser/mfcc.h"

/* M_PI is not in strict C11 / POSIX. */
static const double PI = 3.14159265358979323846;

void ser_hann_periodic(int n, float *w) {
    /* scipy.signal.get_window('hann', n, fftbins=True) = general_cosine(n + 1, [0.5, 0.5])[:n]:
     * fac = np.linspace(-pi, pi, n + 1), w = 0.5 + 0.5 cos(fac), i.e. 0.5 - 0.5 cos(2 pi i / n). */
    const double step = 2.0 * PI / n;
    for (int i = 0; i < n; i++) w[i] = (float)(0.5 * 1.0 + 0.5 * cos(i * step + -PI));
}

/* librosa.hz_to_mel(f, htk=False) for a scalar: linear below 1 kHz, logarithmic above. */
static double hz_to_mel(double f) {
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    if (f >= min_log_hz) return min_log_mel + log(f / min_log_hz) / logstep;
    return f / f_sp;
}

/* librosa.mel_to_hz(m, htk=False), the inverse. */
static double mel_to_hz(double m) {
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    if (m >= min_log_mel) return min_log_hz * exp(logstep * (m - min_log_mel));
    return 0.0 + f_sp * m;
}

/* mel_frequencies(n_mels + 2, fmin, fmax): np.linspace over the mel scale (i * step + start,
 * last point exactly stop), mapped back to Hz. */
static void mel_points(int n_mels, double fmin, double fmax, double *mel_f) {
    const int n_pts = n_mels + 2;
    const double min_mel = hz_to_mel(fmin), max_mel = hz_to_mel(fmax);
    const double step = (max_mel - min_mel) / (n_pts - 1);
    for (int i = 0; i < n_pts; i++) mel_f[i] = mel_to_hz(i == n_pts - 1 ? max_mel : i * step + min_mel);
}

/* Filter m's weight at frequency f: the triangle over mel_f[m .. m+2], Slaney area norm. */
static float mel_weight(const double *mel_f, int m, double f) {
    const double fdiff_lo = mel_f[m + 1] - mel_f[m], fdiff_hi = mel_f[m + 2] - mel_f[m + 1];
    const double enorm = 2.0 / (mel_f[m + 2] - mel_f[m]);
    const double lower = -(mel_f[m] - f) / fdiff_lo;
    const double upper = (mel_f[m + 2] - f) / fdiff_hi;
    double v = lower < upper ? lower : upper;
    if (!(v > 0.0)) v = 0.0;
    /* librosa stores the triangle in a float32 array, then scales it in place by the float64
     * enorm: two roundings. */
    const float tri = (float)v;
    return (float)((double)tri * enorm);
}

void ser_mel_filters(double sr, int n_fft, int n_mels, double fmin, double fmax, float *w) {
    const int n_bins = 1 + n_fft / 2;
    double mel_f[n_mels + 2];
    mel_points(n_mels, fmin, fmax, mel_f);
    /* np.fft.rfftfreq(n_fft, d=1/sr): k * (1 / (n_fft * (1 / sr))) */
    const double val = 1.0 / (n_fft * (1.0 / sr));
    for (int m = 0; m < n_mels; m++)
        for (int k = 0; k < n_bins; k++) w[(size_t)m * n_bins + k] = mel_weight(mel_f, m, k * val);
}

double ser_vtlp_warp(double f, double alpha, double f_hi, double nyquist) {
    /* Jaitly & Hinton (2013): f alpha up to the boundary f_hi min(alpha, 1) / alpha, then the
     * straight line that takes the boundary's image to f_hi min(alpha, 1) and nyquist to itself. */
    const double lo = f_hi * (alpha < 1.0 ? alpha : 1.0), boundary = lo / alpha;
    if (f <= boundary) return f * alpha;
    return nyquist - (nyquist - lo) / (nyquist - boundary) * (nyquist - f);
}

void ser_mel_filters_warped(double sr, int n_fft, int n_mels, double fmin, double fmax, double alpha, double f_hi,
                            float *w, int *lo, int *hi) {
    const int n_bins = 1 + n_fft / 2;
    /* the same mel points, expressions and roundings as ser_mel_filters */
    double mel_f[n_mels + 2], fw[n_bins];
    mel_points(n_mels, fmin, fmax, mel_f);
    const double val = 1.0 / (n_fft * (1.0 / sr));
    for (int k = 0; k < n_bins; k++) fw[k] = alpha == 1.0 ? k * val : ser_vtlp_warp(k * val, alpha, f_hi, sr / 2);
    memset(w, 0, (size_t)n_mels * n_bins * sizeof *w);
    /* the warp is increasing, so the bins inside filter m's open support (mel_f[m], mel_f[m+2])
     * are one run that moves up with m: each filter scans only its own run */
    int k0 = 0;
    for (int m = 0; m < n_mels; m++) {
        while (k0 < n_bins && fw[k0] <= mel_f[m]) k0++;
        lo[m] = hi[m] = k0;
        for (int k = k0; k < n_bins && fw[k] < mel_f[m + 2]; k++) {
            const float x = mel_weight(mel_f, m, fw[k]);
            w[(size_t)m * n_bins + k] = x;
            if (x != 0.0f) {
                if (hi[m] == lo[m]) lo[m] = k;
                hi[m] = k + 1;
            }
        }
        if (hi[m] == lo[m]) lo[m] = hi[m] = n_bins; /* as ser_mel_filter_ranges: an empty filter */
    }
}

void ser_mel_filter_ranges(const float *w, int n_mels, int n_bins, int *lo, int *hi) {
    for (int m = 0; m < n_mels; m++) {
        const float *row = w + (size_t)m * n_bins;
        int a = 0, b = n_bins;
        while (a < n_bins && row[a] == 0.0f) a++;
        while (b > a && row[b - 1] == 0.0f) b--;
        lo[m] = a;
        hi[m] = b;
    }
}

void ser_feature_rows_matrix(const ser_feature_config *f, float *d) {
    if (!f->logmel) {
        ser_dct2_ortho_matrix(f->n_mfcc, f->n_mels, d);
        return;
    }
    for (int k = 0; k < f->n_mfcc; k++)
        for (int i = 0; i < f->n_mels; i++) d[(size_t)k * f->n_mels + i] = k == i ? 1.0f : 0.0f;
}

void ser_dct2_ortho_matrix(int n_out, int n_in, float *d) {
    const double s0 = sqrt(1.0 / n_in), sk = sqrt(2.0 / n_in);
    for (int k = 0; k < n_out; k++)
        for (int i = 0; i < n_in; i++)
            d[(size_t)k * n_in + i] = (float)((k == 0 ? s0 : sk) * cos(PI * k * (2.0 * i + 1) / (2.0 * n_in)));
}
