"""The ``load`` part: peak memory of loading a THUMOS-sized W-TALC bundle, in a fresh process (its
peak RSS is then the loader's alone)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

import numpy as np

from .part import Context
from .paths import child_env

NAME = "load"

_CHILD = r"""
import json, resource, sys, time
from himnet_lib.datasets import load_dataset
t = time.perf_counter()
ds = load_dataset(sys.argv[1])
s = time.perf_counter() - t
n = sum(v.features.nbytes for v in ds.videos)
print(json.dumps({"load_s": s, "feature_bytes": n, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def bench_load(n_videos: int = 412, mean_T: int = 330, dim: int = 2048) -> dict:
    """Peak RSS of loading a THUMOS-sized W-TALC bundle (412 videos, ~330 x 2048 float32 each)."""
    from himnet_lib.datasets.bundle import write_bundle

    rng = np.random.default_rng(0)
    lengths = np.clip(rng.normal(mean_T, 60, n_videos).astype(int), 40, None)
    classes = [f"class_{i:02d}" for i in range(20)]
    names, subsets, segs, labels, durs, feats = [], [], [], [], [], []
    for i, L in enumerate(lengths):
        train = i < 200
        names.append(f"video_{'validation' if train else 'test'}_{i:07d}")
        subsets.append("validation" if train else "test")
        dur = L * 16 / 25
        segs.append(np.array([[0.2 * dur, 0.4 * dur]]))
        labels.append([classes[i % 20]])
        durs.append(dur)
        feats.append(rng.standard_normal((L, dim), dtype=np.float32))
    with tempfile.TemporaryDirectory() as tmp:
        write_bundle(tmp, "Thumos14reduced", classes=classes, videonames=names, subsets=subsets,
                     segments=segs, labels=labels, labels_all=labels, durations=durs, features=feats)
        del feats
        out = subprocess.run([sys.executable, "-c", _CHILD, tmp], capture_output=True, text=True, env=child_env(),
                             timeout=600)
        if out.returncode != 0:
            return {"load_peak_rss_over_feature_bytes": None, "load_error": out.stderr[-2000:]}
        r = json.loads(out.stdout.strip().splitlines()[-1])
    rss = r["maxrss_kb"] * 1024
    return {"load_peak_rss_over_feature_bytes": rss / r["feature_bytes"], "load_feature_bytes": r["feature_bytes"],
            "load_peak_rss_bytes": rss, "load_s": r["load_s"],
            "load_input": f"{n_videos} videos x ~{mean_T} x {dim} float32 (W-TALC bundle)"}


def measure(ctx: Context) -> dict:
    return bench_load(40 if ctx.quick else 412)


def table_rows(res: dict) -> list[tuple]:
    return [("load: peak RSS / feature bytes", res.get("load_peak_rss_over_feature_bytes"), "")]
