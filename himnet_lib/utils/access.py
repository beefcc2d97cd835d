"""Whether this process may read an input path or write an output path, asked before a command
starts its work (``himnet_lib.cli``): one :class:`~himnet_lib.utils.errors.HimnetError` line naming
the option and the path, instead of a failure half-way (an unreadable data folder found after
minutes of setup, a read-only results folder found when the first record is written).

Permissions are those of the effective user, as the kernel checks them (``os.access``): root
passes every mode check (except on a read-only filesystem); the checks matter for other users."""

from __future__ import annotations

import os
from pathlib import Path

from himnet_lib.utils.errors import HimnetError


def _allowed(path: Path, mode: int) -> bool:
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)  # pragma: no cover - platforms without faccessat


def _exists(path: Path, option: str) -> bool:
    """``path.exists()``, with a folder above it that cannot be searched named as the problem."""
    try:
        path.stat()
        return True
    except PermissionError:
        raise HimnetError(f"{option} {path}: Permission denied (a folder above it cannot be searched)") from None
    except OSError:
        return False


def check_readable(path: str | os.PathLike, option: str) -> None:
    """An input that exists must be readable (a folder: readable and searchable). A missing one is
    left to its reader, which says what it expected there."""
    p = Path(path)
    if not _exists(p, option):
        return
    if p.is_dir():
        if not _allowed(p, os.R_OK | os.X_OK):
            raise HimnetError(f"{option} {p}: Permission denied (the folder cannot be read)")
    elif not _allowed(p, os.R_OK):
        raise HimnetError(f"{option} {p}: Permission denied (the file cannot be read)")


def check_writable(path: str | os.PathLike, option: str, *, file: bool = False) -> None:
    """An output folder (``file``: an output file, written into its folder) must be one this process
    can create files in: the folder itself when it exists, else the nearest existing folder above it,
    where it would be created. What is already at the path (a file where a folder should be, a
    foreign file) is the command's to judge."""
    p = Path(path).absolute()
    if _exists(p, option) and p.is_dir() == file:  # a folder where a file goes, or the reverse
        return
    where = p.parent if file else p
    while not _exists(where, option):
        where = where.parent
    if not where.is_dir():
        raise HimnetError(f"{option} {path}: {where}: Not a directory")
    if not _allowed(where, os.W_OK | os.X_OK):
        made = "" if where == (p.parent if file else p) else f" (to create {path} in)"
        raise HimnetError(f"{option} {path}: Permission denied: the folder {where}{made} is not writable")
