"""Synthetic benchmark: determinism, atomic writing, THUMOS-like structure, feature model sanity."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import replace

import numpy as np
import pytest

from himnet_lib.cli import main
from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.synthetic.annotations import annotation_statistics, generate_annotations
from himnet_lib.datasets.synthetic.presets import PRESETS, SyntheticConfig
from himnet_lib.datasets.synthetic.writer import make_synthetic, synthetic_stats
from himnet_lib.utils.errors import DataError


def digests(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_byte_identical(tmp_path):
    a = digests(make_synthetic("smoke", seed=3, out=tmp_path / "a"))
    b = digests(make_synthetic("smoke", seed=3, out=tmp_path / "b"))
    c = digests(make_synthetic("smoke", seed=4, out=tmp_path / "c"))
    assert a == b and len(a) == 10  # 7 annotation .npy + Ambiguous_test.txt + features + synthetic.json
    assert a["Synthetic-smoke-I3D-JOINTFeatures.npy"] != c["Synthetic-smoke-I3D-JOINTFeatures.npy"]


def test_replaces_previous_benchmark_and_refuses_foreign_dirs(tmp_path):
    out = tmp_path / "bench"
    make_synthetic("smoke", seed=1, out=out)
    first = digests(out)
    make_synthetic("smoke", seed=2, out=out)
    assert digests(out) != first and load_dataset(out).name == "Synthetic-smoke"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench"]  # no temp dirs left behind
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(DataError, match="refusing"):
        make_synthetic("smoke", seed=0, out=foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    assert load_dataset(make_synthetic("smoke", seed=0, out=tmp_path / "empty")).num_classes == 6


def test_smoke_loads_fast_and_is_consistent(smoke_root):
    t = time.perf_counter()
    ds = load_dataset(smoke_root)
    assert time.perf_counter() - t < 1.0
    fg = []
    for v in ds.videos:
        x = v.features
        assert x.dtype == np.float32 and x.shape == (math.ceil(v.duration / 0.64 - 1e-9), 32)
        centres = (np.arange(len(x)) + 0.5) * 0.64
        inside = ((centres[:, None] >= v.segments[:, 0]) & (centres[:, None] < v.segments[:, 1])).any(1)
        fg.append(inside)
    bg = 1 - np.concatenate(fg).mean()
    assert 0.5 < bg < 0.85  # real THUMOS: ~0.7 of snippets are background


def test_demo_structure_matches_thumos_targets():
    cfg = PRESETS["demo"]
    assert (cfg.num_classes, cfg.num_train, cfg.num_test, cfg.feature_dim) == (20, 200, 212, 128)
    t = time.perf_counter()
    ann = generate_annotations(cfg, np.random.default_rng(0))
    assert time.perf_counter() - t < 2.0
    test = annotation_statistics(ann, cfg, "test")
    allv = annotation_statistics(ann, cfg)
    assert 6 <= test["instances_per_video"]["p50"] <= 13        # real median 9
    assert 0.2 <= test["coverage"]["mean"] <= 0.4                # real 0.29
    assert 0.08 <= test["frac_multi_class"] <= 0.25              # real 34/212 = 0.16
    assert 250 <= allv["num_snippets"]["mean"] <= 450             # real THUMOS: ~330 (mean 209-217 s)
    assert 1.0 <= test["instance_len_s"]["p50"] / cfg.time_scale <= 5.0   # real median 3.2 s
    assert test["ambiguous_segments"] > 10 and test["ambiguous_videos"] > 5
    assert annotation_statistics(ann, cfg, "validation")["ambiguous_segments"] == 0
    assert 1 <= allv["label_noise_videos"] <= 0.06 * 412         # real 28/412; target ~2-3 %


def test_nested_and_cooccurring_classes():
    cfg = PRESETS["demo"]
    ann = generate_annotations(cfg, np.random.default_rng(1))
    child, parent = cfg.nested
    a, b = cfg.cooccur
    n_child, overlaps = 0, 0
    for segs, cls, _primary in zip(ann.segments, ann.segment_classes, ann.primary):
        parents = {tuple(s) for s, c in zip(segs.tolist(), cls) if c == parent}
        for s, c in zip(segs.tolist(), cls):
            if c == child:
                n_child += 1
                assert tuple(s) in parents
        sa, sb = segs[cls == a], segs[cls == b]
        if len(sa) and len(sb):
            overlaps += int(((sa[:, None, 0] < sb[None, :, 1]) & (sb[None, :, 0] < sa[:, None, 1])).sum())
    assert n_child > 50 and overlaps > 20
    both = [i for i, cls in enumerate(ann.segment_classes) if child in cls]
    assert sum(set(ann.labels_all[i]) >= {child, parent} for i in both) >= 0.8 * len(both)


def test_synthetic_stats_uses_no_features_and_is_deterministic():
    assert synthetic_stats("demo", 3) == synthetic_stats("demo", 3)
    assert synthetic_stats("demo", 3)["instances"] != synthetic_stats("demo", 4)["instances"]


def test_demo_bundle_generation_is_quick(tmp_path):
    t = time.perf_counter()
    root = make_synthetic("demo", seed=0, out=tmp_path / "demo")
    assert time.perf_counter() - t < 10.0
    ds = load_dataset(root)
    assert ds.feature_dim == 128 and len(ds.train_videos()) == 200 and len(ds.test_videos()) == 212
    assert ds.classes[0] == "Action00" and sum(len(a) for a in ds.ambiguous.values()) > 10


def test_features_carry_class_signal(smoke_root):
    """Mean in-instance RGB feature of a class is closer to other instances of that class than to others."""
    ds = load_dataset(smoke_root)
    sums = np.zeros((ds.num_classes, 2, 32))
    for v in ds.videos:
        centres = (np.arange(v.num_snippets) + 0.5) * 0.64
        for c in np.unique(v.segment_classes):
            s = v.segments[v.segment_classes == c]
            inside = ((centres[:, None] >= s[:, 0]) & (centres[:, None] < s[:, 1])).any(1)
            half = 0 if v.subset == "validation" else 1
            sums[c, half] += v.features[inside].sum(0) - v.features[~inside].mean(0) * inside.sum()
    a = sums[:, 0] / np.linalg.norm(sums[:, 0], axis=1, keepdims=True)
    b = sums[:, 1] / np.linalg.norm(sums[:, 1], axis=1, keepdims=True)
    sim = a @ b.T
    assert (np.argmax(sim, axis=1) == np.arange(ds.num_classes)).mean() >= 0.8


def test_config_validation_and_custom_config(tmp_path):
    with pytest.raises(ValueError, match="even"):
        SyntheticConfig(feature_dim=33)
    with pytest.raises(ValueError):
        SyntheticConfig(num_classes=5, nested=(4, 7))
    with pytest.raises(ValueError, match="unknown preset"):
        make_synthetic("huge", seed=0, out=tmp_path / "x")
    cfg = replace(PRESETS["smoke"], name="Custom", noise_sd=1.0, num_train=4, num_test=3)
    ds = load_dataset(make_synthetic(cfg, seed=0, out=tmp_path / "c"))
    assert ds.name == "Custom" and len(ds.videos) == 7


def test_cli_make_synthetic(tmp_path, capsys):
    assert main(["make-synthetic", "--preset", "smoke", "--seed", "2", "--out", str(tmp_path / "s")]) == 0
    assert "smoke" in capsys.readouterr().out
    assert load_dataset(tmp_path / "s").feature_dim == 32
