"""The mechanism sweep and its map: the declaration, the grid (shared with Table 3, run ids unchanged),
the table, intervals, trend test, verdicts, sentences and diagnosis against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from himnet_lib.datasets.synthetic.annotations import generate_annotations
from himnet_lib.datasets.synthetic.variants import benchmark_config
from himnet_lib.datasets.synthetic.writer import generate
from himnet_lib.evaluation import structure
from himnet_lib.study import grids, mechanism_map, mechanisms
from himnet_lib.study.grids import RunSpec
from himnet_lib.study.mechanisms import MECHANISMS, SOFT_NMS, Trend

T975 = {1: 12.706204736174707, 2: 4.302652729911275}  # Student t quantiles 0.975 by df


def test_declaration_covers_every_term_with_enough_levels():
    assert [m.term for m in MECHANISMS] == ["cll", "vcl", "scl", SOFT_NMS]
    assert {m.term: m.rows for m in MECHANISMS} == {"cll": ("Exp 2", "Exp 1"), "vcl": ("Exp 3", "Exp 2"),
                                                      "scl": ("Exp 4", "Exp 3"), SOFT_NMS: ("Exp 4", "Exp 4")}
    for m in MECHANISMS:
        assert len(mechanisms.levels(m.term, "study")) >= 4
        assert len(mechanisms.levels(m.term, "demo")) == len(mechanisms.levels(m.term, "smoke")) == 2
        assert mechanisms.levels(m.term, "thumos14") == ()
        # the reduced sweeps are the two ends of the study's
        study = mechanisms.levels(m.term, "study")
        assert mechanisms.levels(m.term, "demo") == (study[0], study[-1])
        for profile in ("study", "demo", "smoke"):
            for level in mechanisms.levels(m.term, profile):
                bench = mechanisms.level_benchmark(profile, level)
                RunSpec("mechanisms", "Exp 1", 0, (("loss.terms", ("mil",)),), profile, bench)  # a valid variant
    assert mechanisms.level_benchmark("demo", ()) == "demo"


def _gen(name):
    return generate_annotations(benchmark_config(name), np.random.default_rng(0))


def test_study_levels_raise_their_data_structure_measures():
    """Data-only measures along the study profile's levels, demo scale, draw 0 (annotations alone where
    they suffice; VCL's needs the features)."""
    over, amb = [], []
    for level in mechanisms.levels(SOFT_NMS, "study"):
        ann = _gen(mechanisms.level_benchmark("study", level))
        test = [v for v, s in zip(_videos(ann), ann.subsets) if s == "test"]
        over.append(structure.instance_overlap_share(test))
    for level in mechanisms.levels("scl", "study"):
        ann = _gen(mechanisms.level_benchmark("study", level))
        train = [v for v, s in zip(_videos(ann), ann.subsets) if s != "test"]
        amb.append(structure.ambiguous_share(train, _ambiguous(ann), 0.64))
    assert np.all(np.diff(over) > 0) and over[0] < 0.02 and over[-1] > 0.8
    assert amb[0] == 0 and np.all(np.diff(amb) > 0) and amb[-1] > 0.3
    gaps = []
    for level in mechanisms.levels("vcl", "study"):
        cfg, ann, feats = generate(mechanisms.level_benchmark("study", level), 0)
        train = [v for v, s in zip(_videos(ann, feats), ann.subsets) if s != "test"]
        gaps.append(structure.class_style_similarity(train, cfg.snippet_seconds)["gap"])
    assert np.all(np.diff(gaps) > 0) and gaps[0] < 0.05 and gaps[-1] > 0.25


def _videos(ann, feats=None):
    from types import SimpleNamespace
    return [SimpleNamespace(name=n, segments=s, segment_classes=c, num_snippets=math.ceil(d / 0.64 - 1e-9),
                            features=None if feats is None else feats[i])
            for i, (n, s, c, d) in enumerate(zip(ann.names, ann.segments, ann.segment_classes, ann.durations))]


def _ambiguous(ann):
    out: dict = {}
    for v, s, e in ann.ambiguous:
        out.setdefault(v, []).append((s, e))
    return {k: np.asarray(v) for k, v in out.items()}


def test_grid_shares_table3_runs_and_counts_new_ones():
    for profile, seeds, new_per_seed in (("demo", 3, 10), ("study", 2, 40), ("smoke", 1, 10)):
        specs = mechanisms.mechanism_specs(profile, seeds)
        ids = {s.run_id for s in specs}
        table3 = {s.run_id for b in grids.benchmarks(profile) for s in grids.table3_specs(profile, seeds, None, b)}
        assert len(ids - table3) == new_per_seed * seeds, profile
        main = [s for s in specs if s.benchmark == grids.main_benchmark(profile)]
        assert {s.run_id for s in main} <= table3  # level () is the preset: Table 3's own runs
        assert {s.label for s in specs} <= set(grids.CORE_ROWS)
    assert mechanisms.mechanism_specs("thumos14", 3) == []


def test_variant_specs_keep_existing_run_ids_and_validate():
    plain = RunSpec("table3", "Exp 1", 0, (("loss.terms", ("mil",)),), "demo")
    same = RunSpec("table3", "Exp 1", 0, (("loss.terms", ("mil",)),), "demo", "demo+class_style=0")
    var = RunSpec("table3", "Exp 1", 0, (("loss.terms", ("mil",)),), "demo", "demo+class_style=0.5")
    assert same.benchmark == "demo" and same.run_id == plain.run_id and plain.run_id.startswith("demo-s0-")
    assert var.run_id == f"demo-demo+class_style=0.5-s0-{plain.run_id.split('-')[-1]}"
    for bad in ("demo+nope=1", "smoke+class_style=0.5", "demo+class_style=2"):
        with pytest.raises(KeyError, match="has no benchmark"):
            RunSpec("t", "Exp 1", 0, (), "demo", bad)
    with pytest.raises(KeyError):
        RunSpec("t", "Exp 1", 0, (), "thumos14", "demo+class_style=0.5")


def test_paired_interval_by_hand():
    a, b = {0: 3.0, 1: 5.0, 2: 4.0, 7: 1.0}, {0: 1.0, 1: 2.0, 2: 3.0}
    iv = mechanisms.paired_interval(a, b)
    d = np.array([2.0, 3.0, 1.0])
    half = T975[2] * d.std(ddof=1) / math.sqrt(3)
    assert (iv.effect, iv.n) == (pytest.approx(2.0), 3)
    assert iv.lo == pytest.approx(2.0 - half) and iv.hi == pytest.approx(2.0 + half)
    one = mechanisms.paired_interval({0: 1.0}, {0: 0.5})
    assert one.effect == 0.5 and math.isnan(one.lo) and one.n == 1


def test_seed_slope_trend_by_hand():
    pts = []
    xs = {0: [0.0, 0.5, 1.0], 1: [0.1, 0.4, 0.9]}
    ds = {0: [0.0, 1.0, 2.5], 1: [0.5, 0.5, 2.0]}
    for s in (0, 1):
        pts += [{"level": i, "seed": s, "structure": xs[s][i], "effect": ds[s][i]} for i in range(3)]
    t = mechanisms.seed_slope_trend(pts)
    slopes = [np.polyfit(xs[s], ds[s], 1)[0] for s in (0, 1)]
    half = T975[1] * np.std(slopes, ddof=1) / math.sqrt(2)
    assert t.slope == pytest.approx(np.mean(slopes)) and t.n == 2
    assert t.lo == pytest.approx(np.mean(slopes) - half) and t.hi == pytest.approx(np.mean(slopes) + half)
    # level means: x 0.05, 0.45, 0.95 and effects 0.25, 0.75, 2.25: concordant -> tau 1
    assert t.tau == pytest.approx(1.0)
    flat = mechanisms.seed_slope_trend([{"level": 0, "seed": 0, "structure": 1.0, "effect": 2.0}])
    assert math.isnan(flat.slope) and flat.n == 0


def _records(profile="smoke", seeds=(0, 1, 2)):
    """Run records and structure records of the smoke sweep with known values: at level i of a term the
    row with it scores base + (i + 1) * gain(term) + 0.1 * seed * i, the row without it base. One
    structure record per (benchmark, draw) and per (benchmark, seed) MIL-only run, as
    structure_records makes them; the benchmarks' come first (the main one is also a level)."""
    gain = {"cll": 1.0, "vcl": 0.0, "scl": -2.0, SOFT_NMS: 0.5}
    recs, struct = [], {}
    for b in grids.benchmarks(profile):
        struct[(b, None)] = {"benchmark": b, "draw": 0, "seed": None, "style_gap": 0.11, "ambiguous_train_share": 0.0,
                             "overlap_share": 0.7, "label_noise_share": 0.04}
        for s in seeds:
            struct[(b, s)] = {"benchmark": b, "draw": 0, "seed": s, "off_label_share": 0.3, "boundary_entropy": 0.6}
    for m in MECHANISMS:
        for i, level in enumerate(mechanisms.levels(m.term, profile)):
            bench = mechanisms.level_benchmark(profile, level)
            for s in seeds:
                with_ = 0.20 + ((i + 1) * gain[m.term] + 0.1 * s * i) / 100
                if m.term == SOFT_NMS:
                    recs.append({"table": "mechanisms", "label": m.rows[0], "seed": s, "benchmark": bench,
                                 "avg[minmax]": with_, "avg_nms[minmax]": 0.20})
                else:
                    recs += [{"table": "mechanisms", "label": m.rows[0], "seed": s, "benchmark": bench,
                              "avg[minmax]": with_, "avg_nms[minmax]": 0.0},
                             {"table": "mechanisms", "label": m.rows[1], "seed": s, "benchmark": bench,
                              "avg[minmax]": 0.20, "avg_nms[minmax]": 0.0}]
                if m.term == "cll":
                    struct.setdefault((bench, s), {"benchmark": bench, "draw": 0, "seed": s,
                                                   "off_label_share": 0.1 * (i + 1) + 0.01 * s,
                                                   "boundary_entropy": 0.5})
            struct.setdefault((bench, None), {
                "benchmark": bench, "draw": 0, "seed": None, "style_gap": 0.1 + 0.2 * i * (m.term == "vcl"),
                "ambiguous_train_share": 0.3 * i * (m.term == "scl"),
                "overlap_share": 0.1 + 0.5 * i * (m.term == SOFT_NMS), "label_noise_share": 0.04})
    return recs, list(struct.values())


def test_mechanism_table_trends_and_verdicts_by_hand():
    recs, struct = _records()
    table = mechanism_map.mechanism_table(recs, struct, "smoke")
    assert list(table.columns) == list(mechanism_map.TABLE_COLUMNS) and len(table) == 8
    cll = table[table["term"] == "cll"].reset_index(drop=True)
    # level 1: effects 2 + 0.1 s for s = 0, 1, 2 -> mean 2.1, sd 0.1; structure 0.2 + 0.01 s -> mean 0.21
    half = T975[2] * 0.1 / math.sqrt(3)
    assert cll.loc[1, "effect"] == pytest.approx(2.1) and cll.loc[1, "ci_lo"] == pytest.approx(2.1 - half)
    assert cll.loc[1, "structure"] == pytest.approx(0.21) and cll.loc[1, "seeds"] == "0 1 2"
    assert cll.loc[0, "effect"] == pytest.approx(1.0) and cll.loc[0, "ci_lo"] == pytest.approx(1.0)  # sd 0
    assert cll.loc[0, "knob"] == "hard_negative_frac=0" and cll.loc[0, "compared"] == "Exp 2 vs Exp 1"
    soft = table[table["term"] == SOFT_NMS].reset_index(drop=True)
    assert soft.loc[1, "effect"] == pytest.approx(1.1) and soft.loc[1, "structure"] == pytest.approx(0.6)
    assert soft.loc[0, "compared"] == "Soft-NMS vs NMS on Exp 4"
    assert soft.loc[1, "with_avg"] == pytest.approx(21.1) and soft.loc[1, "without_avg"] == pytest.approx(20.0)

    trends = mechanism_map.trend_table(table).set_index("term")
    # CLL per seed: effects (1, 2 + 0.1 s) at structure (0.1 + 0.01 s, 0.2 + 0.01 s): slope 10 + s
    assert trends.loc["cll", "slope"] == pytest.approx(11.0)
    assert trends.loc["cll", "slope_lo"] == pytest.approx(11.0 - T975[2] * 1.0 / math.sqrt(3))
    assert trends.loc["cll", "verdict"] == "holds" and trends.loc["cll", "top_knob"].startswith("family")
    assert trends.loc["scl", "verdict"] == mechanism_map.REVERSED_HURTS
    # VCL: effect 0.1 s at the top (CI [-0.15, 0.35] < 1 point), slope 0.5 s per unit: no clear trend
    assert trends.loc["vcl", "verdict"].startswith("fails")
    assert trends.loc["cll", "claims"].startswith("CLL improves AVG (Exp 2 vs Exp 1)")
    assert "SCL raises U on GT background (Fig. 7)" in trends.loc["scl", "claims"]
    assert trends.loc[SOFT_NMS, "claims"] == "Soft-NMS beats NMS (Table 1, AVG 0.1:0.5)"

    controls = mechanism_map.claim_controls(mechanism_map.trend_table(table))
    assert controls["CLL improves AVG (Exp 2 vs Exp 1)"] == "CLL positive control: holds"
    assert controls["SCL raises U on GT background (Fig. 7)"] == f"SCL positive control: {mechanism_map.REVERSED_HURTS}"
    assert "SCL beats L_guide (Table 4)" not in controls

    positions = mechanism_map.positions_table(struct, "smoke")
    place = positions.set_index(["term", "benchmark"])["value"]
    assert place[("cll", "smoke")] == pytest.approx(0.3) and place[("vcl", "smoke-b")] == pytest.approx(0.11)
    assert math.isnan(place[("cll", "smoke+class_style=0.9")])       # no MIL-only run at VCL's levels
    assert place[(SOFT_NMS, "smoke+overlap_instance_prob=0.6")] == pytest.approx(0.6)

    sentences = mechanism_map.when_each_term_helps(mechanism_map.trend_table(table), positions)
    assert len(sentences) == 4
    assert sentences[0].startswith("CLL helps where its structure is") and "smoke at 0.3" in sentences[0]
    assert sentences[1].startswith("VCL's positive control fails") and "our implementation" in sentences[1]
    assert sentences[2].startswith("SCL's positive control reverses") and "hurts where" in sentences[2]
    shrinking = mechanism_map.trend_table(table)
    shrinking.loc[shrinking["term"] == "scl", "verdict"] = mechanism_map.REVERSED_SHRINKS
    said = mechanism_map.when_each_term_helps(shrinking, positions)[2]
    assert said.startswith("SCL's positive control reverses: its gain") and "something other than" in said


def test_control_verdict_cases():
    v = mechanism_map.control_verdict
    trend = lambda lo, hi: Trend(1.0, lo, hi, 3, 1.0, 0.1)  # noqa: E731
    top = lambda lo, hi: {"ci_lo": lo, "ci_hi": hi}  # noqa: E731
    assert v(trend(0.1, 2), top(0.2, 3)) == "holds"
    assert v(trend(-1, 2), top(0.2, 3)).startswith("partial: positive at the top")
    assert v(trend(0.1, 2), top(-0.2, 3)).startswith("partial: grows")
    assert v(trend(-1, 2), top(-0.5, 0.8)).startswith("fails")
    assert v(trend(-1, 2), top(-3, 4)).startswith("inconclusive")
    assert v(trend(-3, -1), top(0.5, 0.8)) == mechanism_map.REVERSED_SHRINKS    # helps, less with more structure
    assert v(trend(-3, -1), top(-0.5, 0.8)) == mechanism_map.REVERSED_SHRINKS
    assert v(trend(-1, 2), top(-2, -0.1)) == mechanism_map.REVERSED_HURTS
    assert v(trend(-3, -1), top(-2, -0.1)) == mechanism_map.REVERSED_HURTS
    assert v(trend(math.nan, math.nan), top(0.1, 1)) == "n/a"
    assert v(trend(0.1, 2), {"ci_lo": 0.2, "ci_hi": 3, "with_avg": 5.0, "without_avg": 0.6}) == \
        "n/a (read-out degenerate)"


def test_map_files_round_trip_and_diagnosis(tmp_path):
    recs, struct = _records()
    table = mechanism_map.mechanism_table(recs, struct, "smoke")
    trends = mechanism_map.trend_table(table)
    positions = mechanism_map.positions_table(struct, "smoke")
    mechanism_map.write_mechanisms(table, trends, positions, tmp_path)
    assert (tmp_path / "mechanisms.md").read_text().startswith("| term |")
    back = mechanism_map.read_map(tmp_path)
    assert back is not None and mechanism_map.read_map(tmp_path / "none") is None
    pd.testing.assert_frame_equal(mechanism_map.trend_table(back[0]), trends, check_exact=False, rtol=1e-5)
    measures = {"off_label_share": 0.5, "style_gap": 0.2, "ambiguous_train_share": 0.1, "overlap_share": 0.05,
                "boundary_entropy": 0.7, "label_noise_share": 0.0}
    d = mechanism_map.diagnosis(measures, back, {"ambiguous_train_share": "not measurable: x"}).set_index("measure")
    assert d.loc["off_label_share", "map says"].startswith("something to work on")   # above CLL's first level
    assert "beyond the map's strongest level" in d.loc["off_label_share", "map says"]
    assert d.loc["style_gap", "map says"].startswith("the control shows no clear gain")  # VCL never helped
    assert d.loc["ambiguous_train_share", "map says"] == "not measurable: x"
    # Soft-NMS's first clearly positive level is 0.1 (its level 0): 0.05 is below it
    assert d.loc["overlap_share", "map says"].startswith("little to work on")
    assert d.loc["off_label_share", "smoke-b"] == pytest.approx(0.3)
    assert d.loc["boundary_entropy", "smoke"] == pytest.approx(0.6) and d.loc["boundary_entropy", "term"] == "-"
    bare = mechanism_map.diagnosis(measures, None).set_index("measure")
    assert bare.loc["style_gap", "map says"].startswith("no mechanism map found")
