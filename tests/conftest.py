"""Shared fixtures.

``smoke_root``: a tiny synthetic W-TALC bundle (preset "smoke", seed 0: 6 classes, 24 train / 16 test
videos, feature dim 32), written once per test session into a temporary directory. Treat it as
read-only; tests that need to modify a bundle must make their own.
``real_data_dir``: the shared real annotation files, or a skip when they are absent.

Hypothesis profiles, chosen by ``$HIMNET_HYPOTHESIS_PROFILE``: ``ci`` (the default, what ``make test``
runs: a fixed set of examples, the same on every run, no example database) and ``fuzz`` (``make
fuzz``: many more random examples, failures kept in .cache/hypothesis to replay first next time).
A property test that sets no ``max_examples`` of its own runs the profile's number (the fuzz tests
take shares of it: tests/fuzz_inputs.py ``examples``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

PROFILE_ENV = "HIMNET_HYPOTHESIS_PROFILE"
CI_EXAMPLES, FUZZ_EXAMPLES = 20, 500
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=CI_EXAMPLES, derandomize=True, database=None, deadline=None,
                          suppress_health_check=_SLOW_OK, print_blob=True)
settings.register_profile("fuzz", max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=_SLOW_OK,
                          database=DirectoryBasedExampleDatabase(
                              str(Path(__file__).resolve().parents[1] / ".cache" / "hypothesis")))
settings.load_profile(os.environ.get(PROFILE_ENV, "ci"))


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
