"""Each declared claim computed in every cell (benchmark x reading x read-out) of the run records
(``runs.csv``): the samples of its two sides, the test over every seed, whether the cell's read-out
is degenerate, and the dose-response tests of its term (:func:`cell_results`), which the primary-test
table of :mod:`himnet_lib.study.claims_table` judges; the earlier one-verdict-per-cell table
(:func:`claims_cells_table`, ``claims_cells.csv``); and the Fig. 7 statistic the claims on U read.

A cell is degenerate when either side's read-out finds almost nothing: mean AVG below
:data:`DEGENERATE_AVG` percent, or, for the fixed read-out, A's median per-video range below
:data:`DEGENERATE_RANGE` (the fixed thresholds cannot separate anything; the literal reading's
attention lies in 0.05-0.08). A difference of nothing is no evidence: such a cell is a diagnostic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np

from himnet_lib.config.profiles import READINGS
from himnet_lib.datasets import load_dataset
from himnet_lib.evaluation.diagnostics import background_uncertainty
from himnet_lib.evaluation.scoring import evaluation_dataset
from himnet_lib.evaluation.snippet_metrics import snippet_memberships
from himnet_lib.study import grids, stats
from himnet_lib.study.claims import (
    METRICS,
    NO_READOUT,
    READOUT_NORMS,
    Claim,
    declared_claims,
    diagnostics_of,
)
from himnet_lib.study.grids import RunSpec
from himnet_lib.study.run_table import run_dataset
from himnet_lib.utils.run_folder import RunDir

ADJUST: Literal["holm", "bh"] = "holm"  # multiplicity adjustment across the claims table (stats.adjust: holm | bh)


LEVEL = 0.05


DEGENERATE_AVG = 1.0     # percent: a read-out whose mean AVG is below this finds almost nothing


DEGENERATE_RANGE = 0.15  # A's median per-video range below which fixed thresholds cannot separate


CELL_COLUMNS = ("claim", "metric", "reading", "readout", "benchmark", "paper_effect", "our_effect", "se", "n_seeds",
                 "paired", "df", "p", "p_adjusted", "verdict", "verdict_2se", "dose_response")


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


def _old_verdict(claim: Claim, cell, test: stats.Test) -> str:
    """The earlier rule: |effect| < 2·(unpaired SE) is noise (paired only for the NMS read-out)."""
    if claim.kind == "nms":
        se = test.se
    else:
        a = list(cell.a.values())
        b = list(cell.others.get(test.best_other or "", {}).values()) if claim.kind == "best" else list(cell.b.values())
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
    for f in grids.DOSE_FACTORS:
        row = claim.better if f == 1.0 else ("dose", grids.dose_label(claim.dose or "", f))
        vals = row_values(records, *row, column, scale)
        if vals and base:
            tests.append((f, stats.compare(vals, base)))
    return tests


def _dose_verdict(tests: Sequence[tuple[float, stats.Test]], adjusted: Sequence[float]) -> str:
    """The λ factors at which the claim holds / reverses against λ = 0 (module docstring)."""
    if not tests:
        return "-"
    verdicts = [(f, stats.test_outcome(t, p, level=LEVEL)) for (f, t), p in zip(tests, adjusted)]
    holds = [f"{f:g}" for f, v in verdicts if v == "holds"]
    rev = [f"{f:g}" for f, v in verdicts if v == "reversed"]
    parts = ([f"holds at x{', x'.join(holds)}"] if holds else []) + ([f"reversed at x{', x'.join(rev)}"] if rev else [])
    return "; ".join(parts) if parts else "at no weight tried"


@dataclass
class CellResult:
    """One claim computed in one cell (benchmark, reading, read-out) of the run records.

    ``a`` / ``b``: {seed: value} of the two sides (the better row and the row it is compared with;
    Soft-NMS and NMS of the same runs for the NMS claim); ``others``: {label: {seed: value}} of the
    rows a best-of-k claim beats; ``test``: the comparison over every seed the records hold;
    ``degenerate``: a side's read-out finds almost nothing (no test); ``dose``: the dose-response
    tests of the claim's term in this cell, or None."""

    claim: Claim
    benchmark: str
    reading: str
    readout: str
    a: dict[int, float]
    b: dict[int, float]
    others: dict[str, dict[int, float]]
    test: stats.Test
    degenerate: bool
    dose: list[tuple[float, stats.Test]] | None


def samples(claim: Claim, records, readout: str):
    """(a, b, others) of :class:`CellResult` from ``records`` (one cell's), or None when a side is missing."""
    col, scale = METRICS[claim.metric]
    column = col(readout)
    if claim.kind == "nms":
        soft = row_values(records, *claim.better, column, scale)
        hard = row_values(records, *claim.better, f"avg_0.5_nms[{readout}]", scale)
        return (soft, hard, {}) if soft and hard else None
    a = row_values(records, *claim.better, column, scale)
    if claim.kind == "best":
        others = {lab: v for lab, v in _values(records, claim.worse[0], claim.worse[1], column, scale,
                                               prefix=True).items() if lab != claim.better[1]}
        return (a, {}, others) if a and others else None
    b = row_values(records, *claim.worse, column, scale)
    if claim.kind == "placebo" and a:
        # the control side is the configuration's runs below the placebo's seeds (seeds 0..n-1), not
        # the seeds a sequential stage adds to the same row, which are the placebo's own runs
        b = {s: v for s, v in b.items() if s < min(a)}
    return (a, b, {}) if a and b else None


def compare_samples(claim: Claim, a, b, others) -> stats.Test:
    """The claim's comparison of its samples: paired over shared seeds (Welch for the placebo, whose
    two sides are different seeds), best-of-k for a best claim."""
    if claim.kind == "best":
        return stats.best_of_k_test(a, others)
    return stats.compare(a, b, pair=False if claim.kind == "placebo" else None)


def with_diagnostics(claims: Sequence[Claim]) -> list[tuple[Claim, bool]]:
    """Each claim followed by its diagnostics (:func:`himnet_lib.study.claims.diagnostics_of`), with
    whether it is a diagnostic."""
    return [(c, diag) for claim in claims for c, diag in ((claim, False),
                                                          *((d, True) for d in diagnostics_of(claim)))]


def cell_results(records: Sequence[Mapping[str, Any]], claims: Sequence[Claim] | None = None) -> list[CellResult]:
    """Every declared claim (and its diagnostics) in every cell the coverage asks for
    (:data:`himnet_lib.study.grids.CLAIM_COVERAGE`): a claim cell whose runs are missing is an error
    (:class:`KeyError` naming the claim and the rows)."""
    out: list[CellResult] = []
    benches = list(dict.fromkeys(r["benchmark"] for r in records))
    readings = [x for x in READINGS if any(r["reading"] == x for r in records if r["table"] != "table5")]
    profile = str(records[0]["profile"]) if records else ""
    for claim, _ in with_diagnostics(declared_claims() if claims is None else claims):
        for bench in benches:
            recs_b = [r for r in records if r["benchmark"] == bench]
            for reading in (["-"] if claim.reading_free else readings):
                if not claim.reading_free:
                    if not all(grids.covered(t, profile, bench, reading) for t, _ in claim.compared_rows()):
                        continue
                elif not grids.covered(claim.better[0], profile, bench, grids.default_reading(profile)):
                    continue
                recs = recs_b if claim.reading_free else [r for r in recs_b if r["reading"] == reading]
                for readout in (["-"] if claim.metric in NO_READOUT else list(READOUT_NORMS)):
                    ro = "fixed" if readout == "-" else readout
                    got = samples(claim, recs, ro)
                    if got is None:
                        raise KeyError(f"claim {claim.name!r} ({bench}, {reading}, {readout}): runs of "
                                       f"{claim.rows()[:2]} are missing from the records")
                    degenerate = _degenerate(recs, claim.compared_rows(), ro, claim.metric)
                    dose = (_dose_tests(claim, recs, ro) if claim.dose and not degenerate
                            and grids.covered("dose", profile, bench, reading) else None)
                    a, b, others = got
                    out.append(CellResult(claim, bench, reading, readout, a, b, others,
                                          compare_samples(claim, a, b, others), degenerate, dose))
    return out


def dose_verdicts(cells: Sequence[CellResult], adjust: Literal["holm", "bh"] = ADJUST) -> list[str]:
    """Each cell's dose-response verdict, the factors adjusted together across every cell (a family
    of their own): "holds at x..; reversed at x..", "at no weight tried", or "-" without dose rows."""
    flat = [(i, k) for i, c in enumerate(cells) if c.dose for k in range(len(c.dose))]
    p_dose = list(stats.adjust([cells[i].dose[k][1].p for i, k in flat], adjust)) if flat else []  # type: ignore[index]
    adjusted_of: dict[int, list[float]] = {}
    for (i, _), p in zip(flat, p_dose):
        adjusted_of.setdefault(i, []).append(float(p))
    return [_dose_verdict(c.dose, adjusted_of.get(i, [])) if c.dose else "-" for i, c in enumerate(cells)]


def claims_cells_table(records: Sequence[Mapping[str, Any]], claims: Sequence[Claim] | None = None,
                       adjust: Literal["holm", "bh"] = ADJUST):
    """The earlier claims table, one row per claim cell (``claims_cells.csv``, kept for one release
    beside the primary-test table of :mod:`himnet_lib.study.claims_table`): every cell tested against
    zero, Holm across every tested cell (the placebo keeps its own p), verdicts "holds" /
    "reversed" / "within noise" and the earlier 2-SE rule beside them (:data:`CELL_COLUMNS`)."""
    import pandas as pd
    cells = cell_results(records, claims)
    rows: list[dict[str, Any]] = []
    for c in cells:
        t = c.test
        rows.append({"claim": c.claim.name, "metric": c.claim.metric, "reading": c.reading, "readout": c.readout,
                     "benchmark": c.benchmark, "paper_effect": c.claim.paper_effect, "our_effect": t.effect,
                     "se": t.se, "n_seeds": t.n, "paired": bool(t.paired), "df": t.df, "p": t.p,
                     "p_adjusted": float("nan"), "verdict": "n/a (read-out degenerate)" if c.degenerate else "",
                     "verdict_2se": _old_verdict(c.claim, c, t), "dose_response": "-"})
    family = [i for i, c in enumerate(cells) if not c.degenerate and c.test.n >= 2 and c.claim.kind != "placebo"
              and math.isfinite(c.test.p)]
    adjusted = list(stats.adjust([rows[i]["p"] for i in family], adjust)) if family else []
    for i, p in zip(family, adjusted):
        rows[i]["p_adjusted"] = float(p)
    for row, c in zip(rows, cells):
        if row["verdict"]:
            continue
        if not math.isfinite(row["p_adjusted"]):  # the placebo, or fewer than two seeds: its own p
            row["p_adjusted"] = row["p"]
        row["verdict"] = stats.test_outcome(c.test, row["p_adjusted"], level=LEVEL)
    for row, verdict in zip(rows, dose_verdicts(cells, adjust)):
        row["dose_response"] = verdict
    return pd.DataFrame(rows, columns=list(CELL_COLUMNS))


def background_u(roots: Mapping[str, str | Path], runs_dir: str | Path) -> Callable[[RunSpec], float]:
    """The Fig. 7 statistic for :func:`run_records`: mean U(B_BG‖1-A) (α and KL of the run's own
    loss settings) over the ground-truth background snippets of the evaluated videos.
    ``roots``: benchmark -> dataset root of draw 0 (as :func:`himnet_lib.engine.executor.run_study_specs`
    returns); a run on another draw reads the dataset it recorded."""
    cache: dict[tuple[str, int, float, int, float], Any] = {}

    def stat(spec: RunSpec) -> float:
        cfg = spec.config()
        key = (spec.benchmark, spec.draw, cfg.train.val_fraction, cfg.train.val_seed, cfg.snippet_seconds)
        if key not in cache:
            if spec.draw == 0 and spec.benchmark in roots:
                full = load_dataset(roots[spec.benchmark], snippet_seconds=cfg.snippet_seconds)
            else:  # a per-seed draw: the dataset the run recorded
                full = run_dataset(spec, runs_dir)
            ds = evaluation_dataset(full, cfg)
            videos = ds.test_videos()
            members = snippet_memberships(ds, videos)
            cache[key] = (videos, members)
        videos, members = cache[key]
        u = background_uncertainty(RunDir(Path(runs_dir) / spec.run_id).outputs(), videos, members,
                                   alpha=cfg.loss.alpha, kl=cfg.loss.scl_kl)
        return float(u.mean()) if u.size else float("nan")

    return stat
