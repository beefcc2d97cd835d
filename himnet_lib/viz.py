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
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .terms import KNOWN_TERMS

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
PDF_METADATA = {"CreationDate": None, "Producer": "himnet_lib.viz"}

GT_COLOR = "tab:blue"
CAS_COLOR = "tab:orange"
PROPOSAL_COLOR = "tab:green"
ATTENTION_COLOR = "tab:green"
BG_COLOR = "tab:gray"
# Fig. 7: the paper draws "with L_SCL" orange and "without" green; other labels cycle.
KDE_COLORS = {"with L_SCL": "tab:orange", "w/o L_SCL": "tab:green"}


def _styled(fn: Callable[..., Any]) -> Callable[..., Any]:
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
    from .io import atomic_write
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

LOSS_TERMS = KNOWN_TERMS  # one list of loss terms: himnet_lib.terms


@_styled
def loss_curves(history) -> Any:
    """Training curves from ``history.csv`` (a DataFrame with ``iteration``, ``loss`` and one column
    per loss term, each averaged over a logging interval). A second panel shows the test-set
    learning curves (``test_average_mAP`` etc.) when the run logged them."""
    if "iteration" not in history.columns or len(history) == 0:
        raise ValueError("loss_curves: history needs rows and an 'iteration' column")
    it = history["iteration"].to_numpy()
    tests = [c for c in ("test_average_mAP", "test_snippet_acc", "test_fg_bg_acc",
                         "val_average_mAP", "val_snippet_acc", "val_fg_bg_acc", "val_fg_bg_auc")
             if c in history.columns and history[c].notna().any()]
    fig = new_figure(FIG_WIDTH, 2.8)
    axes = fig.subplots(1, 2 if tests else 1, squeeze=False)[0]
    ax = axes[0]
    if "loss" in history.columns:
        ax.plot(it, history["loss"].to_numpy(), color="black", lw=1.6, label="total")
    for term in LOSS_TERMS:
        if term in history.columns:
            ax.plot(it, history[term].to_numpy(), lw=1.0, label=f"L_{term.upper()}")
    # terms differ by orders of magnitude (L_SCL is a sum over snippets, weighted by λ2 = 0.01 in
    # the total), so a log axis when every plotted value is positive
    values = np.concatenate([line.get_ydata() for line in ax.get_lines()])
    if values.size and np.all(values > 0) and values.max() / values.min() > 20:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (interval mean, unweighted terms)")
    ax.set_title("training losses")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    if tests:
        ax2 = axes[1]
        for c in tests:
            ok = history[c].notna().to_numpy()
            ax2.plot(it[ok], 100 * history[c].to_numpy()[ok], marker="o", ms=3, lw=1.0,
                     label=c)
        ax2.set_xlabel("iteration")
        on_val = any(c.startswith("val_") for c in tests)
        ax2.set_ylabel("validation fold (%)" if on_val else "test set (%)")
        ax2.set_title("learning curves (validation fold of the training videos)" if on_val
                      else "learning curves (test set, for inspection only)")
        ax2.legend(frameon=False)
    return fig


# --- tables ------------------------------------------------------------------------------------

METRIC_NAMES = {
    "average_mAP": "AVG mAP",
    "average_mAP_0.1_0.5": "AVG mAP 0.1:0.5",
    "snippet_acc": "snippet ACC",
    "fg_bg_acc": "fg/bg ACC",
}


@_styled
def ablation_chart(table, metrics: Sequence[str] = ("average_mAP", "snippet_acc"), label_col: str = "label",
                   title: str = "") -> Any:
    """Grouped bars with ±std error bars, one group per table row (paper order kept).

    ``table`` is :func:`himnet_lib.aggregate.mean_std` output: ``<label_col>``, ``<m>_mean``, ``<m>_std``
    (fractions; drawn in percent). One panel per metric so that scales do not squash each other.
    """
    labels = [str(x) for x in table[label_col]]
    if not labels:
        raise ValueError("ablation_chart: empty table")
    fig = new_figure(FIG_WIDTH, 1.0 + 0.9 * max(2.5, 0.35 * len(labels)) * len(metrics) / 1.6)
    axes = fig.subplots(len(metrics), 1, squeeze=False)[:, 0]
    x = np.arange(len(labels))
    for ax, m, color in zip(axes, metrics, ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        mean = 100 * table[f"{m}_mean"].to_numpy(dtype=float)
        std = 100 * table[f"{m}_std"].to_numpy(dtype=float)
        ax.bar(x, mean, yerr=std, color=color, alpha=0.85, capsize=3, width=0.6,
               error_kw={"elinewidth": 1.0})
        lo = float(np.nanmin(mean - std)) if np.isfinite(mean).any() else 0.0
        hi = float(np.nanmax(mean + std)) if np.isfinite(mean).any() else 1.0
        pad = max(1.0, 0.15 * (hi - lo))
        ax.set_ylim(max(0.0, lo - pad), min(100.0, hi + pad) if hi + pad > 0 else 1.0)
        ax.set_ylabel(f"{METRIC_NAMES.get(m, m)} (%)")
        ax.set_xticks(x, labels, rotation=20 if max(map(len, labels)) > 8 else 0, ha="right"
                      if max(map(len, labels)) > 8 else "center")
        for xi, (mu, sd) in enumerate(zip(mean, std)):
            if np.isfinite(mu):
                ax.annotate(f"{mu:.1f}", (xi, mu + (sd if np.isfinite(sd) else 0)), ha="center",
                            va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    if title:
        axes[0].set_title(title)
    return fig


@_styled
def alpha_sweep(df, x: str = "alpha", y: str = "average_mAP", best: float | None = 4.0,
                title: str = "") -> Any:
    """Fig. 6: mean of ``y`` over seeds against ``x`` with a ±std band (sample std, ddof=1).

    ``df`` holds one row per run (columns ``x`` and ``y``, fractions; drawn in percent).
    ``best`` marks the paper's chosen value (α = 4) with a dotted line; None for no marker.
    """
    xs = df[x].to_numpy(dtype=float)
    ys = 100 * df[y].to_numpy(dtype=float)
    grid = np.unique(xs)
    if grid.size == 0:
        raise ValueError("alpha_sweep: no rows")
    mean = np.array([ys[xs == g].mean() for g in grid])
    std = np.array([ys[xs == g].std(ddof=1) if (xs == g).sum() > 1 else 0.0 for g in grid])
    n = np.array([(xs == g).sum() for g in grid])
    fig = new_figure(FIG_WIDTH * 0.75, 3.0)
    ax = fig.subplots()
    ax.fill_between(grid, mean - std, mean + std, color="tab:blue", alpha=0.2, lw=0,
                    label="± std over seeds")
    ax.plot(grid, mean, color="tab:blue", marker="o", ms=4, lw=1.5, label=f"mean (n = {int(n.min())}"
            + (f"-{int(n.max())}" if n.max() != n.min() else "") + ")")
    ax.scatter(xs, ys, s=8, color="tab:blue", alpha=0.4, lw=0, label="runs")
    if best is not None and grid.min() <= best <= grid.max():
        ax.axvline(best, color="gray", ls=":", lw=1.0, label=f"paper's choice α = {best:g}")
    ax.set_xlabel("α (Eq. 9)")
    ax.set_ylabel(f"{METRIC_NAMES.get(y, y)} (%)")
    ax.set_title(title or "Fig. 6: effect of α")
    ax.legend(frameon=False)
    return fig


@_styled
def uncertainty_kde(values_by_label: Mapping[str, np.ndarray], title: str = "",
                    xlabel: str = "U(p‖q) on background snippets") -> Any:
    """Fig. 7: seaborn KDE (clipped to [0, 1]) of uncertainty values, one curve per label.

    A label whose values have no spread (KDE undefined) is drawn as a vertical line at its value.
    """
    import seaborn as sns
    fig = new_figure(FIG_WIDTH * 0.75, 3.0)
    ax = fig.subplots()
    others = iter(("tab:blue", "tab:red", "tab:purple", "tab:brown", "tab:pink"))
    for label, vals in values_by_label.items():
        v = np.asarray(vals, dtype=float).ravel()
        v = v[np.isfinite(v)]
        color = KDE_COLORS.get(label) or next(others)
        if v.size == 0:
            continue
        if v.size < 2 or np.ptp(v) < 1e-12:
            ax.axvline(float(v[0]), color=color, lw=2, label=f"{label} (n = {v.size}, constant)")
            continue
        sns.kdeplot(x=v, ax=ax, fill=True, clip=(0.0, 1.0), color=color, alpha=0.3, lw=1.5,
                    label=f"{label} (n = {v.size})", warn_singular=False)
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title or "Fig. 7: uncertainty of background snippets")
    ax.legend(frameon=False, loc="upper left")
    return fig


# --- timelines (Fig. 8, Fig. 5) -----------------------------------------------------------------

def _proposal_rows(proposals, class_name: str | None) -> np.ndarray:
    """(N, 3) [start, end, score] of the proposals of ``class_name`` (all when None).

    ``proposals`` is one video's ActivityNet result list ``[{"label", "score", "segment"}]`` or an
    (N, 3) array (already filtered)."""
    if proposals is None:
        return np.zeros((0, 3))
    if isinstance(proposals, np.ndarray):
        return proposals.reshape(-1, 3).astype(float)
    rows = [(float(p["segment"][0]), float(p["segment"][1]), float(p["score"])) for p in proposals
            if class_name is None or p.get("label") == class_name]
    return np.asarray(rows, dtype=float).reshape(-1, 3)


def _draw_timeline(axes, gt_segments, gt_classes, class_idx, cas_supp, attention, bg_prob, proposals,
                   snippet_seconds, class_names, top_k: int = 10, label: str = "") -> None:
    """Draw one timeline on four stacked axes (GT, Ŝ + proposals, A, B_BG)."""
    ax_gt, ax_cas, ax_a, ax_b = axes
    cas_supp = np.asarray(cas_supp, dtype=float)
    T = cas_supp.shape[0]
    t = (np.arange(T) + 0.5) * snippet_seconds
    end = T * snippet_seconds
    cname = class_names[class_idx] if class_names is not None else str(class_idx)
    seg = np.asarray(gt_segments, dtype=float).reshape(-1, 2)
    cls = np.asarray(gt_classes).reshape(-1)
    for (s, e), c in zip(seg, cls):
        ax_gt.axvspan(s, e, color=GT_COLOR, alpha=0.9 if c == class_idx else 0.25, lw=0)
    ax_gt.set_yticks([])
    ax_gt.set_ylabel("GT", rotation=0, ha="right", va="center")
    if label:
        ax_gt.set_title(label, loc="left")
    s_c = cas_supp[:, class_idx]
    ax_cas.fill_between(t, 0, s_c, color=CAS_COLOR, alpha=0.35, lw=0, step="mid")
    ax_cas.plot(t, s_c, color=CAS_COLOR, lw=1.0, drawstyle="steps-mid", label=f"Ŝ[{cname}]")
    rows = _proposal_rows(proposals, cname)
    if len(rows):
        rows = rows[np.argsort(-rows[:, 2], kind="stable")][:top_k]
        lo, hi = float(min(0.0, s_c.min())), float(max(s_c.max(), 1e-6))
        from matplotlib.patches import Rectangle
        for s, e, _ in rows:
            ax_cas.add_patch(Rectangle((s, lo), e - s, hi - lo, fill=False, ec=PROPOSAL_COLOR, lw=1.2))
        ax_cas.plot([], [], color=PROPOSAL_COLOR, lw=1.2, label=f"top-{len(rows)} proposals")
    ax_cas.set_ylabel("Ŝ", rotation=0, ha="right", va="center")
    ax_cas.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=7)
    for ax, arr, color, name in ((ax_a, attention, ATTENTION_COLOR, "A"), (ax_b, bg_prob, BG_COLOR, "B_BG")):
        arr = np.asarray(arr, dtype=float).reshape(-1)
        ax.fill_between(t, 0, arr, color=color, alpha=0.8, lw=0, step="mid")
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
    for ax in axes:
        ax.set_xlim(0, end)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel("time (s)")


def _check_timeline(T: int, cas_supp, attention, bg_prob, class_idx: int) -> None:
    if np.asarray(cas_supp).ndim != 2 or np.asarray(attention).reshape(-1).shape[0] != T \
            or np.asarray(bg_prob).reshape(-1).shape[0] != T:
        raise ValueError(f"timeline: cas_supp {np.shape(cas_supp)}, attention {np.shape(attention)}, "
                         f"bg_prob {np.shape(bg_prob)} must be (T,C+1), (T,), (T,)")
    if not 0 <= class_idx < np.asarray(cas_supp).shape[1]:
        raise ValueError(f"timeline: class_idx {class_idx} out of range for {np.shape(cas_supp)}")


@_styled
def timeline(video_name: str, gt_segments: np.ndarray, gt_classes: np.ndarray, class_idx: int,
             cas_supp: np.ndarray, attention: np.ndarray, bg_prob: np.ndarray, proposals,
             snippet_seconds: float, class_names: Sequence[str] | None = None, top_k: int = 10) -> Any:
    """Fig. 8 for one video: GT bar (blue; the shown class dark), Ŝ of class ``class_idx`` (orange)
    with the ``top_k`` highest-scoring proposals of that class (green boxes), then the attention A
    (green) and background probability B_BG (gray) strips.

    Args:
        gt_segments (N, 2) seconds, gt_classes (N,), cas_supp (T, C+1), attention (T,), bg_prob (T,),
        proposals: the video's ActivityNet result list (filtered to the class by name) or (N, 3).
    """
    T = np.asarray(cas_supp).shape[0]
    _check_timeline(T, cas_supp, attention, bg_prob, class_idx)
    fig = new_figure(FIG_WIDTH, 2.8)
    axes = fig.subplots(4, 1, sharex=True, gridspec_kw={"height_ratios": [0.5, 2.0, 0.5, 0.5]})
    cname = class_names[class_idx] if class_names is not None else str(class_idx)
    _draw_timeline(axes, gt_segments, gt_classes, class_idx, cas_supp, attention, bg_prob, proposals,
                   snippet_seconds, class_names, top_k)
    fig.suptitle(f"{video_name}: {cname}", fontsize=9)
    return fig


@_styled
def timelines_grid(video_name: str, gt_segments: np.ndarray, gt_classes: np.ndarray, class_idx: int,
                   panels: Mapping[str, Mapping[str, Any]], snippet_seconds: float,
                   class_names: Sequence[str] | None = None, top_k: int = 10) -> Any:
    """Fig. 5: the same video under several runs, one timeline block per run.

    ``panels`` maps a row label (e.g. "Exp 1: L_MIL") to ``{"cas_supp", "attention", "bg_prob",
    "proposals"}`` for this video (shapes as in :func:`timeline`).
    """
    if not panels:
        raise ValueError("timelines_grid: no panels")
    n = len(panels)
    fig = new_figure(FIG_WIDTH, 0.4 + 2.2 * n)
    ratios = [0.5, 2.0, 0.5, 0.5] * n
    axes = fig.subplots(4 * n, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    for i, (label, p) in enumerate(panels.items()):
        T = np.asarray(p["cas_supp"]).shape[0]
        _check_timeline(T, p["cas_supp"], p["attention"], p["bg_prob"], class_idx)
        _draw_timeline(axes[4 * i:4 * i + 4], gt_segments, gt_classes, class_idx, p["cas_supp"],
                       p["attention"], p["bg_prob"], p.get("proposals"), snippet_seconds, class_names,
                       top_k, label=label)
    for ax in axes[:-1]:  # one time axis, at the bottom
        ax.set_xlabel("")
        ax.tick_params(labelbottom=False)
    cname = class_names[class_idx] if class_names is not None else str(class_idx)
    fig.suptitle(f"{video_name}: {cname}", fontsize=9)
    return fig


def main_class(video) -> int:
    """The GT class covering most seconds of ``video`` (ties: lowest id); the class a timeline shows."""
    seg = np.asarray(video.segments, dtype=float).reshape(-1, 2)
    cls = np.asarray(video.segment_classes, dtype=np.int64).reshape(-1)
    if cls.size == 0:
        labels = np.asarray(video.labels).reshape(-1)
        return int(np.argmax(labels)) if labels.size else 0
    total = np.bincount(cls, weights=seg[:, 1] - seg[:, 0], minlength=int(cls.max()) + 1)
    return int(np.argmax(total))


def timeline_for(video, outputs: Mapping[str, np.ndarray], proposals, dataset, class_idx: int | None = None,
                 top_k: int = 10) -> Any:
    """:func:`timeline` for a :class:`~himnet_lib.data.Video` of ``dataset`` and its saved outputs
    (one entry of :func:`himnet_lib.records.load_outputs`); class: :func:`main_class` by default."""
    c = main_class(video) if class_idx is None else int(class_idx)
    return timeline(video.name, video.segments, video.segment_classes, c, outputs["cas_supp"],
                    outputs["attention"], outputs["bg_prob"], proposals, dataset.snippet_seconds,
                    dataset.classes, top_k)


# --- attention diagnostics, learning curves, read-outs, claims ----------------------------------

@_styled
def distributions(values: Mapping[str, Mapping[str, np.ndarray]], title: str = "", xlabel: str = "value") -> Any:
    """One panel per outer key (e.g. a reading), one histogram per inner key (e.g. "Exp 1 · fg"):
    densities of values in [0, 1] with 40 bins."""
    panels = list(values)
    fig = new_figure(FIG_WIDTH, 2.6 * max(1, len(panels)))
    axes = fig.subplots(max(1, len(panels)), 1, squeeze=False)[:, 0]
    bins = np.linspace(0, 1, 41)
    for ax, panel in zip(axes, panels):
        for label, v in values[panel].items():
            v = np.asarray(v, dtype=float).ravel()
            if v.size:
                ax.hist(np.clip(v, 0, 1), bins=bins, density=True, histtype="step", lw=1.3, label=label)
        ax.set_title(f"{title} · {panel}" if title else str(panel))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("density")
        ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


@_styled
def learning_curves(histories: Mapping[str, Any], columns: Sequence[str] = ("val_average_mAP[none/soft]",
                                                                            "val_average_mAP[minmax/soft]",
                                                                            "val_fg_bg_auc")) -> Any:
    """Learning curves of several runs (label -> history DataFrame), one panel per column. Labels
    ``"Exp k · <setting> · s<seed>"``: one colour per setting, solid for Exp 1, dashed otherwise."""
    titles = {"val_average_mAP[none/soft]": "AVG mAP, fixed read-out", "val_average_mAP[minmax/soft]":
              "AVG mAP, min-max read-out", "val_fg_bg_auc": "attention AUC"}
    settings = list(dict.fromkeys(" · ".join(lab.split(" · ")[1:-1]) or lab for lab in histories))
    cmap = mpl_colormap(len(settings))
    fig = new_figure(FIG_WIDTH * 1.2, 3.0)
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    for ax, col in zip(axes, columns):
        for label, h in histories.items():
            if col not in h.columns:
                continue
            setting = " · ".join(label.split(" · ")[1:-1]) or label
            ok = h[col].notna().to_numpy()
            scale = 1.0 if col.endswith("auc") else 100.0
            ax.plot(h["iteration"].to_numpy()[ok], scale * h[col].to_numpy()[ok], marker="o", ms=2.5, lw=1.0,
                    color=cmap[settings.index(setting)], ls="-" if label.startswith("Exp 1") else "--",
                    label=label)
        ax.set_xlabel("iteration")
        ax.set_title(titles.get(col, col), fontsize=8)
    axes[0].set_ylabel("validation AVG mAP (%)")
    axes[-1].set_ylabel("AUC")
    axes[-1].legend(frameon=False, fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def mpl_colormap(n: int) -> list:
    """``n`` distinct colours (tab10, then tab20 beyond ten)."""
    import matplotlib as mpl
    cmap = mpl.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


@_styled
def readout_comparison(table, label_col: str = "row", fixed: str = "fixed_mean", minmax: str = "minmax_mean",
                       fixed_std: str = "fixed_std", minmax_std: str = "minmax_std") -> Any:
    """Grouped bars: AVG mAP of each row under the fixed and the min-max read-out (mean ± std)."""
    labels = list(table[label_col])
    x = np.arange(len(labels))
    fig = new_figure(FIG_WIDTH, 3.0)
    ax = fig.subplots()
    ax.bar(x - 0.2, table[fixed], 0.4, yerr=table[fixed_std], label="fixed thresholds", color="tab:gray")
    ax.bar(x + 0.2, table[minmax], 0.4, yerr=table[minmax_std], label="per-video min-max", color="tab:blue")
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("AVG mAP 0.1:0.7 (%)")
    ax.set_title("the same runs under two attention read-outs")
    ax.legend(frameon=False)
    return fig


VERDICT_COLORS = {"holds": "tab:green", "reversed": "tab:red", "within noise": "tab:gray", "n/a": "white",
                  "n/a (read-out degenerate)": "tab:olive"}


@_styled
def claims_forest(table) -> Any:
    """Each claim row: our effect ± 2 se (colour = verdict), and the paper's effect (black x)."""
    rows = table.reset_index(drop=True)
    fig = new_figure(FIG_WIDTH, 0.16 * len(rows) + 1.2)
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    for yi, (_, r) in zip(y, rows.iterrows()):
        c = VERDICT_COLORS.get(r["verdict"], "black")
        se = r["se"] if np.isfinite(r["se"]) else 0.0
        ax.errorbar(r["our_effect"], yi, xerr=2 * se, fmt="o", ms=3, color=c, ecolor=c, lw=1)
        if np.isfinite(r["paper_effect"]):
            ax.plot(r["paper_effect"], yi, "x", color="black", ms=4)
    names = [f"{r.claim} | {r.reading} | {r.readout} | {r.benchmark}" for r in rows.itertuples()]
    ax.set_yticks(y, names, fontsize=5)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("effect (points; x = paper)")
    ax.set_title("the paper's claims: our effect ± 2 se; colour = Holm-adjusted verdict "
                 "(green holds, red reversed, gray noise, olive degenerate read-out)")
    return fig


DOSE_PANELS = (("avg[minmax]", "AVG minmax (%)"), ("avg[fixed]", "AVG fixed (%)"), ("snippet_acc", "ACC (%)"),
               ("snippet_acc_fg", "fg ACC (%)"), ("snippet_acc_bg", "bg ACC (%)"),
               ("off_label_argmax_share", "off-label share (%)"), ("fg_bg_auc", "A's AUC"))


@_styled
def dose_response(table) -> Any:
    """One row of panels per loss term, one panel per metric: mean ± se over seeds against the λ
    factor (log axis; λ = 0 drawn at the left edge), one line per benchmark.
    ``table``: :func:`himnet_lib.dose.dose_response_table`."""
    terms = list(dict.fromkeys(table["term"]))
    fig = new_figure(FIG_WIDTH * 1.6, 1.7 * len(terms) + 0.6)
    axes = np.atleast_2d(fig.subplots(len(terms), len(DOSE_PANELS), squeeze=False))
    factors = sorted(f for f in table["factor"].unique() if f > 0)
    zero_at = factors[0] / 3 if factors else 0.03
    for i, term in enumerate(terms):
        t = table[table["term"] == term]
        for j, (col, name) in enumerate(DOSE_PANELS):
            ax = axes[i, j]
            for k, (bench, g) in enumerate(t.groupby("benchmark", sort=False)):
                x = np.where(g["factor"] > 0, g["factor"], zero_at)
                ax.errorbar(x, g[col], yerr=g[f"{col}_se"].fillna(0.0), fmt="o-", ms=2.5, lw=1,
                            color=mpl_colormap(4)[k], label=bench)
            ax.set_xscale("log")
            ax.axvline(1.0, color="black", lw=0.5, ls=":")
            ax.tick_params(labelsize=6)
            if i == 0:
                ax.set_title(name, fontsize=7)
            if j == 0:
                ax.set_ylabel(f"λ_{term} × factor", fontsize=7)
            if i == len(terms) - 1:
                ax.set_xlabel("factor (left edge: 0)", fontsize=6)
    axes[0, 0].legend(frameon=False, fontsize=6)
    return fig
