"""How much each loss term helps, by weight: the dose-response table of notebook 11 and the choice
of ``loss.balance`` on the validation fold.

Both read the run records of :func:`himnet_lib.study.run_table.run_records` (fractions in the records;
percent here for mAP and accuracies, AUC unitless). Differences are paired over the seeds two rows
share (:func:`himnet_lib.study.stats.compare`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from himnet_lib.study import grids, stats
from himnet_lib.study.claims_cells import row_values
from himnet_lib.utils import markdown
from himnet_lib.utils.fileio import atomic_write_text

__all__ = ["DOSE_METRICS", "dose_response_table", "dose_markdown", "balance_choice", "chosen_balance_terms",
           "balance_markdown", "BALANCE_MARGIN_SE"]

DOSE_METRICS = ("avg[fixed]", "avg[minmax]", "snippet_acc", "snippet_acc_fg", "snippet_acc_bg",
                "snippet_acc_balanced", "off_label_argmax_share", "fg_bg_auc")
_UNITLESS = ("fg_bg_auc",)


def _scale(metric: str) -> float:
    return 1.0 if metric in _UNITLESS else 100.0


def dose_response_table(records: Sequence[Mapping[str, Any]]):
    """One row per (term, λ factor, benchmark) of :func:`himnet_lib.study.grids.dose_terms`: factor 0 is
    Table 3's row without the term, factor 1 the row with it, the others the dose rows. Columns:
    the weight the term trained with (``params.json``'s ``loss_weights``, mean over seeds), and per
    metric of :data:`DOSE_METRICS` its mean over seeds, its standard error, and the paired
    difference against factor 0 (``<m>_diff``, ``<m>_diff_se``, ``<m>_p``, and ``<m>_p_adjusted``:
    Holm across every tested row of the table, one family per metric)."""
    import pandas as pd
    rows = []
    for term, (exp, without) in grids.dose_terms().items():
        for bench in dict.fromkeys(r["benchmark"] for r in records):
            recs = [r for r in records if r["benchmark"] == bench]
            dose = [r for r in recs if r["table"] == "dose"]
            if not dose:
                continue
            reading = dose[0]["reading"]
            recs = [r for r in recs if r["reading"] == reading]
            for f in (0.0, *grids.DOSE_FACTORS):
                table, label = (("table3", without) if f == 0 else ("table3", exp) if f == 1.0
                                else ("dose", grids.dose_label(term, f)))
                lam = row_values(recs, table, label, grids.weight_fields([term])[term])
                row: dict[str, Any] = {"term": term, "factor": f, "benchmark": bench, "reading": reading,
                                       "weight": float(np.mean(list(lam.values()))) if lam else float("nan"),
                                       "n_seeds": len(row_values(recs, table, label, "avg[fixed]"))}
                for m in DOSE_METRICS:
                    vals = row_values(recs, table, label, m, _scale(m))
                    base = row_values(recs, "table3", without, m, _scale(m))
                    s = stats.mean_sd_se(list(vals.values()))
                    row[m], row[f"{m}_se"] = s.mean, s.se
                    t = stats.compare(vals, base) if vals and base and f != 0 else None
                    row[f"{m}_diff"] = t.effect if t else (0.0 if f == 0 else float("nan"))
                    row[f"{m}_diff_se"] = t.se if t else float("nan")
                    row[f"{m}_p"] = t.p if t else float("nan")
                rows.append(row)
    for m in DOSE_METRICS:  # NaN p (factor 0) stays NaN and is not counted in the family
        for r, p in zip(rows, stats.adjust([r[f"{m}_p"] for r in rows], "holm") if rows else []):
            r[f"{m}_p_adjusted"] = float(p)
    columns = ["term", "factor", "benchmark", "reading", "weight", "n_seeds",
               *(f"{m}{x}" for m in DOSE_METRICS for x in ("", "_se", "_diff", "_diff_se", "_p", "_p_adjusted"))]
    return pd.DataFrame(rows, columns=columns)


_SHORT = {"avg[fixed]": "AVG fixed", "avg[minmax]": "AVG minmax", "snippet_acc": "ACC", "snippet_acc_fg": "fg ACC",
          "snippet_acc_bg": "bg ACC", "snippet_acc_balanced": "balanced ACC",
          "off_label_argmax_share": "off-label share", "fg_bg_auc": "A's AUC"}


def _cell(mean: float, diff: float, se: float, digits: int) -> str:
    if not math.isfinite(mean):
        return "n/a"
    if not math.isfinite(diff) or (diff == 0 and not math.isfinite(se)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({diff:+.{digits}f} ± {se:.{digits}f})"


def dose_markdown(table) -> str:
    """The dose-response table as Markdown: per metric "mean (paired Δ vs λ = 0 ± se)"."""
    cols = ["term", "benchmark", "factor", "weight", "n", *(_SHORT[m] for m in DOSE_METRICS)]
    rows = []
    for r in table.to_dict("records"):
        cells = [r["term"], r["benchmark"], f"{r['factor']:g}", f"{r['weight']:.3g}", str(r["n_seeds"])]
        for m in DOSE_METRICS:
            d = 3 if m in _UNITLESS else 1
            cells.append(_cell(r[m], r[f"{m}_diff"], r[f"{m}_diff_se"], d))
        rows.append(cells)
    return markdown.table(cols, rows) + "\n"


BALANCE_MARGIN_SE = 2.0  # the reading's balance is chosen for a term only this many paired SEs above printed


def balance_choice(records: Sequence[Mapping[str, Any]], readout: str = "minmax"):
    """``loss.balance`` chosen per term on the validation fold (:func:`himnet_lib.study.grids.balance_rows`).

    For each term of the dose-response, in the core row that adds it: validation AVG (``readout``,
    percent) and ACC with its λ as printed and as the reading's balance rescales it, the paired
    difference reading - printed per benchmark, and over every (benchmark, seed) pair ("all": the
    mean of the paired differences and its standard error). ``chosen`` (on the "all" row): "reading"
    only when that mean lies more than :data:`BALANCE_MARGIN_SE` standard errors above 0, else
    "printed" (Eq. 11 as printed is the default; a tie keeps it). The term "all" compares the full
    model with every term rescaled (the global ``loss.balance=reading``) against it as printed.
    """
    import pandas as pd
    col = f"avg[{readout}]"
    recs = [r for r in records if r["table"] == "balance"]
    benches = list(dict.fromkeys(r["benchmark"] for r in recs))
    rows = []
    pairs = [(t, row) for t, (row, _) in grids.balance_terms().items()] + [("all", grids.FULL_MODEL_ROW)]
    for term, row in pairs:
        pooled: list[float] = []
        for bench in benches:
            rb = [r for r in recs if r["benchmark"] == bench]
            printed = row_values(rb, "balance", grids.balance_label(row, None), col, 100.0)
            reading = row_values(rb, "balance", grids.balance_label(row, term), col, 100.0)
            if not printed or not reading:
                continue
            t = stats.compare(reading, printed)
            pooled += [reading[s] - printed[s] for s in sorted(set(reading) & set(printed))]
            acc = {k: row_values(rb, "balance", grids.balance_label(row, v), "snippet_acc", 100.0)
                   for k, v in (("printed", None), ("reading", term))}
            rows.append({"term": term, "row": row, "benchmark": bench, "n_seeds": t.n,
                         f"val AVG {readout} printed": float(np.mean(list(printed.values()))),
                         f"val AVG {readout} reading": float(np.mean(list(reading.values()))),
                         "difference": t.effect, "se": t.se, "p": t.p,
                         "val ACC printed": float(np.mean(list(acc["printed"].values()))) if acc["printed"] else np.nan,
                         "val ACC reading": float(np.mean(list(acc["reading"].values()))) if acc["reading"] else np.nan,
                         "chosen": ""})
        if pooled:
            s = stats.mean_sd_se(pooled)
            mine = [r for r in rows if r["term"] == term]
            chosen = "reading" if s.n > 1 and s.mean - BALANCE_MARGIN_SE * s.se > 0 else "printed"
            rows.append({"term": term, "row": row, "benchmark": "all", "n_seeds": s.n,
                         f"val AVG {readout} printed": float(np.mean([r[f"val AVG {readout} printed"] for r in mine])),
                         f"val AVG {readout} reading": float(np.mean([r[f"val AVG {readout} reading"] for r in mine])),
                         "difference": s.mean, "se": s.se, "p": np.nan, "val ACC printed": np.nan,
                         "val ACC reading": np.nan, "chosen": chosen})
    return pd.DataFrame(rows)


def chosen_balance_terms(choice) -> tuple[str, ...]:
    """The terms the choice gives the reading's balance (``loss.balance_terms`` of the profile)."""
    picked = choice[(choice["benchmark"] == "all") & (choice["chosen"] == "reading") & (choice["term"] != "all")]
    return tuple(picked["term"])


def balance_markdown(df) -> str:
    cols = list(df.columns)
    rows = [[f"{v:.2f}" if isinstance(v, float) and math.isfinite(v) else "n/a" if isinstance(v, float)
             else str(v) for v in (r[c] for c in cols)] for r in df.to_dict("records")]
    return markdown.table(cols, rows) + "\n"


def write_dose(table, choice, out_dir) -> list:
    """``dose_response.{csv,md}`` and ``balance_choice.{csv,md}``, written atomically."""
    out = Path(out_dir)
    return [atomic_write_text(out / "dose_response.csv", table.to_csv(index=False, float_format="%.4f",
                                                                   lineterminator="\n")),
            markdown.write(out / "dose_response.md", dose_markdown(table)),
            atomic_write_text(out / "balance_choice.csv", choice.to_csv(index=False, float_format="%.4f",
                                                                     lineterminator="\n")),
            markdown.write(out / "balance_choice.md", balance_markdown(choice))]
