"""The mechanism map's figure (notebook 12): one panel per term, its paired effect ± CI against the
structure measure, the benchmarks marked on the same axis."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from himnet_lib.study.figures.style import FIG_WIDTH, mpl_colormap, new_figure, styled


@styled
def mechanism_map_chart(table, trends, positions) -> Any:
    """One panel per term of ``table`` (:func:`himnet_lib.study.mechanism_map.mechanism_table`): each
    level's effect (AVG mAP points) at its mean structure, with its CI as error bars (none with one
    seed) and its knob as a label; a dotted line per benchmark of ``positions`` (role "benchmark") at
    its value of the term's measure; the title gives the control's verdict from ``trends``."""
    from himnet_lib.study.mechanisms import MEASURES, mechanism

    terms = list(dict.fromkeys(table["term"])) or ["-"]
    cols = min(2, len(terms))
    rows = math.ceil(len(terms) / cols)
    fig = new_figure(FIG_WIDTH, 2.6 * rows + 0.3)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    benches = list(dict.fromkeys(positions.loc[positions["role"] == "benchmark", "benchmark"]))
    colors = dict(zip(benches, mpl_colormap(max(3, len(benches)))))
    for ax, term in zip(axes, terms):
        t = table[(table["term"] == term) & table["structure"].notna()].sort_values("structure")
        if term == "-" or t.empty:
            ax.text(0.5, 0.5, "no levels measured", ha="center", va="center", transform=ax.transAxes)
            continue
        x, y = t["structure"].to_numpy(float), t["effect"].to_numpy(float)
        lo, hi = t["ci_lo"].to_numpy(float), t["ci_hi"].to_numpy(float)
        err = np.vstack([np.where(np.isfinite(lo), y - lo, 0.0), np.where(np.isfinite(hi), hi - y, 0.0)])
        ax.errorbar(x, y, yerr=err, fmt="o-", ms=3.5, lw=1, color="black", ecolor="tab:gray", capsize=3)
        for xi, yi, knob in zip(x, y, t["knob"]):
            ax.annotate(knob.replace(", ", "\n"), (xi, yi), fontsize=5.5, xytext=(3, 3), textcoords="offset points")
        ax.axhline(0.0, color="black", lw=0.5)
        measure = str(t["measure"].iloc[0])
        for b in benches:
            hit = positions[(positions["benchmark"] == b) & (positions["measure"] == measure)]
            v = float(hit["value"].iloc[0]) if len(hit) else float("nan")
            if math.isfinite(v):
                ax.axvline(v, color=colors[b], lw=1, ls=":", label=f"{b} ({v:.3g})")
        verdict = trends.loc[trends["term"] == term, "verdict"]
        m = mechanism(term)
        ax.set_title(f"{m.name}: {verdict.iloc[0] if len(verdict) else 'no trend test'}", fontsize=8)
        ax.set_xlabel(MEASURES[measure][0], fontsize=7)
        ax.set_ylabel(f"Δ AVG mAP, {m.compared} (pts)", fontsize=7)
        ax.tick_params(labelsize=7)
        if benches:
            ax.legend(frameon=False, fontsize=6, loc="best")
    for ax in axes[len(terms):]:
        ax.set_axis_off()
    return fig
