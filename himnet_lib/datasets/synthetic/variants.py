"""Benchmark variants: a preset with some generator fields changed, named by one string.

``"demo+class_style=0.5"`` is the ``demo`` preset with ``class_style = 0.5``; several changes are
joined by ``+`` (``"demo+class_style=0.5+noise_sd=0.3"``). A field is any numeric field of
:class:`~himnet_lib.datasets.synthetic.presets.SyntheticConfig` (int, float or bool; not ``name``
and not the tuple-valued ones). :func:`parse_variant` is the one parser; :func:`variant_name` writes
the canonical name (fields sorted, values as short as they round-trip, changes equal to the
preset's own value dropped), so a "variant" that changes nothing *is* its preset and a run on it
is the preset's run. The mechanism sweep (``himnet_lib.study.mechanisms``) names its knob levels so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any, Mapping

from himnet_lib.datasets.synthetic.presets import PRESETS, SyntheticConfig

__all__ = ["VARIANT_SEP", "parse_variant", "variant_name", "canonical_benchmark", "benchmark_config",
           "variant_base", "knob_fields"]

VARIANT_SEP = "+"
_TYPES = {"float": float, "int": int, "bool": bool}


def knob_fields() -> dict[str, type]:
    """The fields a variant may change, with their types."""
    return {f.name: _TYPES[f.type] for f in dataclasses.fields(SyntheticConfig)
            if f.name != "name" and f.type in _TYPES}


def _value(field: str, text: str, kind: type) -> Any:
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        return kind(text)
    except ValueError:
        raise ValueError(f"benchmark variant: {field}={text!r} is not a {kind.__name__}") from None


def _format(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        short = format(v, "g")
        return short if float(short) == v else repr(v)
    return str(v)


def parse_variant(name: str) -> tuple[str, dict[str, Any]]:
    """``"<preset>[+<field>=<value>...]"`` -> (preset, {field: value}), values of the field's type.
    An unknown preset or field, a malformed or repeated change, or a value the generator refuses is
    a ValueError naming it."""
    base, *parts = str(name).split(VARIANT_SEP)
    if base not in PRESETS:
        raise ValueError(f"unknown preset {base!r} in benchmark {name!r}; choose one of {sorted(PRESETS)}")
    fields = knob_fields()
    changes: dict[str, Any] = {}
    for part in parts:
        field, eq, text = part.partition("=")
        if not eq or not field or not text:
            raise ValueError(f"benchmark variant {name!r}: {part!r} is not <field>=<value>")
        if field not in fields:
            raise ValueError(f"benchmark variant {name!r}: {field!r} is not a numeric field of SyntheticConfig")
        if field in changes:
            raise ValueError(f"benchmark variant {name!r}: {field!r} given twice")
        changes[field] = _value(field, text, fields[field])
    replace(PRESETS[base], **changes)  # the generator's own checks (ranges) name a bad value
    return base, changes


def variant_name(base: str, changes: Mapping[str, Any]) -> str:
    """The canonical name of ``base`` with ``changes`` (those equal to the preset's value dropped)."""
    cfg = PRESETS[base]
    kept = {k: v for k, v in sorted(changes.items()) if getattr(cfg, k) != v}
    return VARIANT_SEP.join([base, *(f"{k}={_format(v)}" for k, v in kept.items())])


def canonical_benchmark(name: str) -> str:
    """``name`` in canonical form (:func:`variant_name`): ``"demo+hard_negative_frac=0.04"`` is
    ``"demo"``, whose value it is."""
    return variant_name(*parse_variant(name))


def variant_base(name: str) -> str:
    """The preset a benchmark name varies (the name itself for a preset)."""
    return parse_variant(name)[0]


def benchmark_config(benchmark: str | SyntheticConfig) -> SyntheticConfig:
    """The generator settings of a preset or variant name (a config passes through). A variant's
    ``name`` (its files' prefix) is the preset's with the canonical changes appended."""
    if isinstance(benchmark, SyntheticConfig):
        return benchmark
    base, changes = parse_variant(benchmark)
    canonical = variant_name(base, changes)
    cfg = PRESETS[base]
    if canonical == base:
        return cfg
    return replace(cfg, name=cfg.name + canonical[len(base):], **changes)
