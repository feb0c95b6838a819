/* The run folder of ser train: made, locked, cleared, recorded, resumed, checkpointed (contract in
 * ser/run.h). */
#define _DEFAULT_SOURCE /* realpath */
#include "ser/run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ser/mkdir_p.h"
#include "ser/report.h"
#include "ser/split.h"
#include "ser/wave_augment.h"

char *ser_run_path(const char *dir, const char *name, ser_error *err) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = ser_malloc(n, name, err);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int ser_run_folder_init(ser_run_folder *rf, const char *dir, ser_error *err) {
    memset(rf, 0, sizeof *rf);
    rf->dir = dir;
    rf->lock_fd = -1;
    rf->p_ckpt = ser_run_path(dir, "checkpoint.safetensors", err);
    rf->p_model = ser_run_path(dir, "model.safetensors", err);
    rf->p_hist = ser_run_path(dir, "history.jsonl", err);
    return rf->p_ckpt && rf->p_model && rf->p_hist ? 0 : -1;
}

void ser_run_folder_free(ser_run_folder *rf) {
    ser_noise_list_free(rf->noise, rf->n_noise);
    free(rf->noise_dir);
    free(rf->p_ckpt), free(rf->p_model), free(rf->p_hist);
    if (rf->lock_fd >= 0) close(rf->lock_fd);
    rf->lock_fd = -1;
    rf->noise = NULL, rf->n_noise = 0, rf->noise_dir = NULL;
    rf->p_ckpt = rf->p_model = rf->p_hist = NULL;
}

/* The run folder, made and writable. */
static int make_folder(const char *dir, ser_error *err) {
    if (ser_mkdir_p(dir, err) != 0) return -1;
    if (access(dir, W_OK) != 0) return ser_fail(err, "%s: output folder not writable: %s", dir, strerror(errno));
    return 0;
}

/* The files a run folder holds; each is written to NAME.tmp... beside it and renamed. */
static const char *const RUN_FILES[] = {"checkpoint.safetensors", "model.safetensors", "history.jsonl", "config.ini",
                                        "train.tsv", "val.tsv", "test.tsv", "model_summary.txt", "report.txt",
                                        "report.json", "training_history.png", "confusion_matrix_validation.png",
                                        "confusion_matrix_test.png", "noise.txt"};

/* Removes the temporary files of writes that a kill or a full disk interrupted, so that they
 * neither pile up over resumes nor pass for outputs. Only our own names: RUN_FILES[i].tmp... */
static void remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));)
        for (size_t i = 0; i < sizeof RUN_FILES / sizeof *RUN_FILES; i++) {
            const size_t l = strlen(RUN_FILES[i]);
            if (!strncmp(e->d_name, RUN_FILES[i], l) && !strncmp(e->d_name + l, ".tmp", 4)) {
                unlinkat(dirfd(d), e->d_name, 0);
                break;
            }
        }
    closedir(d);
}

/* One `ser train` per run folder: a second one (say a resume started while the first still
 * runs) would interleave its checkpoints and history with the first's. The lock is on the
 * folder itself, so it adds no file and goes with the process however that ends. */
static int lock_run(const char *dir, int *fd, ser_error *err) {
    *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0) return ser_fail(err, "%s: cannot open the run folder: %s", dir, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0)
        return ser_fail(err, "%s: %s", dir, errno == EWOULDBLOCK ? "another ser train is running in this folder"
                                                                   : strerror(errno));
    return 0;
}

int ser_run_open_fresh(ser_run_folder *rf, const char *noise_dir, ser_error *err) {
    /* before anything is written: an empty or unreadable folder fails now */
    if (noise_dir) {
        /* absolute, as the manifests' paths: a --resume from another folder finds the files */
        if (!(rf->noise_dir = realpath(noise_dir, NULL)))
            return ser_fail(err, "--noise-dir %s: %s", noise_dir, strerror(errno));
        if (ser_noise_list(rf->noise_dir, &rf->noise, &rf->n_noise, err) != 0) return ser_fail_wrap(err, "--noise-dir");
    }
    if (make_folder(rf->dir, err) != 0 || lock_run(rf->dir, &rf->lock_fd, err) != 0) return -1;
    /* A fresh run into a used folder: nothing of the old run may pair with the new one if this
     * one is killed early (a resume would take the old checkpoint or test.tsv for its own, and
     * an old model.safetensors would pass for this run's result). */
    for (size_t i = 0; i < sizeof RUN_FILES / sizeof *RUN_FILES; i++) {
        char *p = ser_run_path(rf->dir, RUN_FILES[i], err);
        if (!p) return -1;
        if (remove(p) != 0 && errno != ENOENT) {
            ser_fail(err, "%s: cannot remove the previous run's file: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        free(p);
    }
    remove_stale_temps(rf->dir);
    return 0;
}

/* RUN/noise.txt: "# noise folder: DIR", then one noise file a line (the exact list a resume uses). */
static int noise_write(const ser_run_folder *rf, ser_error *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return ser_fail(err, "noise.txt: %s", strerror(errno));
    fprintf(f, "# noise folder: %s\n", rf->noise_dir);
    for (size_t i = 0; i < rf->n_noise; i++) fprintf(f, "%s\n", rf->noise[i]);
    fclose(f);
    char *p = ser_run_path(rf->dir, "noise.txt", err);
    int rc = p && text ? ser_write_text_file(p, text, err) : p ? ser_fail(err, "noise.txt: out of memory") : -1;
    free(p), free(text);
    return rc;
}

static int noise_read(ser_run_folder *rf, const char *path, ser_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return ser_fail(err, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, cap_v = 0;
    int rc = 0;
    for (ssize_t l; !rc && (l = getline(&line, &cap, f)) > 0;) {
        while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = 0;
        if (!l) continue;
        if (!strncmp(line, "# noise folder: ", 16)) {
            free(rf->noise_dir);
            if (!(rf->noise_dir = strdup(line + 16))) rc = ser_fail(err, "out of memory");
            continue;
        }
        if (rf->n_noise == cap_v) {
            cap_v = cap_v ? 2 * cap_v : 64;
            char **v = realloc(rf->noise, cap_v * sizeof *v);
            if (!v) {
                rc = ser_fail(err, "out of memory");
                break;
            }
            rf->noise = v;
        }
        if (!(rf->noise[rf->n_noise] = strdup(line))) rc = ser_fail(err, "out of memory");
        else rf->n_noise++;
    }
    if (!rc && ferror(f)) rc = ser_fail(err, "%s: read error", path);
    free(line);
    fclose(f);
    if (!rc && !rf->n_noise) rc = ser_fail(err, "%s: lists no noise file", path);
    return rc;
}

int ser_run_record(const ser_run_folder *rf, const ser_config *cfg, const ser_clips *train, const ser_clips *val,
                   const ser_clips *test, ser_error *err) {
    char *pc = ser_run_path(rf->dir, "config.ini", err), *pt = ser_run_path(rf->dir, "train.tsv", err),
         *pv = ser_run_path(rf->dir, "val.tsv", err), *ps = ser_run_path(rf->dir, "test.tsv", err);
    /* config.ini last: its presence tells --resume that the manifests are complete. */
    int rc = !pc || !pt || !pv || !ps || ser_manifest_write(pt, train->v, NULL, train->n, err) ||
             ser_manifest_write(pv, val->v, NULL, val->n, err) ||
             (test->n && ser_manifest_write(ps, test->v, NULL, test->n, err)) || (rf->n_noise && noise_write(rf, err)) ||
             ser_config_write_ini(cfg, pc, err);
    free(pc), free(pt), free(pv), free(ps);
    return rc ? -1 : 0;
}

/* The config keys a --resume may --set: how long to go on and how to run, never what is
 * computed (features, model, data, seed, optimiser, augmentation): the rest of the run stays the
 * continuation of the recorded one. docs/reliability.md lists them with the reasons. */
static const char *const RESUME_KEYS[] = {"train.epochs", "train.early_stopping_patience", "train.tensorboard",
                                          "train.threads", "train.audio_cache_mb", "train.aug_prefetch", "cuda.device"};

/* --set on a resume: each key one of RESUME_KEYS (cfg is the recorded config, already overridden). */
static int resume_sets_allowed(const char *const *sets, int n_sets, const ser_config *recorded, const ser_config *cfg,
                               ser_error *err) {
    for (int i = 0; i < n_sets; i++) {
        const char *eq = strchr(sets[i], '=');
        const size_t len = eq ? (size_t)(eq - sets[i]) : strlen(sets[i]);
        int allowed = 0;
        for (size_t k = 0; k < sizeof RESUME_KEYS / sizeof *RESUME_KEYS; k++)
            allowed |= strlen(RESUME_KEYS[k]) == len && !strncmp(sets[i], RESUME_KEYS[k], len);
        if (!allowed)
            return ser_fail(err, "--set %s: %.*s cannot change on a resume (the run would no longer continue "
                                 "the recorded one); a resume may set train.epochs, train.early_stopping_patience, "
                                 "train.tensorboard, train.threads, train.audio_cache_mb, train.aug_prefetch, "
                                 "cuda.device",
                            sets[i], (int)len, sets[i]);
    }
    /* the cosine curve spans train.epochs: another count would jump the learning rate mid-run */
    if (recorded->train.cosine_decay && cfg->train.epochs != recorded->train.epochs)
        return ser_fail(err, "--set train.epochs=%d: the run uses train.cosine_decay, whose learning rate "
                             "curve spans the recorded %d epochs; it cannot be lengthened or shortened",
                        cfg->train.epochs, recorded->train.epochs);
    return 0;
}

int ser_run_open_resume(ser_run_folder *rf, const char *const *sets, int n_sets, ser_config *cfg, ser_clips *train,
                        ser_clips *val, ser_clips *test, ser_error *err) {
    const char *dir = rf->dir;
    /* a run killed before it made its folder wrote nothing: say so, as for a missing config.ini */
    struct stat st;
    if (stat(dir, &st) != 0 && errno == ENOENT)
        return ser_fail(err, "--resume %s: no such run folder: the run was stopped before training started; "
                             "start it again without --resume", dir);
    if (lock_run(dir, &rf->lock_fd, err) != 0) return ser_fail_wrap(err, "--resume");
    /* before the features are computed: a folder it cannot write to fails now, not later */
    if (access(dir, W_OK) != 0) return ser_fail(err, "--resume %s: run folder not writable: %s", dir, strerror(errno));
    char *p = ser_run_path(dir, "config.ini", err);
    if (!p) return ser_fail_wrap(err, "--resume %s", dir);
    /* config.ini is the last file a fresh run writes before training: without it the run
     * was stopped before it recorded what it trains on, and there is nothing to resume. */
    int rc = access(p, F_OK) != 0 && errno == ENOENT
                 ? ser_fail(err, "%s: no config.ini: the run was stopped before training started; start it again "
                                 "without --resume", dir)
                 : ser_config_load(cfg, p, err);
    if (!rc && n_sets) {
        /* --set of the keys a resume may change, recorded in config.ini so that the model,
         * the checkpoint and a later --resume all see the new values */
        const ser_config recorded = *cfg;
        rc = ser_config_set_all(cfg, sets, n_sets, err) || resume_sets_allowed(sets, n_sets, &recorded, cfg, err) ||
             ser_config_write_ini(cfg, p, err);
    }
    free(p);
    if (rc) return ser_fail_wrap(err, "--resume %s", dir);
    remove_stale_temps(dir);
    memset(train, 0, sizeof *train), memset(val, 0, sizeof *val), memset(test, 0, sizeof *test);
    char *pt = ser_run_path(dir, "train.tsv", err), *pv = ser_run_path(dir, "val.tsv", err),
         *ps = ser_run_path(dir, "test.tsv", err), *pn = ser_run_path(dir, "noise.txt", err);
    rc = !pt || !pv || !ps || !pn || ser_manifest_read(pt, train, err) || ser_manifest_read(pv, val, err);
    if (!rc && access(ps, F_OK) == 0) rc = ser_manifest_read(ps, test, err);
    if (!rc && access(pn, F_OK) == 0) rc = noise_read(rf, pn, err);
    free(pt), free(pv), free(ps), free(pn);
    return rc ? ser_fail_wrap(err, "--resume %s", dir) : 0;
}

int ser_run_resume_state(const ser_run_folder *rf, ser_net *net, ser_train_state *st, int patience,
                         ser_model_meta *meta, float **best, ser_error *err) {
    /* Stopped before its first checkpoint: from epoch 1, exactly as a fresh run (the split,
     * config and features are the recorded ones). */
    if (access(rf->p_ckpt, F_OK) != 0 && errno == ENOENT) {
        remove(rf->p_hist);
        return 1;
    }
    ser_model_meta saved;
    float *cur = NULL;
    const size_t ns = net->state_size(net->impl);
    if (ser_checkpoint_load(rf->p_ckpt, st, &cur, best, ns, &saved, err) != 0) {
        free(cur);
        return -1;
    }
    /* the scaler and labels of the run, exactly as the interrupted process had them */
    meta->scaler = saved.scaler;
    /* train.early_stopping_patience from config.ini (a resume may --set it): a run that
     * stopped early goes on when it is raised */
    st->es.patience = patience;
    memcpy(meta->vtln_ref, saved.vtln_ref, sizeof meta->vtln_ref);
    memcpy(meta->init_path, saved.init_path, sizeof meta->init_path);
    memcpy(meta->init_sha256, saved.init_sha256, sizeof meta->init_sha256);
    ser_model_meta_free(&saved);
    const int set = net->state_set(net->impl, cur, err);
    free(cur);
    if (set != 0) return ser_fail_wrap(err, "--resume %s: the checkpoint's state", rf->dir);
    /* history.jsonl may hold an epoch past the checkpoint (killed between the two writes) */
    ser_history_entry *h = NULL;
    size_t nh = 0;
    if (ser_history_read(rf->p_hist, &h, &nh, err) != 0) return -1;
    if (nh > (size_t)st->epoch) nh = (size_t)st->epoch;
    const int hrc = ser_history_write(rf->p_hist, h, nh, err);
    free(h);
    return hrc ? -1 : 0;
}

/* The epoch's history.jsonl values as TensorBoard scalars of the same names, step = epoch; a
 * missing value (null in history.jsonl: no validation set) is left out. */
static int tb_epoch(ser_tb *tb, const ser_history_entry *h, ser_error *err) {
    const char *tags[7] = {"loss", "accuracy", "val_loss", "val_accuracy", "val_uar", "lr", "seconds"};
    const double v[7] = {h->loss, h->accuracy, h->val_loss, h->val_accuracy, h->val_uar, h->lr, h->seconds};
    for (int i = 0; i < 7; i++)
        if (isfinite(v[i]) && ser_tb_scalar(tb, tags[i], h->epoch, (float)v[i], err) != 0) return -1;
    return 0;
}

int ser_run_epoch_end(const ser_run_folder *rf, ser_tb *tb, ser_net *net, const ser_train_state *st,
                      const ser_history_entry *h, const float *best, const ser_model_meta *meta, ser_error *err) {
    if (tb && tb_epoch(tb, h, err) != 0) return -1;
    const size_t ns = net->state_size(net->impl);
    float *cur = ser_malloc(ns * sizeof *cur, "checkpoint", err);
    if (!cur) return ser_fail_wrap(err, "checkpoint");
    /* a failed download writes nothing: the previous checkpoint stays the last good one */
    int rc = net->state_get(net->impl, cur, err) != 0 || ser_checkpoint_save(rf->p_ckpt, st, cur, best, ns, meta, err) != 0;
    free(cur);
    return rc ? ser_fail_wrap(err, "checkpoint") : 0;
}
