"""Second synthetic benchmark (preset demo-b, feature model B) and the no-op defaults of its fields."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import fields, replace

import numpy as np
import pytest

from himnet_lib.cli import build_parser
from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.synthetic.annotations import generate_annotations
from himnet_lib.datasets.synthetic.features import _ar1, _family_mix, _unit
from himnet_lib.datasets.synthetic.presets import PRESETS, SyntheticConfig
from himnet_lib.datasets.synthetic.writer import generate, make_synthetic

# sha256 of the smoke preset (seed 0) written by the generator before feature model B existed.
# Model B's fields default to no-ops, so these must not change; a deliberate change of the older
# presets' bytes must update them (and GENERATOR_VERSION).
SMOKE_SEED0 = {
    "Synthetic-smoke-I3D-JOINTFeatures.npy": "d65cfa8fa4a0014263cffcf29711870c20656eca8abdcff7d4aff281eddda89c",
    "Synthetic-smoke-Annotations/segments.npy": "095a1a3542fc4f7e29c11d31e0a9d85bafae2b0c31c1345e2d4bac1c8f87f055",
    "synthetic.json": "abd4eec9bf2b1b67843fe16fb8ff8a5134754563c36e91c28cd293c83758ef8a",
}

# A smoke-sized benchmark with exactly demo-b's feature model (families of 4; the package's
# smoke-b preset has families of 3).
SMOKE_B4 = replace(PRESETS["smoke"], **{k: getattr(PRESETS["demo-b"], k) for k in (
    "noise_rho", "noise_sd", "family_size", "family_similarity", "appearance_strength", "motion_strength",
    "context_strength", "context_base", "context_decay_snippets")}, name="Synthetic-smoke-b4")


def test_older_presets_keep_their_bytes(smoke_root):
    got = {k: hashlib.sha256((smoke_root / k).read_bytes()).hexdigest() for k in SMOKE_SEED0}
    assert got == SMOKE_SEED0
    marker = json.loads((smoke_root / "synthetic.json").read_text())
    assert not {"noise_rho", "family_size", "family_similarity"} & set(marker["config"])


def test_marker_writes_later_fields_only_when_set():
    from himnet_lib.datasets.synthetic.presets import VERSION_1_FIELDS
    from himnet_lib.datasets.synthetic.writer import _marker_config
    names = {f.name for f in fields(SyntheticConfig)}
    assert VERSION_1_FIELDS < names  # no misspelt name; model B's fields came later
    assert set(_marker_config(PRESETS["demo"])) == VERSION_1_FIELDS
    assert set(_marker_config(PRESETS["smoke-b"])) == VERSION_1_FIELDS | {"noise_rho", "family_size",
                                                                             "family_similarity"}


def test_demo_b_preset_settings_and_same_structure_as_demo():
    b, a = PRESETS["demo-b"], PRESETS["demo"]
    assert b.name == "Synthetic-demo-b" and b.feature_dim == 128 and b.time_scale == 1.0
    assert b.noise_rho > 0 and b.family_size > 1 and b.family_similarity > 0
    assert b.context_strength >= 0.9 * b.appearance_strength and b.context_decay_snippets > a.context_decay_snippets
    # identical annotation generator settings -> identical annotations for a seed
    ann_a = generate_annotations(a, np.random.default_rng(5))
    ann_b = generate_annotations(b, np.random.default_rng(5))
    assert ann_a.names == ann_b.names and ann_a.labels_all == ann_b.labels_all
    assert all(np.array_equal(x, y) for x, y in zip(ann_a.segments, ann_b.segments))


def test_ar1_keeps_marginal_sd_and_has_lag1_correlation():
    rng = np.random.default_rng(0)
    e = rng.standard_normal((4000, 64)).astype(np.float32) * np.float32(0.35)
    n = _ar1(e, 0.8)
    assert n.dtype == np.float32 and n.shape == e.shape and np.array_equal(n[0], e[0])
    assert abs(n.std() / 0.35 - 1) < 0.05
    lag1 = np.mean(n[1:] * n[:-1]) / np.mean(n * n)
    assert abs(lag1 - 0.8) < 0.03
    assert np.array_equal(_ar1(e, 0.8), n)  # deterministic


def test_family_prototypes_share_a_component():
    rng = np.random.default_rng(1)
    H, C, fs, s = 512, 8, 4, 0.6
    fam = np.arange(C) // fs
    p = _family_mix(_unit(rng, C, H), _unit(rng, 2, H)[fam], s)
    assert np.allclose(np.linalg.norm(p, axis=1), 1)
    cos = p @ p.T
    same = (fam[:, None] == fam[None, :]) & ~np.eye(C, dtype=bool)
    assert abs(cos[same].mean() - s) < 0.1 and abs(cos[fam[:, None] != fam[None, :]].mean()) < 0.1


def test_model_b_features_are_temporally_correlated(tmp_path):
    def lag1(cfg):
        _, _, feats = generate(cfg, 0)
        r = [np.mean(np.diff(f, axis=0) ** 2) / (2 * f.var(axis=0).mean()) for f in feats if len(f) > 20]
        return 1 - float(np.mean(r))  # ~ lag-1 autocorrelation of the per-video fluctuations
    assert lag1(SMOKE_B4) > lag1(PRESETS["smoke"]) + 0.2


def test_model_b_bundle_writes_loads_and_records_its_fields(tmp_path):
    root = make_synthetic(SMOKE_B4, seed=0, out=tmp_path / "b")
    ds = load_dataset(root)
    assert ds.feature_dim == 32 and ds.name == "Synthetic-smoke-b4"
    v = ds.videos[0]
    assert v.features.dtype == np.float32 and v.features.shape[0] == math.ceil(v.duration / 0.64 - 1e-9)
    marker = json.loads((root / "synthetic.json").read_text())["config"]
    assert marker["noise_rho"] == SMOKE_B4.noise_rho and marker["family_size"] == SMOKE_B4.family_size
    again = make_synthetic(SMOKE_B4, seed=0, out=tmp_path / "b2")
    for f in ("Synthetic-smoke-b4-I3D-JOINTFeatures.npy", "synthetic.json"):
        assert (root / f).read_bytes() == (again / f).read_bytes()


def test_model_b_config_validation():
    with pytest.raises(ValueError, match="noise_rho"):
        SyntheticConfig(noise_rho=1.0)
    with pytest.raises(ValueError, match="family"):
        SyntheticConfig(family_size=0)
    with pytest.raises(ValueError, match="family"):
        SyntheticConfig(family_similarity=1.0)


def test_cli_preset_choices_follow_presets():
    args = build_parser().parse_args(["make-synthetic", "--preset", "demo-b", "--out", "x"])
    assert args.preset == "demo-b"
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["make-synthetic"]
    assert set(next(a for a in sub._actions if a.dest == "preset").choices) == set(PRESETS)
