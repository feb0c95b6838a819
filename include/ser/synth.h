/* A small deterministic synthetic emotional-speech corpus in TESS layout, generated in C:
 *   OUT/{SPK}_{emotion}/{SPK}_{word}_{emotion}.wav   (16-bit mono WAV)
 * for the 7 TESS emotions. Each clip is a "say the word X"-like utterance of voiced syllables
 * (Rosenberg glottal pulses -> spectral tilt -> 4 cascaded formant resonators, with noise
 * consonants between syllables) whose pitch level and contour, tempo, loudness, jitter,
 * shimmer, tremor, breathiness and spectral tilt depend on the emotion; speakers differ in
 * pitch and vocal-tract length; every clip draws its own variation from a generator keyed by
 * (seed, speaker, emotion, index), so a clip does not depend on how many others are made and
 * the same seed gives byte-identical files. Clips last 1.5-3.0 s like TESS. */
#ifndef SER_SYNTH_H
#define SER_SYNTH_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ser/error.h"

#define SER_SYNTH_NEMOTION 7
#define SER_SYNTH_MAX_SPEAKERS 8

/* TESS's emotion names, in its (alphabetical) order: angry disgust fear happy neutral ps sad. */
extern const char *const ser_synth_emotions[SER_SYNTH_NEMOTION];

typedef struct ser_synth_config {
    int per_class;  /* clips per emotion per speaker (default 20) */
    int speakers;   /* 1..SER_SYNTH_MAX_SPEAKERS (default 2) */
    uint64_t seed;  /* default 1 */
    int rate;       /* sample rate in Hz, 8000..96000 (default 24414, TESS's) */
} ser_synth_config;

void ser_synth_config_default(ser_synth_config *cfg);

/* Speaker code of speaker s (0-based): "SPA", "SPB", ... */
const char *ser_synth_speaker(int s);

/* The word of clip index (0-based): a TESS-like word, with a number appended past the list. */
void ser_synth_word(int index, char *buf, size_t n);

/* Synthesises one clip into a malloc'd buffer of *n samples in [-1, 1] at cfg->rate. */
int ser_synth_clip(const ser_synth_config *cfg, int speaker, int emotion, int index, float **samples, size_t *n,
                   ser_error *err);

/* Writes the whole corpus under out (created if missing; existing files are replaced, each
 * atomically). *nfiles (may be NULL) receives the number of files written. */
int ser_synth_corpus(const char *out, const ser_synth_config *cfg, size_t *nfiles, ser_error *err);

/* One 16-bit mono WAV (host/corpus/synth_sequence.c): gap_s seconds of digital silence, then
 * `count` clips each followed by gap_s of silence; clip j is ser_synth_clip(emotion
 * emotions[j % n_emotions], speaker (j / n_emotions) % speakers: each round of the list is one
 * speaker, index first_index + j), so indices past a corpus's per_class
 * are clips that corpus does not hold. segments (may be NULL) gets a TSV header and one line
 * per clip: start and end (s), emotion, speaker, index. Atomic (temp file + rename). */
int ser_synth_sequence(const char *path, const ser_synth_config *cfg, const int *emotions, int n_emotions, int count,
                       int first_index, double gap_s, FILE *segments, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
