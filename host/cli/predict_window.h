/* `ser predict --window SEC --hop SEC FILE`: emotion over time for a recording of any length,
 * streamed (ser/audio_stream.h) through windows of the model's clip length (ser/window_features.h),
 * batched through the network. See docs/predict-window.md. */
#ifndef SER_CLI_PREDICT_WINDOW_H
#define SER_CLI_PREDICT_WINDOW_H

enum { PW_TEXT = 0, PW_JSON = 1, PW_CSV = 2 };

#define PW_SILENCE_DB_DEFAULT (-50.0)

typedef struct predict_window_opts {
    const char *model, *device, *path;
    double window;       /* seconds; <= 0: the model's audio.duration */
    double hop;          /* seconds; <= 0: half the window */
    double silence_db;   /* windows whose RMS is below this many dBFS are not classified */
    int silence_default; /* silence_db is the default (said so in the output) */
    int format;          /* PW_TEXT, PW_JSON or PW_CSV */
    const char *png;     /* timeline plot, or NULL */
    int batch;           /* windows per network batch; <= 0: the model's train.batch_size */
} predict_window_opts;

/* Returns the exit code (0 ok, 1 failure); errors go to stderr naming the file and the reason. */
int predict_window_run(const predict_window_opts *o);

#endif
