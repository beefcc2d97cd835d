"""lineage"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from himnet_lib.config.loss import LossConfig
from himnet_lib.modeling.losses.common import _promote


def norm_loss(attentions: Sequence[Tensor]) -> Tensor:
    """CO2-Net/HAM-Net attention sparsity ("norm"): mean over the given attentions of mean_t a_t,
    averaged over the batch. attentions: the fused A and the per-modality attentions, each (B,T)
    (CO2-Net: (L_norm + L_norm_r + L_norm_f)/3). Not in the HiM-Net paper; lineage reading only."""
    if not attentions:
        raise ValueError("norm_loss: no attention given")
    return torch.stack([_promote(a).mean() for a in attentions]).mean()


def modality_mutual_loss(parts: Sequence[Tensor]) -> Tensor:
    """CO2-Net's mutual learning between the RGB and flow attentions a_r, a_f (B,T each):
    ½·mean (a_r - sg(a_f))² + ½·mean (a_f - sg(a_r))². Exactly 0 with fewer than two parts
    (``model.attention = "joint"``). Not in the HiM-Net paper; lineage reading only."""
    if len(parts) < 2:
        return torch.zeros((), dtype=torch.float32, device=parts[0].device if parts else None)
    r, f = _promote(parts[0]), _promote(parts[1])
    return 0.5 * F.mse_loss(r, f.detach()) + 0.5 * F.mse_loss(f, r.detach())


def _norm(out, labels: Tensor, cfg: "LossConfig") -> Tensor:
    parts = tuple(out.attention_parts)
    return norm_loss((out.attention,) + (parts if len(parts) > 1 else ()))


def _mu(out, labels: Tensor, cfg: "LossConfig") -> Tensor:
    return modality_mutual_loss(tuple(out.attention_parts))
