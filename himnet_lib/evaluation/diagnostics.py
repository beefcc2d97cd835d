"""Threshold-free diagnostics of a run's snippet-level outputs (written into ``metrics.json``).

Detection mAP depends on how the attention ``A`` meets the fixed proposal thresholds; these numbers
do not, so they tell a better-ranked attention from a merely rescaled one:

* ``fg_bg_auc``: ROC-AUC of ``A`` as a score for "this snippet lies inside a ground-truth action
  instance", pooled over all snippets of all evaluated videos (0.5 = chance, 1 = perfect ranking).
  Invariant to any monotone rescaling of ``A`` that is shared by all videos.
* ``fg_bg_auc_video``: the same AUC per video (videos with both classes of snippet), averaged:
  invariant to per-video rescaling too (what a per-video min-max read-out sees).
* ``attention_min`` / ``attention_max`` / ``attention_range``: per-video min, max and max - min of
  ``A``, averaged over videos; ``attention_range_median``: the median over videos of max - min.
  A range near 0 means no threshold can separate anything.
* ``bg_prob_on_fg`` / ``bg_prob_on_bg``: mean background probability ``B_BG`` on ground-truth
  foreground and background snippets.
* ``off_label_argmax_share``: share of snippets whose ``argmax_c S`` (over the C+1 columns) is an
  action class that is NOT in the video's labels: the unexpected activation CLL is meant to
  suppress.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from himnet_lib.utils.errors import EvaluationError

__all__ = ["roc_auc", "attention_diagnostics", "uncertainty_numpy", "background_uncertainty", "DIAGNOSTIC_KEYS"]

EPS = 1e-6  # the probability clamp of himnet_lib.modeling.losses (its module docstring)

DIAGNOSTIC_KEYS = ("fg_bg_auc", "fg_bg_auc_video", "attention_min", "attention_max", "attention_range",
                   "attention_range_median",
                   "bg_prob_on_fg", "bg_prob_on_bg", "off_label_argmax_share")


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of x with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # boundaries of runs of equal values
    new = np.concatenate([[True], xs[1:] != xs[:-1]])
    run_id = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.concatenate([starts[1:], [xs.size]])
    avg = (starts + ends + 1) / 2.0          # mean of ranks start+1 .. end
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = avg[run_id]
    return ranks


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the boolean labels ``positive`` (Mann-Whitney U
    with average ranks for ties: a tie between a positive and a negative counts one half).
    NaN when either class is absent."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(positive, dtype=bool).reshape(-1)
    if s.shape != y.shape:
        raise EvaluationError(f"roc_auc: {s.shape[0]} scores but {y.shape[0]} labels")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = _average_ranks(s)
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def attention_diagnostics(outputs: Mapping[str, Mapping[str, np.ndarray]], videos: Sequence,
                          memberships: Sequence[np.ndarray]) -> dict[str, float]:
    """The diagnostics of the module docstring.

    Args:
        outputs: video name -> {"attention" (T,), "cas" (T, C+1), "bg_prob" (T,)}.
        videos: the evaluated videos (``name`` and ``labels`` (C,) are read), same order as
            ``memberships``.
        memberships: per video (T, C+1) bool from :func:`himnet_lib.evaluation.snippet_metrics.snippet_labels`.
    """
    if len(videos) != len(memberships) or not videos:
        raise EvaluationError(f"attention_diagnostics: {len(videos)} videos, {len(memberships)} memberships")
    att, fg, bgp, lo, hi, per_video_auc = [], [], [], [], [], []
    off = total = 0
    for v, m in zip(videos, memberships):
        o = outputs[v.name]
        a = np.asarray(o["attention"], dtype=np.float64).reshape(-1)
        m = np.asarray(m, dtype=bool)
        if m.shape[0] != a.shape[0]:
            raise EvaluationError(f"attention_diagnostics: video {v.name}: attention {a.shape} vs "
                                  f"membership {m.shape}")
        is_fg = ~m[:, -1]
        att.append(a)
        fg.append(is_fg)
        bgp.append(np.asarray(o["bg_prob"], dtype=np.float64).reshape(-1))
        if a.size:
            lo.append(a.min())
            hi.append(a.max())
            auc = roc_auc(a, is_fg)
            if np.isfinite(auc):
                per_video_auc.append(auc)
        cas = np.asarray(o["cas"])
        if cas.shape[0]:
            top = cas.argmax(axis=1)
            labels = np.asarray(v.labels).reshape(-1) > 0
            C = labels.size
            action = top < C
            off += int((action & ~labels[np.minimum(top, C - 1)]).sum())
            total += cas.shape[0]
    a_all, fg_all, b_all = np.concatenate(att), np.concatenate(fg), np.concatenate(bgp)
    lo_a, hi_a = np.asarray(lo), np.asarray(hi)
    return {
        "fg_bg_auc": roc_auc(a_all, fg_all),
        "fg_bg_auc_video": float(np.mean(per_video_auc)) if per_video_auc else float("nan"),
        "attention_min": float(lo_a.mean()),
        "attention_max": float(hi_a.mean()),
        "attention_range": float((hi_a - lo_a).mean()),
        "attention_range_median": float(np.median(hi_a - lo_a)),
        "bg_prob_on_fg": float(b_all[fg_all].mean()) if fg_all.any() else float("nan"),
        "bg_prob_on_bg": float(b_all[~fg_all].mean()) if (~fg_all).any() else float("nan"),
        "off_label_argmax_share": off / total if total else float("nan"),
    }


def uncertainty_numpy(p: np.ndarray, q: np.ndarray, alpha: float = 4.0, kl: str = "bernoulli",
                eps: float = EPS) -> np.ndarray:
    """Eq. 9, self-centred, in numpy: U(p‖q) = exp(-α·KL(p‖q)) elementwise, p and q clamped to
    [eps, 1-eps]; kl="bernoulli" is the two-outcome KL, kl="paper" the printed p log(p/q).
    The torch :func:`himnet_lib.modeling.losses.scl.uncertainty` (centre="self") is the training-side twin."""
    if kl not in ("bernoulli", "paper"):
        raise ValueError(f"uncertainty_numpy: kl must be 'bernoulli' or 'paper', got {kl!r}")
    p = np.clip(np.asarray(p, np.float64), eps, 1 - eps)
    q = np.clip(np.asarray(q, np.float64), eps, 1 - eps)
    div = p * np.log(p / q)
    if kl == "bernoulli":
        div = div + (1 - p) * np.log((1 - p) / (1 - q))
    return np.exp(-alpha * div)


def background_uncertainty(outputs: Mapping[str, Mapping[str, np.ndarray]], videos: Sequence,
                           memberships: Sequence[np.ndarray], alpha: float = 4.0,
                           kl: str = "bernoulli") -> np.ndarray:
    """Fig. 7's statistic: U(B_BG ‖ 1 - A) (Eq. 9, self-centred, the weight of Eq. 10's first term
    as implemented) on every ground-truth background snippet of ``videos``, pooled (1-D array).

    outputs: video name -> {"attention" (T,), "bg_prob" (T,)}; memberships from
    :func:`himnet_lib.evaluation.snippet_metrics.snippet_labels` (last column = background).
    """
    values = []
    for v, m in zip(videos, memberships):
        o = outputs[v.name]
        is_bg = np.asarray(m, dtype=bool)[:, -1]
        u = uncertainty_numpy(np.asarray(o["bg_prob"], np.float64), 1 - np.asarray(o["attention"], np.float64),
                        alpha=alpha, kl=kl)
        values.append(u[is_bg])
    return np.concatenate(values) if values else np.zeros(0)
