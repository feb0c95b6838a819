/* A dataset as the training loop sees it: its array, or its batch reader (ser/train.h). */
#include "ser/feature_source.h"
#include "ser/train.h"

ser_split_data ser_split_of(const ser_dataset *ds) {
    ser_split_data d = {ds->x, ds->y, ds->n, NULL, NULL};
    if (!ds->x && ds->src) d.fill = ser_feature_source_fill, d.source = ds->src;
    return d;
}
