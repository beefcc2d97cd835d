"""The structure measures (himnet_lib.evaluation.structure) against hand computations on tiny videos."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from himnet_lib.evaluation import structure


def video(name="v", segments=(), classes=(), features=None, T=None, labels=None):
    seg = np.asarray(segments, np.float64).reshape(-1, 2)
    x = None if features is None else np.asarray(features, np.float32)
    T = T if T is not None else (len(x) if x is not None else 10)
    return SimpleNamespace(name=name, segments=seg, segment_classes=np.asarray(classes, np.int64),
                           features=x, num_snippets=T, labels=labels)


def test_overlap_share_counts_same_class_overlaps_and_touches_only():
    a = video(segments=[(0, 2), (1.5, 3), (5, 6), (6, 7), (8, 9)], classes=[0, 0, 1, 1, 1])
    # (0,2)-(1.5,3) overlap; (5,6)-(6,7) touch; (8,9) alone
    b = video(segments=[(0, 4), (0, 4), (10, 11)], classes=[2, 3, 2])  # nested-like: other class, no count
    assert structure.instance_overlap_share([a]) == pytest.approx(4 / 5)
    assert structure.instance_overlap_share([a, b]) == pytest.approx(4 / 8)
    assert math.isnan(structure.instance_overlap_share([video()]))


def test_style_similarity_by_hand():
    # snippet length 1 s, centres 0.5, 1.5, ...; background snippets have feature 0 (reference mean 0)
    e1, e2, e3 = np.eye(3)
    u = (e1 + e2) / np.sqrt(2)
    # video 1: two class-0 instances with descriptors e1 and e1; video 2: class-0 instances e1 and u
    v1 = video("a", [(0, 1), (2, 3)], [0, 0], [e1, np.zeros(3), e1, np.zeros(3)])
    v2 = video("b", [(0, 1), (2, 3)], [0, 0], [e1, np.zeros(3), u, np.zeros(3)])
    got = structure.class_style_similarity([v1, v2], 1.0)
    cu = 1 / np.sqrt(2)
    within = np.mean([1.0, cu])                 # (e1, e1) in a; (e1, u) in b
    cross = np.mean([1.0, cu, 1.0, cu])         # a's e1, e1 against b's e1, u
    assert got["within"] == pytest.approx(within) and got["cross"] == pytest.approx(cross)
    assert got["gap"] == pytest.approx(within - cross) and got["classes"] == 1
    # the background mean is subtracted: a constant scene offset changes nothing
    shifted = [video(v.name, v.segments, v.segment_classes, v.features + 5 * e3) for v in (v1, v2)]
    assert structure.class_style_similarity(shifted, 1.0)["gap"] == pytest.approx(got["gap"])
    # one instance per video: no within-video pair, no gap
    single = [video("a", [(0, 1)], [0], [e1, np.zeros(3)]), video("b", [(0, 1)], [0], [u, np.zeros(3)])]
    assert math.isnan(structure.class_style_similarity(single, 1.0)["gap"])


def test_ambiguous_share_by_snippet_centres():
    a = video("a", T=10)
    b = video("b", T=5)
    amb = {"a": np.array([[0.0, 2.0], [4.4, 5.0], [6.6, 7.4]]), "c": np.array([[0.0, 99.0]])}
    # a: centres 0.5, 1.5 in [0, 2); 4.5 in [4.4, 5.0); none in [6.6, 7.4) -> 3 of 10; b: none
    assert structure.ambiguous_share([a, b], amb, 1.0) == pytest.approx(3 / 15)


def test_boundary_entropy_on_the_snippets_next_to_boundaries():
    v = video("v", [(2, 4)], [0], T=6)  # fg snippets 2, 3 (centres 2.5, 3.5): boundaries 1|2 and 3|4
    b = np.array([0.9, 0.8, 0.3, 0.2, 0.7, 0.99])
    out = {"v": {"bg_prob": b}}
    h = lambda p: -(p * np.log2(p) + (1 - p) * np.log2(1 - p))  # noqa: E731
    assert structure.boundary_entropy(out, [v], 1.0, 1) == pytest.approx(np.mean([h(b[i]) for i in (1, 2, 3, 4)]))
    wide = structure.boundary_entropy(out, [v], 1.0, 1, width=2)
    assert wide == pytest.approx(np.mean([h(p) for p in b]))  # width 2 reaches snippets 0..5
    assert math.isnan(structure.boundary_entropy({"w": {"bg_prob": b}}, [video("w", T=6)], 1.0, 1))
    assert structure.binary_entropy(np.array([0.5]))[0] == pytest.approx(1.0)
