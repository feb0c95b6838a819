/* ser scan: the manifest of a corpus folder to stdout, a summary (clips per label, per
 * speaker, skipped files with reasons) to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "data_args.h"
#include "ser/corpus.h"
#include "ser/split.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser scan [--corpus K] [--strict] [--labels L,...] [--label-map A=B] DIR|--data DIR ...\n"
            "  Lists the clips of DIR (recursive) as a manifest on stdout:\n"
            "  path<TAB>label<TAB>speaker<TAB>group<TAB>corpus, sorted by path (corpus by corpus); a\n"
            "  summary (per corpus: its kind, clips per label and per speaker, skipped files with the\n"
            "  reason; the clips --labels dropped) on stderr.\n"
            "%s"
            "  --strict          fail when any audio file cannot be labelled (default: list it and go on)\n"
            "  Several folders: repeat --data (a bare DIR counts as one). Audio files: .wav .aif .aiff\n"
            "  .flac .ogg (any case); other files are ignored.\n",
            CLI_DATA_HELP);
}

/* Counts of one field (label or speaker) over the clips, printed "  name  count". */
static void print_counts(const ser_clips *clips, int speaker, const char *title) {
    const char **v = malloc((clips->n ? clips->n : 1) * sizeof *v);
    if (!v) {
        fprintf(stderr, "%s: out of memory counting %zu clips\n", title, clips->n);
        return;
    }
    for (size_t i = 0; i < clips->n; i++) v[i] = speaker ? clips->v[i].speaker : clips->v[i].label;
    /* Insertion by name into a small unique list; corpora have few labels and speakers. */
    size_t k = 0;
    size_t *cnt = calloc(clips->n ? clips->n : 1, sizeof *cnt);
    const char **u = malloc((clips->n ? clips->n : 1) * sizeof *u);
    if (!cnt || !u) {
        fprintf(stderr, "%s: out of memory counting %zu clips\n", title, clips->n);
        goto out;
    }
    for (size_t i = 0; i < clips->n; i++) {
        size_t j = 0;
        while (j < k && strcmp(u[j], v[i]) < 0) j++;
        if (j < k && !strcmp(u[j], v[i])) {
            cnt[j]++;
            continue;
        }
        memmove(u + j + 1, u + j, (k - j) * sizeof *u);
        memmove(cnt + j + 1, cnt + j, (k - j) * sizeof *cnt);
        u[j] = v[i], cnt[j] = 1, k++;
    }
    fprintf(stderr, "%s (%zu):\n", title, k);
    for (size_t j = 0; j < k; j++) fprintf(stderr, "  %-12s %zu\n", *u[j] ? u[j] : "(none)", cnt[j]);
out:
    free(v), free(cnt), free(u);
}

void cli_print_corpus_summary(const ser_corpus *c);
void cli_print_corpus_summary(const ser_corpus *c) {
    fprintf(stderr, "corpus %s (%s): %zu clips of %zu audio files\n", c->root, ser_corpus_kind_name(c->kind),
            c->clips.n, c->n_audio);
    if (c->clips.n) fprintf(stderr, "corpus name: %s\n", c->clips.v[0].corpus);
    print_counts(&c->clips, 0, "labels");
    print_counts(&c->clips, 1, "speakers");
    if (c->n_skips) {
        fprintf(stderr, "skipped %zu:\n", c->n_skips);
        for (size_t i = 0; i < c->n_skips && i < 20; i++)
            fprintf(stderr, "  %s: %s\n", c->skips[i].path, c->skips[i].reason);
        if (c->n_skips > 20) fprintf(stderr, "  ... and %zu more\n", c->n_skips - 20);
    }
}

int cmd_scan(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    cli_data d;
    cli_data_init(&d);
    int strict = 0;
    ser_error err;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int got = cli_data_arg(&d, argc, argv, &i, "ser scan");
        if (got < 0) return 2;
        if (got) continue;
        if (!strcmp(a, "--strict")) {
            strict = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "ser scan: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (cli_data_add(&d, a, "ser scan") != 0) {
            return 2;
        }
    }
    if (!d.n) {
        usage(stderr);
        return 2;
    }
    if (cli_data_finish(&d, "ser scan") != 0) return 2;
    ser_corpus_set set;
    if (ser_corpus_set_scan(d.src, d.n, strict, d.any_rules ? &d.rules : NULL, &set, &err)) {
        fprintf(stderr, "ser scan: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    if (ser_manifest_print(stdout, set.clips.v, NULL, set.clips.n) || fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, "ser scan: writing stdout failed\n");
        rc = 1;
    }
    for (size_t k = 0; k < set.n; k++) cli_print_corpus_summary(&set.corpora[k]);
    if (set.n > 1 || set.n_dropped || set.n_loose) cli_data_print(&set, 0, stderr, "ser scan");
    ser_corpus_set_free(&set);
    return rc;
}
