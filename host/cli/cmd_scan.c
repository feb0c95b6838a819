/* ser scan: the manifest of a corpus folder to stdout, a summary (clips per label, per
 * speaker, skipped files with reasons) to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "ser/corpus.h"
#include "ser/split.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser scan [--corpus K] [--strict] DIR\n"
            "  Lists the clips of DIR (recursive) as a manifest on stdout:\n  path<TAB>label<TAB>speaker<TAB>group, sorted by path; a summary (clips per label and per\n  speaker, skipped files with the reason) on stderr.\n"
            "  --corpus K  tess | ravdess | cremad | savee | folders | auto (default auto: the kind\n"
            "              whose file-name pattern more than half of the audio files match, else folders)\n"
            "  --strict    fail when any audio file cannot be labelled (default: list it and go on)\n"
            "  Audio files: .wav .aif .aiff .flac .ogg (any case); other files are ignored.\n");
}

/* Counts of one field (label or speaker) over the clips, printed "  name  count". */
static void print_counts(const ser_clips *clips, int speaker, const char *title) {
    const char **v = malloc((clips->n ? clips->n : 1) * sizeof *v);
    if (!v) return;
    for (size_t i = 0; i < clips->n; i++) v[i] = speaker ? clips->v[i].speaker : clips->v[i].label;
    /* Insertion by name into a small unique list; corpora have few labels and speakers. */
    size_t k = 0;
    size_t *cnt = calloc(clips->n ? clips->n : 1, sizeof *cnt);
    const char **u = malloc((clips->n ? clips->n : 1) * sizeof *u);
    if (!cnt || !u) goto out;
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
    ser_corpus_kind kind = SER_CORPUS_AUTO;
    int strict = 0;
    const char *dir = NULL;
    ser_error err;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--strict")) {
            strict = 1;
        } else if (!strcmp(a, "--corpus") || !strncmp(a, "--corpus=", 9)) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                fprintf(stderr, "ser scan: --corpus needs a value\n");
                return 2;
            }
            if (ser_corpus_kind_parse(v, &kind, &err)) {
                fprintf(stderr, "ser scan: --corpus: %s\n", err.msg);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "ser scan: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (dir) {
            fprintf(stderr, "ser scan: one folder only ('%s' and '%s')\n", dir, a);
            return 2;
        } else {
            dir = a;
        }
    }
    if (!dir) {
        usage(stderr);
        return 2;
    }
    ser_corpus c;
    if (ser_corpus_scan(dir, kind, strict, &c, &err)) {
        fprintf(stderr, "ser scan: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    if (ser_manifest_print(stdout, c.clips.v, NULL, c.clips.n) || fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, "ser scan: writing stdout failed\n");
        rc = 1;
    }
    cli_print_corpus_summary(&c);
    ser_corpus_free(&c);
    return rc;
}
