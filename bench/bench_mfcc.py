#!/usr/bin/env python3
"""End-to-end MFCC benchmark: `ser mfcc` against librosa on the same clips, in one run.

ser:     `ser mfcc --out T/feats.npy DATA/tess` as a subprocess (decode, resample, features,
         writing the .npy/.txt; process start included), wall clock, best of --repeat (5) runs.
librosa: per clip librosa.load(path, sr=22050, offset=0.5, duration=3) + mfcc(n_mfcc=40) +
         pad/cut to 130 frames, single process, as the reference does it (one untimed warm-up
         clip first); --limit N times it on N clips evenly spread over the corpus.

Then the outputs are compared clip by clip (relative L2 of the [40, 130] features), so the
benchmark doubles as an accuracy check over every clip librosa ran on.

    python3 bench/bench_mfcc.py [--ser build/ser] [--data ../shared/data] [--limit N] [--json F]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

# librosa's mel einsum goes through OpenBLAS, whose idle threads spin: on a shared machine that
# made librosa 2-3x slower from run to run. One BLAS thread is its fast, stable setting (the
# conservative baseline); set OPENBLAS_NUM_THREADS yourself to measure another.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import librosa  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


LOAD_S = [0.0]  # time spent in librosa.load, to split the reference's time


def reference(path):
    t0 = time.perf_counter()
    y, _ = librosa.load(path, sr=22050, offset=0.5, duration=3)
    LOAD_S[0] += time.perf_counter() - t0
    m = librosa.feature.mfcc(y=y, sr=22050, n_mfcc=40)
    if m.shape[1] < 130:
        m = np.pad(m, ((0, 0), (0, 130 - m.shape[1])), mode="constant")
    return m[:, :130]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ser", default=os.path.join(ROOT, "build", "ser"))
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--corpus", default="tess", help="folder under --data (default tess)")
    ap.add_argument("--limit", type=int, default=0, help="time librosa on N clips only (0: all)")
    ap.add_argument("--repeat", type=int, default=5, help="ser runs; the best is reported")
    ap.add_argument("--threads", type=int, default=0, help="ser --threads (0: its default)")
    ap.add_argument("--json", help="append the results as one JSON line to this file")
    a = ap.parse_args()
    folder = os.path.abspath(os.path.join(a.data, a.corpus))
    if not os.path.isdir(folder):
        sys.exit(f"bench_mfcc: no corpus folder {folder}")

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "feats.npy")
        cmd = [a.ser, "mfcc", "--out", out, folder] + (["--threads", str(a.threads)] if a.threads else [])
        ser_times, ser_cpu, ser_logs = [], [], []
        for _ in range(max(1, a.repeat)):
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True)
            ser_times.append(time.perf_counter() - t0)
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            ser_cpu.append(ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime)
            ser_logs.append(r.stderr.strip().splitlines())
            if r.returncode != 0:
                sys.exit(f"bench_mfcc: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
        ser_feats = np.load(out)
        with open(os.path.join(tmp, "feats.txt")) as f:
            ser_paths = [line.rstrip("\n") for line in f]
        ser_log = ser_logs[ser_times.index(min(ser_times))]
    n_ser = len(ser_paths)
    best = ser_times.index(min(ser_times))
    ser_s, ser_cpu_s = ser_times[best], ser_cpu[best]

    # librosa on all clips or an evenly spread subset.
    idx = list(range(n_ser))
    if a.limit and a.limit < n_ser:
        idx = [int(i * n_ser / a.limit) for i in range(a.limit)]
    reference(ser_paths[0])  # warm-up: imports, caches, first-call costs
    ref = {}
    LOAD_S[0] = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    for i in idx:
        ref[i] = reference(ser_paths[i])
    lib_s, lib_cpu_s = time.perf_counter() - t0, time.process_time() - c0

    errs = np.array([np.linalg.norm(ser_feats[i] - ref[i]) / np.linalg.norm(ref[i]) for i in idx])
    worst = idx[int(np.argmax(errs))]
    ser_rate, lib_rate = n_ser / ser_s, len(idx) / lib_s
    print(f"corpus {folder}: {n_ser} clips")
    ser_cpu_ms, lib_cpu_ms = ser_cpu_s / n_ser * 1e3, lib_cpu_s / len(idx) * 1e3
    print(f"{'':24s} {'clips':>6s} {'seconds':>9s} {'clips/s':>9s} {'CPU ms/clip':>12s}")
    print(f"{'ser mfcc (end to end)':24s} {n_ser:6d} {ser_s:9.2f} {ser_rate:9.1f} {ser_cpu_ms:12.3f}   best of "
          f"{len(ser_times)}: " + ", ".join(f"{t:.2f}" for t in ser_times) + " s")
    print(f"{'librosa load+mfcc+pad':24s} {len(idx):6d} {lib_s:9.2f} {lib_rate:9.1f} {lib_cpu_ms:12.3f}   "
          + ("all clips" if len(idx) == n_ser else f"subset of {len(idx)} (--limit), evenly spread")
          + f", OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    print(f"librosa per clip: load (decode + soxr HQ resample) {LOAD_S[0] / len(idx) * 1e3:.2f} ms, "
          f"mfcc + pad {(lib_s - LOAD_S[0]) / len(idx) * 1e3:.2f} ms (wall)")
    print(f"speed-up ser / librosa: {ser_rate / lib_rate:.1f}x wall clock ({os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}), {lib_cpu_ms / ser_cpu_ms:.1f}x in CPU time per clip")
    print(f"accuracy over {len(idx)} clips: relative L2 mean {errs.mean():.3g}, max {errs.max():.3g} "
          f"({ser_paths[worst]})")
    print("ser (best run) said: " + (ser_log[-1] if ser_log else ""))
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps({"bench": "mfcc", "clips": n_ser, "ser_s": ser_s, "ser_clips_per_s": ser_rate,
                                "librosa_clips": len(idx), "librosa_s": lib_s, "librosa_clips_per_s": lib_rate,
                                "speedup": ser_rate / lib_rate,
                                "ser_cpu_ms_per_clip": ser_cpu_ms, "librosa_cpu_ms_per_clip": lib_cpu_ms, "rel_l2_mean": float(errs.mean()),
                                "rel_l2_max": float(errs.max()), "cores": os.cpu_count()}) + "\n")


if __name__ == "__main__":
    main()
