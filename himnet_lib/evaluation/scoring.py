"""Scoring a run's saved outputs, torch-free: the read-outs (attention normalisation x NMS) scored
for every run, the evaluation dataset of a run, and re-localization of a finished run's outputs
under other settings (no retraining). Tables, claims and the trainer's evaluation use it."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from himnet_lib.config.profiles import get_profile
from himnet_lib.config.run import RunConfig, apply_overrides
from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.dataset import validation_view
from himnet_lib.evaluation.detection import detection_map
from himnet_lib.evaluation.diagnostics import attention_diagnostics
from himnet_lib.evaluation.groundtruth import gt_from_dataset
from himnet_lib.evaluation.localization import localize_proposals_nms_modes, results_object
from himnet_lib.evaluation.predictions import predictions_from_proposals
from himnet_lib.evaluation.snippet_metrics import (
    fg_bg_accuracy,
    snippet_accuracy_breakdown,
    snippet_classification_accuracy,
    snippet_memberships,
)
from himnet_lib.utils.run_folder import RunDir

__all__ = ["SCORED_READOUTS", "READOUT_NAMES", "readout_key", "evaluate_outputs", "evaluation_dataset", "relocalize"]

# Read-outs scored for every run from the same outputs (no retraining): attention read-out x NMS.
SCORED_READOUTS: tuple[tuple[str, str], ...] = (("none", "soft"), ("none", "nms"), ("minmax", "soft"),
                                               ("minmax", "nms"))
# display names of the attention read-outs in tables and the claims table
READOUT_NAMES: dict[str, str] = {"none": "fixed", "minmax": "minmax"}


def readout_key(attention_norm: str, nms: str) -> str:
    return f"{attention_norm}/{nms}"


def evaluate_outputs(ds, outputs: dict[str, dict[str, np.ndarray]], cfg: RunConfig,
                     localize_cfg=None, readouts: bool = True) -> tuple[dict, dict]:
    """Localize every test video and score it. Returns (metrics, ActivityNet result JSON).

    Besides the run's own localization settings, ``metrics["by_readout"]`` scores every read-out of
    :data:`SCORED_READOUTS` (``"<attention_norm>/<nms>"`` -> mAP per tIoU and the averages) from the same
    outputs, and the threshold-free diagnostics of :mod:`himnet_lib.evaluation.diagnostics` are added.
    """
    lcfg = localize_cfg or cfg.localize
    tiou = get_profile(cfg.profile).tiou_thresholds  # the profile's declared protocol
    videos = ds.test_videos()
    gt = gt_from_dataset(ds, ds.test_subset)
    inputs = {v.name: (outputs[v.name]["attention"], outputs[v.name]["cas_supp"]) for v in videos}
    durations = {v.name: v.duration for v in videos}
    main_key = readout_key(lcfg.attention_norm, lcfg.nms)
    # the NMS modes wanted per attention read-out; both modes of one read-out share the candidates
    modes: dict[str, list[str]] = {lcfg.attention_norm: [lcfg.nms]}
    for norm, nms in SCORED_READOUTS if readouts else ():
        if nms not in modes.setdefault(norm, []):
            modes[norm].append(nms)
    scored: dict[str, tuple] = {}
    for norm, nms_modes in modes.items():
        loc = dataclasses.replace(lcfg, attention_norm=norm)
        by_mode = localize_proposals_nms_modes(
            inputs, len(ds.classes), loc, ds.snippet_seconds, nms_modes,
            ambiguous=ds.ambiguous if getattr(loc, "remove_ambiguous", False) else None, durations=durations)
        for nms, props in by_mode.items():
            key = readout_key(norm, nms)
            # scored from the arrays; only the run's own read-out becomes a result object (it is written)
            scored[key] = (detection_map(gt, predictions_from_proposals(props, ds.classes), tiou),
                           results_object(props, ds.classes, loc, nms) if key == main_key else None)

    det, preds = scored[main_key]
    members = snippet_memberships(ds, videos)
    metrics = det.to_json()
    metrics["snippet_acc"] = float(snippet_classification_accuracy([outputs[v.name]["cas"] for v in videos], members))
    metrics.update(snippet_accuracy_breakdown([outputs[v.name]["cas"] for v in videos], members))
    metrics["fg_bg_acc"] = float(fg_bg_accuracy([outputs[v.name]["attention"] for v in videos], members))
    # NaN (e.g. an AUC on videos without foreground) is stored as null: metrics.json is strict JSON
    metrics.update({k: (v if math.isfinite(v) else None)
                    for k, v in attention_diagnostics(outputs, videos, members).items()})
    metrics["num_predictions"] = int(sum(len(r) for r in preds["results"].values()))
    metrics["readout"] = main_key
    if readouts:
        by = {}
        for norm, nms in SCORED_READOUTS:
            key = readout_key(norm, nms)
            d = metrics if key == main_key else scored[key][0].to_json()
            by[key] = {k: d[k] for k in ("tiou", "mAP", "average_mAP", "average_mAP_0.1_0.5") if k in d}
        metrics["by_readout"] = by
    return metrics, preds


def evaluation_dataset(ds, cfg: RunConfig):
    """The dataset a run is scored on: ``ds`` itself, or its validation view when
    ``train.val_fraction > 0`` (held-out training videos; the test videos are not in the view)."""
    if cfg.train.val_fraction > 0:
        return validation_view(ds, cfg.train.val_fraction, cfg.train.val_seed)
    return ds


def relocalize(run_dir, data=None, localize_overrides: dict | None = None,
               readouts: bool = True) -> tuple[dict, dict]:
    """Score a finished run's saved outputs under other localization settings (no retraining):
    e.g. NMS vs Soft-NMS for Table 1. Returns (metrics, predictions). ``readouts=False`` scores
    only the asked-for setting (not the four :data:`SCORED_READOUTS` as well): a quarter of the work."""
    params = RunDir(run_dir).params()
    cfg = apply_overrides(RunConfig.from_dict(params["config"]), localize_overrides or {})
    ds = data if hasattr(data, "videos") else load_dataset(data or params["data"]["root"],
                                                           snippet_seconds=cfg.snippet_seconds)
    return evaluate_outputs(evaluation_dataset(ds, cfg), RunDir(run_dir).outputs(), cfg, readouts=readouts)
