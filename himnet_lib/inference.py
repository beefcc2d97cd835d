"""Inference with a model variant, scoring its outputs, and rebuilding a trained run from its
records (predict, re-localize saved outputs under other settings)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import baselines
from .config import RunConfig, apply_overrides
from .data import load_dataset
from .data.dataset import validation_view
from .device import autocast, select_device
from .diagnostics import attention_diagnostics
from .errors import RunError
from .groundtruth import gt_from_dataset, predictions_from_proposals
from .io import loads_bounded
from .localize import RESULTS_VERSION, localize_proposals_nms_modes, localize_videos, results_object, write_results
from .losses import compose_losses
from .metrics import detection_map, fg_bg_accuracy, snippet_classification_accuracy, snippet_memberships
from .model import build_model
from .records import dataset_fingerprint, load_checkpoint, load_outputs

# --- model variants ------------------------------------------------------------------------------

def build_variant(cfg: RunConfig) -> tuple[torch.nn.Module, Callable]:
    """Model and loss composer for ``cfg.train.model`` (HiM-Net or a baseline with background class)."""
    name = cfg.train.model
    if name == "himnet":
        return build_model(cfg.model), compose_losses
    return baselines.build(name, cfg)


# --- inference and metrics ----------------------------------------------------------------------

@torch.inference_mode()  # no autograd bookkeeping (outputs go to numpy): demo test set 0.41 -> 0.38 s vs no_grad
def infer_videos(model: torch.nn.Module, videos, device: torch.device,
                 amp: str = "none") -> dict[str, dict[str, np.ndarray]]:
    """Whole-video inference (batch 1, eval mode): per video A (T,), S (T,C+1), Ŝ (T,C+1), B_BG (T,)."""
    was_training = model.training
    model.eval()
    out: dict[str, dict[str, np.ndarray]] = {}
    for v in videos:
        x = torch.from_numpy(np.ascontiguousarray(v.features, dtype=np.float32))[None].to(device)
        with autocast(device, amp):
            o = model(x)
        out[v.name] = {
            "attention": o.attention[0].float().cpu().numpy(),
            "cas": o.cas[0].float().cpu().numpy(),
            "cas_supp": o.cas_supp[0].float().cpu().numpy(),
            "bg_prob": o.probs[0, :, -1].float().cpu().numpy(),
        }
    model.train(was_training)
    return out


# Read-outs scored for every run from the same outputs (no retraining): attention read-out x NMS.
READOUTS: tuple[tuple[str, str], ...] = (("none", "soft"), ("none", "nms"), ("minmax", "soft"), ("minmax", "nms"))
# display names of the attention read-outs in tables and the claims table
READOUT_NAMES: dict[str, str] = {"none": "fixed", "minmax": "minmax"}


def readout_key(attention_norm: str, nms: str) -> str:
    return f"{attention_norm}/{nms}"


def evaluate_outputs(ds, outputs: dict[str, dict[str, np.ndarray]], cfg: RunConfig,
                     localize_cfg=None, readouts: bool = True) -> tuple[dict, dict]:
    """Localize every test video and score it. Returns (metrics, ActivityNet result JSON).

    Besides the run's own localization settings, ``metrics["by_readout"]`` scores every read-out of
    :data:`READOUTS` (``"<attention_norm>/<nms>"`` -> mAP per tIoU and the averages) from the same
    outputs, and the threshold-free diagnostics of :mod:`himnet_lib.diagnostics` are added.
    """
    lcfg = localize_cfg or cfg.localize
    videos = ds.test_videos()
    gt = gt_from_dataset(ds, ds.test_subset)
    inputs = {v.name: (outputs[v.name]["attention"], outputs[v.name]["cas_supp"]) for v in videos}
    durations = {v.name: v.duration for v in videos}
    main_key = readout_key(lcfg.attention_norm, lcfg.nms)
    # the NMS modes wanted per attention read-out; both modes of one read-out share the candidates
    modes: dict[str, list[str]] = {lcfg.attention_norm: [lcfg.nms]}
    for norm, nms in READOUTS if readouts else ():
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
            scored[key] = (detection_map(gt, predictions_from_proposals(props, ds.classes)),
                           results_object(props, ds.classes, loc, nms) if key == main_key else None)

    det, preds = scored[main_key]
    members = snippet_memberships(ds, videos)
    metrics = det.to_json()
    metrics["snippet_acc"] = float(snippet_classification_accuracy([outputs[v.name]["cas"] for v in videos], members))
    metrics["fg_bg_acc"] = float(fg_bg_accuracy([outputs[v.name]["attention"] for v in videos], members))
    # NaN (e.g. an AUC on videos without foreground) is stored as null: metrics.json is strict JSON
    metrics.update({k: (v if math.isfinite(v) else None)
                    for k, v in attention_diagnostics(outputs, videos, members).items()})
    metrics["num_predictions"] = int(sum(len(r) for r in preds["results"].values()))
    metrics["readout"] = main_key
    if readouts:
        by = {}
        for norm, nms in READOUTS:
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


# --- trained runs ------------------------------------------------------------------------------

def load_run(run_dir: str | os.PathLike, data=None, device: str = "auto"):
    """Rebuild a run's config, dataset and trained model from its records (for inference)."""
    run_dir = Path(run_dir)
    params_path, ckpt_path = run_dir / "params.json", run_dir / "checkpoint.pt"
    if not params_path.exists() or not ckpt_path.exists():
        raise RunError(f"{run_dir} is not a trained run directory (params.json and checkpoint.pt needed)")
    params = json.loads(params_path.read_text())
    cfg = RunConfig.from_dict(params["config"])
    ds = data if hasattr(data, "videos") else load_dataset(data or params["data"]["root"],
                                                           snippet_seconds=cfg.snippet_seconds)
    if dataset_fingerprint(ds) != params["data"]["fingerprint"]:
        raise RunError(f"the dataset given differs from the one {run_dir} was trained on "
                       f"(fingerprint {dataset_fingerprint(ds)} vs {params['data']['fingerprint']})")
    dev = select_device(device)
    model, _ = build_variant(cfg)
    state = load_checkpoint(ckpt_path, dev, identity=params.get("identity"),
                            way_out=f"retrain it with himnet train --out {run_dir} --force")
    if state["iteration"] != cfg.train.iterations:
        raise RunError(f"{run_dir} is unfinished (iteration {state['iteration']} of {cfg.train.iterations}); "
                       "rerun himnet train to resume it")
    if cfg.train.select_on_test and state.get("best"):
        model.load_state_dict(state["best"]["model"])
    else:
        model.load_state_dict(state["model"])
    return cfg, ds, model.to(dev), dev


def predict_run(run_dir, data, out, *, subset: str | None = None, overrides: dict | None = None,
                device: str = "auto") -> dict:
    """Localize ``subset`` (default: the test subset) with a trained run; write ActivityNet JSON.
    An existing ``out`` is replaced only when it is a result file that himnet wrote."""
    _check_result_target(Path(out))
    cfg, ds, model, dev = load_run(run_dir, data, device)
    cfg = apply_overrides(cfg, overrides or {})
    videos = ds.subset(subset) if subset else ds.test_videos()
    if not videos:
        raise RunError(f"subset {subset!r} has no videos in {ds.root}")
    outputs = infer_videos(model, videos, dev, cfg.train.amp)
    preds = localize_videos({n: (o["attention"], o["cas_supp"]) for n, o in outputs.items()}, ds.classes,
                            cfg.localize, ds.snippet_seconds,
                            ambiguous=ds.ambiguous if cfg.localize.remove_ambiguous else None,
                            durations={v.name: v.duration for v in videos})
    write_results(Path(out), preds)
    return preds


def _check_result_target(out: Path) -> None:
    if out.is_dir():
        raise RunError(f"--out {out} is a directory; give the result file's path")
    if out.exists():
        try:
            ours = loads_bounded(out.read_bytes()).get("version") == RESULTS_VERSION
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise RunError(f"--out {out} exists and is not a result file written by himnet; refusing to "
                           "overwrite it: choose another --out")


def relocalize(run_dir, data=None, localize_overrides: dict | None = None,
               readouts: bool = True) -> tuple[dict, dict]:
    """Score a finished run's saved outputs under other localization settings (no retraining):
    e.g. NMS vs Soft-NMS for Table 1. Returns (metrics, predictions). ``readouts=False`` scores
    only the asked-for setting (not the four :data:`READOUTS` as well): a quarter of the work."""
    params = json.loads((Path(run_dir) / "params.json").read_text())
    cfg = apply_overrides(RunConfig.from_dict(params["config"]), localize_overrides or {})
    ds = data if hasattr(data, "videos") else load_dataset(data or params["data"]["root"],
                                                           snippet_seconds=cfg.snippet_seconds)
    return evaluate_outputs(evaluation_dataset(ds, cfg), load_outputs(run_dir), cfg, readouts=readouts)
