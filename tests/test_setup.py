"""The Makefile's setup step (run first by ``make demo``, ``make test``, ``make lab``), executed with a
stand-in ``python`` in a temporary VENV that records its command lines instead of installing:
torch==2.13.0 comes from pip's configured index with everything else, or by itself from
``TORCH_INDEX``; a new TORCH_INDEX (or none after one) reinstalls torch, an unchanged one installs
nothing; the step ends by printing which build of torch it installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from himnet_lib.utils.paths import PROJECT_ROOT

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
MAIN = "-m pip install --quiet torch==2.13.0 -e .[dev,cluster]"
TORCH_ALONE = "-m pip install --quiet --no-deps --force-reinstall torch==2.13.0"
TORCH_FROM_CPU_INDEX = f"-m pip install --quiet --no-deps --force-reinstall --index-url {CPU_INDEX} torch==2.13.0"
# records its arguments, one call a line, in <venv>/calls.log
STUB = '#!/bin/sh\necho "$*" >> "$(dirname "$0")/../calls.log"\n'


@pytest.fixture
def venv(tmp_path):
    if not shutil.which("make"):
        pytest.skip("make not found")
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(STUB)
    (bin_dir / "python").chmod(0o755)
    return tmp_path / "venv"


def _setup(venv, torch_index: str | None = None) -> list[str]:
    """The python command lines that ``make setup`` ran."""
    log = venv / "calls.log"
    log.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("TORCH_INDEX", "MAKEFLAGS")}
    args = [f"TORCH_INDEX={torch_index}"] if torch_index is not None else []
    proc = subprocess.run(["make", "--no-print-directory", "-C", str(PROJECT_ROOT), "setup", f"VENV={venv}", *args],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return log.read_text().splitlines() if log.exists() else []


def _is_build_report(call: str) -> bool:
    return call.startswith("-c import torch")


def test_torch_index_installs_torch_alone_and_a_change_reinstalls(venv):
    calls = _setup(venv)  # a fresh venv: torch with the rest, from the configured index
    assert calls[:1] == [MAIN] and len(calls) == 2 and _is_build_report(calls[1]), calls
    assert _setup(venv) == []  # up to date

    calls = _setup(venv, CPU_INDEX)
    assert calls[:2] == [TORCH_FROM_CPU_INDEX, MAIN] and len(calls) == 3 and _is_build_report(calls[2]), calls
    assert _setup(venv, CPU_INDEX) == []

    calls = _setup(venv)  # TORCH_INDEX dropped: torch again from the configured index
    assert calls[:2] == [TORCH_ALONE, MAIN] and len(calls) == 3, calls
    assert _setup(venv) == []


def test_an_environment_from_before_torch_index_keeps_its_torch(venv):
    # a .venv set up by the Makefile before TORCH_INDEX existed: one stamp, no torch stamp
    (venv / ".installed-1234").touch()
    calls = _setup(venv)
    assert calls[:1] == [MAIN] and len(calls) == 2, calls


def test_the_build_report_names_this_torch(venv):
    torch = pytest.importorskip("torch")
    if torch.version.cuda or getattr(torch.version, "hip", None):
        pytest.skip("the expected line below is the CPU build's")
    code = _setup(venv)[-1].removeprefix("-c ")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == f"installed torch {torch.__version__}: CPU-only build\n"
