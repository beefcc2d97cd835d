"""The run table: what the study's tables read of each run, from its run folder.

:func:`run_record` is the one reader of a finished run's records (``metrics.json``, ``params.json``)
into a flat row; the tables take columns of it: :func:`collect` (the per-table runs tables),
:func:`run_metrics` (read-outs and diagnostics) and :func:`run_records` (``runs.csv``, from which the
claims and dose-response tables are rebuilt: :data:`RUN_COLUMNS`, :func:`write_runs`,
:func:`read_runs_csv`). Values are in the files' units (mAP and accuracies as fractions).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from himnet_lib.datasets import load_dataset
from himnet_lib.evaluation.diagnostics import DIAGNOSTIC_KEYS, background_uncertainty
from himnet_lib.evaluation.scoring import READOUT_NAMES, SCORED_READOUTS, readout_key, relocalize
from himnet_lib.evaluation.snippet_metrics import ACC_SPLITS, snippet_memberships
from himnet_lib.study import grids
from himnet_lib.study.claims import u_rows
from himnet_lib.study.grids import RunSpec
from himnet_lib.utils.errors import RunError
from himnet_lib.utils.fileio import atomic_write_text
from himnet_lib.utils.run_folder import RunDir

__all__ = ["run_record", "run_metrics", "collect", "relocalized", "with_alpha", "background_values",
           "READOUT_COLUMNS", "POST_PROCESSING_NAMES", "RUN_COLUMNS", "run_columns", "run_records", "records_frame",
           "read_runs_csv", "write_runs"]

# run_metrics column suffix -> by_readout key: "fixed", "minmax" (Soft-NMS) and "<name>_nms"
READOUT_COLUMNS = {READOUT_NAMES[norm] + ("" if nms == "soft" else "_nms"): readout_key(norm, nms)
                   for norm, nms in SCORED_READOUTS}
_ACC_KEYS = ("snippet_acc", *ACC_SPLITS, "fg_bg_acc")  # metrics.json's accuracies


def run_record(spec: RunSpec, runs_dir: str | os.PathLike) -> dict[str, Any]:
    """Everything the tables read of one finished run, as one flat row: the spec's identity, the
    metrics (``None`` where ``metrics.json`` lacks a key), ``mAP@<tIoU>``, the AVG of each
    read-out (``avg[fixed]``, ``avg_0.5[fixed]``, ``avg[fixed_nms]``, ...), the diagnostics, and
    the weight each term of the dose-response trained with (``loss.lambda_<term>``, its setting's
    name; 0 for an absent term)."""
    run = RunDir(Path(runs_dir) / spec.run_id)
    try:
        m = run.metrics()
    except RunError:
        if run.metrics_path.exists():
            raise
        raise RunError(f"run {spec.run_id} ({spec.table} {spec.label}, seed {spec.seed}) has no {run.METRICS} in "
                       f"{runs_dir}; train it first (himnet_lib.engine.executor.run_specs or himnet reproduce)"
                       ) from None
    row: dict[str, Any] = {"run_id": spec.run_id, "table": spec.table, "label": spec.label, "seed": spec.seed,
                           "profile": spec.profile, "benchmark": spec.benchmark,
                           "on_main_benchmark": spec.on_main_benchmark, "reading": spec.reading}
    for k in ("average_mAP", "average_mAP_0.1_0.5", *_ACC_KEYS, *DIAGNOSTIC_KEYS, "wall_time_s", "selection"):
        row[k] = m.get(k)
    for t, v in zip(m.get("tiou", ()), m.get("mAP", ())):
        row[f"mAP@{t:g}"] = v
    by = m.get("by_readout", {})
    for name, key in READOUT_COLUMNS.items():
        if key in by:
            row[f"avg[{name}]"] = by[key]["average_mAP"]
            row[f"avg_0.5[{name}]"] = by[key].get("average_mAP_0.1_0.5")
    weights = run.loss_weights()
    for setting in grids.weight_fields(grids.dose_terms()).values():
        row[setting] = float(weights.get(setting, 0.0))
    return row


def _nan(v: Any) -> Any:
    return np.nan if v is None else v


def run_metrics(specs: Iterable[RunSpec], runs_dir: str | Path) -> pd.DataFrame:
    """One row per spec: identity (table, label, seed, benchmark, reading, run_id), AVG mAP under
    each read-out (``avg[fixed]``, ``avg[minmax]``, ...; fractions), snippet / fg-bg accuracy and the
    attention diagnostics of :mod:`himnet_lib.evaluation.diagnostics`."""
    rows = []
    for s in specs:
        r = run_record(s, runs_dir)
        row = {k: r[k] for k in ("table", "label", "seed", "benchmark", "reading", "run_id", "average_mAP",
                                 "snippet_acc", "fg_bg_acc")}
        row.update({k: _nan(r[k]) for k in ACC_SPLITS})
        row.update({f"avg[{name}]": r[f"avg[{name}]"] for name in READOUT_COLUMNS if f"avg[{name}]" in r})
        row.update({k: _nan(r[k]) for k in DIAGNOSTIC_KEYS})
        rows.append(row)
    return pd.DataFrame(rows)


def collect(specs: Iterable[RunSpec], runs_dir: str | os.PathLike):
    """One row per spec with its metrics (fractions) and mAP per tIoU: the per-table runs tables."""
    rows = []
    for s in specs:
        r = run_record(s, runs_dir)
        row = {k: r[k] for k in ("table", "label", "seed", "run_id", "average_mAP", "average_mAP_0.1_0.5",
                                 "snippet_acc", "fg_bg_acc")}
        row.update({k: _nan(r[k]) for k in ACC_SPLITS})
        row.update({"wall_time_s": r["wall_time_s"], "selection": r["selection"]})
        row.update({k: v for k, v in r.items() if k.startswith("mAP@")})
        rows.append(row)
    return pd.DataFrame(rows)


# --- runs.csv: the records the claims and dose-response tables are rebuilt from ------------------

def run_columns() -> tuple[str, ...]:
    """The columns of ``runs.csv``, in order."""
    return ("run_id", "table", "label", "seed", "profile", "benchmark", "on_main_benchmark", "reading",
            *grids.weight_fields(grids.dose_terms()).values(),
            *(f"{m}[{ro}]" for m in ("avg", "avg_0.5", "avg_nms", "avg_0.5_nms") for ro in READOUT_NAMES.values()),
            *_ACC_KEYS, *DIAGNOSTIC_KEYS, "u_bg")


RUN_COLUMNS = run_columns()


def run_records(specs: Iterable[RunSpec], runs_dir: str | Path,
                u_background: Callable[[RunSpec], float] | None = None,
                u_for: Iterable[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """One record per spec (:func:`run_columns`; ``runs.csv``). ``loss.lambda_*``: the weights the run
    trained with (``params.json``'s ``loss_weights``; 0 for an absent term). ``u_background(spec)``
    supplies the Fig. 7 statistic (:func:`himnet_lib.study.claims_cells.background_u`), computed only
    for the runs of the ``u_for`` rows (default: those of the claims on U,
    :func:`himnet_lib.study.claims.u_rows`; NaN elsewhere, as it reads every snippet's outputs)."""
    wanted_u = u_rows() if u_for is None else set(u_for)
    columns = run_columns()
    out = []
    for s in specs:
        r = run_record(s, runs_dir)
        rec = {k: r[k] for k in columns[:8]}
        rec.update({k: r[k] for k in columns if k.startswith("loss.lambda_")})
        for ro in READOUT_NAMES.values():
            if f"avg[{ro}]" not in r or f"avg[{ro}_nms]" not in r:
                raise KeyError(f"run {s.run_id}: metrics.json has no {ro} read-out")
            rec[f"avg[{ro}]"] = r[f"avg[{ro}]"]
            rec[f"avg_0.5[{ro}]"] = r[f"avg_0.5[{ro}]"]
            rec[f"avg_nms[{ro}]"] = r[f"avg[{ro}_nms]"]
            rec[f"avg_0.5_nms[{ro}]"] = r[f"avg_0.5[{ro}_nms]"]
        for k in (*_ACC_KEYS, *DIAGNOSTIC_KEYS):
            rec[k] = float("nan") if r[k] is None else float(r[k])
        needs_u = u_background is not None and (s.table, s.label) in wanted_u
        rec["u_bg"] = float(u_background(s)) if u_background is not None and needs_u else float("nan")
        out.append(rec)
    return out


def records_frame(records: Sequence[Mapping[str, Any]]):
    """The records as a DataFrame with the columns of ``runs.csv``."""
    return pd.DataFrame(list(records), columns=list(run_columns()))


def read_runs_csv(path: str | Path) -> list[dict[str, Any]]:
    """Records back from ``runs.csv`` (as written by :func:`write_runs`)."""
    df = pd.read_csv(path, keep_default_na=True)
    missing = [c for c in run_columns() if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a runs.csv of this version (missing columns {missing[:5]})")
    df["on_main_benchmark"] = df["on_main_benchmark"].astype(bool)
    return df.to_dict("records")


def write_runs(records: Sequence[Mapping[str, Any]], out_dir: str | Path) -> Path:
    """``runs.csv``: one row per study run the claims read, every metric at full precision."""
    text = records_frame(records).to_csv(index=False, float_format="%.6g", lineterminator="\n")
    return atomic_write_text(Path(out_dir) / "runs.csv", text)


# --- re-scoring saved outputs --------------------------------------------------------------------

_DATASETS: dict[tuple[str, float], Any] = {}
_DATASETS_KEPT = 4  # a few draws at a time (about 75 MB each at demo scale)


def run_dataset(spec: RunSpec, runs_dir: str | os.PathLike, default=None):
    """The dataset a run was trained and scored on: ``default`` (the benchmark's one draw) when the
    profile trains every seed on one draw, else the draw its params.json records (loaded once)."""
    if default is not None and spec.draw == 0:
        return default
    root = RunDir(Path(runs_dir) / spec.run_id).params()["data"]["root"]
    key = (str(root), float(spec.config().snippet_seconds))
    if key not in _DATASETS:
        if len(_DATASETS) >= _DATASETS_KEPT:
            _DATASETS.pop(next(iter(_DATASETS)))  # the oldest: callers go through the runs draw by draw
        _DATASETS[key] = load_dataset(root, snippet_seconds=key[1])
    return _DATASETS[key]


def by_draw(specs: Sequence[RunSpec]) -> list[tuple[int, RunSpec]]:
    """(position, spec) in the order of their draws, so that each draw is loaded once."""
    return sorted(enumerate(specs), key=lambda x: (x[1].benchmark, x[1].draw, x[0]))


POST_PROCESSING_NAMES = {"nms": "NMS", "soft": "Soft-NMS"}  # localize.nms value -> display name


def relocalized(specs: Sequence[RunSpec], ds, runs_dir: str | os.PathLike,
                post_processing: Sequence[str] = ("nms", "soft"), label_suffix: str = ""):
    """Score every finished run under each ``localize.nms`` setting from its saved outputs (no
    retraining): one row per (run, post-processing) with per-tIoU mAP and both THUMOS averages.
    The run's own setting must reproduce its ``metrics.json`` (checked)."""
    names = POST_PROCESSING_NAMES
    rows_of: dict[int, list[dict]] = {}
    for i, spec in by_draw(specs):
        rows = rows_of.setdefault(i, [])
        run_dir = Path(runs_dir) / spec.run_id
        own = RunDir(run_dir).metrics()["average_mAP"]
        for pp in post_processing:
            m, _ = relocalize(run_dir, run_dataset(spec, runs_dir, ds), {"localize.nms": pp}, readouts=False)
            if pp == spec.config().localize.nms and not np.isclose(m["average_mAP"], own):
                raise RunError(f"re-localizing {spec.run_id} with its own settings gives {m['average_mAP']} "
                               f"but its metrics.json says {own}")
            row = {"Method": spec.label + label_suffix, "Post-processing": names.get(pp, pp),
                   "seed": spec.seed, "run_id": spec.run_id,
                   "average_mAP_0.1_0.5": m.get("average_mAP_0.1_0.5"), "average_mAP": m["average_mAP"]}
            row.update({f"mAP@{t:g}": v for t, v in zip(m["tiou"], m["mAP"])})
            rows.append(row)
    df = pd.DataFrame([r for i in sorted(rows_of) for r in rows_of[i]])
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
    got: dict[int, np.ndarray] = {}
    memberships: dict[int, tuple] = {}  # id(dataset) -> its test videos and their snippet memberships
    for i, spec in by_draw(specs):
        run_ds = run_dataset(spec, runs_dir, ds)
        if id(run_ds) not in memberships:
            # the dataset itself is kept with them, so that its id is not reused while this runs
            memberships[id(run_ds)] = (run_ds, run_ds.test_videos(), snippet_memberships(run_ds, run_ds.test_videos()))
        _, videos, members = memberships[id(run_ds)]
        lcfg = spec.config().loss
        got[i] = background_uncertainty(RunDir(Path(runs_dir) / spec.run_id).outputs(), videos, members,
                                        alpha=lcfg.alpha, kl=lcfg.scl_kl)
    values: dict[str, list[np.ndarray]] = {}
    for i, spec in enumerate(specs):
        values.setdefault(spec.label, []).append(got[i])
    return values
