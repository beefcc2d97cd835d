"""The Slurm executor against a real one-node cluster (tests/slurm_cluster.py; no accounting, so
nothing here can lean on sacct): Table 3 through Slurm equals local, a second submission submits
nothing, a scancelled job is reported within seconds and a resubmission finishes, a partition
whose MaxTime is too short is an error naming it, and Ctrl-C cancels the array. Skipped with the
reason where the daemons cannot start (no slurm-wlm/munge, not root). Timings are printed (-s)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest
import slurm_cluster
from child_env import child_env, default_signals

from himnet_lib.engine import executor
from himnet_lib.utils.run_folder import RunDir

pytestmark = pytest.mark.slurm
WORKTREE = Path(executor.__file__).resolve().parents[1]
HIMNET = [sys.executable, "-m", "himnet_lib"]


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("submitit")
    # the daemons' state outside pytest's temporary folders, which other pytest runs may prune
    root = Path(tempfile.mkdtemp(prefix="slurmtest-"))
    try:
        c = slurm_cluster.start(root)
    except slurm_cluster.Unavailable as e:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"no Slurm test cluster: {e}")
    yield c
    slurm_cluster.stop(c)
    shutil.rmtree(root, ignore_errors=True)


def _env(cluster, tmp: Path) -> dict:
    return child_env(tmp, cluster.env)


class Proc:
    def __init__(self, cmd, env, cwd):
        self.t0 = time.time()
        self.p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, start_new_session=True, preexec_fn=default_signals)
        self.lines: list[str] = []
        self._r = threading.Thread(target=self._read, daemon=True)
        self._r.start()

    def _read(self):
        for line in self.p.stderr:
            self.lines.append(line.rstrip())

    def wait_for(self, text: str, timeout: float = 180) -> str:
        end = time.time() + timeout
        while True:
            hits = [ln for ln in self.lines if text in ln]
            if hits:
                return hits[0]
            assert self.p.poll() is None or self._r.is_alive(), "\n".join(self.lines[-30:])
            assert time.time() < end, f"no line with {text!r}:\n" + "\n".join(self.lines[-30:])
            time.sleep(0.1)

    def finish(self, timeout: float) -> int:
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            pytest.fail("still running:\n" + "\n".join(self.lines[-30:]))
        self._r.join(5)
        return self.p.returncode

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _array_id(line: str) -> str:
    return line.split("submitted Slurm array ")[1].split(":")[0]


def _reproduce(cluster, tmp, results, *extra):
    cmd = HIMNET + ["reproduce", "--profile", "smoke", "--seeds", "1", "--workers", "2", "--threads", "1",
                    "--notebooks", "02_ablation_table3", "--results", str(results), *extra]
    return Proc(cmd, _env(cluster, tmp), tmp)


def test_table3_through_slurm_equals_local_and_a_second_submission_submits_nothing(cluster, tmp_path):
    t0 = time.time()
    p = _reproduce(cluster, tmp_path, tmp_path / "slurm", "--executor", "slurm")
    assert p.finish(600) == 0, p.text[-3000:]
    t_slurm = time.time() - t0
    assert "submitted Slurm array" in p.text and "finished, 0 running, 0 pending, 0 failed of 8" in p.text, p.text
    t0 = time.time()
    q = _reproduce(cluster, tmp_path, tmp_path / "local")
    assert q.finish(600) == 0, q.text[-3000:]
    t_local = time.time() - t0
    table = "tables/table3.csv"
    assert (tmp_path / "slurm" / table).read_bytes() == (tmp_path / "local" / table).read_bytes()

    t0 = time.time()
    again = _reproduce(cluster, tmp_path, tmp_path / "slurm", "--executor", "slurm")
    assert again.finish(300) == 0, again.text[-3000:]
    assert "8 already finished, 0 to train" in again.text and "submitted Slurm array" not in again.text
    print(f"\nTable 3 smoke, 8 runs: Slurm {t_slurm:.0f}s, local {t_local:.0f}s, second submission "
          f"{time.time() - t0:.0f}s")


LONG_RUNS = textwrap.dedent("""
    import dataclasses, sys
    from himnet_lib.engine import executor as scheduler
    from himnet_lib.engine.process_pool import sigterm_interrupts
    from himnet_lib.study import grids as study
    from himnet_lib.utils import errors
    specs = study.table3_specs("smoke", 1, rows=tuple(sys.argv[3].split(",")))
    specs = [dataclasses.replace(s, overrides=s.overrides + (("train.iterations", int(sys.argv[4])),)) for s in specs]
    try:
        with sigterm_interrupts():
            scheduler.run_specs(specs, sys.argv[1], sys.argv[2], workers=2, executor="slurm", slurm={"time": 5})
    except errors.RunError as e:
        print("RUNERROR", str(e).replace("\\n", " | "), file=sys.stderr, flush=True)
        sys.exit(3)
    except KeyboardInterrupt:
        print("INTERRUPTED", file=sys.stderr, flush=True)
        sys.exit(130)
""")


def _long(cluster, tmp, smoke_root, rows: str, iterations: int) -> Proc:
    return Proc([sys.executable, "-c", LONG_RUNS, str(smoke_root), str(tmp / "runs"), rows, str(iterations)],
                _env(cluster, tmp), tmp)


def _wait_running(cluster, array: str, n: int, timeout: float = 120) -> None:
    end = time.time() + timeout
    while sum(ln.endswith("RUNNING") for ln in cluster.jobs(array)) < n:
        assert time.time() < end, cluster.jobs(array)
        time.sleep(0.3)


def test_scancel_is_reported_within_seconds_and_a_resubmission_finishes(cluster, tmp_path, smoke_root):
    p = _long(cluster, tmp_path, smoke_root, "Exp 1", 1500)
    line = p.wait_for("submitted Slurm array")
    array, task = _array_id(line), line.split("task(s) ")[1].split("..")[0]  # one run: a plain job
    _wait_running(cluster, array, 1)
    end = time.time() + 120
    while not list((tmp_path / "runs").glob("*/checkpoint.pt")):
        assert time.time() < end and p.p.poll() is None, p.text[-2000:]
        time.sleep(0.3)
    t0 = time.time()
    subprocess.run(["scancel", task], env=cluster.env, check=True)
    assert p.finish(60) == 3, p.text[-2000:]
    took = time.time() - t0
    err = p.wait_for("RUNERROR")
    assert f"job {task} " in err and "cancelled" in err and "smoke-s0-" in err, err  # job id and run id
    assert took < 10, f"reported {took:.1f}s after scancel"

    t1 = time.time()
    q = _long(cluster, tmp_path, smoke_root, "Exp 1", 1500)
    assert q.finish(400) == 0, q.text[-3000:]
    (run_dir,) = (tmp_path / "runs").glob("smoke-*")
    assert (run_dir / "metrics.json").exists()
    assert "resumed=yes" in (run_dir / RunDir.RUNNER_LOG).read_text()
    print(f"\nscancel reported after {took:.2f}s (no accounting); resubmission resumed and finished in "
          f"{time.time() - t1:.0f}s")


@pytest.mark.parametrize("notebooks", [[], ["--notebooks", "02_ablation_table3"]], ids=["all", "one-notebook"])
def test_a_partition_whose_max_time_is_too_short_is_an_error_naming_it(cluster, tmp_path, notebooks):
    # before any job is submitted and before any work, with --notebooks or without (a notebook's
    # kernel met it before: a notebook failure)
    t0 = time.time()
    p = Proc(HIMNET + ["reproduce", "--profile", "smoke", "--seeds", "1", "--results", str(tmp_path / "r"),
                       "--executor", "slurm", "--slurm-partition", "short", *notebooks], _env(cluster, tmp_path),
             tmp_path)
    assert p.finish(300) == 2, p.text[-2000:]
    assert p.lines == [p.lines[0]] and time.time() - t0 < 10, p.text  # one line, within seconds
    line = p.lines[0]
    assert "'short'" in line and "00:01:00" in line and "--slurm-time" in line, line
    assert "Traceback" not in p.text and not (tmp_path / "r").exists()
    if notebooks:
        return
    q = Proc(HIMNET + ["reproduce", "--profile", "smoke", "--seeds", "1", "--results", str(tmp_path / "r"),
                       "--executor", "slurm", "--slurm-partition", "short", "--slurm-time", "0:30:00"],
             _env(cluster, tmp_path), tmp_path)
    assert q.finish(300) == 2
    assert any("'short'" in ln and "from --slurm-time" in ln for ln in q.lines), q.text[-2000:]


def test_ctrl_c_cancels_the_array(cluster, tmp_path, smoke_root):
    p = _long(cluster, tmp_path, smoke_root, "Exp 1,Exp 2,Exp 3", 3000)
    array = _array_id(p.wait_for("submitted Slurm array"))
    _wait_running(cluster, array, 2)
    t0 = time.time()
    os.killpg(p.p.pid, signal.SIGINT)
    assert p.finish(30) == 130, p.text[-2000:]
    took = time.time() - t0
    assert f"cancelled Slurm array {array}" in p.text and "INTERRUPTED" in p.text
    end = time.time() + 20
    while any(not ln.split()[1].startswith(("CANCELLED", "COMPLETED")) for ln in cluster.jobs(array)):
        assert time.time() < end, cluster.jobs(array)
        time.sleep(0.3)
    t_gone = time.time() - t0
    assert took < 10
    print(f"\nCtrl-C: exit after {took:.2f}s, array {array} cancelled (no task left running after {t_gone:.1f}s)")
