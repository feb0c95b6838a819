/* TensorBoard event files (train.tensorboard): RUN/tb/events.out.tfevents.*, read by TensorBoard
 * and its EventAccumulator. A file is a sequence of TFRecords (uint64 length, masked CRC32C of the
 * length, the bytes, masked CRC32C of the bytes; little-endian) of tensorboard.Event messages,
 * written with protobuf-c from TensorBoard's own event.proto / summary.proto (third_party/
 * tensorboard/). Each writer (one per `ser train` process) opens a new file: its first events are
 * the file version and a SessionLog START at the first epoch it will write, which tells TensorBoard
 * to drop any event of that step or later from earlier files (a run killed after logging an epoch
 * its checkpoint did not keep, then resumed). Every event is flushed as it is written. */
#ifndef SER_TENSORBOARD_H
#define SER_TENSORBOARD_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "ser/error.h"

typedef struct ser_tb ser_tb;

/* Creates dir when missing and a new events file in it; first_step: the first step (epoch) this
 * writer logs. NULL on failure, naming the path. */
ser_tb *ser_tb_open(const char *dir, int64_t first_step, ser_error *err);
/* A scalar summary (simple_value) of tag at step. */
int ser_tb_scalar(ser_tb *tb, const char *tag, int64_t step, float value, ser_error *err);
/* An image summary of the PNG file at png_path (its width and height read from the PNG header). */
int ser_tb_png_file(ser_tb *tb, const char *tag, int64_t step, const char *png_path, ser_error *err);
/* The file being written (for messages). */
const char *ser_tb_path(const ser_tb *tb);
/* Closes the file (checked); NULL is fine. Returns 0 or -1 with err. */
int ser_tb_close(ser_tb *tb, ser_error *err);

/* CRC-32C (Castagnoli) of n bytes, and TFRecord's mask of it. */
uint32_t ser_crc32c(const void *data, size_t n);
uint32_t ser_crc32c_masked(const void *data, size_t n);

#ifdef __cplusplus
}
#endif

#endif
