"""Training leaves the process as it found it: torch's threads and deterministic mode, the CPU
allocator setting and the global random generators come back after ``train_run``
(:func:`himnet_lib.utils.process_state.restored_process_settings`)."""

from __future__ import annotations

import dataclasses
import json
import platform
import random

import numpy as np
import pytest
import torch
from mmap_probe import has_mallinfo2, mmap_growth

import himnet_lib.engine.train as train_mod
from himnet_lib.config.profiles import build_config
from himnet_lib.utils import seeding
from himnet_lib.utils.device import cpu_allocator_tuned, reset_cpu_allocator, tune_cpu_allocator
from himnet_lib.utils.process_state import process_settings, restored_process_settings


def _caller_state() -> None:
    """A state that differs from what training sets, so that a missing restore shows."""
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(False)
    torch.utils.deterministic.fill_uninitialized_memory = True
    reset_cpu_allocator()
    random.seed(11)
    np.random.seed(12)
    torch.manual_seed(13)


def _rng_states() -> tuple:
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _same_rng(a: tuple, b: tuple) -> bool:
    return (a[0] == b[0] and all(np.array_equal(x, y) for x, y in zip(a[1], b[1]))
            and torch.equal(a[2], b[2]))


def test_train_run_restores_settings_and_random_states(smoke_root, tmp_path, monkeypatch):
    threads = torch.get_num_threads()
    _caller_state()
    before, rng_before = process_settings(), _rng_states()
    during = []
    seeded = seeding.seed_everything

    def spy(seed, deterministic=True):
        gen = seeded(seed, deterministic)
        during.append(process_settings())
        return gen

    monkeypatch.setattr(train_mod, "seed_everything", spy)
    cfg = build_config("smoke")
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, iterations=12))
    try:
        train_mod.train_run(cfg, smoke_root, tmp_path / "run", num_threads=1, progress=False, log=lambda s: None)
        # the run did change the process (else this test could not fail) ...
        assert during and during[0].num_threads == 1 and during[0].deterministic
        assert not during[0].fill_uninitialized_memory
        if platform.libc_ver()[0] == "glibc":
            assert during[0].cpu_allocator_tuned
        # ... and gave it back
        assert process_settings() == before
        assert _same_rng(_rng_states(), rng_before)
    finally:
        torch.set_num_threads(threads)


def test_restored_on_an_exception():
    threads = torch.get_num_threads()
    _caller_state()
    before, rng_before = process_settings(), _rng_states()
    with pytest.raises(RuntimeError, match="boom"), restored_process_settings():
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.utils.deterministic.fill_uninitialized_memory = False
        torch.set_float32_matmul_precision("medium")
        tune_cpu_allocator()
        torch.rand(3), np.random.rand(3), random.random()
        assert process_settings() != before
        raise RuntimeError("boom")
    assert process_settings() == before
    assert _same_rng(_rng_states(), rng_before)
    assert not cpu_allocator_tuned()
    torch.set_num_threads(threads)


def test_allocator_setting_is_undone():
    # tuned inside the context, then a 64 MiB tensor after it: mmapped again, as by default
    if not has_mallinfo2():
        pytest.skip("glibc >= 2.33 only (mallinfo2)")
    assert mmap_growth("restored") >= 64 << 20


_KERNEL_CODE = r'''
import dataclasses, json, random
import numpy as np, torch
from himnet_lib.config.profiles import build_config
from himnet_lib.utils.process_state import process_settings
from himnet_lib.engine.train import train_run
torch.set_num_threads(2)
before = process_settings()
cfg = build_config("smoke")
cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, iterations=4))
random.seed(1); np.random.seed(1); torch.manual_seed(1)
expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
random.seed(1); np.random.seed(1); torch.manual_seed(1)
train_run(cfg, DATA, RUN, num_threads=1, progress=False, log=lambda s: None)
after = (random.random(), float(np.random.rand()), float(torch.rand(1)))
print(json.dumps({"settings_kept": process_settings() == before, "draws_kept": after == expected,
                  "threads": torch.get_num_threads()}))
'''


@pytest.mark.slow
def test_a_notebook_kernel_is_left_as_it_was(smoke_root, tmp_path):
    """The same check in a Jupyter kernel (as a notebook calls train_run): its settings and the
    next random draws after training are those it would have had without training."""
    jupyter_client = pytest.importorskip("jupyter_client")
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try:
        code = f"DATA, RUN = {str(smoke_root)!r}, {str(tmp_path / 'run')!r}\n" + _KERNEL_CODE
        lines = []
        reply = kc.execute_interactive(
            code, timeout=300,
            output_hook=lambda m: lines.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    result = [ln for ln in "".join(lines).splitlines() if ln.startswith("{")]
    assert json.loads(result[-1]) == {"settings_kept": True, "draws_kept": True, "threads": 2}
