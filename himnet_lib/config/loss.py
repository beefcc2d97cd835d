"""The ``loss`` settings section: which terms enter Eq. 11, their weights and options."""

from __future__ import annotations

from dataclasses import dataclass

from himnet_lib.config.sections import topk_k
from himnet_lib.config.terms import KNOWN_TERMS

# loss.balance: "printed" uses Eq. 11's λ as printed; "reading" rescales the balanced terms' λ so
# that they keep the printed equations' balance against MIL when a reading changes MIL's scale
# (and SCL's snippet sum when T differs from the paper's): :func:`effective_weights`.
BALANCES = ("printed", "reading")


@dataclass(frozen=True)
class LossConfig:
    """Which terms enter Eq. 11 and their settings.

    total = L_MIL + L_CLL + λ_vcl·L_VCL + λ_scl·L_SCL + λ_guide·L_guide + λ_ml·L_ml (present terms).
    ``topk_k`` (explicit k) overrides ``topk_ratio`` (k = max(1, floor(T/r))). Paper: k = 80 at
    T = 560 (r = 7) on THUMOS14, k = 6 at T = 60 (r = 10) on ActivityNet1.3.
    guide/ml are means over snippets with weight 1.0 by default (CO2-Net weights guide 0.8 and
    averages it over three attentions; set ``lambda_guide=0.8`` to follow it).

    ``extra_terms`` are added to ``terms`` (the reading's additions, so that a table row that sets
    ``terms`` keeps them): the ``lineage`` reading puts CO2-Net's "norm" (λ_norm·mean attention over
    the fused and per-modality attentions) and "mu" (λ_mu·mutual learning of the two modality
    attentions) there. ``lambda_cll`` weights L_CLL (Eq. 11: 1). ``scl_first_u`` is the reading of
    Eq. 10's first uncertainty (:func:`scl_terms`).
    """

    terms: tuple[str, ...] = ("mil", "cll", "vcl", "scl")
    extra_terms: tuple[str, ...] = ()
    topk_ratio: float = 7.0
    topk_k: int | None = None
    mil_target: str = "paper"
    lambda_vcl: float = 1.0
    vcl_margin: float = 0.5
    lambda_scl: float = 0.01
    alpha: float = 4.0
    scl_kl: str = "bernoulli"
    scl_centre: str = "self"
    scl_u_grad: bool = False
    lambda_guide: float = 1.0
    lambda_ml: float = 1.0
    lambda_cll: float = 1.0
    lambda_norm: float = 0.8
    lambda_mu: float = 1.0
    scl_first_u: str = "swapped"
    balance: str = "printed"        # BALANCES; see effective_weights
    balance_seq_len: int = 560      # T at which the printed λ_scl is balanced (the paper's THUMOS14 T)

    @property
    def active_terms(self) -> tuple[str, ...]:
        """``terms`` followed by the ``extra_terms`` not already in it."""
        return tuple(self.terms) + tuple(t for t in self.extra_terms if t not in self.terms)

    def __post_init__(self) -> None:
        unknown = [t for t in (*self.terms, *self.extra_terms) if t not in KNOWN_TERMS]
        if unknown:
            raise ValueError(f"LossConfig.terms: unknown term(s) {unknown}; known: {KNOWN_TERMS}")
        if len(set(self.terms)) != len(self.terms):
            raise ValueError(f"LossConfig.terms has duplicates: {self.terms}")
        if "mil" not in self.terms:
            raise ValueError("LossConfig.terms must contain 'mil' (every row of Tables 3-5 keeps L_MIL)")
        if self.mil_target not in ("paper", "normalized"):
            raise ValueError(f"LossConfig.mil_target must be 'paper' or 'normalized', got {self.mil_target!r}")
        if self.scl_kl not in ("bernoulli", "paper"):
            raise ValueError(f"LossConfig.scl_kl must be 'bernoulli' or 'paper', got {self.scl_kl!r}")
        if self.scl_centre not in ("self", "target", "none"):
            raise ValueError(f"LossConfig.scl_centre must be 'self', 'target' or 'none', got {self.scl_centre!r}")
        if self.scl_first_u not in ("swapped", "printed"):
            raise ValueError(f"LossConfig.scl_first_u must be 'swapped' or 'printed', got {self.scl_first_u!r}")
        if self.topk_k is not None and self.topk_k < 1:
            raise ValueError(f"LossConfig.topk_k must be >= 1, got {self.topk_k}")
        if self.topk_k is None and self.topk_ratio <= 0:
            raise ValueError(f"LossConfig.topk_ratio must be > 0, got {self.topk_ratio}")
        if self.balance not in BALANCES:
            raise ValueError(f"LossConfig.balance must be one of {BALANCES}, got {self.balance!r}")
        if self.balance_seq_len < 1:
            raise ValueError(f"LossConfig.balance_seq_len must be >= 1, got {self.balance_seq_len}")

    def k_for(self, T: int) -> int:
        return self.topk_k if self.topk_k is not None else topk_k(T, self.topk_ratio)
