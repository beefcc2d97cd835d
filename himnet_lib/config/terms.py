"""The loss terms of Eq. 11 and the readings' additions, declared once (torch-free).

A term is one :class:`TermSpec` in :data:`TERM_SPECS`: its name, its weight's default (its field of
the ``loss`` section, ``lambda_<name>``, is generated from it by :mod:`himnet_lib.config.loss`), the
model outputs it reads, how ``loss.balance`` treats it, whether it is a column of Table 3, and the
metrics its claims test when a core row of Table 3 adds it. Its function registers itself under the
same name (:func:`himnet_lib.modeling.losses.registry.term`). Everything else (the command line's
``--losses``, the settings, the tables' check-mark columns, the claims) reads the table through the
functions below, at call time.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TermSpec", "TERM_SPECS", "term_specs", "spec", "term_names", "ablation_terms", "weight_field"]


@dataclass(frozen=True)
class TermSpec:
    """One loss term.

    ``weight``: the default of its λ (the ``loss.lambda_<name>`` setting); None for a term with weight
    1 and no setting (L_MIL). ``reads``: the ``ModelOutput`` fields it uses. ``balanced``:
    ``loss.balance=reading`` rescales its λ with MIL's scale; ``per_snippet_sum``: it sums over
    snippets (Eq. 10), so that its λ also follows T. ``ablation``: a column of Table 3's loss
    ablation. ``claim_metrics``: the claims table's metrics (``avg``, ``acc``, ...) of the claims
    "<TERM> improves <metric>" made when a core row of Table 3 adds the term. ``equation``: where
    the paper defines it.
    """

    name: str
    reads: tuple[str, ...]
    weight: float | None = None
    balanced: bool = False
    per_snippet_sum: bool = False
    ablation: bool = False
    claim_metrics: tuple[str, ...] = ("avg",)
    equation: str = ""

    @property
    def weight_field(self) -> str | None:
        """The ``loss`` section's field of its λ, or None (weight 1)."""
        return None if self.weight is None else f"lambda_{self.name}"


# guide/ml (CO2-Net's weights) and norm/mu (lineage's CO2-Net weights) were balanced against the
# label-normalised MIL, so loss.balance=reading leaves them alone. The paper claims CLL's gain in
# snippet ACC as well as in AVG (Table 3's ACC column).
TERM_SPECS: tuple[TermSpec, ...] = (
    TermSpec("mil", ("cas", "cas_supp"), ablation=True, equation="Eq. 4"),
    TermSpec("cll", ("probs",), 1.0, balanced=True, ablation=True, claim_metrics=("avg", "acc"),
             equation="Eq. 6"),
    TermSpec("vcl", ("features", "cas_supp"), 1.0, balanced=True, ablation=True, equation="Eq. 7-8"),
    TermSpec("scl", ("attention", "probs"), 0.01, balanced=True, per_snippet_sum=True, ablation=True,
             equation="Eq. 9-10"),
    TermSpec("guide", ("attention", "probs"), 1.0, equation="Table 4 (HAM-Net, CO2-Net)"),
    TermSpec("ml", ("attention", "probs"), 1.0, equation="Table 4 (CO2-Net)"),
    TermSpec("norm", ("attention", "attention_parts"), 0.8, equation="CO2-Net (lineage reading)"),
    TermSpec("mu", ("attention_parts",), 1.0, equation="CO2-Net (lineage reading)"),
)


def term_specs() -> tuple[TermSpec, ...]:
    """Every declared term, in declaration order."""
    return TERM_SPECS


def spec(name: str) -> TermSpec:
    """The spec of term ``name`` (a KeyError naming the known terms otherwise)."""
    for s in TERM_SPECS:
        if s.name == name:
            return s
    raise KeyError(f"unknown loss term {name!r}; known: {', '.join(term_names())}")


def term_names() -> tuple[str, ...]:
    """The names of every declared term (the command line's ``--losses`` choices)."""
    return tuple(s.name for s in TERM_SPECS)


def ablation_terms() -> tuple[str, ...]:
    """The terms that are columns of Table 3's loss ablation."""
    return tuple(s.name for s in TERM_SPECS if s.ablation)


def weight_field(name: str) -> str | None:
    """``lambda_<name>`` for a term with a weight, None for one without."""
    return spec(name).weight_field
