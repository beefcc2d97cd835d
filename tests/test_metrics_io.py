"""Ground truth / prediction loading, bad input, and the ``himnet evaluate`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from himnet_lib.cli import main
from himnet_lib.config.localize import LocalizeConfig
from himnet_lib.evaluation.detection import (
    ACTIVITYNET_TIOU,
    THUMOS_TIOU,
    default_tiou,
    detection_map,
    evaluate_files,
    format_result,
)
from himnet_lib.evaluation.groundtruth import gt_from_anet_json, gt_from_dataset, load_ground_truth
from himnet_lib.evaluation.localization import Proposals, results_object
from himnet_lib.evaluation.predictions import load_predictions, predictions_from_proposals, predictions_from_results
from himnet_lib.utils.errors import EvaluationError

DB = {
    "v1": {"subset": "test", "duration": 30.0, "annotations": [
        {"label": "Jump", "segment": ["1.5", "4.0"]},          # strings go through float()
        {"label": "Run", "segment": [10, 12]}]},
    "v2": {"subset": "test", "annotations": [{"label": "Jump", "segment": [0.0, 3.0]}]},
    "v3": {"subset": "Test", "annotations": [{"label": "Swim", "segment": [0.0, 3.0]}]},
    "v4": {"subset": "validation", "annotations": [{"label": "Swim", "segment": [1.0, 2.0]}]},
}


def pred_obj(results, **extra):
    obj = {"version": "1", "external_data": {}, "results": results}
    obj.update(extra)
    return obj


def write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return p


# --- ground truth -----------------------------------------------------------------------------

def test_gt_json_subset_exact_classes_first_appearance_and_float_segments():
    gt = gt_from_anet_json({"database": DB}, "test")
    assert gt.videos == ["v1", "v2"] and gt.classes == ["Jump", "Run"]
    np.testing.assert_array_equal(gt.segments, [[1.5, 4.0], [10, 12], [0, 3]])
    assert gt.class_idx.tolist() == [0, 1, 0] and gt.video_idx.tolist() == [0, 0, 1]
    assert gt_from_anet_json({"database": DB}, "Test").classes == ["Swim"]  # case-sensitive
    assert gt_from_anet_json({"database": DB}).subset == "test"             # default preference
    with pytest.raises(EvaluationError, match=r"subset 'TEST'.*'Test', 'test', 'validation'"):
        gt_from_anet_json({"database": DB}, "TEST")


def test_gt_keeps_duplicates_zero_length_and_counts_them():
    db = {"v": {"subset": "test", "annotations": [{"label": "A", "segment": [1, 2]},
                                                  {"label": "A", "segment": [1, 2]},
                                                  {"label": "A", "segment": [5, 5]}]}}
    gt = gt_from_anet_json({"database": db}, "test")
    assert gt.instances_per_class().tolist() == [3]
    # one perfect prediction: recall 1/3 at precision 1 -> AP 1/3 (npos counts all three)
    preds = predictions_from_results(pred_obj({"v": [{"label": "A", "segment": [1, 2], "score": 1}]}))
    r = detection_map(gt, preds, [0.5])
    assert r.average_mAP == pytest.approx(1 / 3)


@pytest.mark.parametrize("obj,match", [
    ({"version": 1}, "database"),
    ({"database": []}, "database"),
    ({"database": {"v": {"annotations": []}}}, r"video v.*subset"),
    ({"database": {"v": {"subset": "test"}}}, r"video v.*annotations"),
    ({"database": {"v": {"subset": "test", "annotations": [{"label": "A"}]}}}, r"annotations\[0\]"),
    ({"database": {"v": {"subset": "test", "annotations": [{"label": "A", "segment": [3, 1]}]}}}, "end < start"),
    ({"database": {"v": {"subset": "test", "annotations": [{"label": "A", "segment": ["x", 1]}]}}}, "numbers"),
    ({"database": {"v": {"subset": "test", "annotations": []}}}, "no ground-truth annotations"),
])
def test_bad_ground_truth(obj, match):
    with pytest.raises(EvaluationError, match=match):
        gt_from_anet_json(obj, "test")


def test_gt_file_errors(tmp_path):
    with pytest.raises(EvaluationError, match="malformed JSON"):
        load_ground_truth(write(tmp_path, "gt.json", "{not json"))
    with pytest.raises(EvaluationError, match="not found"):
        load_ground_truth(tmp_path / "missing.json")


def test_real_thumos_gt_file_and_self_evaluation(real_data_dir):
    path = real_data_dir / "thumos14_test_gt_anet.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    gt = load_ground_truth(path, "test")
    assert len(gt.videos) == 212 and gt.num_instances == 3358 and gt.num_classes == 20
    assert gt.instances_per_class().max() == 488  # BasketballDunk (docs/evaluation_protocol.md §6)
    # the GT itself as predictions (distinct scores): every prediction is an exact match -> mAP 1
    obj = json.loads(path.read_text())
    res, n = {}, 0
    for v, e in obj["database"].items():
        if e["subset"] == "test":
            res[v] = [{"label": a["label"], "segment": a["segment"], "score": 1.0 - 1e-5 * (n := n + 1)}
                      for a in e["annotations"]]
    r = detection_map(gt, predictions_from_results(pred_obj(res)), THUMOS_TIOU)
    np.testing.assert_allclose(r.mAP, 1.0)
    assert default_tiou(gt.num_classes) == THUMOS_TIOU and default_tiou(200) == ACTIVITYNET_TIOU


def test_gt_from_dataset_matches_segments(smoke_root):
    data = pytest.importorskip("himnet_lib.datasets")
    ds = data.load_dataset(smoke_root)
    gt = gt_from_dataset(ds)
    test = ds.test_videos()
    assert gt.subset == ds.test_subset and gt.videos == [v.name for v in test]
    assert gt.num_instances == sum(len(v.segments) for v in test)
    names = [ds.classes[c] for v in test for c in v.segment_classes]
    assert [gt.classes[c] for c in gt.class_idx] == names
    # the same GT through the directory path of load_ground_truth
    gt2 = load_ground_truth(smoke_root)
    np.testing.assert_array_equal(gt2.segments, gt.segments)


# --- predictions ------------------------------------------------------------------------------

def test_predictions_input_order_and_foreign_videos():
    p = predictions_from_results(pred_obj({
        "zz": [{"label": "Run", "segment": [0, 1], "score": 0.1}],
        "v1": [{"label": "Jump", "segment": ["1", "2"], "score": 3},
               {"label": "Run", "segment": [0, 1], "score": 0.5}]}))
    assert p.videos == ["zz", "v1"] and p.labels == ["Run", "Jump"]
    assert p.video_idx.tolist() == [0, 1, 1] and p.label_idx.tolist() == [0, 1, 0]
    np.testing.assert_array_equal(p.scores, [0.1, 3.0, 0.5])
    gt = gt_from_anet_json({"database": DB}, "test")
    r = detection_map(gt, p, [0.5])  # the foreign video "zz" is only a false positive
    assert r.num_predictions == 3


@pytest.mark.parametrize("obj,match", [
    ([], "must be an object"),
    ({"version": 1, "external_data": {}}, "'results'"),
    ({"results": {}, "external_data": {}}, "'version'"),
    ({"results": {}, "version": 1}, "'external_data'"),
    (pred_obj({"v": {}}), r"must be a list.*video v"),
    (pred_obj({"v": [{"label": "A", "segment": [2, 1], "score": 1}]}), r"end < start.*video v.*results\[0\]\.segment"),
    (pred_obj({"v": [{"label": "A", "segment": [1], "score": 1}]}), "segment must be a list"),
    (pred_obj({"v": [{"label": "A", "segment": [0, 1], "score": "high"}]}), r"score must be a finite number.*video v"),
    (pred_obj({"v": [{"label": "A", "segment": [0, 1], "score": True}]}), "score must be a finite number"),
    (pred_obj({"v": [{"label": "A", "segment": [0, 1], "score": float("nan")}]}), "score must be a finite number"),
    (pred_obj({"v": [{"label": "A", "segment": [0, float("inf")], "score": 1}]}), "finite"),
    (pred_obj({"v": [{"label": 3, "segment": [0, 1], "score": 1}]}), "label must be a string"),
    (pred_obj({"v": [{"segment": [0, 1], "score": 1}]}), r"lacks key 'label'.*results\[0\]"),
])
def test_bad_predictions(obj, match):
    with pytest.raises(EvaluationError, match=match):
        predictions_from_results(obj)


def test_lenient_mode_and_empty_results(tmp_path):
    assert len(predictions_from_results({"results": {"v": []}}, strict=False)) == 0
    with pytest.raises(EvaluationError, match="no predictions"):
        load_predictions(write(tmp_path, "p.json", pred_obj({"v": []})))
    with pytest.raises(EvaluationError, match="no predictions"):
        load_predictions(write(tmp_path, "p.json", pred_obj({})))


def test_unknown_label_and_bad_tiou_in_evaluate_files(tmp_path):
    g = write(tmp_path, "gt.json", {"database": DB})
    p = write(tmp_path, "p.json", pred_obj({"v2": [{"label": "Swim", "segment": [0, 1], "score": 1}]}))
    with pytest.raises(EvaluationError, match=r"'Swim'.*video v2"):
        evaluate_files(g, p, subset="test")
    p = write(tmp_path, "p.json", pred_obj({"v2": [{"label": "Jump", "segment": [0, 3], "score": 1}]}))
    with pytest.raises(EvaluationError, match="tIoU"):
        evaluate_files(g, p, subset="test", tiou=[1.5])


# --- result object and formatting -------------------------------------------------------------

def test_result_json_summaries_and_table(tmp_path):
    g = write(tmp_path, "gt.json", {"database": DB})
    p = write(tmp_path, "p.json", pred_obj({"v2": [{"label": "Jump", "segment": [0, 3], "score": 1}]}))
    r = evaluate_files(g, p, subset="test")
    j = r.to_json()
    assert j["tiou"] == list(THUMOS_TIOU)
    # Jump: 1 TP of 2 GT -> AP .5 at every θ; Run: 0 -> mAP .25
    np.testing.assert_allclose(j["mAP"], 0.25)
    assert j["average_mAP"] == pytest.approx(0.25) and j["average_mAP_0.1_0.5"] == pytest.approx(0.25)
    assert j["per_class_AP"]["Run"] == [0.0] * 7
    text = format_result(r)
    assert "25.00" in text and "AVG 0.1:0.5" in text and "0.70" in text
    r5 = evaluate_files(g, p, subset="test", tiou=[0.5])
    assert "average_mAP_0.1_0.5" not in r5.to_json()


# --- CLI ---------------------------------------------------------------------------------------

def test_cli_evaluate_table_and_json(tmp_path, capsys):
    g = write(tmp_path, "gt.json", {"database": DB})
    p = write(tmp_path, "p.json", pred_obj({"v1": [{"label": "Run", "segment": [10, 12], "score": .9},
                                                   {"label": "Jump", "segment": [1.5, 4.0], "score": .8}]}))
    assert main(["evaluate", "--gt", str(g), "--pred", str(p), "--subset", "test"]) == 0
    out = capsys.readouterr().out
    assert "mAP" in out and "75.00" in out  # Run 1, Jump .5
    assert main(["evaluate", "--gt", str(g), "--pred", str(p), "--json", "--tiou", "0.5", "0.9"]) == 0
    j = json.loads(capsys.readouterr().out)
    assert j["tiou"] == [0.5, 0.9] and j["mAP"] == [0.75, 0.75] and j["average_mAP"] == 0.75


def test_cli_evaluate_dataset_root(smoke_root, tmp_path, capsys):
    pytest.importorskip("himnet_lib.datasets")
    gt = load_ground_truth(smoke_root)
    res = {v: [] for v in gt.videos}
    for i, (vi, ci) in enumerate(zip(gt.video_idx, gt.class_idx)):
        s, e = gt.segments[i]
        res[gt.videos[vi]].append({"label": gt.classes[ci], "segment": [s, e], "score": 1 - i * 1e-4})
    p = write(tmp_path, "p.json", pred_obj(res))
    assert main(["evaluate", "--gt", str(smoke_root), "--pred", str(p), "--json"]) == 0
    j = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(j["mAP"], 1.0)


@pytest.mark.parametrize("content,match", [
    ("{\"results\": ", "malformed JSON"),
    (json.dumps({"version": 1, "results": {}}), "external_data"),
    (json.dumps(pred_obj({"v1": [{"label": "Jump", "segment": [5, 1], "score": 1}]})), "end < start"),
    (json.dumps(pred_obj({"v1": [{"label": "Dance", "segment": [0, 1], "score": 1}]})), "'Dance'"),
    (json.dumps(pred_obj({"v1": [{"label": "Jump", "segment": [0, 1], "score": "x"}]})), "score"),
    (json.dumps(pred_obj({})), "no predictions"),
])
def test_cli_bad_input_exit_2_without_traceback(tmp_path, capsys, content, match):
    g = write(tmp_path, "gt.json", {"database": DB})
    p = write(tmp_path, "p.json", content)
    assert main(["evaluate", "--gt", str(g), "--pred", str(p)]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    assert "himnet evaluate: error:" in cap.err and "Traceback" not in cap.err
    assert len(cap.err.strip().splitlines()) == 1
    import re
    assert re.search(match, cap.err)


def test_cli_missing_files(tmp_path, capsys):
    g = write(tmp_path, "gt.json", {"database": DB})
    assert main(["evaluate", "--gt", str(g), "--pred", str(tmp_path / "nope.json")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["evaluate", "--gt", str(tmp_path / "nope"), "--pred", str(g)]) == 2
    assert "not found" in capsys.readouterr().err


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_videos=st.integers(0, 6))
def test_predictions_from_proposals_equal_the_parsed_result_object(seed, n_videos):
    """Scoring proposals from arrays skips the result object; it must give exactly what parsing
    that object gives (same order, same label numbering), hence the same mAP."""
    rng = np.random.default_rng(seed)
    classes = ["a", "b", "c", "d"]
    props = {}
    for v in range(n_videos):
        n = int(rng.integers(0, 5))
        start = np.round(rng.random(n) * 10, int(rng.integers(0, 3)))
        props[f"v{v}"] = Proposals(rng.integers(0, 4, n).astype(np.int64), start,
                                   start + rng.random(n) * 3, rng.standard_normal(n))
    direct = predictions_from_proposals(props, classes)
    parsed = predictions_from_results(results_object(props, classes, LocalizeConfig(), "soft"))
    assert direct.videos == parsed.videos and direct.labels == parsed.labels
    for f in ("video_idx", "label_idx", "segments", "scores"):
        a, b = getattr(direct, f), getattr(parsed, f)
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), f


def test_predictions_from_proposals_names_the_video_at_fault():
    z, c = np.zeros(1), np.zeros(1, np.int64)
    with pytest.raises(EvaluationError, match="video v2: 1 classes, 2 starts"):
        predictions_from_proposals({"v1": Proposals(c, z, z, z), "v2": Proposals(c, np.zeros(2), z, z)}, ["a"])
    with pytest.raises(EvaluationError, match="video v2: non-finite"):
        predictions_from_proposals({"v1": Proposals(c, z, z + 1, z),
                                    "v2": Proposals(c, z, z + 1, np.array([np.nan]))}, ["a"])
    with pytest.raises(EvaluationError, match="video v1: .*end < start"):
        predictions_from_proposals({"v1": Proposals(c, z + 2, z + 1, z)}, ["a"])
    with pytest.raises(EvaluationError, match="out of range"):
        predictions_from_proposals({"v1": Proposals(c + 1, z, z + 1, z)}, ["a"])
