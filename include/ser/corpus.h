/* Corpora: scan a folder into a list of clips (path, canonical label, speaker, group, corpus) with a
 * per-corpus file-name parser, and list what could not be labelled.
 *
 * Walk: recursive, entries sorted bytewise (strcmp), symlinks followed (loops refused); names
 * starting with '.' (hidden files, macOS "._x.wav" AppleDouble files) are ignored. Audio files
 * are those ending in .wav .aif .aiff .flac .ogg (any case); other files are ignored silently.
 * An audio file the parser cannot label is a SKIP (path + reason), never silent.
 * Clips come out sorted by path (bytewise); paths are absolute (the root goes through realpath).
 *
 * Parsers (label, speaker from the name; group = the clip's folder relative to the root, i.e.
 * the parent folder's name ("OAF_angry") in the usual one-level layouts, "A/B" when nested, and
 * the root's own name for clips directly in it):
 *   tess     OAF_back_angry.wav: label = last '_' token of the stem (ps -> surprise); speaker =
 *            the folder name up to its first '_' (OAF_angry -> OAF; the file prefixes have
 *            typos), or the file name's first token when the folder name has no '_'.
 *   ravdess  03-01-EE-II-SS-RR-AA.wav: 7 two-digit fields; modality 03, channel 01 (speech),
 *            EE 01..08, II 01..02, SS 01..02, RR 01..02, AA 01..24; speaker = the two
 *            digits as written ("01"), so that --test-speakers 01,02 reads like the names.
 *   cremad   1001_DFA_ANG_XX.wav: speaker (digits), sentence (3 letters), emotion
 *            ANG/DIS/FEA/HAP/NEU/SAD, level LO/MD/HI/XX.
 *   savee    DC_a01.wav, or a01.wav in a speaker folder (DC/a01.wav): a d f h n sa su + 2 digits.
 *   folders  label = the clip's folder name (a known synonym maps to canonical, else kept
 *            as-is); speaker "".
 *   auto     every audio file is tested against the shape of each of ravdess, cremad, savee,
 *            tess (in that order of precedence); the kind matching the most files wins if it
 *            matches a strict majority (> half) of them, else folders.
 * Every clip's corpus is the kind's name ("tess"), for folders the scanned folder's name.
 * Several corpora in one folder (subfolder by subfolder): include/ser/corpus_set.h.
 */
#ifndef SER_CORPUS_H
#define SER_CORPUS_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#include "ser/error.h"

/* Canonical labels, in alphabetical order (their index is stable). */
typedef enum ser_label {
    SER_LABEL_ANGRY,
    SER_LABEL_CALM,
    SER_LABEL_DISGUST,
    SER_LABEL_FEAR,
    SER_LABEL_HAPPY,
    SER_LABEL_NEUTRAL,
    SER_LABEL_SAD,
    SER_LABEL_SURPRISE,
    SER_LABEL_COUNT
} ser_label;

/* "angry" ... "surprise"; NULL when out of range. */
const char *ser_label_name(int label);
/* Canonical index of a label word or synonym, case-insensitive (angry/anger/ang, fear/fearful,
 * surprise/surprised/ps/pleasant_surprised, ...); -1 when unknown. */
int ser_label_parse(const char *word);

typedef enum ser_corpus_kind {
    SER_CORPUS_AUTO,
    SER_CORPUS_TESS,
    SER_CORPUS_RAVDESS,
    SER_CORPUS_CREMAD,
    SER_CORPUS_SAVEE,
    SER_CORPUS_FOLDERS,
} ser_corpus_kind;

/* "auto" "tess" "ravdess" "cremad" "savee" "folders". */
const char *ser_corpus_kind_name(ser_corpus_kind kind);
/* Parses one of the names above (also "crema-d"); fails naming the word and the choices. */
int ser_corpus_kind_parse(const char *word, ser_corpus_kind *kind, ser_error *err);

typedef struct ser_clip {
    char *path;    /* absolute path of the audio file */
    char *label;   /* canonical label name; the folder name as-is for unknown folder labels */
    char *speaker; /* "" when the corpus does not name speakers */
    char *group;   /* corpus folder relative to the scan root ("OAF_angry"); "" when read from a manifest
                    * without it; "corpus/folder" when several corpora are scanned together */
    char *corpus;  /* the corpus the clip came from ("tess", "ravdess", ...: docs/multi-corpus.md);
                    * "" when unknown (an old 4-column manifest, a bare file) */
} ser_clip;

/* A growable list of clips (one allocation per string). */
typedef struct ser_clips {
    ser_clip *v;
    size_t n, cap;
} ser_clips;

/* Appends copies of the strings (group may be NULL -> ""); corpus "". */
int ser_clips_push(ser_clips *list, const char *path, const char *label, const char *speaker,
                   const char *group, ser_error *err);
/* Appends a copy of every field of c (corpus NULL -> ""). */
int ser_clips_push_clip(ser_clips *list, const ser_clip *c, ser_error *err);
/* 1 when a and b are one speaker: the same speaker id in the same corpus (a NULL field is "").
 * Speaker ids are only unique within a corpus. */
int ser_clip_same_speaker(const ser_clip *a, const ser_clip *b);
/* Replaces clip i's corpus (or group) by a copy of name. */
int ser_clip_set_corpus(ser_clip *c, const char *name, ser_error *err);
int ser_clip_set_group(ser_clip *c, const char *name, ser_error *err);
void ser_clips_free(ser_clips *list);

typedef struct ser_skip {
    char *path;
    char *reason;
} ser_skip;

typedef struct ser_corpus {
    char *root;           /* realpath of the scanned folder */
    ser_corpus_kind kind; /* the parser used (never AUTO after a scan) */
    ser_clips clips;      /* sorted by path */
    ser_skip *skips;      /* audio files that could not be labelled, sorted by path */
    size_t n_skips, cap_skips;
    size_t n_audio;       /* audio files seen = clips + skips */
} ser_corpus;

/* Scans dir with the parser of `kind` (AUTO detects it). Fails naming the path when the folder
 * is missing, not a folder or unreadable (any subfolder too), when it holds no audio file, when
 * no audio file could be labelled, or (strict) when anything was skipped. */
int ser_corpus_scan(const char *dir, ser_corpus_kind kind, int strict, ser_corpus *out, ser_error *err);
void ser_corpus_free(ser_corpus *c);

/* Auto-detection alone: the kind a scan of dir with AUTO would use, how many audio files match
 * the best kind's shape (*n_match; the best kind may still be folders when that is not more
 * than half) and how many audio files there are (*n_audio, 0 is no error here). */
int ser_corpus_detect(const char *dir, ser_corpus_kind *kind, size_t *n_match, size_t *n_audio, ser_error *err);

/* Sorted unique labels of clips (for a label encoder: index = position, as sklearn's
 * LabelEncoder). *names holds pointers into clips (valid while clips lives); free(*names) only. */
int ser_clips_label_set(const ser_clips *clips, const char ***names, size_t *n_names, ser_error *err);

/* idx[i] = position of clips->v[i].label in names[0..n_names) (a class list, e.g. from
 * ser_clips_label_set or a saved model). Fails naming the first clip whose label is not in the
 * list (a test set with a class the model never saw). */
int ser_clips_label_index(const ser_clips *clips, const char *const *names, size_t n_names, int *idx,
                          ser_error *err);

/* ---- per-file name parsers (host/corpus/corpus_names.c) ------------------------------------------
 * Each takes the file name (with extension) and the name of the folder holding it. match
 * returns 1 when the name has the corpus's shape (used by auto-detection); parse fills
 * label (a static canonical name, or for folders an unknown folder name: `folder` itself) and speaker (into spk, spk_len bytes) and returns 0, or
 * returns -1 with the reason in err (the file is then a skip). */
int ser_name_match(ser_corpus_kind kind, const char *file, const char *folder);
int ser_name_parse(ser_corpus_kind kind, const char *file, const char *folder, const char **label,
                   char *spk, size_t spk_len, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
