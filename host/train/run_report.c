/* The files a ser train run ends with: the model, the history plot, the reports and confusion
 * matrices (contract in ser/run.h). */
#define _DEFAULT_SOURCE /* open_memstream */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "ser/bn_reestimate.h"
#include "ser/plot.h"
#include "ser/report.h"
#include "ser/run.h"

int ser_run_write_summary(const char *dir, const ser_model *model, ser_error *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return ser_fail(err, "model summary: %s", strerror(errno));
    ser_model_summary(model, f);
    fclose(f);
    char *p = ser_run_path(dir, "model_summary.txt", err);
    int rc = p && text ? ser_write_text_file(p, text, err) : p ? ser_fail(err, "model summary: out of memory") : -1;
    free(p), free(text);
    return rc;
}

/* Evaluates one split, adds its report to text/json, writes its confusion matrix. */
static int evaluate_split(const ser_run_outputs *o, ser_dataset *ds, const char *name, const char *png, char **text,
                          cJSON *json, ser_error *err) {
    int32_t *pred = ser_malloc(ds->n * sizeof *pred, "predictions", err);
    if (!pred) return -1;
    ser_loop_data d = ser_loop_data_of(ds);
    double loss, acc;
    int rc = ser_evaluate(o->net, &d, o->cfg->train.batch_size, &loss, &acc, pred, NULL, err);
    char *rep = NULL;
    cJSON *js = NULL;
    char *pp = rc ? NULL : ser_run_path(o->rf->dir, png, err), title[64];
    if (!rc && !pp) rc = -1;
    snprintf(title, sizeof title, "Confusion matrix (%s)", name);
    const char *const *labels = (const char *const *)o->meta->labels;
    const int n_labels = (int)o->meta->n_labels;
    if (!rc) rc = ser_report_split(ds->y, pred, ds->n, labels, n_labels, title, pp, &rep, &js, err);
    /* WA and UA by corpus (docs/multi-corpus.md), after the split's own report */
    const char **corp = rc ? NULL : ser_malloc((ds->n ? ds->n : 1) * sizeof *corp, "corpus names", err);
    if (!rc && !corp) rc = -1;
    for (size_t i = 0; corp && i < ds->n; i++) corp[i] = ds->clips.v[i].corpus;
    if (!rc) rc = ser_report_by_corpus(ds->y, pred, ds->n, corp, n_labels, &rep, js, err);
    free(corp), free(pp), free(pred);
    if (rc) {
        free(rep), cJSON_Delete(js);
        return -1;
    }
    cJSON_AddNumberToObject(js, "loss", loss);
    cJSON_AddNumberToObject(js, "clips", (double)ds->n);
    cJSON_AddItemToObject(json, name, js);
    size_t old = *text ? strlen(*text) : 0, add = strlen(rep) + strlen(name) + 96;
    char *t = realloc(*text, old + add);
    if (t) snprintf(t + old, add, "== %s: %zu clips, loss %.4f, accuracy %.4f\n\n%s\n", name, ds->n, loss, acc, rep);
    if (t) *text = t;
    free(rep);
    if (o->log) fprintf(o->log, "ser train: %s accuracy %.4f (%zu clips), loss %.4f\n", name, acc, ds->n, loss);
    return t ? 0 : ser_fail(err, "%s report: out of memory", name);
}

/* RUN/training_history.png from history.jsonl; *best_val_loss gets the best epoch's validation
 * loss, whatever train.monitor followed. */
static int plot_history(const ser_run_outputs *o, const ser_train_result *res, double *best_val_loss, ser_error *err) {
    ser_history_entry *h = NULL;
    size_t nh = 0;
    if (ser_history_read(o->rf->p_hist, &h, &nh, err) != 0) return -1;
    double *v = malloc(5 * (nh ? nh : 1) * sizeof *v);
    for (size_t i = 0; v && i < nh; i++)
        v[i] = h[i].accuracy, v[nh + i] = h[i].val_accuracy, v[2 * nh + i] = h[i].val_uar, v[3 * nh + i] = h[i].loss,
        v[4 * nh + i] = h[i].val_loss;
    char *pp = ser_run_path(o->rf->dir, "training_history.png", err);
    int rc = !pp ? -1
             : v ? ser_plot_history(pp, (int)nh, v, v + nh, v + 2 * nh, v + 3 * nh, v + 4 * nh, err)
                 : ser_fail(err, "training history plot: out of memory");
    *best_val_loss = res->best_epoch >= 1 && (size_t)res->best_epoch <= nh ? h[res->best_epoch - 1].val_loss : NAN;
    free(pp), free(v), free(h);
    return rc;
}

int ser_run_finish(const ser_run_outputs *o, const ser_train_result *res, ser_error *err) {
    const ser_config *cfg = o->cfg;
    if (ser_model_save(o->rf->p_model, o->model, o->model->params, o->meta, err) != 0) return -1;
    double best_val_loss;
    if (plot_history(o, res, &best_val_loss, err) != 0) return -1;
    char *text = NULL;
    cJSON *json = cJSON_CreateObject();
    if (!json) return ser_fail(err, "report.json: out of memory");
    cJSON_AddNumberToObject(json, "epochs_run", res->epochs_run);
    cJSON_AddNumberToObject(json, "best_epoch", res->best_epoch);
    cJSON_AddNumberToObject(json, "best_val_loss", best_val_loss);
    cJSON_AddStringToObject(json, "monitor", ser_monitor_name(cfg->train.monitor));
    cJSON_AddNumberToObject(json, "best_monitor", res->best_monitor);
    cJSON_AddBoolToObject(json, "stopped_early", res->stopped_early);
    cJSON_AddStringToObject(json, "backend", o->be->ops->name);
    if (o->meta->init_path[0]) { /* fine-tuned: from what (a resumed run has it from its checkpoint) */
        cJSON *init = cJSON_AddObjectToObject(json, "init");
        cJSON_AddStringToObject(init, "path", o->meta->init_path);
        cJSON_AddStringToObject(init, "sha256", o->meta->init_sha256);
        if (o->init_loaded) cJSON_AddBoolToObject(init, "output_layer_reset", o->output_reset);
    }
    if (o->rf->noise_dir) {
        cJSON_AddStringToObject(json, "noise_dir", o->rf->noise_dir);
        cJSON_AddNumberToObject(json, "noise_files", (double)o->rf->n_noise);
    }
    int rc = evaluate_split(o, o->val, "validation", "confusion_matrix_validation.png", &text, json, err);
    /* AdaBN after the model file and the validation report: only the test evaluation sees it */
    if (!rc && o->test->n && cfg->train.test_adapt_bn) {
        if (o->log)
            fprintf(o->log, "ser train: test: batch-norm statistics over the %zu test clips (AdaBN)\n", o->test->n);
        rc = ser_bn_reestimate_dataset(o->be, o->test, 0, (uint64_t)cfg->train.seed, err);
        cJSON_AddBoolToObject(json, "test_adapt_bn", 1);
    }
    if (!rc && o->test->n) rc = evaluate_split(o, o->test, "test", "confusion_matrix_test.png", &text, json, err);
    char *js = rc ? NULL : cJSON_Print(json);
    char *pt = rc ? NULL : ser_run_path(o->rf->dir, "report.txt", err),
         *pj = rc ? NULL : ser_run_path(o->rf->dir, "report.json", err);
    if (!rc && (!js || !text)) rc = ser_fail(err, "report: out of memory");
    if (!rc) rc = !pt || !pj || ser_write_text_file(pt, text, err) || ser_write_text_file(pj, js, err);
    free(pt), free(pj), free(js), free(text);
    cJSON_Delete(json);
    /* the confusion matrices as TensorBoard images, at the last epoch run */
    for (int i = 0; !rc && o->tb && i < (o->test->n ? 2 : 1); i++) {
        const char *name = i ? "confusion_matrix_test" : "confusion_matrix_validation";
        char png[64];
        snprintf(png, sizeof png, "%s.png", name);
        char *ppng = ser_run_path(o->rf->dir, png, err);
        rc = ppng ? ser_tb_png_file(o->tb, name, res->epochs_run, ppng, err) : -1;
        free(ppng);
    }
    return rc ? -1 : 0;
}
