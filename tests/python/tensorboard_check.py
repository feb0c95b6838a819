"""Checks RUN/tb/ written by `ser train --tensorboard` (tests/cli_tensorboard.sh) with TensorBoard's
own reader, EventAccumulator (the `tensorboard` package, no TensorFlow):

    python tensorboard_check.py RUN

Every value of RUN/history.jsonl (loss, accuracy, val_loss, val_accuracy, val_uar, lr, seconds) is the
scalar of the same tag at step = epoch, as float32, exactly, epoch for epoch, with no other steps;
the image confusion_matrix_validation's last event is RUN/confusion_matrix_validation.png byte for
byte. Prints one JSON line; exits 1 when a check fails."""
import json
import os
import sys

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "val_uar", "lr", "seconds")


def main():
    run = sys.argv[1]
    fails = []
    hist = [json.loads(l) for l in open(os.path.join(run, "history.jsonl"))]
    ea = EventAccumulator(os.path.join(run, "tb"), size_guidance={"scalars": 0, "images": 0})
    ea.Reload()
    tags = ea.Tags()
    compared = 0
    for key in KEYS:
        want = {h["epoch"]: np.float32(h[key]) for h in hist if h.get(key) is not None}
        if key not in tags["scalars"]:
            if want:
                fails.append(f"no scalar {key}")
            continue
        got = {e.step: np.float32(e.value) for e in ea.Scalars(key)}
        if sorted(got) != sorted(want):
            fails.append(f"{key}: steps {sorted(got)}, history.jsonl epochs {sorted(want)}")
            continue
        for step, v in want.items():
            if got[step] != v:
                fails.append(f"{key} epoch {step}: tensorboard {got[step]!r}, history.jsonl {v!r}")
            compared += 1
    images = {}
    if "confusion_matrix_validation" not in tags["images"]:
        fails.append("no image confusion_matrix_validation")
    else:
        last = ea.Images("confusion_matrix_validation")[-1]
        png = open(os.path.join(run, "confusion_matrix_validation.png"), "rb").read()
        if last.encoded_image_string != png:
            fails.append("the image is not confusion_matrix_validation.png")
        if last.step != hist[-1]["epoch"]:
            fails.append(f"the image is at step {last.step}, the last epoch is {hist[-1]['epoch']}")
        images = {"step": last.step, "width": last.width, "height": last.height, "bytes": len(png)}
    files = sorted(f for f in os.listdir(os.path.join(run, "tb")) if "tfevents" in f)
    print(json.dumps({"run": run, "epochs": len(hist), "scalars_compared": compared, "event_files": len(files),
                      "image": images}))
    for f in fails:
        print("FAIL:", f, file=sys.stderr)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
