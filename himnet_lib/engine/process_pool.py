"""Worker processes that stop when asked: the local executor's pool for trainings and notebooks.

Unlike ``concurrent.futures.ProcessPoolExecutor``, whose shutdown waits for every queued task and
which fails every pending task when one worker dies, this pool:

* ignores Ctrl-C in the workers (the terminal sends it to the whole process group; the parent
  decides) and turns SIGTERM into ``SystemExit`` there, so that ``finally`` blocks remove
  temporary files;
* ties each worker to its parent: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` on Linux, and a check that
  the parent is still the one that started it (closing the race before the prctl);
* on an exception in the parent (Ctrl-C, SIGTERM turned into KeyboardInterrupt, an error) sends
  SIGTERM to every worker and everything they started (a notebook's kernel and its own workers),
  waits :data:`GRACE_S`, then SIGKILLs what is left; queued tasks are never started;
* reports a worker killed from outside (the OOM killer's SIGKILL) as that one task's failure, named
  with the signal, and starts a new worker for the rest.

:func:`stopping` is the window after a first interrupt: a second Ctrl-C there runs the registered
hard-exit hooks (SIGKILL the workers, cancel Slurm jobs) and exits at once with status 130.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import threading
import time
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterator

GRACE_S = 3.0  # seconds a worker gets to exit after SIGTERM before SIGKILL
PR_SET_PDEATHSIG = 1
OK, ERROR, DIED = "ok", "error", "died"

_hard_exit_hooks: list[Callable[[], None]] = []


# --- the process tree ---------------------------------------------------------------------------

def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (start time in ticks): with the pid, names one process for ever."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]


def descendants(pid: int) -> list[tuple[int, str]]:
    """Every live process below ``pid`` (children, their children, ...), as (pid, start time)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            start = _start_time(child)
            if start is not None:
                out.append((child, start))
                todo.append(child)
    return out


def alive(proc: tuple[int, str]) -> bool:
    """Whether the process (pid, start time) still runs (a zombie does not)."""
    try:
        with open(f"/proc/{proc[0]}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[0] != "Z" and fields[19] == proc[1]


def signal_all(procs: list[tuple[int, str]], sig: int) -> None:
    for proc in procs:
        if alive(proc):
            try:
                os.kill(proc[0], sig)
            except (ProcessLookupError, PermissionError):
                pass


# --- interrupts ---------------------------------------------------------------------------------

@contextmanager
def hard_exit_hook(fn: Callable[[], None]) -> Iterator[None]:
    """Register ``fn`` (fast, best effort) to run if the user interrupts a second time."""
    _hard_exit_hooks.append(fn)
    try:
        yield
    finally:
        _hard_exit_hooks.remove(fn)


def _hard_exit(signum, frame) -> None:
    for fn in list(_hard_exit_hooks):
        try:
            fn()
        except Exception:
            pass
    os.write(2, b"himnet: interrupted again: stopped at once\n")
    os._exit(130)


@contextmanager
def stopping() -> Iterator[None]:
    """While cleaning up after a first interrupt: a second SIGINT or SIGTERM exits at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGINT, _hard_exit)
    signal.signal(signal.SIGTERM, _hard_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old[0])
        signal.signal(signal.SIGTERM, old[1])


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM in the main thread raises KeyboardInterrupt, so a ``kill`` stops like a Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def signal_name(exitcode: int | None) -> str:
    """How a worker ended, for a message: "killed by SIGKILL" or "exited with status 3"."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


# --- the worker side ----------------------------------------------------------------------------

def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the check below still catches a dead parent
        pass
    if os.getppid() != parent_pid:  # the parent died before the prctl
        os._exit(1)


def _sigterm_exit(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _watch_parent(parent_pid: int) -> None:
    """Where PDEATHSIG is missing: leave once the parent is gone (checked every second)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(1)


def _worker_main(conn: Connection, parent_pid: int, init: Callable | None, initargs: tuple) -> None:
    _die_with_parent(parent_pid)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _sigterm_exit)
    if init is not None:
        init(*initargs)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        fn, args = msg
        try:
            reply: tuple = (OK, fn(*args))
        except Exception as e:  # the parent reports it with the task
            reply = (ERROR, e)
        try:
            conn.send(reply)
        except Exception:  # an exception that does not pickle
            conn.send((ERROR, RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}")))


# --- the parent side ----------------------------------------------------------------------------

class _Worker:
    def __init__(self, ctx, init, initargs):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, os.getpid(), init, initargs), daemon=True)
        # started with SIGINT ignored, which the new interpreter keeps: a Ctrl-C during its imports
        # must not print a KeyboardInterrupt traceback (the parent handles the interrupt)
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            self.proc.start()
        finally:
            if main:
                signal.signal(signal.SIGINT, old)
        child.close()
        self.task: int | None = None


class WorkerPool:
    """``workers`` spawned processes running module-level functions; a context manager.

    ``submit(fn, *args) -> key``; ``results()`` yields ``(key, outcome, value)`` as tasks end, with
    outcome :data:`OK` (value: the return value), :data:`ERROR` (value: the exception) or
    :data:`DIED` (value: "killed by SIGKILL", ...); tasks may be submitted while iterating.
    ``running()`` / ``queued()``: keys of the tasks started and not yet started."""

    def __init__(self, workers: int, init: Callable | None = None, initargs: tuple = ()):
        self._ctx = mp.get_context("spawn")
        self._n = max(1, int(workers))
        self._init, self._initargs = init, initargs
        self._workers: list[_Worker] = []
        self._queue: list[tuple[int, Callable, tuple]] = []
        self._tasks: dict[int, tuple[Callable, tuple]] = {}
        self._next = 0

    def __enter__(self) -> "WorkerPool":
        self._hook = hard_exit_hook(self.kill)
        self._hook.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.close()
            else:
                with stopping():
                    self.terminate()
        finally:
            self._hook.__exit__(None, None, None)

    def submit(self, fn: Callable, *args: Any) -> int:
        key = self._next
        self._next += 1
        self._queue.append((key, fn, args))
        self._tasks[key] = (fn, args)
        return key

    def running(self) -> list[int]:
        return [w.task for w in self._workers if w.task is not None]

    def queued(self) -> list[int]:
        return [k for k, _, _ in self._queue]

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._workers if w.proc.pid is not None]

    def _dispatch(self) -> None:
        for w in [w for w in self._workers if w.task is None and not w.proc.is_alive()]:
            self._workers.remove(w)  # died between tasks: a new one takes its place
            w.conn.close()
        idle = [w for w in self._workers if w.task is None]
        while self._queue and (idle or len(self._workers) < self._n):
            if not idle:
                w = _Worker(self._ctx, self._init, self._initargs)
                self._workers.append(w)
                idle.append(w)
            w = idle.pop()
            key, fn, args = self._queue.pop(0)
            w.task = key
            w.conn.send((fn, args))

    def results(self, poll: float | None = None) -> Iterator[tuple[int, str, Any]]:
        """Yield each task's end; with ``poll`` (seconds), also yield ``(-1, "", None)`` after each
        ``poll`` seconds without news (for progress displays)."""
        while self._queue or self.running():
            self._dispatch()
            busy = [w for w in self._workers if w.task is not None]
            ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=poll)
            if not ready:
                yield -1, "", None
                continue
            for w in busy:
                if w.conn not in ready and w.proc.sentinel not in ready:
                    continue
                try:
                    reply = w.conn.recv() if w.conn.poll() else None
                except (EOFError, OSError):  # the pipe closed: the worker died (a reply never came)
                    reply = None
                if reply is not None:
                    outcome, value = reply
                    key, w.task = w.task, None
                    if key is not None:
                        del self._tasks[key]
                        self._dispatch()  # the next task starts now, and running() counts it
                        yield key, outcome, value
                    continue
                if w.proc.is_alive() and w.proc.sentinel not in ready:
                    continue
                w.proc.join(GRACE_S)
                dead = w.task
                self._workers.remove(w)
                w.conn.close()
                if dead is not None:
                    del self._tasks[dead]
                    yield dead, DIED, signal_name(w.proc.exitcode)

    def close(self) -> None:
        """Normal end: every task done; let the workers exit."""
        for w in self._workers:
            try:
                w.conn.send(None)
            except OSError:
                pass
        for w in self._workers:
            w.proc.join(GRACE_S)
            if w.proc.is_alive():
                self._stop([w])
        self._workers = []

    def terminate(self) -> None:
        """Stop at once: drop the queue, SIGTERM every worker and its descendants, SIGKILL them
        after :data:`GRACE_S`."""
        self._queue.clear()
        self._stop(self._workers)
        self._workers = []

    def _stop(self, workers: list[_Worker]) -> None:
        procs = []
        for w in workers:
            if w.proc.pid is not None:
                procs += [(w.proc.pid, _start_time(w.proc.pid) or "")] + descendants(w.proc.pid)
        procs = [p for p in procs if p[1]]
        signal_all(procs, signal.SIGTERM)
        end = time.time() + GRACE_S
        while time.time() < end and any(alive(p) for p in procs):
            time.sleep(0.05)
        signal_all(procs + [q for p in procs for q in descendants(p[0])], signal.SIGKILL)
        for w in workers:
            w.proc.join(1.0)
            w.conn.close()

    def kill(self) -> None:
        """The second interrupt: SIGKILL every worker and its descendants, no waiting."""
        procs = []
        for w in self._workers:
            if w.proc.pid is not None:
                procs += [(w.proc.pid, _start_time(w.proc.pid) or "")] + descendants(w.proc.pid)
        signal_all([p for p in procs if p[1]], signal.SIGKILL)
