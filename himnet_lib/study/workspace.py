"""A study's folders: the results root of a profile, and the dataset root it trains on (the user's,
or the synthetic benchmark of smoke / demo, generated once under the results root)."""

from __future__ import annotations

import os
from pathlib import Path

from himnet_lib.datasets.synthetic.writer import make_synthetic
from himnet_lib.study.grids import BENCHMARKS, benchmarks
from himnet_lib.utils.errors import HimnetError
from himnet_lib.utils.locks import FileLock
from himnet_lib.utils.paths import results_dir

__all__ = ["results_root", "ensure_data"]


def results_root(profile: str, results: str | os.PathLike | None = None) -> Path:
    return Path(results) if results else results_dir() / profile


def ensure_data(profile: str, data_root: str | os.PathLike | None, results: Path, seed: int = 0,
                benchmark: str = "") -> Path:
    """The dataset root for a study: the user's, or the synthetic preset of ``profile`` (or the
    given ``benchmark`` preset, see :data:`himnet_lib.study.grids.BENCHMARKS`) generated once under
    ``<results>/data`` (deterministic, so regenerating gives the same files)."""
    main = benchmarks(profile)[0]
    if data_root and benchmark in ("", main):
        return Path(data_root)
    if profile not in BENCHMARKS:  # a profile with synthetic benchmarks; the others need the user's data
        raise HimnetError(f"profile {profile!r} needs real data: pass --data ROOT "
                          "(see README: THUMOS14 / ActivityNet 1.3 features)")
    preset = benchmark or main
    out = results / "data" / f"synthetic-{preset}-seed{seed}"
    if not out.exists():
        # one process generates it, the others wait and reuse it (make_synthetic replaces an
        # existing benchmark, which would pull it from under a process already reading it)
        with FileLock(out.with_name(f".{out.name}.lock")):
            if not out.exists():
                make_synthetic(preset, seed=seed, out=out)
    return out
