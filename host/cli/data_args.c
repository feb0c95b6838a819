/* --data / --corpus / --labels / --label-map for the commands that read corpora (data_args.h). */
#include "data_args.h"

#include <string.h>

#include "commands.h"
#include "ser/split.h"

const char CLI_DATA_HELP[] =
    "  --data DIR        a corpus folder; repeat for several corpora in one run. A folder that\n"
    "                    holds several corpora in subfolders (tess/, ravdess/) is detected\n"
    "                    subfolder by subfolder (docs/multi-corpus.md)\n"
    "  --corpus K        tess | ravdess | cremad | savee | folders | auto (default auto: the kind\n"
    "                    whose file-name pattern more than half of the audio files match, else\n"
    "                    folders); names the parser of the --data before it (or, given before\n"
    "                    the only --data, of that one)\n"
    "  --labels L,L,...  keep only these labels (e.g. angry,disgust,fear,happy,neutral,sad); the\n"
    "                    others are counted per corpus and label and reported\n"
    "  --label-map A=B   map label A onto B before --labels (calm=neutral); repeat or A=B,C=D\n";

void cli_data_init(cli_data *d) {
    memset(d, 0, sizeof *d);
    ser_label_rules_init(&d->rules);
}

int cli_data_add(cli_data *d, const char *dir, const char *cmd) {
    if (d->n == CLI_MAX_DATA) {
        fprintf(stderr, "%s: --data %s: more than %d --data\n", cmd, dir, CLI_MAX_DATA);
        return -1;
    }
    d->src[d->n].dir = dir, d->src[d->n].kind = SER_CORPUS_AUTO, d->has_kind[d->n] = 0;
    d->n++;
    return 0;
}

int cli_data_arg(cli_data *d, int argc, char **argv, int *i, const char *cmd) {
    static const char *const OPTS[] = {"--data", "--corpus", "--labels", "--label-map"};
    const char *v = NULL;
    const int which = cli_opt_value(argc, argv, i, OPTS, 4, cmd, &v);
    if (which == -1) return 0;
    if (which < 0) return -1;
    ser_error err;
    switch (which) {
    case 0:
        return cli_data_add(d, v, cmd) == 0 ? 1 : -1;
    case 1: {
        ser_corpus_kind kind;
        if (ser_corpus_kind_parse(v, &kind, &err) != 0) {
            fprintf(stderr, "%s: --corpus: %s\n", cmd, err.msg);
            return -1;
        }
        if (d->n == 0) {
            if (d->leading) {
                fprintf(stderr, "%s: --corpus %s: a second --corpus before any --data (--corpus %s already given)\n",
                        cmd, v, d->leading);
                return -1;
            }
            d->leading = v;
            return 1;
        }
        if (d->has_kind[d->n - 1] || (d->n == 1 && d->leading)) {
            fprintf(stderr, "%s: --corpus %s: --data %s already has a --corpus (give --corpus after each --data)\n", cmd,
                    v, d->src[d->n - 1].dir);
            return -1;
        }
        d->src[d->n - 1].kind = kind, d->has_kind[d->n - 1] = 1;
        return 1;
    }
    case 2:
        if (ser_label_rules_keep(&d->rules, v, &err) != 0) break;
        d->any_rules = 1;
        return 1;
    default:
        if (ser_label_rules_map(&d->rules, v, &err) != 0) break;
        d->any_rules = 1;
        return 1;
    }
    fprintf(stderr, "%s: %s\n", cmd, err.msg);
    return -1;
}

int cli_data_finish(cli_data *d, const char *cmd) {
    if (!d->leading) return 0;
    if (d->n != 1) {
        fprintf(stderr,
                "%s: --corpus %s before the first --data is ambiguous with %zu --data: give each --corpus right "
                "after the --data it names\n",
                cmd, d->leading, d->n);
        return -1;
    }
    ser_error err;
    if (ser_corpus_kind_parse(d->leading, &d->src[0].kind, &err) != 0) {
        fprintf(stderr, "%s: --corpus: %s\n", cmd, err.msg);
        return -1;
    }
    d->has_kind[0] = 1;
    return 0;
}

void cli_data_print(const ser_corpus_set *set, int verbose, FILE *f, const char *cmd) {
    for (size_t k = 0; k < set->n; k++) {
        const ser_corpus *c = &set->corpora[k];
        fprintf(f, "%s: corpus %s (%s): %zu clips of %zu audio files in %s\n", cmd, set->names[k],
                ser_corpus_kind_name(c->kind), c->clips.n, c->n_audio, c->root);
        for (size_t i = 0; verbose && i < c->n_skips; i++)
            fprintf(f, "%s: %s: skipped %s: %s\n", cmd, set->names[k], c->skips[i].path, c->skips[i].reason);
        if (c->n_skips) fprintf(f, "%s: %s: %zu audio files skipped%s\n", cmd, set->names[k], c->n_skips,
                                verbose ? " (listed above)" : "");
    }
    if (set->n_loose)
        fprintf(f, "%s: %zu audio files lie directly in a folder of several corpora (in no corpus subfolder): not used\n",
                cmd, set->n_loose);
    size_t total = 0;
    for (size_t j = 0; j < set->n_dropped; j++) total += set->dropped[j].n;
    if (total) {
        fprintf(f, "%s: --labels dropped %zu clips:\n", cmd, total);
        for (size_t j = 0; j < set->n_dropped; j++)
            fprintf(f, "%s:   %-12s %-10s %zu\n", cmd, set->dropped[j].corpus, set->dropped[j].label, set->dropped[j].n);
    }
}

int cli_data_scan(const cli_data *d, int strict, int verbose, FILE *f, const char *cmd, ser_corpus_set *set,
                  ser_error *err) {
    if (ser_corpus_set_scan(d->src, d->n, strict, d->any_rules ? &d->rules : NULL, set, err) != 0) return -1;
    cli_data_print(set, verbose, f, cmd);
    return 0;
}

int cli_data_clips(const cli_data *d, const char *list, const char *cmd, ser_clips *out, ser_error *err) {
    memset(out, 0, sizeof *out);
    if (list) return ser_manifest_read(list, out, err);
    ser_corpus_set set;
    if (cli_data_scan(d, 0, 1, stderr, cmd, &set, err) != 0) return -1;
    *out = set.clips;
    memset(&set.clips, 0, sizeof set.clips);
    ser_corpus_set_free(&set);
    return 0;
}
