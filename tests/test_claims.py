"""The claims table: effects, standard errors and verdicts from synthetic run records, checked
against hand computations of the rule stated in himnet_lib.claims."""

from __future__ import annotations

import math

import numpy as np
import pytest

from himnet_lib import claims, paper
from himnet_lib.claims import CLAIMS, claims_table, to_markdown, verdict


def _rec(table, label, seed, avg_fixed, avg_minmax=None, acc=80.0, reading="literal", bench="main", **extra):
    r = {"table": table, "label": label, "seed": seed, "run_id": f"{label}-{seed}", "benchmark": bench,
         "reading": reading, "acc": acc, "fg_bg_auc": 0.8,
         "avg[fixed]": avg_fixed, "avg[minmax]": avg_fixed if avg_minmax is None else avg_minmax,
         "avg_0.5[fixed]": avg_fixed + 5, "avg_0.5[minmax]": avg_fixed + 5,
         "avg_0.5_nms[fixed]": avg_fixed + 4, "avg_0.5_nms[minmax]": avg_fixed + 6}
    r.update(extra)
    return r


def test_verdict_rule():
    assert verdict(1.0, 0.4, 5) == "holds"
    assert verdict(-1.0, 0.4, 5) == "reversed"
    assert verdict(0.7, 0.4, 5) == "within noise"      # |effect| < 2 se
    assert verdict(0.0, 0.0, 5) == "within noise"
    assert verdict(1.0, 0.1, 1) == "n/a"


def test_two_row_effect_and_standard_error():
    a = [10.0, 12.0, 11.0]          # Exp 2 (CLL)
    b = [5.0, 9.0, 7.0, 8.0]        # Exp 1
    recs = [_rec("table3", "Exp 2", i, v) for i, v in enumerate(a)] + \
           [_rec("table3", "Exp 1", i, v) for i, v in enumerate(b)]
    t = claims_table(recs, [CLAIMS[0]])
    row = t[(t.readout == "fixed")].iloc[0]
    se = math.sqrt(np.var(a, ddof=1) / 3 + np.var(b, ddof=1) / 4)
    assert row.our_effect == pytest.approx(np.mean(a) - np.mean(b))
    assert row.se == pytest.approx(se)
    assert row.n_seeds == 3 and row.verdict == "holds"
    assert row.paper_effect == pytest.approx(paper.TABLE3["Exp 2"][0] - paper.TABLE3["Exp 1"][0])
    assert set(t.readout) == {"fixed", "minmax"}


def test_paired_nms_claim_and_best_alpha():
    recs = [_rec("table3", "Exp 4", i, v) for i, v in enumerate([20.0, 22.0, 21.0])]
    nms = [c for c in CLAIMS if c.kind == "nms"][0]
    t = claims_table(recs, [nms])
    fixed = t[t.readout == "fixed"].iloc[0]
    assert fixed.our_effect == pytest.approx(1.0) and fixed.se == 0.0 and fixed.verdict == "holds"
    assert t[t.readout == "minmax"].iloc[0].verdict == "reversed"
    best = [c for c in CLAIMS if c.kind == "best"][0]
    alphas = {"alpha=4": [30.0, 31.0], "alpha=2": [29.0, 31.5], "alpha=8": [25.0, 26.0]}
    recs = [_rec("alpha", lab, i, v) for lab, vs in alphas.items() for i, v in enumerate(vs)]
    row = claims_table(recs, [best]).iloc[0]
    se4, se2 = np.std([30, 31], ddof=1) / math.sqrt(2), np.std([29, 31.5], ddof=1) / math.sqrt(2)
    assert row.our_effect == pytest.approx(30.5 - 30.25)
    assert row.se == pytest.approx(math.sqrt(se4 ** 2 + se2 ** 2)) and row.verdict == "within noise"


def test_rows_per_reading_and_benchmark_and_reading_free_table5():
    recs = []
    for bench in ("main", "b"):
        for reading in ("literal", "lineage"):
            recs += [_rec("table3", "Exp 2", i, 10 + i, reading=reading, bench=bench) for i in range(2)]
            recs += [_rec("table3", "Exp 1", i, 5 + i, reading=reading, bench=bench) for i in range(2)]
        recs += [_rec("table5", "HAM-Net", i, 40.0 + i, reading="lineage", bench=bench) for i in range(2)]
        recs += [_rec("table5", "HAM-Net + L_CLL", i, 39.0 + i, reading="lineage", bench=bench) for i in range(2)]
    t = claims_table(recs)
    cll = t[t.claim == CLAIMS[0].name]
    assert len(cll) == 2 * 2 * 2                       # benchmarks x readings x read-outs
    acc = t[t.claim == CLAIMS[1].name]
    assert set(acc.readout) == {"-"} and len(acc) == 4
    ham = t[t.claim == "CLL helps HAM-Net (Table 5)"]
    assert set(ham.reading) == {"-"} and len(ham) == 4          # benchmarks x read-outs, no reading
    assert (ham.our_effect == -1.0).all() and set(ham.verdict) == {"within noise"}   # 1 < 2·sqrt(0.5)
    md = to_markdown(t)
    assert md.startswith("| claim | reading | readout | benchmark |") and "+4.40" in md
    assert list(t.columns) == list(claims.CLAIM_COLUMNS)
