"""The claims table written out: ``claims.csv``, ``claims.md`` and the one-row-per-claim summary."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from himnet_lib.study.claims_table import (
    CLAIM_COLUMNS,
)
from himnet_lib.utils import markdown
from himnet_lib.utils.fileio import atomic_write_text


def _fmt(v: Any, digits: int = 2, sign: bool = True) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return "n/a"
        return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"
    return str(v)


def _p(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.3f}" if v >= 0.001 else f"{v:.1e}"


def to_markdown(table) -> str:
    """The claims table as Markdown (effects with a sign, 2 decimals; ``n/a`` where the paper gives
    no number)."""
    cols = list(CLAIM_COLUMNS)
    rows = []
    for d in table.to_dict("records"):
        cells = []
        for c in cols:
            v = d[c]
            if c in ("paper_effect", "our_effect"):
                cells.append(_fmt(v))
            elif c == "se":
                cells.append(_fmt(v, 3, sign=False))
            elif c == "df":
                cells.append(_fmt(v, 1, sign=False))
            elif c in ("p", "p_adjusted"):
                cells.append(_p(float(v)))
            else:
                cells.append(_fmt(v))
        rows.append(cells)
    return markdown.table(cols, rows) + "\n"


def write_claims(table, out_dir: str | Path) -> list[Path]:
    """``claims.csv`` (full precision), ``claims.md`` (:func:`to_markdown`) and ``claims_summary.md``
    (one row per claim, :func:`summary`), written atomically."""
    out = Path(out_dir)
    csv_text = table.to_csv(index=False, float_format="%.4f", lineterminator="\n")
    return [atomic_write_text(out / "claims.csv", csv_text), markdown.write(out / "claims.md", to_markdown(table)),
            markdown.write(out / "claims_summary.md", summary_markdown(summary(table)))]


VERDICTS = ("holds", "within noise", "reversed", "n/a (read-out degenerate)", "n/a")


def summary(table):
    """One row per claim: the paper's effect, how many (reading, read-out, benchmark) rows hold, are
    within noise, are reversed or not applicable under the adjusted test, the same counts under the
    previous 2-SE rule, and the range of our effects over the rows with a verdict."""
    import pandas as pd
    rows = []
    for name, g in table.groupby("claim", sort=False):
        counts = g["verdict"].value_counts()
        old = g["verdict_2se"].value_counts()
        live = g[~g["verdict"].str.startswith("n/a")]
        rec: dict[str, Any] = {"claim": name, "paper_effect": g["paper_effect"].iloc[0], "rows": len(g)}
        for v in VERDICTS:
            rec[v] = int(counts.get(v, 0))
        for v in ("holds", "within noise", "reversed"):
            rec[f"{v} (2 SE)"] = int(old.get(v, 0))
        rec["our_effect_min"] = float(live["our_effect"].min()) if len(live) else float("nan")
        rec["our_effect_max"] = float(live["our_effect"].max()) if len(live) else float("nan")
        rows.append(rec)
    return pd.DataFrame(rows)


def summary_markdown(s) -> str:
    header = ["claim", "paper", "holds", "within noise", "reversed", "n/a (degenerate)", "n/a (1 seed)",
              "previous 2-SE rule: holds / noise / reversed", "our effects (min … max)"]
    rows = []
    for r in s.to_dict("records"):
        n = r["rows"]
        rows.append([r["claim"], _fmt(r["paper_effect"]), f"{r['holds']}/{n}", f"{r['within noise']}/{n}",
                     f"{r['reversed']}/{n}", f"{r['n/a (read-out degenerate)']}/{n}", f"{r['n/a']}/{n}",
                     f"{r['holds (2 SE)']} / {r['within noise (2 SE)']} / {r['reversed (2 SE)']}",
                     f"{_fmt(r['our_effect_min'])} … {_fmt(r['our_effect_max'])}"])
    return markdown.table(header, rows) + "\n"
