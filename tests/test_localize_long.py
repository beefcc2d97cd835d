"""Localization of long videos: NMS over the overlapping pairs (no (R, R) IoU matrix) gives the
same proposals, bit for bit, as the dense path; a 100k-snippet video stays within a memory bound."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himnet_lib.config.localize import LocalizeConfig
from himnet_lib.evaluation import localization as loc
from himnet_lib.evaluation.localization import localize_video_nms_modes, threshold_runs
from himnet_lib.evaluation.nms import hard_nms, hard_nms_sparse, interval_iou, overlap_pairs, soft_nms, soft_nms_sparse

BENCH = Path(__file__).resolve().parents[1] / "timing"


def _video(seed: int, T: int, C: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    att = np.clip(np.convolve(rng.random(T + 4), np.ones(5) / 5, mode="valid"), 0, 1)
    return att, rng.normal(0, 2, (T, C + 1)) * att[:, None]


def test_overlap_pairs_hand_computed():
    # [0,4) [2,6) at threshold 0; [5,7) at threshold 1; [10,12) at threshold 0
    s, e, g = np.array([0.0, 2.0, 5.0, 10.0]), np.array([4.0, 6.0, 7.0, 12.0]), np.array([0, 1, 1, 0])
    ptr, nbr, iou = overlap_pairs(s, e, g)
    rows = [nbr[ptr[b]:ptr[b + 1]].tolist() for b in range(4)]
    assert rows == [[0, 1], [0, 1, 2], [1, 2], [3]]
    assert iou[ptr[1]:ptr[2]].tolist() == pytest.approx([2 / 6, 1.0, 1 / 5])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), T=st.integers(1, 300), C=st.integers(1, 4), n_thr=st.integers(1, 8))
def test_sparse_nms_equals_dense_bit_for_bit(seed, T, C, n_thr):
    att, cas = _video(seed, T, C)
    thr = tuple(np.linspace(0.2, 0.8, n_thr).tolist())
    s, e, ti = threshold_runs(att, thr)
    if s.size == 0:
        return
    order = np.lexsort((ti, e, s))
    s, e, ti = s[order], e[order], ti[order]
    scores = np.random.default_rng(seed).normal(0, 1, (C, s.size))
    scores[0, :: 3] = np.round(scores[0, :: 3], 1)   # ties
    iou = interval_iou(s, e + 1)
    pairs = overlap_pairs(s, e + 1, ti)
    for dense, sparse in ((hard_nms(scores, iou, 0.6), hard_nms_sparse(scores, pairs, 0.6)),
                          (soft_nms(scores, iou, 0.3), soft_nms_sparse(scores, pairs, 0.3))):
        np.testing.assert_array_equal(dense[0], sparse[0])
        np.testing.assert_array_equal(dense[1], sparse[1])


@pytest.mark.parametrize("seed", range(4))
def test_localize_video_sparse_path_equals_dense_path(seed, monkeypatch):
    att, cas = _video(seed, 600, 3)
    cfg = LocalizeConfig(class_threshold=0.1, attention_norm="minmax")
    dense = localize_video_nms_modes(att, cas, cfg, 0.64, ("soft", "nms"), duration=380.0)
    monkeypatch.setattr(loc, "DENSE_MAX_CANDIDATES", 0)
    sparse = localize_video_nms_modes(att, cas, cfg, 0.64, ("soft", "nms"), duration=380.0)
    for mode in ("soft", "nms"):
        for f in ("class_idx", "start", "end", "score"):
            np.testing.assert_array_equal(getattr(dense[mode], f), getattr(sparse[mode], f))


def test_100k_snippet_video_localizes_under_1gb_and_60s():
    """Bound: peak RSS increase < 1 GB and < 60 s for both NMS modes."""
    proc = subprocess.run([sys.executable, str(BENCH / "bench_localize.py"), "--long", "100000"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "error" not in got, got
    assert got["peak_rss_increase_mb"] < 1024, got
    assert got["seconds"] < 60, got
    assert got["proposals"]["soft"] > 0 and got["proposals"]["nms"] > 0
