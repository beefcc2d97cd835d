"""Figures of the study's tables: ablation bars, the alpha sweep, KDEs, distributions, read-outs,
claims and dose-response."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib.lines as mlines
import numpy as np

from himnet_lib.study.figures.style import (
    FIG_WIDTH,
    KDE_COLORS,
    mpl_colormap,
    new_figure,
    styled,
)

METRIC_NAMES = {
    "average_mAP": "AVG mAP",
    "average_mAP_0.1_0.5": "AVG mAP 0.1:0.5",
    "snippet_acc": "snippet ACC",
    "fg_bg_acc": "fg/bg ACC",
}


@styled
def ablation_chart(table, metrics: Sequence[str] = ("average_mAP", "snippet_acc"), label_col: str = "label",
                   title: str = "") -> Any:
    """Grouped bars with ±std error bars, one group per table row (paper order kept).

    ``table`` is :func:`himnet_lib.study.aggregate.mean_std` output: ``<label_col>``, ``<m>_mean``, ``<m>_std``
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


@styled
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


@styled
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


@styled
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


@styled
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


VERDICT_COLORS = {"reproduces": "tab:green", "smaller than claimed": "tab:orange",
                  "smaller than claimed (not distinguishable from 0)": "gold", "reversed": "tab:red",
                  "inconclusive": "tab:gray"}


@styled
def claims_forest(table) -> Any:
    """One line per claim: the primary's effect and interval (colour = verdict), the paper's effect
    (black x) and, beside it, the claim's secondary cells (small grey points)."""
    prim = table[table["role"] == "primary"].reset_index(drop=True)
    fig = new_figure(FIG_WIDTH, 0.28 * len(prim) + 1.4)
    ax = fig.subplots()
    y = np.arange(len(prim))[::-1]
    for yi, r in zip(y, prim.to_dict("records")):
        sec = table[(table["claim"] == r["claim"]) & (table["role"] == "secondary")]
        ax.plot(sec["our_effect"], np.full(len(sec), yi - 0.25), ".", color="0.6", ms=3)
        c = VERDICT_COLORS.get(r["verdict"], "black")
        lo, hi = r["ci_low"], r["ci_high"]
        if np.isfinite(lo) and np.isfinite(hi):
            ax.plot([lo, hi], [yi, yi], color=c, lw=2)
        ax.plot(r["our_effect"], yi, "o", color=c, ms=4)
        if np.isfinite(r["paper_effect"]):
            ax.plot(r["paper_effect"], yi, "x", color="black", ms=5)
    ax.set_yticks(y, [f"{r['claim']} ({r['n_seeds']} seeds)" for r in prim.to_dict("records")], fontsize=6)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("effect (points of the claim's metric; x = the paper's; grey = secondary cells)")
    handles = [mlines.Line2D([], [], color=c, lw=2, label=v) for v, c in VERDICT_COLORS.items()]
    ax.legend(handles=handles, fontsize=5, loc="lower right")
    ax.set_title("the paper's claims: primary effect and its corrected interval, coloured by verdict")
    return fig


DOSE_PANELS = (("avg[minmax]", "AVG minmax (%)"), ("avg[fixed]", "AVG fixed (%)"), ("snippet_acc", "ACC (%)"),
               ("snippet_acc_fg", "fg ACC (%)"), ("snippet_acc_bg", "bg ACC (%)"),
               ("off_label_argmax_share", "off-label share (%)"), ("fg_bg_auc", "A's AUC"))


@styled
def dose_response_chart(table) -> Any:
    """One row of panels per loss term, one panel per metric: mean ± se over seeds against the λ
    factor (log axis; λ = 0 drawn at the left edge), one line per benchmark.
    ``table``: :func:`himnet_lib.study.dose.dose_response_table`."""
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
