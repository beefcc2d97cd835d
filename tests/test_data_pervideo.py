"""Per-video (BaS-Net/UM/CoLA) layout: gt.json + split files + features/{subset}/{rgb,flow}/<vid>.npy."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.pervideo import PerVideoFeatures


def build_tree(root, videos, *, splits=True, dim=(4, 3), extra_gt=None):
    """videos: {vid: (subset, T, annotations, duration or None)}; returns {vid: (rgb, flow)} arrays."""
    rng = np.random.default_rng(1)
    db, arrays = {}, {}
    for vid, (subset, T, anns, duration) in videos.items():
        entry = {"subset": subset, "annotations": anns}
        if duration is not None:
            entry["duration"] = duration
        db[vid] = entry
        rgb = rng.standard_normal((T, dim[0])).astype(np.float32)
        flow = rng.standard_normal((T, dim[1])).astype(np.float32)
        for stream, x in (("rgb", rgb), ("flow", flow)):
            d = root / "features" / subset / stream
            d.mkdir(parents=True, exist_ok=True)
            np.save(d / f"{vid}.npy", x)
        arrays[vid] = (rgb, flow)
    db.update(extra_gt or {})
    (root / "gt.json").write_text(json.dumps({"database": db}))
    if splits:
        for s in ("train", "test"):
            (root / f"split_{s}.txt").write_text("".join(f"{v}\n" for v, e in videos.items() if e[0] == s))
    return arrays


VIDEOS = {
    "a": ("train", 5, [{"segment": ["0.5", "1.8"], "label": "Run"}, {"segment": [2, 2.5], "label": "Jump"}], None),
    "b": ("train", 3, [{"segment": ["0.1", "1.0"], "label": "Swim"}], 2.0),
    "c": ("test", 6, [{"segment": ["1.0", "2.2"], "label": "Jump"}], None),
    "d": ("test", 2, [], None),
}


def test_reads_tree(tmp_path):
    arrays = build_tree(tmp_path, VIDEOS)
    ds = load_dataset(tmp_path)
    assert ds.layout == "pervideo" and ds.name == tmp_path.name
    assert ds.classes == ["Jump", "Run", "Swim"]  # sorted set of gt.json labels
    assert (ds.train_subset, ds.test_subset) == ("train", "test")
    assert [v.name for v in ds.train_videos()] == ["a", "b"] and [v.name for v in ds.test_videos()] == ["c", "d"]
    assert ds.feature_dim == 7 and ds.ambiguous == {}
    a = ds.video("a")
    np.testing.assert_array_equal(a.segments, [[0.5, 1.8], [2.0, 2.5]])  # strings and numbers
    assert a.segment_classes.tolist() == [1, 0] and a.labels.tolist() == [1.0, 1.0, 0.0]
    assert a.duration == pytest.approx(5 * 0.64)  # no duration in gt.json: T * snippet_seconds
    assert ds.video("b").duration == 2.0
    assert ds.video("d").segments.shape == (0, 2) and ds.video("d").labels.sum() == 0
    for v in ds.videos:
        rgb, flow = arrays[v.name]
        x = v.features
        assert x.dtype == np.float32 and v.num_snippets == rgb.shape[0]
        np.testing.assert_array_equal(x[:, :4], rgb)  # RGB half first
        np.testing.assert_array_equal(x[:, 4:], flow)


def test_features_are_lazy_and_picklable(tmp_path):
    build_tree(tmp_path, VIDEOS)
    ds = load_dataset(tmp_path)
    src = ds.video("c")._source
    assert isinstance(src, PerVideoFeatures)  # nothing held in memory until accessed
    clone = pickle.loads(pickle.dumps(src))
    np.testing.assert_array_equal(clone(), ds.video("c").features)


def test_snippet_seconds_sets_fallback_duration(tmp_path):
    build_tree(tmp_path, VIDEOS)
    assert load_dataset(tmp_path, snippet_seconds=1.0).video("a").duration == 5.0


def test_split_files_select_videos(tmp_path):
    extra = {"z": {"subset": "test", "annotations": [{"segment": ["0", "1"], "label": "Kick"}]}}
    build_tree(tmp_path, VIDEOS, extra_gt=extra)  # z is in gt.json but in no split file (BaS-Net 270/1496)
    ds = load_dataset(tmp_path)
    assert "z" not in {v.name for v in ds.videos}
    assert ds.classes == ["Jump", "Kick", "Run", "Swim"]  # class list from all of gt.json: stable ids


def test_without_split_files_uses_gt_subsets(tmp_path):
    build_tree(tmp_path, VIDEOS, splits=False)
    ds = load_dataset(tmp_path)
    assert sorted(v.name for v in ds.train_videos()) == ["a", "b"]
    assert sorted(v.name for v in ds.test_videos()) == ["c", "d"]


def test_classlist_file_defines_ids(tmp_path):
    build_tree(tmp_path, VIDEOS)
    (tmp_path / "classlist.txt").write_text("Swim\nRun\nJump\nKick\n")
    ds = load_dataset(tmp_path)
    assert ds.classes == ["Swim", "Run", "Jump", "Kick"]
    assert ds.video("a").segment_classes.tolist() == [1, 2]
