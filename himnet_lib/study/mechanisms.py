"""The mechanism sweep: positive controls that plant the structure each loss term (and Soft-NMS)
exploits, and the paired effect of the term at each strength of that structure (notebook 12).

For each term of :data:`MECHANISMS`: a knob of the synthetic generator (one or more
:class:`~himnet_lib.datasets.synthetic.presets.SyntheticConfig` fields; a level is a set of
changes to the profile's main benchmark, trained on as the variant
``"<preset>+<field>=<value>"``), its levels per profile (:data:`LEVELS`: at least 4 for ``study``,
two for ``demo`` and ``smoke``), the Table 3 rows compared (the row that adds the term against the
row before it, :func:`himnet_lib.study.grids.added_terms`; Soft-NMS: the row of the Soft-NMS claim,
the full model, scored with Soft-NMS against NMS, the same runs) and its structure measure
(:data:`MEASURES`), computed from the data or from the level's MIL-only runs. Effects are in points
of AVG mAP under ``readout`` (default ``minmax``), paired over the seeds both sides share; the
level's CI is a paired t interval (``ci``); the trend over the structure measure is
:func:`seed_slope_trend` (``trend``). Both are parameters, so the claims table's read-out and
interval functions can replace them.

Torch-free. The table, the benchmarks' positions, the findings' sentences and the diagnosis are
:mod:`himnet_lib.study.mechanism_map`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import stats as sps

from himnet_lib.config.profiles import get_profile
from himnet_lib.config.run import RunConfig
from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.synthetic.variants import variant_name
from himnet_lib.evaluation import structure
from himnet_lib.evaluation.scoring import evaluation_dataset
from himnet_lib.study import claims, grids, stats
from himnet_lib.study.grids import RunSpec
from himnet_lib.study.workspace import spec_data
from himnet_lib.utils.run_folder import RunDir

__all__ = ["Mechanism", "MECHANISMS", "MEASURES", "LEVELS", "MIL_ROW", "SOFT_NMS", "mechanism", "levels",
           "level_benchmark", "mechanism_specs", "dataset_measures", "run_measures", "structure_records",
           "Interval", "paired_interval", "Trend", "seed_slope_trend"]

SOFT_NMS = "softnms"
MIL_ROW = grids.CORE_ROWS[0]  # the MIL-only row: the model-based structure measures read its runs


@dataclass(frozen=True)
class Mechanism:
    """One positive control. ``term``: a loss term of Table 3's core rows, or :data:`SOFT_NMS`;
    ``measure``: its structure measure (a key of :data:`MEASURES`); ``what``: the structure planted."""

    term: str
    name: str
    measure: str
    what: str

    @property
    def rows(self) -> tuple[str, str]:
        """(the row with the term, the row without it); Soft-NMS: the full model twice (its runs are
        scored with Soft-NMS and with NMS)."""
        if self.term == SOFT_NMS:
            return soft_nms_row(), soft_nms_row()
        return grids.added_terms()[self.term]

    @property
    def compared(self) -> str:
        with_, without = self.rows
        return f"Soft-NMS vs NMS on {with_}" if self.term == SOFT_NMS else f"{with_} vs {without}"


def soft_nms_row() -> str:
    """The Table 3 row whose runs the Soft-NMS claim scores both ways (the claim's own declaration)."""
    return next(c.better[1] for c in claims.declared_claims() if c.kind == "nms")


# structure measure -> (description, source): "data" is computed from the dataset, "model" from a
# MIL-only model's outputs on the evaluated videos (:func:`run_measures`)
MEASURES: dict[str, tuple[str, str]] = {
    "off_label_share": ("MIL-only off-label argmax share (snippets)", "model"),
    "style_gap": ("same-class cosine within minus across videos (training instances)", "data"),
    "ambiguous_train_share": ("share of training snippets in annotated ambiguous regions", "data"),
    "overlap_share": ("share of test instances overlapping or touching a same-class one", "data"),
    "boundary_entropy": ("MIL-only B_BG entropy at GT fg/bg boundaries (bits)", "model"),
    "label_noise_share": ("share of training videos whose labels differ from their segments", "data"),
}

MECHANISMS: tuple[Mechanism, ...] = (
    Mechanism("cll", "CLL", "off_label_share",
              "confusable off-label evidence: hard negatives and class families (family_similarity)"),
    Mechanism("vcl", "VCL", "style_gap", "cross-video intra-class variation (class_style)"),
    Mechanism("scl", "SCL", "ambiguous_train_share", "ambiguous, uncertain training snippets (train_ambiguous_rate)"),
    Mechanism(SOFT_NMS, "Soft-NMS", "overlap_share",
              "overlapping / touching same-class instances (gap_concentration, overlap_instance_prob)"),
)

Level = tuple[tuple[str, Any], ...]  # generator changes of one level; () is the main benchmark itself


def _fam(size: int, sim: float) -> Level:
    return (("family_similarity", sim), ("family_size", size))


# Levels per profile, each from "no structure" to clearly more than demo-b has where the generator
# allows it (docs/synthetic_benchmark.md, "Mechanism knobs"). demo and smoke: the two ends only, so
# that `make demo` stays within its hour; study: >= 4 levels. A level () is the preset itself, whose
# runs are Table 3's.
LEVELS: dict[str, dict[str, tuple[Level, ...]]] = {
    "cll": {"study": ((("hard_negative_frac", 0.0),), (), _fam(4, 0.6), _fam(4, 0.85), _fam(4, 0.95)),
            "demo": ((("hard_negative_frac", 0.0),), _fam(4, 0.95)),
            "smoke": ((("hard_negative_frac", 0.0),), _fam(3, 0.95))},
    "vcl": {"study": ((), (("class_style", 0.25),), (("class_style", 0.5),), (("class_style", 0.75),),
                      (("class_style", 0.9),)),
            "demo": ((), (("class_style", 0.9),)),
            "smoke": ((), (("class_style", 0.9),))},
    "scl": {"study": ((), (("train_ambiguous_rate", 1.0),), (("train_ambiguous_rate", 2.0),),
                      (("train_ambiguous_rate", 4.0),), (("train_ambiguous_rate", 8.0),)),
            "demo": ((), (("train_ambiguous_rate", 8.0),)),
            "smoke": ((), (("train_ambiguous_rate", 8.0),))},
    SOFT_NMS: {"study": ((("gap_concentration", 3.0),), (), (("overlap_instance_prob", 0.15),),
                         (("overlap_instance_prob", 0.3),), (("overlap_instance_prob", 0.6),)),
               "demo": ((("gap_concentration", 3.0),), (("overlap_instance_prob", 0.6),)),
               "smoke": ((("gap_concentration", 10.0),), (("overlap_instance_prob", 0.6),))},
}
# profiles whose sweep also trains the MIL-only row at every level, so that every variant is placed
# on CLL's (model-based) axis too; elsewhere only CLL's own levels and the benchmarks have it
MIL_AT_EVERY_LEVEL = ("study",)


def mechanism(term: str) -> Mechanism:
    for m in MECHANISMS:
        if m.term == term:
            return m
    raise KeyError(f"no mechanism {term!r}; known: {', '.join(m.term for m in MECHANISMS)}")


def levels(term: str, profile: str) -> tuple[Level, ...]:
    """The levels of ``term``'s knob under ``profile`` (none for a profile without synthetic benchmarks
    or without declared levels)."""
    if not get_profile(profile).synthetic:
        return ()
    return LEVELS[term].get(profile, ())


def level_benchmark(profile: str, level: Level) -> str:
    """The benchmark a level trains on: the profile's main benchmark with the level's changes."""
    return variant_name(grids.main_benchmark(profile), dict(level))


def mechanism_specs(profile: str, seeds: int) -> list[RunSpec]:
    """Every run of the sweep: at each level of each term, its two compared rows (one for Soft-NMS),
    ``seeds`` seeds, under the profile's reading; the MIL-only row on each of the profile's
    benchmarks (their positions on CLL's axis) and, for :data:`MIL_AT_EVERY_LEVEL`, at every level.
    Table 3's runs are shared (a level () is the main benchmark; same overrides, same run ids)."""
    terms = dict(grids.TABLE3_ROWS)
    specs: list[RunSpec] = []

    def add(row: str, bench: str) -> None:
        specs.extend(RunSpec("mechanisms", row, s, (("loss.terms", terms[row]),), profile, bench)
                     for s in range(seeds))

    for m in MECHANISMS:
        for level in levels(m.term, profile):
            bench = level_benchmark(profile, level)
            for row in dict.fromkeys(m.rows):
                add(row, bench)
            if profile in MIL_AT_EVERY_LEVEL:
                add(MIL_ROW, bench)
    if any(levels(m.term, profile) for m in MECHANISMS):
        for bench in grids.benchmarks(profile):
            add(MIL_ROW, bench)
    return grids.unique_specs(specs)


# --- structure measures -----------------------------------------------------------------------

def dataset_measures(ds) -> dict[str, float]:
    """The data-only structure measures of a loaded dataset (:data:`MEASURES` with source "data"),
    plus ``style_within`` / ``style_cross`` and ``ambiguous_train_videos`` (training videos with any
    annotated ambiguous region: 0 means "none planted" for a synthetic benchmark but may mean "not
    annotated" for real data)."""
    train, test = ds.train_videos(), ds.test_videos()
    style = structure.class_style_similarity(train, ds.snippet_seconds)
    noisy = [set(np.flatnonzero(v.labels > 0).tolist()) != set(np.unique(v.segment_classes).tolist())
             for v in train]
    return {"style_gap": style["gap"], "style_within": style["within"], "style_cross": style["cross"],
            "ambiguous_train_share": structure.ambiguous_share(train, ds.ambiguous, ds.snippet_seconds),
            "ambiguous_train_videos": float(sum(len(ds.ambiguous.get(v.name, ())) > 0 for v in train)),
            "overlap_share": structure.instance_overlap_share(test),
            "label_noise_share": float(np.mean(noisy)) if noisy else float("nan")}


def run_measures(run_dir: str | Path, ds, metrics: Mapping[str, Any] | None = None) -> dict[str, float]:
    """The model-based structure measures of a finished MIL-only run on ``ds`` (the dataset it was
    scored on): its off-label argmax share (``metrics.json``) and the B_BG boundary entropy of its
    saved outputs on the evaluated videos."""
    run = RunDir(run_dir)
    m = dict(metrics) if metrics is not None else run.metrics()
    cfg_ds = evaluation_dataset(ds, RunConfig.from_dict(run.params()["config"]))
    share = m.get("off_label_argmax_share")
    return {"off_label_share": float("nan") if share is None else float(share),
            "boundary_entropy": structure.boundary_entropy(run.outputs(), cfg_ds.test_videos(), ds.snippet_seconds,
                                                           ds.num_classes)}


def structure_records(specs: Sequence[RunSpec], runs_dir: str | Path, profile: str, results: Path,
                      data_root: str | Path | None = None,
                      roots: Mapping[str, str | Path] | None = None) -> list[dict[str, Any]]:
    """The structure measures behind a sweep: one record per (benchmark, draw) of ``specs`` with the
    data measures (``seed`` None), and one per MIL-only run of ``specs`` with its model measures
    (``seed`` its seed). Datasets are loaded one at a time (grouped by root)."""
    by_root: dict[Path, list[RunSpec]] = {}
    for s in specs:
        by_root.setdefault(spec_data(s, data_root, results, roots), []).append(s)
    out: list[dict[str, Any]] = []
    for root, group in by_root.items():
        ds = load_dataset(root, snippet_seconds=group[0].config().snippet_seconds)
        first = group[0]
        out.append({"benchmark": first.benchmark, "draw": first.draw, "seed": None, **dataset_measures(ds)})
        for s in grids.unique_runs(x for x in group if x.label == MIL_ROW):
            out.append({"benchmark": s.benchmark, "draw": s.draw, "seed": s.seed,
                        **run_measures(Path(runs_dir) / s.run_id, ds)})
    return out


# --- statistics (parameters of the table: the claims table's functions can replace them) -------

@dataclass(frozen=True)
class Interval:
    """An effect with its two-sided confidence interval and the seeds it rests on."""

    effect: float
    lo: float
    hi: float
    n: int


def paired_interval(a: Mapping[int, float], b: Mapping[int, float], level: float = 0.95) -> Interval:
    """``a - b`` over the shared seeds: mean difference ± the Student t quantile (df = n - 1) times
    its standard error (:func:`himnet_lib.study.stats.paired_test`); NaN bounds with n < 2."""
    t = stats.paired_test(a, b)
    if t.n < 2 or not math.isfinite(t.se):
        return Interval(t.effect, math.nan, math.nan, t.n)
    half = float(sps.t.ppf(0.5 + level / 2, t.df)) * t.se
    return Interval(t.effect, t.effect - half, t.effect + half, t.n)


@dataclass(frozen=True)
class Trend:
    """The effect's slope over the structure measure: ``slope`` (effect units per measure unit) with
    its CI over ``n`` seeds, Kendall's tau of the level means (structure vs effect) and its p."""

    slope: float
    lo: float
    hi: float
    n: int
    tau: float
    tau_p: float


def seed_slope_trend(points: Sequence[Mapping[str, Any]], level: float = 0.95) -> Trend:
    """Two-stage trend test over ``points`` (``level``, ``seed``, ``structure``, ``effect``): per seed
    the least-squares slope of its effects on its levels' structure (``scipy.stats.linregress``; a
    seed needs two levels with distinct structure), then the mean slope with a one-sample t interval
    over seeds (``scipy.stats.ttest_1samp``): the seed is the unit of replication, as in the paired
    effects. ``tau``: Kendall's tau (``scipy.stats.kendalltau``) between the levels' mean structure
    and mean effect, a rank check that needs no linearity."""
    slopes = []
    for seed in sorted({p["seed"] for p in points}):
        mine = [p for p in points if p["seed"] == seed and math.isfinite(p["structure"]) and math.isfinite(p["effect"])]
        xs = np.array([p["structure"] for p in mine])
        if len(mine) >= 2 and np.ptp(xs) > 0:
            slopes.append(float(sps.linregress(xs, [p["effect"] for p in mine]).slope))
    nan = math.nan
    if not slopes:
        slope, lo, hi = nan, nan, nan
    elif len(slopes) < 2:
        slope, lo, hi = slopes[0], nan, nan
    else:
        res = sps.ttest_1samp(slopes, 0.0)
        ci = res.confidence_interval(level)
        slope, lo, hi = float(np.mean(slopes)), float(ci.low), float(ci.high)
    means: dict[Any, list[tuple[float, float]]] = {}
    for p in points:
        if math.isfinite(p["structure"]) and math.isfinite(p["effect"]):
            means.setdefault(p["level"], []).append((p["structure"], p["effect"]))
    mx = [float(np.mean([a for a, _ in v])) for v in means.values()]
    my = [float(np.mean([b for _, b in v])) for v in means.values()]
    tau, tau_p = (nan, nan)
    if len(mx) >= 2 and np.ptp(mx) > 0 and np.ptp(my) > 0:
        r = sps.kendalltau(mx, my)
        tau, tau_p = float(r.statistic), float(r.pvalue)
    return Trend(slope, lo, hi, len(slopes), tau, tau_p)


Ci = Callable[[Mapping[int, float], Mapping[int, float]], Interval]
TrendTest = Callable[[Sequence[Mapping[str, Any]]], Trend]
