"""Calibration helpers on the smoke benchmark: trivial predictor, supervised probe, calibration table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.synthetic.presets import PRESETS
from himnet_lib.study.calibration import calibration_table, read_run_metrics, supervised_probe, trivial

PRESETS_B = PRESETS["demo-b"]


@pytest.fixture(scope="module")
def smoke_ds(smoke_root):
    return load_dataset(smoke_root)


def test_trivial_is_a_small_fraction(smoke_ds):
    t = trivial(smoke_ds)
    assert 0.0 < t < 0.5


def test_supervised_probe_learns_and_is_deterministic(smoke_ds):
    a = supervised_probe(smoke_ds, max_train_snippets=800, seed=0)
    b = supervised_probe(smoke_ds, max_train_snippets=800, seed=0)
    assert a["snippet_acc"] == b["snippet_acc"] and a["average_mAP"] == b["average_mAP"]
    for k in ("snippet_acc", "fg_snippet_acc", "fg_bg_acc", "average_mAP", "background_fraction"):
        assert 0.0 <= a[k] <= 1.0
    assert len(a["mAP"]) == 7 and a["cas"] == "prob"
    # smoke features are easy: the probe beats "always background" and the trivial predictor
    assert a["snippet_acc"] > a["background_fraction"]
    assert a["average_mAP"] > trivial(smoke_ds)
    assert a["train_rows"] >= min(800, sum(v.num_snippets for v in smoke_ds.train_videos()))
    lp = supervised_probe(smoke_ds, max_train_snippets=800, seed=0, cas="logprob")
    assert lp["snippet_acc"] == a["snippet_acc"] and 0.0 <= lp["average_mAP"] <= 1.0
    with pytest.raises(ValueError):
        supervised_probe(smoke_ds, cas="logits")


def _fake_run(path, mAP, fgbg, acc):
    path.mkdir()
    (path / "metrics.json").write_text(json.dumps({"average_mAP": mAP, "fg_bg_acc": fgbg, "snippet_acc": acc}))
    return path


def test_calibration_table_rows_and_spread(smoke_root, tmp_path):
    runs = [_fake_run(tmp_path / f"r{i}", m, f, 0.5)
            for i, (m, f) in enumerate([(0.02, 0.3), (0.04, 0.5), (0.03, 0.4)])]
    df = calibration_table({"smoke": smoke_root}, seeds=(0,), mil_runs={"smoke": runs},
                           probe_kwargs={"max_train_snippets": 1500})
    assert list(df.columns) == ["benchmark", "predictor", "n_seeds", "avg_mAP_mean", "avg_mAP_std",
                                "snippet_acc", "fg_bg_acc", "notes"]
    assert list(df["predictor"].str.split().str[0]) == ["trivial", "supervised", "MIL-only"]
    mil = df.iloc[2]
    assert mil["n_seeds"] == 3 and mil["avg_mAP_mean"] == pytest.approx(3.0)
    assert mil["avg_mAP_std"] == pytest.approx(1.0) and mil["fg_bg_acc"] == pytest.approx(40.0)
    assert df.iloc[0]["avg_mAP_std"] == 0.0 and np.isnan(df.iloc[0]["snippet_acc"])
    assert 0 < df.iloc[1]["snippet_acc"] <= 100


def test_calibration_table_generates_presets(tmp_path):
    df = calibration_table(["smoke"], seeds=(0, 1), probe_kwargs={"max_train_snippets": 1000})
    assert len(df) == 2 and (df["n_seeds"] == 2).all() and (df["avg_mAP_std"] >= 0).all()


def test_read_run_metrics_names_unfinished_runs(tmp_path):
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(FileNotFoundError, match="unfinished"):
        read_run_metrics([tmp_path / "unfinished"])


def test_settings_diff_and_cli_writes_md_and_csv(tmp_path, capsys):
    from himnet_lib.study.calibration import main, settings_diff

    diff = settings_diff("demo-b")
    assert diff["noise_rho"] == (0.0, PRESETS_B.noise_rho) and "num_classes" not in diff
    runs = [_fake_run(tmp_path / f"r{i}", 0.01 * (i + 1), 0.3, 0.5) for i in range(2)]
    assert main(["--preset", "smoke", "--train-snippets", "800", "--out", str(tmp_path / "cal" / "smoke"),
                 "--runs", "MIL-only (600 it)=" + ",".join(map(str, runs))]) == 0
    md = (tmp_path / "cal" / "smoke.md").read_text()
    assert "MIL-only (600 it)" in md and "1.50 ± 0.71" in md and "supervised probe" in md
    csv = (tmp_path / "cal" / "smoke.csv").read_text().splitlines()
    assert csv[0].startswith("benchmark,predictor,n_seeds") and len(csv) == 4
