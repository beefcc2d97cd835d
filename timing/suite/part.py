"""What a bench part is. Each part module of :mod:`suite.parts` defines

- ``NAME``: its ``--skip`` name;
- ``measure(ctx: Context) -> dict``: its numbers, merged into the result JSON (its keys are
  recorded under ``part_keys[NAME]``, so that a partial rerun can carry them over);
- ``table_rows(res) -> list[(measure, value, unit)]``: its lines of the terminal table (a value of
  None is left out);
- ``readme_rows(res) -> list[dict]``, optional (a part without it has none): its rows of the
  README's bench table (:func:`readme_row`), read from the result JSON alone, so that a stored
  result can be re-rendered (:func:`readme_rows_of`).

Here too: the cell formatting they share."""

from __future__ import annotations

import dataclasses
from pathlib import Path

# The README table's columns: row key -> heading.
README_COLUMNS = {"what": "what", "reference": "reference", "fast": "fast", "ratio": "fast / reference"}


@dataclasses.dataclass(frozen=True)
class Context:
    """What a part is measured under: ``quick`` = fewer repetitions; ``slug`` = the machine key;
    ``out_dir``: where the result JSON goes (parts may write companion files there)."""
    quick: bool
    slug: str
    out_dir: Path


def readme_rows_of(part, res: dict) -> list[dict[str, str]]:
    """The README rows a part module gives for ``res`` (none when it defines no ``readme_rows``)."""
    rows = getattr(part, "readme_rows", None)
    return rows(res) if rows is not None else []


def readme_row(what: str, reference: str = "", fast: str = "", ratio: str = "") -> dict[str, str]:
    """One row of the README's bench table, cells already formatted ("" = empty)."""
    return {"what": what, "reference": reference, "fast": fast, "ratio": ratio}


def fmt(v: float | None, unit: str = "") -> str:
    """A README cell: seconds under 1 as ms, 3 significant digits, thousands separated."""
    if v is None:
        return "–"
    if unit == "s" and v < 1:
        return f"{v * 1000:.1f} ms"
    if v >= 100:
        return f"{v:,.0f} {unit}".strip()
    return f"{v:.3g} {unit}".strip()


def ratio(ref: float | None, fast: float | None) -> str:
    return f"{ref / fast:.2f}x" if ref and fast else "–"
