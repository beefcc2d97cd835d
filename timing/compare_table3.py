"""The study trained with the demo's fast default (bf16 autocast, fused Adam, fast path) beside the
same study trained with the float32 reference settings.

    python timing/compare_table3.py      # run by `make bench` after a `make demo`

* Table 3, row by row in units of seed noise: ``results/timing/table3_fp32_vs_fast.{csv,md}``.
* The claims table, verdict by verdict: ``results/timing/claims_fp32_vs_fast.{csv,md}``.

References (``results/timing/table3_reference_fp32.csv``, ``claims_reference_fp32.csv``): the tables
that `make demo` wrote before the fast default (commit 65c749b, reproduced byte for byte by the
fresh-clone `make demo` of b41933a): float32, Adam's per-parameter loop, 32-bit dropout words.
They are kept here because `make demo` now regenerates ``results/demo`` under the fast default.
Others: ``results/demo/tables/``.

    python timing/compare_table3.py --against OTHER/results/demo/tables --names A B --prefix P

compares another `make demo`'s tables (e.g. one trained on a CPU without native bf16, where the
default ``train.amp=auto`` means float32) with ``results/demo/tables`` instead, into
``results/timing/table3_P.{csv,md}`` and ``claims_P.{csv,md}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from himnet_lib.study.compare import seed_noise_comparison, verdict_changes
from himnet_lib.study.table_files import write_table

ROOT = Path(__file__).resolve().parent.parent
BENCH, TABLES = ROOT / "results" / "timing", ROOT / "results" / "demo" / "tables"
# the demo default's precision is train.amp=auto: bf16 autocast on a CPU with native bf16 (as the
# committed results/demo were trained), float32 elsewhere
NAMES = ("float32 reference", "fast demo default")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", type=Path, default=None,
                    help="tables folder of another make demo, compared with results/demo/tables")
    ap.add_argument("--names", nargs=2, default=None, help="column names: results/demo/tables first, then --against")
    ap.add_argument("--prefix", default=None, help="output name part (with --against)")
    args = ap.parse_args(argv)
    if args.against is not None:
        if not args.names or not args.prefix:
            ap.error("--against needs --names and --prefix")
        table3_ref, claims_ref = TABLES / "table3.csv", TABLES / "claims.csv"
        table3_new, claims_new = args.against / "table3.csv", args.against / "claims.csv"
        names, prefix = tuple(args.names), args.prefix
    else:
        table3_ref, claims_ref = BENCH / "table3_reference_fp32.csv", BENCH / "claims_reference_fp32.csv"
        table3_new, claims_new = TABLES / "table3.csv", TABLES / "claims.csv"
        names, prefix = NAMES, "fp32_vs_fast"
    cmp = seed_noise_comparison(pd.read_csv(table3_ref), pd.read_csv(table3_new), names=names)
    write_table(cmp, f"table3_{prefix}", BENCH, float_format="%.2f")
    print(cmp.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    worst = cmp["z"].abs().max()
    print(f"Table 3: largest |z| = {worst:.2f} ({'within' if worst < 2 else 'NOT within'} two standard errors)")
    claims = verdict_changes(pd.read_csv(claims_ref), pd.read_csv(claims_new), names=names)
    write_table(claims, f"claims_{prefix}", BENCH)
    changed = claims[claims["changed"]]
    print(f"claims: {len(changed)} of {len(claims)} verdicts differ between the two trainings")
    if len(changed):
        print(changed.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
