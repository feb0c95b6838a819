/* `ser eval`: a trained model on a labelled folder or manifest: the reference's report
 * (precision / recall / F1 per class, macro and weighted averages, accuracy) and the test
 * confusion matrix PNG; --json prints one JSON object instead. Several --model: an ensemble
 * (the mean of their probabilities; a folder stands for every RUN/model.safetensors in it);
 * --adapt-bn: AdaBN over the evaluated clips first. */
#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "device.h"
#include "data_args.h"
#include "loaded_model.h"
#include "ser/report.h"
#include "ser/split.h"

#define EVAL_MAX_MODELS 256

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser eval --model RUN/model.safetensors [--model M2 ...]\n"
            "                (--data DIR [--corpus K] [--data DIR2 [--corpus K2]]... | --list F)\n"
            "                [--labels L,...] [--label-map A=B] [--png FILE] [--json] [--adapt-bn]\n"
            "                [--device auto|cpu|cuda]\n\n"
            "Evaluates the model on every labelled clip of DIR (or of the manifest F): prints the\n"
            "per-class precision / recall / F1, macro and weighted averages and the accuracy, and\n"
            "writes the confusion matrix (default: confusion_matrix_test.png beside the first model).\n"
            "WA and UA by corpus follow (one line per corpus; --json: \"by_corpus\"), whenever the\n"
            "clips name their corpus (every scan does; a manifest from before the corpus column not).\n"
            "%s"
            "  --model     repeated (up to %d): an ensemble, classified by the mean of the models'\n"
            "              probabilities (same classes in the same order; each model its own features;\n"
            "              clips matched by path: a clip one model skips and another keeps is an error);\n"
            "              a folder: every SUB/model.safetensors in it, SUB in name order (the runs of\n"
            "              one recipe trained with several seeds)\n"
            "  --json      one JSON object: accuracy, uar, macro_f1, weighted_f1, labels, per_class,\n"
            "              confusion, by_corpus\n"
            "  --adapt-bn  AdaBN: first replace each model's batch-norm moving statistics by the mean\n"
            "              and variance over these clips (uses the evaluated set, unlabelled; one pass\n"
            "              in the model's batch size, each block normalised by its batch's statistics)\n"
            "  --device    auto (default: the GPU when there is one), cpu or cuda\n"
            "  --pseudo-labels OUT.tsv  also write a manifest of the clips whose (mean) probability of\n"
            "              the predicted class is at least --min-prob P (default 0.9), labelled with\n"
            "              that prediction: self-training data (`ser train --train-list`)\n"
            "  --probs OUT.tsv  every clip's path, label and (mean) probability of each class\n",
            CLI_DATA_HELP, EVAL_MAX_MODELS);
}

/* Appends --model ARG to models[]: the file itself, or for a folder each of its
 * SUB/model.safetensors in name order. */
static int add_models(const char *arg, char **models, int *n, ser_error *err) {
    struct stat st;
    if (stat(arg, &st) != 0 || !S_ISDIR(st.st_mode)) { /* a file (a missing one fails when opened) */
        if (*n == EVAL_MAX_MODELS) return ser_fail(err, "more than %d models", EVAL_MAX_MODELS);
        if (!(models[(*n)++] = strdup(arg))) return ser_fail(err, "out of memory");
        return 0;
    }
    struct dirent **ents = NULL;
    const int m = scandir(arg, &ents, NULL, alphasort);
    if (m < 0) return ser_fail(err, "--model %s: cannot read the folder", arg);
    int found = 0, rc = 0;
    for (int i = 0; i < m; i++) {
        char path[4096];
        if (!rc && ents[i]->d_name[0] != '.' &&
            snprintf(path, sizeof path, "%s/%s/model.safetensors", arg, ents[i]->d_name) < (int)sizeof path &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (*n == EVAL_MAX_MODELS) rc = ser_fail(err, "more than %d models", EVAL_MAX_MODELS);
            else if (!(models[(*n)++] = strdup(path))) rc = ser_fail(err, "out of memory");
            else found++;
        }
        free(ents[i]);
    }
    free(ents);
    if (!rc && !found) rc = ser_fail(err, "--model %s: a folder without any SUB/model.safetensors", arg);
    return rc;
}

/* The clips of the --data folders or --list. */
static int eval_clips(const cli_data *d, const char *list, ser_clips *clips, ser_error *err) {
    if (list) return ser_manifest_read(list, clips, err);
    ser_corpus_set set;
    if (cli_data_scan(d, 0, 1, stderr, "ser eval", &set, err) != 0) return -1;
    *clips = set.clips;
    memset(&set.clips, 0, sizeof set.clips);
    ser_corpus_set_free(&set);
    return 0;
}

/* The first model's kept clips, sorted by path (then by position, for a path listed twice), so
 * that every other member's rows are matched to them by clip path, not by row number. */
typedef struct clip_row {
    const char *path;
    size_t row;
} clip_row;

typedef struct clip_index {
    size_t n;
    clip_row *by_path;      /* (n) the first model's clips (rows of sum), sorted by path, then row */
    unsigned char *matched; /* (n) scratch, by row: rows a member has matched */
} clip_index;

static int by_path_cmp(const void *a, const void *b) {
    const clip_row *x = a, *y = b;
    const int c = strcmp(x->path, y->path);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

static int clip_index_build(clip_index *ix, const ser_clips *kept, ser_error *err) {
    ix->n = kept->n;
    ix->by_path = ser_malloc((kept->n ? kept->n : 1) * sizeof *ix->by_path, "ensemble clip index", err);
    ix->matched = ser_malloc(kept->n ? kept->n : 1, "ensemble clip flags", err);
    if (!ix->by_path || !ix->matched) return -1;
    for (size_t i = 0; i < kept->n; i++) ix->by_path[i] = (clip_row){kept->v[i].path, i};
    qsort(ix->by_path, kept->n, sizeof *ix->by_path, by_path_cmp);
    return 0;
}

static void clip_index_free(clip_index *ix) {
    free(ix->by_path), free(ix->matched);
    memset(ix, 0, sizeof *ix);
}

/* row[j]: the first model's row of member clip j (ds's clips, labels y). Fails, naming a clip,
 * when the two clip sets differ (a clip one model kept and the other skipped). */
static int clip_index_match(clip_index *ix, const ser_dataset *ds, const int32_t *y_first, const char *first,
                            const char *model, size_t *row, ser_error *err) {
    const size_t n = ix->n;
    const clip_row *s = ix->by_path;
    memset(ix->matched, 0, n ? n : 1);
    for (size_t j = 0; j < ds->n; j++) {
        const char *path = ds->clips.v[j].path;
        size_t lo = 0, hi = n; /* the first sorted entry whose path is not below path */
        while (lo < hi) {
            const size_t mid = lo + (hi - lo) / 2;
            if (strcmp(s[mid].path, path) < 0) lo = mid + 1;
            else hi = mid;
        }
        /* a path listed twice: its entries in row order, the next one not yet matched */
        while (lo < n && ix->matched[s[lo].row] && !strcmp(s[lo].path, path)) lo++;
        if (lo == n || strcmp(s[lo].path, path) != 0)
            return ser_fail(err, "%s keeps clip %s, which %s skipped: an ensemble needs every model to keep the same "
                                 "clips (see the skipped clips above)", model, path, first);
        const size_t i = s[lo].row;
        if (ds->y[j] != y_first[i])
            return ser_fail(err, "clip %s: its label differs between %s and %s", path, first, model);
        ix->matched[i] = 1;
        row[j] = i;
    }
    for (size_t k = 0; k < n; k++)
        if (!ix->matched[s[k].row])
            return ser_fail(err, "%s keeps clip %s, which %s skipped: an ensemble needs every model to keep the same "
                                 "clips (see the skipped clips above)", first, s[k].path, model);
    return 0;
}

/* Adds model k's probabilities over clips to sum (n, C), row by row of the first model's clips
 * (matched by path: ix); the first model fixes y, labels, kept and ix. */
static int eval_one(const char *model, int k, const char *device, const ser_clips *clips, int adapt, double **sum,
                    double *loss_sum, size_t *n_out, int32_t **y_out, char ***labels_out, size_t *n_labels,
                    ser_clips *kept, clip_index *ix, const char *first, ser_error *err) {
    loaded_model lm;
    ser_dataset ds = {0};
    float *probs = NULL;
    size_t *row = NULL;
    int rc = -1;
    if (loaded_model_open(&lm, model, device, "ser eval", err) != 0) goto done;
    if (k > 0) { /* an ensemble member must have the first model's classes, in its order */
        int same = lm.meta.n_labels == *n_labels;
        for (size_t i = 0; same && i < *n_labels; i++) same = !strcmp(lm.meta.labels[i], (*labels_out)[i]);
        if (!same) {
            ser_fail(err, "%s: its classes differ from the first model's", model);
            goto done;
        }
    }
    if (loaded_model_dataset(&lm, clips, 1, "eval", &ds, err) != 0) goto done;
    if (k > 0) {
        row = ser_malloc((ds.n ? ds.n : 1) * sizeof *row, "ensemble rows", err);
        if (!row || clip_index_match(ix, &ds, *y_out, first, model, row, err) != 0) goto done;
    }
    if (adapt) {
        if (loaded_model_adapt_bn(&lm, &ds, err) != 0) goto done;
        fprintf(stderr, "ser eval: %s: batch-norm statistics over the %zu clips (AdaBN)\n", model, ds.n);
    }
    const size_t C = lm.meta.n_labels;
    probs = ser_malloc(ds.n * C * sizeof *probs, "probabilities", err);
    ser_loop_data d = ser_loop_data_of(&ds);
    double loss;
    if (!probs || ser_evaluate(&lm.net, &d, lm.meta.cfg.train.batch_size, &loss, NULL, NULL, probs, err) != 0) goto done;
    if (k == 0) {
        if (!(*sum = ser_calloc(ds.n * C, sizeof **sum, "probabilities", err))) goto done;
        *n_out = ds.n, *n_labels = C;
        *y_out = ds.y, ds.y = NULL;
        *kept = ds.clips, memset(&ds.clips, 0, sizeof ds.clips);
        *labels_out = lm.meta.labels, lm.meta.labels = NULL, lm.meta.n_labels = 0;
        if (clip_index_build(ix, kept, err) != 0) goto done;
    }
    for (size_t j = 0; j < ds.n; j++) {
        double *dst = *sum + (row ? row[j] : j) * C;
        for (size_t c = 0; c < C; c++) dst[c] += probs[j * C + c];
    }
    *loss_sum += loss;
    rc = 0;
done:
    free(probs), free(row);
    ser_dataset_free(&ds);
    loaded_model_close(&lm);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    char *models[EVAL_MAX_MODELS] = {0};
    int n_models = 0;
    ser_error err = {{0}};
    ser_clips clips = {0}, kept = {0}, sel = {0};
    int32_t *y = NULL, *pred = NULL;
    char **labels = NULL;
    size_t n = 0, C = 0;
    double *sum = NULL;
    clip_index ix = {0};
    char *text = NULL, *png_default = NULL;
    cJSON *js = NULL;
    int rc = 1;
    cli_data data;
    cli_data_init(&data);
    const char *list = NULL, *png = NULL, *device = "auto", *pseudo = NULL, *probs_path = NULL;
    double min_prob = 0.9;
    int json = 0, adapt = 0;
    for (int i = 1; i < argc; i++) {
        const int got = cli_data_arg(&data, argc, argv, &i, "ser eval");
        if (got < 0) {
            rc = 2;
            goto done;
        }
        if (got) continue;
        const int more = i + 1 < argc;
        if (!strcmp(argv[i], "--model") && more) {
            if (add_models(argv[++i], models, &n_models, &err) != 0) {
                fprintf(stderr, "ser eval: %s\n", err.msg);
                rc = 2;
                goto done;
            }
        } else if (!strcmp(argv[i], "--list") && more) list = argv[++i];
        else if (!strcmp(argv[i], "--png") && more) png = argv[++i];
        else if (!strcmp(argv[i], "--device") && more) device = argv[++i];
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--adapt-bn")) adapt = 1;
        else if (!strcmp(argv[i], "--pseudo-labels") && more) pseudo = argv[++i];
        else if (!strcmp(argv[i], "--probs") && more) probs_path = argv[++i];
        else if (!strcmp(argv[i], "--min-prob") && more) {
            char *end = NULL;
            min_prob = strtod(argv[++i], &end);
            if (!end || *end || !(min_prob >= 0.0 && min_prob <= 1.0)) {
                fprintf(stderr, "ser eval: --min-prob %s: expected a number in [0, 1]\n", argv[i]);
                rc = 2;
                goto done;
            }
        }
        else {
            fprintf(stderr, "ser eval: unknown option or missing value: %s\n", argv[i]);
            usage(stderr);
            rc = 2;
            goto done;
        }
    }
    if (cli_data_finish(&data, "ser eval") != 0) {
        rc = 2;
        goto done;
    }
    if (!n_models || (!data.n == !list) || (list && data.any_rules)) {
        fprintf(stderr, "ser eval: %s\n", !n_models             ? "--model is required"
                                   : list && data.any_rules ? "--labels and --label-map need --data"
                                                            : "give one of --data DIR or --list F");
        usage(stderr);
        rc = 2;
        goto done;
    }
    if (eval_clips(&data, list, &clips, &err) != 0) goto fail;
    double loss = 0.0; /* the mean of the models' losses (one model: ser_evaluate's) */
    for (int k = 0; k < n_models; k++)
        if (eval_one(models[k], k, device, &clips, adapt, &sum, &loss, &n, &y, &labels, &C, &kept, &ix, models[0],
                     &err) != 0)
            goto fail;
    loss /= n_models;
    pred = ser_malloc(n * sizeof *pred, "predictions", &err);
    if (!pred) goto fail;
    for (size_t i = 0; i < n; i++) { /* argmax of the summed probabilities, first on ties */
        const double *p = sum + i * C;
        size_t best = 0;
        for (size_t c = 1; c < C; c++)
            if (p[c] > p[best]) best = c;
        pred[i] = (int32_t)best;
    }
    if (probs_path) { /* one text, written atomically like every other output */
        char *text_p = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text_p, &len);
        if (!f) {
            ser_fail(&err, "--probs %s: out of memory", probs_path);
            goto fail;
        }
        fprintf(f, "# path\tlabel");
        for (size_t c = 0; c < C; c++) fprintf(f, "\t%s", labels[c]);
        fprintf(f, "\n");
        for (size_t i = 0; i < n; i++) {
            fprintf(f, "%s\t%s", kept.v[i].path, labels[y[i]]);
            for (size_t c = 0; c < C; c++) fprintf(f, "\t%.6g", sum[i * C + c] / n_models);
            fprintf(f, "\n");
        }
        fclose(f);
        const int wrc = text_p ? ser_write_text_file(probs_path, text_p, &err) : ser_fail(&err, "out of memory");
        free(text_p);
        if (wrc != 0) goto fail;
    }
    if (pseudo) { /* the confident clips, labelled with their prediction */
        size_t right = 0;
        for (size_t i = 0; i < n; i++) {
            if (sum[i * C + pred[i]] / n_models < min_prob) continue;
            const ser_clip *cl = &kept.v[i];
            if (ser_clips_push(&sel, cl->path, labels[pred[i]], cl->speaker, cl->group, &err) != 0 ||
                ser_clip_set_corpus(&sel.v[sel.n - 1], cl->corpus, &err) != 0)
                goto fail;
            right += pred[i] == y[i];
        }
        if (ser_manifest_write(pseudo, sel.v, NULL, sel.n, &err) != 0) goto fail;
        fprintf(stderr, "ser eval: %zu of %zu clips at probability >= %g -> %s (%zu of them match their label)\n", sel.n,
                n, min_prob, pseudo, right);
    }
    if (!png) {
        char *m = strdup(models[0]);
        size_t len = strlen(models[0]) + 64;
        png_default = malloc(len);
        if (!m || !png_default) {
            free(m);
            ser_fail(&err, "out of memory for the confusion matrix path");
            goto fail;
        }
        snprintf(png_default, len, "%s/confusion_matrix_test.png", dirname(m));
        free(m);
        png = png_default;
    }
    if (ser_report_split(y, pred, n, (const char *const *)labels, (int)C, "Confusion matrix (test)", png, &text, &js,
                         &err) != 0)
        goto fail;
    { /* WA and UA by corpus: report text lines and the "by_corpus" JSON object */
        const char **corp = ser_malloc((n ? n : 1) * sizeof *corp, "corpus names", &err);
        if (!corp) goto fail;
        for (size_t i = 0; i < n; i++) corp[i] = kept.v[i].corpus;
        const int brc = ser_report_by_corpus(y, pred, n, corp, (int)C, &text, js, &err);
        free(corp);
        if (brc != 0) goto fail;
    }
    if (json) {
        cJSON_AddNumberToObject(js, "loss", loss);
        cJSON_AddNumberToObject(js, "clips", (double)n);
        cJSON_AddNumberToObject(js, "models", n_models);
        cJSON_AddBoolToObject(js, "adapt_bn", adapt);
        char *s = cJSON_PrintUnformatted(js);
        printf("%s\n", s ? s : "{}");
        free(s);
    } else {
        if (n_models > 1) printf("ensemble of %d models (mean probabilities)\n", n_models);
        printf("%zu clips, loss %.4f\n\n%s", n, loss, text);
        fprintf(stderr, "ser eval: confusion matrix -> %s\n", png);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "ser eval: %s\n", err.msg);
done:
    cJSON_Delete(js);
    free(text), free(pred), free(png_default), free(sum), free(y);
    for (size_t i = 0; labels && i < C; i++) free(labels[i]);
    free(labels);
    clip_index_free(&ix);
    ser_clips_free(&clips), ser_clips_free(&kept), ser_clips_free(&sel);
    for (int k = 0; k < n_models; k++) free(models[k]);
    return rc;
}
