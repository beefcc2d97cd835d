"""Snippet memberships from interval arithmetic: the same as the centre rule applied to every
(segment, snippet) pair, on exact edges too, and without a segments x snippets matrix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from himnet_lib.evaluation.snippet_metrics import snippet_labels


def _dense_reference(segs, cls, T, dt, C):
    centre = (np.arange(T) + 0.5) * dt
    m = np.zeros((T, C + 1), bool)
    for (b, e), c in zip(segs, cls):
        m[(centre >= b) & (centre < e), c] = True
    m[:, C] = ~m[:, :C].any(axis=1)
    return m


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), T=st.integers(0, 80), C=st.integers(1, 5), N=st.integers(0, 12),
       on_grid=st.booleans())
def test_matches_dense_centre_rule(seed, T, C, N, on_grid):
    rng = np.random.default_rng(seed)
    dt = 0.64
    if on_grid:  # bounds exactly on snippet centres and edges
        segs = np.sort(rng.integers(-2, 2 * T + 3, (N, 2)) * (dt / 2), axis=1)
        segs[::2, 0] = (np.floor(segs[::2, 0] / dt) + 0.5) * dt
    else:
        segs = np.sort(rng.uniform(-1, T * dt + 1, (N, 2)), axis=1)
    if N > 2:
        segs[1] = [np.nan, 3.0]
        segs[2] = [1.0, np.nan]
    cls = rng.integers(0, C, N)
    np.testing.assert_array_equal(snippet_labels(segs, cls, T, dt, C), _dense_reference(segs, cls, T, dt, C))


def test_reversed_segment_covers_nothing():
    m = snippet_labels(np.array([[3.0, 1.0]]), np.array([0]), 6, 1.0, 1)
    assert not m[:, 0].any() and m[:, 1].all()


def test_3000_segments_on_100k_snippets_stay_small():
    """Bound: peak RSS increase < 200 MB."""
    code = """
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
from bench_localize import peak_rss_kb, reset_peak_rss_kb
from himnet_lib.evaluation.snippet_metrics import snippet_labels
rng = np.random.default_rng(0)
T, dt = 100_000, 0.64
segs = np.sort(rng.uniform(0, T * dt, (3000, 2)), axis=1)
cls = rng.integers(0, 20, 3000)
base = reset_peak_rss_kb()
m = snippet_labels(segs, cls, T, dt, 20)
print((peak_rss_kb() - base) / 1024, int(m[:, :20].sum()))
"""
    bench = Path(__file__).resolve().parents[1] / "timing"
    out = subprocess.run([sys.executable, "-c", code, str(bench)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    mb, covered = out.stdout.split()
    assert float(mb) < 200 and int(covered) > 0
