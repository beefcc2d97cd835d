"""Structure measures: numbers computed from a dataset (or from a MIL-only model's saved outputs) that
show whether the structure a loss term or Soft-NMS exploits is there (numpy, torch-free).

The mechanism map (``himnet_lib.study.mechanisms``) plants each structure in the synthetic generator
and reads these; ``himnet diagnose`` applies the same functions to a user's data.

* :func:`instance_overlap_share` (Soft-NMS): share of ground-truth instances that overlap or touch
  (gap <= 0 s) another instance of the *same* class; per-class NMS only ever suppresses proposals of
  one class, so overlaps between classes (nested or co-occurring classes) do not count.
* :func:`class_style_similarity` (VCL): mean cosine between the descriptors of same-class instances
  within one video and across videos; ``gap = within - cross`` is the cross-video intra-class
  variation VCL's cross-video pull can remove (about 0 when every video of a class looks alike).
* :func:`ambiguous_share` (SCL): share of snippets whose centre lies in an annotated ambiguous region.
* :func:`boundary_entropy` (SCL, model-based): mean binary entropy (bits) of a model's background
  probability ``B_BG`` on the snippets next to a ground-truth fg/bg boundary.
* CLL's measure, the MIL-only model's off-label argmax share, is
  :func:`himnet_lib.evaluation.diagnostics.attention_diagnostics`'s ``off_label_argmax_share``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from himnet_lib.evaluation.snippet_metrics import snippet_labels

__all__ = ["instance_overlap_share", "class_style_similarity", "ambiguous_share", "boundary_entropy",
           "binary_entropy", "MAX_INSTANCES_PER_CLASS"]

MAX_INSTANCES_PER_CLASS = 3000  # descriptors per class compared pairwise (the first ones, in video order)


def instance_overlap_share(videos: Sequence) -> float:
    """Share of the instances of ``videos`` that overlap or touch (``start_j <= end_i`` and
    ``start_i <= end_j``) another instance of the same class in the same video; NaN without instances."""
    hit = total = 0
    for v in videos:
        seg = np.asarray(v.segments, np.float64).reshape(-1, 2)
        cls = np.asarray(v.segment_classes).reshape(-1)
        total += len(seg)
        for c in np.unique(cls):
            s = seg[cls == c]
            if len(s) < 2:
                continue
            meet = (s[:, None, 0] <= s[None, :, 1]) & (s[None, :, 0] <= s[:, None, 1])
            np.fill_diagonal(meet, False)
            hit += int(meet.any(axis=1).sum())
    return hit / total if total else float("nan")


def _descriptors(v, snippet_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """(n, D) per-instance descriptors of one video (mean feature of the snippets whose centre lies in
    the instance, minus the mean of the video's background snippets) and their classes (n,); instances
    that cover no snippet centre are left out."""
    x = np.asarray(v.features, np.float64)
    seg = np.asarray(v.segments, np.float64).reshape(-1, 2)
    cls = np.asarray(v.segment_classes).reshape(-1)
    centre = (np.arange(len(x)) + 0.5) * snippet_seconds
    inside = (centre[None, :] >= seg[:, :1]) & (centre[None, :] < seg[:, 1:])  # (n, T)
    bg = ~inside.any(axis=0)
    ref = x[bg].mean(axis=0) if bg.any() else x.mean(axis=0)
    keep = inside.any(axis=1)
    d = np.stack([x[m].mean(axis=0) for m in inside[keep]]) - ref if keep.any() else np.zeros((0, x.shape[1]))
    return d, cls[keep]


def class_style_similarity(videos: Sequence, snippet_seconds: float) -> dict[str, float]:
    """``within``: mean cosine between descriptors (:func:`_descriptors`) of two instances of one class
    in the same video; ``cross``: the same for two instances of one class in different videos; both
    averaged per class first, then over the classes that have pairs of both kinds; ``gap`` =
    within - cross (per class, then averaged); ``classes``: how many classes entered. NaN when no class
    has both kinds of pair (e.g. one instance per video)."""
    by_class: dict[int, tuple[list[np.ndarray], list[int]]] = {}
    for i, v in enumerate(videos):
        if not len(v.segments):
            continue
        d, cls = _descriptors(v, snippet_seconds)
        for c in np.unique(cls):
            rows, owner = by_class.setdefault(int(c), ([], []))
            rows.append(d[cls == c])
            owner += [i] * int((cls == c).sum())
    within, cross, gap = [], [], []
    for c in sorted(by_class):
        rows, owner = by_class[c]
        d = np.concatenate(rows)[:MAX_INSTANCES_PER_CLASS]
        vid = np.asarray(owner)[:MAX_INSTANCES_PER_CLASS]
        norm = np.linalg.norm(d, axis=1)
        ok = norm > 0
        d, vid = d[ok] / norm[ok, None], vid[ok]
        cos = d @ d.T
        same = vid[:, None] == vid[None, :]
        upper = np.triu(np.ones_like(same), k=1)
        w, x = cos[same & upper], cos[~same & upper]
        if w.size and x.size:
            within.append(float(w.mean()))
            cross.append(float(x.mean()))
            gap.append(within[-1] - cross[-1])
    nan = float("nan")
    return {"within": float(np.mean(within)) if within else nan, "cross": float(np.mean(cross)) if cross else nan,
            "gap": float(np.mean(gap)) if gap else nan, "classes": len(gap)}


def ambiguous_share(videos: Sequence, ambiguous: Mapping[str, np.ndarray], snippet_seconds: float) -> float:
    """Share of the snippets of ``videos`` whose centre lies in an ambiguous region of its video
    (``ambiguous``: video name -> (M, 2) seconds); NaN without snippets."""
    inside = total = 0
    for v in videos:
        T = int(v.num_snippets)
        total += T
        amb = np.asarray(ambiguous.get(v.name, np.zeros((0, 2))), np.float64).reshape(-1, 2)
        if T and len(amb):
            centre = (np.arange(T) + 0.5) * snippet_seconds
            inside += int(((centre[None, :] >= amb[:, :1]) & (centre[None, :] < amb[:, 1:])).any(axis=0).sum())
    return inside / total if total else float("nan")


def binary_entropy(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """``-p log2 p - (1 - p) log2 (1 - p)`` elementwise (bits), ``p`` clipped to [eps, 1 - eps]."""
    p = np.clip(np.asarray(p, np.float64), eps, 1 - eps)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def boundary_entropy(outputs: Mapping[str, Mapping[str, np.ndarray]], videos: Sequence, snippet_seconds: float,
                     num_classes: int, width: int = 1) -> float:
    """Mean :func:`binary_entropy` of ``B_BG`` (``outputs[name]["bg_prob"]``) over the snippets within
    ``width`` snippets of a fg/bg boundary of the ground truth (a change of the snippet's background
    membership, :func:`himnet_lib.evaluation.snippet_metrics.snippet_labels`: ``width`` = 1 takes the
    two snippets either side of it), pooled over ``videos``; NaN when no video has a boundary."""
    values = []
    for v in videos:
        b = np.asarray(outputs[v.name]["bg_prob"], np.float64).reshape(-1)
        bg = snippet_labels(v.segments, v.segment_classes, len(b), snippet_seconds, num_classes)[:, -1]
        change = np.flatnonzero(bg[1:] != bg[:-1])  # boundary between snippet t and t + 1
        if not change.size:
            continue
        near = np.zeros(len(b), dtype=bool)
        for k in range(width):
            near[np.clip(change - k, 0, len(b) - 1)] = True
            near[np.clip(change + 1 + k, 0, len(b) - 1)] = True
        values.append(binary_entropy(b[near]))
    return float(np.concatenate(values).mean()) if values else float("nan")
