"""What a run directory holds, and the one reader of its records (torch-free).

A run directory holds::

    params.json       every resolved setting, its hash, versions, device, dtype, data fingerprint,
                      the loss weights the run trained with
    history.csv       iteration, each loss term (averaged over a logging interval), learning curves
    checkpoint.pt     model, optimiser and every RNG state, written atomically every N iterations
    metrics.json      final metrics (written last: its presence marks a finished run)
    predictions.json  ActivityNet result JSON for the evaluated subset
    outputs.npz       per evaluated video: attention A, CAS S, suppressed CAS Ŝ, background probability B_BG
    runner.log        how the runner trained it (process or notebook, resumed or not, seconds)

Units in the files are fixed: mAP and accuracies are fractions; tables multiply by 100 only for
display.
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from himnet_lib.utils.errors import RunError
from himnet_lib.utils.fileio import loads_bounded

__all__ = ["RunDir", "METRICS_SCHEMA", "read_record", "read_params", "params_problem", "metrics_problem",
           "finished_metrics", "WAY_OUT"]

# metrics.json of a finished run: key -> the types its value may have
METRICS_SCHEMA: dict[str, tuple[type, ...]] = {
    "tiou": (list,), "mAP": (list,), "average_mAP": (float, int), "snippet_acc": (float, int),
    "fg_bg_acc": (float, int), "identity": (str,), "selection": (str,), "selected_iteration": (int,),
}


WAY_OUT = "retrain: himnet train --force, or delete the run folder (himnet reproduce)"


def read_record(path: Path, way_out: str = WAY_OUT) -> dict:
    """A JSON record of a run (params.json, metrics.json) as a dict; a missing, unreadable or
    damaged one is one :class:`RunError` line naming the file and ``way_out``."""
    try:
        obj = loads_bounded(path.read_bytes())
    except OSError as e:
        raise RunError(f"record {path} cannot be read ({e.strerror or e}); {way_out}") from None
    except ValueError as e:
        raise RunError(f"record {path} is damaged ({str(e).splitlines()[0][:160]}); {way_out}") from None
    if not isinstance(obj, dict):
        raise RunError(f"record {path} is damaged (a JSON {type(obj).__name__}, not an object); {way_out}")
    return obj


def _fraction(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 1


def metrics_problem(metrics: dict, identity: str | None = None) -> str | None:
    """Why ``metrics`` is not a finished run's metrics.json (of run ``identity`` when given), or None."""
    for key, types in METRICS_SCHEMA.items():
        if key not in metrics:
            return f"no {key!r}"
        v = metrics[key]
        if not isinstance(v, types) or isinstance(v, bool):
            return f"{key!r} is a {type(v).__name__}"
    if len(metrics["mAP"]) != len(metrics["tiou"]):
        return "'mAP' and 'tiou' differ in length"
    if not metrics["tiou"]:
        return "'tiou' is empty"
    for key in ("tiou", "mAP"):
        bad = next((v for v in metrics[key] if not _fraction(v)), None)
        if any(not _fraction(v) for v in metrics[key]):
            return f"{key!r} holds {bad!r}, not a number in [0, 1]"
    for key in ("average_mAP", "snippet_acc", "fg_bg_acc"):
        if not _fraction(metrics[key]):
            return f"{key!r} is {metrics[key]!r}, not a number in [0, 1]"
    if metrics["selected_iteration"] < 0:
        return "'selected_iteration' is negative"
    if identity is not None and metrics["identity"] != identity:
        return f"it belongs to run {metrics['identity']}, not {identity}"
    return None


def params_problem(params: dict) -> str | None:
    """Why ``params`` (a decoded params.json) is not a run's settings record, or None."""
    if not isinstance(params.get("config"), dict):
        return "no 'config' object" if "config" not in params else f"'config' is a {type(params['config']).__name__}"
    for key in ("data", "config"):
        if not isinstance(params.get(key, {}), dict):
            return f"{key!r} is a {type(params[key]).__name__}, not an object"
    for section, value in params["config"].items():
        if section in ("train", "model", "loss", "localize", "baseline") and not isinstance(value, dict):
            return f"'config.{section}' is a {type(value).__name__}, not an object"
    return None


def read_params(path: Path, way_out: str = WAY_OUT) -> dict:
    """params.json as a dict, checked by :func:`params_problem` (one :class:`RunError` line naming it)."""
    p = read_record(path, way_out)
    problem = params_problem(p)
    if problem:
        raise RunError(f"record {path} is damaged ({problem}); {way_out}")
    return p


def finished_metrics(run_dir: Path, identity: str | None = None) -> dict | None:
    """The valid metrics.json of a finished run in ``run_dir``, or None (absent, damaged, foreign)."""
    try:
        m = read_record(RunDir(run_dir).metrics_path)
    except RunError:
        return None
    return None if metrics_problem(m, identity) else m


class _File:
    """One file of a run directory as a read-only attribute: ``RunDir(p).metrics_path`` is
    ``p / "metrics.json"``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, run: "RunDir", owner: type | None = None) -> Path:
        return run.path / self.name


@dataclass(frozen=True)
class RunDir:
    """A run directory and the names of its files."""

    path: Path

    PARAMS = "params.json"
    METRICS = "metrics.json"
    HISTORY = "history.csv"
    CHECKPOINT = "checkpoint.pt"
    BEST = "best.pt"
    PREDICTIONS = "predictions.json"
    OUTPUTS = "outputs.npz"
    RUNNER_LOG = "runner.log"   # one line per training of the run: who, when, how long
    EXECUTED = "executed.ipynb"  # the training notebook as papermill ran it (--via notebook)
    # files the runner may write before params.json (besides hidden temporaries and the lock)
    RUNNER_FILES = (RUNNER_LOG, EXECUTED)
    # what a retraining (--force) removes
    PRODUCTS = (METRICS, PREDICTIONS, OUTPUTS, CHECKPOINT, HISTORY, BEST)

    def __init__(self, path: str | os.PathLike) -> None:
        object.__setattr__(self, "path", Path(path))

    def file(self, name: str) -> Path:
        return self.path / name

    params_path = _File(PARAMS)
    metrics_path = _File(METRICS)
    checkpoint_path = _File(CHECKPOINT)
    history_path = _File(HISTORY)
    predictions_path = _File(PREDICTIONS)
    outputs_path = _File(OUTPUTS)

    def finished(self) -> bool:
        """metrics.json and params.json are there (see :meth:`metrics` for whether they are valid)."""
        return self.metrics_path.is_file() and self.params_path.is_file()

    def metrics(self, required: tuple[str, ...] | None = None) -> dict[str, Any]:
        """metrics.json, checked against :data:`METRICS_SCHEMA` (or only for the ``required`` keys):
        a missing, damaged or foreign record is one :class:`RunError` line naming the file."""
        m = read_record(self.metrics_path)
        problem = (metrics_problem(m) if required is None else
                   next((f"no {k!r}" for k in required if k not in m), None))
        if problem:
            raise RunError(f"record {self.metrics_path} is not a finished run's metrics ({problem}); retrain: "
                           "himnet train --force, or delete the run folder (himnet reproduce)")
        return m

    def params(self) -> dict[str, Any]:
        """params.json (must hold ``config``)."""
        p = read_record(self.params_path)
        if "config" not in p:
            raise RunError(f"record {self.params_path} has no 'config'; not a run record of this version")
        problem = params_problem(p)
        if problem:
            raise RunError(f"record {self.params_path} is damaged ({problem}); {WAY_OUT}")
        return p

    def loss_weights(self) -> dict[str, float]:
        """The λ each weighted term trained with, by its setting (``loss.lambda_<term>``: params.json's
        ``loss_weights``; records before that naming keyed them by term, read here the same way;
        {} in records older still)."""
        out = {}
        for k, v in self.params().get("loss_weights", {}).items():
            if "." not in k:  # an older record: term -> weight, MIL's fixed 1 among them
                if k == "mil":
                    continue
                k = f"loss.lambda_{k}"
            out[k] = float(v)
        return out

    def outputs(self) -> dict[str, dict[str, np.ndarray]]:
        """outputs.npz as ``{video: {attention, cas, cas_supp, bg_prob}}``."""
        out: dict[str, dict[str, np.ndarray]] = {}
        try:
            with np.load(self.outputs_path, allow_pickle=False) as z:
                for key in z.files:
                    name, field = key.rsplit("/", 1)
                    out.setdefault(name, {})[field] = z[key]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise RunError(f"record {self.outputs_path} is damaged or unreadable ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:160] if str(e) else ''}); {WAY_OUT}") from None
        return out

    def predictions(self) -> dict[str, list[dict]]:
        """predictions.json's ``results``: ``{video: [{"label", "segment", "score"}, ...]}``."""
        results = read_record(self.predictions_path).get("results")
        if not isinstance(results, dict) or not all(isinstance(v, list) for v in results.values()):
            raise RunError(f"record {self.predictions_path} is damaged (its 'results' is not an object of lists); "
                           f"{WAY_OUT}")
        return results

    def history(self):
        """history.csv as a DataFrame: its first column ``iteration`` (increasing integers), every other a
        number per row (blank where not logged); a damaged file is one :class:`RunError` naming it."""
        import pandas as pd
        path = self.history_path
        try:
            h = pd.read_csv(path)
        except (OSError, ValueError) as e:  # pandas' parser errors and UnicodeDecodeError are ValueErrors
            raise RunError(f"record {path} cannot be read ({str(e).splitlines()[0][:160] if str(e) else e!r}); "
                           f"{WAY_OUT}") from None
        problem = _history_problem(h)
        if problem:
            raise RunError(f"record {path} is damaged ({problem}); {WAY_OUT}")
        return h


def _history_problem(h) -> str | None:
    """Why a history table is not one written by the trainer, or None."""
    if not len(h.columns) or h.columns[0] != "iteration":
        return "its first column is not 'iteration'"
    for col in h.columns:
        values = h[col]
        if values.dtype.kind not in "iuf":
            return f"column {col!r} holds text that is not a number"
        if not np.isfinite(values.dropna()).all():
            return f"column {col!r} holds a non-finite number"
    it = h["iteration"]
    if it.isna().any() or not (it == it.round()).all() or not it.is_monotonic_increasing:
        return "column 'iteration' is not increasing integers"
    return None
