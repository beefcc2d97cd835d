"""The one place a device is chosen, the autocast context for the ``train.amp`` setting, and the
CPU allocator setting the trainer asks for (with its undo)."""

from __future__ import annotations

import ctypes
import functools
import sys
from contextlib import nullcontext

import torch

from himnet_lib.utils.errors import HimnetError, RunError


def select_device(preference: str = "auto") -> torch.device:
    """The one place a device is chosen: CUDA when available (or asked for), else CPU."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


@functools.cache  # a property of the machine; autocast asks once per training iteration
def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 products in hardware: a CUDA GPU of compute capability 8
    or later, or a CPU with AVX512-BF16 or AMX tiles. Elsewhere torch's CPU bf16 products fall back
    to a generic kernel: 0.3 GFLOP/s against 119 in float32 for a 2048 x 2048 product on a 2-core
    AMD EPYC (Zen 3, AVX2 only), so a bf16 step there is 6x (demo) to hundreds of times (paper
    scale) slower than float32."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device)[0] >= 8
    if device.type != "cpu":
        return False
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(check()) for check in checks if check is not None)


def resolve_amp(amp: str, device: torch.device) -> str:
    """The precision ``train.amp`` means on ``device``: "bf16" or "none"; "auto" is "bf16" where
    the device computes bf16 natively (:func:`native_bf16`) and "none" (float32) elsewhere."""
    if amp == "auto":
        return "bf16" if native_bf16(device) else "none"
    if amp in ("none", "", None):
        return "none"
    if amp != "bf16":
        raise RunError(f"unknown amp mode {amp!r} (use none, bf16 or auto)")
    return "bf16"


def autocast(device: torch.device, amp: str):
    """The autocast context of ``train.amp`` ("bf16", "none" or "auto", :func:`resolve_amp`) on
    ``device``."""
    amp = resolve_amp(amp, device)
    if amp == "bf16":
        if device.type == "cuda" and not native_bf16(device):  # bf16 asked for explicitly: Ampere and later
            raise RunError(f"train.amp=bf16 but {torch.cuda.get_device_name(device)} has no bf16 support; "
                           "train in float32 with --set train.amp=none")
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
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
                # Every setting is attempted and the result is True only if all were accepted.
                # The mmap threshold no longer decides anything while M_MMAP_MAX is 0; it is set
                # so that code re-enabling mmap later still gets the largest threshold, and
                # setting it fixes glibc's otherwise self-adjusting thresholds.
                accepted = [bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)),
                            bool(libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)),
                            bool(libc.mallopt(_M_MMAP_MAX, 0))]
                ok = all(accepted)
            except (OSError, AttributeError):
                ok = False
        _allocator_tuned = ok
    return _allocator_tuned


# glibc's initial values (mallopt(3)); what reset_cpu_allocator sets back
_GLIBC_DEFAULTS = ((_M_MMAP_THRESHOLD, 128 << 10), (_M_TRIM_THRESHOLD, 128 << 10), (_M_MMAP_MAX, 65536))


def cpu_allocator_tuned() -> bool:
    """Whether :func:`tune_cpu_allocator` is in effect in this process."""
    return bool(_allocator_tuned)


def reset_cpu_allocator() -> None:
    """Undo :func:`tune_cpu_allocator`: glibc's initial thresholds and mmap count again. glibc's
    self-adjusting mmap threshold stays fixed at its initial value (mallopt cannot switch it back
    on); a no-op when the setting is not in effect."""
    global _allocator_tuned
    if _allocator_tuned:
        libc = ctypes.CDLL("libc.so.6")
        for param, value in _GLIBC_DEFAULTS:
            libc.mallopt(param, value)
    _allocator_tuned = None


def check_device(preference: str) -> None:
    """Refuse, before any work starts, a device name torch does not know or a CUDA device this
    machine does not have (one :class:`HimnetError` line naming ``--device``)."""
    if preference == "auto":
        return
    try:
        dev = torch.device(preference)
    except (RuntimeError, ValueError, TypeError):
        raise HimnetError(f"--device {preference!r} is not a device (auto, cpu, cuda or cuda:N)") from None
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0 or (dev.index or 0) >= n:
            raise HimnetError(f"--device {preference}: this machine has {n} CUDA device(s) torch can use")
