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
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .settings import BALANCES, LossConfig, topk_k
from .terms import KNOWN_TERMS, TERM_SPECS, TermSpec

__all__ = [
    "EPS",
    "topk_k",
    "topk_video_logits",
    "cce",
    "mil_loss",
    "cll_loss",
    "vcl_loss",
    "uncertainty",
    "scl_terms",
    "scl_loss",
    "guide_loss",
    "ml_loss",
    "norm_loss",
    "modality_mutual_loss",
    "LossConfig",
    "Term",
    "TERMS",
    "KNOWN_TERMS",
    "BALANCES",
    "mil_scale_ratio",
    "effective_weights",
    "balanced_config",
    "compose_losses",
]

EPS = 1e-6


def _promote(x: Tensor) -> Tensor:
    return x if x.dtype == torch.float64 else x.float()


# ----------------------------------------------------------------------------- Eq. 1-2, 5

def topk_video_logits(cas: Tensor, k: int) -> Tensor:
    """Eq. 1: γ_c = mean of the k largest s_{c,t} over time, per class (own top-k set per class).

    cas (B,T,K) -> (B,K). k is clipped to [1, T]. Eq. 2's P is ``softmax(γ, dim=-1)``.
    """
    k = max(1, min(int(k), cas.shape[1]))
    return torch.topk(_promote(cas), k, dim=1).values.mean(dim=1)


def _cce_log(target: Tensor, log_probs: Tensor) -> Tensor:
    return -(target * log_probs).sum(dim=-1) / target.shape[-1]


def cce(target: Tensor, probs: Tensor, eps: float = EPS) -> Tensor:
    """Eq. 5: L_CCE(Y|P) = (1/K) Σ_c -y_c log p_c, per row. target, probs (..., K) -> (...).

    p is clamped to >= eps before the log (module docstring).
    """
    probs = _promote(probs)
    return _cce_log(target.to(probs.dtype), torch.log(probs.clamp_min(eps)))


def _check_labels(labels: Tensor, B: int, C: int, name: str) -> None:
    if labels.shape != (B, C):
        raise ValueError(f"{name}: labels must be (B, C) = ({B}, {C}), got {tuple(labels.shape)}")


# ----------------------------------------------------------------------------- Eq. 4 (MIL)

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
    _check_labels(labels, B, K - 1, "mil_loss")
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
        per_video = _cce_log(y_bar, logp) + _cce_log(y_hat, logp_hat)
    else:
        def norm(t: Tensor) -> Tensor:
            s = t.sum(dim=1, keepdim=True)
            return t / torch.where(s > 0, s, torch.ones_like(s))
        per_video = -(norm(y_bar) * logp).sum(-1) - (norm(y_hat) * logp_hat).sum(-1)
    return per_video.mean()


# ----------------------------------------------------------------------------- Eq. 6 (CLL)

def cll_loss(probs: Tensor, labels: Tensor, eps: float = EPS) -> Tensor:
    """Eq. 6: L_CLL = (1/T) Σ_t L_CCE(1 - Ȳ | 1 - b_t), averaged over the batch.

    probs B (B,T,C+1) from Eq. 3; labels (B,C). 1 - Ȳ = [1 - y, 0]: only the non-labelled action
    classes contribute (labelled classes and background have target 0 and get no gradient), each
    as -log(1 - b_{c,t}) / (C+1), with 1 - b clamped to >= eps.
    """
    B, T, K = probs.shape
    _check_labels(labels, B, K - 1, "cll_loss")
    probs = _promote(probs)
    comp = torch.cat([1 - labels.to(probs.dtype), torch.zeros_like(probs[:, 0, :1])], dim=1)  # (B,C+1)
    per_snippet = cce(comp.unsqueeze(1), 1 - probs, eps)  # (B,T)
    return per_snippet.mean(dim=1).mean()


# ----------------------------------------------------------------------------- Eq. 7-8 (VCL)

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
    _check_labels(labels, B, K - 1, "vcl_loss")
    if features.shape[:2] != (B, T):
        raise ValueError(f"vcl_loss: features {tuple(features.shape)} do not match cas_supp {tuple(cas_supp.shape)}")
    x = _promote(features)
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


# ----------------------------------------------------------------------------- Eq. 9-10 (SCL)

def _clamp_p(p: Tensor, eps: float) -> Tensor:
    return p.clamp(eps, 1 - eps)


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
    p, q = _clamp_p(p, eps), _clamp_p(q, eps)
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
    a, b = _promote(attention), _promote(bg_prob).to(_promote(attention).dtype)

    if first_u not in ("swapped", "printed"):
        raise ValueError(f"scl_terms: first_u must be 'swapped' or 'printed', got {first_u!r}")

    def term(p: Tensor, q: Tensor, printed: bool = False) -> Tensor:
        q = _clamp_p(q.detach(), eps)
        p = _clamp_p(p, eps)
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


# ----------------------------------------------------------------------------- Table 4 alternatives

def guide_loss(attention: Tensor, bg_prob: Tensor) -> Tensor:
    """HAM-Net/CO2-Net guide loss: mean_t |1 - a_t - b_t|, averaged over the batch. (B,T),(B,T) -> ().

    No stop-gradient: both branches are pulled towards each other.
    """
    a = _promote(attention)
    return (1 - a - bg_prob.to(a.dtype)).abs().mean()


def ml_loss(attention: Tensor, bg_prob: Tensor) -> Tensor:
    """Mutual learning between the two foreground estimates a and 1 - b (B,T each):
    ½·mean_t (a - sg(1-b))² + ½·mean_t ((1-b) - sg(a))², averaged over the batch.

    This is CO2-Net's mutual-learning loss (there between the RGB and flow attentions) applied
    between the attention branch and the classification branch's background, as Table 4 does.
    """
    a = _promote(attention)
    fg = 1 - bg_prob.to(a.dtype)
    return 0.5 * F.mse_loss(a, fg.detach()) + 0.5 * F.mse_loss(fg, a.detach())


# ----------------------------------------------------------------------------- lineage terms (not in Eq. 11)

def norm_loss(attentions: Sequence[Tensor]) -> Tensor:
    """CO2-Net/HAM-Net attention sparsity ("norm"): mean over the given attentions of mean_t a_t,
    averaged over the batch. attentions: the fused A and the per-modality attentions, each (B,T)
    (CO2-Net: (L_norm + L_norm_r + L_norm_f)/3). Not in the HiM-Net paper; lineage reading only."""
    if not attentions:
        raise ValueError("norm_loss: no attention given")
    return torch.stack([_promote(a).mean() for a in attentions]).mean()


def modality_mutual_loss(parts: Sequence[Tensor]) -> Tensor:
    """CO2-Net's mutual learning between the RGB and flow attentions a_r, a_f (B,T each):
    ½·mean (a_r - sg(a_f))² + ½·mean (a_f - sg(a_r))². Exactly 0 with fewer than two parts
    (``model.attention = "joint"``). Not in the HiM-Net paper; lineage reading only."""
    if len(parts) < 2:
        return torch.zeros((), dtype=torch.float32, device=parts[0].device if parts else None)
    r, f = _promote(parts[0]), _promote(parts[1])
    return 0.5 * F.mse_loss(r, f.detach()) + 0.5 * F.mse_loss(f, r.detach())


# ----------------------------------------------------------------------------- Eq. 11

@dataclass(frozen=True)
class Term:
    """A loss term of :data:`himnet_lib.terms.TERM_SPECS` with its function
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


def _mil(out, labels: Tensor, cfg: "LossConfig") -> Tensor:
    return mil_loss(out.cas, out.cas_supp, labels, cfg.k_for(out.cas.shape[1]), cfg.mil_target)


def _cll(out, labels: Tensor, cfg: "LossConfig") -> Tensor:
    return cll_loss(out.probs, labels)


def _vcl(out, labels: Tensor, cfg: "LossConfig") -> Tensor:
    return vcl_loss(out.features, out.cas_supp, labels, cfg.vcl_margin)


def _scl(out, labels: Tensor, cfg: "LossConfig") -> Tensor:
    return scl_loss(out.attention, out.probs[..., -1], cfg.alpha, cfg.scl_kl, cfg.scl_centre, cfg.scl_u_grad,
                    first_u=cfg.scl_first_u)


def _guide(out, labels: Tensor, cfg: "LossConfig") -> Tensor:
    return guide_loss(out.attention, out.probs[..., -1])


def _ml(out, labels: Tensor, cfg: "LossConfig") -> Tensor:
    return ml_loss(out.attention, out.probs[..., -1])


def _norm(out, labels: Tensor, cfg: "LossConfig") -> Tensor:
    parts = tuple(out.attention_parts)
    return norm_loss((out.attention,) + (parts if len(parts) > 1 else ()))


def _mu(out, labels: Tensor, cfg: "LossConfig") -> Tensor:
    return modality_mutual_loss(tuple(out.attention_parts))


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

    out: a ``himnet_lib.model.ModelOutput`` (attention (B,T), cas / cas_supp / probs (B,T,C+1),
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
