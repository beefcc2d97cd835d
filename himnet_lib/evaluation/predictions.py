"""Predictions for the detection metric: an ActivityNet result JSON (or proposals) read, validated and
flattened into arrays."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from himnet_lib.evaluation.groundtruth import (
    parse_segment,
    read_json,
    where,
)
from himnet_lib.utils.errors import EvaluationError


@dataclass(frozen=True)
class Predictions:
    """Detections as flat arrays (P predictions) in input order (JSON video order, then list order).

    Attributes:
        videos: distinct video names, in order of first appearance.
        labels: distinct label strings, in order of first appearance.
        video_idx: (P,) int64 index into ``videos``.
        label_idx: (P,) int64 index into ``labels``.
        segments: (P, 2) float64 [start, end] in seconds, end >= start.
        scores: (P,) float64 finite.
        source: where it came from (for messages).
    """

    videos: list[str]
    labels: list[str]
    video_idx: np.ndarray
    label_idx: np.ndarray
    segments: np.ndarray
    scores: np.ndarray
    source: str = "<predictions>"

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def first_with_label(self, label: int) -> str:
        """Name of the first video that carries predicted label ``label`` (for error messages)."""
        i = int(np.flatnonzero(self.label_idx == label)[0])
        return self.videos[int(self.video_idx[i])]


_REQUIRED_RESULT_KEYS = ("results", "version", "external_data")


def predictions_from_results(obj: Any, *, source: str = "<results dict>", strict: bool = True,
                             allow_empty: bool = True) -> Predictions:
    """Validate an ActivityNet result object and flatten it (input order kept).

    Args:
        obj: the decoded JSON ``{"version", "external_data", "results": {video: [...]}}``.
        strict: require ``version`` and ``external_data`` as the official evaluator does
            (``results`` is always required).
        allow_empty: accept a result set with no prediction (evaluates to 0 mAP).
    """
    if not isinstance(obj, Mapping):
        raise EvaluationError(f"result JSON must be an object, got {type(obj).__name__}" + where(source))
    required = _REQUIRED_RESULT_KEYS if strict else ("results",)
    missing = [k for k in required if k not in obj]
    if missing:
        raise EvaluationError(f"result JSON lacks required key(s) {', '.join(repr(k) for k in missing)} "
                              f"(an ActivityNet result file has 'version', 'external_data' and 'results')"
                              + where(source, field=missing[0]))
    results = obj["results"]
    if not isinstance(results, Mapping):
        raise EvaluationError("'results' must be an object {video: [predictions]}" + where(source, field="results"))

    flat = _flatten_fast(results)
    if flat is None:  # something is off: the slow path finds it and names it
        flat = _flatten_checked(results, source)
    vnames, labels, vid, lab, seg, score = flat
    if score.size == 0 and not allow_empty:
        raise EvaluationError("no predictions in the result file (every video's list is empty)"
                              + where(source, field="results"))
    return Predictions(videos=vnames, labels=labels, video_idx=vid, label_idx=lab,
                       segments=seg, scores=score, source=source)


def _first_appearance(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys in order of first appearance, index of each element into them)."""
    uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return uniq[order], rank[inv.reshape(-1)].astype(np.int64)


def predictions_from_proposals(proposals: Mapping[str, Any], classes: Sequence[str],
                               source: str = "<proposals>") -> Predictions:
    """:class:`Predictions` straight from ``{video: localize.Proposals}`` (``class_idx`` into
    ``classes``, ``start``, ``end``, ``score``), without building and re-parsing a result object:
    the same value :func:`predictions_from_results` gives for their result object (videos and
    predictions in the given order, labels numbered in order of first appearance). Bad values name
    the video."""
    videos = list(proposals)
    for v, p in proposals.items():
        if not len(p.class_idx) == len(p.start) == len(p.end) == len(p.score):
            raise EvaluationError(f"proposals of video {v}: {len(p.class_idx)} classes, {len(p.start)} starts, "
                                  f"{len(p.end)} ends, {len(p.score)} scores")
    props = list(proposals.values())
    counts = np.array([len(p.score) for p in props], dtype=np.int64)

    def flat(field: str, dtype) -> np.ndarray:
        return np.concatenate([np.zeros(0, dtype)] + [np.asarray(getattr(p, field), dtype) for p in props])

    cls, score = flat("class_idx", np.int64), flat("score", np.float64)
    seg = np.stack([flat("start", np.float64), flat("end", np.float64)], axis=1)
    bad = ~(np.isfinite(seg).all(axis=1) & np.isfinite(score) & (seg[:, 1] >= seg[:, 0]))
    if bad.any():
        i = int(np.argmax(bad))
        video = videos[int(np.searchsorted(np.cumsum(counts), i, side="right"))]
        raise EvaluationError(f"proposals of video {video}: non-finite segment or score, or end < start "
                              f"(segment {seg[i].tolist()}, score {score[i]})")
    if cls.size and (cls.min() < 0 or cls.max() >= len(classes)):
        raise EvaluationError(f"proposals: class index out of range [0, {len(classes)})")
    labels, lab = _first_appearance(cls)
    return Predictions(videos=videos, labels=[str(classes[c]) for c in labels],
                       video_idx=np.repeat(np.arange(len(videos), dtype=np.int64), counts),
                       label_idx=lab, segments=seg, scores=score, source=source)


def _flatten_fast(results: Mapping[str, Any]):
    """Vectorised flattening of well-formed results; None when anything needs a closer look."""
    try:
        vnames = list(results)
        lists = [results[v] for v in vnames]
        if not all(type(x) is list for x in lists):
            return None
        counts = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        preds = [p for x in lists for p in x]
        labels = [p["label"] for p in preds]
        scores = [p["score"] for p in preds]
        segs = [p["segment"] for p in preds]
    except (KeyError, TypeError):
        return None
    if not all(type(x) is str for x in labels):
        return None
    if not all(type(x) is float or type(x) is int for x in scores):
        return None
    if not all(type(x) is list and len(x) == 2 for x in segs):
        return None
    try:
        seg = np.array(segs, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        return None
    score = np.array(scores, dtype=np.float64)
    if not (np.all(np.isfinite(seg)) and np.all(np.isfinite(score)) and np.all(seg[:, 1] >= seg[:, 0])):
        return None
    # labels numbered in order of first appearance (as the slow path)
    uniq, lab = _first_appearance(np.array(labels, dtype=object).astype(str))
    vid = np.repeat(np.arange(len(vnames), dtype=np.int64), counts)
    return vnames, [str(u) for u in uniq], vid, lab, seg, score


def _flatten_checked(results: Mapping[str, Any], source: str):
    """Per-prediction validation with a precise error message (file, video, field)."""
    vnames: list[str] = []
    lindex: dict[str, int] = {}
    vid: list[int] = []
    lab: list[int] = []
    seg: list[tuple[float, float]] = []
    score: list[float] = []
    for video, preds in results.items():
        if not isinstance(preds, list):
            raise EvaluationError("predictions of a video must be a list" + where(source, video, "results"))
        v = len(vnames)
        vnames.append(video)
        for j, p in enumerate(preds):
            fld = f"results[{j}]"
            if not isinstance(p, Mapping):
                raise EvaluationError("prediction must be an object" + where(source, video, fld))
            try:
                label, sg, sc = p["label"], p["segment"], p["score"]
            except KeyError as e:
                raise EvaluationError(f"prediction lacks key {e.args[0]!r}" + where(source, video, fld)) from None
            if not isinstance(label, str):
                raise EvaluationError(f"label must be a string, got {label!r}" + where(source, video, fld + ".label"))
            if isinstance(sc, bool) or not isinstance(sc, (int, float)) or not math.isfinite(sc):
                raise EvaluationError(f"score must be a finite number, got {sc!r}"
                                      + where(source, video, fld + ".score"))
            seg.append(parse_segment(sg, source, video, fld + ".segment"))
            vid.append(v)
            lab.append(lindex.setdefault(label, len(lindex)))
            score.append(float(sc))
    return (vnames, list(lindex), np.asarray(vid, dtype=np.int64), np.asarray(lab, dtype=np.int64),
            np.asarray(seg, dtype=np.float64).reshape(-1, 2), np.asarray(score, dtype=np.float64))


def load_predictions(path: str | os.PathLike, *, strict: bool = True) -> Predictions:
    """Read and validate an ActivityNet result JSON file; an empty result set is an error."""
    obj = read_json(path, "prediction")
    return predictions_from_results(obj, source=str(path), strict=strict, allow_empty=False)
