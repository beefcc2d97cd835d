"""The lineage reading's additions (CO2-Net, not in Eq. 11): attention sparsity and modality mutual learning."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from himnet_lib.config.loss import LossConfig
from himnet_lib.modeling.losses.common import promote
from himnet_lib.modeling.losses.registry import term


def norm_loss(attentions: Sequence[Tensor]) -> Tensor:
    """CO2-Net/HAM-Net attention sparsity ("norm"): mean over the given attentions of mean_t a_t,
    averaged over the batch. attentions: the fused A and the per-modality attentions, each (B,T)
    (CO2-Net: (L_norm + L_norm_r + L_norm_f)/3). Not in the HiM-Net paper; lineage reading only."""
    if not attentions:
        raise ValueError("norm_loss: no attention given")
    return torch.stack([promote(a).mean() for a in attentions]).mean()


def modality_mutual_loss(parts: Sequence[Tensor]) -> Tensor:
    """CO2-Net's mutual learning between the RGB and flow attentions a_r, a_f (B,T each):
    ½·mean (a_r - sg(a_f))² + ½·mean (a_f - sg(a_r))². Exactly 0 with fewer than two parts
    (``model.attention = "joint"``). Not in the HiM-Net paper; lineage reading only."""
    if len(parts) < 2:
        return torch.zeros((), dtype=torch.float32, device=parts[0].device if parts else None)
    r, f = promote(parts[0]), promote(parts[1])
    return 0.5 * F.mse_loss(r, f.detach()) + 0.5 * F.mse_loss(f, r.detach())


@term("norm")
def _norm_term(out, labels: Tensor, cfg: LossConfig) -> Tensor:
    """The ``norm`` term of :func:`~himnet_lib.modeling.losses.compose.compose_losses`."""
    parts = tuple(out.attention_parts)
    return norm_loss((out.attention,) + (parts if len(parts) > 1 else ()))


@term("mu")
def _mu_term(out, labels: Tensor, cfg: LossConfig) -> Tensor:
    """The ``mu`` term of :func:`~himnet_lib.modeling.losses.compose.compose_losses`."""
    return modality_mutual_loss(tuple(out.attention_parts))
