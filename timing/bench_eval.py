"""Time the detection mAP on a THUMOS14-sized synthetic input (target: <= 1 s for the metric).

212 test videos, 20 classes, ~3,400 GT instances, 100,000 predictions, tIoU 0.1:0.1:0.7.
Durations, instance counts and lengths follow the THUMOS14-test statistics in
``docs/evaluation_protocol.md`` (log-normal fits); predictions are jittered copies of
GT segments (most of them, so the greedy matching has real work) plus random segments and
wrong-class predictions, with continuous (tie-free) scores.

Usage: python timing/bench_eval.py [--repeat 5] [--seed 0] [--real]
``--real`` also times the real THUMOS14 test GT (../shared/data/thumos14_test_gt_anet.json) with
synthetic predictions, if present.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from himnet_lib.evaluation.detection import THUMOS_TIOU, detection_map, evaluate_files
from himnet_lib.evaluation.groundtruth import gt_from_anet_json
from himnet_lib.evaluation.predictions import predictions_from_results
from himnet_lib.utils.paths import shared_data_dir


def synthetic_gt(rng: np.random.Generator, n_videos: int = 212, n_classes: int = 20,
                 n_instances: int = 3400) -> dict:
    """ActivityNet-format GT database with THUMOS14-test-like statistics."""
    classes = [f"class_{i:02d}" for i in range(n_classes)]
    dur = np.clip(np.exp(rng.normal(5.02, 0.84, n_videos)), 15.0, 1673.0)
    weight = dur * np.exp(rng.normal(0, 0.8, n_videos))          # overdispersed instance counts
    counts = np.maximum(1, np.round(weight / weight.sum() * n_instances)).astype(int)
    db = {}
    for i in range(n_videos):
        n_cls = rng.choice([1, 2, 3], p=[0.84, 0.155, 0.005])
        vc = rng.choice(n_classes, size=n_cls, replace=False)
        anns = []
        for _ in range(counts[i]):
            length = float(np.clip(np.exp(rng.normal(1.16, 0.83)), 0.2, min(86.6, dur[i])))
            s = float(rng.uniform(0, dur[i] - length))
            anns.append({"label": classes[int(rng.choice(vc))], "segment": [round(s, 1), round(s + length, 1)]})
        db[f"video_test_{i:07d}"] = {"subset": "test", "duration": float(dur[i]), "annotations": anns}
    return {"version": "synthetic", "taxonomy": [], "database": db}


def synthetic_results(rng: np.random.Generator, gt: dict, n_pred: int = 100_000) -> dict:
    """Result JSON: per video ∝ duration; 70% jittered GT, 15% random same-class, 15% other class."""
    db = gt["database"]
    names = list(db)
    labels = sorted({a["label"] for e in db.values() for a in e["annotations"]})
    dur = np.array([db[v]["duration"] for v in names])
    per_video = rng.multinomial(n_pred, dur / dur.sum())
    scores = rng.random(n_pred)
    k = 0
    results = {}
    for v, n in zip(names, per_video):
        anns = db[v]["annotations"]
        segs = np.array([a["segment"] for a in anns], dtype=float)
        labs = [a["label"] for a in anns]
        kind = rng.random(n)
        out = []
        for j in range(n):
            if kind[j] < 0.70:
                g = int(rng.integers(len(anns)))
                L = segs[g, 1] - segs[g, 0]
                s, e = segs[g] + rng.normal(0, 0.3 * L + 0.3, 2)
                lab = labs[g]
            else:
                L = float(np.exp(rng.normal(1.16, 0.9)))
                s = float(rng.uniform(0, max(dur[names.index(v)] - L, 1.0)))
                e = s + L
                lab = labs[int(rng.integers(len(labs)))] if kind[j] < 0.85 else labels[int(rng.integers(len(labels)))]
            s, e = float(max(0.0, s)), float(max(0.0, e))
            out.append({"label": lab, "segment": [min(s, e), max(s, e)], "score": float(scores[k])})
            k += 1
        results[v] = out
    return {"version": "synthetic", "external_data": {"used": False}, "results": results}


def _time(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    gt_obj = synthetic_gt(rng)
    res_obj = synthetic_results(rng, gt_obj)
    gt = gt_from_anet_json(gt_obj, "test")
    pred = predictions_from_results(res_obj)
    print(f"synthetic THUMOS-sized input: {len(gt.videos)} videos, {gt.num_classes} classes, "
          f"{gt.num_instances} GT, {len(pred)} predictions, {len(THUMOS_TIOU)} thresholds")
    t, r = _time(lambda: detection_map(gt, pred, THUMOS_TIOU), args.repeat)
    print(f"detection_map (metric only, best of {args.repeat}): {t * 1000:.0f} ms "
          f"(target <= 1000 ms); mAP@0.1:0.7 = {' '.join(f'{100 * m:.2f}' for m in r.mAP)}")
    t, _ = _time(lambda: predictions_from_results(res_obj), args.repeat)
    print(f"validate + flatten result dict: {t * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as d:
        gp, pp = Path(d) / "gt.json", Path(d) / "pred.json"
        gp.write_text(json.dumps(gt_obj))
        pp.write_text(json.dumps(res_obj))
        t, _ = _time(lambda: evaluate_files(gp, pp, subset="test"), args.repeat)
        print(f"evaluate_files end to end (JSON parsing + validation + metric): {t * 1000:.0f} ms")
    if args.real:
        path = shared_data_dir() / "thumos14_test_gt_anet.json"
        if not path.is_file():
            print(f"(skipping --real: {path} not found)")
            return
        real = json.loads(path.read_text())
        real["database"] = {k: v for k, v in real["database"].items() if v["subset"] == "test"}
        rres = synthetic_results(np.random.default_rng(args.seed + 1), real)
        g, p = gt_from_anet_json(real, "test"), predictions_from_results(rres)
        t, r = _time(lambda: detection_map(g, p, THUMOS_TIOU), args.repeat)
        print(f"real THUMOS14 test GT ({g.num_instances} GT) + {len(p)} synthetic predictions: "
              f"{t * 1000:.0f} ms; mAP = {' '.join(f'{100 * m:.2f}' for m in r.mAP)}")


if __name__ == "__main__":
    main()
