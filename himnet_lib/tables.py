"""Tables built from run records only (``metrics.json``, ``history.csv``): per-run metric rows,
mean ± std over seeds, the attention diagnostics, the read-out comparison and the schedule
selection on the validation fold. The notebooks call these and display the result."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from . import markdown, paper, study
from .diagnostics import DIAGNOSTIC_KEYS, background_uncertainty
from .errors import RunError
from .io import atomic_write_text
from .metrics import ACC_SPLITS, snippet_memberships
from .readouts import READOUT_NAMES, READOUTS, readout_key, relocalize
from .rundir import RunDir
from .study import RunSpec, benchmarks
from .terms import ABLATION_TERMS

__all__ = ["run_metrics", "summarize", "diagnostics_table", "readout_table", "selection_curves",
           "selection_table", "schedule_choice", "collect", "mean_std", "write_table", "relocalized",
           "comparison_table", "copy_stats", "table3", "with_alpha", "alpha_table", "background_values",
           "uncertainty_table", "table4", "table5", "table1", "table1_peers", "trivial_row", "paper_table",
           "with_paper", "without_stats", "pooled", "POST_PROCESSING_NAMES"]

# run_metrics column suffix -> by_readout key: "fixed", "minmax" (Soft-NMS) and "<name>_nms"
READOUT_COLUMNS = {READOUT_NAMES[norm] + ("" if nms == "soft" else "_nms"): readout_key(norm, nms)
                   for norm, nms in READOUTS}


# the paper's snippet ACC split by foreground / background and balanced over classes (metrics.py)
ACC_NAMES = ("fg ACC", "bg ACC", "bal. ACC")


def run_metrics(specs: Iterable[RunSpec], runs_dir: str | Path) -> pd.DataFrame:
    """One row per spec: identity (table, label, seed, benchmark, reading, run_id), AVG mAP under
    each read-out (``avg[fixed]``, ``avg[minmax]``, ...; fractions), snippet / fg-bg accuracy and the
    attention diagnostics of :mod:`himnet_lib.diagnostics`."""
    rows = []
    for s in specs:
        m = RunDir(Path(runs_dir) / s.run_id).metrics()
        row = {"table": s.table, "label": s.label, "seed": s.seed, "benchmark": s.benchmark_name or "data",
               "reading": s.reading, "run_id": s.run_id, "average_mAP": m["average_mAP"],
               "snippet_acc": m["snippet_acc"], "fg_bg_acc": m["fg_bg_acc"],
               **{k: m.get(k, np.nan) for k in ACC_SPLITS}}
        for name, key in READOUT_COLUMNS.items():
            if key in m.get("by_readout", {}):
                row[f"avg[{name}]"] = m["by_readout"][key]["average_mAP"]
        for k in DIAGNOSTIC_KEYS:
            v = m.get(k)
            row[k] = np.nan if v is None else v
        rows.append(row)
    return pd.DataFrame(rows)


def summarize(df: pd.DataFrame, by: Sequence[str], metrics: Sequence[str], scale: dict[str, float] | None = None,
              order: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean and sample std over seeds of each metric per group, with ``<m>_mean``, ``<m>_std`` and a
    display column ``<m>`` ("12.3 ± 0.4", scaled by ``scale[m]``, default 100), plus ``n``."""
    scale = scale or {}
    g = df.groupby(list(by), sort=False)
    out = g.size().rename("n").reset_index()
    for m in metrics:
        k = scale.get(m, 100.0)
        mean = g[m].mean().to_numpy()
        std = g[m].std(ddof=1).fillna(0.0).to_numpy()
        out[f"{m}_mean"] = mean
        out[f"{m}_std"] = std
        digits = 1 if k == 100.0 else 3
        out[m] = [f"{k * a:.{digits}f} ± {k * b:.{digits}f}" for a, b in zip(mean, std)]
    if order is not None:
        rank = {lab: i for i, lab in enumerate(order)}
        out = out.sort_values(list(by), key=lambda c: c.map(rank) if c.name == by[-1] else c,
                              kind="stable").reset_index(drop=True)
    return out


def diagnostics_table(df: pd.DataFrame, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Per (benchmark, reading, label): fg/bg AUC and ACC, A's per-video range, B_BG on GT foreground
    vs background, the off-label argmax share, AVG mAP under both read-outs (mean ± std)."""
    metrics = ["fg_bg_auc", "fg_bg_auc_video", "fg_bg_acc", "attention_min", "attention_max", "attention_range",
               "bg_prob_on_fg", "bg_prob_on_bg", "off_label_argmax_share", "avg[fixed]", "avg[minmax]"]
    scale = {m: 1.0 for m in ("fg_bg_auc", "fg_bg_auc_video", "attention_min", "attention_max", "attention_range",
                              "bg_prob_on_fg", "bg_prob_on_bg")}
    return summarize(df, ("benchmark", "reading", "label"), [m for m in metrics if m in df.columns], scale, order)


def readout_table(df: pd.DataFrame, order: Sequence[str] | None = None) -> pd.DataFrame:
    """AVG mAP (percent) of the same runs under the fixed and the min-max read-out, per
    (benchmark, reading, label), with the display row name ``row``."""
    t = summarize(df, ("benchmark", "reading", "label"), ["avg[fixed]", "avg[minmax]"], order=order)
    t = t.rename(columns={"avg[fixed]_mean": "fixed_mean", "avg[fixed]_std": "fixed_std",
                          "avg[minmax]_mean": "minmax_mean", "avg[minmax]_std": "minmax_std",
                          "avg[fixed]": "AVG fixed", "avg[minmax]": "AVG minmax"})
    for c in ("fixed_mean", "fixed_std", "minmax_mean", "minmax_std"):
        t[c] = 100 * t[c]
    t["row"] = t["label"] + " · " + t["reading"] + " · " + t["benchmark"]
    return t


def selection_curves(specs: Iterable[RunSpec], runs_dir: str | Path) -> dict[str, pd.DataFrame]:
    """label (with seed) -> the run's ``history.csv`` rows that carry validation metrics."""
    out = {}
    for s in specs:
        h = RunDir(Path(runs_dir) / s.run_id).history()
        if "val_average_mAP" in h.columns:
            h = h[h["val_average_mAP"].notna()].reset_index(drop=True)
        label = s.label if s.benchmark in ("", benchmarks(s.profile)[0]) else f"{s.label} · {s.benchmark}"
        out[f"{label} · s{s.seed}"] = h
    return out


def selection_table(curves: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per run and evaluation iteration: validation AVG mAP (percent) under both read-outs and the
    attention AUC (long format, one row per point of the learning curves)."""
    rows = []
    for label, h in curves.items():
        for _, r in h.iterrows():
            rows.append({"run": label, "iteration": int(r["iteration"]),
                         "val AVG fixed": 100 * r.get("val_average_mAP[none/soft]", np.nan),
                         "val AVG minmax": 100 * r.get("val_average_mAP[minmax/soft]", np.nan),
                         "val fg/bg AUC": r.get("val_fg_bg_auc", np.nan)})
    return pd.DataFrame(rows)


SELECTION_TOLERANCE = 2.0   # points of AVG mAP between two evaluations that still count as a plateau


def _settled(v: np.ndarray, k: int, tol: float) -> bool:
    """No later evaluation gains ``tol`` or more on ``v[k]`` (the last one: it gained less than ``tol``)."""
    if k + 1 < len(v):
        return bool(np.nanmax(v[k + 1:]) - v[k] < tol)
    return bool(k > 0 and v[k] - v[k - 1] < tol)


def schedule_choice(curves: dict[str, pd.DataFrame], tol: float = SELECTION_TOLERANCE) -> pd.DataFrame:
    """The schedule selection on the validation fold, one row per (setting, read-out).

    ``curves``: :func:`selection_curves` of :func:`himnet_lib.study.selection_specs` (labels
    ``"Exp 1 · <setting> · s<seed>"`` and ``"Exp 4 · <setting> · s<seed>"``; seeds are averaged).
    At every evaluation the score is the mean validation AVG mAP of Exp 1 (MIL only) and Exp 4
    (full), so the schedule serves both ends of the ablation; an evaluation has converged when, for
    both rows, no later evaluation gains more than ``tol`` points on it (at the last evaluation:
    it gained less than ``tol`` since the previous one). Per row: ``best at`` / ``best score`` is
    the best converged evaluation, ``iterations`` / ``score`` the earliest converged evaluation
    within ``tol`` of it (parsimony: the study trains hundreds of runs, and a difference within
    ``tol`` on one validation fold is not a real one). ``chosen``: among the rows whose ``score`` is
    within ``tol`` of the best ``score``, the fewest ``iterations`` (then the higher score).
    """
    series: dict[tuple[str, str], list[pd.DataFrame]] = {}
    for label, h in curves.items():
        parts = label.split(" · ")
        exp, setting = parts[0], " · ".join(parts[1:-1])
        series.setdefault((setting, exp), []).append(h)
    rows = []
    for setting in dict.fromkeys(s for s, _ in series):
        for readout, col in (("fixed", "val_average_mAP[none/soft]"), ("minmax", "val_average_mAP[minmax/soft]")):
            per_exp = {}
            for exp in ("Exp 1", "Exp 4"):
                hs = series.get((setting, exp))
                if hs:
                    per_exp[exp] = (hs[0]["iteration"].to_numpy(),
                                    100 * np.mean([h[col].to_numpy() for h in hs], axis=0),
                                    np.mean([h["val_fg_bg_auc"].to_numpy() for h in hs], axis=0))
            if len(per_exp) < 2:
                continue
            n = min(len(p[0]) for p in per_exp.values())          # common evaluations (runs may differ)
            per_exp = {e: (p[0][:n], p[1][:n], p[2][:n]) for e, p in per_exp.items()}
            it = per_exp["Exp 1"][0]
            score = (per_exp["Exp 1"][1] + per_exp["Exp 4"][1]) / 2

            cands = [k for k in range(n) if all(_settled(v, k, tol) for _, v, _ in per_exp.values())]
            pool = cands or list(range(n))
            best = max(pool, key=lambda k: score[k])
            k = min(c for c in pool if score[c] >= score[best] - tol)
            row: dict = {"setting": setting, "readout": readout, "iterations": int(it[k]), "score": float(score[k]),
                         "best at": int(it[best]), "best score": float(score[best])}
            for exp, (_, v, auc) in per_exp.items():
                row[f"{exp} val AVG"] = float(v[k])
                row[f"{exp} val AUC"] = float(auc[k])
            row["converged"] = bool(cands)
            rows.append(row)
    out = pd.DataFrame(rows)
    if len(out):
        pool = out[out["converged"]] if out["converged"].any() else out
        near = pool[pool["score"] >= pool["score"].max() - tol]
        pick = near.sort_values(["iterations", "score"], ascending=[True, False], kind="stable").index[0]
        out["chosen"] = out.index == pick
    return out
def collect(specs: Iterable[RunSpec], runs_dir: str | os.PathLike):
    """One row per spec with its metrics (fractions) read from ``<runs_dir>/<run_id>/metrics.json``."""
    rows = []
    for s in specs:
        run = RunDir(Path(runs_dir) / s.run_id)
        if not run.metrics_path.exists():
            raise RunError(f"run {s.run_id} ({s.table} {s.label}, seed {s.seed}) has no {run.METRICS} in {runs_dir}; "
                           "train it first (runs.run_specs or himnet reproduce)")
        m = run.metrics()
        row = {"table": s.table, "label": s.label, "seed": s.seed, "run_id": s.run_id,
               "average_mAP": m["average_mAP"], "average_mAP_0.1_0.5": m.get("average_mAP_0.1_0.5"),
               "snippet_acc": m["snippet_acc"], "fg_bg_acc": m["fg_bg_acc"],
               **{k: m.get(k, np.nan) for k in ACC_SPLITS},
               "wall_time_s": m.get("wall_time_s"), "selection": m.get("selection")}
        for t, v in zip(m["tiou"], m["mAP"]):
            row[f"mAP@{t:g}"] = v
        rows.append(row)
    return pd.DataFrame(rows)


def mean_std(df, by: Sequence[str] = ("label",), metrics: Sequence[str] = ("average_mAP", "snippet_acc"),
             order: Sequence[str] | None = None):
    """Mean and sample std over seeds per row, plus a "45.1 ± 0.1" column per metric (percent):
    :func:`summarize` of one grouping with every metric in percent."""
    return summarize(df, by, metrics, order=order)


def write_table(df, name: str, out_dir: str | os.PathLike, float_format: str = "%.4f") -> list[Path]:
    """``<out_dir>/<name>.csv`` (fixed column order, no index) and ``<name>.md``, written atomically."""
    out_dir = Path(out_dir)
    csv_text = df.to_csv(index=False, float_format=float_format, lineterminator="\n")
    md_text = _markdown(df) + "\n"
    return [atomic_write_text(out_dir / f"{name}.csv", csv_text), atomic_write_text(out_dir / f"{name}.md", md_text)]


md_cell = markdown.cell


def _markdown(df) -> str:
    return markdown.table(list(df.columns), ([f"{v:.4f}" if isinstance(v, float) else v for v in r[df.columns]]
                                             for _, r in df.iterrows()))


POST_PROCESSING_NAMES = {"nms": "NMS", "soft": "Soft-NMS"}  # localize.nms value -> display name


def relocalized(specs: Sequence[RunSpec], ds, runs_dir: str | os.PathLike,
                post_processing: Sequence[str] = ("nms", "soft"), label_suffix: str = ""):
    """Score every finished run under each ``localize.nms`` setting from its saved outputs (no
    retraining): one row per (run, post-processing) with per-tIoU mAP and both THUMOS averages.
    The run's own setting must reproduce its ``metrics.json`` (checked)."""
    names = POST_PROCESSING_NAMES
    rows = []
    for spec in specs:
        run_dir = Path(runs_dir) / spec.run_id
        own = RunDir(run_dir).metrics()["average_mAP"]
        for pp in post_processing:
            m, _ = relocalize(run_dir, ds, {"localize.nms": pp}, readouts=False)
            if pp == spec.config().localize.nms and not np.isclose(m["average_mAP"], own):
                raise RunError(f"re-localizing {spec.run_id} with its own settings gives {m['average_mAP']} "
                               f"but its metrics.json says {own}")
            row = {"Method": spec.label + label_suffix, "Post-processing": names.get(pp, pp),
                   "seed": spec.seed, "run_id": spec.run_id,
                   "average_mAP_0.1_0.5": m.get("average_mAP_0.1_0.5"), "average_mAP": m["average_mAP"]}
            row.update({f"mAP@{t:g}": v for t, v in zip(m["tiou"], m["mAP"])})
            rows.append(row)
    df = pd.DataFrame(rows)
    df["row"] = df["Method"] + " · " + df["Post-processing"]
    return df


def comparison_table(df, order: Sequence[str]):
    """Mean ± std per (method, post-processing) row of :func:`relocalized` output, Table 1 layout."""
    tious = [c for c in df.columns if c.startswith("mAP@")]
    metrics = (*tious, "average_mAP_0.1_0.5", "average_mAP")
    stats = mean_std(df, by=("row",), metrics=metrics, order=order)
    table = df.drop_duplicates("row").set_index("row")[["Method", "Post-processing"]].loc[stats["row"]]
    table = table.reset_index(drop=True)
    column = {"average_mAP_0.1_0.5": "AVG 0.1:0.5", "average_mAP": "AVG 0.1:0.7"}
    for m in metrics:
        table[column.get(m, m.removeprefix("mAP@"))] = stats[m]
    table["n"] = stats["n"]
    return copy_stats(table, stats, metrics)


# --- the study tables (one builder per notebook table) ------------------------------------------

def copy_stats(table: pd.DataFrame, stats: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Append ``<m>_mean`` and ``<m>_std`` of each metric (in that order) from :func:`mean_std`
    output ``stats`` to ``table`` (same rows, same order); returns ``table``."""
    for m in metrics:
        table[f"{m}_mean"] = stats[f"{m}_mean"].to_numpy()
        table[f"{m}_std"] = stats[f"{m}_std"].to_numpy()
    return table


def _display_columns(table: pd.DataFrame, stats: pd.DataFrame, metrics: Sequence[str],
                     names: Sequence[str]) -> None:
    for m, col in zip(metrics, names):
        table[col] = stats[m].to_numpy()


def table3(df: pd.DataFrame, rows: Sequence[tuple[str, Sequence[str]]] = study.TABLE3_ROWS) -> pd.DataFrame:
    """Table 3 from :func:`collect` rows: Exp, a check mark per loss term, AVG and ACC (mean ± std,
    percent), n, then the means and stds (fractions). ``rows``: (label, loss terms) in paper order."""
    terms = dict(rows)
    splits = [(m, n) for m, n in zip(ACC_SPLITS, ACC_NAMES) if m in df.columns]  # older records lack them
    metrics = ("average_mAP", "snippet_acc", *(m for m, _ in splits))
    stats = mean_std(df, metrics=metrics, order=[label for label, _ in rows])
    table = pd.DataFrame({"Exp": stats["label"]})
    for term in ABLATION_TERMS:
        table[f"L_{term.upper()}"] = ["✓" if term in terms[label] else "" for label in stats["label"]]
    _display_columns(table, stats, metrics, ("AVG", "ACC", *(n for _, n in splits)))
    table["n"] = stats["n"]
    return copy_stats(table, stats, metrics)


def with_alpha(df: pd.DataFrame, specs: Iterable[RunSpec]) -> pd.DataFrame:
    """A copy of :func:`collect` rows with an ``alpha`` column: each label's ``loss.alpha`` override."""
    alpha_of = {s.label: float(dict(s.overrides)["loss.alpha"]) for s in specs}
    out = df.copy()
    out["alpha"] = out["label"].map(alpha_of)
    return out


def alpha_table(df: pd.DataFrame) -> pd.DataFrame:
    """The table behind Fig. 6 from :func:`with_alpha` rows: :func:`mean_std` of AVG and ACC per
    label (order of first appearance) with the label's α as the second column."""
    order = list(dict.fromkeys(df["label"]))
    table = mean_std(df, metrics=("average_mAP", "snippet_acc"), order=order)
    alpha_of = dict(zip(df["label"], df["alpha"]))
    table.insert(1, "alpha", table["label"].map(alpha_of))
    return table


def background_values(specs: Sequence[RunSpec], ds, runs_dir: str | os.PathLike) -> dict[str, list[np.ndarray]]:
    """label -> one array per run (seed) of U(B_BG||1-A) on the ground-truth background snippets of
    every test video (:func:`himnet_lib.diagnostics.background_uncertainty`, the run's own α and KL)."""
    videos = ds.test_videos()
    members = snippet_memberships(ds, videos)
    values: dict[str, list[np.ndarray]] = {}
    for spec in specs:
        lcfg = spec.config().loss
        values.setdefault(spec.label, []).append(background_uncertainty(
            RunDir(Path(runs_dir) / spec.run_id).outputs(), videos, members, alpha=lcfg.alpha, kl=lcfg.scl_kl))
    return values


def pooled(values_by_label: dict[str, np.ndarray | Sequence[np.ndarray]]) -> dict[str, np.ndarray]:
    """label -> one array: the per-run arrays of :func:`background_values` concatenated."""
    return {label: np.asarray(v) if isinstance(v, np.ndarray) else np.concatenate(list(v))
            for label, v in values_by_label.items()}


def uncertainty_table(values_by_label: dict[str, np.ndarray | Sequence[np.ndarray]],
                      specs: Iterable[RunSpec]) -> pd.DataFrame:
    """Fig. 7's summary per model: runs, background snippets (pooled over runs), mean and median U
    and the share of U > 0.5."""
    specs = list(specs)
    return pd.DataFrame([
        {"model": label, "runs": sum(s.label == label for s in specs), "background_snippets": int(u.size),
         "U_mean": float(u.mean()), "U_median": float(np.median(u)), "frac_U_gt_0.5": float((u > 0.5).mean())}
        for label, u in pooled(values_by_label).items()
    ])


TABLE4_ORDER = tuple(label for label, _ in study.TABLE4_ROWS)
TABLE4_METRICS = ("mAP@0.1", "mAP@0.3", "mAP@0.5", "mAP@0.7", "average_mAP", "fg_bg_acc")


def table4(df: pd.DataFrame, order: Sequence[str] = TABLE4_ORDER) -> pd.DataFrame:
    """Table 4 from :func:`collect` rows: Method, mAP at 0.1/0.3/0.5/0.7, AVG and ACC (fg/bg
    accuracy of A) as mean ± std (percent), n, then the means and stds (fractions)."""
    stats = mean_std(df, metrics=TABLE4_METRICS, order=order)
    table = pd.DataFrame({"Method": stats["label"]})
    _display_columns(table, stats, TABLE4_METRICS, ("0.1", "0.3", "0.5", "0.7", "AVG", "ACC"))
    table["n"] = stats["n"]
    return copy_stats(table, stats, TABLE4_METRICS)


TABLE5_METRICS = ("mAP@0.1", "mAP@0.3", "mAP@0.5", "mAP@0.7", "average_mAP", "snippet_acc")
FRAMEWORK = {"basnet": "BaS-Net", "hamnet": "HAM-Net"}


def table5(df: pd.DataFrame, rows: Sequence[tuple[str, dict]] = study.TABLE5_ROWS,
           base_rows: Sequence[str] = study.TABLE5_BASE_ROWS,
           display: dict[str, str] | None = None) -> pd.DataFrame:
    """Table 5 from :func:`collect` rows: Framework, Method (paper's name), mAP at 0.1/0.3/0.5/0.7,
    AVG, Δ (the row's mean AVG minus its framework's base row's, in points, "-" on a base row),
    ACC, n, label, ``delta_avg_points`` and the means and stds (fractions). A base row's label is
    its framework's display name (``FRAMEWORK``)."""
    display = study.TABLE5_DISPLAY if display is None else display
    model = {label: over["train.model"] for label, over in rows}
    stats = mean_std(df, metrics=TABLE5_METRICS, order=[label for label, _ in rows])
    framework = [FRAMEWORK[model[label]] for label in stats["label"]]
    base_avg = dict(zip(stats["label"], stats["average_mAP_mean"]))
    delta = [100 * (m - base_avg[f]) for m, f in zip(stats["average_mAP_mean"], framework)]
    table = pd.DataFrame({"Framework": framework, "Method": [display[lab] for lab in stats["label"]]})
    _display_columns(table, stats, TABLE5_METRICS, ("0.1", "0.3", "0.5", "0.7", "AVG", "ACC"))
    table.insert(table.columns.get_loc("AVG") + 1, "Δ",
                 ["-" if lab in base_rows else f"{d:+.1f}" for lab, d in zip(stats["label"], delta)])
    table["n"] = stats["n"].to_numpy()
    table["label"] = stats["label"].to_numpy()
    table["delta_avg_points"] = delta
    return copy_stats(table, stats, TABLE5_METRICS)


def trivial_row(metrics: dict) -> dict:
    """Table 1's row of the trivial reference predictor from its ``evaluate_results(...).to_json()``."""
    row = {"Method": "Trivial: whole video per labelled class", "Post-processing": "-", "n": 1,
           "AVG 0.1:0.5": f"{100 * metrics['average_mAP_0.1_0.5']:.1f}",
           "AVG 0.1:0.7": f"{100 * metrics['average_mAP']:.1f}",
           "average_mAP_0.1_0.5_mean": metrics["average_mAP_0.1_0.5"], "average_mAP_mean": metrics["average_mAP"]}
    row.update({f"{t:g}": f"{100 * v:.1f}" for t, v in zip(metrics["tiou"], metrics["mAP"])})
    row.update({f"mAP@{t:g}_mean": v for t, v in zip(metrics["tiou"], metrics["mAP"])})
    return row


TABLE1_LABELS = tuple(label for label, _ in study.TABLE1_ROWS)


def _pp_order(labels: Iterable[str], post_processing: Sequence[str], suffix: str = "") -> list[str]:
    return [f"{label}{suffix} · {POST_PROCESSING_NAMES.get(pp, pp)}" for label in labels for pp in post_processing]


def table1(df: pd.DataFrame, post_processing: Sequence[str], trivial: dict | None = None,
           labels: Sequence[str] = TABLE1_LABELS) -> pd.DataFrame:
    """Table 1 on our data from :func:`relocalized` rows: :func:`comparison_table` in the order
    (label, post-processing), plus the trivial predictor's row (:func:`trivial_row` of ``trivial``)."""
    table = comparison_table(df, _pp_order(labels, post_processing))
    if trivial is not None:
        table = pd.concat([table, pd.DataFrame([trivial_row(trivial)])], ignore_index=True)
    return table


def table1_peers(df: pd.DataFrame, post_processing: Sequence[str],
                 labels: Sequence[str] = study.TABLE5_BASE_ROWS,
                 suffix: str = " (re-implemented)") -> pd.DataFrame:
    """The re-implemented peers' Table 1 rows from :func:`relocalized` rows (``label_suffix=suffix``)."""
    return comparison_table(df, _pp_order(labels, post_processing, suffix))


def without_stats(*tables: pd.DataFrame) -> pd.DataFrame:
    """The display columns (no ``_mean`` / ``_std``) of the last table, rows of all tables stacked."""
    shown = [c for c in tables[-1].columns if not c.endswith(("_mean", "_std"))]
    return pd.concat([t[shown] for t in tables], ignore_index=True)


def paper_table(kind: str) -> pd.DataFrame:
    """The paper's published numbers (:mod:`himnet_lib.paper`) as a table; ``kind``: table3 |
    table4 | table5 | table1_2 | table1_peers."""
    if kind == "table3":
        return pd.DataFrame(
            [(exp, f"{a:.1f} ± {sa:.1f}", f"{c:.1f} ± {sc:.1f}") for exp, (a, sa, c, sc) in paper.TABLE3.items()],
            columns=["Exp", "paper AVG (THUMOS14)", "paper ACC (THUMOS14)"])
    if kind == "table4":
        return pd.DataFrame(
            [(row, *values) for row, values in paper.TABLE4.items()],
            columns=["Method", "paper 0.1", "paper 0.3", "paper 0.5", "paper 0.7", "paper AVG", "paper ACC"])
    if kind == "table5":
        return pd.DataFrame(
            [(fw, row, *v[:5], "-" if v[5] is None else f"{v[5]:+.1f}") for (fw, row), v in paper.TABLE5.items()],
            columns=["Framework", "Method", "paper 0.1", "paper 0.3", "paper 0.5", "paper 0.7", "paper AVG",
                     "paper Δ"])
    if kind == "table1_2":
        cols = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.75", "0.95", "AVG"]
        rows = pd.DataFrame(
            [(table_name, dataset, "HiM-Net", pp, *(values.get(c) for c in cols))
             for (table_name, dataset, pp), values in paper.TABLE1_2.items()],
            columns=["Table", "Dataset", "Method", "Post-processing", *cols])
        return rows.astype(object).map(
            lambda v: "" if v is None or v != v else f"{v:.1f}" if isinstance(v, float) else v)
    if kind == "table1_peers":
        cols = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "AVG"]
        return pd.DataFrame(
            [(method, pp, *(values[c] for c in cols)) for (method, pp), values in paper.TABLE1_PEERS.items()],
            columns=["Method", "Post-processing", *cols[:-1], "AVG 0.1:0.5"])
    raise ValueError(f"paper_table: unknown kind {kind!r}")


def with_paper(table: pd.DataFrame, kind: str, profile: str) -> pd.DataFrame:
    """Our table (:func:`table3` / :func:`table4` / :func:`table5`) beside the paper's THUMOS14
    numbers: our display columns renamed "<col> (<profile>)", then the paper's, rows matched by name."""
    if kind == "table3":
        ours = table[["Exp", *(f"L_{t.upper()}" for t in ABLATION_TERMS), "AVG", "ACC", "n"]]
        side = ours.merge(paper_table("table3"), on="Exp", how="left")
        return side.rename(columns={"AVG": f"AVG ({profile})", "ACC": f"ACC ({profile})"})
    if kind == "table4":
        keys, cols, theirs = ["Method"], ["AVG", "ACC"], ["paper AVG", "paper ACC"]
    elif kind == "table5":
        keys, cols, theirs = ["Framework", "Method"], ["AVG", "Δ"], ["paper AVG", "paper Δ"]
    else:
        raise ValueError(f"with_paper: unknown kind {kind!r}")
    side = table[[*keys, *cols, "n"]].rename(columns={c: f"{c} ({profile})" for c in cols})
    side = side.merge(paper_table(kind)[[*keys, *theirs]], on=keys, how="left")
    return side.rename(columns={c: f"{c} (THUMOS14)" for c in theirs})


# --- two versions of one table ------------------------------------------------------------------

def seed_noise_comparison(reference: pd.DataFrame, other: pd.DataFrame, key: str = "Exp",
                          metrics: Sequence[str] = ("average_mAP", "snippet_acc"),
                          names: tuple[str, str] = ("reference", "other")) -> pd.DataFrame:
    """Row by row, the difference of two tables built from different seeds' runs (e.g. Table 3
    trained in float32 and under bf16), in units of its standard error.

    Both tables carry ``<m>_mean``, ``<m>_std`` (over seeds) and ``n`` per row, as :func:`table3`
    writes them. Per row and metric: both means (x100), ``diff`` = other - reference (x100),
    ``se`` = sqrt(sd_r²/n_r + sd_o²/n_o) (x100) and ``z`` = diff / se; |z| < 2 is seed noise.
    Rows are matched on ``key``; a row missing from either table is an error."""
    ref, oth = reference.set_index(key), other.set_index(key)
    missing = sorted(set(ref.index) ^ set(oth.index))
    if missing:
        raise ValueError(f"seed_noise_comparison: rows {missing} are not in both tables")
    rows = []
    for k in ref.index:
        a, b = ref.loc[k], oth.loc[k]
        for m in metrics:
            diff = b[f"{m}_mean"] - a[f"{m}_mean"]
            se = float(np.sqrt(a[f"{m}_std"] ** 2 / a["n"] + b[f"{m}_std"] ** 2 / b["n"]))
            rows.append({key: k, "metric": m, names[0]: 100 * a[f"{m}_mean"], names[1]: 100 * b[f"{m}_mean"],
                         "diff": 100 * diff, "se": 100 * se, "z": diff / se if se > 0 else float("nan"),
                         "n": f"{int(a['n'])} / {int(b['n'])}"})
    return pd.DataFrame(rows)


def verdict_changes(reference: pd.DataFrame, other: pd.DataFrame,
                    keys: Sequence[str] = ("claim", "reading", "readout", "benchmark"),
                    names: tuple[str, str] = ("reference", "other")) -> pd.DataFrame:
    """The claims table (``claims.csv``) of two versions of the study side by side: per claim row,
    both effects ± standard errors (points) and verdicts, and whether the verdict changed. A
    verdict that changes between two versions differing only in, e.g., numeric precision sits at
    the noise boundary and should not be reported as settled. Rows missing from either are an error."""
    k = list(keys)
    for name, t in zip(names, (reference, other)):
        if t.duplicated(k).any():
            raise ValueError(f"verdict_changes: the {name} table has duplicate claim rows, e.g. "
                             f"{t[t.duplicated(k)][k].iloc[0].tolist()}")
    only = set(map(tuple, reference[k].to_numpy())) ^ set(map(tuple, other[k].to_numpy()))
    if only:
        raise ValueError(f"verdict_changes: {len(only)} claim rows are not in both tables, e.g. {sorted(only)[0]}")
    # the reference's row order (an outer merge would sort the keys)
    merged = reference.merge(other, on=k, how="left", suffixes=("_a", "_b"), validate="one_to_one")
    out = merged[k].copy()
    for tag, name in (("a", names[0]), ("b", names[1])):
        out[f"{name} effect"] = [f"{e:+.2f} ± {se:.2f}"
                                 for e, se in zip(merged[f"our_effect_{tag}"], merged[f"se_{tag}"])]
        out[f"{name} verdict"] = merged[f"verdict_{tag}"]
    out["changed"] = merged["verdict_a"] != merged["verdict_b"]
    return out
