/* The run folder of `ser train` (docs/file-formats.md, docs/reliability.md): what a fresh run
 * records before it trains (config.ini last), what --resume reads back, the checkpoint after
 * each epoch, and the model and reports it ends with. host/train/run.c keeps the folder,
 * host/train/run_report.c writes the final files; `ser train` (host/cli/cmd_train.c) parses its
 * arguments, builds the features and the network, and calls these. Every file is written to
 * NAME.tmp... beside it and renamed. */
#ifndef SER_RUN_H
#define SER_RUN_H

#include <stddef.h>
#include <stdio.h>

#include "ser/checkpoint.h"
#include "ser/config.h"
#include "ser/corpus.h"
#include "ser/dataset.h"
#include "ser/error.h"
#include "ser/history.h"
#include "ser/net.h"
#include "ser/tensorboard.h"
#include "ser/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ser_run_folder {
    const char *dir;              /* RUN, as given (not copied) */
    int lock_fd;                  /* RUN opened and flock'ed (one ser train per folder); -1: not held */
    char *p_ckpt, *p_model, *p_hist; /* RUN/checkpoint.safetensors, model.safetensors, history.jsonl */
    char *noise_dir;              /* --noise-dir (absolute) or the one RUN/noise.txt records; NULL: none */
    char **noise;                 /* its .wav files, sorted (train.aug_noise_kind = folder) */
    size_t n_noise;
} ser_run_folder;

/* RUN/NAME, malloc'd; NULL (err says so) when out of memory. */
char *ser_run_path(const char *dir, const char *name, ser_error *err);

/* The folder's file paths; nothing is touched on disk. */
int ser_run_folder_init(ser_run_folder *rf, const char *dir, ser_error *err);
/* Releases the lock and frees what rf holds. */
void ser_run_folder_free(ser_run_folder *rf);

/* A fresh run: noise_dir's .wav files listed (may be NULL: none), the folder made and locked,
 * and every file of a previous run in it removed, so that nothing of the old run pairs with the
 * new one if this one is killed early. */
int ser_run_open_fresh(ser_run_folder *rf, const char *noise_dir, ser_error *err);

/* A fresh run records exactly what it trains on, so that --resume needs nothing else:
 * train.tsv, val.tsv, test.tsv (when test has clips), noise.txt (when there is noise), and
 * config.ini last: its presence tells --resume that the manifests are complete. */
int ser_run_record(const ser_run_folder *rf, const ser_config *cfg, const ser_clips *train, const ser_clips *val,
                   const ser_clips *test, ser_error *err);

/* --resume: the folder locked, cfg (defaults) loaded from RUN/config.ini with sets applied (only
 * the keys a resume may change: docs/reliability.md) and written back, stale temporary files
 * removed, the clips and noise files read back from the manifests and noise.txt. */
int ser_run_open_resume(ser_run_folder *rf, const char *const *sets, int n_sets, ser_config *cfg, ser_clips *train,
                        ser_clips *val, ser_clips *test, ser_error *err);

/* --resume: the training state from RUN/checkpoint.safetensors into net and st (initialised from
 * the config), the scaler, VTLN reference and --init record of the run into meta, and
 * history.jsonl cut to the checkpoint's epoch (a kill between the two writes leaves one more).
 * patience is the config's train.early_stopping_patience (a resume may raise it). *best gets
 * the best epoch's state (free it). Returns 1 when the run had no checkpoint yet (history.jsonl
 * removed: it trains from epoch 1 exactly as a fresh run), 0 when resumed, -1 on an error. */
int ser_run_resume_state(const ser_run_folder *rf, ser_net *net, ser_train_state *st, int patience,
                         ser_model_meta *meta, float **best, ser_error *err);

/* After each epoch: the epoch's history.jsonl values as TensorBoard scalars (tb may be NULL),
 * then RUN/checkpoint.safetensors (a failed download writes nothing: the previous checkpoint
 * stays the last good one). */
int ser_run_epoch_end(const ser_run_folder *rf, ser_tb *tb, ser_net *net, const ser_train_state *st,
                      const ser_history_entry *h, const float *best, const ser_model_meta *meta, ser_error *err);

/* RUN/model_summary.txt. */
int ser_run_write_summary(const char *dir, const ser_model *model, ser_error *err);

/* What the end of a run reports on (host/train/run_report.c). */
typedef struct ser_run_outputs {
    const ser_run_folder *rf;
    const ser_config *cfg;
    const ser_model_meta *meta;   /* labels, scaler, --init record */
    const ser_model *model;
    ser_net *net;
    ser_backend *be;
    ser_dataset *val, *test;      /* test->n 0: no test split */
    ser_tb *tb;                   /* NULL: no TensorBoard */
    int init_loaded, output_reset; /* --init in this process; it started the output layer afresh */
    FILE *log;                    /* progress lines; NULL: quiet */
} ser_run_outputs;

/* The end of a run: model.safetensors, training_history.png, the validation report and
 * confusion matrix, AdaBN over the test clips (train.test_adapt_bn: after the model file and
 * the validation report, so only the test evaluation sees it), the test report, report.txt,
 * report.json, and the confusion matrices as TensorBoard images. */
int ser_run_finish(const ser_run_outputs *o, const ser_train_result *res, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
