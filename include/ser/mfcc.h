/* MFCC features on the CPU, equal to librosa 0.11 (to float32 rounding):
 *
 *   M = librosa.feature.mfcc(y=y, sr=sample_rate, n_mfcc=n_mfcc)   then pad with zeros / cut
 *       to `frames` columns (the reference pads in MFCC space after computing).
 *
 * i.e. centred frames (zero padding of n_fft/2 on both sides, 1 + n / hop frames), periodic
 * Hann window, |rfft|^2, Slaney mel filter bank with Slaney area norm, power_to_db(ref=1,
 * amin=1e-10, top_db) whose floor is the maximum of THAT clip's mel dB minus top_db, DCT-II
 * ortho over the mel axis, keep n_mfcc. Every parameter comes from the ser_config.
 *
 * Output layout per clip: [n_mfcc, frames] row-major (H = n_mfcc, W = frames of the
 * 40 x 130 x 1 NHWC network input).
 *
 * One ser_mfcc per thread: it holds the FFTW plan and the scratch buffers. Creating one is
 * thread-safe (the FFTW planner runs in a critical section); ser_mfcc_compute on distinct
 * objects runs concurrently. */
#ifndef SER_MFCC_H
#define SER_MFCC_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/config.h"
#include "ser/error.h"

typedef struct ser_mfcc ser_mfcc;

/* Builds the tables (window, mel bank, DCT) and the FFTW plan for cfg->audio.sample_rate and
 * cfg->features. Fails on parameters that cannot work (n_fft < 2, hop < 1, n_mfcc > n_mels,
 * fmax above Nyquist, frames < 1). */
ser_mfcc *ser_mfcc_create(const ser_config *cfg, ser_error *err);
void ser_mfcc_free(ser_mfcc *m);

/* Values per clip in the output: n_mfcc * frames. */
size_t ser_mfcc_out_size(const ser_mfcc *m);

/* STFT frames librosa computes for n samples (center=True): 1 + n / hop. */
size_t ser_mfcc_stft_frames(size_t n, int hop_length);

/* y: n mono samples at the configured rate. out: [n_mfcc, frames] row-major; columns past
 * the clip's own frame count are zero, frames past `frames` are dropped (after the dB floor,
 * which is taken over every frame of the clip). Fails on n == 0 or a non-finite sample. */
int ser_mfcc_compute(ser_mfcc *m, const float *y, size_t n, float *out, ser_error *err);

/* The DCT's input in the last successful ser_mfcc_compute: the clip's floored dB mel spectrogram,
 * [T, n_mels] row-major, T = ser_mfcc_stft_frames(n, hop); valid until the next compute or free.
 * Lets a test bound the rounding of the DCT product from its terms (tests/test_pitch.c). */
const float *ser_mfcc_db(const ser_mfcc *m);

/* Warps the mel filter bank of m (ser_mel_filters_warped) for the following computes; alpha 1
 * restores the plain bank (bit for bit). Used per clip by VTLP augmentation (ser/vtlp_draw.h). */
void ser_mfcc_set_warp(ser_mfcc *m, double alpha, double f_hi);
/* ---- the tables, shared with the CUDA backend --------------------------------------------- */

/* Periodic Hann window of length n (scipy.signal.get_window('hann', n, fftbins=True)),
 * computed in double, rounded to float: w[i] = 0.5 - 0.5 cos(2 pi i / n). */
void ser_hann_periodic(int n, float *w);

/* librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm='slaney') as float32:
 * w is [n_mels, 1 + n_fft / 2] row-major. */
void ser_mel_filters(double sr, int n_fft, int n_mels, double fmin, double fmax, float *w);

/* VTLP (vocal tract length perturbation, Jaitly & Hinton 2013): the piecewise-linear frequency
 * warp f -> f alpha below f_hi min(alpha, 1) / alpha, then linear to nyquist -> nyquist. */
double ser_vtlp_warp(double f, double alpha, double f_hi, double nyquist);
/* ser_mel_filters with every FFT bin's frequency warped first: w[m][k] = filter m at
 * warp(f_k), so the energy at f counts in the band of alpha f (alpha > 1: formants move up, a
 * shorter vocal tract). The Slaney norms are the unwarped filters'. lo / hi get the nonzero bin
 * ranges as ser_mel_filter_ranges gives them. alpha == 1: the same bits as ser_mel_filters. */
void ser_mel_filters_warped(double sr, int n_fft, int n_mels, double fmin, double fmax, double alpha, double f_hi,
                            float *w, int *lo, int *hi);
/* The nonzero bin range of each mel filter: filter m is zero outside [lo[m], hi[m]) (a
 * filter with no nonzero weight gets lo == hi). Lets the mel step skip the zeros: ~2 x 1025
 * multiply-adds per frame instead of 128 x 1025. */
void ser_mel_filter_ranges(const float *w, int n_mels, int n_bins, int *lo, int *hi);

/* scipy.fft.dct(x, type=2, norm='ortho') over an axis of length n_in, first n_out rows, as
 * a matrix: d is [n_out, n_in] row-major, y = d x. d[k][i] = s_k cos(pi k (2 i + 1) / (2 n_in))
 * with s_0 = sqrt(1 / n_in), s_k = sqrt(2 / n_in). */
void ser_dct2_ortho_matrix(int n_out, int n_in, float *d);

/* The matrix from log-mel (dB) rows to feature rows, [n_mfcc, n_mels]: the DCT above, or the
 * identity when features.logmel (then n_mfcc == n_mels, checked by ser_config_validate). */
void ser_feature_rows_matrix(const ser_feature_config *f, float *d);

#ifdef __cplusplus
}
#endif

#endif
