"""Run configuration: typed dataclasses, named profiles, and ``key=value`` overrides.

A run is fully described by a :class:`RunConfig`. Profiles are named sets of overrides of the
defaults (which are the paper's THUMOS14 settings); ``--set section.key=value`` (or an unambiguous
bare ``key=value``) overrides one key at a time. The dimensions that come from the data
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

import yaml

from .errors import HimnetError
from .localize import LocalizeConfig
from .settings import BaselineConfig, LossConfig, ModelConfig


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping settings (paper Sec. 4.1 defaults)."""

    model: str = "himnet"          # model variant: himnet | basnet | hamnet
    iterations: int = 10_000       # fixed number of Adam steps; the LAST iterate is the reported model
    batch_size: int = 10           # videos per batch
    n_pairs: int = 3               # co-action pairs per batch (videos sharing a class), Sec. 4.1
    seq_len: int = 560             # T: snippets sampled per training video
    sampling: str = "perturb"      # perturb (stratified random) | uniform
    lr: float = 3e-5
    weight_decay: float = 1e-3
    seed: int = 0
    log_interval: int = 50         # iterations averaged into one history.csv row
    eval_interval: int = 0         # test-set evaluation for learning curves only (0 = never)
    checkpoint_interval: int = 500  # atomic checkpoint every N iterations
    amp: str = "none"              # none | bf16 (autocast) | auto (bf16 where native: device.resolve_amp)
    # torch.optim.Adam(fused=True): one kernel per parameter instead of a loop of small ops; the same
    # update rule, though the rounding of the last bits may differ from the loop.
    fused_adam: bool = True
    select_on_test: bool = False   # peers' protocol: report the best test-set checkpoint (labelled in outputs)
    # Hyperparameter selection without the test set: > 0 holds out this fraction of the TRAINING
    # videos (with their ground truth, split by val_seed) and evaluates on them instead of the test
    # videos, which such a run never sees (himnet_lib.data.dataset.validation_view).
    val_fraction: float = 0.0
    val_seed: int = 0


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
            _assign(cfg, key, value)
        return cfg

    def identity(self) -> str:
        """Hash of every setting that can change the result (the run's identity)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


SECTIONS = ("train", "model", "loss", "localize", "baseline")

# Named readings of the paper (README / docs: "Where the paper is ambiguous"). A reading is a set of
# overrides applied right after the profile and before any other override, so a table row or
# ``--set`` can still change each key. ``literal`` is Eq. 1-11 as printed. ``lineage`` adds what the
# authors' previous code base (CO2-Net, itself from HAM-Net) always does and the paper does not list:
#   * model.supp = include_min: training Ŝ = A·(S - min_c S) + min_c S (CO2-Net criterion; its
#     tester, and ours, use the plain product at inference);
#   * loss.mil_target = normalized: label-normalised MIL target [y, β]/(Σy + β) without 1/(C+1)
#     (CO2-Net/HAM-Net topkloss);
#   * loss.extra_terms = (norm, mu): λ_norm·mean attention over the fused and per-modality
#     attentions (CO2-Net α1 = 0.8) and the RGB/flow attention mutual learning (CO2-Net α4 = 1).
# CO2-Net's guide term is not part of the lineage reading: Table 4 treats L_guide as the
# alternative that L_SCL replaces.
READINGS: dict[str, dict[str, Any]] = {
    "literal": {"model.supp": "product", "loss.mil_target": "paper", "loss.extra_terms": ()},
    "lineage": {"model.supp": "include_min", "loss.mil_target": "normalized",
                "loss.extra_terms": ("norm", "mu")},
}

# Named profiles: overrides of the defaults above (which are the paper's THUMOS14 settings).
PROFILES: dict[str, dict[str, Any]] = {
    # Seconds, for tests: tiny model and few iterations on the synthetic `smoke` preset.
    "smoke": {
        "train.iterations": 24, "train.batch_size": 6, "train.n_pairs": 2, "train.seq_len": 48,
        "train.lr": 1e-3, "train.log_interval": 4, "train.checkpoint_interval": 8,
        "model.attention_hidden": 16, "model.head_hidden": 32,
        "loss.topk_ratio": 8.0,
    },
    # The main job's default on the synthetic `demo` benchmark (128-d features). Reading, read-out,
    # lr, λ_norm (default 0.8), iterations and loss.balance are chosen on a validation fold of the
    # TRAINING videos, never on the test videos (notebooks 09 and 11, docs/findings.md).
    "demo": {
        "reading": "lineage",
        "train.iterations": 500, "train.batch_size": 10, "train.n_pairs": 3, "train.seq_len": 192,
        "train.lr": 1e-3, "train.log_interval": 25, "train.checkpoint_interval": 250,
        # bf16 autocast where the CPU/GPU computes bf16 natively (AMX, AVX512-BF16, CUDA sm80+), float32
        # elsewhere, where bf16 products fall back to slow kernels (docs/performance.md, ambiguities T4).
        "train.amp": "auto",
        "model.attention_hidden": 64, "model.head_hidden": 128,
        "localize.attention_norm": "minmax",
        # Eq. 11's weights as printed, chosen over loss.balance=reading (tables/balance_choice.md)
        "loss.balance": "printed",
    },
    # The paper's THUMOS14 settings (Sec. 4.1): 2048-d I3D, T = 560, k = 80, batch 10 with 3 pairs,
    # Adam lr 3e-5 wd 1e-3, 10,000 iterations, lambda1 = 1, lambda2 = 0.01, alpha = 4.
    # Precision is ours (the paper does not state it): bf16 autocast with float32 master weights
    # and float32 losses where bf16 is native ("auto"), float32 elsewhere (docs/performance.md).
    # Always float32: --set train.amp=none; always bf16: train.amp=bf16. Fused Adam as in every
    # profile (one optimizer code path); --set train.fused_adam=false for Adam's loop.
    "thumos14": {"train.amp": "auto"},
    # ActivityNet 1.3 (Sec. 4.1): T = 60, k = 6, 20,000 iterations, otherwise as THUMOS14.
    "activitynet13": {
        "train.amp": "auto",
        "train.iterations": 20_000, "train.seq_len": 60, "loss.topk_ratio": 10.0,
        "localize.class_topk_ratio": 10.0,
        "train.checkpoint_interval": 1000,
        "loss.balance_seq_len": 60,  # λ2 = 0.01 is the paper's at its ActivityNet T (loss.balance=reading)
    },
}


def profile_reading(name: str) -> str:
    """The reading a profile uses unless another is asked for ("literal" when it names none)."""
    return str(PROFILES.get(name, {}).get("reading", "literal"))


def profile_config(name: str, reading: str | None = None) -> RunConfig:
    """The profile's settings with a reading applied (default: the profile's own ``reading``)."""
    if name not in PROFILES:
        raise HimnetError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    cfg = RunConfig(profile=name)
    prof = {k: v for k, v in PROFILES[name].items() if k != "reading"}
    reading = reading or profile_reading(name)
    if reading not in READINGS:
        raise HimnetError(f"unknown reading {reading!r}; choose one of {', '.join(READINGS)}")
    for key, value in prof.items():
        _assign(cfg, key, value)
    cfg.reading = reading
    for key, value in READINGS[reading].items():
        _assign(cfg, key, value)
    return cfg


def parse_override(text: str) -> tuple[str, Any]:
    """``'loss.alpha=2'`` -> ``('loss.alpha', 2)``; the value is parsed as YAML (numbers, bools, lists)."""
    if "=" not in text:
        raise HimnetError(f"override {text!r} is not of the form key=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise HimnetError(f"override {text!r}: cannot parse value: {e}") from None
    return key.strip(), value


def apply_overrides(cfg: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    for key, value in overrides.items():
        _assign(cfg, _qualify(key), value)
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
    for section in ("model", "localize"):  # their __post_init__ checks (enums) after in-place overrides
        try:
            dataclasses.replace(getattr(cfg, section))
        except (TypeError, ValueError) as e:
            raise HimnetError(f"setting {section}: {e}") from None


def resolve_config(cfg: RunConfig, *, feature_dim: int, num_classes: int) -> RunConfig:
    """Fill in the dimensions that come from the data."""
    cfg.model = dataclasses.replace(cfg.model, feature_dim=int(feature_dim), num_classes=int(num_classes))
    return cfg


def build_config(profile: str, overrides: Mapping[str, Any] | None = None,
                 reading: str | None = None) -> RunConfig:
    """Profile, then its reading (``reading``, or an override ``"reading"``, or the profile's
    default), then the remaining overrides."""
    over = dict(overrides or {})
    reading = over.pop("reading", None) or reading
    cfg = apply_overrides(profile_config(profile, reading), over)
    if cfg.train.model != "himnet":
        # A baseline trains its own objective unless loss terms are asked for; the reading's
        # additions are HiM-Net's and do not apply to it.
        if not any(_qualify(k) == "loss.terms" for k in over):
            cfg.loss = dataclasses.replace(cfg.loss, terms=("mil",))
        cfg.loss = dataclasses.replace(cfg.loss, extra_terms=())
    return cfg


# ---------------------------------------------------------------------------------------------

def _qualify(key: str) -> str:
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


def _field_types(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _assign(cfg: RunConfig, key: str, value: Any) -> None:
    parts = key.split(".")
    target = cfg
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
        raise HimnetError(f"setting {key!r} expects true/false, got {value!r}")
    if typ is float:
        if isinstance(value, str):  # YAML 1.1 reads "5e-4" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise HimnetError(f"setting {key!r} expects a number, got {value!r}")
    if typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise HimnetError(f"setting {key!r} expects an integer, got {value!r}")
    if typ is str:
        if isinstance(value, str):
            return value
        raise HimnetError(f"setting {key!r} expects a string, got {value!r}")
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
