/* Configuration: one table of keys (section, name, type, default, range, help); INI files are
 * read with inih, --set overrides go through the same setter, JSON export uses cJSON. */
#include "ser/config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* KEY_ENUM: a choice by name, stored as the name's index; model JSON holds the name.
 * KEY_CODE: a choice that was an integer code before it had names: the name or the number is
 * accepted (old model files hold the number), INI files and printouts write the name, and model
 * JSON keeps the number, so ser builds and metadata readers that predate the names still read
 * new model files. */
typedef enum { KEY_INT, KEY_DOUBLE, KEY_BOOL, KEY_ENUM, KEY_CODE } key_type;

typedef struct config_key {
    const char *section;
    const char *name;
    key_type type;
    size_t offset;        /* offset of the field inside ser_config */
    double def;           /* the reference recipe's value */
    double min, max;      /* inclusive range */
    const char *help;
    int optional;         /* added after the first model files: absent from a model's JSON = default */
    const char *const *names; /* KEY_ENUM, KEY_CODE: the value names, NULL-terminated; stored as the index */
} config_key;

static const char *const MONITOR_NAMES[] = {"val_loss", "val_accuracy", "val_uar", NULL};
static const char *const PRECISE_BN_NAMES[] = {"off", "end", "epoch", NULL};
static const char *const NOISE_KIND_NAMES[] = {"off", "white", "pink", "folder", NULL}; /* SER_NOISE_* */
/* SER_FREEZE_*: the network's layers in order, each name freezing it and all before it */
static const char *const FREEZE_NAMES[] = {"none",   "block1", "block2", "block3", "block4",    "block5",
                                           "block6", "block7", "block8", "lstm1",  "attention", "lstm2", NULL};
static const char *const INIT_SCALER_NAMES[] = {"keep", "refit", NULL}; /* SER_INIT_SCALER_* */
static const char *const NORMALIZE_NAMES[] = {"none", "clip", "speaker", NULL}; /* SER_NORM_*, ser/normalize.h */

#define F(member) offsetof(ser_config, member)
static const config_key KEYS[] = {
    {"audio", "sample_rate", KEY_INT, F(audio.sample_rate), 22050, 1000, 384000, "target sample rate (Hz)", 0, NULL},
    {"audio", "offset", KEY_DOUBLE, F(audio.offset), 0.5, 0, 3600, "seconds skipped at the start", 0, NULL},
    {"audio", "duration", KEY_DOUBLE, F(audio.duration), 3.0, 0, 3600, "seconds read (0: to the end)", 0, NULL},
    {"audio", "trim_db", KEY_DOUBLE, F(audio.trim_db), 0, 0, 200, "leading silence skipped: offset counts from the first 20 ms frame (native rate) whose energy is within trim_db dB of the clip's loudest frame (0: off, from the file's start)", 1, NULL},
    {"features", "n_mfcc", KEY_INT, F(features.n_mfcc), 40, 1, 1024, "MFCC coefficients kept", 0, NULL},
    {"features", "n_fft", KEY_INT, F(features.n_fft), 2048, 16, 65536, "FFT size and window length", 0, NULL},
    {"features", "hop_length", KEY_INT, F(features.hop_length), 512, 1, 65536, "samples between frames", 0, NULL},
    {"features", "n_mels", KEY_INT, F(features.n_mels), 128, 1, 1024, "mel bands", 0, NULL},
    {"features", "fmin", KEY_DOUBLE, F(features.fmin), 0, 0, 192000, "lowest mel frequency (Hz)", 0, NULL},
    {"features", "fmax", KEY_DOUBLE, F(features.fmax), 0, 0, 192000, "highest mel frequency (Hz; 0: rate/2)", 0, NULL},
    {"features", "top_db", KEY_DOUBLE, F(features.top_db), 80, 0, 1000, "dB floor below the clip maximum", 0, NULL},
    {"features", "frames", KEY_INT, F(features.frames), 130, 1, 100000, "frames after pad/cut", 0, NULL},
    {"features", "normalize", KEY_CODE, F(features.normalize), 0, 0, 2, "per-utterance normalisation of each coefficient over the real frames: none, clip (per clip) or speaker (per speaker); 0, 1, 2 as before", 1, NORMALIZE_NAMES},
    {"features", "f0_rows", KEY_INT, F(features.f0_rows), 0, 0, 64, "rows of per-frame log2 F0 (aubio YIN, unvoiced frames interpolated) appended below the MFCCs; with normalize = speaker each speaker's standardised pitch (0: off)", 1, NULL},
    {"features", "vtln", KEY_DOUBLE, F(features.vtln), 0, 0, 0.3, "per-speaker vocal tract length normalisation: max |alpha - 1| of the warp searched to match the training set's cepstral statistics (0: off)", 1, NULL},
    {"features", "logmel", KEY_BOOL, F(features.logmel), 0, 0, 1, "rows are the log-mel spectrogram in dB (power_to_db, top_db) instead of its DCT, the MFCC; needs n_mfcc = n_mels (the row count)", 1, NULL},
    {"model", "conv_blocks", KEY_INT, F(model.conv_blocks), 4, 1, 8, "Conv-BN-ReLU-Pool-Dropout blocks", 0, NULL},
    {"model", "filters", KEY_INT, F(model.filters), 64, 1, 1024, "channels per conv block", 0, NULL},
    {"model", "kernel", KEY_INT, F(model.kernel), 3, 1, 15, "conv kernel size (odd, padding same)", 0, NULL},
    {"model", "pool", KEY_INT, F(model.pool), 2, 1, 8, "max-pool size and stride", 0, NULL},
    {"model", "dropout", KEY_DOUBLE, F(model.dropout), 0.2, 0, 0.95, "dropout rate after each block", 0, NULL},
    {"model", "l2", KEY_DOUBLE, F(model.l2), 0.01, 0, 10, "L2 factor on conv kernels", 0, NULL},
    {"model", "bn_momentum", KEY_DOUBLE, F(model.bn_momentum), 0.99, 0, 1, "batch-norm moving-average momentum", 0, NULL},
    {"model", "bn_epsilon", KEY_DOUBLE, F(model.bn_epsilon), 1e-3, 0, 1, "batch-norm epsilon", 0, NULL},
    {"model", "lstm_units", KEY_INT, F(model.lstm_units), 32, 1, 4096, "units of both LSTMs", 0, NULL},
    {"model", "attention", KEY_BOOL, F(model.attention), 1, 0, 1, "additive attention between the LSTMs", 0, NULL},
    {"model", "time_axis", KEY_BOOL, F(model.time_axis), 0, 0, 1, "LSTM sequence over frames instead of MFCC coefficients", 1, NULL},
    {"model", "stats_pool", KEY_BOOL, F(model.stats_pool), 0, 0, 1, "statistics pooling beside the attention: the mean and standard deviation over time of LSTM1's outputs join the attention output as LSTM2's input (3 x lstm_units wide); needs model.attention", 1, NULL},
    {"train", "epochs", KEY_INT, F(train.epochs), 300, 1, 100000, "maximum epochs", 0, NULL},
    {"train", "batch_size", KEY_INT, F(train.batch_size), 64, 1, 65536, "clips per step", 0, NULL},
    {"train", "learning_rate", KEY_DOUBLE, F(train.learning_rate), 5e-4, 0, 10, "Adam learning rate", 0, NULL},
    {"train", "beta1", KEY_DOUBLE, F(train.beta1), 0.9, 0, 1, "Adam beta1", 0, NULL},
    {"train", "beta2", KEY_DOUBLE, F(train.beta2), 0.999, 0, 1, "Adam beta2", 0, NULL},
    {"train", "adam_epsilon", KEY_DOUBLE, F(train.adam_epsilon), 1e-7, 0, 1, "Adam epsilon", 0, NULL},
    {"train", "validation_split", KEY_DOUBLE, F(train.validation_split), 0.125, 0, 0.9, "validation fraction", 0, NULL},
    {"train", "seed", KEY_INT, F(train.seed), 42, 0, 2147483647, "seed of splits, init, shuffling, dropout", 0, NULL},
    {"train", "early_stopping_patience", KEY_INT, F(train.early_stopping_patience), 10, 0, 100000, "epochs without val_loss gain before stopping (0: off)", 0, NULL},
    {"train", "lr_patience", KEY_INT, F(train.lr_patience), 5, 0, 100000, "epochs without val_loss gain before LR drop (0: off)", 0, NULL},
    {"train", "lr_factor", KEY_DOUBLE, F(train.lr_factor), 0.5, 0, 1, "LR multiplier on plateau", 0, NULL},
    {"train", "min_lr", KEY_DOUBLE, F(train.min_lr), 1e-6, 0, 10, "LR floor", 0, NULL},
    {"train", "threads", KEY_INT, F(train.threads), 0, 0, 1024, "CPU threads (0: all cores)", 0, NULL},
    {"train", "aug_time_shift", KEY_INT, F(train.aug_time_shift), 0, 0, 100000, "augmentation: max circular shift of the frames (0: off)", 1, NULL},
    {"train", "aug_time_masks", KEY_INT, F(train.aug_time_masks), 0, 0, 100, "augmentation: SpecAugment time masks per clip", 1, NULL},
    {"train", "aug_time_width", KEY_INT, F(train.aug_time_width), 0, 0, 100000, "augmentation: max frames per time mask", 1, NULL},
    {"train", "aug_freq_masks", KEY_INT, F(train.aug_freq_masks), 0, 0, 100, "augmentation: SpecAugment coefficient masks per clip", 1, NULL},
    {"train", "aug_freq_width", KEY_INT, F(train.aug_freq_width), 0, 0, 1024, "augmentation: max coefficients per mask", 1, NULL},
    {"train", "aug_noise", KEY_DOUBLE, F(train.aug_noise), 0, 0, 100, "augmentation: std of gaussian noise on the scaled features", 1, NULL},
    {"train", "aug_gain", KEY_DOUBLE, F(train.aug_gain), 0, 0, 100, "augmentation: max |offset| added to c0 (scaled units)", 1, NULL},
    {"train", "aug_vtlp", KEY_DOUBLE, F(train.aug_vtlp), 0, 0, 0.5, "augmentation: VTLP, max |alpha - 1| of the per-clip mel frequency warp (features recomputed per epoch; 0: off)", 1, NULL},
    {"train", "aug_vtlp_speakers", KEY_INT, F(train.aug_vtlp_speakers), 0, 0, 1000, "augmentation: VTLP per virtual speaker: each epoch splits every speaker's clips at random into this many groups with one warp each, normalised per group (0: a warp per clip)", 1, NULL},
    {"train", "aug_vtlp_fhi", KEY_DOUBLE, F(train.aug_vtlp_fhi), 4800, 1, 192000, "augmentation: VTLP warp boundary frequency (Hz)", 1, NULL},
    {"train", "aug_speed", KEY_DOUBLE, F(train.aug_speed), 0, 0, 0.5, "augmentation: speed perturbation, factors 1 - s, 1, 1 + s at random per clip and epoch (libsoxr resampling: duration / factor, pitch x factor; features recomputed per epoch; 0: off)", 1, NULL},
    {"train", "aug_wave_shift", KEY_DOUBLE, F(train.aug_wave_shift), 0, 0, 60, "augmentation: max seconds the waveform is shifted either way inside the read window (zeros fill, the other end is cropped; 0: off)", 1, NULL},
    {"train", "aug_wave_gain", KEY_DOUBLE, F(train.aug_wave_gain), 0, 0, 60, "augmentation: max |gain| in dB applied to the waveform (0: off)", 1, NULL},
    {"train", "aug_noise_kind", KEY_ENUM, F(train.aug_noise_kind), 0, 0, 3, "augmentation: additive noise on the waveform: off, white, pink, or folder (segments of the .wav files of ser train --noise-dir DIR)", 1, NOISE_KIND_NAMES},
    {"train", "aug_noise_prob", KEY_DOUBLE, F(train.aug_noise_prob), 1, 0, 1, "augmentation: probability that a clip gets noise in an epoch", 1, NULL},
    {"train", "aug_noise_snr_min", KEY_DOUBLE, F(train.aug_noise_snr_min), 10, -30, 100, "augmentation: lowest SNR (dB) of the added noise", 1, NULL},
    {"train", "aug_noise_snr_max", KEY_DOUBLE, F(train.aug_noise_snr_max), 30, -30, 100, "augmentation: highest SNR (dB) of the added noise", 1, NULL},
    {"train", "audio_cache_mb", KEY_INT, F(train.audio_cache_mb), 512, 0, 1048576, "per-epoch features (waveform augmentation, VTLP): MiB of decoded training audio kept across epochs; clips beyond it are decoded again every epoch", 1, NULL},
    {"train", "aug_prefetch", KEY_BOOL, F(train.aug_prefetch), 1, 0, 1, "per-epoch features: compute the next epoch's on a background thread while this one trains (same bits either way)", 1, NULL},
    {"train", "mixup", KEY_DOUBLE, F(train.mixup), 0, 0, 100, "mixup: each training clip mixed with one of its batch, weights Beta(mixup, mixup) folded to >= 0.5 for its own label, targets mixed alike (0: off)", 1, NULL},
    {"train", "label_smoothing", KEY_DOUBLE, F(train.label_smoothing), 0, 0, 0.99, "loss targets (1 - ls) onehot + ls / classes (Keras CategoricalCrossentropy label_smoothing; 0: off)", 1, NULL},
    {"train", "cosine_decay", KEY_BOOL, F(train.cosine_decay), 0, 0, 1, "learning rate by Keras CosineDecay per step, learning_rate down to min_lr over all epochs, instead of ReduceLROnPlateau", 1, NULL},
    {"train", "tensorboard", KEY_BOOL, F(train.tensorboard), 0, 0, 1, "write TensorBoard event files to RUN/tb/ (per-epoch scalars of history.jsonl, the validation confusion matrix image; docs/tensorboard.md)", 1, NULL},
    {"train", "precise_bn", KEY_ENUM, F(train.precise_bn), SER_PRECISE_BN_EPOCH, 0, 2, "batch-norm moving statistics re-estimated over the training clips (one pass of the conv blocks, each normalised by its batch's statistics): epoch (before every validation pass), end (once, after training) or off (Keras's moving averages, the reference)", 1, PRECISE_BN_NAMES},
    {"train", "precise_bn_batches", KEY_INT, F(train.precise_bn_batches), 10, 0, 1000000, "precise_bn = epoch: batches of batch_size training clips the statistics are taken over (a seeded random subset, the same every epoch; 0: every training clip; end always takes every clip)", 1, NULL},
    {"train", "monitor", KEY_ENUM, F(train.monitor), SER_MONITOR_VAL_LOSS, 0, 2, "what early stopping, ReduceLROnPlateau and the kept best epoch follow: val_loss (lower is better), val_accuracy or val_uar (higher is better)", 1, MONITOR_NAMES},
    {"train", "balanced_batches", KEY_BOOL, F(train.balanced_batches), 0, 0, 1, "class-balanced epochs: each epoch draws every class equally often (a class with fewer clips repeats them, one with more leaves some out that epoch; the epoch keeps its length)", 1, NULL},
    {"train", "test_adapt_bn", KEY_BOOL, F(train.test_adapt_bn), 0, 0, 1, "AdaBN: evaluate the test set with batch-norm statistics taken over the test clips", 1, NULL},
    {"train", "freeze", KEY_ENUM, F(train.freeze), SER_FREEZE_NONE, 0, SER_FREEZE_LSTM2, "fine-tuning: the first layers of the network kept fixed, up to and including this one: none, blockN (conv blocks 1..N: kernels, biases, BN gamma, beta and moving statistics), lstm1, attention (also lstm1) or lstm2 (everything but the dense output layer)", 1, FREEZE_NAMES},
    {"train", "init_scaler", KEY_ENUM, F(train.init_scaler), SER_INIT_SCALER_KEEP, 0, 1, "ser train --init MODEL: keep the model's feature scaler (the input its weights were trained on) or refit it on this run's training clips", 1, INIT_SCALER_NAMES},
    {"cuda", "device", KEY_INT, F(cuda.device), 0, 0, 1023, "CUDA device ordinal", 0, NULL},
    {"cuda", "graphs", KEY_BOOL, F(cuda.graphs), 1, 0, 1, "replay the full-batch training step as CUDA graphs", 0, NULL},
    {"cuda", "tf32", KEY_BOOL, F(cuda.tf32), 0, 0, 1, "allow TF32 math in cuDNN / cuBLAS (off: plain float32)", 0, NULL},
};
#undef F
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

static void key_store(ser_config *cfg, const config_key *k, double v) {
    char *p = (char *)cfg + k->offset;
    if (k->type == KEY_DOUBLE) *(double *)p = v;
    else *(int *)p = (int)v;
}

static double key_load(const ser_config *cfg, const config_key *k) {
    const char *p = (const char *)cfg + k->offset;
    return k->type == KEY_DOUBLE ? *(const double *)p : (double)*(const int *)p;
}

void ser_config_defaults(ser_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NKEYS; i++) key_store(cfg, &KEYS[i], KEYS[i].def);
}

static const config_key *key_find(const char *section, const char *name) {
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(KEYS[i].section, section) && !strcmp(KEYS[i].name, name)) return &KEYS[i];
    return NULL;
}

static int section_known(const char *section) {
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(KEYS[i].section, section)) return 1;
    return 0;
}

/* Parses and range-checks one value; "where" prefixes the message ("FILE:LINE" or "--set"). */
static int key_assign(ser_config *cfg, const char *where, const char *section, const char *name,
                      const char *value, ser_error *err) {
    const config_key *k = key_find(section, name);
    if (!k) {
        if (!section_known(section))
            return ser_fail(err, "%s: unknown section [%s] (key %s.%s)", where, section, section, name);
        return ser_fail(err, "%s: unknown key %s.%s", where, section, name);
    }
    double v;
    if (k->type == KEY_ENUM || k->type == KEY_CODE) {
        v = -1;
        int n = 0;
        for (; k->names[n]; n++)
            if (!strcmp(value, k->names[n])) v = n;
        if (v < 0 && k->type == KEY_CODE) { /* the number the name stands for (0 .. n-1) */
            char *end = NULL;
            long code = strtol(value, &end, 10);
            if (end != value && *end == '\0' && code >= 0 && code < n) v = (double)code;
        }
        if (v < 0) {
            char choices[256] = "";
            for (int i = 0; k->names[i]; i++)
                snprintf(choices + strlen(choices), sizeof choices - strlen(choices), "%s%s", i ? ", " : "", k->names[i]);
            if (k->type == KEY_CODE)
                snprintf(choices + strlen(choices), sizeof choices - strlen(choices), " (or 0 .. %d)", n - 1);
            return ser_fail(err, "%s: key %s.%s: '%s' is not one of %s", where, section, name, value, choices);
        }
    } else if (k->type == KEY_BOOL) {
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1") || !strcasecmp(value, "on")) v = 1;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcmp(value, "0") || !strcasecmp(value, "off")) v = 0;
        else return ser_fail(err, "%s: key %s.%s: '%s' is not a boolean (true/false)", where, section, name, value);
    } else {
        char *end = NULL;
        errno = 0;
        v = strtod(value, &end);
        if (end == value || *end != '\0' || errno == ERANGE || !isfinite(v))
            return ser_fail(err, "%s: key %s.%s: '%s' is not a number", where, section, name, value);
        if (k->type == KEY_INT && v != floor(v))
            return ser_fail(err, "%s: key %s.%s: '%s' is not a whole number", where, section, name, value);
    }
    if (v < k->min || v > k->max)
        return ser_fail(err, "%s: key %s.%s: %s is out of range [%g, %g] (%s)", where, section, name, value,
                        k->min, k->max, k->help);
    key_store(cfg, k, v);
    return 0;
}

typedef struct ini_state {
    ser_config *cfg;
    const char *path;
    FILE *file;
    int line;           /* counted by our reader: inih reads one line per call */
    int failed;
    ser_error *err;
} ini_state;

static char *config_line_reader(char *buf, int size, void *stream) {
    ini_state *st = stream;
    char *r = fgets(buf, size, st->file);
    if (r) st->line++;
    return r;
}

static int config_key_handler(void *user, const char *section, const char *name, const char *value) {
    ini_state *st = user;
    if (st->failed) return 0;
    char where[600];
    snprintf(where, sizeof where, "%s:%d", st->path, st->line);
    if (key_assign(st->cfg, where, section, name, value, st->err) != 0) {
        st->failed = 1;
        return 0;
    }
    return 1;
}

int ser_config_load(ser_config *cfg, const char *path, ser_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return ser_fail(err, "%s: cannot open config: %s", path, strerror(errno));
    ini_state st = {cfg, path, f, 0, 0, err};
    int rc = ini_parse_stream(config_line_reader, &st, config_key_handler, &st);
    fclose(f);
    if (st.failed) return -1;
    if (rc > 0) return ser_fail(err, "%s:%d: syntax error (expected [section] or key = value)", path, rc);
    if (rc < 0) return ser_fail(err, "%s: cannot read config", path);
    /* the combination of keys is checked last: say which file holds it */
    return ser_config_validate(cfg, err) != 0 ? ser_fail_wrap(err, "%s", path) : 0;
}

int ser_config_set(ser_config *cfg, const char *assignment, ser_error *err) {
    return ser_config_set_all(cfg, &assignment, 1, err);
}

int ser_config_set_all(ser_config *cfg, const char *const *sets, int n, ser_error *err) {
    ser_config next = *cfg;
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(sets[i], '=');
        const char *dot = strchr(sets[i], '.');
        if (!eq || !dot || dot > eq) return ser_fail(err, "--set %s: expected section.key=value", sets[i]);
        char section[64], name[64], value[256];
        size_t ls = (size_t)(dot - sets[i]), ln = (size_t)(eq - dot - 1);
        if (ls == 0 || ls >= sizeof section || ln == 0 || ln >= sizeof name || strlen(eq + 1) >= sizeof value)
            return ser_fail(err, "--set %s: expected section.key=value", sets[i]);
        memcpy(section, sets[i], ls);
        section[ls] = 0;
        memcpy(name, dot + 1, ln);
        name[ln] = 0;
        strcpy(value, eq + 1);
        char where[sizeof section + sizeof name + sizeof value + 8];
        snprintf(where, sizeof where, "--set %s", sets[i]);
        if (key_assign(&next, where, section, name, value, err) != 0) return -1;
    }
    /* the combination once, after every override: `--set features.logmel=true --set
     * features.n_mfcc=64 --set features.n_mels=64` is valid in any order */
    if (n > 0 && ser_config_validate(&next, err) != 0)
        return ser_fail_wrap(err, n == 1 ? "--set %s" : "--set %s and the other %d overrides", sets[0], n - 1);
    *cfg = next;
    return 0;
}

double ser_config_fmax(const ser_config *cfg) {
    return cfg->features.fmax > 0 ? cfg->features.fmax : cfg->audio.sample_rate / 2.0;
}

int ser_config_rows(const ser_config *cfg) { return cfg->features.n_mfcc + cfg->features.f0_rows; }

int ser_config_validate(const ser_config *cfg, ser_error *err) {
    const ser_feature_config *f = &cfg->features;
    if (f->hop_length > f->n_fft)
        return ser_fail(err, "features.hop_length (%d) must not exceed features.n_fft (%d)", f->hop_length, f->n_fft);
    if (f->n_mfcc > f->n_mels)
        return ser_fail(err, "features.n_mfcc (%d) must not exceed features.n_mels (%d)", f->n_mfcc, f->n_mels);
    if (f->logmel && f->n_mfcc != f->n_mels)
        return ser_fail(err, "features.logmel = true needs features.n_mfcc (%d) = features.n_mels (%d): the rows are the mel bands",
                        f->n_mfcc, f->n_mels);
    double fmax = ser_config_fmax(cfg);
    if (fmax > cfg->audio.sample_rate / 2.0 + 1e-9)
        return ser_fail(err, "features.fmax (%g) must not exceed audio.sample_rate / 2 (%g)", fmax, cfg->audio.sample_rate / 2.0);
    if (f->fmin >= fmax)
        return ser_fail(err, "features.fmin (%g) must be below features.fmax (%g)", f->fmin, fmax);
    /* waveform augmentation and VTLP recompute every row through the one feature loop (pitch
     * rows included); the speaker warp of features.vtln recomputes the MFCC rows only */
    if (f->f0_rows > 0 && f->vtln > 0)
        return ser_fail(err, "features.f0_rows (%d) cannot be combined with features.vtln: it recomputes the MFCC rows only",
                        f->f0_rows);
    const ser_train_config *t = &cfg->train;
    if (cfg->model.stats_pool && !cfg->model.attention)
        return ser_fail(err, "model.stats_pool = true needs model.attention = true: the statistics are pooled beside the "
                             "attention output, as LSTM2's one input step");
    if (cfg->model.kernel % 2 == 0)
        return ser_fail(err, "model.kernel (%d) must be odd (padding same)", cfg->model.kernel);
    if (t->freeze >= SER_FREEZE_BLOCK1 && t->freeze < SER_FREEZE_LSTM1 && t->freeze > cfg->model.conv_blocks)
        return ser_fail(err, "train.freeze = block%d: the network has %d conv block(s) (model.conv_blocks)", t->freeze,
                        cfg->model.conv_blocks);
    if (t->freeze == SER_FREEZE_ATTENTION && !cfg->model.attention)
        return ser_fail(err, "train.freeze = attention: the network has no attention (model.attention = false)");
    return 0;
}

char *ser_config_to_json(const ser_config *cfg) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        const config_key *k = &KEYS[i];
        cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, k->section);
        if (!sec) sec = cJSON_AddObjectToObject(root, k->section);
        double v = key_load(cfg, k);
        if (k->type == KEY_BOOL) cJSON_AddBoolToObject(sec, k->name, v != 0);
        else if (k->type == KEY_ENUM) cJSON_AddStringToObject(sec, k->name, k->names[(int)v]);
        else if (k->type == KEY_CODE) cJSON_AddNumberToObject(sec, k->name, v); /* the number: see key_type */
        else cJSON_AddNumberToObject(sec, k->name, v);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

void ser_config_print(const ser_config *cfg, void *file) {
    FILE *f = file;
    for (size_t i = 0; i < NKEYS; i++) {
        const config_key *k = &KEYS[i];
        double v = key_load(cfg, k);
        if (k->type == KEY_BOOL) fprintf(f, "%s.%s = %s\n", k->section, k->name, v != 0 ? "true" : "false");
        else if (k->type == KEY_ENUM || k->type == KEY_CODE) fprintf(f, "%s.%s = %s\n", k->section, k->name, k->names[(int)v]);
        else fprintf(f, "%s.%s = %.10g\n", k->section, k->name, v);
    }
}

int ser_config_from_json(ser_config *cfg, const char *json, ser_error *err) {
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ser_fail(err, "config JSON: not a JSON object");
    }
    ser_config_defaults(cfg);
    int rc = 0;
    for (size_t i = 0; i < NKEYS && rc == 0; i++) {
        const config_key *k = &KEYS[i];
        const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, k->section);
        const cJSON *v = sec ? cJSON_GetObjectItemCaseSensitive(sec, k->name) : NULL;
        /* [cuda] holds device switches, not the recipe; models saved before it existed lack it */
        if (!v && !strcmp(k->section, "cuda")) continue;
        if (!v && k->optional) continue; /* a model written before the key existed: its default */
        if (!v) {
            rc = ser_fail(err, "config JSON: missing key %s.%s", k->section, k->name);
            break;
        }
        char text[64];
        if (cJSON_IsBool(v)) snprintf(text, sizeof text, "%s", cJSON_IsTrue(v) ? "true" : "false");
        else if (cJSON_IsNumber(v)) snprintf(text, sizeof text, "%.17g", v->valuedouble);
        else if (cJSON_IsString(v) && (k->type == KEY_ENUM || k->type == KEY_CODE)) snprintf(text, sizeof text, "%s", v->valuestring);
        else {
            rc = ser_fail(err, "config JSON: key %s.%s is not a number, boolean or name", k->section, k->name);
            break;
        }
        rc = key_assign(cfg, "config JSON", k->section, k->name, text, err);
    }
    cJSON_Delete(root);
    return rc ? -1 : ser_config_validate(cfg, err);
}

int ser_config_write_ini(const ser_config *cfg, const char *path, ser_error *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return ser_fail(err, "%s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return ser_fail(err, "%s: cannot write: %s", tmp, strerror(errno));
    fprintf(f, "# ser configuration (resolved); ser --config reads it back exactly\n");
    const char *section = "";
    for (size_t i = 0; i < NKEYS; i++) {
        const config_key *k = &KEYS[i];
        if (strcmp(section, k->section)) {
            fprintf(f, "%s[%s]\n", i ? "\n" : "", k->section);
            section = k->section;
        }
        double v = key_load(cfg, k);
        if (k->type == KEY_BOOL) fprintf(f, "%s = %s\n", k->name, v != 0 ? "true" : "false");
        else if (k->type == KEY_ENUM || k->type == KEY_CODE) fprintf(f, "%s = %s\n", k->name, k->names[(int)v]);
        else fprintf(f, "%s = %.17g\n", k->name, v);
    }
    if (fflush(f) != 0 || ferror(f)) {
        fclose(f);
        remove(tmp);
        return ser_fail(err, "%s: write failed: %s", tmp, strerror(errno));
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return ser_fail(err, "%s: cannot write: %s", path, strerror(errno));
    }
    return 0;
}
