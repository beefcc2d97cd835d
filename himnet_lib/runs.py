"""Run many trainings: train each run in worker processes (or, on request, by papermill on
``notebooks/01_train.ipynb``), skip runs whose finished records match their settings, claim each run
by a lock so that several processes on one results folder share the work, run in parallel locally
or on Slurm (submitit). The tables built from the run records are :mod:`himnet_lib.tables`."""

from __future__ import annotations

import os
import re
import secrets
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Sequence

from . import registry, study
from . import slurm as slurm_executor
from .data import load_dataset
from .data.synthetic import make_synthetic
from .errors import HimnetError, RunError
from .io import atomic_write_text
from .locks import FileLock, holder, run_lock
from .paths import notebooks_dir, results_dir
from .progress import RELAY_ENV, Progress, Relay, stderr_log
from .records import DATA_DIMENSIONS, dataset_fingerprint, same_run
from .registry import STUDY, study_notebooks
from .rundir import RunDir, finished_metrics, read_record
from .study import RunSpec, benchmarks, unique_runs
from .train import train_run
from .workers import DIED, ERROR, WorkerPool

SYNTHETIC_PROFILES = {"smoke": "smoke", "demo": "demo"}
TRAIN_NOTEBOOK = "01_train.ipynb"
STUDY_NOTEBOOKS = study_notebooks()   # himnet_lib.registry is the one list


def results_root(profile: str, results: str | os.PathLike | None = None) -> Path:
    return Path(results) if results else results_dir() / profile


def ensure_data(profile: str, data_root: str | os.PathLike | None, results: Path, seed: int = 0,
                benchmark: str = "") -> Path:
    """The dataset root for a study: the user's, or the synthetic preset of ``profile`` (or the
    given ``benchmark`` preset, see :data:`himnet_lib.study.BENCHMARKS`) generated once under
    ``<results>/data`` (deterministic, so regenerating gives the same files)."""
    main = benchmarks(profile)[0]
    if data_root and benchmark in ("", main):
        return Path(data_root)
    if profile not in SYNTHETIC_PROFILES:
        raise HimnetError(f"profile {profile!r} needs real data: pass --data ROOT "
                          "(see README: THUMOS14 / ActivityNet 1.3 features)")
    preset = benchmark or SYNTHETIC_PROFILES[profile]
    out = results / "data" / f"synthetic-{preset}-seed{seed}"
    if not out.exists():
        # one process generates it, the others wait and reuse it (make_synthetic replaces an
        # existing benchmark, which would pull it from under a process already reading it)
        with FileLock(out.with_name(f".{out.name}.lock")):
            if not out.exists():
                make_synthetic(preset, seed=seed, out=out)
    return out


def _finished(run_dir: Path, spec: RunSpec, fingerprint: str | None = None) -> bool:
    """A run is done when its metrics exist and its saved settings (and, when given, the data
    fingerprint) are the spec's: a results folder reused with other data is not mistaken for done."""
    run = RunDir(run_dir)
    if not run.finished():
        return False
    try:
        saved = read_record(run.params_path)
    except RunError:
        return False  # damaged: training names it
    want = {"config": spec.config().to_dict(), "data": {"fingerprint": fingerprint}}
    return (not same_run(saved, want, ignore=DATA_DIMENSIONS)  # dimensions come from the data
            and finished_metrics(run_dir, saved.get("identity")) is not None)  # a valid record of this run


def notebook_parameters(spec: RunSpec, data_root: Path, run_dir: Path, threads: int) -> dict[str, Any]:
    """01_train's parameters for ``spec`` (its config resolves to exactly ``spec.config()``)."""
    cfg = spec.config()
    rest = {k: v for k, v in spec.overrides_dict().items() if k not in ("loss.terms", "loss.alpha")}
    return {"profile": spec.profile, "data_root": str(data_root), "losses": ",".join(cfg.loss.terms),
            "alpha": float(cfg.loss.alpha), "seed": spec.seed, "iterations": int(cfg.train.iterations),
            "overrides": rest, "out_dir": str(run_dir), "threads": int(threads),
            # figures cost seconds per run; draw them for the first seed (the one reproduce shows)
            "show_figures": spec.seed == 0}


_env_lock = threading.Lock()
_env_users = 0
_env_saved: str | None = None


@contextmanager
def _tqdm_disabled():
    """TQDM_DISABLE=1 while any notebook of this process runs (papermill passes the environment on
    to the kernel); counted, so that notebooks executed by several threads at once leave it right."""
    global _env_users, _env_saved
    with _env_lock:
        if _env_users == 0:
            _env_saved = os.environ.get("TQDM_DISABLE")
            os.environ["TQDM_DISABLE"] = "1"
        _env_users += 1
    try:
        yield
    finally:
        with _env_lock:
            _env_users -= 1
            if _env_users == 0:
                if _env_saved is None:
                    os.environ.pop("TQDM_DISABLE", None)
                else:
                    os.environ["TQDM_DISABLE"] = _env_saved


def _private_name(path: Path, tag: str) -> Path:
    """A temporary sibling of ``path`` that no other process or thread uses (host, pid, random suffix)."""
    return path.with_name(f".{path.name}.{tag}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}.ipynb")


def _remove_stale(path: Path, tag: str) -> None:
    """Remove temporary siblings of ``path`` left by killed processes of this host."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.{tag}-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{{8}}\.ipynb$")
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return
    for p in siblings:
        m = pattern.match(p.name)
        if not m or m["host"] != socket.gethostname() or int(m["pid"]) == os.getpid():
            continue
        try:
            os.kill(int(m["pid"]), 0)
        except ProcessLookupError:
            p.unlink(missing_ok=True)
        except PermissionError:  # another user's live process
            pass


def execute_notebook(name: str, out_path: Path, parameters: dict[str, Any], *,
                     cell_timeout: float | None = None) -> Path:
    """Execute ``notebooks/<name>`` by papermill into ``out_path``; volatile metadata is scrubbed.

    ``cell_timeout``: seconds a cell may run (None: no limit, as a study cell may train for an
    hour); the tests set one, so that a hung kernel connection fails the test instead of the CI job.

    The notebook is executed into a temporary file private to this process and call, then renamed
    over ``out_path``: two processes executing the same notebook never write the same file, and
    ``out_path`` is always a complete notebook (the last one to finish wins). The temporary file
    never outlives the call: a failed notebook is kept as ``<name>.failed.ipynb`` beside
    ``out_path`` (replaced by the next failure, removed by the next success), an interrupted one is
    removed, and those of killed processes are removed by the next call."""
    import papermill as pm

    from himnet_lib.kernels import LocalKernelManager
    src = notebooks_dir() / name
    if not src.suffix:
        src = src.with_suffix(".ipynb")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out_path, "running")
    tmp = _private_name(out_path, "running")
    failed = out_path.with_name(out_path.stem + ".failed.ipynb")
    try:
        try:
            with _tqdm_disabled():
                pm.execute_notebook(str(src), str(tmp), parameters=parameters, cwd=str(notebooks_dir()),
                                    kernel_name="python3", progress_bar=False, log_output=False,
                                    execution_timeout=cell_timeout, kernel_manager_class=LocalKernelManager)
        except Exception as e:  # papermill raises its own types; keep the partial notebook for the user
            kept = ""
            if tmp.exists():
                os.replace(tmp, failed)
                kept = f" (partial output in {failed})"
            raise RunError(f"notebook {src.name} failed{kept}: {e}") from e
        _scrub_notebook(tmp, out_path)
        os.replace(tmp, out_path)
        failed.unlink(missing_ok=True)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def _scrub_notebook(path: Path, final: Path | None = None) -> None:
    """Drop timestamps and durations, name the final output path instead of the private temporary
    one, and give papermill's injected cell a fixed id, so that reruns of the same study differ only
    in real changes."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    nb.metadata.get("papermill", {}).pop("start_time", None)
    nb.metadata.get("papermill", {}).pop("end_time", None)
    nb.metadata.get("papermill", {}).pop("duration", None)
    if final is not None and "papermill" in nb.metadata:
        nb.metadata["papermill"]["output_path"] = str(final)
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"
        pmeta = cell.metadata.get("papermill")
        if pmeta:
            for k in ("start_time", "end_time", "duration"):
                pmeta.pop(k, None)
        cell.metadata.pop("execution", None)
    atomic_write_text(path, nbformat.writes(nb))


# --- training the runs ---------------------------------------------------------------------------
#
# Every run is claimed by an OS lock in its run directory (himnet_lib.locks) before it is checked
# and trained, so several processes (two `himnet reproduce` on one results folder, a notebook and a
# reproduce, Slurm jobs) share the work instead of doing it twice:
#   1. first pass: each free run is claimed without waiting; a run held by another process is skipped;
#   2. second pass: wait for each skipped run's lock; when it comes free the run is re-checked and
#      reused if the other process finished it, or trained (resumed from its checkpoint) if the
#      other process died first. The kernel releases a dead process's lock, so none is ever stale.

TRAINED, REUSED, BUSY = "trained", "reused", "busy"
VIA = ("process", "notebook")
RUNNER_LOG = "runner.log"  # one line per training of the run: who, when, how long

_worker_datasets: dict[tuple[str, float], Any] = {}


def _worker_init(threads: int) -> None:
    """Start of a training worker process (spawned: a fresh interpreter, nothing inherited)."""
    os.environ["TQDM_DISABLE"] = "1"
    import torch
    torch.set_num_threads(max(1, int(threads)))


def _train_in_process(spec: RunSpec, data_root: str, run_dir: Path, threads: int) -> None:
    """Train ``spec`` in this process by :func:`himnet_lib.train.train_run`; the dataset is loaded
    once per worker process and reused by its next runs."""
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
    with open(run_dir / RUNNER_LOG, "a") as f:
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
            execute_notebook(TRAIN_NOTEBOOK, run_dir_p / "executed.ipynb", params)
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
    worker processes (:class:`himnet_lib.workers.WorkerPool`: an interrupt stops them within
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
    in worker processes calling :func:`himnet_lib.train.train_run` directly, ``via="notebook"`` by
    executing ``notebooks/01_train.ipynb`` with papermill for each run (a kernel start per run, and
    an executed notebook ``<run_dir>/executed.ipynb`` to read). ``executor="slurm"`` submits one Slurm
    job array through submitit (``pip install .[cluster]``), ``workers`` tasks at once, with
    ``slurm`` the settings (:mod:`himnet_lib.slurm`: partition, time, account, qos, cpus_per_task,
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


# --- the one command ----------------------------------------------------------------------------

def all_study_specs(profile: str, seeds: int, seeds_other: int | None = None,
                    reading: str | None = None) -> list[RunSpec]:
    """Every run of every study notebook (:func:`himnet_lib.registry.study_specs`): Table 3 rows
    with ``seeds``, the others ``seeds_other``."""
    return registry.study_specs(profile, seeds, seeds if seeds_other is None else seeds_other, reading)


def reproduce(profile: str, *, data_root: str | None = None, seeds: int = 5, seeds_other: int = 3,
              workers: int = 2, executor: str = "local", results: str | None = None,
              notebooks: Sequence[str] | None = None, reading: str | None = None, log=None,
              threads: int | None = None, via: str = "process", slurm: dict[str, Any] | None = None) -> Path:
    """Regenerate every table and figure: train all runs (shared ones once, in parallel), then
    execute the study notebooks (two at a time for the whole study on this machine, else in order),
    writing ``results/<profile>/{tables,figures,notebooks}``.
    Table 3's rows get ``seeds`` seeds, every other row ``seeds_other`` (at most ``seeds``).
    ``threads``, ``via`` and ``slurm`` (:func:`run_specs`) apply to the runs a notebook trains too:
    they are passed to each notebook, whose runner's log lines are shown on this process's log."""
    log = log or stderr_log
    t0 = time.time()
    seeds_other = min(seeds_other, seeds)
    root = results_root(profile, results)
    data = ensure_data(profile, data_root, root)
    log(f"data: {data}")
    runs_dir = root / "runs"
    if not notebooks:
        # the whole study: train every run first, all tables' runs in one parallel pool; with a
        # subset of notebooks, each notebook trains (or reuses) just its own runs
        specs = all_study_specs(profile, seeds, seeds_other, reading)
        run_study_specs(specs, profile, root, data_root, workers=workers, executor=executor, log=log,
                        threads=threads, via=via, slurm=slurm)
    names = list(notebooks) if notebooks else list(STUDY_NOTEBOOKS)
    jobs: list[tuple[str, str, Path, dict[str, Any]]] = []
    for name in names:
        if not (notebooks_dir() / f"{name}.ipynb").exists():
            log(f"skipping {name}: notebook not present")
            continue
        kind = {e.notebook: e.seeds for e in STUDY}.get(name, "other")
        params = {"profile": profile, "data_root": str(data), "workers": workers, "results_dir": str(root),
                  "executor": executor, "reading": reading or "",
                  "seeds": seeds_other if kind == "other" else seeds,
                  "slurm": dict(slurm or {}), "threads": int(threads or 0), "via": via}
        if kind == "both":
            params["seeds_other"] = seeds_other
        jobs.append((name, f"{name}.ipynb", root / "notebooks" / f"{name}.ipynb", params))
    # 01_train for the full model (first seed): the unit of work, shown with its outputs. Executed
    # on the finished run (train_run reuses it), so it costs a kernel start, not a training.
    full = [s for s in study.table1_specs(profile, 1, reading) if s.label == "HiM-Net"][0]
    jobs.append(("01_train", TRAIN_NOTEBOOK, root / "notebooks" / TRAIN_NOTEBOOK,
                 notebook_parameters(full, data.resolve(), (runs_dir / full.run_id).resolve(), threads=1)))
    # side by side only once every run is trained (a notebook given alone trains its own runs with
    # ``workers`` processes; several at once would oversubscribe the cores), on this machine, and
    # at most NOTEBOOK_WORKERS_MAX (with Slurm, ``workers`` is the array's parallelism, not cores)
    side_by_side = not notebooks and executor == "local"
    _execute_notebooks(jobs, min(workers, NOTEBOOK_WORKERS_MAX) if side_by_side else 1, log)
    log(f"reproduce {profile}: done in {time.time() - t0:.0f}s -> {root}")
    return root


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
    (:class:`himnet_lib.workers.WorkerPool`: papermill changes the process's working directory for
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


def run_study_specs(specs: Sequence[RunSpec], profile: str, results: Path, data_root: str | os.PathLike | None = None,
                    **kwargs) -> dict[str, Path]:
    """:func:`run_specs` for specs on several benchmarks, all in one pool of workers, each with its
    dataset root (the user's ``data_root`` for the main benchmark). Returns {benchmark: data root}."""
    groups: dict[str, list[RunSpec]] = {}
    for s in specs:
        groups.setdefault(s.benchmark, []).append(s)
    roots = {bench: ensure_data(profile, data_root, results, benchmark=bench) for bench in groups}
    by_root: dict[Path, list[RunSpec]] = {}  # "" and the main benchmark's name share one root
    for bench, group in groups.items():
        by_root.setdefault(Path(roots[bench]), []).extend(group)
    _train_groups([(group, root) for root, group in by_root.items()], results / "runs", **kwargs)
    return roots
