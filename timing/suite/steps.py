"""The training step as the benchmarks time it: a variant's settings (:class:`Variant`), its step
closure, its matrix-product FLOPs, the losses' share of it, and timing variants interleaved."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.sections import ModelConfig, TrainConfig
from himnet_lib.engine.train import make_optimizer, step
from himnet_lib.modeling.himnet import ModelOutput, build_model
from himnet_lib.modeling.losses.compose import compose_losses
from himnet_lib.utils.device import autocast, resolve_amp
from himnet_lib.utils.process_state import restored_process_settings

from .timing import interleaved

CPU = torch.device("cpu")


class Variant(NamedTuple):
    """One way of running the training step. ``label`` names it in the terminal table
    (``{fast_amp}`` stands for the precision ``train.amp=auto`` resolves to on the machine)."""
    impl: str                 # ModelConfig.impl
    amp: bool | str           # bf16 autocast on / off, or "auto" (:func:`bf16_on`)
    fused_adam: bool
    fill_uninitialized: bool  # torch.utils.deterministic.fill_uninitialized_memory
    label: str


def step_flops(cfg: ModelConfig, B: int, T: int) -> float:
    """Matrix-product FLOPs of one training step of HiMNet (forward + backward; the losses' few
    small products are not counted). Backward = 2x forward, except that layers reading the input
    features (which need no gradient) skip the input-gradient product."""
    N, D, Dm, C1 = B * T, cfg.feature_dim, cfg.modality_dim, cfg.num_classes + 1
    H, Hc = cfg.attention_hidden, cfg.hidden
    fwd_grad_in, fwd_no_grad_in = 0.0, 0.0   # forward FLOPs of layers with / without input grad
    if cfg.fusion == "ccm":
        fwd_grad_in += 2 * (2 * B * Dm * Dm)        # global context (reads the mean of x: no grad)
        fwd_no_grad_in += 2 * (2 * N * 3 * Dm * Dm)  # local context k=3 on the other modality of x
        fwd_grad_in += 2 * N * D * D                 # mix (reads gated features)
        head_in_grad = True
    else:
        fwd_no_grad_in += 2 * N * D * D
        head_in_grad = False
    heads = 2 if cfg.attention == "modality" else 1
    din = Dm if cfg.attention == "modality" else D
    first = heads * 2 * N * 3 * din * H
    if head_in_grad and cfg.attention == "modality":
        fwd_grad_in += first
    else:
        fwd_no_grad_in += first
    fwd_grad_in += heads * (2 * N * 3 * H * H + 2 * N * H)
    fwd_grad_in += 2 * N * 3 * D * Hc + 2 * N * Hc * C1
    return 3 * fwd_grad_in + 2 * fwd_no_grad_in


def labels(B: int, C: int) -> torch.Tensor:
    y = torch.zeros(B, C)
    for b in range(B):  # 3 same-class pairs, then singletons (as the co-action sampler builds them)
        y[b, (b // 2) % C if b < 6 else b % C] = 1.0
    return y


def bf16_on(amp: bool | str) -> bool:
    """A variant's autocast flag: True/False as given; "auto" as the profiles resolve it here
    (bf16 only on a CPU with native bf16: himnet_lib.utils.device.resolve_amp)."""
    return amp if isinstance(amp, bool) else resolve_amp(amp, torch.device("cpu")) == "bf16"


def make_step(mcfg: ModelConfig, lcfg: LossConfig, x: torch.Tensor, y: torch.Tensor, amp: bool | str, seed: int = 0,
              fused_adam: bool = False, fill_uninitialized: bool | None = None):
    """One training step closure (forward + compose_losses + backward + Adam), as train.py runs it.

    ``amp``: bf16 autocast on or off, or "auto" (:func:`bf16_on`).
    ``fused_adam``: ``train.fused_adam`` (the optimizer comes from ``train.make_optimizer``).
    ``fill_uninitialized``: set ``torch.utils.deterministic.fill_uninitialized_memory`` for this
    step only (under deterministic algorithms, as train.py runs: True = the code as the performance
    issue was filed, False = today's ``seed_everything``); None leaves it alone."""
    torch.manual_seed(seed)
    model = build_model(mcfg).train()
    opt = make_optimizer(model, TrainConfig(lr=3e-5, weight_decay=1e-3, fused_adam=fused_adam))
    amp = bf16_on(amp)

    def one_step() -> float:
        if fill_uninitialized is not None:
            torch.utils.deterministic.fill_uninitialized_memory = fill_uninitialized
        total, _ = step(model, opt, compose_losses, x, y, lcfg, CPU, "bf16" if amp else "none")
        return float(total.detach())

    return one_step, model


def loss_time(model, x: torch.Tensor, y: torch.Tensor, lcfg: LossConfig, amp: bool, reps: int) -> float:
    """Median seconds of compose_losses forward + backward on detached model outputs."""
    with torch.no_grad(), autocast(CPU, "bf16" if amp else "none"):
        out = model(x)
    leaves = {k: getattr(out, k).detach().requires_grad_() for k in ("attention", "cas", "probs", "features")}

    def run():
        cas_supp = leaves["cas"] * leaves["attention"].unsqueeze(-1)
        o = ModelOutput(attention=leaves["attention"], cas=leaves["cas"], cas_supp=cas_supp,
                        probs=leaves["probs"], features=leaves["features"], attention_parts=(leaves["attention"],))
        total, _ = compose_losses(o, y, lcfg)
        total.backward()
    return interleaved({"l": run}, reps)["l"]["wall"]


def run_variants(variants: dict[str, Variant], mcfg: ModelConfig, lcfg: LossConfig, x: torch.Tensor,
                 y: torch.Tensor, reps: int, warmup: int) -> tuple[dict, dict]:
    """Time every variant's training step interleaved (:func:`interleaved`), under deterministic
    algorithms as ``seed_everything`` runs training (each variant sets its own NaN fill); torch's
    process-wide settings are restored afterwards. Returns (timings, models)."""
    fns, models = {}, {}
    with restored_process_settings():
        torch.use_deterministic_algorithms(True, warn_only=True)
        for key, v in variants.items():
            fns[key], models[key] = make_step(dataclasses.replace(mcfg, impl=v.impl), lcfg, x, y, v.amp,
                                              fused_adam=v.fused_adam, fill_uninitialized=v.fill_uninitialized)
        return interleaved(fns, reps, warmup=warmup), models


def variant_rows(prefix: str, variants: dict[str, Variant], timed: dict, res: dict) -> list[tuple]:
    """Terminal rows of the timed variants: ``prefix`` + label, seconds."""
    return [(prefix + v.label.format(fast_amp=res.get("fast_amp", "bf16")), timed[k], "s")
            for k, v in variants.items() if k in timed]
