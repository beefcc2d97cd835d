"""W-TALC npy bundle: writer/reader round trip, layout autodetection, check-data on good data."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from himnet_lib.cli import main
from himnet_lib.datasets import detect_layout, load_dataset
from himnet_lib.datasets.bundle import write_bundle
from himnet_lib.utils.errors import DataError


def _tiny_bundle(root, *, as_bytes=True, subsets=("validation", "validation", "test")):
    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((T, 6)).astype(np.float32) for T in (5, 3, 7)]
    write_bundle(
        root, "Tiny", classes=["Jump", "Run"], videonames=["v0", "v1", "v2"], subsets=list(subsets),
        segments=[np.array([[0.5, 1.5], [2.0, 2.6]]), np.zeros((0, 2)), np.array([[1.0, 3.2]])],
        labels=[["Jump", "Run"], [], ["Run"]], labels_all=[["Jump", "Run"], ["Jump"], ["Run"]],
        durations=[3.2, 1.9, 4.5], features=feats, ambiguous=[("v2", 0.0, 0.7), ("v2", 4.0, 4.4)],
        as_bytes=as_bytes)
    return feats


@pytest.mark.parametrize("as_bytes", [True, False])
def test_write_read_round_trip(tmp_path, as_bytes):
    feats = _tiny_bundle(tmp_path, as_bytes=as_bytes)
    ds = load_dataset(tmp_path)
    assert ds.name == "Tiny" and ds.layout == "wtalc"
    assert ds.classes == ["Jump", "Run"] and ds.num_classes == 2 and ds.feature_dim == 6
    assert (ds.train_subset, ds.test_subset) == ("validation", "test")
    assert [v.name for v in ds.train_videos()] == ["v0", "v1"] and [v.name for v in ds.test_videos()] == ["v2"]
    v0, v1, v2 = ds.videos
    np.testing.assert_array_equal(v0.segments, [[0.5, 1.5], [2.0, 2.6]])
    assert v0.segments.dtype == np.float64 and v0.segment_classes.dtype == np.int64
    assert v0.segment_classes.tolist() == [0, 1]
    assert v1.segments.shape == (0, 2) and v1.labels.tolist() == [1.0, 0.0]  # from labels_all, not segments
    assert v2.labels.dtype == np.float32 and v2.labels.tolist() == [0.0, 1.0]
    assert v2.duration == 4.5 and v2.num_snippets == 7
    for v, x in zip(ds.videos, feats):
        assert v.features.dtype == np.float32
        np.testing.assert_array_equal(v.features, x)
    assert list(ds.ambiguous) == ["v2"]
    np.testing.assert_array_equal(ds.ambiguous["v2"], [[0.0, 0.7], [4.0, 4.4]])
    np.testing.assert_array_equal(ds.labels_matrix(ds.train_videos()), [[1, 1], [1, 0]])


def test_written_files_match_the_wtalc_format(tmp_path):
    _tiny_bundle(tmp_path)
    ann = tmp_path / "Tiny-Annotations"
    def load(n):
        return np.load(ann / f"{n}.npy", allow_pickle=True, encoding="bytes")  # trusted: written above
    assert load("classlist").dtype.kind == "S" and load("videoname").tolist() == [b"v0", b"v1", b"v2"]
    seg = load("segments")
    assert seg.dtype == object and seg.shape == (3,) and seg[0] == [[0.5, 1.5], [2.0, 2.6]]
    assert load("labels")[0] == [b"Jump", b"Run"] and load("duration").shape == (3, 1)
    assert (ann / "Ambiguous_test.txt").read_text().splitlines()[0] == "v2  0.0 0.7"  # two spaces
    feats = np.load(tmp_path / "Tiny-I3D-JOINTFeatures.npy", allow_pickle=True)
    assert feats.dtype == object and feats[2].shape == (7, 6) and feats[2].dtype == np.float32


def test_activitynet_subsets_are_detected(tmp_path):
    _tiny_bundle(tmp_path, subsets=("training", "training", "validation"))
    ds = load_dataset(tmp_path)
    assert (ds.train_subset, ds.test_subset) == ("training", "validation")
    assert len(ds.train_videos()) == 2 and [v.name for v in ds.test_videos()] == ["v2"]


def test_labels_from_segments_without_labels_all(tmp_path):
    _tiny_bundle(tmp_path)
    os.remove(tmp_path / "Tiny-Annotations" / "labels_all.npy")
    ds = load_dataset(tmp_path)
    assert ds.video("v1").labels.tolist() == [0.0, 0.0]
    assert ds.video("v0").labels.tolist() == [1.0, 1.0]


def test_equal_length_features_saved_as_3d_array(tmp_path):
    _tiny_bundle(tmp_path)
    x = np.arange(3 * 4 * 6, dtype=np.float32).reshape(3, 4, 6)
    np.save(tmp_path / "Tiny-I3D-JOINTFeatures.npy", x)
    ds = load_dataset(tmp_path)
    np.testing.assert_array_equal(ds.videos[1].features, x[1])


def test_smoke_bundle_fields(smoke_root):
    ds = load_dataset(smoke_root)
    assert ds.name == "Synthetic-smoke" and ds.num_classes == 6 and ds.feature_dim == 32
    assert len(ds.train_videos()) == 24 and len(ds.test_videos()) == 16
    for v in ds.videos:
        assert v.features.shape == (math.ceil(v.duration / 0.64 - 1e-9), 32)
        assert v.segments.shape == (len(v.segment_classes), 2) and len(v.segments) > 0
        assert (v.segments[:, 0] >= 0).all() and (v.segments[:, 1] <= v.duration + 1e-9).all()
        assert (v.segments[:, 1] > v.segments[:, 0]).all()
        assert set(v.segment_classes.tolist()) <= set(range(6))
    assert all(a.shape[1] == 2 for a in ds.ambiguous.values())


def test_snippet_seconds_is_carried(smoke_root):
    assert load_dataset(smoke_root, snippet_seconds=1.0).snippet_seconds == 1.0
    with pytest.raises(DataError, match="snippet_seconds"):
        load_dataset(smoke_root, snippet_seconds=0)


def test_autodetection(tmp_path, smoke_root):
    assert detect_layout(smoke_root) == "wtalc"
    (tmp_path / "pv").mkdir()
    (tmp_path / "pv" / "gt.json").write_text('{"database": {}}')
    assert detect_layout(tmp_path / "pv") == "pervideo"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="cannot detect"):
        load_dataset(tmp_path / "empty")
    with pytest.raises(DataError, match="not a directory"):
        load_dataset(tmp_path / "nowhere")


def test_two_annotation_dirs_are_ambiguous(tmp_path):
    _tiny_bundle(tmp_path)
    (tmp_path / "Other-Annotations").mkdir()
    with pytest.raises(DataError, match="exactly one") as e:
        load_dataset(tmp_path)
    assert "Other-Annotations" in str(e.value) and "Tiny-Annotations" in str(e.value)


def test_check_data_cli_prints_summary(smoke_root, capsys):
    assert main(["check-data", str(smoke_root)]) == 0
    out = capsys.readouterr().out
    assert "Synthetic-smoke" in out and "6 classes" in out and "feature dim 32" in out
    assert "subset 'validation': 24 videos" in out and "subset 'test': 16 videos" in out
    assert "p5 / p25 / p50 / p75 / p95" in out


def test_check_data_feature_dim_option(smoke_root, capsys):
    assert main(["check-data", str(smoke_root), "--feature-dim", "64"]) == 2
    out = capsys.readouterr().out
    assert out.count("feature dimension 32 differs from the expected 64") == 40  # every video listed
