"""Action localization at inference (Sec. 3.5): class-agnostic multi-threshold proposals from the
attention ``A``, outer-inner-contrast (OIC) scores on ``Ŝ``, per-class NMS or Gaussian Soft-NMS.

Pipeline for one video with T snippets (``A`` (T,), ``Ŝ = S·A`` (T, C+1), last column background):

1. Video-level class scores ``p`` (as the CO2-Net/HAM-Net inference, docs/evaluation_protocol.md):
   top-k mean of ``Ŝ`` over time per class with ``k = max(1, floor(T / r))`` (Eq. 1-2
   aggregation, ``r = class_topk_ratio``), softmax over the C+1 columns, background dropped AFTER
   the softmax. Classes with ``p_c >= class_threshold`` are localized; if none, the best class.
2. Candidates: for every threshold θ, the maximal runs ``[s..e]`` (inclusive snippet indices) of
   consecutive snippets with ``a_t > θ``. Runs do not depend on the class; a run found at several
   thresholds is kept once per threshold (as the peers do: Soft-NMS then decays the copies).
3. OIC score of run ``[s..e]`` (n = e - s + 1 snippets) for class c (λ = ``oic_flank``)::

       inner = mean(Ŝ[s..e, c])
       left  = [max(0, trunc(s - λn)), s)            -> s - ceil(λn) snippets when inside the video
       right = (e, min(T - 1, trunc(e + λn))]        -> floor(λn) snippets when inside the video
       outer = mean(Ŝ[left ∪ right, c])  (pooled; 0 when both flanks are empty)
       ψ = inner - outer + γ · p_c

   These flank bounds are exactly the peers' ``int()`` expressions (truncation), so the left flank
   is ``ceil(λn)`` long and the right one ``floor(λn)``: for λ = 0.25 a run of 1-3 snippets has a
   1-snippet left flank and no right flank. Kept on purpose for parity with the published code.
4. Per class, over all thresholds' candidates: hard NMS (keep the best, drop others with
   IoU > ``nms_iou``; default 0.6 as UM/CoLA, the most recent NMS-block peers of Table 1) or
   Gaussian Soft-NMS (take the best, multiply the rest by ``exp(-IoU² / σ)``, σ = 0.3, nothing
   dropped unless ``soft_min_score`` is set). IoU is continuous on ``[s, e + 1)`` snippet
   intervals (no "+1" inclusive-length convention). Ties in (current) score go to the earlier
   start, then the earlier end, then the lower threshold.
5. Seconds: ``start = s·Δ``, ``end = (e + 1)·Δ`` (Δ = ``snippet_seconds``), clipped to the
   duration when given (a proposal that starts at or after the end of the video is dropped).
6. Optional: drop proposals with positive overlap with any ambiguous segment of the video
   (CO2-Net protocol, on seconds here), then keep the ``max_proposals_per_video`` best.

Output proposals are sorted by descending score (stable: class index, then NMS order).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from himnet_lib.config.localize import ATTENTION_NORMS, LocalizeConfig
from himnet_lib.evaluation.nms import (
    DENSE_MAX_CANDIDATES,
    hard_nms,
    hard_nms_sparse,
    interval_iou,
    overlap_pairs,
    soft_nms,
    soft_nms_sparse,
)
from himnet_lib.utils.errors import EvaluationError
from himnet_lib.utils.fileio import atomic_write_text

RESULTS_VERSION = "himnet-study"  # the "version" of the result files written here


def normalize_attention(attention: np.ndarray, mode: str = "none") -> np.ndarray:
    """The attention read-out of :class:`LocalizeConfig` ``attention_norm`` for one video (T,)."""
    a = np.asarray(attention, dtype=np.float64).reshape(-1)
    if mode == "none" or a.size == 0:
        return a
    if mode == "minmax":
        lo, hi = float(a.min()), float(a.max())
        return (a - lo) / (hi - lo) if hi > lo else np.ones_like(a)
    raise ValueError(f"unknown attention_norm {mode!r}; choose one of {ATTENTION_NORMS}")






@dataclass
class Proposals:
    """Detections of one video (P proposals), sorted by descending score.

    Attributes: class_idx (P,) int64 in [0, C); start, end (P,) float64 seconds; score (P,) float64.
    """

    class_idx: np.ndarray
    start: np.ndarray
    end: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return int(self.score.shape[0])

    @classmethod
    def empty(cls) -> "Proposals":
        return cls(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0))


# --- building blocks --------------------------------------------------------------------------

def video_class_scores(cas_supp: np.ndarray, ratio: float = 10.0) -> np.ndarray:
    """Video-level class scores p (C,) from Ŝ (T, C+1): softmax over C+1 of the top-k temporal
    mean, k = max(1, floor(T / ratio)); the background entry is dropped after the softmax."""
    T = cas_supp.shape[0]
    k = max(1, int(np.floor(T / ratio)))
    top = -np.partition(-cas_supp, k - 1, axis=0)[:k]
    logits = top.mean(axis=0)
    e = np.exp(logits - logits.max())
    return (e / e.sum())[:-1]


def select_classes(p: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of classes with ``p_c >= threshold``; the argmax class if there is none."""
    sel = np.flatnonzero(p >= threshold)
    return sel if sel.size else np.array([int(np.argmax(p))], dtype=np.int64)


def threshold_runs(attention: np.ndarray, thresholds: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of ``attention > θ`` for every θ at once.

    Returns ``(start, end, thr_idx)`` (R,) int64: inclusive snippet bounds and the threshold index,
    ordered by threshold, then start.
    """
    a = np.asarray(attention, dtype=np.float64).reshape(-1)
    thr = np.asarray(thresholds, dtype=np.float64).reshape(-1, 1)
    above = a[None, :] > thr                                    # (n_thr, T)
    edges = np.diff(np.pad(above.astype(np.int8), ((0, 0), (1, 1))), axis=1)  # (n_thr, T+1)
    ti, s = np.nonzero(edges == 1)                              # row-major: same order for ends
    _, e = np.nonzero(edges == -1)
    return s.astype(np.int64), (e - 1).astype(np.int64), ti.astype(np.int64)


def oic_scores(cas_cols: np.ndarray, start: np.ndarray, end: np.ndarray, flank: float = 0.25) -> np.ndarray:
    """Outer-inner contrast ``inner - outer`` (R, K) of runs ``[start..end]`` on columns (T, K).

    Flanks: left ``[max(0, trunc(s - λn)), s)``, right ``(e, min(T-1, trunc(e + λn))]``, n = e-s+1;
    outer is the mean over both flanks pooled, 0 when they are empty. Uses cumulative sums.
    """
    T = cas_cols.shape[0]
    c = np.concatenate([np.zeros((1, cas_cols.shape[1])), np.cumsum(cas_cols, axis=0, dtype=np.float64)])
    n = (end - start + 1).astype(np.float64)
    ls = np.maximum(0, np.trunc(start - flank * n)).astype(np.int64)
    re = np.minimum(T - 1, np.trunc(end + flank * n)).astype(np.int64)
    inner = (c[end + 1] - c[start]) / n[:, None]
    n_out = (start - ls) + (re - end)
    out_sum = (c[start] - c[ls]) + (c[re + 1] - c[end + 1])
    outer = np.where(n_out[:, None] > 0, out_sum / np.maximum(n_out, 1)[:, None], 0.0)
    return inner - outer
















# --- one video --------------------------------------------------------------------------------

def localize_video(attention: np.ndarray, cas_supp: np.ndarray, cfg: LocalizeConfig,
                   snippet_seconds: float, ambiguous: np.ndarray | None = None,
                   duration: float | None = None) -> Proposals:
    """Proposals of one video.

    Args:
        attention: A (T,) in (0, 1). cas_supp: Ŝ (T, C+1) (last column background).
        cfg: post-processing settings. snippet_seconds: Δ, seconds per snippet.
        ambiguous: (M, 2) seconds, used when ``cfg.remove_ambiguous``.
        duration: seconds; proposals are clipped to it.
    """
    return localize_video_nms_modes(attention, cas_supp, cfg, snippet_seconds, (cfg.nms,),
                                    ambiguous, duration)[cfg.nms]


def localize_video_nms_modes(attention: np.ndarray, cas_supp: np.ndarray, cfg: LocalizeConfig,
                             snippet_seconds: float, nms_modes: Sequence[str],
                             ambiguous: np.ndarray | None = None,
                             duration: float | None = None) -> dict[str, Proposals]:
    """:func:`localize_video` under several NMS modes ("soft", "nms"; ``cfg.nms`` is ignored) from
    ONE set of candidates: the threshold runs, OIC scores and IoU matrix do not depend on the NMS,
    so scoring both read-outs costs one candidate generation (the result of each mode is the same
    as :func:`localize_video` with that ``cfg.nms``)."""
    a = np.asarray(attention, dtype=np.float64).reshape(-1)
    w = np.asarray(cas_supp, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != a.shape[0] or w.shape[1] < 2:
        raise EvaluationError(f"localize_video: attention {a.shape} and cas_supp {w.shape} must be (T,) and (T, C+1)")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(w))):
        raise EvaluationError("localize_video: attention / cas_supp contain NaN or inf")
    unknown = [m for m in nms_modes if m not in ("soft", "nms")]
    if unknown:
        raise EvaluationError(f"localize_video: unknown nms mode(s) {unknown} (soft or nms)")
    if a.shape[0] == 0:
        return {m: Proposals.empty() for m in nms_modes}
    p = video_class_scores(w, cfg.class_topk_ratio)
    classes = select_classes(p, cfg.class_threshold)
    s, e, ti = threshold_runs(normalize_attention(a, cfg.attention_norm), cfg.thresholds)
    if s.size == 0:
        return {m: Proposals.empty() for m in nms_modes}
    order = np.lexsort((ti, e, s))                              # tie order: start, end, threshold
    s, e, ti = s[order], e[order], ti[order]
    score = oic_scores(w[:, classes], s, e, cfg.oic_flank) + cfg.gamma * p[classes][None, :]  # (R, K)
    dense = s.size <= DENSE_MAX_CANDIDATES
    overlap: np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray] = (
        interval_iou(s, e + 1) if dense else overlap_pairs(s, e + 1, ti))
    out = {}
    for mode in nms_modes:
        if mode == "nms":
            keep, kscore = (hard_nms(score.T, overlap, cfg.nms_iou) if dense  # type: ignore[arg-type]
                            else hard_nms_sparse(score.T, overlap, cfg.nms_iou))  # type: ignore[arg-type]
        else:
            keep, kscore = (soft_nms(score.T, overlap, cfg.soft_sigma) if dense  # type: ignore[arg-type]
                            else soft_nms_sparse(score.T, overlap, cfg.soft_sigma))  # type: ignore[arg-type]
        out[mode] = _selected(keep, kscore, mode, s, e, classes, cfg, snippet_seconds, ambiguous, duration)
    return out


def _selected(keep: np.ndarray, kscore: np.ndarray, mode: str, s: np.ndarray, e: np.ndarray,
              classes: np.ndarray, cfg: LocalizeConfig, snippet_seconds: float,
              ambiguous: np.ndarray | None, duration: float | None) -> Proposals:
    """The proposals kept by one NMS: seconds, clipped to the duration, ambiguous ones dropped,
    best first."""
    ok = keep >= 0
    if mode == "soft" and cfg.soft_min_score is not None:
        ok &= kscore >= cfg.soft_min_score
    k_idx, slot = np.nonzero(ok)                               # class-major, selection order
    run = keep[k_idx, slot]
    cls = classes[k_idx]
    sc = kscore[k_idx, slot]
    t0 = s[run] * snippet_seconds
    t1 = (e[run] + 1) * snippet_seconds
    if duration is not None:
        t1 = np.minimum(t1, duration)
        inside = t0 < duration
        cls, t0, t1, sc = cls[inside], t0[inside], t1[inside], sc[inside]
    if cfg.remove_ambiguous and ambiguous is not None and len(ambiguous):
        amb = np.asarray(ambiguous, dtype=np.float64).reshape(-1, 2)
        overlap = (np.minimum(t1[:, None], amb[None, :, 1]) - np.maximum(t0[:, None], amb[None, :, 0])) > 0
        free = ~overlap.any(axis=1)
        cls, t0, t1, sc = cls[free], t0[free], t1[free], sc[free]
    best = np.argsort(-sc, kind="stable")
    if cfg.max_proposals_per_video is not None:
        best = best[: cfg.max_proposals_per_video]
    return Proposals(cls[best].astype(np.int64), t0[best], t1[best], sc[best])


# --- many videos ------------------------------------------------------------------------------

def localize_videos(outputs: Mapping[str, tuple[np.ndarray, np.ndarray]], classes: Sequence[str],
                    cfg: LocalizeConfig, snippet_seconds: float,
                    ambiguous: Mapping[str, np.ndarray] | None = None,
                    durations: Mapping[str, float] | None = None) -> dict[str, Any]:
    """ActivityNet result object for many videos.

    Args:
        outputs: video name -> (attention (T,), cas_supp (T, C+1)).
        classes: the C class names (index = class id).
        ambiguous: video name -> (M, 2) seconds. durations: video name -> seconds.
    Returns:
        ``{"version", "results": {video: [{"label", "segment": [s, e], "score"}]}, "external_data"}``
        (every video present, possibly with an empty list).
    """
    return localize_videos_nms_modes(outputs, classes, cfg, snippet_seconds, (cfg.nms,),
                                     ambiguous, durations)[cfg.nms]


def localize_proposals_nms_modes(outputs: Mapping[str, tuple[np.ndarray, np.ndarray]], num_classes: int,
                                 cfg: LocalizeConfig, snippet_seconds: float, nms_modes: Sequence[str],
                                 ambiguous: Mapping[str, np.ndarray] | None = None,
                                 durations: Mapping[str, float] | None = None) -> dict[str, dict[str, Proposals]]:
    """:func:`localize_video_nms_modes` for many videos: mode -> {video: Proposals} (video order
    kept). ``outputs``: video name -> (attention (T,), cas_supp (T, C+1))."""
    props: dict[str, dict[str, Proposals]] = {m: {} for m in nms_modes}
    for name, (att, cas) in outputs.items():
        cas = np.asarray(cas)
        if cas.ndim != 2 or cas.shape[1] != num_classes + 1:
            raise EvaluationError(f"localize_videos: video {name}: cas_supp has shape {cas.shape}, "
                                  f"expected (T, {num_classes + 1}) for {num_classes} classes")
        try:
            by_mode = localize_video_nms_modes(att, cas, cfg, snippet_seconds, nms_modes,
                                               ambiguous=None if ambiguous is None else ambiguous.get(name),
                                               duration=None if durations is None else durations.get(name))
        except EvaluationError as err:
            raise EvaluationError(f"video {name}: {err}") from None
        for mode, prop in by_mode.items():
            props[mode][name] = prop
    return props


def results_object(props: Mapping[str, Proposals], classes: Sequence[str], cfg: LocalizeConfig,
                   nms: str) -> dict[str, Any]:
    """The ActivityNet result object of {video: Proposals} (every video present)."""
    results = {name: [{"label": classes[c], "segment": [s, e], "score": sc}
                      for c, s, e, sc in zip(p.class_idx.tolist(), p.start.tolist(), p.end.tolist(),
                                             p.score.tolist())]
               for name, p in props.items()}
    return {
        "version": RESULTS_VERSION,
        "results": results,
        "external_data": {"used": False, "details": f"HiM-Net localization: nms={nms}, "
                                                    f"{len(cfg.thresholds)} attention thresholds"},
    }


def localize_videos_nms_modes(outputs: Mapping[str, tuple[np.ndarray, np.ndarray]], classes: Sequence[str],
                              cfg: LocalizeConfig, snippet_seconds: float, nms_modes: Sequence[str],
                              ambiguous: Mapping[str, np.ndarray] | None = None,
                              durations: Mapping[str, float] | None = None) -> dict[str, dict[str, Any]]:
    """:func:`localize_videos` for each NMS mode of ``nms_modes`` (one candidate set per video,
    see :func:`localize_video_nms_modes`): mode -> result object."""
    props = localize_proposals_nms_modes(outputs, len(classes), cfg, snippet_seconds, nms_modes,
                                         ambiguous, durations)
    return {mode: results_object(props[mode], classes, cfg, mode) for mode in nms_modes}


def write_results(path: str | os.PathLike, obj: Mapping[str, Any]) -> None:
    """Write a result object atomically as compact JSON (sorted keys, no indentation: a run's
    predictions hold up to ~10^5 proposals, and indenting them tripled the write time and size)."""
    atomic_write_text(path, json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n")
