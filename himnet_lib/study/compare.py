"""Our tables beside another source, row by row: the paper's published numbers
(:mod:`himnet_lib.study.paper_numbers`), or the same table or claims table of another version of the study."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from himnet_lib.config.terms import ablation_terms
from himnet_lib.study import paper_numbers

__all__ = ["paper_table", "with_paper", "seed_noise_comparison", "verdict_changes"]


def paper_table(kind: str) -> pd.DataFrame:
    """The paper's published numbers (:mod:`himnet_lib.study.paper_numbers`) as a table; ``kind``: table3 |
    table4 | table5 | table1_2 | table1_peers."""
    if kind == "table3":
        return pd.DataFrame(
            [(exp, f"{a:.1f} ± {sa:.1f}", f"{c:.1f} ± {sc:.1f}")
             for exp, (a, sa, c, sc) in paper_numbers.TABLE3.items()],
            columns=["Exp", "paper AVG (THUMOS14)", "paper ACC (THUMOS14)"])
    if kind == "table4":
        return pd.DataFrame(
            [(row, *values) for row, values in paper_numbers.TABLE4.items()],
            columns=["Method", "paper 0.1", "paper 0.3", "paper 0.5", "paper 0.7", "paper AVG", "paper ACC"])
    if kind == "table5":
        return pd.DataFrame(
            [(fw, row, *v[:5], "-" if v[5] is None else f"{v[5]:+.1f}")
             for (fw, row), v in paper_numbers.TABLE5.items()],
            columns=["Framework", "Method", "paper 0.1", "paper 0.3", "paper 0.5", "paper 0.7", "paper AVG",
                     "paper Δ"])
    if kind == "table1_2":
        cols = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.75", "0.95", "AVG"]
        rows = pd.DataFrame(
            [(table_name, dataset, "HiM-Net", pp, *(values.get(c) for c in cols))
             for (table_name, dataset, pp), values in paper_numbers.TABLE1_2.items()],
            columns=["Table", "Dataset", "Method", "Post-processing", *cols])
        return rows.astype(object).map(
            lambda v: "" if v is None or v != v else f"{v:.1f}" if isinstance(v, float) else v)
    if kind == "table1_peers":
        cols = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "AVG"]
        return pd.DataFrame(
            [(method, pp, *(values[c] for c in cols)) for (method, pp), values in paper_numbers.TABLE1_PEERS.items()],
            columns=["Method", "Post-processing", *cols[:-1], "AVG 0.1:0.5"])
    raise ValueError(f"paper_table: unknown kind {kind!r}")


def with_paper(table: pd.DataFrame, kind: str, profile: str) -> pd.DataFrame:
    """Our table (:func:`himnet_lib.study.tables.table3` / ``table4`` / ``table5``) beside the paper's
    THUMOS14 numbers: our display columns renamed "<col> (<profile>)", then the paper's, rows matched
    by name."""
    if kind == "table3":
        ours = table[["Exp", *(f"L_{t.upper()}" for t in ablation_terms()), "AVG", "ACC", "n"]]
        side = ours.merge(paper_table("table3"), on="Exp", how="left")
        return side.rename(columns={"AVG": f"AVG ({profile})", "ACC": f"ACC ({profile})"})
    if kind == "table4":
        keys, cols, theirs = ["Method"], ["AVG", "ACC"], ["paper AVG", "paper ACC"]
    elif kind == "table5":
        keys, cols, theirs = ["Framework", "Method"], ["AVG", "Δ"], ["paper AVG", "paper Δ"]
    else:
        raise ValueError(f"with_paper: unknown kind {kind!r}")
    side = table[[*keys, *cols, "n"]].rename(columns={c: f"{c} ({profile})" for c in cols})
    side = side.merge(paper_table(kind)[[*keys, *theirs]], on=keys, how="left")
    return side.rename(columns={c: f"{c} (THUMOS14)" for c in theirs})


# --- two versions of one table ------------------------------------------------------------------

def seed_noise_comparison(reference: pd.DataFrame, other: pd.DataFrame, key: str = "Exp",
                          metrics: Sequence[str] = ("average_mAP", "snippet_acc"),
                          names: tuple[str, str] = ("reference", "other")) -> pd.DataFrame:
    """Row by row, the difference of two tables built from different seeds' runs (e.g. Table 3
    trained in float32 and under bf16), in units of its standard error.

    Both tables carry ``<m>_mean``, ``<m>_std`` (over seeds) and ``n`` per row, as
    :func:`himnet_lib.study.tables.table3` writes them. Per row and metric: both means (x100), ``diff`` =
    other - reference (x100), ``se`` = sqrt(sd_r²/n_r + sd_o²/n_o) (x100) and ``z`` = diff / se;
    |z| < 2 is seed noise. Rows are matched on ``key``; a row missing from either table is an error."""
    ref, oth = reference.set_index(key), other.set_index(key)
    missing = sorted(set(ref.index) ^ set(oth.index))
    if missing:
        raise ValueError(f"seed_noise_comparison: rows {missing} are not in both tables")
    rows = []
    for k in ref.index:
        a, b = ref.loc[k], oth.loc[k]
        for m in metrics:
            diff = b[f"{m}_mean"] - a[f"{m}_mean"]
            se = float(np.sqrt(a[f"{m}_std"] ** 2 / a["n"] + b[f"{m}_std"] ** 2 / b["n"]))
            rows.append({key: k, "metric": m, names[0]: 100 * a[f"{m}_mean"], names[1]: 100 * b[f"{m}_mean"],
                         "diff": 100 * diff, "se": 100 * se, "z": diff / se if se > 0 else float("nan"),
                         "n": f"{int(a['n'])} / {int(b['n'])}"})
    return pd.DataFrame(rows)


def verdict_changes(reference: pd.DataFrame, other: pd.DataFrame,
                    keys: Sequence[str] = ("claim", "reading", "readout", "benchmark"),
                    names: tuple[str, str] = ("reference", "other")) -> pd.DataFrame:
    """The claims table (``claims.csv``) of two versions of the study side by side: per claim row,
    both effects ± standard errors (points) and verdicts, and whether the verdict changed. A
    verdict that changes between two versions differing only in, e.g., numeric precision sits at
    the noise boundary and should not be reported as settled. Rows missing from either are an error."""
    k = list(keys)
    for name, t in zip(names, (reference, other)):
        if t.duplicated(k).any():
            raise ValueError(f"verdict_changes: the {name} table has duplicate claim rows, e.g. "
                             f"{t[t.duplicated(k)][k].iloc[0].tolist()}")
    only = set(map(tuple, reference[k].to_numpy())) ^ set(map(tuple, other[k].to_numpy()))
    if only:
        raise ValueError(f"verdict_changes: {len(only)} claim rows are not in both tables, e.g. {sorted(only)[0]}")
    # the reference's row order (an outer merge would sort the keys)
    merged = reference.merge(other, on=k, how="left", suffixes=("_a", "_b"), validate="one_to_one")
    out = merged[k].copy()
    for tag, name in (("a", names[0]), ("b", names[1])):
        out[f"{name} effect"] = [f"{e:+.2f} ± {se:.2f}"
                                 for e, se in zip(merged[f"our_effect_{tag}"], merged[f"se_{tag}"])]
        out[f"{name} verdict"] = merged[f"verdict_{tag}"]
    out["changed"] = merged["verdict_a"] != merged["verdict_b"]
    return out
