"""L_SCL (Eq. 9-10): uncertainty-weighted collaboration of the attention and background branches."""

from __future__ import annotations

import torch
from torch import Tensor

from himnet_lib.config.loss import LossConfig
from himnet_lib.modeling.losses.common import EPS, clamp_p, promote
from himnet_lib.modeling.losses.registry import term


def _bernoulli_kl(p: Tensor, q: Tensor) -> Tensor:
    return p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))


def uncertainty(p: Tensor, q: Tensor, alpha: float = 4.0, kl: str = "bernoulli",
                centre: str = "self", eps: float = EPS) -> Tensor:
    """Eq. 9: U(p‖q) = exp(-α·KL), elementwise; p, q (...) probabilities, clamped to [eps, 1-eps].

    centre="self" (default): KL(p‖q), "from the prediction p to the pseudo target q";
    centre="target": KL(q‖p) (Table 4's U(q‖p) row); centre="none": U = 1.
    kl="bernoulli" (default): the two-outcome KL p log(p/q) + (1-p) log((1-p)/(1-q)) >= 0, so
    U ∈ (0, 1]. kl="paper": Eq. 9's printed one-term p log(p/q), which is negative whenever p < q,
    so U can exceed 1. α = 0 gives U = 1 exactly. Gradients flow through whatever is passed in;
    :func:`scl_terms` passes detached tensors unless asked otherwise.
    """
    if centre not in ("self", "target", "none"):
        raise ValueError(f"uncertainty: centre must be 'self', 'target' or 'none', got {centre!r}")
    if kl not in ("bernoulli", "paper"):
        raise ValueError(f"uncertainty: kl must be 'bernoulli' or 'paper', got {kl!r}")
    if centre == "none":
        return torch.ones_like(p)
    p, q = clamp_p(p, eps), clamp_p(q, eps)
    if centre == "target":
        p, q = q, p
    div = _bernoulli_kl(p, q) if kl == "bernoulli" else p * torch.log(p / q)
    return torch.exp(-alpha * div)


def _bce(p: Tensor, q: Tensor) -> Tensor:
    return -(q * torch.log(p) + (1 - q) * torch.log(1 - p))


def scl_terms(attention: Tensor, bg_prob: Tensor, alpha: float = 4.0, kl: str = "bernoulli",
              centre: str = "self", u_grad: bool = False, eps: float = EPS,
              first_u: str = "swapped") -> tuple[Tensor, Tensor]:
    """The two halves of Eq. 10, each Σ_t U_t·BCE(p_t, q_t) averaged over the batch.

    attention a (B,T), bg_prob b = B_{C+1} (B,T).
    (i)  background term: p = b learns from q = 1 - a (detached), weighted by U(b‖1-a);
    (ii) attention term:  p = a learns from q = 1 - b (detached), weighted by U(a‖1-b).
    ``first_u`` reads the weight of term (i): "swapped" (default) is U(b‖1-a), prediction first as
    in term (ii) and in Eq. 9's definition; "printed" is Eq. 10's literal U(1-a‖b) (the target
    in the prediction's place; always computed without gradient, as 1-a is the detached target).
    BCE(p,q) = -(q log p + (1-q) log(1-p)). Both p and q are clamped to [eps, 1-eps].
    U (:func:`uncertainty`) is computed from detached p by default; ``u_grad=True`` lets the
    gradient flow through U (through p; q is always a constant target). Returns (term_i, term_ii).
    """
    if attention.shape != bg_prob.shape or attention.dim() != 2:
        raise ValueError(f"scl_terms: attention {tuple(attention.shape)} and bg_prob "
                         f"{tuple(bg_prob.shape)} must both be (B,T)")
    a, b = promote(attention), promote(bg_prob).to(promote(attention).dtype)

    if first_u not in ("swapped", "printed"):
        raise ValueError(f"scl_terms: first_u must be 'swapped' or 'printed', got {first_u!r}")

    def term(p: Tensor, q: Tensor, printed: bool = False) -> Tensor:
        q = clamp_p(q.detach(), eps)
        p = clamp_p(p, eps)
        if printed:  # U(q‖p): the detached target in the prediction's slot
            u = uncertainty(q, p.detach(), alpha, kl, centre, eps)
        else:
            u = uncertainty(p if u_grad else p.detach(), q, alpha, kl, centre, eps)
        return (u * _bce(p, q)).sum(dim=1).mean()

    return term(b, 1 - a, first_u == "printed"), term(a, 1 - b)


def scl_loss(attention: Tensor, bg_prob: Tensor, alpha: float = 4.0, kl: str = "bernoulli",
             centre: str = "self", u_grad: bool = False, eps: float = EPS,
             first_u: str = "swapped") -> Tensor:
    """Eq. 10: L_SCL = Σ_t U(1-a_t|b_t)·BCE(b_t|1-a_t) + Σ_t U(a_t|1-b_t)·BCE(a_t|1-b_t), batch mean.

    attention (B,T), bg_prob (B,T); options as in :func:`scl_terms`. Sum (not mean) over snippets,
    as Eq. 10 writes it, hence the small λ2 = 0.01.
    """
    t1, t2 = scl_terms(attention, bg_prob, alpha, kl, centre, u_grad, eps, first_u)
    return t1 + t2


@term("scl")
def _scl_term(out, labels: Tensor, cfg: LossConfig) -> Tensor:
    """The ``scl`` term of :func:`~himnet_lib.modeling.losses.compose.compose_losses`."""
    return scl_loss(out.attention, out.probs[..., -1], cfg.alpha, cfg.scl_kl, cfg.scl_centre, cfg.scl_u_grad,
                    first_u=cfg.scl_first_u)
