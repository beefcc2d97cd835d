"""The paper's claims, declared once, each with its one pre-registered primary test.

A :class:`Claim` says which study row should beat which on which metric, what the paper claims
(``paper_effect``, in the claim metric's points), how the claim is tested (``test``: superiority,
non-inferiority with a declared ``margin``, a sign test where the paper gives no number, or the
selection-aware best-of-k test) and in which cell it is primary (``primary``: reading, read-out,
benchmark; ``why``: the one-line reason, written before the runs). Every other cell the claim is
computed in is a secondary (robustness) cell; a cell degenerate by construction is a diagnostic
with no verdict; the fg/bg/balanced splits of CLL's ACC claim are diagnostics too
(:func:`diagnostics_of`). The table is :mod:`himnet_lib.study.claims_table`.

Metrics: ``avg`` (AVG mAP over tIoU 0.1:0.7), ``avg_0.5`` (0.1:0.5), ``acc`` and its splits
(snippet accuracies), ``u_bg`` (U on ground-truth background); mAP and accuracies in percent.
Read-outs: ``fixed`` (A thresholded as it is, the peers' inference) and ``minmax`` (A rescaled per
video before the same thresholds), both with Soft-NMS; metrics without localization have read-out
``-``. Readings: ``literal`` / ``lineage`` (:data:`himnet_lib.config.profiles.READINGS`); the
baselines of Table 5 train their own objective, so their cells have reading ``-``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from himnet_lib.config.profiles import READINGS
from himnet_lib.config.terms import spec
from himnet_lib.evaluation.scoring import READOUT_NAMES
from himnet_lib.study import grids, paper_numbers
from himnet_lib.study.grids import RunSpec

__all__ = ["READOUT_NORMS", "METRICS", "NO_READOUT", "TESTS", "Cell", "Claim", "PRIMARY", "WHY",
           "NONINFERIORITY_MARGIN", "added_term_claims", "declared_claims", "diagnostics_of", "claims_specs",
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
TESTS = ("superiority", "non-inferiority", "sign", "best-of-k")
# the paper's Table 3 column of a claim metric (AVG, ACC); the ACC splits are not in the paper
_PAPER_COLUMN = {"avg": 0, "acc": 2}
_METRIC_NAMES = {"avg": "AVG", "acc": "ACC"}
ACC_SPLIT_CLAIMS = (("fg", "acc_fg"), ("bg", "acc_bg"), ("balanced", "acc_balanced"))

# Claims "X >= Y": X may lose at most this many AVG points. It is the gain the paper attributes to
# L_SCL itself in Table 4 (45.1 with it, 44.4 without): an uncertainty variant that loses more than
# that undoes what SCL adds.
NONINFERIORITY_MARGIN = 0.7


@dataclass(frozen=True)
class Cell:
    """Where a claim is tested: a reading ("profile": the profile's own; "-" for the baselines), a
    read-out ("-" for metrics without localization) and a benchmark ("main": the profile's main one)."""

    reading: str
    readout: str
    benchmark: str = "main"


# The primary cell, the same rule for every claim, declared before the runs:
PRIMARY = Cell("profile", "minmax")
WHY = ("the profile's reading (lineage for demo and study: the authors' code lineage, CO2-Net, chosen over "
       "literal on validation); min-max: the read-out chosen on validation (the paper's thresholds on A "
       "rescaled per video); the main benchmark")


@dataclass(frozen=True)
class Claim:
    """One claim: ``better`` should beat ``worse`` on ``metric`` (a key of :data:`METRICS`).

    ``better`` / ``worse`` are (table, label) rows of :mod:`himnet_lib.study.grids`'s grids.
    kind: "diff" (two rows), "best" (``better`` against every row of ``worse``, a (table,
    label-prefix) pair), "nms" (Soft-NMS vs NMS on the same runs of ``better``) or "placebo" (two
    sets of runs of one configuration, a control: any decisive verdict is a false positive).
    ``dose``: the loss term whose λ the claim is about (its dose-response rows are read too).
    ``test``: one of :data:`TESTS`; ``margin``: the non-inferiority margin. ``primary`` / ``why``:
    the primary cell and the reason it is the cell closest to the paper.
    """

    name: str
    metric: str
    kind: str
    better: tuple[str, str]
    worse: tuple[str, str]
    paper_effect: float
    reading_free: bool = False
    dose: str | None = None
    test: str = "superiority"
    margin: float | None = None
    primary: Cell = PRIMARY
    why: str = WHY

    def __post_init__(self) -> None:
        if self.test not in TESTS:
            raise ValueError(f"claim {self.name!r}: test must be one of {TESTS}")
        if (self.test == "non-inferiority") != (self.margin is not None):
            raise ValueError(f"claim {self.name!r}: a non-inferiority test needs a margin, and only it")
        if self.test == "best-of-k" and self.kind != "best":
            raise ValueError(f"claim {self.name!r}: the best-of-k test is for kind 'best'")
        # the primary cell as the claim's shape has it
        reading = "-" if self.reading_free else self.primary.reading
        readout = "-" if self.metric in NO_READOUT else self.primary.readout
        object.__setattr__(self, "primary", Cell(reading, readout, self.primary.benchmark))

    def rows(self) -> list[tuple[str, str]]:
        """Every (table, label) whose runs the claim reads."""
        rows = [self.better] if self.kind == "nms" else [self.better, self.worse]
        if self.dose:
            rows += [("dose", grids.dose_label(self.dose, f)) for f in grids.DOSE_FACTORS if f != 1.0]
        return rows

    def compared_rows(self) -> list[tuple[str, str]]:
        """The (table, label) rows its test compares (without the dose-response rows)."""
        return [self.better] if self.kind == "nms" else [self.better, self.worse]


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
    ``claim_metrics``, with its dose-response when it has a weight. A new term in Table 3's core rows
    is claimed without an edit here."""
    out: list[Claim] = []
    for term, (row, before) in (grids.added_terms() if added is None else added).items():
        name, pair = term.upper(), f"({row} vs {before})"
        dose = term if grids.weight_fields([term]) else None
        for metric in spec(term).claim_metrics:
            paper = _paper_diff(row, before, _PAPER_COLUMN[metric]) if metric in _PAPER_COLUMN else _NAN
            out.append(Claim(f"{name} improves {_METRIC_NAMES.get(metric, metric)} {pair}", metric, "diff",
                             _t3(row), _t3(before), paper, dose=dose))
    return tuple(out)


def diagnostics_of(claim: Claim) -> tuple[Claim, ...]:
    """The diagnostics computed beside a claim, outside every family and without a verdict: an
    ACC claim's fg, bg and balanced splits (where CLL's ACC gain comes from)."""
    if claim.metric != "acc":
        return ()
    term, pair = claim.name.split(" improves ")[0], claim.name.split(" ACC ")[-1]
    return tuple(Claim(f"{term} improves {split} ACC {pair}", m, "diff", claim.better, claim.worse, _NAN,
                       dose=claim.dose, test="sign") for split, m in ACC_SPLIT_CLAIMS)


def declared_claims() -> tuple[Claim, ...]:
    """Every claim of the paper that the study tests, and the placebo control, in the table's order."""
    p1, p4, p5 = paper_numbers.TABLE1_2, paper_numbers.TABLE4, paper_numbers.TABLE5
    scl_row, scl_before = grids.added_terms()["scl"]
    margin = NONINFERIORITY_MARGIN
    return (
        *added_term_claims(),
        Claim("SCL beats L_guide (Table 4)", "avg", "diff", ("table4", "L_SCL"), ("table4", "L_guide"),
              p4["L_SCL"][4] - p4["L_guide"][4]),
        Claim("SCL beats L_ml (Table 4)", "avg", "diff", ("table4", "L_SCL"), ("table4", "L_ml"),
              p4["L_SCL"][4] - p4["L_ml"][4]),
        Claim("U(p||q) >= U(q||p) (Table 4)", "avg", "diff", ("table4", "L_SCL"), ("table4", "L_SCL with U(q||p)"),
              p4["L_SCL"][4] - p4["L_SCL with U(q||p)"][4], test="non-inferiority", margin=margin),
        Claim("U(q||p) >= w/o U (Table 4)", "avg", "diff", ("table4", "L_SCL with U(q||p)"),
              ("table4", "L_SCL w/o U(p||q)"), p4["L_SCL with U(q||p)"][4] - p4["L_SCL w/o U(p||q)"][4],
              test="non-inferiority", margin=margin),
        Claim("alpha = 4 is best (Fig. 6)", "avg", "best", ("alpha", "alpha=4"), ("alpha", "alpha="), _NAN,
              test="best-of-k"),
        Claim("SCL raises U on GT background (Fig. 7)", "u_bg", "diff", _t3(scl_row), _t3(scl_before), _NAN,
              dose="scl", test="sign"),
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
              ("placebo", grids.PLACEBO_ROW), _t3(grids.PLACEBO_ROW), 0.0, test="sign"),
    )


def claims_specs(profile: str, seeds_table3: int, seeds_other: int,
                 claims: Sequence[Claim] | None = None) -> list[RunSpec]:
    """Every run the claims table reads at the pilot's seeds: each claim's :meth:`Claim.rows`
    (default: every declared claim) where :data:`himnet_lib.study.grids.CLAIM_COVERAGE` says, Table 3
    and the placebo with ``seeds_table3`` seeds, the rest with ``seeds_other``. The seeds the
    sequential design adds to the primaries are :func:`himnet_lib.study.claims_stages.stage_specs`."""
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
