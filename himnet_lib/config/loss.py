"""The ``loss`` settings section: which terms enter Eq. 11, their weights and options.

The weight fields ``lambda_<term>`` are generated from the term specs
(:mod:`himnet_lib.config.terms`): a new term with a weight gets its setting without an edit here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from himnet_lib.config.sections import topk_k
from himnet_lib.config.terms import spec, term_names, term_specs, weight_field

__all__ = ["BALANCES", "LossSettings", "LossConfig"]

# loss.balance: "printed" uses Eq. 11's λ as printed; "reading" rescales the balanced terms' λ so
# that they keep the printed equations' balance against MIL when a reading changes MIL's scale
# (and SCL's snippet sum when T differs from the paper's): effective_weights in
# himnet_lib.modeling.losses.compose.
BALANCES = ("printed", "reading")


@dataclass(frozen=True)
class LossSettings:
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

    The weights are not written here: each term of :data:`himnet_lib.config.terms.TERM_SPECS` with a
    weight gets a float field ``lambda_<name>`` with the spec's default (:func:`_with_weights`), so
    ``--set loss.lambda_<name>=...`` works for every declared term.
    """

    terms: tuple[str, ...] = ("mil", "cll", "vcl", "scl")
    extra_terms: tuple[str, ...] = ()
    topk_ratio: float = 7.0
    topk_k: int | None = None
    mil_target: str = "paper"
    vcl_margin: float = 0.5
    alpha: float = 4.0
    scl_kl: str = "bernoulli"
    scl_centre: str = "self"
    scl_u_grad: bool = False
    scl_first_u: str = "swapped"
    balance: str = "printed"        # BALANCES; see effective_weights
    # under balance="printed", the balanced terms whose λ still follow the reading's balance: the
    # per-term choice made on the validation fold (tables/balance_choice.md)
    balance_terms: tuple[str, ...] = ()
    balance_seq_len: int = 560      # T at which the printed λ_scl is balanced (the paper's THUMOS14 T)

    @property
    def active_terms(self) -> tuple[str, ...]:
        """``terms`` followed by the ``extra_terms`` not already in it."""
        return tuple(self.terms) + tuple(t for t in self.extra_terms if t not in self.terms)

    def __post_init__(self) -> None:
        known = term_names()
        unknown = [t for t in (*self.terms, *self.extra_terms) if t not in known]
        if unknown:
            raise ValueError(f"LossConfig.terms: unknown term(s) {unknown}; known: {known}")
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
        bad = [t for t in self.balance_terms if t not in known or not spec(t).balanced]
        if bad:
            raise ValueError(f"LossConfig.balance_terms: {bad} are not terms that loss.balance rescales "
                             f"({[s.name for s in term_specs() if s.balanced]})")
        if self.balance_seq_len < 1:
            raise ValueError(f"LossConfig.balance_seq_len must be >= 1, got {self.balance_seq_len}")

    def weight(self, term: str) -> float:
        """The configured λ of ``term`` (1 for a term without a weight, as L_MIL)."""
        name = weight_field(term)
        return 1.0 if name is None else float(getattr(self, name))

    def inactive_weight_fields(self) -> tuple[str, ...]:
        """The weight fields of the terms that are not active: they cannot change the run, so the
        run's identity leaves them out (:meth:`himnet_lib.config.run.RunConfig.identity`)."""
        active = set(self.active_terms)
        return tuple(f for s in term_specs() if s.name not in active and (f := s.weight_field))

    def k_for(self, T: int) -> int:
        return self.topk_k if self.topk_k is not None else topk_k(T, self.topk_ratio)


def _with_weights(base: type) -> type:
    """``base`` with one float field ``lambda_<name>`` per term spec that has a weight (its default)."""
    fields = [(f, float, dataclasses.field(default=float(s.weight)))
              for s in term_specs() if (f := s.weight_field) is not None and s.weight is not None]
    cls = dataclasses.make_dataclass("LossConfig", fields, bases=(base,), frozen=True)
    cls.__module__ = __name__
    cls.__doc__ = base.__doc__
    return cls


if TYPE_CHECKING:
    class LossConfig(LossSettings):
        """:class:`LossSettings` with the generated ``lambda_<term>`` fields (floats)."""

        def __init__(self, **settings: Any) -> None: ...

        def __getattr__(self, name: str) -> float: ...
else:
    LossConfig = _with_weights(LossSettings)
