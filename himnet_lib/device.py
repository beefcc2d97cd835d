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


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4   # glibc mallopt parameters (malloc.h)
_allocator_tuned: bool | None = None


def tune_cpu_allocator() -> bool:
    """Keep freed tensor memory in this process's heap instead of returning it to the kernel.

    glibc serves blocks above its mmap threshold with fresh mappings, so every step's new
    activation tensors page-fault on first touch and the kernel zeroes them: 300-440 faults per
    demo step (0.1-3 MB tensors), 60,000-125,000 per paper-scale step (tensors of 20-70 MB, above
    the largest mmap threshold glibc accepts, 32 MiB). So the mmap threshold goes to that maximum,
    the trim threshold to 256 MiB, and no block is served by mmap at all (``M_MMAP_MAX`` = 0; glibc
    still falls back to mmap where the heap cannot grow): freed blocks of any size are reused by
    the next step. Demo step 1.03-1.12x, paper-scale step 1.25-1.30x (`make bench`, part
    "allocator", fresh processes; docs/performance.md). Process-wide and idempotent; a no-op
    (False) off glibc. Values are unaffected: only where memory comes from changes. The cost is
    that freed memory below the heap's top is kept by the process (reused, not returned)."""
    global _allocator_tuned
    if _allocator_tuned is None:
        ok = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL("libc.so.6")
                ok = (bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20))
                      and bool(libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20))
                      and bool(libc.mallopt(_M_MMAP_MAX, 0)))
            except (OSError, AttributeError):
                ok = False
        _allocator_tuned = ok
    return _allocator_tuned
