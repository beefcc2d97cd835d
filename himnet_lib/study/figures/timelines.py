"""Timelines of one video (Figs. 5 and 8): ground truth, CAS, attention, background and proposals."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from himnet_lib.study.figures.style import (
    ATTENTION_COLOR,
    BG_COLOR,
    CAS_COLOR,
    FIG_WIDTH,
    GT_COLOR,
    PROPOSAL_COLOR,
    new_figure,
    styled,
)


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


@styled
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


@styled
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
    """:func:`timeline` for a :class:`~himnet_lib.datasets.dataset.Video` of ``dataset`` and its saved outputs
    (one entry of :meth:`himnet_lib.utils.run_folder.RunDir.outputs`); class: :func:`main_class` by default."""
    c = main_class(video) if class_idx is None else int(class_idx)
    return timeline(video.name, video.segments, video.segment_classes, c, outputs["cas_supp"],
                    outputs["attention"], outputs["bg_prob"], proposals, dataset.snippet_seconds,
                    dataset.classes, top_k)
