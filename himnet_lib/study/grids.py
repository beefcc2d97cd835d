"""The study's grids: which runs make each table and figure of the paper.

Every row is a configuration (overrides of a profile), never a code edit. A run shared by several
tables (e.g. the full HiM-Net is Table 3's Exp 4, Table 4's L_SCL row, the alpha = 4 point of Fig. 6
and Table 1's HiM-Net) has the same resolved settings and therefore the same ``run_id``: it is
trained once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from himnet_lib.config.profiles import READINGS, build_config, get_profile, profile_reading
from himnet_lib.config.run import RunConfig
from himnet_lib.config.terms import spec, weight_field
from himnet_lib.datasets.synthetic.variants import canonical_benchmark, variant_base

FULL = ("mil", "cll", "vcl", "scl")

# Table 3 (paper order). Exp 5-8's check marks are lost in the paper's text; they are the remaining
# subsets of {CLL, VCL, SCL} consistent with its prose ("when training without L_CLL ... 2.9%").
TABLE3_ROWS: list[tuple[str, tuple[str, ...]]] = [
    ("Exp 1", ("mil",)),
    ("Exp 2", ("mil", "cll")),
    ("Exp 3", ("mil", "cll", "vcl")),
    ("Exp 4", FULL),
    ("Exp 5", ("mil", "cll", "scl")),
    ("Exp 6", ("mil", "vcl", "scl")),
    ("Exp 7", ("mil", "vcl")),
    ("Exp 8", ("mil", "scl")),
]

# Table 3's first four rows add one term at a time (MIL, + CLL, + VCL, + SCL): the rows the claims,
# the dose-response and the attention diagnostics compare.
CORE_ROWS = ("Exp 1", "Exp 2", "Exp 3", "Exp 4")
FULL_MODEL_ROW = "Exp 4"  # the full HiM-Net of Eq. 11 (FULL): Table 4's L_SCL, Table 1's HiM-Net

ALPHAS = (0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0)

# Table 4 (paper order): SCL replaced by an alternative, removed, or with another uncertainty.
TABLE4_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("L_guide", {"loss.terms": ("mil", "cll", "vcl", "guide")}),
    ("L_ml", {"loss.terms": ("mil", "cll", "vcl", "ml")}),
    ("w/o L_SCL", {"loss.terms": ("mil", "cll", "vcl")}),
    ("L_SCL w/o U(p||q)", {"loss.terms": FULL, "loss.scl_centre": "none"}),
    ("L_SCL with U(q||p)", {"loss.terms": FULL, "loss.scl_centre": "target"}),
    ("L_SCL", {"loss.terms": FULL}),
]

# Table 1 on our data: the MIL-only baseline against the full model; NMS vs Soft-NMS is a
# localization setting applied to the same trained runs (no retraining).
TABLE1_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("MIL only (Exp 1)", {"loss.terms": ("mil",)}),
    ("HiM-Net", {"loss.terms": FULL}),
]

# Fig. 7: the uncertainty of background snippets for models trained with and without SCL.
UNCERTAINTY_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("w/o L_SCL", {"loss.terms": ("mil", "cll", "vcl")}),
    ("with L_SCL", {"loss.terms": FULL}),
]


# Table 5 (paper order): L_CLL and L_SCL added to peers with explicit background modelling
# (himnet_lib.modeling.baselines). "mil" = the method's own losses. Labels carry the framework so that
# every row is unique ("+ L_CLL" appears under both); TABLE5_DISPLAY gives the paper's row names.
# All rows are scored with HiM-Net's inference (attention thresholds + OIC on cas_supp).
TABLE5_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("BaS-Net", {"train.model": "basnet", "loss.terms": ("mil",)}),
    ("BaS-Net + L_CLL", {"train.model": "basnet", "loss.terms": ("mil", "cll")}),
    ("BaS-Net + L_CLL + L_SCL", {"train.model": "basnet", "loss.terms": ("mil", "cll", "scl")}),
    ("HAM-Net", {"train.model": "hamnet", "loss.terms": ("mil",)}),
    ("HAM-Net + L_CLL", {"train.model": "hamnet", "loss.terms": ("mil", "cll")}),
    ("HAM-Net + L_SCL", {"train.model": "hamnet", "loss.terms": ("mil", "scl")}),
]
TABLE5_BASE_ROWS = ("BaS-Net", "HAM-Net")  # the rows each gain Δ is measured against
TABLE5_DISPLAY = {"BaS-Net": "BaS-Net", "BaS-Net + L_CLL": "+ L_CLL", "BaS-Net + L_CLL + L_SCL": "+ L_CLL + L_SCL",
                  "HAM-Net": "HAM-Net", "HAM-Net + L_CLL": "+ L_CLL", "HAM-Net + L_SCL": "+ L_SCL"}


def benchmarks(name: str) -> tuple[str, ...]:
    """The benchmarks of profile ``name``, its main one first
    (:attr:`himnet_lib.config.profiles.Profile.benchmark_names`):
    every claim is tested on each, so that no conclusion rests on one generator."""
    return get_profile(name).benchmark_names


def main_benchmark(name: str) -> str:
    return get_profile(name).main_benchmark


def resolve_benchmark(profile: str, name: str) -> str:
    """``name`` as a benchmark of ``profile``: one of its benchmarks, or a variant of one of its
    synthetic ones (``"demo+class_style=0.5"``, :mod:`himnet_lib.datasets.synthetic.variants`) in
    canonical form (a variant that changes nothing is its preset). Anything else is a KeyError
    naming the profile's benchmarks."""
    known = benchmarks(profile)
    if name in known:
        return name
    why = ""
    if get_profile(profile).synthetic:
        try:
            if variant_base(name) in known:
                return canonical_benchmark(name)
        except ValueError as e:
            why = f" ({e})"
    raise KeyError(f"profile {profile!r} has no benchmark {name!r}{why}; its benchmarks: {', '.join(known)}"
                   + (" or their variants <benchmark>+<field>=<value>" if get_profile(profile).synthetic else ""))


default_reading = profile_reading  # the profile's reading, from himnet_lib.config.run


@dataclass(frozen=True)
class RunSpec:
    """One training run of the study: a profile plus overrides plus a seed, on a benchmark.

    ``benchmark`` names one of the profile's benchmarks (:func:`benchmarks`) or a variant of one of
    its synthetic ones (:func:`resolve_benchmark`; kept in canonical form); left empty, it is the
    profile's main one. A reading other than the profile's is an override ``("reading", name)``.
    """

    table: str
    label: str
    seed: int
    overrides: tuple[tuple[str, Any], ...]
    profile: str
    benchmark: str = ""

    def __post_init__(self) -> None:
        if not self.benchmark:
            object.__setattr__(self, "benchmark", main_benchmark(self.profile))
        else:
            object.__setattr__(self, "benchmark", resolve_benchmark(self.profile, self.benchmark))

    def config(self) -> RunConfig:
        return build_config(self.profile, {**dict(self.overrides), "train.seed": self.seed})

    @property
    def draw(self) -> int:
        """The draw of its synthetic benchmark it trains on (the profile's ``data_draws``)."""
        return get_profile(self.profile).draw(self.seed)

    @property
    def on_main_benchmark(self) -> bool:
        """Whether it trains on its profile's main benchmark."""
        return self.benchmark == main_benchmark(self.profile)

    @property
    def run_id(self) -> str:
        """Deterministic id from the resolved settings (and the benchmark): equal settings give the
        same run."""
        bench = "" if self.on_main_benchmark else f"{self.benchmark}-"
        return f"{self.profile}-{bench}s{self.seed}-{self.config().identity()[:12]}"

    @property
    def reading(self) -> str:
        return self.config().reading

    def overrides_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.overrides}


def _specs(table: str, rows: Iterable[tuple[str, dict[str, Any]]], profile: str, seeds: int,
           reading: str | None = None, benchmark: str | None = None) -> list[RunSpec]:
    extra = {} if reading in (None, default_reading(profile)) else {"reading": reading}
    bench = benchmark or main_benchmark(profile)
    return [RunSpec(table, label, seed, tuple(sorted({**over, **extra}.items())), profile, bench)
            for label, over in rows for seed in range(seeds)]


def table3_specs(profile: str, seeds: int, reading: str | None = None, benchmark: str | None = None,
                 rows: Iterable[str] | None = None) -> list[RunSpec]:
    keep = set(rows) if rows is not None else None
    return _specs("table3", [(lab, {"loss.terms": terms}) for lab, terms in TABLE3_ROWS
                             if keep is None or lab in keep], profile, seeds, reading, benchmark)


def alpha_specs(profile: str, seeds: int, alphas: Iterable[float] = ALPHAS, reading: str | None = None,
                benchmark: str | None = None) -> list[RunSpec]:
    return _specs("alpha", [(f"alpha={a:g}", {"loss.terms": FULL, "loss.alpha": float(a)}) for a in alphas],
                  profile, seeds, reading, benchmark)


def table4_specs(profile: str, seeds: int, reading: str | None = None, benchmark: str | None = None) -> list[RunSpec]:
    return _specs("table4", TABLE4_ROWS, profile, seeds, reading, benchmark)


def table1_specs(profile: str, seeds: int, reading: str | None = None, benchmark: str | None = None) -> list[RunSpec]:
    return _specs("table1", TABLE1_ROWS, profile, seeds, reading, benchmark)


def uncertainty_specs(profile: str, seeds: int, reading: str | None = None,
                      benchmark: str | None = None) -> list[RunSpec]:
    return _specs("fig7", UNCERTAINTY_ROWS, profile, seeds, reading, benchmark)


def unique_runs(specs: Iterable[RunSpec]) -> list[RunSpec]:
    """One spec per distinct run_id (first occurrence wins), for scheduling shared runs once."""
    seen: dict[str, RunSpec] = {}
    for s in specs:
        seen.setdefault(s.run_id, s)
    return list(seen.values())


def table5_specs(profile: str, seeds: int, benchmark: str | None = None) -> list[RunSpec]:
    """Baselines train their own objective: the reading does not apply to them."""
    return _specs("table5", TABLE5_ROWS, profile, seeds, None, benchmark)


# Dose-response (notebook 11): each claimed term's λ multiplied by DOSE_FACTORS in the Table 3 row
# that adds it (DOSE_ROWS); factor 0 is the row without the term and factor 1 the row itself, so
# both are Table 3's own runs. Trained under the profile's reading (and balance) on every benchmark.
DOSE_FACTORS = (0.1, 1.0, 3.0, 10.0)  # four weights over two decades: make demo stays within an hour


def added_terms(rows: Sequence[tuple[str, Sequence[str]]] | None = None,
                core: Sequence[str] | None = None) -> dict[str, tuple[str, str]]:
    """term -> (the core row that adds it, the core row before it, without it), from Table 3's rows
    and core rows (default :data:`TABLE3_ROWS`, :data:`CORE_ROWS`). Each core row adds exactly one
    term to the one before (an error otherwise)."""
    rows = TABLE3_ROWS if rows is None else rows
    core = CORE_ROWS if core is None else core
    terms = dict(rows)
    out = {}
    for before, row in zip(core, core[1:]):
        added = set(terms[row]) - set(terms[before])
        if len(added) != 1 or not set(terms[before]) <= set(terms[row]):
            raise ValueError(f"core row {row!r} must add exactly one term to {before!r}: "
                             f"{terms[before]} -> {terms[row]}")
        out[added.pop()] = (row, before)
    return out


def weight_fields(terms: Iterable[str]) -> dict[str, str]:
    """The ``loss.lambda_<term>`` setting of each of ``terms`` that has a weight."""
    return {t: f"loss.{f}" for t in terms if (f := weight_field(t)) is not None}


def dose_terms() -> dict[str, tuple[str, str]]:
    """The terms with a dose-response: those a core row of Table 3 adds and that have a weight, each
    with (its row, the row before it): cll: (Exp 2, Exp 1), vcl: ..., scl: ..."""
    added = added_terms()
    return {t: rows for t, rows in added.items() if weight_field(t) is not None}


def dose_label(term: str, factor: float) -> str:
    return f"{term} x{factor:g}"


def dose_rows(profile: str) -> list[tuple[str, dict[str, Any]]]:
    """(label, overrides) of the dose-response rows other than factor 1 (Table 3's own row)."""
    base = build_config(profile)
    terms = dict(TABLE3_ROWS)
    rows = []
    for term, (exp, _) in dose_terms().items():
        field = f"loss.{weight_field(term)}"
        printed = float(getattr(base.loss, field.split(".", 1)[1]))
        for f in DOSE_FACTORS:
            if f != 1.0:
                rows.append((dose_label(term, f), {"loss.terms": terms[exp], field: printed * f}))
    return rows


def dose_specs(profile: str, seeds: int, benchmark: str | None = None) -> list[RunSpec]:
    return _specs("dose", dose_rows(profile), profile, seeds, None, benchmark)


def dose_grid(profile: str, seeds_table3: int, seeds_other: int) -> list[RunSpec]:
    """Every run of notebook 11 on every benchmark: the dose rows (``seeds_other`` seeds) and the
    Table 3 rows they are paired with (Exp 1-4, ``seeds_table3`` seeds), under the profile's reading."""
    specs: list[RunSpec] = []
    for bench in benchmarks(profile):
        specs += table3_specs(profile, seeds_table3, None, bench, rows=CORE_ROWS)
        specs += dose_specs(profile, seeds_other, bench)
    return specs


# The placebo of the claims table: the full model on seeds PLACEBO_OFFSET.. against its own Table 3
# runs (seeds 0..): the same configuration, so any verdict but "within noise" is a false positive.
PLACEBO_ROW = FULL_MODEL_ROW


def placebo_specs(profile: str, seeds: int, benchmark: str | None = None) -> list[RunSpec]:
    return [RunSpec("placebo", PLACEBO_ROW, seeds + s, (("loss.terms", FULL),), profile,
                    benchmark or main_benchmark(profile))
            for s in range(seeds)]


# Which (benchmark, reading) pairs the claims read of each table: each entry is "all" benchmarks or
# only the "main" one, with "both" readings, the "profile" reading only, or "free" (the baselines
# train their own objective). Table 4 is read on every benchmark under the profile's reading and on
# the main benchmark under both; the second benchmark's α sweep and Table 5 are left out for cost.
CLAIM_COVERAGE: dict[str, tuple[tuple[str, str], ...]] = {
    "table3": (("all", "both"),), "table4": (("all", "profile"), ("main", "both")),
    "alpha": (("main", "profile"),), "table5": (("main", "free"),), "dose": (("all", "profile"),),
    "placebo": (("all", "profile"),),
}


def covered(table: str, profile: str, benchmark: str, reading: str) -> bool:
    """Whether the claims table reads ``table`` on ``benchmark`` (a name) under ``reading``."""
    main = benchmark == main_benchmark(profile)
    return any((where == "all" or main) and (which in ("both", "free") or reading == default_reading(profile))
               for where, which in CLAIM_COVERAGE.get(table, ()))


def row_specs(table: str, label: str, profile: str, seeds: int, reading: str | None = None,
              benchmark: str | None = None) -> list[RunSpec]:
    """The runs of one row of a study table (an unknown table or row is an error)."""
    grids = {"table3": lambda: table3_specs(profile, seeds, reading, benchmark, rows=[label]),
             "table4": lambda: table4_specs(profile, seeds, reading, benchmark),
             "alpha": lambda: alpha_specs(profile, seeds, reading=reading, benchmark=benchmark),
             "table5": lambda: table5_specs(profile, seeds, benchmark=benchmark),
             "dose": lambda: _specs("dose", dose_rows(profile), profile, seeds, reading, benchmark),
             "placebo": lambda: placebo_specs(profile, seeds, benchmark)}
    if table not in grids:
        raise KeyError(f"no study table {table!r}; known: {', '.join(grids)}")
    specs = [s for s in grids[table]() if s.label == label or (table == "alpha" and label.endswith("=")
                                                                and s.label.startswith(label))]
    if not specs:
        raise KeyError(f"study table {table!r} has no row {label!r}")
    return specs


def unique_specs(specs: Iterable[RunSpec]) -> list[RunSpec]:
    """``specs`` without repeats of the same (table, label, seed, run_id), in order."""
    seen: set[tuple[str, str, int, str]] = set()
    out = []
    for s in specs:
        key = (s.table, s.label, s.seed, s.run_id)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


# Schedule selection on a validation fold of the training videos (never the test videos):
# MIL-only and the full model per reading, with learning curves at the profile's evaluation
# interval, for the profile's selection schedule (Profile.selection).
SELECTION_VAL_FRACTION = 0.2


def selection_schedule(name: str) -> tuple[int, int]:
    """(iterations, evaluation interval) of profile ``name``'s schedule selection."""
    return get_profile(name).selection


# The grid searched on the validation fold: learning rate, and λ_norm for the lineage reading
# (the weight of CO2-Net's attention mean, the one lineage term whose weight changes A's scale).
SELECTION_LRS = (3e-4, 1e-3)
SELECTION_LAMBDA_NORM = (0.1, 0.8)


def selection_rows(profile: str) -> list[tuple[str, dict[str, Any]]]:
    iterations, every = selection_schedule(profile)
    rows = []
    for reading in READINGS:
        lambdas = SELECTION_LAMBDA_NORM if reading == "lineage" else (None,)
        for lr in SELECTION_LRS:
            for lam in lambdas:
                for exp, terms in (("Exp 1", ("mil",)), ("Exp 4", FULL)):
                    over: dict[str, Any] = {"loss.terms": terms, "reading": reading, "train.lr": lr,
                                            "train.iterations": iterations, "train.eval_interval": every,
                                            "train.val_fraction": SELECTION_VAL_FRACTION}
                    name = f"{exp} · {reading} · lr {lr:g}"
                    if lam is not None:
                        over["loss.lambda_norm"] = lam
                        name += f" · λ_norm {lam:g}"
                    rows.append((name, over))
    return rows


def selection_specs(profile: str, seeds: int = 1, benchmark: str | None = None) -> list[RunSpec]:
    return [RunSpec("selection", label, seed, tuple(sorted(over.items())), profile,
                    benchmark or main_benchmark(profile))
            for label, over in selection_rows(profile) for seed in range(seeds)]


# loss.balance chosen per term on the validation fold (never the test videos): each term of the
# dose-response in the core row that adds it, with its λ as printed and as the reading's balance
# rescales it (the other terms as printed), under the profile's reading; and the full model with
# every term rescaled (the global loss.balance=reading).
def balance_terms() -> dict[str, tuple[str, str]]:
    """The dose-response terms that ``loss.balance`` rescales (their spec is ``balanced``)."""
    return {t: rows for t, rows in dose_terms().items() if spec(t).balanced}


def balance_label(row: str, term: str | None) -> str:
    """A balance row's label: ``"Exp 2 · printed"``, ``"Exp 2 · cll reading"``, ``"Exp 4 · all reading"``."""
    return f"{row} · {'printed' if term is None else term + ' reading'}"


def balance_rows(profile: str) -> list[tuple[str, dict[str, Any]]]:
    terms = dict(TABLE3_ROWS)
    val = {"train.val_fraction": SELECTION_VAL_FRACTION}
    rows: list[tuple[str, dict[str, Any]]] = [("Exp 1", {"loss.terms": terms["Exp 1"], **val})]
    for term, (row, _) in balance_terms().items():
        base = {"loss.terms": terms[row], "loss.balance": "printed", **val}
        rows.append((balance_label(row, None), {**base, "loss.balance_terms": ()}))
        rows.append((balance_label(row, term), {**base, "loss.balance_terms": (term,)}))
    last = FULL_MODEL_ROW
    rows.append((balance_label(last, "all"), {"loss.terms": terms[last], "loss.balance": "reading",
                                              "loss.balance_terms": (), **val}))
    return rows


def balance_specs(profile: str, seeds: int, benchmark: str | None = None) -> list[RunSpec]:
    """The balance selection runs (:func:`balance_rows`) on the validation fold of the training
    videos, under the profile's reading and schedule."""
    return _specs("balance", balance_rows(profile), profile, seeds, None, benchmark)


def trivial_predictions(ds, subset: str | None = None) -> dict:
    """The trivial reference predictor (a floor for every localization number): for every video of ``subset``
    (default: the test subset), one proposal covering the whole video for each class in the
    video-level label (score 1). It uses the test labels, so it is an oracle on classification and
    measures only how much localization the models add. Returns an ActivityNet result JSON."""
    videos = ds.subset(subset) if subset else ds.test_videos()
    results = {}
    for v in videos:
        results[v.name] = [{"label": ds.classes[c], "segment": [0.0, float(v.duration)], "score": 1.0}
                           for c in map(int, (v.labels > 0).nonzero()[0])]
    return {"version": "trivial whole-video predictor", "results": results,
            "external_data": {"used": False, "details": "video-level test labels (oracle)"}}
