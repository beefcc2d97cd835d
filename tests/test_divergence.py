"""A non-finite loss stops training cleanly: one stderr line naming the run, the iteration and the
term that went non-finite first (nothing else: no torch warning before it), a non-zero exit, the
last good checkpoint kept, nothing in the run folder that says the run finished; a step that leaves
a weight non-finite is caught before it is checkpointed; and ``himnet reproduce`` reports such a run
as failed and trains the others."""

from __future__ import annotations

import subprocess
import sys

import torch
from child_env import child_env

from himnet_lib.engine import reproduce, train
from himnet_lib.engine.checkpoints import load_checkpoint
from himnet_lib.study import grids
from himnet_lib.study.grids import RunSpec
from himnet_lib.utils.errors import DivergenceError
from himnet_lib.utils.run_folder import RunDir

HIMNET = [sys.executable, "-m", "himnet_lib"]
TRAIN = ["train", "--profile", "smoke", "--threads", "1"]
UNFINISHED = (RunDir.METRICS, RunDir.PREDICTIONS, RunDir.OUTPUTS)


def _train(tmp_path, smoke_root, out, *settings):
    cmd = HIMNET + [*TRAIN, "--data", str(smoke_root), "--out", str(out)] + [a for s in settings for a in ("--set", s)]
    return subprocess.run(cmd, env=child_env(tmp_path), capture_output=True, text=True, timeout=300)


def test_lr_1e30_stops_with_one_line_naming_run_iteration_and_term(smoke_root, tmp_path):
    out = tmp_path / "run"
    p = _train(tmp_path, smoke_root, out, "train.lr=1e30")
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and "Warning" not in p.stderr and "Traceback" not in p.stderr, p.stderr
    line = p.stderr.strip()
    assert line.startswith(f"himnet train: error: run {out} diverged at iteration 2: the loss term 'mil' became nan "
                           "first"), line
    assert "no checkpoint had been written yet" in line and "not finished" in line
    assert (out / RunDir.PARAMS).exists() and not any((out / f).exists() for f in UNFINISHED)
    assert p.stdout == ""


def test_the_last_good_checkpoint_is_kept_and_the_rerun_diverges_the_same_way(smoke_root, tmp_path):
    out = tmp_path / "run"
    p = _train(tmp_path, smoke_root, out, "train.lr=1e30", "train.checkpoint_interval=1")
    line = p.stderr.strip()
    assert p.returncode == 2 and "diverged at iteration 2" in line and "checkpoint of iteration 1 is kept" in line, line
    state = load_checkpoint(out / RunDir.CHECKPOINT, "cpu", way_out="-")
    assert state["iteration"] == 1 and all(bool(torch.isfinite(t).all()) for t in state["model"].values())
    before = (out / RunDir.CHECKPOINT).read_bytes()
    again = _train(tmp_path, smoke_root, out, "train.lr=1e30", "train.checkpoint_interval=1")
    assert again.returncode == 2 and again.stderr.strip().splitlines() == [  # resumed at 1, diverged at 2 again
        f"resuming {out} at iteration 1/24", line]
    assert (out / RunDir.CHECKPOINT).read_bytes() == before and not any((out / f).exists() for f in UNFINISHED)


def test_a_weight_gone_non_finite_is_not_checkpointed(smoke_root, tmp_path, monkeypatch):
    # a step whose loss is finite but that leaves a weight at inf (poisoned here after iteration 4):
    # the checkpoint of iteration 4 would hold it; the one of iteration 2 stays
    real_step, calls = train.step, []

    def poisoning_step(model, *args, **kwargs):
        out = real_step(model, *args, **kwargs)
        calls.append(1)
        if len(calls) == 4:
            with torch.no_grad():
                next(model.parameters()).fill_(float("inf"))
        return out

    monkeypatch.setattr(train, "step", poisoning_step)
    cfg = grids.table3_specs("smoke", 1)[0].config()
    cfg.train.checkpoint_interval = 2
    out = tmp_path / "run"
    try:
        train.train_run(cfg, smoke_root, out, num_threads=1, log=lambda s: None)
    except DivergenceError as e:
        msg = str(e)
    else:
        raise AssertionError("training went on with a non-finite weight")
    assert "diverged at iteration 4: the weight" in msg and "became non-finite (the loss terms were finite)" in msg
    assert "checkpoint of iteration 2 is kept" in msg
    state = load_checkpoint(out / RunDir.CHECKPOINT, "cpu", way_out="-")
    assert state["iteration"] == 2 and all(bool(torch.isfinite(t).all()) for t in state["model"].values())
    assert not any((out / f).exists() for f in UNFINISHED)


def test_reproduce_reports_the_diverged_run_and_trains_the_others(tmp_path, monkeypatch, capsys):
    from himnet_lib.cli import main

    diverging = RunSpec("test", "lr 1e30", 0, (("train.lr", 1e30),), "smoke")
    good = grids.table3_specs("smoke", 1)[0]
    monkeypatch.setattr(reproduce, "all_study_specs", lambda *a, **k: [diverging, good])
    results = tmp_path / "results"
    code = main(["reproduce", "--profile", "smoke", "--seeds", "1", "--workers", "1", "--threads", "1",
                 "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    failed = [ln for ln in lines if "FAILED" in ln]
    assert len(failed) == 1 and diverging.run_id in failed[0] and "diverged at iteration 2" in failed[0], err
    assert lines.index(failed[0]) < next(i for i, ln in enumerate(lines) if good.run_id in ln and "done" in ln)
    assert lines[-1].startswith("himnet reproduce: error: 1 run(s) failed:") and diverging.run_id in lines[-1]
    runs = results / "runs"
    assert (runs / good.run_id / RunDir.METRICS).exists()               # the other run was trained
    assert not (runs / diverging.run_id / RunDir.METRICS).exists()      # the diverged one is not finished
    assert not (results / "notebooks").exists()                         # and no table was made from it
