"""Eq. 11: the weighted sum of the active terms, and the weights that ``loss.balance`` gives them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from himnet_lib.config.loss import LossConfig
from himnet_lib.config.terms import spec, term_specs, weight_field
from himnet_lib.modeling.losses.registry import term_function

__all__ = ["mil_scale_ratio", "effective_weights", "balanced_config", "compose_losses"]


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

    ``balance="printed"``: the configured λ, but for the terms of ``balance_terms`` (the per-term
    choice), which are rescaled as under "reading". ``balance="reading"``: each ``balanced`` term
    (CLL, VCL, SCL) gets λ·r with r = :func:`mil_scale_ratio` of the training
    ``labels`` (N, C) under ``cfg.mil_target`` (1 for the printed MIL), so that it keeps the
    printed equations' balance against MIL; a term summed over snippets (SCL, Eq. 10) also gets
    ``balance_seq_len / seq_len``, so that its weight per snippet stays the paper's at another T.
    """
    rescaled = {s.name for s in term_specs() if s.balanced} if cfg.balance == "reading" else set(cfg.balance_terms)
    r = mil_scale_ratio(labels, target=cfg.mil_target) if rescaled else 1.0
    out: dict[str, float] = {}
    for name in cfg.active_terms:
        s = spec(name)
        w = cfg.weight(name)
        if name in rescaled:
            w *= r
            if s.per_snippet_sum:
                w *= cfg.balance_seq_len / float(seq_len)
        out[name] = w
    return out


def balanced_config(cfg: LossConfig, labels, seq_len: int) -> LossConfig:
    """``cfg`` with every λ set to its :func:`effective_weights` value and ``balance="printed"``:
    what the training loop composes with (the run's identity keeps the configured values)."""
    if cfg.balance == "printed" and not cfg.balance_terms:
        return cfg
    weights = effective_weights(cfg, labels, seq_len)
    fields: dict[str, Any] = {f: w for n, w in weights.items() if (f := weight_field(n)) is not None}
    return replace(cfg, balance="printed", balance_terms=(), **fields)


def compose_losses(out, labels: Tensor, cfg: LossConfig) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. 11: total = L_MIL + λ_cll·L_CLL + λ1·L_VCL + λ2·L_SCL (+ λ·alternatives), over cfg's
    active terms, each by its registered function (:mod:`.registry`).

    out: a ``himnet_lib.modeling.himnet.ModelOutput`` (attention (B,T), cas / cas_supp / probs (B,T,C+1),
    features (B,T,D)); labels (B,C). The λ are read as configured: the training loop passes
    :func:`balanced_config`. Returns the weighted total and the *unweighted* term values
    (0-dim tensors, still attached to the graph; call ``.item()`` for logging).
    """
    terms: dict[str, Tensor] = {}
    total: Tensor | None = None
    for name in cfg.active_terms:  # terms plus the reading's extra_terms
        value = term_function(name)(out, labels, cfg)
        terms[name] = value
        w = cfg.weight(name)
        total = w * value if total is None else total + w * value
    return total, terms  # type: ignore[return-value]  # None only with no terms, which LossConfig forbids
