"""The training-schedule selection on the validation fold: each selection run's learning curve, their
long table, and the schedule chosen from them."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from himnet_lib.study.grids import RunSpec
from himnet_lib.utils.run_folder import RunDir

__all__ = ["selection_curves", "selection_table", "schedule_choice", "SELECTION_TOLERANCE"]


def selection_curves(specs: Iterable[RunSpec], runs_dir: str | Path) -> dict[str, pd.DataFrame]:
    """label (with seed) -> the run's ``history.csv`` rows that carry validation metrics."""
    out = {}
    for s in specs:
        h = RunDir(Path(runs_dir) / s.run_id).history()
        if "val_average_mAP" in h.columns:
            h = h[h["val_average_mAP"].notna()].reset_index(drop=True)
        label = s.label if s.on_main_benchmark else f"{s.label} · {s.benchmark}"
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

    ``curves``: :func:`selection_curves` of :func:`himnet_lib.study.grids.selection_specs` (labels
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
