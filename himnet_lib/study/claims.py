"""The paper's claims tested one by one, under each reading, read-out and benchmark.

One row per (claim, reading, read-out, benchmark), columns :data:`CLAIM_COLUMNS`:

* ``our_effect``: the expected-better row minus the row it is compared with, in points of the
  claim's metric (mAP and accuracies in percent; U unitless). Over the seeds both rows share it is
  the mean of the per-seed differences (``paired`` = True: runs of two rows with one seed share
  their initial weights, batches and dropout masks, tests/test_claims.py checks it); otherwise the
  difference of the means (Welch). ``se``, ``df``: its standard error and degrees of freedom.
* ``p``: two-sided p of the t test (:mod:`himnet_lib.study.stats`); ``p_adjusted``: Holm's adjustment
  across every tested row of the table (:data:`ADJUST`; the placebo rows are left out of the
  family and keep their own p); ``verdict``: ``holds`` / ``reversed`` when ``p_adjusted`` < 0.05
  by the effect's sign, else ``within noise``; ``n/a`` with fewer than two seeds;
  ``n/a (read-out degenerate)`` when either side's read-out finds almost nothing (mean AVG < 1, or
  for the fixed read-out A's median per-video range < 0.15): a difference of nothing is no
  evidence. ``verdict_2se`` is the previous rule (|effect| < 2 unpaired standard errors), kept
  side by side for one release.
* "α = 4 is best" is a best-of-k test: α = 4 against each other α, "holds" only if it beats every
  one (intersection-union), "reversed" if any beats it (Bonferroni over k)
  (:func:`himnet_lib.study.stats.best_of_k_test`).
* ``dose_response``: for a claim about one loss term, the factors of its λ (the dose-response of
  notebook 11, under the profile's reading) at which the claim holds and at which it reverses
  (each factor against λ = 0, paired; Holm across every factor of every claim row, a family apart
  from the claims' own), or "at no weight tried".
* read-outs: ``fixed`` = the attention thresholded as it is (the peers' inference), ``minmax`` =
  per-video min-max rescaled before the fixed thresholds (``localize.attention_norm``), both with
  Soft-NMS; metrics without localization (accuracies, U) have read-out ``-``.
* readings: ``literal`` / ``lineage`` (:data:`himnet_lib.config.profiles.READINGS`); the baselines of
  Table 5 train their own objective, so their rows have reading ``-``.

Everything is computed from the run records (:func:`run_records`, saved as ``runs.csv``): the
claims table can be rebuilt from ``runs.csv`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from himnet_lib.config.profiles import READINGS
from himnet_lib.config.terms import spec
from himnet_lib.evaluation.scoring import READOUT_NAMES
from himnet_lib.study import grids, paper_numbers
from himnet_lib.study.grids import RunSpec

__all__ = ["READOUT_NORMS", "METRICS", "NO_READOUT", "Claim", "added_term_claims", "declared_claims", "claims_specs",
           "u_rows"]

# claims-table read-out name -> localize.attention_norm (scored with Soft-NMS; NMS for the NMS claim)
READOUT_NORMS: dict[str, str] = {name: norm for norm, name in READOUT_NAMES.items()}

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
# the paper's Table 3 column of a claim metric (AVG, ACC); the ACC splits are not in the paper
_PAPER_COLUMN = {"avg": 0, "acc": 2}
_METRIC_NAMES = {"avg": "AVG", "acc": "ACC"}
ACC_SPLIT_CLAIMS = (("fg", "acc_fg"), ("bg", "acc_bg"), ("balanced", "acc_balanced"))


@dataclass(frozen=True)
class Claim:
    """One claim: ``better`` should beat ``worse`` on ``metric`` (a key of :data:`METRICS`).

    ``better`` / ``worse`` are (table, label) rows of :mod:`himnet_lib.study.grids`'s grids.
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
            rows += [("dose", grids.dose_label(self.dose, f)) for f in grids.DOSE_FACTORS if f != 1.0]
        return rows


def _t3(exp: str) -> tuple[str, str]:
    return ("table3", exp)


_NAN = float("nan")


def _paper_diff(row: str, before: str, column: int) -> float:
    """The paper's Table 3 difference row - before in ``column`` (NaN for a row the paper lacks)."""
    p3 = paper_numbers.TABLE3
    if row in p3 and before in p3:
        return p3[row][column] - p3[before][column]
    return _NAN


def added_term_claims(added: Mapping[str, tuple[str, str]] | None = None) -> tuple[Claim, ...]:
    """For each term that a core row of Table 3 adds (``added``, default
    :func:`himnet_lib.study.grids.added_terms`): "<TERM> improves <metric>" for each of its spec's
    ``claim_metrics``, with its dose-response when it has a weight; an ACC claim also gets ACC's
    fg, bg and balanced splits. A new term in Table 3's core rows is claimed without an edit here."""
    out: list[Claim] = []
    for term, (row, before) in (grids.added_terms() if added is None else added).items():
        name, pair = term.upper(), f"({row} vs {before})"
        dose = term if grids.weight_fields([term]) else None
        for metric in spec(term).claim_metrics:
            paper = _paper_diff(row, before, _PAPER_COLUMN[metric]) if metric in _PAPER_COLUMN else _NAN
            out.append(Claim(f"{name} improves {_METRIC_NAMES.get(metric, metric)} {pair}", metric, "diff",
                             _t3(row), _t3(before), paper, dose=dose))
            if metric == "acc":
                out += [Claim(f"{name} improves {split} ACC {pair}", m, "diff", _t3(row), _t3(before), _NAN,
                              dose=dose) for split, m in ACC_SPLIT_CLAIMS]
    return tuple(out)


def declared_claims() -> tuple[Claim, ...]:
    """Every claim of the paper that the study tests, in the claims table's order."""
    p1, p4, p5 = paper_numbers.TABLE1_2, paper_numbers.TABLE4, paper_numbers.TABLE5
    scl_row, scl_before = grids.added_terms()["scl"]
    return (
        *added_term_claims(),
        Claim("SCL beats L_guide (Table 4)", "avg", "diff", ("table4", "L_SCL"), ("table4", "L_guide"),
              p4["L_SCL"][4] - p4["L_guide"][4]),
        Claim("SCL beats L_ml (Table 4)", "avg", "diff", ("table4", "L_SCL"), ("table4", "L_ml"),
              p4["L_SCL"][4] - p4["L_ml"][4]),
        Claim("U(p||q) >= U(q||p) (Table 4)", "avg", "diff", ("table4", "L_SCL"), ("table4", "L_SCL with U(q||p)"),
              p4["L_SCL"][4] - p4["L_SCL with U(q||p)"][4]),
        Claim("U(q||p) >= w/o U (Table 4)", "avg", "diff", ("table4", "L_SCL with U(q||p)"),
              ("table4", "L_SCL w/o U(p||q)"), p4["L_SCL with U(q||p)"][4] - p4["L_SCL w/o U(p||q)"][4]),
        Claim("alpha = 4 is best (Fig. 6)", "avg", "best", ("alpha", "alpha=4"), ("alpha", "alpha="), _NAN),
        Claim("SCL raises U on GT background (Fig. 7)", "u_bg", "diff", _t3(scl_row), _t3(scl_before), _NAN,
              dose="scl"),
        Claim("Soft-NMS beats NMS (Table 1, AVG 0.1:0.5)", "avg_0.5", "nms", _t3("Exp 4"), _t3("Exp 4"),
              p1[("Table 1", "THUMOS14", "Soft-NMS")]["AVG"] - p1[("Table 1", "THUMOS14", "NMS")]["AVG"]),
        Claim("CLL helps BaS-Net (Table 5)", "avg", "diff", ("table5", "BaS-Net + L_CLL"), ("table5", "BaS-Net"),
              float(p5[("BaS-Net", "+ L_CLL")][5] or 0.0), reading_free=True),
        Claim("CLL + SCL help BaS-Net (Table 5)", "avg", "diff", ("table5", "BaS-Net + L_CLL + L_SCL"),
              ("table5", "BaS-Net"), float(p5[("BaS-Net", "+ L_CLL + L_SCL")][5] or 0.0), reading_free=True),
        Claim("SCL helps BaS-Net + CLL (Table 5)", "avg", "diff", ("table5", "BaS-Net + L_CLL + L_SCL"),
              ("table5", "BaS-Net + L_CLL"), p5[("BaS-Net", "+ L_CLL + L_SCL")][4] - p5[("BaS-Net", "+ L_CLL")][4],
              reading_free=True),
        Claim("CLL helps HAM-Net (Table 5)", "avg", "diff", ("table5", "HAM-Net + L_CLL"), ("table5", "HAM-Net"),
              float(p5[("HAM-Net", "+ L_CLL")][5] or 0.0), reading_free=True),
        Claim("SCL helps HAM-Net (Table 5)", "avg", "diff", ("table5", "HAM-Net + L_SCL"), ("table5", "HAM-Net"),
              float(p5[("HAM-Net", "+ L_SCL")][5] or 0.0), reading_free=True),
        Claim("placebo: Exp 4 on seeds n..2n-1 vs 0..n-1 (expect noise)", "avg", "placebo",
              ("placebo", grids.PLACEBO_ROW), _t3(grids.PLACEBO_ROW), 0.0),
    )


def claims_specs(profile: str, seeds_table3: int, seeds_other: int,
                 claims: Sequence[Claim] | None = None) -> list[RunSpec]:
    """Every run the claims table reads: each claim's :meth:`Claim.rows` (default: every declared
    claim) where :data:`himnet_lib.study.grids.CLAIM_COVERAGE` says, Table 3 and the placebo with
    ``seeds_table3`` seeds, the rest with ``seeds_other``."""
    specs: list[RunSpec] = []
    for bench in grids.benchmarks(profile):
        for reading in READINGS:
            for claim in (declared_claims() if claims is None else claims):
                for table, label in claim.rows():
                    if not grids.covered(table, profile, bench, reading):
                        continue
                    if table == "table5" and reading != grids.default_reading(profile):
                        continue  # reading-free: trained once
                    n = seeds_table3 if table in ("table3", "placebo") else seeds_other
                    specs += grids.row_specs(table, label, profile, n, reading, bench)
    return grids.unique_specs(specs)


def u_rows(claims: Sequence[Claim] | None = None) -> set[tuple[str, str]]:
    """The (table, label) rows whose runs need the Fig. 7 statistic: those of the claims on U."""
    return {row for c in (declared_claims() if claims is None else claims) if c.metric == "u_bg" for row in c.rows()}
