"""The ``allocator`` part: the CPU allocator lever (``himnet_lib.utils.device.tune_cpu_allocator``) alone,
each measurement in a fresh process, since the setting is process-wide and cannot be undone."""

from __future__ import annotations

import statistics
import subprocess
import sys

from .part import Context
from .paths import BENCH_DIR, child_env

NAME = "allocator"

_CHILD = r"""
import ctypes, sys, time, statistics, torch
sys.path.insert(0, sys.argv[1])
from suite.demo import DEMO_VARIANTS
from suite.steps import labels, make_step
from himnet_lib.config.run import build_config, resolve_config
from himnet_lib.utils.device import tune_cpu_allocator
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
v = DEMO_VARIANTS[variant]
step, _ = make_step(dataclasses.replace(cfg.model, impl=v.impl), cfg.loss, x, labels(10, 20), v.amp,
                    fused_adam=v.fused_adam)
for _ in range(warm):
    step()
ts = []
for _ in range(steps):
    t0 = clock(); step(); ts.append(clock() - t0)
print(statistics.median(ts))
"""


def _child(mode: str, variant: str, steps: int, scale: str) -> float:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(BENCH_DIR), mode, variant, str(steps), scale],
                         capture_output=True, text=True, env=child_env(), timeout=600, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def bench_allocator(reps: int = 3, steps: int = 60, paper_reps: int = 3, paper_steps: int = 4) -> dict:
    """Alternated: the demo step (fast default and reference; median CPU seconds) with and without
    ``tune_cpu_allocator``, ``reps`` times; and the paper-scale step (the thumos14 profile's fast
    path, 2 threads; median wall seconds) without it, with the earlier setting (mmap/trim thresholds
    only) and with it, ``paper_reps`` times."""
    got: dict[str, list[float]] = {}
    for _ in range(reps):
        for variant in ("fast", "reference"):
            for mode in ("default", "tuned"):
                got.setdefault(f"{variant}_{mode}", []).append(_child(mode, variant, steps, "demo"))
    med = {k: statistics.median(v) for k, v in got.items()}
    paper: dict[str, list[float]] = {}
    modes = ["default", "thresholds", "tuned"]
    for r in range(paper_reps):
        for mode in modes[r % 3:] + modes[:r % 3]:  # each mode in each position once per three repetitions
            paper.setdefault(mode, []).append(_child(mode, "fast", paper_steps, "paper"))
    pmed = {k: statistics.median(v) for k, v in paper.items()}
    return {"allocator": {"demo_step_cpu_s": med,
                          "speedup": {v: med[f"{v}_default"] / med[f"{v}_tuned"] for v in ("fast", "reference")},
                          "paper_step_s": pmed, "paper_step_runs_s": paper,
                          "paper_speedup": {m: pmed["default"] / pmed[m] for m in ("thresholds", "tuned")},
                          "note": "glibc mmap/trim thresholds raised and mmap off (himnet_lib.utils.device."
                                  "tune_cpu_allocator); fresh process per measurement; 'thresholds' = the "
                                  "earlier setting without M_MMAP_MAX = 0; the children run without deterministic "
                                  "algorithms (train.py runs with them), so their absolute times differ from the "
                                  "demo and paper parts'"}}


def measure(ctx: Context) -> dict:
    q = ctx.quick
    return bench_allocator(1 if q else 3, 20 if q else 60, 1 if q else 3, 2 if q else 4)


def table_rows(res: dict) -> list[tuple]:
    a = res.get("allocator", {})
    return [("allocator lever alone (fast / reference step)",
             "{fast:.2f}x / {reference:.2f}x".format(**a["speedup"]) if "speedup" in a else None, ""),
            ("allocator lever alone, paper step (fast): thresholds only / M_MMAP_MAX=0",
             "{thresholds:.2f}x / {tuned:.2f}x".format(**a["paper_speedup"]) if "paper_speedup" in a else None, "")]
