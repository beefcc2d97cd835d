"""The claims table: one pre-registered primary test per claim, judged against the paper's effect.

Every claim of :func:`himnet_lib.study.claims.declared_claims` is computed in every cell of the run
records (:func:`himnet_lib.study.claims_cells.cell_results`); each row of the table has a ``role``:

* ``primary``: the claim's declared cell (``Claim.primary``), one per claim. Its verdict comes from
  the sequential design of the profile (:func:`primary_design`): at each look (``Profile.looks``,
  or one look at the pilot's seeds) the repeated confidence interval of the paired mean difference
  (:func:`himnet_lib.study.sequential.repeated_interval`, Pocock-type spending of alpha/m per
  primary, m = the number of primaries: Bonferroni, so the intervals hold together across claims
  and looks) is judged against the paper's effect (:func:`himnet_lib.study.verdicts.judge`), and
  the primary stops at its first decisive look. ``p_adjusted`` is Holm's across the primaries (the
  fixed-sample t test against 0 at the seeds used), for reference.
* ``secondary``: every other non-degenerate cell of a claim (the other reading, read-out and
  benchmark): robustness. Benjamini-Hochberg across them (FDR 5 %), and intervals at the
  false-coverage-rate level 1 - R q / M of Benjamini and Yekutieli (R of the M secondaries reject).
* ``diagnostic``: a degenerate cell (the read-out finds almost nothing), and the fg, bg and
  balanced splits of CLL's ACC claim: effect and 95 % interval, no p-value and no verdict.
* ``control``: the placebo (two sets of seeds of one configuration, unpaired): a decisive verdict
  would be a false positive.

Verdicts (docs/findings.md): *reproduces* (the interval excludes 0 and contains the paper's effect
or lies above it), *smaller than claimed* (it lies below the paper's effect and above 0), *smaller
than claimed (not distinguishable from 0)*, *reversed*, *inconclusive* (it contains both 0 and the
paper's effect). Claims without a paper number get the sign vocabulary; "X >= Y" claims a
non-inferiority test with :data:`himnet_lib.study.claims.NONINFERIORITY_MARGIN`; "α = 4 is best" the
selection-aware best-of-k test at the look's nominal level. ``mde``: the smallest true effect the
row's test detects with 80 % power at its level and seeds; ``seeds_needed``: the seeds (fixed
sample) that detect the paper's effect with 80 % power at today's SD; ``p_one_seed_sign``: the
probability that one seed (one run per row, as the paper's tables) shows the claimed sign, at our
estimate and (``..._paper``) if the true effect were the paper's.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from himnet_lib.config.profiles import get_profile
from himnet_lib.study import sequential, stats, verdicts
from himnet_lib.study.claims import Claim, declared_claims
from himnet_lib.study.claims_cells import CellResult, cell_results, compare_samples, dose_verdicts

__all__ = ["ALPHA", "FDR", "CLAIM_COLUMNS", "ROLES", "primary_design", "claims_table", "primary_cell",
           "paired_differences", "sequential_verdict"]

ALPHA = 0.05          # family-wise error of the primaries
FDR = 0.05            # false discovery rate of the secondaries
DIAGNOSTIC_LEVEL = 0.95
SPENDING = "pocock"   # spends alpha evenly over the looks, so that a pilot look can already decide
ROLES = ("primary", "secondary", "diagnostic", "control")

CLAIM_COLUMNS = ("claim", "role", "primary", "metric", "test", "reading", "readout", "benchmark", "paper_effect",
                 "margin", "our_effect", "se", "n_seeds", "look", "paired", "ci_level", "ci_low", "ci_high",
                 "boot_low", "boot_high", "p", "p_adjusted", "verdict", "mde", "seeds_needed", "p_one_seed_sign",
                 "p_one_seed_sign_paper", "dose_response", "why")
_NAN = float("nan")


def primary_design(profile: str, m: int, pilot: int) -> sequential.Design:
    """The sequential design of each of ``m`` primaries: the profile's looks (one look at the
    pilot's ``pilot`` seeds when it declares none), alpha/m each."""
    looks = get_profile(profile).looks or (max(2, pilot),)
    # one look: the exact t interval (the calibration is for several looks)
    return sequential.Design(tuple(looks), ALPHA / max(1, m), SPENDING,
                             t_version="calibrated" if len(looks) > 1 else "nominal")


def primary_cell(claim: Claim, cells: Sequence[CellResult], main: str, profile: str) -> CellResult | None:
    """The cell of ``cells`` that is ``claim``'s declared primary (on ``profile``'s records)."""
    want = claim.primary
    bench = main if want.benchmark == "main" else want.benchmark
    reading = get_profile(profile).reading if want.reading == "profile" else want.reading
    for c in cells:
        if c.claim is claim and (c.reading, c.readout, c.benchmark) == (reading, want.readout, bench):
            return c
    return None


def paired_differences(cell: CellResult) -> np.ndarray:
    """The per-seed differences a - b over the shared seeds, in seed order."""
    seeds = sorted(set(cell.a) & set(cell.b))
    return np.array([cell.a[s] - cell.b[s] for s in seeds], dtype=float)


def _kind(claim: Claim) -> str:
    if claim.test == "non-inferiority":
        return "non-inferiority"
    if claim.test in ("sign", "best-of-k") or not math.isfinite(claim.paper_effect) or claim.paper_effect == 0:
        return "sign"
    return "superiority"


def _first(cell: CellResult, n: int) -> CellResult:
    """``cell`` with only its first ``n`` seeds: of those both sides share (of the target's, for a
    best-of-k claim)."""
    keep = sorted(set(cell.a) if cell.claim.kind == "best" else set(cell.a) & set(cell.b))[:n]

    def cut(v):
        return {s: v[s] for s in keep if s in v}

    a, b, others = cut(cell.a), cut(cell.b), {k: cut(v) for k, v in cell.others.items()}
    return CellResult(cell.claim, cell.benchmark, cell.reading, cell.readout, a, b, others,
                      compare_samples(cell.claim, a, b, others), cell.degenerate, cell.dose)


def _best_verdict(test: stats.Test, level: float) -> str:
    """The best-of-k test's verdict at two-sided nominal level ``level``."""
    if not math.isfinite(test.p) or not test.p < level:
        return verdicts.INCONCLUSIVE
    return verdicts.REPRODUCES if test.side == "holds" else verdicts.REVERSED


def sequential_verdict(cell: CellResult, design: sequential.Design) -> dict[str, Any]:
    """The primary's verdict under ``design``: the first decisive look among those its seeds reach
    (else the last one reached, inconclusive), with the interval, the seeds used and the look
    (1-based; 0 when even the first look's seeds are missing: then the fixed-sample interval at
    the design's alpha, which decides nothing when the design has looks to come)."""
    claim = cell.claim
    kind = _kind(claim)
    available = len(set(cell.a)) if claim.kind == "best" else len(paired_differences(cell))
    reached = [k for k, n in enumerate(design.looks) if n <= available]
    levels = sequential.look_levels(design)
    out: dict[str, Any] = {}
    looks: list[int | None] = list(reached) or [None]
    for k in looks:
        n = design.looks[k] if k is not None else available
        sub = _first(cell, n)
        if claim.kind == "best":
            level = levels[k] if k is not None else design.alpha
            t = sub.test
            q = _t_quantile(level, t.df)
            low, high = t.effect - q * t.se, t.effect + q * t.se
            label = _best_verdict(t, level)
        else:
            d = paired_differences(sub)
            if k is not None:
                low, high = sequential.repeated_interval(d, design, k)
                level = levels[k]
            else:
                level = design.alpha
                _, low, high, _, _ = verdicts.t_interval(d, 1 - level)
            label = verdicts.judge(low, high, claim.paper_effect, kind, claim.margin)
        if k is None and len(design.looks) > 1:
            label = verdicts.INCONCLUSIVE  # an unplanned look before the first: no decision (its stage follows)
        out = {"cell": sub, "low": low, "high": high, "n": n, "look": 0 if k is None else k + 1,
               "ci_level": 1 - level, "verdict": label, "final_level": levels[-1]}
        if label != verdicts.INCONCLUSIVE:
            break
    return out


def _t_quantile(level: float, df: float) -> float:
    from scipy import stats as sps
    return float(sps.t.isf(level / 2, df)) if math.isfinite(df) and df > 0 else _NAN


def _sd(cell: CellResult) -> float:
    if cell.claim.kind == "best":
        best = cell.test.best_other or ""
        shared = sorted(set(cell.a) & set(cell.others.get(best, {})))
        d = np.array([cell.a[s] - cell.others[best][s] for s in shared])
    elif cell.claim.kind == "placebo":
        return cell.test.se * math.sqrt(max(cell.test.n, 1))
    else:
        d = paired_differences(cell)
    return float(d.std(ddof=1)) if d.size > 1 else _NAN


def _power_columns(claim: Claim, cell: CellResult, alpha: float, alpha_seeds: float | None = None) -> dict[str, Any]:
    """mde at two-sided level ``alpha`` (the row's interval's), seeds_needed at ``alpha_seeds``
    (default ``alpha``; a primary's: its design's last look), and the one-seed sign probabilities."""
    sd, n, effect = _sd(cell), cell.test.n, cell.test.effect
    e = claim.paper_effect
    target = (e + claim.margin) if claim.test == "non-inferiority" and claim.margin is not None else e
    level = alpha if alpha_seeds is None else alpha_seeds
    need = (verdicts.seeds_needed(sd, target, level) if _kind(claim) != "sign" or claim.test == "non-inferiority"
            else None)
    sign = -1.0 if math.isfinite(e) and e < 0 else 1.0
    from scipy import stats as sps
    return {"mde": verdicts.mde(sd, n, alpha) if math.isfinite(sd) else _NAN,
            "seeds_needed": float(need) if need is not None else _NAN,
            # P(one seed's difference has the claimed sign) under a normal with our mean and SD
            "p_one_seed_sign": (float(sps.norm.cdf(sign * effect / sd)) if math.isfinite(sd) and sd > 0
                                else float(sign * effect > 0) if math.isfinite(effect) else _NAN),
            "p_one_seed_sign_paper": (verdicts.one_run_sign_probability(abs(e), sd)
                                      if math.isfinite(e) and e != 0 and math.isfinite(sd) else _NAN)}


def _bootstrap(cell: CellResult, level: float) -> tuple[float, float]:
    if cell.claim.kind in ("best", "placebo"):
        return _NAN, _NAN
    return verdicts.bootstrap_interval(paired_differences(cell), level)


def _base_row(c: CellResult, role: str) -> dict[str, Any]:
    t = c.test
    return {"claim": c.claim.name, "role": role, "primary": role == "primary", "metric": c.claim.metric,
            "test": c.claim.test, "reading": c.reading, "readout": c.readout, "benchmark": c.benchmark,
            "paper_effect": c.claim.paper_effect, "margin": _NAN if c.claim.margin is None else c.claim.margin,
            "our_effect": t.effect, "se": t.se, "n_seeds": t.n, "look": 0, "paired": bool(t.paired),
            "ci_level": _NAN, "ci_low": _NAN, "ci_high": _NAN, "boot_low": _NAN, "boot_high": _NAN, "p": t.p,
            "p_adjusted": _NAN, "verdict": "-", "mde": _NAN, "seeds_needed": _NAN, "p_one_seed_sign": _NAN,
            "p_one_seed_sign_paper": _NAN, "dose_response": "-", "why": ""}


def _interval(c: CellResult, level: float) -> tuple[float, float]:
    t = c.test
    q = _t_quantile(1 - level, t.df)
    return t.effect - q * t.se, t.effect + q * t.se


def _null_p(c: CellResult) -> float:
    """p of the test against the claim's null: two-sided against 0, or, for non-inferiority, the
    one-sided p of d <= -margin."""
    t = c.test
    if c.claim.test != "non-inferiority" or not (math.isfinite(t.se) and t.se > 0):
        return t.p
    from scipy import stats as sps
    return float(sps.t.sf((t.effect + (c.claim.margin or 0.0)) / t.se, t.df))


def claims_table(records: Sequence[Mapping[str, Any]], claims: Sequence[Claim] | None = None,
                 adjust: Literal["holm", "bh"] = "holm"):
    """The claims table (pandas DataFrame, :data:`CLAIM_COLUMNS`) from the run records (``runs.csv``):
    the primaries first, one per claim, then the secondaries, diagnostics and the control."""
    import pandas as pd
    claims = list(declared_claims() if claims is None else claims)
    cells = cell_results(records, claims)
    dose = dose_verdicts(cells)
    profile = str(records[0]["profile"])
    main = next(r["benchmark"] for r in records if r["on_main_benchmark"])
    tested = [c for c in claims if c.kind != "placebo"]
    primaries = {id(c): primary_cell(c, cells, main, profile) for c in tested}
    missing = [c.name for c in tested if primaries[id(c)] is None]
    if missing:
        raise KeyError(f"the primary cells of {missing} are not in the records")
    m = len(tested)
    rows: list[dict[str, Any]] = []
    for claim in tested:
        cell = primaries[id(claim)]
        assert cell is not None
        row = _base_row(cell, "primary")
        row["why"] = claim.why
        row["dose_response"] = dose[cells.index(cell)]
        if cell.degenerate:
            row["verdict"] = "n/a (primary degenerate)"
            rows.append(row)
            continue
        pilot = min(len(set(cell.a)), len(set(cell.b)) if cell.b else len(set(cell.a)))
        res = sequential_verdict(cell, primary_design(profile, m, pilot))
        sub = res["cell"]
        row.update({"our_effect": sub.test.effect, "se": sub.test.se, "n_seeds": sub.test.n, "look": res["look"],
                    "ci_level": res["ci_level"], "ci_low": res["low"], "ci_high": res["high"], "p": _null_p(sub),
                    "verdict": res["verdict"], **_power_columns(claim, sub, 1 - res["ci_level"], res["final_level"])})
        row["boot_low"], row["boot_high"] = _bootstrap(sub, res["ci_level"])
        rows.append(row)
    ps = [r["p"] for r in rows if r["role"] == "primary"]
    for r, p in zip([r for r in rows if r["role"] == "primary"], stats.adjust(ps, adjust)):
        r["p_adjusted"] = float(p)
    primary_ids = {id(c) for c in primaries.values()}
    secondary = [c for c in cells if id(c) not in primary_ids and not c.degenerate
                 and c.claim.kind != "placebo" and c.claim in claims and c.test.n >= 2]
    sec_rows = [_base_row(c, "secondary") for c in secondary]
    p_bh = list(stats.adjust([_null_p(c) for c in secondary], "bh")) if secondary else []
    rejected = sum(1 for p in p_bh if p < FDR)
    level = 1 - max(rejected, 1) * FDR / max(len(secondary), 1)  # Benjamini-Yekutieli's FCR level
    for r, c, p in zip(sec_rows, secondary, p_bh):
        low, high = _interval(c, level)
        verdict = (_best_verdict(c.test, 1 - level) if c.claim.kind == "best"
                   else verdicts.judge(low, high, c.claim.paper_effect, _kind(c.claim), c.claim.margin))
        r.update({"p": _null_p(c), "p_adjusted": float(p), "ci_level": level, "ci_low": low, "ci_high": high,
                  "verdict": verdict, "dose_response": dose[cells.index(c)], **_power_columns(c.claim, c, 1 - level)})
        r["boot_low"], r["boot_high"] = _bootstrap(c, level)
    other_rows = []
    for c in cells:
        if id(c) in primary_ids or any(c is x for x in secondary):
            continue
        role = "control" if c.claim.kind == "placebo" else "diagnostic"
        r = _base_row(c, role)
        low, high = _interval(c, DIAGNOSTIC_LEVEL)
        r.update({"ci_level": DIAGNOSTIC_LEVEL, "ci_low": low, "ci_high": high, "dose_response": dose[cells.index(c)]})
        if role == "control":
            r["verdict"] = verdicts.judge(low, high, _NAN, "sign")
        else:
            r["p"] = _NAN
        other_rows.append(r)
    return pd.DataFrame(rows + sec_rows + other_rows, columns=list(CLAIM_COLUMNS))
