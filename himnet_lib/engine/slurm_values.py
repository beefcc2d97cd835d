"""The values of the Slurm settings, checked where they enter (a ``--cluster`` file, a ``--slurm-*``
option, ``--slurm-set``, a notebook's ``slurm`` dict): time limits (:func:`parse_time`,
:func:`format_minutes`) and :func:`check_settings`, which names the setting and where it came from.
No submitit and no Slurm command here: :mod:`himnet_lib.engine.slurm` submits."""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

from himnet_lib.utils.errors import HimnetError


def parse_time(value: Any) -> int:
    """Minutes of a Slurm time limit: ``90``, ``"90"``, ``"MM:SS"``, ``"HH:MM:SS"``, ``"D-HH"``,
    ``"D-HH:MM"``, ``"D-HH:MM:SS"``; rounded up to whole minutes."""
    text = str(value).strip()
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if isinstance(value, bool) or not m or (m[1] is None and m[3] is None and m[4] is not None):
        raise HimnetError(f"slurm time {value!r}: use minutes, MM:SS, HH:MM:SS or D-HH[:MM[:SS]]")
    days, b, c = (int(x) if x is not None else None for x in (m[1], m[3], m[4]))
    a = int(m[2])
    if days is not None:  # D-HH[:MM[:SS]]
        seconds = days * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
    elif c is not None:  # HH:MM:SS
        seconds = a * 3600 + (b or 0) * 60 + c
    elif b is not None:  # MM:SS
        seconds = a * 60 + b
    else:
        seconds = a * 60
    if seconds <= 0:
        raise HimnetError(f"slurm time {value!r} must be positive")
    return math.ceil(seconds / 60)


def format_minutes(minutes: int) -> str:
    d, rest = divmod(int(minutes), 1440)
    return (f"{d}-" if d else "") + f"{rest // 60:02d}:{rest % 60:02d}:00"


def _count(minimum: int):
    def check(v: Any) -> str | None:
        ok = isinstance(v, int) and not isinstance(v, bool) and minimum <= v < 2**31
        return None if ok else f"must be a whole number >= {minimum}"
    return check


def _name(v: Any) -> str | None:
    return None if isinstance(v, str) and v.strip() else "must be a name (text; quote it in YAML if it is a number)"


def _time(v: Any) -> str | None:
    try:
        parse_time(v)
    except HimnetError as e:
        return str(e).removeprefix(f"slurm time {v!r}").lstrip(": ") or "is not a time limit"
    return None


def _mem(v: Any) -> str | None:
    ok = (isinstance(v, str) and v.strip()) or (isinstance(v, int) and not isinstance(v, bool) and v >= 1)
    return None if ok else "must be a size such as 8G or 500M (or megabytes as a whole number)"


# the named settings (the --slurm-* options) and what each must be
RULES = {"partition": _name, "account": _name, "qos": _name, "time": _time, "cpus_per_task": _count(1),
         "gpus_per_task": _count(0), "mem": _mem}


def check_settings(cfg: Mapping[str, Any], origin: str) -> None:
    """Refuse a setting whose value cannot be what Slurm (or submitit) takes, naming it and ``origin``
    (``"cluster file x.yaml"``, ``"--slurm-set"``, ...): a named setting against :data:`RULES`,
    any other a plain value (text, a whole number, true/false, a finite number);
    ``additional_parameters`` a mapping of such values."""
    for key, value in cfg.items():
        if key == "additional_parameters":
            if not isinstance(value, Mapping):
                raise HimnetError(f"{origin}: setting additional_parameters must be a mapping of sbatch options, "
                                  f"got {value!r}")
            check_settings({str(k): v for k, v in value.items()}, f"{origin} (additional_parameters)")
            continue
        if value is None:
            raise HimnetError(f"{origin}: setting {key} has no value")
        rule = RULES.get(key)
        problem = rule(value) if rule else None
        if rule is None and (isinstance(value, (dict, list, tuple)) or (isinstance(value, float)
                                                                         and not math.isfinite(value))):
            problem = "must be a single finite value"
        if problem:
            raise HimnetError(f"{origin}: setting {key} {problem}, got {value!r}")
