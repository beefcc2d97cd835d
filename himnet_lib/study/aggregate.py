"""Mean ± std over seeds of run rows (:mod:`himnet_lib.study.run_table`): per-group summaries with display
columns, and the per-run arrays of one label pooled."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["summarize", "mean_std", "copy_stats", "pooled"]


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


def mean_std(df, by: Sequence[str] = ("label",), metrics: Sequence[str] = ("average_mAP", "snippet_acc"),
             order: Sequence[str] | None = None):
    """Mean and sample std over seeds per row, plus a "45.1 ± 0.1" column per metric (percent):
    :func:`summarize` of one grouping with every metric in percent."""
    return summarize(df, by, metrics, order=order)


def copy_stats(table: pd.DataFrame, stats: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Append ``<m>_mean`` and ``<m>_std`` of each metric (in that order) from :func:`mean_std`
    output ``stats`` to ``table`` (same rows, same order); returns ``table``."""
    for m in metrics:
        table[f"{m}_mean"] = stats[f"{m}_mean"].to_numpy()
        table[f"{m}_std"] = stats[f"{m}_std"].to_numpy()
    return table


def pooled(values_by_label: dict[str, np.ndarray | Sequence[np.ndarray]]) -> dict[str, np.ndarray]:
    """label -> one array: the per-run arrays of :func:`himnet_lib.study.run_table.background_values` concatenated."""
    return {label: np.asarray(v) if isinstance(v, np.ndarray) else np.concatenate(list(v))
            for label, v in values_by_label.items()}
