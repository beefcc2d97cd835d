"""The ``numerics`` part: the fast path's loss curves against the reference path's, from the same
weights and batches (``results/timing/numerics_<machine>.csv`` and ``.png``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.sections import ModelConfig, TrainConfig
from himnet_lib.engine.train import make_optimizer, step
from himnet_lib.modeling.himnet import build_model
from himnet_lib.modeling.losses.compose import compose_losses
from himnet_lib.utils.device import native_bf16

from .part import Context
from .paths import RESULTS, shown
from .steps import CPU

NAME = "numerics"

# a reduced paper-like scale: 200 full paper-scale float32 steps take too long for make bench
SCALE = {"B": 10, "T": 140, "D": 256, "H": 64}


def numerics(steps: int, slug: str, scale: dict, out_dir: Path = RESULTS) -> dict:
    """Loss curves over ``steps`` Adam steps from the same initial weights and batches, with the
    paper's dropout and with dropout off: the reference path (float32, Adam's loop), the fast path
    in float32 and under bf16 autocast, both with fused Adam. The bf16 curve only where the CPU has
    native bf16: elsewhere no profile trains in bf16 (``train.amp=auto``), and its fallback
    products are several times slower (the demo step 6-8x)."""
    torch.set_num_threads(2)
    native = native_bf16(torch.device("cpu"))
    B, T, D, C = scale["B"], scale["T"], scale["D"], 20
    base = ModelConfig(feature_dim=D, num_classes=C, attention_hidden=scale["H"])
    lcfg = LossConfig()
    g = torch.Generator().manual_seed(0)
    protos = torch.randn(C, D, generator=g)
    curves: dict[str, list[float]] = {}
    for drop in (True, False):
        mc = base if drop else dataclasses.replace(base, ccm_dropout=0.0, attention_dropout=0.0, dropout=0.0)
        steppers = {}
        for key, impl, fused in (("reference", "reference", False), ("fast", "fast", True),
                                 ("fast_bf16", "fast", True))[: 3 if native else 2]:
            torch.manual_seed(0)
            model = build_model(dataclasses.replace(mc, impl=impl)).train()
            steppers[key] = (model, make_optimizer(model, TrainConfig(lr=3e-5, weight_decay=1e-3, fused_adam=fused)))
        for key in [k for k in steppers if k != "reference"]:
            steppers[key][0].load_state_dict(steppers["reference"][0].state_dict())
        tag = "dropout" if drop else "no_dropout"
        for impl in steppers:
            curves[f"{impl}_{tag}"] = []
        dg = torch.Generator().manual_seed(1)
        for it in range(steps):
            y = torch.zeros(B, C)
            cls = torch.randint(0, C, (B,), generator=dg)
            y[torch.arange(B), cls] = 1.0
            x = torch.randn(B, T, D, generator=dg)
            start = torch.randint(0, T // 2, (B,), generator=dg)
            for b in range(B):
                x[b, start[b]: start[b] + T // 4] += 0.5 * protos[cls[b]]
            for impl, (model, opt) in steppers.items():
                torch.manual_seed(1000 + it)
                total, _ = step(model, opt, compose_losses, x, y, lcfg, CPU, "bf16" if impl == "fast_bf16" else "none")
                curves[f"{impl}_{tag}"].append(float(total.detach()))
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"numerics_{slug}.csv"
    keys = list(curves)
    with open(csv_path, "w") as f:
        f.write("step," + ",".join(keys) + "\n")
        for i in range(steps):
            f.write(f"{i + 1}," + ",".join(f"{curves[k][i]:.6g}" for k in keys) + "\n")
    png = None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
        for ax, tag in zip(axes, ("dropout", "no_dropout")):
            ax.plot(curves[f"reference_{tag}"], label="reference (fp32)", lw=1.5)
            ax.plot(curves[f"fast_{tag}"], label="fast (fp32)", lw=1.0, ls="--")
            if native:
                ax.plot(curves[f"fast_bf16_{tag}"], label="fast (bf16 autocast)", lw=1.0, ls=":")
            ax.set_title(tag.replace("_", " "))
            ax.set_xlabel("step")
            ax.legend()
        axes[0].set_ylabel("total loss (Eq. 11)")
        fig.suptitle(f"reference vs fast path, B={B} T={T} D={D} (reduced paper-like scale)", fontsize=9)
        fig.tight_layout()
        png = out_dir / f"numerics_{slug}.png"
        fig.savefig(png, dpi=110)
        plt.close(fig)
    except ImportError:
        pass
    ref_nd = np.array(curves["reference_no_dropout"])
    nd = np.abs(ref_nd - np.array(curves["fast_no_dropout"]))
    nd_bf16 = np.abs(ref_nd - np.array(curves["fast_bf16_no_dropout"])) if native else None
    dd = np.array(curves["reference_dropout"]) - np.array(curves["fast_dropout"])
    return {"numerics": {
        "scale": {**scale, "steps": steps, "lr": 3e-5,
                  "note": "reduced paper-like scale (200 full paper-scale fp32 steps take too long for make bench)"},
        "no_dropout_max_abs_loss_diff": float(nd.max()),
        "no_dropout_max_rel_loss_diff": float((nd / np.abs(np.array(curves["reference_no_dropout"]))).max()),
        "dropout_mean_last50_reference": float(np.mean(curves["reference_dropout"][-50:])),
        "dropout_mean_last50_fast": float(np.mean(curves["fast_dropout"][-50:])),
        "dropout_mean_last50_fast_bf16": float(np.mean(curves["fast_bf16_dropout"][-50:])) if native else None,
        "no_dropout_max_rel_loss_diff_bf16": float((nd_bf16 / np.abs(ref_nd)).max()) if nd_bf16 is not None else None,
        "bf16_curve": "measured" if native else "not measured: no native bf16 on this CPU",
        "dropout_mean_diff_sd": float(dd.std()),
        "csv": shown(csv_path),
        "png": shown(png) if png else None,
    }}


def measure(ctx: Context) -> dict:
    return numerics(20 if ctx.quick else 200, ctx.slug, SCALE, ctx.out_dir)


def table_rows(res: dict) -> list[tuple]:
    return [("numerics: max |loss diff| no dropout", res.get("numerics", {}).get("no_dropout_max_abs_loss_diff"), "")]
