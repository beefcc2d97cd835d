"""The environment for a test's child processes (himnet CLI, notebook kernels): this checkout's
himnet_lib first, Jupyter and IPython state under the test's own folder, quiet progress bars."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Mapping

WORKTREE = Path(__file__).resolve().parents[1]


def default_signals() -> None:
    """``preexec_fn`` for a child that is sent Ctrl-C: SIGINT and SIGTERM at their defaults, whatever
    this process inherited (a shell's background job, nohup or a CI runner may ignore SIGINT, and
    an ignored SIGINT stays ignored in every child: Python then installs no KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def child_env(tmp: Path, base: Mapping[str, str] | None = None) -> dict:
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join([str(WORKTREE), *filter(None, [os.environ.get("PYTHONPATH")])])
    for var in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        env[var] = str(tmp / "jupyter" / var.lower())
        Path(env[var]).mkdir(parents=True, exist_ok=True)
    env.setdefault("MPLCONFIGDIR", str(WORKTREE / ".cache" / "matplotlib"))
    env.update(TQDM_DISABLE="1", PYDEVD_DISABLE_FILE_VALIDATION="1", OMP_NUM_THREADS="1")
    return env
