"""The ``localize`` settings section: thresholds, OIC, NMS and the attention read-out of inference (Sec. 3.5)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ATTENTION_NORMS = ("none", "minmax")


def _default_thresholds() -> tuple[float, ...]:
    return tuple(np.linspace(0.1, 0.9, 10).tolist())


@dataclass
class LocalizeConfig:
    """Inference post-processing (Sec. 3.5; defaults as the CO2-Net/HAM-Net tester).

    Attributes:
        thresholds: attention thresholds θ for the class-agnostic runs (``a_t > θ``).
        class_threshold: localize classes with video score ``p_c >=`` this (else the argmax class).
        class_topk_ratio: r in ``k = max(1, floor(T / r))`` for the video-level top-k mean.
        oic_flank: λ, flank length relative to the run length.
        gamma: γ, weight of the video-level class score added to the OIC contrast.
        nms: ``"soft"`` (Gaussian Soft-NMS) or ``"nms"`` (hard NMS).
        nms_iou: hard-NMS suppression threshold (IoU strictly above it is suppressed).
        soft_sigma: σ of the Soft-NMS decay ``exp(-IoU² / σ)``.
        soft_min_score: drop Soft-NMS outputs whose decayed score is below this (None: keep all).
        max_proposals_per_video: keep only the best proposals of a video (None: all).
        remove_ambiguous: drop proposals overlapping the video's ambiguous segments.
        attention_norm: the read-out of A before thresholding. ``"none"`` thresholds A as it is
            (the peers); ``"minmax"`` first rescales A per video to [0, 1] with its own minimum and
            maximum, so the fixed thresholds cut every video's attention at the same relative
            levels whatever A's scale (a flat A becomes all ones: the whole video is the only run).
            Ŝ (the OIC scores) is never rescaled.
    """

    thresholds: tuple[float, ...] = field(default_factory=_default_thresholds)
    class_threshold: float = 0.2
    class_topk_ratio: float = 10.0
    oic_flank: float = 0.25
    gamma: float = 0.2
    nms: str = "soft"
    nms_iou: float = 0.6
    soft_sigma: float = 0.3
    soft_min_score: float | None = None
    max_proposals_per_video: int | None = None
    remove_ambiguous: bool = False
    attention_norm: str = "none"

    def __post_init__(self) -> None:
        if self.attention_norm not in ATTENTION_NORMS:
            raise ValueError(f"LocalizeConfig.attention_norm must be one of {ATTENTION_NORMS}, "
                             f"got {self.attention_norm!r}")
        if self.nms not in ("soft", "nms"):
            raise ValueError(f"LocalizeConfig.nms must be 'soft' or 'nms', got {self.nms!r}")
        if len(self.thresholds) == 0:
            raise ValueError("LocalizeConfig.thresholds is empty")
        if self.class_topk_ratio <= 0 or self.soft_sigma <= 0 or self.oic_flank < 0:
            raise ValueError("class_topk_ratio and soft_sigma must be > 0, oic_flank >= 0")
