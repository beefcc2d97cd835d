"""Bad input: one DataError per case, naming the file, video and field; check-data lists every problem."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from test_data_pervideo import VIDEOS, build_tree

from himnet_lib.cli import main
from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.bundle import write_bundle
from himnet_lib.datasets.summary import check_data
from himnet_lib.utils.errors import DataError


def bundle(root, **over):
    rng = np.random.default_rng(0)
    spec = dict(
        classes=["Jump", "Run"], videonames=["v0", "v1", "v2"], subsets=["validation", "validation", "test"],
        segments=[np.array([[0.5, 1.5]]), np.array([[0.2, 0.9]]), np.array([[1.0, 2.0]])],
        labels=[["Jump"], ["Run"], ["Run"]], labels_all=[["Jump"], ["Run"], ["Run"]], durations=[3.0, 2.0, 4.0],
        features=[rng.standard_normal((T, 6)).astype(np.float32) for T in (5, 4, 7)])
    spec.update(over)
    write_bundle(root, "Bad", **spec)
    return root


def feats_with(i, x):
    rng = np.random.default_rng(0)
    f = [rng.standard_normal((T, 6)).astype(np.float32) for T in (5, 4, 7)]
    f[i] = x
    return f


def error_of(root, **kw) -> str:
    with pytest.raises(DataError) as e:
        load_dataset(root, **kw)
    return str(e.value)


def test_missing_annotation_file(tmp_path):
    os.remove(bundle(tmp_path) / "Bad-Annotations" / "labels.npy")
    msg = error_of(tmp_path)
    assert "missing file" in msg and "labels.npy" in msg


def test_missing_feature_file(tmp_path):
    os.remove(bundle(tmp_path) / "Bad-I3D-JOINTFeatures.npy")
    assert "Bad-I3D-JOINTFeatures.npy" in error_of(tmp_path)


def test_arrays_of_different_lengths(tmp_path):
    bundle(tmp_path)
    np.save(tmp_path / "Bad-Annotations" / "duration.npy", np.array([[3.0], [2.0]]))
    msg = error_of(tmp_path)
    assert "duration.npy" in msg and "field duration" in msg and "2 entries" in msg and "has 3" in msg


def test_fewer_feature_entries_than_videos(tmp_path):
    bundle(tmp_path, features=feats_with(0, np.zeros((5, 6), np.float32))[:2])
    msg = error_of(tmp_path)
    assert "Bad-I3D-JOINTFeatures.npy" in msg and "field features" in msg


def test_feature_dim_differs_between_videos(tmp_path):
    bundle(tmp_path, features=feats_with(1, np.zeros((4, 5), np.float32)))
    msg = error_of(tmp_path)
    assert "video v1" in msg and "field features" in msg and "dimension 5" in msg and "expected 6" in msg


def test_feature_dim_differs_from_configured(tmp_path):
    bundle(tmp_path)
    msg = error_of(tmp_path, feature_dim=2048)
    assert "video v0" in msg and "expected 2048" in msg and "Bad-I3D-JOINTFeatures.npy" in msg


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features(tmp_path, bad):
    x = np.ones((7, 6), np.float32)
    x[3, 2] = bad
    bundle(tmp_path, features=feats_with(2, x))
    msg = error_of(tmp_path)
    assert "video v2" in msg and "NaN/Inf" in msg and "snippet 3" in msg and "field features" in msg


def test_zero_length_video(tmp_path):
    bundle(tmp_path, features=feats_with(0, np.zeros((0, 6), np.float32)))
    msg = error_of(tmp_path)
    assert "video v0" in msg and "T=0" in msg


def test_unknown_class_in_segment_labels(tmp_path):
    bundle(tmp_path, labels=[["Jump"], ["Fly"], ["Run"]])
    msg = error_of(tmp_path)
    assert "labels.npy" in msg and "video v1" in msg and "'Fly'" in msg and "field labels" in msg


def test_unknown_class_in_video_labels(tmp_path):
    bundle(tmp_path, labels_all=[["Jump"], ["Run"], ["Swim"]])
    msg = error_of(tmp_path)
    assert "labels_all.npy" in msg and "video v2" in msg and "'Swim'" in msg


def test_segment_labels_not_aligned(tmp_path):
    bundle(tmp_path, labels=[["Jump", "Jump"], ["Run"], ["Run"]])
    msg = error_of(tmp_path)
    assert "video v0" in msg and "2 segment labels for 1 segments" in msg


def test_segment_end_before_start(tmp_path):
    bundle(tmp_path, segments=[np.array([[0.5, 1.5]]), np.array([[0.9, 0.2]]), np.array([[1.0, 2.0]])])
    msg = error_of(tmp_path)
    assert "segments.npy" in msg and "video v1" in msg and "end before" in msg and "field segments" in msg


def test_bad_duration(tmp_path):
    bundle(tmp_path, durations=[3.0, float("nan"), 4.0])
    msg = error_of(tmp_path)
    assert "duration.npy" in msg and "video v1" in msg


def test_bad_ambiguous_line(tmp_path):
    bundle(tmp_path)
    (tmp_path / "Bad-Annotations" / "Ambiguous_test.txt").write_text("v2  1.0 0.5\n")
    msg = error_of(tmp_path)
    assert "Ambiguous_test.txt" in msg and "line 1" in msg and "video v2" in msg


# --- per-video layout --------------------------------------------------------------------------

def test_pervideo_missing_stream(tmp_path):
    build_tree(tmp_path, VIDEOS)
    os.remove(tmp_path / "features" / "test" / "flow" / "c.npy")
    msg = error_of(tmp_path)
    assert "missing file" in msg and "flow/c.npy" in msg and "video c" in msg


def test_pervideo_stream_lengths_differ(tmp_path):
    build_tree(tmp_path, VIDEOS)
    np.save(tmp_path / "features" / "train" / "flow" / "a.npy", np.zeros((4, 3), np.float32))
    msg = error_of(tmp_path)
    assert "video a" in msg and "rgb has 5 snippets but flow has 4" in msg


def test_pervideo_nan_detected_on_access(tmp_path):
    build_tree(tmp_path, VIDEOS)
    x = np.zeros((6, 4), np.float32)
    x[5, 0] = np.nan
    np.save(tmp_path / "features" / "test" / "rgb" / "c.npy", x)
    v = load_dataset(tmp_path).video("c")
    with pytest.raises(DataError, match=r"video c.*field features|NaN/Inf") as e:
        v.features
    assert "c.npy" in str(e.value) and "snippet 5" in str(e.value)


def test_pervideo_unknown_class(tmp_path):
    build_tree(tmp_path, VIDEOS)
    (tmp_path / "classlist.txt").write_text("Jump\nRun\n")
    msg = error_of(tmp_path)
    assert "gt.json" in msg and "video b" in msg and "'Swim'" in msg and "annotations[0].label" in msg


def test_pervideo_segment_end_before_start(tmp_path):
    vids = dict(VIDEOS, c=("test", 6, [{"segment": ["3.0", "2.2"], "label": "Jump"}], None))
    build_tree(tmp_path, vids)
    msg = error_of(tmp_path)
    assert "gt.json" in msg and "video c" in msg and "end before" in msg


def test_pervideo_unparsable_segment_and_missing_entry(tmp_path):
    vids = dict(VIDEOS, c=("test", 6, [{"segment": ["x", "2.2"], "label": "Jump"}], None))
    build_tree(tmp_path, vids)
    assert "annotations[0]" in error_of(tmp_path)
    (tmp_path / "split_test.txt").write_text("c\nghost\n")
    ok, report = check_data(tmp_path)
    assert not ok and "video ghost" in report and "field database" in report


def test_pervideo_bad_json(tmp_path):
    (tmp_path / "gt.json").write_text("{not json")
    assert "gt.json" in error_of(tmp_path)


# --- check-data collects everything ------------------------------------------------------------

def _broken(root):
    x = np.ones((7, 6), np.float32)
    x[0, 0] = np.nan
    f = feats_with(2, x)
    f[1] = np.zeros((4, 5), np.float32)
    return bundle(root, features=f, labels=[["Fly"], ["Run"], ["Run"]],
                  segments=[np.array([[0.5, 1.5]]), np.array([[0.2, 0.9]]), np.array([[2.5, 2.0]])])


def test_check_data_lists_every_problem(tmp_path):
    ok, report = check_data(_broken(tmp_path))
    assert not ok
    assert "4 problem(s)" in report
    for needle in ("video v0", "'Fly'", "video v1", "dimension 5", "NaN/Inf", "end before"):
        assert needle in report


def test_check_data_cli_broken_bundle(tmp_path, capsys):
    assert main(["check-data", str(_broken(tmp_path))]) == 2
    cap = capsys.readouterr()
    assert "Traceback" not in cap.out + cap.err
    assert cap.out.count("\n  - ") == 4 and "labels.npy" in cap.out and "segments.npy" in cap.out


def test_check_data_cli_missing_root(tmp_path, capsys):
    assert main(["check-data", str(tmp_path / "nope")]) == 2
    cap = capsys.readouterr()
    assert "not a directory" in cap.out and "Traceback" not in cap.out + cap.err


def test_check_data_pervideo_reads_all_features(tmp_path):
    build_tree(tmp_path, VIDEOS)
    x = np.zeros((3, 4), np.float32)
    x[1, 1] = np.inf
    np.save(tmp_path / "features" / "train" / "rgb" / "b.npy", x)
    ok, report = check_data(tmp_path)
    assert not ok and "video b" in report and "NaN/Inf" in report
    json.loads((tmp_path / "gt.json").read_text())  # untouched
