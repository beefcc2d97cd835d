"""The one place a device is chosen, the autocast context for the ``train.amp`` setting, and the
CPU allocator setting the trainer asks for."""

from __future__ import annotations

import ctypes
import sys
from contextlib import nullcontext

import torch

from .errors import RunError


def select_device(preference: str = "auto") -> torch.device:
    """The one place a device is chosen: CUDA when available (or asked for), else CPU."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


def autocast(device: torch.device, amp: str):
    """The autocast context of ``train.amp`` ("bf16" or "none") on ``device``."""
    if amp == "bf16":
        if device.type == "cuda" and torch.cuda.get_device_capability(device)[0] < 8:  # bf16: Ampere and later
            raise RunError(f"train.amp=bf16 but {torch.cuda.get_device_name(device)} has no bf16 support; "
                           "train in float32 with --set train.amp=none")
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if amp not in ("none", "", None):
        raise RunError(f"unknown amp mode {amp!r} (use none or bf16)")
    return nullcontext()


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3   # glibc mallopt parameters (malloc.h)
_allocator_tuned: bool | None = None


def tune_cpu_allocator() -> bool:
    """Keep freed tensor memory in this process's heap instead of returning it to the kernel.

    glibc serves blocks above its mmap threshold with fresh mappings, so every step's new
    activation tensors (0.1-3 MB here) page-fault on first touch (300-440 faults per demo step)
    and the kernel zeroes them. Raising the mmap threshold to its maximum (32 MiB) and the trim
    threshold to 256 MiB lets those blocks be reused: a 1.05-1.12x faster demo step in fresh-process
    measurements (`make bench`, part "allocator"; docs/performance.md). Process-wide and
    idempotent; a no-op (False) off glibc. Values are unaffected: only where memory comes from
    changes."""
    global _allocator_tuned
    if _allocator_tuned is None:
        ok = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL("libc.so.6")
                ok = (bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20))
                      and bool(libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)))
            except (OSError, AttributeError):
                ok = False
        _allocator_tuned = ok
    return _allocator_tuned
