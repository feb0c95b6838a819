/* `ser synth`: writes the synthetic emotional-speech corpus (TESS layout) of ser/synth.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "ser/synth.h"

static void usage(FILE *f) {
    ser_synth_config d;
    ser_synth_config_default(&d);
    fprintf(f,
            "usage: ser synth --out DIR [--per-class N] [--speakers S] [--seed SEED] [--rate HZ]\n"
            "       ser synth --sequence OUT.wav --emotions E1,E2,... [--count N] [--first-index I] [--gap SEC]\n"
            "                 [--speakers S] [--seed SEED] [--rate HZ]\n\n"
            "Writes a small deterministic synthetic emotional-speech corpus in TESS layout:\n"
            "  DIR/{SPK}_{emotion}/{SPK}_{word}_{emotion}.wav  (16-bit mono WAV, 1.5-3.0 s)\n"
            "for the emotions angry disgust fear happy neutral ps sad. Pitch level and contour,\n"
            "tempo, loudness, jitter, tremor, breathiness and spectral tilt depend on the emotion;\n"
            "the same seed gives byte-identical files.\n\n"
            "  --out DIR        output folder (created if missing)\n"
            "  --per-class N    clips per emotion per speaker (default %d)\n"
            "  --speakers S     number of speakers, 1..%d (default %d)\n"
            "  --seed SEED      generator seed (default %llu)\n"
            "  --rate HZ        sample rate (default %d, TESS's)\n\n"
            "--sequence writes ONE recording: --gap seconds of silence (default 2), then N clips (default:\n"
            "one per emotion listed), each followed by the gap; clip j has emotion E(j mod L) of the L\n"
            "listed, speaker (j div L) mod S and clip index I + j (default I 1000: clips that a corpus of\n"
            "--per-class below 1000 does not hold).\n"
            "Prints the clips' times as TSV (start, end, emotion, speaker, index) on stdout.\n",
            d.per_class, SER_SYNTH_MAX_SPEAKERS, d.speakers, (unsigned long long)d.seed, d.rate);
}

/* Parses a whole decimal integer in [lo, hi]. */
static int parse_int(const char *opt, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "ser synth: %s: '%s' is not an integer in %lld..%lld\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* --sequence: the emotion list parsed, then ser_synth_sequence. */
static int synth_sequence(const char *path, const ser_synth_config *cfg, const char *list, int count, int first_index,
                          double gap) {
    if (!list) {
        fprintf(stderr, "ser synth: --sequence needs --emotions E1,E2,... (of:");
        for (int e = 0; e < SER_SYNTH_NEMOTION; e++) fprintf(stderr, " %s", ser_synth_emotions[e]);
        fprintf(stderr, ")\n");
        return 2;
    }
    int em[256], n = 0;
    for (const char *p = list; *p && n < 256;) {
        const size_t len = strcspn(p, ",");
        int found = -1;
        for (int e = 0; e < SER_SYNTH_NEMOTION; e++)
            if (strlen(ser_synth_emotions[e]) == len && !strncmp(p, ser_synth_emotions[e], len)) found = e;
        if (found < 0) {
            fprintf(stderr, "ser synth: --emotions: '%.*s' is not one of the synthetic emotions\n", (int)len, p);
            return 2;
        }
        em[n++] = found;
        p += len + (p[len] == ',');
    }
    ser_error err = {{0}};
    if (ser_synth_sequence(path, cfg, em, n, count > 0 ? count : n, first_index, gap, stdout, &err)) {
        fprintf(stderr, "ser synth: %s\n", err.msg);
        return 1;
    }
    return 0;
}

int cmd_synth(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    ser_synth_config cfg;
    ser_synth_config_default(&cfg);
    const char *out = NULL, *sequence = NULL, *emotions = NULL;
    long long count = 0, first_index = 1000;
    double gap = 2.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "ser synth: %s needs a value (or is unknown)\n\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        long long x;
        if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--sequence")) sequence = v;
        else if (!strcmp(a, "--emotions")) emotions = v;
        else if (!strcmp(a, "--count")) {
            if (parse_int(a, v, 1, 1000000, &count)) return 2;
        } else if (!strcmp(a, "--first-index")) {
            if (parse_int(a, v, 0, 100000000, &first_index)) return 2;
        } else if (!strcmp(a, "--gap")) {
            char *end;
            gap = strtod(v, &end);
            if (end == v || *end || !(gap >= 0 && gap <= 3600)) {
                fprintf(stderr, "ser synth: --gap: '%s' is not a number of seconds in 0..3600\n", v);
                return 2;
            }
        }
        else if (!strcmp(a, "--per-class")) {
            if (parse_int(a, v, 1, 100000, &x)) return 2;
            cfg.per_class = (int)x;
        } else if (!strcmp(a, "--speakers")) {
            if (parse_int(a, v, 1, SER_SYNTH_MAX_SPEAKERS, &x)) return 2;
            cfg.speakers = (int)x;
        } else if (!strcmp(a, "--seed")) {
            if (parse_int(a, v, 0, 0x7fffffffffffffffLL, &x)) return 2;
            cfg.seed = (uint64_t)x;
        } else if (!strcmp(a, "--rate")) {
            if (parse_int(a, v, 8000, 96000, &x)) return 2;
            cfg.rate = (int)x;
        } else {
            fprintf(stderr, "ser synth: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (sequence) return synth_sequence(sequence, &cfg, emotions, (int)count, (int)first_index, gap);
    if (!out) {
        fprintf(stderr, "ser synth: --out DIR is required\n\n");
        usage(stderr);
        return 2;
    }
    ser_error err = {{0}};
    size_t n = 0;
    if (ser_synth_corpus(out, &cfg, &n, &err)) {
        fprintf(stderr, "ser synth: %s\n", err.msg);
        return 1;
    }
    printf("ser synth: wrote %zu clips (%d speakers x %d emotions x %d) to %s\n", n, cfg.speakers,
           SER_SYNTH_NEMOTION, cfg.per_class, out);
    return 0;
}
