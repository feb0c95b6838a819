/* Several corpora in one run (docs/multi-corpus.md): one or more (folder, kind) sources, each
 * scanned with its own parser; an AUTO folder that holds several corpora in subfolders is
 * scanned subfolder by subfolder; labels mapped (--label-map) then filtered (--labels), with
 * what was dropped counted per corpus and label.
 *
 * Corpus names: the kind's name ("tess", "ravdess", "cremad", "savee"), for a folders corpus
 * the folder's name. Two corpora of one name are both renamed "name-FOLDER" (FOLDER = the
 * scanned folder's own name); if that still collides the scan fails naming both folders.
 *
 * Subfolder detection (AUTO only): when the scan of the whole folder skipped files or fell back
 * to folders, each immediate subfolder holding audio is detected on its own (a folder that is
 * one corpus every file matches is walked once, as before).
 * The folder is taken for several corpora (one per subfolder, each with the kind it got) when
 * the subfolders get at least two different kinds other than folders, or when no kind has a
 * strict majority of the whole folder and at least one subfolder gets a kind other than
 * folders. Otherwise it is one corpus, as before. Audio files directly in such a parent belong
 * to no corpus: they are counted in n_loose (never silent: the commands report them).
 *
 * With more than one corpus in the set, every clip's group is prefixed "corpus/" (the reference
 * per-folder test split counts folders, and two corpora may have folders of one name). */
#ifndef SER_CORPUS_SET_H
#define SER_CORPUS_SET_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/corpus.h"
#include "ser/error.h"

typedef struct ser_data_source {
    const char *dir;
    ser_corpus_kind kind; /* AUTO: detected, subfolder by subfolder when needed */
} ser_data_source;

/* --label-map then --labels, on canonical label names. */
typedef struct ser_label_rules {
    int map[SER_LABEL_COUNT]; /* map[a] = b: a clip labelled a becomes b; -1: kept as is */
    int keep[SER_LABEL_COUNT]; /* 1: kept; used only when n_keep > 0 */
    int n_keep;               /* 0: every label is kept (also folder labels that are not canonical) */
} ser_label_rules;

void ser_label_rules_init(ser_label_rules *r);
/* "angry,disgust,..." (synonyms allowed: "anger"); adds to the kept set. Fails naming a word
 * that is no label, or an empty word. */
int ser_label_rules_keep(ser_label_rules *r, const char *list, ser_error *err);
/* "calm=neutral,ps=surprise"; adds mappings. Fails naming a word that is no label, a pair
 * without '=', or a label mapped twice onto different labels. */
int ser_label_rules_map(ser_label_rules *r, const char *list, ser_error *err);
/* The label a clip labelled `label` gets: the mapped canonical name, `label` itself, or NULL
 * when --labels drops it. */
const char *ser_label_rules_apply(const ser_label_rules *r, const char *label);

/* Clips dropped by --labels: n of (corpus, label), label after mapping. */
typedef struct ser_label_drop {
    char *corpus, *label;
    size_t n;
} ser_label_drop;

typedef struct ser_corpus_set {
    ser_corpus *corpora; /* each scanned corpus (its own clips, skips, kind, root) */
    char **names;        /* corpora[i]'s name, as in the clips' corpus field */
    char **source;       /* the --data folder corpora[i] came from (several for one parent) */
    size_t n;
    ser_clips clips;     /* every kept clip: corpus by corpus in source order, each by path */
    ser_label_drop *dropped; /* sorted by corpus, then label */
    size_t n_dropped;
    size_t n_loose;      /* audio files directly in a parent of several corpora (in no corpus) */
} ser_corpus_set;

/* Scans the sources (strict as ser_corpus_scan), names the corpora, applies rules (NULL: none).
 * Fails naming the folder (as ser_corpus_scan), a name collision, or, when rules drop every
 * clip, the labels kept. */
int ser_corpus_set_scan(const ser_data_source *src, size_t n_src, int strict, const ser_label_rules *rules,
                        ser_corpus_set *out, ser_error *err);
void ser_corpus_set_free(ser_corpus_set *s);

#ifdef __cplusplus
}
#endif

#endif
