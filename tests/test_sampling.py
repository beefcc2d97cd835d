"""Snippet resampling and co-action batches (references are plain loops written from the text)."""

from __future__ import annotations

import numpy as np
import pytest

from himnet_lib.datasets.dataset import Video
from himnet_lib.datasets.sampling import CoActionSampler, make_batch, perturb_indices, uniform_indices

PAIRS = [(1, 1), (1, 7), (7, 1), (5, 5), (10, 3), (3, 10), (320, 500), (500, 320), (2603, 500), (999, 1000),
         (17, 60)]


def strata(L, T):
    """Loop reference: inclusive bounds of each position from the anchors s_i = i L / T."""
    s = [i * L / T for i in range(T)]
    lo = [int(np.floor(x)) for x in s]
    hi = [int(np.floor(s[i + 1])) for i in range(T - 1)] + [L - 1]
    return lo, hi


@pytest.mark.parametrize("L,T", PAIRS)
def test_uniform_indices(L, T):
    idx = uniform_indices(L, T)
    assert idx.dtype == np.int64 and idx.shape == (T,)
    assert idx.tolist() == [int(np.floor(i * L / T)) for i in range(T)]


@pytest.mark.parametrize("L,T", PAIRS)
def test_perturb_within_strata(L, T):
    rng = np.random.default_rng(0)
    lo, hi = strata(L, T)
    for _ in range(5):
        idx = perturb_indices(L, T, rng)
        assert idx.dtype == np.int64 and idx.shape == (T,)
        assert (np.diff(idx) >= 0).all() and idx.min() >= 0 and idx.max() <= L - 1
        for i in range(T):
            assert lo[i] <= idx[i] <= hi[i]
    if L == T:
        assert perturb_indices(L, T, rng).tolist() == list(range(T))


def test_perturb_repeats_when_upsampling():
    idx = perturb_indices(40, 100, np.random.default_rng(1))
    assert len(np.unique(idx)) <= 40 < 100 and idx.max() <= 39


def test_perturb_draws_uniformly_in_each_stratum():
    rng = np.random.default_rng(2)
    draws = np.stack([perturb_indices(10, 4, rng) for _ in range(6000)])  # strata [0,2] [2,5] [5,7] [7,9]
    counts = np.bincount(draws[:, 0], minlength=10)[:3] / len(draws)
    assert np.allclose(counts, 1 / 3, atol=0.03)
    assert set(np.unique(draws[:, 1])) == {2, 3, 4, 5}
    assert set(np.unique(draws[:, 3])) == {7, 8, 9}


def test_perturb_deterministic_for_seed():
    a = perturb_indices(700, 320, np.random.default_rng(5))
    b = perturb_indices(700, 320, np.random.default_rng(5))
    c = perturb_indices(700, 320, np.random.default_rng(6))
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist()


def test_invalid_lengths():
    with pytest.raises(ValueError):
        uniform_indices(0, 5)
    with pytest.raises(ValueError):
        perturb_indices(5, 0, np.random.default_rng(0))


def _labels():
    rng = np.random.default_rng(3)
    y = np.zeros((30, 6), np.float32)
    y[np.arange(30), rng.integers(1, 6, 30)] = 1
    y[:4, 2] = 1           # some two-class videos
    y[:, 0] = 0
    y[7, 0] = 1            # class 0 has a single video: never a pair class
    return y


def test_coaction_pairs_share_a_class_and_are_distinct():
    y = _labels()
    s = CoActionSampler(y, batch_size=10, n_pairs=3, rng=np.random.default_rng(0))
    assert 0 not in s.eligible.tolist()
    seen_fill = []
    for _ in range(300):
        b = s.sample()
        assert b.shape == (10,) and b.dtype == np.int64 and ((0 <= b) & (b < 30)).all()
        for p in range(3):
            i, j = b[2 * p], b[2 * p + 1]
            assert i != j
            shared = np.flatnonzero((y[i] > 0) & (y[j] > 0))
            assert shared.size and not (shared.tolist() == [0])
        seen_fill += b[6:].tolist()
    freq = np.bincount(seen_fill, minlength=30) / len(seen_fill)
    assert freq.min() > 0 and abs(freq.mean() - 1 / 30) < 1e-9 and freq.max() < 3 / 30  # roughly uniform


def test_coaction_deterministic_and_state_resumable():
    y = _labels()
    a = CoActionSampler(y, rng=np.random.default_rng(9))
    first = [a.sample().tolist() for _ in range(3)]
    state = a.rng.bit_generator.state
    nxt = a.sample().tolist()
    b = CoActionSampler(y, rng=np.random.default_rng(9))
    assert [b.sample().tolist() for _ in range(3)] == first
    r = np.random.default_rng(0)
    r.bit_generator.state = state
    assert CoActionSampler(y, rng=r).sample().tolist() == nxt


def test_coaction_errors():
    with pytest.raises(ValueError):
        CoActionSampler(np.eye(4), rng=np.random.default_rng(0))  # no class with 2 videos
    with pytest.raises(ValueError):
        CoActionSampler(_labels(), batch_size=4, n_pairs=3, rng=np.random.default_rng(0))


def _videos():
    out = []
    for i, T in enumerate((3, 8, 20)):
        x = (np.arange(T * 4, dtype=np.float64).reshape(T, 4) + 1000 * i)
        lab = np.zeros(3, np.float32)
        lab[i] = 1
        out.append(Video(f"v{i}", "train", lab, np.zeros((0, 2)), np.zeros(0, np.int64), T * 0.64,
                         _num_snippets=T, _source=x))
    return out


def test_make_batch_uniform_and_perturb():
    vids = _videos()
    x, y = make_batch(vids, [2, 0, 2], 5, np.random.default_rng(0), mode="uniform")
    assert x.shape == (3, 5, 4) and x.dtype == np.float32 and y.dtype == np.float32
    np.testing.assert_array_equal(x[0], vids[2].features[[0, 4, 8, 12, 16]])
    np.testing.assert_array_equal(x[1], vids[0].features[[0, 0, 1, 1, 2]])
    np.testing.assert_array_equal(y, [[0, 0, 1], [1, 0, 0], [0, 0, 1]])
    xa, _ = make_batch(vids, [1, 2], 6, np.random.default_rng(4), mode="perturb")
    xb, _ = make_batch(vids, [1, 2], 6, np.random.default_rng(4), mode="perturb")
    np.testing.assert_array_equal(xa, xb)
    rows = (xa[1, :, 0] - 2000) / 4  # row index of each sampled snippet of v2
    lo, hi = strata(20, 6)
    assert all(lo[i] <= rows[i] <= hi[i] for i in range(6))
    with pytest.raises(ValueError):
        make_batch(vids, [0], 5, np.random.default_rng(0), mode="crop")
