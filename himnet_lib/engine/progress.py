"""Progress of many runs on the terminal: finished / running / pending / failed counts, as a tqdm
bar on a terminal, as plain lines in a log (and in a notebook).

A notebook executed by ``himnet reproduce`` runs in a kernel whose output goes into the notebook;
reproduce sets :data:`RELAY_ENV` to a file, every log line of the kernel's runner is appended to
it as well, and reproduce prints those lines on its own terminal (:class:`Relay`)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable

RELAY_ENV = "HIMNET_PROGRESS_FILE"
PLAIN_EVERY_S = 10.0  # at most one plain count line per this many seconds (each run's end has its own line)


def stderr_log(line: str) -> None:
    """The runner's default log: a line on stderr, and on the relay file when one is set."""
    print(line, file=sys.stderr, flush=True)
    relay = os.environ.get(RELAY_ENV)
    if relay:
        try:
            with open(relay, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass


def _use_bar(log: Callable[[str], None]) -> bool:
    if log is not stderr_log or os.environ.get(RELAY_ENV):
        return False
    if os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes"):
        return False
    return sys.stderr.isatty()


class Progress:
    """Counts of ``total`` runs; ``update(finished, running, pending, failed)`` as they change."""

    def __init__(self, total: int, what: str, log: Callable[[str], None]):
        self.total, self.what, self.log = total, what, log
        self.t0 = time.time()
        self._last: tuple[int, int, int, int] | None = None
        self._last_line = 0.0
        self._bar = None
        if total and _use_bar(log):
            from tqdm import tqdm
            self._bar = tqdm(total=total, desc=what, unit="run", file=sys.stderr, dynamic_ncols=True)

    def write(self, line: str) -> None:
        """A log line that does not garble the bar."""
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            self.log(line)

    def update(self, finished: int, running: int, pending: int, failed: int) -> None:
        counts = (finished, running, pending, failed)
        if counts == self._last:
            return
        self._last = counts
        if self._bar is not None:
            self._bar.n = finished + failed
            self._bar.set_postfix_str(f"running {running}, pending {pending}, failed {failed}", refresh=True)
            return
        now = time.time()
        last = finished + failed == self.total
        if last or now - self._last_line >= PLAIN_EVERY_S:
            self._last_line = now
            self.log(f"{self.what}: {finished} finished, {running} running, {pending} pending, {failed} failed "
                     f"of {self.total} ({now - self.t0:.0f}s)")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Relay:
    """Print the lines other processes append to ``path`` (a notebook's runner), prefixed."""

    def __init__(self, path: Path, prefix: str, log: Callable[[str], None]):
        self.path, self.prefix, self.log = path, prefix, log
        self._stop = threading.Event()
        self._pos = 0
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _drain(self) -> None:
        try:
            with open(self.path) as f:
                f.seek(self._pos)
                chunk = f.read()
        except OSError:
            return
        end = chunk.rfind("\n") + 1
        self._pos += len(chunk[:end].encode())
        for line in chunk[:end].splitlines():
            self.log(f"{self.prefix}{line}")

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._drain()

    def close(self) -> None:
        self._stop.set()
        self._t.join(2)
        self._drain()
        self.path.unlink(missing_ok=True)
