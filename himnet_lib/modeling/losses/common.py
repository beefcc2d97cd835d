"""Shared pieces of the losses: the log clamp, Eq. 1's top-k video logits, Eq. 5's CCE, label checks.

Conventions of every loss: B videos, T snippets, C action classes; class axis C+1 with the
background last. ``labels`` are video-level multi-hot (B,C). Every loss returns a 0-dim tensor
averaged over the batch. Inputs in bf16/fp16 are promoted to float32 (float64 stays float64)
before any log/exp.

Numerical guard: probabilities inside a log are clamped to ``[EPS, 1 - EPS]`` with ``EPS = 1e-6``
(the smallest round value for which ``1 - EPS`` is still < 1 in float32). The clamp caps a single
log term at ``-log(1e-6) ≈ 13.8`` and gives it zero gradient while clamped.
"""

from __future__ import annotations

import torch
from torch import Tensor

EPS = 1e-6


def promote(x: Tensor) -> Tensor:
    return x if x.dtype == torch.float64 else x.float()


def topk_video_logits(cas: Tensor, k: int) -> Tensor:
    """Eq. 1: γ_c = mean of the k largest s_{c,t} over time, per class (own top-k set per class).

    cas (B,T,K) -> (B,K). k is clipped to [1, T]. Eq. 2's P is ``softmax(γ, dim=-1)``.
    """
    k = max(1, min(int(k), cas.shape[1]))
    return torch.topk(promote(cas), k, dim=1).values.mean(dim=1)


def cce_log(target: Tensor, log_probs: Tensor) -> Tensor:
    return -(target * log_probs).sum(dim=-1) / target.shape[-1]


def cce(target: Tensor, probs: Tensor, eps: float = EPS) -> Tensor:
    """Eq. 5: L_CCE(Y|P) = (1/K) Σ_c -y_c log p_c, per row. target, probs (..., K) -> (...).

    p is clamped to >= eps before the log (module docstring).
    """
    probs = promote(probs)
    return cce_log(target.to(probs.dtype), torch.log(probs.clamp_min(eps)))


def check_labels(labels: Tensor, B: int, C: int, name: str) -> None:
    if labels.shape != (B, C):
        raise ValueError(f"{name}: labels must be (B, C) = ({B}, {C}), got {tuple(labels.shape)}")


def clamp_p(p: Tensor, eps: float) -> Tensor:
    return p.clamp(eps, 1 - eps)
