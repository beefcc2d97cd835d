"""The paper's claims tested one by one, under each reading, read-out and benchmark.

One row per (claim, reading, read-out, benchmark), columns :data:`CLAIM_COLUMNS`:

* ``our_effect``: the expected-better row minus the row it is compared with, in points of the
  claim's metric (mAP and accuracies in percent; U unitless). Over the seeds both rows share it is
  the mean of the per-seed differences (``paired`` = True: runs of two rows with one seed share
  their initial weights, batches and dropout masks, tests/test_claims.py checks it); otherwise the
  difference of the means (Welch). ``se``, ``df``: its standard error and degrees of freedom.
* ``p``: two-sided p of the t test (:mod:`himnet_lib.stats`); ``p_adjusted``: Holm's adjustment
  across every tested row of the table (:data:`ADJUST`; the placebo rows are left out of the
  family and keep their own p); ``verdict``: ``holds`` / ``reversed`` when ``p_adjusted`` < 0.05
  by the effect's sign, else ``within noise``; ``n/a`` with fewer than two seeds;
  ``n/a (read-out degenerate)`` when either side's read-out finds almost nothing (mean AVG < 1, or
  for the fixed read-out A's median per-video range < 0.15): a difference of nothing is no
  evidence. ``verdict_2se`` is the previous rule (|effect| < 2 unpaired standard errors), kept
  side by side for one release.
* "α = 4 is best" is a best-of-k test: α = 4 against each other α, "holds" only if it beats every
  one (intersection-union), "reversed" if any beats it (Bonferroni over k)
  (:func:`himnet_lib.stats.best_of_k_test`).
* ``dose_response``: for a claim about one loss term, the factors of its λ (the dose-response of
  notebook 11, under the profile's reading) at which the claim holds and at which it reverses
  (each factor against λ = 0, paired; Holm across every factor of every claim row, a family apart
  from the claims' own), or "at no weight tried".
* read-outs: ``fixed`` = the attention thresholded as it is (the peers' inference), ``minmax`` =
  per-video min-max rescaled before the fixed thresholds (``localize.attention_norm``), both with
  Soft-NMS; metrics without localization (accuracies, U) have read-out ``-``.
* readings: ``literal`` / ``lineage`` (:data:`himnet_lib.config.READINGS`); the baselines of
  Table 5 train their own objective, so their rows have reading ``-``.

Everything is computed from the run records (:func:`run_records`, saved as ``runs.csv``): the
claims table can be rebuilt from ``runs.csv`` alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

import numpy as np

from . import markdown, paper, stats, study
from .config import READINGS
from .data import load_dataset
from .diagnostics import DIAGNOSTIC_KEYS, background_uncertainty
from .io import atomic_write_text
from .metrics import ACC_SPLITS, snippet_memberships
from .readouts import READOUT_NAMES, evaluation_dataset, readout_key
from .rundir import RunDir
from .study import RunSpec

__all__ = ["Claim", "CLAIMS", "added_term_claims", "u_rows", "READOUTS", "RUN_COLUMNS", "CLAIM_COLUMNS", "ADJUST",
           "claims_specs", "run_records", "records_frame", "read_runs_csv", "claims_table", "background_u",
           "to_markdown", "write_claims", "write_runs", "summary", "summary_markdown", "METRICS", "row_values"]

# claims-table read-out name -> localize.attention_norm (scored with Soft-NMS; NMS for the NMS claim)
READOUTS: dict[str, str] = {name: norm for norm, name in READOUT_NAMES.items()}

ADJUST: Literal["holm", "bh"] = "holm"  # multiplicity adjustment across the claims table (stats.adjust: holm | bh)
LEVEL = 0.05
DEGENERATE_AVG = 1.0     # percent: a read-out whose mean AVG is below this finds almost nothing
DEGENERATE_RANGE = 0.15  # A's median per-video range below which fixed thresholds cannot separate

# claim metric -> (runs.csv column for a read-out, scale to the claims table's unit)
METRICS: dict[str, tuple[Callable[[str], str], float]] = {
    "avg": (lambda ro: f"avg[{ro}]", 100.0),
    "avg_0.5": (lambda ro: f"avg_0.5[{ro}]", 100.0),
    "acc": (lambda ro: "snippet_acc", 100.0),
    "acc_fg": (lambda ro: "snippet_acc_fg", 100.0),
    "acc_bg": (lambda ro: "snippet_acc_bg", 100.0),
    "acc_balanced": (lambda ro: "snippet_acc_balanced", 100.0),
    "u_bg": (lambda ro: "u_bg", 1.0),
}
NO_READOUT = ("acc", "acc_fg", "acc_bg", "acc_balanced", "u_bg")

CLAIM_COLUMNS = ("claim", "metric", "reading", "readout", "benchmark", "paper_effect", "our_effect", "se", "n_seeds",
                 "paired", "df", "p", "p_adjusted", "verdict", "verdict_2se", "dose_response")


@dataclass(frozen=True)
class Claim:
    """One claim: ``better`` should beat ``worse`` on ``metric`` (a key of :data:`METRICS`).

    ``better`` / ``worse`` are (table, label) rows of :mod:`himnet_lib.study`'s grids.
    kind: "diff" (two rows), "best" (``better`` against every row of ``worse``, a (table,
    label-prefix) pair), "nms" (Soft-NMS vs NMS on the same runs of ``better``) or "placebo" (two
    sets of runs of one configuration; any verdict but noise is a false positive).
    ``dose``: the loss term whose λ the claim is about (its dose-response rows are read too).
    """

    name: str
    metric: str
    kind: str
    better: tuple[str, str]
    worse: tuple[str, str]
    paper_effect: float
    reading_free: bool = False
    dose: str | None = None

    def rows(self) -> list[tuple[str, str]]:
        """Every (table, label) whose runs the claim reads."""
        rows = [self.better] if self.kind == "nms" else [self.better, self.worse]
        if self.dose:
            rows += [("dose", study.dose_label(self.dose, f)) for f in study.DOSE_FACTORS if f != 1.0]
        return rows


def _t3(exp: str) -> tuple[str, str]:
    return ("table3", exp)


_P3 = paper.TABLE3
_P4 = paper.TABLE4
_P5 = paper.TABLE5
_P1 = paper.TABLE1_2
_NAN = float("nan")


def _paper_diff(row: str, before: str, column: int) -> float:
    """The paper's Table 3 difference row - before in ``column`` (NaN for a row the paper lacks)."""
    if row in _P3 and before in _P3:
        return _P3[row][column] - _P3[before][column]
    return _NAN


def added_term_claims(added: Mapping[str, tuple[str, str]] = study.DOSE_ROWS) -> tuple[Claim, ...]:
    """For each term that a core row of Table 3 adds (``added``, :func:`himnet_lib.study.added_terms`):
    it improves AVG, with its dose-response when it has a weight; for CLL also the paper's ACC claim
    and ACC's splits. A new term in Table 3's core rows is claimed without an edit here."""
    out: list[Claim] = []
    for term, (row, before) in added.items():
        name, pair = term.upper(), f"({row} vs {before})"
        dose = term if study.weight_fields([term]) else None
        out.append(Claim(f"{name} improves AVG {pair}", "avg", "diff", _t3(row), _t3(before),
                         _paper_diff(row, before, 0), dose=dose))
        if term == "cll":  # the paper claims CLL's gain in snippet ACC (Table 3's ACC column)
            out.append(Claim(f"{name} improves ACC {pair}", "acc", "diff", _t3(row), _t3(before),
                             _paper_diff(row, before, 2), dose=dose))
            out += [Claim(f"{name} improves {split} ACC {pair}", metric, "diff", _t3(row), _t3(before), _NAN,
                          dose=dose) for split, metric in (("fg", "acc_fg"), ("bg", "acc_bg"),
                                                           ("balanced", "acc_balanced"))]
    return tuple(out)


_SCL_ROW, _SCL_BEFORE = study.DOSE_ROWS["scl"]

CLAIMS: tuple[Claim, ...] = (
    *added_term_claims(),
    Claim("SCL beats L_guide (Table 4)", "avg", "diff", ("table4", "L_SCL"), ("table4", "L_guide"),
          _P4["L_SCL"][4] - _P4["L_guide"][4]),
    Claim("SCL beats L_ml (Table 4)", "avg", "diff", ("table4", "L_SCL"), ("table4", "L_ml"),
          _P4["L_SCL"][4] - _P4["L_ml"][4]),
    Claim("U(p||q) >= U(q||p) (Table 4)", "avg", "diff", ("table4", "L_SCL"), ("table4", "L_SCL with U(q||p)"),
          _P4["L_SCL"][4] - _P4["L_SCL with U(q||p)"][4]),
    Claim("U(q||p) >= w/o U (Table 4)", "avg", "diff", ("table4", "L_SCL with U(q||p)"),
          ("table4", "L_SCL w/o U(p||q)"), _P4["L_SCL with U(q||p)"][4] - _P4["L_SCL w/o U(p||q)"][4]),
    Claim("alpha = 4 is best (Fig. 6)", "avg", "best", ("alpha", "alpha=4"), ("alpha", "alpha="), _NAN),
    Claim("SCL raises U on GT background (Fig. 7)", "u_bg", "diff", _t3(_SCL_ROW), _t3(_SCL_BEFORE), _NAN,
          dose="scl"),
    Claim("Soft-NMS beats NMS (Table 1, AVG 0.1:0.5)", "avg_0.5", "nms", _t3("Exp 4"), _t3("Exp 4"),
          _P1[("Table 1", "THUMOS14", "Soft-NMS")]["AVG"] - _P1[("Table 1", "THUMOS14", "NMS")]["AVG"]),
    Claim("CLL helps BaS-Net (Table 5)", "avg", "diff", ("table5", "BaS-Net + L_CLL"), ("table5", "BaS-Net"),
          float(_P5[("BaS-Net", "+ L_CLL")][5] or 0.0), reading_free=True),
    Claim("CLL + SCL help BaS-Net (Table 5)", "avg", "diff", ("table5", "BaS-Net + L_CLL + L_SCL"),
          ("table5", "BaS-Net"), float(_P5[("BaS-Net", "+ L_CLL + L_SCL")][5] or 0.0), reading_free=True),
    Claim("SCL helps BaS-Net + CLL (Table 5)", "avg", "diff", ("table5", "BaS-Net + L_CLL + L_SCL"),
          ("table5", "BaS-Net + L_CLL"), _P5[("BaS-Net", "+ L_CLL + L_SCL")][4] - _P5[("BaS-Net", "+ L_CLL")][4],
          reading_free=True),
    Claim("CLL helps HAM-Net (Table 5)", "avg", "diff", ("table5", "HAM-Net + L_CLL"), ("table5", "HAM-Net"),
          float(_P5[("HAM-Net", "+ L_CLL")][5] or 0.0), reading_free=True),
    Claim("SCL helps HAM-Net (Table 5)", "avg", "diff", ("table5", "HAM-Net + L_SCL"), ("table5", "HAM-Net"),
          float(_P5[("HAM-Net", "+ L_SCL")][5] or 0.0), reading_free=True),
    Claim("placebo: Exp 4 on seeds n..2n-1 vs 0..n-1 (expect noise)", "avg", "placebo", ("placebo", study.PLACEBO_ROW),
          _t3(study.PLACEBO_ROW), 0.0),
)


def claims_specs(profile: str, seeds_table3: int, seeds_other: int,
                 claims: Sequence[Claim] = CLAIMS) -> list[RunSpec]:
    """Every run the claims table reads: each claim's :meth:`Claim.rows` where
    :data:`himnet_lib.study.CLAIM_COVERAGE` says, Table 3 and the placebo with ``seeds_table3``
    seeds, the rest with ``seeds_other``."""
    specs: list[RunSpec] = []
    for bench in study.benchmarks(profile):
        for reading in READINGS:
            for claim in claims:
                for table, label in claim.rows():
                    if not study.covered(table, profile, bench, reading):
                        continue
                    if table == "table5" and reading != study.default_reading(profile):
                        continue  # reading-free: trained once
                    n = seeds_table3 if table in ("table3", "placebo") else seeds_other
                    specs += study.row_specs(table, label, profile, n, reading, bench)
    return study.unique_specs(specs)


# --- run records ----------------------------------------------------------------------------------

_ACC_KEYS = ("snippet_acc", *ACC_SPLITS, "fg_bg_acc")  # metrics.json's accuracies

RUN_COLUMNS = (
    "run_id", "table", "label", "seed", "profile", "benchmark", "main_benchmark", "reading",
    *(f"lambda_{t}" for t in study.DOSE_ROWS),
    *(f"{m}[{ro}]" for m in ("avg", "avg_0.5", "avg_nms", "avg_0.5_nms") for ro in READOUTS),
    *_ACC_KEYS, *DIAGNOSTIC_KEYS, "u_bg",
)


def u_rows(claims: Sequence[Claim] = CLAIMS) -> set[tuple[str, str]]:
    """The (table, label) rows whose runs need the Fig. 7 statistic: those of the claims on U."""
    return {row for c in claims if c.metric == "u_bg" for row in c.rows()}


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def run_records(specs: Iterable[RunSpec], runs_dir: str | Path,
                u_background: Callable[[RunSpec], float] | None = None,
                u_for: Iterable[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """One record per spec (:data:`RUN_COLUMNS`), read from ``<runs_dir>/<run_id>/metrics.json`` and
    ``params.json``, in the files' units (mAP and accuracies as fractions). ``lambda_*``: the
    weights the run trained with (``params.json``'s ``loss_weights``; 0 for an absent term).
    ``u_background(spec)`` supplies the Fig. 7 statistic (:func:`background_u`), computed only for
    the runs of the ``u_for`` rows (default :func:`u_rows`; NaN elsewhere, as it reads every
    snippet's outputs)."""
    wanted_u = u_rows() if u_for is None else set(u_for)
    out = []
    for s in specs:
        run = RunDir(Path(runs_dir) / s.run_id)
        m = run.metrics()
        weights = run.loss_weights()
        by = m.get("by_readout", {})
        rec: dict[str, Any] = {"run_id": s.run_id, "table": s.table, "label": s.label, "seed": s.seed,
                               "profile": s.profile, "benchmark": s.benchmark_name or "data",
                               "main_benchmark": s.main_benchmark, "reading": s.reading}
        for t in study.DOSE_ROWS:
            rec[f"lambda_{t}"] = float(weights.get(t, 0.0))
        for ro, norm in READOUTS.items():
            soft, nms = by[readout_key(norm, "soft")], by[readout_key(norm, "nms")]
            rec[f"avg[{ro}]"] = soft["average_mAP"]
            rec[f"avg_0.5[{ro}]"] = soft["average_mAP_0.1_0.5"]
            rec[f"avg_nms[{ro}]"] = nms["average_mAP"]
            rec[f"avg_0.5_nms[{ro}]"] = nms["average_mAP_0.1_0.5"]
        for k in (*_ACC_KEYS, *DIAGNOSTIC_KEYS):
            rec[k] = _num(m.get(k))
        needs_u = u_background is not None and (s.table, s.label) in wanted_u
        rec["u_bg"] = float(u_background(s)) if u_background is not None and needs_u else float("nan")
        out.append(rec)
    return out


def records_frame(records: Sequence[Mapping[str, Any]]):
    """The records as a DataFrame with the columns of :data:`RUN_COLUMNS` (``runs.csv``)."""
    import pandas as pd
    return pd.DataFrame(list(records), columns=list(RUN_COLUMNS))


def read_runs_csv(path: str | Path) -> list[dict[str, Any]]:
    """Records back from ``runs.csv`` (as written by :func:`write_runs`)."""
    import pandas as pd
    df = pd.read_csv(path, keep_default_na=True)
    missing = [c for c in RUN_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a runs.csv of this version (missing columns {missing[:5]})")
    df["main_benchmark"] = df["main_benchmark"].astype(bool)
    return df.to_dict("records")


def write_runs(records: Sequence[Mapping[str, Any]], out_dir: str | Path) -> Path:
    """``runs.csv``: one row per study run the claims read, every metric at full precision."""
    text = records_frame(records).to_csv(index=False, float_format="%.6g", lineterminator="\n")
    return atomic_write_text(Path(out_dir) / "runs.csv", text)


# --- the table -------------------------------------------------------------------------------------

def _values(records: Sequence[Mapping[str, Any]], table: str, label: str, column: str, scale: float,
            prefix: bool = False) -> dict[str, dict[int, float]]:
    """{label: {seed: value}} of the matching records (one label, or every label with the prefix)."""
    got: dict[str, dict[int, float]] = {}
    for r in records:
        if r["table"] != table:
            continue
        v = r.get(column)
        if (r["label"].startswith(label) if prefix else r["label"] == label) and v is not None \
                and math.isfinite(float(v)):
            got.setdefault(r["label"], {})[int(r["seed"])] = scale * float(v)
    return got


def row_values(records, table: str, label: str, column: str, scale: float = 1.0) -> dict[int, float]:
    """{seed: scale·value} of one study row's records in ``column``."""
    return _values(records, table, label, column, scale).get(label, {})


def _degenerate(records, rows: Sequence[tuple[str, str]], readout: str, metric: str) -> bool:
    """Either side's read-out finds almost nothing (module docstring)."""
    if metric in NO_READOUT:
        return False
    col = METRICS[metric][0](readout)
    for table, label in rows:
        prefix = label.endswith("=")
        for vals in _values(records, table, label, col, 100.0, prefix=prefix).values():
            if vals and float(np.mean(list(vals.values()))) < DEGENERATE_AVG:
                return True
        if readout == "fixed":
            for vals in _values(records, table, label, "attention_range_median", 1.0, prefix=prefix).values():
                if vals and float(np.median(list(vals.values()))) < DEGENERATE_RANGE:
                    return True
    return False


def _test(claim: Claim, records, readout: str) -> stats.Test | None:
    col, scale = METRICS[claim.metric]
    column = col(readout)
    if claim.kind == "nms":
        soft = row_values(records, *claim.better, column, scale)
        hard = row_values(records, *claim.better, f"avg_0.5_nms[{readout}]", scale)
        return stats.compare(soft, hard) if soft and hard else None
    a = row_values(records, *claim.better, column, scale)
    if claim.kind == "best":
        others = {lab: v for lab, v in _values(records, claim.worse[0], claim.worse[1], column, scale,
                                               prefix=True).items() if lab != claim.better[1]}
        return stats.best_of_k_test(a, others) if a and others else None
    b = row_values(records, *claim.worse, column, scale)
    if not a or not b:
        return None
    return stats.compare(a, b, pair=False if claim.kind == "placebo" else None)


def _old_verdict(claim: Claim, records, readout: str, test: stats.Test) -> str:
    """The previous rule: |effect| < 2·(unpaired SE) is noise (paired only for the NMS read-out)."""
    if claim.kind == "nms":
        se = test.se
    else:
        col, scale = METRICS[claim.metric]
        a = list(row_values(records, *claim.better, col(readout), scale).values())
        if claim.kind == "best":
            b = list(_values(records, claim.worse[0], claim.worse[1], col(readout), scale,
                             prefix=True).get(test.best_other or "", {}).values())
        else:
            b = list(row_values(records, *claim.worse, col(readout), scale).values())
        sa, sb = stats.mean_sd_se(a), stats.mean_sd_se(b)
        se = math.sqrt(sa.se ** 2 + sb.se ** 2)
    n = test.n
    if n < 2 or not math.isfinite(se) or not math.isfinite(test.effect):
        return "n/a"
    if test.effect == 0 or abs(test.effect) < 2 * se:
        return "within noise"
    return "holds" if test.effect > 0 else "reversed"


def _dose_tests(claim: Claim, records, readout: str) -> list[tuple[float, stats.Test]]:
    """Each λ factor of the claim's term against λ = 0 (the row without the term), paired."""
    col, scale = METRICS[claim.metric]
    column = col(readout)
    base = row_values(records, *claim.worse, column, scale)
    tests: list[tuple[float, stats.Test]] = []
    for f in study.DOSE_FACTORS:
        row = claim.better if f == 1.0 else ("dose", study.dose_label(claim.dose or "", f))
        vals = row_values(records, *row, column, scale)
        if vals and base:
            tests.append((f, stats.compare(vals, base)))
    return tests


def _dose_verdict(tests: Sequence[tuple[float, stats.Test]], adjusted: Sequence[float]) -> str:
    """The λ factors at which the claim holds / reverses against λ = 0 (module docstring)."""
    if not tests:
        return "-"
    verdicts = [(f, stats.verdict(t, p, level=LEVEL)) for (f, t), p in zip(tests, adjusted)]
    holds = [f"{f:g}" for f, v in verdicts if v == "holds"]
    rev = [f"{f:g}" for f, v in verdicts if v == "reversed"]
    parts = ([f"holds at x{', x'.join(holds)}"] if holds else []) + ([f"reversed at x{', x'.join(rev)}"] if rev else [])
    return "; ".join(parts) if parts else "at no weight tried"


def claims_table(records: Sequence[Mapping[str, Any]], claims: Sequence[Claim] = CLAIMS,
                 adjust: Literal["holm", "bh"] = ADJUST):
    """The claims table (pandas DataFrame, :data:`CLAIM_COLUMNS`) from :func:`run_records` output
    (or :func:`read_runs_csv`). A claim row the coverage asks for whose runs are missing is an
    error (:class:`KeyError` naming the claim and the rows)."""
    import pandas as pd
    rows: list[dict[str, Any]] = []
    tests: list[stats.Test | None] = []       # the Holm family (None: left out)
    all_tests: list[stats.Test] = []
    dose_tests: dict[int, list[tuple[float, stats.Test]]] = {}  # row index -> its λ factors' tests
    benches = list(dict.fromkeys(r["benchmark"] for r in records))
    readings = [x for x in READINGS if any(r["reading"] == x for r in records if r["table"] != "table5")]
    profile = str(records[0]["profile"]) if records else ""
    main_of = {r["benchmark"]: bool(r["main_benchmark"]) for r in records}
    for claim in claims:
        for bench in benches:
            recs_b = [r for r in records if r["benchmark"] == bench]
            bench_arg = "" if main_of.get(bench) else bench
            for reading in (["-"] if claim.reading_free else readings):
                if not claim.reading_free:
                    needed = [t for t, _ in ([claim.better] + ([] if claim.kind == "nms" else [claim.worse]))]
                    if not all(study.covered(t, profile, bench_arg, reading) for t in needed):
                        continue
                elif not study.covered(claim.better[0], profile, bench_arg, study.default_reading(profile)):
                    continue
                recs = recs_b if claim.reading_free else [r for r in recs_b if r["reading"] == reading]
                for readout in (["-"] if claim.metric in NO_READOUT else list(READOUTS)):
                    ro = "fixed" if readout == "-" else readout
                    test = _test(claim, recs, ro)
                    if test is None:
                        raise KeyError(f"claim {claim.name!r} ({bench}, {reading}, {readout}): runs of "
                                       f"{claim.rows()[:2]} are missing from the records")
                    row = {"claim": claim.name, "metric": claim.metric, "reading": reading, "readout": readout,
                           "benchmark": bench, "paper_effect": claim.paper_effect, "our_effect": test.effect,
                           "se": test.se, "n_seeds": test.n, "paired": bool(test.paired), "df": test.df,
                           "p": test.p, "p_adjusted": float("nan"), "verdict": "",
                           "verdict_2se": _old_verdict(claim, recs, ro, test), "dose_response": "-"}
                    degenerate = _degenerate(recs, [claim.better] if claim.kind == "nms" else
                                             [claim.better, claim.worse], ro, claim.metric)
                    if degenerate:
                        row["verdict"] = "n/a (read-out degenerate)"
                    elif claim.dose and study.covered("dose", profile, bench_arg, reading):
                        dose_tests[len(rows)] = _dose_tests(claim, recs, ro)
                    rows.append(row)
                    all_tests.append(test)
                    tests.append(None if degenerate or test.n < 2 or claim.kind == "placebo" else test)
    # Holm across every tested row; the placebo rows keep their own p
    family = [i for i, t in enumerate(tests) if t is not None and math.isfinite(t.p)]
    adjusted = list(stats.adjust([rows[i]["p"] for i in family], adjust)) if family else []
    for i, p in zip(family, adjusted):
        rows[i]["p_adjusted"] = float(p)
    for row, test in zip(rows, all_tests):
        if row["verdict"]:
            continue
        if not math.isfinite(row["p_adjusted"]):  # the placebo, or fewer than two seeds: its own p
            row["p_adjusted"] = row["p"]
        row["verdict"] = stats.verdict(test, row["p_adjusted"], level=LEVEL)
    # the dose-response tests are a family of their own: adjusted across every factor of every row
    flat = [(i, k) for i, ts in dose_tests.items() for k in range(len(ts))]
    p_dose = list(stats.adjust([dose_tests[i][k][1].p for i, k in flat], adjust)) if flat else []
    adjusted_of: dict[int, list[float]] = {}
    for (i, _), p in zip(flat, p_dose):
        adjusted_of.setdefault(i, []).append(float(p))
    for i, ts in dose_tests.items():
        rows[i]["dose_response"] = _dose_verdict(ts, adjusted_of.get(i, []))
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))


# --- the Fig. 7 statistic ------------------------------------------------------------------------

def background_u(roots: Mapping[str, str | Path], runs_dir: str | Path) -> Callable[[RunSpec], float]:
    """The Fig. 7 statistic for :func:`run_records`: mean U(B_BG‖1-A) (α and KL of the run's own
    loss settings) over the ground-truth background snippets of the evaluated videos.
    ``roots``: benchmark -> dataset root (as :func:`himnet_lib.scheduler.run_study_specs` returns)."""
    cache: dict[tuple[str, float], Any] = {}

    def stat(spec: RunSpec) -> float:
        cfg = spec.config()
        key = (spec.benchmark, cfg.train.val_fraction)
        if key not in cache:
            ds = evaluation_dataset(load_dataset(roots[spec.benchmark], snippet_seconds=cfg.snippet_seconds), cfg)
            videos = ds.test_videos()
            members = snippet_memberships(ds, videos)
            cache[key] = (videos, members)
        videos, members = cache[key]
        u = background_uncertainty(RunDir(Path(runs_dir) / spec.run_id).outputs(), videos, members,
                                   alpha=cfg.loss.alpha, kl=cfg.loss.scl_kl)
        return float(u.mean()) if u.size else float("nan")

    return stat


# --- output ----------------------------------------------------------------------------------------

def _fmt(v: Any, digits: int = 2, sign: bool = True) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return "n/a"
        return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"
    return str(v)


def _p(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.3f}" if v >= 0.001 else f"{v:.1e}"


def to_markdown(table) -> str:
    """The claims table as Markdown (effects with a sign, 2 decimals; ``n/a`` where the paper gives
    no number)."""
    cols = list(CLAIM_COLUMNS)
    rows = []
    for d in table.to_dict("records"):
        cells = []
        for c in cols:
            v = d[c]
            if c in ("paper_effect", "our_effect"):
                cells.append(_fmt(v))
            elif c == "se":
                cells.append(_fmt(v, 3, sign=False))
            elif c == "df":
                cells.append(_fmt(v, 1, sign=False))
            elif c in ("p", "p_adjusted"):
                cells.append(_p(float(v)))
            else:
                cells.append(_fmt(v))
        rows.append(cells)
    return markdown.table(cols, rows) + "\n"


def write_claims(table, out_dir: str | Path) -> list[Path]:
    """``claims.csv`` (full precision), ``claims.md`` (:func:`to_markdown`) and ``claims_summary.md``
    (one row per claim, :func:`summary`), written atomically."""
    out = Path(out_dir)
    csv_text = table.to_csv(index=False, float_format="%.4f", lineterminator="\n")
    return [atomic_write_text(out / "claims.csv", csv_text), markdown.write(out / "claims.md", to_markdown(table)),
            markdown.write(out / "claims_summary.md", summary_markdown(summary(table)))]


VERDICTS = ("holds", "within noise", "reversed", "n/a (read-out degenerate)", "n/a")


def summary(table):
    """One row per claim: the paper's effect, how many (reading, read-out, benchmark) rows hold, are
    within noise, are reversed or not applicable under the adjusted test, the same counts under the
    previous 2-SE rule, and the range of our effects over the rows with a verdict."""
    import pandas as pd
    rows = []
    for name, g in table.groupby("claim", sort=False):
        counts = g["verdict"].value_counts()
        old = g["verdict_2se"].value_counts()
        live = g[~g["verdict"].str.startswith("n/a")]
        rec: dict[str, Any] = {"claim": name, "paper_effect": g["paper_effect"].iloc[0], "rows": len(g)}
        for v in VERDICTS:
            rec[v] = int(counts.get(v, 0))
        for v in ("holds", "within noise", "reversed"):
            rec[f"{v} (2 SE)"] = int(old.get(v, 0))
        rec["our_effect_min"] = float(live["our_effect"].min()) if len(live) else float("nan")
        rec["our_effect_max"] = float(live["our_effect"].max()) if len(live) else float("nan")
        rows.append(rec)
    return pd.DataFrame(rows)


def summary_markdown(s) -> str:
    header = ["claim", "paper", "holds", "within noise", "reversed", "n/a (degenerate)", "n/a (1 seed)",
              "previous 2-SE rule: holds / noise / reversed", "our effects (min … max)"]
    rows = []
    for r in s.to_dict("records"):
        n = r["rows"]
        rows.append([r["claim"], _fmt(r["paper_effect"]), f"{r['holds']}/{n}", f"{r['within noise']}/{n}",
                     f"{r['reversed']}/{n}", f"{r['n/a (read-out degenerate)']}/{n}", f"{r['n/a']}/{n}",
                     f"{r['holds (2 SE)']} / {r['within noise (2 SE)']} / {r['reversed (2 SE)']}",
                     f"{_fmt(r['our_effect_min'])} … {_fmt(r['our_effect_max'])}"])
    return markdown.table(header, rows) + "\n"
