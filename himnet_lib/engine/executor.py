"""Training many runs: each run in worker processes (or, on request, by papermill on
``notebooks/01_train.ipynb``), skipping runs whose finished records match their settings, claiming
each run by a lock so that several processes on one results folder share the work, in parallel
locally or on Slurm (submitit). The tables built from the run records are :mod:`himnet_lib.study.tables`."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from himnet_lib.datasets import load_dataset
from himnet_lib.engine import slurm as slurm_executor
from himnet_lib.engine.migrate import stale_note
from himnet_lib.engine.notebook_exec import execute_notebook
from himnet_lib.engine.process_pool import DIED, ERROR, WorkerPool
from himnet_lib.engine.progress import Progress, stderr_log
from himnet_lib.engine.run_params import DATA_DIMENSIONS, dataset_fingerprint, same_run
from himnet_lib.study import manifest
from himnet_lib.study.grids import RunSpec, unique_runs
from himnet_lib.study.workspace import spec_data
from himnet_lib.utils.errors import HimnetError, RunError
from himnet_lib.utils.locks import holder, run_lock
from himnet_lib.utils.run_folder import RunDir, finished_metrics, read_params

__all__ = ["run_specs", "run_study_specs", "notebook_parameters", "default_threads", "TRAINED", "REUSED", "BUSY",
           "VIA"]



def _finished(run_dir: Path, spec: RunSpec, fingerprint: str | None = None) -> bool:
    """A run is done when its metrics exist and its saved settings (and, when given, the data
    fingerprint) are the spec's: a results folder reused with other data is not mistaken for done."""
    run = RunDir(run_dir)
    if not run.finished():
        return False
    try:
        saved = read_params(run.params_path)
    except RunError:
        return False  # damaged: training names it
    want = {"config": spec.config().to_dict(), "data": {"fingerprint": fingerprint}}
    return (not same_run(saved, want, ignore=DATA_DIMENSIONS)  # dimensions come from the data
            and finished_metrics(run_dir, saved.get("identity")) is not None)  # a valid record of this run


def notebook_parameters(spec: RunSpec, data_root: Path, run_dir: Path, threads: int) -> dict[str, Any]:
    """01_train's parameters for ``spec``: its whole config (``RunConfig.to_dict()``, which the
    notebook rebuilds with ``RunConfig.from_dict``), the data and the run folder."""
    return {"profile": spec.profile, "config": spec.config().to_dict(), "data_root": str(data_root),
            "out_dir": str(run_dir), "threads": int(threads),
            # figures cost seconds per run; draw them for the first seed (the one reproduce shows)
            "show_figures": spec.seed == 0}


# Every run is claimed by an OS lock in its run directory (himnet_lib.utils.locks) before it is checked
# and trained, so several processes (two `himnet reproduce` on one results folder, a notebook and a
# reproduce, Slurm jobs) share the work instead of doing it twice:
#   1. first pass: each free run is claimed without waiting; a run held by another process is skipped;
#   2. second pass: wait for each skipped run's lock; when it comes free the run is re-checked and
#      reused if the other process finished it, or trained (resumed from its checkpoint) if the
#      other process died first. The kernel releases a dead process's lock, so none is ever stale.

TRAINED, REUSED, BUSY = "trained", "reused", "busy"
VIA = ("process", "notebook")

_worker_datasets: dict[tuple[str, float], Any] = {}


def _worker_init(threads: int) -> None:
    """Start of a training worker process (spawned: a fresh interpreter, nothing inherited)."""
    os.environ["TQDM_DISABLE"] = "1"
    import torch
    torch.set_num_threads(max(1, int(threads)))


def _train_in_process(spec: RunSpec, data_root: str, run_dir: Path, threads: int) -> None:
    """Train ``spec`` in this process by :func:`himnet_lib.engine.train.train_run`; the dataset is loaded
    once per worker process and reused by its next runs."""
    from himnet_lib.engine.train import train_run  # here, in the worker: a notebook that only reads loads no torch
    cfg = spec.config()
    key = (str(data_root), float(cfg.snippet_seconds))
    if key not in _worker_datasets:
        _worker_datasets.clear()  # one dataset at a time (a study's jobs come grouped by dataset)
        _worker_datasets[key] = load_dataset(data_root, snippet_seconds=cfg.snippet_seconds)
    train_run(cfg, _worker_datasets[key], run_dir, num_threads=threads, progress=False)


def _note_training(run_dir: Path, via: str, resumed: bool, seconds: float) -> None:
    """Append one line to ``<run_dir>/runner.log`` (written while the run's lock is held)."""
    line = (f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {TRAINED} host={socket.gethostname()} pid={os.getpid()} "
            f"via={via} resumed={'yes' if resumed else 'no'} seconds={seconds:.1f}\n")
    with open(RunDir(run_dir).file(RunDir.RUNNER_LOG), "a") as f:
        f.write(line)


def _claim_and_train(job: tuple, wait: bool, via: str) -> str:
    """Claim the run of ``job`` (waiting for it when ``wait``, else giving up at once with BUSY),
    then reuse it if it is finished (REUSED) or train it (TRAINED). The claim lives as long as this
    call (or this process, whichever ends first)."""
    spec, data_root, run_dir, threads, fingerprint = job
    run_dir_p = Path(run_dir)
    lock = run_lock(run_dir_p)
    if wait:
        lock.acquire()
    elif not lock.try_acquire():
        return BUSY
    try:
        if _finished(run_dir_p, spec, fingerprint):
            return REUSED
        resumed = RunDir(run_dir_p).checkpoint_path.exists()
        t0 = time.time()
        if via == "notebook":
            params = notebook_parameters(spec, Path(data_root), run_dir_p, threads)
            execute_notebook(manifest.notebook_file(manifest.TRAIN_NOTEBOOK), RunDir(run_dir_p).file(RunDir.EXECUTED),
                             params)
        else:
            _train_in_process(spec, data_root, run_dir_p, threads)
        if not RunDir(run_dir_p).metrics_path.exists():
            raise RunError(f"run {spec.run_id} ({spec.table} {spec.label}, seed {spec.seed}) "
                           "ended without metrics.json")
        _note_training(run_dir_p, via, resumed, time.time() - t0)
        return TRAINED
    finally:
        lock.release()


def _run_one(args: tuple[RunSpec, str, str, int, str | None], via: str = "notebook") -> str:
    """One run, start to end (a Slurm array task): wait for its claim, then reuse or train it."""
    _claim_and_train(args, True, via)
    return args[2]


def _what(spec: RunSpec) -> str:
    return f"{spec.run_id} ({spec.table} {spec.label}, seed {spec.seed})"


def _local(jobs: list[tuple], *, via: str, workers: int, threads: int, log, t0: float,
           progress: Progress | None = None) -> tuple[list[str], dict]:
    """Train ``jobs`` on this machine in two passes (free runs first, then those others held), in
    worker processes (:class:`himnet_lib.engine.process_pool.WorkerPool`: an interrupt stops them within
    seconds, a worker killed from outside fails only its own run). ``via="notebook"``: each worker
    drives one papermill kernel per run."""
    failures: list[str] = []
    counts = {TRAINED: 0, REUSED: 0}
    if not jobs:
        return failures, counts
    n = len(jobs)
    done = 0
    progress = progress or Progress(n, "runs", log)
    with WorkerPool(min(max(1, workers), n), init=_worker_init, initargs=(threads,)) as pool:
        pending = {pool.submit(_claim_and_train, j, False, via): (j, False) for j in jobs}
        first_pass, held = n, 0
        for key, outcome, value in pool.results(poll=1.0):
            if key >= 0:
                job, waited = pending.pop(key)
                spec = job[0]
                first_pass -= not waited
                if outcome in (ERROR, DIED):  # report every failure at the end, keep the others going
                    done += 1
                    why = f"worker {value} while training it" if outcome == DIED else str(value)
                    failures.append(f"{spec.run_id}: {why}")
                    progress.write(f"[{done}/{n}] {spec.run_id} FAILED: {why}")
                elif value == BUSY:
                    who = holder(run_lock(Path(job[2])).path)
                    progress.write(f"{_what(spec)} is being trained by another process ({who or 'unknown'}); "
                                   "will wait for it after the free runs")
                    pending[pool.submit(_claim_and_train, job, True, via)] = (job, True)
                    held += 1
                else:
                    done += 1
                    counts[value] += 1
                    progress.write(f"[{done}/{n}] {_what(spec)} "
                                   f"{'done' if value == TRAINED else 'finished by another process, reused'}, "
                                   f"{time.time() - t0:.0f}s elapsed")
                if first_pass == 0 and held and not waited:
                    progress.write(f"waiting for {held} run(s) held by other processes")
            running = len(pool.running())
            progress.update(done - len(failures), running, n - done - running, len(failures))
    progress.close()
    return failures, counts


def default_threads(workers: int) -> int:
    """Torch threads per training worker: ``$OMP_NUM_THREADS`` when set (the usual way to cap a
    process's threads, e.g. on a shared machine), else the cores divided among the workers."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def run_specs(specs: Sequence[RunSpec], data_root: str | os.PathLike, runs_dir: str | os.PathLike, *,
              workers: int = 1, executor: str = "local", threads: int | None = None,
              log=None, slurm: dict[str, Any] | None = None, via: str = "process", name: str = "") -> list[Path]:
    """Train every spec not yet finished (shared runs once) and return their run dirs in spec order.

    ``executor="local"`` trains ``workers`` runs at once on this machine: ``via="process"`` (default)
    in worker processes calling :func:`himnet_lib.engine.train.train_run` directly, ``via="notebook"`` by
    executing ``notebooks/01_train.ipynb`` with papermill for each run (a kernel start per run, and
    an executed notebook ``<run_dir>/executed.ipynb`` to read). ``executor="slurm"`` submits one Slurm
    job array through submitit (``pip install .[cluster]``), ``workers`` tasks at once, with
    ``slurm`` the settings (:mod:`himnet_lib.engine.slurm`: partition, time, account, qos, cpus_per_task,
    mem, gpus_per_task, any other sbatch parameter; docs/cluster.md); jobs are named
    ``himnet-<name or profile>-<run id>``. Each end (finished, failed, cancelled, timed out,
    preempted) is reported within seconds, without Slurm accounting; an interrupt cancels the array.

    Safe between processes: each run is claimed by a lock in its directory, so several processes on
    one results folder train each run once and reuse each other's (see the comment above). Every
    training appends a line to ``<run_dir>/runner.log``.

    ``threads``: torch threads per run (default :func:`default_threads`). The worker processes are
    spawned (fresh interpreters), so a script that calls this at top level needs the usual
    ``if __name__ == "__main__":`` guard; notebooks, the ``himnet`` command and pytest need nothing.
    """
    _train_groups([(specs, data_root)], runs_dir, workers=workers, executor=executor, threads=threads, log=log,
                  slurm=slurm, via=via, name=name)
    return [Path(runs_dir) / s.run_id for s in specs]


def _train_groups(groups: Sequence[tuple[Sequence[RunSpec], str | os.PathLike]], runs_dir: str | os.PathLike, *,
                  workers: int = 1, executor: str = "local", threads: int | None = None, log=None,
                  slurm: dict[str, Any] | None = None, via: str = "process", name: str = "") -> None:
    """:func:`run_specs` for several (specs, dataset root) groups in ONE pool of workers: no pool
    start and no idle tail per group. Jobs are queued group by group, so that a worker (which
    keeps one dataset loaded) switches datasets about once."""
    log = log or stderr_log
    if via not in VIA:
        raise HimnetError(f"unknown via {via!r} (one of {', '.join(VIA)})")
    if executor not in ("local", "slurm"):
        raise HimnetError(f"unknown executor {executor!r} (local or slurm)")
    runs_dir = Path(runs_dir)
    asked_threads = threads
    threads = threads or default_threads(workers)
    n_unique, jobs = 0, []
    for specs, data_root in groups:
        unique = unique_runs(specs)
        if not unique:
            continue
        n_unique += len(unique)
        fingerprint = dataset_fingerprint(load_dataset(data_root, snippet_seconds=unique[0].config().snippet_seconds))
        jobs += [(s, str(Path(data_root).resolve()), str((runs_dir / s.run_id).resolve()), threads, fingerprint)
                 for s in unique if not _finished(runs_dir / s.run_id, s, fingerprint)]
    how = (f"{workers} worker(s), {threads} thread(s) each" if executor == "local"
           else f"up to {workers} job(s) at once, torch threads = the CPUs each job is granted")
    if jobs and (note := stale_note(runs_dir)):
        log(note)
    log(f"{n_unique} distinct runs, {n_unique - len(jobs)} already finished, {len(jobs)} to train "
        f"({executor}, via {via}, {how})")
    failures: list[str] = []
    t0 = time.time()
    if executor == "local":
        failures, counts = _local(jobs, via=via, workers=workers, threads=threads, log=log, t0=t0)
        if jobs:
            log(f"trained {counts[TRAINED]} run(s), reused {counts[REUSED]} finished by other processes, "
                f"{len(failures)} failed, in {time.time() - t0:.0f}s")
    elif jobs:
        profile = jobs[0][0].profile
        minutes = max(slurm_executor.estimate_minutes(j[0].profile, int(j[0].config().train.iterations))
                      for j in jobs)
        progress = Progress(len(jobs), "slurm jobs", log)
        try:
            failures = slurm_executor.submit(_run_one, jobs, folder=runs_dir / "_slurm", cfg=dict(slurm or {}),
                                             name=f"himnet-{name or profile}", parallelism=workers,
                                             threads=asked_threads, default_minutes=minutes, via=via, log=log,
                                             progress=progress)
        finally:
            progress.close()
        log(f"Slurm: {len(jobs) - len(failures)} run(s) finished, {len(failures)} failed, "
            f"in {time.time() - t0:.0f}s")
    if failures:
        raise RunError(f"{len(failures)} run(s) failed:\n  " + "\n  ".join(failures))


def run_study_specs(specs: Sequence[RunSpec], profile: str, results: Path, data_root: str | os.PathLike | None = None,
                    roots: Mapping[str, str | os.PathLike] | None = None, **kwargs) -> dict[str, Path]:
    """:func:`run_specs` for specs on several benchmarks, all in one pool of workers, each with its
    dataset root (:func:`himnet_lib.study.workspace.spec_data`: the user's ``data_root`` for the main
    benchmark; ``roots`` gives the roots of draw 0 already made ready, by benchmark). Returns
    {benchmark: root of draw 0} for the benchmarks of ``specs``."""
    by_root: dict[Path, list[RunSpec]] = {}
    ready: dict[str, Path] = {}
    for s in specs:  # one dataset per benchmark, or per benchmark and seed (the profile's data_draws)
        root = spec_data(s, data_root, results, roots)
        by_root.setdefault(root, []).append(s)
        if s.draw == 0:
            ready.setdefault(s.benchmark, root)
    _train_groups([(group, root) for root, group in by_root.items()], results / "runs", **kwargs)
    return ready
