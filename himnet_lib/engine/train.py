"""The training loop, with checkpoints and exact resume (the records are :mod:`himnet_lib.engine.run_params`).

The run directory's files are listed in :mod:`himnet_lib.engine.run_params`.

The reported model is the LAST iterate. ``train.select_on_test`` reproduces the peers' protocol
(keep the checkpoint with the best test mAP) and every output then says so.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from himnet_lib.config.run import RunConfig, check_config, resolve_config
from himnet_lib.config.sections import TrainConfig
from himnet_lib.config.terms import weight_field
from himnet_lib.datasets import load_dataset
from himnet_lib.datasets.sampling import CoActionSampler, make_batch
from himnet_lib.engine.checkpoints import load_checkpoint, save_checkpoint
from himnet_lib.engine.inference import infer_videos
from himnet_lib.engine.run_params import SELECTION_LAST, SELECTION_TEST, params_record, same_run, write_history
from himnet_lib.evaluation.localization import write_results
from himnet_lib.evaluation.scoring import evaluate_outputs, evaluation_dataset
from himnet_lib.modeling.builder import build_variant
from himnet_lib.modeling.losses.compose import balanced_config, effective_weights
from himnet_lib.utils.device import autocast, select_device, tune_cpu_allocator
from himnet_lib.utils.errors import DivergenceError, RunError
from himnet_lib.utils.fileio import atomic_write, atomic_write_json, write_npz
from himnet_lib.utils.process_state import restored_process_settings
from himnet_lib.utils.run_folder import RunDir, metrics_problem, read_params, read_record
from himnet_lib.utils.seeding import restore_rng_state, rng_state, seed_everything


def _runner_file(name: str) -> bool:
    """A file the run's own machinery may write before params.json: hidden temporary files and the
    run lock, the runner's log and the training notebook (``himnet reproduce --via notebook``)."""
    return name.startswith(".") or name in RunDir.RUNNER_FILES


def make_optimizer(model: torch.nn.Module, tc: TrainConfig) -> torch.optim.Adam:
    """Adam with the run's lr and weight decay (Sec. 4.1); ``tc.fused_adam`` picks the fused kernel,
    else torch's default (a loop over parameters on CPU, foreach on CUDA)."""
    return torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay,
                            fused=True if tc.fused_adam else None)


def step(model: torch.nn.Module, opt: torch.optim.Optimizer, compose: Callable, x: torch.Tensor,
         y: torch.Tensor, loss_cfg, device: torch.device, amp: str = "none") -> tuple[torch.Tensor, dict]:
    """One training step: forward under ``train.amp``'s autocast, the loss terms, backward, Adam.
    Returns the weighted total and the unweighted terms (still attached). The benchmarks time this."""
    with autocast(device, amp):
        out = model(x)
    total, terms = compose(out, y, loss_cfg)
    opt.zero_grad(set_to_none=True)
    total.backward()
    opt.step()
    return total, terms


def training_loss_config(cfg: RunConfig, train_labels: np.ndarray):
    """The loss settings a run trains with: ``loss.balance`` resolved on the training labels
    (:func:`himnet_lib.modeling.losses.compose.balanced_config`). The baselines keep their configured weights: the
    balance rule is about HiM-Net's Eq. 11 against its MIL."""
    if cfg.train.model != "himnet":
        return dataclasses.replace(cfg.loss, balance="printed")
    return balanced_config(cfg.loss, train_labels, cfg.train.seq_len)


def _first_non_finite(loss: float, terms: dict[str, float]) -> str:
    """Which term of Eq. 11 went non-finite first (in the order they are composed), with the values."""
    shown = ", ".join(f"{k}={v:.4g}" for k, v in terms.items())
    bad = [k for k, v in terms.items() if not math.isfinite(v)]
    if not bad:
        return f"the weighted total became {loss} while every term was finite ({shown}): a weight too large"
    return f"the loss term {bad[0]!r} became {terms[bad[0]]} first (in Eq. 11's order: {shown})"


def _diverged(run_dir: Path, iteration: int, what: str, saved_at: int | None) -> DivergenceError:
    kept = (f"its checkpoint of iteration {saved_at} is kept (a rerun resumes there, and diverges again)"
            if saved_at is not None else "no checkpoint had been written yet")
    return DivergenceError(f"run {run_dir} diverged at iteration {iteration}: {what}; training stopped, the run is "
                           f"not finished, {kept}; lower train.lr or check the data")


@restored_process_settings()  # the caller's threads, deterministic mode, allocator and RNGs come back
def train_run(cfg: RunConfig, data: str | os.PathLike | Any, run_dir: str | os.PathLike, *,
              device: str = "auto", force: bool = False, progress: bool | None = None,
              num_threads: int | None = None, stop_after: int | None = None,
              log: Callable[[str], None] | None = None) -> dict:
    """Train, localize and evaluate one run; resume it if ``run_dir`` holds an unfinished one.

    Args:
        cfg: the run's settings (dimensions are filled in from the data).
        data: a dataset root or an already loaded :class:`~himnet_lib.datasets.dataset.Dataset`.
        run_dir: where the records go. A finished run there is returned untouched unless ``force``;
            a run with different settings is refused with :class:`RunError`.
        device: "auto" (CUDA if available, else CPU), "cpu" or "cuda[:n]"; chosen once here.
        progress: tqdm bar (default: only when stderr is a terminal).
        num_threads: torch CPU threads (an execution setting: not part of the run's identity).
        stop_after: stop (without finishing) after this iteration; for tests of interruption.
    Returns:
        the metrics dict (also in ``metrics.json``).
    """
    t0 = time.time()
    log = log or (lambda s: print(s, file=sys.stderr))
    run_dir = Path(run_dir)
    if num_threads is not None and num_threads < 1:
        raise RunError(f"num_threads must be >= 1, got {num_threads}")
    if num_threads:
        torch.set_num_threads(int(num_threads))
    ds: Any = data if hasattr(data, "videos") else load_dataset(data, snippet_seconds=cfg.snippet_seconds)
    data_root = str(getattr(ds, "root", data))
    cfg = resolve_config(dataclasses.replace(cfg), feature_dim=ds.feature_dim, num_classes=ds.num_classes)
    check_config(cfg)
    dev = select_device(device)
    if dev.type == "cpu":
        tune_cpu_allocator()
    params = params_record(cfg, ds, data_root, dev)
    ds = evaluation_dataset(ds, cfg)
    params["data"]["evaluated_on"] = ("validation fold of the training videos" if cfg.train.val_fraction > 0
                                      else "test subset")
    params["data"]["num_train"] = len(ds.train_videos())
    params["data"]["num_eval"] = len(ds.test_videos())
    train_labels = np.stack([v.labels for v in ds.train_videos()]).astype(np.float32)
    loss_cfg = training_loss_config(cfg, train_labels)
    # the λ each weighted term trains with (loss.balance resolved on the training labels), under
    # its setting's name: the key of --set and of runs.csv
    params["loss_weights"] = {f"loss.{f}": w for t, w in effective_weights(loss_cfg, train_labels,
                                                                       cfg.train.seq_len).items()
                              if (f := weight_field(t)) is not None}

    for subset, vids in (("training", ds.train_videos()), ("evaluation", ds.test_videos())):
        if not vids:
            raise RunError(f"the dataset {data_root} has no {subset} videos")

    rd = RunDir(run_dir)
    params_path, metrics_path, ckpt_path = rd.params_path, rd.metrics_path, rd.checkpoint_path
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"--out {run_dir} is a file, not a directory; choose another --out")
    if run_dir.is_dir() and not params_path.exists():
        theirs = sorted(p.name for p in run_dir.iterdir() if not _runner_file(p.name))
        if theirs:
            raise RunError(f"--out {run_dir} is not empty and holds no run ({', '.join(theirs[:4])}"
                           f"{', ...' if len(theirs) > 4 else ''}); refusing to overwrite it: choose a new or "
                           "empty --out")
    if params_path.exists() and not force:
        saved = read_params(params_path)
        diffs = same_run(saved, params)
        if diffs:
            raise RunError(f"run directory {run_dir} holds a different run (its {RunDir.PARAMS} differs); refusing "
                           "to overwrite it "
                           f"(use another --out, or --force to discard it). Differences: " + "; ".join(diffs[:8]))
        if metrics_path.exists():
            metrics = read_record(metrics_path)
            problem = metrics_problem(metrics, params["identity"])
            if problem:
                raise RunError(f"record {metrics_path} is not this run's finished metrics ({problem}); "
                               "retrain: himnet train --force, or delete the run folder (himnet reproduce)")
            log(f"run {run_dir} is already finished; nothing to do (use --force to retrain)")
            return metrics
    if force and run_dir.exists():
        for name in RunDir.PRODUCTS:
            (run_dir / name).unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(params_path, params)

    tc = cfg.train
    data_rng = seed_everything(tc.seed)
    model, compose = build_variant(cfg)
    model.to(dev)
    opt = make_optimizer(model, tc)
    train_videos = ds.train_videos()
    sampler = CoActionSampler(train_labels, batch_size=tc.batch_size, n_pairs=tc.n_pairs, rng=data_rng)

    start, history, acc, best = 0, [], {}, None
    if ckpt_path.exists() and not force:
        state = load_checkpoint(ckpt_path, dev, identity=params["identity"],
                                way_out="retrain: himnet train --force, or delete the run folder "
                                        "(himnet reproduce)")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        restore_rng_state(state["rng"], data_rng)
        start, history, acc, best = state["iteration"], state["history"], state["accumulator"], state.get("best")
        log(f"resuming {run_dir} at iteration {start}/{tc.iterations}")

    saved_at = start if ckpt_path.exists() and not force else None  # the iteration of the last good checkpoint

    def checkpoint(it: int) -> None:
        nonlocal saved_at
        bad = next((name for name, p in model.named_parameters() if not bool(torch.isfinite(p).all())), None)
        if bad is not None:  # the loss was finite, the step was not: keep the checkpoint before it
            raise _diverged(run_dir, it, f"the weight {bad!r} became non-finite (the loss terms were finite)",
                            saved_at)
        save_checkpoint(ckpt_path, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                    "rng": rng_state(data_rng), "iteration": it, "history": history,
                                    "accumulator": acc, "best": best, "identity": params["identity"]})
        write_history(rd.history_path, history)
        saved_at = it

    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=tc.iterations, initial=start, disable=not show, desc=run_dir.name, leave=False)
    model.train()
    for it in range(start, tc.iterations):
        idx = sampler.sample()
        feats, labels_np = make_batch(train_videos, idx, tc.seq_len, data_rng, mode=tc.sampling)
        x = torch.from_numpy(feats).to(dev)
        y = torch.from_numpy(labels_np).to(dev)
        total, terms = step(model, opt, compose, x, y, loss_cfg, dev, tc.amp)
        loss = float(total.detach())
        values = {k: float(v.detach()) for k, v in terms.items()}
        if not math.isfinite(loss):
            bar.close()
            raise _diverged(run_dir, it + 1, _first_non_finite(loss, values), saved_at)
        acc["n"] = acc.get("n", 0) + 1
        acc["loss"] = acc.get("loss", 0.0) + loss
        for k, v in values.items():
            acc[k] = acc.get(k, 0.0) + v
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

    selected_iteration = tc.iterations
    if tc.select_on_test:
        if best is None:
            raise RunError("train.select_on_test needs train.eval_interval > 0")
        model.load_state_dict(best["model"])
        selected_iteration = best["iteration"]
    outputs = infer_videos(model, ds.test_videos(), dev, tc.amp)
    metrics, preds = evaluate_outputs(ds, outputs, cfg)
    metrics.update({
        "selection": SELECTION_TEST if tc.select_on_test else SELECTION_LAST,
        "selected_iteration": selected_iteration,
        "evaluated_on": params["data"]["evaluated_on"],
        "identity": params["identity"],
        "num_params": int(sum(p.numel() for p in model.parameters())),
        "wall_time_s": round(time.time() - t0, 2),
    })
    write_history(rd.history_path, history)
    atomic_write(rd.outputs_path, lambda f: write_npz(
        f, {f"{name}/{k}": a for name, d in outputs.items() for k, a in d.items()}))
    if tc.select_on_test:
        preds.setdefault("external_data", {})["model_selection"] = SELECTION_TEST
    write_results(rd.predictions_path, preds)
    atomic_write_json(metrics_path, metrics)  # last: its presence marks the run finished
    return metrics
