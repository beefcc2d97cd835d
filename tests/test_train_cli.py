"""Training runs from the command line: the full cycle, interruption and exact resume, reruns,
refusal of mismatched parameters, determinism (smoke profile, synthetic smoke data)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from himnet_lib.cli import main

TRAIN = ["train", "--profile", "smoke", "--threads", "1"]
METRIC_KEYS = ("tiou", "mAP", "average_mAP", "snippet_acc", "fg_bg_acc", "identity")


def _metrics(run: Path) -> dict:
    m = json.loads((run / "metrics.json").read_text())
    return {k: m[k] for k in METRIC_KEYS}


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TQDM_DISABLE": "1"}
    return subprocess.run([sys.executable, "-m", "himnet_lib", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_train_localize_evaluate_cycle(smoke_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*TRAIN, "--data", str(smoke_root), "--out", str(run)]) == 0
    for name in ("params.json", "history.csv", "metrics.json", "predictions.json", "checkpoint.pt", "outputs.npz"):
        assert (run / name).exists(), name
    params = json.loads((run / "params.json").read_text())
    assert params["config"]["train"]["iterations"] == 24 and len(params["identity"]) == 16
    assert params["environment"]["torch"] and params["environment"]["device"] == "cpu"
    m = json.loads((run / "metrics.json").read_text())
    assert m["selection"] == "last iterate" and len(m["mAP"]) == len(m["tiou"]) == 7
    assert 0.0 <= m["average_mAP"] <= 1.0 and 0.0 <= m["snippet_acc"] <= 1.0
    header = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert {"iteration", "loss", "mil", "cll", "vcl", "scl"} <= set(header)

    pred = tmp_path / "pred.json"
    assert main(["localize", "--run", str(run), "--data", str(smoke_root), "--out", str(pred)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--gt", str(smoke_root), "--pred", str(pred), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    # the standalone commands reproduce the run's own evaluation exactly
    assert ev["mAP"] == pytest.approx(m["mAP"], abs=1e-12)


def test_rerun_of_finished_run_is_a_noop(smoke_root, tmp_path):
    run = tmp_path / "run"
    assert main([*TRAIN, "--data", str(smoke_root), "--out", str(run)]) == 0
    stamp = (run / "metrics.json").stat().st_mtime_ns
    assert main([*TRAIN, "--data", str(smoke_root), "--out", str(run)]) == 0
    assert (run / "metrics.json").stat().st_mtime_ns == stamp


def test_mismatched_parameters_are_refused(smoke_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*TRAIN, "--data", str(smoke_root), "--out", str(run), "--iterations", "8"]) == 0
    capsys.readouterr()
    assert main([*TRAIN, "--data", str(smoke_root), "--out", str(run), "--iterations", "8", "--alpha", "2"]) == 2
    err = capsys.readouterr().err
    assert "loss.alpha" in err and "Traceback" not in err


def test_same_command_twice_gives_identical_metrics(smoke_root, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for run in (a, b):
        assert main([*TRAIN, "--data", str(smoke_root), "--out", str(run), "--seed", "3"]) == 0
    assert _metrics(a) == _metrics(b)


def test_sigkill_then_resume_matches_uninterrupted_run(smoke_root, tmp_path):
    n = "400"
    common = [*TRAIN, "--data", str(smoke_root), "--iterations", n, "--set", "train.checkpoint_interval=20"]
    ref = tmp_path / "ref"
    r = _cli(*common, "--out", str(ref))
    assert r.returncode == 0, r.stderr

    run = tmp_path / "killed"
    env = {**os.environ, "TQDM_DISABLE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "himnet_lib", *common, "--out", str(run)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    ckpt = run / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "metrics.json").exists(), "the run finished before it could be killed"
    assert ckpt.exists()

    r = _cli(*common, "--out", str(run))
    assert r.returncode == 0, r.stderr
    assert "resuming" in r.stderr
    assert _metrics(run) == _metrics(ref)
