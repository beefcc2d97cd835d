"""The loss terms' functions, each registered under its spec's name by :func:`term`.

A term's function has the signature ``fn(out: ModelOutput, labels (B,C), cfg: LossConfig) -> 0-dim
tensor`` and is declared with ``@term("<name>")`` beside its pure loss function; its spec (weight,
reads, ...) is :mod:`himnet_lib.config.terms`. Importing any module of
:mod:`himnet_lib.modeling.losses` first runs the package's ``__init__``, which imports every module
of the package: a new module with a registered term needs no edit elsewhere.
"""

from __future__ import annotations

from typing import Callable

from torch import Tensor

from himnet_lib.config.terms import spec

__all__ = ["term", "term_function", "registered"]

TermFunction = Callable[..., Tensor]
_REGISTERED: dict[str, TermFunction] = {}


def term(name: str) -> Callable[[TermFunction], TermFunction]:
    """Register the decorated function as loss term ``name`` (declared in the term specs; once)."""
    spec(name)  # a term without a spec is an error here, not at its first use

    def register(fn: TermFunction) -> TermFunction:
        if name in _REGISTERED and _REGISTERED[name] is not fn:
            raise ValueError(f"loss term {name!r} is registered twice "
                             f"({_REGISTERED[name].__module__}, {fn.__module__})")
        _REGISTERED[name] = fn
        return fn

    return register


def term_function(name: str) -> TermFunction:
    """The registered function of term ``name``."""
    if name not in _REGISTERED:
        raise KeyError(f"loss term {name!r} has a spec but no registered function (@term({name!r}) in "
                       "a module of himnet_lib.modeling.losses)")
    return _REGISTERED[name]


def registered() -> tuple[str, ...]:
    """The names of every registered term."""
    return tuple(_REGISTERED)
