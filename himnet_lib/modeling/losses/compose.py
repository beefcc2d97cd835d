"""HiM-Net losses (paper Eq. 1-11) and the Table 4 alternatives, as pure functions.

Conventions: B videos, T snippets, C action classes; class axis C+1 with the background last.
``labels`` are video-level multi-hot (B,C). Every loss returns a 0-dim tensor averaged over the
batch. Inputs in bf16/fp16 are promoted to float32 (float64 stays float64) before any log/exp.

Numerical guard: probabilities inside a log are clamped to ``[EPS, 1 - EPS]`` with
``EPS = 1e-6`` (the smallest round value for which ``1 - EPS`` is still < 1 in float32). The clamp
caps a single log term at ``-log(1e-6) ≈ 13.8`` and gives it zero gradient while clamped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import torch
from torch import Tensor

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.terms import TERM_SPECS, TermSpec
from himnet_lib.modeling.losses.alternatives import _guide, _ml
from himnet_lib.modeling.losses.cll import _cll
from himnet_lib.modeling.losses.lineage import _mu, _norm
from himnet_lib.modeling.losses.mil import _mil
from himnet_lib.modeling.losses.scl import _scl
from himnet_lib.modeling.losses.vcl import _vcl

# ----------------------------------------------------------------------------- Eq. 1-2, 5









# ----------------------------------------------------------------------------- Eq. 4 (MIL)



# ----------------------------------------------------------------------------- Eq. 6 (CLL)



# ----------------------------------------------------------------------------- Eq. 7-8 (VCL)



# ----------------------------------------------------------------------------- Eq. 9-10 (SCL)













# ----------------------------------------------------------------------------- Table 4 alternatives





# ----------------------------------------------------------------------------- lineage terms (not in Eq. 11)





# ----------------------------------------------------------------------------- Eq. 11

@dataclass(frozen=True)
class Term:
    """A loss term of :data:`himnet_lib.config.terms.TERM_SPECS` with its function
    ``fn(out: ModelOutput, labels (B,C), cfg: LossConfig) -> 0-dim tensor``."""

    fn: Callable[..., Tensor]
    spec: TermSpec

    @property
    def weight(self) -> str | None:
        return self.spec.weight

    @property
    def balanced(self) -> bool:
        return self.spec.balanced

    @property
    def per_snippet_sum(self) -> bool:
        return self.spec.per_snippet_sum


















_FUNCTIONS: dict[str, Callable[..., Tensor]] = {"mil": _mil, "cll": _cll, "vcl": _vcl, "scl": _scl,
                                                "guide": _guide, "ml": _ml, "norm": _norm, "mu": _mu}
# The one table of loss terms (name -> function and spec): compose_losses, the baselines, the CLI
# choices and the tables' term columns all follow it.
TERMS: dict[str, Term] = {s.name: Term(_FUNCTIONS[s.name], s) for s in TERM_SPECS}



def mil_scale_ratio(labels, num_classes: int | None = None, target: str = "normalized") -> float:
    """How much larger MIL (Eq. 4) is under ``target`` than as printed, at the uniform prediction.

    At p = 1/(C+1) for every class each -log p equals log(C+1), so Eq. 5 as printed gives
    ((n_v + 1) + n_v)/(C+1)·log(C+1) for a video with n_v labels, and the label-normalised target
    gives (1 + [n_v > 0])·log(C+1). The ratio of the two batch means over the given ``labels``
    (N, C) is 2(C+1)/(2n̄+1) when every video is labelled (n̄ = mean labels per video); 1 for
    ``target="paper"``. It is exact at the start of training and needs no model.
    """
    y = torch.as_tensor(labels, dtype=torch.float64)
    if y.dim() != 2 or y.shape[0] == 0:
        raise ValueError(f"mil_scale_ratio: labels must be (N, C) with N > 0, got {tuple(y.shape)}")
    if target == "paper":
        return 1.0
    K = float(num_classes if num_classes is not None else y.shape[1]) + 1.0
    n = (y > 0).sum(dim=1).to(torch.float64)
    printed = ((n + 1) + n) / K
    normalized = 1.0 + (n > 0).to(torch.float64)
    return float(normalized.mean() / printed.mean())


def effective_weights(cfg: LossConfig, labels, seq_len: int) -> dict[str, float]:
    """The λ each active term trains with (Eq. 11; MIL = 1).

    ``balance="printed"``: the configured λ. ``balance="reading"``: each ``balanced`` term of
    :data:`TERMS` (CLL, VCL, SCL) gets λ·r with r = :func:`mil_scale_ratio` of the training
    ``labels`` (N, C) under ``cfg.mil_target`` (1 for the printed MIL), so that it keeps the
    printed equations' balance against MIL; a term summed over snippets (SCL, Eq. 10) also gets
    ``balance_seq_len / seq_len``, so that its weight per snippet stays the paper's at another T.
    """
    r = mil_scale_ratio(labels, target=cfg.mil_target) if cfg.balance == "reading" else 1.0
    out: dict[str, float] = {}
    for name in cfg.active_terms:
        term = TERMS[name]
        w = 1.0 if term.weight is None else float(getattr(cfg, term.weight))
        if cfg.balance == "reading" and term.balanced:
            w *= r
            if term.per_snippet_sum:
                w *= cfg.balance_seq_len / float(seq_len)
        out[name] = w
    return out


def balanced_config(cfg: LossConfig, labels, seq_len: int) -> LossConfig:
    """``cfg`` with every λ set to its :func:`effective_weights` value and ``balance="printed"``:
    what the training loop composes with (the run's identity keeps the configured values)."""
    if cfg.balance == "printed":
        return cfg
    weights = effective_weights(cfg, labels, seq_len)
    fields: dict[str, Any] = {str(TERMS[n].weight): w for n, w in weights.items() if TERMS[n].weight is not None}
    return replace(cfg, balance="printed", **fields)


def compose_losses(out, labels: Tensor, cfg: LossConfig) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. 11: total = L_MIL + λ_cll·L_CLL + λ1·L_VCL + λ2·L_SCL (+ λ·alternatives), over cfg's
    active terms, each computed as :data:`TERMS` says.

    out: a ``himnet_lib.modeling.himnet.ModelOutput`` (attention (B,T), cas / cas_supp / probs (B,T,C+1),
    features (B,T,D)); labels (B,C). The λ are read as configured: the training loop passes
    :func:`balanced_config`. Returns the weighted total and the *unweighted* term values
    (0-dim tensors, still attached to the graph; call ``.item()`` for logging).
    """
    terms: dict[str, Tensor] = {}
    total: Tensor | None = None
    for name in cfg.active_terms:  # terms plus the reading's extra_terms
        term = TERMS[name]
        value = term.fn(out, labels, cfg)
        terms[name] = value
        w = 1.0 if term.weight is None else getattr(cfg, term.weight)
        total = w * value if total is None else total + w * value
    return total, terms  # type: ignore[return-value]  # None only with no terms, which LossConfig forbids
