"""Names of the loss terms (Eq. 11 and the readings' additions), torch-free so that figures and
tables can name them without importing the losses; :mod:`himnet_lib.losses` validates against it."""

from __future__ import annotations

__all__ = ["KNOWN_TERMS"]

KNOWN_TERMS: tuple[str, ...] = ("mil", "cll", "vcl", "scl", "guide", "ml", "norm", "mu")
