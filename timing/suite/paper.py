"""The ``paper`` part: the paper-scale training step (thumos14 shapes, 2 threads), every variant of
:data:`PAPER_VARIANTS` this CPU can time, interleaved; its achieved GFLOP/s against the matrix-product
peak measured around it, and the losses' share of the fast step."""

from __future__ import annotations

import torch

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.sections import ModelConfig
from himnet_lib.modeling.himnet import count_parameters
from himnet_lib.utils.device import native_bf16, tune_cpu_allocator

from .machine import matmul_peak
from .part import Context, fmt, ratio, readme_row
from .steps import Variant, bf16_on, labels, loss_time, run_variants, step_flops, variant_rows

NAME = "paper"

# "fast" is how train.py runs the thumos14 profile (fast path, train.amp=auto, fused Adam, no
# fill); "fast_adam_loop" the same with Adam's loop. Without native bf16 the bf16 variants are not
# timed (a 2048-wide bf16 product falls back to a kernel far slower than float32: one step would
# outlast the whole bench; docs/performance.md has the numbers) and fast_fp32 is the same as fast.
PAPER_VARIANTS = {
    "reference_fp32": Variant("reference", False, False, True, "reference fp32 (2 threads)"),
    "reference_bf16": Variant("reference", True, False, True, "reference bf16"),
    "fast": Variant("fast", "auto", True, False, "fast ({fast_amp}, as the thumos14 profile)"),
    "fast_fp32": Variant("fast", False, True, False, "fast fp32"),
    "fast_adam_loop": Variant("fast", "auto", False, False, "fast with Adam's loop"),
}


def paper_variants() -> dict[str, Variant]:
    """:data:`PAPER_VARIANTS` that this CPU can time (see there)."""
    if native_bf16(torch.device("cpu")):
        return dict(PAPER_VARIANTS)
    return {k: v for k, v in PAPER_VARIANTS.items() if v.amp is not True and k != "fast_fp32"}


def bench_paper(reps: int, threads: int = 2) -> dict:
    torch.set_num_threads(threads)
    tune_cpu_allocator()  # process-wide; as in the demo part, whichever part runs first
    B, T, D, C = 10, 560, 2048, 20
    mcfg = ModelConfig(feature_dim=D, num_classes=C)
    lcfg = LossConfig()
    x, y = torch.randn(B, T, D), labels(B, C)
    amp = bf16_on("auto")  # the thumos14 profile's precision here: bf16 only where native

    def peak_now() -> dict[str, float]:
        # without native bf16 its peak comes from one 512 x 512 product (2048-wide: a minute each)
        return {"fp32": matmul_peak(torch.float32),
                "bf16": matmul_peak(torch.bfloat16, n=2048 if amp else 512, reps=5 if amp else 1)}

    before = peak_now()
    r, models = run_variants(paper_variants(), mcfg, lcfg, x, y, reps, warmup=1)
    after = peak_now()
    peaks = {k: max(before[k], after[k]) for k in before}
    lt = loss_time(models["fast"], x, y, lcfg, amp, max(3, reps))
    flops = step_flops(mcfg, B, T)
    fast = r["fast"]["wall"]
    fast_dtype = "bf16" if amp else "fp32"
    return {
        "paper_shape": {"B": B, "T": T, "D": D, "C": C, "params": count_parameters(models["fast"]),
                        "threads": threads, "step_gflop": flops / 1e9},
        "paper_step_s": {k: v["wall"] for k, v in r.items()},
        "paper_step_cpu_s": {k: v["cpu"] for k, v in r.items()},
        "matmul_peak_gflops": peaks,
        "matmul_peak_note": "best of two measurements around the steps" + (
            "" if amp else "; no native bf16 on this CPU: bf16 from one 512 x 512 product"),
        "paper_step_achieved_gflops": flops / fast / 1e9,
        # against the peak of the precision the fast path runs in on this CPU
        "paper_fraction_of_peak": {"dtype": fast_dtype, "value": flops / fast / 1e9 / peaks[fast_dtype]},
        "paper_speedup_fast_vs_reference_fp32": r["reference_fp32"]["wall"] / fast,
        "paper_speedup_fast_vs_reference_fp32_cpu": r["reference_fp32"]["cpu"] / r["fast"]["cpu"],
        "paper_note": "reference = as filed (nn.Module path, fp32, Adam loop, deterministic fill); fast = "
                      f"impl 'fast' + {'bf16 autocast (float32 master weights)' if amp else 'float32'} + fused "
                      "Adam + no fill, as train.py runs the thumos14 profile (train.amp=auto) on this CPU; "
                      "fast_adam_loop = fast with Adam's loop" + (
                          "" if amp else "; no native bf16 here: bf16 variants not timed (about 400x "
                                            "slower products)"),
        "paper_loss_s": lt,
        "paper_loss_share_fast": lt / fast,
    }


def measure(ctx: Context) -> dict:
    return bench_paper(1 if ctx.quick else 5)


def table_rows(res: dict) -> list[tuple]:
    return [
        *variant_rows("paper step, ", PAPER_VARIANTS, res.get("paper_step_s", {}), res),
        ("  speedup fast / reference fp32", res.get("paper_speedup_fast_vs_reference_fp32"), "x"),
        ("matmul peak fp32 / bf16", "{fp32:.0f} / {bf16:.0f}".format(**res["matmul_peak_gflops"])
         if "matmul_peak_gflops" in res else None, "GFLOP/s"),
        ("paper step achieved (fast)", res.get("paper_step_achieved_gflops"), "GFLOP/s"),
        ("  fraction of the peak of its precision", (res.get("paper_fraction_of_peak") or {}).get("value"), ""),
        ("loss share of the step (demo fast / paper fast)",
         f"{res['demo_loss_share_fast']:.2f} / {res['paper_loss_share_fast']:.2f}"
         if "paper_loss_share_fast" in res and "demo_loss_share_fast" in res else None, ""),
    ]


def readme_rows(res: dict) -> list[dict[str, str]]:
    if "paper_step_s" not in res:
        return []
    p, peak = res["paper_step_s"], res.get("matmul_peak_gflops") or {}
    threads = (res.get("paper_shape") or {}).get("threads", "?")
    amp = res.get("fast_amp", "bf16")  # older files: bf16
    # older files: the fraction of the bf16 peak only
    frac = res.get("paper_fraction_of_peak") or {"dtype": "bf16", "value": res.get("paper_fraction_of_bf16_peak")}
    ref, fast, achieved = p.get("reference_fp32"), p.get("fast"), res.get("paper_step_achieved_gflops")
    return [
        readme_row(f"paper step, {threads} threads (fast = {amp}, the thumos14 profile)",
                   fmt(ref, "s"), fmt(fast, "s"), ratio(ref, fast)),
        readme_row(f"paper step achieved / {frac['dtype']} matmul peak of the run", "",
                   f"{fmt(achieved, 'GFLOP/s')} / {fmt(peak.get(frac['dtype']), 'GFLOP/s')}", fmt(frac["value"])),
    ]
