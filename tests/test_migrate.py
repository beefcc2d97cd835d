"""``himnet migrate-runs``: a study's run folders named and recorded under an earlier identity rule are
renamed to their current run ids, their records and checkpoint re-labelled, and reused as finished."""

from __future__ import annotations

import json
import os

import torch

from himnet_lib.cli import main
from himnet_lib.datasets import load_dataset
from himnet_lib.engine import executor
from himnet_lib.engine.checkpoints import load_checkpoint, save_checkpoint
from himnet_lib.engine.migrate import stale_note, stale_run_folders
from himnet_lib.engine.run_params import dataset_fingerprint
from himnet_lib.engine.train import train_run
from himnet_lib.study import grids

OLD_ID = "0123456789abcdef"


def test_an_aged_run_folder_is_renamed_relabelled_and_reused(tmp_path, smoke_root, capsys):
    spec = grids.table3_specs("smoke", 1, rows=["Exp 2"])[0]
    runs = tmp_path / "runs"
    current = runs / spec.run_id
    train_run(spec.config(), smoke_root, current, num_threads=1, progress=False, log=lambda s: None)
    identity = json.loads((current / "params.json").read_text())["identity"]
    # age it: the name and every record carry an identity that its settings no longer give
    aged = runs / (spec.run_id[:-12] + OLD_ID[:12])
    os.replace(current, aged)
    for name in ("params.json", "metrics.json"):
        rec = json.loads((aged / name).read_text())
        rec["identity"] = OLD_ID
        (aged / name).write_text(json.dumps(rec))
    if (aged / "checkpoint.pt").exists():
        state = load_checkpoint(aged / "checkpoint.pt", way_out="-")
        state["identity"] = OLD_ID
        save_checkpoint(aged / "checkpoint.pt", {k: v for k, v in state.items() if k != "format"})
    fingerprint = dataset_fingerprint(load_dataset(smoke_root))
    assert not executor._finished(current, spec, fingerprint)
    assert [d.name for d, _, _ in stale_run_folders(runs)] == [aged.name]
    assert "himnet migrate-runs" in (stale_note(runs) or "")

    assert main(["migrate-runs", str(runs)]) == 0
    assert "1 run folder(s) migrated" in capsys.readouterr().out
    assert current.is_dir() and not aged.exists()
    assert json.loads((current / "params.json").read_text())["identity"] == identity
    assert json.loads((current / "metrics.json").read_text())["identity"] == identity
    if (current / "checkpoint.pt").exists():
        assert torch.load(current / "checkpoint.pt", weights_only=True)["identity"] == identity
    assert executor._finished(current, spec, fingerprint)          # reused, not retrained
    assert stale_run_folders(runs) == [] and stale_note(runs) is None


def test_a_folder_that_is_not_a_runs_folder_is_refused(tmp_path, capsys):
    assert main(["migrate-runs", str(tmp_path / "nosuch")]) == 2
    assert "is not a folder of runs" in capsys.readouterr().err
