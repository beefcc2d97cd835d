"""The bench parts in run order (each a module of this package, see :mod:`suite.part`): the
driver's ``--skip`` choices, the terminal table and the README rows follow this order."""

from __future__ import annotations

from types import ModuleType

from . import allocator, demo, evaluate_cli, evaluation, load, localize, numerics, paper, run, stacking

PARTS: dict[str, ModuleType] = {m.NAME: m for m in (demo, allocator, stacking, paper, evaluation, evaluate_cli,
                                                    localize, run, load, numerics)}
