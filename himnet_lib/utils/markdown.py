"""The one Markdown table writer: escaped cells, one layout, atomic files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from himnet_lib.utils.fileio import atomic_write_text

__all__ = ["cell", "table", "write"]


def cell(text: object) -> str:
    """A table cell: a literal "|" (as in "U(p||q)") is escaped so that it does not split the cell."""
    return str(text).replace("|", "\\|")


def table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """``| a | b |`` lines with a ``|---|---|`` rule under the header; cells are already formatted
    strings (or objects whose ``str`` is wanted) and are escaped here. No trailing newline."""
    cols = [cell(c) for c in header]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def write(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` atomically (temporary file, then rename)."""
    return atomic_write_text(Path(path), text)
