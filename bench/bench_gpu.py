#!/usr/bin/env python3
"""The GPU benchmark's timings (bench/gpu.sh runs it after building and `ser check`), all in one run
on one machine, printed as one table with ratios:

  features  `ser mfcc --device cpu` vs `ser mfcc --device cuda` over every TESS clip (decode,
            resample, MFCC, .npy written; process start included; best of --repeat), and the two
            outputs compared clip by clip (relative L2, mean and max)
  epoch     one TESS-sized epoch (bench/bench_epoch.py: 1958 clips trained at batch 64, 280
            validated, random 40x130 inputs) in `ser bench-epoch --device cpu`, `--device cuda`
            (after its untimed warm-up epoch: cuDNN plans and CUDA graphs built) and, when torch
            imports with CUDA, the same model in PyTorch eager on the same GPU (float32, TF32 off);
            ser's epoch holds the precise-BN pass (train.precise_bn = epoch, the default)
  precise   that pass alone in each ser backend: its time, its share of the epoch, and its time a
            clip against validation's (inference of the whole network)

    python3 bench/bench_gpu.py [--ser build/ser] [--data ../shared/data] [--epochs 3] [--repeat 3]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_epoch  # noqa: E402


def time_mfcc(ser, device, tess, out, repeat):
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([ser, "mfcc", "--device", device, "--out", out, tess], check=True, capture_output=True)
        dt = time.perf_counter() - t
        best = dt if best is None or dt < best else best
    with open(os.path.splitext(out)[0] + ".txt") as f:
        n = sum(1 for line in f if line.strip())
    return best, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ser", default=os.path.join(HERE, "..", "build", "ser"))
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    rows = []  # (section, what, value, unit, ratio text)

    tess = os.path.join(a.data, "tess")
    if os.path.isdir(tess):
        with tempfile.TemporaryDirectory() as tmp:
            fc, fg = os.path.join(tmp, "cpu.npy"), os.path.join(tmp, "cuda.npy")
            tc, n = time_mfcc(a.ser, "cpu", tess, fc, a.repeat)
            tg, n2 = time_mfcc(a.ser, "cuda", tess, fg, a.repeat)
            xc, xg = np.load(fc), np.load(fg)
            rel = np.linalg.norm((xg - xc).reshape(len(xc), -1), axis=1) / \
                np.maximum(np.linalg.norm(xc.reshape(len(xc), -1), axis=1), 1e-30)
            rows.append(("features", f"ser mfcc --device cpu ({n} clips)", tc, "s", f"{n / tc:.0f} clips/s"))
            rows.append(("features", f"ser mfcc --device cuda ({n2} clips)", tg, "s",
                         f"{n2 / tg:.0f} clips/s, {tc / tg:.2f}x cpu"))
            rows.append(("features", "cuda vs cpu relative L2 per clip", float(rel.max()), "max",
                         f"mean {rel.mean():.2e}"))
    else:
        print(f"bench_gpu: {tess} not found: features not timed", file=sys.stderr)

    rc = bench_epoch.bench_ser(a.ser, a.threads, 1, "cpu")
    rg = bench_epoch.bench_ser(a.ser, a.threads, a.epochs, "cuda")
    rows.append(("epoch", f"ser cpu ({rc['device']})", rc["epoch_s"] * 1e3, "ms", ""))
    rows.append(("epoch", f"ser cuda ({rg['device']})", rg["epoch_s"] * 1e3, "ms",
                 f"{rc['epoch_s'] / rg['epoch_s']:.1f}x ser cpu; train {rg['train_s'] * 1e3:.1f} ms, "
                 f"precise BN {rg['bn_s'] * 1e3:.1f} ms, validation {rg['val_s'] * 1e3:.1f} ms, "
                 f"arena {rg['arena_mb']:.0f} MB"))
    # the precise-BN pass on its own: on the device (bn_stats_* ops), its share of the epoch
    for name, r in (("cpu", rc), ("cuda", rg)):
        if r.get("bn_batches"):
            rows.append(("precise", f"BN pass, ser {name} ({r['bn_batches']} batches of {r['batch']})",
                         r["bn_s"] * 1e3, "ms", f"{100 * r['bn_s'] / r['epoch_s']:.1f} % of the epoch; "
                         f"{r['bn_s'] / max(r['val_s'], 1e-9) * r['val_clips'] / (r['bn_batches'] * r['batch']):.2f}x "
                         f"validation's time a clip"))
    try:
        import torch
        have_torch = torch.cuda.is_available()
    except ImportError:
        have_torch = False
    if have_torch:
        t, v = bench_epoch.bench_torch(a.threads, a.epochs, "cuda")
        rows.append(("epoch", f"PyTorch {v} eager, cuda", t * 1e3, "ms", f"ser cuda is {t / rg['epoch_s']:.2f}x faster"))
    else:
        print("bench_gpu: torch with CUDA is not importable: PyTorch not timed", file=sys.stderr)

    print(f"\n{'':<9} {'what':<62} {'value':>10}  {'':<4} ratio")
    for sec, what, val, unit, ratio in rows:
        print(f"{sec:<9} {what[:62]:<62} {val:10.3g}  {unit:<4} {ratio}")


if __name__ == "__main__":
    main()
