/* The run configuration: every knob of the recipe, with the reference (configs/tess.ini) as
 * the default. One table in host/io/config.c holds each key's section, type, default, range and
 * help; parsing, --set overrides, printing and JSON export are loops over that table. */
#ifndef SER_CONFIG_H
#define SER_CONFIG_H

#ifdef __cplusplus
extern "C" {
#endif

#include "ser/error.h"

typedef struct ser_audio_config {
    int sample_rate;      /* target rate after resampling (Hz) */
    double offset;        /* seconds skipped at the start of each file */
    double duration;      /* seconds read after the offset (<= 0: to the end) */
    double trim_db;       /* > 0: offset counts from the first 20 ms frame within trim_db of the
                           * loudest (leading silence skipped); 0: from the file's start */
} ser_audio_config;

typedef struct ser_feature_config {
    int n_mfcc;           /* cepstral coefficients kept */
    int n_fft;            /* FFT size = window length */
    int hop_length;       /* samples between frames */
    int n_mels;           /* mel bands (Slaney scale and norm) */
    double fmin, fmax;    /* mel range in Hz; fmax <= 0 means sample_rate / 2 */
    double top_db;        /* dB floor below each clip's maximum (librosa power_to_db) */
    int frames;           /* pad with zeros / cut to this many frames */
    int normalize;        /* per-utterance normalisation before the global scaler: 0 none (reference),
                           * 1 per clip, 2 per speaker (ser/normalize.h) */
    double vtln;          /* per-speaker VTLN (ser/speaker_warp.h): the warp search range; 0 = off */
    int f0_rows;          /* rows of log2 F0 below the MFCCs (ser/pitch.h); 0 = off */
    int logmel;           /* 1: the rows are the log-mel spectrogram (dB) itself, no DCT (n_mfcc == n_mels) */
} ser_feature_config;

typedef struct ser_model_config {
    int conv_blocks;      /* Conv2D -> BN -> ReLU -> MaxPool -> Dropout blocks */
    int filters;          /* channels of every conv block */
    int kernel;           /* square conv kernel size (padding same) */
    int pool;             /* square max-pool size and stride (padding same) */
    double dropout;       /* dropout rate after each conv block */
    double l2;            /* L2 factor on conv kernels */
    double bn_momentum;   /* Keras BatchNormalization momentum */
    double bn_epsilon;
    int lstm_units;       /* units of both LSTMs */
    int attention;        /* additive attention between the LSTMs (bool) */
    int time_axis;        /* bool: the LSTM reads the conv output as a sequence over frames (T = Wn,
                           * D = Hn * F) instead of over MFCC coefficients (reference: T = Hn) */
    int stats_pool;       /* bool: LSTM1's mean and standard deviation over time (B,2U) concatenated
                           * after the attention output: LSTM2's input (B,1,3U); needs attention */
} ser_model_config;

/* train.monitor: the validation quantity the callbacks follow (Keras's monitor= with its mode). */
enum {
    SER_MONITOR_VAL_LOSS = 0,  /* lower is better (the reference) */
    SER_MONITOR_VAL_ACCURACY,  /* higher is better: WA */
    SER_MONITOR_VAL_UAR,       /* higher is better: UA, the mean of the per-class recalls */
};

/* train.precise_bn: when the BN moving statistics are replaced by statistics over the
 * (unaugmented) training clips (the backend's batch-norm statistics pass). Only inference reads
 * them: training steps are unchanged; what changes is every validation (and so the callbacks
 * that follow it) and the saved model. */
/* train.aug_noise_kind: the noise added to the waveform (ser/wave_augment.h). */
enum { SER_NOISE_OFF = 0, SER_NOISE_WHITE, SER_NOISE_PINK, SER_NOISE_FOLDER };

/* train.freeze: the prefix of the network that fine-tuning keeps fixed (ser/model.h: train_begin,
 * bn_frozen). SER_FREEZE_BLOCK1 + i - 1 freezes conv blocks 1..i. */
enum {
    SER_FREEZE_NONE = 0,
    SER_FREEZE_BLOCK1 = 1,     /* .. SER_FREEZE_BLOCK1 + 7: block8 */
    SER_FREEZE_LSTM1 = 9,      /* every conv block and lstm1 */
    SER_FREEZE_ATTENTION = 10, /* ... and the attention */
    SER_FREEZE_LSTM2 = 11,     /* everything but the dense output layer */
};
/* train.init_scaler: the feature scaler of a run started from a model (ser train --init). */
enum { SER_INIT_SCALER_KEEP = 0, SER_INIT_SCALER_REFIT };

enum {
    SER_PRECISE_BN_OFF = 0,    /* Keras's moving averages (the reference, for the parity tests) */
    SER_PRECISE_BN_END,        /* once, after training, on the kept epoch's weights */
    SER_PRECISE_BN_EPOCH,      /* before every validation pass (the kept epoch holds them too) */
};

typedef struct ser_train_config {
    int epochs;
    int batch_size;
    double learning_rate;
    double beta1, beta2, adam_epsilon;
    double validation_split;   /* fraction of the training data held for validation */
    int seed;
    int early_stopping_patience;
    int lr_patience;
    double lr_factor;
    double min_lr;
    int threads;               /* CPU threads; 0 = all cores */
    /* Per-batch augmentation of the scaled training features (host/features/augment.c); 0 = off. */
    int aug_time_shift;        /* max frames the content is shifted (circularly) either way */
    int aug_time_masks;        /* SpecAugment: number of time masks (frames set to zero) */
    int aug_time_width;        /*   max width of each (frames) */
    int aug_freq_masks;        /* SpecAugment: number of frequency masks (coefficients set to zero) */
    int aug_freq_width;        /*   max width of each (coefficients) */
    double aug_noise;          /* std of gaussian noise added to every feature value */
    double aug_gain;           /* max |offset| added to row 0 (c0, the clip's loudness), scaled units */
    /* VTLP (ser/vtlp_draw.h): the training features recomputed every epoch with a per-clip mel
     * frequency warp alpha in [1 - aug_vtlp, 1 + aug_vtlp]; 0 = off. */
    double aug_vtlp;
    double aug_vtlp_fhi;       /* Hz: the warp is f alpha below about this frequency */
    int aug_vtlp_speakers;     /* 0: a warp per clip; K: per epoch K virtual speakers per speaker,
                                * one warp each (relative differences inside a speaker kept) */
    /* Waveform augmentation (host/features/wave_augment.c, ser/wave_augment.h): the training
     * features recomputed every epoch from the audio changed in the time domain; 0 = off. */
    double aug_speed;          /* speed factors 1 - s, 1, 1 + s (libsoxr resampling) */
    double aug_wave_shift;     /* seconds: max shift of the read window's content either way */
    double aug_wave_gain;      /* dB: max |gain| */
    int aug_noise_kind;        /* SER_NOISE_*: off, white, pink, folder */
    double aug_noise_prob;     /* probability a clip gets noise in an epoch */
    double aug_noise_snr_min, aug_noise_snr_max; /* dB: the SNR's range */
    int audio_cache_mb;        /* decoded audio kept across epochs (MiB); clips beyond it are decoded per epoch */
    int aug_prefetch;          /* bool: compute epoch e + 1's features on a background thread during epoch e */
    double mixup;              /* mixup (ser/augment.h): Beta(mixup, mixup) weights; 0 = off */
    double label_smoothing;    /* Keras CategoricalCrossentropy(label_smoothing): targets (1 - ls) onehot
                                * + ls / classes, in the training and validation loss; 0 = off */
    int cosine_decay;          /* bool: the learning rate follows Keras CosineDecay per step from
                                * learning_rate to min_lr over epochs x steps an epoch, instead of
                                * ReduceLROnPlateau (early stopping unchanged) */
    int monitor;               /* SER_MONITOR_*: what early stopping, ReduceLROnPlateau and the best
                                * epoch follow */
    int precise_bn;            /* SER_PRECISE_BN_*: batch-norm moving statistics re-estimated
                                * over the training clips */
    int precise_bn_batches;    /* precise BN over at most this many batches of training clips (0: all) */
    int test_adapt_bn;         /* bool: `ser train` evaluates its test set after AdaBN over the test
                                * clips (the batch-norm statistics pass; model.safetensors keeps the training
                                * statistics) */
    int tensorboard;           /* bool: TensorBoard event files in RUN/tb/ as training runs (ser/tensorboard.h) */
    int balanced_batches;      /* bool: every class drawn equally often each epoch (ser_epoch_order_balanced) */
    int freeze;                /* SER_FREEZE_*: the first layers kept fixed (fine-tuning) */
    int init_scaler;           /* SER_INIT_SCALER_*: --init keeps the model's scaler or refits it */
} ser_train_config;

/* The CUDA backend's switches (how it computes, not what: a model trains the same function
 * with any of them). */
typedef struct ser_cuda_config {
    int device;                /* CUDA device ordinal */
    int graphs;                /* capture the full-batch training step into CUDA graphs (bool) */
    int tf32;                  /* allow TF32 tensor-core math in cuDNN / cuBLAS (bool; off: float32) */
} ser_cuda_config;

typedef struct ser_config {
    ser_audio_config audio;
    ser_feature_config features;
    ser_model_config model;
    ser_train_config train;
    ser_cuda_config cuda;
} ser_config;

/* Fills cfg with the reference recipe. */
void ser_config_defaults(ser_config *cfg);

/* Reads an INI file over the values already in cfg. An unknown section or key, or a value
 * that does not parse or is out of range, fails with "FILE:LINE: key section.key: reason". */
int ser_config_load(ser_config *cfg, const char *path, ser_error *err);

/* Applies one "section.key=value" override (the CLI's --set). */
int ser_config_set(ser_config *cfg, const char *assignment, ser_error *err);

/* Applies n overrides in order, then checks the combination once (so that keys that must agree,
 * such as features.logmel with n_mfcc = n_mels, may come in any order). On any error cfg is
 * left as it was; a key's error names its --set, a combination's the overrides. */
int ser_config_set_all(ser_config *cfg, const char *const *sets, int n, ser_error *err);

/* Cross-field checks (e.g. hop <= n_fft, fmax <= rate / 2). */
int ser_config_validate(const ser_config *cfg, ser_error *err);

/* The effective fmax (fmax <= 0 means sample_rate / 2). */
double ser_config_fmax(const ser_config *cfg);

/* Rows of a clip's feature matrix, the network input's height: n_mfcc + f0_rows. */
int ser_config_rows(const ser_config *cfg);

/* The whole configuration as a JSON object text (malloc'd; caller frees). */
char *ser_config_to_json(const ser_config *cfg);

/* Reads a configuration back from ser_config_to_json's text (a model's metadata): every key
 * of the table must be there with a value in range. */
int ser_config_from_json(ser_config *cfg, const char *json, ser_error *err);

/* Writes cfg as an INI file that ser_config_load reads back exactly (atomic: temp + rename). */
int ser_config_write_ini(const ser_config *cfg, const char *path, ser_error *err);

/* Writes "section.key = value" lines, one per key (for the resolved-config table). */
void ser_config_print(const ser_config *cfg, void *file /* FILE* */);

#ifdef __cplusplus
}
#endif

#endif
