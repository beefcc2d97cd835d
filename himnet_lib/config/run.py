"""The run config: :class:`RunConfig` (its sections are :mod:`.sections`, :mod:`.loss` and
:mod:`.localize`), its identity, and ``key=value`` overrides.

A run is fully described by a :class:`RunConfig`. ``--set section.key=value`` (or an unambiguous
bare ``key=value``) overrides one key at a time (:func:`assign`, typed by the dataclass fields);
profiles and readings are :mod:`himnet_lib.config.profiles`. The dimensions that come from the data
(``model.feature_dim``, ``model.num_classes``) are filled in by :func:`resolve_config`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

from himnet_lib.config.localize import LocalizeConfig
from himnet_lib.config.loss import LossConfig
from himnet_lib.config.sections import BaselineConfig, ModelConfig, TrainConfig
from himnet_lib.config.terms import term_specs
from himnet_lib.utils.errors import HimnetError


@dataclass
class RunConfig:
    profile: str = "thumos14"
    reading: str = "literal"   # which reading of the paper was applied (READINGS); a label, see build_config
    snippet_seconds: float = 16 / 25
    train: TrainConfig = field(default_factory=TrainConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    localize: LocalizeConfig = field(default_factory=LocalizeConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)  # BaS-Net / HAM-Net (Table 5)

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RunConfig":
        cfg = cls()
        for key, value in flatten(d).items():
            assign(cfg, key, value)
        return cfg

    def identity(self) -> str:
        """Hash of every setting that can change the result (the run's identity): the settings of
        :func:`identity_settings`, so that declaring a new loss term leaves every existing run's
        identity (and run id) as it was."""
        blob = json.dumps(identity_settings(self.to_dict()), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


# Settings added after runs were recorded, with the value that means "as before": at that value they
# stay out of a run's identity, so that adding them changed no existing run id.
ADDED_SETTINGS: dict[str, Any] = {"loss.balance_terms": []}


def identity_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a config dict (``RunConfig.to_dict()``, or a saved one) that define the run:
    all of them but the weights of the loss terms that are not active, which cannot change it, and
    the :data:`ADDED_SETTINGS` at their neutral value."""
    out = dict(config)
    for key, neutral in ADDED_SETTINGS.items():
        section, name = key.split(".")
        if section in out and list(out[section].get(name, neutral) or []) == list(neutral or []):
            out[section] = {k: v for k, v in out[section].items() if k != name}
    loss = dict(out.get("loss", {}))
    active = set(loss.get("terms", ())) | set(loss.get("extra_terms", ()))
    for s in term_specs():
        if s.weight_field is not None and s.name not in active:
            loss.pop(s.weight_field, None)
    out["loss"] = loss
    return out


SECTIONS = ("train", "model", "loss", "localize", "baseline")








def parse_override(text: str) -> tuple[str, Any]:
    """``'loss.alpha=2'`` -> ``('loss.alpha', 2)``; the value is parsed as YAML (numbers, bools, lists)."""
    if "=" not in text:
        raise HimnetError(f"override {text!r} is not of the form key=value")
    import yaml  # here, not at import: `himnet evaluate` and `--help` need no YAML

    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except (yaml.YAMLError, ValueError, RecursionError) as e:  # ValueError: an integer of over 4300 digits
        reason = "nested too deeply" if isinstance(e, RecursionError) else " ".join(str(e).split())[:200]
        raise HimnetError(f"setting {key.strip()}: cannot parse the value {_short(raw)}: {reason}") from None
    return key.strip(), value


def _short(text: str, n: int = 40) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


def apply_overrides(cfg: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    for key, value in overrides.items():
        assign(cfg, qualify(key), value)
    check_config(cfg)
    return cfg


SAMPLINGS = ("perturb", "uniform")
AMPS = ("none", "bf16", "auto")


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check_config(cfg: RunConfig) -> None:
    """Range-check every setting; the first bad one raises one :class:`HimnetError` line naming it
    (training would otherwise fail later with a traceback, or silently train nothing)."""
    t = cfg.train
    rules: list[tuple[str, bool, str]] = [
        ("snippet_seconds", _finite(cfg.snippet_seconds) and cfg.snippet_seconds > 0, "a finite number > 0"),
        ("train.iterations", t.iterations >= 1, "an integer >= 1"),
        ("train.batch_size", t.batch_size >= 1, "an integer >= 1"),
        ("train.n_pairs", 0 <= t.n_pairs and 2 * t.n_pairs <= t.batch_size,
         f"an integer in [0, batch_size / 2 = {t.batch_size // 2}] (each pair is two videos of the batch)"),
        ("train.seq_len", t.seq_len >= 1, "an integer >= 1"),
        ("train.sampling", t.sampling in SAMPLINGS, f"one of {', '.join(SAMPLINGS)}"),
        ("train.lr", _finite(t.lr) and t.lr > 0, "a finite number > 0"),
        ("train.weight_decay", _finite(t.weight_decay) and t.weight_decay >= 0, "a finite number >= 0"),
        ("train.seed", t.seed >= 0, "an integer >= 0"),
        ("train.log_interval", t.log_interval >= 1, "an integer >= 1"),
        ("train.eval_interval", t.eval_interval >= 0, "an integer >= 0 (0 = never)"),
        ("train.checkpoint_interval", t.checkpoint_interval >= 1, "an integer >= 1"),
        ("train.amp", t.amp in AMPS, f"one of {', '.join(AMPS)}"),
        ("train.val_fraction", _finite(t.val_fraction) and 0 <= t.val_fraction < 1, "a number in [0, 1)"),
        ("model.attention_hidden", cfg.model.attention_hidden >= 1, "an integer >= 1"),
        ("model.head_hidden", cfg.model.head_hidden is None or cfg.model.head_hidden >= 1, "an integer >= 1 or null"),
        ("model.feature_dim", cfg.model.feature_dim >= 1, "an integer >= 1"),
        ("model.num_classes", cfg.model.num_classes >= 1, "an integer >= 1"),
        *[(f"model.{k}", _finite(getattr(cfg.model, k)) and 0 <= getattr(cfg.model, k) < 1, "a number in [0, 1)")
          for k in ("ccm_dropout", "attention_dropout", "attention_logit_dropout", "dropout", "head_input_dropout")],
        ("localize.thresholds", all(_finite(x) for x in cfg.localize.thresholds), "finite numbers"),
        ("localize.nms_iou", _finite(cfg.localize.nms_iou) and 0 <= cfg.localize.nms_iou <= 1, "a number in [0, 1]"),
        ("localize.max_proposals_per_video",
         cfg.localize.max_proposals_per_video is None or cfg.localize.max_proposals_per_video >= 1,
         "an integer >= 1 or null"),
    ]
    for key, ok, want in rules:
        if not ok:
            section, _, name = key.rpartition(".")
            value = getattr(getattr(cfg, section) if section else cfg, name)
            raise HimnetError(f"setting {key} must be {want}, got {value!r}")
    _check_every_number(cfg)
    for section in ("model", "localize"):  # their __post_init__ checks (enums) after in-place overrides
        try:
            dataclasses.replace(getattr(cfg, section))
        except (TypeError, ValueError) as e:
            raise HimnetError(f"setting {section}: {e}") from None


INT_LIMIT = 2**31  # integer settings fit 32 bits (torch seeds, sizes and indices)


def _check_every_number(cfg: RunConfig) -> None:
    """Every number of every section: floats finite, integers within :data:`INT_LIMIT` (the rules
    above check ranges; this catches what no rule names, e.g. ``loss.alpha=.nan``)."""
    for section in ("", *SECTIONS):
        obj = getattr(cfg, section) if section else cfg
        for f in dataclasses.fields(obj):
            if not section and f.name in SECTIONS:
                continue
            value = getattr(obj, f.name)
            for x in value if isinstance(value, (tuple, list)) else (value,):
                key = f"{section}.{f.name}" if section else f.name
                if isinstance(x, float) and not math.isfinite(x):
                    raise HimnetError(f"setting {key} must be a finite number, got {value!r}")
                if isinstance(x, int) and not isinstance(x, bool) and not -INT_LIMIT < x < INT_LIMIT:
                    raise HimnetError(f"setting {key} must be an integer of magnitude below 2**31, got one of "
                                      f"{x.bit_length()} bits")


def resolve_config(cfg: RunConfig, *, feature_dim: int, num_classes: int) -> RunConfig:
    """Fill in the dimensions that come from the data."""
    cfg.model = dataclasses.replace(cfg.model, feature_dim=int(feature_dim), num_classes=int(num_classes))
    return cfg




# ---------------------------------------------------------------------------------------------

def qualify(key: str) -> str:
    if "." in key:
        return key
    owners = [s for s in SECTIONS if key in _field_types(type(getattr(RunConfig(), s)))]
    if key in _field_types(RunConfig):
        owners.append("")
    if len(owners) != 1:
        where = "no section" if not owners else "sections " + ", ".join(owners)
        raise HimnetError(f"setting {key!r} is ambiguous or unknown ({where}); use section.key, "
                          f"sections: {', '.join(SECTIONS)}")
    return f"{owners[0]}.{key}" if owners[0] else key


# A class's annotations do not change, and get_type_hints is most of an override's cost (a study's 600
# run configs took 3 s): read once per class.
_FIELD_TYPES: dict[type, dict[str, Any]] = {}


def _field_types(cls) -> dict[str, Any]:
    if cls not in _FIELD_TYPES:
        hints = typing.get_type_hints(cls)
        _FIELD_TYPES[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return _FIELD_TYPES[cls]


def assign(cfg: RunConfig, key: str, value: Any) -> None:
    parts = key.split(".")
    target = cfg
    if len(parts) > 2:
        raise HimnetError(f"unknown setting {key!r}: a setting is section.key (sections: {', '.join(SECTIONS)})")
    for p in parts[:-1]:
        if p not in SECTIONS:
            raise HimnetError(f"unknown settings section {p!r} in {key!r}; sections: {', '.join(SECTIONS)}")
        target = getattr(target, p)
    name = parts[-1]
    types = _field_types(type(target))
    if name not in types:
        raise HimnetError(f"unknown setting {key!r}; known: {', '.join(sorted(types))}")
    value = _coerce(key, value, types[name])
    if target is not cfg and target.__dataclass_params__.frozen:  # type: ignore[attr-defined]  # dataclass internals
        # A frozen section (LossConfig) is replaced whole; its __post_init__ validates the result.
        try:
            setattr(cfg, parts[0], dataclasses.replace(target, **{name: value}))
        except (TypeError, ValueError) as e:
            raise HimnetError(f"setting {key!r} = {value!r}: {e}") from None
    else:
        setattr(target, name, value)


def _coerce(key: str, value: Any, typ: Any) -> Any:
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(key, value, inner[0]) if len(inner) == 1 else value
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = [value]
        elem = args[0] if args else Any
        out = [_coerce(key, v, elem) for v in value]
        return tuple(out) if origin is tuple else out
    if typ is bool:
        if isinstance(value, bool):
            return value
        raise HimnetError(f"setting {key!r} expects true/false, got {_short(repr(value))}")
    if typ is float:
        if isinstance(value, str):  # YAML 1.1 reads "5e-4" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:  # an integer beyond float's range
                raise HimnetError(f"setting {key!r} expects a finite number, got {_short(str(value))}") from None
        raise HimnetError(f"setting {key!r} expects a number, got {_short(repr(value))}")
    if typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise HimnetError(f"setting {key!r} expects an integer, got {_short(repr(value))}")
    if typ is str:
        if isinstance(value, str):
            return value
        raise HimnetError(f"setting {key!r} expects a string, got {_short(repr(value))}")
    return value


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A config dict with its sections flattened to ``"section.key"`` keys."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and k in SECTIONS and not prefix:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x
