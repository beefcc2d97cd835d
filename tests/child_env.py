"""The environment for a test's child processes (himnet CLI, notebook kernels): this checkout's
himnet_lib first, Jupyter and IPython state under the test's own folder, quiet progress bars."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

WORKTREE = Path(__file__).resolve().parents[1]


def child_env(tmp: Path, base: Mapping[str, str] | None = None) -> dict:
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join([str(WORKTREE), *filter(None, [os.environ.get("PYTHONPATH")])])
    for var in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        env[var] = str(tmp / "jupyter" / var.lower())
        Path(env[var]).mkdir(parents=True, exist_ok=True)
    env.setdefault("MPLCONFIGDIR", str(WORKTREE / ".cache" / "matplotlib"))
    env.update(TQDM_DISABLE="1", PYDEVD_DISABLE_FILE_VALIDATION="1", OMP_NUM_THREADS="1")
    return env
