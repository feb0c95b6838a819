#!/usr/bin/env python3
"""The openSMILE eGeMAPS + SVM peer baseline on exactly ser's cross-validation folds.

    build/ser cv --data CORPUS --folds 5 --print-commands --out FOLDS    # or --fold-lists / loso
    python3 bench/baseline_egemaps.py FOLDS --json results.json

FOLDS is a `ser cv` output folder: FOLDS/fold_N/cv_train.tsv, cv_val.tsv, cv_test.tsv (ser's
manifests, docs/file-formats.md). Every fold trains on its cv_train + cv_val clips and is tested
on its cv_test clips, so the SVM sees ser's folds and nothing else.

Features: opensmile.Smile(FeatureSet.eGeMAPSv02, FeatureLevel.Functionals), 88 functionals per
file, cached per (path, mtime, size) in CACHE/egemaps_v02_functionals.pkl (CACHE: --cache, else
$SER_BENCH_CACHE, else ~/.cache/ser-bench), extracted --jobs processes at a time (default 2).

Variants (all an sklearn SVC(kernel='rbf', C=10, gamma='scale')):
  global       StandardScaler fit on the fold's training clips
  speaker      every speaker's clips z-scored with that speaker's own mean and std (test
               speakers with their own, unlabelled, statistics: as ser's features.normalize = 2);
               a speaker is (corpus, speaker) as in ser
  speaker_bal  the same with class_weight='balanced' (--no-balanced leaves it out)

Prints per fold and variant WA (accuracy), UA (balanced accuracy: mean recall over the classes
present in the test clips), macro-F1 (sklearn's: over the labels in test truth or predictions),
then mean +- sample std (ddof = 1) over the folds; --json writes the same with the versions.

Python and these packages are never needed to build or run ser: the script runs itself from a
venv it creates (CACHE/venv, `pip install opensmile scikit-learn`), unless --no-venv.
"""
import argparse
import os
import pickle
import subprocess
import sys
import time

PACKAGES = ["opensmile", "scikit-learn"]
VARIANTS = ["global", "speaker", "speaker_bal"]
METRICS = [("accuracy", "WA"), ("uar", "UA"), ("macro_f1", "macro-F1")]


def cache_dir(args):
    d = args.cache or os.environ.get("SER_BENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ser-bench")
    os.makedirs(d, exist_ok=True)
    return os.path.abspath(d)


def ensure_venv(args):
    """Re-runs this script with the venv's python (creating the venv first) unless already in it."""
    venv = os.path.join(cache_dir(args), "venv")
    py = os.path.join(venv, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    if not os.path.exists(py):
        print(f"baseline_egemaps: creating {venv} (pip install {' '.join(PACKAGES)})", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([py, "-m", "pip", "install", "--quiet", *PACKAGES])
    os.execv(py, [py, os.path.abspath(__file__), *sys.argv[1:]])


# ---- manifests ------------------------------------------------------------------------------

def read_manifest(path):
    """ser's manifest: '#' lines and blank lines skipped, path<TAB>label<TAB>speaker[<TAB>group[<TAB>corpus]];
    a relative path is resolved against the manifest's folder."""
    rows = []
    base = os.path.dirname(os.path.abspath(path))
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if not 3 <= len(fields) <= 5 or not fields[0] or not fields[1]:
                sys.exit(f"{path}:{n}: not a ser manifest line")
            fields += [""] * (5 - len(fields))
            p = fields[0] if os.path.isabs(fields[0]) else os.path.join(base, fields[0])
            rows.append({"path": p, "label": fields[1], "speaker": fields[2], "corpus": fields[4]})
    return rows


def read_folds(folds_dir):
    folds = []
    k = 1
    while os.path.isdir(os.path.join(folds_dir, f"fold_{k}")):
        d = os.path.join(folds_dir, f"fold_{k}")
        train = read_manifest(os.path.join(d, "cv_train.tsv")) + read_manifest(os.path.join(d, "cv_val.tsv"))
        test = read_manifest(os.path.join(d, "cv_test.tsv"))
        folds.append({"fold": k, "train": train, "test": test})
        k += 1
    if len(folds) < 2:
        sys.exit(f"{folds_dir}: no ser cv folds (fold_1/cv_train.tsv ...); make them with ser cv --print-commands")
    return folds


# ---- features -------------------------------------------------------------------------------

_smile = None


def _init_worker():
    global _smile
    import opensmile
    _smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                             feature_level=opensmile.FeatureLevel.Functionals)


def _extract(path):
    df = _smile.process_file(path)
    return path, df.to_numpy(dtype="float64").reshape(-1)


def file_key(path):
    st = os.stat(path)
    return (path, st.st_mtime_ns, st.st_size)


def features(paths, args):
    """{path: 88 floats}, from the cache or extracted --jobs at a time (the cache saved as it grows)."""
    import numpy as np
    import opensmile
    from concurrent.futures import ProcessPoolExecutor

    cpath = os.path.join(cache_dir(args), "egemaps_v02_functionals.pkl")
    cache = {}
    if os.path.exists(cpath):
        with open(cpath, "rb") as f:
            saved = pickle.load(f)
        if saved.get("opensmile") == opensmile.__version__:
            cache = saved["features"]
    keys = {p: file_key(p) for p in paths}
    todo = sorted(p for p in set(paths) if keys[p] not in cache)

    def save():
        tmp = cpath + f".tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            pickle.dump({"opensmile": opensmile.__version__, "features": cache}, f, protocol=4)
        os.replace(tmp, cpath)

    if todo:
        t0 = time.time()
        print(f"baseline_egemaps: extracting eGeMAPSv02 functionals of {len(todo)} files ({args.jobs} processes; "
              f"{len(set(paths)) - len(todo)} cached)", file=sys.stderr)
        with ProcessPoolExecutor(max_workers=args.jobs, initializer=_init_worker) as ex:
            for i, (p, v) in enumerate(ex.map(_extract, todo, chunksize=8), 1):
                cache[keys[p]] = v
                if i % 500 == 0:
                    save()
                    print(f"baseline_egemaps:   {i}/{len(todo)} ({time.time() - t0:.0f} s)", file=sys.stderr)
        save()
        print(f"baseline_egemaps: extracted in {time.time() - t0:.1f} s -> {cpath}", file=sys.stderr)
    out = {p: np.asarray(cache[keys[p]], dtype="float64") for p in paths}
    bad = [p for p, v in out.items() if v.shape != (88,)]
    if bad:
        sys.exit(f"{bad[0]}: {out[bad[0]].shape} features, not 88")
    return out


# ---- the SVM ---------------------------------------------------------------------------------

def speaker_z(X, spk):
    """Each speaker's rows z-scored with that speaker's own mean and std (std 0 -> 1)."""
    import numpy as np
    Z = np.empty_like(X)
    for s in sorted(set(spk)):
        m = np.array([x == s for x in spk])
        mu = X[m].mean(axis=0)
        sd = X[m].std(axis=0)
        sd[sd == 0] = 1.0
        Z[m] = (X[m] - mu) / sd
    return Z


def run_fold(fold, feats, variants):
    import numpy as np
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    def mat(rows):
        X = np.nan_to_num(np.stack([feats[r["path"]] for r in rows]), nan=0.0, posinf=0.0, neginf=0.0)
        y = np.array([r["label"] for r in rows])
        spk = [(r["corpus"], r["speaker"]) for r in rows]
        return X, y, spk

    Xtr, ytr, str_ = mat(fold["train"])
    Xte, yte, ste = mat(fold["test"])
    overlap = set(str_) & set(ste)
    if overlap:
        sys.exit(f"fold {fold['fold']}: test speakers also train: {sorted(overlap)[:5]}")
    # named as ser cv names them: CORPUS:SPEAKER only when the fold's clips span several corpora
    multi = len({c for c, _ in str_ + ste}) > 1
    res = {"fold": fold["fold"], "train_clips": len(ytr), "test_clips": len(yte),
           "test_speakers": sorted(f"{c}:{s}" if multi else s for c, s in set(ste))}
    for v in variants:
        if v == "global":
            sc = StandardScaler().fit(Xtr)
            A, B = sc.transform(Xtr), sc.transform(Xte)
        else:
            A, B = speaker_z(Xtr, str_), speaker_z(Xte, ste)
        clf = SVC(kernel="rbf", C=10, gamma="scale", class_weight="balanced" if v == "speaker_bal" else None)
        pred = clf.fit(A, ytr).predict(B)
        res[v] = {"accuracy": float(accuracy_score(yte, pred)),
                  "uar": float(balanced_accuracy_score(yte, pred)),
                  "macro_f1": float(f1_score(yte, pred, average="macro"))}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folds", help="a ser cv output folder (made with --print-commands or by a run)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--jobs", type=int, default=2, help="feature extraction processes (default 2)")
    ap.add_argument("--cache", help="cache folder (default $SER_BENCH_CACHE or ~/.cache/ser-bench)")
    ap.add_argument("--no-balanced", action="store_true", help="leave out the class_weight='balanced' variant")
    ap.add_argument("--no-venv", action="store_true", help="use this python (opensmile and scikit-learn installed)")
    args = ap.parse_args()
    if not args.no_venv:
        ensure_venv(args)

    import numpy as np
    import opensmile
    import sklearn

    folds = read_folds(args.folds)
    paths = sorted({r["path"] for f in folds for r in f["train"] + f["test"]})
    feats = features(paths, args)
    variants = VARIANTS[:2] if args.no_balanced else VARIANTS
    t0 = time.time()
    per_fold = [run_fold(f, feats, variants) for f in folds]
    svm_s = time.time() - t0

    summary = {}
    for v in variants:
        summary[v] = {}
        for key, _ in METRICS:
            vals = np.array([r[v][key] for r in per_fold])
            summary[v][key] = {"mean": float(vals.mean()),
                               "std_dev": float(vals.std(ddof=1)) if len(vals) > 1 else None}
    labels = sorted({r["label"] for f in folds for r in f["train"] + f["test"]})
    out = {
        "folds_dir": os.path.abspath(args.folds),
        "folds": len(folds),
        "clips": len(paths),
        "labels": labels,
        "features": "opensmile eGeMAPSv02 Functionals (88)",
        "classifier": "sklearn SVC(kernel='rbf', C=10, gamma='scale')",
        "variants": {"global": "StandardScaler fit on the training clips",
                     "speaker": "per-speaker z-score, each speaker (test ones too) with its own statistics",
                     "speaker_bal": "per-speaker z-score, class_weight='balanced'"},
        "std": "sample standard deviation over the folds (ddof = 1)",
        "versions": {"python": sys.version.split()[0], "opensmile": opensmile.__version__,
                     "scikit-learn": sklearn.__version__, "numpy": np.__version__},
        "per_fold": per_fold,
        "mean_std": summary,
        "svm_seconds": round(svm_s, 1),
    }
    if args.json:
        with open(args.json, "w") as f:
            json_dump(out, f)

    print(f"{args.folds}: {len(folds)} folds, {len(paths)} clips, {len(labels)} classes; "
          f"opensmile {opensmile.__version__}, scikit-learn {sklearn.__version__}")
    head = "fold  clips  " + "  ".join(f"{v + ' WA':>15} {v + ' UA':>15} {v + ' F1':>15}" for v in variants)
    print(head)
    for r in per_fold:
        print(f"{r['fold']:>4} {r['test_clips']:>6}  " +
              "  ".join(f"{r[v]['accuracy']:>15.3f} {r[v]['uar']:>15.3f} {r[v]['macro_f1']:>15.3f}" for v in variants))
    for v in variants:
        s = summary[v]
        print(f"{v:<12} mean +- sample std over {len(folds)} folds: " +
              ", ".join(f"{name} {s[key]['mean']:.3f} +- {s[key]['std_dev']:.3f}" for key, name in METRICS))


def json_dump(obj, f):
    import json
    json.dump(obj, f, indent=2)
    f.write("\n")


if __name__ == "__main__":
    main()
