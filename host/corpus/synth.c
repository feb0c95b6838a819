/* Synthetic emotional speech: a source-filter voice (Rosenberg glottal pulses, one-pole
 * spectral tilt, breath noise, 4 cascaded Klatt formant resonators) speaking 4 syllables
 * ("say the word X") with emotion-dependent prosody and voice quality. See ser/synth.h. */
#include "ser/synth.h"

#include "ser/mkdir_p.h"
#include "ser/rng.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sndfile.h>

#define SYN_PI 3.14159265358979323846

const char *const ser_synth_emotions[SER_SYNTH_NEMOTION] = {"angry", "disgust", "fear", "happy",
                                                            "neutral", "ps", "sad"};

void ser_synth_config_default(ser_synth_config *cfg) {
    cfg->per_class = 20;
    cfg->speakers = 2;
    cfg->seed = 1;
    cfg->rate = 24414;
}

const char *ser_synth_speaker(int s) {
    static const char *const names[SER_SYNTH_MAX_SPEAKERS] = {"SPA", "SPB", "SPC", "SPD",
                                                              "SPE", "SPF", "SPG", "SPH"};
    SER_ASSERT(s >= 0 && s < SER_SYNTH_MAX_SPEAKERS);
    return names[s];
}

static const char *const WORDS[] = {
    "back", "bar", "base", "bath", "bean", "beg", "bite", "boat", "bone", "book", "burn", "cab",
    "calm", "came", "cause", "chain", "chair", "chalk", "check", "cheek", "chief", "choice", "cool", "date",
    "dead", "deep", "dime", "dip", "ditch", "dog", "doll", "door", "fail", "fall", "far", "fat",
    "fit", "five", "food", "gas", "gaze", "germ", "get", "goal", "good", "goose", "hall", "hash",
    "have", "hire"};
#define NWORDS (sizeof WORDS / sizeof WORDS[0])

void ser_synth_word(int index, char *buf, size_t n) {
    if (index < (int)NWORDS) snprintf(buf, n, "%s", WORDS[index]);
    else snprintf(buf, n, "%s%d", WORDS[index % NWORDS], index / (int)NWORDS + 1);
}

/* ---- a small counter-seeded generator (splitmix64) -------------------------------------- */

static double rng_range(ser_rng *r, double lo, double hi) { return lo + (hi - lo) * ser_rng_uniform(r); }
static double rng_gauss(ser_rng *r) {
    double u = ser_rng_uniform(r), v = ser_rng_uniform(r);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(2.0 * SYN_PI * v);
}
static ser_rng rng_for(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    ser_rng r = {seed * 0x2545f4914f6cdd1dull ^ (a << 40) ^ (b << 20) ^ c};
    for (int i = 0; i < 4; i++) ser_rng_next(&r);
    return r;
}

/* ---- emotion and speaker profiles -------------------------------------------------------- */

/* Mean prosody / voice quality of one emotion; each clip draws around these. */
typedef struct emotion_profile {
    double f0;          /* pitch level, multiple of the speaker's base */
    double range;       /* pitch excursion in semitones */
    int contour;        /* shape of the utterance's pitch (enum below) */
    double rate;        /* syllables per second */
    double final_len;   /* lengthening of the last (target-word) syllable */
    double loud_db;     /* level relative to neutral */
    double jitter;      /* period-to-period f0 perturbation (fraction) */
    double shimmer;     /* period-to-period amplitude perturbation (fraction) */
    double tremor;      /* depth of a 5-8 Hz f0 tremor, in semitones */
    double breath;      /* aspiration noise relative to the pulses */
    double tilt;        /* one-pole low-pass coefficient: 0 bright .. 0.8 dull */
    double oq;          /* glottal open quotient: low = pressed, high = breathy */
    double formant;     /* formant scale (smiling raises, sadness lowers) */
} emotion_profile;

enum { C_FALL, C_FALL_RISE, C_HIGH_FLAT, C_RISE_FALL, C_DECLINE, C_FINAL_RISE, C_FLAT_LOW };

static const emotion_profile PROFILES[SER_SYNTH_NEMOTION] = {
    /*          f0   range contour     rate final  dB  jit    shim  trem breath tilt  oq    formant */
    /* angry */ {1.22, 6.0, C_FALL,       5.0, 1.3, 6.0, 0.015, 0.06, 0.0, 0.04, 0.05, 0.40, 1.03},
    /* disg. */ {0.90, 4.0, C_FALL_RISE,  3.2, 1.9, 0.0, 0.012, 0.05, 0.0, 0.18, 0.45, 0.55, 0.98},
    /* fear  */ {1.42, 2.5, C_HIGH_FLAT,  5.6, 1.2, -2.0, 0.025, 0.08, 0.9, 0.25, 0.35, 0.62, 1.02},
    /* happy */ {1.30, 8.0, C_RISE_FALL,  4.5, 1.5, 3.0, 0.008, 0.03, 0.0, 0.08, 0.20, 0.50, 1.06},
    /* neut. */ {1.00, 2.5, C_DECLINE,    4.0, 1.5, 0.0, 0.005, 0.02, 0.0, 0.07, 0.30, 0.50, 1.00},
    /* ps    */ {1.45, 11.0, C_FINAL_RISE, 4.0, 2.1, 3.0, 0.010, 0.03, 0.0, 0.10, 0.20, 0.52, 1.05},
    /* sad   */ {0.86, 1.5, C_FLAT_LOW,   2.8, 1.8, -6.0, 0.008, 0.04, 0.3, 0.30, 0.62, 0.68, 0.96},
};

/* Base pitch (Hz), vocal-tract scale (formants) and loudness of each speaker. */
static const double SPEAKER_F0[SER_SYNTH_MAX_SPEAKERS] = {200, 228, 118, 165, 245, 140, 185, 105};
static const double SPEAKER_VT[SER_SYNTH_MAX_SPEAKERS] = {1.00, 1.07, 0.84, 0.94, 1.10, 0.88, 0.98, 0.82};

/* F1, F2, F3 (Hz) of ten English vowels (Peterson & Barney, women). */
static const double VOWELS[10][3] = {{310, 2790, 3310}, {430, 2480, 3070}, {610, 2330, 2990}, {860, 2050, 2850},
                                     {850, 1220, 2810}, {590, 920, 2710},   {470, 1160, 2680}, {370, 950, 2670},
                                     {760, 1400, 2780}, {500, 1640, 1960}};
/* "say the word": the vowels of the carrier phrase. */
static const int CARRIER[3] = {2, 8, 9};

#define NSYL 4

typedef struct syllable {
    double t0, tv, t1;  /* consonant from t0, vowel from tv, end at t1 (seconds) */
    double f[4], bw[4]; /* formants and bandwidths of the vowel */
    double cons_fc;     /* centre of the consonant noise */
    double amp;         /* relative level (the target word is stressed) */
} syllable;

/* Pitch offset in semitones at utterance time u in [0, 1] for a contour, plus a per-syllable
 * accent (phase s in [0, 1] within the syllable). */
static double contour_st(int shape, double range, double u, double s, int syl) {
    double accent = sin(SYN_PI * s);
    switch (shape) {
    case C_FALL: return range * (0.6 - 0.9 * u) + (syl == NSYL - 1 ? 0.35 : 0.2) * range * accent;
    case C_FALL_RISE: return range * (0.2 - 0.8 * u + (u > 0.75 ? 1.6 * (u - 0.75) * 4 * 0.3 : 0));
    case C_HIGH_FLAT: return range * (0.3 + 0.3 * u) + 0.1 * range * accent;
    case C_RISE_FALL: return range * (-0.3 + 0.8 * accent * (syl % 2 ? 0.7 : 1.0)) - 0.2 * range * u;
    case C_DECLINE: return range * (0.5 - 0.9 * u) + 0.25 * range * accent;
    case C_FINAL_RISE: return syl == NSYL - 1 ? range * (-0.2 + 0.9 * s) : range * (0.1 - 0.2 * u) + 0.15 * range * accent;
    default: return range * (0.1 - 0.3 * u);
    }
}

/* Klatt resonator: y = a x + b y1 + c y2, unity gain at DC. */
typedef struct reson {
    double a, b, c, y1, y2;
} reson;

static void reson_set(reson *r, double f, double bw, double rate) {
    double c = -exp(-2.0 * SYN_PI * bw / rate), b = 2.0 * exp(-SYN_PI * bw / rate) * cos(2.0 * SYN_PI * f / rate);
    r->a = 1.0 - b - c;
    r->b = b;
    r->c = c;
}
static double reson_run(reson *r, double x) {
    double y = r->a * x + r->b * r->y1 + r->c * r->y2;
    r->y2 = r->y1;
    r->y1 = y;
    return y;
}

/* Rosenberg glottal pulse at phase p in [0, 1) of a period with open quotient oq. */
static double glottal(double p, double oq) {
    double tp = 0.62 * oq, tn = 0.38 * oq;
    if (p < tp) return 0.5 * (1.0 - cos(SYN_PI * p / tp));
    if (p < tp + tn) return cos(0.5 * SYN_PI * (p - tp) / tn);
    return 0.0;
}

/* Smooth 0 -> 1 -> 0 envelope over [a, b] with ramps of length ra and rb. */
static double envelope(double t, double a, double b, double ra, double rb) {
    if (t < a || t >= b) return 0.0;
    if (t < a + ra) return 0.5 * (1.0 - cos(SYN_PI * (t - a) / ra));
    if (t > b - rb) return 0.5 * (1.0 - cos(SYN_PI * (b - t) / rb));
    return 1.0;
}

int ser_synth_clip(const ser_synth_config *cfg, int speaker, int emotion, int index, float **samples, size_t *n,
                   ser_error *err) {
    SER_ASSERT(speaker >= 0 && speaker < SER_SYNTH_MAX_SPEAKERS && emotion >= 0 && emotion < SER_SYNTH_NEMOTION);
    const emotion_profile *P = &PROFILES[emotion];
    const double rate = cfg->rate;
    ser_rng r = rng_for(cfg->seed, (uint64_t)speaker, (uint64_t)emotion, (uint64_t)index);
    /* The word fixes its vowel and consonant whatever the emotion, so that the word carries
     * no information about the label. */
    ser_rng rw = rng_for(cfg->seed ^ 0x5bd1e995ull, 99, 0, (uint64_t)index);

    /* Per-clip draws around the emotion's means: wide enough that classes overlap. */
    double f0 = SPEAKER_F0[speaker] * P->f0 * exp(0.07 * rng_gauss(&r));
    double range = P->range * exp(0.25 * rng_gauss(&r));
    double syl_rate = P->rate * exp(0.12 * rng_gauss(&r));
    double loud_db = P->loud_db + 2.5 * rng_gauss(&r);
    double jitter = P->jitter * exp(0.3 * rng_gauss(&r)), shimmer = P->shimmer * exp(0.3 * rng_gauss(&r));
    double tremor = P->tremor * exp(0.3 * rng_gauss(&r)), trem_hz = rng_range(&r, 5.0, 8.0);
    double breath = P->breath * exp(0.3 * rng_gauss(&r));
    double tilt = fmin(0.9, fmax(0.0, P->tilt + 0.07 * rng_gauss(&r)));
    double oq = fmin(0.85, fmax(0.3, P->oq + 0.04 * rng_gauss(&r)));
    double vt = SPEAKER_VT[speaker] * P->formant * exp(0.02 * rng_gauss(&r));

    /* Syllable timing: lead silence, 4 syllables (the last one lengthened), trail silence,
     * then squeezed or padded into 1.5 - 3.0 s. */
    syllable syl[NSYL];
    double dur[NSYL], speech = 0;
    for (int k = 0; k < NSYL; k++) {
        dur[k] = (k == NSYL - 1 ? P->final_len : 1.0) / syl_rate * exp(0.15 * rng_gauss(&r));
        speech += dur[k];
    }
    double lead = rng_range(&r, 0.10, 0.35), trail = rng_range(&r, 0.15, 0.50);
    double total = lead + speech + trail;
    if (total > 3.0) {
        double squeeze = (3.0 - lead - trail) / speech;
        for (int k = 0; k < NSYL; k++) dur[k] *= squeeze;
        speech *= squeeze;
        total = 3.0;
    }
    if (total < 1.5) trail += 1.5 - total, total = 1.5;
    double t = lead;
    int word_vowel = (int)(ser_rng_next(&rw) % 10);
    double word_cons = rng_range(&rw, 2500, 6000);
    for (int k = 0; k < NSYL; k++) {
        syllable *s = &syl[k];
        int v = k < 3 ? CARRIER[k] : word_vowel;
        s->t0 = t;
        s->tv = t + fmin(0.3 * dur[k], 0.07);
        s->t1 = t + dur[k] - fmin(0.1 * dur[k], 0.03); /* a short gap before the next */
        for (int j = 0; j < 3; j++) s->f[j] = VOWELS[v][j] * vt * exp(0.03 * rng_gauss(&r));
        s->f[3] = 3900 * vt;
        /* Breathy / lax voices have wider formant bandwidths. */
        double widen = 1.0 + 2.0 * breath;
        s->bw[0] = 70 * widen, s->bw[1] = 100 * widen, s->bw[2] = 140 * widen, s->bw[3] = 200 * widen;
        s->cons_fc = k < 3 ? (k == 0 ? 5500 : k == 1 ? 3800 : 2200) : word_cons;
        s->amp = (k == NSYL - 1 ? 1.0 : 0.75) * exp(0.1 * rng_gauss(&r));
        t += dur[k];
    }

    size_t len = (size_t)llround(total * rate);
    float *y = ser_malloc(len * sizeof *y, "synthetic clip", err);
    if (!y) return -1;
    double *voiced = ser_calloc(len, sizeof *voiced, "synthetic clip mask", err);
    if (!voiced) return free(y), -1;

    reson form[4] = {{0}}, cons = {0};
    double prev_n = 0, phase = 0, period_f0 = f0, period_amp = 1, lp = 0, prev_g = 0, t_speech = speech > 0 ? speech : 1;
    double trem_phase = ser_rng_uniform(&r) * 2 * SYN_PI;
    int k = 0;
    double cur_f[4], cur_bw[4];
    memcpy(cur_f, syl[0].f, sizeof cur_f);
    memcpy(cur_bw, syl[0].bw, sizeof cur_bw);
    for (size_t i = 0; i < len; i++) {
        double ti = (double)i / rate;
        while (k < NSYL - 1 && ti >= syl[k + 1].t0) k++;
        const syllable *s = &syl[k];
        /* Formants glide towards the current vowel (coarticulation), updated every 16 samples. */
        if (i % 16 == 0) {
            double glide = fmin(1.0, 16.0 / (0.04 * rate));
            for (int j = 0; j < 4; j++) {
                cur_f[j] += glide * (s->f[j] - cur_f[j]);
                cur_bw[j] += glide * (s->bw[j] - cur_bw[j]);
                reson_set(&form[j], cur_f[j], cur_bw[j], rate);
            }
            reson_set(&cons, s->cons_fc, 0.35 * s->cons_fc, rate);
        }
        double u = fmin(1.0, fmax(0.0, (ti - lead) / t_speech));
        double sp = (ti - s->t0) / (s->t1 - s->t0);
        double st = contour_st(P->contour, range, u, fmin(1.0, fmax(0.0, sp)), k) +
                    tremor * sin(2 * SYN_PI * trem_hz * ti + trem_phase);
        double inst_f0 = f0 * pow(2.0, st / 12.0);

        /* A new glottal period draws its jitter and shimmer. */
        phase += period_f0 / rate;
        if (phase >= 1.0) {
            phase -= 1.0;
            period_f0 = inst_f0 * (1.0 + jitter * rng_gauss(&r));
            period_amp = 1.0 + shimmer * rng_gauss(&r);
        }
        double g = glottal(phase, oq);
        double pulse = (g - prev_g) * rate / (period_f0 * 4.0); /* radiation: d/dt, level-normalised */
        prev_g = g;
        double noise = rng_gauss(&r);
        double ev = envelope(ti, s->tv, s->t1, 0.025, 0.04) * s->amp;
        double src = ev * (pulse * period_amp + breath * noise * (0.4 + g));
        lp = (1.0 - tilt) * src + tilt * lp; /* spectral tilt */
        double v = lp;
        for (int j = 0; j < 4; j++) v = reson_run(&form[j], v);
        /* Consonant: high-passed (differenced) noise through one wide resonator. */
        double ec = envelope(ti, s->t0, s->tv + 0.01, 0.01, 0.015) * 0.12 * s->amp, cn = rng_gauss(&r);
        double c = reson_run(&cons, ec * (cn - prev_n));
        prev_n = cn;
        y[i] = (float)(v + c);
        voiced[i] = ev;
    }

    /* Level: RMS over the voiced part set by the emotion's loudness, then a faint noise floor. */
    double e2 = 0, w = 0;
    for (size_t i = 0; i < len; i++) e2 += voiced[i] * (double)y[i] * y[i], w += voiced[i];
    double rms = sqrt(e2 / (w > 0 ? w : 1));
    double gain = rms > 0 ? 0.06 * pow(10.0, loud_db / 20.0) / rms : 0;
    for (size_t i = 0; i < len; i++) {
        double x = y[i] * gain + 3e-4 * rng_gauss(&r);
        y[i] = (float)fmax(-0.99, fmin(0.99, x));
    }
    free(voiced);
    *samples = y;
    *n = len;
    return 0;
}

/* ---- the corpus on disk ----------------------------------------------------------------- */

/* 16-bit PCM WAV through libsndfile, to a temporary name then renamed. The float -> int16
 * conversion is done here (round to nearest) so the bytes do not depend on libsndfile's. */
static int write_wav(const char *path, const float *x, size_t n, int rate, ser_error *err) {
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    SF_INFO info = {.samplerate = rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(tmp, SFM_WRITE, &info);
    if (!f) return ser_fail(err, "%s: cannot create: %s", tmp, sf_strerror(NULL));
    short buf[4096];
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += 4096) {
        size_t m = n - off < 4096 ? n - off : 4096;
        for (size_t i = 0; i < m; i++) buf[i] = (short)lrint(x[off + i] * 32767.0);
        if (sf_write_short(f, buf, (sf_count_t)m) != (sf_count_t)m)
            rc = ser_fail(err, "%s: write failed: %s", tmp, sf_strerror(f));
    }
    if (sf_close(f) != 0 && rc == 0) rc = ser_fail(err, "%s: close failed", tmp);
    if (rc == 0 && rename(tmp, path) != 0) rc = ser_fail(err, "%s: cannot rename into place: %s", path, strerror(errno));
    if (rc) unlink(tmp);
    return rc;
}

int ser_synth_corpus(const char *out, const ser_synth_config *cfg, size_t *nfiles, ser_error *err) {
    if (nfiles) *nfiles = 0;
    if (cfg->per_class < 1 || cfg->per_class > 100000)
        return ser_fail(err, "synth: per-class must be in 1..100000 (got %d)", cfg->per_class);
    if (cfg->speakers < 1 || cfg->speakers > SER_SYNTH_MAX_SPEAKERS)
        return ser_fail(err, "synth: speakers must be in 1..%d (got %d)", SER_SYNTH_MAX_SPEAKERS, cfg->speakers);
    if (cfg->rate < 8000 || cfg->rate > 96000) return ser_fail(err, "synth: rate must be in 8000..96000 Hz (got %d)", cfg->rate);
    if (ser_mkdir_p(out, err)) return -1;
    for (int s = 0; s < cfg->speakers; s++)
        for (int e = 0; e < SER_SYNTH_NEMOTION; e++) {
            char dir[4096];
            if (snprintf(dir, sizeof dir, "%s/%s_%s", out, ser_synth_speaker(s), ser_synth_emotions[e]) >= (int)sizeof dir)
                return ser_fail(err, "%s: path too long", out);
            if (ser_mkdir_p(dir, err)) return -1;
            for (int i = 0; i < cfg->per_class; i++) {
                char word[64], path[4200];
                ser_synth_word(i, word, sizeof word);
                snprintf(path, sizeof path, "%s/%s_%s_%s.wav", dir, ser_synth_speaker(s), word, ser_synth_emotions[e]);
                float *x;
                size_t n;
                if (ser_synth_clip(cfg, s, e, i, &x, &n, err)) return -1;
                int rc = write_wav(path, x, n, cfg->rate, err);
                free(x);
                if (rc) return -1;
                if (nfiles) (*nfiles)++;
            }
        }
    return 0;
}
