"""Writing a table: ``<name>.csv`` and ``<name>.md`` side by side, atomically."""

from __future__ import annotations

import os
from pathlib import Path

from himnet_lib.utils import markdown
from himnet_lib.utils.fileio import atomic_write_text

__all__ = ["write_table"]


def write_table(df, name: str, out_dir: str | os.PathLike, float_format: str = "%.4f") -> list[Path]:
    """``<out_dir>/<name>.csv`` (fixed column order, no index) and ``<name>.md``, written atomically."""
    out_dir = Path(out_dir)
    csv_text = df.to_csv(index=False, float_format=float_format, lineterminator="\n")
    md_text = _markdown(df) + "\n"
    return [atomic_write_text(out_dir / f"{name}.csv", csv_text), atomic_write_text(out_dir / f"{name}.md", md_text)]


def _markdown(df) -> str:
    return markdown.table(list(df.columns), ([f"{v:.4f}" if isinstance(v, float) else v for v in r[df.columns]]
                                             for _, r in df.iterrows()))
