"""The mechanism map, from run records and structure measures: per term and knob level the structure
measure and the term's paired effect (``tables/mechanisms.*``), the trend test and the control's
verdict per term with the claims it backs (``tables/mechanism_trends.*``), where the benchmarks and
variants sit on each term's axis (``tables/mechanism_positions.*``), one sentence per term for the
findings (:func:`when_each_term_helps`), and the map applied to a user's data (:func:`diagnosis`,
behind ``himnet diagnose``). The sweep's declaration is :mod:`himnet_lib.study.mechanisms`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from himnet_lib.config.profiles import get_profile
from himnet_lib.study import claims, grids
from himnet_lib.study.claims_cells import DEGENERATE_AVG, row_values
from himnet_lib.study.mechanisms import (
    MEASURES,
    MECHANISMS,
    SOFT_NMS,
    Ci,
    Mechanism,
    Trend,
    TrendTest,
    level_benchmark,
    levels,
    mechanism,
    paired_interval,
    seed_slope_trend,
)
from himnet_lib.utils import markdown
from himnet_lib.utils.fileio import atomic_write_text

__all__ = ["TABLE_COLUMNS", "TREND_COLUMNS", "POSITION_COLUMNS", "FAIL_MARGIN", "mechanism_table", "trend_table",
           "positions_table", "control_verdict", "linked_claims", "when_each_term_helps", "write_mechanisms",
           "read_map", "diagnosis", "diagnosis_markdown", "mechanisms_markdown", "trends_markdown",
           "positions_markdown", "claim_controls"]

TABLE_COLUMNS = ("term", "knob", "level", "benchmark", "measure", "structure", "effect", "ci_lo", "ci_hi", "n_seeds",
                 "seeds", "seed_structures", "seed_effects", "compared", "readout", "with_avg", "without_avg")
TREND_COLUMNS = ("term", "measure", "levels", "n_seeds", "slope", "slope_lo", "slope_hi", "kendall_tau", "kendall_p",
                 "top_knob", "top_structure", "top_effect", "top_lo", "top_hi", "verdict", "claims")
POSITION_COLUMNS = ("term", "measure", "benchmark", "role", "value", "n")
_NAN = float("nan")


def _knob(level) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in level) or "(preset)"


def _mean(values: Mapping[int, float], seeds: Sequence[int]) -> float:
    return float(np.mean([values[s] for s in seeds])) if seeds else _NAN


def _fmt_seeds(values: Mapping[int, float]) -> str:
    return " ".join(f"{values[s]:.6g}" for s in sorted(values))


def _structure(recs: Sequence[Mapping[str, Any]], measure: str, bench: str, seeds: Sequence[int],
               profile: str) -> dict[int, float]:
    """{seed: value of ``measure``} on ``bench``: a data measure from the seed's draw, a model measure
    from the seed's MIL-only run; seeds without a finite value are left out."""
    prof, out = get_profile(profile), {}
    model = MEASURES[measure][1] == "model"
    for s in seeds:
        for r in recs:
            if r["benchmark"] != bench or (r["seed"] != s if model else (r["seed"] is not None
                                                                          or r["draw"] != prof.draw(s))):
                continue
            v = r.get(measure)
            if v is not None and math.isfinite(float(v)):
                out[s] = float(v)
    return out


def _effect_sides(records: Sequence[Mapping[str, Any]], m: Mechanism, bench: str,
                  readout: str) -> tuple[dict[int, float], dict[int, float]]:
    recs = [r for r in records if r["benchmark"] == bench]
    with_, without = m.rows
    if m.term == SOFT_NMS:
        return (row_values(recs, "mechanisms", with_, f"avg[{readout}]", 100.0),
                row_values(recs, "mechanisms", with_, f"avg_nms[{readout}]", 100.0))
    return (row_values(recs, "mechanisms", with_, f"avg[{readout}]", 100.0),
            row_values(recs, "mechanisms", without, f"avg[{readout}]", 100.0))


def mechanism_table(records: Sequence[Mapping[str, Any]], structure: Sequence[Mapping[str, Any]], profile: str,
                    readout: str = "minmax", ci: Ci = paired_interval) -> pd.DataFrame:
    """One row per (term, level) of the sweep (:data:`TABLE_COLUMNS`): the level's knob and benchmark,
    its structure measure (mean over the seeds with an effect), the term's paired effect in AVG mAP
    points (``avg[readout]``; Soft-NMS: ``avg[readout]`` minus ``avg_nms[readout]`` of the same runs)
    with ``ci``'s interval, the per-seed values the trend test reads, and the mean AVG of the two
    sides (``with_avg``, ``without_avg``: Soft-NMS and NMS for Soft-NMS).

    ``records``: :func:`himnet_lib.study.run_table.run_records` of
    :func:`himnet_lib.study.mechanisms.mechanism_specs`; ``structure``:
    :func:`himnet_lib.study.mechanisms.structure_records`."""
    rows = []
    for m in MECHANISMS:
        for i, level in enumerate(levels(m.term, profile)):
            bench = level_benchmark(profile, level)
            a, b = _effect_sides(records, m, bench, readout)
            shared = sorted(set(a) & set(b))
            effects = {s: a[s] - b[s] for s in shared}
            xs = _structure(structure, m.measure, bench, shared, profile)
            iv = ci(a, b)
            rows.append({"term": m.term, "knob": _knob(level), "level": i, "benchmark": bench, "measure": m.measure,
                         "structure": float(np.mean(list(xs.values()))) if xs else _NAN,
                         "effect": iv.effect if shared else _NAN, "ci_lo": iv.lo, "ci_hi": iv.hi,
                         "n_seeds": len(shared), "seeds": " ".join(map(str, shared)),
                         "seed_structures": _fmt_seeds(xs), "seed_effects": _fmt_seeds(effects),
                         "compared": m.compared, "readout": readout,
                         "with_avg": _mean(a, shared), "without_avg": _mean(b, shared)})
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _points(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Per-seed (level, seed, structure, effect) of table rows (their seed columns)."""
    pts = []
    for r in rows.to_dict("records"):
        seeds = [int(s) for s in str(r["seeds"]).split()] if isinstance(r["seeds"], str) else []
        xs = [float(v) for v in str(r["seed_structures"]).split()] if isinstance(r["seed_structures"], str) else []
        ds = [float(v) for v in str(r["seed_effects"]).split()] if isinstance(r["seed_effects"], str) else []
        if len(xs) != len(seeds):  # a seed without a structure value: the level's mean stands in
            xs = [float(r["structure"])] * len(seeds)
        pts += [{"level": r["level"], "seed": s, "structure": x, "effect": d} for s, x, d in zip(seeds, xs, ds)]
    return pts


FAIL_MARGIN = 1.0  # AVG points: a control "fails" only when its top-level CI rules out a gain this large
# the two ways a control reverses: they call for different explanations (a term that hurts where its
# structure is strong, or a gain that comes from something other than the planted structure)
REVERSED_HURTS = "reversed: hurts where the structure is strongest"
REVERSED_SHRINKS = "reversed: the gain shrinks as the structure grows"


def control_verdict(trend: Trend, top: Mapping[str, Any], margin: float = FAIL_MARGIN) -> str:
    """The positive control's verdict: "holds" when the effect grows with the structure (slope CI above
    0) and is clearly positive at the strongest level (its CI above 0); "reversed: ..." when either is
    clearly negative (:data:`REVERSED_HURTS` at the top, else :data:`REVERSED_SHRINKS`);
    "partial: ..." for one of the two; "fails: ..." when neither and the strongest
    level's CI rules out a gain of ``margin`` points (the term does nothing where its structure is
    strong); "inconclusive: ..." when that CI is too wide to rule it out; "n/a" without the seeds for
    a CI, "n/a (read-out degenerate)" when either side of the strongest level finds almost nothing
    (mean AVG below the claims table's :data:`~himnet_lib.study.claims_cells.DEGENERATE_AVG`)."""
    grows, falls = trend.lo > 0, trend.hi < 0
    top_pos, top_neg = top["ci_lo"] > 0, top["ci_hi"] < 0
    if not (math.isfinite(trend.lo) and math.isfinite(float(top["ci_lo"]))):
        return "n/a"
    if min(float(top.get("with_avg", math.inf)), float(top.get("without_avg", math.inf))) < DEGENERATE_AVG:
        return "n/a (read-out degenerate)"
    if top_neg:
        return REVERSED_HURTS
    if falls:
        return REVERSED_SHRINKS
    if grows and top_pos:
        return "holds"
    if grows:
        return "partial: grows, but not clearly positive at the top"
    if top_pos:
        return "partial: positive at the top, no clear trend"
    if top["ci_hi"] < margin:
        return f"fails: no effect where the structure is strongest (CI below +{margin:g})"
    return "inconclusive: CI too wide to rule out a gain"


def linked_claims(term: str) -> tuple[str, ...]:
    """The declared claims (:func:`himnet_lib.study.claims.declared_claims`) whose verdict the term's
    control backs: those comparing the term's two Table 3 rows; Soft-NMS: the NMS claim."""
    m = mechanism(term)
    if term == SOFT_NMS:
        return tuple(c.name for c in claims.declared_claims() if c.kind == "nms")
    with_, without = m.rows
    return tuple(c.name for c in claims.declared_claims()
                 if c.kind == "diff" and c.better == ("table3", with_) and c.worse == ("table3", without))


def claim_controls(trends: pd.DataFrame) -> dict[str, str]:
    """claim name -> "<TERM> positive control: <verdict>" for every claim a control backs
    (:func:`linked_claims`): the column the claims table or the findings can show beside a verdict."""
    return {c: f"{mechanism(r['term']).name} positive control: {r['verdict']}"
            for r in trends.to_dict("records") for c in linked_claims(r["term"])}


def trend_table(table: pd.DataFrame, trend: TrendTest = seed_slope_trend,
                verdict: Callable[[Trend, Mapping[str, Any]], str] = control_verdict) -> pd.DataFrame:
    """One row per term (:data:`TREND_COLUMNS`): the trend test over its levels' per-seed points, the
    strongest level (highest mean structure) with its effect and CI, the control's verdict and the
    claims it backs (``; ``-joined)."""
    rows = []
    for m in MECHANISMS:
        mine = table[(table["term"] == m.term) & table["structure"].notna()]
        if mine.empty:
            continue
        t = trend(_points(mine))
        top = mine.loc[mine["structure"].idxmax()]
        rows.append({"term": m.term, "measure": m.measure, "levels": len(mine), "n_seeds": t.n, "slope": t.slope,
                     "slope_lo": t.lo, "slope_hi": t.hi, "kendall_tau": t.tau, "kendall_p": t.tau_p,
                     "top_knob": top["knob"], "top_structure": top["structure"], "top_effect": top["effect"],
                     "top_lo": top["ci_lo"], "top_hi": top["ci_hi"], "verdict": verdict(t, top),
                     "claims": "; ".join(linked_claims(m.term))})
    return pd.DataFrame(rows, columns=list(TREND_COLUMNS))


def positions_table(structure: Sequence[Mapping[str, Any]], profile: str) -> pd.DataFrame:
    """Where the profile's benchmarks (role "benchmark") and every variant of the sweep (role "level of
    <term>") sit on each term's axis: the mean of the term's measure over their draws (data measures)
    or MIL-only runs (model measures), with how many entered; NaN where none was measured."""
    places: dict[str, str] = {b: "benchmark" for b in grids.benchmarks(profile)}
    for m in MECHANISMS:
        for level in levels(m.term, profile):
            places.setdefault(level_benchmark(profile, level), f"level of {m.name}")
    rows = []
    for m in MECHANISMS:
        model = MEASURES[m.measure][1] == "model"
        for bench, role in places.items():
            vals = [float(r[m.measure]) for r in structure if r["benchmark"] == bench
                    and (r["seed"] is not None) == model and r.get(m.measure) is not None
                    and math.isfinite(float(r[m.measure]))]
            rows.append({"term": m.term, "measure": m.measure, "benchmark": bench, "role": role,
                         "value": float(np.mean(vals)) if vals else _NAN, "n": len(vals)})
    for measure, (_, source) in MEASURES.items():  # the other measures, for the benchmarks only
        if measure in {m.measure for m in MECHANISMS}:
            continue
        for bench in grids.benchmarks(profile):
            vals = [float(r[measure]) for r in structure if r["benchmark"] == bench
                    and (r["seed"] is not None) == (source == "model") and r.get(measure) is not None
                    and math.isfinite(float(r[measure]))]
            rows.append({"term": "-", "measure": measure, "benchmark": bench, "role": "benchmark",
                         "value": float(np.mean(vals)) if vals else _NAN, "n": len(vals)})
    return pd.DataFrame(rows, columns=list(POSITION_COLUMNS))


def _num(v: float, digits: int = 2) -> str:
    return f"{v:+.{digits}f}" if math.isfinite(v) else "n/a"


def _plain(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}g}" if math.isfinite(v) else "n/a"


def _benchmark_places(positions: pd.DataFrame, term: str) -> str:
    rows = positions[(positions["term"] == term) & (positions["role"] == "benchmark")]
    return ", ".join(f"{r.benchmark} at {_plain(r.value)}" for r in rows.itertuples())


def when_each_term_helps(trends: pd.DataFrame, positions: pd.DataFrame) -> list[str]:
    """One sentence per term for the findings' "when each term helps", from the trend table and the
    benchmarks' positions (a term without levels gets none)."""
    out = []
    for r in trends.to_dict("records"):
        m = mechanism(r["term"])
        measure = MEASURES[m.measure][0]
        where = _benchmark_places(positions, m.term)
        slope = (f"slope {_num(r['slope'])} AVG points per unit [{_num(r['slope_lo'])}, {_num(r['slope_hi'])}], "
                 f"{r['n_seeds']} seeds")
        top = (f"{_num(r['top_effect'])} [{_num(r['top_lo'])}, {_num(r['top_hi'])}] AVG points at "
               f"{r['top_knob']} ({measure} {_plain(r['top_structure'])})")
        if r["verdict"] == "holds":
            s = (f"{m.name} helps where its structure is: its gain ({m.compared}) grows with the {measure} "
                 f"({slope}) and is {top}")
        elif r["verdict"].startswith("partial"):
            s = f"{m.name}'s control holds only in part ({r['verdict'][9:]}): {top}; {slope}"
        elif r["verdict"].startswith("n/a"):
            s = f"{m.name}: no verdict ({r['verdict']}; {top}; {slope})"
        elif r["verdict"].startswith("inconclusive"):
            s = (f"{m.name}: inconclusive, the seeds do not rule out a gain where its structure is strongest "
                 f"({top}; {slope})")
        elif r["verdict"] == REVERSED_SHRINKS:
            s = (f"{m.name}'s positive control reverses: its gain ({m.compared}) shrinks as the {measure} grows "
                 f"({slope}), to {top}; the gain it brings comes from something other than the structure "
                 "this knob plants")
        else:
            hurts = r["verdict"] == REVERSED_HURTS
            s = (f"{m.name}'s positive control {'reverses' if hurts else 'fails'}: even at "
                 f"{r['top_knob']} ({measure} {_plain(r['top_structure'])}) adding it changes AVG by "
                 f"{_num(r['top_effect'])} [{_num(r['top_lo'])}, {_num(r['top_hi'])}] ({slope}); a term that "
                 f"{'hurts' if hurts else 'does nothing'} where its structure is strong points first at our "
                 "implementation, then at the term")
        out.append(s + (f"; on this axis {where}." if where else "."))
    return out


def mechanisms_markdown(table: pd.DataFrame) -> str:
    cols = ["term", "knob", "benchmark", "measure", "structure", "effect (AVG pts)", "95% CI", "seeds"]
    rows = [[r.term, r.knob, r.benchmark, r.measure, _plain(r.structure), _num(r.effect),
             f"[{_num(r.ci_lo)}, {_num(r.ci_hi)}]", r.seeds or "-"] for r in table.itertuples()]
    return markdown.table(cols, rows) + "\n"


def trends_markdown(trends: pd.DataFrame) -> str:
    cols = ["term", "measure", "levels", "seeds", "slope [95% CI]", "Kendall τ (p)", "strongest level", "effect there",
            "verdict", "claims it backs"]
    rows = [[r.term, r.measure, r.levels, r.n_seeds, f"{_num(r.slope)} [{_num(r.slope_lo)}, {_num(r.slope_hi)}]",
             f"{_plain(r.kendall_tau, 2)} ({_plain(r.kendall_p, 2)})", f"{r.top_knob} ({_plain(r.top_structure)})",
             f"{_num(r.top_effect)} [{_num(r.top_lo)}, {_num(r.top_hi)}]", r.verdict, r.claims or "-"]
            for r in trends.itertuples()]
    return markdown.table(cols, rows) + "\n"


def positions_markdown(positions: pd.DataFrame) -> str:
    rows = [[r.term, r.measure, r.benchmark, r.role, _plain(r.value), r.n] for r in positions.itertuples()]
    return markdown.table(list(POSITION_COLUMNS), rows) + "\n"


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, float_format="%.6g", lineterminator="\n")


def write_mechanisms(table: pd.DataFrame, trends: pd.DataFrame, positions: pd.DataFrame, out_dir) -> list[Path]:
    """``mechanisms.{csv,md}``, ``mechanism_trends.{csv,md}``, ``mechanism_positions.{csv,md}``."""
    out = Path(out_dir)
    files = []
    for name, df, md in (("mechanisms", table, mechanisms_markdown), ("mechanism_trends", trends, trends_markdown),
                         ("mechanism_positions", positions, positions_markdown)):
        files += [atomic_write_text(out / f"{name}.csv", _csv(df)), markdown.write(out / f"{name}.md", md(df))]
    return files


def read_map(tables_dir) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None:
    """(table, trends, positions) written by :func:`write_mechanisms` in ``tables_dir``, or None when
    any is missing."""
    d = Path(tables_dir)
    paths = [d / f"{n}.csv" for n in ("mechanisms", "mechanism_trends", "mechanism_positions")]
    if not all(p.is_file() for p in paths):
        return None
    table, trends, positions = (pd.read_csv(p, keep_default_na=True, dtype={"seeds": str, "seed_structures": str,
                                                                             "seed_effects": str}) for p in paths)
    return table, trends, positions


def _map_says(term: str, value: float, table: pd.DataFrame, trends: pd.DataFrame) -> str:
    """What the map says of a dataset whose measure for ``term`` is ``value``."""
    mine = table[(table["term"] == term) & table["structure"].notna()].sort_values("structure")
    tr = trends[trends["term"] == term]
    if mine.empty or tr.empty:
        return "no levels of this term in the map"
    verdict = str(tr["verdict"].iloc[0])
    helped = mine[mine["ci_lo"] > 0]
    lo, hi = float(mine["structure"].iloc[0]), float(mine["structure"].iloc[-1])
    if not helped.size:
        return (f"the control shows no clear gain at any level tried ({_plain(lo)} to {_plain(hi)}; verdict: "
                f"{verdict}): the map gives no reason to expect one")
    onset = helped.iloc[0]
    first = (f"first clearly positive at {_plain(float(onset['structure']))} "
             f"({_num(float(onset['effect']))} [{_num(float(onset['ci_lo']))}, {_num(float(onset['ci_hi']))}])")
    if value >= float(onset["structure"]):
        beyond = f", beyond the map's strongest level ({_plain(hi)})" if value > hi else ""
        return f"something to work on: at or above where the control's gain was {first}{beyond}; verdict: {verdict}"
    return f"little to work on: below where the control's gain was {first}; verdict: {verdict}"


def diagnosis(measures: Mapping[str, float], tables: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None,
              notes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The structure table of one dataset: per term its measure's value (``measures``; NaN: not
    measurable, with the reason in ``notes``), the benchmarks' values on the same axis and what the
    map says (:func:`read_map`'s tables; without a map only the values). Extra measures of
    :data:`MEASURES` follow as rows with term "-"."""
    notes = dict(notes or {})
    table, trends, positions = tables if tables is not None else (None, None, None)
    bench_names = [] if positions is None else list(dict.fromkeys(
        positions.loc[positions["role"] == "benchmark", "benchmark"]))
    rows = []
    terms = [(m.term, m.measure) for m in MECHANISMS]
    extra = [("-", k) for k in MEASURES if k not in {m.measure for m in MECHANISMS}]
    for term, measure in terms + extra:
        v = float(measures.get(measure, _NAN))
        row: dict[str, Any] = {"term": term, "measure": measure, "value": v}
        for b in bench_names:
            assert positions is not None
            hit = positions[(positions["measure"] == measure) & (positions["benchmark"] == b)]
            row[b] = float(hit["value"].iloc[0]) if len(hit) else _NAN
        if measure in notes:
            says = notes[measure]
        elif term == "-":
            says = "informational"
        elif not math.isfinite(v):
            says = "not measurable on this data"
        elif table is None:
            says = "no mechanism map found (run notebook 12_mechanisms, or pass --map)"
        else:
            says = _map_says(term, v, table, trends)
        row["map says"] = says
        rows.append(row)
    return pd.DataFrame(rows)


def diagnosis_markdown(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    rows = [[_plain(r[c]) if isinstance(r[c], float) else str(r[c]) for c in cols] for r in df.to_dict("records")]
    return markdown.table(cols, rows) + "\n"
