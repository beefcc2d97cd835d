"""Timing several callables against each other in one process, interleaved, as medians."""

from __future__ import annotations

import random
import statistics
import time


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
