"""L_VCL (Eq. 7-8): co-action similarity between videos that share a class."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from himnet_lib.config.loss import LossConfig
from himnet_lib.modeling.losses.common import check_labels, promote
from himnet_lib.modeling.losses.registry import term


def vcl_loss(features: Tensor, cas_supp: Tensor, labels: Tensor, margin: float = 0.5) -> Tensor:
    """Eq. 7-8: co-action similarity triplet loss over all pairs of videos sharing a class.

    features X̂ (B,T,D), cas_supp Ŝ (B,T,C+1), labels (B,C).
    μ_{t,c} = softmax_t(Ŝ[:, c]); V_c = Σ_t μ_{t,c} x̂_t; V̄_c = Σ_t (1 - μ_{t,c}) x̂_t / max(T-1, 1)
    (Eq. 7's 1/(T-1); T=1 would divide by zero, so its denominator is taken as 1 - it does not
    change the cosine anyway). d = 1 - cos, with cos(u, 0) := 0 (at T = 1, μ = 1 and V̄ is the
    zero vector, so d(V, V̄) = 1). For every unordered pair i<j and every class c with
    y_ic·y_jc = 1:
        ½[d(V_c^i,V_c^j) - d(V_c^i,V̄_c^j) + δ]_+ + ½[d(V_c^i,V_c^j) - d(V_c^j,V̄_c^i) + δ]_+ ,
    averaged over all such (pair, class) terms. No such term -> exactly 0 (with a zero gradient).
    Only foreground classes count (the background column of Ŝ is ignored).
    """
    B, T, K = cas_supp.shape
    check_labels(labels, B, K - 1, "vcl_loss")
    if features.shape[:2] != (B, T):
        raise ValueError(f"vcl_loss: features {tuple(features.shape)} do not match cas_supp {tuple(cas_supp.shape)}")
    x = promote(features)
    s = cas_supp[..., :-1].to(x.dtype)
    mu = torch.softmax(s, dim=1)                                            # (B,T,C)
    fg = torch.einsum("btc,btd->bcd", mu, x)                                # V   (B,C,D)
    bg = torch.einsum("btc,btd->bcd", 1 - mu, x) / max(T - 1, 1)            # V̄   (B,C,D)
    # cosine via unit vectors; eps keeps an all-zero V at cos = 0 instead of NaN
    fg_n, bg_n = F.normalize(fg, dim=-1, eps=1e-12), F.normalize(bg, dim=-1, eps=1e-12)
    d_ff = 1 - torch.einsum("icd,jcd->ijc", fg_n, fg_n)                     # d(V^i, V^j)
    d_fb = 1 - torch.einsum("icd,jcd->ijc", fg_n, bg_n)                     # d(V^i, V̄^j)
    term = 0.5 * F.relu(d_ff - d_fb + margin) + 0.5 * F.relu(d_ff - d_fb.transpose(0, 1) + margin)
    y = labels.to(x.dtype)
    pair = torch.triu(torch.ones(B, B, dtype=torch.bool, device=x.device), diagonal=1)
    mask = torch.einsum("ic,jc->ijc", y, y) * pair.unsqueeze(-1).to(x.dtype)
    n = mask.sum()
    return (mask * term).sum() / torch.clamp(n, min=1.0)


@term("vcl")
def _vcl_term(out, labels: Tensor, cfg: LossConfig) -> Tensor:
    """The ``vcl`` term of :func:`~himnet_lib.modeling.losses.compose.compose_losses`."""
    return vcl_loss(out.features, out.cas_supp, labels, cfg.vcl_margin)
