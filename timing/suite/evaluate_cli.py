"""The ``evaluate_cli`` part: ``himnet evaluate`` on a THUMOS-size input (212 videos, 100,000
predictions) against a plain numpy implementation of the same metric (``timing/reference_map.py``),
both as whole processes (interpreter start, imports and JSON parsing included), median of repeats,
in the same run. The CLI's target: at most 2x the plain numpy program."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .part import Context, readme_row
from .paths import BENCH_DIR, child_env

NAME = "evaluate_cli"


def _wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=child_env())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(ctx: Context) -> dict:
    import bench_eval as be

    rng = np.random.default_rng(0)
    gt = be.synthetic_gt(rng)
    res = be.synthetic_results(rng, gt)
    repeat = 3 if ctx.quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        g, p = Path(tmp) / "gt.json", Path(tmp) / "pred.json"
        g.write_text(json.dumps(gt))
        p.write_text(json.dumps(res))
        cli = [sys.executable, "-m", "himnet_lib.cli", "evaluate", "--gt", str(g), "--pred", str(p), "--json"]
        ref = [sys.executable, str(BENCH_DIR / "reference_map.py"), str(g), str(p)]
        # interleaved, so that a change of machine load hits both
        t_cli, t_ref = [], []
        for _ in range(repeat):
            t_cli.append(_wall(cli, 1))
            t_ref.append(_wall(ref, 1))
    return {"evaluate_cli_s": statistics.median(t_cli), "evaluate_reference_s": statistics.median(t_ref),
            "evaluate_repeats": repeat}


def table_rows(res: dict) -> list[tuple]:
    return [("himnet evaluate, THUMOS-size, whole process", res.get("evaluate_cli_s"), "s"),
            ("plain numpy mAP program, same input", res.get("evaluate_reference_s"), "s")]


def readme_rows(res: dict) -> list[dict[str, str]]:
    cli, ref = res.get("evaluate_cli_s"), res.get("evaluate_reference_s")
    if not cli or not ref:
        return []
    return [readme_row("`himnet evaluate` (THUMOS-size, process start included) vs a plain numpy program",
                       f"{ref:.2f} s", f"{cli:.2f} s", f"{cli / ref:.2f}x of numpy (target <= 2x)")]
