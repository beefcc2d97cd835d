"""The Slurm executor: settings, the time limit from the profile's estimate, one job array through
submitit, and a watch of its tasks by ``squeue`` that reports every end within seconds, with or
without Slurm accounting (``sacct`` is never used). docs/cluster.md is the user's guide.

Settings are one dict (the CLI's ``--slurm-*`` options, a ``--cluster`` YAML/TOML file, a
notebook's ``slurm`` parameter) with the keys of :data:`NAMED` plus any parameter of submitit's
Slurm executor (``constraint``, ``exclude``, ``nodelist``, ``mem_per_cpu``, ``signal_delay_s``, ...);
any other key is passed to sbatch as ``--key=value``."""

from __future__ import annotations

import inspect
import math
import os
import re
import shutil
import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from himnet_lib.config.profiles import get_profile
from himnet_lib.engine.slurm_values import check_settings, format_minutes, parse_time
from himnet_lib.utils.errors import HimnetError, RunError
from himnet_lib.utils.run_folder import RunDir

NAMED = ("partition", "time", "account", "qos", "cpus_per_task", "mem", "gpus_per_task")

# Seconds per training step on a CPU, per profile, the slowest measured in float32 (docs/performance.md:
# demo step 58 ms on the AMD EPYC; paper step 7.15-7.87 s there; activitynet13's T = 60 against
# 560 scaled from it; smoke is a tiny model). The one place the time limit estimate comes from.
RUN_FIXED_S = 120.0   # a job's fixed cost: interpreter and torch start, data load, evaluation
TIME_MARGIN = 1.5     # estimate x margin = the default time limit
TIME_MIN_MINUTES = 10

POLL_S = 2.0            # squeue every this many seconds
COMPLETING_GRACE_S = 3.0  # a task completing without a result file this long has failed or was cancelled
VANISHED_GRACE_S = 15.0  # a task gone from squeue gets this long for its result file (shared filesystems)
SQUEUE_FAILING_S = 300.0  # squeue failing this long ends the wait with an error
# pending reasons that only the user can resolve: the task would wait for ever
HOPELESS = {"PartitionTimeLimit", "PartitionNodeLimit", "AccountNotAllowed", "QOSNotAllowed", "InvalidAccount",
            "InvalidQOS", "BadConstraints", "PartitionConfig", "QOSMaxWallDurationPerJobLimit",
            "AssocMaxWallDurationPerJobLimit", "DependencyNeverSatisfied", "PartitionDown"}
ACTIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
          "RESIZING", "SUSPENDED", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD", "SPECIAL_EXIT"}
RUNNING = {"RUNNING", "CONFIGURING", "COMPLETING", "SIGNALING", "STAGE_OUT"}


def _value(text: str) -> Any:
    return int(text) if text.isdigit() else text


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """``--slurm-set key=value`` items as a dict (digits become ints)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise HimnetError(f"--slurm-set {item!r}: expected key=value")
        out[key.strip().replace("-", "_")] = _value(value.strip())
    return out


def load_cluster_file(path: str | os.PathLike) -> dict[str, Any]:
    """Settings from a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file: a flat mapping."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as e:
        raise HimnetError(f"cluster file {p}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise HimnetError(f"cluster file {p}: not UTF-8 text (byte {e.start})") from None
    try:
        if p.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            import yaml
            data = yaml.safe_load(text) or {}
    except Exception as e:  # YAML and TOML parsers each raise their own error types
        raise HimnetError(f"cluster file {p}: not valid {'TOML' if p.suffix == '.toml' else 'YAML'}: "
                          f"{str(e).splitlines()[0]}") from None
    if not isinstance(data, dict) or any(isinstance(v, (dict, list)) for v in data.values()):
        raise HimnetError(f"cluster file {p}: expected a flat mapping of settings (partition: cpu, time: 60, ...)")
    out = {str(k).replace("-", "_"): v for k, v in data.items()}
    if "additional_parameters" in out:  # a flat file has no mapping to give it: its keys go in at the top
        raise HimnetError(f"cluster file {p}: setting additional_parameters: write its sbatch options as "
                          "settings of their own")
    check_settings(out, f"cluster file {p}")
    return out


def settings(cluster_file: str | os.PathLike | None = None, options: dict[str, Any] | None = None,
             extra: Sequence[str] = ()) -> dict[str, Any]:
    """The one settings dict: the cluster file, then ``extra`` (``key=value``), then the named options
    that were given (None: not given)."""
    out = load_cluster_file(cluster_file) if cluster_file else {}
    given = parse_set(extra)
    check_settings(given, "--slurm-set")
    out.update(given)
    for key, value in (options or {}).items():
        if value is not None:
            check_settings({key: value}, f"--slurm-{key.replace('_', '-')}")
            out[key] = value
    return out


def _submitit_keys() -> set[str]:
    from submitit.slurm import slurm
    return set(inspect.signature(slurm._make_sbatch_string).parameters) - {"command", "folder", "map_count"}


def estimate_minutes(profile: str, iterations: int) -> int:
    """The default time limit of one run: (iterations x the profile's ``step_seconds`` +
    :data:`RUN_FIXED_S`) x :data:`TIME_MARGIN`, at least :data:`TIME_MIN_MINUTES`."""
    step = get_profile(profile).step_seconds
    return max(TIME_MIN_MINUTES, math.ceil((iterations * step + RUN_FIXED_S) * TIME_MARGIN / 60))


def executor_parameters(cfg: dict[str, Any], *, default_minutes: int, name: str, parallelism: int,
                        threads: int | None) -> dict[str, Any]:
    """submitit SlurmExecutor parameters from settings ``cfg`` (checked: a notebook passes its own)."""
    check_settings(cfg, "slurm settings")
    cfg = dict(cfg)
    params: dict[str, Any] = {"job_name": name, "array_parallelism": max(1, parallelism)}
    params["time"] = parse_time(cfg.pop("time")) if cfg.get("time") is not None else default_minutes
    cpus = cfg.pop("cpus_per_task", None)
    if cpus is not None and threads is not None and int(cpus) != int(threads):
        raise HimnetError(f"--threads {threads} and cpus_per_task {cpus} differ: a job's torch threads are the "
                          "CPUs Slurm grants it; give one of them")
    params["cpus_per_task"] = int(cpus if cpus is not None else threads or 1)
    known = _submitit_keys()
    additional = dict(cfg.pop("additional_parameters", None) or {})
    for key, value in cfg.items():
        if key in known:
            params[key] = value
        else:
            additional[key] = value
    if additional:
        params["additional_parameters"] = additional
    return params


# --- the cluster's limits -----------------------------------------------------------------------

def _run(cmd: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def partition_limit(partition: str | None) -> tuple[str, int | None] | None:
    """(partition name, MaxTime in minutes or None for no limit) of ``partition`` or the default one;
    None where there is no scontrol to ask or no default partition. A partition Slurm does not have,
    or a controller that does not answer, is a :class:`HimnetError` (the submission would fail)."""
    try:
        p = _run(["scontrol", "show", "partition", "-o"] + ([partition] if partition else []))
    except (OSError, subprocess.SubprocessError):
        return None
    found = [f for f in (dict(x.split("=", 1) for x in line.split() if "=" in x) for line in p.stdout.splitlines())
             if "PartitionName" in f and (f["PartitionName"] == partition if partition else f.get("Default") == "YES")]
    said = " ".join((p.stderr.strip() or p.stdout.strip()).splitlines()[-1:])
    if not found and p.returncode != 0 and "not found" not in said.lower():
        raise HimnetError(f"Slurm does not answer (scontrol show partition: {said or f'exit status {p.returncode}'})")
    if not found:
        if partition is not None:
            raise HimnetError(f"Slurm has no partition {partition!r} (scontrol show partition)")
        return None
    name, max_time = found[0]["PartitionName"], found[0].get("MaxTime", "UNLIMITED")
    if max_time.upper() in ("UNLIMITED", "INFINITE", "NONE"):
        return name, None
    try:
        return name, parse_time(max_time)
    except HimnetError:
        return None


def check_time_limit(partition: str | None, minutes: int, given: bool) -> None:
    """Refuse a time limit above the partition's MaxTime (the jobs would pend for ever)."""
    limit = partition_limit(partition)
    if limit is None or limit[1] is None or minutes <= limit[1]:
        return
    where = ("--slurm-time" if given else
             "the profile's estimate (its step_seconds in himnet_lib.config.profiles; set --slurm-time)")
    raise HimnetError(f"Slurm partition {limit[0]!r} allows at most {format_minutes(limit[1])} (MaxTime) but the "
                      f"runs ask for {format_minutes(minutes)} from {where}: pass --slurm-time of at most "
                      f"{limit[1]} minutes (runs resume from their checkpoints when requeued) or another partition")


# --- one task: what runs inside a Slurm job -----------------------------------------------------

class SlurmTask:
    """The callable of each array task: names the job after the run, takes the CPUs Slurm granted
    as torch threads, claims and trains (or reuses) the run. Checkpointable: near the time limit
    submitit requeues the task, which resumes from the run's own checkpoint.pt."""

    def __init__(self, fn: Callable[..., Any], name: str, via: str):
        self.fn, self.name, self.via = fn, name, via

    def __call__(self, job: tuple) -> Any:
        spec = job[0]
        task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
        job_id = f"{task[0]}_{task[1]}" if all(task) else os.environ.get("SLURM_JOB_ID")
        if job_id and shutil.which("scontrol"):
            try:
                _run(["scontrol", "update", f"JobId={job_id}", f"JobName={self.name}-{spec.run_id}"], timeout=10)
            except (OSError, subprocess.SubprocessError):
                pass  # the name is for people reading squeue; the run does not need it
        cpus = os.environ.get("SLURM_CPUS_PER_TASK", "")
        if cpus.isdigit():
            job = (*job[:3], int(cpus), *job[4:])
        return self.fn(job, via=self.via)

    def checkpoint(self, job: tuple) -> Any:
        from submitit.helpers import DelayedSubmission
        return DelayedSubmission(self, job)


# --- submit and watch ---------------------------------------------------------------------------

@dataclass
class _Task:
    job_id: str
    run: str
    result: Path
    run_dir: Path = Path()
    state: str = "PENDING"
    vanished_at: float | None = None
    completing_since: float | None = None
    restarts: int | None = None
    done: bool = False


def _queue_states(array_ids: Sequence[str]) -> dict[str, tuple[str, str]] | None:
    """{task id: (state, reason)} of the arrays, None when squeue fails."""
    try:
        p = _run(["squeue", "-h", "-r", "-t", "all", "-j", ",".join(array_ids), "-o", "%i|%T|%r"])
    except (OSError, subprocess.SubprocessError):
        return None
    if p.returncode != 0:
        if "Invalid job id" in p.stderr:  # every job of the array left the queue
            return {}
        return None
    out = {}
    for line in p.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3:
            out[parts[0]] = (parts[1], parts[2])
    return out


def _restarts(job_id: str) -> int | None:
    """How often Slurm requeued the job (``Restarts`` of ``scontrol show job``)."""
    try:
        out = _run(["scontrol", "show", "job", "-o", job_id], timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"\bRestarts=(\d+)", out)
    return int(m[1]) if m else None


def _result(task: _Task) -> tuple[str, str] | None:
    """("success", "") or ("error", last line of the traceback) from submitit's result file."""
    if not task.result.exists():
        return None
    from submitit.core.utils import pickle_load
    try:
        outcome, value = pickle_load(task.result)
    except Exception:  # a result file being written (shared filesystems): read again at the next poll
        return None
    if outcome == "success":
        return "success", ""
    lines = [ln for ln in str(value).strip().splitlines() if ln.strip()]
    return "error", lines[-1] if lines else "failed"


def cancel(array_ids: Sequence[str], wait: bool = True) -> None:
    if not array_ids:
        return
    cmd = ["scancel", *array_ids]
    try:
        if wait:
            _run(cmd)
        else:
            subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        pass


def submit(fn: Callable[..., Any], jobs: list[tuple], *, folder: Path, cfg: dict[str, Any], name: str,
           parallelism: int, threads: int | None, default_minutes: int, via: str, log, progress) -> list[str]:
    """Submit ``jobs`` as one array, watch it to the end, return the failures ("<run>: ..." lines).
    Ctrl-C (KeyboardInterrupt) cancels the array and re-raises."""
    try:
        import submitit
    except ImportError:
        raise HimnetError("executor 'slurm' needs submitit: pip install -e '.[cluster]'") from None
    from himnet_lib.engine import process_pool
    if not shutil.which("sbatch"):
        raise HimnetError("executor 'slurm': no sbatch on PATH (run himnet on a Slurm login node)")
    params = executor_parameters(cfg, default_minutes=default_minutes, name=name, parallelism=parallelism,
                                 threads=threads)
    check_time_limit(params.get("partition"), params["time"], cfg.get("time") is not None)
    ex = submitit.SlurmExecutor(folder=str(folder / "%j"))
    ex.update_parameters(**params)
    task_fn = SlurmTask(fn, name, via)
    try:
        submitted = ex.map_array(task_fn, jobs)
    except Exception as e:  # submitit raises its own types around sbatch's message
        lines = [ln.strip() for ln in str(e).splitlines() if "error" in ln.lower()]
        raise HimnetError(f"sbatch refused the array: {lines[-1] if lines else str(e).splitlines()[0]}") from None
    arrays = sorted({j.job_id.split("_")[0] for j in submitted})
    tasks = [_Task(j.job_id, args[0].run_id, Path(j.paths.result_pickle), Path(args[2]))
             for j, args in zip(submitted, jobs)]
    (folder / arrays[0]).mkdir(parents=True, exist_ok=True)
    (folder / arrays[0] / "tasks.tsv").write_text("".join(f"{t.job_id}\t{t.run}\n" for t in tasks))
    where = params.get("partition") or "the default partition"
    progress.write(f"submitted Slurm array {', '.join(arrays)}: {len(tasks)} task(s) "
                   f"{tasks[0].job_id}..{tasks[-1].job_id} to {where}, time limit {format_minutes(params['time'])}, "
                   f"{params['cpus_per_task']} CPU(s) each; task -> run in {folder / arrays[0] / 'tasks.tsv'}")
    with process_pool.hard_exit_hook(lambda: cancel(arrays, wait=False)):
        try:
            with process_pool.sigterm_interrupts():  # a notebook kernel stopped by SIGTERM cancels too
                return _watch(tasks, arrays, log, progress)
        except BaseException:
            with process_pool.stopping():
                cancel(arrays)
                progress.write(f"cancelled Slurm array {', '.join(arrays)} (scancel)")
            raise


def _settle(t, state: str, problem: str | None, failures: list[str], progress) -> None:
    """Mark task ``t`` done in ``state``; a ``problem`` is a failure, named by run and job id."""
    t.done, t.state = True, state
    if problem is None:
        progress.write(f"job {t.job_id} (run {t.run}) finished")
    else:
        failures.append(f"{t.run}: job {t.job_id} {problem}")
        shown = "FAILED" + problem[len("failed"):] if problem.startswith("failed") else problem
        progress.write(f"job {t.job_id} (run {t.run}) {shown}")


def _watch(tasks: list[_Task], arrays: list[str], log, progress) -> list[str]:
    failures: list[str] = []
    squeue_ok = time.time()
    while True:
        states = _queue_states(arrays)
        now = time.time()
        if states is None:
            if now - squeue_ok > SQUEUE_FAILING_S:
                raise RunError(f"squeue has failed for {SQUEUE_FAILING_S:.0f}s; Slurm array(s) {', '.join(arrays)} "
                               "left running (rerun himnet reproduce to wait for them, or scancel them)")
            time.sleep(POLL_S)
            continue
        squeue_ok = now
        hopeless = []
        for t in tasks:
            if t.done:
                continue
            state, reason = states.get(t.job_id, ("", ""))
            result = _result(t)
            if result is not None and state not in RUNNING:
                ok = result[0] == "success"
                _settle(t, "COMPLETED" if ok else "FAILED", None if ok else f"failed: {result[1]}", failures, progress)
                continue
            if state == "RUNNING" and t.state != "RUNNING":
                t.restarts = _restarts(t.job_id)  # a requeue (time limit, preemption) counts up
            if state == "COMPLETING" and result is None and (_restarts(t.job_id) or 0) > (t.restarts or 0):
                state = "REQUEUED"  # being requeued: it resumes from the run's checkpoint
            if state != "COMPLETING":
                t.completing_since = None
            if state == "COMPLETING" and result is None:
                # a task writes its result before its processes end, so a task being torn down
                # without one was cancelled or failed (Slurm says which only once it is gone,
                # KillWait and more later); the run's own record settles a result file in transit
                t.completing_since = t.completing_since or now
                if now - t.completing_since > COMPLETING_GRACE_S:
                    ok = RunDir(t.run_dir).metrics_path.exists()
                    _settle(t, "COMPLETED" if ok else "ENDED",
                            None if ok else "ended without a result (cancelled or failed)", failures, progress)
                    continue
            if state in ACTIVE:
                t.state, t.vanished_at = state, None
                if state == "PENDING" and reason in HOPELESS:
                    hopeless.append((t, reason))
                continue
            if state:  # an end without a result: cancelled, failed, timed out, preempted, out of memory
                if state == "COMPLETED" and (t.vanished_at or now) + VANISHED_GRACE_S > now:
                    t.vanished_at = t.vanished_at or now  # its result file may still be on its way
                    continue
                t.done, t.state = True, state
                failures.append(f"{t.run}: job {t.job_id} {state.lower().replace('_', ' ')}")
                progress.write(f"job {t.job_id} (run {t.run}) {state}")
                continue
            t.vanished_at = t.vanished_at or now
            if now - t.vanished_at > VANISHED_GRACE_S:
                t.done, t.state = True, "LOST"
                failures.append(f"{t.run}: job {t.job_id} left the queue without a result "
                                "(cancelled, failed or lost; see its log in the submitit folder)")
                progress.write(f"job {t.job_id} (run {t.run}) left the queue without a result")
        if hopeless:
            cancel(arrays)
            t, reason = hopeless[0]
            raise RunError(f"Slurm job {t.job_id} (run {t.run}) can never start: pending with reason {reason}; "
                           f"cancelled array {', '.join(arrays)} (check --slurm-partition/--slurm-time/"
                           "--slurm-account/--slurm-qos)")
        finished = sum(t.state == "COMPLETED" for t in tasks)
        failed = sum(t.done and t.state != "COMPLETED" for t in tasks)
        running = sum(not t.done and t.state in RUNNING for t in tasks)
        pending = len(tasks) - finished - failed - running
        progress.update(finished, running, pending, failed)
        if finished + failed == len(tasks):
            return failures
        time.sleep(POLL_S)
