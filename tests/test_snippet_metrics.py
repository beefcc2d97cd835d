"""Snippet-level metrics of Tables 3 and 4: membership, classification accuracy, fg/bg accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from himnet_lib.evaluation.snippet_metrics import fg_bg_accuracy, snippet_classification_accuracy, snippet_labels
from himnet_lib.utils.errors import EvaluationError


def test_snippet_labels_centre_rule_hand_computed():
    # Δ = 1 s, T = 6: centres .5 1.5 2.5 3.5 4.5 5.5.
    # class 0 [0.6, 2.5): only 1.5 (0.5 < 0.6; 2.5 is the excluded end)
    # class 1 [2.0, 4.0): 2.5, 3.5;  class 1 [5.2, 5.4): no centre inside (shorter than Δ)
    m = snippet_labels(np.array([[0.6, 2.5], [2.0, 4.0], [5.2, 5.4]]), np.array([0, 1, 1]), 6, 1.0, 2)
    assert m.shape == (6, 3) and m.dtype == bool
    assert m[:, 0].tolist() == [False, True, False, False, False, False]
    assert m[:, 1].tolist() == [False, False, True, True, False, False]
    assert m[:, 2].tolist() == [True, False, False, False, True, True]  # background = nothing covers


def test_snippet_labels_overlapping_classes_and_empty():
    # CliffDiving-style double label: both classes cover the same snippets, background does not
    m = snippet_labels(np.array([[0.0, 1.28], [0.0, 1.28]]), np.array([2, 0]), 3, 0.64, 3)
    assert m[:2].tolist() == [[True, False, True, False]] * 2 and m[2].tolist() == [False, False, False, True]
    m = snippet_labels(np.zeros((0, 2)), np.zeros(0, int), 4, 0.64, 5)
    assert m[:, -1].all() and not m[:, :-1].any()
    with pytest.raises(EvaluationError):
        snippet_labels(np.array([[0, 1]]), np.array([5]), 4, 0.64, 5)


def test_classification_accuracy_pooled_hand_computed():
    # video 1 (T=3): memberships [A], [A, B], [bg]; argmax A, B, A -> correct, correct, wrong
    m1 = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=bool)
    s1 = np.array([[5, 0, 1], [0, 2, 1], [3, 0, 1]], dtype=float)
    # video 2 (T=1): background snippet predicted background (last column) -> correct
    m2 = np.array([[0, 0, 1]], dtype=bool)
    s2 = np.array([[0, 0, 1]], dtype=float)
    # pooled over snippets: 3 / 4 (not the mean of per-video 2/3 and 1)
    assert snippet_classification_accuracy([s1, s2], [m1, m2]) == pytest.approx(0.75)
    # argmax ties go to the lowest index: [1, 1, 1] on a background snippet -> class 0, wrong
    assert snippet_classification_accuracy([np.ones((1, 3))], [m2]) == 0.0


def test_fg_bg_accuracy_hand_computed():
    m = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=bool)   # C=1: fg, fg, bg, bg
    a = np.array([0.9, 0.5, 0.2, 0.7])                            # > .5: T, F, F, T
    # agreement: fg&T yes, fg&F no (0.5 is not > 0.5), bg&F yes, bg&T no -> 2/4
    assert fg_bg_accuracy([a], [m]) == pytest.approx(0.5)
    assert fg_bg_accuracy([a], [m], threshold=0.1) == pytest.approx(0.5)   # T T T T -> 2/4
    assert fg_bg_accuracy([a, np.array([0.0])], [m, np.array([[0, 1]], bool)]) == pytest.approx(3 / 5)


def test_snippet_metric_errors():
    m = np.zeros((3, 2), bool)
    with pytest.raises(EvaluationError):
        snippet_classification_accuracy([np.zeros((2, 2))], [m])
    with pytest.raises(EvaluationError):
        snippet_classification_accuracy([np.zeros((3, 2))], [m, m])
    with pytest.raises(EvaluationError):
        fg_bg_accuracy([np.zeros(2)], [m])
    with pytest.raises(EvaluationError):
        fg_bg_accuracy([], [])


def test_random_against_loop_reference():
    rng = np.random.default_rng(0)
    C, dt = 4, 0.64
    cas, att, mem, ref_cls, ref_fg, total = [], [], [], 0, 0, 0
    for _ in range(5):
        T = int(rng.integers(1, 40))
        segs = np.sort(rng.uniform(0, T * dt, (3, 2)), axis=1)
        cls = rng.integers(0, C, 3)
        m = snippet_labels(segs, cls, T, dt, C)
        s = rng.normal(size=(T, C + 1))
        a = rng.random(T)
        for t in range(T):
            centre = (t + 0.5) * dt
            cover = {int(c) for (b, e), c in zip(segs, cls) if b <= centre < e}
            want = cover if cover else {C}
            assert {int(i) for i in np.flatnonzero(m[t])} == want
            ref_cls += int(np.argmax(s[t])) in want
            ref_fg += (a[t] > 0.5) == bool(cover)
        total += T
        cas.append(s)
        att.append(a)
        mem.append(m)
    assert snippet_classification_accuracy(cas, mem) == pytest.approx(ref_cls / total)
    assert fg_bg_accuracy(att, mem) == pytest.approx(ref_fg / total)


def test_accuracy_breakdown_hand_computed():
    from himnet_lib.evaluation.snippet_metrics import snippet_accuracy_breakdown
    # C = 2 (+ background, column 2). Video 0: snippets fg(class 0), fg(class 0), bg, bg;
    # video 1: fg(classes 0 and 1), bg.
    m0 = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 0, 1]], bool)
    m1 = np.array([[1, 1, 0], [0, 0, 1]], bool)
    s0 = np.array([[5, 0, 0], [0, 5, 0], [0, 0, 5], [5, 0, 0]], float)   # right, wrong, right, wrong
    s1 = np.array([[0, 5, 0], [0, 0, 5]], float)                         # right (class 1 covers), right
    out = snippet_accuracy_breakdown([s0, s1], [m0, m1])
    assert out["snippet_acc_fg"] == pytest.approx(2 / 3)     # 2 of 3 foreground snippets
    assert out["snippet_acc_bg"] == pytest.approx(2 / 3)     # 2 of 3 background snippets
    # recall per column: class 0 covers 3 snippets, 2 right; class 1 covers 1, right; bg 3, 2 right
    assert out["snippet_acc_balanced"] == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    # the pooled ACC is the snippet-weighted mean of the fg and bg parts
    acc = snippet_classification_accuracy([s0, s1], [m0, m1])
    assert acc == pytest.approx((2 + 2) / 6)


def test_accuracy_breakdown_all_background_is_nan_for_fg():
    from himnet_lib.evaluation.snippet_metrics import snippet_accuracy_breakdown
    m = np.array([[0, 0, 1], [0, 0, 1]], bool)
    out = snippet_accuracy_breakdown([np.array([[0, 0, 1.0], [1.0, 0, 0]])], [m])
    assert np.isnan(out["snippet_acc_fg"]) and out["snippet_acc_bg"] == 0.5
    assert out["snippet_acc_balanced"] == 0.5                # only the background column covers anything
