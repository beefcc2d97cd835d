"""Localization (Sec. 3.5): runs, OIC flanks, NMS / Soft-NMS, seconds, and a loop reference."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himnet_lib.config.localize import LocalizeConfig
from himnet_lib.evaluation.detection import evaluate_results
from himnet_lib.evaluation.groundtruth import gt_from_anet_json
from himnet_lib.evaluation.localization import (
    Proposals,
    localize_video,
    localize_video_nms_modes,
    localize_videos,
    oic_scores,
    select_classes,
    threshold_runs,
    video_class_scores,
    write_results,
)
from himnet_lib.evaluation.nms import hard_nms, interval_iou, soft_nms

# --- hand-computed building blocks ------------------------------------------------------------

def runs_set(att, thr):
    s, e, ti = threshold_runs(np.array(att), thr)
    return sorted(zip(ti.tolist(), s.tolist(), e.tolist()))


def test_threshold_runs_strict_and_edges():
    att = [0.05, 0.5, 0.6, 0.2, 0.95, 0.95, 0.1]
    # θ=0.1: a > 0.1 at 1..5 -> one run [1..5];  θ=0.5: 0.5 is NOT > 0.5 -> runs [2..2], [4..5].
    assert runs_set(att, [0.1, 0.5]) == [(0, 1, 5), (1, 2, 2), (1, 4, 5)]
    # runs touching both video edges; a threshold above everything gives none
    assert runs_set([0.9, 0.9, 0.1, 0.9], [0.5, 0.95]) == [(0, 0, 1), (0, 3, 3)]
    assert runs_set([0.2, 0.3], [0.5]) == []


W = np.array([2, 4, 1, 3, 5, 7, 6, 2, 0, 3], dtype=float)[:, None]  # one column, T = 10


@pytest.mark.parametrize("s,e,expected", [
    # n=4, λn=1: left [trunc(2-1)=1, 2) = {1}: 4; right (5, trunc(5+1)=6] = {6}: 6.
    # inner (1+3+5+7)/4 = 4, outer (4+6)/2 = 5 -> -1
    (2, 5, -1.0),
    # n=3 at the start: left [max(0, trunc(-0.75)=0), 0) empty; right (2, trunc(2.75)=2] empty
    # -> outer 0, OIC = inner = (2+4+1)/3
    (0, 2, 7 / 3),
    # n=2 at the end: left [trunc(7.5)=7, 8) = {7}: 2; right (9, min(9, 9)] empty -> 1.5 - 2
    (8, 9, -0.5),
    # n=1: left [trunc(0.75)=0, 1) = {0}: 2 (ceil(λn) = 1); right (1, trunc(1.25)=1] empty (floor = 0)
    (1, 1, 4 - 2),
    # n=8, λn=2: left clipped at the video start: [max(0, -1), 1) = {0}: 2; right (8, min(9, 10)] = {9}: 3
    # inner (4+1+3+5+7+6+2+0)/8 = 3.5, outer 2.5 -> 1
    (1, 8, 1.0),
])
def test_oic_flanks_hand_computed(s, e, expected):
    got = oic_scores(W, np.array([s]), np.array([e]), 0.25)
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(expected, abs=1e-12)


def test_video_class_scores_and_selection():
    # T=4, r=2 -> k=2. col0 [1,3,2,0] top-2 mean 2.5; col1 [0,0,1,1] -> 1; background 0.
    # softmax([2.5, 1, 0]) = [12.18249, 2.71828, 1] / 15.90077 -> [0.766157, 0.170953] (background dropped)
    w = np.array([[1, 0, 0], [3, 0, 0], [2, 1, 0], [0, 1, 0]], dtype=float)
    p = video_class_scores(w, ratio=2)
    np.testing.assert_allclose(p, [0.766157, 0.170953], atol=1e-6)
    assert select_classes(p, 0.2).tolist() == [0]
    assert select_classes(p, 0.1).tolist() == [0, 1]
    assert select_classes(p, 0.9).tolist() == [0]  # none >= 0.9: the argmax


def test_interval_iou_continuous_no_plus_one():
    iou = interval_iou(np.array([0, 1, 20, 5]), np.array([10, 11, 25, 5]))
    assert iou[0, 1] == pytest.approx(9 / 11)   # inclusive "+1" would give 10/12
    assert iou[0, 2] == 0 and iou[3, 3] == 0      # zero-length: union 0 -> 0


def test_hard_nms_hand_computed():
    # candidates [0,10) .9, [1,11) .95, [20,25) .5; IoU([0,10),[1,11)) = 9/11 = .818 > .6
    iou = interval_iou(np.array([0, 1, 20]), np.array([10, 11, 25]))
    keep, ks = hard_nms(np.array([[0.9, 0.95, 0.5]]), iou, 0.6)
    assert keep[0, :2].tolist() == [1, 2] and keep[0, 2] == -1
    np.testing.assert_allclose(ks[0, :2], [0.95, 0.5])
    # with threshold .9 the overlap .818 is not suppressed
    keep, _ = hard_nms(np.array([[0.9, 0.95, 0.5]]), iou, 0.9)
    assert keep[0].tolist() == [1, 0, 2]


def test_soft_nms_hand_computed():
    # pick [1,11) .95; [0,10) decays by exp(-(9/11)²/.3) = exp(-2.231405) = .107378 -> .096640;
    # [20,25) IoU 0 stays .5 and is picked next; then .096640.
    iou = interval_iou(np.array([0, 1, 20]), np.array([10, 11, 25]))
    keep, ks = soft_nms(np.array([[0.9, 0.95, 0.5]]), iou, 0.3)
    assert keep[0].tolist() == [1, 2, 0]
    np.testing.assert_allclose(ks[0], [0.95, 0.5, 0.9 * math.exp(-(81 / 121) / 0.3)], rtol=1e-12)
    assert ks[0, 2] == pytest.approx(0.096640, abs=1e-6)


def test_nms_ties_go_to_earlier_candidate_and_classes_independent():
    iou = interval_iou(np.array([0, 0]), np.array([4, 4]))
    keep, ks = soft_nms(np.array([[1.0, 1.0], [0.2, 0.7]]), iou, 0.3)
    assert keep[0].tolist() == [0, 1]      # tie -> lower index
    assert keep[1].tolist() == [1, 0]      # another class, own order
    np.testing.assert_allclose(ks[0], [1.0, math.exp(-1 / 0.3)])


# --- one video --------------------------------------------------------------------------------

def _toy():
    # T = 10 snippets, C = 2 classes (+ background). Attention high on 2..5 and 7..8.
    att = np.array([0.0, 0.05, 0.8, 0.95, 0.95, 0.6, 0.05, 0.7, 0.7, 0.0])
    cas = np.zeros((10, 3))
    cas[2:6, 0] = 5.0
    cas[7:9, 1] = 4.0
    return att, cas


def test_localize_video_seconds_and_scores():
    att, cas = _toy()
    cfg = LocalizeConfig(thresholds=(0.5,), nms="nms", class_threshold=0.2)
    prop = localize_video(att, cas, cfg, snippet_seconds=0.5)
    # k = max(1, 10 // 10) = 1: top-1 logits [5, 4, 0] -> p = [.7275, .2676] -> both classes kept.
    p = np.exp([5, 4, 0]) / np.exp([5, 4, 0]).sum()
    # runs at θ=.5: [2..5] and [7..8]. class 0 on [2..5]: inner 5, flanks {1} and {6}: 0 -> 5 + .2 p0.
    # class 0 on [7..8]: inner 0, left {6}: 0, right {9}... n=2 -> floor(.5) = 0: right empty -> 0 + .2 p0.
    got = {(int(c), s, e): sc for c, s, e, sc in zip(prop.class_idx, prop.start, prop.end, prop.score)}
    assert got[(0, 1.0, 3.0)] == pytest.approx(5 + 0.2 * p[0])
    assert got[(0, 3.5, 4.5)] == pytest.approx(0.2 * p[0])
    assert got[(1, 3.5, 4.5)] == pytest.approx(4 + 0.2 * p[1])
    assert np.all(np.diff(prop.score) <= 0)  # sorted by descending score


def test_localize_video_duration_ambiguous_and_cap():
    att, cas = _toy()
    base = LocalizeConfig(thresholds=(0.5,), nms="nms")
    # duration 4.0 s: [3.5, 4.5) clipped to [3.5, 4.0); duration 3.0: [3.5, ...) starts after the end -> dropped
    prop = localize_video(att, cas, base, 0.5, duration=4.0)
    assert prop.end.max() == 4.0
    prop = localize_video(att, cas, base, 0.5, duration=3.0)
    assert prop.start.max() < 3.0 and len(prop) == 2
    # ambiguous [3.9, 10] overlaps [3.5, 4.5) (any positive overlap); [3.0, 3.5] only touches [1, 3)
    cfg = LocalizeConfig(thresholds=(0.5,), nms="nms", remove_ambiguous=True)
    prop = localize_video(att, cas, cfg, 0.5, ambiguous=np.array([[3.9, 10.0], [3.0, 3.5]]))
    assert prop.start.tolist() == [1.0, 1.0]  # only the [1, 3) proposals of both classes remain
    # ambiguous ignored unless enabled
    assert len(localize_video(att, cas, base, 0.5, ambiguous=np.array([[0.0, 10.0]]))) == 4
    cfg = LocalizeConfig(thresholds=(0.5,), nms="nms", max_proposals_per_video=2)
    prop = localize_video(att, cas, cfg, 0.5)
    assert len(prop) == 2 and prop.score[0] == pytest.approx(5 + 0.2 * np.exp(5) / np.exp([5, 4, 0]).sum())


def test_localize_video_no_runs_and_bad_input():
    cfg = LocalizeConfig()
    assert len(localize_video(np.zeros(5), np.zeros((5, 3)), cfg, 0.64)) == 0
    assert len(localize_video(np.zeros(0), np.zeros((0, 3)), cfg, 0.64)) == 0
    from himnet_lib.utils.errors import EvaluationError
    with pytest.raises(EvaluationError):
        localize_video(np.zeros(5), np.zeros((4, 3)), cfg, 0.64)
    with pytest.raises(EvaluationError):
        localize_video(np.full(5, np.nan), np.zeros((5, 3)), cfg, 0.64)
    with pytest.raises(ValueError):
        LocalizeConfig(nms="greedy")


# --- loop reference ---------------------------------------------------------------------------

def ref_localize(att, cas, cfg, dt):
    """Plain loops from the Sec. 3.5 / peer description (no function under test is called)."""
    T, C1 = cas.shape
    k = max(1, T // int(cfg.class_topk_ratio))
    logits = [sum(sorted(cas[:, c], reverse=True)[:k]) / k for c in range(C1)]
    m = max(logits)
    ex = [math.exp(x - m) for x in logits]
    p = [x / sum(ex) for x in ex][:-1]
    classes = [c for c in range(C1 - 1) if p[c] >= cfg.class_threshold] or [max(range(C1 - 1), key=lambda c: p[c])]
    runs = []  # (s, e, thr_idx)
    for ti, th in enumerate(cfg.thresholds):
        t = 0
        while t < T:
            if att[t] > th:
                s = t
                while t + 1 < T and att[t + 1] > th:
                    t += 1
                runs.append((s, t, ti))
            t += 1
    runs.sort(key=lambda r: (r[0], r[1], r[2]))
    out = []
    for c in classes:
        cand = []
        for s, e, _ in runs:
            n = e - s + 1
            inner = sum(cas[s:e + 1, c]) / n
            lo = max(0, int(s - cfg.oic_flank * n))
            hi = min(T - 1, int(e + cfg.oic_flank * n))
            outer_idx = list(range(lo, s)) + list(range(e + 1, hi + 1))
            outer = sum(cas[i, c] for i in outer_idx) / len(outer_idx) if outer_idx else 0.0
            cand.append([s, e + 1, inner - outer + cfg.gamma * p[c]])
        alive = list(range(len(cand)))
        while alive:
            best = max(alive, key=lambda i: (cand[i][2], -i))
            alive.remove(best)
            bs, be, bsc = cand[best]
            out.append((c, bs * dt, be * dt, bsc))
            for i in list(alive):
                s, e, _ = cand[i]
                inter = max(0, min(e, be) - max(s, bs))
                iou = inter / ((e - s) + (be - bs) - inter)
                if cfg.nms == "soft":
                    cand[i][2] *= math.exp(-iou * iou / cfg.soft_sigma)
                elif iou > cfg.nms_iou:
                    alive.remove(i)
    out.sort(key=lambda x: -x[3])
    return out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), T=st.integers(1, 60), C=st.integers(1, 4),
       nms=st.sampled_from(["soft", "nms"]), n_thr=st.integers(1, 6))
def test_localize_video_matches_loop_reference(seed, T, C, nms, n_thr):
    rng = np.random.default_rng(seed)
    att = np.clip(np.convolve(rng.random(T + 4), np.ones(5) / 5, mode="valid"), 0, 1)
    cas = rng.normal(0, 2, (T, C + 1)) * att[:, None]
    cfg = LocalizeConfig(thresholds=tuple(np.linspace(0.3, 0.7, n_thr).tolist()), nms=nms, class_threshold=0.1)
    prop = localize_video(att, cas, cfg, 0.64)
    ref = ref_localize(att, cas, cfg, 0.64)
    assert len(prop) == len(ref)
    got = sorted(zip(prop.class_idx.tolist(), prop.start.tolist(), prop.end.tolist(), prop.score.tolist()))
    want = sorted(ref)
    for g, w in zip(got, want):
        assert g[:3] == pytest.approx(w[:3]) and g[3] == pytest.approx(w[3], rel=1e-9, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), T=st.integers(1, 60), C=st.integers(1, 4))
def test_both_nms_modes_from_one_candidate_set_match_the_loop_reference(seed, T, C):
    """The evaluation scores Soft-NMS and NMS from one shared candidate set: each must still be
    what the plain loops give for that mode alone."""
    rng = np.random.default_rng(seed)
    att = np.clip(np.convolve(rng.random(T + 4), np.ones(5) / 5, mode="valid"), 0, 1)
    cas = rng.normal(0, 2, (T, C + 1)) * att[:, None]
    base = LocalizeConfig(thresholds=(0.3, 0.45, 0.6), class_threshold=0.1)
    both = localize_video_nms_modes(att, cas, base, 0.64, ("nms", "soft"))
    for mode in ("soft", "nms"):
        prop = both[mode]
        want = sorted(ref_localize(att, cas, dataclasses.replace(base, nms=mode), 0.64))
        got = sorted(zip(prop.class_idx.tolist(), prop.start.tolist(), prop.end.tolist(), prop.score.tolist()))
        assert len(got) == len(want), mode
        for g, w in zip(got, want):
            assert g[:3] == pytest.approx(w[:3]) and g[3] == pytest.approx(w[3], rel=1e-9, abs=1e-9)


def test_interval_iou_of_positive_lengths_hand_computed():
    # the in-place path (every length > 0): [0,4) vs [2,6): 2 / 6; [0,4) vs [4,5): touching -> 0
    iou = interval_iou(np.array([0.0, 2.0, 4.0]), np.array([4.0, 6.0, 5.0]))
    assert iou[0, 1] == pytest.approx(2 / 6) and iou[0, 2] == 0 and iou[1, 2] == pytest.approx(1 / 4)
    assert np.allclose(np.diag(iou), 1.0) and np.allclose(iou, iou.T)


# --- many videos, JSON, round trip through the metric -----------------------------------------

def test_localize_videos_json_roundtrip_and_perfect_map(tmp_path):
    dt = 0.5
    att, cas = _toy()
    outputs = {"vid_a": (att, cas), "vid_b": (np.zeros(6), np.zeros((6, 3)))}
    obj = localize_videos(outputs, ["Jump", "Run"], LocalizeConfig(thresholds=(0.5,)), dt,
                          durations={"vid_a": 5.0})
    assert set(obj) == {"version", "results", "external_data"}
    assert obj["results"]["vid_b"] == []
    top = obj["results"]["vid_a"][0]
    assert top["label"] == "Jump" and top["segment"] == [1.0, 3.0]
    path = tmp_path / "res" / "pred.json"
    write_results(path, obj)
    assert json.loads(path.read_text()) == json.loads(json.dumps(obj))
    # GT equal to the two true actions: the best-scoring proposal of each class is exact -> AP 1
    db = {"vid_a": {"subset": "test", "annotations": [{"label": "Jump", "segment": [1.0, 3.0]},
                                                      {"label": "Run", "segment": [3.5, 4.5]}]}}
    r = evaluate_results(gt_from_anet_json({"database": db}, "test"), obj, [0.5, 0.9])
    np.testing.assert_allclose(r.mAP, [1.0, 1.0])


def test_localize_videos_checks_class_count():
    from himnet_lib.utils.errors import EvaluationError
    with pytest.raises(EvaluationError, match="vid"):
        localize_videos({"vid": (np.zeros(4), np.zeros((4, 3)))}, ["a", "b", "c"], LocalizeConfig(), 0.64)


def test_proposals_empty():
    assert len(Proposals.empty()) == 0


def test_nms_rows_with_missing_candidates():
    # NaN = not a candidate for that class: it is never kept, padding is -1 / NaN.
    iou = interval_iou(np.array([0, 10]), np.array([4, 14]))
    for fn in (lambda s: soft_nms(s, iou, 0.3), lambda s: hard_nms(s, iou, 0.5)):
        keep, ks = fn(np.array([[0.3, np.nan], [0.1, 0.2]]))
        assert keep[0].tolist() == [0, -1] and np.isnan(ks[0, 1])
        assert keep[1].tolist() == [1, 0]
