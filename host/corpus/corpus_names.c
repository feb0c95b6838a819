/* File-name parsers of the corpora ser knows: label and speaker from a clip's file name (and
 * the name of the folder holding it). Names are all they look at; the audio is never opened. */
#include "ser/corpus.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const LABEL_NAMES[SER_LABEL_COUNT] = {
    "angry", "calm", "disgust", "fear", "happy", "neutral", "sad", "surprise",
};

/* Words that mean a canonical label (compared case-insensitively). TESS writes "ps" for
 * pleasant surprise; CREMA-D uses three-letter codes; RAVDESS and many Kaggle folders use
 * adjectives (fearful, surprised). */
static const struct {
    const char *word;
    int label;
} SYNONYMS[] = {
    {"angry", SER_LABEL_ANGRY},       {"anger", SER_LABEL_ANGRY},
    {"ang", SER_LABEL_ANGRY},         {"calm", SER_LABEL_CALM},
    {"disgust", SER_LABEL_DISGUST},   {"disgusted", SER_LABEL_DISGUST},
    {"dis", SER_LABEL_DISGUST},       {"fear", SER_LABEL_FEAR},
    {"fearful", SER_LABEL_FEAR},      {"fea", SER_LABEL_FEAR},
    {"afraid", SER_LABEL_FEAR},       {"happy", SER_LABEL_HAPPY},
    {"happiness", SER_LABEL_HAPPY},   {"hap", SER_LABEL_HAPPY},
    {"joy", SER_LABEL_HAPPY},         {"neutral", SER_LABEL_NEUTRAL},
    {"neu", SER_LABEL_NEUTRAL},       {"sad", SER_LABEL_SAD},
    {"sadness", SER_LABEL_SAD},       {"surprise", SER_LABEL_SURPRISE},
    {"surprised", SER_LABEL_SURPRISE}, {"sur", SER_LABEL_SURPRISE},
    {"ps", SER_LABEL_SURPRISE},       {"pleasant_surprise", SER_LABEL_SURPRISE},
    {"pleasant_surprised", SER_LABEL_SURPRISE},
};

const char *ser_label_name(int label) {
    return label >= 0 && label < SER_LABEL_COUNT ? LABEL_NAMES[label] : NULL;
}

int ser_label_parse(const char *word) {
    if (!word) return -1;
    for (size_t i = 0; i < sizeof SYNONYMS / sizeof SYNONYMS[0]; i++)
        if (!strcasecmp(word, SYNONYMS[i].word)) return SYNONYMS[i].label;
    return -1;
}

/* The stem (name without its last extension) into buf; 0, or -1 when it does not fit. */
static int stem_of(const char *file, char *buf, size_t len) {
    const char *dot = strrchr(file, '.');
    size_t n = dot && dot != file ? (size_t)(dot - file) : strlen(file);
    if (n >= len) return -1;
    memcpy(buf, file, n);
    buf[n] = 0;
    return 0;
}

static int all_digits(const char *s, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static int all_alpha(const char *s, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalpha((unsigned char)s[i])) return 0;
    return 1;
}

static void copy_n(char *dst, size_t len, const char *src, size_t n) {
    if (len == 0) return;
    if (n >= len) n = len - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* Splits s in place at every sep; up to max tokens, returns the count (max + 1 = too many). */
static int split_tokens(char *s, char sep, char **tok, int max) {
    int n = 0;
    char *p = s;
    for (;;) {
        if (n == max) return max + 1;
        tok[n++] = p;
        char *q = strchr(p, sep);
        if (!q) return n;
        *q = 0;
        p = q + 1;
    }
}

/* ---- TESS: OAF_back_angry.wav, speaker from the folder (OAF_angry) ------------------------ */

static int tess_match(const char *file) {
    char stem[512];
    if (stem_of(file, stem, sizeof stem)) return 0;
    const char *u = strrchr(stem, '_');
    return u && ser_label_parse(u + 1) >= 0;
}

static int tess_parse(const char *file, const char *folder, const char **label, char *spk,
                      size_t spk_len, ser_error *err) {
    char stem[512];
    if (stem_of(file, stem, sizeof stem)) return ser_fail(err, "file name too long");
    const char *u = strrchr(stem, '_');
    if (!u) return ser_fail(err, "name carries no known label (TESS names end in _<label>, no '_' here)");
    int l = ser_label_parse(u + 1);
    if (l < 0) return ser_fail(err, "name carries no known label (last '_' token '%s')", u + 1);
    *label = LABEL_NAMES[l];
    /* The folder is reliable (OAF_angry), file prefixes are not: take the folder's first token. */
    const char *fu = folder ? strchr(folder, '_') : NULL;
    if (fu && fu != folder) copy_n(spk, spk_len, folder, (size_t)(fu - folder));
    else copy_n(spk, spk_len, stem, strcspn(stem, "_"));
    return 0;
}

/* ---- RAVDESS: 03-01-EE-II-SS-RR-AA.wav ---------------------------------------------------- */

static int ravdess_fields(const char *file, int f[7]) {
    char stem[512];
    if (stem_of(file, stem, sizeof stem)) return -1;
    char *tok[8];
    int n = split_tokens(stem, '-', tok, 7);
    if (n != 7) return -(n + 10); /* caller reports the count */
    for (int i = 0; i < 7; i++) {
        if (strlen(tok[i]) != 2 || !all_digits(tok[i], 2)) return -1;
        f[i] = (tok[i][0] - '0') * 10 + (tok[i][1] - '0');
    }
    return 0;
}

static int ravdess_match(const char *file) {
    int f[7];
    return ravdess_fields(file, f) == 0;
}

static int ravdess_parse(const char *file, const char **label, char *spk, size_t spk_len, ser_error *err) {
    /* Emotion codes 01..08 in RAVDESS order. */
    static const int EMO[8] = {SER_LABEL_NEUTRAL, SER_LABEL_CALM, SER_LABEL_HAPPY, SER_LABEL_SAD,
                               SER_LABEL_ANGRY, SER_LABEL_FEAR, SER_LABEL_DISGUST, SER_LABEL_SURPRISE};
    int f[7];
    int r = ravdess_fields(file, f);
    if (r <= -10)
        return ser_fail(err, "not a RAVDESS name: %d '-' fields, expected 7 (03-01-EE-II-SS-RR-AA)", -r - 10);
    if (r) return ser_fail(err, "not a RAVDESS name: every field must be two digits (03-01-EE-II-SS-RR-AA)");
    if (f[0] != 3) return ser_fail(err, "RAVDESS modality %02d, expected 03 (audio-only)", f[0]);
    if (f[1] != 1) return ser_fail(err, "RAVDESS vocal channel %02d, expected 01 (speech; 02 is song)", f[1]);
    if (f[2] < 1 || f[2] > 8) return ser_fail(err, "RAVDESS emotion %02d out of range 01..08", f[2]);
    if (f[3] < 1 || f[3] > 2) return ser_fail(err, "RAVDESS intensity %02d out of range 01..02", f[3]);
    if (f[4] < 1 || f[4] > 2) return ser_fail(err, "RAVDESS statement %02d out of range 01..02", f[4]);
    if (f[5] < 1 || f[5] > 2) return ser_fail(err, "RAVDESS repetition %02d out of range 01..02", f[5]);
    if (f[6] < 1 || f[6] > 24) return ser_fail(err, "RAVDESS actor %02d out of range 01..24", f[6]);
    *label = LABEL_NAMES[EMO[f[2] - 1]];
    snprintf(spk, spk_len, "%02d", f[6]);
    return 0;
}

/* ---- CREMA-D: 1001_DFA_ANG_XX.wav -------------------------------------------------------- */

static int cremad_match(const char *file) {
    char stem[512];
    if (stem_of(file, stem, sizeof stem)) return 0;
    char *tok[5];
    if (split_tokens(stem, '_', tok, 4) != 4) return 0;
    return all_digits(tok[0], strlen(tok[0])) && strlen(tok[2]) == 3 && all_alpha(tok[2], 3);
}

static int cremad_parse(const char *file, const char **label, char *spk, size_t spk_len, ser_error *err) {
    static const struct {
        const char *code;
        int label;
    } EMO[] = {{"ANG", SER_LABEL_ANGRY}, {"DIS", SER_LABEL_DISGUST}, {"FEA", SER_LABEL_FEAR},
               {"HAP", SER_LABEL_HAPPY}, {"NEU", SER_LABEL_NEUTRAL}, {"SAD", SER_LABEL_SAD}};
    static const char *const LEVELS[] = {"LO", "MD", "HI", "XX"};
    char stem[512];
    if (stem_of(file, stem, sizeof stem)) return ser_fail(err, "file name too long");
    char *tok[5];
    int n = split_tokens(stem, '_', tok, 4);
    if (n != 4)
        return ser_fail(err, "not a CREMA-D name: %s'_' fields, expected 4 (1001_DFA_ANG_XX)",
                        n > 4 ? "more than 4 " : n == 3 ? "3 " : n == 2 ? "2 " : "1 ");
    if (!all_digits(tok[0], strlen(tok[0]))) return ser_fail(err, "CREMA-D speaker '%s' is not a number", tok[0]);
    if (strlen(tok[1]) != 3 || !all_alpha(tok[1], 3))
        return ser_fail(err, "CREMA-D sentence '%s' is not a 3-letter code", tok[1]);
    int l = -1;
    for (size_t i = 0; i < sizeof EMO / sizeof EMO[0]; i++)
        if (!strcasecmp(tok[2], EMO[i].code)) l = EMO[i].label;
    if (l < 0) return ser_fail(err, "CREMA-D emotion '%s' unknown (ANG DIS FEA HAP NEU SAD)", tok[2]);
    int lv = 0;
    for (size_t i = 0; i < 4; i++) lv |= !strcasecmp(tok[3], LEVELS[i]);
    if (!lv) return ser_fail(err, "CREMA-D level '%s' unknown (LO MD HI XX)", tok[3]);
    *label = LABEL_NAMES[l];
    copy_n(spk, spk_len, tok[0], strlen(tok[0]));
    return 0;
}

/* ---- SAVEE: DC_a01.wav or DC/a01.wav ----------------------------------------------------- */

/* Splits a SAVEE stem into optional speaker prefix, emotion letters and the 2-digit number. */
static int savee_split(const char *stem, size_t *pre, size_t *letters) {
    const char *u = strchr(stem, '_');
    size_t p = 0;
    if (u) {
        p = (size_t)(u - stem);
        if (p == 0 || !all_alpha(stem, p)) return -1;
        p += 1;
    }
    const char *e = stem + p;
    size_t nl = 0;
    while (isalpha((unsigned char)e[nl])) nl++;
    if (nl < 1 || nl > 2 || strlen(e + nl) != 2 || !all_digits(e + nl, 2)) return -1;
    *pre = p;
    *letters = nl;
    return 0;
}

static int savee_match(const char *file) {
    char stem[512];
    size_t p, nl;
    return !stem_of(file, stem, sizeof stem) && !savee_split(stem, &p, &nl);
}

static int savee_parse(const char *file, const char *folder, const char **label, char *spk,
                       size_t spk_len, ser_error *err) {
    static const struct {
        const char *code;
        int label;
    } EMO[] = {{"a", SER_LABEL_ANGRY}, {"d", SER_LABEL_DISGUST}, {"f", SER_LABEL_FEAR},
               {"h", SER_LABEL_HAPPY}, {"n", SER_LABEL_NEUTRAL}, {"sa", SER_LABEL_SAD},
               {"su", SER_LABEL_SURPRISE}};
    char stem[512];
    size_t p, nl;
    if (stem_of(file, stem, sizeof stem)) return ser_fail(err, "file name too long");
    if (savee_split(stem, &p, &nl))
        return ser_fail(err, "not a SAVEE name (DC_a01.wav, or a01.wav in a speaker folder)");
    char code[3];
    copy_n(code, sizeof code, stem + p, nl);
    int l = -1;
    for (size_t i = 0; i < sizeof EMO / sizeof EMO[0]; i++)
        if (!strcasecmp(code, EMO[i].code)) l = EMO[i].label;
    if (l < 0) return ser_fail(err, "SAVEE emotion prefix '%s' unknown (a d f h n sa su)", code);
    *label = LABEL_NAMES[l];
    if (p) copy_n(spk, spk_len, stem, p - 1);
    else copy_n(spk, spk_len, folder ? folder : "", folder ? strlen(folder) : 0);
    return 0;
}

/* ---- generic folder-per-label ------------------------------------------------------------ */

static int folders_parse(const char *folder, const char **label, char *spk, size_t spk_len, ser_error *err) {
    if (!folder || !*folder) return ser_fail(err, "no folder name to take the label from");
    int l = ser_label_parse(folder);
    *label = l >= 0 ? LABEL_NAMES[l] : folder;
    copy_n(spk, spk_len, "", 0);
    return 0;
}

int ser_name_match(ser_corpus_kind kind, const char *file, const char *folder) {
    (void)folder;
    switch (kind) {
    case SER_CORPUS_TESS: return tess_match(file);
    case SER_CORPUS_RAVDESS: return ravdess_match(file);
    case SER_CORPUS_CREMAD: return cremad_match(file);
    case SER_CORPUS_SAVEE: return savee_match(file);
    case SER_CORPUS_FOLDERS: return 1;
    default: return 0;
    }
}

int ser_name_parse(ser_corpus_kind kind, const char *file, const char *folder, const char **label,
                   char *spk, size_t spk_len, ser_error *err) {
    SER_ASSERT(spk && spk_len > 0);
    spk[0] = 0;
    switch (kind) {
    case SER_CORPUS_TESS: return tess_parse(file, folder, label, spk, spk_len, err);
    case SER_CORPUS_RAVDESS: return ravdess_parse(file, label, spk, spk_len, err);
    case SER_CORPUS_CREMAD: return cremad_parse(file, label, spk, spk_len, err);
    case SER_CORPUS_SAVEE: return savee_parse(file, folder, label, spk, spk_len, err);
    case SER_CORPUS_FOLDERS: return folders_parse(folder, label, spk, spk_len, err);
    default: return ser_fail(err, "no parser for corpus kind %d", (int)kind);
    }
}

static const char *const KIND_NAMES[] = {"auto", "tess", "ravdess", "cremad", "savee", "folders"};

const char *ser_corpus_kind_name(ser_corpus_kind kind) {
    return (unsigned)kind < sizeof KIND_NAMES / sizeof KIND_NAMES[0] ? KIND_NAMES[kind] : "?";
}

int ser_corpus_kind_parse(const char *word, ser_corpus_kind *kind, ser_error *err) {
    for (size_t i = 0; i < sizeof KIND_NAMES / sizeof KIND_NAMES[0]; i++)
        if (!strcasecmp(word, KIND_NAMES[i])) {
            *kind = (ser_corpus_kind)i;
            return 0;
        }
    if (!strcasecmp(word, "crema-d") || !strcasecmp(word, "crema")) {
        *kind = SER_CORPUS_CREMAD;
        return 0;
    }
    return ser_fail(err, "unknown corpus kind '%s' (auto tess ravdess cremad savee folders)", word);
}
