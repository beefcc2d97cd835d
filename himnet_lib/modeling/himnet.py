"""HiM-Net two-branch network (paper Sec. 3.2) built from small reusable blocks.

Layout (all blocks work channels-first, ``(B, channels, T)``, as ``Conv1d`` does; only
:class:`HiMNet` talks time-major ``(B, T, D)`` to the outside):

* classification branch: fusion unit X (B,T,2D) -> X̂ (B,T,2D), then a temporal classifier with an
  extra background class -> CAS S (B,T,C+1) (last channel = background);
* attention branch: class-agnostic foreground attention A (B,T) in (0,1);
* Ŝ = S·A (plain product, Sec. 3.2) and B = softmax_c(S) (Eq. 3). ``model.supp = "include_min"``
  trains with CO2-Net's a·(S - min_c S) + min_c S instead (inference keeps the product, as CO2-Net).

The default network follows CO2-Net's layout (cross-modal consensus gating per modality, one
attention head per gated modality, averaged), which is the closest public ancestor of HiM-Net.
Differences to CO2-Net are listed in ``docs/ambiguities.md`` ("Model and losses").

The module is device-agnostic: nothing here picks a device; move the model with ``.to(device)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from himnet_lib.config.sections import SUPPS, ModelConfig
from himnet_lib.modeling.fast_path import fast_forward, tap_major_
from himnet_lib.utils.errors import DataError

__all__ = [
    "ModelConfig",
    "ModelOutput",
    "ConvBlock",
    "AttentionHead",
    "ClassifierHead",
    "CrossModalConsensus",
    "ConvFusion",
    "ConsensusFusion",
    "HiMNet",
    "build_model",
    "suppress",
    "init_weights",
    "count_parameters",
]

@dataclass
class ModelOutput:
    """Everything the losses and the localiser need from one forward pass.

    ``attention``, ``cas``, ``cas_supp`` and ``probs`` are always float32 (also under autocast), so
    that losses and localisation never see bf16 rounding of probabilities; ``features`` keeps the
    compute dtype (the losses promote it).
    """

    attention: Tensor                     # A (B,T) in (0,1)
    cas: Tensor                           # S (B,T,C+1) logits, last channel = background
    cas_supp: Tensor                      # Ŝ = S·A (B,T,C+1)
    probs: Tensor                         # B = softmax_c(S) (B,T,C+1), Eq. 3
    features: Tensor                      # X̂ (B,T,2D)
    attention_parts: tuple[Tensor, ...]   # per-modality attentions (B,T) each; (A,) for "joint"


def init_weights(module: nn.Module) -> None:
    """CO2-Net's initialisation: ``kaiming_uniform_`` (PyTorch defaults: a=0, fan_in) on every
    Conv1d/Linear weight, zero bias. Applied once to the whole model by :class:`HiMNet`."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            nn.init.kaiming_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class ConvBlock(nn.Sequential):
    """Conv1d (kernel k, 'same' padding k//2) -> LeakyReLU -> Dropout. (B,in,T) -> (B,out,T).

    Only odd kernels keep the length, which every block here relies on.
    """

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int = 1, dropout: float = 0.0,
                 slope: float = 0.2):
        if kernel_size % 2 == 0:
            raise ValueError(f"ConvBlock needs an odd kernel to keep T, got {kernel_size}")
        super().__init__(
            nn.Conv1d(in_dim, out_dim, kernel_size, padding=kernel_size // 2),
            nn.LeakyReLU(slope),
            nn.Dropout(dropout),
        )


class AttentionHead(nn.Module):
    """Class-agnostic foreground attention. (B,D_in,T) -> (B,T) in (0,1).

    conv k3 (D_in->hidden) + LReLU + dropout + conv k3 (hidden->hidden) + LReLU + conv k1 (->1)
    [+ optional logit dropout, CO2-Net] + sigmoid. The sigmoid runs in float32 so that bf16
    autocast cannot round attention to exactly 0 or 1.
    """

    def __init__(self, in_dim: int, hidden: int = 512, dropout: float = 0.5,
                 logit_dropout: float = 0.0, slope: float = 0.2):
        super().__init__()
        self.body = nn.Sequential(
            ConvBlock(in_dim, hidden, 3, dropout, slope),
            ConvBlock(hidden, hidden, 3, 0.0, slope),
            nn.Conv1d(hidden, 1, 1),
        )
        self.logit_dropout = nn.Dropout(logit_dropout)

    def logits(self, x: Tensor) -> Tensor:
        """(B,D_in,T) -> attention logits (B,T)."""
        return self.logit_dropout(self.body(x)).squeeze(1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.logits(x).float())


class ClassifierHead(nn.Module):
    """Temporal classifier. (B,D_in,T) -> class logits (B,K,T).

    [optional input dropout] + conv k3 (D_in->hidden, padding 1) + LReLU + dropout + conv k1
    (hidden->K). With K = C+1 the last channel is the background class.
    """

    def __init__(self, in_dim: int, num_outputs: int, hidden: int, dropout: float = 0.7,
                 input_dropout: float = 0.0, slope: float = 0.2):
        super().__init__()
        self.body = nn.Sequential(
            nn.Dropout(input_dropout),
            ConvBlock(in_dim, hidden, 3, dropout, slope),
            nn.Conv1d(hidden, num_outputs, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class CrossModalConsensus(nn.Module):
    """CO2-Net-style cross-modal consensus gate for one modality.

    main m (B,D_m,T), aux o (B,D_o,T) -> gated m' = sigmoid(local(o) ⊙ global(m)) ⊙ m  (B,D_m,T),
    with global(m) = LReLU(Linear(mean_t m)) + dropout (a channel vector broadcast over time) and
    local(o) = LReLU(conv k3 (o)) + dropout. The global context uses a k=1 conv: CO2-Net's k=3 conv
    on a length-1 sequence only ever uses its centre tap, so k=1 is the same function with a third
    of the weights.
    """

    def __init__(self, main_dim: int, aux_dim: int, dropout: float = 0.5, slope: float = 0.2):
        super().__init__()
        self.global_context = ConvBlock(main_dim, main_dim, 1, dropout, slope)
        self.local_context = ConvBlock(aux_dim, main_dim, 3, dropout, slope)

    def forward(self, main: Tensor, aux: Tensor) -> Tensor:
        g = self.global_context(main.mean(dim=2, keepdim=True))  # (B,D_m,1)
        gate = torch.sigmoid(self.local_context(aux) * g)         # (B,D_m,T)
        return gate * main


class ConvFusion(nn.Module):
    """Plain fusion: conv k1 over the concatenated modalities + LReLU + dropout. (B,D,T) -> (B,D_out,T)."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.7, slope: float = 0.2):
        super().__init__()
        self.mix = ConvBlock(in_dim, out_dim, 1, dropout, slope)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Returns X̂ and the modality features the attention heads read (here the raw halves)."""
        half = x.shape[1] // 2
        return self.mix(x), (x[:, :half], x[:, half:])


class ConsensusFusion(nn.Module):
    """CO2-Net fusion: gate each modality by the other (two :class:`CrossModalConsensus`), then
    conv k1 over [rgb', flow'] + LReLU + dropout. (B,2D_m,T) -> X̂ (B,D_out,T) and (rgb', flow')."""

    def __init__(self, modality_dim: int, out_dim: int, ccm_dropout: float = 0.5,
                 dropout: float = 0.7, slope: float = 0.2):
        super().__init__()
        self.modality_dim = modality_dim
        self.rgb_gate = CrossModalConsensus(modality_dim, modality_dim, ccm_dropout, slope)
        self.flow_gate = CrossModalConsensus(modality_dim, modality_dim, ccm_dropout, slope)
        self.mix = ConvBlock(2 * modality_dim, out_dim, 1, dropout, slope)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        rgb, flow = x[:, :self.modality_dim], x[:, self.modality_dim:]
        rgb_g = self.rgb_gate(rgb, flow)
        flow_g = self.flow_gate(flow, rgb)
        return self.mix(torch.cat([rgb_g, flow_g], dim=1)), (rgb_g, flow_g)


class HiMNet(nn.Module):
    """The HiM-Net network (Sec. 3.2). ``forward(x (B,T,2D)) -> ModelOutput``; any B, T >= 1."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d, s = cfg.feature_dim, cfg.leaky_slope
        if cfg.fusion == "ccm":
            self.fusion: ConsensusFusion | ConvFusion = ConsensusFusion(cfg.modality_dim, d, cfg.ccm_dropout,
                                                                        cfg.dropout, s)
        else:
            self.fusion = ConvFusion(d, d, cfg.dropout, s)

        def head(in_dim: int) -> AttentionHead:
            return AttentionHead(in_dim, cfg.attention_hidden, cfg.attention_dropout,
                                 cfg.attention_logit_dropout, s)

        if cfg.attention == "modality":
            self.attention_heads = nn.ModuleList([head(cfg.modality_dim), head(cfg.modality_dim)])
        else:
            self.attention_heads = nn.ModuleList([head(d)])
        self.classifier = ClassifierHead(d, cfg.num_classes + 1, cfg.hidden, cfg.dropout,
                                         cfg.head_input_dropout, s)
        init_weights(self)
        if cfg.impl == "fast":
            tap_major_(self)

    def forward(self, x: Tensor) -> ModelOutput:
        if x.dim() != 3 or x.shape[-1] != self.cfg.feature_dim or x.shape[1] < 1:
            raise DataError(
                f"HiMNet expects features of shape (B, T>=1, {self.cfg.feature_dim}), got {tuple(x.shape)}",
                field="features")
        if self.cfg.impl == "fast":
            attention, cas, features, parts = fast_forward(self, x)
        else:
            attention, cas, features, parts = self._reference_forward(x)
        return ModelOutput(
            attention=attention,
            cas=cas,
            # eval mode always uses the plain product (CO2-Net's tester does)
            cas_supp=suppress(cas, attention, self.cfg.supp if self.training else "product"),
            probs=torch.softmax(cas, dim=-1),                    # Eq. 3
            features=features,
            attention_parts=parts,
        )

    def _reference_forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, tuple[Tensor, ...]]:
        """The nn.Module blocks, channels-first: (A (B,T), S (B,T,C+1), X̂ (B,T,2D), per-head A)."""
        xc = x.transpose(1, 2)                                   # (B,2D,T)
        fused, modality_feats = self.fusion(xc)
        if self.cfg.attention == "modality":
            # CO2-Net reads attention from the *gated* modality features (raw halves for "conv").
            parts = tuple(h(f) for h, f in zip(self.attention_heads, modality_feats))
        else:
            parts = (self.attention_heads[0](xc),)
        attention = torch.stack(parts, dim=0).mean(dim=0)        # (B,T) float32
        cas = self.classifier(fused).transpose(1, 2).float()     # (B,T,C+1)
        return attention, cas, fused.transpose(1, 2), parts


def suppress(cas: Tensor, weight: Tensor, mode: str = "product") -> Tensor:
    """Attention-suppressed CAS Ŝ from S (B,T,K) and a weight (B,T).

    "product": Ŝ = w·S (Sec. 3.2). "include_min": Ŝ = w·(S - m) + m with m_t = min_c S[t, c], the
    minimum over the CLASS axis per snippet (CO2-Net; HAM-Net's HAL/SSAL), so a suppressed snippet
    goes to its own lowest class logit rather than to 0.
    """
    w = weight.unsqueeze(-1).to(cas.dtype)
    if mode == "product":
        return cas * w
    if mode == "include_min":
        m = cas.min(dim=-1, keepdim=True).values
        return w * (cas - m) + m
    raise ValueError(f"suppress: mode must be one of {SUPPS}, got {mode!r}")


def build_model(cfg: ModelConfig) -> HiMNet:
    """Construct a freshly initialised :class:`HiMNet` on the CPU (the caller moves it)."""
    return HiMNet(cfg)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
