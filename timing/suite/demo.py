"""The ``demo`` part: the demo-size training step, every variant of :data:`DEMO_VARIANTS` timed
interleaved in this process (1 thread), and the losses' share of the fast step."""

from __future__ import annotations

import torch

from himnet_lib.config.profiles import build_config
from himnet_lib.config.run import resolve_config
from himnet_lib.modeling.himnet import count_parameters
from himnet_lib.utils.device import tune_cpu_allocator

from .part import Context, fmt, ratio, readme_row
from .steps import Variant, bf16_on, labels, loss_time, run_variants, variant_rows

NAME = "demo"

# "reference" is the code as the performance issue was filed (reference nn.Module path, float32,
# Adam's per-parameter loop, deterministic mode filling every new tensor); "fast" is today's demo
# default (fast path, fused Adam, no fill, and the demo profile's train.amp=auto: bf16 autocast on a
# CPU with native bf16, float32 elsewhere).
DEMO_VARIANTS = {
    "reference": Variant("reference", False, False, True, "reference as filed: fp32 (1 thread)"),
    "reference_bf16": Variant("reference", True, False, True, "reference under bf16 autocast"),
    "fast_fp32": Variant("fast", False, True, False, "fast path fp32 (fused Adam, no fill)"),
    "fast": Variant("fast", "auto", True, False, "fast = demo default ({fast_amp})"),
}


def bench_demo(reps: int) -> dict:
    """The CPU allocator setting (``tune_cpu_allocator``) is process-wide, so it is applied here for
    all variants: the reference gains from it too, and the ratio understates the fast path's full
    gain (the ``allocator`` part measures that lever on its own)."""
    torch.set_num_threads(1)
    tune_cpu_allocator()
    cfg = resolve_config(build_config("demo"), feature_dim=128, num_classes=20)
    B, T = cfg.train.batch_size, cfg.train.seq_len
    x, y = torch.randn(B, T, 128), labels(B, 20)
    r, models = run_variants(DEMO_VARIANTS, cfg.model, cfg.loss, x, y, reps, warmup=3)
    lt = loss_time(models["fast"], x, y, cfg.loss, bf16_on("auto"), reps)
    return {
        "shape": {"B": B, "T": T, "D": 128, "params": count_parameters(models["fast"]), "threads": 1},
        "demo_variants": {k: {"impl": v.impl, "amp": "bf16" if bf16_on(v.amp) else "none",
                              "fused_adam": v.fused_adam, "fill_uninitialized_memory": v.fill_uninitialized}
                          for k, v in DEMO_VARIANTS.items()},
        "demo_step_s": {k: v["wall"] for k, v in r.items()},
        "demo_step_cpu_s": {k: v["cpu"] for k, v in r.items()},
        "demo_speedup_fast_vs_reference_cpu": r["reference"]["cpu"] / r["fast"]["cpu"],
        "demo_loss_s": lt,
        "demo_loss_share_fast": lt / r["fast"]["wall"],
    }


def measure(ctx: Context) -> dict:
    return bench_demo(5 if ctx.quick else 21)


def table_rows(res: dict) -> list[tuple]:
    d, dc = res.get("demo_step_s", {}), res.get("demo_step_cpu_s", {})
    return [*variant_rows("demo step, ", DEMO_VARIANTS, d, res),
            ("  speedup fast/reference (wall / cpu)",
             f"{d['reference'] / d['fast']:.2f}x / {dc['reference'] / dc['fast']:.2f}x"
             if all("reference" in t and "fast" in t for t in (d, dc)) else None, "")]


def readme_rows(res: dict) -> list[dict[str, str]]:
    if "demo_step_cpu_s" not in res:
        return []
    dc, amp = res["demo_step_cpu_s"], res.get("fast_amp", "bf16")  # older files: bf16
    return [
        readme_row(f"demo step, 1 thread (CPU time): reference as filed (fp32) vs fast = demo default ({amp})",
                   fmt(dc.get("reference"), "s"), fmt(dc.get("fast"), "s"), ratio(dc.get("reference"), dc.get("fast"))),
        readme_row("demo step, 1 thread (CPU time): both in float32", fmt(dc.get("reference"), "s"),
                   fmt(dc.get("fast_fp32"), "s"), ratio(dc.get("reference"), dc.get("fast_fp32"))),
    ]
