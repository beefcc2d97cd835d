"""Shared pieces of the peer baselines: their settings, the label-normalised MIL term, and the
HiM-Net terms (CLL, SCL) that Table 5 adds to them.

Conventions as in :mod:`himnet_lib.modeling.losses`: B videos, T snippets, C classes, class axis C+1 with the
background last, labels (B,C) multi-hot, every loss a 0-dim tensor averaged over the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.sections import BaselineConfig
from himnet_lib.modeling.losses.common import topk_video_logits
from himnet_lib.modeling.losses.registry import term_function
from himnet_lib.utils.errors import HimnetError

__all__ = ["BaselineConfig", "BASELINE_TERMS", "check_terms", "normalized_target", "mil_term",
           "transfer_terms"]

# "mil" = the method's own base losses; "cll" / "scl" = HiM-Net's Eq. 6 / Eq. 10 added on top.
BASELINE_TERMS = ("mil", "cll", "scl")


def check_terms(model: str, cfg: LossConfig) -> None:
    """Refuse loss terms a baseline does not define (before any training starts)."""
    unknown = [t for t in cfg.terms if t not in BASELINE_TERMS]
    if unknown:
        raise HimnetError(f"model {model!r} supports loss.terms from {BASELINE_TERMS} "
                          f"(mil = the method's own losses), got {list(cfg.terms)}")


def normalized_target(labels: Tensor, beta: float, dtype: torch.dtype) -> Tensor:
    """ỹ = [y, β] / (Σ_c y_c + β), (B,C) -> (B,C+1); an all-zero row stays zero (no 0/0).

    The peers add 1e-4 to the denominator; we do not (a relative change below 1e-4), as
    :func:`himnet_lib.modeling.losses.mil.mil_loss` with ``target="normalized"``.
    """
    y = labels.to(dtype)
    t = torch.cat([y, torch.full_like(y[:, :1], float(beta))], dim=1)
    s = t.sum(dim=1, keepdim=True)
    return t / torch.where(s > 0, s, torch.ones_like(s))


def mil_term(cas: Tensor, labels: Tensor, k: int, beta: float) -> Tensor:
    """One top-k MIL branch with the peers' label-normalised softmax cross-entropy
    (HAM-Net's ``topkloss``): -Σ_c ỹ_c log softmax(topk-mean(Z))_c, batch mean.

    cas Z (B,T,C+1); labels (B,C); β = 1 when Z must also explain the background, 0 when not.
    """
    logp = F.log_softmax(topk_video_logits(cas, k), dim=-1)
    return -(normalized_target(labels, beta, logp.dtype) * logp).sum(dim=-1).mean()


def transfer_terms(out, labels: Tensor, cfg: LossConfig) -> dict[str, tuple[float, Tensor]]:
    """HiM-Net's CLL (Eq. 6, weight 1 as in Eq. 11) and SCL (Eq. 10, weight λ2 = ``lambda_scl``)
    for the terms in ``cfg.terms``, as {name: (weight, unweighted value)}.

    CLL reads the snippet softmax of the base CAS (``out.probs``); SCL pairs the method's
    foreground estimate (``out.attention``: BaS-Net's w, HAM-Net's a) with its background-class
    probability ``out.probs[..., -1]``, with HiM-Net's α and SCL options from ``cfg``.
    """
    return {name: (cfg.weight(name), term_function(name)(out, labels, cfg))
            for name in BASELINE_TERMS[1:] if name in cfg.terms}
