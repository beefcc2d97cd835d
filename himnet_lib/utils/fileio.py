"""Atomic file writes: results are written to a temporary file and renamed into place,
so an interrupted process never leaves a half-written file over a good one."""

from __future__ import annotations

import glob
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import IO, Any, Callable, Mapping

import numpy as np

# Temporary files older than this are leftovers of a killed writer (a live write takes seconds).
STALE_TMP_SECONDS = 3600.0


def umask_mode(base: int = 0o666) -> int:
    """The permissions ``open()`` (files, base 0o666) or ``mkdir`` (0o777) would give under the umask."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def remove_stale_tmp(path: str | os.PathLike, max_age: float = STALE_TMP_SECONDS) -> int:
    """Delete ``.<name>.*.tmp`` files beside ``path`` older than ``max_age`` seconds (what a killed
    writer of ``path`` left); younger ones may belong to a writer still running. Returns the count."""
    path = Path(path)
    now, n = time.time(), 0
    try:
        leftovers = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    except OSError:
        return 0
    for tmp in leftovers:
        try:
            if now - tmp.stat().st_mtime > max_age:
                tmp.unlink()
                n += 1
        except OSError:
            pass
    return n


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, fsync, then rename over ``path``.
    The file gets the umask's permissions (as ``open()`` would give), the temporary file is removed
    on every exit path, and stale ones of earlier killed writers of ``path`` are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, umask_mode())  # mkstemp creates 0600
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and e.filename is None:  # fsync/write errors name no file: name it
            raise OSError(e.errno, e.strerror or str(e), str(path)) from e
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text), mode="w")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON with sorted keys and a trailing newline, for stable diffs."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_npz(f: IO[bytes], arrays: Mapping[str, np.ndarray], compresslevel: int = 1) -> None:
    """``np.savez_compressed`` with a chosen zlib level (numpy's is fixed at 6): the same ``.npz``
    format, read by ``np.load``. A run's outputs (float32 model outputs) compress by only ~27 %;
    level 1 keeps almost all of that (2 % larger files) and writes 3x faster (0.29 vs 0.90 s)."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as z:
        for name, a in arrays.items():
            with z.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(a), allow_pickle=False)


# Integers longer than this in users' JSON files are refused (float() of them overflows later).
JSON_MAX_INT_DIGITS = 30


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > JSON_MAX_INT_DIGITS:
        raise ValueError(f"integer of {len(text.lstrip('-'))} digits (more than {JSON_MAX_INT_DIGITS})")
    return int(text)


def loads_bounded(text: str | bytes) -> Any:
    """``json.loads`` that raises ValueError (never RecursionError, nor OverflowError later) for
    nesting deeper than the interpreter's recursion limit and integers longer than
    :data:`JSON_MAX_INT_DIGITS` digits."""
    try:
        return json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        raise ValueError(f"JSON nested too deeply (more than about {sys.getrecursionlimit()} levels)") from None


def read_text_utf8(path: str | os.PathLike) -> str:
    """A text file's content; ValueError naming the file and byte offset when it is not UTF-8."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text (byte {e.start}: {data[e.start:e.start + 1]!r})") from None
