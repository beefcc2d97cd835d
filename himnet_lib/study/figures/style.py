"""Figures of the study: functions that take arrays or tables and RETURN a matplotlib Figure.

Nothing here writes files except :func:`save_figure`, nothing calls ``plt.show`` and nothing
switches backends: figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot
state), under a fixed style (sizes, dpi, fonts) so the output does not depend on the caller's
rcParams (e.g. the inline backend's). :func:`save_figure` writes PNG + PDF byte-identically on
rerun (no timestamps, no version strings in the metadata); :func:`show` displays a figure in a
notebook as the same PNG.

Colours follow the paper: Fig. 8 GT blue, Ŝ orange, proposals green, A green, B_BG gray;
Fig. 7 with L_SCL orange, without green.
"""

from __future__ import annotations

import functools
import io
import os
import re
from pathlib import Path
from typing import Any, Callable

DPI = 150
FIG_WIDTH = 7.0  # inches: one column of a notebook / half a page
# Fixed style applied on top of matplotlib's internal defaults (never the user's matplotlibrc).
STYLE: dict[str, Any] = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "pdf.fonttype": 42,
    "svg.hashsalt": "himnet",
}
# PNG: drop the "Software" entry (it names the matplotlib version); PDF: drop the creation date.
PNG_METADATA = {"Software": None}
PDF_METADATA = {"CreationDate": None, "Producer": "himnet_lib"}

GT_COLOR = "tab:blue"
CAS_COLOR = "tab:orange"
PROPOSAL_COLOR = "tab:green"
ATTENTION_COLOR = "tab:green"
BG_COLOR = "tab:gray"
# Fig. 7: the paper draws "with L_SCL" orange and "without" green; other labels cycle.
KDE_COLORS = {"with L_SCL": "tab:orange", "w/o L_SCL": "tab:green"}


def styled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Build the figure under the fixed style (fonts and sizes are resolved when artists are made)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import matplotlib as mpl
        with mpl.rc_context():
            mpl.rcdefaults()
            mpl.rcParams.update(STYLE)
            return fn(*args, **kwargs)
    return wrapper


def new_figure(width: float = FIG_WIDTH, height: float = 3.0):
    """A pyplot-free Figure of fixed size and dpi (its canvas is chosen when saved)."""
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


# --- output ------------------------------------------------------------------------------------

def safe_name(text: str) -> str:
    """A file-name-safe version of ``text`` (video names may hold spaces or slashes)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "figure"


def figure_bytes(fig, fmt: str = "png") -> bytes:
    """The figure rendered as ``png`` or ``pdf`` bytes, deterministic metadata."""
    import matplotlib as mpl
    if fmt not in ("png", "pdf"):
        raise ValueError(f"figure_bytes: format must be png or pdf, got {fmt!r}")
    buf = io.BytesIO()
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(STYLE)  # type: ignore[arg-type]  # the stub wants Literal rc names; STYLE's are valid
        fig.savefig(buf, format=fmt, dpi=DPI, bbox_inches="tight", pad_inches=0.05,
                    metadata=PNG_METADATA if fmt == "png" else PDF_METADATA)
    return buf.getvalue()


def save_figure(fig, name: str, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``<out_dir>/<name>.png`` and ``.pdf`` atomically; byte-identical on rerun."""
    from himnet_lib.utils.fileio import atomic_write
    out_dir = Path(out_dir)
    paths = []
    for fmt in ("png", "pdf"):
        data = figure_bytes(fig, fmt)
        paths.append(atomic_write(out_dir / f"{name}.{fmt}", lambda f, d=data: f.write(d)))  # type: ignore[misc]  # default-bound lambda
    return paths


def show(fig) -> None:
    """Display ``fig`` in a notebook as its PNG (no pyplot or inline backend needed)."""
    from IPython.display import Image, display
    display(Image(data=figure_bytes(fig, "png"), format="png"))


# --- training ----------------------------------------------------------------------------------





# --- tables ------------------------------------------------------------------------------------









# --- timelines (Fig. 8, Fig. 5) -----------------------------------------------------------------















# --- attention diagnostics, learning curves, read-outs, claims ----------------------------------





def mpl_colormap(n: int) -> list:
    """``n`` distinct colours (tab10, then tab20 beyond ten)."""
    import matplotlib as mpl
    cmap = mpl.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]










