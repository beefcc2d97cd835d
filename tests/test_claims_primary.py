"""The primary-test claims table (himnet_lib.study.claims_table, claims_stages): one primary per claim
in its declared cell, its interval at alpha / (number of primaries) judged against the paper's
effect, Holm over the primaries only, the secondaries apart, diagnostics without a verdict, and the
sequential stages of a profile with looks. Hand computations with scipy's t quantiles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hand_stats import holm
from scipy import stats as sps

from himnet_lib.study import claims, claims_stages, claims_table, run_table
from himnet_lib.study.claims import declared_claims

CLL_AVG = declared_claims()[0]
CLAIM_NAMES = [c.name for c in declared_claims()]


def _rec(table, label, seed, avg, reading="literal", bench="smoke", profile="smoke", main=True, acc=0.8):
    r = {c: float("nan") for c in run_table.RUN_COLUMNS}
    a = avg / 100
    r.update({"run_id": f"{table}-{label}-{seed}-{reading}-{bench}", "table": table, "label": label, "seed": seed,
              "profile": profile, "benchmark": bench, "on_main_benchmark": main, "reading": reading,
              "avg[fixed]": a, "avg[minmax]": a, "avg_0.5[fixed]": a, "avg_0.5[minmax]": a,
              "avg_0.5_nms[fixed]": a, "avg_0.5_nms[minmax]": a, "snippet_acc": acc, "snippet_acc_fg": acc,
              "snippet_acc_bg": acc, "snippet_acc_balanced": acc, "attention_range_median": 0.5})
    return r


def _cll_records(diffs, profile="smoke", reading="literal", bench="smoke"):
    """Exp 2 and Exp 1 with the given per-seed differences (AVG points) in every read-out."""
    base = 40.0 + np.arange(len(diffs))  # per-seed level, shared by both rows (the pairing)
    return ([_rec("table3", "Exp 2", s, base[s] + d, reading, bench, profile) for s, d in enumerate(diffs)]
            + [_rec("table3", "Exp 1", s, base[s], reading, bench, profile) for s in range(len(diffs))])


def test_one_look_primary_interval_by_hand():
    d = np.array([1.0, 1.2, 0.8, 1.1, 0.9])
    t = claims_table.claims_table(_cll_records(d), [CLL_AVG])
    prim = t[t.primary]
    assert len(prim) == 1 and prim.iloc[0].readout == "minmax" and prim.iloc[0].reading == "literal"
    row = prim.iloc[0]
    # one claim tested: m = 1, so the interval is the plain paired t interval at 95 %
    half = sps.t.isf(0.025, 4) * d.std(ddof=1) / math.sqrt(5)
    assert (row.ci_low, row.ci_high) == pytest.approx((d.mean() - half, d.mean() + half), abs=1e-6)
    assert row.ci_level == pytest.approx(0.95)
    # [0.75, 1.25] lies above 0 and below the paper's +4.4
    assert row.verdict == "smaller than claimed" and row.paper_effect == pytest.approx(4.4)
    # the other read-out is a secondary, never a second primary
    assert list(t[t.role == "secondary"].readout) == ["fixed"]
    assert row.seeds_needed == 2.0  # the paper's +4.4 is 27 SDs: two seeds would detect it


def test_verdicts_against_the_paper_effect():
    cases = {"reproduces": [4.0, 5.0, 4.5, 4.2, 4.8], "reversed": [-3.0, -2.5, -3.2, -2.8, -3.1],
             "inconclusive": [5.0, -4.0, 3.0, -2.0, 6.0],
             "smaller than claimed (not distinguishable from 0)": [0.1, -0.1, 0.05, -0.05, 0.0]}
    for expected, d in cases.items():
        row = claims_table.claims_table(_cll_records(np.array(d)), [CLL_AVG]).query("primary").iloc[0]
        assert row.verdict == expected, (expected, row.ci_low, row.ci_high)


def test_holm_runs_over_the_primaries_only_and_secondaries_get_bh():
    cl = [c for c in declared_claims() if c.name.startswith(("CLL improves AVG", "VCL", "SCL improves AVG"))]
    recs = (_cll_records([1.0, 1.2, 0.8, 1.1, 0.9])
            + [_rec("table3", "Exp 3", s, 40 + s + v) for s, v in enumerate([0.5, -0.2, 0.1, 0.3, 0.0])]
            + [_rec("table3", "Exp 4", s, 40 + s + v) for s, v in enumerate([2.0, 2.5, 1.1, 3.0, 2.2])])
    t = claims_table.claims_table(recs, cl)
    prim = t[t.primary]
    assert list(prim.claim) == [c.name for c in cl]
    assert prim.p_adjusted.tolist() == pytest.approx(holm(prim.p.tolist()))
    # alpha / 3 per primary: the 1 - 0.05/3 interval
    assert prim.ci_level.tolist() == pytest.approx([1 - 0.05 / 3] * 3)
    sec = t[t.role == "secondary"]
    assert len(sec) == 3 and (sec.ci_level <= 1 - 0.05 / 3 + 1e-12).all()


def test_acc_splits_and_degenerate_cells_are_diagnostics_and_the_placebo_a_control():
    acc = [c for c in declared_claims() if c.metric == "acc"][0]
    placebo = [c for c in declared_claims() if c.kind == "placebo"][0]
    recs = _cll_records([1.0, 1.2, 0.8])
    recs += [_rec("placebo", "Exp 4", s, 41.0 + s) for s in (3, 4, 5)]
    recs += [_rec("table3", "Exp 4", s, 40.0 + s) for s in range(3)]
    t = claims_table.claims_table(recs, [acc, placebo])
    assert list(t[t.primary].claim) == [acc.name]
    diag = t[t.role == "diagnostic"]
    assert {n.split(" (")[0] for n in diag.claim} == {"CLL improves fg ACC", "CLL improves bg ACC",
                                                       "CLL improves balanced ACC"}
    assert diag.p.isna().all() and (diag.verdict == "-").all()
    assert set(t[t.role == "control"].claim) == {placebo.name}
    # a read-out that finds nothing (AVG < 1 %) is a diagnostic, not a secondary
    low = [dict(r, **{"avg[fixed]": 0.001}) for r in _cll_records([1.0, 1.2, 0.8])]
    t2 = claims_table.claims_table(low, [CLL_AVG])
    assert t2[t2.readout == "fixed"].role.tolist() == ["diagnostic"]


def test_noninferiority_uses_the_declared_margin():
    u = [c for c in declared_claims() if c.name == "U(q||p) >= w/o U (Table 4)"][0]
    assert u.test == "non-inferiority" and u.margin == claims.NONINFERIORITY_MARGIN

    def recs(d):
        return ([_rec("table4", "L_SCL with U(q||p)", s, 40 + s + v) for s, v in enumerate(d)]
                + [_rec("table4", "L_SCL w/o U(p||q)", s, 40.0 + s) for s in range(len(d))])
    # a small loss, well inside the margin: non-inferior
    assert claims_table.claims_table(recs([-0.1, -0.2, 0.0, -0.15, -0.05]), [u]).query("primary").iloc[0].verdict \
        == "reproduces"
    # a loss of 2 points, beyond the margin: inferior
    assert claims_table.claims_table(recs([-2.0, -2.1, -1.9, -2.05, -1.95]), [u]).query("primary").iloc[0].verdict \
        == "reversed"


def _study_records(diffs):
    return _cll_records(diffs, profile="study", reading="lineage", bench="demo")


def test_sequential_primary_stops_at_its_first_decisive_look():
    """Under the study profile's looks (5, 10, 20, 30), a primary uses only its first n_k seeds:
    a clear effect decides at 5 seeds, however many seeds the records hold."""
    rng = np.random.default_rng(0)
    clear = 2.0 + 0.05 * rng.standard_normal(30)
    row = claims_table.claims_table(_study_records(clear), [CLL_AVG]).query("primary").iloc[0]
    assert (row.n_seeds, row.look) == (5, 1) and row.verdict == "smaller than claimed"
    noisy = 1.0 + 6.0 * rng.standard_normal(30)
    row = claims_table.claims_table(_study_records(noisy), [CLL_AVG]).query("primary").iloc[0]
    assert row.look > 1 and row.n_seeds == (5, 10, 20, 30)[row.look - 1]


def test_stage_specs_ask_for_the_next_look_of_an_inconclusive_primary():
    rng = np.random.default_rng(1)
    noisy = 1.0 + 6.0 * rng.standard_normal(5)
    recs = _study_records(noisy)
    assert claims_stages.next_looks(recs, [CLL_AVG]) == {CLL_AVG.name: 10}
    specs = claims_stages.stage_specs(recs, "study", [CLL_AVG])
    assert {(s.label, s.benchmark) for s in specs} == {("Exp 2", "demo"), ("Exp 1", "demo")}
    assert sorted({s.seed for s in specs}) == list(range(10))
    clear = _study_records(2.0 + 0.05 * rng.standard_normal(5))
    assert claims_stages.next_looks(clear, [CLL_AVG]) == {}


def test_staged_specs_train_until_every_primary_is_decisive():
    """The staging loop on a stand-in trainer: seeds are added look by look, and stop."""
    rng = np.random.default_rng(2)
    values = 0.4 + 1.5 * rng.standard_normal(30)   # decided at some look, or at the cap
    trained: list[list] = []

    def records(specs):
        seeds = sorted({s.seed for s in specs if s.label == "Exp 2" and s.benchmark == "demo"
                        and s.reading == "lineage"})
        return _study_records(values[: len(seeds)])

    pilot = [s for s in claims.claims_specs("study", 5, 5, [CLL_AVG])]
    specs = claims_stages.staged_claims_specs("study", pilot, trained.append, records, claims=[CLL_AVG])
    n = len({s.seed for s in specs if s.label == "Exp 2" and s.benchmark == "demo"})
    row = claims_table.claims_table(records(specs), [CLL_AVG]).query("primary").iloc[0]
    assert n == row.n_seeds or (n == 30 and row.verdict == "inconclusive")
    assert len(trained) == 1 + (5, 10, 20, 30).index(n)     # the pilot, then one stage per look


def test_the_study_profiles_design_keeps_its_error_rate_and_its_power():
    """The design the study's primaries use (looks 5/10/20/30, Pocock spending, alpha/16 each),
    simulated: under no effect the repeated intervals exclude 0 at most at alpha (+ 3 Monte-Carlo
    SEs); under a planted effect of one SD the design finds it as often as its t power promises."""
    from himnet_lib.study import sequential_power as P
    m = len([c for c in declared_claims() if c.kind != "placebo"])
    design = claims_table.primary_design("study", m, 5)
    assert design.looks == (5, 10, 20, 30) and design.alpha == pytest.approx(0.05 / m)
    n_sim = 50_000
    null = P.simulate(design, 0.0, 1.0, kind="sign", n_sim=n_sim, rng=np.random.default_rng(0))
    se = math.sqrt(design.alpha * (1 - design.alpha) / n_sim)
    assert null.excludes_zero_any_look <= design.alpha + 3 * se
    promised = P.design_power(design, 1.0, 1.0, method="t")
    planted = P.simulate(design, 1.0, 1.0, kind="sign", n_sim=n_sim, rng=np.random.default_rng(1))
    assert abs(planted.excludes_zero_any_look - promised) <= 0.02
    assert planted.excludes_zero_any_look > 0.9
