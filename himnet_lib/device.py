"""The one place a device is chosen, and the autocast context for the ``train.amp`` setting."""

from __future__ import annotations

from contextlib import nullcontext

import torch

from .errors import RunError


def select_device(preference: str = "auto") -> torch.device:
    """The one place a device is chosen: CUDA when available (or asked for), else CPU."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


def autocast(device: torch.device, amp: str):
    if amp == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if amp not in ("none", "", None):
        raise RunError(f"unknown amp mode {amp!r} (use none or bf16)")
    return nullcontext()
