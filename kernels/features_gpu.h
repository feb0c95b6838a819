/* MFCC on the GPU (kernels/features_gpu.c + kernels/features_kernels.cu), the same function as
 * host/features/mfcc_cpu.c (librosa.feature.mfcc, then pad/cut to `frames`): the centred, zero-padded
 * frames of a batch of clips through ONE batched cuFFT R2C plan (made once per shape), |X|^2,
 * the mel filter bank and the DCT as cuBLAS GEMMs (tables from ser_mel_filters /
 * ser_dct2_ortho_matrix / ser_hann_periodic, uploaded once), power_to_db with each clip's own
 * top_db floor (a per-clip max reduction over the clip's real frames), pad/cut to frames.
 * Output per clip [n_mfcc, frames], as the CPU. */
#ifndef SER_FEATURES_GPU_H
#define SER_FEATURES_GPU_H

#include <stddef.h>

#include <cuda_runtime.h>

#include "ser/config.h"
#include "ser/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ser_gpu_mfcc ser_gpu_mfcc;

/* Plans and tables for batches of up to max_clips clips of up to max_samples samples. */
ser_gpu_mfcc *ser_gpu_mfcc_create(const ser_config *cfg, int max_clips, size_t max_samples, cudaStream_t s,
                                  ser_error *err);
void ser_gpu_mfcc_free(ser_gpu_mfcc *g);
/* audio: device [nclips, max_samples] (clip i's first lengths[i] samples are real; lengths on
 * the host, each >= 1); out: device [nclips, n_mfcc * frames]. */
int ser_gpu_mfcc_compute(ser_gpu_mfcc *g, const float *audio, const size_t *lengths, int nclips, float *out,
                         ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
