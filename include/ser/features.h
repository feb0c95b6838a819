/* Feature extraction over many files: decode + resample (ser_audio_load) + MFCC
 * (ser_mfcc_compute) + the pitch rows when features.f0_rows > 0 (ser_pitch_compute), parallel
 * over clips on CPU threads, one audio buffer, MFCC state and pitch detector per thread. Used
 * by `ser mfcc` and by training's feature cache. */
#ifndef SER_FEATURES_H
#define SER_FEATURES_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/config.h"
#include "ser/error.h"

/* Values per clip: (n_mfcc + f0_rows) * frames: the MFCC rows, then the pitch rows (ser/pitch.h). */
size_t ser_features_per_clip(const ser_config *cfg);

/* Computes the features of paths[0..n) into out ([n, per_clip] row-major). ok[i] is set to 1
 * for each clip that worked; a failed clip leaves its row unspecified, ok[i] = 0 and, when why
 * is not NULL, why[i] = a malloc'd one-line reason naming the file (caller frees; NULL when
 * there was no memory for it: callers then name the file alone, as they all do). threads <= 0
 * means all cores. Returns -1 only when the recipe itself cannot work (bad parameters, out of
 * memory); per-file failures are not errors of the call. */
int ser_features_extract(const ser_config *cfg, char *const *paths, size_t n, int threads, float *out,
                         unsigned char *ok, char **why, ser_error *err);

/* A feature extractor with ser_features_extract's contract: the CPU's, or
 * ser_features_extract_cuda (ser/cuda.h). */
typedef int (*ser_features_fn)(const ser_config *cfg, char *const *paths, size_t n, int threads, float *out,
                               unsigned char *ok, char **why, ser_error *err);

/* The same with every clip's mel filter bank warped by alpha (ser_mfcc_set_warp, knee f_hi):
 * what VTLN computes for a speaker's candidate warps. alpha = 1: ser_features_extract. */
int ser_features_extract_warped(const ser_config *cfg, char *const *paths, size_t n, int threads, double alpha,
                                double f_hi, float *out, unsigned char *ok, char **why, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
