/* `ser export --onnx`: a trained model as an ONNX model (opset 17), written with protobuf-c from
 * the official onnx.proto (third_party/onnx/), for inference outside ser (onnxruntime...).
 *
 * Input  "features"      float32 [N, n_mfcc + f0_rows, frames]: exactly what `ser mfcc` writes
 *                        for the model's config (unscaled; N dynamic). The global scaler of the
 *                        model is the graph's first two nodes.
 * Output "probabilities" float32 [N, classes], in the order of the metadata's ser.labels.
 * metadata_props: ser.labels, ser.config, ser.features, ser.scaler_mean, ser.scaler_std,
 * ser.version, ser.commit, ser.input (the input described in words).
 *
 * Refused (an error naming the key): features.normalize != 0 and features.vtln > 0, whose
 * statistics need every clip of a speaker (or, for normalize = 1, the clip's real length), which
 * the graph does not compute (docs/onnx.md). */
#ifndef SER_ONNX_EXPORT_H
#define SER_ONNX_EXPORT_H

#ifdef __cplusplus
extern "C" {
#endif

#include "ser/checkpoint.h"
#include "ser/error.h"
#include "ser/model.h"

/* Writes path (atomically: PATH.tmp.PID, then rename) from m's parameters and meta. */
int ser_onnx_export(const char *path, const ser_model *m, const ser_model_meta *meta, ser_error *err);

#ifdef __cplusplus
}
#endif

#endif
