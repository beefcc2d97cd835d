"""Datasets for weakly-supervised temporal action localization: readers (W-TALC npy bundle,
BaS-Net per-video layout), validation, resampling / co-action batches, and the synthetic benchmark."""

from __future__ import annotations

import math
import os
from pathlib import Path

from himnet_lib.datasets.dataset import DEFAULT_SNIPPET_SECONDS, Dataset, Video
from himnet_lib.datasets.validate import Issues
from himnet_lib.utils.errors import DataError

__all__ = ["Dataset", "Video", "load_dataset", "read_dataset", "detect_layout", "DEFAULT_SNIPPET_SECONDS"]


def detect_layout(root: str | os.PathLike) -> str:
    """"wtalc" when ``root`` holds a ``<Name>-Annotations`` directory (preferred, as HAM-Net roots may
    also hold a gt.json), "pervideo" when it holds ``gt.json``; DataError otherwise."""
    from himnet_lib.datasets.bundle import is_bundle
    from himnet_lib.datasets.pervideo import is_pervideo

    root = Path(root)
    if not root.is_dir():
        raise DataError("dataset root is not a directory", file=str(root))
    if is_bundle(root):
        return "wtalc"
    if is_pervideo(root):
        return "pervideo"
    raise DataError("cannot detect the dataset layout: expected a '<Name>-Annotations' directory "
                    "(W-TALC bundle) or a 'gt.json' (per-video layout)", file=str(root))


def read_dataset(root: str | os.PathLike, *, snippet_seconds: float, feature_dim: int | None,
                 issues: Issues) -> Dataset | None:
    """Dispatch on the layout; problems go to ``issues`` (strict or collecting)."""
    from himnet_lib.datasets.bundle import read_bundle
    from himnet_lib.datasets.pervideo import read_pervideo

    reader = read_bundle if detect_layout(root) == "wtalc" else read_pervideo
    return reader(Path(root), snippet_seconds=snippet_seconds, feature_dim=feature_dim, issues=issues)


def load_dataset(root: str | os.PathLike, *, snippet_seconds: float = DEFAULT_SNIPPET_SECONDS,
                 feature_dim: int | None = None) -> Dataset:
    """Load a dataset root, autodetecting the layout; the first problem raises DataError.

    ``feature_dim`` (2D) is checked against every video when given, otherwise the most common
    dimension is the reference.
    """
    if not (math.isfinite(snippet_seconds) and snippet_seconds > 0):
        raise DataError(f"snippet_seconds must be a finite number > 0, got {snippet_seconds}", field="snippet_seconds")
    ds = read_dataset(root, snippet_seconds=snippet_seconds, feature_dim=feature_dim, issues=Issues())
    assert ds is not None  # strict mode raises instead of returning None
    return ds
