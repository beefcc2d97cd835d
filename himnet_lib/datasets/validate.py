"""Problem reporting shared by the readers, and the vectorised per-video feature checks.

Readers take an :class:`Issues` object. In strict mode (``load_dataset``) the first problem raises
:class:`DataError`; in collecting mode (``check_data``) every problem is recorded and reading goes
on, so a user sees all broken entries of a bundle at once.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from himnet_lib.utils.errors import DataError


class Issues:
    """Collects or raises data problems; each problem is a :class:`DataError`."""

    def __init__(self, collect: bool = False):
        self.collect = collect
        self.items: list[DataError] = []

    def report(self, message: str, *, file: str | None = None, video: str | None = None,
               field: str | None = None) -> None:
        """A problem after which reading can go on (the entry is skipped or kept as is)."""
        err = DataError(message, file=file, video=video, field=field)
        if not self.collect:
            raise err
        self.items.append(err)

    def add(self, err: DataError) -> None:
        """Record (or, in strict mode, raise) an already-built error."""
        if not self.collect:
            raise err
        self.items.append(err)

    @staticmethod
    def fail(message: str, *, file: str | None = None, video: str | None = None,
             field: str | None = None) -> DataError:
        """A problem that stops reading in both modes: ``raise issues.fail(...)``."""
        return DataError(message, file=file, video=video, field=field)

    def __bool__(self) -> bool:
        return bool(self.items)

    def messages(self) -> list[str]:
        return [str(e) for e in self.items]


def check_features(x: np.ndarray, *, issues: Issues, file: str, video: str,
                   expected_dim: int | None) -> bool:
    """Check one video's features ``x`` (T, D); vectorised over snippets. Returns True when usable."""
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        shape = getattr(x, "shape", type(x).__name__)
        issues.report(f"features must be a 2-D (T, D) array, got {shape}", file=file, video=video, field="features")
        return False
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        issues.report(f"features must be numeric, got dtype {x.dtype}", file=file, video=video, field="features")
        return False
    ok = True
    T, D = x.shape
    if T == 0:
        issues.report("zero-length video: features have T=0 snippets", file=file, video=video, field="features")
        ok = False
    if expected_dim is not None and D != expected_dim:
        issues.report(f"feature dimension {D} differs from the expected {expected_dim}",
                      file=file, video=video, field="features")
        ok = False
    if T and not np.isfinite(x).all():
        bad_rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
        issues.report(f"features contain NaN/Inf in {bad_rows.size} of {T} snippets: {_snippets(x, bad_rows)}",
                      file=file, video=video, field="features")
        ok = False
    elif T and x.dtype.itemsize > 4 and np.issubdtype(x.dtype, np.floating):
        with np.errstate(over="ignore"):  # the overflow is what is looked for
            wide = ~np.isfinite(x.astype(np.float32)).all(axis=1)
        if wide.any():
            bad_rows = np.flatnonzero(wide)
            issues.report(f"features do not fit float32 (|x| > {np.finfo(np.float32).max:.3g}) in {bad_rows.size} "
                          f"of {T} snippets (first at snippet {bad_rows[0]})", file=file, video=video, field="features")
            ok = False
    return ok


SHOWN_SNIPPETS = 5  # non-finite snippets named one by one in a message (then a count)


def _snippets(x: np.ndarray, rows: np.ndarray) -> str:
    """``snippet 3 (nan at feature 5), snippet 6 (inf at feature 0), and 2 more``."""
    parts = []
    for t in rows[:SHOWN_SNIPPETS]:
        d = int(np.flatnonzero(~np.isfinite(x[t]))[0])
        parts.append(f"snippet {t} ({x[t, d]} at feature {d})")
    more = rows.size - SHOWN_SNIPPETS
    return ", ".join(parts) + (f", and {more} more" if more > 0 else "")


def most_common(values: Iterable[int]) -> int | None:
    """The most frequent value (smallest on ties); used as the reference feature dimension so that a
    single odd video is the one reported, not all the others."""
    vals, counts = np.unique(np.fromiter(values, dtype=np.int64), return_counts=True)
    return int(vals[np.argmax(counts)]) if vals.size else None
