"""The dose-response table of notebook 11: rows per (term, factor, benchmark), paired differences
against the row without the term, and Holm's adjustment across the whole table per metric, checked
against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hand_stats import holm
from scipy import stats as sps

from himnet_lib.study import dose, grids, run_table


def _rec(table, label, seed, value):
    r = {c: float("nan") for c in run_table.RUN_COLUMNS}
    r.update({"run_id": f"{table}-{label}-{seed}", "table": table, "label": label, "seed": seed, "profile": "smoke",
              "benchmark": "smoke", "on_main_benchmark": True, "reading": "literal"})
    r.update({m: value for m in dose.DOSE_METRICS})
    return r


def test_paired_differences_and_holm_across_the_table():
    rng = np.random.default_rng(0)
    seeds = range(4)
    value = {}   # (table, label) -> per-seed values (fractions)
    for i, row in enumerate(grids.CORE_ROWS):
        value[("table3", row)] = [0.30 + 0.01 * i + 0.02 * s + rng.normal(0, 0.004) for s in seeds]
    for term, (_, without) in grids.dose_terms().items():
        for k, f in enumerate(f for f in grids.DOSE_FACTORS if f != 1.0):
            value[("dose", grids.dose_label(term, f))] = [v + 0.003 * k + rng.normal(0, 0.004)
                                                          for v in value[("table3", without)]]
    recs = [_rec(t, lab, s, v) for (t, lab), vs in value.items() for s, v in zip(seeds, vs)]
    table = dose.dose_response_table(recs)
    assert len(table) == len(grids.dose_terms()) * (1 + len(grids.DOSE_FACTORS))
    raw = []
    for r in table.to_dict("records"):
        exp, without = grids.dose_terms()[r["term"]]
        if r["factor"] == 0:
            assert r["avg[fixed]_diff"] == 0 and math.isnan(r["avg[fixed]_p"])
            raw.append(float("nan"))
            continue
        key = ("table3", exp) if r["factor"] == 1.0 else ("dose", grids.dose_label(r["term"], r["factor"]))
        a, b = np.multiply(value[key], 100), np.multiply(value[("table3", without)], 100)
        assert r["avg[fixed]_diff"] == pytest.approx(float(np.mean(a - b)))
        assert r["avg[fixed]_p"] == pytest.approx(sps.ttest_rel(a, b).pvalue)
        raw.append(r["avg[fixed]_p"])
    finite = [i for i, p in enumerate(raw) if math.isfinite(p)]
    want = holm([raw[i] for i in finite])
    got = table["avg[fixed]_p_adjusted"].tolist()
    assert [got[i] for i in finite] == pytest.approx(want)
    assert all(math.isnan(got[i]) for i in range(len(raw)) if i not in finite)
