"""Generated parts of the README: the results at a glance (copied from the tables that
``himnet reproduce`` wrote, never retyped) and the "What reproduces what" table (from
:mod:`himnet_lib.study.manifest`). Each part lives between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->`` markers; everything else in the README is left as it is."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Sequence

import pandas as pd

from himnet_lib.study.claims_report import findings_sentences
from himnet_lib.study.manifest import reproduces_table
from himnet_lib.study.mechanism_map import claim_controls, read_map, when_each_term_helps
from himnet_lib.utils import markdown
from himnet_lib.utils.fileio import atomic_write_text

__all__ = ["bench_block", "replace_block", "results_block", "update_readme"]

# (heading, table file under results/<profile>/tables/)
RESULT_TABLES: tuple[tuple[str, str], ...] = (
    ("The paper's claims: each primary test's verdict against the paper's effect (full table: claims.md)",
     "claims_summary.md"),
    ("Table 3, loss ablation", "table3.md"),
)


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the lines between the ``name`` markers replaced by ``body``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"README has no {start} ... {end} block")
    return pattern.sub(lambda _: f"{start}\n{body.rstrip()}\n{end}", text)


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row; an escaped "\\|" stays inside its cell."""
    return re.split(r"(?<!\\)\|", line.strip()[1:-1])


def _keep_columns(md: str, drop_suffixes: tuple[str, ...] = ("_mean", "_std")) -> str:
    """Drop the machine columns (``*_mean``, ``*_std``) of a Markdown table written by the study."""
    lines = [ln for ln in md.strip().splitlines() if ln.startswith("|")]
    if not lines:
        return md
    header = [c.strip() for c in _cells(lines[0])]
    keep = [i for i, c in enumerate(header) if not c.endswith(drop_suffixes)]
    out = []
    for ln in lines:
        cells = [c.strip() for c in _cells(ln)]
        out.append("| " + " | ".join(cells[i] for i in keep if i < len(cells)) + " |")
    return "\n".join(out)


def results_block(tables_dir: str | os.PathLike, link_prefix: str = "results/demo/tables/") -> str:
    """The results at a glance: each table of :data:`RESULT_TABLES` that exists, as written by the
    study notebooks (machine columns dropped), under a heading that links to the file."""
    parts = []
    for heading, name in RESULT_TABLES:
        path = Path(tables_dir) / name
        if path.exists():
            parts.append(f"**{heading}** ([{name}]({link_prefix}{name}))\n\n{_keep_columns(path.read_text())}\n")
    return "\n".join(parts) if parts else "_(run `make demo` to generate the results)_\n"


def bench_block(bench_dir: str | os.PathLike, link_prefix: str = "results/timing/") -> str:
    """The ``make bench`` table of each ``results/timing/<machine>.json``, as the file's ``readme``
    section gives it: ``title`` and ``date`` for the heading, ``columns`` (row key -> heading) and
    ``rows`` of cells already formatted. ``timing/bench_all.py`` writes that section (its
    ``suite.readme``), so no benchmark key is read here; a JSON without one is skipped."""
    parts = []
    for path in sorted(Path(bench_dir).glob("*.json")):
        r = json.loads(path.read_text())
        sec = r.get("readme") if isinstance(r, dict) else None
        if not isinstance(sec, dict):
            continue  # not a bench_all result, or one written before the readme section
        cols = list(sec["columns"])
        table = markdown.table([sec["columns"][k] for k in cols],
                               [[row.get(k, "") for k in cols] for row in sec["rows"]])
        head = f"**{sec.get('title') or path.stem}** ([{path.name}]({link_prefix}{path.name}), {sec.get('date', '')})"
        parts.append(head + "\n\n" + table + "\n")
    cmp_path = Path(bench_dir) / "table3_fp32_vs_fast.csv"
    if parts and cmp_path.exists():  # written by timing/compare_table3.py (make bench)
        cmp = pd.read_csv(cmp_path)
        z = cmp["z"].abs()
        parts.append(f"Table 3 trained with the fast default (bf16) vs the float32 reference settings: "
                     f"{len(cmp)} row x metric pairs, largest |z| = {z.max():.2f}, "
                     f"{int((z >= 2).sum())} at 2 standard errors or more "
                     f"([table3_fp32_vs_fast.md]({link_prefix}table3_fp32_vs_fast.md)).\n")
    return "\n".join(parts) if parts else "_(run `make bench` to measure this machine)_\n"


def read_claims(tables_dir: str | os.PathLike) -> pd.DataFrame:
    """``claims.csv`` of a study's tables, as the claims table writes it."""
    table = pd.read_csv(Path(tables_dir) / "claims.csv", keep_default_na=True)
    table["primary"] = table["primary"].astype(bool)
    table["dose_response"] = table["dose_response"].fillna("-")
    return table


def findings_block(tables_dir: str | os.PathLike, link_prefix: str) -> str:
    """One sentence per claim from the primary rows of ``claims.csv`` (what the Findings open with)."""
    table = read_claims(tables_dir)
    mech = read_map(tables_dir)
    controls = claim_controls(mech[1]) if mech is not None else None
    head = (f"Per claim, its pre-registered primary test ([claims_summary.md]({link_prefix}claims_summary.md), "
            f"[claims.md]({link_prefix}claims.md); verdicts judged against the paper's own effect, "
            "docs/findings.md section 3):")
    text = head + "\n\n" + "\n".join(f"* {s}" for s in findings_sentences(table, controls)) + "\n"
    if mech is not None:
        text += ("\n**When each term helps** (the positive controls: each term's effect where the synthetic "
                 f"generator plants the structure it exploits, "
                 f"[mechanism_trends.md]({link_prefix}mechanism_trends.md)):"
                 "\n\n" + "\n".join(f"* {s}" for s in when_each_term_helps(mech[1], mech[2])) + "\n")
    return text


def update_readme(readme: str | os.PathLike, tables_dir: str | os.PathLike,
                  link_prefix: str = "results/demo/tables/", bench_dir: str | os.PathLike | None = None,
                  findings: tuple[str | os.PathLike, str] | None = None,
                  also: Sequence[tuple[str | os.PathLike, str]] = ()) -> Path:
    """Rewrite the README's ``results``, ``reproduces``, (when ``bench_dir`` is given) ``bench`` and
    (when ``findings`` = (tables dir, link prefix) is given) ``findings`` blocks in place
    (atomically); the findings block also into each (file, link prefix) of ``also``."""
    path = Path(readme)
    text = path.read_text()
    text = replace_block(text, "results", results_block(tables_dir, link_prefix))
    text = replace_block(text, "reproduces", reproduces_table())
    if bench_dir is not None:
        text = replace_block(text, "bench", bench_block(bench_dir))
    if findings is not None and (Path(findings[0]) / "claims.csv").exists():
        text = replace_block(text, "findings", findings_block(*findings))
        for other, prefix in also:
            o = Path(other)
            atomic_write_text(o, replace_block(o.read_text(), "findings", findings_block(findings[0], prefix)))
    return atomic_write_text(path, text)


def main(argv: list[str] | None = None) -> int:
    """``python -m himnet_lib.study.report``: regenerate the README blocks from ``results/demo/tables``."""
    import argparse

    from himnet_lib.utils.paths import PROJECT_ROOT
    p = argparse.ArgumentParser(prog="python -m himnet_lib.study.report", description=main.__doc__)
    p.add_argument("--readme", type=Path, default=PROJECT_ROOT / "README.md")
    p.add_argument("--tables", type=Path, default=PROJECT_ROOT / "results" / "demo" / "tables")
    p.add_argument("--bench", type=Path, default=PROJECT_ROOT / "results" / "timing")
    p.add_argument("--findings", default=None,
                   help="the profile whose claims table the Findings rest on (default: study when its "
                        "results are there, else demo)")
    args = p.parse_args(argv)
    profile = args.findings or ("study" if (PROJECT_ROOT / "results" / "study" / "tables" / "claims.csv").exists()
                                else "demo")
    update_readme(args.readme, args.tables, bench_dir=args.bench,
                  findings=(PROJECT_ROOT / "results" / profile / "tables", f"results/{profile}/tables/"),
                  also=[(PROJECT_ROOT / "docs" / "findings.md", f"../results/{profile}/tables/")])
    print(f"updated {args.readme} from {args.tables}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
