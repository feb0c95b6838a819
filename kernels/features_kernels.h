/* The custom kernels of the GPU MFCC (kernels/features_kernels.cu), used by
 * kernels/features_gpu.c between the cuFFT and cuBLAS calls. All pointers are device memory;
 * every launcher enqueues on stream s and returns cudaGetLastError() (check with SER_CU).
 *
 * Layout of a batch: clip c owns the `max_frames` rows r = c * max_frames + t of every
 * per-frame buffer; only its first T_c = 1 + len_c / hop rows are real frames. */
#ifndef SER_FEATURES_KERNELS_H
#define SER_FEATURES_KERNELS_H

#include <stddef.h>

#include <cuda_runtime.h>
#include <cufft.h>

#ifdef __cplusplus
extern "C" {
#endif

/* frames (nclips * max_frames, n_fft): row (c, t) = window * audio_c[t hop - n_fft / 2, + n_fft),
 * zero outside [0, len[c]) (librosa center=True, pad_mode "constant").
 * audio: [nclips, audio_stride]; len: [nclips]; window: [n_fft]. */
cudaError_t ser_k_mfcc_frames(float *frames, const float *audio, size_t audio_stride, const int *len,
                              const float *window, int nclips, int max_frames, int n_fft, int hop, cudaStream_t s);

/* power[i] = re^2 + im^2 of spec[i], i < n (the CPU's `xr * xr + xi * xi`, no fused multiply-add). */
cudaError_t ser_k_mfcc_power(float *power, const cufftComplex *spec, size_t n, cudaStream_t s);

/* power_to_db(ref=1, amin, top_db) in place on mel (nclips * max_frames, n_mels), one block
 * per clip over its T[c] real rows: 10 log10(max(amin, x)) (the CPU's float log10, same
 * operations in the same order), then max(db, peak_c - top_db) with peak_c the maximum over
 * clip c's real rows. Rows t >= T[c] are left as they are. */
cudaError_t ser_k_mfcc_db(float *mel, const int *T, int nclips, int max_frames, int n_mels, float amin, float top_db,
                          cudaStream_t s);

/* out (nclips, n_mfcc, frames) = dct_out (n_mfcc, nclips * max_frames) regrouped per clip:
 * out[c][k][t] = dct_out[k][c * max_frames + t] for t < min(T[c], frames), else 0 (the
 * reference's zero padding in MFCC space; T[c] <= max_frames). */
cudaError_t ser_k_mfcc_gather(float *out, const float *dct_out, const int *T, int nclips, int max_frames, int n_mfcc,
                              int frames, cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif
