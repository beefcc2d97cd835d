"""The study-table builders of himnet_lib.study.tables, and the aggregation, comparison and schedule
selection beside them, on small hand-made frames, against values worked out by hand (means, sample
std with ddof=1, deltas in points, check marks, the paper's columns)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from himnet_lib.study import aggregate, compare, run_table, tables


def _runs(rows):
    return pd.DataFrame(rows)


def test_copy_stats_appends_mean_then_std_per_metric():
    stats = pd.DataFrame({"a_mean": [1.0, 2.0], "a_std": [0.1, 0.2], "b_mean": [3.0, 4.0], "b_std": [0.3, 0.4]})
    table = pd.DataFrame({"x": ["r1", "r2"]})
    out = aggregate.copy_stats(table, stats, ("a", "b"))
    assert list(out.columns) == ["x", "a_mean", "a_std", "b_mean", "b_std"]
    assert out["b_std"].tolist() == [0.3, 0.4]


def test_table3_check_marks_mean_sample_std_and_order():
    df = _runs([  # Exp 2 first: the table must follow `rows`, not the frame
        {"label": "Exp 2", "seed": 0, "average_mAP": 0.50, "snippet_acc": 0.70, "snippet_acc_fg": 0.3,
         "snippet_acc_bg": 0.9, "snippet_acc_balanced": 0.5},
        {"label": "Exp 1", "seed": 0, "average_mAP": 0.40, "snippet_acc": 0.60, "snippet_acc_fg": 0.2,
         "snippet_acc_bg": 0.8, "snippet_acc_balanced": 0.4},
        {"label": "Exp 1", "seed": 1, "average_mAP": 0.42, "snippet_acc": 0.64, "snippet_acc_fg": 0.4,
         "snippet_acc_bg": 0.8, "snippet_acc_balanced": 0.4},
    ])
    t = tables.table3(df, rows=[("Exp 1", ("mil",)), ("Exp 2", ("mil", "cll", "scl"))])
    assert list(t.columns) == ["Exp", "L_MIL", "L_CLL", "L_VCL", "L_SCL", "AVG", "ACC", "fg ACC", "bg ACC",
                               "bal. ACC", "n", "average_mAP_mean", "average_mAP_std", "snippet_acc_mean",
                               "snippet_acc_std", "snippet_acc_fg_mean", "snippet_acc_fg_std", "snippet_acc_bg_mean",
                               "snippet_acc_bg_std", "snippet_acc_balanced_mean", "snippet_acc_balanced_std"]
    assert t["fg ACC"].tolist() == ["30.0 ± 14.1", "30.0 ± 0.0"] and t["bg ACC"].tolist()[0] == "80.0 ± 0.0"
    assert t["Exp"].tolist() == ["Exp 1", "Exp 2"]
    assert t[["L_MIL", "L_CLL", "L_VCL", "L_SCL"]].values.tolist() == [["✓", "", "", ""], ["✓", "✓", "", "✓"]]
    # Exp 1: mean 0.41, sample std sqrt(2 * 0.01**2 / 1) = 0.0141; ACC mean 0.62, std 0.0283
    assert t["AVG"].tolist() == ["41.0 ± 1.4", "50.0 ± 0.0"]
    assert t["ACC"].tolist() == ["62.0 ± 2.8", "70.0 ± 0.0"]
    assert t["n"].tolist() == [2, 1]
    np.testing.assert_allclose(t["average_mAP_mean"], [0.41, 0.50])
    np.testing.assert_allclose(t["average_mAP_std"], [0.01 * np.sqrt(2), 0.0])
    np.testing.assert_allclose(t["snippet_acc_std"], [0.02 * np.sqrt(2), 0.0])


def test_alpha_table_adds_alpha_second_in_run_order():
    specs = [SimpleNamespace(label="a=2", overrides=(("loss.alpha", 2),)),
             SimpleNamespace(label="a=0.5", overrides=(("loss.alpha", 0.5),))]
    df = run_table.with_alpha(_runs([
        {"label": "a=2", "seed": 0, "average_mAP": 0.30, "snippet_acc": 0.5},
        {"label": "a=2", "seed": 1, "average_mAP": 0.34, "snippet_acc": 0.7},
        {"label": "a=0.5", "seed": 0, "average_mAP": 0.20, "snippet_acc": 0.6},
    ]), specs)
    assert df["alpha"].tolist() == [2.0, 2.0, 0.5]
    t = tables.alpha_table(df)
    assert list(t.columns[:3]) == ["label", "alpha", "n"]
    assert t["label"].tolist() == ["a=2", "a=0.5"]
    assert t["alpha"].tolist() == [2.0, 0.5]
    np.testing.assert_allclose(t["average_mAP_mean"], [0.32, 0.20])
    np.testing.assert_allclose(t["average_mAP_std"], [0.02 * np.sqrt(2), 0.0])
    assert t["average_mAP"].tolist() == ["32.0 ± 2.8", "20.0 ± 0.0"]
    assert t["snippet_acc"].tolist() == ["60.0 ± 14.1", "60.0 ± 0.0"]


def test_uncertainty_table_pools_runs_per_model():
    values = {"with": [np.array([0.2, 0.6]), np.array([0.9])], "without": np.array([0.4])}
    specs = [SimpleNamespace(label="with"), SimpleNamespace(label="without"), SimpleNamespace(label="with")]
    t = tables.uncertainty_table(values, specs).set_index("model")
    assert list(t.columns) == ["runs", "background_snippets", "U_mean", "U_median", "frac_U_gt_0.5"]
    assert t.loc["with", "runs"] == 2 and t.loc["without", "runs"] == 1
    assert t.loc["with", "background_snippets"] == 3
    assert t.loc["with", "U_mean"] == pytest.approx(1.7 / 3)
    assert t.loc["with", "U_median"] == pytest.approx(0.6)
    assert t.loc["with", "frac_U_gt_0.5"] == pytest.approx(2 / 3)
    assert t.loc["without", "frac_U_gt_0.5"] == 0.0
    np.testing.assert_array_equal(aggregate.pooled(values)["with"], [0.2, 0.6, 0.9])


def _table4_runs():
    base = {"mAP@0.1": 0.6, "mAP@0.3": 0.5, "mAP@0.5": 0.3, "mAP@0.7": 0.1, "fg_bg_acc": 0.8}
    return _runs([
        {"label": "mine", "seed": 0, **base, "average_mAP": 0.30},
        {"label": "L_guide", "seed": 0, **base, "average_mAP": 0.40, "mAP@0.1": 0.70},
        {"label": "L_guide", "seed": 1, **base, "average_mAP": 0.44, "mAP@0.1": 0.74},
    ])


def test_table4_columns_and_values():
    t = tables.table4(_table4_runs(), order=["L_guide", "mine"])
    assert list(t.columns[:8]) == ["Method", "0.1", "0.3", "0.5", "0.7", "AVG", "ACC", "n"]
    assert list(t.columns[8:10]) == ["mAP@0.1_mean", "mAP@0.1_std"]
    assert list(t.columns[-2:]) == ["fg_bg_acc_mean", "fg_bg_acc_std"]
    assert t["Method"].tolist() == ["L_guide", "mine"]
    assert t["0.1"].tolist() == ["72.0 ± 2.8", "60.0 ± 0.0"]
    assert t["AVG"].tolist() == ["42.0 ± 2.8", "30.0 ± 0.0"]
    assert t["ACC"].tolist() == ["80.0 ± 0.0", "80.0 ± 0.0"]
    np.testing.assert_allclose(t["average_mAP_mean"], [0.42, 0.30])


def test_table4_with_paper():
    side = compare.with_paper(tables.table4(_table4_runs(), order=["L_guide", "mine"]), "table4", "smoke")
    assert list(side.columns) == ["Method", "AVG (smoke)", "ACC (smoke)", "n", "paper AVG (THUMOS14)",
                                  "paper ACC (THUMOS14)"]
    assert side.loc[0, "paper AVG (THUMOS14)"] == 44.3 and side.loc[0, "paper ACC (THUMOS14)"] == 80.1
    assert np.isnan(side.loc[1, "paper AVG (THUMOS14)"])  # a row the paper does not have


def _table5_runs():
    maps = {"mAP@0.1": 0.5, "mAP@0.3": 0.4, "mAP@0.5": 0.3, "mAP@0.7": 0.1, "snippet_acc": 0.6}
    return _runs([
        {"label": "HAM-Net", "seed": 0, **maps, "average_mAP": 0.40},
        {"label": "HAM-Net + L_SCL", "seed": 0, **maps, "average_mAP": 0.38},
        {"label": "BaS-Net", "seed": 0, **maps, "average_mAP": 0.30},
        {"label": "BaS-Net + L_CLL", "seed": 0, **maps, "average_mAP": 0.32},
        {"label": "BaS-Net + L_CLL", "seed": 1, **maps, "average_mAP": 0.34},
    ])


ROWS5 = [("BaS-Net", {"train.model": "basnet"}), ("BaS-Net + L_CLL", {"train.model": "basnet"}),
         ("HAM-Net", {"train.model": "hamnet"}), ("HAM-Net + L_SCL", {"train.model": "hamnet"})]


def test_table5_deltas_against_the_framework_base_row():
    t = tables.table5(_table5_runs(), rows=ROWS5)
    assert list(t.columns[:12]) == ["Framework", "Method", "0.1", "0.3", "0.5", "0.7", "AVG", "Δ", "ACC", "n",
                                    "label", "delta_avg_points"]
    assert t["Framework"].tolist() == ["BaS-Net", "BaS-Net", "HAM-Net", "HAM-Net"]
    assert t["Method"].tolist() == ["BaS-Net", "+ L_CLL", "HAM-Net", "+ L_SCL"]
    assert t["label"].tolist() == [label for label, _ in ROWS5]
    # BaS-Net + L_CLL: mean 0.33 vs 0.30 -> +3.0 points; HAM-Net + L_SCL: 0.38 vs 0.40 -> -2.0
    assert t["Δ"].tolist() == ["-", "+3.0", "-", "-2.0"]
    np.testing.assert_allclose(t["delta_avg_points"], [0.0, 3.0, 0.0, -2.0], atol=1e-9)
    assert t["AVG"].tolist() == ["30.0 ± 0.0", "33.0 ± 1.4", "40.0 ± 0.0", "38.0 ± 0.0"]
    assert t["n"].tolist() == [1, 2, 1, 1]
    np.testing.assert_allclose(t["average_mAP_std"], [0.0, 0.01 * np.sqrt(2), 0.0, 0.0])


def test_table5_with_paper():
    side = compare.with_paper(tables.table5(_table5_runs(), rows=ROWS5), "table5", "demo")
    assert list(side.columns) == ["Framework", "Method", "AVG (demo)", "Δ (demo)", "n", "paper AVG (THUMOS14)",
                                  "paper Δ (THUMOS14)"]
    assert side["paper AVG (THUMOS14)"].tolist()[:2] == [34.1, 36.4]
    assert side["paper Δ (THUMOS14)"].tolist()[:2] == ["-", "+2.3"]


def test_table3_with_paper():
    df = _runs([{"label": "Exp 1", "seed": 0, "average_mAP": 0.4, "snippet_acc": 0.6},
                {"label": "Exp 9", "seed": 0, "average_mAP": 0.5, "snippet_acc": 0.7}])
    t = tables.table3(df, rows=[("Exp 1", ("mil",)), ("Exp 9", ("mil", "vcl"))])
    side = compare.with_paper(t, "table3", "smoke")
    assert list(side.columns) == ["Exp", "L_MIL", "L_CLL", "L_VCL", "L_SCL", "AVG (smoke)", "ACC (smoke)", "n",
                                  "paper AVG (THUMOS14)", "paper ACC (THUMOS14)"]
    assert side.loc[0, "paper AVG (THUMOS14)"] == "39.3 ± 0.6"
    assert side.loc[0, "paper ACC (THUMOS14)"] == "61.7 ± 0.9"
    assert side.loc[0, "AVG (smoke)"] == "40.0 ± 0.0"
    assert pd.isna(side.loc[1, "paper AVG (THUMOS14)"])
    with pytest.raises(ValueError):
        compare.with_paper(t, "table9", "smoke")


def _relocalized():
    rows = []
    for pp, name in (("nms", "NMS"), ("soft", "Soft-NMS")):
        for seed, avg in ((0, 0.20), (1, 0.24)):
            rows.append({"Method": "A", "Post-processing": name, "seed": seed, "run_id": f"r{seed}",
                         "average_mAP_0.1_0.5": avg + 0.1, "average_mAP": avg + (0.02 if pp == "soft" else 0.0),
                         "mAP@0.1": 0.5, "mAP@0.5": 0.3})
    df = pd.DataFrame(rows)
    df["row"] = df["Method"] + " · " + df["Post-processing"]
    return df


def test_table1_with_the_trivial_row():
    trivial = {"average_mAP_0.1_0.5": 0.25, "average_mAP": 0.2, "tiou": [0.1, 0.5], "mAP": [0.3, 0.2]}
    t = tables.table1(_relocalized(), ["soft", "nms"], trivial, labels=("A",))
    assert t["Method"].tolist() == ["A", "A", "Trivial: whole video per labelled class"]
    assert t["Post-processing"].tolist() == ["Soft-NMS", "NMS", "-"]
    assert list(t.columns[:7]) == ["Method", "Post-processing", "0.1", "0.5", "AVG 0.1:0.5", "AVG 0.1:0.7", "n"]
    # Soft-NMS: AVG 0.1:0.7 seeds 0.22 and 0.26 -> 24.0 ± 2.8; NMS: 0.20, 0.24 -> 22.0 ± 2.8
    assert t["AVG 0.1:0.7"].tolist() == ["24.0 ± 2.8", "22.0 ± 2.8", "20.0"]
    assert t["AVG 0.1:0.5"].tolist() == ["32.0 ± 2.8", "32.0 ± 2.8", "25.0"]
    assert t["0.1"].tolist() == ["50.0 ± 0.0", "50.0 ± 0.0", "30.0"]
    assert t["n"].tolist() == [2, 2, 1]
    np.testing.assert_allclose(t["average_mAP_mean"], [0.24, 0.22, 0.2])
    np.testing.assert_allclose(t["mAP@0.5_mean"], [0.3, 0.3, 0.2])
    assert pd.isna(t.loc[2, "average_mAP_std"])


def test_table1_peers_and_without_stats():
    df = _relocalized()
    df["Method"] = df["Method"] + " (re-implemented)"
    df["row"] = df["Method"] + " · " + df["Post-processing"]
    peers = tables.table1_peers(df, ["nms", "soft"], labels=("A",))
    assert peers["Post-processing"].tolist() == ["NMS", "Soft-NMS"]
    assert peers["AVG 0.1:0.7"].tolist() == ["22.0 ± 2.8", "24.0 ± 2.8"]
    shown = tables.without_stats(peers, peers)
    assert len(shown) == 4
    assert not any(c.endswith(("_mean", "_std")) for c in shown.columns)


def test_paper_tables():
    t12 = compare.paper_table("table1_2")
    first = t12.iloc[0]
    assert (first["Table"], first["Dataset"], first["Method"], first["Post-processing"]) == \
        ("Table 1", "THUMOS14", "HiM-Net", "NMS")
    assert first["0.1"] == "70.6" and first["AVG"] == "54.5" and first["0.75"] == ""
    peers = compare.paper_table("table1_peers")
    assert list(peers.columns) == ["Method", "Post-processing", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7",
                                   "AVG 0.1:0.5"]
    assert peers.iloc[0]["0.1"] == 58.2 and peers.iloc[0]["AVG 0.1:0.5"] == 43.6
    with pytest.raises(ValueError):
        compare.paper_table("nope")


def test_schedule_choice_rule_on_hand_made_curves():
    from himnet_lib.study.schedule_selection import schedule_choice

    def curve(values):
        it = [250, 500, 750, 1000]
        v = [x / 100 for x in values]
        return pd.DataFrame({"iteration": it, "val_average_mAP[none/soft]": v,
                             "val_average_mAP[minmax/soft]": v, "val_fg_bg_auc": [0.8] * 4})

    curves = {
        # setting A: both rows settle at 500 (no later gain >= 2 points); best score at 750
        "Exp 1 · A · s0": curve([10, 40, 41, 40]), "Exp 4 · A · s0": curve([20, 42, 43, 42]),
        # setting B: higher, but Exp 4 gains 5 points after 500, so it settles only at 750
        "Exp 1 · B · s0": curve([10, 41, 44, 44]), "Exp 4 · B · s0": curve([20, 40, 45, 45]),
    }
    t = schedule_choice(curves).set_index(["setting", "readout"])
    a, b = t.loc[("A", "minmax")], t.loc[("B", "minmax")]
    assert (a["iterations"], a["best at"], a["score"], a["best score"]) == (500, 750, 41.0, 42.0)
    assert (b["iterations"], b["score"]) == (750, 44.5)
    # B is best (44.5); A at 500 (41.0) is not within 2 points of it, so B at 750 is chosen
    assert t["chosen"].sum() == 2 - 1 and bool(t.loc[("B", "fixed"), "chosen"])


def test_seed_noise_comparison_by_hand():
    ref = pd.DataFrame({"Exp": ["Exp 1", "Exp 2"], "n": [5, 5],
                        "average_mAP_mean": [0.40, 0.30], "average_mAP_std": [0.01, 0.02]})
    new = pd.DataFrame({"Exp": ["Exp 2", "Exp 1"], "n": [4, 5],   # other row order: matched on Exp
                        "average_mAP_mean": [0.36, 0.41], "average_mAP_std": [0.04, 0.01]})
    got = compare.seed_noise_comparison(ref, new, metrics=("average_mAP",), names=("fp32", "bf16"))
    assert list(got["Exp"]) == ["Exp 1", "Exp 2"]
    e1, e2 = got.iloc[0], got.iloc[1]
    assert e1["fp32"] == pytest.approx(40.0) and e1["bf16"] == pytest.approx(41.0)
    assert e1["se"] == pytest.approx(100 * (2 * 0.01 ** 2 / 5) ** 0.5)
    assert e1["z"] == pytest.approx(0.01 / (2 * 0.01 ** 2 / 5) ** 0.5)          # 1.58: noise
    se2 = (0.02 ** 2 / 5 + 0.04 ** 2 / 4) ** 0.5
    assert e2["diff"] == pytest.approx(6.0) and e2["z"] == pytest.approx(0.06 / se2) and e2["n"] == "5 / 4"
    with pytest.raises(ValueError, match="Exp 3"):
        compare.seed_noise_comparison(ref, pd.concat([new, new.assign(Exp="Exp 3").iloc[:1]]),
                                      metrics=("average_mAP",))


def test_verdict_changes_flags_only_changed_verdicts():
    keys = {"claim": ["c1", "c1", "c2"], "reading": ["literal", "lineage", "-"], "readout": ["fixed"] * 3,
            "benchmark": ["demo"] * 3}
    a = pd.DataFrame({**keys, "our_effect": [2.0, 0.1, -3.0], "se": [0.5, 0.4, 1.0],
                      "verdict": ["holds", "within noise", "reversed"]})
    b = pd.DataFrame({**keys, "our_effect": [0.9, 0.2, -3.1], "se": [0.6, 0.4, 1.0],
                      "verdict": ["within noise", "within noise", "reversed"]}).iloc[::-1]  # order-free
    got = compare.verdict_changes(a, b, names=("fp32", "bf16"))
    assert got["changed"].tolist() == [True, False, False]
    assert got.iloc[0]["fp32 effect"] == "+2.00 ± 0.50" and got.iloc[0]["bf16 verdict"] == "within noise"
    with pytest.raises(ValueError, match="1 claim rows are not in both"):
        compare.verdict_changes(a, b.iloc[:2])
    with pytest.raises(ValueError, match="duplicate"):  # same length, one row twice, one missing
        compare.verdict_changes(a, pd.concat([b.iloc[:2], b.iloc[:1]]))
