"""Fixed-length snippet resampling and the co-action (W-TALC/CO2-Net) batch sampler.

All randomness comes from the numpy ``Generator`` passed in, so checkpointing its
``bit_generator.state`` is enough for an exact resume.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from himnet_lib.datasets.dataset import Video


def _check(length: int, T: int) -> None:
    if length < 1 or T < 1:
        raise ValueError(f"need length >= 1 and T >= 1, got length={length}, T={T}")


def uniform_indices(length: int, T: int) -> np.ndarray:
    """(T,) int64 ``floor(i * L / T)``: deterministic resampling (test-time, BaS-Net style)."""
    _check(length, T)
    return (np.arange(T, dtype=np.int64) * length) // T


def perturb_indices(length: int, T: int, rng: np.random.Generator) -> np.ndarray:
    """(T,) int64 stratified random resampling (STPN/BaS-Net/CO2-Net ``random_perturb``).

    Anchors ``s_i = i L / T``; index i < T-1 is drawn uniformly from ``[floor(s_i), floor(s_{i+1})]``
    (inclusive; the floor itself when both are equal), the last from ``[floor(s_{T-1}), L-1]``.
    Identity when L == T; when L < T snippets repeat (upsampling). Floors use integer arithmetic,
    which equals the float computation of the reference code for any L, T below 2**50.
    """
    _check(length, T)
    if length == T:
        return np.arange(T, dtype=np.int64)
    lo = (np.arange(T, dtype=np.int64) * length) // T
    hi = np.empty(T, dtype=np.int64)
    hi[:-1] = lo[1:]
    hi[-1] = length - 1
    # One draw per position (also where lo == hi, which then returns lo), so the stream consumed
    # depends only on T.
    return rng.integers(lo, hi + 1, dtype=np.int64)


class CoActionSampler:
    """Training batches with co-action pairs (W-TALC co-activity loss / CO2-Net ``load_data``).

    ``labels`` (N, C) multi-hot video-level labels of the training videos. Each batch of
    ``batch_size`` indices holds ``n_pairs`` pairs at positions (0,1), (2,3), ...: per pair a class
    drawn uniformly **with replacement** among classes with at least 2 videos, then 2 **distinct**
    videos of that class (CO2-Net; W-TALC allowed repeats). The remaining slots are videos drawn
    uniformly with replacement.
    """

    def __init__(self, labels: np.ndarray, batch_size: int = 10, n_pairs: int = 3,
                 rng: np.random.Generator | None = None):
        labels = np.asarray(labels)
        if labels.ndim != 2 or labels.shape[0] == 0:
            raise ValueError(f"labels must be (N, C) with N >= 1, got {labels.shape}")
        if batch_size < 2 * n_pairs or n_pairs < 0:
            raise ValueError(f"batch_size {batch_size} cannot hold {n_pairs} pairs")
        if rng is None:
            raise ValueError("pass the numpy Generator that owns the training randomness")
        self.labels = labels
        self.batch_size = batch_size
        self.n_pairs = n_pairs
        self.rng = rng
        self.class_videos = [np.flatnonzero(labels[:, c] > 0) for c in range(labels.shape[1])]
        self.eligible = np.asarray([c for c, v in enumerate(self.class_videos) if v.size >= 2], dtype=np.int64)
        if n_pairs and self.eligible.size == 0:
            raise ValueError("no class has 2 or more training videos: co-action pairs impossible")

    def sample(self) -> np.ndarray:
        """(B,) int64 row indices into ``labels``; pairs first, then the random fill."""
        out = np.empty(self.batch_size, dtype=np.int64)
        if self.n_pairs:
            classes = self.rng.choice(self.eligible, size=self.n_pairs, replace=True)
            for p, c in enumerate(classes):
                out[2 * p: 2 * p + 2] = self.rng.choice(self.class_videos[c], size=2, replace=False)
        rest = self.batch_size - 2 * self.n_pairs
        out[2 * self.n_pairs:] = self.rng.integers(0, self.labels.shape[0], size=rest)
        return out


def make_batch(videos: Sequence[Video], indices: Sequence[int] | np.ndarray, T: int, rng: np.random.Generator,
               mode: str = "perturb") -> tuple[np.ndarray, np.ndarray]:
    """Stack videos resampled to T snippets: ((B, T, D) float32 features, (B, C) float32 labels)."""
    if mode not in ("perturb", "uniform"):
        raise ValueError(f"mode must be 'perturb' or 'uniform', got {mode!r}")
    chosen = [videos[int(i)] for i in indices]
    if not chosen:
        raise ValueError("empty batch")
    feats = []
    for v in chosen:
        x = v.features
        idx = perturb_indices(x.shape[0], T, rng) if mode == "perturb" else uniform_indices(x.shape[0], T)
        feats.append(x[idx])
    return (np.stack(feats).astype(np.float32, copy=False),
            np.stack([v.labels for v in chosen]).astype(np.float32, copy=False))
