"""Snippet-level metrics: the snippet labels from ground truth, the classification accuracy of S (Table
3's ACC) and its splits, the foreground/background accuracy of A (Table 4's ACC)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from himnet_lib.utils.errors import EvaluationError


def snippet_labels(segments: np.ndarray, segment_classes: np.ndarray, num_snippets: int,
                   snippet_seconds: float, num_classes: int) -> np.ndarray:
    """Snippet membership (T, C+1) bool; column C is background.

    Snippet ``t`` covers ``[t·Δ, (t+1)·Δ)`` with ``Δ = snippet_seconds``; it belongs to class ``c``
    when its centre ``(t + 0.5)·Δ`` lies in ``[start, end)`` of some GT segment of class ``c``
    (so a segment shorter than Δ may cover no snippet), and to the background column when no
    segment of any class covers it. Several classes can cover one snippet (e.g. CliffDiving/Diving).

    Args:
        segments: (N, 2) seconds. segment_classes: (N,) int in [0, C).
    """
    seg = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    cls = np.asarray(segment_classes, dtype=np.int64).reshape(-1)
    if cls.shape[0] != seg.shape[0]:
        raise EvaluationError(f"snippet_labels: {seg.shape[0]} segments but {cls.shape[0]} classes")
    if cls.size and (cls.min() < 0 or cls.max() >= num_classes):
        raise EvaluationError(f"snippet_labels: segment class out of range [0, {num_classes})")
    if not snippet_seconds > 0:
        raise EvaluationError(f"snippet_labels: snippet_seconds must be > 0, got {snippet_seconds}")
    centre = (np.arange(num_snippets, dtype=np.float64) + 0.5) * snippet_seconds
    # centres ascend, so each segment covers the snippets [lo, hi): binary search, not an (N, T) matrix
    lo = np.searchsorted(centre, seg[:, 0], side="left")          # first centre >= start
    hi = np.searchsorted(centre, seg[:, 1], side="left")          # first centre >= end
    valid = ~(np.isnan(seg[:, 0]) | np.isnan(seg[:, 1])) & (hi > lo)  # NaN bounds cover nothing
    count = np.zeros((num_snippets + 1, num_classes), dtype=np.int64)
    np.add.at(count, (lo[valid], cls[valid]), 1)
    np.add.at(count, (hi[valid], cls[valid]), -1)
    member = np.zeros((num_snippets, num_classes + 1), dtype=bool)
    member[:, :num_classes] = np.cumsum(count, axis=0)[:num_snippets] > 0
    member[:, num_classes] = ~member[:, :num_classes].any(axis=1)
    return member


def snippet_memberships(ds, videos) -> list[np.ndarray]:
    """:func:`snippet_labels` of each video of ``ds`` in ``videos`` (T_i, C+1), with the dataset's
    snippet length and class count."""
    return [snippet_labels(v.segments, v.segment_classes, v.num_snippets, ds.snippet_seconds, ds.num_classes)
            for v in videos]


def _check_pairs(a: Sequence[np.ndarray], m: Sequence[np.ndarray], name: str) -> None:
    if len(a) != len(m):
        raise EvaluationError(f"{name}: {len(a)} videos of predictions but {len(m)} of memberships")
    if len(a) == 0:
        raise EvaluationError(f"{name}: no videos")


def snippet_classification_accuracy(cas: Sequence[np.ndarray], memberships: Sequence[np.ndarray]) -> float:
    """Fraction of snippets whose predicted class ``argmax_c S[t, c]`` (over C+1 columns, the last
    being background) is correct, pooled over all snippets of all videos.

    Correct means: one of the GT classes covering the snippet, or the background column when no
    GT covers it (i.e. ``membership[t, argmax]``, with memberships from :func:`snippet_labels`).
    Ties in ``S`` go to the lowest class index (numpy argmax).

    Args:
        cas: per video (T, C+1) scores (raw ``S``, ``Ŝ`` or probabilities: argmax is the same for
            any per-snippet monotone transform). memberships: per video (T, C+1) bool.
    """
    _check_pairs(cas, memberships, "snippet_classification_accuracy")
    correct = total = 0
    for i, (s, m) in enumerate(zip(cas, memberships)):
        s = np.asarray(s)
        m = np.asarray(m, dtype=bool)
        if s.shape != m.shape:
            raise EvaluationError(f"snippet_classification_accuracy: video {i}: scores {s.shape} "
                                  f"vs membership {m.shape}")
        if s.shape[0]:
            correct += int(m[np.arange(s.shape[0]), s.argmax(axis=1)].sum())
        total += s.shape[0]
    if total == 0:
        raise EvaluationError("snippet_classification_accuracy: no snippets")
    return correct / total


# the keys of snippet_accuracy_breakdown, in metrics.json and the tables
ACC_SPLITS = ("snippet_acc_fg", "snippet_acc_bg", "snippet_acc_balanced")


def snippet_accuracy_breakdown(cas: Sequence[np.ndarray], memberships: Sequence[np.ndarray]) -> dict[str, float]:
    """The snippet ACC of :func:`snippet_classification_accuracy` split by what the snippet is.

    Pooled over all snippets of all videos, with ``k = argmax_c S[t, c]`` over the C+1 columns:

    * ``snippet_acc_fg``: ACC over the foreground snippets (some GT action covers t);
    * ``snippet_acc_bg``: ACC over the background snippets (k must be the background column);
    * ``snippet_acc_balanced``: the mean over the C+1 columns c that cover at least one snippet
      of the recall ``P(membership[t, k] | membership[t, c])`` (class-balanced ACC; a snippet
      covered by several classes counts for each of them);

    A split with no snippets is NaN. Args as :func:`snippet_classification_accuracy`.
    """
    _check_pairs(cas, memberships, "snippet_accuracy_breakdown")
    fg_ok = fg_n = bg_ok = bg_n = total = 0
    hit_by_col: np.ndarray | None = None
    n_by_col: np.ndarray | None = None
    for i, (s, m) in enumerate(zip(cas, memberships)):
        s = np.asarray(s)
        m = np.asarray(m, dtype=bool)
        if s.shape != m.shape:
            raise EvaluationError(f"snippet_accuracy_breakdown: video {i}: scores {s.shape} vs membership {m.shape}")
        if hit_by_col is None or n_by_col is None:
            hit_by_col, n_by_col = np.zeros(m.shape[1], np.int64), np.zeros(m.shape[1], np.int64)
        if not s.shape[0]:
            continue
        k = s.argmax(axis=1)
        ok = m[np.arange(s.shape[0]), k]
        bg = m[:, -1]
        fg_ok += int(ok[~bg].sum())
        fg_n += int((~bg).sum())
        bg_ok += int(ok[bg].sum())
        bg_n += int(bg.sum())
        hit_by_col += (m & ok[:, None]).sum(axis=0)
        n_by_col += m.sum(axis=0)
        total += s.shape[0]
    if total == 0 or hit_by_col is None or n_by_col is None:
        raise EvaluationError("snippet_accuracy_breakdown: no snippets")
    seen = n_by_col > 0
    return {"snippet_acc_fg": fg_ok / fg_n if fg_n else float("nan"),
            "snippet_acc_bg": bg_ok / bg_n if bg_n else float("nan"),
            "snippet_acc_balanced": float((hit_by_col[seen] / n_by_col[seen]).mean())}


def fg_bg_accuracy(attention: Sequence[np.ndarray], memberships: Sequence[np.ndarray],
                   threshold: float = 0.5) -> float:
    """Fraction of snippets (pooled over videos) where ``[a_t > threshold]`` equals
    ``[some GT action covers t]`` (= not the background column of the membership)."""
    _check_pairs(attention, memberships, "fg_bg_accuracy")
    correct = total = 0
    for i, (a, m) in enumerate(zip(attention, memberships)):
        a = np.asarray(a).reshape(-1)
        m = np.asarray(m, dtype=bool)
        if m.ndim != 2 or m.shape[0] != a.shape[0]:
            raise EvaluationError(f"fg_bg_accuracy: video {i}: attention {a.shape} vs membership {m.shape}")
        correct += int(((a > threshold) == ~m[:, -1]).sum())
        total += a.shape[0]
    if total == 0:
        raise EvaluationError("fg_bg_accuracy: no snippets")
    return correct / total
