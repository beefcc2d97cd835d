"""What ``himnet reproduce`` needs before it starts, checked before it starts (``himnet_lib.cli`` calls
:func:`check_reproduce`): the optional dependencies its choices need (the extra ``notebooks`` to
execute the study notebooks, ``cluster`` for ``--executor slurm``), its folders (``--data`` readable,
``--results`` writable) and, for Slurm, the settings against the cluster: sbatch on PATH, the
partition there, its MaxTime at least the time the runs ask for. Each problem is one
:class:`~himnet_lib.utils.errors.HimnetError` line, seconds after the command was given, whatever
``--notebooks`` selects (a notebook would otherwise meet it inside its kernel)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import Any, Callable, Sequence

from himnet_lib.datasets import detect_layout
from himnet_lib.engine import slurm
from himnet_lib.study import manifest
from himnet_lib.study.workspace import results_root
from himnet_lib.utils.access import check_readable, check_writable
from himnet_lib.utils.errors import DataError, HimnetError

# the modules of the extra "notebooks" that executing a notebook imports (papermill and its kernel)
NOTEBOOK_MODULES = ("papermill", "nbformat", "ipykernel", "jupytext")


def missing_modules(names: Sequence[str]) -> list[str]:
    """Those of ``names`` that cannot be imported here (found without importing them)."""
    out = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a finder that refuses it, a module left half-imported
            found = False
        if not found:
            out.append(name)
    return out


def require_notebook_extra(why: str) -> None:
    missing = missing_modules(NOTEBOOK_MODULES)
    if missing:
        raise HimnetError(f"{why} needs the extra 'notebooks' ({', '.join(missing)} not installed): "
                          "pip install -e '.[notebooks]'")


def require_submitit() -> None:
    try:
        import submitit  # noqa: F401  (the import is the check)
    except ImportError:
        raise HimnetError("--executor slurm needs submitit, the extra 'cluster' (not installed): "
                          "pip install -e '.[cluster]'") from None


def study_minutes(profile: str, seeds: int, seeds_other: int, reading: str | None,
                  notebooks: Sequence[str] | None) -> int:
    """The time limit the runs of these study notebooks ask for when --slurm-time is not given: the
    longest of their estimates (:func:`himnet_lib.engine.slurm.estimate_minutes`)."""
    specs = manifest.study_specs(profile, seeds, min(seeds_other, seeds), reading,
                                 tuple(notebooks) if notebooks else None)
    iterations = {(s.profile, int(s.config().train.iterations)) for s in specs}
    return max((slurm.estimate_minutes(p, n) for p, n in iterations), default=slurm.TIME_MIN_MINUTES)


def check_slurm(settings: dict[str, Any], *, minutes: Callable[[], int], workers: int, threads: int | None) -> None:
    """The Slurm settings as submission would use them (``minutes()``: the time limit asked for when
    the settings give none), against the cluster, before anything runs."""
    require_submitit()
    if not shutil.which("sbatch"):
        raise HimnetError("--executor slurm: no sbatch on PATH (run himnet on a Slurm login node)")
    params = slurm.executor_parameters(settings, default_minutes=1 if settings.get("time") is not None else minutes(),
                                       name="himnet", parallelism=workers, threads=threads)
    slurm.check_time_limit(params.get("partition"), params["time"], settings.get("time") is not None)


def check_reproduce(profile: str, *, data: str | os.PathLike | None, results: str | os.PathLike | None,
                    executor: str, slurm_settings: dict[str, Any] | None, seeds: int, seeds_other: int,
                    reading: str | None, notebooks: Sequence[str] | None, workers: int,
                    threads: int | None) -> None:
    """Every check of ``himnet reproduce``'s options that needs no work done (see the module)."""
    require_notebook_extra("himnet reproduce (it executes the study notebooks)")
    if data is not None:
        check_readable(data, "--data")
        try:
            detect_layout(data)
        except DataError as e:
            raise HimnetError(f"--data {data}: {e}") from None
    check_writable(results_root(profile, results), "--results")
    if executor == "slurm":
        check_slurm(dict(slurm_settings or {}), minutes=lambda: study_minutes(profile, seeds, seeds_other, reading,
                                                                              notebooks),
                    workers=workers, threads=threads)
