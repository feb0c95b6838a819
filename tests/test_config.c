/* Config: defaults are the reference recipe; unknown keys, bad values and syntax errors are
 * reported with the file, line and key; --set overrides go through the same checks. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ser/config.h"

static const char *write_tmp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ser_test_config_%d.ini", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* features.normalize: a name and the number it stood for before it had names give the same
 * config, from --set, an INI file and a model's JSON; config.ini writes the name, the model
 * JSON the number (read by older builds); an unknown name is refused, naming key and names. */
static void test_code_keys(void) {
    static const char *const names[] = {"none", "clip", "speaker"};
    ser_error e = {{0}};
    for (int code = 0; code < 3; code++) {
        char by_name[64], by_code[64], text[128];
        ser_config a, b, f;
        ser_config_defaults(&a);
        ser_config_defaults(&b);
        ser_config_defaults(&f);
        snprintf(by_name, sizeof by_name, "features.normalize=%s", names[code]);
        snprintf(by_code, sizeof by_code, "features.normalize=%d", code);
        CHECKF(ser_config_set(&a, by_name, &e) == 0, "%s: %s", by_name, e.msg);
        CHECKF(ser_config_set(&b, by_code, &e) == 0, "%s: %s", by_code, e.msg);
        CHECKF(a.features.normalize == code && memcmp(&a, &b, sizeof a) == 0, "%s and %s differ", by_name, by_code);
        snprintf(text, sizeof text, "[features]\nnormalize = %s\n", names[code]);
        CHECKF(ser_config_load(&f, write_tmp(text), &e) == 0 && memcmp(&a, &f, sizeof a) == 0, "INI %s: %s", names[code], e.msg);
        char *json = ser_config_to_json(&a);
        snprintf(text, sizeof text, "\"normalize\":%d,", code);
        CHECKF(json && strstr(json, text), "model JSON should keep the number %d: %s", code, json ? json : "(null)");
        CHECKF(json && ser_config_from_json(&f, json, &e) == 0 && memcmp(&a, &f, sizeof a) == 0, "JSON %d: %s", code, e.msg);
        /* a model JSON written with the name (as an INI value would be) loads too */
        char *at = json ? strstr(json, text) : NULL;
        if (at) {
            char named[4096];
            snprintf(named, sizeof named, "%.*s\"normalize\":\"%s\",%s", (int)(at - json), json, names[code], at + strlen(text));
            CHECKF(ser_config_from_json(&f, named, &e) == 0 && memcmp(&a, &f, sizeof a) == 0, "JSON %s: %s", names[code], e.msg);
        }
        free(json);
        char ini[64];
        snprintf(ini, sizeof ini, "/tmp/ser_test_config_code_%d.ini", (int)getpid());
        CHECKF(ser_config_write_ini(&a, ini, &e) == 0, "%s", e.msg);
        FILE *r = fopen(ini, "r");
        char line[256];
        int found = 0;
        snprintf(text, sizeof text, "normalize = %s\n", names[code]);
        while (r && fgets(line, sizeof line, r))
            if (!strcmp(line, text)) found = 1;
        if (r) fclose(r);
        unlink(ini);
        CHECKF(found, "config.ini should write '%s'", names[code]);
    }
    ser_config c;
    ser_config_defaults(&c);
    CHECK(ser_config_set(&c, "features.normalize=speakers", &e) != 0 && strstr(e.msg, "features.normalize") &&
          strstr(e.msg, "none, clip, speaker"));
    CHECK(ser_config_set(&c, "features.normalize=3", &e) != 0 && strstr(e.msg, "none, clip, speaker"));
    CHECK(ser_config_set(&c, "features.normalize=1.5", &e) != 0 && c.features.normalize == 0);
    CHECK(ser_config_set(&c, "features.normalize=Speaker", &e) != 0);
}

int main(void) {
    ser_config c;
    ser_error e = {{0}};
    ser_config_defaults(&c);
    CHECK(c.audio.sample_rate == 22050 && c.audio.offset == 0.5 && c.audio.duration == 3.0);
    CHECK(c.features.n_mfcc == 40 && c.features.n_fft == 2048 && c.features.hop_length == 512);
    CHECK(c.features.n_mels == 128 && c.features.frames == 130 && c.features.top_db == 80);
    CHECK(ser_config_fmax(&c) == 11025.0);
    CHECK(c.model.conv_blocks == 4 && c.model.filters == 64 && c.model.lstm_units == 32 && c.model.attention == 1);
    CHECK(c.train.batch_size == 64 && c.train.learning_rate == 5e-4 && c.train.adam_epsilon == 1e-7);

    const char *p = write_tmp("# comment\n[audio]\nsample_rate = 16000\n\n[features]\nn_mfcc=20\n[model]\nattention = false\n");
    CHECKF(ser_config_load(&c, p, &e) == 0, "%s", e.msg);
    CHECK(c.audio.sample_rate == 16000 && c.features.n_mfcc == 20 && c.model.attention == 0);
    CHECK(c.audio.offset == 0.5); /* untouched keys keep their values */

    ser_config_defaults(&c);
    p = write_tmp("[audio]\nsample_rate = 22050\n\n[features]\nn_mfc = 40\n");
    CHECK(ser_config_load(&c, p, &e) != 0);
    CHECKF(strstr(e.msg, ":5:") && strstr(e.msg, "features.n_mfc") && strstr(e.msg, "unknown key"), "%s", e.msg);

    p = write_tmp("[audio]\nsample_rate = fast\n");
    CHECK(ser_config_load(&c, p, &e) != 0);
    CHECKF(strstr(e.msg, ":2:") && strstr(e.msg, "audio.sample_rate") && strstr(e.msg, "not a number"), "%s", e.msg);

    p = write_tmp("[audio]\nsample_rate = 22050.5\n");
    CHECK(ser_config_load(&c, p, &e) != 0 && strstr(e.msg, "whole number"));

    p = write_tmp("[features]\nn_fft = -5\n");
    CHECK(ser_config_load(&c, p, &e) != 0 && strstr(e.msg, "out of range"));

    p = write_tmp("[nosuch]\nkey = 1\n");
    CHECK(ser_config_load(&c, p, &e) != 0 && strstr(e.msg, "unknown section [nosuch]"));

    p = write_tmp("[audio]\nthis line is not ini\n");
    CHECK(ser_config_load(&c, p, &e) != 0 && strstr(e.msg, ":2:"));

    CHECK(ser_config_load(&c, "/nonexistent/x.ini", &e) != 0 && strstr(e.msg, "/nonexistent/x.ini"));

    ser_config_defaults(&c);
    CHECK(ser_config_set(&c, "train.epochs=3", &e) == 0 && c.train.epochs == 3);
    CHECK(ser_config_set(&c, "train.epoch=3", &e) != 0 && strstr(e.msg, "train.epoch"));
    CHECK(ser_config_set(&c, "epochs=3", &e) != 0);
    CHECK(ser_config_set(&c, "features.hop_length=4096", &e) != 0 && strstr(e.msg, "hop_length"));
    /* overrides that must agree are checked together, in any order; a bad combination leaves c */
    {
        const char *lm[] = {"features.logmel=true", "features.n_mfcc=64", "features.n_mels=64"};
        ser_config d = c;
        CHECKF(ser_config_set_all(&d, lm, 3, &e) == 0 && d.features.logmel && d.features.n_mfcc == 64, "%s", e.msg);
        d = c;
        CHECK(ser_config_set_all(&d, lm, 2, &e) != 0 && strstr(e.msg, "features.logmel") &&
              strstr(e.msg, "--set features.logmel=true and the other 1") && !d.features.logmel && d.features.n_mfcc == c.features.n_mfcc);
        CHECK(ser_config_set(&d, lm[0], &e) != 0 && strstr(e.msg, "n_mfcc"));
    }
    CHECK(c.features.hop_length == 512); /* a rejected override changes nothing */

    /* an enum key: by name only; a bad name lists the choices */
    CHECK(c.train.monitor == SER_MONITOR_VAL_LOSS);
    CHECKF(ser_config_set(&c, "train.monitor=val_uar", &e) == 0 && c.train.monitor == SER_MONITOR_VAL_UAR, "%s", e.msg);
    CHECK(ser_config_set(&c, "train.monitor=2", &e) != 0 && strstr(e.msg, "val_loss, val_accuracy, val_uar"));
    CHECK(ser_config_set(&c, "train.monitor=uar", &e) != 0 && strstr(e.msg, "train.monitor") && c.train.monitor == SER_MONITOR_VAL_UAR);

    char *json = ser_config_to_json(&c);
    CHECK(json && strstr(json, "\"monitor\":\"val_uar\""));
    CHECK(json && strstr(json, "\"n_mfcc\":40") && strstr(json, "\"attention\":true"));
    /* JSON and INI round trips give back exactly the same configuration */
    ser_config c2;
    c.train.learning_rate = 0.000123456789;
    c.model.attention = 0;
    free(json);
    json = ser_config_to_json(&c);
    CHECKF(ser_config_from_json(&c2, json, &e) == 0, "%s", e.msg);
    CHECK(memcmp(&c, &c2, sizeof c) == 0);
    CHECK(ser_config_from_json(&c2, "{\"audio\": {}}", &e) != 0 && strstr(e.msg, "missing key audio.sample_rate"));
    CHECK(ser_config_from_json(&c2, "not json", &e) != 0);
    /* the speaker-independent keys: reference defaults (off), and a model JSON written before
     * they existed still loads (each takes its default) */
    ser_config d;
    ser_config_defaults(&d);
    CHECK(d.features.normalize == 0 && d.model.time_axis == 0 && d.train.aug_time_shift == 0 &&
          d.train.aug_time_masks == 0 && d.train.aug_freq_masks == 0 && d.train.aug_noise == 0 && d.train.aug_gain == 0);
    CHECK(ser_config_set(&d, "features.normalize=3", &e) != 0 && strstr(e.msg, "features.normalize"));
    CHECKF(ser_config_set(&d, "model.time_axis=true", &e) == 0 && d.model.time_axis == 1, "%s", e.msg);
    char *dj = ser_config_to_json(&d);
    CHECK(dj && strstr(dj, "\"time_axis\":true") && strstr(dj, "\"normalize\":0"));
    char *cut = dj ? strstr(dj, ",\"time_axis\":true") : NULL;
    if (cut) memmove(cut, cut + strlen(",\"time_axis\":true"), strlen(cut + strlen(",\"time_axis\":true")) + 1);
    CHECKF(cut && ser_config_from_json(&c2, dj, &e) == 0 && c2.model.time_axis == 0, "%s", e.msg);
    free(dj);
    char ini[64];
    snprintf(ini, sizeof ini, "/tmp/ser_test_config_rt_%d.ini", (int)getpid());
    CHECKF(ser_config_write_ini(&c, ini, &e) == 0, "%s", e.msg);
    ser_config_defaults(&c2);
    CHECKF(ser_config_load(&c2, ini, &e) == 0, "%s", e.msg);
    CHECK(memcmp(&c, &c2, sizeof c) == 0);
    unlink(ini);
    free(json);
    test_code_keys();
    unlink(p);
    return check_finish("test_config");
}
