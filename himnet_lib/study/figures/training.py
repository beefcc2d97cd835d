"""Figures of training: loss curves and validation learning curves."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from himnet_lib.config.terms import term_names
from himnet_lib.study.figures.style import (
    FIG_WIDTH,
    mpl_colormap,
    new_figure,
    styled,
)


@styled
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
    for term in term_names():
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


@styled
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
