"""Every option is checked before work starts: a missing optional dependency (submitit for Slurm,
the notebook extra for reproduce), the Slurm settings against the cluster (sbatch, the partition,
its MaxTime), an unusable --data, --results or --device. Each is one stderr line, exit status 2,
within seconds, before any data is generated or any run starts (no folder is made, sbatch is never
called). Slurm's commands are stand-ins on PATH here (tests/fake_slurm.py); tests/test_slurm.py
holds the MaxTime check against a real cluster."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import fake_slurm
import pytest
from child_env import child_env

HIMNET = [sys.executable, "-m", "himnet_lib"]
REPRODUCE = ["reproduce", "--profile", "smoke", "--seeds", "1"]
QUICK_S = 5.0


def _hiding(tmp: Path, *modules: str) -> Path:
    """A folder whose sitecustomize.py makes ``modules`` unimportable (as if not installed)."""
    d = tmp / "hide"
    d.mkdir(exist_ok=True)
    (d / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import sys
        HIDDEN = {tuple(modules)!r}
        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in HIDDEN:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (hidden by the test)", name=name)
                return None
        sys.meta_path.insert(0, Hide())
    """))
    return d


def _run(tmp: Path, args: list, *, hide: tuple[str, ...] = (), path: Path | None = None, only_path: bool = False):
    """``himnet args`` in a child process, ``hide`` unimportable, ``path`` first on PATH (or alone)."""
    env = child_env(tmp)
    if hide:
        env["PYTHONPATH"] = os.pathsep.join([str(_hiding(tmp, *hide)), env["PYTHONPATH"]])
    if path is not None:
        env["PATH"] = str(path) if only_path else os.pathsep.join([str(path), env["PATH"]])
    t0 = time.time()
    p = subprocess.run(HIMNET + [str(a) for a in args], env=env, cwd=tmp, capture_output=True, text=True, timeout=120)
    return p, time.time() - t0


def _one_line(p) -> str:
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    return lines[0]


def test_slurm_without_submitit_fails_at_once_naming_the_extra(tmp_path):
    results = tmp_path / "results"
    p, took = _run(tmp_path, [*REPRODUCE, "--executor", "slurm", "--results", results], hide=("submitit",))
    line = _one_line(p)
    assert "submitit" in line and "'cluster'" in line and "pip install -e '.[cluster]'" in line, line
    assert took < QUICK_S, f"{took:.1f}s"
    assert not results.exists(), "work started (the results folder was made)"
    # the same with --notebooks: before, the first notebook's kernel met the missing module
    p, _ = _run(tmp_path, [*REPRODUCE, "--executor", "slurm", "--results", results, "--notebooks",
                           "02_ablation_table3"], hide=("submitit",))
    assert "'cluster'" in _one_line(p) and not results.exists()


def test_reproduce_without_the_notebook_extra_fails_at_once_naming_it(tmp_path):
    results = tmp_path / "results"
    p, took = _run(tmp_path, [*REPRODUCE, "--results", results], hide=("papermill",))
    line = _one_line(p)
    assert "'notebooks'" in line and "papermill" in line and "pip install -e '.[notebooks]'" in line, line
    assert took < QUICK_S and not results.exists()


@pytest.mark.parametrize("notebooks", [[], ["--notebooks", "02_ablation_table3"]], ids=["all", "one-notebook"])
def test_a_partition_whose_max_time_is_too_short_is_refused_before_anything_is_submitted(tmp_path, notebooks):
    fake = fake_slurm.install(tmp_path / "bin")
    results = tmp_path / "results"
    base = [*REPRODUCE, "--executor", "slurm", "--results", results, "--slurm-partition", "short", *notebooks]
    p, took = _run(tmp_path, base, path=fake)
    line = _one_line(p)
    assert "'short'" in line and fake_slurm.SHORT_LIMIT in line and "the profile's estimate" in line, line
    assert took < QUICK_S and not results.exists() and not fake_slurm.sbatch_called(fake)
    p, _ = _run(tmp_path, [*base, "--slurm-time", "0:30:00"], path=fake)
    line = _one_line(p)
    assert "'short'" in line and "00:30:00" in line and "from --slurm-time" in line, line
    assert not results.exists() and not fake_slurm.sbatch_called(fake)


def test_other_slurm_settings_are_checked_before_work(tmp_path):
    fake = fake_slurm.install(tmp_path / "bin")
    results = tmp_path / "results"
    cases = [
        (["--slurm-partition", "nosuch"], "no partition 'nosuch'"),
        (["--slurm-cpus-per-task", "2", "--threads", "1"], "--threads 1 and cpus_per_task 2 differ"),
        (["--slurm-cpus-per-task", "0"], "--slurm-cpus-per-task: setting cpus_per_task must be a whole number >= 1"),
        (["--slurm-time", "1h"], "--slurm-time: setting time"),
        (["--slurm-set", "mem="], "--slurm-set: setting mem must be a size"),
    ]
    for extra, needle in cases:
        p, took = _run(tmp_path, [*REPRODUCE, "--executor", "slurm", "--results", results, *extra], path=fake)
        line = _one_line(p)
        assert needle in line and took < QUICK_S, (extra, line)
    assert not results.exists() and not fake_slurm.sbatch_called(fake)
    empty = tmp_path / "empty"
    empty.mkdir()
    p, _ = _run(tmp_path, [*REPRODUCE, "--executor", "slurm", "--results", results], path=empty, only_path=True)
    assert "no sbatch on PATH" in _one_line(p)  # not a Slurm login node
    (fake / "scontrol").write_text("#!/bin/sh\necho 'slurm_load_partitions: Unable to contact slurm controller' >&2\n"
                                   "exit 1\n")
    p, _ = _run(tmp_path, [*REPRODUCE, "--executor", "slurm", "--results", results], path=fake)
    assert "Slurm does not answer" in _one_line(p) and "Unable to contact" in _one_line(p)
    assert not results.exists() and not fake_slurm.sbatch_called(fake)


def test_slurm_settings_that_fit_the_cluster_pass_the_checks(tmp_path, monkeypatch):
    # the checks let a good configuration through to the submission (stopped there by a stand-in)
    from himnet_lib.engine import preflight

    fake = fake_slurm.install(tmp_path / "bin")
    monkeypatch.setenv("PATH", fake_slurm.path_with(fake))
    preflight.check_reproduce("smoke", data=None, results=tmp_path / "r", executor="slurm",
                              slurm_settings={"partition": "main"}, seeds=1, seeds_other=1, reading=None,
                              notebooks=None, workers=2, threads=None)
    preflight.check_reproduce("smoke", data=None, results=tmp_path / "r", executor="slurm",
                              slurm_settings={"partition": "short", "time": 1}, seeds=1, seeds_other=1, reading=None,
                              notebooks=["02_ablation_table3"], workers=2, threads=None)
    assert not fake_slurm.sbatch_called(fake) and not (tmp_path / "r").exists()
    assert preflight.study_minutes("smoke", 1, 1, None, None) == 10  # smoke: the 10-minute floor


def test_paths_and_device_are_checked_before_work(tmp_path, smoke_root):
    from fuzz_inputs import call_cli

    (tmp_path / "file").write_text("x")
    cases = [
        ([*REPRODUCE, "--results", tmp_path / "file" / "r"], "--results", "Not a directory"),
        ([*REPRODUCE, "--data", tmp_path / "nope", "--results", tmp_path / "r"], "--data", "not a directory"),
        ([*REPRODUCE, "--data", tmp_path / "file", "--results", tmp_path / "r"], "--data", "not a directory"),
        (["train", "--data", smoke_root, "--out", tmp_path / "t", "--device", "cuda:7"], "--device cuda:7", "CUDA"),
        (["train", "--data", smoke_root, "--out", tmp_path / "t", "--device", "gpu"], "--device 'gpu'", "not a device"),
        (["localize", "--run", tmp_path, "--data", smoke_root, "--out", tmp_path / "file" / "p.json"], "--out",
         "Not a directory"),
        (["make-synthetic", "--preset", "smoke", "--out", tmp_path / "file" / "s"], "--out", "Not a directory"),
    ]
    for argv, *needles in cases:
        t0 = time.time()
        call_cli(argv).one_line_error(*needles)
        assert time.time() - t0 < QUICK_S
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing was made
