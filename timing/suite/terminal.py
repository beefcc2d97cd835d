"""The table ``bench_all.py`` prints: every part's rows (:mod:`suite.part`), in run order."""

from __future__ import annotations

from .parts import PARTS


def table(res: dict) -> str:
    lines = [f"{'measure':52s} {'value':>18s}  unit", "-" * 80]
    for part in PARTS.values():
        for name, v, unit in part.table_rows(res):
            if v is None:
                continue
            s = v if isinstance(v, str) else (f"{v:.4g}")
            lines.append(f"{name:52s} {s:>18s}  {unit}")
    return "\n".join(lines)
