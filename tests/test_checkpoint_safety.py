"""Checkpoints cannot run code: they are read with torch.load(weights_only=True), a planted pickle
is refused in one line before anything runs, old-format, damaged and foreign checkpoints too."""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from himnet_lib.cli import main

TRAIN = ["train", "--profile", "smoke", "--threads", "1", "--stop-after", "8"]


class _Planted:
    """Pickles as a call of exec() that writes a marker file: what a hostile checkpoint does."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TQDM_DISABLE": "1"}
    return subprocess.run([sys.executable, "-m", "himnet_lib", *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def stopped_run(smoke_root, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("ckpt") / "run"
    assert main([*TRAIN, "--data", str(smoke_root), "--out", str(run)]) == 0
    return run


def _copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_checkpoint_holds_only_tensors_and_plain_values(stopped_run):
    state = torch.load(stopped_run / "checkpoint.pt", weights_only=True)
    assert state["format"] == 2 and state["iteration"] == 8
    assert state["identity"] == json.loads((stopped_run / "params.json").read_text())["identity"]


@pytest.mark.parametrize("command", ["localize", "train"])
def test_planted_code_running_checkpoint_runs_nothing(stopped_run, smoke_root, tmp_path, command):
    run = _copy_run(stopped_run, tmp_path / "run")
    marker = tmp_path / "marker"
    good = torch.load(run / "checkpoint.pt", weights_only=True)
    torch.save({**good, "model": _Planted(marker)}, run / "checkpoint.pt")
    # the planted file does run code under the unsafe loader: the test plants a real threat
    torch.load(run / "checkpoint.pt", weights_only=False)
    assert marker.exists()
    marker.unlink()
    if command == "localize":
        r = _cli("localize", "--run", str(run), "--data", str(smoke_root), "--out", str(tmp_path / "p.json"))
    else:
        r = _cli(*TRAIN, "--data", str(smoke_root), "--out", str(run))
    assert r.returncode != 0
    assert not marker.exists(), "the planted checkpoint ran its code"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "checkpoint.pt is refused" in lines[0] and "--force" in lines[0]


def test_old_format_checkpoint_is_rejected_with_the_way_out(stopped_run, smoke_root, tmp_path, capsys):
    run = _copy_run(stopped_run, tmp_path / "run")
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    name, keys, *rest = state["rng"]["numpy_global"]
    state["rng"]["numpy_global"] = (name, keys.numpy().astype(np.uint32), *rest)  # format 1: a numpy array
    del state["format"]
    torch.save(state, run / "checkpoint.pt")
    assert main([*TRAIN, "--data", str(smoke_root), "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "refused" in err and "--force" in err
    # the way out works
    assert main([*TRAIN, "--data", str(smoke_root), "--out", str(run), "--force"]) == 0


def test_checkpoint_of_another_run_is_refused_naming_both_ids(stopped_run, smoke_root, tmp_path, capsys):
    other = tmp_path / "seed1"
    assert main([*TRAIN, "--seed", "1", "--data", str(smoke_root), "--out", str(other)]) == 0
    capsys.readouterr()
    (other / "checkpoint.pt").write_bytes((stopped_run / "checkpoint.pt").read_bytes())
    assert main([*TRAIN, "--seed", "1", "--data", str(smoke_root), "--out", str(other)]) == 2
    err = capsys.readouterr().err.strip()
    mine = json.loads((other / "params.json").read_text())["identity"]
    theirs = json.loads((stopped_run / "params.json").read_text())["identity"]
    assert mine != theirs and mine in err and theirs in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("damage", ["empty", "truncated", "bitflip", "directory"])
def test_damaged_checkpoint_is_named_with_the_way_out(stopped_run, smoke_root, tmp_path, capsys, damage):
    run = _copy_run(stopped_run, tmp_path / "run")
    ckpt = run / "checkpoint.pt"
    data = ckpt.read_bytes()
    if damage == "empty":
        ckpt.write_bytes(b"")
    elif damage == "truncated":
        ckpt.write_bytes(data[: len(data) // 2])
    elif damage == "bitflip":
        ckpt.write_bytes(data[:200] + bytes([data[200] ^ 0xFF]) + data[201:])
    else:
        ckpt.unlink()
        ckpt.mkdir()
    code = main([*TRAIN, "--data", str(smoke_root), "--out", str(run)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert str(ckpt) in err and "--force" in err
