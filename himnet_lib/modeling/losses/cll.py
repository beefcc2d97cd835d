"""L_CLL (Eq. 6): complementary label learning on the snippet posteriors."""

from __future__ import annotations

import torch
from torch import Tensor

from himnet_lib.config.loss import LossConfig
from himnet_lib.modeling.losses.common import EPS, cce, check_labels, promote
from himnet_lib.modeling.losses.registry import term


def cll_loss(probs: Tensor, labels: Tensor, eps: float = EPS) -> Tensor:
    """Eq. 6: L_CLL = (1/T) Σ_t L_CCE(1 - Ȳ | 1 - b_t), averaged over the batch.

    probs B (B,T,C+1) from Eq. 3; labels (B,C). 1 - Ȳ = [1 - y, 0]: only the non-labelled action
    classes contribute (labelled classes and background have target 0 and get no gradient), each
    as -log(1 - b_{c,t}) / (C+1), with 1 - b clamped to >= eps.
    """
    B, T, K = probs.shape
    check_labels(labels, B, K - 1, "cll_loss")
    probs = promote(probs)
    comp = torch.cat([1 - labels.to(probs.dtype), torch.zeros_like(probs[:, 0, :1])], dim=1)  # (B,C+1)
    per_snippet = cce(comp.unsqueeze(1), 1 - probs, eps)  # (B,T)
    return per_snippet.mean(dim=1).mean()


@term("cll")
def _cll_term(out, labels: Tensor, cfg: LossConfig) -> Tensor:
    """The ``cll`` term of :func:`~himnet_lib.modeling.losses.compose.compose_losses`."""
    return cll_loss(out.probs, labels)
