"""Process-wide state that training changes, and a context that gives it back.

A run sets torch's thread count, deterministic mode (and its uninitialised-memory fill), cuDNN's
autotuner, the CPU allocator (:func:`himnet_lib.utils.device.tune_cpu_allocator`) and seeds the global
random generators of python, numpy and torch. :func:`restored_process_settings` records all of
it on entry and sets it back on exit, so that a notebook kernel or a benchmark that trains is left
as it was. torch's inter-op thread count is recorded too; torch cannot change it once parallel
work has run, so nothing here sets it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from himnet_lib.utils.device import cpu_allocator_tuned, reset_cpu_allocator

__all__ = ["ProcessSettings", "process_settings", "restored_process_settings"]


@dataclass(frozen=True)
class ProcessSettings:
    """The process-wide torch and allocator settings (comparable with ``==``)."""

    num_threads: int
    num_interop_threads: int
    deterministic: bool
    deterministic_warn_only: bool
    fill_uninitialized_memory: bool
    cudnn_benchmark: bool
    cudnn_deterministic: bool
    float32_matmul_precision: str
    cpu_allocator_tuned: bool


def process_settings() -> ProcessSettings:
    """The current :class:`ProcessSettings`."""
    return ProcessSettings(
        num_threads=torch.get_num_threads(),
        num_interop_threads=torch.get_num_interop_threads(),
        deterministic=torch.are_deterministic_algorithms_enabled(),
        deterministic_warn_only=torch.is_deterministic_algorithms_warn_only_enabled(),
        fill_uninitialized_memory=bool(torch.utils.deterministic.fill_uninitialized_memory),  # type: ignore[attr-defined]
        cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
        cudnn_deterministic=bool(torch.backends.cudnn.deterministic),
        float32_matmul_precision=torch.get_float32_matmul_precision(),
        cpu_allocator_tuned=cpu_allocator_tuned(),
    )


def _apply(s: ProcessSettings) -> None:
    if torch.get_num_threads() != s.num_threads:
        torch.set_num_threads(s.num_threads)
    torch.use_deterministic_algorithms(s.deterministic, warn_only=s.deterministic_warn_only)
    torch.utils.deterministic.fill_uninitialized_memory = s.fill_uninitialized_memory  # type: ignore[attr-defined]
    torch.backends.cudnn.benchmark = s.cudnn_benchmark
    torch.backends.cudnn.deterministic = s.cudnn_deterministic
    torch.set_float32_matmul_precision(s.float32_matmul_precision)
    if not s.cpu_allocator_tuned:
        reset_cpu_allocator()


@contextmanager
def restored_process_settings() -> Iterator[ProcessSettings]:
    """Record the :class:`ProcessSettings` and the global random states, give both back on exit
    (also on an exception). Usable as a decorator: ``@restored_process_settings()``.

    CUDA's generators are restored only when CUDA was initialised on entry (reading them would
    initialise it)."""
    saved = process_settings()
    py, npy, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield saved
    finally:
        _apply(saved)
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
