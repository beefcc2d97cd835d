"""HAM-Net (Islam et al., AAAI 2021): hybrid attention — soft, semi-soft and hard — with four
top-k MIL terms, as its published code does them (docs/ambiguities.md, Table 5 baselines).

Network (both branches read the raw features X):

* attention a (B,T) = :class:`~himnet_lib.modeling.himnet.AttentionHead` on X (conv k3, LReLU, conv k3, LReLU,
  conv k1, sigmoid; width ``model.attention_hidden``, HAM-Net: 512; no dropout as in HAM-Net);
* CAS S (B,T,C+1) = conv k3 (2D -> h) + LReLU, then :class:`~himnet_lib.modeling.himnet.ClassifierHead`
  (conv k3 (h -> h) + LReLU + dropout + conv k1 -> C+1); h = ``model.head_hidden`` or 2D.

Training-only hybrid attention (HAM-Net's ADL, "include_min" threshold), per video:
``thr = min_t a + θ·(max_t a - min_t a)`` with θ = 0.2; hard h_t = [a_t < thr] keeps the LOW-attention
snippets (the most salient are erased), semi-soft a_t·h_t. With MIL(Z, β) the label-normalised
softmax CE of :func:`~himnet_lib.modeling.baselines.common.mil_term` (k = max(1, T // r), r = 10):

    BCL = MIL(S, 1)   HAL = MIL(h ⊙ S, 1)   SAL = MIL(a·S, 0)   SSAL = MIL(a·h ⊙ S, 0)

where ``w ⊙ S`` is HAM-Net's include-min product w·(S - min_c S) + min_c S (its code uses it for
HAL and SSAL; SAL is the plain product) — ``baseline.hamnet_include_min=false`` uses plain
products everywhere (the form before this option existed).
    loss_1 = w·HAL + (1-w)·BCL,  loss_2 = w·SSAL + (1-w)·SAL   (w = 0.2 on THUMOS14)
    total  = lm1·loss_1 + lm2·loss_2 + α·mean(a) + β·mean|1 - a - softmax(S)_bg|   (α = β = 0.8)

Output mapping: ``attention`` = a, ``cas`` = S, ``cas_supp`` = a·S (HAM-Net's own inference signal),
``probs`` = softmax_c(S), ``features`` = X.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.sections import BaselineConfig, ModelConfig, topk_k
from himnet_lib.modeling.baselines.common import mil_term, transfer_terms
from himnet_lib.modeling.himnet import AttentionHead, ClassifierHead, ConvBlock, ModelOutput, init_weights, suppress
from himnet_lib.modeling.losses.alternatives import guide_loss
from himnet_lib.utils.errors import DataError

__all__ = ["HAMNet", "hybrid_attention", "hamnet_terms", "compose_hamnet"]


class HAMNet(nn.Module):
    """``forward(x (B,T,2D)) -> ModelOutput`` (see the module docstring)."""

    def __init__(self, cfg: ModelConfig, settings: BaselineConfig = BaselineConfig()):
        super().__init__()
        self.cfg = cfg
        s = cfg.leaky_slope
        self.attention = AttentionHead(cfg.feature_dim, cfg.attention_hidden,
                                       settings.hamnet_attention_dropout, 0.0, s)
        self.classifier = nn.Sequential(
            ConvBlock(cfg.feature_dim, cfg.hidden, 3, 0.0, s),
            ClassifierHead(cfg.hidden, cfg.num_classes + 1, cfg.hidden, cfg.dropout, 0.0, s),
        )
        init_weights(self)

    def forward(self, x: Tensor) -> ModelOutput:
        if x.dim() != 3 or x.shape[-1] != self.cfg.feature_dim or x.shape[1] < 1:
            raise DataError(f"HAMNet expects features of shape (B, T>=1, {self.cfg.feature_dim}), "
                            f"got {tuple(x.shape)}", field="features")
        xc = x.transpose(1, 2)
        a = self.attention(xc)                                        # (B,T) float32
        cas = self.classifier(xc).transpose(1, 2).float()             # (B,T,C+1)
        return ModelOutput(attention=a, cas=cas, cas_supp=cas * a.unsqueeze(-1),
                           probs=torch.softmax(cas, dim=-1), features=x, attention_parts=(a,))


def hybrid_attention(a: Tensor, theta: float = 0.2) -> tuple[Tensor, Tensor]:
    """HAM-Net's semi-soft and hard attentions from a (B,T): (a·h, h), h_t = [a_t < thr] (float),
    thr = min_t a + θ (max_t a - min_t a) per video. The mask carries no gradient; a·h does
    (through a, on the kept snippets)."""
    lo = a.min(dim=1, keepdim=True).values
    hi = a.max(dim=1, keepdim=True).values
    hard = (a < lo + theta * (hi - lo)).to(a.dtype)
    return a * hard, hard


def hamnet_terms(out: ModelOutput, labels: Tensor, settings: BaselineConfig = BaselineConfig()) -> dict[str, Tensor]:
    """HAM-Net's unweighted terms: bcl, hal, sal, ssal, norm (mean a), guide. out.attention (B,T),
    out.cas (B,T,C+1), out.probs (B,T,C+1); labels (B,C)."""
    a, cas = out.attention, out.cas
    k = topk_k(cas.shape[1], settings.hamnet_topk_ratio)
    semi, hard = hybrid_attention(a, settings.hamnet_drop_thr)
    drop = "include_min" if settings.hamnet_include_min else "product"
    return {
        "bcl": mil_term(cas, labels, k, 1.0),
        "hal": mil_term(suppress(cas, hard, drop), labels, k, 1.0),
        "sal": mil_term(cas * a.unsqueeze(-1), labels, k, 0.0),
        "ssal": mil_term(suppress(cas, semi, drop), labels, k, 0.0),
        "norm": a.float().mean(),
        "guide": guide_loss(a, out.probs[..., -1]),
    }


def compose_hamnet(out: ModelOutput, labels: Tensor, cfg: LossConfig,
                   settings: BaselineConfig = BaselineConfig()) -> tuple[Tensor, dict[str, Tensor]]:
    """HAM-Net's loss ("mil" = the whole HAM-Net objective) plus CLL / SCL if in ``cfg.terms``.

    Returns the weighted total and the unweighted terms (``mil``, ``loss_1``, ``loss_2``, ``bcl``,
    ``hal``, ``sal``, ``ssal``, ``norm``, ``guide``, and ``cll`` / ``scl`` when present). With
    ``settings.hamnet_scl_replaces_guide`` and "scl" in the terms, SCL takes the guide loss's place.
    """
    t = hamnet_terms(out, labels, settings)
    w = settings.hamnet_drop_weight
    loss_1 = w * t["hal"] + (1 - w) * t["bcl"]
    loss_2 = w * t["ssal"] + (1 - w) * t["sal"]
    lam_guide = 0.0 if (settings.hamnet_scl_replaces_guide and "scl" in cfg.terms) else settings.hamnet_lambda_guide
    own = (settings.hamnet_lambda_1 * loss_1 + settings.hamnet_lambda_2 * loss_2
           + settings.hamnet_lambda_norm * t["norm"] + lam_guide * t["guide"])
    terms = {"mil": own, "loss_1": loss_1, "loss_2": loss_2, **t}
    total = own
    for name, (weight, value) in transfer_terms(out, labels, cfg).items():
        terms[name] = value
        total = total + weight * value
    return total, terms
