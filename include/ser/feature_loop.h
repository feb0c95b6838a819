/* The per-clip feature loop behind every CPU feature path (ser_features_extract, windowed
 * prediction, and the per-epoch features of waveform augmentation): for each clip i of n, on
 * one of `threads` OpenMP threads,
 *
 *   samples(i)  -> y[0..n) at the configured rate, and the clip's mel warp (ser_mfcc_set_warp)
 *   MFCC (ser_mfcc_compute) then, when features.f0_rows > 0, the pitch rows (ser_pitch_compute)
 *               into the thread's buffer (ser_features_per_clip values: ser/features.h's layout)
 *   store(i, x) -> the caller keeps them (copies, normalises, writes to disk ...)
 *
 * The loop owns one MFCC and one pitch state per thread, kept between runs (their FFTW plans
 * and tables are built once). The caller's per-thread state (decode buffers, scratch) is indexed
 * by the thread number its callbacks get, below ser_feature_loop_threads. OpenBLAS is pinned to
 * one thread during a run: the small DCT sgemm inside each clip must not start BLAS threads of
 * its own (OpenMP's and OpenBLAS's idle threads both spin and fight for the cores).
 *
 * A clip whose samples, features or store fail goes to `failed`: it decides whether the run goes
 * on (a file that does not decode, in `ser mfcc`) or stops (the first error wins: the clips not
 * yet started are skipped, and the run returns -1 with that error). The features of a clip do
 * not depend on the thread or the order: the same bits for any thread count. */
#ifndef SER_FEATURE_LOOP_H
#define SER_FEATURE_LOOP_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/config.h"
#include "ser/error.h"

typedef struct ser_feature_loop ser_feature_loop;

/* One clip's input: y[0..n) (the caller's memory, valid until the same thread's next samples
 * call; n >= 1), and the warp of its mel bank: warp = 1 (preset) for none, else alpha and the
 * upper knee warp_fhi (ser_mel_filters_warped). */
typedef struct ser_clip_audio {
    const float *y;
    size_t n;
    double warp, warp_fhi;
} ser_clip_audio;

typedef struct ser_feature_loop_calls {
    /* Clip i's samples, on thread `thread` (0 <= thread < ser_feature_loop_threads; the three
     * calls run on several threads at once, each clip's on one). 0, or -1 with err. */
    int (*samples)(void *ctx, int thread, size_t i, ser_clip_audio *a, ser_error *err);
    /* Clip i's features x (ser_feature_loop_per_clip values; the thread's buffer, which the
     * callee may change in place until it returns). 0, or -1 with err. */
    int (*store)(void *ctx, int thread, size_t i, float *x, ser_error *err);
    /* Clip i failed with *err (samples, MFCC, pitch or store), on the clip's thread (calls for
     * different clips may run at once): 0 goes on with the other clips, -1 stops the run with
     * *err (which the callee may reword). NULL: every failure stops. */
    int (*failed)(void *ctx, size_t i, ser_error *err);
    void *ctx;
    int chunk; /* clips handed to a thread at a time (OpenMP dynamic schedule); <= 0: 4 */
} ser_feature_loop_calls;

/* The MFCC and pitch states of cfg's recipe for `threads` threads (<= 0: all cores). Fails, before
 * any work, on a recipe that cannot work (ser_mfcc_create, ser_pitch_create) or out of memory. */
ser_feature_loop *ser_feature_loop_create(const ser_config *cfg, int threads, ser_error *err);
void ser_feature_loop_free(ser_feature_loop *l);

int ser_feature_loop_threads(const ser_feature_loop *l);
/* Values per clip: ser_features_per_clip(cfg), the MFCC rows first, then the pitch rows. */
size_t ser_feature_loop_per_clip(const ser_feature_loop *l);

/* Clips 0..n through samples -> MFCC (+ pitch) -> store, on min(threads, n) threads. Returns 0,
 * or -1 with the error of the failure that stopped it (failed returned -1). */
int ser_feature_loop_run(ser_feature_loop *l, size_t n, const ser_feature_loop_calls *calls, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
