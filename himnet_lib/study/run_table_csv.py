"""runs.csv"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from himnet_lib.evaluation.diagnostics import DIAGNOSTIC_KEYS
from himnet_lib.evaluation.scoring import readout_key
from himnet_lib.evaluation.snippet_metrics import ACC_SPLITS
from himnet_lib.study import grids
from himnet_lib.study.claims import (
    READOUTS,
    u_rows,
)
from himnet_lib.study.grids import RunSpec
from himnet_lib.utils.fileio import atomic_write_text
from himnet_lib.utils.run_folder import RunDir

_ACC_KEYS = ("snippet_acc", *ACC_SPLITS, "fg_bg_acc")  # metrics.json's accuracies


RUN_COLUMNS = (
    "run_id", "table", "label", "seed", "profile", "benchmark", "main_benchmark", "reading",
    *(f"lambda_{t}" for t in grids.DOSE_ROWS),
    *(f"{m}[{ro}]" for m in ("avg", "avg_0.5", "avg_nms", "avg_0.5_nms") for ro in READOUTS),
    *_ACC_KEYS, *DIAGNOSTIC_KEYS, "u_bg",
)


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def run_records(specs: Iterable[RunSpec], runs_dir: str | Path,
                u_background: Callable[[RunSpec], float] | None = None,
                u_for: Iterable[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """One record per spec (:data:`RUN_COLUMNS`), read from ``<runs_dir>/<run_id>/metrics.json`` and
    ``params.json``, in the files' units (mAP and accuracies as fractions). ``lambda_*``: the
    weights the run trained with (``params.json``'s ``loss_weights``; 0 for an absent term).
    ``u_background(spec)`` supplies the Fig. 7 statistic (:func:`background_u`), computed only for
    the runs of the ``u_for`` rows (default :func:`u_rows`; NaN elsewhere, as it reads every
    snippet's outputs)."""
    wanted_u = u_rows() if u_for is None else set(u_for)
    out = []
    for s in specs:
        run = RunDir(Path(runs_dir) / s.run_id)
        m = run.metrics()
        weights = run.loss_weights()
        by = m.get("by_readout", {})
        rec: dict[str, Any] = {"run_id": s.run_id, "table": s.table, "label": s.label, "seed": s.seed,
                               "profile": s.profile, "benchmark": s.benchmark_name or "data",
                               "main_benchmark": s.main_benchmark, "reading": s.reading}
        for t in grids.DOSE_ROWS:
            rec[f"lambda_{t}"] = float(weights.get(t, 0.0))
        for ro, norm in READOUTS.items():
            soft, nms = by[readout_key(norm, "soft")], by[readout_key(norm, "nms")]
            rec[f"avg[{ro}]"] = soft["average_mAP"]
            rec[f"avg_0.5[{ro}]"] = soft["average_mAP_0.1_0.5"]
            rec[f"avg_nms[{ro}]"] = nms["average_mAP"]
            rec[f"avg_0.5_nms[{ro}]"] = nms["average_mAP_0.1_0.5"]
        for k in (*_ACC_KEYS, *DIAGNOSTIC_KEYS):
            rec[k] = _num(m.get(k))
        needs_u = u_background is not None and (s.table, s.label) in wanted_u
        rec["u_bg"] = float(u_background(s)) if u_background is not None and needs_u else float("nan")
        out.append(rec)
    return out


def records_frame(records: Sequence[Mapping[str, Any]]):
    """The records as a DataFrame with the columns of :data:`RUN_COLUMNS` (``runs.csv``)."""
    import pandas as pd
    return pd.DataFrame(list(records), columns=list(RUN_COLUMNS))


def read_runs_csv(path: str | Path) -> list[dict[str, Any]]:
    """Records back from ``runs.csv`` (as written by :func:`write_runs`)."""
    import pandas as pd
    df = pd.read_csv(path, keep_default_na=True)
    missing = [c for c in RUN_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a runs.csv of this version (missing columns {missing[:5]})")
    df["main_benchmark"] = df["main_benchmark"].astype(bool)
    return df.to_dict("records")


def write_runs(records: Sequence[Mapping[str, Any]], out_dir: str | Path) -> Path:
    """``runs.csv``: one row per study run the claims read, every metric at full precision."""
    text = records_frame(records).to_csv(index=False, float_format="%.6g", lineterminator="\n")
    return atomic_write_text(Path(out_dir) / "runs.csv", text)
