"""Table 3 under the demo's fast default (bf16 autocast, fused Adam, fast path) beside the float32
reference-path Table 3, row by row in units of seed noise.

    python benchmarks/compare_table3.py      # run by `make bench` after a `make demo`

Reference: ``results/bench/table3_reference_fp32.csv``, the Table 3 that `make demo` produced with
the float32 reference training settings (commit 65c749b, 5 seeds per row), kept here because
`make demo` now regenerates ``results/demo`` under bf16. Other: ``results/demo/tables/table3.csv``.
Writes ``results/bench/table3_fp32_vs_fast.{csv,md}``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from himnet_lib.tables import seed_noise_comparison, write_table

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ref = pd.read_csv(ROOT / "results" / "bench" / "table3_reference_fp32.csv")
    new = pd.read_csv(ROOT / "results" / "demo" / "tables" / "table3.csv")
    cmp = seed_noise_comparison(ref, new, names=("float32 reference", "bf16 fast (demo default)"))
    write_table(cmp, "table3_fp32_vs_fast", ROOT / "results" / "bench", float_format="%.2f")
    print(cmp.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    worst = cmp["z"].abs().max()
    print(f"largest |z| = {worst:.2f} ({'within' if worst < 2 else 'NOT within'} two standard errors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
