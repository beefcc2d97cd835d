"""The mechanism knobs of the synthetic generator and the benchmark variants that name them.

At their defaults the knobs leave every preset byte-identical (digests recorded from the generator
before the knobs existed); set, each one moves its structure measure in the stated direction
(smoke scale; CLL's through MIL-only models), and leaves the rest of its preset alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import numpy as np
import pytest

from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.synthetic.annotations import generate_annotations
from himnet_lib.datasets.synthetic.presets import PRESETS, SyntheticConfig
from himnet_lib.datasets.synthetic.variants import (
    benchmark_config,
    canonical_benchmark,
    parse_variant,
    variant_name,
)
from himnet_lib.datasets.synthetic.writer import generate, make_synthetic
from himnet_lib.evaluation import structure

# sha256 of json.dumps({file: sha256 of the file}, sort_keys=True) of make_synthetic(preset, seed=0),
# recorded from the generator before the mechanism knobs existed (branch layout, 887b377).
BEFORE_KNOBS = {
    "demo": "54c34e1c1db24c0841bc85808a5f7a3cbe0e67951a950476fde18e5604bb8429",
    "demo-b": "aa2cf4f39e255ecefa545ea720973d88bc3773d0064a88c129a10acec47d2169",
}
KNOBS = ("class_style", "train_ambiguous_rate", "overlap_instance_prob")


def tree_digest(root) -> str:
    files = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(root.rglob("*")) if p.is_file()}
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


@pytest.mark.parametrize("preset", sorted(BEFORE_KNOBS))
def test_knob_defaults_leave_demo_presets_byte_identical(preset, tmp_path):
    assert all(getattr(PRESETS[preset], k) == 0.0 for k in KNOBS)
    assert tree_digest(make_synthetic(preset, seed=0, out=tmp_path / preset)) == BEFORE_KNOBS[preset]
    # a variant spelling the defaults is the preset itself, files and all
    same = f"{preset}+class_style=0+overlap_instance_prob=0.0"
    assert canonical_benchmark(same) == preset
    assert tree_digest(make_synthetic(same, seed=0, out=tmp_path / "same")) == BEFORE_KNOBS[preset]


def test_variant_names_parse_validate_and_canonicalise():
    assert parse_variant("demo") == ("demo", {})
    base, changes = parse_variant("demo+train_ambiguous_rate=2+num_camera=3")
    assert base == "demo" and changes == {"train_ambiguous_rate": 2.0, "num_camera": 3}
    assert type(changes["num_camera"]) is int and type(changes["train_ambiguous_rate"]) is float
    # sorted fields, shortest round-tripping values, changes equal to the preset dropped
    assert variant_name("demo", {"overlap_instance_prob": 0.30, "class_style": 0.5, "noise_sd": 0.25}) == \
        "demo+class_style=0.5+overlap_instance_prob=0.3"
    assert canonical_benchmark("demo+hard_negative_frac=0.04") == "demo"   # demo's own value
    assert canonical_benchmark("demo+hard_negative_frac=0.0") == "demo+hard_negative_frac=0"
    cfg = benchmark_config("demo-b+class_style=0.25")
    assert cfg.name == "Synthetic-demo-b+class_style=0.25" and cfg.class_style == 0.25
    assert cfg.noise_rho == PRESETS["demo-b"].noise_rho
    for bad, why in (("huge+class_style=0.1", "unknown preset"), ("demo+nope=1", "not a numeric field"),
                     ("demo+name=x", "not a numeric field"), ("demo+duration_range=1", "not a numeric field"),
                     ("demo+class_style", "not <field>=<value>"), ("demo+class_style=a", "not a float"),
                     ("demo+class_style=0.1+class_style=0.2", "given twice"),
                     ("demo+class_style=1.0", "class_style must be in"),
                     ("demo+overlap_instance_prob=1.5", "overlap_instance_prob must be in"),
                     ("demo+train_ambiguous_rate=-1", "train_ambiguous_rate must be")):
        with pytest.raises(ValueError, match=why):
            parse_variant(bad)


def test_variant_bundle_is_deterministic_and_records_its_name(tmp_path):
    name = "smoke+class_style=0.5+overlap_instance_prob=0.4+train_ambiguous_rate=3"
    a, b = make_synthetic(name, seed=1, out=tmp_path / "a"), make_synthetic(name, seed=1, out=tmp_path / "b")
    assert tree_digest(a) == tree_digest(b)
    marker = json.loads((a / "synthetic.json").read_text())
    assert marker["preset"] == name and marker["config"]["class_style"] == 0.5
    assert load_dataset(a).name == "Synthetic-smoke+class_style=0.5+overlap_instance_prob=0.4+train_ambiguous_rate=3"


def test_knob_values_are_validated():
    for field, value in (("class_style", -0.1), ("class_style", 1.0), ("train_ambiguous_rate", -0.5),
                         ("overlap_instance_prob", 1.1), ("hard_negative_frac", -0.1)):
        with pytest.raises(ValueError, match=field):
            SyntheticConfig(**{field: value})


def _annotations(name, seed=0):
    return generate_annotations(benchmark_config(name), np.random.default_rng(seed))


def test_annotation_knobs_keep_the_presets_instances():
    base = _annotations("smoke")
    over = _annotations("smoke+overlap_instance_prob=0.5")
    amb = _annotations("smoke+train_ambiguous_rate=4")
    assert amb.names == base.names and amb.labels_all == base.labels_all
    assert all(np.array_equal(x, y) for x, y in zip(amb.segments, base.segments))
    test_amb = [a for a in amb.ambiguous if "test" in a[0]]
    assert test_amb == base.ambiguous                                    # the test videos' regions are the preset's
    assert {a[0] for a in amb.ambiguous} - {a[0] for a in test_amb}     # and training videos now have some
    added = 0
    for i, (segs, cls) in enumerate(zip(over.segments, over.segment_classes)):
        old = {(tuple(s), int(c)) for s, c in zip(base.segments[i].tolist(), base.segment_classes[i])}
        new = {(tuple(s), int(c)) for s, c in zip(segs.tolist(), cls)}
        assert old <= new                                                # every instance of the preset is kept
        for s, c in new - old:                                           # each added one overlaps its class
            same = [o for o, oc in old if oc == c]
            assert any(s[0] <= e and b <= s[1] for b, e in same) and s[1] - s[0] >= 0.7 - 1e-9
        added += len(new - old)
    assert added > 0


def test_class_style_leaves_annotations_and_other_streams_alone():
    cfg0, ann0, f0 = generate("smoke", 2)
    cfg1, ann1, f1 = generate("smoke+class_style=0.6", 2)
    assert ann1.names == ann0.names and all(np.array_equal(x, y) for x, y in zip(ann1.segments, ann0.segments))
    # background snippets far from any instance carry no action signal: identical features there
    v = next(i for i, s in enumerate(ann0.segments) if len(s) and ann0.durations[i] > 20)
    centres = (np.arange(len(f0[v])) + 0.5) * cfg0.snippet_seconds
    far = np.all((centres[:, None] < ann0.segments[v][:, 0] - 2) | (centres[:, None] > ann0.segments[v][:, 1] + 2),
                 axis=1)
    amb = [(s, e) for n, s, e in ann0.ambiguous if n == ann0.names[v]]
    far &= ~np.any([(centres >= s - 2) & (centres <= e + 2) for s, e in amb], axis=0) if amb else far
    assert far.any() and np.array_equal(f0[v][far], f1[v][far])
    assert not np.array_equal(f0[v], f1[v])


# --- each knob moves its structure measure (smoke scale) -----------------------------------------

def _dataset(name, tmp_path, seed=0):
    return load_dataset(make_synthetic(name, seed=seed, out=tmp_path / f"{name}-{seed}"))


def test_class_style_raises_the_cross_video_style_gap(tmp_path):
    gaps = []
    for level in (0.0, 0.5, 0.9):
        ds = _dataset(f"smoke+class_style={level}", tmp_path)
        sim = structure.class_style_similarity(ds.train_videos(), ds.snippet_seconds)
        gaps.append(sim["gap"])
        assert sim["classes"] == ds.num_classes
    assert gaps[0] < gaps[1] < gaps[2] and gaps[2] - gaps[0] > 0.1


def test_train_ambiguous_rate_raises_the_ambiguous_training_share(tmp_path):
    shares = []
    for level in (0.0, 2.0, 6.0):
        ds = _dataset(f"smoke+train_ambiguous_rate={level}", tmp_path)
        shares.append(structure.ambiguous_share(ds.train_videos(), ds.ambiguous, ds.snippet_seconds))
    assert shares[0] == 0.0 and 0.05 < shares[1] < shares[2] < 0.6


def test_overlap_knobs_move_the_overlap_share(tmp_path):
    shares = {}
    for name in ("smoke+gap_concentration=10", "smoke", "smoke+overlap_instance_prob=0.6"):
        shares[name] = structure.instance_overlap_share(_dataset(name, tmp_path).test_videos())
    low, mid, high = shares.values()
    assert low < mid < high and high > 0.8


def test_families_raise_the_mil_only_off_label_share(tmp_path):
    """CLL's measure is a MIL-only model's: paired over 3 seeds, a family variant puts more argmaxes
    on an unlabelled class than the variant without hard negatives (200 iterations: at the smoke
    profile's 24 the models are noise)."""
    from himnet_lib.config.profiles import build_config
    from himnet_lib.engine.train import train_run
    none, families = "smoke+hard_negative_frac=0", "smoke+family_similarity=0.95+family_size=3"
    shares: dict[str, list[float]] = {none: [], families: []}
    for seed in range(3):
        for name in shares:
            cfg = build_config("smoke", {"loss.terms": ("mil",), "train.seed": seed, "train.iterations": 200})
            m = train_run(cfg, _dataset(name, tmp_path, seed), tmp_path / "runs" / f"{name}-{seed}", num_threads=1,
                          progress=False, log=lambda s: None)
            shares[name].append(m["off_label_argmax_share"])
    assert all(f > n for n, f in zip(shares[none], shares[families])), shares


def test_smoke_knob_variant_config_is_the_preset_with_the_change():
    cfg = benchmark_config("smoke+class_style=0.5")
    assert cfg == replace(PRESETS["smoke"], name="Synthetic-smoke+class_style=0.5", class_style=0.5)
