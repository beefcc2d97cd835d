"""The ``run`` part: one demo run end to end, split into the cost of an iteration and the fixed
cost of a run."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from .part import Context, fmt, readme_row

NAME = "run"


def bench_run(short: int = 50, long: int = 150) -> dict:
    """One demo run end to end (Table 3's full model on the demo benchmark, 1 thread), trained
    for ``short`` and ``long`` iterations in this process: the difference gives the cost of an
    iteration, the rest is the fixed cost of a run (model, inference, localization under the four
    read-outs, mAP, diagnostics, records). A first 1-iteration run warms the process up (imports)."""
    from himnet_lib.datasets import load_dataset
    from himnet_lib.datasets.synthetic.writer import make_synthetic
    from himnet_lib.engine.train import train_run
    from himnet_lib.study import grids

    torch.set_num_threads(1)
    spec = next(s for s in grids.table3_specs("demo", 1) if s.label == "Exp 4")
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


def measure(ctx: Context) -> dict:
    return bench_run(10, 30) if ctx.quick else bench_run()


def table_rows(res: dict) -> list[tuple]:
    run = res.get("run", {})
    return [("one demo run: per iteration (1 thread)", run.get("per_iteration_s"), "s"),
            ("one demo run: fixed cost (evaluation, records)", run.get("fixed_s"), "s")]


def readme_rows(res: dict) -> list[dict[str, str]]:
    run = res.get("run") or {}
    if not run:
        return []
    return [readme_row("one demo run: per iteration / fixed (evaluation, records)", "",
                       f"{fmt(run.get('per_iteration_s'), 's')} / {fmt(run.get('fixed_s'), 's')}")]
