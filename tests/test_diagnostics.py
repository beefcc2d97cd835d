"""Threshold-free diagnostics and the scale-free read-out, against hand computations."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from himnet_lib.config.localize import LocalizeConfig
from himnet_lib.evaluation.diagnostics import attention_diagnostics, background_uncertainty, roc_auc, uncertainty_numpy
from himnet_lib.evaluation.localization import localize_video, normalize_attention


def _pairwise_auc(s, y):
    pos, neg = s[y], s[~y]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(4))
def test_roc_auc_equals_pair_counting(seed):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 5, size=40).astype(float)      # many ties on purpose
    y = rng.random(40) < 0.4
    assert roc_auc(s, y) == pytest.approx(_pairwise_auc(s, y))


def test_roc_auc_edges():
    assert roc_auc([0.1, 0.9], [False, True]) == 1.0
    assert roc_auc([0.9, 0.1], [False, True]) == 0.0
    assert roc_auc([0.5, 0.5], [False, True]) == 0.5
    assert np.isnan(roc_auc([0.1, 0.2], [True, True]))
    # invariant to a monotone rescaling shared by all snippets, unlike a fixed threshold
    s, y = np.array([0.91, 0.95, 0.93, 0.99]), np.array([False, True, False, True])
    assert roc_auc(s, y) == roc_auc(10 * s - 3, y) == 1.0


def test_attention_diagnostics_hand_computed():
    videos = [SimpleNamespace(name="a", labels=np.array([1.0, 0.0])),
              SimpleNamespace(name="b", labels=np.array([0.0, 1.0]))]
    # memberships (T, C+1), last column background
    m_a = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 1]], bool)
    m_b = np.array([[0, 1, 0], [0, 0, 1]], bool)
    outputs = {
        "a": {"attention": np.array([0.9, 0.2, 0.4]), "bg_prob": np.array([0.1, 0.8, 0.6]),
              # argmax: class 0 (labelled), class 1 (NOT labelled), background
              "cas": np.array([[3.0, 0, 0], [0, 2.0, 0], [0, 0, 1.0]])},
        "b": {"attention": np.array([0.3, 0.35]), "bg_prob": np.array([0.5, 0.4]),
              "cas": np.array([[0, 1.0, 0], [2.0, 0, 0]])},          # class 1 ok, class 0 NOT labelled
    }
    d = attention_diagnostics(outputs, videos, [m_a, m_b])
    a = np.array([0.9, 0.2, 0.4, 0.3, 0.35])
    fg = np.array([True, False, False, True, False])
    assert d["fg_bg_auc"] == pytest.approx(_pairwise_auc(a, fg))
    assert d["fg_bg_auc_video"] == pytest.approx((1.0 + 0.0) / 2)
    assert d["attention_range"] == pytest.approx(((0.9 - 0.2) + (0.35 - 0.3)) / 2)
    assert d["attention_min"] == pytest.approx((0.2 + 0.3) / 2)
    assert d["bg_prob_on_fg"] == pytest.approx((0.1 + 0.5) / 2)
    assert d["bg_prob_on_bg"] == pytest.approx((0.8 + 0.6 + 0.4) / 3)
    assert d["off_label_argmax_share"] == pytest.approx(2 / 5)


def test_background_uncertainty_is_eq9_on_background_snippets():
    videos = [SimpleNamespace(name="a", labels=np.array([1.0]))]
    m = np.array([[1, 0], [0, 1], [0, 1]], bool)
    a, b = np.array([0.9, 0.3, 0.6]), np.array([0.2, 0.6, 0.1])
    u = background_uncertainty({"a": {"attention": a, "bg_prob": b}}, videos, [m], alpha=4.0)

    def kl(p, q):
        return p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))

    np.testing.assert_allclose(u, np.exp(-4.0 * kl(b[1:], 1 - a[1:])), rtol=1e-10)


def test_numpy_uncertainty_hand_values():
    # p = 1/2, q = 1/4, α = 1: Bernoulli KL = ½ ln(4/3), so U = sqrt(3)/2; the printed one-term KL
    # is ½ ln 2, so U = 2^-½
    assert uncertainty_numpy(np.array(0.5), np.array(0.25), alpha=1.0) == pytest.approx(np.sqrt(3) / 2, rel=1e-12)
    assert uncertainty_numpy(np.array(0.5), np.array(0.25), alpha=1.0, kl="paper") == pytest.approx(2 ** -0.5,
                                                                                                rel=1e-12)
    assert uncertainty_numpy(np.array([0.3]), np.array([0.3]), alpha=4.0)[0] == pytest.approx(1.0, abs=1e-15)
    with pytest.raises(ValueError, match="kl must be"):
        uncertainty_numpy(np.array(0.5), np.array(0.5), kl="js")


@pytest.mark.parametrize("kl", ["bernoulli", "paper"])
def test_numpy_uncertainty_matches_the_training_loss(kl):
    torch = pytest.importorskip("torch")
    from himnet_lib.modeling.losses.scl import uncertainty as torch_uncertainty
    rng = np.random.default_rng(0)
    # includes exact 0 and 1 so that the eps clamp is exercised on both sides
    p = np.concatenate([rng.random(200), [0.0, 1.0, 1e-9]])
    q = np.concatenate([rng.random(200), [1.0, 0.0, 0.5]])
    ref = torch_uncertainty(torch.from_numpy(p), torch.from_numpy(q), alpha=4.0, kl=kl, centre="self").numpy()
    np.testing.assert_allclose(uncertainty_numpy(p, q, alpha=4.0, kl=kl), ref, rtol=1e-12, atol=0)


def test_minmax_readout_is_scale_free():
    a = np.array([0.95, 0.96, 0.99, 0.985, 0.955])
    np.testing.assert_allclose(normalize_attention(a, "minmax"), (a - 0.95) / 0.04)
    np.testing.assert_array_equal(normalize_attention(np.full(3, 0.7), "minmax"), np.ones(3))
    np.testing.assert_array_equal(normalize_attention(a, "none"), a)
    cas = np.zeros((5, 3))
    cas[2:4, 0] = 2.0
    fixed = localize_video(a, cas, LocalizeConfig(), 1.0)
    scaled = localize_video(0.5 * a + 0.2, cas, LocalizeConfig(attention_norm="minmax"), 1.0)
    same = localize_video(a, cas, LocalizeConfig(attention_norm="minmax"), 1.0)
    # fixed thresholds see one whole-video run (every a > 0.9); min-max finds the peak
    assert set(zip(fixed.start, fixed.end)) == {(0.0, 5.0)}
    assert (2.0, 4.0) in set(zip(same.start, same.end))
    # an affine rescaling of A gives the same proposals under min-max
    np.testing.assert_allclose(np.c_[scaled.start, scaled.end], np.c_[same.start, same.end])
    with pytest.raises(ValueError):
        LocalizeConfig(attention_norm="zscore")
