"""Executing a notebook by papermill: into a temporary file private to the call, then renamed over
the output, with volatile metadata scrubbed so that reruns differ only in real changes."""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from himnet_lib.utils.errors import RunError
from himnet_lib.utils.fileio import atomic_write_text
from himnet_lib.utils.paths import notebooks_dir

__all__ = ["execute_notebook"]


_env_lock = threading.Lock()
_env_users = 0
_env_saved: str | None = None


@contextmanager
def _tqdm_disabled():
    """TQDM_DISABLE=1 while any notebook of this process runs (papermill passes the environment on
    to the kernel); counted, so that notebooks executed by several threads at once leave it right."""
    global _env_users, _env_saved
    with _env_lock:
        if _env_users == 0:
            _env_saved = os.environ.get("TQDM_DISABLE")
            os.environ["TQDM_DISABLE"] = "1"
        _env_users += 1
    try:
        yield
    finally:
        with _env_lock:
            _env_users -= 1
            if _env_users == 0:
                if _env_saved is None:
                    os.environ.pop("TQDM_DISABLE", None)
                else:
                    os.environ["TQDM_DISABLE"] = _env_saved


def _private_name(path: Path, tag: str) -> Path:
    """A temporary sibling of ``path`` that no other process or thread uses (host, pid, random suffix)."""
    return path.with_name(f".{path.name}.{tag}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}.ipynb")


def _remove_stale(path: Path, tag: str) -> None:
    """Remove temporary siblings of ``path`` left by killed processes of this host."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.{tag}-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{{8}}\.ipynb$")
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return
    for p in siblings:
        m = pattern.match(p.name)
        if not m or m["host"] != socket.gethostname() or int(m["pid"]) == os.getpid():
            continue
        try:
            os.kill(int(m["pid"]), 0)
        except ProcessLookupError:
            p.unlink(missing_ok=True)
        except PermissionError:  # another user's live process
            pass


def execute_notebook(name: str, out_path: Path, parameters: dict[str, Any], *,
                     cell_timeout: float | None = None) -> Path:
    """Execute ``notebooks/<name>`` by papermill into ``out_path``; volatile metadata is scrubbed.

    ``cell_timeout``: seconds a cell may run (None: no limit, as a study cell may train for an
    hour); the tests set one, so that a hung kernel connection fails the test instead of the CI job.

    The notebook is executed into a temporary file private to this process and call, then renamed
    over ``out_path``: two processes executing the same notebook never write the same file, and
    ``out_path`` is always a complete notebook (the last one to finish wins). The temporary file
    never outlives the call: a failed notebook is kept as ``<name>.failed.ipynb`` beside
    ``out_path`` (replaced by the next failure, removed by the next success), an interrupted one is
    removed, and those of killed processes are removed by the next call."""
    import papermill as pm

    from himnet_lib.engine.kernels import LocalKernelManager
    src = notebooks_dir() / name
    if not src.suffix:
        src = src.with_suffix(".ipynb")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out_path, "running")
    tmp = _private_name(out_path, "running")
    failed = out_path.with_name(out_path.stem + ".failed.ipynb")
    try:
        try:
            with _tqdm_disabled():
                pm.execute_notebook(str(src), str(tmp), parameters=parameters, cwd=str(notebooks_dir()),
                                    kernel_name="python3", progress_bar=False, log_output=False,
                                    execution_timeout=cell_timeout, kernel_manager_class=LocalKernelManager)
        except Exception as e:  # papermill raises its own types; keep the partial notebook for the user
            kept = ""
            if tmp.exists():
                os.replace(tmp, failed)
                kept = f" (partial output in {failed})"
            raise RunError(f"notebook {src.name} failed{kept}: {e}") from e
        _scrub_notebook(tmp, out_path)
        os.replace(tmp, out_path)
        failed.unlink(missing_ok=True)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def _scrub_notebook(path: Path, final: Path | None = None) -> None:
    """Drop timestamps and durations, name the final output path instead of the private temporary
    one, and give papermill's injected cell a fixed id, so that reruns of the same study differ only
    in real changes."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    nb.metadata.get("papermill", {}).pop("start_time", None)
    nb.metadata.get("papermill", {}).pop("end_time", None)
    nb.metadata.get("papermill", {}).pop("duration", None)
    if final is not None and "papermill" in nb.metadata:
        nb.metadata["papermill"]["output_path"] = str(final)
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"
        pmeta = cell.metadata.get("papermill")
        if pmeta:
            for k in ("start_time", "end_time", "duration"):
                pmeta.pop(k, None)
        cell.metadata.pop("execution", None)
    atomic_write_text(path, nbformat.writes(nb))
