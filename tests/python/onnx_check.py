"""Checks an ONNX model written by `ser export --onnx` (tests/cli_onnx_export.sh).

    python onnx_check.py MODEL.onnx FEATURES.npy PATHS.txt PREDICT.jsonl [TOL]

onnx.checker (full_check: types and shapes inferred through the graph), the metadata (ser.labels,
ser.config, ser.features, ser.version), then onnxruntime on FEATURES.npy (`ser mfcc`'s output:
float32 [N, rows, frames], unscaled) against `ser predict --json` on the same clips (PATHS.txt:
`ser mfcc`'s list, same order): every probability within TOL (default 1e-5), once for the whole
batch and once clip by clip (the batch dimension is dynamic). Prints one JSON line with the
largest difference; exits 1 when a check fails."""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    model_path, npy, paths_txt, pred_jsonl = sys.argv[1:5]
    tol = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-5
    fails = []
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    opset = {o.domain: o.version for o in model.opset_import}
    if opset.get("", 0) < 17:
        fails.append(f"opset {opset} is below 17")
    meta = {p.key: p.value for p in model.metadata_props}
    for key in ("ser.labels", "ser.config", "ser.features", "ser.version"):
        if key not in meta:
            fails.append(f"metadata_props has no {key}")
    labels = json.loads(meta.get("ser.labels", "[]"))
    feats = json.loads(meta.get("ser.features", "{}")).get("features", {})

    x = np.load(npy)
    paths = [l.rstrip("\n") for l in open(paths_txt)]
    rows = feats.get("n_mfcc", -1) + feats.get("f0_rows", 0)
    if x.ndim != 3 or x.shape[0] != len(paths) or x.shape[1] != rows or x.shape[2] != feats.get("frames"):
        fails.append(f"features {x.shape} do not match {len(paths)} paths x ser.features ({rows} rows)")
    pred = {}
    for line in open(pred_jsonl):
        o = json.loads(line)
        pred[o["path"]] = [o["probs"][l] for l in labels]
    ref = np.array([pred[p] for p in paths], dtype=np.float64)

    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    inp, out = sess.get_inputs()[0], sess.get_outputs()[0]
    if inp.name != "features" or out.name != "probabilities":
        fails.append(f"graph io {inp.name} -> {out.name}")
    batch = sess.run(None, {inp.name: x})[0]
    single = np.concatenate([sess.run(None, {inp.name: x[i:i + 1]})[0] for i in range(len(x))])
    if batch.shape != (len(paths), len(labels)):
        fails.append(f"output shape {batch.shape}, expected {(len(paths), len(labels))}")
    d_batch = float(np.max(np.abs(batch - ref)))
    d_single = float(np.max(np.abs(single - ref)))
    argmax_agree = int(np.sum(np.argmax(batch, 1) == np.argmax(ref, 1)))
    if not d_batch <= tol:
        fails.append(f"batch probabilities differ from ser predict by {d_batch:.3g} > {tol}")
    if not d_single <= tol:
        fails.append(f"clip-by-clip probabilities differ from ser predict by {d_single:.3g} > {tol}")
    print(json.dumps({"model": model_path, "clips": len(paths), "classes": len(labels), "opset": opset.get(""),
                      "max_abs_diff_batch": d_batch, "max_abs_diff_single": d_single,
                      "argmax_agree": argmax_agree, "onnxruntime": ort.__version__, "onnx": onnx.__version__}))
    for f in fails:
        print("FAIL:", f, file=sys.stderr)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
