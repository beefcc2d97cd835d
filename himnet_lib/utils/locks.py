"""Advisory file locks between processes, for claiming a run (or a generated data set) so that two
``himnet reproduce`` on one results folder never train the same run at the same moment.

The lock is ``fcntl.flock`` on a small file (e.g. ``<run_dir>/.lock``). The kernel holds it for the
open file, not the file's existence: when the holder exits for any reason (finished, exception,
Ctrl-C, SIGKILL, out of memory) the lock is released, so there are never stale locks to clean up.
The lock file itself stays (a few bytes; removing it would open a race between two waiters).
Two opens of the same file exclude each other even inside one process (flock locks belong to the
open file description), so threads of one process are also kept apart.

The file holds the holder's host, pid and start time, for a human wondering who trains a run
(:func:`holder`); it is informational only: the lock is the flock, never the content.

flock on network file systems: works on local disks; on NFS it is emulated with byte-range locks
(Linux >= 2.6.12) and on Lustre/GPFS it needs the ``flock`` mount option. Where it is not supported
the lock raises ``OSError`` and the caller decides. Without ``fcntl`` (Windows) the locks are
no-ops that always succeed: runs are then not protected between processes.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]  # no fcntl on Windows: the module is None there, and checked

LOCK_NAME = ".lock"


class FileLock:
    """An exclusive flock on ``path``: ``try_acquire()`` (non-blocking), ``acquire()`` (waits),
    ``release()``; also a context manager that waits."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def _claimed(self, fd: int) -> None:
        self._fd = fd
        note = f"host={socket.gethostname()} pid={os.getpid()} since={time.strftime('%Y-%m-%dT%H:%M:%S')}\n"
        try:  # informational only; a failure here must not lose the lock
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode(), 0)
        except OSError:
            pass

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False (at once) if another open file holds it."""
        if self._fd is not None:
            raise RuntimeError(f"lock {self.path} already held by this object")
        fd = self._open()
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._claimed(fd)
        return True

    def acquire(self) -> None:
        """Wait until the lock is free, then take it (returns when the holder releases or dies)."""
        if self._fd is not None:
            raise RuntimeError(f"lock {self.path} already held by this object")
        fd = self._open()
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._claimed(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)  # closing the last descriptor of the open file releases the flock

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self):  # a forgotten lock is released with its object, as with a dead process
        try:
            self.release()
        except Exception:
            pass


def run_lock(run_dir: str | os.PathLike) -> FileLock:
    """The lock that claims the run in ``run_dir`` (``<run_dir>/.lock``)."""
    return FileLock(Path(run_dir) / LOCK_NAME)


def holder(path: str | os.PathLike) -> str:
    """Who holds (or last held) the lock at ``path``, as written by the holder; "" if unknown."""
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""
