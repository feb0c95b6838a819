/* `ser predict`: the label and every class's probability for each file, or with --window /
 * --hop for each window of one recording (predict_window.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "loaded_model.h"
#include "predict_window.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ser predict --model RUN/model.safetensors [--json] [--device auto|cpu|cuda] FILE...\n\n"
            "Prints, for each file, the predicted label and every class's probability;\n"
            "--json prints one object per line: {\"path\", \"label\", \"probs\": {label: p, ...}}.\n"
            "A file that cannot be decoded is reported on stderr and the others go on (exit 1).\n\n"
            "Emotion over time (docs/predict-window.md):\n"
            "  ser predict --model M --segments [--pad SEC] [--window SEC] [--silence-db DB] [--json | --csv]\n"
            "              [--png OUT.png] FILE\n"
            "streams FILE (any length, any format libsndfile reads) and cuts it where the voice is: speech\n"
            "goes from a 10 ms frame at or above --silence-db dBFS (default %g) until 0.5 s stay 10 dB\n"
            "below it. Each segment, with --pad seconds of the recording around it (default %g), is\n"
            "classified as `ser predict` classifies a file holding it (the model's audio.trim_db, offset\n"
            "and duration); a segment longer than --window (default: the model's offset + duration) is\n"
            "cut into pieces of about that length. The silences between are reported silent. One\n"
            "record per segment or silence: start, end, label, probabilities (--json adds \"clip\": the\n"
            "seconds the model read). With features.normalize = 2 the recording is one speaker: the file\n"
            "is read twice, the statistics come from all its segments.\n\n"
            "  ser predict --model M [--window SEC] [--hop SEC] [--silence-db DB] [--json | --csv] [--png OUT.png] FILE\n"
            "fixed windows instead (for models trained with train.aug_wave_shift): classifies every window of SEC\n"
            "seconds (default: the model's audio.duration), one every --hop seconds (default: half the\n"
            "window); the last window is the first that reaches the end (shorter: padded like a short\n"
            "clip; the model's audio.offset is not applied). A window's features are those that\n"
            "`ser predict` computes for the same samples as a standalone clip: a --window other than\n"
            "the model's duration is cut or zero-padded to the model's frames, as clips are. Windows\n"
            "whose RMS is below --silence-db dBFS (default %g) are not classified and are reported\n"
            "silent. Output: one line per window (start, end, label, probabilities), --json one object\n"
            "per line {start, end, rms_dbfs, label, probs} or {start, end, rms_dbfs, silent: true},\n"
            "--csv a header and one row per window; --png draws the waveform envelope above the\n"
            "stacked class probabilities over time.\n"
            "  --batch N     windows per network batch (default twice the model's train.batch_size)\n",
            PW_SILENCE_DB_DEFAULT, PW_PAD_DEFAULT, PW_SILENCE_DB_DEFAULT);
}

/* A finite number from an option's value, or an error naming the option (usage error). */
static int parse_num(const char *opt, const char *v, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x)) {
        fprintf(stderr, "ser predict: %s: '%s' is not a number\n", opt, v);
        return -1;
    }
    *out = x;
    return 0;
}

int cmd_predict(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *model = NULL, *device = "auto";
    int json = 0;
    predict_window_opts pw = {.silence_db = PW_SILENCE_DB_DEFAULT, .silence_default = 1, .pad = -1};
    int windowed = 0, window_only = 0; /* --window / --hop given; options that need them */
    double v;
    ser_clips clips = {0};
    ser_error err = {{0}};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if ((!strcmp(argv[i], "--window") || !strcmp(argv[i], "--hop")) && i + 1 < argc) {
            const char *opt = argv[i];
            if (parse_num(opt, argv[++i], &v)) goto usage_error;
            if (!(v > 0)) {
                fprintf(stderr, "ser predict: %s %s: must be a positive number of seconds\n", opt, argv[i]);
                goto usage_error;
            }
            *(opt[2] == 'w' ? &pw.window : &pw.hop) = v;
            windowed = 1;
        } else if (!strcmp(argv[i], "--segments")) {
            pw.segments = 1, windowed = 1;
        } else if (!strcmp(argv[i], "--pad") && i + 1 < argc) {
            if (parse_num(argv[i], argv[i + 1], &pw.pad)) goto usage_error;
            if (!(pw.pad >= 0 && pw.pad <= 60)) {
                fprintf(stderr, "ser predict: --pad %s: must be 0 .. 60 seconds\n", argv[i + 1]);
                goto usage_error;
            }
            window_only = 1, i++;
        } else if (!strcmp(argv[i], "--silence-db") && i + 1 < argc) {
            if (parse_num(argv[i], argv[i + 1], &pw.silence_db)) goto usage_error;
            pw.silence_default = 0, window_only = 1, i++;
        } else if (!strcmp(argv[i], "--csv")) pw.format = PW_CSV, window_only = 1;
        else if (!strcmp(argv[i], "--png") && i + 1 < argc) pw.png = argv[++i], window_only = 1;
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            if (parse_num(argv[i], argv[i + 1], &v)) goto usage_error;
            if (v < 1 || v > 65536 || v != floor(v)) {
                fprintf(stderr, "ser predict: --batch %s: must be an integer in 1..65536\n", argv[i + 1]);
                goto usage_error;
            }
            pw.batch = (int)v, window_only = 1, i++;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "ser predict: unknown option or missing value: %s\n", argv[i]);
            goto usage_error;
        } else if (ser_clips_push(&clips, argv[i], "", "", "", &err) != 0) {
            fprintf(stderr, "ser predict: %s\n", err.msg);
            ser_clips_free(&clips);
            return 1;
        }
    }
    if (!model || clips.n == 0) {
        fprintf(stderr, "ser predict: %s\n", !model ? "--model is required" : "no FILE given");
        usage(stderr);
        ser_clips_free(&clips);
        return 2;
    }
    if (window_only && !windowed) {
        fprintf(stderr, "ser predict: --silence-db, --pad, --csv, --png and --batch work with --window / --hop or --segments\n");
        goto usage_error;
    }
    if (windowed) {
        if (clips.n != 1 || (json && pw.format == PW_CSV) || (pw.segments && pw.hop > 0)) {
            fprintf(stderr, "ser predict: %s\n",
                    clips.n != 1 ? (pw.segments ? "--segments takes exactly one FILE" : "--window takes exactly one FILE")
                    : pw.segments ? "--hop is for fixed windows, not --segments"
                                  : "--json or --csv, not both");
            goto usage_error;
        }
        if (pw.pad >= 0 && !pw.segments) {
            fprintf(stderr, "ser predict: --pad works with --segments\n");
            goto usage_error;
        }
        pw.model = model, pw.device = device, pw.path = clips.v[0].path;
        if (json) pw.format = PW_JSON;
        int wrc = predict_window_run(&pw);
        ser_clips_free(&clips);
        return wrc;
    }
    loaded_model lm;
    ser_dataset ds = {0};
    float *probs = NULL;
    int rc = 1;
    if (loaded_model_open(&lm, model, device, "ser predict", &err) != 0 || loaded_model_dataset(&lm, &clips, 0, "predict", &ds, &err) != 0)
        goto fail;
    const int C = (int)lm.meta.n_labels;
    probs = ser_malloc(ds.n * C * sizeof *probs, "probabilities", &err);
    ser_loop_data d = ser_loop_data_of(&ds);
    d.y = NULL;
    int32_t *pred = probs ? ser_malloc(ds.n * sizeof *pred, "predictions", &err) : NULL;
    if (!probs || !pred || ser_evaluate(&lm.net, &d, lm.meta.cfg.train.batch_size, NULL, NULL, pred, probs, &err) != 0) {
        free(pred);
        goto fail;
    }
    for (size_t i = 0; i < ds.n; i++) {
        const float *p = probs + i * C;
        if (json) {
            cJSON *o = cJSON_CreateObject(), *ps = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "path", ds.clips.v[i].path);
            cJSON_AddStringToObject(o, "label", lm.meta.labels[pred[i]]);
            for (int c = 0; c < C; c++) cJSON_AddNumberToObject(ps, lm.meta.labels[c], p[c]);
            cJSON_AddItemToObject(o, "probs", ps);
            char *s = cJSON_PrintUnformatted(o);
            printf("%s\n", s ? s : "{}");
            free(s);
            cJSON_Delete(o);
        } else {
            printf("%s\t%s", ds.clips.v[i].path, lm.meta.labels[pred[i]]);
            for (int c = 0; c < C; c++) printf("\t%s=%.4f", lm.meta.labels[c], p[c]);
            printf("\n");
        }
    }
    free(pred);
    rc = ds.n_dropped ? 1 : 0;
    goto done;
fail:
    fprintf(stderr, "ser predict: %s\n", err.msg);
done:
    free(probs);
    ser_dataset_free(&ds);
    ser_clips_free(&clips);
    loaded_model_close(&lm);
    return rc;
usage_error:
    usage(stderr);
    ser_clips_free(&clips);
    return 2;
}
