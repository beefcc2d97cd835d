"""All performance numbers in one table; writes ``results/bench/<machine>.json``.

    python benchmarks/bench_all.py              # the full set (~5-10 min on a 2-core CPU)
    python benchmarks/bench_all.py --quick      # fewer repetitions, smaller numerics check

Every comparison (reference vs fast, fp32 vs bf16, step vs matmul peak) is measured in the SAME
run, interleaved (A, B, A, B, ...), and reported as the median of several repetitions, so that
other work on a shared machine slows both sides alike; compare ratios, not absolute times, across
runs. Besides wall-clock medians the JSON keeps medians of process CPU time (``*_cpu_s``), which
are far less sensitive to other processes competing for the cores.

Machine key: a slug of the CPU model name and core count from /proc/cpuinfo (hostname-free).
Also written: ``results/bench/numerics_<machine>.csv`` and ``.png`` (loss curves of the reference
path and the fast path in float32 and under bf16 autocast, over 200 steps at a reduced paper-like
scale).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # sibling bench scripts (synthetic GT/predictions, synthetic video)

from himnet_lib.config import TrainConfig, build_config, resolve_config  # noqa: E402
from himnet_lib.device import autocast, native_bf16, resolve_amp, tune_cpu_allocator  # noqa: E402
from himnet_lib.io import atomic_write_text  # noqa: E402
from himnet_lib.losses import LossConfig, compose_losses  # noqa: E402
from himnet_lib.model import ModelConfig, ModelOutput, build_model, count_parameters  # noqa: E402
from himnet_lib.process import restored_process_settings  # noqa: E402
from himnet_lib.train import make_optimizer, step  # noqa: E402

CPU = torch.device("cpu")

RESULTS = HERE.parent / "results" / "bench"


# --- machine ------------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_slug() -> str:
    name = re.sub(r"\((r|tm|c)\)", "", cpu_model().lower())
    name = re.sub(r"\b(cpu|processor|with|radeon graphics)\b", " ", name)
    name = re.sub(r"@.*", "", name)
    slug = re.sub(r"[^a-z0-9]+", "-", name).strip("-") or "cpu"
    return f"{slug}-{os.cpu_count()}c"


# --- timing helpers ---------------------------------------------------------------------------

def interleaved(fns: dict, reps: int, warmup: int = 1) -> dict[str, dict[str, float]]:
    """Median wall and CPU seconds of each callable, each run once per repetition, ``reps`` times.
    Every repetition runs them in a new (seeded, so reproducible) random order: what runs right
    before a callable can shift its time (caches and clocks after a float32 vs a bf16 step; with a
    fixed order the paper step's fused-vs-loop comparison flipped between runs), and a fixed order,
    or a rotation of it, keeps the same neighbours."""
    for f in fns.values():
        for _ in range(warmup):
            f()
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    order = random.Random(20261128)
    for _ in range(reps):
        keys = list(fns)
        order.shuffle(keys)
        for k in keys:
            f = fns[k]
            t0, c0 = time.perf_counter(), time.process_time()
            f()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    return {k: {"wall": statistics.median(wall[k]), "cpu": statistics.median(cpu[k])} for k in fns}


def matmul_peak(dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    """Best-of-``reps`` GFLOP/s of one n x n x n matrix product."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


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


def _labels(B: int, C: int) -> torch.Tensor:
    y = torch.zeros(B, C)
    for b in range(B):  # 3 same-class pairs, then singletons (as the co-action sampler builds them)
        y[b, (b // 2) % C if b < 6 else b % C] = 1.0
    return y


def bf16_on(amp: bool | str) -> bool:
    """A variant's autocast flag: True/False as given; "auto" as the profiles resolve it here
    (bf16 only on a CPU with native bf16: himnet_lib.device.resolve_amp)."""
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


# --- the parts ----------------------------------------------------------------------------------

# The demo step's variants: (impl, bf16 autocast, fused Adam, fill of uninitialised memory).
# "reference" is the code as the performance issue was filed (reference nn.Module path, float32,
# Adam's per-parameter loop, deterministic mode filling every new tensor); "fast" is today's demo
# default (fast path, fused Adam, no fill, and the demo profile's train.amp=auto: bf16 autocast on a
# CPU with native bf16, float32 elsewhere).
DEMO_VARIANTS = {
    "reference": ("reference", False, False, True),
    "reference_bf16": ("reference", True, False, True),
    "fast_fp32": ("fast", False, True, False),
    "fast": ("fast", "auto", True, False),
}


# The paper step's variants, in the same form; "fast" is how train.py runs the thumos14 profile
# (fast path, train.amp=auto, fused Adam, no fill); "fast_adam_loop" the same with Adam's loop.
# Without native bf16 the bf16 variants are not timed (a 2048-wide bf16 product falls back to a
# kernel about 400x slower than float32: a step's 865 GFLOP at 0.3 GFLOP/s is about 48 minutes)
# and fast_fp32 is the same as fast.
PAPER_VARIANTS = {
    "reference_fp32": ("reference", False, False, True),
    "reference_bf16": ("reference", True, False, True),
    "fast": ("fast", "auto", True, False),
    "fast_fp32": ("fast", False, True, False),
    "fast_adam_loop": ("fast", "auto", False, False),
}


def paper_variants() -> dict:
    """:data:`PAPER_VARIANTS` that this CPU can time (see there)."""
    if native_bf16(torch.device("cpu")):
        return dict(PAPER_VARIANTS)
    return {k: v for k, v in PAPER_VARIANTS.items() if v[1] is not True and k != "fast_fp32"}


def run_variants(variants: dict, mcfg: ModelConfig, lcfg: LossConfig, x: torch.Tensor, y: torch.Tensor,
                 reps: int, warmup: int) -> tuple[dict, dict]:
    """Time every variant's training step interleaved (:func:`interleaved`), under deterministic
    algorithms as ``seed_everything`` runs training (each variant sets its own NaN fill); torch's
    process-wide settings are restored afterwards. Returns (timings, models)."""
    fns, models = {}, {}
    with restored_process_settings():
        torch.use_deterministic_algorithms(True, warn_only=True)
        for key, (impl, amp, fused, fill) in variants.items():
            fns[key], models[key] = make_step(dataclasses.replace(mcfg, impl=impl), lcfg, x, y, amp,
                                              fused_adam=fused, fill_uninitialized=fill)
        return interleaved(fns, reps, warmup=warmup), models


def bench_demo(reps: int) -> dict:
    """Demo-size training step, 1 thread, every variant of :data:`DEMO_VARIANTS` interleaved in this
    process. The CPU allocator setting (``tune_cpu_allocator``) is process-wide, so it is applied
    here for all variants: the reference gains from it too, and the ratio understates the fast
    path's full gain (the ``allocator`` part measures that lever on its own)."""
    torch.set_num_threads(1)
    tune_cpu_allocator()
    cfg = resolve_config(build_config("demo"), feature_dim=128, num_classes=20)
    B, T = cfg.train.batch_size, cfg.train.seq_len
    x, y = torch.randn(B, T, 128), _labels(B, 20)
    r, models = run_variants(DEMO_VARIANTS, cfg.model, cfg.loss, x, y, reps, warmup=3)
    lt = loss_time(models["fast"], x, y, cfg.loss, bf16_on("auto"), reps)
    return {
        "shape": {"B": B, "T": T, "D": 128, "params": count_parameters(models["fast"]), "threads": 1},
        "demo_variants": {k: {"impl": v[0], "amp": "bf16" if bf16_on(v[1]) else "none", "fused_adam": v[2],
                              "fill_uninitialized_memory": v[3]} for k, v in DEMO_VARIANTS.items()},
        "demo_step_s": {k: v["wall"] for k, v in r.items()},
        "demo_step_cpu_s": {k: v["cpu"] for k, v in r.items()},
        "demo_speedup_fast_vs_reference_cpu": r["reference"]["cpu"] / r["fast"]["cpu"],
        "demo_loss_s": lt,
        "demo_loss_share_fast": lt / r["fast"]["wall"],
    }


_ALLOC_CHILD = r"""
import ctypes, sys, time, statistics, torch
sys.path.insert(0, sys.argv[1])
from bench_all import DEMO_VARIANTS, _labels, make_step
from himnet_lib.config import build_config, resolve_config
from himnet_lib.device import tune_cpu_allocator
import dataclasses
mode, variant, steps, scale = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
if mode == "tuned":
    tune_cpu_allocator()
elif mode == "thresholds":  # the earlier setting: mmap/trim thresholds only, large blocks still mmap'd
    libc = ctypes.CDLL("libc.so.6")
    assert libc.mallopt(-3, 32 << 20) and libc.mallopt(-1, 256 << 20)
if scale == "paper":
    torch.set_num_threads(2)
    cfg = resolve_config(build_config("thumos14"), feature_dim=2048, num_classes=20)
    x, warm, clock = torch.randn(10, 560, 2048), 2, time.perf_counter
else:
    torch.set_num_threads(1)
    cfg = resolve_config(build_config("demo"), feature_dim=128, num_classes=20)
    x, warm, clock = torch.randn(10, 192, 128), 10, time.process_time
impl, amp, fused, fill = DEMO_VARIANTS[variant]
step, _ = make_step(dataclasses.replace(cfg.model, impl=impl), cfg.loss, x, _labels(10, 20), amp, fused_adam=fused)
for _ in range(warm):
    step()
ts = []
for _ in range(steps):
    t0 = clock(); step(); ts.append(clock() - t0)
print(statistics.median(ts))
"""


def _alloc_child(mode: str, variant: str, steps: int, scale: str) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", _ALLOC_CHILD, str(HERE), mode, variant, str(steps), scale],
                         capture_output=True, text=True, env=env, timeout=600, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def bench_allocator(reps: int = 3, steps: int = 60, paper_reps: int = 3, paper_steps: int = 4) -> dict:
    """The allocator lever alone, in fresh processes, alternated: the demo step (fast default and
    reference; median CPU seconds) with and without ``tune_cpu_allocator``, ``reps`` times; and the
    paper-scale step (the thumos14 profile's fast path, 2 threads; median wall seconds) without it,
    with the earlier setting (mmap/trim thresholds only) and with it, ``paper_reps`` times."""
    got: dict[str, list[float]] = {}
    for _ in range(reps):
        for variant in ("fast", "reference"):
            for mode in ("default", "tuned"):
                got.setdefault(f"{variant}_{mode}", []).append(_alloc_child(mode, variant, steps, "demo"))
    med = {k: statistics.median(v) for k, v in got.items()}
    paper: dict[str, list[float]] = {}
    modes = ["default", "thresholds", "tuned"]
    for r in range(paper_reps):
        for mode in modes[r % 3:] + modes[:r % 3]:  # each mode in each position once per three repetitions
            paper.setdefault(mode, []).append(_alloc_child(mode, "fast", paper_steps, "paper"))
    pmed = {k: statistics.median(v) for k, v in paper.items()}
    return {"allocator": {"demo_step_cpu_s": med,
                          "speedup": {v: med[f"{v}_default"] / med[f"{v}_tuned"] for v in ("fast", "reference")},
                          "paper_step_s": pmed, "paper_step_runs_s": paper,
                          "paper_speedup": {m: pmed["default"] / pmed[m] for m in ("thresholds", "tuned")},
                          "note": "glibc mmap/trim thresholds raised and mmap off (himnet_lib.device."
                                  "tune_cpu_allocator); fresh process per measurement; 'thresholds' = the "
                                  "earlier setting without M_MMAP_MAX = 0; the children run without deterministic "
                                  "algorithms (train.py runs with them), so their absolute times differ from the "
                                  "demo and paper parts'"}}


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
    x, y = torch.randn(K, B, T, D), _labels(B, C)

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
    """What training several runs as one batch could save at demo size, 1 thread, CPU time per
    video: the demo default step at batch 10 (one run), 20 and 40 (two and four runs' batches
    stacked). Stacking K runs (parameters stacked + vmap, or grouped products) cannot beat the
    per-video cost of one K-times larger batch, so ``stacking_bound`` bounds its speedup per run.
    Measured as well: the stacked step itself (:func:`make_vmap_step`, 1 and 4 runs), per run,
    against the demo default's single-run step (``vmap_per_run_vs_single_fast``: below 1 is slower)
    and against one run on the path the stacked step uses (reference modules, its precision, fused
    Adam, no fill: ``vmap_per_run_vs_single_reference``), which separates what stacking gives from
    what the fast path gives."""
    torch.set_num_threads(1)
    tune_cpu_allocator()  # process-wide; as in bench_demo, whichever part runs first
    cfg = resolve_config(build_config("demo"), feature_dim=128, num_classes=20)
    T = cfg.train.seq_len
    fns = {}
    impl, amp, fused, _ = DEMO_VARIANTS["fast"]  # the demo default
    for B in (10, 20, 40):
        fns[str(B)], _ = make_step(dataclasses.replace(cfg.model, impl=impl), cfg.loss, torch.randn(B, T, 128),
                                   _labels(B, 20), amp, fused_adam=fused)
    fns["ref10"], _ = make_step(dataclasses.replace(cfg.model, impl="reference"), cfg.loss,
                                torch.randn(10, T, 128), _labels(10, 20), "auto", fused_adam=True)
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


def bench_paper(reps: int, threads: int = 2) -> dict:
    torch.set_num_threads(threads)
    tune_cpu_allocator()  # process-wide; as in bench_demo, whichever part runs first
    B, T, D, C = 10, 560, 2048, 20
    mcfg = ModelConfig(feature_dim=D, num_classes=C)
    lcfg = LossConfig()
    x, y = torch.randn(B, T, D), _labels(B, C)
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


def bench_eval(repeat: int = 3) -> dict:
    import bench_eval as be

    from himnet_lib.groundtruth import gt_from_anet_json, predictions_from_results
    from himnet_lib.metrics import THUMOS_TIOU, detection_map

    rng = np.random.default_rng(0)
    gt_obj = be.synthetic_gt(rng)
    res_obj = be.synthetic_results(rng, gt_obj)
    gt = gt_from_anet_json(gt_obj, "test")
    pred = predictions_from_results(res_obj)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        detection_map(gt, pred, THUMOS_TIOU)
        best = min(best, time.perf_counter() - t0)
    return {"eval_thumos_scale_s": best, "eval_input": {"videos": len(gt.videos), "gt": gt.num_instances,
                                                          "predictions": len(pred)}}


def bench_localize(repeat: int = 10) -> dict:
    import bench_localize as bl

    from himnet_lib.localize import LocalizeConfig, localize_video

    att, cas = bl.synthetic_video(np.random.default_rng(0), 2600, 20)
    out = {}
    for nms in ("soft", "nms"):
        cfg = LocalizeConfig(class_threshold=0.0, nms=nms)
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            localize_video(att, cas, cfg, 16 / 25, duration=2600 * 16 / 25)
            best = min(best, time.perf_counter() - t0)
        out[nms] = best * 1000
    # long videos, each in a fresh subprocess: peak RSS increase (MB) and seconds for both NMS modes
    long = {str(T): bl.long_video(T, timeout=600) for T in bl.LONG_SIZES}
    return {"localize_per_video_ms": out["soft"], "localize_per_video_ms_hard_nms": out["nms"],
            "localize_input": "T=2600 snippets, 20 classes, class_threshold 0 (worst case)",
            "localize_long_video": long,
            "localize_long_input": "T snippets, 20 classes, default LocalizeConfig, Soft-NMS and NMS from one "
                                   "candidate set; peak_rss_increase_mb over the process's peak before localizing"}


_LOAD_CHILD = r"""
import json, resource, sys, time
from himnet_lib.data import load_dataset
t = time.perf_counter()
ds = load_dataset(sys.argv[1])
s = time.perf_counter() - t
n = sum(v.features.nbytes for v in ds.videos)
print(json.dumps({"load_s": s, "feature_bytes": n, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def bench_load(n_videos: int = 412, mean_T: int = 330, dim: int = 2048) -> dict:
    """Peak RSS of loading a THUMOS-sized W-TALC bundle (412 videos, ~330 x 2048 float32 each)."""
    from himnet_lib.data.bundle import write_bundle

    rng = np.random.default_rng(0)
    lengths = np.clip(rng.normal(mean_T, 60, n_videos).astype(int), 40, None)
    classes = [f"class_{i:02d}" for i in range(20)]
    names, subsets, segs, labels, durs, feats = [], [], [], [], [], []
    for i, L in enumerate(lengths):
        train = i < 200
        names.append(f"video_{'validation' if train else 'test'}_{i:07d}")
        subsets.append("validation" if train else "test")
        dur = L * 16 / 25
        segs.append(np.array([[0.2 * dur, 0.4 * dur]]))
        labels.append([classes[i % 20]])
        durs.append(dur)
        feats.append(rng.standard_normal((L, dim), dtype=np.float32))
    with tempfile.TemporaryDirectory() as tmp:
        write_bundle(tmp, "Thumos14reduced", classes=classes, videonames=names, subsets=subsets,
                     segments=segs, labels=labels, labels_all=labels, durations=durs, features=feats)
        del feats
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]))
        out = subprocess.run([sys.executable, "-c", _LOAD_CHILD, tmp], capture_output=True, text=True, env=env,
                             timeout=600)
        if out.returncode != 0:
            return {"load_peak_rss_over_feature_bytes": None, "load_error": out.stderr[-2000:]}
        r = json.loads(out.stdout.strip().splitlines()[-1])
    rss = r["maxrss_kb"] * 1024
    return {"load_peak_rss_over_feature_bytes": rss / r["feature_bytes"], "load_feature_bytes": r["feature_bytes"],
            "load_peak_rss_bytes": rss, "load_s": r["load_s"],
            "load_input": f"{n_videos} videos x ~{mean_T} x {dim} float32 (W-TALC bundle)"}


def bench_run(short: int = 50, long: int = 150) -> dict:
    """One demo run end to end (Table 3's full model on the demo benchmark, 1 thread), trained
    for ``short`` and ``long`` iterations in this process: the difference gives the cost of an
    iteration, the rest is the fixed cost of a run (model, inference, localization under the four
    read-outs, mAP, diagnostics, records). A first 1-iteration run warms the process up (imports)."""
    from himnet_lib import study
    from himnet_lib.data import load_dataset
    from himnet_lib.data.synthetic import make_synthetic
    from himnet_lib.train import train_run

    torch.set_num_threads(1)
    spec = next(s for s in study.table3_specs("demo", 1) if s.label == "Exp 4")
    with tempfile.TemporaryDirectory() as tmp:
        ds = load_dataset(make_synthetic("demo", seed=0, out=Path(tmp) / "demo"))
        wall = {}
        for its in (1, short, long):
            cfg = spec.config()
            cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, iterations=its))
            t0 = time.perf_counter()
            train_run(cfg, ds, Path(tmp) / f"run{its}", num_threads=1, progress=False, log=lambda s: None)
            wall[its] = time.perf_counter() - t0
    per_it = (wall[long] - wall[short]) / (long - short)
    return {"run": {"per_iteration_s": per_it, "fixed_s": wall[short] - short * per_it,
                    "iterations": [short, long], "wall_s": [wall[short], wall[long]],
                    "note": "one demo run (Table 3 Exp 4), 1 thread; fixed = a run's cost besides its iterations"}}


def _shown(path: Path) -> str:
    """``path`` relative to the checkout where it lies inside it (the JSON stays machine-free)."""
    try:
        return str(path.relative_to(HERE.parent))
    except ValueError:
        return str(path)


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
        "csv": _shown(csv_path),
        "png": _shown(png) if png else None,
    }}


def table(res: dict) -> str:
    d, p = res.get("demo_step_s", {}), res.get("paper_step_s", {})
    rows = [
        ("demo step, reference as filed: fp32 (1 thread)", d.get("reference"), "s"),
        ("demo step, reference under bf16 autocast", d.get("reference_bf16"), "s"),
        ("demo step, fast path fp32 (fused Adam, no fill)", d.get("fast_fp32"), "s"),
        (f"demo step, fast = demo default ({res.get('fast_amp', 'bf16')})", d.get("fast"), "s"),
        ("  speedup fast/reference (wall / cpu)",
         f"{d['reference'] / d['fast']:.2f}x / "
         f"{res['demo_step_cpu_s']['reference'] / res['demo_step_cpu_s']['fast']:.2f}x" if d else None, ""),
        ("allocator lever alone (fast / reference step)",
         "{fast:.2f}x / {reference:.2f}x".format(**res["allocator"]["speedup"]) if "allocator" in res else None, ""),
        ("allocator lever alone, paper step (fast): thresholds only / M_MMAP_MAX=0",
         "{thresholds:.2f}x / {tuned:.2f}x".format(**res["allocator"]["paper_speedup"])
         if "paper_speedup" in res.get("allocator", {}) else None, ""),
        ("paper step, reference fp32 (2 threads)", p.get("reference_fp32"), "s"),
        ("paper step, reference bf16", p.get("reference_bf16"), "s"),
        ("paper step, fast fp32", p.get("fast_fp32"), "s"),
        (f"paper step, fast ({res.get('fast_amp', 'bf16')}, as the thumos14 profile)", p.get("fast"), "s"),
        ("paper step, fast with Adam's loop", p.get("fast_adam_loop"), "s"),
        ("  speedup fast / reference fp32", res.get("paper_speedup_fast_vs_reference_fp32"), "x"),
        ("matmul peak fp32 / bf16", "{fp32:.0f} / {bf16:.0f}".format(**res["matmul_peak_gflops"])
         if "matmul_peak_gflops" in res else None, "GFLOP/s"),
        ("paper step achieved (fast)", res.get("paper_step_achieved_gflops"), "GFLOP/s"),
        ("  fraction of the peak of its precision", (res.get("paper_fraction_of_peak") or {}).get("value"), ""),
        ("loss share of the step (demo fast / paper fast)",
         f"{res['demo_loss_share_fast']:.2f} / {res['paper_loss_share_fast']:.2f}"
         if "paper_loss_share_fast" in res and "demo_loss_share_fast" in res else None, ""),
        ("detection mAP, THUMOS-scale input", res.get("eval_thumos_scale_s"), "s"),
        ("localize one 2,600-snippet video (Soft-NMS)", res.get("localize_per_video_ms"), "ms"),
        *[(f"localize one {int(T):,}-snippet video (Soft-NMS + NMS): peak RSS increase / time",
           f"{d['peak_rss_increase_mb']:.0f} MB / {d['seconds']:.2f} s" if "seconds" in d else d.get("error"), "")
          for T, d in res.get("localize_long_video", {}).items()],
        ("stacking bound: per-run speedup of 2 / 4 runs in one batch",
         "{:.2f}x / {:.2f}x".format(*(res["stacking"]["stacking_bound"][f"{k} runs"] for k in (2, 4)))
         if "stacking" in res else None, ""),
        ("stacked step measured (vmap, 1 / 4 runs): per run vs one fast step",
         "{:.2f}x / {:.2f}x".format(*(res["stacking"]["vmap_per_run_vs_single_fast"][f"{k} runs"] for k in (1, 4)))
         if "vmap_per_run_vs_single_fast" in res.get("stacking", {}) else None, ""),
        ("stacked step measured: per run vs one reference-path step (same precision)",
         "{:.2f}x / {:.2f}x".format(*(res["stacking"]["vmap_per_run_vs_single_reference"][f"{k} runs"]
                                      for k in (1, 4)))
         if "vmap_per_run_vs_single_reference" in res.get("stacking", {}) else None, ""),
        ("one demo run: per iteration (1 thread)", res.get("run", {}).get("per_iteration_s"), "s"),
        ("one demo run: fixed cost (evaluation, records)", res.get("run", {}).get("fixed_s"), "s"),
        ("load: peak RSS / feature bytes", res.get("load_peak_rss_over_feature_bytes"), ""),
        ("numerics: max |loss diff| no dropout", res.get("numerics", {}).get("no_dropout_max_abs_loss_diff"), ""),
    ]
    lines = [f"{'measure':52s} {'value':>18s}  unit", "-" * 80]
    for name, v, unit in rows:
        if v is None:
            continue
        s = v if isinstance(v, str) else (f"{v:.4g}")
        lines.append(f"{name:52s} {s:>18s}  {unit}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run of the script)")
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["demo", "allocator", "stacking", "paper", "eval", "localize", "run", "load", "numerics"])
    ap.add_argument("--out", default=None,
                    help="JSON path (default results/bench/<machine>.json; with --quick a temporary file)")
    args = ap.parse_args(argv)
    slug = machine_slug()
    t_start = time.perf_counter()
    res: dict = {"machine": slug, "cpu_model": cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__,
                 "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                 # the profiles' train.amp=auto on this CPU: the precision every "fast" number uses
                 "native_bf16": native_bf16(torch.device("cpu")), "fast_amp": "bf16" if bf16_on("auto") else "fp32",
                 "load_average_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                 "make_demo_s": None,
                 "make_demo_note": "not measured here (a long run); filled in from a fresh `make demo`"}
    # --quick never overwrites the recorded numbers: its JSON goes to the temporary folder by default
    default = Path(tempfile.gettempdir()) / f"bench-quick-{slug}.json" if args.quick else RESULTS / f"{slug}.json"
    out = Path(args.out) if args.out else default
    try:
        old = json.loads(out.read_text()) if out.exists() else {}
    except json.JSONDecodeError:
        old = {}  # a truncated earlier file: measure afresh
    if old.get("make_demo_s"):  # keep the last measured `make demo` time: this script does not rerun it
        res["make_demo_s"], res["make_demo_note"] = old["make_demo_s"], old.get("make_demo_note", "")
    if args.skip and old:  # a partial rerun keeps the skipped parts' numbers from the earlier run, and says so
        # only the skipped parts' keys when the earlier run recorded them (part_keys), else all of it
        keys = old.get("part_keys")
        carried = {k: old[k] for p in args.skip for k in keys.get(p, []) if k in old} if keys else old
        res = {**carried, **res, "skipped_parts_from": {"date": old.get("date"), "parts": list(args.skip),
                                                        "note": old.get("note")}}
        for k in ("incomplete", "note"):  # the earlier run's note describes the carried parts only
            res.pop(k, None)
        if keys:
            res["part_keys"] = {p: keys[p] for p in args.skip if p in keys}
    parts = [
        ("demo", lambda: bench_demo(5 if args.quick else 21)),
        ("allocator", lambda: bench_allocator(1 if args.quick else 3, 20 if args.quick else 60,
                                               1 if args.quick else 3, 2 if args.quick else 4)),
        ("stacking", lambda: bench_stacking(3 if args.quick else 11)),
        ("paper", lambda: bench_paper(1 if args.quick else 5)),
        ("eval", lambda: bench_eval(1 if args.quick else 3)),
        ("localize", lambda: bench_localize(3 if args.quick else 10)),
        ("run", lambda: bench_run(10, 30) if args.quick else bench_run()),
        ("load", lambda: bench_load(40 if args.quick else 412)),
        ("numerics", lambda: numerics(20 if args.quick else 200, slug,
                                      {"B": 10, "T": 140, "D": 256, "H": 64}, out.parent)),
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, fn in parts:
        if name in args.skip:
            continue
        t0 = time.perf_counter()
        print(f"== {name} ...", file=sys.stderr, flush=True)
        got = fn()
        res.update(got)
        res.setdefault("part_keys", {})[name] = sorted(got)
        res.setdefault("part_seconds", {})[name] = round(time.perf_counter() - t0, 1)
        atomic_write_text(out, json.dumps({**res, "incomplete": True}, indent=1) + "\n")  # partial results survive
    res["loss_share"] = {k: res[f"{k}_loss_share_fast"] for k in ("demo", "paper") if f"{k}_loss_share_fast" in res}
    res["load_average_at_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    res["total_seconds"] = round(time.perf_counter() - t_start, 1)
    if args.quick:
        res["note"] = "--quick: few repetitions; not for reporting"
    print(table(res))
    atomic_write_text(out, json.dumps(res, indent=1) + "\n")
    print(f"wrote {out}")
    return res


if __name__ == "__main__":
    main()
