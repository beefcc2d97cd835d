"""Detection mAP with the official ActivityNet semantics, and the snippet-level accuracies.

Detection mAP (``docs/evaluation_protocol.md`` is the specification)
-------------------------------------------------------------------------------
For every ground-truth class ``c`` of the subset and every tIoU threshold ``θ``:

1. ``npos`` = number of GT instances of ``c`` (duplicates, zero-length and out-of-video included).
   A class without predictions has AP 0 (and still counts in the mean).
2. The predictions of ``c`` are ranked by decreasing score with a STABLE sort: exact score ties
   keep input order (JSON video order, then list order). The official code uses numpy's unstable
   ``argsort()[::-1]``, whose tie order depends on the platform; ours is deterministic and equals
   the official result whenever scores have no exact ties.
3. Greedy matching, per video and per threshold, walking the ranked predictions: a prediction
   takes the GT of ``c`` in its video with the highest tIoU that is still unmatched at ``θ`` and
   has ``tIoU >= θ`` (inclusive); otherwise it is a false positive. tIoU on seconds,
   ``inter = max(0, min(e_p, e_g) - max(s_p, s_g))``, ``union = len_g + len_p - inter``.
   GT with equal tIoU are tried in listing order (stable; the official order is unstable).
   Predictions on videos outside the subset, or on videos without GT of ``c``, are false positives.
4. NaN quirk, reproduced: a zero-length prediction against a zero-length GT of the same video and
   class has tIoU 0/0 = NaN; ``NaN < θ`` is false and NaN sorts first in the official reversed
   argsort, so such a GT is a valid match at EVERY θ and is tried before all others (NaN GT among
   themselves in listing order).
5. ``prec_i = TP_i / i``, ``rec_i = TP_i / npos``; AP is the all-points interpolated area under the
   monotone precision envelope (VOC 2010+): ``mprec = [0, prec, 0]``, ``mrec = [0, rec, 1]``,
   ``mprec_i = max_{j>=i} mprec_j``, ``AP = Σ_i (mrec_i - mrec_{i-1}) mprec_i``.
6. ``mAP(θ)`` = mean AP over the GT classes; ``average_mAP`` = mean of ``mAP`` over the thresholds.

Implementation (pure numpy): tIoU pairs (prediction × GT of the same class and video, restricted
by binary search to GT that can overlap the prediction) are computed at once; only pairs that
qualify at the smallest threshold are kept ("candidates"). The greedy matching is sequential only
inside a connected component of the prediction-GT candidate graph (predictions sharing no
candidate GT, even transitively, cannot affect each other), so step ``j`` processes the ``j``-th
prediction (in rank order) of EVERY component, at every threshold, with small padded arrays; the
number of Python iterations is the largest component (a few hundred on THUMOS-sized input).

Snippet-level metrics (Tables 3 and 4 of the paper)
---------------------------------------------------
See :func:`snippet_labels`, :func:`snippet_classification_accuracy` and :func:`fg_bg_accuracy`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from himnet_lib.config.profiles import TIOU_PROTOCOLS
from himnet_lib.evaluation.groundtruth import GroundTruth, load_ground_truth
from himnet_lib.evaluation.predictions import Predictions, load_predictions, predictions_from_results
from himnet_lib.utils.errors import EvaluationError

THUMOS_TIOU: tuple[float, ...] = TIOU_PROTOCOLS["thumos14"]
ACTIVITYNET_TIOU: tuple[float, ...] = TIOU_PROTOCOLS["activitynet"]

# Bound on tIoU pairs held at once (memory ~ 40 bytes per pair).
_PAIR_CHUNK = 2_000_000
# Bound on the padded (prediction x candidate) matrix built at once.
_PAD_LIMIT = 4_000_000


def default_tiou(num_classes: int) -> tuple[float, ...]:
    """For ``himnet evaluate`` without ``--protocol`` or ``--tiou`` only (a run evaluates under its
    profile's declared protocol): THUMOS14's 0.1:0.1:0.7, or ActivityNet's 0.5:0.05:0.95 when the GT
    has >= 100 classes."""
    return ACTIVITYNET_TIOU if num_classes >= 100 else THUMOS_TIOU


def _check_tiou(tiou: Sequence[float] | np.ndarray) -> np.ndarray:
    thr = np.asarray(tiou, dtype=np.float64).reshape(-1)
    if thr.size == 0:
        raise EvaluationError("no tIoU thresholds given")
    if not np.all(np.isfinite(thr)) or np.any(thr < 0) or np.any(thr > 1):
        raise EvaluationError(f"tIoU thresholds must lie in [0, 1], got {thr.tolist()}")
    return thr


# --- detection AP -----------------------------------------------------------------------------

def _class_and_video_of_predictions(gt: GroundTruth, pred: Predictions) -> tuple[np.ndarray, np.ndarray]:
    """(P,) GT class index and (P,) GT video index (-1: not in the subset) of every prediction."""
    cmap = {c: i for i, c in enumerate(gt.classes)}
    lab2cls = np.array([cmap.get(lab, -1) for lab in pred.labels], dtype=np.int64)
    unknown = np.flatnonzero(lab2cls < 0)
    if unknown.size:
        u = int(unknown[0])  # labels are in first-appearance order: this one occurs first
        raise EvaluationError(
            f"predicted label {pred.labels[u]!r} (video {pred.first_with_label(u)}) is not a ground-truth "
            f"class of subset {gt.subset!r} ({len(gt.classes)} classes); the official evaluator crashes here"
            f" [file {pred.source}, field label]")
    vmap = {v: i for i, v in enumerate(gt.videos)}
    v2gt = np.array([vmap.get(v, -1) for v in pred.videos], dtype=np.int64)
    pcls = lab2cls[pred.label_idx] if len(pred) else np.zeros(0, np.int64)
    pvid = v2gt[pred.video_idx] if len(pred) else np.zeros(0, np.int64)
    return pcls, pvid


def _candidates(gt: GroundTruth, pred: Predictions, pcls: np.ndarray, pvid: np.ndarray,
                thr_sorted: np.ndarray):
    """Prediction-GT pairs of the same class and video that qualify at the lowest threshold.

    Returns (pred_index, gt_index, tiou, n_thresholds_met) arrays; ``n_thresholds_met`` is the
    number of (sorted) thresholds θ with ``tiou >= θ`` (all of them for the NaN quirk).

    When the lowest threshold is > 0 a pair can only qualify if the segments overlap (or both are
    zero-length: NaN), so each prediction is paired only with the GT of its group whose start lies
    in a window ``(s_p - longest GT of the group, e_p)`` found by binary search (GT sorted by start
    inside each group; the window is widened by a tolerance, the exact test comes after).
    Zero-length predictions, and every prediction when the lowest threshold is 0, see their whole
    group.
    """
    nv = max(len(gt.videos), 1)
    gkey = gt.class_idx * nv + gt.video_idx
    gs_all, ge_all = gt.segments[:, 0], gt.segments[:, 1]
    gorder = np.lexsort((gs_all, gkey))  # by group, then start
    gkey_sorted = gkey[gorder]
    ok = pvid >= 0
    pidx = np.flatnonzero(ok)
    pkey = pcls[pidx] * nv + pvid[pidx]
    lo = np.searchsorted(gkey_sorted, pkey, side="left")
    hi = np.searchsorted(gkey_sorted, pkey, side="right")
    if thr_sorted[0] > 0 and gt.num_instances and pidx.size:
        # Composite key (group, start) as one float: group · span + start - origin.
        origin = min(float(gs_all.min()), float(pred.segments[pidx].min()))
        span = max(float(ge_all.max()), float(pred.segments[pidx].max())) - origin + 1.0
        tol = 1e-9 * (span * (nv * (gt.num_classes + 1)) + 1.0)
        comp = gkey_sorted * span + (gs_all[gorder] - origin)
        maxlen = np.zeros(int(gkey.max()) + 1)
        np.maximum.at(maxlen, gkey, ge_all - gs_all)
        ps, pe = pred.segments[pidx, 0] - origin, pred.segments[pidx, 1] - origin
        base = pkey * span
        wlo = np.searchsorted(comp, base + ps - maxlen[np.minimum(pkey, maxlen.size - 1)] - tol, side="left")
        whi = np.searchsorted(comp, base + pe + tol, side="right")
        point = pe == ps
        lo = np.where(point, lo, np.clip(wlo, lo, hi))
        hi = np.where(point, hi, np.clip(whi, lo, hi))
    cnt = np.maximum(hi - lo, 0)
    has = cnt > 0
    pidx, lo, cnt = pidx[has], lo[has], cnt[has]

    out_p, out_g, out_iou, out_k = [], [], [], []
    csum = np.cumsum(cnt)
    start = 0
    while start < pidx.size:
        # Chunk the predictions so that at most ~_PAIR_CHUNK pairs exist at once.
        base = csum[start - 1] if start else 0
        stop = max(int(np.searchsorted(csum, base + _PAIR_CHUNK, side="right")), start + 1)
        c = cnt[start:stop]
        total = int(c.sum())
        first = np.cumsum(c) - c
        rep = np.repeat(np.arange(start, stop), c)
        g = gorder[np.repeat(lo[start:stop], c) + (np.arange(total) - np.repeat(first, c))]
        p = pidx[rep]
        ps, pe = pred.segments[p, 0], pred.segments[p, 1]
        gs, ge = gs_all[g], ge_all[g]
        inter = np.clip(np.minimum(pe, ge) - np.maximum(ps, gs), 0.0, None)
        union = (ge - gs) + (pe - ps) - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = inter / union  # 0/0 = NaN for zero-length vs zero-length: the official quirk
        # searchsorted places NaN after every threshold: NaN meets all of them.
        k = np.searchsorted(thr_sorted, iou, side="right")
        keep = k > 0
        out_p.append(p[keep])
        out_g.append(g[keep])
        out_iou.append(iou[keep])
        out_k.append(k[keep])
        start = stop
    if not out_p:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0), z
    return (np.concatenate(out_p), np.concatenate(out_g), np.concatenate(out_iou), np.concatenate(out_k))


def _components(cg: np.ndarray, starts: np.ndarray, n: np.ndarray, G: int) -> np.ndarray:
    """Connected component (smallest GT index in it) of every candidate-bearing prediction.

    ``cg``: GT index of every candidate, grouped by prediction (prediction i owns
    ``cg[starts[i]:starts[i] + n[i]]``). Min-label propagation with pointer jumping, vectorised;
    the number of rounds is logarithmic-ish in the component diameter.
    """
    lab = np.arange(G + 1, dtype=np.int64)
    by_gt = np.argsort(cg, kind="stable")
    cg_sorted = cg[by_gt]
    g_starts = np.flatnonzero(np.r_[True, cg_sorted[1:] != cg_sorted[:-1]])
    g_ids = cg_sorted[g_starts]
    owner = np.repeat(np.arange(starts.size), n)[by_gt]    # prediction of each candidate, by GT
    while True:
        pl = np.minimum.reduceat(lab[cg], starts)           # prediction label = min of its GT
        new = lab.copy()
        new[g_ids] = np.minimum(lab[g_ids], np.minimum.reduceat(pl[owner], g_starts))
        new = new[new]                                      # pointer jumping
        if np.array_equal(new, lab):
            return pl
        lab = new


def _greedy_match(gt: GroundTruth, pred: Predictions, pcls: np.ndarray, pvid: np.ndarray,
                  rank: np.ndarray, thr_sorted: np.ndarray) -> np.ndarray:
    """(P, K) bool true-positive flags of every prediction at every (sorted) threshold."""
    P, K, G = len(pred), thr_sorted.size, gt.num_instances
    tp = np.zeros((P, K), dtype=bool)
    cp, cg, ciou, ck = _candidates(gt, pred, pcls, pvid, thr_sorted)
    if cp.size == 0:
        return tp
    # Candidate order: by prediction rank; within a prediction NaN first, then tIoU descending,
    # then GT listing order (stable tie rule).
    nan = np.isnan(ciou)
    order = np.lexsort((cg, -np.where(nan, 0.0, ciou), ~nan, rank[cp]))
    cp, cg, ck = cp[order], cg[order], ck[order]
    # Candidate-bearing predictions in rank order, with their candidate ranges [ptr, ptr + n).
    starts = np.flatnonzero(np.r_[True, cp[1:] != cp[:-1]])
    rel = cp[starts]
    n = np.diff(np.r_[starts, cp.size])
    # Predictions that share no candidate GT, even transitively, cannot influence each other:
    # the greedy is sequential only inside a connected component of the prediction-GT candidate
    # graph (always inside one class and video). Position j inside the component (rel is in rank
    # order) is the step at which a prediction is processed.
    gkey = _components(cg, starts, n, G)
    by_group = np.argsort(gkey, kind="stable")
    gk = gkey[by_group]
    group_start = np.flatnonzero(np.r_[True, gk[1:] != gk[:-1]])
    j = np.empty(rel.size, np.int64)
    j[by_group] = np.arange(rel.size) - np.repeat(group_start, np.diff(np.r_[group_start, rel.size]))
    # Steps: all predictions with the same j belong to different groups -> processed together.
    step_order = np.argsort(j, kind="stable")
    step_bounds = np.r_[0, np.cumsum(np.bincount(j))]
    s_ptr, s_n, s_rel = starts[step_order], n[step_order], step_order
    step_m = np.maximum.reduceat(s_n, step_bounds[:-1])

    def padded(ptr: np.ndarray, cnt: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        # Rows of candidates (GT index, thresholds met); padding is the dummy GT G (always locked).
        ar = np.arange(m)
        mask = ar[None, :] < cnt[:, None]
        pos = np.where(mask, ptr[:, None] + ar[None, :], 0)
        return np.where(mask, cg[pos], G), np.where(mask, ck[pos], 0)

    if s_n.size * int(n.max()) <= _PAD_LIMIT:
        pad_g, pad_k = padded(s_ptr, s_n, int(n.max()))
        rows = lambda a, b, m: (pad_g[a:b, :m], pad_k[a:b, :m])  # noqa: E731
    else:  # bounded memory when a few predictions have very many candidates (e.g. θ = 0)
        rows = lambda a, b, m: padded(s_ptr[a:b], s_n[a:b], m)  # noqa: E731

    locked = np.zeros((K, G + 1), dtype=bool)
    locked[:, G] = True
    tp_rel = np.zeros((rel.size, K), dtype=bool)
    karange = np.arange(K)[:, None, None]
    for s in range(step_bounds.size - 1):
        a, b, m = step_bounds[s], step_bounds[s + 1], step_m[s]
        g_s, k_s = rows(a, b, m)                               # (E, M) each
        valid = (karange < k_s[None]) & ~locked[:, g_s]        # (K, E, M)
        e = b - a
        flat = valid.reshape(K * e, m)
        first = flat.argmax(axis=1)                            # best still-free qualifying GT
        hit = np.flatnonzero(flat[np.arange(K * e), first])
        kk, ee = np.divmod(hit, e)
        locked[kk, g_s[ee, first[hit]]] = True
        tp_rel[a + ee, kk] = True
    tp[rel[s_rel]] = tp_rel
    return tp


def detection_ap(gt: GroundTruth, pred: Predictions, tiou: Sequence[float] | np.ndarray) -> np.ndarray:
    """Per-class AP, shape (len(gt.classes), len(tiou)), with the official ActivityNet semantics.

    Raises :class:`EvaluationError` for a predicted label that is not a GT class of the subset.
    """
    thr = _check_tiou(tiou)
    thr_order = np.argsort(thr, kind="stable")
    thr_sorted = thr[thr_order]
    C, K = gt.num_classes, thr.size
    ap = np.zeros((C, K), dtype=np.float64)
    if len(pred) == 0 or C == 0:
        return ap
    pcls, pvid = _class_and_video_of_predictions(gt, pred)
    rank = np.empty(len(pred), np.int64)
    rank[np.argsort(-pred.scores, kind="stable")] = np.arange(len(pred))
    tp = _greedy_match(gt, pred, pcls, pvid, rank, thr_sorted)

    npos = gt.instances_per_class()
    by_class = np.lexsort((rank, pcls))
    bounds = np.r_[0, np.cumsum(np.bincount(pcls, minlength=C))]
    for c in range(C):
        a, b = bounds[c], bounds[c + 1]
        if a == b:
            continue  # no predictions: AP 0
        tpc = tp[by_class[a:b]].astype(np.float64)             # (P_c, K) in rank order
        ctp = np.cumsum(tpc, axis=0)
        prec = ctp / np.arange(1, b - a + 1, dtype=np.float64)[:, None]
        rec = ctp / float(npos[c])
        mprec = np.concatenate([np.zeros((1, K)), prec, np.zeros((1, K))])
        mrec = np.concatenate([np.zeros((1, K)), rec, np.ones((1, K))])
        mprec = np.maximum.accumulate(mprec[::-1], axis=0)[::-1]
        # Points where recall does not change contribute (Δrec = 0) · mprec = 0.
        ap[c] = np.sum((mrec[1:] - mrec[:-1]) * mprec[1:], axis=0)
    out = np.empty_like(ap)
    out[:, thr_order] = ap
    return out


# --- results ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DetectionResult:
    """Per-class AP at every threshold (fractions, not percent).

    Attributes:
        tiou: (K,) thresholds in the order given.
        classes: GT classes of the subset (first-appearance order).
        ap: (len(classes), K) AP.
        subset, num_gt, num_predictions: what was evaluated.
    """

    tiou: np.ndarray
    classes: list[str]
    ap: np.ndarray
    subset: str
    num_gt: int
    num_predictions: int

    @property
    def mAP(self) -> np.ndarray:
        """(K,) mean AP over the GT classes."""
        return self.ap.mean(axis=0)

    @property
    def average_mAP(self) -> float:
        """Mean of ``mAP`` over all the thresholds (the official ``average_mAP``)."""
        return float(self.mAP.mean())

    def average_between(self, lo: float, hi: float, step: float = 0.1) -> float | None:
        """Mean mAP over the grid lo:step:hi if every grid value is among the thresholds, else None."""
        grid = np.round(np.arange(lo, hi + step / 2, step), 10)
        idx = []
        for v in grid:
            hit = np.flatnonzero(np.isclose(self.tiou, v, rtol=0, atol=1e-9))
            if hit.size == 0:
                return None
            idx.append(int(hit[0]))
        return float(self.mAP[idx].mean())

    def summaries(self) -> dict[str, float]:
        """The conventional summary averages that the thresholds allow (THUMOS 0.1:0.5 and 0.1:0.7)."""
        out = {}
        for lo, hi in ((0.1, 0.5), (0.1, 0.7)):
            v = self.average_between(lo, hi)
            if v is not None:
                out[f"average_mAP_{lo:g}_{hi:g}"] = v
        return out

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "tiou": [float(t) for t in self.tiou],
            "mAP": [float(m) for m in self.mAP],
            "average_mAP": self.average_mAP,
            "per_class_AP": {c: [float(x) for x in row] for c, row in zip(self.classes, self.ap)},
            "subset": self.subset,
            "num_gt": self.num_gt,
            "num_predictions": self.num_predictions,
        }
        obj.update(self.summaries())
        return obj


def detection_map(gt: GroundTruth, pred: Predictions,
                  tiou: Sequence[float] | np.ndarray | None = None) -> DetectionResult:
    """Detection mAP of ``pred`` against ``gt`` (default thresholds from :func:`default_tiou`)."""
    thr = _check_tiou(default_tiou(gt.num_classes) if tiou is None else tiou)
    ap = detection_ap(gt, pred, thr)
    return DetectionResult(tiou=thr, classes=list(gt.classes), ap=ap, subset=gt.subset,
                           num_gt=gt.num_instances, num_predictions=len(pred))


def evaluate_results(gt: GroundTruth, results: Mapping[str, Any],
                     tiou: Sequence[float] | None = None) -> DetectionResult:
    """mAP of an in-memory result object (e.g. from :func:`himnet_lib.evaluation.localization.localize_videos`).

    An empty result set is allowed here and scores 0.
    """
    return detection_map(gt, predictions_from_results(results, allow_empty=True), tiou)


def evaluate_files(gt: str | os.PathLike, pred: str | os.PathLike, subset: str | None = None,
                   tiou: Sequence[float] | None = None, snippet_seconds: float = 16 / 25) -> DetectionResult:
    """mAP of a result JSON file against GT (ActivityNet JSON, W-TALC bundle or per-video root).

    ``subset=None``: the dataset's test subset (JSON: see :func:`gt_from_anet_json`).
    ``snippet_seconds`` is only used to open a dataset root.
    """
    g = load_ground_truth(gt, subset, snippet_seconds=snippet_seconds)
    p = load_predictions(pred)
    return detection_map(g, p, tiou)


def format_result(result: DetectionResult) -> str:
    """Human-readable table of mAP (%) per threshold plus the conventional averages."""
    head = (f"detection mAP (%) on subset {result.subset!r}: {len(result.classes)} classes, "
            f"{result.num_gt} GT instances, {result.num_predictions} predictions")
    cols = [f"{t:.2f}" for t in result.tiou] + ["AVG"]
    vals = [f"{100 * m:.2f}" for m in result.mAP] + [f"{100 * result.average_mAP:.2f}"]
    for key, v in result.summaries().items():
        lo, hi = key.split("_")[2:]
        if len(result.tiou) == 7 and key.endswith("0.1_0.7") and np.isclose(v, result.average_mAP):
            continue  # same as AVG
        cols.append(f"AVG {lo}:{hi}")
        vals.append(f"{100 * v:.2f}")
    w = [max(len(c), len(v)) for c, v in zip(cols, vals)]
    line1 = "tIoU  " + "  ".join(c.rjust(n) for c, n in zip(cols, w))
    line2 = "mAP   " + "  ".join(v.rjust(n) for v, n in zip(vals, w))
    return "\n".join([head, line1, line2])


# --- snippet-level metrics (Tables 3 and 4) ---------------------------------------------------













