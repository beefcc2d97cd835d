"""The loss terms of Eq. 11 and the readings' additions as data (torch-free): their names, weight
fields, the model outputs they read and how ``loss.balance`` treats them. :mod:`himnet_lib.modeling.losses`
pairs each with its function; figures, tables and the command line read the names from here."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TermSpec", "TERM_SPECS", "KNOWN_TERMS", "ABLATION_TERMS"]


@dataclass(frozen=True)
class TermSpec:
    """One loss term.

    ``weight``: the ``LossConfig`` field holding its λ (None: weight 1, as L_MIL). ``reads``: the
    ``ModelOutput`` fields it uses. ``balanced``: ``loss.balance=reading`` rescales its λ with MIL's
    scale; ``per_snippet_sum``: it sums over snippets (Eq. 10), so that its λ also follows T.
    ``ablation``: a column of Table 3's loss ablation.
    """

    name: str
    weight: str | None
    reads: tuple[str, ...]
    balanced: bool = False
    per_snippet_sum: bool = False
    ablation: bool = False


# guide/ml (CO2-Net's weights) and norm/mu (lineage's CO2-Net weights) were balanced against the
# label-normalised MIL, so loss.balance=reading leaves them alone.
TERM_SPECS: tuple[TermSpec, ...] = (
    TermSpec("mil", None, ("cas", "cas_supp"), ablation=True),
    TermSpec("cll", "lambda_cll", ("probs",), balanced=True, ablation=True),
    TermSpec("vcl", "lambda_vcl", ("features", "cas_supp"), balanced=True, ablation=True),
    TermSpec("scl", "lambda_scl", ("attention", "probs"), balanced=True, per_snippet_sum=True, ablation=True),
    TermSpec("guide", "lambda_guide", ("attention", "probs")),
    TermSpec("ml", "lambda_ml", ("attention", "probs")),
    TermSpec("norm", "lambda_norm", ("attention", "attention_parts")),
    TermSpec("mu", "lambda_mu", ("attention_parts",)),
)

KNOWN_TERMS: tuple[str, ...] = tuple(t.name for t in TERM_SPECS)
ABLATION_TERMS: tuple[str, ...] = tuple(t.name for t in TERM_SPECS if t.ablation)
