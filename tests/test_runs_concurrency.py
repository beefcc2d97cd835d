"""The runner between processes: run claims (flock in the run directory), waiting for runs other
processes hold, resuming a run whose holder died, private temporary notebook names, and two
``himnet reproduce`` on one results folder training each run exactly once.

"Trained exactly once" is read from ``<run_dir>/runner.log``: the runner appends one line per
training of a run, while it holds the run's lock, after metrics.json exists (a run reused from
another process, or skipped as finished, adds none). Counting those lines is independent of timing
and of which process won which run, unlike mtimes or wall times.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from child_env import child_env

from himnet_lib.engine import executor, notebook_exec
from himnet_lib.engine.train import train_run
from himnet_lib.study import grids
from himnet_lib.utils import locks
from himnet_lib.utils.run_folder import RunDir

WORKTREE = Path(executor.__file__).resolve().parents[1]


def _env(tmp: Path) -> dict:
    """Environment for child processes: this checkout's himnet_lib first, Jupyter state in ``tmp``."""
    return child_env(tmp)


def _trainings(run_dir: Path) -> list[str]:
    log = run_dir / RunDir.RUNNER_LOG
    return log.read_text().splitlines() if log.exists() else []


# --- the lock ----------------------------------------------------------------------------------------

def test_lock_excludes_other_opens_and_is_released(tmp_path):
    a, b = locks.run_lock(tmp_path / "run"), locks.run_lock(tmp_path / "run")
    assert a.try_acquire() and a.held
    assert not b.try_acquire() and not b.held  # another open file: refused at once
    assert f"pid={os.getpid()}" in locks.holder(a.path)
    a.release()
    assert b.try_acquire()
    b.release()
    with locks.FileLock(tmp_path / "x.lock"):
        assert not locks.FileLock(tmp_path / "x.lock").try_acquire()
    assert locks.FileLock(tmp_path / "x.lock").try_acquire()


def test_lock_of_a_killed_process_is_released(tmp_path):
    path = tmp_path / "run" / ".lock"
    code = ("import sys, time; from himnet_lib.utils import locks; l = locks.FileLock(sys.argv[1]); "
            "assert l.try_acquire(); print('held', flush=True); time.sleep(120)")
    p = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True,
                         env=_env(tmp_path))
    try:
        assert p.stdout.readline().strip() == "held"
        assert not locks.FileLock(path).try_acquire()
        p.send_signal(signal.SIGKILL)  # no cleanup code runs: the kernel releases the flock
        p.wait(timeout=30)
        assert locks.FileLock(path).try_acquire()
    finally:
        p.kill()
        p.wait()


def test_private_notebook_names_differ(tmp_path):
    out = tmp_path / "02_ablation_table3.ipynb"
    names = {notebook_exec._private_name(out, "running") for _ in range(20)}
    assert len(names) == 20
    assert all(n.parent == tmp_path and n.name.startswith(".02_ablation_table3.ipynb.running-")
               and f"-{os.getpid()}-" in n.name for n in names)


# --- run_specs with runs held by another holder ---------------------------------------------------

class _Background:
    """run_specs in a thread, its log lines collected, so the test can act while it waits."""

    def __init__(self, *args, **kwargs):
        self.lines: list[str] = []
        self.error: BaseException | None = None
        self.result = None
        self._t = threading.Thread(target=self._run, args=args, kwargs=kwargs, daemon=True)
        self._t.start()

    def _run(self, *args, **kwargs):
        try:
            self.result = executor.run_specs(*args, log=self.lines.append, **kwargs)
        except BaseException as e:  # re-raised in join
            self.error = e

    def wait_for(self, text: str, timeout: float = 90) -> None:
        end = time.time() + timeout
        while not any(text in line for line in self.lines):
            assert self._t.is_alive() or any(text in line for line in self.lines), self.lines
            assert time.time() < end, f"no log line with {text!r}: {self.lines}"
            time.sleep(0.05)

    def join(self, timeout: float = 120):
        self._t.join(timeout)
        assert not self._t.is_alive(), self.lines
        if self.error:
            raise self.error
        return self.result


def test_busy_run_is_skipped_then_reused_when_its_holder_finishes(smoke_root, tmp_path):
    held, free = grids.table3_specs("smoke", 1)[:2]
    runs_dir = tmp_path / "runs"
    lock = locks.run_lock(runs_dir / held.run_id)
    assert lock.try_acquire()  # "another process" (another open file) trains `held`
    bg = _Background([held, free], smoke_root, runs_dir, workers=1, threads=1)
    bg.wait_for(f"{held.run_id} (table3 Exp 1, seed 0) is being trained by another process")
    bg.wait_for("waiting for 1 run(s) held by other processes")  # the free run first, then the wait
    assert (runs_dir / free.run_id / "metrics.json").exists()
    train_run(held.config(), smoke_root, runs_dir / held.run_id, num_threads=1, progress=False, log=lambda s: None)
    lock.release()
    assert bg.join() == [runs_dir / held.run_id, runs_dir / free.run_id]
    assert any("finished by another process, reused" in line for line in bg.lines)
    assert _trainings(runs_dir / held.run_id) == []  # trained by its holder, not by the runner
    assert len(_trainings(runs_dir / free.run_id)) == 1


def test_run_of_a_dead_holder_is_resumed_and_matches_an_uninterrupted_run(smoke_root, tmp_path):
    spec = grids.table3_specs("smoke", 1)[3]  # the full model
    runs_dir = tmp_path / "runs"
    run_dir = runs_dir / spec.run_id
    # a holder that trains part of the run, then hangs (as if stuck) until it is killed
    code = ("import sys, time\n"
            "from himnet_lib.utils import locks\nfrom himnet_lib.study import grids as study\n"
            "from himnet_lib.engine.train import train_run\n"
            "spec = study.table3_specs('smoke', 1)[3]\n"
            "lock = locks.run_lock(sys.argv[2]); assert lock.try_acquire()\n"
            "train_run(spec.config(), sys.argv[1], sys.argv[2], num_threads=1, progress=False, stop_after=10,"
            " log=lambda s: None)\n"
            "print('partial', flush=True); time.sleep(120)\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(smoke_root), str(run_dir)], stdout=subprocess.PIPE,
                         text=True, env=_env(tmp_path))
    try:
        assert p.stdout.readline().strip() == "partial"
        assert (run_dir / "checkpoint.pt").exists() and not (run_dir / "metrics.json").exists()
        bg = _Background([spec], smoke_root, runs_dir, workers=1, threads=1)
        bg.wait_for("waiting for 1 run(s) held by other processes")
        p.send_signal(signal.SIGKILL)
        bg.join()
    finally:
        p.kill()
        p.wait()
    (line,) = _trainings(run_dir)
    assert " trained " in line and "via=process" in line and "resumed=yes" in line
    whole = tmp_path / "whole"
    train_run(spec.config(), smoke_root, whole, num_threads=1, progress=False, log=lambda s: None)
    got, want = (json.loads((d / "metrics.json").read_text()) for d in (run_dir, whole))
    for m in (got, want):
        m.pop("wall_time_s")
    assert got == want


@pytest.mark.notebooks
def test_in_process_and_notebook_runs_agree(smoke_root, tmp_path, monkeypatch):
    for var in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        monkeypatch.setenv(var, _env(tmp_path)[var])
    spec = grids.table4_specs("smoke", 2)[-3]  # a non-default setting, seed 1 (no figures)
    a, b = tmp_path / "process", tmp_path / "notebook"
    executor.run_specs([spec], smoke_root, a, threads=1, log=lambda s: None)
    executor.run_specs([spec], smoke_root, b, threads=1, via="notebook", log=lambda s: None)
    assert not (a / spec.run_id / "executed.ipynb").exists() and (b / spec.run_id / "executed.ipynb").exists()
    assert "via=process" in _trainings(a / spec.run_id)[0] and "via=notebook" in _trainings(b / spec.run_id)[0]
    got, want = (json.loads((d / spec.run_id / "metrics.json").read_text()) for d in (a, b))
    for m in (got, want):
        m.pop("wall_time_s")
    assert got == want
    assert not list(b.glob(f"{spec.run_id}/.*running*"))


# --- two reproduces on one results folder -----------------------------------------------------------

def _reproduce(results: Path, tmp: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "himnet_lib", "reproduce", "--profile", "smoke", "--seeds", "1",
           "--workers", "1", "--results", str(results), "--notebooks", "02_ablation_table3"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(tmp),
                            cwd=tmp)


@pytest.mark.slow
@pytest.mark.notebooks
def test_two_reproduces_on_one_folder_train_each_run_once(tmp_path):
    pytest.importorskip("papermill")
    shared, alone = tmp_path / "shared", tmp_path / "alone"
    procs = [_reproduce(shared, tmp_path), _reproduce(shared, tmp_path), _reproduce(alone, tmp_path)]
    outs = []
    for p in procs:
        out, _ = p.communicate(timeout=600)
        outs.append(out)
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out

    # with --notebooks, reproduce trains just that notebook's runs (Table 3) and the 01_train run
    unique = grids.unique_runs(grids.table3_specs("smoke", 1))
    for s in unique:  # every run of the study trained exactly once into the shared folder
        lines = _trainings(shared / "runs" / s.run_id)
        assert len(lines) == 1 and "resumed=no" in lines[0], (s.run_id, lines)
    # (the runs are trained inside the notebook's kernel, so the processes' own logs do not list
    # them: each run's runner.log, written under its lock, is the account)
    assert all(len(_trainings(alone / "runs" / s.run_id)) == 1 for s in unique)

    for name in ("table3", "table3_runs"):
        a, b = (pd.read_csv(r / "tables" / f"{name}.csv") for r in (shared, alone))
        a, b = (d.drop(columns=[c for c in d.columns if "wall_time_s" in c]) for d in (a, b))
        pd.testing.assert_frame_equal(a, b)
        assert (shared / "tables" / f"{name}.md").exists()
    for r in (shared, alone):
        names = sorted(p.name for p in (r / "notebooks").iterdir())
        assert names == ["01_train.ipynb", "02_ablation_table3.ipynb"], names  # no temporary left over
        nb = json.loads((r / "notebooks" / "01_train.ipynb").read_text())
        assert not [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]
                    if o["output_type"] == "error"]
