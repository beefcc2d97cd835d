"""A study's folders: the results root of a profile, and the dataset root it trains on (the user's,
or the synthetic benchmark of smoke / demo, generated once under the results root)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from himnet_lib.config.profiles import get_profile
from himnet_lib.datasets.synthetic.writer import make_synthetic
from himnet_lib.study.grids import resolve_benchmark
from himnet_lib.utils.errors import HimnetError
from himnet_lib.utils.locks import FileLock
from himnet_lib.utils.paths import results_dir

__all__ = ["results_root", "ensure_data", "spec_data", "main_data", "data_roots"]


def results_root(profile: str, results: str | os.PathLike | None = None) -> Path:
    return Path(results) if results else results_dir() / profile


def ensure_data(profile: str, data_root: str | os.PathLike | None, results: Path, seed: int = 0,
                benchmark: str | None = None) -> Path:
    """The dataset root of one of ``profile``'s benchmarks (None: its main one): the user's
    ``data_root`` for a profile on real data (or for the main benchmark, when given), else the
    synthetic preset of that name, generated once under ``<results>/data`` (deterministic, so
    regenerating gives the same files). A variant of a synthetic benchmark
    (:func:`himnet_lib.study.grids.resolve_benchmark`) is generated the same way, never the user's data."""
    prof = get_profile(profile)
    try:
        bench = resolve_benchmark(profile, benchmark or prof.main_benchmark)
    except KeyError as e:
        raise HimnetError(str(e.args[0])) from None
    if data_root and bench == prof.main_benchmark:
        return Path(data_root)
    if not prof.synthetic:
        raise HimnetError(f"profile {profile!r} needs real data: pass --data ROOT "
                          "(see README: THUMOS14 / ActivityNet 1.3 features)")
    out = results / "data" / f"synthetic-{bench}-seed{seed}"
    if not out.exists():
        # one process generates it, the others wait and reuse it (make_synthetic replaces an
        # existing benchmark, which would pull it from under a process already reading it)
        with FileLock(out.with_name(f".{out.name}.lock")):
            if not out.exists():
                make_synthetic(bench, seed=seed, out=out)
    return out


def spec_data(spec, data_root: str | os.PathLike | None, results: Path,
              known: Mapping[str, str | os.PathLike] | None = None) -> Path:
    """The dataset root a run spec trains on: its benchmark's draw ``spec.draw`` (``known`` holds
    the roots of draw 0 by benchmark)."""
    known = dict(known or {})
    if spec.draw == 0 and spec.benchmark in known:
        return Path(known[spec.benchmark])
    return ensure_data(spec.profile, data_root, results, seed=spec.draw, benchmark=spec.benchmark)


def main_data(profile: str, data_root: str | os.PathLike | None, results: Path,
              known: Mapping[str, str | os.PathLike] | None = None) -> Path:
    """The dataset root of ``profile``'s main benchmark (from ``known`` when it is there)."""
    main = get_profile(profile).main_benchmark
    known = dict(known or {})
    return Path(known[main]) if main in known else ensure_data(profile, data_root, results, benchmark=main)


def data_roots(profile: str, data_root: str | os.PathLike | None, results: Path,
               known: Mapping[str, str | os.PathLike] | None = None) -> dict[str, Path]:
    """{benchmark: dataset root} for every benchmark of ``profile`` (:func:`ensure_data`), reusing
    the roots in ``known`` (as :func:`himnet_lib.engine.reproduce.reproduce` passes them to each
    notebook, so that each benchmark is made ready once per reproduce)."""
    known = dict(known or {})
    return {b: Path(known[b]) if b in known else ensure_data(profile, data_root, results, benchmark=b)
            for b in get_profile(profile).benchmark_names}
