"""Reproducing the study: train every run of every study notebook, then execute the notebooks
(:func:`reproduce`, behind ``himnet reproduce``). Training is :mod:`himnet_lib.engine.executor`, executing
one notebook :mod:`himnet_lib.engine.notebook_exec`, the folders :mod:`himnet_lib.study.workspace`."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from himnet_lib.config.profiles import get_profile
from himnet_lib.engine.executor import notebook_parameters, run_study_specs
from himnet_lib.engine.notebook_exec import execute_notebook
from himnet_lib.engine.process_pool import ERROR, WorkerPool
from himnet_lib.engine.progress import RELAY_ENV, Relay, stderr_log
from himnet_lib.study import claims_cells, grids, manifest
from himnet_lib.study.claims_stages import staged_claims_specs
from himnet_lib.study.grids import RunSpec, main_benchmark
from himnet_lib.study.manifest import STUDY, TRAIN_NOTEBOOK, notebook_file, study_notebooks
from himnet_lib.study.run_table import run_records
from himnet_lib.study.workspace import data_roots, results_root, spec_data
from himnet_lib.utils.errors import RunError
from himnet_lib.utils.paths import notebooks_dir

__all__ = ["reproduce", "all_study_specs", "study_notebook_params", "STUDY_NOTEBOOKS", "NOTEBOOK_WORKERS_MAX"]

STUDY_NOTEBOOKS = study_notebooks()   # himnet_lib.study.manifest is the one list


def all_study_specs(profile: str, seeds: int, seeds_other: int | None = None,
                    reading: str | None = None) -> list[RunSpec]:
    """Every run of every study notebook (:func:`himnet_lib.study.manifest.study_specs`): Table 3 rows
    with ``seeds``, the others ``seeds_other``."""
    return manifest.study_specs(profile, seeds, seeds if seeds_other is None else seeds_other, reading)


def reproduce(profile: str, *, data_root: str | None = None, seeds: int = 5, seeds_other: int = 3,
              workers: int = 2, executor: str = "local", results: str | None = None,
              notebooks: Sequence[str] | None = None, reading: str | None = None, log=None,
              threads: int | None = None, via: str = "process", slurm: dict[str, Any] | None = None) -> Path:
    """Regenerate every table and figure: train all runs (shared ones once, in parallel), then
    execute the study notebooks (two at a time for the whole study on this machine, else in order),
    writing ``results/<profile>/{tables,figures,notebooks}``.
    Table 3's rows get ``seeds`` seeds, every other row ``seeds_other`` (at most ``seeds``).
    ``threads``, ``via`` and ``slurm`` (:func:`himnet_lib.engine.executor.run_specs`) apply to the runs a
    notebook trains too: they are passed to each notebook, whose runner's log lines are shown on this
    process's log."""
    log = log or stderr_log
    t0 = time.time()
    seeds_other = min(seeds_other, seeds)
    root = results_root(profile, results)
    roots = data_roots(profile, data_root, root)  # every benchmark made ready once, passed to each notebook
    data = roots[main_benchmark(profile)]
    log(f"data: {data}")
    runs_dir = root / "runs"
    if not notebooks:
        # the whole study: train every run first, all tables' runs in one parallel pool; with a
        # subset of notebooks, each notebook trains (or reuses) just its own runs
        specs = all_study_specs(profile, seeds, seeds_other, reading)
        run_study_specs(specs, profile, root, data_root, roots=roots, workers=workers, executor=executor, log=log,
                        threads=threads, via=via, slurm=slurm)
        if get_profile(profile).looks:
            _claims_stages(profile, seeds, seeds_other, root, data_root, roots, log, workers=workers,
                           executor=executor, threads=threads, via=via, slurm=slurm)
    names = list(notebooks) if notebooks else list(STUDY_NOTEBOOKS)
    jobs: list[tuple[str, str, Path, dict[str, Any]]] = []
    for name in names:
        if not (notebooks_dir() / notebook_file(name)).exists():
            log(f"skipping {name}: notebook not present")
            continue
        params = study_notebook_params(name, profile, data_root, roots, root, seeds=seeds, seeds_other=seeds_other,
                                       workers=workers, executor=executor, reading=reading, slurm=slurm,
                                       threads=threads, via=via)
        jobs.append((name, notebook_file(name), root / "notebooks" / notebook_file(name), params))
    # 01_train for the full model (first seed): the unit of work, shown with its outputs. Executed
    # on the finished run (train_run reuses it), so it costs a kernel start, not a training. Its
    # dataset is the one that run trained on (with per-seed draws, the first seed's draw).
    full = [s for s in grids.table1_specs(profile, 1, reading) if s.label == "HiM-Net"][0]
    train = notebook_file(TRAIN_NOTEBOOK)
    jobs.append((TRAIN_NOTEBOOK, train, root / "notebooks" / train,
                 notebook_parameters(full, spec_data(full, data_root, root, roots).resolve(),
                                     (runs_dir / full.run_id).resolve(), threads=1)))
    # side by side only once every run is trained (a notebook given alone trains its own runs with
    # ``workers`` processes; several at once would oversubscribe the cores), on this machine, and
    # at most NOTEBOOK_WORKERS_MAX (with Slurm, ``workers`` is the array's parallelism, not cores)
    side_by_side = not notebooks and executor == "local"
    _execute_notebooks(jobs, min(workers, NOTEBOOK_WORKERS_MAX) if side_by_side else 1, log)
    log(f"reproduce {profile}: done in {time.time() - t0:.0f}s -> {root}")
    return root


def study_notebook_params(name: str, profile: str, data_root: str | os.PathLike | None,
                          roots: dict[str, Path], root: Path, *, seeds: int, seeds_other: int, workers: int,
                          executor: str, reading: str | None, slurm: dict[str, Any] | None,
                          threads: int | None, via: str) -> dict[str, Any]:
    """The papermill parameters of study notebook ``name``. ``data_root`` is the user's (empty when
    none was given), not the generated root of the main benchmark: a notebook resolves each run's
    dataset itself (:func:`himnet_lib.study.workspace.spec_data`), and a non-empty ``data_root``
    stands for every draw of the main benchmark, which would train a profile with per-seed draws
    on draw 0 for every seed. ``roots`` are the draw-0 roots, made ready once."""
    kind = {e.notebook: e.seeds for e in STUDY}.get(name, "other")
    # absolute: papermill runs a notebook in its own folder
    params = {"profile": profile, "data_root": str(Path(data_root).resolve()) if data_root else "",
              "data_roots": {b: str(r) for b, r in roots.items()},
              "workers": workers, "results_dir": str(root),
              "executor": executor, "reading": reading or "",
              "seeds": seeds_other if kind == "other" else seeds,
              "slurm": dict(slurm or {}), "threads": int(threads or 0), "via": via}
    if kind == "both":
        params["seeds_other"] = seeds_other
    return params


def _claims_stages(profile: str, seeds: int, seeds_other: int, root: Path, data_root, roots, log, **train) -> None:
    """The sequential stages of the claims' primaries (:mod:`himnet_lib.study.claims_stages`), trained
    here in the one pool, so that notebook 10 finds every run it reads."""
    runs_dir = root / "runs"
    u_background = claims_cells.background_u(roots, runs_dir)
    pilot = manifest.entry("10_claims").specs(profile, seeds, seeds_other)
    staged_claims_specs(profile, pilot,
                        lambda specs: run_study_specs(specs, profile, root, data_root, roots=roots, log=log, **train),
                        lambda specs: run_records(specs, runs_dir, u_background=u_background), log=log)


NOTEBOOK_WORKERS_MAX = 2  # study notebooks side by side at most (each kernel may load the dataset)


def _timed_notebook(name: str, out: Path, params: dict[str, Any]) -> float:
    """Execute one notebook (:func:`execute_notebook`) and return its seconds (a pool task)."""
    t1 = time.time()
    execute_notebook(name, out, params)
    return time.time() - t1


def _relayed(task, relay: str, name: str, out: Path, params: dict[str, Any]) -> float:
    """``task`` in a worker process with the runner's log relayed to the file ``relay``."""
    os.environ[RELAY_ENV] = relay
    return task(name, out, params)


def _execute_notebooks(jobs: list[tuple[str, str, Path, dict[str, Any]]], workers: int, log,
                       task=_timed_notebook) -> None:
    """Execute study notebooks, at most ``workers`` at a time, each in a worker process
    (:class:`himnet_lib.engine.process_pool.WorkerPool`: papermill changes the process's working directory for
    each notebook, and an interrupt stops the process, its kernel and the kernel's workers within
    seconds). Each notebook's runner log lines (the runs it trains) are shown on ``log``.

    One at a time: in order, stopping at the first failure (its exception is raised). Side by side
    (once every run is trained: then each notebook only reads run records and writes its own tables
    and figures, atomically): every notebook runs even if another fails, and the failures are raised
    together in job order. ``task(name, out, params) -> seconds`` executes one (a module-level
    function: the spawned processes import it)."""
    workers = max(1, min(int(workers), len(jobs) or 1))
    failures: dict[int, str] = {}
    relay_dir = Path(tempfile.mkdtemp(prefix="himnet-relay-"))
    relays: dict[int, Relay] = {}
    try:
        with WorkerPool(workers) as pool:
            keys: dict[int, int] = {}
            queue = list(enumerate(jobs))

            def start(i: int) -> None:
                label, name, out, params = jobs[i]
                path = relay_dir / f"{i}.log"
                path.touch()
                relays[i] = Relay(path, f"[{label}] ", log)
                keys[pool.submit(_relayed, task, str(path), name, out, params)] = i
                if workers == 1:
                    log(f"{label}: executing")

            # one at a time, a notebook starts only after the previous one succeeded
            for i, _ in (queue if workers > 1 else queue[:1]):
                start(i)
            for key, outcome, value in pool.results():
                i = keys.pop(key)
                relays.pop(i).close()
                label = jobs[i][0]
                if outcome == "ok":
                    log(f"{label}: {value:.0f}s")
                    if workers == 1 and i + 1 < len(jobs):
                        start(i + 1)
                    continue
                if workers == 1:
                    if outcome == ERROR:
                        raise value
                    raise RunError(f"{label}: worker {value}")
                failures[i] = f"{label}: {value if outcome == ERROR else 'worker ' + str(value)}"
                log(f"{label} FAILED: {failures[i].split(': ', 1)[1]}")
    finally:
        for relay in relays.values():
            relay.close()
        for p in relay_dir.iterdir():
            p.unlink(missing_ok=True)
        relay_dir.rmdir()
    if failures:
        raise RunError(f"{len(failures)} notebook(s) failed:\n" + "\n".join(failures[i] for i in sorted(failures)))
