"""Named readings of the paper, the settings the readings issue asks for, the validation fold, and
the baseline defaults, through the command line and the config layer."""

from __future__ import annotations

import json

import pytest

from himnet_lib.cli import main
from himnet_lib.config.profiles import READINGS, build_config
from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.dataset import VALIDATION_SUBSET, validation_view
from himnet_lib.datasets.summary import check_data
from himnet_lib.utils.errors import HimnetError

TRAIN = ["train", "--profile", "smoke", "--threads", "1"]


def test_readings_apply_their_settings_and_rows_keep_them():
    lit = build_config("smoke", {"loss.terms": ["mil"]}, reading="literal")
    lin = build_config("smoke", {"loss.terms": ["mil"]}, reading="lineage")
    assert (lit.model.supp, lit.loss.mil_target, lit.loss.extra_terms) == ("product", "paper", ())
    assert (lin.model.supp, lin.loss.mil_target) == ("include_min", "normalized")
    assert lin.loss.active_terms == ("mil", "norm", "mu")          # a row's terms keep the reading's additions
    assert lit.identity() != lin.identity()
    # an explicit override still wins over the reading, and "reading" works as an override key
    over = build_config("smoke", {"reading": "lineage", "model.supp": "product"})
    assert over.reading == "lineage" and over.model.supp == "product"
    assert build_config("demo").reading == "lineage"               # the demo profile's chosen reading
    assert set(READINGS) == {"literal", "lineage"}
    with pytest.raises(HimnetError):
        build_config("smoke", reading="other")


def test_baselines_default_to_their_own_objective():
    cfg = build_config("demo", {"train.model": "basnet"})
    assert cfg.loss.terms == ("mil",) and cfg.loss.extra_terms == ()
    cfg = build_config("demo", {"train.model": "hamnet", "loss.terms": ["mil", "cll"]})
    assert cfg.loss.terms == ("mil", "cll")


@pytest.mark.parametrize("reading", ["literal", "lineage"])
def test_train_with_each_reading(smoke_root, tmp_path, reading):
    run = tmp_path / reading
    assert main([*TRAIN, "--data", str(smoke_root), "--reading", reading, "--losses", "mil", "--out", str(run)]) == 0
    params = json.loads((run / "params.json").read_text())
    assert params["config"]["reading"] == reading
    header = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert ("norm" in header) == (reading == "lineage")
    m = json.loads((run / "metrics.json").read_text())
    for key in ("fg_bg_auc", "fg_bg_auc_video", "attention_range", "bg_prob_on_fg", "bg_prob_on_bg",
                "off_label_argmax_share"):
        assert key in m
    assert 0.0 <= m["fg_bg_auc"] <= 1.0
    assert set(m["by_readout"]) == {"none/soft", "none/nms", "minmax/soft", "minmax/nms"}
    assert m["by_readout"][m["readout"]]["average_mAP"] == m["average_mAP"]


def test_settings_named_by_the_issue(smoke_root, tmp_path):
    run = tmp_path / "r"
    assert main([*TRAIN, "--data", str(smoke_root), "--losses", "mil,norm", "--set", "localize.attention_norm=minmax",
                 "--set", "model.supp=include_min", "--set", "loss.lambda_norm=0.1", "--out", str(run)]) == 0
    p = json.loads((run / "params.json").read_text())["config"]
    assert p["localize"]["attention_norm"] == "minmax" and p["model"]["supp"] == "include_min"
    assert p["loss"]["terms"] == ["mil", "norm"] and p["loss"]["lambda_norm"] == 0.1
    assert json.loads((run / "metrics.json").read_text())["readout"] == "minmax/soft"


def test_basnet_trains_without_losses(smoke_root, tmp_path):
    run = tmp_path / "bas"
    assert main([*TRAIN, "--data", str(smoke_root), "--model", "basnet", "--out", str(run)]) == 0
    assert json.loads((run / "params.json").read_text())["config"]["loss"]["terms"] == ["mil"]


def test_validation_view_holds_out_training_videos_only(smoke_root):
    ds = load_dataset(smoke_root)
    view = validation_view(ds, 0.25, seed=0)
    held = {v.name for v in view.test_videos()}
    train = {v.name for v in view.train_videos()}
    assert view.test_subset == VALIDATION_SUBSET and held and train
    assert held | train == {v.name for v in ds.train_videos()} and not held & train
    assert not held & {v.name for v in ds.test_videos()}
    assert {v.name for v in validation_view(ds, 0.25, seed=0).test_videos()} == held      # deterministic
    with pytest.raises(ValueError):
        validation_view(ds, 1.0)


def test_validation_run_never_scores_the_test_videos(smoke_root, tmp_path):
    run = tmp_path / "val"
    assert main([*TRAIN, "--data", str(smoke_root), "--losses", "mil", "--set", "train.val_fraction=0.25",
                 "--set", "train.eval_interval=12", "--out", str(run)]) == 0
    params = json.loads((run / "params.json").read_text())
    ds = load_dataset(smoke_root)
    assert params["data"]["evaluated_on"].startswith("validation")
    preds = json.loads((run / "predictions.json").read_text())["results"]
    assert set(preds) and not set(preds) & {v.name for v in ds.test_videos()}
    header = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert "val_average_mAP" in header and "val_fg_bg_auc" in header


def test_check_data_names_the_label_source(smoke_root, tmp_path):
    ok, report = check_data(smoke_root)
    assert ok and "video-level labels from: labels_all.npy" in report and "WARNING" not in report
    import shutil
    copy = tmp_path / "nolabels"
    shutil.copytree(smoke_root, copy)
    for f in copy.rglob("labels_all.npy"):
        f.unlink()
    ok, report = check_data(copy)
    assert ok and "video-level labels from: segments" in report and "WARNING: labels_all.npy is missing" in report
