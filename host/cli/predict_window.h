/* `ser predict --segments FILE` and `ser predict --window SEC --hop SEC FILE`: emotion over time
 * for a recording of any length, streamed (ser/audio_stream.h), cut into voice-activity segments
 * each read as `ser predict` reads a file (ser/speech_segments.h), or into fixed windows
 * (ser/window_features.h), batched through the network. See docs/predict-window.md. */
#ifndef SER_CLI_PREDICT_WINDOW_H
#define SER_CLI_PREDICT_WINDOW_H

enum { PW_TEXT = 0, PW_JSON = 1, PW_CSV = 2 };

#define PW_SILENCE_DB_DEFAULT (-50.0)
#define PW_PAD_DEFAULT 0.25 /* seconds of the recording kept before and after a speech segment */

typedef struct predict_window_opts {
    const char *model, *device, *path;
    int segments;        /* voice-activity segments instead of fixed windows */
    double pad;          /* segments: seconds kept before and after the speech (< 0: the default) */
    double window;       /* seconds; <= 0: the model's audio.duration (segments: the piece length a long
                          * segment is cut into; <= 0: audio.offset + audio.duration) */
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
