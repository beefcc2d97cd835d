"""The machine a result was measured on: its key (hostname-free), its description in the JSON, and
its matrix-product peak."""

from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path

import torch

from himnet_lib.utils.device import native_bf16, resolve_amp


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_slug() -> str:
    """A slug of the CPU model name and core count: the result file's name."""
    name = re.sub(r"\((r|tm|c)\)", "", cpu_model().lower())
    name = re.sub(r"\b(cpu|processor|with|radeon graphics)\b", " ", name)
    name = re.sub(r"@.*", "", name)
    slug = re.sub(r"[^a-z0-9]+", "-", name).strip("-") or "cpu"
    return f"{slug}-{os.cpu_count()}c"


def fast_amp() -> str:
    """The profiles' ``train.amp=auto`` on this CPU: the precision every "fast" number uses."""
    return "bf16" if resolve_amp("auto", torch.device("cpu")) == "bf16" else "fp32"


def describe() -> dict:
    """The JSON's machine fields."""
    return {"machine": machine_slug(), "cpu_model": cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__,
            "python": platform.python_version(), "native_bf16": native_bf16(torch.device("cpu")),
            "fast_amp": fast_amp()}


def load_average() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def matmul_peak(dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    """Best-of-``reps`` GFLOP/s of one n x n x n matrix product."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9
