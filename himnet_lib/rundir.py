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

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RunDir", "RecordError", "METRICS_REQUIRED"]

# keys every finished run's metrics.json has (a record without them is not a finished run)
METRICS_REQUIRED = ("average_mAP", "mAP", "tiou", "snippet_acc", "fg_bg_acc")


class RecordError(ValueError):
    """A run record that is missing, unreadable or not of this schema (names the file)."""


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
    RUNNER_LOG = "runner.log"
    # what a retraining (--force) removes
    PRODUCTS = (METRICS, PREDICTIONS, OUTPUTS, CHECKPOINT, HISTORY, BEST)

    def __init__(self, path: str | os.PathLike) -> None:
        object.__setattr__(self, "path", Path(path))

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def params_path(self) -> Path:
        return self.path / self.PARAMS

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS

    @property
    def checkpoint_path(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def history_path(self) -> Path:
        return self.path / self.HISTORY

    @property
    def predictions_path(self) -> Path:
        return self.path / self.PREDICTIONS

    @property
    def outputs_path(self) -> Path:
        return self.path / self.OUTPUTS

    def finished(self) -> bool:
        """metrics.json and params.json are there (see :meth:`metrics` for whether they are valid)."""
        return self.metrics_path.is_file() and self.params_path.is_file()

    def _json(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RecordError(f"{path}: missing (not a finished run?)") from None
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
            raise RecordError(f"{path}: unreadable ({type(e).__name__}: {e}); retrain with --force") from None
        if not isinstance(data, dict):
            raise RecordError(f"{path}: not a JSON object; retrain with --force")
        return data

    def metrics(self, required: tuple[str, ...] = METRICS_REQUIRED) -> dict[str, Any]:
        """metrics.json, checked for the ``required`` keys (fractions)."""
        m = self._json(self.metrics_path)
        missing = [k for k in required if k not in m]
        if missing:
            raise RecordError(f"{self.metrics_path}: not a run record of this version (missing {', '.join(missing)})"
                              "; retrain with --force")
        return m

    def params(self) -> dict[str, Any]:
        """params.json (must hold ``config``)."""
        p = self._json(self.params_path)
        if "config" not in p:
            raise RecordError(f"{self.params_path}: no 'config'; not a run record of this version")
        return p

    def loss_weights(self) -> dict[str, float]:
        """The λ each term trained with (params.json's ``loss_weights``; {} in older records)."""
        return {k: float(v) for k, v in self.params().get("loss_weights", {}).items()}

    def outputs(self) -> dict[str, dict[str, np.ndarray]]:
        """outputs.npz as ``{video: {attention, cas, cas_supp, bg_prob}}``."""
        out: dict[str, dict[str, np.ndarray]] = {}
        with np.load(self.outputs_path, allow_pickle=False) as z:
            for key in z.files:
                name, field = key.rsplit("/", 1)
                out.setdefault(name, {})[field] = z[key]
        return out

    def predictions(self) -> dict[str, list[dict]]:
        """predictions.json's ``results``: ``{video: [{"label", "segment", "score"}, ...]}``."""
        return self._json(self.predictions_path)["results"]

    def history(self):
        import pandas as pd
        return pd.read_csv(self.history_path)
