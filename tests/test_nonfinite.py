"""NaN and Inf are named where they enter: in features, segment bounds, durations, scores and
settings, check-data (every one at once, on stdout), train, localize and evaluate (one stderr line,
exit status 2) name the file, the video, the snippet or the field (the setting)."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from fuzz_inputs import call_cli

from himnet_lib.datasets.bundle import write_bundle
from himnet_lib.utils.run_folder import RunDir

TRAIN = ["train", "--profile", "smoke", "--threads", "1"]
FEATURES = "Nf-I3D-JOINTFeatures.npy"


def _bundle(root, *, features=None, segments=None, durations=None):
    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((T, 4)).astype(np.float32) for T in (6, 5, 7, 4)]
    for i, x in (features or {}).items():
        feats[i] = x
    segs = [np.array([[0.5, 1.5]]), np.array([[0.2, 0.9]]), np.array([[1.0, 2.0]]), np.array([[0.0, 1.0]])]
    for i, s in (segments or {}).items():
        segs[i] = np.array(s)
    write_bundle(root, "Nf", classes=["Jump", "Run"], videonames=["v0", "v1", "v2", "v3"],
                 subsets=["validation", "validation", "test", "test"], segments=segs,
                 labels=[["Jump"], ["Run"], ["Run"], ["Jump"]], labels_all=[["Jump"], ["Run"], ["Run"], ["Jump"]],
                 durations=durations or [3.0, 2.0, 4.0, 3.0], features=feats)
    return root


def _with(x: np.ndarray, *cells) -> np.ndarray:
    x = x.copy()
    for t, d, v in cells:
        x[t, d] = v
    return x


@pytest.fixture
def bad_bundle(tmp_path):
    rng = np.random.default_rng(1)
    return _bundle(tmp_path / "data", features={
        1: _with(rng.standard_normal((5, 4)).astype(np.float32), (3, 2, np.nan)),
        2: _with(rng.standard_normal((7, 4)).astype(np.float32), (0, 0, np.inf), (6, 1, -np.inf))},
        segments={3: [[0.0, np.inf]]}, durations=[3.0, 2.0, 4.0, np.nan])


def test_check_data_lists_every_non_finite_value_at_once(bad_bundle, capsys):
    out = call_cli(["check-data", bad_bundle])
    assert out.code == 2 and out.err == "" and "Traceback" not in out.out
    problems = [ln for ln in out.out.splitlines() if ln.startswith("  - ")]
    assert len(problems) == 4, out.out
    nan_v1, inf_v2, seg_v3, dur_v3 = problems
    assert "video v1" in nan_v1 and "snippet 3 (nan at feature 2)" in nan_v1 and FEATURES in nan_v1
    assert "video v2" in inf_v2 and "2 of 7 snippets: snippet 0 (inf at feature 0), snippet 6 (-inf at feature 1)" \
        in inf_v2
    assert "video v3" in seg_v3 and "segments.npy" in seg_v3 and "not finite" in seg_v3
    assert "video v3" in dur_v3 and "duration.npy" in dur_v3 and "field duration" in dur_v3


def test_check_data_names_the_snippets_of_a_per_video_stream(tmp_path):
    root = tmp_path / "pv"
    (root / "features" / "test" / "rgb").mkdir(parents=True)
    (root / "features" / "test" / "flow").mkdir(parents=True)
    (root / "gt.json").write_text(json.dumps({"database": {"a": {"subset": "test", "annotations": []}}}))
    x = np.zeros((9, 2), np.float32)
    x[[1, 2, 3, 4, 5, 8], 0] = np.nan
    np.save(root / "features" / "test" / "rgb" / "a.npy", x)
    np.save(root / "features" / "test" / "flow" / "a.npy", np.zeros((9, 2), np.float32))
    out = call_cli(["check-data", root])
    assert out.code == 2
    assert "6 of 9 snippets: snippet 1 (nan at feature 0)" in out.out and ", and 1 more" in out.out
    assert "video a" in out.out and "a.npy" in out.out


def test_train_and_evaluate_refuse_nan_features_naming_video_and_snippet(bad_bundle, tmp_path):
    line = call_cli([*TRAIN, "--data", bad_bundle, "--out", tmp_path / "r"]).one_line_error(
        FEATURES, "video v1", "snippet 3", "field features")
    assert line.startswith("himnet train: error:")
    assert not (tmp_path / "r").exists()
    call_cli(["evaluate", "--gt", bad_bundle, "--pred", tmp_path / "p.json"]).one_line_error("video v1", "snippet 3")


@pytest.fixture(scope="module")
def finished_run(smoke_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("nf") / "run"
    call_cli([*TRAIN, "--data", smoke_root, "--out", out]).ok()
    return out


def test_localize_refuses_nan_features_settings_and_weights(finished_run, smoke_root, bad_bundle, tmp_path):
    pred = tmp_path / "p.json"
    call_cli(["localize", "--run", finished_run, "--data", bad_bundle, "--out", pred]).one_line_error(
        "video v1", "snippet 3")
    call_cli(["localize", "--run", finished_run, "--data", smoke_root, "--out", pred, "--set",
              "localize.gamma=.inf"]).one_line_error("setting localize.gamma must be a finite number, got inf")
    call_cli(["localize", "--run", finished_run, "--data", smoke_root, "--out", pred, "--set",
              "localize.thresholds=[0.1, .nan]"]).one_line_error("localize.thresholds")
    assert not pred.exists()
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    state = torch.load(run / RunDir.CHECKPOINT, weights_only=True)
    name = next(iter(state["model"]))
    state["model"][name] = torch.full_like(state["model"][name], math.nan)
    torch.save(state, run / RunDir.CHECKPOINT)
    call_cli(["localize", "--run", run, "--data", smoke_root, "--out", pred]).one_line_error(
        "checkpoint.pt holds non-finite weights", repr(name))
    assert not pred.exists()


@pytest.mark.parametrize("setting", ["loss.alpha=.nan", "loss.lambda_cll=.inf", "train.weight_decay=-.inf",
                                     "localize.oic_flank=.nan", "baseline.hamnet_lambda_norm=.inf",
                                     "train.lr=1e999", "snippet_seconds=.inf"])
def test_train_refuses_non_finite_settings_naming_them(setting, smoke_root, tmp_path):
    key = setting.split("=")[0]
    call_cli([*TRAIN, "--data", smoke_root, "--out", tmp_path / "r", "--set", setting]).one_line_error(
        f"setting {key} must be a finite number")
    assert not (tmp_path / "r").exists()  # refused before the run folder is made


def test_train_refuses_a_non_finite_alpha_option(smoke_root, tmp_path):
    call_cli([*TRAIN, "--data", smoke_root, "--out", tmp_path / "r", "--alpha", "nan"]).one_line_error("loss.alpha")


def test_evaluate_refuses_non_finite_bounds_scores_and_options(tmp_path, smoke_root):
    gt = {"database": {"v": {"subset": "test", "annotations": [{"segment": [1.0, 2.0], "label": "a"}]}}}
    pred = {"version": "1", "external_data": {},
            "results": {"v": [{"label": "a", "segment": [1.0, 2.0], "score": 0.5}]}}
    g, p = tmp_path / "gt.json", tmp_path / "pred.json"

    def write(gt_text: str, pred_text: str) -> None:
        g.write_text(gt_text)
        p.write_text(pred_text)

    write(json.dumps(gt), json.dumps(pred))
    call_cli(["evaluate", "--gt", g, "--pred", p]).ok()
    write(json.dumps(gt).replace("2.0", "NaN"), json.dumps(pred))
    call_cli(["evaluate", "--gt", g, "--pred", p]).one_line_error(str(g), "video v", "annotations[0].segment",
                                                                  "finite")
    write(json.dumps(gt), json.dumps(pred).replace("0.5", "Infinity"))
    call_cli(["evaluate", "--gt", g, "--pred", p]).one_line_error(str(p), "video v", "results[0].score")
    write(json.dumps(gt), json.dumps(pred).replace("[1.0, 2.0]", "[-Infinity, 2.0]"))
    call_cli(["evaluate", "--gt", g, "--pred", p]).one_line_error(str(p), "video v", "results[0].segment")
    write(json.dumps(gt), json.dumps(pred))
    call_cli(["evaluate", "--gt", g, "--pred", p, "--tiou", "0.5", "nan"]).one_line_error("tIoU thresholds")
    call_cli(["evaluate", "--gt", smoke_root, "--pred", p, "--snippet-seconds", "inf"]).one_line_error(
        "snippet_seconds must be a finite number > 0, got inf")
    out = call_cli(["check-data", smoke_root, "--snippet-seconds", "nan"])
    assert out.code == 2 and "snippet_seconds must be a finite number > 0, got nan" in out.out
