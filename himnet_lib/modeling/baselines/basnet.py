"""BaS-Net (Lee et al., AAAI 2020): background suppression with a filtering module and one CAS
module shared by a base and a suppressed branch, as its published code does it (docs/ambiguities.md).

* filtering module: conv k1 (2D -> h_f) + LReLU + conv k1 (h_f -> 1) + sigmoid -> foreground
  weights w (B,T) in (0,1) (h_f = ``model.attention_hidden``; BaS-Net: 512);
* CAS module, shared: conv k3 (2D -> h) + LReLU, conv k3 (h -> h) + LReLU, dropout, conv k1
  (h -> C+1, no bias) (h = ``model.head_hidden`` or 2D; BaS-Net: 2048);
* base branch S = CAS(X) (background target 1) and suppressed branch S_w = CAS(X·w)
  (background target 0);
* loss: BCE(softmax(topk(S)), [y,1]/Σ) + BCE(softmax(topk(S_w)), [y,0]/Σ) + λ·mean_b ||w||_1,
  k = max(1, T // 8), λ = 1e-4, BCE with the (1-y)·log(1-p) terms (PyTorch ``BCELoss`` on softmax
  outputs, mean over the B·(C+1) entries).

Output mapping for the shared trainer and HiM-Net's inference: ``attention`` = w (thresholded for
the class-agnostic proposals), ``cas`` = S, ``cas_supp`` = S_w, the CAS *of the filtered features*
(not S·w: BaS-Net scores localization from its suppressed branch, so OIC scores and video-level
class scores read S_w), ``probs`` = softmax_c(S), ``features`` = X.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.sections import BaselineConfig, ModelConfig, topk_k
from himnet_lib.modeling.baselines.common import normalized_target, transfer_terms
from himnet_lib.modeling.himnet import ConvBlock, ModelOutput, init_weights
from himnet_lib.modeling.losses.common import EPS, topk_video_logits
from himnet_lib.utils.errors import DataError

__all__ = ["FilterModule", "CASModule", "BaSNet", "bce_on_softmax", "basnet_mil", "basnet_l1",
           "compose_basnet"]


class FilterModule(nn.Module):
    """(B,2D,T) -> foreground weights w (B,T) in (0,1); the sigmoid runs in float32."""

    def __init__(self, in_dim: int, hidden: int = 512, slope: float = 0.2):
        super().__init__()
        self.body = nn.Sequential(ConvBlock(in_dim, hidden, 1, 0.0, slope), nn.Conv1d(hidden, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.body(x).squeeze(1).float())


class CASModule(nn.Module):
    """(B,2D,T) -> class logits (B,C+1,T): two k3 conv + LReLU, dropout, bias-free k1 conv."""

    def __init__(self, in_dim: int, num_outputs: int, hidden: int, dropout: float = 0.7, slope: float = 0.2):
        super().__init__()
        self.body = nn.Sequential(
            ConvBlock(in_dim, hidden, 3, 0.0, slope),
            ConvBlock(hidden, hidden, 3, dropout, slope),
            nn.Conv1d(hidden, num_outputs, 1, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class BaSNet(nn.Module):
    """``forward(x (B,T,2D)) -> ModelOutput`` (see the module docstring for the field mapping)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.filter = FilterModule(cfg.feature_dim, cfg.attention_hidden, cfg.leaky_slope)
        self.cas_module = CASModule(cfg.feature_dim, cfg.num_classes + 1, cfg.hidden, cfg.dropout,
                                    cfg.leaky_slope)
        init_weights(self)

    def forward(self, x: Tensor) -> ModelOutput:
        if x.dim() != 3 or x.shape[-1] != self.cfg.feature_dim or x.shape[1] < 1:
            raise DataError(f"BaSNet expects features of shape (B, T>=1, {self.cfg.feature_dim}), "
                            f"got {tuple(x.shape)}", field="features")
        xc = x.transpose(1, 2)                                        # (B,2D,T)
        w = self.filter(xc)                                           # (B,T) float32
        cas = self.cas_module(xc).transpose(1, 2).float()             # S   (B,T,C+1)
        # the same CAS module on the filtered features (dropout drawn independently per branch)
        cas_w = self.cas_module(xc * w.to(xc.dtype).unsqueeze(1)).transpose(1, 2).float()  # S_w
        return ModelOutput(attention=w, cas=cas, cas_supp=cas_w, probs=torch.softmax(cas, dim=-1),
                           features=x, attention_parts=(w,))


def bce_on_softmax(video_logits: Tensor, target: Tensor, eps: float = EPS) -> Tensor:
    """PyTorch ``BCELoss`` on p = softmax(video_logits) (B,K) against target (B,K):
    mean over all B·K entries of -[t log p + (1-t) log(1-p)], with p clamped to [eps, 1-eps]."""
    p = torch.softmax(video_logits, dim=-1).clamp(eps, 1 - eps)
    t = target.to(p.dtype)
    return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()


def basnet_mil(cas: Tensor, cas_w: Tensor, labels: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """BaS-Net's two video-level losses (base, suppressed). cas S, cas_w S_w (B,T,C+1), labels (B,C).

    Base: BCE(softmax(topk(S)), [y,1]/Σ); suppressed: BCE(softmax(topk(S_w)), [y,0]/Σ).
    """
    v, v_w = topk_video_logits(cas, k), topk_video_logits(cas_w, k)
    return (bce_on_softmax(v, normalized_target(labels, 1.0, v.dtype)),
            bce_on_softmax(v_w, normalized_target(labels, 0.0, v_w.dtype)))


def basnet_l1(w: Tensor) -> Tensor:
    """mean_b ||w_b||_1 = mean over videos of Σ_t |w_t| (BaS-Net's ``torch.norm(w, p=1, dim=1)``)."""
    return w.float().abs().sum(dim=1).mean()


def compose_basnet(out: ModelOutput, labels: Tensor, cfg: LossConfig,
                   settings: BaselineConfig = BaselineConfig()) -> tuple[Tensor, dict[str, Tensor]]:
    """BaS-Net's loss ("mil" = base BCE + suppressed BCE + λ·L1) plus CLL / SCL if in ``cfg.terms``.

    Returns the weighted total and the unweighted terms: ``mil`` (the whole BaS-Net loss),
    ``bce_base``, ``bce_supp``, ``l1``, and ``cll`` / ``scl`` when present.
    """
    k = topk_k(out.cas.shape[1], settings.basnet_topk_ratio)
    base, supp = basnet_mil(out.cas, out.cas_supp, labels, k)
    l1 = basnet_l1(out.attention)
    own = base + supp + settings.basnet_lambda_l1 * l1
    terms = {"mil": own, "bce_base": base, "bce_supp": supp, "l1": l1}
    total = own
    for name, (weight, value) in transfer_terms(out, labels, cfg).items():
        terms[name] = value
        total = total + weight * value
    return total, terms
