"""A plain numpy implementation of the ActivityNet detection mAP, for timing ``himnet evaluate``
against (``timing/suite/evaluate_cli.py``): the official evaluation's algorithm, written directly.

Per class, the predictions are sorted by score; each is matched, at every tIoU threshold at once,
to the not-yet-matched ground-truth instance of its video with the highest tIoU; AP is the area
under the interpolated precision-recall curve (the official ``interpolated_prec_rec``). Usage:
``python timing/reference_map.py GT.json PRED.json [--subset test]``; prints the mAP per tIoU and
their mean.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

TIOU = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])


def interpolated_ap(prec: np.ndarray, rec: np.ndarray) -> float:
    mprec = np.hstack([[0.0], prec, [0.0]])
    mrec = np.hstack([[0.0], rec, [1.0]])
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    idx = np.where(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def class_ap(gt: dict[str, np.ndarray], videos: np.ndarray, segs: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AP at every threshold of one class: ``gt`` video -> (G,2) segments."""
    n_gt = sum(len(g) for g in gt.values())
    ap = np.zeros(len(TIOU))
    if n_gt == 0 or len(scores) == 0:
        return ap
    order = np.argsort(-scores, kind="stable")
    tp = np.zeros((len(TIOU), len(order)))
    fp = np.zeros((len(TIOU), len(order)))
    used = {v: np.zeros((len(TIOU), len(g)), dtype=bool) for v, g in gt.items()}
    for j, i in enumerate(order):
        g = gt.get(videos[i])
        if g is None or len(g) == 0:
            fp[:, j] = 1
            continue
        s, e = segs[i]
        inter = np.clip(np.minimum(e, g[:, 1]) - np.maximum(s, g[:, 0]), 0, None)
        iou = inter / ((e - s) + (g[:, 1] - g[:, 0]) - inter)
        best = np.argsort(-iou)
        for k, thr in enumerate(TIOU):
            for b in best:
                if iou[b] < thr:
                    fp[k, j] = 1
                    break
                if not used[videos[i]][k, b]:
                    used[videos[i]][k, b] = True
                    tp[k, j] = 1
                    break
            else:
                fp[k, j] = 1
    tp_c, fp_c = np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)
    rec, prec = tp_c / n_gt, tp_c / (tp_c + fp_c)
    return np.array([interpolated_ap(prec[k], rec[k]) for k in range(len(TIOU))])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("gt")
    p.add_argument("pred")
    p.add_argument("--subset", default="test")
    a = p.parse_args()
    with open(a.gt) as f:
        db = json.load(f)["database"]
    with open(a.pred) as f:
        results = json.load(f)["results"]
    gts: dict[str, dict[str, list]] = {}
    for v, info in db.items():
        if info.get("subset") != a.subset:
            continue
        for ann in info["annotations"]:
            gts.setdefault(ann["label"], {}).setdefault(v, []).append(ann["segment"])
    preds: dict[str, tuple[list, list, list]] = {}
    for v, props in results.items():
        if v not in db or db[v].get("subset") != a.subset:
            continue
        for r in props:
            c = preds.setdefault(r["label"], ([], [], []))
            c[0].append(v)
            c[1].append(r["segment"])
            c[2].append(r["score"])
    aps = []
    for label, by_video in gts.items():
        gt = {v: np.asarray(s, dtype=float) for v, s in by_video.items()}
        vids, segs, scores = preds.get(label, ([], [], []))
        aps.append(class_ap(gt, np.asarray(vids), np.asarray(segs, dtype=float).reshape(-1, 2), np.asarray(scores)))
    m = np.mean(aps, axis=0)
    print(" ".join(f"{x:.4f}" for x in m), f"average {m.mean():.4f}")


if __name__ == "__main__":
    main()
