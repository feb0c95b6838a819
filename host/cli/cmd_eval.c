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

/* The ensemble's running state: the first model fixes the clips (kept, in its row order), their
 * labels y and the classes; every model adds its probabilities to sum by row. */
typedef struct ensemble {
    const char *first;      /* the first model's path, for the error messages */
    double *sum;            /* (n, C) the models' probabilities, summed */
    double loss_sum;        /* the models' losses, summed */
    int n_models;           /* models added so far */
    size_t n, C;
    int32_t *y;             /* (n) labels */
    char **labels;          /* (C) class names */
    ser_clips kept;         /* (n) the first model's kept clips */
    clip_index ix;          /* kept, by path: the other models' rows matched to them */
} ensemble;

static void ensemble_free(ensemble *e) {
    free(e->sum), free(e->y);
    for (size_t i = 0; e->labels && i < e->C; i++) free(e->labels[i]);
    free(e->labels);
    clip_index_free(&e->ix);
    ser_clips_free(&e->kept);
    memset(e, 0, sizeof *e);
}

/* What ser eval was asked. */
typedef struct eval_args {
    char *models[EVAL_MAX_MODELS];
    int n_models;
    cli_data data;
    const char *list, *png, *device, *pseudo, *probs_path;
    double min_prob;
    int json, adapt;
} eval_args;

/* Adds model's probabilities over clips to e (the first model starts it): the row of each of its
 * clips is the first model's row of the same path (e->ix). */
static int eval_one(const eval_args *a, const char *model, const ser_clips *clips, ensemble *e, ser_error *err) {
    const int k = e->n_models;
    loaded_model lm;
    ser_dataset ds = {0};
    float *probs = NULL;
    size_t *row = NULL;
    int rc = -1;
    if (loaded_model_open(&lm, model, a->device, "ser eval", err) != 0) goto done;
    if (k > 0) { /* an ensemble member must have the first model's classes, in its order */
        int same = lm.meta.n_labels == e->C;
        for (size_t i = 0; same && i < e->C; i++) same = !strcmp(lm.meta.labels[i], e->labels[i]);
        if (!same) {
            ser_fail(err, "%s: its classes differ from the first model's", model);
            goto done;
        }
    }
    if (loaded_model_dataset(&lm, clips, 1, "eval", &ds, err) != 0) goto done;
    if (k > 0) {
        row = ser_malloc((ds.n ? ds.n : 1) * sizeof *row, "ensemble rows", err);
        if (!row || clip_index_match(&e->ix, &ds, e->y, e->first, model, row, err) != 0) goto done;
    }
    if (a->adapt) {
        if (loaded_model_adapt_bn(&lm, &ds, err) != 0) goto done;
        fprintf(stderr, "ser eval: %s: batch-norm statistics over the %zu clips (AdaBN)\n", model, ds.n);
    }
    const size_t C = lm.meta.n_labels;
    probs = ser_malloc(ds.n * C * sizeof *probs, "probabilities", err);
    ser_loop_data d = ser_loop_data_of(&ds);
    double loss;
    if (!probs || ser_evaluate(&lm.net, &d, lm.meta.cfg.train.batch_size, &loss, NULL, NULL, probs, err) != 0) goto done;
    if (k == 0) {
        if (!(e->sum = ser_calloc(ds.n * C, sizeof *e->sum, "probabilities", err))) goto done;
        e->first = model;
        e->n = ds.n, e->C = C;
        e->y = ds.y, ds.y = NULL;
        e->kept = ds.clips, memset(&ds.clips, 0, sizeof ds.clips);
        e->labels = lm.meta.labels, lm.meta.labels = NULL, lm.meta.n_labels = 0;
        if (clip_index_build(&e->ix, &e->kept, err) != 0) goto done;
    }
    for (size_t j = 0; j < ds.n; j++) {
        double *dst = e->sum + (row ? row[j] : j) * C;
        for (size_t c = 0; c < C; c++) dst[c] += probs[j * C + c];
    }
    e->loss_sum += loss;
    e->n_models++;
    rc = 0;
done:
    free(probs), free(row);
    ser_dataset_free(&ds);
    loaded_model_close(&lm);
    return rc;
}

/* pred[i]: the argmax of clip i's summed probabilities, the first class on ties. */
static int32_t *ensemble_predict(const ensemble *e, ser_error *err) {
    int32_t *pred = ser_malloc((e->n ? e->n : 1) * sizeof *pred, "predictions", err);
    for (size_t i = 0; pred && i < e->n; i++) {
        const double *p = e->sum + i * e->C;
        size_t best = 0;
        for (size_t c = 1; c < e->C; c++)
            if (p[c] > p[best]) best = c;
        pred[i] = (int32_t)best;
    }
    return pred;
}

/* --probs PATH: every clip's path, label and mean probability of each class; one text, written
 * atomically like every other output. */
static int write_probs(const ensemble *e, const char *path, ser_error *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return ser_fail(err, "--probs %s: out of memory", path);
    fprintf(f, "# path\tlabel");
    for (size_t c = 0; c < e->C; c++) fprintf(f, "\t%s", e->labels[c]);
    fprintf(f, "\n");
    for (size_t i = 0; i < e->n; i++) {
        fprintf(f, "%s\t%s", e->kept.v[i].path, e->labels[e->y[i]]);
        for (size_t c = 0; c < e->C; c++) fprintf(f, "\t%.6g", e->sum[i * e->C + c] / e->n_models);
        fprintf(f, "\n");
    }
    fclose(f);
    const int rc = text ? ser_write_text_file(path, text, err) : ser_fail(err, "out of memory");
    free(text);
    return rc;
}

/* --pseudo-labels PATH: a manifest of the clips whose mean probability of the predicted class is
 * at least min_prob, labelled with that prediction. */
static int write_pseudo_labels(const ensemble *e, const int32_t *pred, const char *path, double min_prob,
                               ser_error *err) {
    ser_clips sel = {0};
    size_t right = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < e->n; i++) {
        if (e->sum[i * e->C + pred[i]] / e->n_models < min_prob) continue;
        const ser_clip *cl = &e->kept.v[i];
        rc = ser_clips_push(&sel, cl->path, e->labels[pred[i]], cl->speaker, cl->group, err) != 0 ||
             ser_clip_set_corpus(&sel.v[sel.n - 1], cl->corpus, err) != 0;
        right += pred[i] == e->y[i];
    }
    if (!rc) rc = ser_manifest_write(path, sel.v, NULL, sel.n, err) != 0;
    if (!rc)
        fprintf(stderr, "ser eval: %zu of %zu clips at probability >= %g -> %s (%zu of them match their label)\n", sel.n,
                e->n, min_prob, path, right);
    ser_clips_free(&sel);
    return rc ? -1 : 0;
}

/* The report (text, or --json one object) and the confusion matrix PNG: --png, else
 * confusion_matrix_test.png beside the first model. */
static int report(const eval_args *a, const ensemble *e, const int32_t *pred, ser_error *err) {
    char *text = NULL, *png_default = NULL;
    const char **corp = NULL;
    cJSON *js = NULL;
    const char *png = a->png;
    int rc = -1;
    if (!png) {
        char *m = strdup(a->models[0]);
        size_t len = strlen(a->models[0]) + 64;
        png_default = malloc(len);
        if (!m || !png_default) {
            free(m);
            ser_fail(err, "out of memory for the confusion matrix path");
            goto done;
        }
        snprintf(png_default, len, "%s/confusion_matrix_test.png", dirname(m));
        free(m);
        png = png_default;
    }
    if (ser_report_split(e->y, pred, e->n, (const char *const *)e->labels, (int)e->C, "Confusion matrix (test)", png,
                         &text, &js, err) != 0)
        goto done;
    /* WA and UA by corpus: report text lines and the "by_corpus" JSON object */
    if (!(corp = ser_malloc((e->n ? e->n : 1) * sizeof *corp, "corpus names", err))) goto done;
    for (size_t i = 0; i < e->n; i++) corp[i] = e->kept.v[i].corpus;
    if (ser_report_by_corpus(e->y, pred, e->n, corp, (int)e->C, &text, js, err) != 0) goto done;
    const double loss = e->loss_sum / e->n_models; /* the mean of the models' losses (one model: ser_evaluate's) */
    if (a->json) {
        cJSON_AddNumberToObject(js, "loss", loss);
        cJSON_AddNumberToObject(js, "clips", (double)e->n);
        cJSON_AddNumberToObject(js, "models", e->n_models);
        cJSON_AddBoolToObject(js, "adapt_bn", a->adapt);
        char *s = cJSON_PrintUnformatted(js);
        printf("%s\n", s ? s : "{}");
        free(s);
    } else {
        if (e->n_models > 1) printf("ensemble of %d models (mean probabilities)\n", e->n_models);
        printf("%zu clips, loss %.4f\n\n%s", e->n, loss, text);
        fprintf(stderr, "ser eval: confusion matrix -> %s\n", png);
    }
    rc = 0;
done:
    cJSON_Delete(js);
    free(corp), free(text), free(png_default);
    return rc;
}

/* 0, or 2 (said on stderr) for a usage error. */
static int parse_args(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    cli_data_init(&a->data);
    a->device = "auto", a->min_prob = 0.9;
    ser_error err = {{0}};
    for (int i = 1; i < argc; i++) {
        const int got = cli_data_arg(&a->data, argc, argv, &i, "ser eval");
        if (got < 0) return 2;
        if (got) continue;
        const int more = i + 1 < argc;
        if (!strcmp(argv[i], "--model") && more) {
            if (add_models(argv[++i], a->models, &a->n_models, &err) != 0) {
                fprintf(stderr, "ser eval: %s\n", err.msg);
                return 2;
            }
        } else if (!strcmp(argv[i], "--list") && more) a->list = argv[++i];
        else if (!strcmp(argv[i], "--png") && more) a->png = argv[++i];
        else if (!strcmp(argv[i], "--device") && more) a->device = argv[++i];
        else if (!strcmp(argv[i], "--json")) a->json = 1;
        else if (!strcmp(argv[i], "--adapt-bn")) a->adapt = 1;
        else if (!strcmp(argv[i], "--pseudo-labels") && more) a->pseudo = argv[++i];
        else if (!strcmp(argv[i], "--probs") && more) a->probs_path = argv[++i];
        else if (!strcmp(argv[i], "--min-prob") && more) {
            char *end = NULL;
            a->min_prob = strtod(argv[++i], &end);
            if (!end || *end || !(a->min_prob >= 0.0 && a->min_prob <= 1.0)) {
                fprintf(stderr, "ser eval: --min-prob %s: expected a number in [0, 1]\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "ser eval: unknown option or missing value: %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (cli_data_finish(&a->data, "ser eval") != 0) return 2;
    if (!a->n_models || (!a->data.n == !a->list) || (a->list && a->data.any_rules)) {
        fprintf(stderr, "ser eval: %s\n", !a->n_models               ? "--model is required"
                                   : a->list && a->data.any_rules ? "--labels and --label-map need --data"
                                                                  : "give one of --data DIR or --list F");
        usage(stderr);
        return 2;
    }
    return 0;
}

int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    eval_args a;
    ser_error err = {{0}};
    ser_clips clips = {0};
    ensemble e = {0};
    int32_t *pred = NULL;
    int rc = parse_args(argc, argv, &a);
    if (rc) goto done;
    rc = 1;
    if (cli_data_clips(&a.data, a.list, "ser eval", &clips, &err) != 0) goto fail;
    for (int k = 0; k < a.n_models; k++)
        if (eval_one(&a, a.models[k], &clips, &e, &err) != 0) goto fail;
    if (!(pred = ensemble_predict(&e, &err)) || (a.probs_path && write_probs(&e, a.probs_path, &err) != 0) ||
        (a.pseudo && write_pseudo_labels(&e, pred, a.pseudo, a.min_prob, &err) != 0) || report(&a, &e, pred, &err) != 0)
        goto fail;
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "ser eval: %s\n", err.msg);
done:
    free(pred);
    ensemble_free(&e);
    ser_clips_free(&clips);
    for (int k = 0; k < a.n_models; k++) free(a.models[k]);
    return rc;
}
