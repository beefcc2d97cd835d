"""The readers on the real annotation files (../shared/data), with small generated features.

Annotation files are symlinked into tmp_path (never copied into the repo); features are zeros of a
tiny dimension with T = ceil(duration / 0.64) rows (ActivityNet: at most 4 rows, to stay fast).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.safe_npy import load_npy
from himnet_lib.datasets.summary import check_data, summarize


def _link_bundle(src: Path, root: Path, name: str, rows) -> Path:
    ann = root / f"{name}-Annotations"
    ann.mkdir(parents=True)
    for f in src.iterdir():
        os.symlink(f, ann / f.name)
    dur = load_npy(ann / "duration.npy").reshape(-1)
    feats = np.empty(len(dur), dtype=object)
    for i, d in enumerate(dur):
        feats[i] = np.zeros((rows(d), 4 if len(dur) > 1000 else 8), np.float32)
    np.save(root / f"{name}-I3D-JOINTFeatures.npy", feats, allow_pickle=True)
    return root


@pytest.fixture(scope="module")
def thumos(real_data_dir, tmp_path_factory):
    root = _link_bundle(real_data_dir / "thumos14reduced", tmp_path_factory.mktemp("thumos"), "Thumos14reduced",
                        lambda d: math.ceil(d / 0.64))
    return load_dataset(root)


def test_thumos_counts(thumos):
    assert thumos.name == "Thumos14reduced" and thumos.num_classes == 20 and thumos.feature_dim == 8
    assert (thumos.train_subset, thumos.test_subset) == ("validation", "test")
    assert len(thumos.train_videos()) == 200 and len(thumos.test_videos()) == 212
    assert sum(len(v.segments) for v in thumos.test_videos()) == 3358
    assert sum(len(v.segments) for v in thumos.train_videos()) == 3007
    assert sum(len(a) for a in thumos.ambiguous.values()) == 99 and len(thumos.ambiguous) == 37
    assert thumos.classes[0] == "BaseballPitch" and thumos.classes[-1] == "VolleyballSpiking"
    assert all(isinstance(c, str) for c in thumos.classes)


def test_thumos_cliffdiving_is_also_diving(thumos):
    cliff, diving = thumos.classes.index("CliffDiving"), thumos.classes.index("Diving")
    n = 0
    for v in thumos.videos:
        dives = {tuple(s) for s, c in zip(v.segments.tolist(), v.segment_classes) if c == diving}
        for s, c in zip(v.segments.tolist(), v.segment_classes):
            if c == cliff:
                n += 1
                assert tuple(s) in dives, (v.name, s)
    assert n > 0
    assert sum(1 for v in thumos.test_videos() for c in v.segment_classes if c == cliff) == 217


def test_thumos_quirks_kept(thumos):
    v270 = thumos.video("video_test_0000270")
    assert v270.labels.sum() == 0 and len(v270.segments) == 29  # empty labels_all, as CO2-Net trains
    assert summarize(thumos)["notes"]["videos_labels_differ_from_segments"] == 28
    v = thumos.video("video_validation_0000051")
    np.testing.assert_array_equal(v.segments, [[67.5, 75.9], [85.9, 90.6], [139.3, 148.2]])
    assert v.duration == pytest.approx(169.794) and v.num_snippets == math.ceil(169.794 / 0.64)


def test_thumos_check_data(thumos):
    ok, text = check_data(thumos.root)
    assert ok and "subset 'test': 212 videos, 3358 instances" in text


def test_basnet_gt_json(real_data_dir, tmp_path):
    src = real_data_dir / "thumos14_gtjson"
    for f in ("gt.json", "split_train.txt", "split_test.txt"):
        os.symlink(src / f, tmp_path / f)
    for subset in ("train", "test"):
        names = (src / f"split_{subset}.txt").read_text().split()
        for stream in ("rgb", "flow"):
            d = tmp_path / "features" / subset / stream
            d.mkdir(parents=True)
            for n in names:
                np.save(d / f"{n}.npy", np.zeros((3, 2), np.float32))
    ds = load_dataset(tmp_path)
    assert len(ds.test_videos()) == 210 and len(ds.train_videos()) == 200
    assert sum(len(v.segments) for v in ds.test_videos()) == 3311  # 3358 minus 270's 29 and 1496's 18
    assert ds.num_classes == 20 and ds.classes[4] == "CliffDiving" and ds.feature_dim == 4
    assert ds.video("video_test_0000896").segments[0].tolist() == [18.6, 24.8]


def test_activitynet13_bundle(real_data_dir, tmp_path):
    src = real_data_dir / "activitynet13"
    if not src.is_dir():
        pytest.skip(f"{src} not found")
    _link_bundle(src, tmp_path, "ActivityNet1.3", lambda d: min(max(math.ceil(d / 0.64), 1), 4))
    ds = load_dataset(tmp_path)
    assert ds.num_classes == 200 and len(ds.videos) == 13912
    assert (ds.train_subset, ds.test_subset) == ("training", "validation")
    assert len(ds.train_videos()) == 9337 and len(ds.test_videos()) == 4575
    assert ds.ambiguous == {} and ds.feature_dim == 4
    v = ds.videos[0]
    assert v.name == "3HHAEmr0Q34" and ds.classes[int(v.segment_classes[0])] == "Tennis serve with ball bouncing"
