"""The one in-memory view of a WTAL dataset, whatever its layout on disk.

Time base: one feature snippet covers 16 frames at 25 fps, i.e. ``snippet_seconds = 16/25 = 0.64``
by default (W-TALC/CO2-Net/BaS-Net convention); snippet ``t`` spans ``[t, t+1) * snippet_seconds``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

DEFAULT_SNIPPET_SECONDS = 16 / 25


@dataclass(eq=False)
class Video:
    """One video: weak labels, ground-truth segments and (lazily loaded) snippet features.

    ``labels`` (C,) float32 multi-hot video-level labels (the weak supervision); ``segments`` (N, 2)
    float64 ``[start, end]`` seconds with ``segment_classes`` (N,) int64; ``features`` (T, D) float32,
    RGB half then flow half.
    """

    name: str
    subset: str
    labels: np.ndarray
    segments: np.ndarray
    segment_classes: np.ndarray
    duration: float
    _num_snippets: int = field(default=0, repr=False)
    # Either the (T, D) array itself (bundle: the pickle is read whole) or a zero-argument loader
    # returning it (per-video layout: memory-mapped streams concatenated on access).
    _source: np.ndarray | Callable[[], np.ndarray] | None = field(default=None, repr=False)

    @property
    def features(self) -> np.ndarray:
        """(T, D) float32 features; per-video sources are re-read (from the page cache) on each access."""
        src = self._source
        if src is None:
            raise ValueError(f"video {self.name} has no features attached")
        x = src() if callable(src) else src
        return np.asarray(x, dtype=np.float32)

    @property
    def num_snippets(self) -> int:
        """T, known without loading the features."""
        return self._num_snippets

    @property
    def classes_present(self) -> np.ndarray:
        """Sorted class ids that occur in the ground-truth segments."""
        return np.unique(self.segment_classes)


@dataclass(eq=False)
class Dataset:
    """All videos of one dataset root plus its class list and ambiguous (ignore) regions."""

    name: str
    root: Path
    classes: list[str]
    videos: list[Video]
    snippet_seconds: float
    ambiguous: dict[str, np.ndarray]
    train_subset: str
    test_subset: str
    _feature_dim: int = field(default=0, repr=False)
    layout: str = "wtalc"  # "wtalc" (npy bundle) | "pervideo" (BaS-Net style)
    # Where the video-level (weak) labels come from: "labels_all.npy" (W-TALC/CO2-Net) or the
    # segment labels ("segments"), the fallback of a bundle without labels_all.npy and BaS-Net's rule.
    label_source: str = "labels_all.npy"

    def __post_init__(self) -> None:
        self._by_name = {v.name: i for i, v in enumerate(self.videos)}

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def feature_dim(self) -> int:
        """2D: RGB half then flow half."""
        return self._feature_dim

    def subset(self, name: str) -> list[Video]:
        return [v for v in self.videos if v.subset == name]

    def train_videos(self) -> list[Video]:
        return self.subset(self.train_subset)

    def test_videos(self) -> list[Video]:
        return self.subset(self.test_subset)

    def video(self, name: str) -> Video:
        return self.videos[self._by_name[name]]

    def labels_matrix(self, videos: list[Video] | None = None) -> np.ndarray:
        """(N, C) float32 video-level labels of ``videos`` (default: all)."""
        vids = self.videos if videos is None else videos
        if not vids:
            return np.zeros((0, self.num_classes), np.float32)
        return np.stack([v.labels for v in vids]).astype(np.float32, copy=False)


# Not "validation": THUMOS14's TRAINING subset is called "validation" in the W-TALC files.
VALIDATION_SUBSET = "heldout"


def validation_view(ds: Dataset, fraction: float, seed: int = 0) -> Dataset:
    """A view of ``ds`` for hyperparameter selection without the test set.

    A fixed ``fraction`` of the TRAINING videos (chosen by ``seed``, independent of the training
    seed, stratified by primary class so every class keeps training videos) is held out with its
    ground truth as subset ``"validation"``, which becomes the view's test subset. The real test
    videos are dropped from the view, so nothing trained or scored on it can see them.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    train = ds.train_videos()
    if VALIDATION_SUBSET in {v.subset for v in ds.videos}:
        raise ValueError(f"dataset {ds.name} already has a subset named {VALIDATION_SUBSET!r}")
    if len(train) < 2:
        raise ValueError(f"dataset {ds.name}: too few training videos ({len(train)}) for a validation fold")
    rng = np.random.default_rng(seed)
    primary = np.array([int(np.argmax(v.labels)) if v.labels.any() else -1 for v in train])
    held: set[int] = set()
    for c in np.unique(primary):
        idx = np.flatnonzero(primary == c)
        rng.shuffle(idx)
        n = int(round(fraction * idx.size))
        if idx.size - n < 1:
            n = idx.size - 1
        held.update(idx[:n].tolist())
    videos = [dataclasses.replace(v, subset=VALIDATION_SUBSET) if i in held else v
              for i, v in enumerate(train)]
    view = Dataset(name=f"{ds.name} (validation fold {fraction:g}, seed {seed})", root=ds.root,
                   classes=list(ds.classes), videos=videos, snippet_seconds=ds.snippet_seconds,
                   ambiguous={}, train_subset=ds.train_subset, test_subset=VALIDATION_SUBSET,
                   _feature_dim=ds.feature_dim, layout=ds.layout, label_source=ds.label_source)
    return view
