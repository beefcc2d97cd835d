"""The training loop, checkpoints with exact resume, and the run records.

A run directory holds::

    params.json       every resolved setting, its hash, versions, device, dtype, data fingerprint
    history.csv       iteration, each loss term (averaged over a logging interval), learning curves
    checkpoint.pt     model, optimiser and every RNG state, written atomically every N iterations
    metrics.json      final metrics (written last: its presence marks a finished run)
    predictions.json  ActivityNet result JSON for the test subset
    outputs.npz       per test video: attention A, CAS S, suppressed CAS Ŝ, background probability B_BG

The reported model is the LAST iterate. ``train.select_on_test`` reproduces the peers' protocol
(keep the checkpoint with the best test mAP) and every output then says so.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import platform
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from . import __version__
from .config import RunConfig, resolve_config
from .errors import RunError
from .io import atomic_write, atomic_write_json, atomic_write_text
from .seed import restore_rng_state, rng_state, seed_everything

SELECTION_LAST = "last iterate"
SELECTION_TEST = "best test-set checkpoint (TEST-SET MODEL SELECTION, peers' protocol)"


def select_device(preference: str = "auto") -> torch.device:
    """The one place a device is chosen: CUDA when available (or asked for), else CPU."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


# --- data identity -------------------------------------------------------------------------------

def dataset_fingerprint(ds) -> str:
    """Hash of the annotations and feature shapes (not feature values: too slow for real data)."""
    h = hashlib.sha256()
    h.update(json.dumps([ds.name, list(ds.classes), ds.snippet_seconds, ds.train_subset,
                         ds.test_subset]).encode())
    for v in ds.videos:
        h.update(v.name.encode())
        h.update(v.subset.encode())
        h.update(np.ascontiguousarray(v.labels, dtype=np.float32).tobytes())
        h.update(np.ascontiguousarray(v.segments, dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(v.segment_classes, dtype=np.int64).tobytes())
        h.update(str(v.num_snippets).encode())
    h.update(str(ds.feature_dim).encode())
    return h.hexdigest()[:16]


def _git_commit() -> str | None:
    from .paths import PROJECT_ROOT
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


# --- model variants ------------------------------------------------------------------------------

def build_variant(cfg: RunConfig) -> tuple[torch.nn.Module, Callable]:
    """Model and loss composer for ``cfg.train.model`` (HiM-Net or a baseline with background class)."""
    name = cfg.train.model
    if name == "himnet":
        from .losses import compose_losses
        from .model import build_model
        return build_model(cfg.model), compose_losses
    from . import baselines  # imported lazily: only baseline runs need it
    return baselines.build(name, cfg)


# --- inference and metrics ----------------------------------------------------------------------

@torch.no_grad()
def infer_videos(model: torch.nn.Module, videos, device: torch.device, amp: str = "none") -> dict[str, dict[str, np.ndarray]]:
    """Whole-video inference (batch 1, eval mode): per video A (T,), S (T,C+1), Ŝ (T,C+1), B_BG (T,)."""
    was_training = model.training
    model.eval()
    out: dict[str, dict[str, np.ndarray]] = {}
    for v in videos:
        x = torch.from_numpy(np.ascontiguousarray(v.features, dtype=np.float32))[None].to(device)
        with _autocast(device, amp):
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


def readout_key(attention_norm: str, nms: str) -> str:
    return f"{attention_norm}/{nms}"


def evaluate_outputs(ds, outputs: dict[str, dict[str, np.ndarray]], cfg: RunConfig,
                     localize_cfg=None, readouts: bool = True) -> tuple[dict, dict]:
    """Localize every test video and score it. Returns (metrics, ActivityNet result JSON).

    Besides the run's own localization settings, ``metrics["by_readout"]`` scores every read-out of
    :data:`READOUTS` (``"<attention_norm>/<nms>"`` -> mAP per tIoU and the averages) from the same
    outputs, and the threshold-free diagnostics of :mod:`himnet_lib.diagnostics` are added.
    """
    from .diagnostics import attention_diagnostics
    from .groundtruth import gt_from_dataset
    from .localize import localize_videos
    from .metrics import (evaluate_results, fg_bg_accuracy, snippet_classification_accuracy,
                          snippet_labels)
    lcfg = localize_cfg or cfg.localize
    videos = ds.test_videos()
    gt = gt_from_dataset(ds, ds.test_subset)

    def score(loc):
        preds = localize_videos(
            {v.name: (outputs[v.name]["attention"], outputs[v.name]["cas_supp"]) for v in videos},
            ds.classes, loc, ds.snippet_seconds,
            ambiguous=ds.ambiguous if getattr(loc, "remove_ambiguous", False) else None,
            durations={v.name: v.duration for v in videos},
        )
        return evaluate_results(gt, preds), preds

    det, preds = score(lcfg)
    members = [snippet_labels(v.segments, v.segment_classes, v.num_snippets, ds.snippet_seconds,
                              ds.num_classes) for v in videos]
    metrics = det.to_json()
    metrics["snippet_acc"] = float(snippet_classification_accuracy([outputs[v.name]["cas"] for v in videos], members))
    metrics["fg_bg_acc"] = float(fg_bg_accuracy([outputs[v.name]["attention"] for v in videos], members))
    # NaN (e.g. an AUC on videos without foreground) is stored as null: metrics.json is strict JSON
    metrics.update({k: (v if math.isfinite(v) else None)
                    for k, v in attention_diagnostics(outputs, videos, members).items()})
    metrics["num_predictions"] = int(sum(len(r) for r in preds["results"].values()))
    metrics["readout"] = readout_key(lcfg.attention_norm, lcfg.nms)
    if readouts:
        by = {}
        for norm, nms in READOUTS:
            key = readout_key(norm, nms)
            if key == metrics["readout"]:
                d = metrics
            else:
                d = score(dataclasses.replace(lcfg, attention_norm=norm, nms=nms))[0].to_json()
            by[key] = {k: d[k] for k in ("tiou", "mAP", "average_mAP", "average_mAP_0.1_0.5") if k in d}
        metrics["by_readout"] = by
    return metrics, preds


def evaluation_dataset(ds, cfg: RunConfig):
    """The dataset a run is scored on: ``ds`` itself, or its validation view when
    ``train.val_fraction > 0`` (held-out training videos; the test videos are not in the view)."""
    if cfg.train.val_fraction > 0:
        from .data.dataset import validation_view
        return validation_view(ds, cfg.train.val_fraction, cfg.train.val_seed)
    return ds


# --- the run -------------------------------------------------------------------------------------

def _autocast(device: torch.device, amp: str):
    if amp == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if amp not in ("none", "", None):
        raise RunError(f"unknown amp mode {amp!r} (use none or bf16)")
    return nullcontext()


def _params_record(cfg: RunConfig, ds, data_root: str, device: torch.device) -> dict:
    return {
        "config": cfg.to_dict(),
        "identity": cfg.identity(),
        "data": {"root": data_root, "name": ds.name, "fingerprint": dataset_fingerprint(ds),
                 "num_train": len(ds.train_videos()), "num_test": len(ds.test_videos())},
        "selection": SELECTION_TEST if cfg.train.select_on_test else SELECTION_LAST,
        "environment": {
            "himnet_lib": __version__, "git_commit": _git_commit(), "python": platform.python_version(),
            "torch": torch.__version__, "numpy": np.__version__, "device": str(device),
            "dtype": "bfloat16 autocast" if cfg.train.amp == "bf16" else "float32",
            "platform": platform.platform(),
        },
    }


def _same_run(saved: dict, new: dict) -> list[str]:
    """Differences between a saved params record and a new one (only what defines the run)."""
    diffs = []
    a, b = _flat(saved.get("config", {})), _flat(new["config"])
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            diffs.append(f"{k}: saved {a.get(k)!r}, now {b.get(k)!r}")
    if saved.get("data", {}).get("fingerprint") != new["data"]["fingerprint"]:
        diffs.append(f"data fingerprint: saved {saved.get('data', {}).get('fingerprint')}, now {new['data']['fingerprint']}")
    return diffs


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _write_history(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(path, buf.getvalue())


def _save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda f: torch.save(state, f))


def train_run(cfg: RunConfig, data: str | os.PathLike | Any, run_dir: str | os.PathLike, *,
              device: str = "auto", force: bool = False, progress: bool | None = None,
              num_threads: int | None = None, stop_after: int | None = None,
              log: Callable[[str], None] | None = None) -> dict:
    """Train, localize and evaluate one run; resume it if ``run_dir`` holds an unfinished one.

    Args:
        cfg: the run's settings (dimensions are filled in from the data).
        data: a dataset root or an already loaded :class:`~himnet_lib.data.Dataset`.
        run_dir: where the records go. A finished run there is returned untouched unless ``force``;
            a run with different settings is refused with :class:`RunError`.
        device: "auto" (CUDA if available, else CPU), "cpu" or "cuda[:n]"; chosen once here.
        progress: tqdm bar (default: only when stderr is a terminal).
        num_threads: torch CPU threads (an execution setting: not part of the run's identity).
        stop_after: stop (without finishing) after this iteration; for tests of interruption.
    Returns:
        the metrics dict (also in ``metrics.json``).
    """
    from .data import load_dataset
    from .data.sampling import CoActionSampler, make_batch

    t0 = time.time()
    log = log or (lambda s: print(s, file=sys.stderr))
    run_dir = Path(run_dir)
    if num_threads:
        torch.set_num_threads(int(num_threads))
    ds = data if hasattr(data, "videos") else load_dataset(data, snippet_seconds=cfg.snippet_seconds)
    data_root = str(getattr(ds, "root", data))
    cfg = resolve_config(dataclasses.replace(cfg), feature_dim=ds.feature_dim, num_classes=ds.num_classes)
    dev = select_device(device)
    params = _params_record(cfg, ds, data_root, dev)
    ds = evaluation_dataset(ds, cfg)
    params["data"]["evaluated_on"] = ("validation fold of the training videos" if cfg.train.val_fraction > 0
                                      else "test subset")
    params["data"]["num_train"] = len(ds.train_videos())
    params["data"]["num_eval"] = len(ds.test_videos())

    params_path, metrics_path, ckpt_path = run_dir / "params.json", run_dir / "metrics.json", run_dir / "checkpoint.pt"
    if params_path.exists() and not force:
        saved = json.loads(params_path.read_text())
        diffs = _same_run(saved, params)
        if diffs:
            raise RunError(f"run directory {run_dir} holds a different run; refusing to overwrite it "
                           f"(use another --out, or --force to discard it). Differences: " + "; ".join(diffs[:8]))
        if metrics_path.exists():
            log(f"run {run_dir} is already finished; nothing to do (use --force to retrain)")
            return json.loads(metrics_path.read_text())
    if force and run_dir.exists():
        for name in ("metrics.json", "predictions.json", "outputs.npz", "checkpoint.pt", "history.csv", "best.pt"):
            (run_dir / name).unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(params_path, params)

    tc = cfg.train
    data_rng = seed_everything(tc.seed)
    model, compose = build_variant(cfg)
    model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    train_videos = ds.train_videos()
    labels = np.stack([v.labels for v in train_videos]).astype(np.float32)
    sampler = CoActionSampler(labels, batch_size=tc.batch_size, n_pairs=tc.n_pairs, rng=data_rng)

    start, history, acc, best = 0, [], {}, None
    if ckpt_path.exists() and not force:
        state = torch.load(ckpt_path, map_location=dev, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        restore_rng_state(state["rng"], data_rng)
        start, history, acc, best = state["iteration"], state["history"], state["accumulator"], state.get("best")
        log(f"resuming {run_dir} at iteration {start}/{tc.iterations}")

    def checkpoint(it: int) -> None:
        _save_checkpoint(ckpt_path, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                     "rng": rng_state(data_rng), "iteration": it, "history": history,
                                     "accumulator": acc, "best": best, "identity": params["identity"]})
        _write_history(run_dir / "history.csv", history)

    from tqdm.auto import tqdm
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=tc.iterations, initial=start, disable=not show, desc=run_dir.name, leave=False)
    model.train()
    for it in range(start, tc.iterations):
        idx = sampler.sample()
        feats, y = make_batch(train_videos, idx, tc.seq_len, data_rng, mode=tc.sampling)
        x = torch.from_numpy(feats).to(dev)
        y = torch.from_numpy(y).to(dev)
        with _autocast(dev, tc.amp):
            out = model(x)
        total, terms = compose(out, y, cfg.loss)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if not math.isfinite(float(total.detach())):
            raise RunError(f"loss became {float(total)} at iteration {it + 1}; terms: "
                           + ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items()))
        acc["n"] = acc.get("n", 0) + 1
        acc["loss"] = acc.get("loss", 0.0) + float(total.detach())
        for k, v in terms.items():
            acc[k] = acc.get(k, 0.0) + float(v.detach())
        done = it + 1
        if done % tc.log_interval == 0 or done == tc.iterations:
            n = acc.pop("n")
            row = {"iteration": done, **{k: v / n for k, v in acc.items()}}
            acc = {}
            if tc.eval_interval and (done % tc.eval_interval == 0 or done == tc.iterations):
                m, _ = evaluate_outputs(ds, infer_videos(model, ds.test_videos(), dev, tc.amp), cfg)
                pre = "val" if tc.val_fraction > 0 else "test"
                row.update({f"{pre}_average_mAP": m["average_mAP"], f"{pre}_snippet_acc": m["snippet_acc"],
                            f"{pre}_fg_bg_acc": m["fg_bg_acc"], f"{pre}_fg_bg_auc": m["fg_bg_auc"]})
                for key, d in m.get("by_readout", {}).items():
                    row[f"{pre}_average_mAP[{key}]"] = d["average_mAP"]
                if tc.select_on_test and (best is None or m["average_mAP"] > best["average_mAP"]):
                    best = {"iteration": done, "average_mAP": m["average_mAP"],
                            "model": {k: t.detach().clone() for k, t in model.state_dict().items()}}
            history.append(row)
            bar.set_postfix(loss=f"{row['loss']:.3f}")
        bar.update(1)
        if done % tc.checkpoint_interval == 0 or done == tc.iterations:
            checkpoint(done)
        if stop_after is not None and done >= stop_after and done < tc.iterations:
            bar.close()
            checkpoint(done)
            log(f"stopped after iteration {done} (stop_after); rerun to resume")
            return {}
    bar.close()

    if tc.select_on_test:
        if best is None:
            raise RunError("train.select_on_test needs train.eval_interval > 0")
        model.load_state_dict(best["model"])
    outputs = infer_videos(model, ds.test_videos(), dev, tc.amp)
    metrics, preds = evaluate_outputs(ds, outputs, cfg)
    metrics.update({
        "selection": SELECTION_TEST if tc.select_on_test else SELECTION_LAST,
        "selected_iteration": best["iteration"] if tc.select_on_test else tc.iterations,
        "evaluated_on": params["data"]["evaluated_on"],
        "identity": params["identity"],
        "num_params": int(sum(p.numel() for p in model.parameters())),
        "wall_time_s": round(time.time() - t0, 2),
    })
    _write_history(run_dir / "history.csv", history)
    atomic_write(run_dir / "outputs.npz", lambda f: np.savez_compressed(
        f, **{f"{name}/{k}": a for name, d in outputs.items() for k, a in d.items()}))
    from .localize import write_results
    if tc.select_on_test:
        preds.setdefault("external_data", {})["model_selection"] = SELECTION_TEST
    write_results(run_dir / "predictions.json", preds)
    atomic_write_json(metrics_path, metrics)  # last: its presence marks the run finished
    return metrics


def load_outputs(run_dir: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """Read ``outputs.npz`` back into ``{video: {attention, cas, cas_supp, bg_prob}}``."""
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(Path(run_dir) / "outputs.npz") as z:
        for key in z.files:
            name, field = key.rsplit("/", 1)
            out.setdefault(name, {})[field] = z[key]
    return out


def load_history(run_dir: str | os.PathLike):
    import pandas as pd
    return pd.read_csv(Path(run_dir) / "history.csv")


def load_run(run_dir: str | os.PathLike, data=None, device: str = "auto"):
    """Rebuild a run's config, dataset and trained model from its records (for inference)."""
    from .data import load_dataset
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
    state = torch.load(ckpt_path, map_location=dev, weights_only=False)
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
    """Localize ``subset`` (default: the test subset) with a trained run; write ActivityNet JSON."""
    from .config import apply_overrides
    from .localize import localize_videos, write_results
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


def relocalize(run_dir, data=None, localize_overrides: dict | None = None) -> tuple[dict, dict]:
    """Score a finished run's saved outputs under other localization settings (no retraining):
    e.g. NMS vs Soft-NMS for Table 1. Returns (metrics, predictions)."""
    from .config import apply_overrides
    from .data import load_dataset
    params = json.loads((Path(run_dir) / "params.json").read_text())
    cfg = apply_overrides(RunConfig.from_dict(params["config"]), localize_overrides or {})
    ds = data if hasattr(data, "videos") else load_dataset(data or params["data"]["root"],
                                                           snippet_seconds=cfg.snippet_seconds)
    return evaluate_outputs(evaluation_dataset(ds, cfg), load_outputs(run_dir), cfg)
