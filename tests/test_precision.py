"""The training precision setting: ``train.amp`` = none | bf16 | auto, where auto is bf16 only on
hardware that computes bf16 natively (elsewhere torch's bf16 products fall back to a kernel that
is hundreds of times slower than float32)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from himnet_lib.utils import device as device_mod
from himnet_lib.utils.device import autocast, native_bf16, resolve_amp
from himnet_lib.utils.errors import RunError

CPU = torch.device("cpu")


def _cpu_flags() -> set[str] | None:
    """The CPU's feature flags as the kernel lists them (an independent source from torch's)."""
    path = Path("/proc/cpuinfo")
    if not sys.platform.startswith("linux") or not path.exists():
        return None
    for line in path.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return None


def test_native_bf16_agrees_with_the_kernels_cpu_flags():
    flags = _cpu_flags()
    if flags is None:
        pytest.skip("needs /proc/cpuinfo")
    assert native_bf16(CPU) == bool({"avx512_bf16", "amx_bf16"} & flags)


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bf16_only_where_native(monkeypatch, native):
    monkeypatch.setattr(device_mod, "native_bf16", lambda dev: native)
    assert resolve_amp("auto", CPU) == ("bf16" if native else "none")
    # explicit settings are kept whatever the hardware
    assert resolve_amp("bf16", CPU) == "bf16"
    assert resolve_amp("none", CPU) == "none"
    a = torch.randn(4, 8)
    with autocast(CPU, "auto"):
        out = a @ a.t()
    assert out.dtype == (torch.bfloat16 if native else torch.float32)


def test_unknown_amp_mode_is_named():
    with pytest.raises(RunError, match="'fp16'"):
        resolve_amp("fp16", CPU)
    with pytest.raises(RunError, match="'fp16'"):
        autocast(CPU, "fp16")
