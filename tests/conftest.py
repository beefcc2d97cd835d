"""Shared fixtures.

``smoke_root``: a tiny synthetic W-TALC bundle (preset "smoke", seed 0: 6 classes, 24 train / 16 test
videos, feature dim 32), written once per test session into a temporary directory. Treat it as
read-only; tests that need to modify a bundle must make their own.
``real_data_dir``: the shared real annotation files, or a skip when they are absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smoke_root(tmp_path_factory) -> Path:
    from himnet_lib.datasets.synthetic.writer import make_synthetic

    return make_synthetic("smoke", seed=0, out=tmp_path_factory.mktemp("smoke") / "bundle")


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    from himnet_lib.utils.paths import shared_data_dir

    d = shared_data_dir()
    if not (d / "thumos14reduced").is_dir():
        pytest.skip(f"real annotation files not found at {d} (../shared/data beside the checkout)")
    return d
