"""The claims table written out: ``claims.csv`` and ``claims.md`` (every row, primaries first),
``claims_summary.md`` (one row per claim: the primary's verdict, and what the secondary cells say),
``claims_cells.csv`` (the earlier one-verdict-per-cell table, kept for one release), and the
Findings sentences generated from the table (one per claim)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from himnet_lib.study import verdicts
from himnet_lib.utils import markdown
from himnet_lib.utils.fileio import atomic_write_text

__all__ = ["to_markdown", "summary", "summary_markdown", "write_claims", "findings_sentences", "VERDICTS"]

VERDICTS = verdicts.VERDICTS


def _fmt(v: Any, digits: int = 2, sign: bool = True) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return "n/a"
        return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"
    return str(v)


def _p(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.3f}" if v >= 0.001 else f"{v:.1e}"


def _ci(r: dict) -> str:
    if not (math.isfinite(r["ci_low"]) and math.isfinite(r["ci_high"])):
        return "n/a"
    return f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]"


_MD_COLUMNS = ("claim", "role", "reading", "readout", "benchmark", "test", "paper", "effect", "CI", "level",
               "n", "look", "p_adj", "verdict", "mde", "seeds_needed", "P(1 seed: sign)", "dose_response")


def to_markdown(table) -> str:
    """Every row of the claims table as Markdown: effects with a sign, CIs, the role and verdict."""
    rows = []
    for r in table.to_dict("records"):
        rows.append([r["claim"], r["role"], r["reading"], r["readout"], r["benchmark"],
                     r["test"] + (f" (margin {r['margin']:g})" if math.isfinite(r["margin"]) else ""),
                     _fmt(r["paper_effect"]), _fmt(r["our_effect"]), _ci(r),
                     _fmt(r["ci_level"], 4, sign=False), str(r["n_seeds"]), str(r["look"]), _p(r["p_adjusted"]),
                     r["verdict"], _fmt(r["mde"], 2, sign=False),
                     "n/a" if not math.isfinite(r["seeds_needed"]) else f"{r['seeds_needed']:.0f}",
                     _fmt(r["p_one_seed_sign"], 2, sign=False), r["dose_response"]])
    return markdown.table(list(_MD_COLUMNS), rows) + "\n"


def summary(table):
    """One row per claim: the primary's cell, effect, CI, seeds, look and verdict, and the
    secondary cells' verdicts counted."""
    import pandas as pd
    out = []
    for r in table[table["role"] == "primary"].to_dict("records"):
        sec = table[(table["claim"] == r["claim"]) & (table["role"] == "secondary")]
        counts = sec["verdict"].value_counts()
        out.append({"claim": r["claim"], "paper_effect": r["paper_effect"], "cell": f"{r['reading']} · "
                    f"{r['readout']} · {r['benchmark']}", "our_effect": r["our_effect"], "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"], "n_seeds": r["n_seeds"], "look": r["look"], "verdict": r["verdict"],
                    "seeds_needed": r["seeds_needed"], "secondaries": len(sec),
                    **{f"secondary {v}": int(counts.get(v, 0)) for v in VERDICTS}})
    return pd.DataFrame(out)


def summary_markdown(s) -> str:
    header = ["claim", "paper", "primary cell", "effect [CI]", "seeds (look)", "verdict", "seeds to settle",
              "secondary cells: reproduce / smaller / smaller, ~0 / reversed / inconclusive"]
    rows = []
    for r in s.to_dict("records"):
        need = "n/a" if not math.isfinite(r["seeds_needed"]) else f"{r['seeds_needed']:.0f}"
        rows.append([r["claim"], _fmt(r["paper_effect"]), r["cell"], f"{_fmt(r['our_effect'])} {_ci(r)}",
                     f"{r['n_seeds']} ({r['look']})", r["verdict"], need,
                     " / ".join(str(r[f"secondary {v}"]) for v in VERDICTS) + f" of {r['secondaries']}"])
    return markdown.table(header, rows) + "\n"


def write_claims(table, out_dir: str | Path, cells=None) -> list[Path]:
    """``claims.csv`` (full precision), ``claims.md``, ``claims_summary.md`` and, given the earlier
    per-cell table, ``claims_cells.csv``, written atomically."""
    out = Path(out_dir)
    files = [atomic_write_text(out / "claims.csv", table.to_csv(index=False, float_format="%.4f",
                                                               lineterminator="\n")),
             markdown.write(out / "claims.md", to_markdown(table)),
             markdown.write(out / "claims_summary.md", summary_markdown(summary(table)))]
    if cells is not None:
        files.append(atomic_write_text(out / "claims_cells.csv", cells.to_csv(index=False, float_format="%.4f",
                                                                             lineterminator="\n")))
    return files


_UNIT = {"avg": "AVG points", "avg_0.5": "AVG 0.1:0.5 points", "acc": "ACC points", "u_bg": "(U)"}


def findings_sentences(table, controls: dict[str, str] | None = None) -> list[str]:
    """One sentence per claim, from its primary row: the verdict, our effect and interval against
    the paper's, the cell and seeds; then what the secondary cells and the dose-response add, and
    the term's positive control where ``controls`` ({claim name: its control's verdict},
    :func:`himnet_lib.study.mechanism_map.claim_controls`) has one."""
    out = []
    for r in table[table["role"] == "primary"].to_dict("records"):
        unit = _UNIT.get(r["metric"], "points")
        paper = f" against the paper's {_fmt(r['paper_effect'], 1)}" if math.isfinite(r["paper_effect"]) else ""
        margin = f" (margin {r['margin']:g})" if math.isfinite(r["margin"]) else ""
        sec = table[(table["claim"] == r["claim"]) & (table["role"] == "secondary")]
        agree = int((sec["verdict"] == r["verdict"]).sum())
        need = (f"; {r['seeds_needed']:.0f} seeds would detect the paper's effect at today's noise"
                if r["verdict"] == verdicts.INCONCLUSIVE and math.isfinite(r["seeds_needed"]) else "")
        text = (f"**{r['claim']}**: {r['verdict']}{margin}, {_fmt(r['our_effect'])} {_ci(r)} {unit}{paper} "
                f"({r['reading']} · {r['readout']} · {r['benchmark']}, {r['n_seeds']} seeds, look {r['look']}, "
                f"{100 * r['ci_level']:.2f} % interval){need}. The secondary cells agree in {agree} of {len(sec)}")
        if r["dose_response"] not in ("-", ""):
            text += f"; dose-response: {r['dose_response']}"
        if controls and r["claim"] in controls:
            text += f"; {controls[r['claim']]}"
        out.append(text + ".")
    return out
