"""Inference with a model variant and rebuilding a trained run from its records (predict).

Scoring saved outputs is torch-free and lives in :mod:`himnet_lib.evaluation.scoring`; its names are
re-exported here for callers of this module."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from himnet_lib.config.run import RunConfig, apply_overrides, check_config
from himnet_lib.datasets import load_dataset
from himnet_lib.engine.checkpoints import load_checkpoint
from himnet_lib.engine.run_params import dataset_fingerprint
from himnet_lib.evaluation.localization import RESULTS_VERSION, localize_videos, write_results
from himnet_lib.modeling.builder import build_variant
from himnet_lib.utils.device import autocast, select_device
from himnet_lib.utils.errors import HimnetError, RunError
from himnet_lib.utils.fileio import loads_bounded
from himnet_lib.utils.run_folder import RunDir, read_params

# --- model variants ------------------------------------------------------------------------------



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


# --- trained runs ------------------------------------------------------------------------------

def load_run(run_dir: str | os.PathLike, data=None, device: str = "auto"):
    """Rebuild a run's config, dataset and trained model from its records (for inference)."""
    run_dir = Path(run_dir)
    params_path, ckpt_path = RunDir(run_dir).params_path, RunDir(run_dir).checkpoint_path
    if not params_path.exists() or not ckpt_path.exists():
        raise RunError(f"{run_dir} is not a trained run directory (params.json and checkpoint.pt needed)")
    way_out = f"retrain it with himnet train --out {run_dir} --force"
    params = read_params(params_path, way_out)
    try:
        cfg = RunConfig.from_dict(params["config"])
        check_config(cfg)
    except HimnetError as e:
        raise RunError(f"record {params_path} is damaged ({e}); {way_out}") from None
    if cfg.identity() != params.get("identity"):
        raise RunError(f"record {params_path} is damaged (its config is not the run {params.get('identity')!r} it "
                       f"names); {way_out}")
    data_record = params.get("data", {})
    if data is None and not isinstance(data_record.get("root"), str):
        raise RunError(f"record {params_path} names no data root; pass --data")
    ds = data if hasattr(data, "videos") else load_dataset(data or data_record["root"],
                                                           snippet_seconds=cfg.snippet_seconds)
    if dataset_fingerprint(ds) != data_record.get("fingerprint"):
        raise RunError(f"the dataset given differs from the one {run_dir} was trained on "
                       f"(fingerprint {dataset_fingerprint(ds)} vs {data_record.get('fingerprint')})")
    dev = select_device(device)
    model, _ = build_variant(cfg)
    state = load_checkpoint(ckpt_path, dev, identity=params.get("identity"),
                            way_out=f"retrain it with himnet train --out {run_dir} --force")
    if state["iteration"] != cfg.train.iterations:
        raise RunError(f"{run_dir} is unfinished (iteration {state['iteration']} of {cfg.train.iterations}); "
                       "rerun himnet train to resume it")
    try:
        if cfg.train.select_on_test and state.get("best"):
            model.load_state_dict(state["best"]["model"])
        else:
            model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError) as e:  # tensors of other shapes or names than the config's model
        raise RunError(f"checkpoint {ckpt_path} does not fit the model of {params_path} "
                       f"({(str(e).strip().splitlines() or [''])[0][:160]}); {way_out}") from None
    bad = next((name for name, t in model.state_dict().items()
                if t.is_floating_point() and not bool(torch.isfinite(t).all())), None)
    if bad is not None:
        raise RunError(f"checkpoint {ckpt_path} holds non-finite weights (tensor {bad!r}); {way_out}")
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
