"""Table 4's alternatives to L_SCL: the guide loss (HAM-Net, CO2-Net) and mutual learning (CO2-Net)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from himnet_lib.config.loss import LossConfig
from himnet_lib.modeling.losses.common import promote
from himnet_lib.modeling.losses.registry import term


def guide_loss(attention: Tensor, bg_prob: Tensor) -> Tensor:
    """HAM-Net/CO2-Net guide loss: mean_t |1 - a_t - b_t|, averaged over the batch. (B,T),(B,T) -> ().

    No stop-gradient: both branches are pulled towards each other.
    """
    a = promote(attention)
    return (1 - a - bg_prob.to(a.dtype)).abs().mean()


def ml_loss(attention: Tensor, bg_prob: Tensor) -> Tensor:
    """Mutual learning between the two foreground estimates a and 1 - b (B,T each):
    ½·mean_t (a - sg(1-b))² + ½·mean_t ((1-b) - sg(a))², averaged over the batch.

    This is CO2-Net's mutual-learning loss (there between the RGB and flow attentions) applied
    between the attention branch and the classification branch's background, as Table 4 does.
    """
    a = promote(attention)
    fg = 1 - bg_prob.to(a.dtype)
    return 0.5 * F.mse_loss(a, fg.detach()) + 0.5 * F.mse_loss(fg, a.detach())


@term("guide")
def _guide_term(out, labels: Tensor, cfg: LossConfig) -> Tensor:
    """The ``guide`` term of :func:`~himnet_lib.modeling.losses.compose.compose_losses`."""
    return guide_loss(out.attention, out.probs[..., -1])


@term("ml")
def _ml_term(out, labels: Tensor, cfg: LossConfig) -> Tensor:
    """The ``ml`` term of :func:`~himnet_lib.modeling.losses.compose.compose_losses`."""
    return ml_loss(out.attention, out.probs[..., -1])
