/* What the training and evaluation loops read (ser_loop_data, ser/train.h): a dataset's array, or its
 * batch reader. */
#include "ser/feature_source.h"
#include "ser/train.h"

ser_loop_data ser_loop_data_of(const ser_dataset *ds) {
    ser_loop_data d = {ds->x, ds->y, ds->n, NULL, NULL};
    if (!ds->x && ds->src) d.fill = ser_feature_source_fill, d.source = ds->src;
    return d;
}
