"""L_MIL (Eq. 4): top-k multiple-instance learning on S and the suppressed Ŝ."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from himnet_lib.config.loss import LossConfig
from himnet_lib.modeling.losses.common import cce_log, check_labels, topk_video_logits
from himnet_lib.modeling.losses.registry import term


def mil_loss(cas: Tensor, cas_supp: Tensor, labels: Tensor, k: int,
             target: str = "paper") -> Tensor:
    """Eq. 4: L_MIL = L_CCE(Ȳ|P) + L_CCE(Ŷ|P̂), averaged over the batch.

    cas S, cas_supp Ŝ (B,T,C+1); labels (B,C); k from :func:`topk_k`.
    P = softmax(topk(S)) with Ȳ = [y, 1]; P̂ = softmax(topk(Ŝ)) with Ŷ = [y, 0].

    target="paper": Eq. 5 as printed, (1/(C+1)) Σ_c -y_c log p_c, with log p from ``log_softmax``
    (the same value as Eq. 5 without needing the eps clamp).
    target="normalized": the peers' form (W-TALC/HAM-Net/CO2-Net): ỹ = [y, β] / (Σ_c y_c + β)
    (β = 1 for P, 0 for P̂; an all-zero row stays zero) and loss -Σ_c ỹ_c log p_c, i.e. no 1/(C+1)
    factor and each positive weighted by 1/#positives. CO2-Net adds 1e-4 to the denominator; we
    do not (a relative change of < 1e-4).
    """
    B, T, K = cas.shape
    check_labels(labels, B, K - 1, "mil_loss")
    if cas_supp.shape != cas.shape:
        raise ValueError(f"mil_loss: cas_supp {tuple(cas_supp.shape)} != cas {tuple(cas.shape)}")
    if target not in ("paper", "normalized"):
        raise ValueError(f"mil_loss: target must be 'paper' or 'normalized', got {target!r}")
    logp = F.log_softmax(topk_video_logits(cas, k), dim=-1)
    logp_hat = F.log_softmax(topk_video_logits(cas_supp, k), dim=-1)
    y = labels.to(logp.dtype)
    y_bar = torch.cat([y, torch.ones_like(y[:, :1])], dim=1)
    y_hat = torch.cat([y, torch.zeros_like(y[:, :1])], dim=1)
    if target == "paper":
        per_video = cce_log(y_bar, logp) + cce_log(y_hat, logp_hat)
    else:
        def norm(t: Tensor) -> Tensor:
            s = t.sum(dim=1, keepdim=True)
            return t / torch.where(s > 0, s, torch.ones_like(s))
        per_video = -(norm(y_bar) * logp).sum(-1) - (norm(y_hat) * logp_hat).sum(-1)
    return per_video.mean()


@term("mil")
def _mil_term(out, labels: Tensor, cfg: LossConfig) -> Tensor:
    """The ``mil`` term of :func:`~himnet_lib.modeling.losses.compose.compose_losses`."""
    return mil_loss(out.cas, out.cas_supp, labels, cfg.k_for(out.cas.shape[1]), cfg.mil_target)
