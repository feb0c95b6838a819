#!/usr/bin/env python3
"""Checks RUN/checkpoint.safetensors against the layout docs/file-formats.md and
docs/architecture.md ("One buffer layout") document, with the standard library only:

- the parameter buffer: the slices in the documented order, each at a multiple of 16 floats,
  so P floats in all; state.current and state.best are F32 [3 P + 2]: parameters, Adam m,
  Adam v, then TWO counters: Adam's step count t and the batch step (the dropout key);
- state.best's parameters are RUN/model.safetensors's tensors, slice by slice, gaps zero;
- the counters: both equal train.step = epochs x batches per epoch (a run without resume).

usage: checkpoint_layout.py RUN BATCHES_PER_EPOCH
"""
import json
import struct
import sys


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    return header, data[8 + n:]


def floats(header, blob, name):
    t = header[name]
    assert t["dtype"] == "F32", f"{name}: dtype {t['dtype']}"
    a, b = t["data_offsets"]
    return t["shape"], blob[a:b]


def main():
    run, batches = sys.argv[1], int(sys.argv[2])
    fails = []
    mh, mblob = read_safetensors(f"{run}/model.safetensors")
    ch, cblob = read_safetensors(f"{run}/checkpoint.safetensors")
    cfg = json.loads(mh["__metadata__"]["ser.config"])
    blocks, attention = cfg["model"]["conv_blocks"], cfg["model"]["attention"]
    order = []
    for i in range(1, blocks + 1):
        order += [f"conv{i}.kernel", f"conv{i}.bias", f"bn{i}.gamma", f"bn{i}.beta"]
    order += ["lstm1.kernel", "lstm1.recurrent_kernel", "lstm1.bias"]
    if attention:
        order += ["attention.W", "attention.b", "attention.U"]
    order += ["lstm2.kernel", "lstm2.recurrent_kernel", "lstm2.bias", "dense.kernel", "dense.bias"]
    for i in range(1, blocks + 1):
        order += [f"bn{i}.moving_mean", f"bn{i}.moving_variance"]
    tensors = sorted(k for k in mh if k != "__metadata__")
    if sorted(order) != tensors:
        fails.append(f"model tensors {tensors} are not the documented slices {sorted(order)}")
    offsets, P = {}, 0
    for name in order:
        shape, raw = floats(mh, mblob, name)
        offsets[name] = (P, raw)
        P += (len(raw) // 4 + 15) // 16 * 16
    n = 3 * P + 2
    state = {}
    for key in ("state.current", "state.best"):
        shape, raw = floats(ch, cblob, key)
        if shape != [n]:
            fails.append(f"{key}: shape {shape}, documented [3 P + 2] = [{n}] (P = {P})")
        state[key] = raw
    best = state["state.best"]
    covered = bytearray(P * 4)
    for name, (off, raw) in offsets.items():
        if best[4 * off:4 * off + len(raw)] != raw:
            fails.append(f"state.best[{off}:] is not model.safetensors's {name}")
        covered[4 * off:4 * off + len(raw)] = b"\x01" * len(raw)
    gaps = [i // 4 for i in range(0, 4 * P, 4) if not covered[i] and best[i:i + 4] != b"\0\0\0\0"]
    if gaps:
        fails.append(f"state.best: {len(gaps)} padding floats not zero (first at {gaps[0]})")
    cur = state["state.current"]
    if len(cur) == 4 * n:
        adam_t, step = struct.unpack("<2f", cur[4 * 3 * P:4 * n])
        meta_step = int(ch["__metadata__"]["train.step"])
        epochs = int(ch["__metadata__"]["train.epoch"])
        want = epochs * batches
        if not (adam_t == step == meta_step == want):
            fails.append(f"counters: Adam t {adam_t}, batch step {step}, train.step {meta_step}; "
                         f"want {want} ({epochs} epochs x {batches} batches)")
    for f in fails:
        print("FAIL: checkpoint layout:", f, file=sys.stderr)
    print(f"checkpoint layout: P = {P}, n = {n}, {len(order)} slices, {'ok' if not fails else 'FAILED'}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
