"""Rows of run records: one row per run spec, read from its run directory (``metrics.json``, the
saved outputs), for the table builders of :mod:`himnet_lib.study.tables` to summarize."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from himnet_lib.evaluation.diagnostics import DIAGNOSTIC_KEYS, background_uncertainty
from himnet_lib.evaluation.scoring import READOUT_NAMES, READOUTS, readout_key, relocalize
from himnet_lib.evaluation.snippet_metrics import ACC_SPLITS, snippet_memberships
from himnet_lib.study.grids import RunSpec
from himnet_lib.utils.errors import RunError
from himnet_lib.utils.run_folder import RunDir

__all__ = ["run_metrics", "collect", "relocalized", "with_alpha", "background_values", "READOUT_COLUMNS",
           "POST_PROCESSING_NAMES"]

# run_metrics column suffix -> by_readout key: "fixed", "minmax" (Soft-NMS) and "<name>_nms"
READOUT_COLUMNS = {READOUT_NAMES[norm] + ("" if nms == "soft" else "_nms"): readout_key(norm, nms)
                   for norm, nms in READOUTS}


def run_metrics(specs: Iterable[RunSpec], runs_dir: str | Path) -> pd.DataFrame:
    """One row per spec: identity (table, label, seed, benchmark, reading, run_id), AVG mAP under
    each read-out (``avg[fixed]``, ``avg[minmax]``, ...; fractions), snippet / fg-bg accuracy and the
    attention diagnostics of :mod:`himnet_lib.evaluation.diagnostics`."""
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


def collect(specs: Iterable[RunSpec], runs_dir: str | os.PathLike):
    """One row per spec with its metrics (fractions) read from ``<runs_dir>/<run_id>/metrics.json``."""
    rows = []
    for s in specs:
        run = RunDir(Path(runs_dir) / s.run_id)
        if not run.metrics_path.exists():
            raise RunError(f"run {s.run_id} ({s.table} {s.label}, seed {s.seed}) has no {run.METRICS} in {runs_dir}; "
                           "train it first (scheduler.run_specs or himnet reproduce)")
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


def with_alpha(df: pd.DataFrame, specs: Iterable[RunSpec]) -> pd.DataFrame:
    """A copy of :func:`collect` rows with an ``alpha`` column: each label's ``loss.alpha`` override."""
    alpha_of = {s.label: float(dict(s.overrides)["loss.alpha"]) for s in specs}
    out = df.copy()
    out["alpha"] = out["label"].map(alpha_of)
    return out


def background_values(specs: Sequence[RunSpec], ds, runs_dir: str | os.PathLike) -> dict[str, list[np.ndarray]]:
    """label -> one array per run (seed) of U(B_BG||1-A) on the ground-truth background snippets of
    every test video (:func:`himnet_lib.evaluation.diagnostics.background_uncertainty`, the run's own α and KL)."""
    videos = ds.test_videos()
    members = snippet_memberships(ds, videos)
    values: dict[str, list[np.ndarray]] = {}
    for spec in specs:
        lcfg = spec.config().loss
        values.setdefault(spec.label, []).append(background_uncertainty(
            RunDir(Path(runs_dir) / spec.run_id).outputs(), videos, members, alpha=lcfg.alpha, kl=lcfg.scl_kl))
    return values
