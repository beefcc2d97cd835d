"""Data-layer timings and the synthetic benchmark's difficulty proxy.

Usage: ``python timing/bench_data.py [--preset demo] [--seed 0] [--train-snippets 20000]``

Prints: generation + write time, load time, structure statistics, background fraction of test
snippets, and the accuracy of a fully-supervised per-snippet logistic regression (C classes +
background) trained on a subsample of training snippets and evaluated on all test snippets. The
proxy only says "neither trivial nor hopeless"; it favours no WTAL loss.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def snippet_targets(video, num_classes: int, snippet_seconds: float) -> np.ndarray:
    """(T,) int64: the smallest class id whose segment contains the snippet centre, else C (background).

    Smallest id resolves nesting (child ids are below parent ids in the presets) and co-occurrence.
    """
    T = video.num_snippets
    centres = (np.arange(T) + 0.5) * snippet_seconds
    y = np.full(T, num_classes, dtype=np.int64)
    for (s, e), c in zip(video.segments, video.segment_classes):
        inside = (centres >= s) & (centres < e)
        y[inside] = np.minimum(y[inside], c)
    return y


def snippet_proxy(ds, *, train_snippets: int = 20000, seed: int = 0) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    def stack(videos):
        X = np.concatenate([v.features for v in videos])
        y = np.concatenate([snippet_targets(v, ds.num_classes, ds.snippet_seconds) for v in videos])
        return X, y

    Xtr, ytr = stack(ds.train_videos())
    Xte, yte = stack(ds.test_videos())
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(ytr), size=min(train_snippets, len(ytr)), replace=False)
    scaler = StandardScaler().fit(Xtr[pick])
    t = time.perf_counter()
    clf = LogisticRegression(max_iter=300, C=1.0).fit(scaler.transform(Xtr[pick]), ytr[pick])
    fit_s = time.perf_counter() - t
    pred = clf.predict(scaler.transform(Xte))
    bg = yte == ds.num_classes
    return {
        "test_snippets": int(len(yte)),
        "background_fraction": float(bg.mean()),
        "accuracy": float((pred == yte).mean()),
        "foreground_accuracy": float((pred[~bg] == yte[~bg]).mean()),
        "background_accuracy": float((pred[bg] == yte[bg]).mean()),
        "balanced_accuracy": float(np.mean([(pred[yte == c] == c).mean() for c in np.unique(yte)])),
        "fit_seconds": fit_s,
    }


def main() -> None:
    from himnet_lib.datasets import load_dataset
    from himnet_lib.datasets.summary import summarize
    from himnet_lib.datasets.synthetic.writer import make_synthetic, synthetic_stats

    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="demo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-snippets", type=int, default=20000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        root = make_synthetic(args.preset, seed=args.seed, out=Path(tmp) / "bench")
        gen_s = time.perf_counter() - t
        t = time.perf_counter()
        ds = load_dataset(root)
        load_s = time.perf_counter() - t
        summary = summarize(ds)
        stats = {s: synthetic_stats(args.preset, args.seed, s) for s in (ds.train_subset, ds.test_subset)}
        proxy = snippet_proxy(ds, train_snippets=args.train_snippets, seed=args.seed)
    print(json.dumps({"generate_and_write_s": gen_s, "load_s": load_s, "structure": stats,
                      "snippets_per_video": summary["snippets_per_video"], "proxy": proxy}, indent=1))


if __name__ == "__main__":
    main()
