"""The README's bench table of one result, written into its JSON as ``readme``
(:func:`readme_section`); ``himnet_lib.study.report`` renders that section without knowing any other key
of the JSON. :func:`refresh` rebuilds the section of stored results from the numbers they hold."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from himnet_lib.utils.fileio import atomic_write_text

from .part import README_COLUMNS, readme_row, readme_rows_of
from .parts import PARTS


def readme_section(res: dict) -> dict:
    """``{"title", "date", "columns", "rows"}``: the parts' README rows in run order, then the
    driver's own (the recorded ``make demo`` time, the parts carried over from an earlier run)."""
    rows = [row for part in PARTS.values() for row in readme_rows_of(part, res)]
    if res.get("make_demo_s"):
        rows.append(readme_row("`make demo`, fresh clone, install included", "", f"{res['make_demo_s'] / 60:.1f} min"))
    if res.get("skipped_parts_from"):
        carried = res["skipped_parts_from"]
        rows.append(readme_row(f"(parts {', '.join(carried['parts'])} carried over from {carried['date']})"))
    cpu = res.get("cpu_model", res.get("machine", "?"))
    title = f"{cpu}, {res.get('cores', '?')} cores, torch {res.get('torch', '?')}"
    return {"title": title, "date": res.get("date", ""), "columns": dict(README_COLUMNS), "rows": rows}


def dumps(res: dict) -> str:
    """The result JSON as the driver writes it."""
    return json.dumps(res, indent=1) + "\n"


def refresh(paths: Iterable[Path]) -> list[Path]:
    """Rewrite the ``readme`` section of each stored result (a file without ``machine`` is not one:
    skipped), everything else in it as it was. Returns the files rewritten."""
    done = []
    for path in paths:
        res = json.loads(Path(path).read_text())
        if not isinstance(res, dict) or "machine" not in res:
            continue
        res["readme"] = readme_section({k: v for k, v in res.items() if k != "readme"})
        atomic_write_text(path, dumps(res))
        done.append(Path(path))
    return done
