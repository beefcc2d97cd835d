"""Where things are: the checkout, the benchmarks folder, the recorded results; and the
environment of a child process that must import the checkout's himnet_lib."""

from __future__ import annotations

import os
from pathlib import Path

from himnet_lib.utils.paths import PROJECT_ROOT as ROOT

BENCH_DIR = ROOT / "timing"
RESULTS = ROOT / "results" / "timing"


def child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))


def shown(path: Path) -> str:
    """``path`` relative to the checkout where it lies inside it (the JSON stays machine-free)."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)
