"""The study's tables, one builder per notebook table, from run rows (:mod:`himnet_lib.study.run_table`):
Tables 1, 3, 4 and 5, the alpha sweep, the uncertainty summary, the attention diagnostics and the
read-out comparison. The notebooks call these and display the result."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from himnet_lib.config.terms import ablation_terms
from himnet_lib.evaluation.snippet_metrics import ACC_SPLITS
from himnet_lib.study import grids
from himnet_lib.study.aggregate import copy_stats, mean_std, pooled, summarize
from himnet_lib.study.grids import RunSpec
from himnet_lib.study.run_table import POST_PROCESSING_NAMES

__all__ = ["diagnostics_table", "readout_table", "comparison_table", "table3", "alpha_table", "uncertainty_table",
           "table4", "table5", "table1", "table1_peers", "trivial_row", "without_stats"]

# the paper's snippet ACC split by foreground / background and balanced over classes (metrics.py)
ACC_NAMES = ("fg ACC", "bg ACC", "bal. ACC")


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


def comparison_table(df, order: Sequence[str]):
    """Mean ± std per (method, post-processing) row of :func:`himnet_lib.study.run_table.relocalized` output,
    Table 1 layout."""
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


def _display_columns(table: pd.DataFrame, stats: pd.DataFrame, metrics: Sequence[str],
                     names: Sequence[str]) -> None:
    for m, col in zip(metrics, names):
        table[col] = stats[m].to_numpy()


def table3(df: pd.DataFrame, rows: Sequence[tuple[str, Sequence[str]]] = grids.TABLE3_ROWS) -> pd.DataFrame:
    """Table 3 from :func:`himnet_lib.study.run_table.collect` rows: Exp, a check mark per loss term, AVG and
    ACC (mean ± std, percent), n, then the means and stds (fractions). ``rows``: (label, loss terms)
    in paper order."""
    terms = dict(rows)
    splits = [(m, n) for m, n in zip(ACC_SPLITS, ACC_NAMES) if m in df.columns]  # older records lack them
    metrics = ("average_mAP", "snippet_acc", *(m for m, _ in splits))
    stats = mean_std(df, metrics=metrics, order=[label for label, _ in rows])
    table = pd.DataFrame({"Exp": stats["label"]})
    for term in ablation_terms():
        table[f"L_{term.upper()}"] = ["✓" if term in terms[label] else "" for label in stats["label"]]
    _display_columns(table, stats, metrics, ("AVG", "ACC", *(n for _, n in splits)))
    table["n"] = stats["n"]
    return copy_stats(table, stats, metrics)


def alpha_table(df: pd.DataFrame) -> pd.DataFrame:
    """The table behind Fig. 6 from :func:`himnet_lib.study.run_table.with_alpha` rows:
    :func:`himnet_lib.study.aggregate.mean_std` of AVG and ACC per label (order of first appearance) with
    the label's α as the second column."""
    order = list(dict.fromkeys(df["label"]))
    table = mean_std(df, metrics=("average_mAP", "snippet_acc"), order=order)
    alpha_of = dict(zip(df["label"], df["alpha"]))
    table.insert(1, "alpha", table["label"].map(alpha_of))
    return table


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


TABLE4_ORDER = tuple(label for label, _ in grids.TABLE4_ROWS)
TABLE4_METRICS = ("mAP@0.1", "mAP@0.3", "mAP@0.5", "mAP@0.7", "average_mAP", "fg_bg_acc")


def table4(df: pd.DataFrame, order: Sequence[str] = TABLE4_ORDER) -> pd.DataFrame:
    """Table 4 from :func:`himnet_lib.study.run_table.collect` rows: Method, mAP at 0.1/0.3/0.5/0.7, AVG and
    ACC (fg/bg accuracy of A) as mean ± std (percent), n, then the means and stds (fractions)."""
    stats = mean_std(df, metrics=TABLE4_METRICS, order=order)
    table = pd.DataFrame({"Method": stats["label"]})
    _display_columns(table, stats, TABLE4_METRICS, ("0.1", "0.3", "0.5", "0.7", "AVG", "ACC"))
    table["n"] = stats["n"]
    return copy_stats(table, stats, TABLE4_METRICS)


TABLE5_METRICS = ("mAP@0.1", "mAP@0.3", "mAP@0.5", "mAP@0.7", "average_mAP", "snippet_acc")
FRAMEWORK = {"basnet": "BaS-Net", "hamnet": "HAM-Net"}


def table5(df: pd.DataFrame, rows: Sequence[tuple[str, dict]] = grids.TABLE5_ROWS,
           base_rows: Sequence[str] = grids.TABLE5_BASE_ROWS,
           display: dict[str, str] | None = None) -> pd.DataFrame:
    """Table 5 from :func:`himnet_lib.study.run_table.collect` rows: Framework, Method (paper's name), mAP at
    0.1/0.3/0.5/0.7, AVG, Δ (the row's mean AVG minus its framework's base row's, in points, "-" on a base row),
    ACC, n, label, ``delta_avg_points`` and the means and stds (fractions). A base row's label is
    its framework's display name (``FRAMEWORK``)."""
    display = grids.TABLE5_DISPLAY if display is None else display
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


TABLE1_LABELS = tuple(label for label, _ in grids.TABLE1_ROWS)


def _pp_order(labels: Iterable[str], post_processing: Sequence[str], suffix: str = "") -> list[str]:
    return [f"{label}{suffix} · {POST_PROCESSING_NAMES.get(pp, pp)}" for label in labels for pp in post_processing]


def table1(df: pd.DataFrame, post_processing: Sequence[str], trivial: dict | None = None,
           labels: Sequence[str] = TABLE1_LABELS) -> pd.DataFrame:
    """Table 1 on our data from :func:`himnet_lib.study.run_table.relocalized` rows: :func:`comparison_table`
    in the order (label, post-processing), plus the trivial predictor's row (:func:`trivial_row` of
    ``trivial``)."""
    table = comparison_table(df, _pp_order(labels, post_processing))
    if trivial is not None:
        table = pd.concat([table, pd.DataFrame([trivial_row(trivial)])], ignore_index=True)
    return table


def table1_peers(df: pd.DataFrame, post_processing: Sequence[str],
                 labels: Sequence[str] = grids.TABLE5_BASE_ROWS,
                 suffix: str = " (re-implemented)") -> pd.DataFrame:
    """The re-implemented peers' Table 1 rows from :func:`himnet_lib.study.run_table.relocalized` rows
    (``label_suffix=suffix``)."""
    return comparison_table(df, _pp_order(labels, post_processing, suffix))


def without_stats(*tables: pd.DataFrame) -> pd.DataFrame:
    """The display columns (no ``_mean`` / ``_std``) of the last table, rows of all tables stacked."""
    shown = [c for c in tables[-1].columns if not c.endswith(("_mean", "_std"))]
    return pd.concat([t[shown] for t in tables], ignore_index=True)
