"""The ``stacking`` part: what training several runs as one batch could save at demo size (the
bound from larger batches), and what a stacked step (parameters stacked + vmap) gives."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import torch

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.profiles import build_config
from himnet_lib.config.run import resolve_config
from himnet_lib.config.sections import ModelConfig
from himnet_lib.modeling.himnet import build_model
from himnet_lib.modeling.losses.compose import compose_losses
from himnet_lib.utils.device import autocast, tune_cpu_allocator

from .demo import DEMO_VARIANTS
from .part import Context
from .steps import CPU, bf16_on, labels, make_step
from .timing import interleaved

NAME = "stacking"


def make_vmap_step(mcfg: ModelConfig, lcfg: LossConfig, K: int, B: int, T: int, D: int, C: int,
                   seed: int = 0) -> Callable[[], float]:
    """K runs trained as one: parameters stacked (``torch.func.stack_module_state``), the forward
    pass and the losses vmapped over the run axis (each run its own dropout masks,
    ``randomness="different"``), one backward of the summed losses, fused Adam on the stacked
    parameters, under the demo default's precision (bf16 autocast where native). The reference (``nn.Module``) path: the
    fast path draws all of a pass's dropout masks in one call and uses custom autograd functions,
    which vmap cannot batch."""
    from torch.func import functional_call, stack_module_state, vmap

    torch.manual_seed(seed)
    models = [build_model(dataclasses.replace(mcfg, impl="reference")).train() for _ in range(K)]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    x, y = torch.randn(K, B, T, D), labels(B, C)

    def one(p, b, xx):
        total, _ = compose_losses(functional_call(base, (p, b), (xx,)), y, lcfg)
        return total

    f = vmap(one, randomness="different")
    amp = bf16_on("auto")
    opt = torch.optim.Adam(list(params.values()), lr=3e-5, weight_decay=1e-3, fused=True)

    def stacked_step() -> float:
        with autocast(CPU, "bf16" if amp else "none"):
            total = f(params, buffers, x)
        opt.zero_grad(set_to_none=True)
        total.sum().backward()
        opt.step()
        return float(total.detach().sum())

    return stacked_step


def bench_stacking(reps: int) -> dict:
    """1 thread, CPU time per video: the demo default step at batch 10 (one run), 20 and 40 (two
    and four runs' batches stacked). Stacking K runs (parameters stacked + vmap, or grouped
    products) cannot beat the per-video cost of one K-times larger batch, so ``stacking_bound``
    bounds its speedup per run. Measured as well: the stacked step itself (:func:`make_vmap_step`,
    1 and 4 runs), per run, against the demo default's single-run step
    (``vmap_per_run_vs_single_fast``: below 1 is slower) and against one run on the path the
    stacked step uses (reference modules, its precision, fused Adam, no fill:
    ``vmap_per_run_vs_single_reference``), which separates what stacking gives from what the fast
    path gives."""
    torch.set_num_threads(1)
    tune_cpu_allocator()  # process-wide; as in the demo part, whichever part runs first
    cfg = resolve_config(build_config("demo"), feature_dim=128, num_classes=20)
    T = cfg.train.seq_len
    fns = {}
    default = DEMO_VARIANTS["fast"]
    for B in (10, 20, 40):
        fns[str(B)], _ = make_step(dataclasses.replace(cfg.model, impl=default.impl), cfg.loss,
                                   torch.randn(B, T, 128), labels(B, 20), default.amp, fused_adam=default.fused_adam)
    fns["ref10"], _ = make_step(dataclasses.replace(cfg.model, impl="reference"), cfg.loss,
                                torch.randn(10, T, 128), labels(10, 20), "auto", fused_adam=True)
    for K in (1, 4):
        fns[f"vmap{K}"] = make_vmap_step(cfg.model, cfg.loss, K, 10, T, 128, 20)
    r = interleaved(fns, reps, warmup=3)
    per_video = {B: r[B]["cpu"] / int(B) for B in ("10", "20", "40")}
    vmap_per_run = {f"{K} runs": r[f"vmap{K}"]["cpu"] / K for K in (1, 4)}
    return {"stacking": {"per_video_cpu_s": per_video,
                         "stacking_bound": {f"{int(B) // 10} runs": per_video["10"] / v for B, v in per_video.items()},
                         "vmap_per_run_cpu_s": vmap_per_run,
                         "vmap_per_run_vs_single_fast": {k: r["10"]["cpu"] / v for k, v in vmap_per_run.items()},
                         "single_reference_cpu_s": r["ref10"]["cpu"],  # in the demo default's precision
                         "vmap_per_run_vs_single_reference": {k: r["ref10"]["cpu"] / v
                                                              for k, v in vmap_per_run.items()}}}


def measure(ctx: Context) -> dict:
    return bench_stacking(3 if ctx.quick else 11)


def _pair(s: dict, key: str, runs: tuple[int, int]) -> str | None:
    return "{:.2f}x / {:.2f}x".format(*(s[key][f"{k} runs"] for k in runs)) if key in s else None


def table_rows(res: dict) -> list[tuple]:
    s = res.get("stacking", {})
    return [("stacking bound: per-run speedup of 2 / 4 runs in one batch", _pair(s, "stacking_bound", (2, 4)), ""),
            ("stacked step measured (vmap, 1 / 4 runs): per run vs one fast step",
             _pair(s, "vmap_per_run_vs_single_fast", (1, 4)), ""),
            ("stacked step measured: per run vs one reference-path step (same precision)",
             _pair(s, "vmap_per_run_vs_single_reference", (1, 4)), "")]
