"""Training settings that change speed, not results: no fill of uninitialised memory (results
identical to filling it), the fused Adam option, the CPU allocator setting."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys

import pytest
import torch
from mmap_probe import has_mallinfo2, mmap_growth

import himnet_lib.engine.train as train_mod
from himnet_lib.config.profiles import build_config
from himnet_lib.utils import seeding
from himnet_lib.utils.device import tune_cpu_allocator
from himnet_lib.utils.seeding import seed_everything


def _smoke_cfg(amp: str, **train):
    cfg = build_config("smoke")
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, iterations=12, amp=amp, **train))


def test_seed_everything_turns_the_uninitialised_fill_off():
    torch.utils.deterministic.fill_uninitialized_memory = True
    try:
        seed_everything(0)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.utils.deterministic.fill_uninitialized_memory is False
    finally:  # process-wide settings: leave them as torch's defaults for the other tests
        torch.use_deterministic_algorithms(False)
        torch.utils.deterministic.fill_uninitialized_memory = True


def test_results_do_not_depend_on_filling_uninitialised_memory(smoke_root, tmp_path, monkeypatch):
    """If any code read memory before writing it, filling new tensors with NaN would change (or
    poison) the results; with the fill on and off, predictions are byte-identical."""
    orig = seeding.seed_everything
    got = {}
    for amp in ("none", "bf16"):
        for fill in (True, False):
            def seeded(seed, deterministic=True, _fill=fill):
                gen = orig(seed, deterministic)
                torch.utils.deterministic.fill_uninitialized_memory = _fill
                return gen
            monkeypatch.setattr(train_mod, "seed_everything", seeded)
            run = tmp_path / f"{amp}-{fill}"
            m = train_mod.train_run(_smoke_cfg(amp), smoke_root, run, num_threads=1, progress=False,
                                    log=lambda s: None)
            got[(amp, fill)] = (m["average_mAP"], (run / "predictions.json").read_bytes())
    torch.use_deterministic_algorithms(False)
    torch.utils.deterministic.fill_uninitialized_memory = True
    for amp in ("none", "bf16"):
        assert got[(amp, True)] == got[(amp, False)], amp


def test_fused_adam_is_the_default_and_can_be_turned_off():
    model = torch.nn.Linear(3, 2)
    cfg = build_config("demo").train
    assert cfg.fused_adam
    assert train_mod.make_optimizer(model, cfg).defaults["fused"] is True
    plain = train_mod.make_optimizer(model, dataclasses.replace(cfg, fused_adam=False))
    assert not plain.defaults["fused"]
    assert plain.defaults["lr"] == cfg.lr and plain.defaults["weight_decay"] == cfg.weight_decay


def test_fused_and_plain_adam_take_the_same_steps():
    """Same update rule: after 20 steps the weights agree to float32 rounding."""
    weights = {}
    for fused in (True, False):
        torch.manual_seed(0)
        model = torch.nn.Linear(16, 4)
        opt = train_mod.make_optimizer(model, dataclasses.replace(build_config("demo").train, fused_adam=fused))
        g = torch.Generator().manual_seed(1)
        for _ in range(20):
            loss = model(torch.randn(8, 16, generator=g)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        weights[fused] = model.weight.detach().clone()
    torch.testing.assert_close(weights[True], weights[False], rtol=1e-5, atol=1e-6)


def test_tune_cpu_allocator_applies_on_glibc_and_is_idempotent():
    first = tune_cpu_allocator()
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert first is True  # all three mallopt calls accepted (values within glibc's limits)
    assert tune_cpu_allocator() is first


def test_tune_cpu_allocator_serves_large_tensors_from_the_heap():
    """Large blocks (paper-scale activations are 20-70 MB) no longer come from fresh mappings that
    fault on every step: with the setting, a 64 MiB tensor adds nothing to glibc's mmapped bytes;
    without it, it adds at least 64 MiB (so the check can fail)."""
    if not has_mallinfo2():
        pytest.skip("glibc >= 2.33 only (mallinfo2)")
    if os.environ.get("LD_PRELOAD"):  # jemalloc/tcmalloc replace glibc's malloc: nothing to see
        pytest.skip("an allocator is preloaded (LD_PRELOAD)")
    grown = {mode: mmap_growth(mode) for mode in ("default", "tuned")}
    if grown["default"] == 0:  # e.g. MALLOC_MMAP_MAX_=0 set in the environment: no contrast
        pytest.skip("glibc serves 64 MiB from the heap even by default here")
    assert grown["default"] >= 64 << 20
    assert grown["tuned"] == 0
