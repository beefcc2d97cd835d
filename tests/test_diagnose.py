"""``himnet diagnose``: the structure table of a dataset, a MIL-only model trained once and reused, the
mechanism map read from a tables folder, one-line errors (exit 2) for what it cannot read."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from himnet_lib.cli import main
from himnet_lib.datasets import load_dataset
from himnet_lib.study import mechanism_map, mechanisms


def _map(tmp_path):
    """A map folder: the hand-made smoke sweep of tests/test_mechanisms.py."""
    from test_mechanisms import _records
    recs, struct = _records()
    table = mechanism_map.mechanism_table(recs, struct, "smoke")
    out = tmp_path / "map"
    positions = mechanism_map.positions_table(struct, "smoke")
    mechanism_map.write_mechanisms(table, mechanism_map.trend_table(table), positions, out)
    return out


def test_diagnose_prints_the_structure_table_and_reuses_its_model(smoke_root, tmp_path, capsys):
    out, where = tmp_path / "out", _map(tmp_path)
    assert main(["diagnose", "--data", str(smoke_root), "--profile", "smoke", "--out", str(out),
                 "--map", str(where)]) == 0
    cap = capsys.readouterr()
    assert "training a MIL-only model (smoke profile, 24 iterations)" in cap.err
    lines = cap.out.splitlines()
    header = next(i for i, x in enumerate(lines) if x.startswith("| term |"))
    assert lines[header] == "| term | measure | value | smoke | smoke-b | map says |"
    rows = [x.split(" | ") for x in lines[header + 2:] if x.startswith("|")]
    assert [r[0].strip("| ") for r in rows[:4]] == ["cll", "vcl", "scl", "softnms"]
    report = json.loads((out / "diagnose.json").read_text())
    ds = load_dataset(smoke_root)
    want = mechanisms.dataset_measures(ds)
    for k in ("style_gap", "overlap_share", "label_noise_share", "ambiguous_train_share"):
        assert report["measures"][k] == pytest.approx(want[k]), k
    run = mechanisms.run_measures(out / "mil-only", ds)
    assert report["measures"]["off_label_share"] == pytest.approx(run["off_label_share"])
    assert report["measures"]["boundary_entropy"] == pytest.approx(run["boundary_entropy"])
    assert report["map"] == str(where) and (out / "diagnose.md").read_text() + "\n" == cap.out
    says = {r["measure"]: r["map says"] for r in report["table"]}
    # smoke is synthetic: its 0 ambiguous training share is "none planted", placed on the map (whose
    # hand-made SCL control never helped)
    assert report["measures"]["ambiguous_train_share"] == 0.0
    assert says["ambiguous_train_share"].startswith("the control shows no clear gain")
    assert says["off_label_share"].split(":")[0] in ("something to work on", "little to work on")
    # the second call reuses the finished MIL-only run
    mtime = os.stat(out / "mil-only" / "metrics.json").st_mtime_ns
    assert main(["diagnose", "--data", str(smoke_root), "--profile", "smoke", "--out", str(out),
                 "--map", str(where)]) == 0
    assert "reusing the MIL-only run" in capsys.readouterr().err
    assert os.stat(out / "mil-only" / "metrics.json").st_mtime_ns == mtime


def test_diagnose_on_a_variant_preset_without_a_map(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HIMNET_RESULTS", str(tmp_path / "no-results"))  # no default map to find
    assert main(["diagnose", "--preset", "smoke+class_style=0.9", "--profile", "smoke", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Mechanism map: none found." in out and "no mechanism map found" in out
    report = json.loads((tmp_path / "diagnose.json").read_text())
    assert report["measures"]["style_gap"] > 0.2  # the planted style


def _one_line(argv, capsys) -> str:
    capsys.readouterr()
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


def test_diagnose_errors_are_one_line(tmp_path, smoke_root, capsys):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("not a dataset")
    assert "cannot detect the dataset layout" in _one_line(["diagnose", "--data", notes], capsys)
    assert "not a folder" in _one_line(["diagnose", "--data", tmp_path / "missing"], capsys)
    assert "give --data DIR or --preset NAME" in _one_line(["diagnose"], capsys)
    assert "unknown preset" in _one_line(["diagnose", "--preset", "huge", "--out", tmp_path / "o"], capsys)
    assert "holds no mechanism map" in _one_line(["diagnose", "--data", smoke_root, "--profile", "smoke",
                                                  "--map", notes, "--out", tmp_path / "o2"], capsys)
    full = tmp_path / "full"
    assert main(["train", "--data", str(smoke_root), "--profile", "smoke", "--out", str(full)]) == 0
    assert "is not a MIL-only run (its loss terms: mil, cll, vcl, scl)" in _one_line(
        ["diagnose", "--data", smoke_root, "--profile", "smoke", "--run", full], capsys)


def test_diagnose_on_real_thumos_annotations(real_data_dir, tmp_path, capsys):
    """THUMOS14's W-TALC annotation files (random 8-d features: the command and every measure run on the
    real format; the values say nothing about real features). Training videos mark no ambiguous region:
    SCL's measure is "not measurable", not 0."""
    from test_data_real_annotations import _link_bundle
    rng = np.random.default_rng(0)
    root = _link_bundle(real_data_dir / "thumos14reduced", tmp_path / "thumos", "Thumos14reduced",
                        lambda d: math.ceil(d / 0.64))
    feats = np.load(root / "Thumos14reduced-I3D-JOINTFeatures.npy", allow_pickle=True)
    for i in range(len(feats)):
        feats[i] = rng.standard_normal((len(feats[i]), 8)).astype(np.float32)
    np.save(root / "Thumos14reduced-I3D-JOINTFeatures.npy", feats, allow_pickle=True)
    assert main(["diagnose", "--data", str(root), "--profile", "smoke", "--out", str(tmp_path / "o")]) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "o" / "diagnose.json").read_text())
    says = {r["measure"]: r["map says"] for r in report["table"]}
    assert report["measures"]["ambiguous_train_share"] is None and says["ambiguous_train_share"].startswith(
        "not measurable: no training video marks ambiguous regions")
    assert 0 < report["measures"]["overlap_share"] < 0.05  # THUMOS14 test: 1.1 % of instances
    assert math.isfinite(report["measures"]["style_gap"]) and math.isfinite(report["measures"]["off_label_share"])
