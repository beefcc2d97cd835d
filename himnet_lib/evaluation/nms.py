"""Per-class NMS and Gaussian Soft-NMS over temporal proposals, dense for small groups and sparse
(memory linear in the number of overlapping pairs) for long videos."""

from __future__ import annotations

import heapq

import numpy as np


def interval_iou(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """(R, R) IoU of half-open intervals ``[start, end)`` (continuous, no "+1"; 0 when union is 0)."""
    s, e = np.asarray(start, np.float64), np.asarray(end, np.float64)
    inter = np.minimum(e[:, None], e[None, :])
    inter -= np.maximum(s[:, None], s[None, :])
    np.maximum(inter, 0.0, out=inter)
    length = e - s
    union = length[:, None] + length[None, :]
    union -= inter
    if length.size and length.min() > 0:  # every union > 0 (the proposals' case): divide in place
        return np.divide(inter, union, out=inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def hard_nms(scores: np.ndarray, iou: np.ndarray, iou_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Hard NMS for K classes at once over R shared candidates.

    Args: scores (K, R) (NaN/-inf = not a candidate); iou (R, R).
    Returns: (keep_idx, keep_score), each (K, R) with -1 / NaN padding after the kept ones, in
    selection order (best first; ties -> lowest candidate index).

    Classes are independent, so each row is suppressed on its own with 1-D operations (a video
    selects one to three classes; per-row scalar indexing costs less than (K, R) fancy indexing
    per step). A suppressed or absent candidate is -inf in the working copy.
    """
    K, R = scores.shape
    keep = np.full((K, R), -1, np.int64)
    kscore = np.full((K, R), np.nan)
    over = iou > iou_threshold                                 # (R, R) suppression pattern
    for k in range(K):
        cur = np.where(np.isfinite(scores[k]), scores[k], -np.inf)
        for it in range(R):
            best = int(cur.argmax())                           # first max: lowest index on ties
            value = cur[best]
            if value == -np.inf:
                break
            keep[k, it] = best
            kscore[k, it] = value
            cur[over[best]] = -np.inf
            cur[best] = -np.inf
    return keep, kscore


def soft_nms(scores: np.ndarray, iou: np.ndarray, sigma: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian Soft-NMS for K classes at once over R shared candidates.

    Repeatedly takes the candidate with the highest current score (ties -> lowest index), keeps it
    with that score, and multiplies every remaining score by ``exp(-IoU² / sigma)``.
    Args/returns as :func:`hard_nms` (everything is kept, in selection order). Each class row is
    decayed on its own (1-D operations), as in :func:`hard_nms`.
    """
    K, R = scores.shape
    decay = np.exp(-(iou ** 2) / sigma)                        # (R, R)
    keep = np.full((K, R), -1, np.int64)
    kscore = np.full((K, R), np.nan)
    for k in range(K):
        alive = np.isfinite(scores[k])
        cur = np.where(alive, scores[k], -np.inf).astype(np.float64)
        for it in range(int(alive.sum())):
            best = int(cur.argmax())
            keep[k, it] = best
            kscore[k, it] = cur[best]
            # Like the peers, a NEGATIVE score moves up towards 0 when decayed (OIC scores are unbounded).
            cur *= decay[best]                                 # -inf stays -inf (decay > 0)
            cur[best] = -np.inf
    return keep, kscore


# Above this many candidates of one video, NMS works on the overlapping pairs only (memory linear
# in the candidates) instead of the (R, R) IoU matrix; both give the same selections bit for bit.
DENSE_MAX_CANDIDATES = 2048


def overlap_pairs(start: np.ndarray, end: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The overlapping pairs of half-open intervals ``[start, end)`` sorted by start, as CSR rows.

    ``group`` (R,) splits the intervals into sets of pairwise disjoint ones (the runs of one
    threshold), so that each set's overlaps with an interval are one contiguous range found by
    binary search. Returns ``(ptr (R+1,), nbr (P,), iou (P,))``: row ``b`` lists every ``j`` (``b``
    itself included) whose interval overlaps ``b``'s, ascending, with the IoU computed as
    :func:`interval_iou` does.
    """
    s, e = np.asarray(start, np.float64), np.asarray(end, np.float64)
    R = s.size
    rows, cols = [], []
    for g in np.unique(group):
        members = np.flatnonzero(group == g)                    # ascending start, disjoint, so ends ascend too
        lo = np.searchsorted(e[members], s, side="right")       # first member ending after b starts
        hi = np.searchsorted(s[members], e, side="left")        # first member starting at or after b ends
        cnt = np.maximum(hi - lo, 0)
        b = np.repeat(np.arange(R), cnt)
        first = np.repeat(lo - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt)
        rows.append(b)
        cols.append(members[first + np.arange(b.size)])
    b = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    j = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    order = np.lexsort((j, b))
    b, j = b[order], j[order]
    ptr = np.concatenate([[0], np.cumsum(np.bincount(b, minlength=R))]).astype(np.int64)
    # the same operations, in the same order, as interval_iou on one entry of its matrix
    inter = np.minimum(e[b], e[j])
    inter -= np.maximum(s[b], s[j])
    np.maximum(inter, 0.0, out=inter)
    length = e - s
    union = length[b] + length[j]
    union -= inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return ptr, j, iou


def hard_nms_sparse(scores: np.ndarray, pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
                    iou_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`hard_nms` from :func:`overlap_pairs` instead of an (R, R) matrix (same output).

    Scores do not change in hard NMS, so the selection order is the order of descending score
    (ties -> lowest index); a candidate is kept unless a kept one suppressed it.
    """
    ptr, nbr, iou = pairs
    K, R = scores.shape
    keep = np.full((K, R), -1, np.int64)
    kscore = np.full((K, R), np.nan)
    over = iou > iou_threshold
    for k in range(K):
        row = scores[k]
        cand = np.flatnonzero(np.isfinite(row))
        cand = cand[np.lexsort((cand, -row[cand]))]
        gone = np.zeros(R, bool)
        n = 0
        for b in cand.tolist():
            if gone[b]:
                continue
            keep[k, n] = b
            kscore[k, n] = row[b]
            n += 1
            lo, hi = ptr[b], ptr[b + 1]
            gone[nbr[lo:hi][over[lo:hi]]] = True
            gone[b] = True
    return keep, kscore


def soft_nms_sparse(scores: np.ndarray, pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
                    sigma: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """:func:`soft_nms` from :func:`overlap_pairs` instead of an (R, R) matrix (same output).

    A candidate's score changes only when an overlapping one is taken (elsewhere the decay is
    exactly 1), so a heap keyed by (-score, index) with stale entries skipped gives the same
    argmax sequence, ties to the lowest index, in O(P log R) instead of O(R²).
    """
    ptr, nbr, iou = pairs
    decay = np.exp(-(iou ** 2) / sigma)
    K, R = scores.shape
    keep = np.full((K, R), -1, np.int64)
    kscore = np.full((K, R), np.nan)
    for k in range(K):
        alive = np.isfinite(scores[k])
        cur = np.where(alive, scores[k], -np.inf).astype(np.float64)
        heap = [(-v, i) for i, v in zip(np.flatnonzero(alive).tolist(), cur[alive].tolist())]
        heapq.heapify(heap)
        n = 0
        while heap:
            neg, b = heapq.heappop(heap)
            if not alive[b] or cur[b] != -neg:                  # taken, or a stale score
                continue
            keep[k, n] = b
            kscore[k, n] = cur[b]
            n += 1
            alive[b] = False
            cur[b] = -np.inf
            lo, hi = ptr[b], ptr[b + 1]
            idx = nbr[lo:hi]
            live = alive[idx]
            idx = idx[live]
            if idx.size:
                new = cur[idx] * decay[lo:hi][live]
                cur[idx] = new
                for i, v in zip(idx.tolist(), new.tolist()):
                    heapq.heappush(heap, (-v, i))
    return keep, kscore
